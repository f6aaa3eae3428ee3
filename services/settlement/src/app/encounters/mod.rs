//! Encounters in care, the lifecycle the national interface drives: open (2201/2401) → upload
//! fee lines in parts (2204/2301) and cancel some (2205/2302) → change the visit (2203/2403) →
//! discharge (2402, taken back by 2405) → pre-settle (2206/2303) any number of times → settle
//! once (2207/2304) through the same pipeline as a one-shot claim (`app::settle`) → reverse
//! (2208/2305, the claim's `Reverse`) → settle again; cancel (2202/2404) while unsettled; undo a
//! timed-out request by its reference (2601).
//!
//! Look-ups upstream (enrollment, procurement) run before a step's transaction; the
//! transaction locks the encounter's row, checks the step against the encounter's state as it
//! is then (`domain::encounter`), writes, enqueues the step's event and commits. Every write is
//! idempotent: opening on (institution, encounter number), lines on their number, settling on
//! the settlement in force and on the request reference, undoing on the reversal reference.

use super::settle::{ClaimRequest, Settled, admit_person};
use super::upstream::{Authorization, Resolution};
use super::{AppError, Reversed, SettlementApp};
use crate::domain::encounter::{
    self as rules, EncounterState, EncounterStatus, Expectation, FeeLine, StepRefused,
};
use crate::domain::registry::Declared;
use crate::domain::{Breakdown, Claim, EncounterKind, ItemSplit, Settlement, split_item};
use crate::error;
use crate::events::encounters::{Step, encounter_event};
use crate::store::care::{
    CareSettlementRow, EncounterRow, FeeLineRow, LinesToCancel, PatientKey, UndoneRow,
};
use crate::store::{Actor, ClaimStatus, Store, new_id, now};
use chrono::NaiveDate;
use sea_orm::DatabaseTransaction;
use yibao_core::{Bp, IdNumber, InstitutionCode, RegionCode};
use yibao_runtime::Caller;
use yibao_runtime::outbox;

mod undo;

pub use undo::{Undone, UndoneAnswer};

/// An encounter to open, as parsed at the edge.
#[derive(Debug, Clone)]
pub struct OpenEncounter {
    /// Institution.
    pub institution: InstitutionCode,
    /// The institution's number.
    pub encounter_no: String,
    /// The patient.
    pub id_number: IdNumber,
    /// Insured region.
    pub insured_region: RegionCode,
    /// Kind.
    pub kind: EncounterKind,
    /// Chronic disease.
    pub disease_code: Option<String>,
    /// Start.
    pub start_date: NaiveDate,
    /// Diagnoses so far.
    pub diagnoses: Vec<String>,
    /// Attending physician.
    pub physician: Option<String>,
    /// The request that opens it.
    pub request_ref: String,
}

/// Changes to an open encounter's visit information (empty: kept).
#[derive(Debug, Clone, Default)]
pub struct VisitChange {
    /// Diagnoses, main first.
    pub diagnoses: Vec<String>,
    /// Chronic disease.
    pub disease_code: Option<String>,
    /// Attending physician.
    pub physician: Option<String>,
}

/// A fee line as uploaded, with its charge category.
#[derive(Debug, Clone)]
pub struct UploadLine {
    /// The line.
    pub line: FeeLine,
    /// Charge category (med_chrgitm_type).
    pub charge_category: String,
}

/// A line as the catalogue prices it.
#[derive(Debug, Clone)]
pub struct PricedLine {
    /// The line number.
    pub feedetl_sn: String,
    /// The item as priced (class, standard, share).
    pub item: crate::domain::ClaimItem,
    /// The first self-pay share applied (the item's, else the policy's).
    pub preselfpay_share: Bp,
    /// Negotiated drug.
    pub negotiated: bool,
    /// The line's split.
    pub split: ItemSplit,
    /// Why the catalogue paid it so, when not simply by class.
    pub note: String,
}

/// An encounter with its lines and settlements.
#[derive(Debug, Clone)]
pub struct EncounterView {
    /// The row.
    pub row: EncounterRow,
    /// Its lines in upload order, cancelled ones included.
    pub lines: Vec<FeeLineRow>,
    /// Its settlements, oldest first, each with its claim's status.
    pub settlements: Vec<(CareSettlementRow, ClaimStatus)>,
}

