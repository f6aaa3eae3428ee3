//! Persistence of the LTC service: raw portable SQL over `sea_orm`, one transaction per write.
//! Every workflow step records who and when; corrections keep the previous values; settlement
//! runs, their lines and the outbox events are written in one transaction.

pub mod migration;
mod settle;
pub mod sql;

pub use settle::OutboxEntry;

use crate::domain::application::{ApplicationKind, ApplicationStatus, Step, transition};
use crate::domain::assessment::{AssessmentResult, DisabilityLevel, ScoreSheet, combine_sheets};
use crate::domain::care::{
    CarePlan, LevelPeriod, effective_from, level_on, place, reassessment_due,
};
use crate::domain::policy::{BenefitPolicy, CareType};
use crate::domain::settlement::LineFigures;
use crate::domain::{DomainError, Month};
use crate::error::LtcError;
use chrono::NaiveDate;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, QueryResult, TransactionTrait,
};
use sql::{all, exec, i, i4, insert_rows, int, int32, one, opt_int32, opt_text, ot, t, text};
use std::collections::BTreeMap;
use yibao_core::{Fen, RegionCode};

/// Bus stream of LTC settlement events.
pub const LTC_STREAM: &str = "yibao.ltc.claims";

/// Who made a change.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Token subject.
    pub subject: String,
    /// Role name.
    pub role: String,
}

/// The LTC store.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// SQLite allows one writer: write transactions queue here instead of failing as "locked".
    write_lock: yibao_runtime::db::WriteGate,
}

/// Current time, RFC 3339.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn date(s: &str) -> Result<NaiveDate, LtcError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| LtcError::Corrupt(format!("stored date `{s}`: {e}")))
}

fn level_of(n: i32) -> Result<DisabilityLevel, LtcError> {
    u8::try_from(n)
        .ok()
        .and_then(DisabilityLevel::from_number)
        .ok_or_else(|| LtcError::Corrupt(format!("level {n}")))
}

fn care_type_of(s: &str) -> Result<CareType, LtcError> {
    CareType::parse(s).ok_or_else(|| LtcError::Corrupt(format!("care type `{s}`")))
}

