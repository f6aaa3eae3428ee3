//! The supervision service.

pub mod domain;
