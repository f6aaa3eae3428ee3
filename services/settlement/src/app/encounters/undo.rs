//! Undoing a request by its reference (2601 冲正): what a timed-out request of an
//! institution committed — a settlement, an upload's lines, an admission — is reversed or
//! cancelled; a reference that committed nothing is answered so and writes nothing.

use super::*;

/// What undoing a request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undone {
    /// Nothing of it is in force; nothing was written.
    NothingCommitted,
    /// Its settlement was reversed.
    SettlementReversed,
    /// Its lines were cancelled.
    FeesCancelled,
    /// Its encounter was cancelled.
    EncounterCancelled,
}

impl Undone {
    fn as_str(self) -> &'static str {
        match self {
            Undone::NothingCommitted => "nothing",
            Undone::SettlementReversed => "settlement",
            Undone::FeesCancelled => "fees",
            Undone::EncounterCancelled => "encounter",
        }
    }

    fn parse(s: &str) -> Undone {
        match s {
            "settlement" => Undone::SettlementReversed,
            "fees" => Undone::FeesCancelled,
            "encounter" => Undone::EncounterCancelled,
            _ => Undone::NothingCommitted,
        }
    }
}

/// The answer of undoing a request.
#[derive(Debug, Clone)]
pub struct UndoneAnswer {
    /// What was undone.
    pub undone: Undone,
    /// The encounter, when there was one.
    pub encounter_id: String,
    /// The reversed claim, when a settlement was reversed.
    pub claim_id: String,
    /// The refund, when a settlement was reversed.
    pub refund: Option<Breakdown>,
}

impl SettlementApp {
    /// Undoes what the institution's request `request_ref` committed (2601): reverses its
    /// settlement, cancels its lines or its encounter. Idempotent on `reversal_ref`.
    pub async fn reverse_by_request(
        &self,
        c: &Caller,
        institution: &InstitutionCode,
        request_ref: &str,
        reversal_ref: &str,
    ) -> Result<UndoneAnswer, AppError> {
        c.check_org("institution_code", institution.as_str())?;
        let inst = institution.as_str();
        if let Some(u) = self.store.undone(inst, reversal_ref).await? {
            if u.request_ref != request_ref {
                return Err(AppError::invalid(
                    "reversal_ref",
                    format!("already used to undo request {}", u.request_ref),
                ));
            }
            return Ok(answer(&u));
        }
        let at = now();
        let done = if let Some(s) = self.store.care_settlement_by_ref(inst, request_ref).await? {
            self.get_encounter(c, &s.encounter_id).await?;
            let r: Reversed = self
                .reverse(
                    c,
                    &s.claim_id,
                    inst,
                    reversal_ref,
                    &[],
                    &format!("冲正 (reversal of request {request_ref})"),
                )
                .await?;
            UndoneRow {
                request_ref: request_ref.to_string(),
                undone: Undone::SettlementReversed.as_str().into(),
                encounter_id: s.encounter_id,
                claim_id: r.claim_id,
                refund: Some(r.refund),
            }
        } else if let Some(e) = self
            .store
            .care_encounter_uploaded_by(inst, request_ref)
            .await?
        {
            self.get_encounter(c, &e.encounter_id).await?;
            let txn = self.store.begin().await?;
            let row = self.locked(&txn, &e.encounter_id).await?;
            rules::may_change(self.state_in(&txn, &row).await?)
                .map_err(|err| refused(err, &e.encounter_id))?;
            self.cancel_lines(&txn, &row, LinesToCancel::UploadedBy(request_ref))
                .await?;
            let u = UndoneRow {
                request_ref: request_ref.to_string(),
                undone: Undone::FeesCancelled.as_str().into(),
                encounter_id: e.encounter_id,
                claim_id: String::new(),
                refund: None,
            };
            Store::insert_undone(&txn, inst, reversal_ref, &u, &at).await?;
            txn.commit().await?;
            self.wake_relay();
            return Ok(answer(&u));
        } else if let Some(e) = self
            .store
            .care_encounter_opened_by(inst, request_ref)
            .await?
        {
            self.get_encounter(c, &e.encounter_id).await?;
            let txn = self.store.begin().await?;
            self.cancel_in(&txn, &e.encounter_id).await?;
            let u = UndoneRow {
                request_ref: request_ref.to_string(),
                undone: Undone::EncounterCancelled.as_str().into(),
                encounter_id: e.encounter_id,
                claim_id: String::new(),
                refund: None,
            };
            Store::insert_undone(&txn, inst, reversal_ref, &u, &at).await?;
            txn.commit().await?;
            self.wake_relay();
            return Ok(answer(&u));
        } else {
            // Nothing of the request was committed: answered so, and nothing is written.
            return Ok(UndoneAnswer {
                undone: Undone::NothingCommitted,
                encounter_id: String::new(),
                claim_id: String::new(),
                refund: None,
            });
        };
        // The settlement's reversal committed in its own transaction (idempotent on the
        // reversal reference); what it undid is recorded after it.
        let txn = self.store.begin().await?;
        Store::insert_undone(&txn, inst, reversal_ref, &done, &at).await?;
        txn.commit().await?;
        Ok(answer(&done))
    }
}

fn answer(u: &UndoneRow) -> UndoneAnswer {
    UndoneAnswer {
        undone: Undone::parse(&u.undone),
        encounter_id: u.encounter_id.clone(),
        claim_id: u.claim_id.clone(),
        refund: u.refund,
    }
}
