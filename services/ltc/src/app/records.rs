//! Care-service records: an institution uploads a batch (each record checked against plan,
//! level, policy, enrolment and death, hospital stays and what the month already holds; the
//! accepted ones stored in one transaction), and corrects one record.

use super::{AppError, Credentials, Enrollment, Ltc, actor, invalid, policies};
use crate::domain::Month;
use crate::domain::policy::{BenefitPolicy, CareType, Unit};
use crate::domain::record::{
    Eligibility, HospitalStay, MonthSoFar, RecordContext, RecordIn, Verdict, check,
};
use crate::domain::registry::{InstitutionFile, RegistryRefusal, admit};
use crate::error;
use crate::store::beneficiaries::{self, BeneficiaryRow};
use crate::store::records::{self, Correction, MonthUsage, NewRecord, RecordRow};
use crate::store::{Store, StoreError, settlements, stays};
use chrono::{Datelike, NaiveDate};
use std::collections::HashMap;
use yibao_core::{Fen, InstitutionCode};
use yibao_runtime::Caller;

/// A correction of a care-service record: its new units and amount, and why.
#[derive(Debug, Clone, Copy)]
pub struct RecordFix<'a> {
    /// The record.
    pub record_no: &'a str,
    /// New units.
    pub units: u32,
    /// New amount.
    pub amount: Fen,
    /// Why (kept with the previous values).
    pub reason: &'a str,
}

/// A record as uploaded (shape already checked).
#[derive(Debug, Clone)]
pub struct RecordUpload {
    /// The institution's record number.
    pub record_no: String,
    /// The beneficiary.
    pub beneficiary_id: String,
    /// Care type, date, units, amount.
    pub record: RecordIn,
    /// Care items (trimmed, empty ones dropped).
    pub items: Vec<String>,
}

/// What became of an uploaded record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored.
    Accepted,
    /// Stored flagged: not paid until cleared.
    Flagged,
    /// Not stored.
    Refused,
    /// Uploaded before with the same content; nothing written.
    Replayed,
}

/// The outcome of one record, with the rule's code and reason.
#[derive(Debug, Clone)]
pub struct RecordResult {
    /// Record number.
    pub record_no: String,
    /// Outcome.
    pub outcome: Outcome,
    /// Stable code (empty when accepted or replayed).
    pub code: String,
    /// Explanation.
    pub reason: String,
}

fn result(no: &str, outcome: Outcome, code: &str, reason: impl Into<String>) -> RecordResult {
    RecordResult {
        record_no: no.to_string(),
        outcome,
        code: code.to_string(),
        reason: reason.into(),
    }
}

/// What the records of one upload are checked against, read once per beneficiary, region ×
/// year, day, person and month.
struct Checks<'a> {
    store: &'a Store,
    enrollment: &'a dyn Enrollment,
    credentials: &'a Credentials,
    institution: &'a str,
    registry: Option<InstitutionFile>,
    beneficiaries: HashMap<String, Option<BeneficiaryRow>>,
    policies: HashMap<(String, i32), Option<BenefitPolicy>>,
    eligibility: HashMap<(String, NaiveDate), Eligibility>,
    stays: HashMap<String, Vec<HospitalStay>>,
    usage: HashMap<(String, Month), MonthUsage>,
}

