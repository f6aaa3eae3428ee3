//! The procurement service.

pub mod domain;
