//! What the services refuse in a request, declared in the OpenAPI document so that generated
//! and hand-written clients learn the rules from it: the shape of codes (region, institution,
//! resident ID number, item codes), dates and months, lengths of texts, ranges of amounts,
//! quantities, rates and years, the enum values a field refuses (`…_UNSPECIFIED` where a value
//! is required), and the fields a request must carry.
//!
//! Each entry is what a service's `api/` (or the domain rule it calls) checks today, read from
//! its validators — `yibao_core::RegionCode::parse`, `InstitutionCode::parse`,
//! `IdNumber::parse`, the services' date, month, text and amount checks — and names the field
//! by `package.Message.field` (without the `yibao.` prefix). A rule describes the canonical
//! form: services also trim surrounding spaces and treat an empty string like an absent field,
//! and some rules (a GB 11643 check digit, `amount = unit_price × quantity`, a date range's
//! order, a record that must exist) cannot be said in a schema and stay the service's to
//! refuse with a 400 naming the field. Rules apply to request schemas only; responses are
//! described as the services write them.

/// The rule of one request field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rule {
    /// The request must carry the field (non-empty, non-zero, or a value other than
    /// `…_UNSPECIFIED`).
    pub required: bool,
    /// ECMA-262 pattern of a string (each element's, for a repeated field).
    pub pattern: Option<&'static str>,
    /// OpenAPI format (`date`: `YYYY-MM-DD`).
    pub format: Option<&'static str>,
    /// Fewest characters.
    pub min_length: Option<u64>,
    /// Most characters.
    pub max_length: Option<u64>,
    /// Smallest number.
    pub minimum: Option<i64>,
    /// Largest number.
    pub maximum: Option<i64>,
    /// Fewest elements of a repeated field.
    pub min_items: Option<u64>,
    /// Most elements of a repeated field.
    pub max_items: Option<u64>,
    /// An enum field whose `…_UNSPECIFIED` (0) value is refused.
    pub specified: bool,
    /// What the schema cannot say, added to the field's description.
    pub note: Option<&'static str>,
}

impl Rule {
    const fn new() -> Rule {
        Rule {
            required: false,
            pattern: None,
            format: None,
            min_length: None,
            max_length: None,
            minimum: None,
            maximum: None,
            min_items: None,
            max_items: None,
            specified: false,
            note: None,
        }
    }

    /// The field must be present.
    pub const fn required(self) -> Rule {
        Rule {
            required: true,
            ..self
        }
    }

    const fn pattern(p: &'static str) -> Rule {
        Rule {
            pattern: Some(p),
            ..Rule::new()
        }
    }

    const fn range(min: i64, max: i64) -> Rule {
        Rule {
            minimum: Some(min),
            maximum: Some(max),
            ..Rule::new()
        }
    }

    const fn at_least(min: i64) -> Rule {
        Rule {
            minimum: Some(min),
            ..Rule::new()
        }
    }

    const fn min_items(self, n: u64) -> Rule {
        Rule {
            min_items: Some(n),
            ..self
        }
    }

    const fn max_items(self, n: u64) -> Rule {
        Rule {
            max_items: Some(n),
            ..self
        }
    }

    const fn note(self, n: &'static str) -> Rule {
        Rule {
            note: Some(n),
            ..self
        }
    }

    const fn max_length(self, n: u64) -> Rule {
        Rule {
            max_length: Some(n),
            ..self
        }
    }
}

/// A 6-digit region code (`RegionCode::parse`).
const REGION: Rule = Rule::pattern("^[0-9]{6}$");
/// A designated institution code, `H` or `P` + 11 digits (`InstitutionCode::parse`).
const INSTITUTION: Rule = Rule::pattern("^[HP][0-9]{11}$");
/// An 18-character resident ID number (`IdNumber::parse`).
const ID_NUMBER: Rule = Rule::pattern("^[0-9]{17}[0-9Xx]$")
    .note("GB 11643: the check character and the birth date (not in the future) are checked too.");
