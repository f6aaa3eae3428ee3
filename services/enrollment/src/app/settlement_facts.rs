//! The facts settlement pays a claim by, on the claim's date, in one call (decision 10): the
//! person's eligibility and the institution's file come from their caches and are read at
//! once, together with the physician; the person's certifications of the disease and their
//! filings (only when the institution lies outside the person's region) follow, each one
//! indexed query. Enrollment states the facts; settlement decides what they mean for the claim.

use super::eligibility::Answer;
use super::{AppError, Enrollment};
use crate::domain::certifications::{ChronicCertification, CrossRegionFiling, filing_for};
use crate::domain::registry::physicians::Physician;
use crate::domain::registry::{
    Agreement, InstitutionFile, InstitutionStatus, InstitutionVersion, ServiceKind,
};
use chrono::NaiveDate;
use yibao_core::{IdNumber, InstitutionCode};
use yibao_runtime::Caller;

/// What settlement asks about a claim.
#[derive(Debug, Clone)]
pub struct FactsQuery {
    /// The patient.
    pub id_number: IdNumber,
    /// The claim's end date.
    pub date: NaiveDate,
    /// The institution.
    pub institution: InstitutionCode,
    /// The service the claim is settled under.
    pub service: ServiceKind,
    /// The disease of a chronic claim.
    pub disease_code: Option<String>,
    /// The attending physician.
    pub physician_code: Option<String>,
}

/// The institution on the claim's date.
#[derive(Debug, Clone)]
pub struct InstitutionOnDate {
    /// The version in force; `None` when not registered on the date.
    pub version: Option<InstitutionVersion>,
    /// Status on the date.
    pub status: InstitutionStatus,
    /// Why, when not active.
    pub status_reason: String,
    /// The agreement in force for the person's scheme and the service, or why there is none.
    pub agreement: Result<Agreement, String>,
}

/// The answer.
#[derive(Debug, Clone)]
pub struct SettlementFacts {
    /// The person on the date; `None` when no person has the ID number.
    pub person: Option<Answer>,
    /// The institution on the date.
    pub institution: InstitutionOnDate,
    /// The certification in force for the disease.
    pub certification: Option<ChronicCertification>,
    /// The filing in force for the institution's region.
    pub filing: Option<CrossRegionFiling>,
    /// The physician: `None` when not asked, `Some(None)` when not registered.
    pub physician: Option<Option<Physician>>,
}

impl Enrollment {
    /// The facts of a claim. A hospital asks about itself; an operator about people insured
    /// (or, when not enrolled, living) in their region.
    pub async fn settlement_facts(
        &self,
        caller: &Caller,
        q: &FactsQuery,
    ) -> Result<SettlementFacts, AppError> {
        caller.check_org("institution_code", q.institution.as_str())?;
        let physician = async {
            match &q.physician_code {
                Some(code) => Ok::<_, AppError>(Some(self.store.physician(code).await?)),
                None => Ok(None),
            }
        };
        let (person, institution, physician) = tokio::try_join!(
            self.check_eligibility(&q.id_number, q.date),
            self.institution_file(&q.institution),
            physician,
        )?;
        let Some(answer) = person else {
            return Ok(SettlementFacts {
                person: None,
                institution: on_date(q, institution.as_ref(), None),
                certification: None,
                filing: None,
                physician,
            });
        };
        let insured = answer
            .eligibility
            .enrolment
            .as_ref()
            .map_or_else(|| answer.file.region.clone(), |e| e.region.clone());
        caller.check_region("insured_region_code", insured.as_str())?;
        let person_id = answer.file.person_id.clone();
        let treatment = institution
            .as_ref()
            .map_or_else(|| q.institution.region(), InstitutionFile::region);
        let certification = async {
            match &q.disease_code {
                Some(d) => Ok::<_, AppError>(
                    self.store
                        .certifications_of_disease(&person_id, d)
                        .await?
                        .into_iter()
                        .filter(|c| c.in_force(q.date))
                        .max_by_key(|c| c.period.from),
                ),
                None => Ok(None),
            }
        };
        let filing = async {
            if answer.file.region.covers(&treatment) {
                return Ok::<_, AppError>(None);
            }
            let filings = self.store.filings(&person_id).await?;
            Ok(filing_for(&filings, q.date, &treatment).cloned())
        };
        let (certification, filing) = tokio::try_join!(certification, filing)?;
        let scheme = answer.eligibility.enrolment.as_ref().map(|e| e.scheme);
        Ok(SettlementFacts {
            institution: on_date(q, institution.as_ref(), scheme),
            person: Some(answer),
            certification,
            filing,
            physician,
        })
    }
}

/// The institution's standing on the query's date, for the person's `scheme`.
fn on_date(
    q: &FactsQuery,
    file: Option<&InstitutionFile>,
    scheme: Option<crate::domain::Scheme>,
) -> InstitutionOnDate {
    let Some(f) = file else {
        return InstitutionOnDate {
            version: None,
            status: InstitutionStatus::Active,
            status_reason: String::new(),
            agreement: Err(format!(
                "{} is not in the designated-institution registry",
                q.institution
            )),
        };
    };
    let standing = f.status_on(q.date);
    InstitutionOnDate {
        version: f.version_on(q.date).cloned(),
        status: standing.status,
        status_reason: standing
            .change
            .map(|c| c.reason.clone())
            .unwrap_or_default(),
        agreement: match scheme {
            Some(s) => f.agreement_for(q.date, s, q.service).cloned(),
            None => Err(format!(
                "the person has no enrolment on {}, so no scheme to find an agreement for",
                q.date
            )),
        },
    }
}