fn json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, LtcError> {
    serde_json::from_str(s).map_err(|e| LtcError::Corrupt(format!("stored JSON: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, LtcError> {
    serde_json::to_string(v).map_err(|e| LtcError::Corrupt(e.to_string()))
}

/// Regions whose policy applies to `region`, most specific first: the county, its city, its
/// province.
pub fn policy_regions(region: &str) -> Vec<String> {
    let mut out = vec![region.to_string()];
    if region.len() == 6 {
        for r in [
            format!("{}00", &region[..4]),
            format!("{}0000", &region[..2]),
        ] {
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    out
}

/// `LIKE` pattern of the records a region covers.
fn region_like(region: &RegionCode) -> String {
    format!("{}%", region.prefix())
}

/// A workflow step with who and when.
#[derive(Debug, Clone)]
pub struct StepRow {
    /// State entered.
    pub status: ApplicationStatus,
    /// Note.
    pub note: String,
    /// Subject.
    pub actor: String,
    /// Role.
    pub role: String,
    /// When.
    pub at: String,
}

/// An application as stored.
#[derive(Debug, Clone)]
pub struct ApplicationRow {
    /// Id.
    pub id: String,
    /// Receiving institution.
    pub institution_code: String,
    /// Institution's number.
    pub application_no: String,
    /// Clear ID number (never logged; masked in responses).
    pub id_number: String,
    /// Enrollment person id.
    pub person_id: String,
    /// Name.
    pub name: String,
    /// Insured region.
    pub region_code: String,
    /// Kind.
    pub kind: ApplicationKind,
    /// Medical records presented.
    pub medical_records: Vec<String>,
    /// Application date.
    pub applied_on: String,
    /// State.
    pub status: ApplicationStatus,
    /// Level when assessed.
    pub level: Option<DisabilityLevel>,
    /// 重度失智.
    pub dementia: bool,
    /// Rejection reason.
    pub rejection_reason: String,
    /// Beneficiary once approved.
    pub beneficiary_id: Option<String>,
    /// Current assessment.
    pub assessment_id: Option<String>,
    /// Appeals made.
    pub appeals: u32,
    /// Steps, oldest first.
    pub steps: Vec<StepRow>,
}

/// A new application.
#[derive(Debug, Clone)]
pub struct NewApplication {
    /// Receiving institution.
    pub institution_code: String,
    /// Institution's number.
    pub application_no: String,
    /// Clear ID number.
    pub id_number: String,
    /// Enrollment person id.
    pub person_id: String,
    /// Name.
    pub name: String,
    /// Insured region.
    pub region_code: String,
    /// Kind.
    pub kind: ApplicationKind,
    /// Medical records.
    pub medical_records: Vec<String>,
    /// Application date.
    pub applied_on: NaiveDate,
}

/// One assessor's sheet as stored.
#[derive(Debug, Clone)]
pub struct SheetRow {
    /// Assessor code.
    pub assessor_code: String,
    /// Item scores.
    pub items: BTreeMap<String, u32>,
    /// 重度失智.
    pub dementia: bool,
    /// Subject.
    pub actor: String,
    /// Role.
    pub role: String,
    /// When.
    pub at: String,
}

/// An assessment as stored.
#[derive(Debug, Clone)]
pub struct AssessmentRow {
    /// Id.
    pub id: String,
    /// Application.
    pub application_id: String,
    /// Insured region.
    pub region_code: String,
    /// Assessor codes.
    pub assessors: Vec<String>,
    /// Visit date.
    pub scheduled_on: String,
    /// True when the sheets are in and agree.
    pub completed: bool,
    /// Result when completed.
    pub result: Option<AssessmentResult>,
    /// Sheets.
    pub sheets: Vec<SheetRow>,
}

/// A level decided for a beneficiary.
#[derive(Debug, Clone)]
pub struct LevelRow {
    /// Level.
    pub level: DisabilityLevel,
    /// 重度失智.
    pub dementia: bool,
    /// First day in force.
    pub effective_from: NaiveDate,
    /// Deciding application.
    pub application_id: String,
    /// Decision date.
    pub decided_on: NaiveDate,
}

/// A care plan as stored.
#[derive(Debug, Clone)]
pub struct PlanRow {
    /// The plan.
    pub plan: CarePlan,
    /// Beneficiary.
    pub beneficiary_id: String,
    /// Subject.
    pub actor: String,
    /// Role.
    pub role: String,
    /// When.
    pub at: String,
}

/// A beneficiary as stored.
#[derive(Debug, Clone)]
pub struct BeneficiaryRow {
    /// Id.
    pub id: String,
    /// Enrollment person id.
    pub person_id: String,
    /// Clear ID number.
    pub id_number: String,
    /// Name.
    pub name: String,
    /// Insured region.
    pub region_code: String,
    /// Next reassessment.
    pub reassessment_due: String,
    /// Levels, oldest first.
    pub levels: Vec<LevelRow>,
    /// Plans, oldest first.
    pub plans: Vec<PlanRow>,
}

impl BeneficiaryRow {
    /// Level periods for the domain.
    pub fn level_periods(&self) -> Vec<LevelPeriod> {
        self.levels
            .iter()
            .map(|l| LevelPeriod {
                level: l.level,
                dementia: l.dementia,
                effective_from: l.effective_from,
            })
            .collect()
    }

    /// Care plans for the domain.
    pub fn care_plans(&self) -> Vec<CarePlan> {
        self.plans.iter().map(|p| p.plan.clone()).collect()
    }
}

/// A settlement line as stored.
#[derive(Debug, Clone)]
pub struct LineRow {
    /// Id.
    pub id: String,
    /// Beneficiary.
    pub beneficiary_id: String,
    /// True for a reversal line.
    pub reversal: bool,
    /// The line reversed.
    pub reverses_line_id: Option<String>,
    /// Level applied.
    pub level: DisabilityLevel,
    /// Figures.
    pub figures: LineFigures,
}

/// A settlement run as stored.
#[derive(Debug, Clone)]
pub struct SettlementRow {
    /// Id.
    pub id: String,
    /// Institution.
    pub institution_code: String,
    /// Month.
    pub month: String,
    /// True when this run is the full reversal of another.
    pub is_reversal: bool,
    /// True when reversed in full.
    pub reversed: bool,
    /// Σ billed.
    pub billed: i64,
    /// Σ fund.
    pub fund: i64,
    /// Σ person.
    pub person: i64,
    /// Subject.
    pub actor: String,
    /// Role.
    pub role: String,
    /// When.
    pub at: String,
    /// Lines.
    pub lines: Vec<LineRow>,
}

/// A record accepted for storage.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// Record number.
    pub record_no: String,
    /// Beneficiary.
    pub beneficiary_id: String,
    /// Beneficiary's region.
    pub region_code: String,
    /// Care type.
    pub care_type: CareType,
    /// Date.
    pub service_date: NaiveDate,
    /// Units.
    pub units: u32,
    /// Amount.
    pub amount: Fen,
    /// Care items.
    pub items: Vec<String>,
    /// `accepted` or `flagged`.
    pub flag_code: Option<String>,
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    /// Record number.
    pub record_no: String,
    /// Beneficiary.
    pub beneficiary_id: String,
    /// Care type.
    pub care_type: CareType,
    /// Date.
    pub service_date: NaiveDate,
    /// Units.
    pub units: u32,
    /// Amount.
    pub amount: Fen,
    /// Care items.
    pub items: Vec<String>,
}

/// A beneficiary's month so far: (care type, date, units) of stored records.
pub type MonthUsage = Vec<(CareType, NaiveDate, u32)>;

/// Statistics of a region and month.
#[derive(Debug, Clone, Default)]
pub struct Statistics {
    /// Beneficiaries with a qualifying level in force at the end of the month.
    pub beneficiaries: u64,
    /// By level number.
    pub by_level: BTreeMap<String, u64>,
    /// By care type.
    pub by_care_type: BTreeMap<String, u64>,
    /// By region.
    pub by_region: BTreeMap<String, u64>,
    /// Previous month.
    pub previous_month: u64,
    /// Same month a year before.
    pub same_month_last_year: u64,
    /// Institutions with a plan in the month.
    pub institutions: u64,
    /// Fund paid for the month, net.
    pub fund_paid: i64,
}

fn step_row(r: &QueryResult) -> Result<StepRow, LtcError> {
    let s = text(r, "status")?;
    Ok(StepRow {
        status: ApplicationStatus::parse(&s)
            .ok_or_else(|| LtcError::Corrupt(format!("status `{s}`")))?,
        note: text(r, "note")?,
        actor: text(r, "actor")?,
        role: text(r, "role")?,
        at: text(r, "at")?,
    })
}

fn application_row(r: &QueryResult) -> Result<ApplicationRow, LtcError> {
    let status = text(r, "status")?;
    let kind = text(r, "kind")?;
    Ok(ApplicationRow {
        id: text(r, "id")?,
        institution_code: text(r, "institution_code")?,
        application_no: text(r, "application_no")?,
        id_number: text(r, "id_number")?,
        person_id: text(r, "person_id")?,
        name: text(r, "name")?,
        region_code: text(r, "region_code")?,
        kind: ApplicationKind::parse(&kind)
            .ok_or_else(|| LtcError::Corrupt(format!("kind `{kind}`")))?,
        medical_records: json(&text(r, "medical_records_json")?)?,
        applied_on: text(r, "applied_on")?,
        status: ApplicationStatus::parse(&status)
            .ok_or_else(|| LtcError::Corrupt(format!("status `{status}`")))?,
        level: opt_int32(r, "level")?.map(level_of).transpose()?,
        dementia: int32(r, "dementia")? != 0,
        rejection_reason: text(r, "rejection_reason")?,
        beneficiary_id: opt_text(r, "beneficiary_id")?,
        assessment_id: opt_text(r, "assessment_id")?,
        appeals: u32::try_from(int32(r, "appeals")?).unwrap_or(0),
        steps: Vec::new(),
    })
}

fn plan_row(r: &QueryResult) -> Result<PlanRow, LtcError> {
    Ok(PlanRow {
        plan: CarePlan {
            id: text(r, "id")?,
            institution: text(r, "institution_code")?,
            care_type: care_type_of(&text(r, "care_type")?)?,
            start: date(&text(r, "start_date")?)?,
            end: opt_text(r, "end_date")?.as_deref().map(date).transpose()?,
        },
        beneficiary_id: text(r, "beneficiary_id")?,
        actor: text(r, "actor")?,
        role: text(r, "role")?,
        at: text(r, "at")?,
    })
}

fn line_row(r: &QueryResult) -> Result<LineRow, LtcError> {
    Ok(LineRow {
        id: text(r, "id")?,
        beneficiary_id: text(r, "beneficiary_id")?,
        reversal: text(r, "kind")? == "reversal",
        reverses_line_id: opt_text(r, "reverses_line_id")?,
        level: level_of(int32(r, "level")?)?,
        figures: LineFigures {
            units: int(r, "units")?,
            billed: Fen(int(r, "billed_fen")?),
            fund_before_cap: Fen(int(r, "fund_before_cap_fen")?),
            fund: Fen(int(r, "fund_fen")?),
            person: Fen(int(r, "person_fen")?),
            capped: Fen(int(r, "capped_fen")?),
            period_start: date(&text(r, "period_start")?)?,
            period_end: date(&text(r, "period_end")?)?,
        },
    })
}

/// Columns of a line with their PostgreSQL array types, for the bulk insert of a run.
const LINE_TYPES: [(&str, &str); 20] = [
    ("id", "text[]"),
    ("settlement_id", "text[]"),
    ("beneficiary_id", "text[]"),
    ("kind", "text[]"),
    ("reverses_line_id", "text[]"),
    ("reversed_by", "text[]"),
    ("institution_code", "text[]"),
    ("region_code", "text[]"),
    ("month", "text[]"),
    ("level", "int[]"),
    ("units", "bigint[]"),
    ("billed_fen", "bigint[]"),
    ("fund_before_cap_fen", "bigint[]"),
    ("fund_fen", "bigint[]"),
    ("person_fen", "bigint[]"),
    ("capped_fen", "bigint[]"),
    ("period_start", "text[]"),
    ("period_end", "text[]"),
    ("max_revision", "bigint[]"),
    ("record_count", "bigint[]"),
];

/// A line to insert.
struct NewLine<'a> {
    id: String,
    beneficiary_id: &'a str,
    reversal: bool,
    reverses: Option<String>,
    region: &'a str,
    level: DisabilityLevel,
    f: LineFigures,
    /// Highest revision and count of the records covered (0, 0 for a reversal).
    covered: (i64, i64),
}

impl NewLine<'_> {
    fn values(&self, settlement_id: &str, institution: &str, month: &str) -> Vec<sea_orm::Value> {
        vec![
            t(self.id.clone()),
            t(settlement_id),
            t(self.beneficiary_id),
            t(if self.reversal { "reversal" } else { "settled" }),
            ot(self.reverses.clone()),
            ot(None),
            t(institution),
            t(self.region),
            t(month),
            i4(i32::from(self.level.number())),
            i(self.f.units),
            i(self.f.billed.get()),
            i(self.f.fund_before_cap.get()),
            i(self.f.fund.get()),
            i(self.f.person.get()),
            i(self.f.capped.get()),
            t(self.f.period_start.to_string()),
            t(self.f.period_end.to_string()),
            i(self.covered.0),
            i(self.covered.1),
        ]
    }
}

/// An LTC event ready for the outbox: `claim_id` is the settled line; a reversal repeats that
/// line's figures (positive) with `LTC_ACTION_REVERSED`.
fn ltc_event(
    action: yibao_proto::events::v1::LtcAction,
    line_id: &str,
    settled_at: &str,
    person_id: &str,
    region: &str,
    institution: &str,
    f: &LineFigures,
) -> (String, Vec<u8>) {
    use prost::Message;
    let event_id = new_id();
    let ev = yibao_proto::events::v1::LtcEvent {
        event_id: event_id.clone(),
        claim_id: line_id.to_string(),
        settled_at: settled_at.to_string(),
        person_key: person_id.to_string(),
        home_region: region.to_string(),
        institution_code: institution.to_string(),
        period_start: f.period_start.to_string(),
        period_end: f.period_end.to_string(),
        amount_fen: f.billed.get(),
        fund_paid_fen: f.fund.get(),
        enrolment_end: String::new(),
        death_date: String::new(),
        action: action as i32,
    };
    (event_id, ev.encode_to_vec())
}

impl Store {
    /// Wraps a connection.
    pub fn new(db: DatabaseConnection) -> Store {
        let write_lock = yibao_runtime::db::WriteGate::for_connection(&db);
        Store { db, write_lock }
    }

    /// The connection.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    async fn begin(
        &self,
    ) -> Result<
        (
            Option<tokio::sync::OwnedMutexGuard<()>>,
            DatabaseTransaction,
        ),
        LtcError,
    > {
        let guard = self.write_lock.enter().await;
        Ok((guard, self.db.begin().await?))
    }

    // ---- policies --------------------------------------------------------------------------

    /// Stores a new version of a region's policy for a year; returns the version.
    pub async fn upload_policy(
        &self,
        region: &str,
        year: i32,
        policy: &BenefitPolicy,
        actor: &Actor,
    ) -> Result<(i32, String), LtcError> {
        let doc = to_json(policy)?;
        let (_g, txn) = self.begin().await?;
        let latest = one(
            &txn,
            "SELECT MAX(version) AS v FROM ltc_policies WHERE region_code = ? AND year = ?",
            vec![t(region), i4(year)],
        )
        .await?;
        let version = latest
            .as_ref()
            .map(|r| opt_int32(r, "v"))
            .transpose()?
            .flatten()
            .unwrap_or(0)
            + 1;
        exec(
            &txn,
            "INSERT INTO ltc_policies (region_code, year, version, document_json, actor, role, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![t(region), i4(year), i4(version), t(doc.clone()), t(actor.subject.clone()), t(actor.role.clone()), t(now())],
        )
        .await?;
        txn.commit().await?;
        Ok((version, doc))
    }

    /// The latest policy uploaded exactly for `region` and `year`: (version, policy, json, actor, role, at).
    pub async fn policy_exact(
        &self,
        region: &str,
        year: i32,
    ) -> Result<Option<(i32, BenefitPolicy, String, String, String, String)>, LtcError> {
        let row = one(
            &self.db,
            "SELECT version, document_json, actor, role, at FROM ltc_policies WHERE region_code = ? AND year = ? ORDER BY version DESC LIMIT 1",
            vec![t(region), i4(year)],
        )
        .await?;
        row.map(|r| -> Result<_, LtcError> {
            let doc = text(&r, "document_json")?;
            Ok((
                int32(&r, "version")?,
                json(&doc)?,
                doc,
                text(&r, "actor")?,
                text(&r, "role")?,
                text(&r, "at")?,
            ))
        })
        .transpose()
    }

    /// The policy in force for a person of `region` in `year`: the county's, else its city's,
    /// else its province's.
    pub async fn policy_for(
        &self,
        region: &str,
        year: i32,
    ) -> Result<Option<BenefitPolicy>, LtcError> {
        for r in policy_regions(region) {
            if let Some((_, p, ..)) = self.policy_exact(&r, year).await? {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    // ---- applications ----------------------------------------------------------------------

    async fn add_step<C: ConnectionTrait>(
        c: &C,
        application_id: &str,
        status: ApplicationStatus,
        note: &str,
        actor: &Actor,
    ) -> Result<(), LtcError> {
        let seq = one(
            c,
            "SELECT COUNT(*) AS n FROM ltc_application_steps WHERE application_id = ?",
            vec![t(application_id)],
        )
        .await?;
        let seq = seq.as_ref().map(|r| int(r, "n")).transpose()?.unwrap_or(0);
        exec(
            c,
            "INSERT INTO ltc_application_steps (application_id, seq, status, note, actor, role, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![t(application_id), i(seq), t(status.as_str()), t(note), t(actor.subject.clone()), t(actor.role.clone()), t(now())],
        )
        .await?;
        Ok(())
    }

    async fn application_in<C: ConnectionTrait>(
        c: &C,
        id: &str,
    ) -> Result<ApplicationRow, LtcError> {
        let r = one(
            c,
            "SELECT * FROM ltc_applications WHERE id = ?",
            vec![t(id)],
        )
        .await?
        .ok_or_else(|| LtcError::NotFound("application", id.into()))?;
        let mut a = application_row(&r)?;
        a.steps = all(
            c,
            "SELECT * FROM ltc_application_steps WHERE application_id = ? ORDER BY seq",
            vec![t(id)],
        )
        .await?
        .iter()
        .map(step_row)
        .collect::<Result<_, _>>()?;
        Ok(a)
    }

    /// Reads an application with its steps.
    pub async fn application(&self, id: &str) -> Result<ApplicationRow, LtcError> {
        Self::application_in(&self.db, id).await
    }

    /// Inserts an application, or returns the one with the same (institution, number) as a
    /// replay. A reused number for another person is a conflict.
    pub async fn submit_application(
        &self,
        a: &NewApplication,
        actor: &Actor,
    ) -> Result<(ApplicationRow, bool), LtcError> {
        let existing = one(&self.db, "SELECT id, id_number FROM ltc_applications WHERE institution_code = ? AND application_no = ?", vec![t(a.institution_code.clone()), t(a.application_no.clone())]).await?;
        if let Some(r) = existing {
            if text(&r, "id_number")? != a.id_number {
                return Err(LtcError::Conflict(format!(
                    "application_no `{}` was used for another person",
                    a.application_no
                )));
            }
            return Ok((self.application(&text(&r, "id")?).await?, true));
        }
        let (_g, txn) = self.begin().await?;
        if a.kind == ApplicationKind::Initial {
            let b = one(
                &txn,
                "SELECT id FROM ltc_beneficiaries WHERE person_id = ?",
                vec![t(a.person_id.clone())],
            )
            .await?;
            if b.is_some() {
                return Err(DomainError::invalid(
                    "LTC_ALREADY_BENEFICIARY",
                    "kind",
                    "the person is already a beneficiary: apply for a reassessment",
                )
                .into());
            }
        } else {
            let b = one(
                &txn,
                "SELECT id FROM ltc_beneficiaries WHERE person_id = ?",
                vec![t(a.person_id.clone())],
            )
            .await?;
            if b.is_none() {
                return Err(DomainError::invalid(
                    "LTC_NOT_A_BENEFICIARY",
                    "kind",
                    "a reassessment is for a beneficiary; this person is not one",
                )
                .into());
            }
        }
        let open = one(
            &txn,
            "SELECT id FROM ltc_applications WHERE person_id = ? AND status IN ('received', 'assessment_scheduled', 'assessed', 'appealed')",
            vec![t(a.person_id.clone())],
        )
        .await?;
        if let Some(r) = open {
            return Err(DomainError::precondition(
                "LTC_APPLICATION_OPEN",
                format!(
                    "application {} of this person is still open",
                    text(&r, "id")?
                ),
            )
            .into());
        }
        let id = new_id();
        let inserted = exec(
            &txn,
            "INSERT INTO ltc_applications (id, institution_code, application_no, id_number, person_id, name, region_code, kind, medical_records_json, applied_on, status, level, dementia, rejection_reason, beneficiary_id, assessment_id, appeals, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, '', NULL, NULL, 0, ?)",
            vec![
                t(id.clone()),
                t(a.institution_code.clone()),
                t(a.application_no.clone()),
                t(a.id_number.clone()),
                t(a.person_id.clone()),
                t(a.name.clone()),
                t(a.region_code.clone()),
                t(a.kind.as_str()),
                t(to_json(&a.medical_records)?),
                t(a.applied_on.to_string()),
                t(ApplicationStatus::Received.as_str()),
                t(now()),
            ],
        )
        .await;
        if let Err(e) = inserted {
            if yibao_runtime::db::is_unique_violation(&e) {
                // A concurrent submission of the same number won: answer as a replay.
                drop(txn);
                drop(_g);
                let r = one(&self.db, "SELECT id FROM ltc_applications WHERE institution_code = ? AND application_no = ?", vec![t(a.institution_code.clone()), t(a.application_no.clone())])
                    .await?
                    .ok_or_else(|| LtcError::Conflict("application vanished".into()))?;
                return Ok((self.application(&text(&r, "id")?).await?, true));
            }
            return Err(e.into());
        }
        Self::add_step(
            &txn,
            &id,
            ApplicationStatus::Received,
            &format!("{} medical record(s)", a.medical_records.len()),
            actor,
        )
        .await?;
        let row = Self::application_in(&txn, &id).await?;
        txn.commit().await?;
        Ok((row, false))
    }

    /// Lists applications (newest first) of an institution and/or within a region.
    pub async fn list_applications(
        &self,
        institution: Option<&str>,
        region: Option<&RegionCode>,
        status: Option<ApplicationStatus>,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<ApplicationRow>, LtcError> {
        let mut sql = String::from("SELECT id FROM ltc_applications WHERE 1 = 1");
        let mut v = Vec::new();
        if let Some(inst) = institution {
            sql.push_str(" AND institution_code = ?");
            v.push(t(inst));
        }
        if let Some(r) = region {
            sql.push_str(" AND region_code LIKE ?");
            v.push(t(region_like(r)));
        }
        if let Some(s) = status {
            sql.push_str(" AND status = ?");
            v.push(t(s.as_str()));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {limit} OFFSET {offset}"));
        let mut out = Vec::new();
        for r in all(&self.db, &sql, v).await? {
            out.push(self.application(&text(&r, "id")?).await?);
        }
        Ok(out)
    }

    /// Moves an application from `from` to `to` if nobody else moved it first.
    async fn move_application<C: ConnectionTrait>(
        c: &C,
        id: &str,
        from: ApplicationStatus,
        to: ApplicationStatus,
    ) -> Result<(), LtcError> {
        let n = exec(
            c,
            "UPDATE ltc_applications SET status = ? WHERE id = ? AND status = ?",
            vec![t(to.as_str()), t(id), t(from.as_str())],
        )
        .await?;
        if n == 0 {
            return Err(LtcError::Conflict(format!(
                "application {id} changed concurrently; retry"
            )));
        }
        Ok(())
    }

    /// Schedules the assessment of an application.
    pub async fn schedule(
        &self,
        application_id: &str,
        assessors: &[String],
        scheduled_on: NaiveDate,
        actor: &Actor,
    ) -> Result<(ApplicationRow, AssessmentRow), LtcError> {
        let (_g, txn) = self.begin().await?;
        let app = Self::application_in(&txn, application_id).await?;
        let next = transition(app.status, &Step::Schedule, app.appeals)?;
        let id = new_id();
        exec(
            &txn,
            "INSERT INTO ltc_assessments (id, application_id, region_code, assessors_json, scheduled_on, status, result_json, created_at) VALUES (?, ?, ?, ?, ?, 'scheduled', NULL, ?)",
            vec![t(id.clone()), t(application_id), t(app.region_code.clone()), t(to_json(&assessors)?), t(scheduled_on.to_string()), t(now())],
        )
        .await?;
        for a in assessors {
            exec(
                &txn,
                "INSERT INTO ltc_assessment_assignees (assessment_id, assessor_code) VALUES (?, ?)",
                vec![t(id.clone()), t(a.clone())],
            )
            .await?;
        }
        Self::move_application(&txn, application_id, app.status, next).await?;
        exec(&txn, "UPDATE ltc_applications SET assessment_id = ?, level = NULL, dementia = 0 WHERE id = ?", vec![t(id.clone()), t(application_id)]).await?;
        Self::add_step(
            &txn,
            application_id,
            next,
            &format!("assessors {} on {scheduled_on}", assessors.join(", ")),
            actor,
        )
        .await?;
        let app = Self::application_in(&txn, application_id).await?;
        let assessment = Self::assessment_in(&txn, &id).await?;
        txn.commit().await?;
        Ok((app, assessment))
    }

    async fn assessment_in<C: ConnectionTrait>(c: &C, id: &str) -> Result<AssessmentRow, LtcError> {
        let r = one(c, "SELECT * FROM ltc_assessments WHERE id = ?", vec![t(id)])
            .await?
            .ok_or_else(|| LtcError::NotFound("assessment", id.into()))?;
        let sheets = all(
            c,
            "SELECT * FROM ltc_score_sheets WHERE assessment_id = ? ORDER BY at, assessor_code",
            vec![t(id)],
        )
        .await?
        .iter()
        .map(|s| -> Result<SheetRow, LtcError> {
            Ok(SheetRow {
                assessor_code: text(s, "assessor_code")?,
                items: json(&text(s, "items_json")?)?,
                dementia: int32(s, "dementia")? != 0,
                actor: text(s, "actor")?,
                role: text(s, "role")?,
                at: text(s, "at")?,
            })
        })
        .collect::<Result<_, _>>()?;
        Ok(AssessmentRow {
            id: text(&r, "id")?,
            application_id: text(&r, "application_id")?,
            region_code: text(&r, "region_code")?,
            assessors: json(&text(&r, "assessors_json")?)?,
            scheduled_on: text(&r, "scheduled_on")?,
            completed: text(&r, "status")? == "completed",
            result: opt_text(&r, "result_json")?
                .as_deref()
                .map(json)
                .transpose()?,
            sheets,
        })
    }

    /// Reads an assessment with its sheets.
    pub async fn assessment(&self, id: &str) -> Result<AssessmentRow, LtcError> {
        Self::assessment_in(&self.db, id).await
    }

    /// Assessments assigned to an assessor, or within a region (newest first).
    pub async fn list_assessments(
        &self,
        assessor: Option<&str>,
        region: Option<&RegionCode>,
        open_only: bool,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<AssessmentRow>, LtcError> {
        let mut sql = String::from("SELECT a.id FROM ltc_assessments a WHERE 1 = 1");
        let mut v = Vec::new();
        if let Some(code) = assessor {
            sql.push_str(" AND a.id IN (SELECT assessment_id FROM ltc_assessment_assignees WHERE assessor_code = ?)");
            v.push(t(code));
        }
        if let Some(r) = region {
            sql.push_str(" AND a.region_code LIKE ?");
            v.push(t(region_like(r)));
        }
        if open_only {
            sql.push_str(" AND a.status = 'scheduled'");
        }
        sql.push_str(&format!(
            " ORDER BY a.id DESC LIMIT {limit} OFFSET {offset}"
        ));
        let mut out = Vec::new();
        for r in all(&self.db, &sql, v).await? {
            out.push(self.assessment(&text(&r, "id")?).await?);
        }
        Ok(out)
    }

    /// Stores an assessor's sheet. When every assigned assessor's sheet is in, they must agree:
    /// the level is computed and the application becomes assessed; when they disagree nothing is
    /// written and the items are named. Returns the assessment and whether this was a replay.
    pub async fn submit_sheet(
        &self,
        assessment_id: &str,
        assessor: &str,
        raw: &BTreeMap<String, u32>,
        dementia: bool,
        actor: &Actor,
    ) -> Result<(AssessmentRow, bool), LtcError> {
        let (_g, txn) = self.begin().await?;
        let a = Self::assessment_in(&txn, assessment_id).await?;
        if let Some(s) = a.sheets.iter().find(|s| s.assessor_code == assessor) {
            if &s.items == raw && s.dementia == dementia {
                return Ok((a, true));
            }
        }
        if a.completed {
            return Err(DomainError::precondition(
                "LTC_ASSESSMENT_COMPLETED",
                "the assessment is completed; sheets can no longer change",
            )
            .into());
        }
        exec(
            &txn,
            "DELETE FROM ltc_score_sheets WHERE assessment_id = ? AND assessor_code = ?",
            vec![t(assessment_id), t(assessor)],
        )
        .await?;
        exec(
            &txn,
            "INSERT INTO ltc_score_sheets (assessment_id, assessor_code, items_json, dementia, actor, role, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![t(assessment_id), t(assessor), t(to_json(raw)?), i4(i32::from(dementia)), t(actor.subject.clone()), t(actor.role.clone()), t(now())],
        )
        .await?;
        let a = Self::assessment_in(&txn, assessment_id).await?;
        if a.assessors
            .iter()
            .all(|code| a.sheets.iter().any(|s| &s.assessor_code == code))
        {
            // Sheets in assignment order, so the result reported is the first assessor's.
            let mut sheets = Vec::new();
            for code in &a.assessors {
                if let Some(s) = a.sheets.iter().find(|s| &s.assessor_code == code) {
                    sheets.push(ScoreSheet::parse("items", &s.items, s.dementia)?);
                }
            }
            let result = combine_sheets("items", &sheets)?;
            let app = Self::application_in(&txn, &a.application_id).await?;
            let next = transition(app.status, &Step::Assess, app.appeals)?;
            exec(
                &txn,
                "UPDATE ltc_assessments SET status = 'completed', result_json = ? WHERE id = ?",
                vec![t(to_json(&result)?), t(assessment_id)],
            )
            .await?;
            Self::move_application(&txn, &app.id, app.status, next).await?;
            exec(
                &txn,
                "UPDATE ltc_applications SET level = ?, dementia = ? WHERE id = ?",
                vec![
                    i4(i32::from(result.level.number())),
                    i4(i32::from(result.dementia)),
                    t(app.id.clone()),
                ],
            )
            .await?;
            let note = format!(
                "level {} (ADL {}, cognition {}, perception {}){}",
                result.level.number(),
                result.adl_score,
                result.cognition_score,
                result.perception_score,
                if result.dementia {
                    ", 重度失智"
                } else {
                    ""
                }
            );
            Self::add_step(&txn, &app.id, next, &note, actor).await?;
        }
        let a = Self::assessment_in(&txn, assessment_id).await?;
        txn.commit().await?;
        Ok((a, false))
    }

    /// Decides an assessed application. An approval creates the beneficiary (first approval) and
    /// records the level from its effective date; a rejection of a re-decided application removes
    /// the level it had given. `policy` is the region's policy of the decision year.
    pub async fn decide(
        &self,
        application_id: &str,
        approve: bool,
        reason: &str,
        decided_on: NaiveDate,
        policy: &BenefitPolicy,
        actor: &Actor,
    ) -> Result<(ApplicationRow, Option<BeneficiaryRow>), LtcError> {
        let (_g, txn) = self.begin().await?;
        let app = Self::application_in(&txn, application_id).await?;
        let step = if approve { Step::Approve } else { Step::Reject };
        let next = transition(app.status, &step, app.appeals)?;
        let level = app.level.ok_or_else(|| {
            LtcError::Corrupt(format!(
                "assessed application {application_id} without level"
            ))
        })?;
        let mut beneficiary_id = None;
        if approve {
            if app.kind == ApplicationKind::Initial && !policy.qualifies(level, app.dementia) {
                return Err(DomainError::precondition(
                    "LTC_LEVEL_DOES_NOT_QUALIFY",
                    format!("level {} does not qualify under the region's policy; reject the application with a reason", level.number()),
                )
                .into());
            }
            let existing = one(
                &txn,
                "SELECT id FROM ltc_beneficiaries WHERE person_id = ?",
                vec![t(app.person_id.clone())],
            )
            .await?;
            let bid = match existing {
                Some(r) => text(&r, "id")?,
                None => {
                    let bid = new_id();
                    exec(
                        &txn,
                        "INSERT INTO ltc_beneficiaries (id, person_id, id_number, name, region_code, reassessment_due, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        vec![t(bid.clone()), t(app.person_id.clone()), t(app.id_number.clone()), t(app.name.clone()), t(app.region_code.clone()), t(String::new()), t(now())],
                    )
                    .await?;
                    bid
                }
            };
            // The level in force before this decision, not counting an earlier decision of the
            // same application (re-decision after appeal).
            exec(
                &txn,
                "DELETE FROM ltc_levels WHERE beneficiary_id = ? AND application_id = ?",
                vec![t(bid.clone()), t(application_id)],
            )
            .await?;
            let before = Self::levels_in(&txn, &bid).await?;
            let periods: Vec<LevelPeriod> = before
                .iter()
                .map(|l| LevelPeriod {
                    level: l.level,
                    dementia: l.dementia,
                    effective_from: l.effective_from,
                })
                .collect();
            let previous = level_on(&periods, decided_on).map(|p| p.level);
            let from = effective_from(previous, level, decided_on);
            exec(
                &txn,
                "INSERT INTO ltc_levels (beneficiary_id, application_id, level, dementia, effective_from, decided_on) VALUES (?, ?, ?, ?, ?, ?)",
                vec![t(bid.clone()), t(application_id), i4(i32::from(level.number())), i4(i32::from(app.dementia)), t(from.to_string()), t(decided_on.to_string())],
            )
            .await?;
            let due = reassessment_due(decided_on, policy.reassessment_months);
            exec(
                &txn,
                "UPDATE ltc_beneficiaries SET reassessment_due = ? WHERE id = ?",
                vec![t(due.to_string()), t(bid.clone())],
            )
            .await?;
            exec(&txn, "UPDATE ltc_applications SET beneficiary_id = ?, rejection_reason = '' WHERE id = ?", vec![t(bid.clone()), t(application_id)]).await?;
            beneficiary_id = Some(bid);
        } else {
            if reason.trim().is_empty() {
                return Err(DomainError::invalid(
                    "LTC_INVALID_ARGUMENT",
                    "reason",
                    "a rejection needs a reason",
                )
                .into());
            }
            if let Some(bid) = &app.beneficiary_id {
                exec(
                    &txn,
                    "DELETE FROM ltc_levels WHERE beneficiary_id = ? AND application_id = ?",
                    vec![t(bid.clone()), t(application_id)],
                )
                .await?;
            }
            exec(
                &txn,
                "UPDATE ltc_applications SET rejection_reason = ? WHERE id = ?",
                vec![t(reason.trim()), t(application_id)],
            )
            .await?;
        }
        Self::move_application(&txn, application_id, app.status, next).await?;
        let note = if approve {
            format!("level {} decided on {decided_on}", level.number())
        } else {
            reason.trim().to_string()
        };
        Self::add_step(&txn, application_id, next, &note, actor).await?;
        let app = Self::application_in(&txn, application_id).await?;
        let b = match &beneficiary_id {
            Some(id) => Some(Self::beneficiary_in(&txn, id).await?),
            None => None,
        };
        txn.commit().await?;
        Ok((app, b))
    }

    /// Appeals a decision.
    pub async fn appeal(
        &self,
        application_id: &str,
        reason: &str,
        actor: &Actor,
    ) -> Result<ApplicationRow, LtcError> {
        let (_g, txn) = self.begin().await?;
        let app = Self::application_in(&txn, application_id).await?;
        let next = transition(app.status, &Step::Appeal, app.appeals)?;
        Self::move_application(&txn, application_id, app.status, next).await?;
        exec(
            &txn,
            "UPDATE ltc_applications SET appeals = appeals + 1 WHERE id = ?",
            vec![t(application_id)],
        )
        .await?;
        Self::add_step(&txn, application_id, next, reason.trim(), actor).await?;
        let app = Self::application_in(&txn, application_id).await?;
        txn.commit().await?;
        Ok(app)
    }

    // ---- beneficiaries and plans -------------------------------------------------------------

    async fn levels_in<C: ConnectionTrait>(
        c: &C,
        beneficiary_id: &str,
    ) -> Result<Vec<LevelRow>, LtcError> {
        all(
            c,
            "SELECT * FROM ltc_levels WHERE beneficiary_id = ? ORDER BY effective_from, decided_on",
            vec![t(beneficiary_id)],
        )
        .await?
        .iter()
        .map(|r| -> Result<LevelRow, LtcError> {
            Ok(LevelRow {
                level: level_of(int32(r, "level")?)?,
                dementia: int32(r, "dementia")? != 0,
                effective_from: date(&text(r, "effective_from")?)?,
                application_id: text(r, "application_id")?,
                decided_on: date(&text(r, "decided_on")?)?,
            })
        })
        .collect()
    }

    async fn beneficiary_in<C: ConnectionTrait>(
        c: &C,
        id: &str,
    ) -> Result<BeneficiaryRow, LtcError> {
        let r = one(
            c,
            "SELECT * FROM ltc_beneficiaries WHERE id = ?",
            vec![t(id)],
        )
        .await?
        .ok_or_else(|| LtcError::NotFound("beneficiary", id.into()))?;
        let plans = all(
            c,
            "SELECT * FROM ltc_care_plans WHERE beneficiary_id = ? ORDER BY start_date",
            vec![t(id)],
        )
        .await?
        .iter()
        .map(plan_row)
        .collect::<Result<_, _>>()?;
        Ok(BeneficiaryRow {
            id: text(&r, "id")?,
            person_id: text(&r, "person_id")?,
            id_number: text(&r, "id_number")?,
            name: text(&r, "name")?,
            region_code: text(&r, "region_code")?,
            reassessment_due: text(&r, "reassessment_due")?,
            levels: Self::levels_in(c, id).await?,
            plans,
        })
    }

    /// Reads a beneficiary with levels and plans.
    pub async fn beneficiary(&self, id: &str) -> Result<BeneficiaryRow, LtcError> {
        Self::beneficiary_in(&self.db, id).await
    }

    /// True when the institution received an application of the beneficiary or has placed them.
    pub async fn institution_knows(
        &self,
        beneficiary: &BeneficiaryRow,
        institution: &str,
    ) -> Result<bool, LtcError> {
        if beneficiary
            .plans
            .iter()
            .any(|p| p.plan.institution == institution)
        {
            return Ok(true);
        }
        let r = one(
            &self.db,
            "SELECT id FROM ltc_applications WHERE person_id = ? AND institution_code = ? LIMIT 1",
            vec![t(beneficiary.person_id.clone()), t(institution)],
        )
        .await?;
        Ok(r.is_some())
    }

    /// Beneficiaries of a region whose reassessment is due on or before `date`.
    pub async fn reassessments_due(
        &self,
        region: &RegionCode,
        on: NaiveDate,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<BeneficiaryRow>, LtcError> {
        let rows = all(
            &self.db,
            &format!("SELECT id FROM ltc_beneficiaries WHERE region_code LIKE ? AND reassessment_due <> '' AND reassessment_due <= ? ORDER BY reassessment_due, id LIMIT {limit} OFFSET {offset}"),
            vec![t(region_like(region)), t(on.to_string())],
        )
        .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(self.beneficiary(&text(&r, "id")?).await?);
        }
        Ok(out)
    }

    /// Places a beneficiary with an institution under a care type from `start`, ending the open
    /// plan the day before. Returns (new plan, ended plan, replayed).
    pub async fn place_care(
        &self,
        beneficiary_id: &str,
        institution: &str,
        care_type: CareType,
        start: NaiveDate,
        actor: &Actor,
    ) -> Result<(PlanRow, Option<PlanRow>, bool), LtcError> {
        let (_g, txn) = self.begin().await?;
        let b = Self::beneficiary_in(&txn, beneficiary_id).await?;
        if let Some(p) = b.plans.iter().find(|p| {
            p.plan.start == start
                && p.plan.institution == institution
                && p.plan.care_type == care_type
        }) {
            return Ok((p.clone(), None, true));
        }
        let ends = place(&b.care_plans(), start)?;
        let mut ended = None;
        if let Some(old) = &ends {
            let end = start.pred_opt().unwrap_or(start);
            let n = exec(
                &txn,
                "UPDATE ltc_care_plans SET end_date = ? WHERE id = ? AND end_date IS NULL",
                vec![t(end.to_string()), t(old.clone())],
            )
            .await?;
            if n == 0 {
                return Err(LtcError::Conflict(
                    "the care plan changed concurrently; retry".into(),
                ));
            }
            let r = one(
                &txn,
                "SELECT * FROM ltc_care_plans WHERE id = ?",
                vec![t(old.clone())],
            )
            .await?
            .ok_or_else(|| LtcError::NotFound("care plan", old.clone()))?;
            ended = Some(plan_row(&r)?);
        }
        let id = new_id();
        exec(
            &txn,
            "INSERT INTO ltc_care_plans (id, beneficiary_id, institution_code, care_type, start_date, end_date, actor, role, at) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?)",
            vec![t(id.clone()), t(beneficiary_id), t(institution), t(care_type.as_str()), t(start.to_string()), t(actor.subject.clone()), t(actor.role.clone()), t(now())],
        )
        .await?;
        let r = one(
            &txn,
            "SELECT * FROM ltc_care_plans WHERE id = ?",
            vec![t(id.clone())],
        )
        .await?
        .ok_or_else(|| LtcError::NotFound("care plan", id.clone()))?;
        let plan = plan_row(&r)?;
        txn.commit().await?;
        Ok((plan, ended, false))
    }

    // ---- service records -------------------------------------------------------------------

    /// Settled hospital stays of a person (reversed ones excluded).
    pub async fn stays(
        &self,
        person_id: &str,
    ) -> Result<Vec<crate::domain::record::HospitalStay>, LtcError> {
        all(&self.db, "SELECT admitted, discharged FROM ltc_hospital_stays WHERE person_id = ? AND reversed = 0", vec![t(person_id)])
            .await?
            .iter()
            .map(|r| Ok(crate::domain::record::HospitalStay { admitted: date(&text(r, "admitted")?)?, discharged: date(&text(r, "discharged")?)? }))
            .collect()
    }

    /// What a beneficiary has recorded in a month (all institutions).
    pub async fn month_usage(
        &self,
        beneficiary_id: &str,
        month: Month,
    ) -> Result<MonthUsage, LtcError> {
        all(&self.db, "SELECT care_type, service_date, units FROM ltc_records WHERE beneficiary_id = ? AND month = ?", vec![t(beneficiary_id), t(month.to_string())])
            .await?
            .iter()
            .map(|r| Ok((care_type_of(&text(r, "care_type")?)?, date(&text(r, "service_date")?)?, u32::try_from(int(r, "units")?).unwrap_or(0))))
            .collect()
    }

    /// Takes `n` revisions from the counter; returns the first. The counter row stays locked until
    /// the transaction ends, so revisions become visible in the order they were taken.
    async fn reserve_revisions<C: ConnectionTrait>(c: &C, n: i64) -> Result<i64, LtcError> {
        exec(
            c,
            "UPDATE ltc_counters SET value = value + ? WHERE name = 'record_revision'",
            vec![i(n)],
        )
        .await?;
        let r = one(
            c,
            "SELECT value FROM ltc_counters WHERE name = 'record_revision'",
            vec![],
        )
        .await?
        .ok_or_else(|| LtcError::Corrupt("revision counter missing".into()))?;
        Ok(int(&r, "value")? - n + 1)
    }

    fn record_row(r: &QueryResult) -> Result<RecordRow, LtcError> {
        Ok(RecordRow {
            record_no: text(r, "record_no")?,
            beneficiary_id: text(r, "beneficiary_id")?,
            care_type: care_type_of(&text(r, "care_type")?)?,
            service_date: date(&text(r, "service_date")?)?,
            units: u32::try_from(int(r, "units")?).unwrap_or(0),
            amount: Fen(int(r, "amount_fen")?),
            items: json(&text(r, "items_json")?)?,
        })
    }

    /// A stored record.
    pub async fn record(
        &self,
        institution: &str,
        record_no: &str,
    ) -> Result<Option<RecordRow>, LtcError> {
        one(
            &self.db,
            "SELECT * FROM ltc_records WHERE institution_code = ? AND record_no = ?",
            vec![t(institution), t(record_no)],
        )
        .await?
        .as_ref()
        .map(Self::record_row)
        .transpose()
    }

    /// Stores accepted records in one transaction.
    pub async fn insert_records(
        &self,
        institution: &str,
        records: &[NewRecord],
    ) -> Result<(), LtcError> {
        if records.is_empty() {
            return Ok(());
        }
        let at = now();
        let (_g, txn) = self.begin().await?;
        let first =
            Self::reserve_revisions(&txn, i64::try_from(records.len()).unwrap_or(i64::MAX)).await?;
        let rows: Vec<Vec<sea_orm::Value>> = records
            .iter()
            .zip(first..)
            .map(|(r, revision)| -> Result<Vec<sea_orm::Value>, LtcError> {
                Ok(vec![
                    t(institution),
                    t(r.record_no.clone()),
                    t(r.beneficiary_id.clone()),
                    t(r.region_code.clone()),
                    t(r.care_type.as_str()),
                    t(r.service_date.to_string()),
                    t(Month::of(r.service_date).to_string()),
                    i(i64::from(r.units)),
                    i(r.amount.get()),
                    t(to_json(&r.items)?),
                    t(if r.flag_code.is_some() {
                        "flagged"
                    } else {
                        "accepted"
                    }),
                    t(r.flag_code.clone().unwrap_or_default()),
                    i(revision),
                    t(at.clone()),
                ])
            })
            .collect::<Result<_, _>>()?;
        insert_rows(&txn, "ltc_records", &RECORD_COLUMNS, rows)
            .await
            .map_err(|e| {
                if yibao_runtime::db::is_unique_violation(&e) {
                    LtcError::Conflict(
                        "a record number was uploaded concurrently; retry the upload".into(),
                    )
                } else {
                    e.into()
                }
            })?;
        txn.commit().await?;
        Ok(())
    }

    /// Corrects a record's units and amount, keeping the previous values. Returns the record and
    /// whether its month must be re-settled.
    pub async fn correct_record(
        &self,
        institution: &str,
        record_no: &str,
        units: u32,
        amount: Fen,
        reason: &str,
        actor: &Actor,
    ) -> Result<(RecordRow, bool), LtcError> {
        let (_g, txn) = self.begin().await?;
        let r = one(
            &txn,
            "SELECT * FROM ltc_records WHERE institution_code = ? AND record_no = ?",
            vec![t(institution), t(record_no)],
        )
        .await?
        .ok_or_else(|| LtcError::NotFound("record", record_no.into()))?;
        let old = Self::record_row(&r)?;
        let seq = one(&txn, "SELECT COUNT(*) AS n FROM ltc_record_corrections WHERE institution_code = ? AND record_no = ?", vec![t(institution), t(record_no)]).await?;
        let seq = seq.as_ref().map(|r| int(r, "n")).transpose()?.unwrap_or(0);
        exec(
            &txn,
            "INSERT INTO ltc_record_corrections (institution_code, record_no, seq, old_units, old_amount_fen, new_units, new_amount_fen, reason, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![t(institution), t(record_no), i(seq), i(i64::from(old.units)), i(old.amount.get()), i(i64::from(units)), i(amount.get()), t(reason), t(actor.subject.clone()), t(now())],
        )
        .await?;
        let revision = Self::reserve_revisions(&txn, 1).await?;
        exec(
            &txn,
            "UPDATE ltc_records SET units = ?, amount_fen = ?, revision = ? WHERE institution_code = ? AND record_no = ?",
            vec![i(i64::from(units)), i(amount.get()), i(revision), t(institution), t(record_no)],
        )
        .await?;
        let line = one(
            &txn,
            "SELECT id FROM ltc_lines WHERE institution_code = ? AND month = ? AND beneficiary_id = ? AND kind = 'settled' AND reversed_by IS NULL",
            vec![t(institution), t(Month::of(old.service_date).to_string()), t(old.beneficiary_id.clone())],
        )
        .await?;
        let settled = line.is_some();
        txn.commit().await?;
        Ok((
            RecordRow {
                units,
                amount,
                ..old
            },
            settled,
        ))
    }
}

const RECORD_COLUMNS: [&str; 14] = [
    "institution_code",
    "record_no",
    "beneficiary_id",
    "region_code",
    "care_type",
    "service_date",
    "month",
    "units",
    "amount_fen",
    "items_json",
    "status",
    "flag_code",
    "revision",
    "uploaded_at",
];