/// A calendar date `YYYY-MM-DD`.
const DATE: Rule = Rule {
    format: Some("date"),
    ..Rule::new()
};
/// A month `YYYY-MM`.
const MONTH: Rule = Rule::pattern("^[0-9]{4}-(0[1-9]|1[0-2])$");
/// A month `YYYY-MM` of the years LTC's `Month::parse` accepts (1900–9999).
const LTC_MONTH: Rule = Rule::pattern("^(19[0-9]{2}|[2-9][0-9]{3})-(0[1-9]|1[0-2])$");
/// An insurance year the services accept.
const YEAR: Rule = Rule::range(2000, 2100);
/// An amount in fen that must not be negative.
const FEN: Rule = Rule::at_least(0);
/// An amount in fen that must be positive.
const POSITIVE_FEN: Rule = Rule::at_least(1);
/// A rate of at most 100%, in basis points.
const SHARE_BP: Rule = Rule::range(0, 10_000);
/// An enum field that needs a value other than `…_UNSPECIFIED`.
const SPECIFIED: Rule = Rule {
    specified: true,
    required: true,
    ..Rule::new()
};
/// A non-blank text of at most `max` characters (services trim it first).
const fn text(max: u64) -> Rule {
    Rule {
        min_length: Some(1),
        max_length: Some(max),
        pattern: Some("\\S"),
        required: true,
        ..Rule::new()
    }
}
/// A non-blank text of any length.
const NON_BLANK: Rule = Rule {
    min_length: Some(1),
    pattern: Some("\\S"),
    required: true,
    ..Rule::new()
};
/// `page.page_size` (`yibao_runtime::page::Page::parse`): 0 or absent means 100.
const PAGE_SIZE: Rule = Rule::range(0, 1000);
/// 医保版 ICD-10 code (settlement's `is_icd10_medical_insurance_code`), e.g. `I10.x00x002`.
const ICD10: Rule = Rule::pattern("^[A-Z][0-9]{2}\\.([0-9x]{1,3}|[0-9x]{1,3}x[0-9]{3})$");
/// A national item code, in the format its first character tells (procurement's
/// `ItemCode::parse_any`): `X` western drug (23), `Z` Chinese patent medicine (20), `C`
/// consumable or reagent (20 or 27), otherwise a 15-digit service item.
const ITEM_CODE: Rule = Rule::pattern(
    "^(X[A-Z0-9]{5}[A-Z][0-9]{3}[A-Z][0-9]{12}|Z[A-Z0-9]{5}[A-Z][0-9]{13}|C[0-9]{19}|C[0-9]{26}|[0-9]{15})$",
);
/// Settlement's default `settlement.max_claim_fen` (the maximum amount of a claim).
const MAX_CLAIM_FEN: i64 = 10_000_000_000;
/// An amount of a claim: 0 to the maximum claim amount.
const CLAIM_FEN: Rule = Rule::range(0, MAX_CLAIM_FEN)
    .note("At most `settlement.max_claim_fen` (default 10000000000 fen), as is the lines' total.");

