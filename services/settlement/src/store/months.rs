//! A month's rows in keyset pages, for the folds that add a month up (an institution's
//! statement, the ledger reconciliation): the claims settled in the month, the reversals and
//! refunds posted in it, and its ledger lines, each ordered by claim id so that a
//! reconciliation can walk the three side by side one claim at a time. A [`Cursor`] holds one
//! page of one of them; nothing reads a whole month at once.
//!
//! Pages follow `WHERE (k1, k2, …) > (?, ?, …) ORDER BY k1, k2, … LIMIT ?` on the rows' own
//! unique keys, so a page starts exactly where the previous one ended. The indexes of
//! migration `m20261210_000003` serve these reads in key order.

use super::{Store, StoreError, like_prefix, limit, parse, scheme_of};
use crate::domain::{Breakdown, Scheme};
use sea_orm::QueryResult;
use serde::Deserialize;
use std::collections::VecDeque;
use yibao_runtime::sql::{self, int, t, text};

/// Whose month: the claims insured inside a region (prefix), or an institution's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Claims insured inside this region code's prefix.
    Region(&'a str),
    /// Claims of this institution.
    Institution(&'a str),
}

/// A claim settled in the month (its first settlement's breakdown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthClaim {
    /// Claim.
    pub claim_id: String,
    /// Scheme.
    pub scheme: Scheme,
    /// Status text (`settled`, `reversed`, …).
    pub status: String,
    /// The settlement's amounts.
    pub breakdown: Breakdown,
}

/// A reversal or refund posted in the month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthRefund {
    /// Claim.
    pub claim_id: String,
    /// Institution (with the reversal number, the reversal's key).
    pub institution_code: String,
    /// Reversal number.
    pub reversal_no: String,
    /// The claim's scheme.
    pub scheme: Scheme,
    /// What it gave back.
    pub refund: Breakdown,
}

/// A ledger line of the month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthLine {
    /// Line id.
    pub id: String,
    /// Claim.
    pub claim_id: String,
    /// Fund line.
    pub fund_pay_type: String,
    /// Account (`fund:<fund_pay_type>` or `payable:<institution>`).
    pub account: String,
    /// Debit.
    pub debit: i64,
    /// Credit.
    pub credit: i64,
}

/// Only the amounts of a stored settlement (the rest of the document is not parsed).
#[derive(Deserialize)]
struct Amounts {
    breakdown: Breakdown,
}

fn scheme(r: &QueryResult) -> Result<Scheme, StoreError> {
    let s = text(r, "scheme")?;
    scheme_of(&s).ok_or_else(|| StoreError::Corrupt(format!("scheme `{s}`")))
}

impl Store {
    /// Claims of `scope` settled in `month` after claim id `after` ("" for the first page),
    /// at most `rows`, by claim id.
    pub async fn month_claims(
        &self,
        scope: Scope<'_>,
        month: &str,
        after: &str,
        rows: u64,
    ) -> Result<Vec<MonthClaim>, StoreError> {
        let (q, who) = match scope {
            Scope::Region(r) => (
                "SELECT claim_id, scheme, status, settlement_json FROM claims WHERE month = ? AND insured_region LIKE ? AND claim_id > ? ORDER BY claim_id LIMIT ?",
                like_prefix(r),
            ),
            Scope::Institution(i) => (
                "SELECT claim_id, scheme, status, settlement_json FROM claims WHERE institution_code = ? AND month = ? AND claim_id > ? ORDER BY claim_id LIMIT ?",
                i.to_string(),
            ),
        };
        let v = match scope {
            Scope::Region(_) => vec![t(month), t(who), t(after), limit(rows)],
            Scope::Institution(_) => vec![t(who), t(month), t(after), limit(rows)],
        };
        sql::all(self.db(), q, v)
            .await?
            .iter()
            .map(|r| {
                let a: Amounts = parse(&text(r, "settlement_json")?, "settlement")?;
                Ok(MonthClaim {
                    claim_id: text(r, "claim_id")?,
                    scheme: scheme(r)?,
                    status: text(r, "status")?,
                    breakdown: a.breakdown,
                })
            })
            .collect()
    }

