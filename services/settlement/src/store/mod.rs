//! Tables and transactions of the settlement service.

pub mod migration;