impl EncounterView {
    /// Its state: stored status, and whether the newest settlement is in force.
    pub fn state(&self) -> EncounterState {
        EncounterState {
            status: self.row.status,
            settled: self.settlements.last().is_some_and(|(_, s)| s.open()),
        }
    }
}

/// A settlement of an encounter, as `settle_prepared_linked` records it in its transaction.
#[derive(Debug, Clone)]
pub struct CareLink {
    /// The encounter.
    pub encounter_id: String,
    /// The settlement's sequence.
    pub seq: i32,
    /// The request that settles it.
    pub request_ref: String,
    /// The line numbers settled (checked again under the encounter's lock).
    pub lines: Vec<String>,
}

fn refused(e: StepRefused, id: &str) -> AppError {
    AppError::Precondition(error::ENCOUNTER_CLOSED, format!("encounter_id: {id}: {e}"))
}

/// The encounter is what the caller expects of it (its person, its uncancelled lines' total).
fn as_expected(view: &EncounterView, expect: &Expectation) -> Result<(), AppError> {
    let total = view
        .lines
        .iter()
        .filter(|l| !l.cancelled)
        .map(|l| l.line.item.amount.get())
        .sum();
    rules::meets(expect, &view.row.person_id, yibao_core::Fen(total))
        .map_err(|e| AppError::invalid(e.field, e.detail))
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound("encounter", id.to_string())
}

impl SettlementApp {
    /// Opens an encounter (or returns the one open under the same number with the same facts).
    pub async fn open_encounter(
        &self,
        c: &Caller,
        authorization: Authorization,
        o: OpenEncounter,
    ) -> Result<(EncounterView, bool), AppError> {
        c.check_org("institution_code", o.institution.as_str())?;
        c.check_region("insured_region_code", o.insured_region.as_str())?;
        if let Some(v) = self.open_again(&o).await? {
            return Ok((v, true));
        }
        // The registries on the start date: the person covered and insured where the request
        // says, the institution's agreement for the kind, the physician registered there.
        let mut claim = Claim {
            institution_code: o.institution.clone(),
            encounter_no: o.encounter_no.clone(),
            id_number: o.id_number.clone(),
            kind: o.kind,
            disease_code: o.disease_code.clone(),
            grade: rules::UNPRICED.0,
            tier: rules::UNPRICED.1,
            start_date: o.start_date,
            end_date: o.start_date,
            diagnoses: o.diagnoses.clone(),
            items: Vec::new(),
        };
        let declared = Declared {
            physician: o.physician.clone(),
            ..Declared::default()
        };
        let (facts, _) = self
            .ask_registries(authorization, &mut claim, &o.insured_region, &declared, &[])
            .await?;
        admit_person(&facts.person, &o.insured_region, o.start_date, "")?;
        super::registry::admit_claim(&mut claim, &declared, &facts.registry)?;
        let at = now();
        let row = EncounterRow {
            encounter_id: new_id(),
            institution_code: o.institution.to_string(),
            encounter_no: o.encounter_no.clone(),
            id_number: o.id_number.expose().to_string(),
            person_id: facts.person.person_id,
            insured_region: o.insured_region.to_string(),
            kind: o.kind,
            disease_code: o.disease_code.clone(),
            start_date: o.start_date,
            end_date: None,
            diagnoses: o.diagnoses.clone(),
            physician_code: o.physician.clone(),
            status: EncounterStatus::Open,
            open_ref: o.request_ref.clone(),
            opened_by: c.subject.clone(),
            opened_role: c.role.as_str().to_string(),
            opened_at: at.clone(),
        };
        let txn = self.store.begin().await?;
        if !Store::insert_care_encounter(&txn, &row, &at).await? {
            // Opened concurrently under the same number.
            drop(txn);
            return match self.open_again(&o).await? {
                Some(v) => Ok((v, true)),
                None => Err(AppError::Precondition(
                    error::ENCOUNTER_MISMATCH,
                    "encounter_no: taken concurrently".into(),
                )),
            };
        }
        outbox::enqueue(&*txn, &[encounter_event(&row, Step::Opened, &[], &at)]).await?;
        txn.commit().await?;
        self.wake_relay();
        Ok((
            EncounterView {
                row,
                lines: Vec::new(),
                settlements: Vec::new(),
            },
            false,
        ))
    }

