//! One error mapping for the whole platform: a service's domain errors become an
//! [`ApiError`] (stable machine-readable code, message, field violations), which becomes a gRPC
//! [`tonic::Status`] with `google.rpc.ErrorInfo` and `google.rpc.BadRequest` details; the
//! gateway turns that status into `application/problem+json` with [`problem_from_status`].

use std::collections::HashMap;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Error domain written into `google.rpc.ErrorInfo`.
pub const ERROR_DOMAIN: &str = "yibao.org";

/// The kind of failure, which fixes the gRPC code and HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad input (400). Nothing was written.
    InvalidArgument,
    /// No such record (404).
    NotFound,
    /// Record exists already (409).
    AlreadyExists,
    /// The state does not allow the operation (400 / FAILED_PRECONDITION).
    FailedPrecondition,
    /// Concurrent modification (409 / ABORTED); retry.
    Aborted,
    /// No or bad credentials (401).
    Unauthenticated,
    /// Not allowed (403).
    PermissionDenied,
    /// Rate limit or quota (429).
    ResourceExhausted,
    /// A request larger than the limit (413; RESOURCE_EXHAUSTED over gRPC).
    TooLarge,
    /// A dependency is down (503).
    Unavailable,
    /// A bug or an unexpected store failure (500). Details are logged, not shown.
    Internal,
}

impl ErrorKind {
    fn code(self) -> Code {
        match self {
            ErrorKind::InvalidArgument => Code::InvalidArgument,
            ErrorKind::NotFound => Code::NotFound,
            ErrorKind::AlreadyExists => Code::AlreadyExists,
            ErrorKind::FailedPrecondition => Code::FailedPrecondition,
            ErrorKind::Aborted => Code::Aborted,
            ErrorKind::Unauthenticated => Code::Unauthenticated,
            ErrorKind::PermissionDenied => Code::PermissionDenied,
            ErrorKind::ResourceExhausted | ErrorKind::TooLarge => Code::ResourceExhausted,
            ErrorKind::Unavailable => Code::Unavailable,
            ErrorKind::Internal => Code::Internal,
        }
    }
}

/// An error as callers see it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// Kind (gRPC code, HTTP status).
    pub kind: ErrorKind,
    /// Stable machine-readable code, e.g. `ENROLLMENT_ID_NUMBER_INVALID`.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Field path → what is wrong with it.
    pub violations: Vec<(String, String)>,
}

impl ApiError {
    /// A new error without field violations.
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            code,
            message: message.into(),
            violations: Vec::new(),
        }
    }

    /// Bad input in one field.
    pub fn invalid(
        code: &'static str,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> ApiError {
        let field = field.into();
        let reason = reason.into();
        ApiError {
            kind: ErrorKind::InvalidArgument,
            code,
            message: format!("{field}: {reason}"),
            violations: vec![(field, reason)],
        }
    }

    /// Bad input in several fields.
    pub fn invalid_fields(code: &'static str, violations: Vec<(String, String)>) -> ApiError {
        let message = violations
            .iter()
            .map(|(f, r)| format!("{f}: {r}"))
            .collect::<Vec<_>>()
            .join("; ");
        ApiError {
            kind: ErrorKind::InvalidArgument,
            code,
            message,
            violations,
        }
    }

    /// A missing record.
    pub fn not_found(code: &'static str, what: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::NotFound, code, what)
    }

    /// An unexpected failure; the detail is logged here and not shown to the caller.
    ///
    /// A database error that only says the database cannot be reached now (see
    /// [`crate::db::is_unavailable`]) is no bug: passed here as a `sea_orm::DbErr` it becomes
    /// [`ApiError::database`]'s `DATABASE_UNAVAILABLE` (503) instead, so the services' store
    /// mappings that hand their `DbErr` to `internal` answer a restarting database with a
    /// retryable `UNAVAILABLE`, never a 500.
    pub fn internal(detail: impl std::fmt::Display + 'static) -> ApiError {
        let any: &dyn std::any::Any = &detail;
        if let Some(db) = any.downcast_ref::<sea_orm::DbErr>() {
            return ApiError::database(db);
        }
        tracing::error!(error = %detail, "internal error");
        codes::INTERNAL.error("internal error; it has been logged")
    }

    /// A store error as callers see it: `DATABASE_UNAVAILABLE` (UNAVAILABLE, 503; logged as a
    /// warning) when the database cannot be reached now, else `INTERNAL` (logged as an error).
    pub fn database(e: &sea_orm::DbErr) -> ApiError {
        if crate::db::is_unavailable(e) {
            tracing::warn!(error = %e, "database unavailable");
            codes::DATABASE_UNAVAILABLE
                .error("the database cannot be reached now; retry (with the same Idempotency-Key for a write)")
        } else {
            tracing::error!(error = %e, "internal error");
            codes::INTERNAL.error("internal error; it has been logged")
        }
    }
}