/// Every rule, by `package.Message.field`.
pub const RULES: &[(&str, Rule)] = &[
    // --- common -------------------------------------------------------------------------------
    ("common.v1.PageRequest.page_size", PAGE_SIZE),
    // --- enrollment (services/enrollment/src/api) --------------------------------------------
    ("enrollment.v1.RegisterPersonRequest.id_number", ID_NUMBER.required()),
    ("enrollment.v1.RegisterPersonRequest.name", text(64)),
    ("enrollment.v1.RegisterPersonRequest.region_code", REGION.required()),
    (
        "enrollment.v1.CorrectPersonRequest.reason",
        NON_BLANK.note("Kept in the person's history."),
    ),
    (
        "enrollment.v1.CorrectPersonRequest.name",
        Rule::new().max_length(64),
    ),
    ("enrollment.v1.LookupPersonRequest.id_number", ID_NUMBER.required()),
    ("enrollment.v1.CreateHouseholdRequest.region_code", REGION.required()),
    ("enrollment.v1.CreateHouseholdRequest.address", NON_BLANK),
    ("enrollment.v1.GrantCategoryRequest.category", SPECIFIED),
    ("enrollment.v1.GrantCategoryRequest.valid_from", DATE.required()),
    (
        "enrollment.v1.GrantCategoryRequest.valid_to",
        DATE.note("Not before valid_from; absent: open-ended."),
    ),
    ("enrollment.v1.SetContributionStandardRequest.region_code", REGION.required()),
    ("enrollment.v1.SetContributionStandardRequest.year", YEAR.required()),
    ("enrollment.v1.SetContributionStandardRequest.scheme", SPECIFIED),
    ("enrollment.v1.SetContributionStandardRequest.individual_amount_fen", FEN),
    ("enrollment.v1.SetContributionStandardRequest.waiting_days", Rule::range(0, 365)),
    ("enrollment.v1.EnrollRequest.region_code", REGION.required()),
    (
        "enrollment.v1.EnrollRequest.year",
        YEAR.required()
            .note("A contribution standard must be set for the region, year and scheme."),
    ),
    ("enrollment.v1.EnrollRequest.scheme", SPECIFIED),
    ("enrollment.v1.EnrollRequest.enrolled_on", DATE),
    ("enrollment.v1.RecordContributionRequest.kind", SPECIFIED),
    ("enrollment.v1.RecordContributionRequest.amount_fen", POSITIVE_FEN.required()),
    ("enrollment.v1.RecordContributionRequest.paid_on", DATE),
    (
        "enrollment.v1.RecordContributionRequest.reference",
        text(128).note("Unique per enrolment: a retried payment with the same reference is booked once."),
    ),
    ("enrollment.v1.RecordStatusEventRequest.effective_on", DATE.required()),
    ("enrollment.v1.RecordStatusEventRequest.kind", SPECIFIED),
    (
        "enrollment.v1.RecordStatusEventRequest.to_region_code",
        REGION.note("Required for STATUS_EVENT_KIND_TRANSFER."),
    ),
    ("enrollment.v1.CheckEligibilityRequest.id_number", ID_NUMBER.required()),
    ("enrollment.v1.CheckEligibilityRequest.date", DATE),
    (
        "enrollment.v1.IssueVoucherRequest.ttl_seconds",
        Rule::range(10, 3600).note("Absent: 300."),
    ),
    ("enrollment.v1.ScanDuplicatesRequest.year", YEAR.required()),
    ("enrollment.v1.ScanDuplicatesRequest.region_code", REGION),
    ("enrollment.v1.ListDuplicateTasksRequest.region_code", REGION),
    ("enrollment.v1.ReconcileRosterRequest.region_code", REGION.required()),
    ("enrollment.v1.ReconcileRosterRequest.year", YEAR.required()),
    (
        "enrollment.v1.ReconcileRosterRequest.csv",
        Rule::pattern("^[^\\n]*\\bid_number\\b")
            .required()
            .note("CSV whose header row has an id_number column."),
    ),
    ("enrollment.v1.SetCoverageTargetRequest.region_code", REGION.required()),
    ("enrollment.v1.SetCoverageTargetRequest.target", Rule::at_least(0)),
    ("enrollment.v1.GetCoverageRequest.region_code", REGION),
    ("enrollment.v1.ImportRecordsRequest.region_code", REGION.required()),
    ("enrollment.v1.ImportRecordsRequest.format", SPECIFIED),
    // --- settlement (services/settlement/src/api, domain/claim.rs) ---------------------------
    ("settlement.v1.PreSettleRequest.claim", Rule::new().required()),
    ("settlement.v1.SettleRequest.claim", Rule::new().required()),
    ("settlement.v1.ResettleRequest.claim", Rule::new().required()),
    ("settlement.v1.Claim.institution_code", INSTITUTION.required()),
    (
        "settlement.v1.Claim.encounter_no",
        text(64).note("With institution_code, the key a repeated settlement is recognised by."),
    ),
    ("settlement.v1.Claim.id_number", ID_NUMBER.required()),
    ("settlement.v1.Claim.insured_region_code", REGION.required()),
    ("settlement.v1.Claim.kind", SPECIFIED),
    (
        "settlement.v1.Claim.hospital_grade",
        Rule::new().note("Leave unspecified: the registry's grade on the claim's end date is used; a declared grade that disagrees is refused."),
    ),
    (
        "settlement.v1.Claim.institution_tier",
        Rule::new().note("Leave unspecified: the registry's tier on the claim's end date is used; a declared tier that disagrees is refused."),
    ),
    (
        "settlement.v1.Claim.attending_physician_code",
        Rule::pattern("^D[0-9]{12}$").note("An insurance physician (医保医师) of the institution in enrollment's registry; required except for pharmacy claims."),
    ),
    ("settlement.v1.Claim.start_date", DATE.required()),
    (
        "settlement.v1.Claim.end_date",
        DATE.required().note("Not before start_date."),
    ),
    (
        "settlement.v1.Claim.diagnoses",
        ICD10.note("At least one, except for a pharmacy claim."),
    ),
    ("settlement.v1.Claim.items", Rule::new().required().min_items(1)),
    (
        "settlement.v1.Claim.disease_code",
        Rule::new().note("Required for ENCOUNTER_KIND_OUTPATIENT_CHRONIC."),
    ),
    ("settlement.v1.ClaimItem.national_code", NON_BLANK),
    (
        "settlement.v1.ClaimItem.quantity",
        Rule::range(1, 1_000_000)
            .required()
            .note("At most `settlement.max_item_quantity` (default 1000000)."),
    ),
    ("settlement.v1.ClaimItem.unit_price_fen", CLAIM_FEN),
    (
        "settlement.v1.ClaimItem.amount_fen",
        CLAIM_FEN.note("Must equal unit_price_fen × quantity; at most `settlement.max_claim_fen` (default 10000000000 fen)."),
    ),
    (
        "settlement.v1.ClaimItem.item_class",
        Rule::new().note("Not used for payment: procurement's catalogue classifies the item."),
    ),
    (
        "settlement.v1.ClaimItem.payment_standard_fen",
        Rule::new().note("Not used for payment: procurement's catalogue gives the standard."),
    ),
    (
        "settlement.v1.ClaimItem.preselfpay_share_bp",
        SHARE_BP.note("Not used for payment: procurement's catalogue gives the share."),
    ),
    ("settlement.v1.ClaimItem.days_supply", Rule::range(1, 366)),
    (
        "settlement.v1.ReverseRequest.reversal_no",
        text(64).note("With the institution, the key a repeated reversal is recognised by."),
    ),
    ("settlement.v1.ListClaimsRequest.region_code", REGION),
    ("settlement.v1.ListClaimsRequest.month", MONTH),
    ("settlement.v1.UploadPolicyRequest.region_code", REGION.required()),
    ("settlement.v1.UploadPolicyRequest.document_json", NON_BLANK),
    ("settlement.v1.ListPoliciesRequest.region_code", REGION),
    ("settlement.v1.GetPolicyRequest.policy_id", NON_BLANK),
    ("settlement.v1.GetAccumulatorsRequest.id_number", ID_NUMBER.required()),
    ("settlement.v1.GetAccumulatorsRequest.region_code", REGION.required()),
    (
        "settlement.v1.GetAccumulatorsRequest.year",
        Rule::range(1900, 2999).required(),
    ),
    (
        "settlement.v1.GetInstitutionStatementRequest.institution_code",
        INSTITUTION.required(),
    ),
    ("settlement.v1.GetInstitutionStatementRequest.month", MONTH.required()),
    ("settlement.v1.ReconcileLedgerRequest.region_code", REGION.required()),
    ("settlement.v1.ReconcileLedgerRequest.month", MONTH.required()),
    ("settlement.v1.ListInsurerClaimsRequest.insurer_code", NON_BLANK),
    ("settlement.v1.ListInsurerClaimsRequest.month", MONTH),
    ("settlement.v1.ListInsurerClaimsRequest.region_code", REGION),
    ("settlement.v1.ReconcileInsurerRequest.insurer_code", NON_BLANK),
    ("settlement.v1.ReconcileInsurerRequest.month", MONTH.required()),
    ("settlement.v1.ReconcileInsurerRequest.region_code", REGION),
    ("settlement.v1.DisputeInsurerClaimRequest.insurer_code", NON_BLANK),
    ("settlement.v1.DisputeInsurerClaimRequest.claim_id", NON_BLANK),
    ("settlement.v1.DisputeInsurerClaimRequest.product_code", NON_BLANK),
    ("settlement.v1.DisputeInsurerClaimRequest.reason", NON_BLANK),
    (
        "settlement.v1.DisputeInsurerClaimRequest.disputed_amount_fen",
        POSITIVE_FEN
            .required()
            .note("At most what the insurer was asked to pay for the claim."),
    ),
    ("settlement.v1.ResolveInsurerDisputeRequest.insurer_code", NON_BLANK),
    ("settlement.v1.ResolveInsurerDisputeRequest.claim_id", NON_BLANK),
    ("settlement.v1.ResolveInsurerDisputeRequest.product_code", NON_BLANK),
    ("settlement.v1.ResolveInsurerDisputeRequest.region_code", REGION),
    ("settlement.v1.ResolveInsurerDisputeRequest.resolution", NON_BLANK),
    ("settlement.v1.RegisterSupplementMemberRequest.insurer_code", NON_BLANK),
    ("settlement.v1.RegisterSupplementMemberRequest.product_code", NON_BLANK),
    ("settlement.v1.RegisterSupplementMemberRequest.id_number", ID_NUMBER.required()),
    ("settlement.v1.RegisterSupplementMemberRequest.region_code", REGION.required()),
    (
        "settlement.v1.RegisterSupplementMemberRequest.year",
        Rule::range(1900, 2999).required(),
    ),
    // --- ltc (services/ltc/src/api) -------------------------------------------------------
    ("ltc.v1.SubmitApplicationRequest.institution_code", INSTITUTION.required()),
    (
        "ltc.v1.SubmitApplicationRequest.application_no",
        text(64).note("With institution_code, the key a repeated application is recognised by."),
    ),
    ("ltc.v1.SubmitApplicationRequest.id_number", ID_NUMBER.required()),
    ("ltc.v1.SubmitApplicationRequest.name", text(64)),
    ("ltc.v1.SubmitApplicationRequest.region_code", REGION.required()),
    (
        "ltc.v1.SubmitApplicationRequest.medical_records",
        text(256).min_items(1),
    ),
    (
        "ltc.v1.SubmitApplicationRequest.applied_on",
        DATE.note("Not in the future; absent: today."),
    ),
    (
        "ltc.v1.ScheduleAssessmentRequest.assessor_codes",
        text(64).min_items(1).max_items(2).note("One or two different assessors."),
    ),
    ("ltc.v1.ScheduleAssessmentRequest.scheduled_on", DATE.required()),
    (
        "ltc.v1.SubmitScoreSheetRequest.items",
        Rule::range(0, 15)
            .required()
            .note("Every item of the national standard, each with a score the standard allows for it."),
    ),
    (
        "ltc.v1.DecideApplicationRequest.reason",
        Rule::new().note("Required when approve is false."),
    ),
    ("ltc.v1.DecideApplicationRequest.decided_on", DATE),
    ("ltc.v1.AppealDecisionRequest.reason", text(500)),
    ("ltc.v1.UploadBenefitPolicyRequest.region_code", REGION.required()),
    ("ltc.v1.UploadBenefitPolicyRequest.year", YEAR.required()),
    ("ltc.v1.UploadBenefitPolicyRequest.document_json", NON_BLANK),
    ("ltc.v1.GetBenefitPolicyRequest.region_code", REGION.required()),
    (
        "ltc.v1.ListReassessmentsDueRequest.region_code",
        REGION.note("Absent: the caller's region (required for callers without one)."),
    ),
    ("ltc.v1.ListReassessmentsDueRequest.date", DATE),
    ("ltc.v1.PlaceCareRequest.institution_code", INSTITUTION.required()),
    ("ltc.v1.PlaceCareRequest.care_type", SPECIFIED),
    ("ltc.v1.PlaceCareRequest.start_date", DATE.required()),
    ("ltc.v1.UploadServiceRecordsRequest.institution_code", INSTITUTION.required()),
    (
        "ltc.v1.UploadServiceRecordsRequest.records",
        Rule::new().required().min_items(1).max_items(1000),
    ),
    (
        "ltc.v1.ServiceRecord.record_no",
        text(64).note("With the institution, the key a repeated record is recognised by; once per upload."),
    ),
    ("ltc.v1.ServiceRecord.beneficiary_id", text(64)),
    ("ltc.v1.ServiceRecord.care_type", SPECIFIED),
    (
        "ltc.v1.ServiceRecord.service_date",
        DATE.required().note("Not in the future."),
    ),
    ("ltc.v1.ServiceRecord.units", Rule::range(1, 100).required()),
    ("ltc.v1.ServiceRecord.amount_fen", Rule::range(0, 100_000_000)),
    ("ltc.v1.CorrectServiceRecordRequest.institution_code", INSTITUTION.required()),
    ("ltc.v1.CorrectServiceRecordRequest.record_no", text(64)),
    ("ltc.v1.CorrectServiceRecordRequest.units", Rule::range(1, 100).required()),
    ("ltc.v1.CorrectServiceRecordRequest.amount_fen", Rule::range(0, 100_000_000)),
    ("ltc.v1.CorrectServiceRecordRequest.reason", text(500)),
    ("ltc.v1.SettleMonthRequest.institution_code", INSTITUTION.required()),
    (
        "ltc.v1.SettleMonthRequest.month",
        LTC_MONTH.required().note("Not in the future."),
    ),
    (
        "ltc.v1.SettleMonthRequest.request_id",
        text(128).note("A repeated request_id returns the first settlement."),
    ),
    ("ltc.v1.ReverseSettlementRequest.request_id", text(128)),
    ("ltc.v1.ReverseSettlementRequest.reason", text(500)),
    ("ltc.v1.GetStatisticsRequest.month", LTC_MONTH.required()),
    (
        "ltc.v1.GetStatisticsRequest.region_code",
        REGION.note("Absent: the caller's region (required for callers without one)."),
    ),
    // --- procurement (services/procurement/src/api, domain/catalogue) ------------------------
    ("procurement.v1.UpsertCatalogueItemRequest.region_code", REGION.required()),
    ("procurement.v1.UpsertCatalogueItemRequest.item", Rule::new().required()),
    (
        "procurement.v1.CatalogueItem.code",
        ITEM_CODE.note("In the format of the item's kind."),
    ),
    ("procurement.v1.CatalogueItem.kind", SPECIFIED),
    ("procurement.v1.CatalogueItem.insurance_class", SPECIFIED),
    ("procurement.v1.CatalogueItem.generic_name", NON_BLANK),
    (
        "procurement.v1.CatalogueItem.dosage_form",
        Rule::new().note("Required for drugs."),
    ),
    (
        "procurement.v1.CatalogueItem.specification",
        Rule::new().note("Required for drugs."),
    ),
    (
        "procurement.v1.CatalogueItem.manufacturer",
        Rule::new().note("Required except for service items."),
    ),
    (
        "procurement.v1.CatalogueItem.negotiated",
        Rule::new().note("Only drugs can be negotiated."),
    ),
    ("procurement.v1.CatalogueItem.valid_from_date", DATE.required()),
    (
        "procurement.v1.CatalogueItem.valid_to_date",
        DATE.note("Not before valid_from_date; absent: open-ended."),
    ),
    ("procurement.v1.ImportCatalogueRequest.region_code", REGION.required()),
    ("procurement.v1.ImportCatalogueRequest.csv_text", NON_BLANK),
    ("procurement.v1.GetCatalogueItemRequest.region_code", REGION.required()),
    ("procurement.v1.GetCatalogueItemRequest.code", ITEM_CODE),
    ("procurement.v1.GetCatalogueItemRequest.on_date", DATE),
    ("procurement.v1.ListCatalogueRequest.region_code", REGION.required()),
    ("procurement.v1.ListCatalogueRequest.on_date", DATE),
    ("procurement.v1.CreateRoundRequest.round", Rule::new().required()),
    ("procurement.v1.Round.region_code", REGION.required()),
    ("procurement.v1.Round.name", text(200)),
    ("procurement.v1.Round.rules", Rule::new().required()),
    ("procurement.v1.Round.contract_start_date", DATE.required()),
    (
        "procurement.v1.Round.contract_end_date",
        DATE.required().note("Not before contract_start_date."),
    ),
    ("procurement.v1.RoundRules.low_price_alternative_fen", POSITIVE_FEN),
    ("procurement.v1.AddGroupRequest.group", Rule::new().required()),
    ("procurement.v1.Group.group_id", text(64)),
    ("procurement.v1.Group.generic_name", text(200)),
    ("procurement.v1.Group.specification", text(200)),
    ("procurement.v1.Group.highest_valid_price_fen", POSITIVE_FEN.required()),
    ("procurement.v1.ReportDemandRequest.institution_code", INSTITUTION.required()),
    (
        "procurement.v1.ReportDemandRequest.lines",
        Rule::new().required().min_items(1).note("Each group once."),
    ),
    ("procurement.v1.DemandLine.group_id", text(64)),
    ("procurement.v1.DemandLine.quantity", Rule::range(0, i64::MAX)),
    ("procurement.v1.SubmitBidRequest.group_id", text(64)),
    ("procurement.v1.SubmitBidRequest.manufacturer_code", text(64)),
    ("procurement.v1.SubmitBidRequest.item_code", ITEM_CODE.required()),
    ("procurement.v1.SubmitBidRequest.unit_price_fen", POSITIVE_FEN.required()),
    ("procurement.v1.SubmitBidRequest.declared_price_fen", POSITIVE_FEN.required()),
    ("procurement.v1.SetListedPriceRequest.listing", Rule::new().required()),
    ("procurement.v1.ListedPrice.item_code", ITEM_CODE.required()),
    ("procurement.v1.ListedPrice.region_code", REGION.required()),
    ("procurement.v1.ListedPrice.manufacturer_code", text(64)),
    ("procurement.v1.ListedPrice.price_fen", POSITIVE_FEN.required()),
    ("procurement.v1.ListedPrice.valid_from_date", DATE.required()),
    (
        "procurement.v1.ListedPrice.valid_to_date",
        DATE.note("Not before valid_from_date; absent: open-ended."),
    ),
    ("procurement.v1.SetReferencePriceRequest.reference", Rule::new().required()),
    ("procurement.v1.ReferencePrice.item_code", ITEM_CODE.required()),
    ("procurement.v1.ReferencePrice.region_code", REGION.required()),
    ("procurement.v1.ReferencePrice.kind", SPECIFIED),
    ("procurement.v1.ReferencePrice.price_fen", POSITIVE_FEN.required()),
    ("procurement.v1.ReferencePrice.valid_from_date", DATE.required()),
    (
        "procurement.v1.ReferencePrice.valid_to_date",
        DATE.note("Not before valid_from_date; absent: open-ended."),
    ),
    ("procurement.v1.SetPaymentStandardRequest.standard", Rule::new().required()),
    ("procurement.v1.PaymentStandard.item_code", ITEM_CODE.required()),
    ("procurement.v1.PaymentStandard.region_code", REGION.required()),
    ("procurement.v1.PaymentStandard.amount_fen", POSITIVE_FEN.required()),
    ("procurement.v1.PaymentStandard.valid_from_date", DATE.required()),
    (
        "procurement.v1.PaymentStandard.valid_to_date",
        DATE.note("Not before valid_from_date; absent: open-ended."),
    ),
    ("procurement.v1.DerivePaymentStandardsRequest.region_code", REGION.required()),
    (
        "procurement.v1.DerivePaymentStandardsRequest.effective_from_date",
        DATE.required(),
    ),
    (
        "procurement.v1.StandardRules.non_winner_multiple_bp",
        Rule::range(10_000, u32::MAX as i64).required(),
    ),
    ("procurement.v1.StandardRules.above_multiple_cut_bp", SHARE_BP),
    ("procurement.v1.NonWinningProduct.item_code", ITEM_CODE.required()),
    ("procurement.v1.NonWinningProduct.generic_name", text(200)),
    ("procurement.v1.NonWinningProduct.unit_price_fen", POSITIVE_FEN.required()),
    ("procurement.v1.GetPaymentStandardsRequest.region_code", REGION.required()),
    ("procurement.v1.GetPaymentStandardsRequest.on_date", DATE.required()),
    (
        "procurement.v1.GetPaymentStandardsRequest.item_codes",
        Rule::new()
            .required()
            .min_items(1)
            .max_items(1000)
            .note("National item codes; others are refused, or answered as not found with skip_non_national_codes."),
    ),
    (
        "procurement.v1.UploadInventoryRecordsRequest.institution_code",
        INSTITUTION.required(),
    ),
    (
        "procurement.v1.InventoryRecord.record_no",
        text(64).note("Once per upload, unless repeated with the same content."),
    ),
    ("procurement.v1.InventoryRecord.item_code", ITEM_CODE.required()),
    ("procurement.v1.InventoryRecord.date", DATE.required()),
    ("procurement.v1.InventoryRecord.movement", SPECIFIED),
    ("procurement.v1.InventoryRecord.quantity", Rule::range(1, i64::MAX).required()),
    ("procurement.v1.InventoryRecord.unit_price_fen", FEN),
    ("procurement.v1.OpeningStock.item_code", ITEM_CODE.required()),
    ("procurement.v1.OpeningStock.as_of_date", DATE.required()),
    ("procurement.v1.OpeningStock.quantity", Rule::range(0, i64::MAX)),
    ("procurement.v1.OpeningStock.unit_cost_fen", FEN),
    (
        "procurement.v1.GetVolumeCompletionRequest.institution_code",
        INSTITUTION.note("Required for an organisation's own callers."),
    ),
    ("procurement.v1.GetVolumeCompletionRequest.as_of_date", DATE),
    ("procurement.v1.ComputeRetainedSavingsRequest.retention_rate_bp", SHARE_BP),
    (
        "procurement.v1.ComputeRetainedSavingsRequest.institutions",
        Rule::new().required().min_items(1),
    ),
    ("procurement.v1.PreProcurementPrice.unit_price_fen", POSITIVE_FEN.required()),
    (
        "procurement.v1.InstitutionSavingsParameters.institution_code",
        INSTITUTION.required(),
    ),
    ("procurement.v1.InstitutionSavingsParameters.fund_payment_rate_bp", SHARE_BP),
    ("procurement.v1.InstitutionSavingsParameters.assessment_coefficient_bp", SHARE_BP),
    // --- supervision (services/supervision/src/api; an absent region is the caller's own) ----
    ("supervision.v1.ListRulesRequest.region_code", REGION),
    ("supervision.v1.UpdateRuleRequest.region_code", REGION),
    ("supervision.v1.UpdateRuleRequest.rule_code", SPECIFIED),
    ("supervision.v1.UpdateRuleRequest.reason", NON_BLANK),
    ("supervision.v1.ListFindingsRequest.region_code", REGION),
    ("supervision.v1.ListFindingsRequest.institution_code", INSTITUTION),
    ("supervision.v1.ListFindingsRequest.from_date", DATE),
    ("supervision.v1.ListFindingsRequest.to_date", DATE),
    ("supervision.v1.GetFindingRequest.finding_id", NON_BLANK),
    ("supervision.v1.SubmitInstitutionFeedbackRequest.finding_id", NON_BLANK),
    ("supervision.v1.SubmitInstitutionFeedbackRequest.kind", SPECIFIED),
    ("supervision.v1.ReviewFindingRequest.finding_id", NON_BLANK),
    ("supervision.v1.ReviewFindingRequest.conclusion", SPECIFIED),
    (
        "supervision.v1.ReviewFindingRequest.amount_fen",
        Rule::new().note("0 when the finding is dismissed."),
    ),
    ("supervision.v1.RequestThirdPartyReviewRequest.finding_id", NON_BLANK),
    ("supervision.v1.RecordThirdPartyReviewRequest.finding_id", NON_BLANK),
    ("supervision.v1.RecordThirdPartyReviewRequest.third_party", NON_BLANK),
    ("supervision.v1.RecordThirdPartyReviewRequest.conclusion", SPECIFIED),
    (
        "supervision.v1.RecordThirdPartyReviewRequest.amount_fen",
        Rule::new().note("0 when the finding is dismissed."),
    ),
    ("supervision.v1.DecideFindingRequest.finding_id", NON_BLANK),
    ("supervision.v1.DecideFindingRequest.conclusion", SPECIFIED),
    (
        "supervision.v1.DecideFindingRequest.amount_fen",
        Rule::new().note("0 when the finding is dismissed."),
    ),
    ("supervision.v1.ListVerificationTasksRequest.region_code", REGION),
    ("supervision.v1.ListVerificationTasksRequest.institution_code", INSTITUTION),
    ("supervision.v1.CompleteVerificationTaskRequest.task_id", NON_BLANK),
    ("supervision.v1.CompleteVerificationTaskRequest.method", SPECIFIED),
    ("supervision.v1.CompleteVerificationTaskRequest.outcome", SPECIFIED),
    ("supervision.v1.OpenCaseRequest.region_code", REGION),
    (
        "supervision.v1.OpenCaseRequest.finding_ids",
        Rule::new().note("Give either finding_ids or tip_id."),
    ),
    ("supervision.v1.RecordRecoveryRequest.case_id", NON_BLANK),
    ("supervision.v1.PayRewardRequest.case_id", NON_BLANK),
    ("supervision.v1.SubmitTipRequest.region_code", REGION),
    ("supervision.v1.SubmitTipRequest.institution_code", INSTITUTION),
    ("supervision.v1.SubmitTipRequest.description", NON_BLANK),
    ("supervision.v1.ListCasesRequest.region_code", REGION),
    ("supervision.v1.ListCasesRequest.institution_code", INSTITUTION),
    ("supervision.v1.GetCreditScoreRequest.subject_kind", SPECIFIED),
    (
        "supervision.v1.GetCreditScoreRequest.subject_code",
        Rule::pattern("^([HP][0-9]{11}|D[0-9]{12})$")
            .required()
            .note("An institution code for CREDIT_SUBJECT_KIND_INSTITUTION, a physician code (D + 12 digits) for CREDIT_SUBJECT_KIND_PHYSICIAN."),
    ),
    ("supervision.v1.RestoreCreditRequest.subject_kind", SPECIFIED),
    (
        "supervision.v1.RestoreCreditRequest.subject_code",
        Rule::pattern("^([HP][0-9]{11}|D[0-9]{12})$")
            .required()
            .note("An institution code for CREDIT_SUBJECT_KIND_INSTITUTION, a physician code (D + 12 digits) for CREDIT_SUBJECT_KIND_PHYSICIAN."),
    ),
    (
        "supervision.v1.RestoreCreditRequest.points",
        Rule::at_least(1)
            .required()
            .note("At most the credit policy's initial score (100 by default)."),
    ),
    ("supervision.v1.RestoreCreditRequest.reference", text(64)),
    ("supervision.v1.RestoreCreditRequest.reason", text(500)),
    ("supervision.v1.ListBlacklistRequest.region_code", REGION),
    ("supervision.v1.CheckSettlementHoldRequest.institution_code", INSTITUTION.required()),
    ("supervision.v1.CheckSettlementHoldRequest.year", YEAR.required()),
    ("supervision.v1.CheckSettlementHoldRequest.month", Rule::range(1, 12).required()),
    ("supervision.v1.SetBudgetRequest.institution_code", INSTITUTION.required()),
    ("supervision.v1.SetBudgetRequest.year", YEAR.required()),
    ("supervision.v1.SetBudgetRequest.annual_budget_fen", POSITIVE_FEN.required()),
    ("supervision.v1.SetBudgetPolicyRequest.region_code", REGION),
    ("supervision.v1.SetBudgetPolicyRequest.policy", Rule::new().required()),
    (
        "supervision.v1.BudgetPolicy.region_code",
        REGION.note("Empty or the request's region_code."),
    ),
    ("supervision.v1.GetBudgetStatusRequest.institution_code", INSTITUTION.required()),
    ("supervision.v1.GetBudgetStatusRequest.year", YEAR.required()),
    ("supervision.v1.GetBudgetStatusRequest.month", Rule::range(1, 12).required()),
    ("supervision.v1.ListWarningsRequest.region_code", REGION),
    ("supervision.v1.ListWarningsRequest.year", YEAR.required()),
    ("supervision.v1.ListWarningsRequest.month", Rule::range(1, 12).required()),
    ("supervision.v1.GetFundSummaryRequest.region_code", REGION),
    ("supervision.v1.GetFundSummaryRequest.year", YEAR.required()),
    ("supervision.v1.GetFundSummaryRequest.month", Rule::range(1, 12).required()),
    ("supervision.v1.DrawInspectionRequest.region_code", REGION),
    (
        "supervision.v1.DrawInspectionRequest.institution_codes",
        INSTITUTION.required().min_items(1),
    ),
    ("supervision.v1.GetInspectionDrawRequest.draw_id", NON_BLANK),
    ("supervision.v1.RunBackfillRequest.region_code", REGION),
    ("supervision.v1.RunBackfillRequest.rule_code", SPECIFIED),
    ("supervision.v1.RunBackfillRequest.from_date", DATE.required()),
    (
        "supervision.v1.RunBackfillRequest.to_date",
        DATE.required().note("Not before from_date."),
    ),
];

