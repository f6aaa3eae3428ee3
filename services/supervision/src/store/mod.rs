//! Tables and transactions of the supervision service.

pub mod migration;