    /// The encounter already open under the request's number, when its facts are the
    /// request's; another encounter under that number is refused naming what differs.
    async fn open_again(&self, o: &OpenEncounter) -> Result<Option<EncounterView>, AppError> {
        let Some(row) = self
            .store
            .care_encounter_by_no(o.institution.as_str(), &o.encounter_no)
            .await?
        else {
            return Ok(None);
        };
        let differs = if row.id_number != o.id_number.expose() {
            Some("id_number")
        } else if row.kind != o.kind {
            Some("kind")
        } else if row.start_date != o.start_date {
            Some("start_date")
        } else if row.insured_region != o.insured_region.as_str() {
            Some("insured_region_code")
        } else {
            None
        };
        if row.status == EncounterStatus::Cancelled {
            return Err(AppError::Precondition(
                error::ENCOUNTER_CLOSED,
                format!(
                    "encounter_no: encounter {} of {} ({}) was cancelled; open the care again under a new number",
                    o.encounter_no, o.institution, row.encounter_id
                ),
            ));
        }
        if let Some(f) = differs {
            return Err(AppError::Precondition(
                error::ENCOUNTER_MISMATCH,
                format!(
                    "{f}: encounter {} of {} is open as {} with another {f}",
                    o.encounter_no, o.institution, row.encounter_id
                ),
            ));
        }
        Ok(Some(self.view(row).await?))
    }

    async fn view(&self, row: EncounterRow) -> Result<EncounterView, AppError> {
        let lines = Store::care_fee_lines(self.store.db(), &row.encounter_id).await?;
        let mut settlements = Vec::new();
        for s in Store::care_settlements(self.store.db(), &row.encounter_id).await? {
            let status = self.claim_status(&s.claim_id).await?;
            settlements.push((s, status));
        }
        Ok(EncounterView {
            row,
            lines,
            settlements,
        })
    }

    /// A claim's status, following corrections (a re-settled claim's status is its
    /// correction's).
    async fn claim_status(&self, claim_id: &str) -> Result<ClaimStatus, AppError> {
        let mut id = claim_id.to_string();
        for _ in 0..16 {
            let row = self
                .store
                .claim(&id)
                .await?
                .ok_or_else(|| crate::store::StoreError::Corrupt(format!("claim {id}")))?;
            match (row.status, row.superseded_by) {
                (ClaimStatus::Superseded, Some(next)) => id = next,
                (s, _) => return Ok(s),
            }
        }
        Ok(ClaimStatus::Superseded)
    }

    /// The caller's encounter: its institution the caller's, its insured region in the
    /// caller's region (refused as another organisation's or region's, as a claim is).
    pub async fn get_encounter(&self, c: &Caller, id: &str) -> Result<EncounterView, AppError> {
        let row = self
            .store
            .care_encounter(id)
            .await?
            .ok_or_else(|| not_found(id))?;
        c.check_org("institution_code", &row.institution_code)?;
        c.check_region("insured_region_code", &row.insured_region)?;
        self.view(row).await
    }

    /// Changes the visit information of an unsettled encounter.
    pub async fn update_encounter(
        &self,
        c: &Caller,
        id: &str,
        change: VisitChange,
    ) -> Result<EncounterView, AppError> {
        self.get_encounter(c, id).await?;
        let txn = self.store.begin().await?;
        let mut row = self.locked(&txn, id).await?;
        rules::may_change(self.state_in(&txn, &row).await?).map_err(|e| refused(e, id))?;
        if !change.diagnoses.is_empty() {
            row.diagnoses = change.diagnoses;
        }
        if change.disease_code.is_some() {
            row.disease_code = change.disease_code;
        }
        if change.physician.is_some() {
            row.physician_code = change.physician;
        }
        Store::update_care_encounter(&txn, &row, &now()).await?;
        txn.commit().await?;
        self.view(row).await
    }

