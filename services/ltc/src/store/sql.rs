//! Raw portable SQL (shared with the other services).

pub use yibao_runtime::sql::*;
