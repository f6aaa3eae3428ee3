//! The codes the gateway itself answers with (the services' codes pass through unchanged).

yibao_runtime::error_codes! {
    /// The method has no access rule.
    METHOD_NOT_EXPOSED = ("METHOD_NOT_EXPOSED", PermissionDenied, "the method has no `access` rule in the contracts, so the gateway does not expose it (deny by default)");
    /// Too many calls this minute.
    RATE_LIMITED = ("RATE_LIMITED", ResourceExhausted, "the caller made more calls this minute than `gateway.rate_limit_per_minute` allows; retry after the `Retry-After` seconds");
    /// No REST route matches.
    ROUTE_NOT_FOUND = ("ROUTE_NOT_FOUND", NotFound, "no REST route of the contracts matches the HTTP method and path");
    /// The body is over the limit.
    BODY_TOO_LARGE = ("BODY_TOO_LARGE", TooLarge, "the request body is larger than `gateway.max_body_bytes`");
    /// The request does not map onto the message.
    INVALID_REQUEST = ("INVALID_REQUEST", InvalidArgument, "the JSON body, query string, path or `Idempotency-Key` header does not map onto the request message; the field is named");
    /// The key was used for another request.
    IDEMPOTENCY_KEY_REUSED = ("IDEMPOTENCY_KEY_REUSED", FailedPrecondition, "the `Idempotency-Key` was used before for a different request");
    /// The first request with the key is still running.
    IDEMPOTENCY_IN_PROGRESS = ("IDEMPOTENCY_IN_PROGRESS", Aborted, "a request with this `Idempotency-Key` is still being processed; retry shortly for its answer");
}
