//! Applications: submit (enrollment confirms the person is insured in the region on the day),
//! read and list them, schedule the assessment, decide, appeal.

use super::tenancy::{check_application, covers, region_scope};
use super::{AppError, Credentials, Ltc, actor, institution, invalid, policies};
use crate::domain::DomainError;
use crate::domain::application::{ApplicationKind, ApplicationStatus, Step, transition};
use crate::domain::assessment::DisabilityLevel;
use crate::domain::care::{LevelPeriod, effective_from, level_on, reassessment_due};
use crate::domain::policy::BenefitPolicy;
use crate::error;
use crate::store::applications::{self, ApplicationRow, NewApplication};
use crate::store::assessments::{self, AssessmentRow};
use crate::store::beneficiaries::{self, BeneficiaryRow, NewBeneficiary};
use crate::store::{StoreError, Tx};
use chrono::{Datelike, NaiveDate};
use yibao_core::{IdNumber, InstitutionCode, RegionCode};
use yibao_runtime::page::Page;
use yibao_runtime::{Caller, Role};

/// An application as the institution files it (fields already checked for shape).
#[derive(Debug, Clone)]
pub struct ApplicationInput {
    /// Receiving institution.
    pub institution: InstitutionCode,
    /// The institution's number (the idempotency key with the institution).
    pub application_no: String,
    /// The person.
    pub id_number: IdNumber,
    /// Name.
    pub name: String,
    /// Insured region as declared (checked against enrollment).
    pub region: RegionCode,
    /// Initial or reassessment.
    pub kind: ApplicationKind,
    /// Medical records presented (trimmed).
    pub medical_records: Vec<String>,
    /// Application date.
    pub applied_on: NaiveDate,
}

/// Which applications to list, as requested.
#[derive(Debug, Clone)]
pub struct ApplicationFilter {
    /// Institution code as requested (empty: the caller's own, or all).
    pub institution_code: String,
    /// Region as requested (empty: the caller's).
    pub region_code: String,
    /// Only in this state.
    pub status: Option<ApplicationStatus>,
    /// The page.
    pub page: Page,
}

/// The application an institution filed under the number, as a replay; a conflict when the
/// number was used for another person.
async fn replayed<C: sea_orm::ConnectionTrait>(
    c: &C,
    a: &NewApplication,
) -> Result<Option<ApplicationRow>, AppError> {
    let Some((id, id_number)) =
        applications::find_by_number(c, &a.institution_code, &a.application_no).await?
    else {
        return Ok(None);
    };
    if id_number != a.id_number {
        return Err(AppError::ApplicationNoReused(a.application_no.clone()));
    }
    Ok(Some(applications::get(c, &id).await?))
}

/// A person applies once at a time: an initial application for a non-beneficiary, a
/// reassessment for a beneficiary, and no other application of theirs open.
async fn check_may_apply(tx: &Tx, a: &NewApplication) -> Result<(), AppError> {
    let beneficiary = beneficiaries::id_of_person(&**tx, &a.person_id).await?;
    match (a.kind, beneficiary) {
        (ApplicationKind::Initial, Some(_)) => {
            return Err(DomainError::invalid(
                error::ALREADY_BENEFICIARY.code,
                "kind",
                "the person is already a beneficiary: apply for a reassessment",
            )
            .into());
        }
        (ApplicationKind::Reassessment, None) => {
            return Err(DomainError::invalid(
                error::NOT_A_BENEFICIARY.code,
                "kind",
                "a reassessment is for a beneficiary; this person is not one",
            )
            .into());
        }
        _ => {}
    }
    if let Some(open) = applications::open_of_person(&**tx, &a.person_id).await? {
        return Err(DomainError::precondition(
            error::APPLICATION_OPEN.code,
            format!("application {open} of this person is still open"),
        )
        .into());
    }
    Ok(())
}

