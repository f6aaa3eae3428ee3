//! Every stable error code the enrollment service answers with, declared once (the
//! platform's catalogue, `docs/errors.md`, is generated from [`CODES`]). The codes the runtime
//! owns (`UNAUTHENTICATED`, `ROLE_NOT_ALLOWED`, `OUTSIDE_REGION`, `PAGE_INVALID`, `INTERNAL`)
//! are in `yibao_runtime::error::codes`. Each layer's error enum names its code per variant;
//! `api/error.rs` maps them to `Status` once.

yibao_runtime::error_codes! {
    /// A request field is invalid.
    INVALID_ARGUMENT = ("ENROLLMENT_INVALID_ARGUMENT", InvalidArgument, "a request field is invalid (ID number checksum, region code, date, amount, scheme, category, import format …); the field is named and nothing was written");
    /// The state does not allow it.
    PRECONDITION_FAILED = ("ENROLLMENT_PRECONDITION_FAILED", FailedPrecondition, "the person's or the enrolment's state does not allow the change (no contribution standard set, an event after death, a contribution to an ended enrolment …)");
    /// It exists already.
    ALREADY_EXISTS = ("ENROLLMENT_ALREADY_EXISTS", AlreadyExists, "a person with this ID number is registered, or the person is already enrolled for this year, scheme and region");
    /// A concurrent change or a reused reference.
    CONFLICT = ("ENROLLMENT_CONFLICT", Aborted, "the record changed concurrently (retry), the expected version is stale, or a contribution reference was used for a different contribution");
    /// No such person.
    PERSON_NOT_FOUND = ("ENROLLMENT_PERSON_NOT_FOUND", NotFound, "no person has this id or ID number");
    /// No such enrolment.
    ENROLMENT_NOT_FOUND = ("ENROLLMENT_ENROLMENT_NOT_FOUND", NotFound, "no enrolment has this id");
    /// No such household.
    HOUSEHOLD_NOT_FOUND = ("ENROLLMENT_HOUSEHOLD_NOT_FOUND", NotFound, "no household has this id");
    /// No such voucher.
    VOUCHER_NOT_FOUND = ("ENROLLMENT_VOUCHER_NOT_FOUND", NotFound, "no voucher with this id was issued");
    /// No such duplicate task.
    DUPLICATE_TASK_NOT_FOUND = ("ENROLLMENT_DUPLICATE_TASK_NOT_FOUND", NotFound, "no duplicate-enrolment task has this id");
    /// A duplicate task cannot move to the requested state.
    TASK_TRANSITION = ("ENROLLMENT_TASK_TRANSITION", FailedPrecondition, "a duplicate task moves flagged → verified → resolved, or to dismissed before it is resolved; nothing after");
    /// No voucher for a deceased person.
    PERSON_DECEASED = ("ENROLLMENT_PERSON_DECEASED", FailedPrecondition, "no voucher is issued for a deceased person");
    /// The scanned payload is not a voucher.
    VOUCHER_MALFORMED = ("ENROLLMENT_VOUCHER_MALFORMED", InvalidArgument, "`qr_payload` is not a Yibao voucher");
    /// The voucher's signature does not verify.
    VOUCHER_TAMPERED = ("ENROLLMENT_VOUCHER_TAMPERED", FailedPrecondition, "the voucher's signature does not verify: altered or forged");
    /// The voucher has expired.
    VOUCHER_EXPIRED = ("ENROLLMENT_VOUCHER_EXPIRED", FailedPrecondition, "the voucher has expired; the patient refreshes the code");
    /// The voucher was revoked.
    VOUCHER_REVOKED = ("ENROLLMENT_VOUCHER_REVOKED", FailedPrecondition, "the voucher was revoked (the message says when and why)");
    /// No such institution in the registry.
    INSTITUTION_NOT_FOUND = ("ENROLLMENT_INSTITUTION_NOT_FOUND", NotFound, "no designated institution has this code in the registry");
    /// No such physician.
    PHYSICIAN_NOT_FOUND = ("ENROLLMENT_PHYSICIAN_NOT_FOUND", NotFound, "no insurance physician has this code");
    /// No such certification.
    CERTIFICATION_NOT_FOUND = ("ENROLLMENT_CERTIFICATION_NOT_FOUND", NotFound, "no chronic/special-disease certification has this id");
    /// No such filing.
    FILING_NOT_FOUND = ("ENROLLMENT_FILING_NOT_FOUND", NotFound, "no cross-region care filing has this id");
    /// No credential in force has this paasid.
    INTERFACE_CREDENTIAL_NOT_FOUND = ("ENROLLMENT_INTERFACE_CREDENTIAL_NOT_FOUND", NotFound, "no national-interface credential in force has this `paasid` (never issued, or replaced by a rotation)");
    /// The sanctions consumer could not use the bus or its inbox state (consumer only).
    BUS_UNAVAILABLE = ("ENROLLMENT_BUS_UNAVAILABLE", Unavailable, "the consumer of supervision's sanctions could not read or acknowledge the bus, or keep its inbox state; logged, the delivery is read again");
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_code_is_the_services_own_and_declared_once() {
        let mut seen = std::collections::HashSet::new();
        for c in super::CODES {
            assert!(c.code.starts_with("ENROLLMENT_"), "{}", c.code);
            assert!(seen.insert(c.code), "{} declared twice", c.code);
        }
    }
}
