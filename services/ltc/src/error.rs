//! Every stable error code the LTC service answers with, declared once (the catalogue
//! `docs/errors.md` is generated from [`CODES`]). The runtime's own codes (authentication,
//! roles, tenancy, pages, `INTERNAL`) live in `yibao_runtime::error::codes`.
//!
//! A code is answered with the kind given here, except that a rule's code travels in a
//! [`DomainError`](crate::domain::DomainError), whose variant fixes the kind (invalid fields or
//! a refused state change). The outcome codes of uploaded records (`LTC_RECORD_…` and the
//! other record checks) are not errors: they stand beside a refused or flagged record in the
//! upload's response.

yibao_runtime::error_codes! {
    /// Bad input without a more specific code.
    INVALID_ARGUMENT = ("LTC_INVALID_ARGUMENT", InvalidArgument, "a request field is missing or malformed; the field is named");
    /// An initial application for a beneficiary.
    ALREADY_BENEFICIARY = ("LTC_ALREADY_BENEFICIARY", InvalidArgument, "an initial application names a person who is already a beneficiary: apply for a reassessment");
    /// A reassessment for a non-beneficiary.
    NOT_A_BENEFICIARY = ("LTC_NOT_A_BENEFICIARY", InvalidArgument, "a reassessment names a person who is not a beneficiary");
    /// An open application of the person.
    APPLICATION_OPEN = ("LTC_APPLICATION_OPEN", FailedPrecondition, "the person has an application still open (received, scheduled, assessed or appealed)");
    /// Not insured on the application date.
    NOT_INSURED = ("LTC_NOT_INSURED", FailedPrecondition, "enrollment finds the person not insured on the application date; its explanation is given");
    /// No benefit policy.
    NO_POLICY = ("LTC_NO_POLICY", FailedPrecondition, "no benefit policy for the region (county, city or province) and year; as a record outcome, the record is refused");
    /// A step the application's state does not allow.
    APPLICATION_WRONG_STATE = ("LTC_APPLICATION_WRONG_STATE", FailedPrecondition, "the application's state does not allow the step (schedule, assess, decide, appeal)");
    /// A second appeal.
    APPEAL_ALREADY_MADE = ("LTC_APPEAL_ALREADY_MADE", FailedPrecondition, "the decision was appealed once already");
    /// A level the policy does not cover.
    LEVEL_DOES_NOT_QUALIFY = ("LTC_LEVEL_DOES_NOT_QUALIFY", FailedPrecondition, "the assessed level does not qualify under the region's policy (reject with a reason); as a record outcome, the level in force on the day does not qualify");
    /// A malformed score sheet.
    SCORE_SHEET_INVALID = ("LTC_SCORE_SHEET_INVALID", InvalidArgument, "a score sheet misses an item of the national standard, names an unknown one or gives a score the item does not allow; the items are named");
    /// No sheet to combine.
    NO_SCORE_SHEET = ("LTC_NO_SCORE_SHEET", FailedPrecondition, "an assessment completed without a score sheet");
    /// Two assessors disagree.
    ASSESSORS_DISAGREE = ("LTC_ASSESSORS_DISAGREE", InvalidArgument, "the assigned assessors' sheets give different levels or dementia findings; nothing is written and the items are named");
    /// A sheet for a completed assessment.
    ASSESSMENT_COMPLETED = ("LTC_ASSESSMENT_COMPLETED", FailedPrecondition, "the assessment is completed; sheets can no longer change");
    /// A policy document that does not hold together.
    POLICY_INVALID = ("LTC_POLICY_INVALID", InvalidArgument, "the benefit policy document does not parse or contradicts itself; the field is named");
    /// A care plan overlapping another.
    PLAN_OVERLAP = ("LTC_PLAN_OVERLAP", InvalidArgument, "a new care plan would overlap a plan of the beneficiary that has already started or ended");
    /// Amounts beyond what money holds.
    AMOUNT_TOO_LARGE = ("LTC_AMOUNT_TOO_LARGE", InvalidArgument, "the amounts of a month are too large to compute");
    /// A run with nothing to settle.
    NOTHING_TO_SETTLE = ("LTC_NOTHING_TO_SETTLE", FailedPrecondition, "the institution has no new or corrected accepted records in the month");
    /// An idempotency key used for another run.
    REQUEST_ID_REUSED = ("LTC_REQUEST_ID_REUSED", InvalidArgument, "the request_id was used for another settlement run or reversal");
    /// A reversal of a reversal.
    SETTLEMENT_IS_REVERSAL = ("LTC_SETTLEMENT_IS_REVERSAL", FailedPrecondition, "a reversal run cannot be reversed");
    /// A run reversed already.
    SETTLEMENT_REVERSED = ("LTC_SETTLEMENT_REVERSED", FailedPrecondition, "the settlement run is already reversed");
    /// No such application.
    APPLICATION_NOT_FOUND = ("LTC_APPLICATION_NOT_FOUND", NotFound, "no application has this id");
    /// No such assessment.
    ASSESSMENT_NOT_FOUND = ("LTC_ASSESSMENT_NOT_FOUND", NotFound, "no assessment has this id");
    /// No such beneficiary.
    BENEFICIARY_NOT_FOUND = ("LTC_BENEFICIARY_NOT_FOUND", NotFound, "no beneficiary has this id");
    /// No such policy.
    POLICY_NOT_FOUND = ("LTC_POLICY_NOT_FOUND", NotFound, "no policy was uploaded for exactly this region and year");
    /// No such record.
    RECORD_NOT_FOUND = ("LTC_RECORD_NOT_FOUND", NotFound, "the institution has no service record of this number");
    /// No such settlement run.
    SETTLEMENT_NOT_FOUND = ("LTC_SETTLEMENT_NOT_FOUND", NotFound, "no settlement run has this id");
    /// A row that vanished inside its own transaction.
    NOT_FOUND = ("LTC_NOT_FOUND", NotFound, "a care plan vanished while it was being placed or ended (a concurrent change); retry");
    /// A write that lost a race, or a reused application number.
    CONFLICT = ("LTC_CONFLICT", Aborted, "a concurrent request changed the same record (retry), or the application_no was used for another person");
    /// Enrollment did not answer.
    DEPENDENCY_UNAVAILABLE = ("LTC_DEPENDENCY_UNAVAILABLE", Unavailable, "enrollment's CheckEligibility or GetInstitution failed or was unreachable; nothing was written");
    /// The care institution is not a designated LTC provider on the date.
    INSTITUTION_NOT_DESIGNATED = ("LTC_INSTITUTION_NOT_DESIGNATED", FailedPrecondition, "`institution_code` is not in enrollment's designated-institution registry, is suspended or terminated (the registry's reason is given), or holds no agreement covering long-term care in force on the date (the agreements in force are listed); nothing was written");
    /// An assessment of other assessors.
    NOT_ASSIGNED = ("LTC_NOT_ASSIGNED", PermissionDenied, "the assessment is not assigned to the calling assessor");
    /// The bus failed under the stays consumer.
    BUS_UNAVAILABLE = ("LTC_BUS_UNAVAILABLE", Unavailable, "logged, never answered: the consumer of settlement's claim events could not read or acknowledge; it retries");
    /// Record outcome: died before the service date.
    RECORD_AFTER_DEATH = ("LTC_RECORD_AFTER_DEATH", InvalidArgument, "record outcome (in the response, not an error): the person had died before the service date");
    /// Record outcome: not insured on the service date.
    RECORD_NOT_ENROLLED = ("LTC_RECORD_NOT_ENROLLED", InvalidArgument, "record outcome (in the response, not an error): the person is not insured on the service date");
    /// Record outcome: no level on the service date.
    RECORD_BEFORE_APPROVAL = ("LTC_RECORD_BEFORE_APPROVAL", InvalidArgument, "record outcome (in the response, not an error): no approved level on the service date");
    /// Record outcome: the care type is not offered.
    CARE_TYPE_NOT_OFFERED = ("LTC_CARE_TYPE_NOT_OFFERED", InvalidArgument, "record outcome (in the response, not an error): the region's policy does not offer the care type");
    /// Record outcome: a dementia unit without 重度失智.
    DEMENTIA_UNIT_WITHOUT_DEMENTIA = ("LTC_DEMENTIA_UNIT_WITHOUT_DEMENTIA", InvalidArgument, "record outcome (in the response, not an error): a dementia unit is for persons assessed with 重度失智");
    /// Record outcome: no care plan on the day.
    RECORD_OUTSIDE_PLAN = ("LTC_RECORD_OUTSIDE_PLAN", InvalidArgument, "record outcome (in the response, not an error): no care plan on the service date");
    /// Record outcome: placed with another institution.
    RECORD_OTHER_INSTITUTION = ("LTC_RECORD_OTHER_INSTITUTION", InvalidArgument, "record outcome (in the response, not an error): on the service date the person is placed with another institution");
    /// Record outcome: another care type planned.
    RECORD_WRONG_CARE_TYPE = ("LTC_RECORD_WRONG_CARE_TYPE", InvalidArgument, "record outcome (in the response, not an error): the plan on the service date is of another care type");
    /// Record outcome: a bed-day of more than one unit.
    RECORD_UNITS = ("LTC_RECORD_UNITS", InvalidArgument, "record outcome (in the response, not an error): a bed-day record carries exactly 1 unit");
    /// Record outcome: the bed-day is billed already.
    DAY_ALREADY_BILLED = ("LTC_DAY_ALREADY_BILLED", InvalidArgument, "record outcome (in the response, not an error): a bed-day is already billed on the service date (any institution)");
    /// Record outcome: above the monthly unit limit.
    UNITS_ABOVE_MONTHLY_LIMIT = ("LTC_UNITS_ABOVE_MONTHLY_LIMIT", InvalidArgument, "record outcome (in the response, not an error): the month's units of the care type would exceed the policy's limit");
    /// Record outcome: during a hospital stay.
    RECORD_DURING_HOSPITAL_STAY = ("LTC_RECORD_DURING_HOSPITAL_STAY", InvalidArgument, "record outcome (in the response, not an error): the day lies strictly inside a settled inpatient stay; refused or flagged as the policy says");
    /// Record outcome: an unknown beneficiary.
    BENEFICIARY_UNKNOWN = ("LTC_BENEFICIARY_UNKNOWN", InvalidArgument, "record outcome (in the response, not an error): the record names no beneficiary of this service");
    /// Record outcome: a record number reused with other content.
    RECORD_NO_REUSED = ("LTC_RECORD_NO_REUSED", InvalidArgument, "record outcome (in the response, not an error): the record number was uploaded before with other content; correct it instead");
}
