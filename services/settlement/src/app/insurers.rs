//! Supplementary insurers: their layers of settled claims, the month's reconciliation,
//! disputes (the insurer disputes, the operator decides) and product membership.

use super::{AppError, SettlementApp};
use crate::store::{
    Actor, InsurerClaimRow, InsurerFilter, InsurerTotals, Store, StoreError, new_id,
};
use yibao_core::{IdNumber, RegionCode};

impl SettlementApp {
    /// An insurer's claims, newest first: at most `fetch` after the key (settled_on,
    /// claim_id, product_code).
    pub async fn insurer_claims(
        &self,
        f: &InsurerFilter,
        after: Option<(&str, &str, &str)>,
        fetch: u64,
    ) -> Result<Vec<InsurerClaimRow>, AppError> {
        Ok(self.store.insurer_claims(f, after, fetch).await?)
    }

    /// Reconciles an insurer's month: settled layers per product with disputed amounts apart
    /// (checked sums); undisputed settled layers become `reconciled`. Records the run; returns
    /// its id and the totals.
    pub async fn reconcile_insurer(
        &self,
        insurer: &str,
        month: &str,
        region: Option<&str>,
        actor: &Actor,
    ) -> Result<(String, InsurerTotals), AppError> {
        let txn = self.store.begin().await?;
        let totals =
            Store::reconcile_insurer_layers(&txn, insurer, month, region, self.store.read_page())
                .await?;
        txn.commit().await?;
        let run_id = new_id();
        let summary = serde_json::json!({
            "products": totals.products.iter().map(|p| serde_json::json!({"product": p.product_code, "claims": p.claims, "paid": p.insurer_pay, "disputed": p.disputed})).collect::<Vec<_>>(),
            "paid": totals.paid,
            "disputed": totals.disputed,
            "payable": totals.payable,
        });
        self.store
            .record_run(&run_id, "insurer", insurer, month, &summary, actor)
            .await?;
        Ok((run_id, totals))
    }

    /// The insurer disputes `amount` of its layer of a claim.
    pub async fn dispute(
        &self,
        insurer: &str,
        claim_id: &str,
        product_code: &str,
        amount: i64,
        reason: &str,
        actor: &Actor,
    ) -> Result<InsurerClaimRow, AppError> {
        let txn = self.store.begin().await?;
        let row = self
            .store
            .lock_insurer_layer(&txn, claim_id, product_code)
            .await?
            .map(|(row, _)| row)
            .filter(|r| r.insurer_code == insurer)
            .ok_or_else(|| {
                AppError::NotFound("insurer claim", format!("{claim_id}/{product_code}"))
            })?;
        if row.status == "reversed" {
            return Err(AppError::Precondition(
                crate::error::CLAIM_CLOSED,
                "the claim was reversed; nothing to dispute".into(),
            ));
        }
        if amount <= 0 || amount > row.insurer_pay {
            return Err(AppError::invalid(
                "disputed_amount_fen",
                format!("must be 1 to {} (the insurer's layer)", row.insurer_pay),
            ));
        }
        Store::set_layer_dispute(
            &txn,
            claim_id,
            product_code,
            "disputed",
            amount,
            Some(reason),
        )
        .await?;
        Store::insert_dispute(&txn, claim_id, product_code, insurer, amount, reason, actor).await?;
        txn.commit().await?;
        Ok(InsurerClaimRow {
            status: "disputed".into(),
            disputed: amount,
            dispute_reason: reason.to_string(),
            ..row
        })
    }

    /// The operator resolves a dispute: upheld keeps the disputed amount off what the insurer
    /// owes, rejected clears it. Only a disputed layer can be resolved; `region` confines an
    /// operator to claims insured in their region.
    #[allow(clippy::too_many_arguments)]
    pub async fn resolve_dispute(
        &self,
        insurer: &str,
        claim_id: &str,
        product_code: &str,
        region: Option<&RegionCode>,
        upheld: bool,
        resolution: &str,
        actor: &Actor,
    ) -> Result<InsurerClaimRow, AppError> {
        let not_found =
            || AppError::NotFound("insurer claim", format!("{claim_id}/{product_code}"));
        let txn = self.store.begin().await?;
        let (row, claim_region) = self
            .store
            .lock_insurer_layer(&txn, claim_id, product_code)
            .await?
            .ok_or_else(not_found)?;
        let claim_region =
            RegionCode::parse(&claim_region).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if row.insurer_code != insurer || region.is_some_and(|own| !own.covers(&claim_region)) {
            return Err(not_found());
        }
        if row.status != "disputed" {
            return Err(AppError::Precondition(
                crate::error::NOT_DISPUTED,
                format!("the insurer's layer is {}, not disputed", row.status),
            ));
        }
        let disputed = if upheld { row.disputed } else { 0 };
        Store::set_layer_dispute(&txn, claim_id, product_code, "resolved", disputed, None).await?;
        let decision = if upheld { "upheld" } else { "rejected" };
        Store::insert_dispute(
            &txn,
            claim_id,
            product_code,
            insurer,
            disputed,
            &format!("{decision}: {resolution}"),
            actor,
        )
        .await?;
        txn.commit().await?;
        Ok(InsurerClaimRow {
            status: "resolved".into(),
            disputed,
            ..row
        })
    }

    /// Registers a member of a product the insurer offers in a region and year; true when new.
    pub async fn register_member(
        &self,
        region: &RegionCode,
        year: i32,
        product_code: &str,
        insurer_code: &str,
        id: &IdNumber,
    ) -> Result<bool, AppError> {
        match self
            .store
            .product_insurer(region, year, product_code)
            .await?
        {
            None => {
                return Err(AppError::NotFound(
                    "product",
                    format!("{product_code} in region {region}, {year}"),
                ));
            }
            Some(ins) if ins != insurer_code => {
                return Err(AppError::invalid(
                    "product_code",
                    format!("the product is offered by insurer {ins}"),
                ));
            }
            Some(_) => {}
        }
        Ok(self
            .store
            .register_member(product_code, insurer_code, id, year)
            .await?)
    }
}
