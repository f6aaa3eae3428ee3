//! The national medical-insurance platform's interface for designated institutions
//! (国家医保信息平台 定点医药机构接口), `POST /fsi/api/rsfComIfsService/callService`, as
//! DOMAIN §1.1 and §1.9 describe it and public HIS client code sends it:
//!
//! - [`envelope`]: the request envelope, checked field by field (every refusal names its
//!   field, as the interface's `err_msg` should), and the response envelope with
//!   `inf_refmsgid` and the interface's timestamps;
//! - [`decimal`]: money in yuan with two decimals, ratios and quantities, read from their JSON
//!   text exactly (never through a binary float) and written with their decimals;
//! - [`signature`]: the `x-tif-*` credential headers and their SHA-256 signature;
//! - [`setl`]: `setlinfo` / `setldetail` and the accounting identities every settlement
//!   answer satisfies to the fen;
//! - [`transactions`]: the transaction numbers (`infno`) and what each reads;
//! - [`ids`]: `psn_no`, `mdtrt_id`, `setl_id` as the Crockford base32 of the records' UUIDs.
//!
//! Pure: no I/O, no clock (callers pass the time), no store.

pub mod decimal;
pub mod envelope;
pub mod ids;
pub mod setl;
pub mod signature;
pub mod transactions;

pub use decimal::{DecimalError, Quantity, Ratio, Yuan};
pub use envelope::{FieldError, RawRequest, Request, Response};
