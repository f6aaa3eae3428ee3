//! Tables and transactions of the procurement service.

pub mod migration;
