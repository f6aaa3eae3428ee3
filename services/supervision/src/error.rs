//! Every stable error code the supervision service answers with, declared once (the catalogue
//! in `docs/errors.md` is generated from [`CODES`]). Each layer has its own error enum —
//! [`crate::store::StoreError`], [`crate::app::AppError`], [`crate::events::EventsError`], and
//! the domain's refusals ([`crate::domain::ReviewError`], [`crate::domain::CaseError`], …) —
//! mapped once onto these codes in [`crate::api::error`]. Authentication, roles, tenancy and
//! pages answer with the runtime's codes (`yibao_runtime::error::codes`).

yibao_runtime::error_codes! {
    /// A region code that does not parse, or a required one missing.
    REGION_INVALID = ("SUPERVISION_REGION_INVALID", InvalidArgument, "a region code does not parse, or a required `region_code` is missing");
    /// An institution code that does not parse.
    INSTITUTION_INVALID = ("SUPERVISION_INSTITUTION_INVALID", InvalidArgument, "an institution code does not parse");
    /// A date that is not `YYYY-MM-DD`, missing, or out of order.
    DATE_INVALID = ("SUPERVISION_DATE_INVALID", InvalidArgument, "a date is not `YYYY-MM-DD`, a required date is missing, or `to_date` is before `from_date`");
    /// A year outside 2000–2100.
    YEAR_INVALID = ("SUPERVISION_YEAR_INVALID", InvalidArgument, "`year` is outside 2000 to 2100");
    /// A required text field is empty.
    FIELD_REQUIRED = ("SUPERVISION_FIELD_REQUIRED", InvalidArgument, "a required text field (an id, a reason, a description) is empty");
    /// An unknown rule code number.
    RULE_CODE_INVALID = ("SUPERVISION_RULE_CODE_INVALID", InvalidArgument, "`rule_code` is not a number of the `RuleCode` enum");
    /// An unknown severity number.
    SEVERITY_INVALID = ("SUPERVISION_SEVERITY_INVALID", InvalidArgument, "a severity is not a number of the `Severity` enum");
    /// An unknown verification kind.
    VERIFICATION_KIND_INVALID = ("SUPERVISION_VERIFICATION_KIND_INVALID", InvalidArgument, "a verification kind is not a number of the `VerificationKind` enum");
    /// An unknown sex.
    SEX_INVALID = ("SUPERVISION_SEX_INVALID", InvalidArgument, "a sex restriction is not male or female");
    /// An unknown review state.
    STATE_INVALID = ("SUPERVISION_STATE_INVALID", InvalidArgument, "`state` is not a number of the `ReviewState` enum");
    /// An unknown feedback kind.
    FEEDBACK_KIND_INVALID = ("SUPERVISION_FEEDBACK_KIND_INVALID", InvalidArgument, "`kind` is not accept, explain or appeal");
    /// An unknown or incomplete conclusion.
    CONCLUSION_INVALID = ("SUPERVISION_CONCLUSION_INVALID", InvalidArgument, "`conclusion` is not uphold or dismiss");
    /// An unknown verification method.
    VERIFICATION_METHOD_INVALID = ("SUPERVISION_VERIFICATION_METHOD_INVALID", InvalidArgument, "`method` is not a number of the `VerificationMethod` enum");
    /// An unknown verification outcome.
    VERIFICATION_OUTCOME_INVALID = ("SUPERVISION_VERIFICATION_OUTCOME_INVALID", InvalidArgument, "`outcome` is not a number of the `VerificationOutcome` enum");
    /// An unknown case status.
    CASE_STATUS_INVALID = ("SUPERVISION_CASE_STATUS_INVALID", InvalidArgument, "`status` is not a number of the `CaseStatus` enum");
    /// An unknown warning level.
    WARNING_LEVEL_INVALID = ("SUPERVISION_WARNING_LEVEL_INVALID", InvalidArgument, "`min_level` is not a number of the `WarningLevel` enum");
    /// No such finding.
    FINDING_NOT_FOUND = ("SUPERVISION_FINDING_NOT_FOUND", NotFound, "no finding has this id (InvalidArgument naming `finding_ids[n]` when a case is opened from it)");
    /// No such verification task.
    TASK_NOT_FOUND = ("SUPERVISION_TASK_NOT_FOUND", NotFound, "no verification task has this id");
    /// No such case.
    CASE_NOT_FOUND = ("SUPERVISION_CASE_NOT_FOUND", NotFound, "no case has this id");
    /// No such tip.
    TIP_NOT_FOUND = ("SUPERVISION_TIP_NOT_FOUND", InvalidArgument, "`tip_id` names no tip");
    /// A request id used before for another request.
    REQUEST_ID_REUSED = ("SUPERVISION_REQUEST_ID_REUSED", AlreadyExists, "`request_id` was used before for a different request (another method or other content)");
    /// A concurrent change came first.
    CONCURRENT_CHANGE = ("SUPERVISION_CONCURRENT_CHANGE", Aborted, "the record changed since it was read (or the same request was recorded concurrently); re-read and retry");
    /// An unknown rule, or one not given.
    RULE_UNKNOWN = ("RULE_UNKNOWN", InvalidArgument, "`rule_code` is missing or not a rule of the library");
    /// The rule's parameters are of another rule.
    RULE_PARAMS_MISMATCH = ("RULE_PARAMS_MISMATCH", InvalidArgument, "`params` are the parameters of another rule");
    /// The rule's parameters are out of range.
    RULE_PARAMS_INVALID = ("RULE_PARAMS_INVALID", InvalidArgument, "`params` are missing a value or out of range");
    /// The rule set lacks a rule.
    RULE_SET_INCOMPLETE = ("RULE_SET_INCOMPLETE", InvalidArgument, "the rule set would lack a rule of the library");
    /// The retention is shorter than a rule's window.
    RULE_RETENTION_TOO_SHORT = ("RULE_RETENTION_TOO_SHORT", InvalidArgument, "a rule's window is longer than the rule set's retention");
    /// An update that changes nothing.
    RULE_NO_CHANGE = ("RULE_NO_CHANGE", InvalidArgument, "an update gives no new switch, severity or parameters");
    /// The rule-set version asked for does not exist.
    RULE_VERSION_UNKNOWN = ("RULE_VERSION_UNKNOWN", InvalidArgument, "the region has no rule-set version of this number");
    /// The rule set moved on since it was read.
    RULE_VERSION_CONFLICT = ("RULE_VERSION_CONFLICT", Aborted, "`expected_version` is no longer the region's latest rule-set version; re-read and retry");
    /// A review step the workflow does not allow in this state.
    REVIEW_ILLEGAL_TRANSITION = ("REVIEW_ILLEGAL_TRANSITION", FailedPrecondition, "the finding's review state does not allow this step");
    /// A review step taken in the wrong role.
    REVIEW_WRONG_ROLE = ("REVIEW_WRONG_ROLE", PermissionDenied, "the step belongs to another review role");
    /// A conclusion before the institution's feedback while its window is open.
    REVIEW_FEEDBACK_WINDOW_OPEN = ("REVIEW_FEEDBACK_WINDOW_OPEN", FailedPrecondition, "the institution has not answered and its feedback window is still open");
    /// An amount above the amount at risk.
    REVIEW_AMOUNT_OUT_OF_RANGE = ("REVIEW_AMOUNT_OUT_OF_RANGE", InvalidArgument, "`amount_fen` is not positive or above the finding's amount at risk, or not 0 for a dismissal");
    /// A decision above the third party's amount.
    REVIEW_BOUND_BY_THIRD_PARTY = ("REVIEW_BOUND_BY_THIRD_PARTY", InvalidArgument, "the final decision may not go beyond the third party's conclusion");
    /// A step dated before the previous one.
    REVIEW_TIME_BEFORE_PREVIOUS_STEP = ("REVIEW_TIME_BEFORE_PREVIOUS_STEP", FailedPrecondition, "the step would be dated before the finding's previous step");
    /// The reviewer tried to take the final decision.
    REVIEW_SAME_PERSON = ("REVIEW_SAME_PERSON", FailedPrecondition, "the reviewer of a finding may not also take its final decision (four eyes)");
    /// A verification task completed already.
    VERIFICATION_ALREADY_COMPLETED = ("VERIFICATION_ALREADY_COMPLETED", FailedPrecondition, "the verification task is completed already");
    /// A verification method weaker than the task requires.
    VERIFICATION_METHOD_INSUFFICIENT = ("VERIFICATION_METHOD_INSUFFICIENT", InvalidArgument, "`method` is weaker than the task's receipt tier requires");
    /// A case with no findings.
    CASE_NO_FINDINGS = ("CASE_NO_FINDINGS", InvalidArgument, "a case from findings names none");
    /// A case from findings of several institutions.
    CASE_MIXED_INSTITUTIONS = ("CASE_MIXED_INSTITUTIONS", InvalidArgument, "the findings of a case belong to different institutions");
    /// A change to a closed case.
    CASE_CLOSED = ("CASE_CLOSED", FailedPrecondition, "the case is closed");
    /// A recovery or reward of no money.
    CASE_AMOUNT_NOT_POSITIVE = ("CASE_AMOUNT_NOT_POSITIVE", InvalidArgument, "`amount_fen` must be above 0");
    /// A reward above what is due.
    CASE_REWARD_ABOVE_DUE = ("CASE_REWARD_ABOVE_DUE", InvalidArgument, "the reward is above what the reward policy makes due for the recovered funds");
    /// A reward for a case without a whistle-blower.
    CASE_NO_REWARD = ("CASE_NO_REWARD", FailedPrecondition, "the case has no whistle-blower to reward");
    /// Neither or both sources of a case.
    CASE_SOURCE_INVALID = ("CASE_SOURCE_INVALID", InvalidArgument, "give either `finding_ids` or `tip_id`");
    /// A finding outside the case's region.
    CASE_FINDING_OUTSIDE_REGION = ("CASE_FINDING_OUTSIDE_REGION", InvalidArgument, "a finding of `finding_ids` lies outside the case's region");
    /// A tip received outside the case's region.
    CASE_TIP_OUTSIDE_REGION = ("CASE_TIP_OUTSIDE_REGION", InvalidArgument, "the tip was received outside the case's region");
    /// A tip that already has a case.
    CASE_TIP_ALREADY_IN_CASE = ("CASE_TIP_ALREADY_IN_CASE", FailedPrecondition, "the tip already has a case");
    /// A finding that is already in a case.
    CASE_FINDING_ALREADY_IN_CASE = ("CASE_FINDING_ALREADY_IN_CASE", InvalidArgument, "a finding of `finding_ids` is already in a case");
    /// A physician code that does not parse.
    CREDIT_PHYSICIAN_CODE_INVALID = ("CREDIT_PHYSICIAN_CODE_INVALID", InvalidArgument, "`subject_code` is not an insurance physician code");
    /// A restoration of no points or of more than the initial score.
    CREDIT_POINTS_INVALID = ("CREDIT_POINTS_INVALID", InvalidArgument, "`points` of a restoration is 0 or above the credit policy's initial score");
    /// An unknown credit subject kind.
    CREDIT_SUBJECT_KIND_INVALID = ("CREDIT_SUBJECT_KIND_INVALID", InvalidArgument, "`subject_kind` is not institution or physician");
    /// A month outside 1–12.
    BUDGET_MONTH_INVALID = ("BUDGET_MONTH_INVALID", InvalidArgument, "`month` is outside 1 to 12");
    /// A budget of no money.
    BUDGET_AMOUNT_NOT_POSITIVE = ("BUDGET_AMOUNT_NOT_POSITIVE", InvalidArgument, "`annual_budget_fen` must be above 0");
    /// A budget policy that is missing or inconsistent.
    BUDGET_POLICY_INVALID = ("BUDGET_POLICY_INVALID", InvalidArgument, "the budget policy is missing, of another region, or its thresholds are out of order");
    /// No budget for the institution that year.
    BUDGET_NOT_SET = ("BUDGET_NOT_SET", NotFound, "the institution has no budget in that year");
    /// A draw without institutions to draw from.
    INSPECTION_EMPTY_POOL = ("INSPECTION_EMPTY_POOL", InvalidArgument, "`institution_codes` is empty");
    /// A draw of nothing.
    INSPECTION_EMPTY_DRAW = ("INSPECTION_EMPTY_DRAW", InvalidArgument, "`institutions_to_draw` is 0");
    /// An institution of the pool outside the region.
    INSPECTION_OUTSIDE_REGION = ("INSPECTION_OUTSIDE_REGION", InvalidArgument, "an institution of `institution_codes` lies outside the draw's region");
    /// More institutions to draw than the pool holds.
    INSPECTION_TOO_FEW_INSTITUTIONS = ("INSPECTION_TOO_FEW_INSTITUTIONS", InvalidArgument, "`institutions_to_draw` is above the pool");
    /// More inspectors to draw than are free of conflicts.
    INSPECTION_TOO_FEW_INSPECTORS = ("INSPECTION_TOO_FEW_INSPECTORS", InvalidArgument, "`inspectors_to_draw` is above the inspectors free of conflicts");
    /// No such draw.
    INSPECTION_DRAW_NOT_FOUND = ("INSPECTION_DRAW_NOT_FOUND", NotFound, "no inspection draw has this id");
    /// Stored data that does not parse (a bug or a manual edit).
    STORED_DATA_CORRUPT = ("SUPERVISION_STORED_DATA_CORRUPT", Internal, "a bug or a manual edit: stored data does not parse; answered as INTERNAL and logged");
    /// The database failed.
    DATABASE = ("SUPERVISION_DATABASE", Internal, "the database failed; answered as INTERNAL and logged");
    /// The bus failed (consumer only).
    BUS = ("SUPERVISION_BUS", Internal, "the consumer could not read, acknowledge or measure a stream; logged, the batch is read again");
    /// A consumer task failed to run to its end (consumer only).
    CONSUMER_TASK = ("SUPERVISION_CONSUMER_TASK", Internal, "a task of the consumer (event lookup, batch commit) did not finish; logged, the batch is read again");
}