/// A stable error code as the catalogue lists it: the code callers match on, the kind that
/// fixes its gRPC code and HTTP status, and what it means. Each service declares its codes once
/// with [`crate::error_codes!`]; `docs/errors.md` is generated from those declarations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    /// The code, e.g. `SETTLEMENT_CLAIM_NOT_FOUND`.
    pub code: &'static str,
    /// Its kind.
    pub kind: ErrorKind,
    /// What it means, for the catalogue.
    pub meaning: &'static str,
}

impl ErrorCode {
    /// Declares a code.
    pub const fn new(code: &'static str, kind: ErrorKind, meaning: &'static str) -> ErrorCode {
        ErrorCode {
            code,
            kind,
            meaning,
        }
    }

    /// An error of this code with `message`.
    pub fn error(&self, message: impl Into<String>) -> ApiError {
        ApiError::new(self.kind, self.code, message)
    }

    /// Bad input in one field under this code.
    pub fn invalid(&self, field: impl Into<String>, reason: impl Into<String>) -> ApiError {
        ApiError {
            kind: self.kind,
            ..ApiError::invalid(self.code, field, reason)
        }
    }

    /// Bad input in several fields under this code.
    pub fn invalid_fields(&self, violations: Vec<(String, String)>) -> ApiError {
        ApiError {
            kind: self.kind,
            ..ApiError::invalid_fields(self.code, violations)
        }
    }
}

impl ErrorKind {
    /// The name used in the catalogue (the gRPC code's name).
    pub fn grpc_name(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "INVALID_ARGUMENT",
            ErrorKind::NotFound => "NOT_FOUND",
            ErrorKind::AlreadyExists => "ALREADY_EXISTS",
            ErrorKind::FailedPrecondition => "FAILED_PRECONDITION",
            ErrorKind::Aborted => "ABORTED",
            ErrorKind::Unauthenticated => "UNAUTHENTICATED",
            ErrorKind::PermissionDenied => "PERMISSION_DENIED",
            ErrorKind::ResourceExhausted | ErrorKind::TooLarge => "RESOURCE_EXHAUSTED",
            ErrorKind::Unavailable => "UNAVAILABLE",
            ErrorKind::Internal => "INTERNAL",
        }
    }

    /// The HTTP status of the kind on the REST API.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::TooLarge => 413,
            _ => http_status_of(self.code()),
        }
    }
}