    async fn locked(&self, txn: &DatabaseTransaction, id: &str) -> Result<EncounterRow, AppError> {
        self.store
            .lock_care_encounter(txn, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// The encounter's state as the transaction sees it.
    async fn state_in(
        &self,
        txn: &DatabaseTransaction,
        row: &EncounterRow,
    ) -> Result<EncounterState, AppError> {
        let settled = match Store::care_settlements(txn, &row.encounter_id)
            .await?
            .last()
        {
            Some(s) => self.claim_status(&s.claim_id).await?.open(),
            None => false,
        };
        Ok(EncounterState {
            status: row.status,
            settled,
        })
    }

    /// Uploads fee lines: priced first (each answer is the catalogue's on the upload's latest
    /// fee date), then written under the encounter's lock. A line sent again is a retry.
    pub async fn upload_fees(
        &self,
        c: &Caller,
        authorization: Authorization,
        id: &str,
        upload: Vec<UploadLine>,
        request_ref: &str,
    ) -> Result<Vec<PricedLine>, AppError> {
        let view = self.get_encounter(c, id).await?;
        rules::may_change(view.state()).map_err(|e| refused(e, id))?;
        let sent: Vec<FeeLine> = upload.iter().map(|u| u.line.clone()).collect();
        let problems = rules::check_upload(&sent, view.row.start_date, view.row.end_date);
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        check_against_stored(&view.lines, &sent)?;
        let priced = self.price_lines(c, authorization, &view.row, &sent).await?;
        let at = now();
        let txn = self.store.begin().await?;
        let row = self.locked(&txn, id).await?;
        rules::may_change(self.state_in(&txn, &row).await?).map_err(|e| refused(e, id))?;
        let stored = Store::care_fee_lines(&*txn, id).await?;
        check_against_stored(&stored, &sent)?;
        let new: Vec<(FeeLine, String)> = upload
            .into_iter()
            .filter(|u| {
                !stored
                    .iter()
                    .any(|s| s.line.feedetl_sn == u.line.feedetl_sn)
            })
            .map(|u| (u.line, u.charge_category))
            .collect();
        if !new.is_empty() {
            Store::insert_care_fee_lines(&txn, id, stored.len(), &new, request_ref).await?;
            let lines: Vec<FeeLine> = new.into_iter().map(|(l, _)| l).collect();
            outbox::enqueue(
                &*txn,
                &[encounter_event(&row, Step::FeesUploaded, &lines, &at)],
            )
            .await?;
        }
        txn.commit().await?;
        self.wake_relay();
        Ok(priced)
    }

    /// Prices `lines` of the encounter as the settlement pipeline would (the registries and
    /// procurement's catalogue on the lines' latest date), without writing anything.
    async fn price_lines(
        &self,
        c: &Caller,
        authorization: Authorization,
        row: &EncounterRow,
        lines: &[FeeLine],
    ) -> Result<Vec<PricedLine>, AppError> {
        let date = lines
            .iter()
            .map(|l| l.fee_date)
            .max()
            .unwrap_or(row.start_date);
        let request = claim_request(row, lines, date, row.encounter_no.clone())?;
        let (input, resolved) = self.prepare_priced(c, authorization, request).await?;
        let share = input.policy.preselfpay_share;
        input
            .claim
            .items
            .iter()
            .zip(lines)
            .zip(&resolved)
            .map(|((item, line), r)| {
                let split = split_item(item, share).map_err(|_| {
                    AppError::invalid(
                        format!("lines[{}].item.amount_fen", line.feedetl_sn),
                        "overflows the money arithmetic",
                    )
                })?;
                Ok(PricedLine {
                    feedetl_sn: line.feedetl_sn.clone(),
                    item: item.clone(),
                    preselfpay_share: item.preselfpay_share.unwrap_or(share),
                    negotiated: r.negotiated,
                    split,
                    note: note(r),
                })
            })
            .collect()
    }

    /// Cancels lines (every line when `sns` is empty) of an unsettled encounter.
    pub async fn cancel_fees(&self, c: &Caller, id: &str, sns: &[String]) -> Result<u64, AppError> {
        let view = self.get_encounter(c, id).await?;
        for (n, sn) in sns.iter().enumerate() {
            if !view.lines.iter().any(|l| &l.line.feedetl_sn == sn) {
                return Err(AppError::invalid(
                    format!("feedetl_sns[{n}]"),
                    format!("no line {sn} was uploaded to encounter {id}"),
                ));
            }
        }
        let txn = self.store.begin().await?;
        let row = self.locked(&txn, id).await?;
        rules::may_change(self.state_in(&txn, &row).await?).map_err(|e| refused(e, id))?;
        let which = if sns.is_empty() {
            LinesToCancel::All
        } else {
            LinesToCancel::Numbers(sns)
        };
        let n = self.cancel_lines(&txn, &row, which).await?;
        txn.commit().await?;
        self.wake_relay();
        Ok(n)
    }

    /// Cancels the encounter's live lines `which` takes, with the event that announces them;
    /// the number cancelled.
    async fn cancel_lines(
        &self,
        txn: &DatabaseTransaction,
        row: &EncounterRow,
        which: LinesToCancel<'_>,
    ) -> Result<u64, AppError> {
        let id = &row.encounter_id;
        let taken: Vec<FeeLine> = Store::care_fee_lines(txn, id)
            .await?
            .into_iter()
            .filter(|l| !l.cancelled)
            .filter(|l| match which {
                LinesToCancel::All => true,
                LinesToCancel::Numbers(sns) => sns.contains(&l.line.feedetl_sn),
                LinesToCancel::UploadedBy(r) => l.upload_ref == r,
            })
            .map(|l| l.line)
            .collect();
        let at = now();
        let n = Store::cancel_care_fee_lines(txn, id, which, &at).await?;
        if !taken.is_empty() {
            outbox::enqueue(
                txn,
                &[encounter_event(row, Step::FeesCancelled, &taken, &at)],
            )
            .await?;
        }
        Ok(n)
    }

    /// Discharges an inpatient encounter on `end`, or takes the discharge back.
    pub async fn discharge_encounter(
        &self,
        c: &Caller,
        id: &str,
        end: Option<NaiveDate>,
        diagnoses: Vec<String>,
        cancel: bool,
    ) -> Result<EncounterView, AppError> {
        let view = self.get_encounter(c, id).await?;
        let txn = self.store.begin().await?;
        let mut row = self.locked(&txn, id).await?;
        let state = self.state_in(&txn, &row).await?;
        let at = now();
        if cancel {
            rules::may_cancel_discharge(state).map_err(|e| refused(e, id))?;
            row.status = EncounterStatus::Open;
            row.end_date = None;
        } else {
            rules::may_discharge(row.kind, state).map_err(|e| refused(e, id))?;
            let end = end.ok_or_else(|| AppError::invalid("end_date", "required"))?;
            if end < row.start_date {
                return Err(AppError::invalid(
                    "end_date",
                    format!("{end} is before the admission on {}", row.start_date),
                ));
            }
            if let Some(l) = view
                .lines
                .iter()
                .filter(|l| !l.cancelled)
                .find(|l| l.line.fee_date > end)
            {
                return Err(AppError::invalid(
                    "end_date",
                    format!(
                        "{end} is before fee line {} of {}",
                        l.line.feedetl_sn, l.line.fee_date
                    ),
                ));
            }
            row.status = EncounterStatus::Discharged;
            row.end_date = Some(end);
            if !diagnoses.is_empty() {
                row.diagnoses = diagnoses;
            }
            outbox::enqueue(&*txn, &[encounter_event(&row, Step::Discharged, &[], &at)]).await?;
        }
        Store::update_care_encounter(&txn, &row, &at).await?;
        txn.commit().await?;
        self.wake_relay();
        self.view(row).await
    }

    /// Cancels a registration or admission with its lines, while nothing is settled.
    pub async fn cancel_encounter(&self, c: &Caller, id: &str) -> Result<EncounterView, AppError> {
        self.get_encounter(c, id).await?;
        let txn = self.store.begin().await?;
        let row = self.cancel_in(&txn, id).await?;
        txn.commit().await?;
        self.wake_relay();
        self.view(row).await
    }

    async fn cancel_in(
        &self,
        txn: &DatabaseTransaction,
        id: &str,
    ) -> Result<EncounterRow, AppError> {
        let mut row = self.locked(txn, id).await?;
        rules::may_change(self.state_in(txn, &row).await?).map_err(|e| refused(e, id))?;
        let at = now();
        row.status = EncounterStatus::Cancelled;
        Store::cancel_care_fee_lines(txn, id, LinesToCancel::All, &at).await?;
        Store::update_care_encounter(txn, &row, &at).await?;
        outbox::enqueue(txn, &[encounter_event(&row, Step::Cancelled, &[], &at)]).await?;
        Ok(row)
    }

    /// The claim the encounter's uncancelled lines make on `date`, numbered as its `seq`th.
    async fn encounter_claim(
        &self,
        view: &EncounterView,
        date: Option<NaiveDate>,
        seq: i32,
    ) -> Result<(ClaimRequest, Vec<String>), AppError> {
        let lines: Vec<FeeLine> = view
            .lines
            .iter()
            .filter(|l| !l.cancelled)
            .map(|l| l.line.clone())
            .collect();
        if lines.is_empty() {
            return Err(AppError::Precondition(
                error::ENCOUNTER_CLOSED,
                format!(
                    "encounter_id: {}: no fee lines are uploaded (or all are cancelled)",
                    view.row.encounter_id
                ),
            ));
        }
        let date = rules::settle_date(date, view.row.start_date, view.row.end_date, &lines)
            .map_err(|e| AppError::invalid("end_date", e))?;
        let sns = lines.iter().map(|l| l.feedetl_sn.clone()).collect();
        let no = rules::claim_encounter_no(&view.row.encounter_no, seq);
        Ok((claim_request(&view.row, &lines, date, no)?, sns))
    }

    /// What settling the encounter would pay now; nothing is written.
    pub async fn pre_settle_encounter(
        &self,
        c: &Caller,
        authorization: Authorization,
        id: &str,
        date: Option<NaiveDate>,
        expect: &Expectation,
    ) -> Result<(Settlement, EncounterRow), AppError> {
        let view = self.get_encounter(c, id).await?;
        rules::may_change(view.state()).map_err(|e| refused(e, id))?;
        as_expected(&view, expect)?;
        let seq = next_seq(&view);
        let (request, _) = self.encounter_claim(&view, date, seq).await?;
        let s = self.pre_settle(c, authorization, request).await?;
        Ok((s, view.row))
    }

    /// Settles the encounter over its uploaded lines, or returns the settlement in force (also
    /// when `request_ref` names the request that made it).
    pub async fn settle_encounter(
        &self,
        c: &Caller,
        authorization: Authorization,
        id: &str,
        date: Option<NaiveDate>,
        request_ref: &str,
        expect: &Expectation,
    ) -> Result<(Settled, EncounterRow), AppError> {
        let view = self.get_encounter(c, id).await?;
        if !request_ref.is_empty()
            && let Some(s) = self
                .store
                .care_settlement_by_ref(&view.row.institution_code, request_ref)
                .await?
        {
            let again = self.settled_again(&s.claim_id, request_ref).await?;
            return Ok((again, view.row));
        }
        if let Some((s, status)) = view.settlements.last()
            && status.open()
        {
            let again = self.settled_again(&s.claim_id, &s.request_ref).await?;
            return Ok((again, view.row));
        }
        rules::may_change(view.state()).map_err(|e| refused(e, id))?;
        as_expected(&view, expect)?;
        let seq = next_seq(&view);
        let (request, lines) = self.encounter_claim(&view, date, seq).await?;
        let input = self.prepare(c, authorization, request).await?;
        let link = CareLink {
            encounter_id: id.to_string(),
            seq,
            request_ref: request_ref.to_string(),
            lines,
        };
        let settled = self
            .settle_prepared_linked(&input, &Actor::from(c), Some(&link))
            .await?;
        Ok((settled, view.row))
    }

    /// The settlement of `claim_id` as it stands, marked replayed; a reversed one is refused
    /// (`SETTLEMENT_CLAIM_REVERSED`), never returned as a payment.
    async fn settled_again(&self, claim_id: &str, request_ref: &str) -> Result<Settled, AppError> {
        let row = self
            .store
            .claim(claim_id)
            .await?
            .ok_or_else(|| crate::store::StoreError::Corrupt(format!("claim {claim_id}")))?;
        if row.status == ClaimStatus::Reversed {
            return Err(AppError::Precondition(
                error::CLAIM_REVERSED,
                format!(
                    "request_ref: request {request_ref} settled the encounter as claim {claim_id}, which is fully reversed; nothing is paid for it. To settle the encounter again send a new request_ref"
                ),
            ));
        }
        super::settle::current_state(row)
    }

    /// Inside a settlement's transaction: the encounter still unsettled with the same lines,
    /// and the claim recorded as its settlement.
    pub(super) async fn link_settlement(
        &self,
        txn: &DatabaseTransaction,
        link: &CareLink,
        claim_id: &str,
    ) -> Result<(), AppError> {
        let row = self.locked(txn, &link.encounter_id).await?;
        rules::may_change(self.state_in(txn, &row).await?)
            .map_err(|e| refused(e, &link.encounter_id))?;
        let now_lines: Vec<String> = Store::care_fee_lines(txn, &link.encounter_id)
            .await?
            .into_iter()
            .filter(|l| !l.cancelled)
            .map(|l| l.line.feedetl_sn)
            .collect();
        if now_lines != link.lines {
            return Err(AppError::Precondition(
                error::CONFLICT,
                format!(
                    "encounter_id: {}: its fee lines changed while it was being settled; retry",
                    link.encounter_id
                ),
            ));
        }
        Store::insert_care_settlement(
            txn,
            &CareSettlementRow {
                claim_id: claim_id.to_string(),
                encounter_id: link.encounter_id.clone(),
                seq: link.seq,
                request_ref: link.request_ref.clone(),
            },
            &row.institution_code,
            &now(),
        )
        .await?;
        Ok(())
    }

    /// The ID number and insured region of a person the caller's institution has an encounter
    /// or claim of; another person is refused as another organisation's (naming `field`).
    pub async fn patient_of(
        &self,
        c: &Caller,
        key: PatientKey<'_>,
    ) -> Result<(String, String), AppError> {
        let (field, shown) = match key {
            PatientKey::PersonId(p) => ("person_id", p.to_string()),
            PatientKey::IdNumber(n) => (
                "id_number",
                IdNumber::parse(n).map(|i| i.masked()).unwrap_or_default(),
            ),
        };
        self.store.patient_of(&c.org, key).await?.ok_or_else(|| {
            AppError::Auth(yibao_runtime::auth::AuthError::OtherOrganisation {
                field: field.into(),
                value: shown,
            })
        })
    }
}

/// The sequence of the encounter's next settlement.
fn next_seq(view: &EncounterView) -> i32 {
    view.settlements.last().map_or(1, |(s, _)| s.seq + 1)
}

/// Sent lines against the stored: a number used by another line, or by a cancelled line, is
/// refused naming it.
fn check_against_stored(stored: &[FeeLineRow], sent: &[FeeLine]) -> Result<(), AppError> {
    let mut v = Vec::new();
    for (n, l) in sent.iter().enumerate() {
        let Some(s) = stored.iter().find(|s| s.line.feedetl_sn == l.feedetl_sn) else {
            continue;
        };
        if s.cancelled {
            v.push((
                format!("lines[{n}].feedetl_sn"),
                format!(
                    "line {} was cancelled; upload it again under a new number",
                    l.feedetl_sn
                ),
            ));
        } else if let Some(f) = rules::differing_field(&s.line, l) {
            v.push((
                format!("lines[{n}].{f}"),
                format!(
                    "line {} was uploaded with another {f}; cancel it and upload under a new number",
                    l.feedetl_sn
                ),
            ));
        }
    }
    if v.is_empty() {
        Ok(())
    } else {
        Err(AppError::Precondition(
            error::FEE_LINE_CONFLICT,
            v.into_iter()
                .map(|(f, r)| format!("{f}: {r}"))
                .collect::<Vec<_>>()
                .join("; "),
        ))
    }
}

/// The claim of an encounter's `lines` settled on `end`.
fn claim_request(
    row: &EncounterRow,
    lines: &[FeeLine],
    end: NaiveDate,
    encounter_no: String,
) -> Result<ClaimRequest, AppError> {
    let corrupt = |what: &str| crate::store::StoreError::Corrupt(format!("encounter {what}"));
    Ok(ClaimRequest {
        claim: Claim {
            institution_code: InstitutionCode::parse(&row.institution_code)
                .map_err(|_| corrupt("institution"))?,
            encounter_no,
            id_number: IdNumber::parse(&row.id_number).map_err(|_| corrupt("ID number"))?,
            kind: row.kind,
            disease_code: row.disease_code.clone(),
            grade: rules::UNPRICED.0,
            tier: rules::UNPRICED.1,
            start_date: row.start_date,
            end_date: end,
            diagnoses: row.diagnoses.clone(),
            items: lines.iter().map(|l| l.item.clone()).collect(),
        },
        insured_region: RegionCode::parse(&row.insured_region).map_err(|_| corrupt("region"))?,
        declared: Declared {
            physician: row.physician_code.clone(),
            ..Declared::default()
        },
        days_supply: lines.iter().map(|l| l.days_supply).collect(),
    })
}

/// Why a line is paid as it is, when a restriction decided it.
fn note(r: &Resolution) -> String {
    let mut parts: Vec<String> = r.violations.clone();
    parts.extend(r.unchecked.iter().map(|u| format!("unchecked: {u}")));
    if !r.in_catalogue {
        parts.push("in no catalogue on the date: 丙".into());
    }
    parts.join("; ")
}
