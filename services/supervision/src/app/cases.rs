//! Tips (举报), cases opened from findings or tips, recovered funds and whistle-blower
//! rewards. Recording a recovery and paying a reward move money: under a caller's request id
//! they are done once, and a retry gets the first answer back.

use super::{AppError, Supervision, audit, covers};
use crate::domain::{Case, Tip};
use crate::store::{Page, RequestKey, StoredCase};
use chrono::Utc;
use prost::Message;
use yibao_core::{Fen, InstitutionCode, RegionCode};
use yibao_runtime::Caller;
use yibao_runtime::sql::{hex, unhex};

/// Where a case is opened from.
#[derive(Debug, Clone)]
pub enum CaseSource {
    /// Findings, none yet in a case.
    Findings(Vec<String>),
    /// A tip not yet in a case.
    Tip(String),
}

/// A recorded tip and the case opened with it.
#[derive(Debug, Clone)]
pub struct SubmittedTip {
    /// Tip id.
    pub tip_id: String,
    /// The case, when one was opened at once.
    pub case: Option<Case>,
}

/// A tip as submitted.
#[derive(Debug, Clone)]
pub struct TipInput {
    /// Region where it is received.
    pub region: RegionCode,
    /// Institution it names.
    pub institution: Option<InstitutionCode>,
    /// What it says.
    pub description: String,
    /// Whistle-blower's contact (kept apart, never shown).
    pub contact: String,
    /// Open a case at once.
    pub open_case: bool,
}

/// The retry record of a write made under a caller's request id (none without one).
fn request_key(
    rpc: &'static str,
    request_id: &str,
    fingerprint: String,
    response: &impl Message,
) -> Option<RequestKey> {
    let request_id = request_id.trim();
    (!request_id.is_empty()).then(|| RequestKey {
        request_id: request_id.to_string(),
        rpc,
        fingerprint,
        response: hex(&response.encode_to_vec()),
    })
}

impl Supervision {
    /// Opens a case in `region` from findings or a tip of that region.
    pub async fn open_case(
        &self,
        caller: &Caller,
        region: RegionCode,
        source: CaseSource,
    ) -> Result<(Case, String), AppError> {
        let case_id = uuid::Uuid::now_v7().to_string();
        let now = Utc::now();
        match source {
            CaseSource::Findings(ids) => {
                let mut findings = Vec::new();
                for (index, id) in ids.iter().enumerate() {
                    let stored = self.store.finding(id).await?.ok_or_else(|| {
                        AppError::CaseFindingUnknown {
                            index,
                            id: id.clone(),
                        }
                    })?;
                    if !region.covers(&stored.finding.region) {
                        return Err(AppError::CaseFindingOutsideRegion {
                            index,
                            id: id.clone(),
                            region,
                        });
                    }
                    findings.push(stored.finding);
                }
                let case = Case::open_from_findings(&case_id, region, &findings, who(caller), now)?;
                self.store.open_case_from_findings(&case, &ids).await?;
                Ok((case, String::new()))
            }
            CaseSource::Tip(tip_id) => {
                let stored = self
                    .store
                    .tip(&tip_id)
                    .await?
                    .ok_or_else(|| AppError::CaseTipUnknown(tip_id.clone()))?;
                let tip_region = RegionCode::parse(&stored.region).map_err(AppError::corrupt)?;
                if !region.covers(&tip_region) {
                    return Err(AppError::CaseTipOutsideRegion {
                        id: tip_id,
                        received_in: tip_region,
                    });
                }
                let tip = Tip {
                    tip_id: tip_id.clone(),
                    received_at: chrono::DateTime::parse_from_rfc3339(&stored.received_at)
                        .map_err(AppError::corrupt)?
                        .with_timezone(&Utc),
                    whistleblower_ref: if stored.has_contact {
                        format!("tip:{tip_id}")
                    } else {
                        String::new()
                    },
                    institution: if stored.institution.is_empty() {
                        None
                    } else {
                        Some(
                            InstitutionCode::parse(&stored.institution)
                                .map_err(AppError::corrupt)?,
                        )
                    },
                    description: stored.description,
                };
                let case = Case::open_from_tip(&case_id, region, tip, who(caller), now);
                self.store.open_case_from_tip(&case, &tip_id).await?;
                Ok((case, tip_id))
            }
        }
    }

