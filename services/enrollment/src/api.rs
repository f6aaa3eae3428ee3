//! The gRPC API: proto ⇄ domain mapping, tenancy re-checks, and status codes. Each handler
//! parses its request at the edge (errors name the field; nothing is written), calls the
//! domain and the store, invalidates the eligibility cache of the person it changed, and maps
//! the result back.

use crate::domain::eligibility::{IneligibleReason, eligibility};
use crate::domain::enrolment::{ContributionKind, ContributionStandard, StatusEvent};
use crate::domain::roster::RosterOutcome;
use crate::domain::{Category, CategoryGrant, EnrolmentError, PersonFile, Scheme, parse_date};
use crate::error::EnrollError;
use crate::store::{Actor, NewPerson, PersonChanges, Store, entities};
use crate::voucher::{VoucherError, VoucherSigner};
use chrono::NaiveDate;
use std::sync::Arc;
use std::time::Duration;
use tonic::{Request, Response, Status};
use yibao_core::{Fen, IdNumber, RegionCode};
use yibao_proto::common::v1 as common;
use yibao_proto::enrollment::v1 as pb;
use yibao_runtime::cache::Cache;
use yibao_runtime::server::caller;
use yibao_runtime::{ApiError, Caller, ErrorKind};

/// How long a person's eligibility file stays in the cache (changes invalidate it at once).
const ELIGIBILITY_TTL: Duration = Duration::from_secs(600);

/// The enrollment gRPC service.
#[derive(Debug, Clone)]
pub struct EnrollmentApi {
    store: Store,
    cache: Arc<dyn Cache>,
    vouchers: VoucherSigner,
    /// Key of the HMAC that turns ID numbers into cache keys (no PII in Redis).
    pii_key: Arc<Vec<u8>>,
}

type Reply<T> = Result<Response<T>, Status>;

fn invalid(field: &'static str, reason: impl Into<String>) -> Status {
    ApiError::invalid("ENROLLMENT_INVALID_ARGUMENT", field, reason).into()
}

fn parse_id(field: &'static str, s: &str) -> Result<IdNumber, Status> {
    IdNumber::parse(s).map_err(|e| invalid(field, e.to_string()))
}

fn parse_region(field: &'static str, s: &str) -> Result<RegionCode, Status> {
    RegionCode::parse(s).map_err(|e| invalid(field, e.to_string()))
}

fn date_or_today(field: &'static str, s: &str) -> Result<NaiveDate, Status> {
    if s.trim().is_empty() {
        Ok(chrono::Utc::now().date_naive())
    } else {
        parse_date(field, s).map_err(|e| Status::from(EnrollError::from(e)))
    }
}

fn scheme_of(field: &'static str, v: i32) -> Result<Scheme, Status> {
    match common::Scheme::try_from(v) {
        Ok(common::Scheme::Employee) => Ok(Scheme::Employee),
        Ok(common::Scheme::Resident) => Ok(Scheme::Resident),
        _ => Err(invalid(field, "must be SCHEME_EMPLOYEE or SCHEME_RESIDENT")),
    }
}

fn scheme_pb(s: Scheme) -> i32 {
    match s {
        Scheme::Employee => common::Scheme::Employee as i32,
        Scheme::Resident => common::Scheme::Resident as i32,
    }
}

fn category_of(field: &'static str, v: i32) -> Result<Category, Status> {
    usize::try_from(v)
        .ok()
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| Category::ALL.get(i).copied())
        .ok_or_else(|| invalid(field, "must be a PersonCategory other than UNSPECIFIED"))
}

fn category_pb(c: Category) -> i32 {
    Category::ALL
        .iter()
        .position(|x| *x == c)
        .map_or(0, |i| i as i32 + 1)
}

fn actor(c: &Caller) -> Actor {
    Actor {
        subject: c.subject.clone(),
        role: c.role.as_str().to_string(),
    }
}

/// Region-scoped callers reach only people living in their region.
fn scope(c: &Caller, p: &entities::person::Model) -> Result<(), Status> {
    let r = RegionCode::parse(&p.region_code).map_err(|e| Status::from(ApiError::internal(e)))?;
    if c.covers_region(&r) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorKind::PermissionDenied,
            "OUTSIDE_REGION",
            format!(
                "the person lives outside your region {}",
                c.region.as_ref().map(|r| r.to_string()).unwrap_or_default()
            ),
        )
        .into())
    }
}

fn check_region(c: &Caller, field: &str, value: &str) -> Result<(), Status> {
    c.check_region(field, value)
        .map_err(|e| ApiError::from(e).into())
}

/// The region prefix a list or scan runs over: the requested one (which must lie within the
/// caller's region) or the caller's own.
fn region_prefix(c: &Caller, requested: &str) -> Result<String, Status> {
    if requested.is_empty() {
        return Ok(c
            .region
            .as_ref()
            .map(|r| r.prefix().to_string())
            .unwrap_or_default());
    }
    check_region(c, "region_code", requested)?;
    Ok(parse_region("region_code", requested)?.prefix().to_string())
}

