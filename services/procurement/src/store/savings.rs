//! Retained savings computed per round and institution (`retained_savings`).

use super::{Actor, Store, StoreError, Txn, from_json, get_s, json, n, s};
use crate::domain::RetainedSavings;

impl Store {
    /// Stores the retained savings of an institution in a round computed at `at`, replacing
    /// an earlier computation.
    pub async fn upsert_savings(
        &self,
        t: &Txn,
        round_id: &str,
        r: &RetainedSavings,
        actor: &Actor,
        at: &str,
    ) -> Result<(), StoreError> {
        self.exec(
            &**t,
            "INSERT INTO retained_savings (round_id, institution_code, budget_fen, actual_fen, saving_fen, completed, retained_fen, result_json, computed_by, computed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (round_id, institution_code) DO UPDATE SET \
             budget_fen = excluded.budget_fen, actual_fen = excluded.actual_fen, saving_fen = excluded.saving_fen, completed = excluded.completed, \
             retained_fen = excluded.retained_fen, result_json = excluded.result_json, computed_by = excluded.computed_by, computed_at = excluded.computed_at",
            vec![s(round_id), s(r.institution.as_str()), n(r.budget.0), n(r.actual.0), n(r.saving.0), n(i64::from(r.completed)), n(r.retained.0), s(json(r)?), s(actor.subject.clone()), s(at)],
        )
        .await?;
        Ok(())
    }

    /// Stored retained savings of a round, in institution order.
    pub async fn savings(&self, round_id: &str) -> Result<Vec<RetainedSavings>, StoreError> {
        self.all(self.db(), "SELECT result_json FROM retained_savings WHERE round_id = $1 ORDER BY institution_code", vec![s(round_id)])
            .await?
            .iter()
            .map(|r| from_json(&get_s(r, "result_json")?, "retained savings"))
            .collect()
    }
}
