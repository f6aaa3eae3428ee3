//! The settlement service.

pub mod domain;