impl Ltc {
    /// Files an application, or returns the one filed under the same (institution, number) as
    /// a replay. Enrollment must find the person insured in the declared region on the day.
    pub async fn submit_application(
        &self,
        c: &Caller,
        credentials: &Credentials,
        input: ApplicationInput,
    ) -> Result<(ApplicationRow, bool), AppError> {
        c.check_org("institution_code", input.institution.as_str())?;
        covers(c, "region_code", input.region.as_str())?;
        let mut new = NewApplication {
            institution_code: input.institution.to_string(),
            application_no: input.application_no,
            id_number: input.id_number.expose().to_string(),
            person_id: String::new(),
            name: input.name,
            region_code: input.region.to_string(),
            kind: input.kind,
            medical_records: input.medical_records,
            applied_on: input.applied_on,
        };
        if let Some(a) = replayed(self.store.db(), &new).await? {
            return Ok((a, true));
        }
        // The receiving institution must be a designated LTC provider on the day.
        let (e, _) = tokio::try_join!(
            self.enrollment
                .check_eligibility(credentials, &new.id_number, new.applied_on),
            self.admitted_on(credentials, &input.institution, new.applied_on),
        )?;
        if !e.eligible {
            return Err(DomainError::precondition(
                error::NOT_INSURED.code,
                format!(
                    "the person is not insured on {}: {}",
                    new.applied_on, e.explanation
                ),
            )
            .into());
        }
        if e.region_code != new.region_code {
            return Err(invalid(
                "region_code",
                format!("the person is insured in {}", e.region_code),
            ));
        }
        new.person_id = e.person_id;
        // Filed meanwhile under the same number?
        if let Some(a) = replayed(self.store.db(), &new).await? {
            return Ok((a, true));
        }
        let tx = self.store.begin().await?;
        check_may_apply(&tx, &new).await?;
        let Some(id) = applications::insert(&tx, &new).await? else {
            // A concurrent submission of the same number won: answer as a replay.
            drop(tx);
            let (id, _) = applications::find_by_number(
                self.store.db(),
                &new.institution_code,
                &new.application_no,
            )
            .await?
            .ok_or_else(|| StoreError::Conflict("application vanished".into()))?;
            return Ok((applications::get(self.store.db(), &id).await?, true));
        };
        let note = format!("{} medical record(s)", new.medical_records.len());
        applications::add_step(&tx, &id, ApplicationStatus::Received, &note, &actor(c)).await?;
        let row = applications::get(&*tx, &id).await?;
        tx.commit().await?;
        Ok((row, false))
    }

    /// Reads an application the caller may see.
    pub async fn application(&self, c: &Caller, id: &str) -> Result<ApplicationRow, AppError> {
        let a = applications::get(self.store.db(), id).await?;
        check_application(c, &a)?;
        Ok(a)
    }

    /// Lists applications: an institution's own; others' within the caller's region.
    pub async fn list_applications(
        &self,
        c: &Caller,
        f: &ApplicationFilter,
    ) -> Result<Vec<ApplicationRow>, AppError> {
        let (inst, reg) = if c.role == Role::CareInstitution {
            let inst = if f.institution_code.is_empty() {
                c.org.clone()
            } else {
                f.institution_code.clone()
            };
            c.check_org("institution_code", &inst)?;
            (Some(inst), None)
        } else {
            let inst = if f.institution_code.is_empty() {
                None
            } else {
                Some(institution("institution_code", &f.institution_code)?.to_string())
            };
            (inst, region_scope(c, "region_code", &f.region_code)?)
        };
        Ok(applications::list(
            self.store.db(),
            inst.as_deref(),
            reg.as_ref(),
            f.status,
            &f.page,
        )
        .await?)
    }

    /// Schedules the assessment of an application by one or two assessors (two when the
    /// region's policy of the year demands them).
    pub async fn schedule_assessment(
        &self,
        c: &Caller,
        application_id: &str,
        assessors: &[String],
        scheduled_on: NaiveDate,
    ) -> Result<(ApplicationRow, AssessmentRow), AppError> {
        let app = self.application(c, application_id).await?;
        let policy = policies::required(&self.store, &app.region_code, scheduled_on.year()).await?;
        if policy.two_assessors && assessors.len() != 2 {
            return Err(invalid(
                "assessor_codes",
                "the region's policy demands two assessors",
            ));
        }
        let tx = self.store.begin().await?;
        let app = applications::get(&*tx, &app.id).await?;
        let next = transition(app.status, &Step::Schedule, app.appeals)?;
        let id =
            assessments::insert(&tx, &app.id, &app.region_code, assessors, scheduled_on).await?;
        applications::move_status(&tx, &app.id, app.status, next).await?;
        applications::set_assessment(&tx, &app.id, &id).await?;
        let note = format!("assessors {} on {scheduled_on}", assessors.join(", "));
        applications::add_step(&tx, &app.id, next, &note, &actor(c)).await?;
        let app = applications::get(&*tx, &app.id).await?;
        let assessment = assessments::get(&*tx, &id).await?;
        tx.commit().await?;
        Ok((app, assessment))
    }

