//! Every stable error code the settlement service answers with, declared once (the catalogue
//! in `docs/errors.md` is generated from [`CODES`]). Each layer has its own error enum —
//! [`crate::domain::EngineError`], [`crate::domain::PolicyError`],
//! [`crate::store::StoreError`], [`crate::app::AppError`] — mapped once onto these codes in
//! [`crate::api::error`].

yibao_runtime::error_codes! {
    /// A request field is missing or malformed.
    INVALID_ARGUMENT = ("SETTLEMENT_INVALID_ARGUMENT", InvalidArgument, "a request field is missing or malformed; the violation names its path");
    /// The claim fails the engine's checks.
    CLAIM_INVALID = ("SETTLEMENT_CLAIM_INVALID", InvalidArgument, "the claim fails the engine's checks (items, amounts, dates, diagnoses); each violation names its path under `claim.`");
    /// The disease code is not in the policy's list.
    UNKNOWN_DISEASE = ("SETTLEMENT_UNKNOWN_DISEASE", InvalidArgument, "`claim.disease_code` is not in the policy's chronic/special disease list");
    /// The claim's amounts overflow.
    OVERFLOW = ("SETTLEMENT_OVERFLOW", InvalidArgument, "the claim's amounts overflow the money arithmetic");
    /// The policy does not apply to the person or the date.
    POLICY_MISMATCH = ("SETTLEMENT_POLICY_MISMATCH", FailedPrecondition, "the policy found does not apply to the person's scheme, region or the claim's date");
    /// The policy lacks a value the claim needs.
    POLICY_GAP = ("SETTLEMENT_POLICY_GAP", FailedPrecondition, "the policy has no value the claim needs (e.g. a deductible or rate for the institution's level)");
    /// No 认定 of the chronic disease.
    CHRONIC_NOT_REGISTERED = ("SETTLEMENT_CHRONIC_NOT_REGISTERED", FailedPrecondition, "the person holds no certification (认定) of the claim's chronic/special disease in force on its end date (enrollment's `AddChronicCertification`)");
    /// Accumulators of another person-year (a bug).
    ACCUMULATOR_MISMATCH = ("SETTLEMENT_ACCUMULATOR_MISMATCH", Internal, "a bug: the engine was given another person-year's accumulators; answered as INTERNAL and logged");
    /// An accounting identity failed (a bug).
    IDENTITY_VIOLATED = ("SETTLEMENT_IDENTITY_VIOLATED", Internal, "a bug: an accounting identity of the breakdown failed; answered as INTERNAL and logged");
    /// A counter would go negative (a bug).
    ACCUMULATOR_UNDERFLOW = ("SETTLEMENT_ACCUMULATOR_UNDERFLOW", Internal, "a bug: a reversal would make an accumulator negative; answered as INTERNAL and logged");
    /// A sum of stored amounts overflows.
    TOTAL_OVERFLOW = ("SETTLEMENT_TOTAL_OVERFLOW", Internal, "a sum of stored amounts (a statement, a ledger posting or reconciliation, an insurer's month) overflows i64 fen; nothing is written; answered as INTERNAL and logged");
    /// An uploaded policy document does not parse.
    POLICY_PARSE = ("SETTLEMENT_POLICY_PARSE", InvalidArgument, "`document_json` is not a policy document (JSON syntax or shape)");
    /// An uploaded policy document is unusable.
    POLICY_INVALID = ("SETTLEMENT_POLICY_INVALID", InvalidArgument, "the policy document is inconsistent; each violation names its path under `document_json.`");
    /// No such claim.
    CLAIM_NOT_FOUND = ("SETTLEMENT_CLAIM_NOT_FOUND", NotFound, "no claim with that id (or not one the caller may see)");
    /// No such policy.
    POLICY_NOT_FOUND = ("SETTLEMENT_POLICY_NOT_FOUND", NotFound, "no policy with that id and version");
    /// No such insurer layer.
    INSURER_CLAIM_NOT_FOUND = ("SETTLEMENT_INSURER_CLAIM_NOT_FOUND", NotFound, "no layer of that claim and product for this insurer (or not in the caller's region)");
    /// No such product.
    PRODUCT_NOT_FOUND = ("SETTLEMENT_PRODUCT_NOT_FOUND", NotFound, "no policy of the region and year offers the supplementary product");
    /// No such encounter.
    ENCOUNTER_NOT_FOUND = ("SETTLEMENT_ENCOUNTER_NOT_FOUND", NotFound, "no encounter with that id (or not one the caller may see)");
    /// The encounter does not allow the step now.
    ENCOUNTER_CLOSED = ("SETTLEMENT_ENCOUNTER_CLOSED", FailedPrecondition, "the encounter does not allow the step now: it is cancelled, a settlement of it is in force (reverse it first), it is not an inpatient stay (discharge), or it has no fee lines to settle; the message says which");
    /// Another encounter is open under the number.
    ENCOUNTER_MISMATCH = ("SETTLEMENT_ENCOUNTER_MISMATCH", AlreadyExists, "an encounter is open under that (institution, encounter_no) with another person, kind, start date or insured region; the message names the field");
    /// A fee line number used by another line.
    FEE_LINE_CONFLICT = ("SETTLEMENT_FEE_LINE_CONFLICT", AlreadyExists, "a fee line number (feedetl_sn) of the upload was used by another line of the encounter, or by a cancelled line; the message names the line and the field that differs");
    /// No such record.
    NOT_FOUND = ("SETTLEMENT_NOT_FOUND", NotFound, "no such record");
    /// The claim was reversed or superseded.
    CLAIM_CLOSED = ("SETTLEMENT_CLAIM_CLOSED", FailedPrecondition, "the claim was reversed or superseded and cannot be reversed, re-settled or disputed");
    /// A re-sent encounter whose claim is fully reversed.
    CLAIM_REVERSED = ("SETTLEMENT_CLAIM_REVERSED", AlreadyExists, "the encounter was settled and its claim fully reversed: nothing is paid for it, and a re-sent claim with that encounter number is refused (the message names the encounter and the claim); to settle the care again send it with a new `encounter_no`");
    /// The insurer layer is not disputed.
    NOT_DISPUTED = ("SETTLEMENT_NOT_DISPUTED", FailedPrecondition, "only a disputed insurer layer can be resolved");
    /// No policy in force.
    NO_POLICY = ("SETTLEMENT_NO_POLICY", FailedPrecondition, "no policy of the insured region and scheme is in force on the claim's end date");
    /// The institution is not in the registry on the date.
    INSTITUTION_NOT_REGISTERED = ("SETTLEMENT_INSTITUTION_NOT_REGISTERED", FailedPrecondition, "`claim.institution_code` is not in enrollment's designated-institution registry on the claim's end date");
    /// The institution is suspended or terminated on the date.
    INSTITUTION_NOT_ACTIVE = ("SETTLEMENT_INSTITUTION_NOT_ACTIVE", FailedPrecondition, "the institution is suspended or terminated in the registry on the claim's end date (the message gives the reason)");
    /// No agreement in force covers the claim.
    NO_AGREEMENT = ("SETTLEMENT_NO_AGREEMENT", FailedPrecondition, "no agreement of the institution in force on the claim's end date covers the person's scheme and the claim's service kind (the message lists the agreements in force)");
    /// The claim declares a grade, tier or filing the registry contradicts.
    DECLARED_FACT_MISMATCH = ("SETTLEMENT_DECLARED_FACT_MISMATCH", InvalidArgument, "`claim.hospital_grade`, `claim.institution_tier` or `claim.cross_region_filing` disagrees with the registry on the claim's end date (leave it unspecified: the registry decides)");
    /// The attending physician is not accepted.
    PHYSICIAN_NOT_ACCEPTED = ("SETTLEMENT_PHYSICIAN_NOT_ACCEPTED", FailedPrecondition, "`claim.attending_physician_code` is not a registered insurance physician, practises at another institution, or is suspended or revoked");
    /// Not covered on the date.
    NOT_ELIGIBLE = ("SETTLEMENT_NOT_ELIGIBLE", FailedPrecondition, "enrollment says the person is not covered on the claim's end date");
    /// A concurrent change.
    CONFLICT = ("SETTLEMENT_CONFLICT", Aborted, "the person's accumulators changed concurrently; retry (the encounter number makes it safe)");
    /// Enrollment did not answer.
    ENROLLMENT_UNAVAILABLE = ("SETTLEMENT_ENROLLMENT_UNAVAILABLE", Unavailable, "enrollment could not be asked about the person; retry");
    /// Procurement did not answer.
    PROCUREMENT_UNAVAILABLE = ("SETTLEMENT_PROCUREMENT_UNAVAILABLE", Unavailable, "procurement could not be asked how its catalogue classifies the claim's items; the claim is not priced without it; retry");
}