fn enrolment_pb(person_id: &str, e: &crate::domain::Enrolment, today: NaiveDate) -> pb::Enrolment {
    let status = if e.end_reason.is_some() && e.effective_to < today {
        pb::EnrolmentStatus::Ended
    } else if e.paid_on.is_some() {
        pb::EnrolmentStatus::Active
    } else {
        pb::EnrolmentStatus::PendingPayment
    };
    pb::Enrolment {
        enrolment_id: e.id.clone(),
        person_id: person_id.to_string(),
        year: e.year,
        scheme: scheme_pb(e.scheme),
        region_code: e.region.to_string(),
        effective_from: e.effective_from.to_string(),
        effective_to: e.effective_to.to_string(),
        due_fen: e.due.0,
        paid_fen: e.paid.0,
        subsidised_fen: e.subsidised.0,
        status: status as i32,
        paid_on: e.paid_on.map(|d| d.to_string()).unwrap_or_default(),
    }
}

fn reason_pb(r: IneligibleReason) -> pb::IneligibleReason {
    match r {
        IneligibleReason::NotEnrolled => pb::IneligibleReason::NotEnrolled,
        IneligibleReason::Unpaid => pb::IneligibleReason::Unpaid,
        IneligibleReason::WaitingPeriod => pb::IneligibleReason::WaitingPeriod,
        IneligibleReason::Deceased => pb::IneligibleReason::Deceased,
        IneligibleReason::MovedOut => pb::IneligibleReason::MovedOut,
        IneligibleReason::Suspended => pb::IneligibleReason::Suspended,
    }
}

impl EnrollmentApi {
    /// Builds the API over a store and a cache.
    pub fn new(store: Store, cache: Arc<dyn Cache>, voucher_secret: &[u8]) -> EnrollmentApi {
        EnrollmentApi {
            store,
            cache,
            vouchers: VoucherSigner::new(voucher_secret),
            pii_key: Arc::new(voucher_secret.to_vec()),
        }
    }

    fn cache_key(&self, id_number: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.pii_key.as_slice());
        h.update(b"|eligibility|");
        h.update(id_number.as_bytes());
        format!("yibao:elig:v1:{}", hex::encode(&h.finalize()[..16]))
    }

    async fn invalidate(&self, id_number: &str) {
        self.invalidate_ids(&[id_number]).await;
    }

    /// Invalidates people's cached eligibility by clear ID numbers, in one cache call.
    pub async fn invalidate_ids(&self, id_numbers: &[&str]) {
        let keys: Vec<String> = id_numbers.iter().map(|id| self.cache_key(id)).collect();
        if let Err(e) = self.cache.delete(&keys).await {
            // The TTL bounds staleness if the cache is unreachable right now.
            tracing::warn!(error = %e, "eligibility cache invalidation failed");
        }
    }

    async fn invalidate_person(&self, person_id: &str) -> Result<(), Status> {
        let p = self.store.person(person_id).await?;
        self.invalidate(&p.id_number).await;
        Ok(())
    }

    /// The person file from the cache, or from the database (then cached). Cache failures
    /// fall back to the database.
    async fn person_file_cached(&self, id: &IdNumber) -> Result<Option<PersonFile>, EnrollError> {
        let key = self.cache_key(id.expose());
        match self.cache.get(&key).await {
            Ok(Some(bytes)) => match serde_json::from_slice::<PersonFile>(&bytes) {
                Ok(file) => return Ok(Some(file)),
                Err(e) => tracing::warn!(error = %e, "undecodable eligibility cache entry"),
            },
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(error = %e, "eligibility cache unavailable; reading the database")
            }
        }
        let Some(p) = self.store.person_by_id_number(id).await? else {
            return Ok(None);
        };
        let file = self.store.person_file(&p).await?;
        if let Ok(bytes) = serde_json::to_vec(&file) {
            let _ = self.cache.set(&key, bytes, ELIGIBILITY_TTL).await;
        }
        Ok(Some(file))
    }

    async fn person_pb(&self, p: &entities::person::Model) -> Result<pb::Person, Status> {
        let categories = self.store.categories(&p.id).await?;
        Ok(pb::Person {
            person_id: p.id.clone(),
            id_number: p.id_number.clone(),
            id_number_masked: IdNumber::parse(&p.id_number)
                .map(|i| i.masked())
                .unwrap_or_default(),
            name: p.name.clone(),
            sex: p.sex.clone(),
            birth_date: p.birth_date.clone(),
            region_code: p.region_code.clone(),
            household_id: p.household_id.clone().unwrap_or_default(),
            contact: p.contact.clone(),
            death_date: p.death_date.clone().unwrap_or_default(),
            version: p.version,
            categories: categories
                .iter()
                .map(|g| pb::CategoryGrant {
                    category: category_pb(g.category),
                    valid_from: g.valid_from.to_string(),
                    valid_to: g.valid_to.map(|d| d.to_string()).unwrap_or_default(),
                })
                .collect(),
        })
    }

    fn eligibility_pb(file: &PersonFile, date: NaiveDate) -> pb::CheckEligibilityResponse {
        let e = eligibility(file, date);
        pb::CheckEligibilityResponse {
            eligible: e.eligible,
            reason: e.reason.map_or(0, |r| reason_pb(r) as i32),
            explanation: e.explanation,
            person_id: file.person_id.clone(),
            id_number_masked: file.id_masked.clone(),
            scheme: e.enrolment.as_ref().map_or(0, |en| scheme_pb(en.scheme)),
            region_code: e
                .enrolment
                .as_ref()
                .map(|en| en.region.to_string())
                .unwrap_or_default(),
            insured_since: e.insured_since.map(|d| d.to_string()).unwrap_or_default(),
            enrolment_id: e
                .enrolment
                .as_ref()
                .filter(|_| e.eligible)
                .map(|en| en.id.clone())
                .unwrap_or_default(),
            categories: e.categories.into_iter().map(category_pb).collect(),
            date: date.to_string(),
            sex: file.sex.clone(),
            birth_date: file.birth_date.to_string(),
        }
    }

    async fn file_of(
        &self,
        person_id: &str,
    ) -> Result<(entities::person::Model, PersonFile), Status> {
        let p = self.store.person(person_id).await?;
        let f = self.store.person_file(&p).await?;
        Ok((p, f))
    }
}