    /// Decides an assessed application under the region's policy of the decision year. An
    /// approval creates the beneficiary (first approval) and records the level from its
    /// effective date; a rejection of a re-decided application removes the level it had given.
    pub async fn decide_application(
        &self,
        c: &Caller,
        application_id: &str,
        approve: bool,
        reason: &str,
        decided_on: NaiveDate,
    ) -> Result<(ApplicationRow, Option<BeneficiaryRow>), AppError> {
        let app = self.application(c, application_id).await?;
        let policy = policies::required(&self.store, &app.region_code, decided_on.year()).await?;
        let tx = self.store.begin().await?;
        let app = applications::get(&*tx, &app.id).await?;
        let step = if approve { Step::Approve } else { Step::Reject };
        let next = transition(app.status, &step, app.appeals)?;
        let level = app.level.ok_or_else(|| {
            StoreError::Corrupt(format!("assessed application {} without level", app.id))
        })?;
        let beneficiary_id = if approve {
            Some(approve_level(&tx, &app, level, decided_on, &policy).await?)
        } else {
            reject(&tx, &app, reason).await?;
            None
        };
        applications::move_status(&tx, &app.id, app.status, next).await?;
        let note = if approve {
            format!("level {} decided on {decided_on}", level.number())
        } else {
            reason.trim().to_string()
        };
        applications::add_step(&tx, &app.id, next, &note, &actor(c)).await?;
        let row = applications::get(&*tx, &app.id).await?;
        let b = match &beneficiary_id {
            Some(id) => Some(beneficiaries::get(&*tx, id).await?),
            None => None,
        };
        tx.commit().await?;
        Ok((row, b))
    }

    /// Appeals a decision (once).
    pub async fn appeal_decision(
        &self,
        c: &Caller,
        application_id: &str,
        reason: &str,
    ) -> Result<ApplicationRow, AppError> {
        let app = self.application(c, application_id).await?;
        let tx = self.store.begin().await?;
        let app = applications::get(&*tx, &app.id).await?;
        let next = transition(app.status, &Step::Appeal, app.appeals)?;
        applications::move_status(&tx, &app.id, app.status, next).await?;
        applications::add_appeal(&tx, &app.id).await?;
        applications::add_step(&tx, &app.id, next, reason.trim(), &actor(c)).await?;
        let app = applications::get(&*tx, &app.id).await?;
        tx.commit().await?;
        Ok(app)
    }
}

/// The approval's writes: the beneficiary (created on a first approval), the level from its
/// effective date (replacing an earlier decision of the same application), the next
/// reassessment. Returns the beneficiary id.
async fn approve_level(
    tx: &Tx,
    app: &ApplicationRow,
    level: DisabilityLevel,
    decided_on: NaiveDate,
    policy: &BenefitPolicy,
) -> Result<String, AppError> {
    if app.kind == ApplicationKind::Initial && !policy.qualifies(level, app.dementia) {
        return Err(DomainError::precondition(
            error::LEVEL_DOES_NOT_QUALIFY.code,
            format!("level {} does not qualify under the region's policy; reject the application with a reason", level.number()),
        )
        .into());
    }
    let bid = match beneficiaries::id_of_person(&**tx, &app.person_id).await? {
        Some(id) => id,
        None => {
            let new = NewBeneficiary {
                person_id: &app.person_id,
                id_number: &app.id_number,
                name: &app.name,
                region_code: &app.region_code,
            };
            beneficiaries::insert(tx, &new).await?
        }
    };
    // The level in force before this decision, not counting an earlier decision of the same
    // application (re-decision after appeal).
    beneficiaries::delete_level_of(tx, &bid, &app.id).await?;
    let before: Vec<LevelPeriod> = beneficiaries::levels(&**tx, &bid)
        .await?
        .iter()
        .map(|l| l.period())
        .collect();
    let previous = level_on(&before, decided_on).map(|p| p.level);
    let period = LevelPeriod {
        level,
        dementia: app.dementia,
        effective_from: effective_from(previous, level, decided_on),
    };
    beneficiaries::insert_level(tx, &bid, &app.id, &period, decided_on).await?;
    let due = reassessment_due(decided_on, policy.reassessment_months);
    beneficiaries::set_reassessment_due(tx, &bid, due).await?;
    applications::set_approved(tx, &app.id, &bid).await?;
    Ok(bid)
}

/// The rejection's writes: its reason, and the level an earlier approval of the same
/// application gave removed.
async fn reject(tx: &Tx, app: &ApplicationRow, reason: &str) -> Result<(), AppError> {
    if reason.trim().is_empty() {
        return Err(invalid("reason", "a rejection needs a reason"));
    }
    if let Some(bid) = &app.beneficiary_id {
        beneficiaries::delete_level_of(tx, bid, &app.id).await?;
    }
    applications::set_rejected(tx, &app.id, reason.trim()).await?;
    Ok(())
}
