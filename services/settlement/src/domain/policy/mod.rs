//! Policy documents: every number of a settlement (起付线, ratios, caps, thresholds, bands,
//! category tilts, tier caps, products) as data, versioned by region × year × scheme.
//!
//! A document is JSON (see `services/settlement/policies/default_bundle.json`; money is integer
//! fen, rates integer basis points, dates `YYYY-MM-DD`); the code
//! implements the mechanisms only (layers, caps, tiers, bands), so a bureau sets its own numbers
//! by uploading a document. [`PolicyDocument::validate`] names the offending field path of every
//! problem it finds.

mod document;
mod validate;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use yibao_core::{Bp, RegionCode};

use super::{FieldError, LevelKey, Scheme, join_errors};

pub use document::{
    AssistanceRule, Backstop, Band, BasicPool, CategoryAmount, CategoryTilt, ChronicDisease,
    ChronicSupplement, CommercialSupplement, CriticalIllness, CrossRegionRules, DeductibleBasis,
    DeductibleRule, LevelBasis, LevelRate, MaternityBenefit, MedicalAssistance, OutpatientPool,
    PolicyDocument, PoorTilt, TierCap,
};

/// The default bundle shipped with the service, built from the seeds (Huoqiu, Jiaozhou,
/// Qinghai, Zhongshan). All numbers not quoted by a seed are illustrative ([I]) defaults.
const DEFAULT_BUNDLE_JSON: &str = include_str!("../../../policies/default_bundle.json");

/// A policy document could not be read or is inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The JSON text is not a policy document.
    #[error("policy document is not valid JSON for the schema: {0}")]
    Parse(String),
    /// The JSON is not of the document's shape (`docs/policy-schema.json`) at a field path
    /// (`basic.rates[0].level`; empty for the document itself, e.g. a missing top-level field).
    #[error("policy document does not match the schema: {0}")]
    Shape(FieldError),
    /// The document parsed but breaks a rule; every problem names its field path.
    #[error("policy document is invalid: {}", join_errors(.0))]
    Invalid(Vec<FieldError>),
}

impl PolicyError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::Parse(_) | PolicyError::Shape(_) => crate::error::POLICY_PARSE.code,
            PolicyError::Invalid(_) => crate::error::POLICY_INVALID.code,
        }
    }
}

/// The JSON schema (draft 2020-12) of a policy document, every field described; the gateway
/// serves it at `/schemas/policy.json` and `docs/policy-schema.json` is a copy (both kept in
/// step with these types by `tests/policy_schema.rs`).
pub const POLICY_SCHEMA_JSON: &str = include_str!("../../../policies/policy-schema.json");

/// Parses JSON text into a document (or bundle), naming the field path of a shape error.
fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, PolicyError> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return PolicyError::Parse(inner.to_string());
        }
        let path = if path == "." { String::new() } else { path };
        PolicyError::Shape(FieldError::new(path, inner.to_string()))
    })
}

/// A set of policy documents, e.g. the default bundle or a bureau's uploads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyBundle {
    /// Documents.
    pub policies: Vec<PolicyDocument>,
}

/// The default bundle from the seeds, parsed and validated.
pub fn default_bundle() -> Result<PolicyBundle, PolicyError> {
    PolicyBundle::from_json(DEFAULT_BUNDLE_JSON)
}

impl PolicyBundle {
    /// Parses a bundle and validates every document (paths prefixed `policies[i].`).
    pub fn from_json(text: &str) -> Result<PolicyBundle, PolicyError> {
        let bundle: PolicyBundle = parse(text)?;
        let mut errors = Vec::new();
        for (i, p) in bundle.policies.iter().enumerate() {
            if let Err(PolicyError::Invalid(errs)) = p.validate() {
                errors.extend(
                    errs.into_iter()
                        .map(|e| FieldError::new(format!("policies[{i}].{}", e.path), e.message)),
                );
            }
        }
        let mut seen = BTreeSet::new();
        for (i, p) in bundle.policies.iter().enumerate() {
            if !seen.insert((p.id.as_str(), p.version)) {
                errors.push(FieldError::new(
                    format!("policies[{i}].version"),
                    "duplicate id and version",
                ));
            }
        }
        if errors.is_empty() {
            Ok(bundle)
        } else {
            Err(PolicyError::Invalid(errors))
        }
    }

    /// The policy for an insured person of `region` and `scheme` on `date`: the most specific
    /// region covering `region` (county before city before province), the year of `date`, and
    /// among versions effective on `date` the highest.
    pub fn find(
        &self,
        region: &RegionCode,
        scheme: Scheme,
        date: NaiveDate,
    ) -> Option<&PolicyDocument> {
        self.policies
            .iter()
            .filter(|p| {
                p.scheme == scheme
                    && p.year == date.year()
                    && p.effective_from <= date
                    && p.region.covers(region)
            })
            .max_by_key(|p| (p.region.prefix().len(), p.version))
    }

    /// Documents by id, all versions.
    pub fn by_id<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a PolicyDocument> + 'a {
        self.policies.iter().filter(move |p| p.id == id)
    }
}

impl PolicyDocument {
    /// Parses one document and validates it.
    pub fn from_json(text: &str) -> Result<PolicyDocument, PolicyError> {
        let doc: PolicyDocument = parse(text)?;
        doc.validate()?;
        Ok(doc)
    }

    /// The document as JSON text (the `document_json` of the contract).
    pub fn to_json(&self) -> Result<String, PolicyError> {
        serde_json::to_string_pretty(self).map_err(|e| PolicyError::Parse(e.to_string()))
    }

    /// The pool rate table row for a level.
    pub fn rate_for(&self, level: LevelKey) -> Option<Bp> {
        self.basic
            .rates
            .iter()
            .find(|r| r.level == level)
            .map(|r| r.rate)
    }

    /// The deductible row for a level.
    pub fn deductible_for(&self, level: LevelKey) -> Option<&DeductibleRule> {
        self.basic.deductibles.iter().find(|d| d.level == level)
    }

    /// A chronic disease by code.
    pub fn chronic_disease(&self, code: &str) -> Option<&ChronicDisease> {
        self.chronic_diseases.iter().find(|d| d.code == code)
    }
}
