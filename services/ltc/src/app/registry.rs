//! The registry's part of LTC (decision 10's "trust nothing the caller declares"): one call to
//! enrollment's `GetInstitution` for the care institution's file, with the caller's token, and
//! its admission on the dates concerned (`domain::registry::admit`): an application's date, a
//! placement's first day, each new care record's date, every date a monthly run settles.
//! Refused → `LTC_INSTITUTION_NOT_DESIGNATED` naming `institution_code`, nothing written.

use super::{AppError, Credentials, Ltc};
use crate::domain::registry::{InstitutionFile, admit};
use chrono::NaiveDate;
use yibao_core::InstitutionCode;

impl Ltc {
    /// The registry's file of `code` (`None`: not registered).
    pub(crate) async fn registry_file(
        &self,
        credentials: &Credentials,
        code: &InstitutionCode,
    ) -> Result<Option<InstitutionFile>, AppError> {
        self.enrollment.institution(credentials, code).await
    }

    /// `code` is a designated LTC provider on `date`: its LTC agreement's number.
    pub(crate) async fn admitted_on(
        &self,
        credentials: &Credentials,
        code: &InstitutionCode,
        date: NaiveDate,
    ) -> Result<String, AppError> {
        let file = self.registry_file(credentials, code).await?;
        Ok(admit(code.as_str(), date, file.as_ref())?)
    }
}
