//! The service runtime shared by every Yibao service: layered [`config`], [`telemetry`]
//! (tracing + OTLP + W3C trace context), [`auth`] (JWT/JWKS, callers, tenancy), one
//! [`error`] mapping (domain → gRPC status → problem+json), [`db`] (SQLite or PostgreSQL by
//! URL, migrations), [`cache`] and [`bus`] (Redis or in-process behind one trait each), the
//! [`outbox`] and [`inbox`] around the bus (sequenced, partitioned, gaps filled), and the
//! gRPC [`server`] skeleton (health, reflection, auth, graceful shutdown), with one [`metrics`]
//! registry per process.

pub mod access;
pub mod auth;
pub mod bus;
pub mod cache;
pub mod config;
pub mod db;
pub mod error;
pub mod inbox;
pub mod metrics;
pub mod outbox;
pub mod page;
pub mod server;
pub mod sql;
pub mod streams;
pub mod telemetry;
pub mod tenancy;
pub mod upstream;

pub use auth::{Actor, Caller, Role, Verifier};
pub use error::{ApiError, ErrorKind};
