//! The insurers' layers of settled claims (one row per commercial product) and their disputes.

use super::{Actor, Store, StoreError, like_prefix, limit, new_id, now};
use crate::domain::{InsurerFold, InsurerTotals};
use sea_orm::{DatabaseTransaction, QueryResult};
use yibao_runtime::sql::{self, i, int, t, text};

/// An insurer's layer of one claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsurerClaimRow {
    /// Claim.
    pub claim_id: String,
    /// Product.
    pub product_code: String,
    /// Insurer.
    pub insurer_code: String,
    /// Institution.
    pub institution_code: String,
    /// Settled on.
    pub settled_on: String,
    /// Masked ID number.
    pub id_number_masked: String,
    /// Covered remainder.
    pub covered_base: i64,
    /// Product deductible consumed.
    pub deductible: i64,
    /// Rate.
    pub rate_bp: i64,
    /// Paid.
    pub insurer_pay: i64,
    /// Status text (`settled`, `reconciled`, `disputed`, `resolved`, `reversed`).
    pub status: String,
    /// Amount disputed.
    pub disputed: i64,
    /// Dispute reason.
    pub dispute_reason: String,
}

/// Filter of an insurer's claims.
#[derive(Debug, Clone, Default)]
pub struct InsurerFilter {
    /// Insurer.
    pub insurer_code: String,
    /// Product.
    pub product_code: Option<String>,
    /// Month.
    pub month: Option<String>,
    /// Status text.
    pub status: Option<String>,
    /// Region prefix.
    pub region_prefix: Option<String>,
}

/// A commercial layer of a new settlement, to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInsurerLayer<'a> {
    /// Product.
    pub product_code: &'a str,
    /// Insurer offering the product.
    pub insurer_code: &'a str,
    /// Covered remainder.
    pub covered_base: i64,
    /// Product deductible consumed.
    pub deductible: i64,
    /// Rate.
    pub rate_bp: i64,
    /// Paid.
    pub insurer_pay: i64,
}

/// Where and when the claim of a layer was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerClaim<'a> {
    /// Claim.
    pub claim_id: &'a str,
    /// Institution.
    pub institution_code: &'a str,
    /// Insured region.
    pub region_code: &'a str,
    /// Settled on.
    pub settled_on: &'a str,
    /// Month of the settlement.
    pub month: &'a str,
    /// Masked ID number.
    pub id_number_masked: &'a str,
}

impl Store {
    fn insurer_row(r: &QueryResult) -> Result<InsurerClaimRow, StoreError> {
        Ok(InsurerClaimRow {
            claim_id: text(r, "claim_id")?,
            product_code: text(r, "product_code")?,
            insurer_code: text(r, "insurer_code")?,
            institution_code: text(r, "institution_code")?,
            settled_on: text(r, "settled_on")?,
            id_number_masked: text(r, "id_number_masked")?,
            covered_base: int(r, "covered_base_fen")?,
            deductible: int(r, "deductible_fen")?,
            rate_bp: int(r, "rate_bp")?,
            insurer_pay: int(r, "insurer_pay_fen")?,
            status: text(r, "status")?,
            disputed: int(r, "disputed_fen")?,
            dispute_reason: text(r, "dispute_reason")?,
        })
    }

    const INSURER_COLS: &'static str = "claim_id, product_code, insurer_code, institution_code, settled_on, id_number_masked, covered_base_fen, deductible_fen, rate_bp, insurer_pay_fen, status, disputed_fen, dispute_reason";

    /// An insurer's claims, newest first: at most `fetch` rows after the key `after`
    /// (settled_on, claim_id, product_code) of the previous page.
    pub async fn insurer_claims(
        &self,
        f: &InsurerFilter,
        after: Option<(&str, &str, &str)>,
        fetch: u64,
    ) -> Result<Vec<InsurerClaimRow>, StoreError> {
        let mut q = format!(
            "SELECT {} FROM insurer_claims WHERE insurer_code = ?",
            Self::INSURER_COLS
        );
        let mut v = vec![t(&f.insurer_code)];
        if let Some(x) = &f.product_code {
            q.push_str(" AND product_code = ?");
            v.push(t(x));
        }
        if let Some(x) = &f.month {
            q.push_str(" AND month = ?");
            v.push(t(x));
        }
        if let Some(x) = &f.status {
            q.push_str(" AND status = ?");
            v.push(t(x));
        }
        if let Some(x) = &f.region_prefix {
            q.push_str(" AND region_code LIKE ?");
            v.push(t(like_prefix(x)));
        }
        if let Some((on, claim, product)) = after {
            q.push_str(" AND (settled_on < ? OR (settled_on = ? AND (claim_id < ? OR (claim_id = ? AND product_code < ?))))");
            v.extend([t(on), t(on), t(claim), t(claim), t(product)]);
        }
        q.push_str(" ORDER BY settled_on DESC, claim_id DESC, product_code DESC LIMIT ?");
        v.push(limit(fetch));
        sql::all(self.db(), &q, v)
            .await?
            .iter()
            .map(Self::insurer_row)
            .collect()
    }

