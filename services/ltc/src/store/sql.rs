//! Raw portable SQL, shared with the other services (`yibao_runtime::sql`, whose bulk insert
//! writes settlement runs).

pub use yibao_runtime::sql::*;