/// Declares a service's stable error codes once, as constants plus the list `CODES` that
/// `docs/errors.md` is generated from:
///
/// ```
/// yibao_runtime::error_codes! {
///     /// The claim does not exist.
///     CLAIM_NOT_FOUND = ("SETTLEMENT_CLAIM_NOT_FOUND", NotFound, "no claim has this id");
/// }
/// assert_eq!(CLAIM_NOT_FOUND.code, "SETTLEMENT_CLAIM_NOT_FOUND");
/// assert_eq!(CODES.len(), 1);
/// ```
#[macro_export]
macro_rules! error_codes {
    ($($(#[$m:meta])* $name:ident = ($code:literal, $kind:ident, $meaning:literal);)+) => {
        $($(#[$m])* pub const $name: $crate::error::ErrorCode =
            $crate::error::ErrorCode::new($code, $crate::error::ErrorKind::$kind, $meaning);)+
        /// Every code declared here, in declaration order.
        pub const CODES: &[$crate::error::ErrorCode] = &[$($name),+];
    };
}

/// The codes the runtime itself answers with (authentication, roles, tenancy, pages, bugs).
pub mod codes {
    crate::error_codes! {
        /// No token, or one that does not verify.
        UNAUTHENTICATED = ("UNAUTHENTICATED", Unauthenticated, "no bearer token, or one that does not verify (signature, issuer, audience, expiry, unknown key)");
        /// The role may not call the method (the contract's `access` option).
        ROLE_NOT_ALLOWED = ("ROLE_NOT_ALLOWED", PermissionDenied, "the caller's role is not among the roles the method's contract lists; checked at the gateway and at every service port");
        /// The record belongs to another organisation.
        OTHER_ORGANISATION = ("OTHER_ORGANISATION", PermissionDenied, "an organisation-scoped caller named a record of another organisation");
        /// The record lies outside the caller's region.
        OUTSIDE_REGION = ("OUTSIDE_REGION", PermissionDenied, "a region-scoped caller named a region its own does not cover");
        /// A page request outside the one rule.
        PAGE_INVALID = ("PAGE_INVALID", InvalidArgument, "`page.page_size` outside 0..=1000, or a `page.page_token` no previous page returned");
        /// The service's database cannot be reached now.
        DATABASE_UNAVAILABLE = ("DATABASE_UNAVAILABLE", Unavailable, "the service's database cannot be reached now (connection refused or lost, the server shutting down or starting up, or no pooled connection within the acquire timeout); retry later, a write with the same `Idempotency-Key` (a cut-off commit may have been written)");
        /// No dead letter of this service has the id.
        DEAD_LETTER_NOT_FOUND = ("DEAD_LETTER_NOT_FOUND", NotFound, "`dead_letter_id` names no dead letter of this service's consumers");
        /// The dead letter was replayed already.
        DEAD_LETTER_REPLAYED = ("DEAD_LETTER_REPLAYED", FailedPrecondition, "the dead letter was delivered again and handled already; nothing is left to replay");
        /// A bug or an unexpected store failure.
        INTERNAL = ("INTERNAL", Internal, "an unexpected failure; the detail is logged with the request's trace id, not shown");
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> ApiError {
        ApiError::database(&e)
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        let mut details = ErrorDetails::with_error_info(e.code, ERROR_DOMAIN, HashMap::new());
        for (field, reason) in &e.violations {
            details.add_bad_request_violation(field.clone(), reason.clone());
        }
        Status::with_error_details(e.kind.code(), e.message, details)
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(e: crate::auth::AuthError) -> ApiError {
        use crate::auth::AuthError as A;
        match &e {
            A::MissingToken | A::InvalidToken(_) => codes::UNAUTHENTICATED.error(e.to_string()),
            A::RoleNotAllowed { .. } => codes::ROLE_NOT_ALLOWED.error(e.to_string()),
            A::OtherOrganisation { .. } => codes::OTHER_ORGANISATION.error(e.to_string()),
            A::OutsideRegion { .. } => codes::OUTSIDE_REGION.error(e.to_string()),
        }
    }
}

impl From<crate::auth::AuthError> for Status {
    fn from(e: crate::auth::AuthError) -> Status {
        ApiError::from(e).into()
    }
}

/// HTTP status for a gRPC code (the mapping of google.api `Code` ↔ HTTP).
pub fn http_status_of(code: Code) -> u16 {
    match code {
        Code::Ok => 200,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
        Code::Unauthenticated => 401,
        Code::PermissionDenied => 403,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::ResourceExhausted => 429,
        Code::Cancelled => 499,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::DeadlineExceeded => 504,
        Code::Unknown | Code::Internal | Code::DataLoss => 500,
    }
}

/// True when `status` says the exchange with the service broke rather than what the service
/// answered: the service was killed or restarted mid-call, its connection reset or its body
/// cut off. Yibao's services answer only with the codes of [`ErrorKind`], so `UNKNOWN` and
/// `CANCELLED` from one are made by the gRPC client (tonic: "transport error", "h2 protocol
/// error: error reading a body from connection", "operation was canceled"); so is an
/// `INTERNAL` whose source is tonic's transport error. The service may or may not have done
/// the work, exactly as when it is unavailable: retry (a write with the same idempotency key).
pub fn is_lost_connection(status: &Status) -> bool {
    match status.code() {
        Code::Unknown | Code::Cancelled => true,
        Code::Internal => {
            let mut source = std::error::Error::source(status);
            while let Some(e) = source {
                if e.is::<tonic::transport::Error>() {
                    return true;
                }
                source = e.source();
            }
            false
        }
        _ => false,
    }
}

/// `status`, or `UNAVAILABLE` when it only says the connection was lost
/// ([`is_lost_connection`]): what a caller of a service should pass on.
pub fn unavailable_if_lost(status: Status) -> Status {
    if is_lost_connection(&status) {
        Status::unavailable(format!(
            "service unavailable: the connection was lost before the answer ({})",
            status.message()
        ))
    } else {
        status
    }
}

/// An RFC 9457 `application/problem+json` body for a gRPC status, with the stable code and
/// the field violations (`errors[].field` is the request field path). A status that only says
/// the exchange with the service broke ([`is_lost_connection`]) is a 503 `UNAVAILABLE`, not a
/// 500 or 499.
pub fn problem_from_status(status: &Status, instance: &str) -> (u16, serde_json::Value) {
    if is_lost_connection(status) {
        return problem_from_status(&unavailable_if_lost(status.clone()), instance);
    }
    let http = http_status_of(status.code());
    let details = status.get_error_details();
    let code = details
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_else(|| format!("{:?}", status.code()).to_uppercase());
    let errors: Vec<serde_json::Value> = details
        .bad_request()
        .map(|b| {
            b.field_violations
                .iter()
                .map(|v| serde_json::json!({"field": v.field, "detail": v.description}))
                .collect()
        })
        .unwrap_or_default();
    let title = match http {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Internal Server Error",
    };
    let mut body = serde_json::json!({
        "type": format!("https://yibao.org/problems/{}", code.to_lowercase().replace('_', "-")),
        "title": title,
        "status": http,
        "detail": status.message(),
        "code": code,
        "instance": instance,
    });
    if !errors.is_empty() {
        body["errors"] = serde_json::Value::Array(errors);
    }
    (http, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_violations_survive_the_trip_to_problem_json() {
        let status: Status = ApiError::invalid(
            "ENROLLMENT_ID_NUMBER_INVALID",
            "id_number",
            "check digit does not match",
        )
        .into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let (http, body) = problem_from_status(&status, "/v1/persons");
        assert_eq!(http, 400);
        assert_eq!(body["code"], "ENROLLMENT_ID_NUMBER_INVALID");
        assert_eq!(body["errors"][0]["field"], "id_number");
        assert_eq!(body["errors"][0]["detail"], "check digit does not match");
    }

    #[test]
    fn an_unreachable_database_is_503_and_a_bad_statement_500() {
        let lost = sea_orm::DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout);
        let e = ApiError::internal(lost.clone());
        assert_eq!(
            (e.kind, e.code),
            (ErrorKind::Unavailable, "DATABASE_UNAVAILABLE")
        );
        let (http, body) =
            problem_from_status(&Status::from(ApiError::from(lost)), "/v1/claims:settle");
        assert_eq!(
            (http, body["code"].as_str()),
            (503, Some("DATABASE_UNAVAILABLE"))
        );
        let bad = ApiError::internal(sea_orm::DbErr::Custom("no such column".into()));
        assert_eq!((bad.kind, bad.code), (ErrorKind::Internal, "INTERNAL"));
        assert_eq!(ApiError::internal("a bug").kind, ErrorKind::Internal);
    }

    /// A service that accepts the connection and closes it before answering (as one killed
    /// mid-call does): the client's status is tonic's own, and it maps to 503, not 500.
    #[tokio::test]
    async fn a_connection_lost_before_the_answer_is_503() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                drop(socket);
            }
        });
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap_or_else(|e| panic!("{e}"))
            .connect_lazy();
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        let status = health
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .err()
            .unwrap_or_else(|| panic!("a closed connection answered"));
        assert!(is_lost_connection(&status), "{status:?}");
        let (http, body) = problem_from_status(&status, "/v1/claims:settle");
        assert_eq!(
            (http, body["code"].as_str()),
            (503, Some("UNAVAILABLE")),
            "{status:?}"
        );
        // What tonic makes of a reset stream or a body cut off, without a source.
        for made in [
            Status::unknown("h2 protocol error: error reading a body from connection"),
            Status::cancelled("operation was canceled"),
        ] {
            assert_eq!(problem_from_status(&made, "/x").0, 503, "{made:?}");
        }
        // A service's own INTERNAL keeps its 500.
        assert_eq!(problem_from_status(&Status::internal("bug"), "/x").0, 500);
    }

    #[test]
    fn statuses_without_details_still_map() {
        let (http, body) = problem_from_status(&Status::unimplemented("later"), "/x");
        assert_eq!(http, 501);
        assert_eq!(body["code"], "UNIMPLEMENTED");
    }
}
