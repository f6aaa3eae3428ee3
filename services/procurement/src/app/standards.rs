//! Payment standards (医保支付标准): set one, derive a round's set, and the look-up settlement
//! makes on every claim (from the cache, [`super::standard_cache`]). Every committed change
//! deletes the items' cached histories.

use super::{AppError, Procurement, selected};
use crate::domain::{
    self, NonWinningProduct, PaymentStandard, PaymentStandardIndex, StandardRules,
};
use crate::store::{Actor, Audit, StoredStandard, Txn, Written, new_id, now};
use chrono::NaiveDate;
use yibao_proto::procurement::v1 as pb;
use yibao_runtime::Caller;

/// A standard as written, and the one it ended (if any).
pub type StandardChange = (Written<StoredStandard>, Option<StoredStandard>);

/// A derivation from a selected round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derivation {
    /// Region of the standards.
    pub region: String,
    /// First day of the standards.
    pub effective_from: NaiveDate,
    /// Derivation rules.
    pub rules: StandardRules,
    /// Products that did not win, priced by their generic's winners.
    pub non_winners: Vec<NonWinningProduct>,
    /// Compute without writing.
    pub dry_run: bool,
}

impl Procurement {
    /// Sets payment standards of a region in one transaction (one, or a derivation's set),
    /// each closing an open-ended standard the day before; `fields[i]` names the input of
    /// `standards[i]` in errors. An identical repeat of a standard writes nothing. The cache
    /// is left alone: the callers invalidate what they changed.
    pub async fn set_standards(
        &self,
        region: &str,
        standards: &[(PaymentStandard, String)],
        actor: &Actor,
    ) -> Result<Vec<StandardChange>, AppError> {
        let t = self.store.begin().await?;
        let at = now();
        let keys: Vec<String> = standards
            .iter()
            .map(|(s, _)| format!("standards:{region}:{}", s.item_code))
            .collect();
        self.store.lock_all(&t, &keys).await?;
        let mut out = Vec::with_capacity(standards.len());
        for (standard, field) in standards {
            out.push(
                self.set_standard_in(&t, region, standard, field, actor, &at)
                    .await?,
            );
        }
        t.commit().await?;
        Ok(out)
    }

    async fn set_standard_in(
        &self,
        t: &Txn,
        region: &str,
        standard: &PaymentStandard,
        field: &str,
        actor: &Actor,
        at: &str,
    ) -> Result<StandardChange, AppError> {
        let item = standard.item_code.as_str();
        let rows = self.store.standards_in(&**t, region, item).await?;
        if let Some(same) = rows.iter().find(|r| r.standard == *standard) {
            let previous = same
                .closed_id
                .as_ref()
                .and_then(|id| rows.iter().find(|r| &r.id == id))
                .cloned();
            return Ok((Written::Existing(same.clone()), previous));
        }
        let mut index = PaymentStandardIndex::new();
        for r in &rows {
            index
                .set(r.standard.clone())
                .map_err(|e| AppError::Corrupt(format!("stored standard {}: {e}", r.id)))?;
        }
        index
            .set(standard.clone())
            .map_err(|e| AppError::pricing(e, field))?;
        let history = index.history(item);
        let mut previous = None;
        for r in &rows {
            let to = history
                .iter()
                .find(|h| h.period.from == r.standard.period.from)
                .map(|h| h.period.to);
            if let Some(to) = to
                && to != r.standard.period.to
            {
                self.store.close_standard(t, &r.id, to).await?;
                let mut p = r.clone();
                p.standard.period.to = to;
                previous = Some(p);
            }
        }
        let stored = StoredStandard {
            id: new_id(),
            region: region.to_string(),
            standard: standard.clone(),
            closed_id: previous.as_ref().map(|p: &StoredStandard| p.id.clone()),
            updated: Audit::by(actor, at),
        };
        self.store.insert_standard(t, &stored).await?;
        Ok((Written::New(stored), previous))
    }

    /// Sets one payment standard (errors name `standard.valid_from_date`) and, when it was
    /// new, deletes the item's cached history.
    pub async fn set_payment_standard(
        &self,
        region: &str,
        standard: PaymentStandard,
        actor: &Actor,
    ) -> Result<StandardChange, AppError> {
        let code = standard.item_code.to_string();
        let mut written = self
            .set_standards(
                region,
                &[(standard, "standard.valid_from_date".to_string())],
                actor,
            )
            .await?;
        let (stored, previous) = written
            .pop()
            .ok_or_else(|| AppError::Corrupt("no standard written".into()))?;
        if let Written::New(_) = stored {
            self.standards.invalidate(&[code]).await;
        }
        Ok((stored, previous))
    }

    /// Derives the payment standards of a selected round's winners and of the non-winning
    /// products (all written in one transaction, or none; nothing with `dry_run`). Returns
    /// each standard with whether its product won.
    pub async fn derive_payment_standards(
        &self,
        caller: &Caller,
        round_id: &str,
        d: &Derivation,
    ) -> Result<Vec<(StoredStandard, bool)>, AppError> {
        let round = self.round_for(caller, round_id).await?;
        selected(&round)?;
        let outcome = self.outcome_of(round).await?.outcome;
        let items: Vec<String> = d
            .non_winners
            .iter()
            .map(|p| p.item_code.to_string())
            .collect();
        let mut previous = PaymentStandardIndex::new();
        for s in self
            .store
            .standards_of_items(&items)
            .await?
            .into_iter()
            .filter(|s| s.region == d.region)
        {
            previous
                .set(s.standard)
                .map_err(|e| AppError::Corrupt(e.to_string()))?;
        }
        let derived = domain::derive_standards(
            &outcome,
            &d.non_winners,
            &previous,
            d.effective_from,
            &d.rules,
        )
        .map_err(|e| AppError::pricing(e, "non_winners"))?;
        if d.dry_run {
            return Ok(derived
                .into_iter()
                .map(|x| {
                    let stored = StoredStandard {
                        id: String::new(),
                        region: d.region.clone(),
                        standard: x.standard,
                        closed_id: None,
                        updated: Audit::default(),
                    };
                    (stored, x.winner)
                })
                .collect());
        }
        let batch: Vec<(PaymentStandard, String)> = derived
            .iter()
            .map(|x| {
                (
                    x.standard.clone(),
                    format!("effective_from_date ({})", x.standard.item_code),
                )
            })
            .collect();
        let written = self
            .set_standards(&d.region, &batch, &super::actor(caller))
            .await?;
        let codes: Vec<String> = derived
            .iter()
            .map(|x| x.standard.item_code.to_string())
            .collect();
        self.standards.invalidate(&codes).await;
        Ok(derived
            .iter()
            .zip(written)
            .map(|(x, (stored, _))| (stored.into_inner(), x.winner))
            .collect())
    }

    /// Standards in force on `on` in `region` (county, then city, then province) for each
    /// item, in the order asked, as the response carries them: one cache read per item, and
    /// one query for all the items the cache misses.
    pub async fn payment_standards(
        &self,
        region: &str,
        items: &[String],
        on: NaiveDate,
    ) -> Result<Vec<Option<pb::PaymentStandard>>, AppError> {
        self.standards.lookup(&self.store, region, items, on).await
    }
}