/// The rule of `field` in the message `message` (full name), if any.
pub fn rule_of(message: &str, field: &str) -> Option<Rule> {
    let message = message.strip_prefix("yibao.").unwrap_or(message);
    RULES.iter().find_map(|(key, rule)| {
        let (m, f) = key.rsplit_once('.')?;
        (m == message && f == field).then_some(*rule)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_names_a_field_of_the_contracts_once() {
        let pool = prost_reflect::DescriptorPool::decode(yibao_proto::FILE_DESCRIPTOR_SET)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut seen = std::collections::HashSet::new();
        for (key, rule) in RULES {
            assert!(seen.insert(*key), "{key} twice");
            let (m, f) = key.rsplit_once('.').unwrap_or_else(|| panic!("{key}"));
            let msg = pool
                .get_message_by_name(&format!("yibao.{m}"))
                .unwrap_or_else(|| panic!("{key}: no message yibao.{m}"));
            let field = msg
                .get_field_by_name(f)
                .unwrap_or_else(|| panic!("{key}: no field {f}"));
            use prost_reflect::Kind;
            let string_rule = rule.pattern.is_some()
                || rule.format.is_some()
                || rule.min_length.is_some()
                || rule.max_length.is_some();
            let number_rule = rule.minimum.is_some() || rule.maximum.is_some();
            let kind = match field.kind() {
                Kind::Message(m) if field.is_map() => m.map_entry_value_field().kind(),
                k => k,
            };
            match kind {
                Kind::String => assert!(!number_rule && !rule.specified, "{key}"),
                Kind::Enum(_) => assert!(!string_rule && !number_rule, "{key}"),
                Kind::Message(_) => {
                    assert!(!string_rule && !number_rule && !rule.specified, "{key}")
                }
                _ => assert!(!string_rule && !rule.specified, "{key}"),
            }
            if rule.min_items.is_some() || rule.max_items.is_some() {
                assert!(field.is_list(), "{key}: not repeated");
            }
        }
    }

    fn matches(rule: Rule, s: &str) -> bool {
        let p = rule.pattern.unwrap_or_else(|| panic!("no pattern"));
        regex::Regex::new(p)
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .is_match(s)
    }

    #[test]
    fn every_pattern_is_a_regular_expression() {
        for (key, rule) in RULES {
            if let Some(p) = rule.pattern {
                assert!(regex::Regex::new(p).is_ok(), "{key}: {p}");
            }
        }
    }

    #[test]
    fn the_patterns_accept_what_the_services_parse_and_refuse_what_they_refuse() {
        for s in [
            "341522", "340000", "000000", "34152", "3415220", "34152a", "",
        ] {
            assert_eq!(
                matches(REGION, s),
                yibao_core::RegionCode::parse(s).is_ok(),
                "{s}"
            );
        }
        for s in [
            "H34152200001",
            "P34152200001",
            "X34152200001",
            "H3415220000",
            "H3415220000a",
        ] {
            assert_eq!(
                matches(INSTITUTION, s),
                yibao_core::InstitutionCode::parse(s).is_ok(),
                "{s}"
            );
        }
        // The pattern is the shape; the check character is the service's to check.
        for s in [
            "341522198001010018",
            "11010519491231002X",
            "11010519491231002x",
        ] {
            assert!(
                matches(ID_NUMBER, s) && yibao_core::IdNumber::parse(s).is_ok(),
                "{s}"
            );
        }
        for s in [
            "34152219800101001",
            "3415221980010100180",
            "34152219800101001Y",
        ] {
            assert!(
                !matches(ID_NUMBER, s) && yibao_core::IdNumber::parse(s).is_err(),
                "{s}"
            );
        }
        for (s, ok) in [
            ("I10.x00x002", true),
            ("E11.9", true),
            ("J18.900", true),
            ("I10", false),
            ("I10.x00x0022", false),
            ("i10.x00", false),
        ] {
            assert_eq!(matches(ICD10, s), ok, "{s}");
        }
        for (s, ok) in [
            ("2024-06", true),
            ("2024-12", true),
            ("2024-13", false),
            ("2024-6", false),
        ] {
            assert_eq!(matches(MONTH, s), ok, "{s}");
        }
        let csv = rule_of("yibao.enrollment.v1.ReconcileRosterRequest", "csv")
            .unwrap_or_else(|| panic!("no rule"));
        assert!(matches(csv, "name,id_number\nx,341522198001010018"));
        assert!(!matches(csv, "name,number\nid_number"));
    }
}