    /// Records a tip, and opens its case at once when asked.
    pub async fn submit_tip(
        &self,
        caller: &Caller,
        input: TipInput,
    ) -> Result<SubmittedTip, AppError> {
        let made = audit(caller);
        let tip_id = uuid::Uuid::now_v7().to_string();
        let case = input.open_case.then(|| {
            let tip = Tip {
                tip_id: tip_id.clone(),
                received_at: made.at,
                whistleblower_ref: if input.contact.is_empty() {
                    String::new()
                } else {
                    format!("tip:{tip_id}")
                },
                institution: input.institution.clone(),
                description: input.description.clone(),
            };
            Case::open_from_tip(
                &uuid::Uuid::now_v7().to_string(),
                input.region.clone(),
                tip,
                who(caller),
                made.at,
            )
        });
        let inst = input
            .institution
            .as_ref()
            .map(|i| i.to_string())
            .unwrap_or_default();
        self.store
            .insert_tip(
                &tip_id,
                &input.region,
                &inst,
                &input.description,
                &input.contact,
                &made,
                case.as_ref(),
            )
            .await?;
        Ok(SubmittedTip { tip_id, case })
    }

    /// Cases of a region (prefix), newest first.
    pub async fn cases(
        &self,
        region_prefix: &str,
        institution: Option<&str>,
        status: Option<&str>,
        page: &Page,
    ) -> Result<Vec<StoredCase>, AppError> {
        Ok(self
            .store
            .cases(region_prefix, institution, status, page)
            .await?)
    }

    /// Records recovered funds of a case (and closes it when asked); `respond` shapes the
    /// answer from the changed case and its tip id. Under a request id, done once.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_recovery<R: Message + Default>(
        &self,
        caller: &Caller,
        id: &str,
        amount: Fen,
        note: &str,
        close: bool,
        request_id: &str,
        respond: impl FnOnce(&Case, &str) -> R,
    ) -> Result<R, AppError> {
        let fingerprint = format!("{id}|{}|{}|{close}", amount.0, note.trim());
        if let Some(first) = self
            .replay::<R>("RecordRecovery", request_id.trim(), &fingerprint)
            .await?
        {
            return Ok(first);
        }
        let stored = self.visible_case(caller, id).await?;
        let mut case = stored.case.clone();
        let now = Utc::now();
        case.record_recovery(amount, who(caller), now, note.trim())?;
        if close {
            case.close(now)?;
        }
        let response = respond(&case, &stored.tip_id);
        let key = request_key("RecordRecovery", request_id, fingerprint, &response);
        self.store.save_case(&stored, &case, key.as_ref()).await?;
        Ok(response)
    }

    /// Pays a whistle-blower's reward of a case; `respond` shapes the answer. Under a request
    /// id, done once.
    pub async fn pay_reward<R: Message + Default>(
        &self,
        caller: &Caller,
        id: &str,
        amount: Fen,
        request_id: &str,
        respond: impl FnOnce(&Case, &str) -> R,
    ) -> Result<R, AppError> {
        let fingerprint = format!("{id}|{}", amount.0);
        if let Some(first) = self
            .replay::<R>("PayReward", request_id.trim(), &fingerprint)
            .await?
        {
            return Ok(first);
        }
        let stored = self.visible_case(caller, id).await?;
        let mut case = stored.case.clone();
        case.pay_reward(amount, &self.reward_policy, &caller.subject, Utc::now())?;
        let response = respond(&case, &stored.tip_id);
        let key = request_key("PayReward", request_id, fingerprint, &response);
        self.store.save_case(&stored, &case, key.as_ref()).await?;
        Ok(response)
    }

    async fn visible_case(&self, caller: &Caller, id: &str) -> Result<StoredCase, AppError> {
        let stored = self
            .store
            .case(id)
            .await?
            .ok_or_else(|| AppError::CaseNotFound(id.to_string()))?;
        covers(caller, "region_code", &stored.case.region)?;
        Ok(stored)
    }

    /// A remembered result of a money-moving request, if this request was made before.
    async fn replay<R: Message + Default>(
        &self,
        rpc: &'static str,
        request_id: &str,
        fingerprint: &str,
    ) -> Result<Option<R>, AppError> {
        if request_id.is_empty() {
            return Ok(None);
        }
        let Some((stored_rpc, stored_fp, response)) = self.store.request_key(request_id).await?
        else {
            return Ok(None);
        };
        if stored_rpc != rpc || stored_fp != fingerprint {
            return Err(AppError::RequestIdReused(request_id.to_string()));
        }
        let bytes = unhex(&response).ok_or_else(|| AppError::corrupt("stored response"))?;
        Ok(Some(
            R::decode(bytes.as_slice()).map_err(AppError::corrupt)?,
        ))
    }
}

/// The caller as a case records who acted: subject and role.
fn who(caller: &Caller) -> (&str, &str) {
    (&caller.subject, caller.role.as_str())
}
