//! An institution's month by scheme, folded over keyset pages of the month's claims and
//! reversals with checked sums.

use super::months::{ClaimPages, Cursor, RefundPages, Scope};
use super::{ClaimStatus, Store, StoreError};
use crate::domain::{Scheme, StatementTotals};
use std::collections::BTreeMap;

impl Store {
    /// An institution's month by scheme: the claims settled in the month (counted while not
    /// reversed or superseded) less what reversals and refunds posted in the month gave back.
    pub async fn statement(
        &self,
        institution: &str,
        month: &str,
    ) -> Result<BTreeMap<Scheme, StatementTotals>, StoreError> {
        let overflow =
            || StoreError::Overflow(format!("the statement of {institution} for {month}"));
        let scope = Scope::Institution(institution);
        let mut out: BTreeMap<Scheme, StatementTotals> = BTreeMap::new();
        let mut claims = Cursor::new(
            ClaimPages {
                store: self,
                scope,
                month,
            },
            self.read_page(),
        );
        while let Some(c) = claims.next().await? {
            let open = c.status != ClaimStatus::Reversed.as_str()
                && c.status != ClaimStatus::Superseded.as_str();
            out.entry(c.scheme)
                .or_default()
                .add_settlement(&c.breakdown, open)
                .map_err(|_| overflow())?;
        }
        let mut refunds = Cursor::new(
            RefundPages {
                store: self,
                scope,
                month,
            },
            self.read_page(),
        );
        while let Some(r) = refunds.next().await? {
            out.entry(r.scheme)
                .or_default()
                .add_refund(&r.refund)
                .map_err(|_| overflow())?;
        }
        Ok(out)
    }
}
