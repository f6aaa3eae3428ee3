//! Institutions' national-interface credentials: issuing (the credential in force, or a new
//! one; rotation replaces it) for an institution of the registry the caller reaches, and
//! resolving a `paasid` for the gateway's signature check (one primary-key look-up plus the
//! cached institution file).

use super::{AppError, Enrollment};
use crate::domain::registry::InstitutionStatus;
use crate::domain::registry::credentials::{
    InterfaceCredential, Issue, SUFFIX_BYTES, TOKEN_BYTES, decide,
};
use crate::store::credentials::{credential_in_force, insert_credential_in, revoke_credential_in};
use crate::store::{Entity, StoreError};
use rand::RngCore as _;
use yibao_core::InstitutionCode;
use yibao_runtime::{Actor, Caller};

/// What an issue request answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The credential in force after the call.
    pub credential: InterfaceCredential,
    /// True when this call issued it.
    pub issued: bool,
}

/// A credential with the institution's status today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The credential in force.
    pub credential: InterfaceCredential,
    /// The institution's status today.
    pub status: InstitutionStatus,
}

/// A new credential of `institution` from the operating system's random source.
fn fresh(institution: &InstitutionCode) -> InterfaceCredential {
    let mut suffix = [0u8; SUFFIX_BYTES];
    let mut token = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    rand::rngs::OsRng.fill_bytes(&mut token);
    InterfaceCredential::new(institution, suffix, token, &crate::store::codec::now())
}

impl Enrollment {
    /// The credential in force of an institution of the registry the caller reaches (an
    /// operator: of their region), issuing one when there is none, or replacing it when
    /// `rotate` is set (the old one is revoked at once). Who issued and revoked is kept with
    /// the rows and in the registry's journal.
    pub async fn issue_interface_credential(
        &self,
        caller: &Caller,
        code: &InstitutionCode,
        rotate: bool,
    ) -> Result<Issued, AppError> {
        const FIELD: &str = "institution_code";
        caller.check_org(FIELD, code.as_str())?;
        let file = self
            .store
            .institution_file(code)
            .await?
            .ok_or_else(|| AppError::Unknown {
                field: FIELD,
                entity: Entity::Institution,
                id: code.to_string(),
            })?;
        caller.check_region(FIELD, file.region().as_str())?;
        // Asking again for the credential in force writes nothing (and takes no write lock:
        // the CLI may ask while `yibao up` serves the same SQLite file).
        if !rotate && let Some(c) = self.store.credential_of_institution(code).await? {
            return Ok(Issued {
                credential: c,
                issued: false,
            });
        }
        let actor = Actor::from(caller);
        let txn = self.store.begin().await?;
        let replaces = match decide(credential_in_force(&*txn, code).await?, rotate) {
            Issue::Keep(c) => {
                txn.rollback().await.map_err(StoreError::from)?;
                return Ok(Issued {
                    credential: c,
                    issued: false,
                });
            }
            Issue::New => None,
            Issue::Replace(old) => Some(old),
        };
        let new = fresh(code);
        if let Some(old) = &replaces {
            revoke_credential_in(&txn, code, old, &new.issued_at, &actor).await?;
        }
        if !insert_credential_in(&txn, &new, replaces.as_deref(), &actor).await? {
            // Another caller put one in force meanwhile: that one answers, unless this call
            // was to replace what it read.
            txn.rollback().await.map_err(StoreError::from)?;
            return match (rotate, self.store.credential_of_institution(code).await?) {
                (false, Some(c)) => Ok(Issued {
                    credential: c,
                    issued: false,
                }),
                _ => Err(StoreError::Conflict(format!(
                    "the interface credentials of {code} changed meanwhile; ask again"
                ))
                .into()),
            };
        }
        txn.commit().await.map_err(StoreError::from)?;
        Ok(Issued {
            credential: new,
            issued: true,
        })
    }

    /// The credential in force with this `paasid` and its institution's status today; an
    /// unknown or revoked `paasid` is not found.
    pub async fn resolve_interface_credential(&self, paasid: &str) -> Result<Resolved, AppError> {
        let credential = self
            .store
            .credential_by_paasid(paasid)
            .await?
            .ok_or_else(|| AppError::Unknown {
                field: "paasid",
                entity: Entity::InterfaceCredential,
                id: paasid.to_string(),
            })?;
        let file = self
            .institution_file(&credential.institution)
            .await?
            .ok_or_else(|| {
                AppError::Internal(format!(
                    "credential {paasid} names {}, which is not in the registry",
                    credential.institution
                ))
            })?;
        let today = chrono::Utc::now().date_naive();
        Ok(Resolved {
            status: file.status_on(today).status,
            credential,
        })
    }
}