impl Checks<'_> {
    async fn beneficiary(&mut self, id: &str) -> Result<Option<&BeneficiaryRow>, AppError> {
        if !self.beneficiaries.contains_key(id) {
            let b = match beneficiaries::get(self.store.db(), id).await {
                Ok(b) => Some(b),
                Err(StoreError::BeneficiaryNotFound(_)) => None,
                Err(e) => return Err(e.into()),
            };
            self.beneficiaries.insert(id.to_string(), b);
        }
        Ok(self.beneficiaries.get(id).and_then(Option::as_ref))
    }

    /// Loads what a record of `b` on `rec.service_date` is checked against.
    async fn load(&mut self, b: &BeneficiaryRow, rec: &RecordIn) -> Result<(), AppError> {
        let pkey = (b.region_code.clone(), rec.service_date.year());
        if !self.policies.contains_key(&pkey) {
            let p = policies::in_force(self.store, &b.region_code, pkey.1).await?;
            self.policies.insert(pkey, p);
        }
        let key = (b.id.clone(), rec.service_date);
        if !self.eligibility.contains_key(&key) {
            let e = self
                .enrollment
                .check_eligibility(self.credentials, &b.id_number, rec.service_date)
                .await?;
            let v = if e.eligible {
                Eligibility::Eligible
            } else if e.deceased {
                Eligibility::Deceased
            } else {
                Eligibility::NotCovered(e.explanation)
            };
            self.eligibility.insert(key, v);
        }
        if !self.stays.contains_key(&b.person_id) {
            let s = stays::of_person(self.store.db(), &b.person_id).await?;
            self.stays.insert(b.person_id.clone(), s);
        }
        let ukey = (b.id.clone(), Month::of(rec.service_date));
        if !self.usage.contains_key(&ukey) {
            let u = records::month_usage(self.store.db(), &b.id, ukey.1).await?;
            self.usage.insert(ukey, u);
        }
        Ok(())
    }

    /// The verdict on a record of `b` (whose context is loaded).
    fn verdict(&self, b: &BeneficiaryRow, rec: &RecordIn) -> Verdict {
        let policy = self
            .policies
            .get(&(b.region_code.clone(), rec.service_date.year()))
            .and_then(Option::as_ref);
        let used = self
            .usage
            .get(&(b.id.clone(), Month::of(rec.service_date)))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let day_unit = policy
            .and_then(|p| p.terms(rec.care_type))
            .is_some_and(|t| t.unit == Unit::Day);
        let so_far = MonthSoFar {
            units: used
                .iter()
                .filter(|(t, ..)| *t == rec.care_type)
                .map(|(.., u)| *u)
                .sum(),
            day_taken: day_unit
                && used.iter().any(|(t, d, _)| {
                    *d == rec.service_date
                        && matches!(t, CareType::Institutional | CareType::DementiaUnit)
                }),
        };
        let plans = b.care_plans();
        let levels = b.level_periods();
        let cx = RecordContext {
            institution: self.institution,
            plans: &plans,
            levels: &levels,
            policy,
            eligibility: self
                .eligibility
                .get(&(b.id.clone(), rec.service_date))
                .unwrap_or(&Eligibility::Eligible),
            stays: self
                .stays
                .get(&b.person_id)
                .map(Vec::as_slice)
                .unwrap_or_default(),
            so_far,
        };
        check(rec, &cx)
    }

    /// Checks one record; the accepted (or flagged) one is returned for storage and counted in
    /// its month.
    async fn record(
        &mut self,
        up: &RecordUpload,
    ) -> Result<(RecordResult, Option<NewRecord>), AppError> {
        let (no, rec) = (up.record_no.as_str(), &up.record);
        if let Some(old) = records::get(self.store.db(), self.institution, no).await? {
            let same = old.beneficiary_id == up.beneficiary_id
                && old.care_type == rec.care_type
                && old.service_date == rec.service_date
                && old.units == rec.units
                && old.amount == rec.amount;
            return Ok((
                if same {
                    result(
                        no,
                        Outcome::Replayed,
                        "",
                        "uploaded before; nothing written",
                    )
                } else {
                    result(
                        no,
                        Outcome::Refused,
                        error::RECORD_NO_REUSED.code,
                        "the record number was uploaded before with other content; correct it instead",
                    )
                },
                None,
            ));
        }
        // A new record: the institution must be a designated LTC provider on its date, or the
        // whole upload is refused.
        admit(self.institution, rec.service_date, self.registry.as_ref())
            .map_err(|e| AppError::Registry(at_record(no, e)))?;
        let Some(b) = self.beneficiary(&up.beneficiary_id).await?.cloned() else {
            let reason = format!("no beneficiary {}", up.beneficiary_id);
            return Ok((
                result(
                    no,
                    Outcome::Refused,
                    error::BENEFICIARY_UNKNOWN.code,
                    reason,
                ),
                None,
            ));
        };
        self.load(&b, rec).await?;
        let (res, flag) = match self.verdict(&b, rec) {
            Verdict::Refuse { code, reason } => {
                return Ok((result(no, Outcome::Refused, code, reason), None));
            }
            Verdict::Flag { code, reason } => (
                result(no, Outcome::Flagged, code, reason),
                Some(code.to_string()),
            ),
            Verdict::Accept => (result(no, Outcome::Accepted, "", ""), None),
        };
        self.usage
            .entry((b.id.clone(), Month::of(rec.service_date)))
            .or_default()
            .push((rec.care_type, rec.service_date, rec.units));
        let new = NewRecord {
            record_no: up.record_no.clone(),
            beneficiary_id: b.id.clone(),
            region_code: b.region_code.clone(),
            care_type: rec.care_type,
            service_date: rec.service_date,
            units: rec.units,
            amount: rec.amount,
            items: up.items.clone(),
            flag_code: flag,
        };
        Ok((res, Some(new)))
    }
}

