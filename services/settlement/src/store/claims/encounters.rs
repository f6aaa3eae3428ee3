//! Encounters: the idempotency key (institution + encounter number → current claim).

use crate::domain::Settlement;
use crate::store::{ClaimRow, Store, StoreError};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use yibao_runtime::sql::{self, t, text};

impl Store {
    /// Claims the encounter for `claim_id`; false when it is taken already (or by a concurrent
    /// settlement that commits while this insert waits on the key).
    pub async fn claim_encounter(
        txn: &DatabaseTransaction,
        institution: &str,
        encounter_no: &str,
        claim_id: &str,
    ) -> Result<bool, StoreError> {
        let claimed = sql::exec(
            txn,
            "INSERT INTO encounters (institution_code, encounter_no, claim_id) VALUES (?, ?, ?) ON CONFLICT (institution_code, encounter_no) DO NOTHING",
            vec![t(institution), t(encounter_no), t(claim_id)],
        )
        .await?;
        Ok(claimed > 0)
    }

    /// Points the encounter at its corrected claim.
    pub async fn point_encounter(
        txn: &DatabaseTransaction,
        institution: &str,
        encounter_no: &str,
        claim_id: &str,
    ) -> Result<(), StoreError> {
        sql::exec(
            txn,
            "UPDATE encounters SET claim_id = ? WHERE institution_code = ? AND encounter_no = ?",
            vec![t(claim_id), t(institution), t(encounter_no)],
        )
        .await?;
        Ok(())
    }

    async fn encounter_claim<C: ConnectionTrait>(
        c: &C,
        institution: &str,
        encounter_no: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sql::one(
            c,
            "SELECT claim_id FROM encounters WHERE institution_code = ? AND encounter_no = ?",
            vec![t(institution), t(encounter_no)],
        )
        .await?
        .map(|r| text(&r, "claim_id"))
        .transpose()?)
    }

    /// The current claim id and settlement of an encounter, if it was settled.
    pub async fn settled_encounter(
        &self,
        institution: &str,
        encounter_no: &str,
    ) -> Result<Option<(String, Settlement)>, StoreError> {
        Ok(self
            .encounter(institution, encounter_no)
            .await?
            .map(|row| (row.claim_id, row.settlement)))
    }

    /// The current claim of an encounter (its status included), if it was settled.
    pub async fn encounter(
        &self,
        institution: &str,
        encounter_no: &str,
    ) -> Result<Option<ClaimRow>, StoreError> {
        match Self::encounter_claim(self.db(), institution, encounter_no).await? {
            Some(id) => Ok(Some(self.claim(&id).await?.ok_or_else(|| {
                StoreError::Corrupt(format!("encounter points at missing claim {id}"))
            })?)),
            None => Ok(None),
        }
    }
}
