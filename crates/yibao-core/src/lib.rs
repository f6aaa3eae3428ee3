//! Domain types shared by every Yibao service. Parse at the edge, trust inside:
//! a value of these types has passed its checks.
//!
//! - [`Fen`] money in integer fen with checked arithmetic and the one rounding rule;
//! - [`Bp`] rates in basis points;
//! - [`IdNumber`] the 18-digit resident ID number (GB 11643), masked whenever printed;
//! - [`RegionCode`] the 6-digit region (医保区划) and [`InstitutionCode`] (定点医药机构编号);
//! - [`Scheme`] and [`PersonCategory`], numbered as in the contracts.

mod ids;
mod money;
mod vocab;

pub use ids::{IdError, IdNumber, InstitutionCode, RegionCode, Sex};
pub use money::{Bp, Fen, MoneyOverflow, RateAboveFull};
pub use vocab::{PersonCategory, Scheme};