/// The refusal, saying which record it stopped at.
fn at_record(no: &str, e: RegistryRefusal) -> RegistryRefusal {
    let at = |m: String| format!("{m} (record {no}); nothing of the upload was stored");
    match e {
        RegistryRefusal::NotRegistered(m) => RegistryRefusal::NotRegistered(at(m)),
        RegistryRefusal::NotActive(m) => RegistryRefusal::NotActive(at(m)),
        RegistryRefusal::NoLtcAgreement(m) => RegistryRefusal::NoLtcAgreement(at(m)),
    }
}

impl Ltc {
    /// Checks an institution's uploaded records one by one and stores the accepted and flagged
    /// ones in one transaction. The institution must be a designated LTC provider (enrollment's
    /// registry) on the date of every new record, or nothing is stored. (The API has checked
    /// that the institution is the caller's.)
    pub async fn upload_service_records(
        &self,
        credentials: &Credentials,
        institution: &InstitutionCode,
        uploads: &[RecordUpload],
    ) -> Result<Vec<RecordResult>, AppError> {
        let registry = self.registry_file(credentials, institution).await?;
        let mut checks = Checks {
            store: &self.store,
            enrollment: self.enrollment.as_ref(),
            credentials,
            institution: institution.as_str(),
            registry,
            beneficiaries: HashMap::new(),
            policies: HashMap::new(),
            eligibility: HashMap::new(),
            stays: HashMap::new(),
            usage: HashMap::new(),
        };
        let mut results = Vec::with_capacity(uploads.len());
        let mut accepted = Vec::new();
        for up in uploads {
            let (res, new) = checks.record(up).await?;
            results.push(res);
            accepted.extend(new);
        }
        if !accepted.is_empty() {
            let tx = self.store.begin().await?;
            records::insert_all(&tx, institution.as_str(), &accepted).await?;
            tx.commit().await?;
        }
        Ok(results)
    }

    /// Corrects a record's units and amount (a bed-day record keeps exactly one unit), keeping
    /// the previous values; the institution must be a designated LTC provider on the record's
    /// date. Returns the record and whether its month must be re-settled. (The API has checked
    /// that the institution is the caller's.)
    pub async fn correct_service_record(
        &self,
        c: &Caller,
        credentials: &Credentials,
        institution: &InstitutionCode,
        fix: RecordFix<'_>,
    ) -> Result<(RecordRow, bool), AppError> {
        let RecordFix {
            record_no,
            units,
            amount,
            reason,
        } = fix;
        let inst = institution.as_str();
        let old = records::get(self.store.db(), inst, record_no)
            .await?
            .ok_or_else(|| StoreError::RecordNotFound(record_no.into()))?;
        self.admitted_on(credentials, institution, old.service_date)
            .await?;
        if units != 1 {
            let b = beneficiaries::get(self.store.db(), &old.beneficiary_id).await?;
            let policy =
                policies::required(&self.store, &b.region_code, old.service_date.year()).await?;
            if policy
                .terms(old.care_type)
                .is_some_and(|t| t.unit == Unit::Day)
            {
                return Err(invalid("units", "a bed-day record carries exactly 1 unit"));
            }
        }
        let tx = self.store.begin().await?;
        let old = records::get(&*tx, inst, record_no)
            .await?
            .ok_or_else(|| StoreError::RecordNotFound(record_no.into()))?;
        let correction = Correction {
            old: &old,
            units,
            amount,
            reason,
        };
        records::correct(&tx, inst, &correction, &actor(c)).await?;
        let month = Month::of(old.service_date).to_string();
        let settled = settlements::has_live_line(&*tx, inst, &month, &old.beneficiary_id).await?;
        tx.commit().await?;
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
