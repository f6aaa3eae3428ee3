//! Rows of national-interface credentials (`interface_credentials`), in portable SQL: one row
//! per credential ever issued, keyed by `paasid`, with who issued it and, once replaced, when
//! and by whom it was revoked. A partial unique index keeps one row in force (`revoked_at IS
//! NULL`) per institution, so two issuers racing cannot both put one in force. Every issue and
//! revocation is journalled in the registry's journal under the institution (never the
//! token).

use super::registry::journal;
use super::{Store, StoreError};
use crate::domain::registry::credentials::InterfaceCredential;
use sea_orm::{ConnectionTrait, DatabaseTransaction, QueryResult};
use yibao_core::InstitutionCode;
use yibao_runtime::Actor;
use yibao_runtime::sql::{self, t, text};

const COLUMNS: &str = "paasid, paas_token, institution_code, issued_at";

fn credential_of(r: &QueryResult) -> Result<InterfaceCredential, StoreError> {
    let code = text(r, "institution_code")?;
    Ok(InterfaceCredential {
        paasid: text(r, "paasid")?,
        paas_token: text(r, "paas_token")?,
        institution: InstitutionCode::parse(&code)
            .map_err(|_| StoreError::Corrupt(format!("stored institution `{code}`")))?,
        issued_at: text(r, "issued_at")?,
    })
}

/// The credential in force of an institution (on `c`: the store's connection, or a
/// transaction).
pub async fn credential_in_force<C: ConnectionTrait>(
    c: &C,
    institution: &InstitutionCode,
) -> Result<Option<InterfaceCredential>, StoreError> {
    sql::one(
        c,
        &format!(
            "SELECT {COLUMNS} FROM interface_credentials WHERE institution_code = ? AND revoked_at IS NULL"
        ),
        vec![t(institution.as_str())],
    )
    .await?
    .as_ref()
    .map(credential_of)
    .transpose()
}

/// Revokes the credential `paasid` of `institution` inside `txn`; a conflict when it is no
/// longer in force (revoked meanwhile: read again).
pub async fn revoke_credential_in(
    txn: &DatabaseTransaction,
    institution: &InstitutionCode,
    paasid: &str,
    at: &str,
    actor: &Actor,
) -> Result<(), StoreError> {
    let n = sql::exec(
        txn,
        "UPDATE interface_credentials SET revoked_at = ?, revoked_by = ?, revoked_role = ? \
         WHERE paasid = ? AND institution_code = ? AND revoked_at IS NULL",
        vec![
            t(at),
            t(actor.subject.clone()),
            t(actor.role.clone()),
            t(paasid),
            t(institution.as_str()),
        ],
    )
    .await?;
    if n != 1 {
        return Err(StoreError::Conflict(format!(
            "the interface credentials of {institution} changed meanwhile; read them again"
        )));
    }
    journal(
        txn,
        institution.as_str(),
        "interface_credential.revoked",
        serde_json::json!({"paasid": paasid}),
        actor,
        at,
    )
    .await
}

/// Puts `new` in force inside `txn`, journalled; `false` (and nothing written) when the
/// institution has a credential in force already (issued meanwhile by another caller).
pub async fn insert_credential_in(
    txn: &DatabaseTransaction,
    new: &InterfaceCredential,
    replaces: Option<&str>,
    actor: &Actor,
) -> Result<bool, StoreError> {
    let n = sql::exec(
        txn,
        "INSERT INTO interface_credentials (paasid, paas_token, institution_code, issued_at, issued_by, issued_role) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        vec![
            t(new.paasid.clone()),
            t(new.paas_token.clone()),
            t(new.institution.as_str()),
            t(new.issued_at.clone()),
            t(actor.subject.clone()),
            t(actor.role.clone()),
        ],
    )
    .await?;
    if n == 0 {
        return Ok(false);
    }
    journal(
        txn,
        new.institution.as_str(),
        "interface_credential.issued",
        serde_json::json!({"paasid": new.paasid, "replaces": replaces}),
        actor,
        &new.issued_at,
    )
    .await?;
    Ok(true)
}

impl Store {
    /// The credential in force with this `paasid` (one primary-key look-up); `None` when it
    /// was never issued or has been revoked.
    pub async fn credential_by_paasid(
        &self,
        paasid: &str,
    ) -> Result<Option<InterfaceCredential>, StoreError> {
        sql::one(
            self.db(),
            &format!(
                "SELECT {COLUMNS} FROM interface_credentials WHERE paasid = ? AND revoked_at IS NULL"
            ),
            vec![t(paasid)],
        )
        .await?
        .as_ref()
        .map(credential_of)
        .transpose()
    }

    /// The credential in force of an institution.
    pub async fn credential_of_institution(
        &self,
        institution: &InstitutionCode,
    ) -> Result<Option<InterfaceCredential>, StoreError> {
        credential_in_force(self.db(), institution).await
    }

    /// Every credential of an institution ever issued, oldest first, with its revocation
    /// time (`None` for the one in force).
    pub async fn credential_history(
        &self,
        institution: &InstitutionCode,
    ) -> Result<Vec<(InterfaceCredential, Option<String>)>, StoreError> {
        sql::all(
            self.db(),
            &format!(
                "SELECT {COLUMNS}, revoked_at FROM interface_credentials WHERE institution_code = ? ORDER BY issued_at, paasid"
            ),
            vec![t(institution.as_str())],
        )
        .await?
        .iter()
        .map(|r| Ok((credential_of(r)?, sql::opt_text(r, "revoked_at")?)))
        .collect()
    }
}