#[tonic::async_trait]
impl pb::enrollment_service_server::EnrollmentService for EnrollmentApi {
    async fn register_person(
        &self,
        req: Request<pb::RegisterPersonRequest>,
    ) -> Reply<pb::RegisterPersonResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let mut violations = Vec::new();
        let id = IdNumber::parse(&r.id_number)
            .map_err(|e| violations.push(("id_number".to_string(), e.to_string())))
            .ok();
        let name = r.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 64 {
            violations.push(("name".into(), "must be 1 to 64 characters".into()));
        }
        let region = RegionCode::parse(&r.region_code)
            .map_err(|e| violations.push(("region_code".to_string(), e.to_string())))
            .ok();
        let (Some(id), Some(region), true) = (id, region, violations.is_empty()) else {
            return Err(ApiError::invalid_fields("ENROLLMENT_INVALID_ARGUMENT", violations).into());
        };
        check_region(&c, "region_code", region.as_str())?;
        let new = NewPerson {
            id_number: id,
            name,
            region,
            household_id: Some(r.household_id).filter(|h| !h.is_empty()),
            contact: r.contact,
        };
        let p = self.store.register_person(new, &actor(&c)).await?;
        Ok(Response::new(pb::RegisterPersonResponse {
            person: Some(self.person_pb(&p).await?),
        }))
    }

    async fn correct_person(
        &self,
        req: Request<pb::CorrectPersonRequest>,
    ) -> Reply<pb::CorrectPersonResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        if r.reason.trim().is_empty() {
            return Err(invalid(
                "reason",
                "a correction needs a reason (kept in the history)",
            ));
        }
        if !r.name.is_empty() && r.name.trim().chars().count() > 64 {
            return Err(invalid("name", "must be 1 to 64 characters"));
        }
        let p = self.store.person(&r.person_id).await?;
        scope(&c, &p)?;
        let changes = PersonChanges {
            name: Some(r.name.trim().to_string()).filter(|s| !s.is_empty()),
            contact: Some(r.contact).filter(|s| !s.is_empty()),
            household_id: Some(r.household_id).filter(|s| !s.is_empty()),
        };
        let p = self
            .store
            .correct_person(
                &r.person_id,
                changes,
                r.expected_version,
                r.reason.trim(),
                &actor(&c),
            )
            .await?;
        self.invalidate(&p.id_number).await;
        Ok(Response::new(pb::CorrectPersonResponse {
            person: Some(self.person_pb(&p).await?),
        }))
    }

    async fn get_person(&self, req: Request<pb::GetPersonRequest>) -> Reply<pb::GetPersonResponse> {
        let c = caller(&req)?;
        let p = self.store.person(&req.get_ref().person_id).await?;
        scope(&c, &p)?;
        Ok(Response::new(pb::GetPersonResponse {
            person: Some(self.person_pb(&p).await?),
        }))
    }

    async fn lookup_person(
        &self,
        req: Request<pb::LookupPersonRequest>,
    ) -> Reply<pb::LookupPersonResponse> {
        let c = caller(&req)?;
        let id = parse_id("id_number", &req.get_ref().id_number)?;
        let p = self
            .store
            .person_by_id_number(&id)
            .await?
            .ok_or_else(|| Status::from(EnrollError::NotFound("person", id.masked())))?;
        scope(&c, &p)?;
        Ok(Response::new(pb::LookupPersonResponse {
            person: Some(self.person_pb(&p).await?),
        }))
    }

    async fn get_person_history(
        &self,
        req: Request<pb::GetPersonHistoryRequest>,
    ) -> Reply<pb::GetPersonHistoryResponse> {
        let c = caller(&req)?;
        let p = self.store.person(&req.get_ref().person_id).await?;
        scope(&c, &p)?;
        let entries = self
            .store
            .history(&p.id)
            .await?
            .into_iter()
            .map(|h| pb::HistoryEntry {
                kind: h.kind,
                detail_json: h.detail_json,
                audit: Some(common::Audit {
                    actor: h.actor,
                    role: h.role,
                    at: h.at,
                }),
            })
            .collect();
        Ok(Response::new(pb::GetPersonHistoryResponse { entries }))
    }

    async fn create_household(
        &self,
        req: Request<pb::CreateHouseholdRequest>,
    ) -> Reply<pb::CreateHouseholdResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let region = parse_region("region_code", &r.region_code)?;
        check_region(&c, "region_code", region.as_str())?;
        if r.address.trim().is_empty() {
            return Err(invalid("address", "must not be empty"));
        }
        let h = self
            .store
            .create_household(
                &region,
                r.address.trim(),
                Some(r.head_person_id).filter(|s| !s.is_empty()),
            )
            .await?;
        let (h, members) = self.store.household(&h.id).await?;
        let mut out = Vec::new();
        for m in &members {
            out.push(self.person_pb(m).await?);
        }
        Ok(Response::new(pb::CreateHouseholdResponse {
            household: Some(pb::Household {
                household_id: h.id,
                region_code: h.region_code,
                address: h.address,
                head_person_id: h.head_person_id.unwrap_or_default(),
                members: out,
            }),
        }))
    }

    async fn get_household(
        &self,
        req: Request<pb::GetHouseholdRequest>,
    ) -> Reply<pb::GetHouseholdResponse> {
        let c = caller(&req)?;
        let (h, members) = self.store.household(&req.get_ref().household_id).await?;
        check_region(&c, "household_id", &h.region_code)?;
        let mut out = Vec::new();
        for m in &members {
            out.push(self.person_pb(m).await?);
        }
        Ok(Response::new(pb::GetHouseholdResponse {
            household: Some(pb::Household {
                household_id: h.id,
                region_code: h.region_code,
                address: h.address,
                head_person_id: h.head_person_id.unwrap_or_default(),
                members: out,
            }),
        }))
    }

    async fn grant_category(
        &self,
        req: Request<pb::GrantCategoryRequest>,
    ) -> Reply<pb::GrantCategoryResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let category = category_of("category", r.category)?;
        let valid_from = parse_date("valid_from", &r.valid_from).map_err(EnrollError::from)?;
        let valid_to = if r.valid_to.is_empty() {
            None
        } else {
            Some(parse_date("valid_to", &r.valid_to).map_err(EnrollError::from)?)
        };
        if valid_to.is_some_and(|t| t < valid_from) {
            return Err(invalid("valid_to", "must not be before valid_from"));
        }
        let p = self.store.person(&r.person_id).await?;
        scope(&c, &p)?;
        self.store
            .grant_category(
                &p.id,
                &CategoryGrant {
                    category,
                    valid_from,
                    valid_to,
                },
                &actor(&c),
            )
            .await?;
        self.invalidate(&p.id_number).await;
        Ok(Response::new(pb::GrantCategoryResponse {
            person: Some(self.person_pb(&p).await?),
        }))
    }

    async fn set_contribution_standard(
        &self,
        req: Request<pb::SetContributionStandardRequest>,
    ) -> Reply<pb::SetContributionStandardResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let region = parse_region("region_code", &r.region_code)?;
        check_region(&c, "region_code", region.as_str())?;
        let scheme = scheme_of("scheme", r.scheme)?;
        if !(2000..=2100).contains(&r.year) {
            return Err(invalid("year", "must be between 2000 and 2100"));
        }
        if r.individual_amount_fen < 0 {
            return Err(invalid("individual_amount_fen", "must not be negative"));
        }
        let waiting = u32::try_from(r.waiting_days)
            .ok()
            .filter(|d| *d <= 365)
            .ok_or_else(|| invalid("waiting_days", "must be 0 to 365"))?;
        let std = ContributionStandard {
            individual_amount: Fen(r.individual_amount_fen),
            waiting_days: waiting,
        };
        self.store
            .set_standard(&region, r.year, scheme, &std)
            .await?;
        Ok(Response::new(pb::SetContributionStandardResponse {
            region_code: region.to_string(),
            year: r.year,
            scheme: r.scheme,
            individual_amount_fen: r.individual_amount_fen,
            waiting_days: r.waiting_days,
        }))
    }

    async fn enroll(&self, req: Request<pb::EnrollRequest>) -> Reply<pb::EnrollResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let scheme = scheme_of("scheme", r.scheme)?;
        let region = parse_region("region_code", &r.region_code)?;
        check_region(&c, "region_code", region.as_str())?;
        let enrolled_on = date_or_today("enrolled_on", &r.enrolled_on)?;
        let (p, file) = self.file_of(&r.person_id).await?;
        let standard = self.store.standard(&region, r.year, scheme).await?.ok_or_else(|| {
            Status::from(EnrollError::Domain(EnrolmentError::Precondition(format!("no contribution standard for region {region}, year {}, this scheme: set one first", r.year))))
        })?;
        let e = crate::domain::enrolment::enrol(
            &file,
            uuid::Uuid::now_v7().to_string(),
            r.year,
            scheme,
            region,
            enrolled_on,
            &standard,
        )
        .map_err(EnrollError::from)?;
        self.store.insert_enrolment(&p.id, &e, &actor(&c)).await?;
        self.invalidate(&p.id_number).await;
        Ok(Response::new(pb::EnrollResponse {
            enrolment: Some(enrolment_pb(&p.id, &e, chrono::Utc::now().date_naive())),
        }))
    }

    async fn record_contribution(
        &self,
        req: Request<pb::RecordContributionRequest>,
    ) -> Reply<pb::RecordContributionResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let kind = match pb::ContributionKind::try_from(r.kind) {
            Ok(pb::ContributionKind::Payment) => ContributionKind::Payment,
            Ok(pb::ContributionKind::Subsidy) => ContributionKind::Subsidy,
            _ => {
                return Err(invalid(
                    "kind",
                    "must be CONTRIBUTION_KIND_PAYMENT or CONTRIBUTION_KIND_SUBSIDY",
                ));
            }
        };
        if r.amount_fen <= 0 {
            return Err(invalid("amount_fen", "must be positive"));
        }
        let reference = r.reference.trim();
        if reference.is_empty() || reference.len() > 128 {
            return Err(invalid(
                "reference",
                "a receipt number or subsidy programme reference (1 to 128 characters) makes retries safe",
            ));
        }
        let paid_on = date_or_today("paid_on", &r.paid_on)?;
        let (person_id, en) = self.store.enrolment(&r.enrolment_id).await?;
        check_region(&c, "enrolment_id", en.region.as_str())?;
        let done = self
            .store
            .contribute(
                &r.enrolment_id,
                kind,
                Fen(r.amount_fen),
                paid_on,
                reference,
                &actor(&c),
            )
            .await?;
        self.invalidate(&done.id_number).await;
        Ok(Response::new(pb::RecordContributionResponse {
            enrolment: Some(enrolment_pb(
                &person_id,
                &done.enrolment,
                chrono::Utc::now().date_naive(),
            )),
        }))
    }

    async fn list_enrolments(
        &self,
        req: Request<pb::ListEnrolmentsRequest>,
    ) -> Reply<pb::ListEnrolmentsResponse> {
        let c = caller(&req)?;
        let p = self.store.person(&req.get_ref().person_id).await?;
        scope(&c, &p)?;
        let today = chrono::Utc::now().date_naive();
        let enrolments = self
            .store
            .enrolments(&p.id)
            .await?
            .iter()
            .map(|e| enrolment_pb(&p.id, e, today))
            .collect();
        Ok(Response::new(pb::ListEnrolmentsResponse { enrolments }))
    }

    async fn record_status_event(
        &self,
        req: Request<pb::RecordStatusEventRequest>,
    ) -> Reply<pb::RecordStatusEventResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let on = parse_date("effective_on", &r.effective_on).map_err(EnrollError::from)?;
        let (event, kind) = match pb::StatusEventKind::try_from(r.kind) {
            Ok(pb::StatusEventKind::Death) => (StatusEvent::Death, "death"),
            Ok(pb::StatusEventKind::MovedOutOfRegion) => {
                (StatusEvent::MovedOutOfRegion, "moved_out_of_region")
            }
            Ok(pb::StatusEventKind::MovedOutOfProvince) => {
                (StatusEvent::MovedOutOfProvince, "moved_out_of_province")
            }
            Ok(pb::StatusEventKind::Suspension) => (StatusEvent::Suspension, "suspension"),
            Ok(pb::StatusEventKind::Resumption) => (StatusEvent::Resumption, "resumption"),
            Ok(pb::StatusEventKind::Transfer) => {
                let to_region = parse_region("to_region_code", &r.to_region_code)?;
                let to_scheme = if r.to_scheme == 0 {
                    None
                } else {
                    Some(scheme_of("to_scheme", r.to_scheme)?)
                };
                // The current scheme is kept when none is given; resolved against the file below.
                (
                    StatusEvent::Transfer {
                        to_region,
                        to_scheme: to_scheme.unwrap_or(Scheme::Resident),
                    },
                    if to_scheme.is_some() {
                        "transfer"
                    } else {
                        "transfer_keep_scheme"
                    },
                )
            }
            _ => {
                return Err(invalid(
                    "kind",
                    "must be a StatusEventKind other than UNSPECIFIED",
                ));
            }
        };
        let (p, file) = self.file_of(&r.person_id).await?;
        scope(&c, &p)?;
        let event = match (event, kind) {
            (StatusEvent::Transfer { to_region, .. }, "transfer_keep_scheme") => {
                let current = file.enrolments.iter().find(|e| {
                    e.end_reason.is_none() && e.effective_from <= on && on <= e.effective_to
                });
                StatusEvent::Transfer {
                    to_region,
                    to_scheme: current.map_or(Scheme::Resident, |e| e.scheme),
                }
            }
            (e, _) => e,
        };
        // A transfer may leave the operator's region: moving people out is part of their job.
        let kind = if kind == "transfer_keep_scheme" {
            "transfer"
        } else {
            kind
        };
        let out = crate::domain::enrolment::apply_event(&file, &event, on, &mut || {
            uuid::Uuid::now_v7().to_string()
        })
        .map_err(EnrollError::from)?;
        let detail =
            serde_json::json!({"kind": kind, "note": r.note, "to_region_code": r.to_region_code});
        self.store
            .apply_event(&p, kind, on, detail, &out, &actor(&c))
            .await?;
        self.invalidate(&p.id_number).await;
        let today = chrono::Utc::now().date_naive();
        let enrolments = self
            .store
            .enrolments(&p.id)
            .await?
            .iter()
            .map(|e| enrolment_pb(&p.id, e, today))
            .collect();
        Ok(Response::new(pb::RecordStatusEventResponse { enrolments }))
    }

    async fn check_eligibility(
        &self,
        req: Request<pb::CheckEligibilityRequest>,
    ) -> Reply<pb::CheckEligibilityResponse> {
        let _ = caller(&req)?;
        let r = req.get_ref();
        let id = parse_id("id_number", &r.id_number)?;
        let date = date_or_today("date", &r.date)?;
        let file = self.person_file_cached(&id).await?;
        Ok(Response::new(match file {
            Some(f) => Self::eligibility_pb(&f, date),
            None => pb::CheckEligibilityResponse {
                eligible: false,
                reason: pb::IneligibleReason::UnknownPerson as i32,
                explanation: "no person is registered with this ID number".into(),
                id_number_masked: id.masked(),
                date: date.to_string(),
                ..Default::default()
            },
        }))
    }

    async fn issue_voucher(
        &self,
        req: Request<pb::IssueVoucherRequest>,
    ) -> Reply<pb::IssueVoucherResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let ttl = if r.ttl_seconds == 0 {
            300
        } else {
            r.ttl_seconds
        };
        if !(10..=3600).contains(&ttl) {
            return Err(invalid("ttl_seconds", "must be 10 to 3600"));
        }
        let p = self.store.person(&r.person_id).await?;
        scope(&c, &p)?;
        if p.death_date.is_some() {
            return Err(ApiError::new(
                ErrorKind::FailedPrecondition,
                "ENROLLMENT_PERSON_DECEASED",
                "no voucher for a deceased person",
            )
            .into());
        }
        let now = chrono::Utc::now();
        let id = uuid::Uuid::now_v7().to_string();
        let expires = now + chrono::Duration::seconds(i64::from(ttl));
        let qr = self
            .vouchers
            .sign(&id, &p.id, now.timestamp(), i64::from(ttl))
            .map_err(|e| ApiError::internal(e))?;
        self.store
            .insert_voucher(&id, &p.id, &expires.to_rfc3339())
            .await?;
        Ok(Response::new(pb::IssueVoucherResponse {
            voucher_id: id,
            qr_payload: qr,
            expires_at: expires.to_rfc3339(),
        }))
    }

    async fn resolve_voucher(
        &self,
        req: Request<pb::ResolveVoucherRequest>,
    ) -> Reply<pb::ResolveVoucherResponse> {
        let _ = caller(&req)?;
        let refuse = |code: &'static str, e: VoucherError| -> Status {
            ApiError::new(ErrorKind::FailedPrecondition, code, e.to_string()).into()
        };
        let v = self
            .vouchers
            .verify(&req.get_ref().qr_payload, chrono::Utc::now().timestamp())
            .map_err(|e| match e {
                VoucherError::Malformed => {
                    ApiError::invalid("ENROLLMENT_VOUCHER_MALFORMED", "qr_payload", e.to_string())
                        .into()
                }
                VoucherError::Tampered => refuse("ENROLLMENT_VOUCHER_TAMPERED", e),
                VoucherError::Expired => refuse("ENROLLMENT_VOUCHER_EXPIRED", e),
            })?;
        let record = self
            .store
            .voucher(&v.id)
            .await?
            .ok_or_else(|| Status::from(EnrollError::NotFound("voucher", v.id.clone())))?;
        if let Some(at) = record.revoked_at {
            return Err(ApiError::new(
                ErrorKind::FailedPrecondition,
                "ENROLLMENT_VOUCHER_REVOKED",
                format!(
                    "voucher was revoked at {at}: {}",
                    record.revoke_reason.unwrap_or_default()
                ),
            )
            .into());
        }
        let (p, file) = self.file_of(&v.person_id).await?;
        let today = chrono::Utc::now().date_naive();
        Ok(Response::new(pb::ResolveVoucherResponse {
            person_id: p.id.clone(),
            id_number_masked: file.id_masked.clone(),
            name: p.name,
            eligibility: Some(Self::eligibility_pb(&file, today)),
            ec_token: v.id,
        }))
    }

    async fn revoke_voucher(
        &self,
        req: Request<pb::RevokeVoucherRequest>,
    ) -> Reply<pb::RevokeVoucherResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let v =
            self.store.voucher(&r.voucher_id).await?.ok_or_else(|| {
                Status::from(EnrollError::NotFound("voucher", r.voucher_id.clone()))
            })?;
        let p = self.store.person(&v.person_id).await?;
        scope(&c, &p)?;
        let v = self
            .store
            .revoke_voucher(&r.voucher_id, r.reason.trim())
            .await?;
        Ok(Response::new(pb::RevokeVoucherResponse {
            voucher_id: v.id,
            revoked_at: v.revoked_at.unwrap_or_default(),
        }))
    }

    async fn scan_duplicates(
        &self,
        req: Request<pb::ScanDuplicatesRequest>,
    ) -> Reply<pb::ScanDuplicatesResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        if !(2000..=2100).contains(&r.year) {
            return Err(invalid("year", "must be between 2000 and 2100"));
        }
        let prefix = region_prefix(&c, &r.region_code)?;
        let report = crate::scan::scan_duplicates(&self.store, r.year, &prefix, &actor(&c)).await?;
        Ok(Response::new(pb::ScanDuplicatesResponse {
            enrolments_scanned: report.scanned as i64,
            tasks_opened: report.opened as i64,
            already_known: report.known as i64,
        }))
    }

    async fn list_duplicate_tasks(
        &self,
        req: Request<pb::ListDuplicateTasksRequest>,
    ) -> Reply<pb::ListDuplicateTasksResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let prefix = region_prefix(&c, &r.region_code)?;
        let state = match pb::DuplicateTaskState::try_from(r.state) {
            Ok(pb::DuplicateTaskState::Unspecified) | Err(_) => None,
            Ok(s) => Some(crate::scan::state_str(s)),
        };
        let page = r.page.unwrap_or_default();
        let limit = if page.page_size <= 0 {
            100
        } else {
            page.page_size.min(1000)
        } as u64;
        let tasks = self
            .store
            .duplicate_tasks(&prefix, state, &page.page_token, limit)
            .await?;
        let next = if tasks.len() as u64 == limit {
            tasks.last().map(|t| t.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListDuplicateTasksResponse {
            tasks: tasks.iter().map(crate::scan::task_pb).collect(),
            page: Some(common::PageResponse {
                next_page_token: next,
            }),
        }))
    }

    async fn transition_duplicate_task(
        &self,
        req: Request<pb::TransitionDuplicateTaskRequest>,
    ) -> Reply<pb::TransitionDuplicateTaskResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let task = self.store.duplicate_task(&r.task_id).await?;
        check_region(&c, "task_id", &task.region_code)?;
        let to = pb::DuplicateTaskState::try_from(r.to_state)
            .map_err(|_| invalid("to_state", "unknown state"))?;
        crate::scan::check_transition(&task.state, to).map_err(|m| {
            Status::from(ApiError::new(
                ErrorKind::FailedPrecondition,
                "ENROLLMENT_TASK_TRANSITION",
                m,
            ))
        })?;
        let updated = self
            .store
            .transition_duplicate(&task, crate::scan::state_str(to), r.note.trim(), &actor(&c))
            .await?;
        if to == pb::DuplicateTaskState::Resolved {
            self.invalidate_person(&task.person_id).await?;
        }
        Ok(Response::new(pb::TransitionDuplicateTaskResponse {
            task: Some(crate::scan::task_pb(&updated)),
        }))
    }

    async fn reconcile_roster(
        &self,
        req: Request<pb::ReconcileRosterRequest>,
    ) -> Reply<pb::ReconcileRosterResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let region = parse_region("region_code", &r.region_code)?;
        check_region(&c, "region_code", region.as_str())?;
        if !(2000..=2100).contains(&r.year) {
            return Err(invalid("year", "must be between 2000 and 2100"));
        }
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(true)
            .from_reader(r.csv.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| invalid("csv", e.to_string()))?
            .clone();
        let col = headers
            .iter()
            .position(|h| h == "id_number")
            .ok_or_else(|| invalid("csv", "the header must include an id_number column"))?;
        let mut rows = Vec::new();
        let mut totals = std::collections::HashMap::<String, i64>::new();
        for (i, rec) in reader.records().enumerate() {
            let line = i as i32 + 2;
            let raw = rec
                .as_ref()
                .ok()
                .and_then(|r| r.get(col))
                .unwrap_or_default()
                .to_string();
            let (outcome, masked, detail) = match IdNumber::parse(&raw) {
                Err(e) => (RosterOutcome::IdInvalid, String::new(), e.to_string()),
                Ok(id) => match self.store.person_by_id_number(&id).await? {
                    None => (
                        RosterOutcome::NotFound,
                        id.masked(),
                        "no person with this ID number".into(),
                    ),
                    Some(p) => {
                        let file = self.store.person_file(&p).await?;
                        let (o, d) = crate::domain::roster::reconcile(&file, r.year, &region);
                        (o, id.masked(), d)
                    }
                },
            };
            *totals.entry(outcome.name().to_string()).or_default() += 1;
            rows.push(pb::RosterRow {
                line,
                id_number_masked: masked,
                outcome: crate::scan::roster_pb(outcome) as i32,
                detail,
            });
        }
        Ok(Response::new(pb::ReconcileRosterResponse { rows, totals }))
    }

    async fn set_coverage_target(
        &self,
        req: Request<pb::SetCoverageTargetRequest>,
    ) -> Reply<pb::SetCoverageTargetResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let region = parse_region("region_code", &r.region_code)?;
        check_region(&c, "region_code", region.as_str())?;
        if r.target < 0 {
            return Err(invalid("target", "must not be negative"));
        }
        let scheme = if r.scheme == 0 {
            "all"
        } else {
            crate::store::scheme_str(scheme_of("scheme", r.scheme)?)
        };
        let category = if r.category == 0 {
            "all"
        } else {
            crate::store::category_str(category_of("category", r.category)?)
        };
        self.store
            .set_target(&region, r.year, scheme, category, r.target)
            .await?;
        Ok(Response::new(pb::SetCoverageTargetResponse {
            target: r.target,
        }))
    }

    async fn get_coverage(
        &self,
        req: Request<pb::GetCoverageRequest>,
    ) -> Reply<pb::GetCoverageResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let prefix = region_prefix(&c, &r.region_code)?;
        let scheme = if r.scheme == 0 {
            None
        } else {
            Some(scheme_of("scheme", r.scheme)?)
        };
        let category = if r.category == 0 {
            None
        } else {
            Some(category_of("category", r.category)?)
        };
        let enrolled_people = self.store.enrolled_people(&prefix, r.year, scheme).await?;
        let scheme_key = scheme.map_or("all", crate::store::scheme_str);
        let (enrolled, target, missing) = match category {
            None => (
                enrolled_people.len() as i64,
                self.store
                    .target(&prefix, r.year, scheme_key, "all")
                    .await?,
                vec![],
            ),
            Some(cat) => {
                let holders = self
                    .store
                    .people_with_category(&prefix, r.year, cat)
                    .await?;
                let missing: Vec<String> = holders
                    .iter()
                    .filter(|p| !enrolled_people.contains(*p))
                    .cloned()
                    .collect();
                let target = self
                    .store
                    .target(&prefix, r.year, scheme_key, crate::store::category_str(cat))
                    .await?;
                let target = if target == 0 {
                    holders.len() as i64
                } else {
                    target
                };
                (holders.len() as i64 - missing.len() as i64, target, missing)
            }
        };
        let coverage_bp = if target > 0 {
            u32::try_from(enrolled.saturating_mul(10_000) / target).unwrap_or(u32::MAX)
        } else {
            0
        };
        Ok(Response::new(pb::GetCoverageResponse {
            enrolled,
            target,
            coverage_bp,
            missing_person_ids: missing.into_iter().take(1000).collect(),
        }))
    }

    async fn import_records(
        &self,
        req: Request<pb::ImportRecordsRequest>,
    ) -> Reply<pb::ImportRecordsResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let region = parse_region("region_code", &r.region_code)?;
        check_region(&c, "region_code", region.as_str())?;
        let (rows, errors) = match pb::ImportFormat::try_from(r.format) {
            Ok(pb::ImportFormat::Csv) => crate::domain::import::parse_csv(&r.content, &region),
            Ok(pb::ImportFormat::JsonLines) => {
                crate::domain::import::parse_json_lines(&r.content, &region)
            }
            _ => {
                return Err(invalid(
                    "format",
                    "must be IMPORT_FORMAT_CSV or IMPORT_FORMAT_JSON_LINES",
                ));
            }
        };
        let report = crate::import::import_rows(self, rows, &actor(&c)).await?;
        let mut all_errors: Vec<pb::RowError> = errors
            .into_iter()
            .chain(report.errors)
            .map(|e| pb::RowError {
                line: e.line as i32,
                field: e.field,
                reason: e.reason,
            })
            .collect();
        all_errors.sort_by_key(|e| e.line);
        Ok(Response::new(pb::ImportRecordsResponse {
            committed: report.committed as i64,
            unchanged: report.unchanged as i64,
            errors: all_errors,
        }))
    }
}

impl EnrollmentApi {
    /// The store (for the import and scan jobs).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Invalidates a person's cached eligibility by clear ID number.
    pub async fn invalidate_id(&self, id_number: &str) {
        self.invalidate(id_number).await;
    }
}