    /// Inserts the commercial layers of a new settlement.
    pub async fn insert_insurer_layers(
        txn: &DatabaseTransaction,
        claim: &LayerClaim<'_>,
        layers: &[NewInsurerLayer<'_>],
    ) -> Result<(), StoreError> {
        for l in layers {
            sql::exec(
                txn,
                "INSERT INTO insurer_claims (claim_id, product_code, insurer_code, institution_code, region_code, settled_on, month, id_number_masked, covered_base_fen, deductible_fen, rate_bp, insurer_pay_fen, status, disputed_fen, dispute_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'settled', 0, '')",
                vec![
                    t(claim.claim_id),
                    t(l.product_code),
                    t(l.insurer_code),
                    t(claim.institution_code),
                    t(claim.region_code),
                    t(claim.settled_on),
                    t(claim.month),
                    t(claim.id_number_masked),
                    i(l.covered_base),
                    i(l.deductible),
                    i(l.rate_bp),
                    i(l.insurer_pay),
                ],
            )
            .await?;
        }
        Ok(())
    }

    /// Updates a layer after a refund re-settled its claim.
    pub async fn update_insurer_layer(
        txn: &DatabaseTransaction,
        claim_id: &str,
        product_code: &str,
        covered_base: i64,
        deductible: i64,
        insurer_pay: i64,
    ) -> Result<(), StoreError> {
        sql::exec(
            txn,
            "UPDATE insurer_claims SET covered_base_fen = ?, deductible_fen = ?, insurer_pay_fen = ? WHERE claim_id = ? AND product_code = ?",
            vec![i(covered_base), i(deductible), i(insurer_pay), t(claim_id), t(product_code)],
        )
        .await?;
        Ok(())
    }

    /// Marks every layer of a fully reversed claim `reversed`.
    pub async fn reverse_insurer_layers(
        txn: &DatabaseTransaction,
        claim_id: &str,
    ) -> Result<(), StoreError> {
        sql::exec(
            txn,
            "UPDATE insurer_claims SET status = 'reversed' WHERE claim_id = ?",
            vec![t(claim_id)],
        )
        .await?;
        Ok(())
    }

    /// Per product totals of an insurer's month (reversed layers left out), disputed amounts
    /// apart, folded with checked sums over keyset pages of `page` layers; then the
    /// undisputed settled layers become `reconciled`. `region` confines both to claims insured
    /// inside it.
    pub async fn reconcile_insurer_layers(
        txn: &DatabaseTransaction,
        insurer: &str,
        month: &str,
        region: Option<&str>,
        page: u64,
    ) -> Result<InsurerTotals, StoreError> {
        let mut q = String::from(
            "SELECT claim_id, product_code, insurer_pay_fen, disputed_fen FROM insurer_claims WHERE insurer_code = ? AND month = ? AND status <> 'reversed' AND (claim_id, product_code) > (?, ?)",
        );
        let mut upd = String::from(
            "UPDATE insurer_claims SET status = 'reconciled' WHERE insurer_code = ? AND month = ? AND status = 'settled'",
        );
        let mut uv = vec![t(insurer), t(month)];
        let region = region.map(like_prefix);
        if let Some(r) = &region {
            q.push_str(" AND region_code LIKE ?");
            upd.push_str(" AND region_code LIKE ?");
            uv.push(t(r));
        }
        q.push_str(" ORDER BY claim_id, product_code LIMIT ?");
        let overflow = || StoreError::Overflow(format!("the month {month} of insurer {insurer}"));
        let mut fold = InsurerFold::default();
        let mut after = (String::new(), String::new());
        loop {
            let mut v = vec![t(insurer), t(month), t(&after.0), t(&after.1)];
            if let Some(r) = &region {
                v.push(t(r));
            }
            v.push(limit(page));
            let rows = sql::all(txn, &q, v).await?;
            for r in &rows {
                fold.layer(
                    &text(r, "product_code")?,
                    int(r, "insurer_pay_fen")?,
                    int(r, "disputed_fen")?,
                )
                .map_err(|_| overflow())?;
            }
            match rows.last() {
                Some(r) if rows.len() as u64 >= page => {
                    after = (text(r, "claim_id")?, text(r, "product_code")?);
                }
                _ => break,
            }
        }
        sql::exec(txn, &upd, uv).await?;
        fold.finish().map_err(|_| overflow())
    }

    /// Locks an insurer's layer of a claim for this transaction, with the claim's insured
    /// region.
    pub async fn lock_insurer_layer(
        &self,
        txn: &DatabaseTransaction,
        claim_id: &str,
        product_code: &str,
    ) -> Result<Option<(InsurerClaimRow, String)>, StoreError> {
        let q = format!(
            "SELECT {}, region_code FROM insurer_claims WHERE claim_id = ? AND product_code = ?{}",
            Self::INSURER_COLS,
            self.for_update()
        );
        match sql::one(txn, &q, vec![t(claim_id), t(product_code)]).await? {
            Some(r) => Ok(Some((Self::insurer_row(&r)?, text(&r, "region_code")?))),
            None => Ok(None),
        }
    }

    /// Sets a layer's dispute state.
    pub async fn set_layer_dispute(
        txn: &DatabaseTransaction,
        claim_id: &str,
        product_code: &str,
        status: &str,
        disputed: i64,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        match reason {
            Some(reason) => sql::exec(txn, "UPDATE insurer_claims SET status = ?, disputed_fen = ?, dispute_reason = ? WHERE claim_id = ? AND product_code = ?", vec![t(status), i(disputed), t(reason), t(claim_id), t(product_code)]).await?,
            None => sql::exec(txn, "UPDATE insurer_claims SET status = ?, disputed_fen = ? WHERE claim_id = ? AND product_code = ?", vec![t(status), i(disputed), t(claim_id), t(product_code)]).await?,
        };
        Ok(())
    }

    /// Records a step of a dispute (the insurer's dispute or the operator's resolution).
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_dispute(
        txn: &DatabaseTransaction,
        claim_id: &str,
        product_code: &str,
        insurer: &str,
        amount: i64,
        reason: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        sql::exec(
            txn,
            "INSERT INTO disputes (id, claim_id, product_code, insurer_code, amount_fen, reason, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            vec![t(new_id()), t(claim_id), t(product_code), t(insurer), i(amount), t(reason), t(&actor.subject), t(now())],
        )
        .await?;
        Ok(())
    }
}