    /// Reversals and refunds of `scope`'s claims posted in `month` after the key `after`
    /// (claim id, institution, reversal number; empty for the first page), at most `rows`, in
    /// key order. A region scope takes the claims insured inside it, an institution scope the
    /// institution's reversals.
    pub async fn month_refunds(
        &self,
        scope: Scope<'_>,
        month: &str,
        after: &RefundKey,
        rows: u64,
    ) -> Result<Vec<MonthRefund>, StoreError> {
        let (filter, who) = match scope {
            Scope::Region(r) => ("c.insured_region LIKE ?", like_prefix(r)),
            Scope::Institution(i) => ("r.institution_code = ?", i.to_string()),
        };
        let q = format!(
            "SELECT r.claim_id AS claim_id, r.institution_code AS institution_code, r.reversal_no AS reversal_no, c.scheme AS scheme, r.refund_json AS refund_json FROM reversals r JOIN claims c ON c.claim_id = r.claim_id WHERE r.month = ? AND {filter} AND (r.claim_id, r.institution_code, r.reversal_no) > (?, ?, ?) ORDER BY r.claim_id, r.institution_code, r.reversal_no LIMIT ?"
        );
        let v = vec![
            t(month),
            t(who),
            t(&after.0),
            t(&after.1),
            t(&after.2),
            limit(rows),
        ];
        sql::all(self.db(), &q, v)
            .await?
            .iter()
            .map(|r| {
                Ok(MonthRefund {
                    claim_id: text(r, "claim_id")?,
                    institution_code: text(r, "institution_code")?,
                    reversal_no: text(r, "reversal_no")?,
                    scheme: scheme(r)?,
                    refund: parse(&text(r, "refund_json")?, "refund")?,
                })
            })
            .collect()
    }

    /// Ledger lines (every account) of a region prefix's `month` after the key `after` (claim
    /// id, line id; empty for the first page), at most `rows`, in key order.
    pub async fn month_lines(
        &self,
        region: &str,
        month: &str,
        after: &(String, String),
        rows: u64,
    ) -> Result<Vec<MonthLine>, StoreError> {
        let v = vec![
            t(month),
            t(like_prefix(region)),
            t(&after.0),
            t(&after.1),
            limit(rows),
        ];
        sql::all(
            self.db(),
            "SELECT id, claim_id, fund_pay_type, account, debit_fen, credit_fen FROM ledger_lines WHERE month = ? AND region_code LIKE ? AND (claim_id, id) > (?, ?) ORDER BY claim_id, id LIMIT ?",
            v,
        )
        .await?
        .iter()
        .map(|r| {
            Ok(MonthLine {
                id: text(r, "id")?,
                claim_id: text(r, "claim_id")?,
                fund_pay_type: text(r, "fund_pay_type")?,
                account: text(r, "account")?,
                debit: int(r, "debit_fen")?,
                credit: int(r, "credit_fen")?,
            })
        })
        .collect()
    }
}

/// The key of a reversal in a month's pages: (claim id, institution, reversal number).
pub type RefundKey = (String, String, String);

/// Rows read in keyset pages by claim id.
pub trait Pages {
    /// A row.
    type Row;
    /// The key a page continues after.
    type Key: Default;
    /// The row's claim.
    fn claim_id(row: &Self::Row) -> &str;
    /// The row's key.
    fn key(row: &Self::Row) -> Self::Key;
    /// At most `rows` rows after `after`, in key order.
    fn page(
        &self,
        after: &Self::Key,
        rows: u64,
    ) -> impl Future<Output = Result<Vec<Self::Row>, StoreError>> + Send;
}

/// One page at a time of rows ordered by claim id.
#[derive(Debug)]
pub struct Cursor<P: Pages> {
    pages: P,
    buf: VecDeque<P::Row>,
    after: P::Key,
    rows: u64,
    done: bool,
    read: u64,
}

