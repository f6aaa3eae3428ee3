//! The ltc service.

pub mod domain;
