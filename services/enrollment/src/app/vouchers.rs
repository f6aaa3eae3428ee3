//! Electronic insurance vouchers (医保电子凭证): issuing a short-lived signed QR payload,
//! resolving a scanned one (signature, expiry, revocation list) to the person and their
//! eligibility today, and revoking.

use super::eligibility::Answer;
use super::tenancy::{scope, scope_file};
use super::{AppError, Enrollment};
use crate::store::entities::{person, voucher};
use crate::store::{Entity, StoreError};
use yibao_runtime::Caller;

/// An issued voucher.
#[derive(Debug, Clone)]
pub struct Issued {
    /// Voucher id.
    pub voucher_id: String,
    /// The signed QR payload.
    pub qr_payload: String,
    /// Expiry (RFC 3339).
    pub expires_at: String,
}

/// A scanned voucher resolved to its person.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The person.
    pub person: person::Model,
    /// Their file and eligibility today.
    pub answer: Answer,
    /// The voucher id, the token of the encounter.
    pub ec_token: String,
}

impl Enrollment {
    /// Issues a voucher valid for `ttl_seconds` to a living person of the caller's region.
    pub async fn issue_voucher(
        &self,
        caller: &Caller,
        person_id: &str,
        ttl_seconds: i32,
    ) -> Result<Issued, AppError> {
        let p = self.store.person(person_id).await?;
        scope(caller, &p)?;
        if p.death_date.is_some() {
            return Err(AppError::PersonDeceased);
        }
        let now = chrono::Utc::now();
        let id = uuid::Uuid::now_v7().to_string();
        let expires = now + chrono::Duration::seconds(i64::from(ttl_seconds));
        let qr = self
            .vouchers
            .sign(&id, &p.id, now.timestamp(), i64::from(ttl_seconds))
            .map_err(|e| AppError::Internal(e.to_string()))?;
        self.store
            .insert_voucher(&id, &p.id, &expires.to_rfc3339())
            .await?;
        Ok(Issued {
            voucher_id: id,
            qr_payload: qr,
            expires_at: expires.to_rfc3339(),
        })
    }

    /// Resolves a scanned payload: refused when malformed, tampered, expired or revoked. A
    /// region-scoped caller (an operator) resolves only vouchers of people living or insured
    /// in their region (refused naming `qr_payload`); hospitals any (cross-region care).
    pub async fn resolve_voucher(
        &self,
        caller: &Caller,
        qr_payload: &str,
    ) -> Result<Resolved, AppError> {
        let v = self
            .vouchers
            .verify(qr_payload, chrono::Utc::now().timestamp())?;
        let record = self
            .store
            .voucher(&v.id)
            .await?
            .ok_or_else(|| StoreError::not_found(Entity::Voucher, v.id.clone()))?;
        if let Some(at) = record.revoked_at {
            return Err(AppError::VoucherRevoked {
                at,
                reason: record.revoke_reason.unwrap_or_default(),
            });
        }
        let (p, file) = self.file_of(&v.person_id).await?;
        scope_file(caller, "qr_payload", &file)?;
        let today = chrono::Utc::now().date_naive();
        Ok(Resolved {
            person: p,
            answer: Answer::decide(file, today),
            ec_token: v.id,
        })
    }

    /// Revokes a voucher of a person of the caller's region (idempotent).
    pub async fn revoke_voucher(
        &self,
        caller: &Caller,
        voucher_id: &str,
        reason: &str,
    ) -> Result<voucher::Model, AppError> {
        let v = self
            .store
            .voucher(voucher_id)
            .await?
            .ok_or_else(|| StoreError::not_found(Entity::Voucher, voucher_id))?;
        let p = self.store.person(&v.person_id).await?;
        scope(caller, &p)?;
        Ok(self.store.revoke_voucher(voucher_id, reason).await?)
    }
}