impl<P: Pages> Cursor<P> {
    /// A cursor over `pages` reading `rows` (at least 1) at a time.
    pub fn new(pages: P, rows: u64) -> Cursor<P> {
        Cursor {
            pages,
            buf: VecDeque::new(),
            after: P::Key::default(),
            rows: rows.max(1),
            done: false,
            read: 0,
        }
    }

    /// The claim of the next row, reading the next page when this one is used up; `None` at
    /// the end.
    pub async fn next_claim(&mut self) -> Result<Option<&str>, StoreError> {
        if self.buf.is_empty() && !self.done {
            let page = self.pages.page(&self.after, self.rows).await?;
            self.done = (page.len() as u64) < self.rows;
            self.read = self.read.saturating_add(1);
            self.buf = page.into();
        }
        Ok(self.buf.front().map(P::claim_id))
    }

    /// The next row, whichever claim it belongs to.
    pub async fn next(&mut self) -> Result<Option<P::Row>, StoreError> {
        if self.next_claim().await?.is_none() {
            return Ok(None);
        }
        let row = self.buf.pop_front();
        if let Some(r) = &row {
            self.after = P::key(r);
        }
        Ok(row)
    }

    /// The next row when it belongs to `claim_id`.
    pub async fn take_of(&mut self, claim_id: &str) -> Result<Option<P::Row>, StoreError> {
        if self.next_claim().await? != Some(claim_id) {
            return Ok(None);
        }
        let row = self.buf.pop_front();
        if let Some(r) = &row {
            self.after = P::key(r);
        }
        Ok(row)
    }

    /// Pages read so far.
    pub fn pages_read(&self) -> u64 {
        self.read
    }
}

/// A scope's claims settled in a month.
#[derive(Debug, Clone, Copy)]
pub struct ClaimPages<'a> {
    /// Store.
    pub store: &'a Store,
    /// Whose.
    pub scope: Scope<'a>,
    /// Month.
    pub month: &'a str,
}

impl Pages for ClaimPages<'_> {
    type Row = MonthClaim;
    type Key = String;
    fn claim_id(row: &MonthClaim) -> &str {
        &row.claim_id
    }
    fn key(row: &MonthClaim) -> String {
        row.claim_id.clone()
    }
    fn page(
        &self,
        after: &String,
        rows: u64,
    ) -> impl Future<Output = Result<Vec<MonthClaim>, StoreError>> + Send {
        self.store.month_claims(self.scope, self.month, after, rows)
    }
}

/// A scope's reversals and refunds posted in a month.
#[derive(Debug, Clone, Copy)]
pub struct RefundPages<'a> {
    /// Store.
    pub store: &'a Store,
    /// Whose.
    pub scope: Scope<'a>,
    /// Month.
    pub month: &'a str,
}

impl Pages for RefundPages<'_> {
    type Row = MonthRefund;
    type Key = RefundKey;
    fn claim_id(row: &MonthRefund) -> &str {
        &row.claim_id
    }
    fn key(row: &MonthRefund) -> RefundKey {
        (
            row.claim_id.clone(),
            row.institution_code.clone(),
            row.reversal_no.clone(),
        )
    }
    fn page(
        &self,
        after: &RefundKey,
        rows: u64,
    ) -> impl Future<Output = Result<Vec<MonthRefund>, StoreError>> + Send {
        self.store
            .month_refunds(self.scope, self.month, after, rows)
    }
}

/// A region's ledger lines of a month.
#[derive(Debug, Clone, Copy)]
pub struct LinePages<'a> {
    /// Store.
    pub store: &'a Store,
    /// Region prefix.
    pub region: &'a str,
    /// Month.
    pub month: &'a str,
}

impl Pages for LinePages<'_> {
    type Row = MonthLine;
    type Key = (String, String);
    fn claim_id(row: &MonthLine) -> &str {
        &row.claim_id
    }
    fn key(row: &MonthLine) -> (String, String) {
        (row.claim_id.clone(), row.id.clone())
    }
    fn page(
        &self,
        after: &(String, String),
        rows: u64,
    ) -> impl Future<Output = Result<Vec<MonthLine>, StoreError>> + Send {
        self.store.month_lines(self.region, self.month, after, rows)
    }
}
