//! Policy documents: every number of a settlement (起付线, ratios, caps, thresholds, bands,
//! category tilts, tier caps, products) as data, versioned by region × year × scheme.
//!
//! A document is JSON (see `services/settlement/policies/default_bundle.json`; money is integer
//! fen, rates integer basis points, dates `YYYY-MM-DD`); the code
//! implements the mechanisms only (layers, caps, tiers, bands), so a bureau sets its own numbers
//! by uploading a document. [`PolicyDocument::validate`] names the offending field path of every
//! problem it finds.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use yibao_core::{Bp, Fen, RegionCode};

use super::{
    EncounterKind, FieldError, InstitutionTier, LevelKey, PersonCategory, Scheme, join_errors,
};

/// The default bundle shipped with the service, built from the seeds (Huoqiu, Jiaozhou,
/// Qinghai, Zhongshan). All numbers not quoted by a seed are illustrative ([I]) defaults.
const DEFAULT_BUNDLE_JSON: &str = include_str!("../../policies/default_bundle.json");

/// A policy document could not be read or is inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The JSON text is not a policy document.
    #[error("policy document is not valid JSON for the schema: {0}")]
    Parse(String),
    /// The document parsed but breaks a rule; every problem names its field path.
    #[error("policy document is invalid: {}", join_errors(.0))]
    Invalid(Vec<FieldError>),
}

impl PolicyError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::Parse(_) => crate::error::POLICY_PARSE.code,
            PolicyError::Invalid(_) => crate::error::POLICY_INVALID.code,
        }
    }
}

/// Whether level-dependent tables are keyed by administrative tier or by hospital grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelBasis {
    /// Tables keyed by township/county/city/province.
    Tier,
    /// Tables keyed by grade1/grade2/grade3.
    Grade,
}

/// How the basic pool's deductible (起付线) is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeductibleBasis {
    /// Each admission has its own deductible (the second and later admissions of the year may
    /// use the lower `repeat_admission` amount).
    PerAdmission,
    /// One deductible per year, consumed across claims.
    Annual,
}

/// A versioned policy document for one region × year × scheme.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    /// Stable identifier, e.g. `341522-2018-resident`.
    pub id: String,
    /// Version within the id; the highest version effective on a date applies.
    pub version: u32,
    /// Human-readable title.
    pub name: String,
    /// The insured region (参保地) this policy is for; a province code covers its cities and
    /// counties, and the most specific document wins ([`PolicyBundle::find`]).
    pub region: RegionCode,
    /// The pooling area (统筹区) when wider than `region` (e.g. Huoqiu county under Lu'an's
    /// city-level pooling, 市级统筹): care inside it is not cross-region.
    #[serde(default)]
    pub pooling_region: Option<RegionCode>,
    /// Insurance year (医保年度), the calendar year.
    pub year: i32,
    /// Scheme.
    pub scheme: Scheme,
    /// First day this version applies (within `year`).
    pub effective_from: NaiveDate,
    /// Where the numbers come from (evidence tags, documents).
    #[serde(default)]
    pub notes: String,
    /// Whether level tables are keyed by tier or grade.
    pub level_basis: LevelBasis,
    /// 乙类先行自付比例: share of a 乙类 item the patient pays first.
    pub preselfpay_share: Bp,
    /// Layer 1, basic pool for inpatient care.
    pub basic: BasicPool,
    /// Maternity flat benefit (定额补助); when absent maternity settles as inpatient.
    #[serde(default)]
    pub maternity: Option<MaternityBenefit>,
    /// General-outpatient pools (门诊统筹), first matching pool applies.
    #[serde(default)]
    pub outpatient_pools: Vec<OutpatientPool>,
    /// Outpatient chronic/special diseases (门诊慢特病), no deductible.
    #[serde(default)]
    pub chronic_diseases: Vec<ChronicDisease>,
    /// Layer 2, critical-illness insurance (大病保险; 大额 for employees).
    #[serde(default)]
    pub critical_illness: Option<CriticalIllness>,
    /// Layer 3, medical assistance (医疗救助).
    #[serde(default)]
    pub assistance: Option<MedicalAssistance>,
    /// Layer 4a, government backstop ("351" 兜底).
    #[serde(default)]
    pub backstop: Option<Backstop>,
    /// Layer 4b, chronic-disease supplement ("180" 补充医疗保障).
    #[serde(default)]
    pub chronic_supplement: Option<ChronicSupplement>,
    /// Rate reductions for cross-region care by filing type.
    #[serde(default)]
    pub cross_region: CrossRegionRules,
    /// Commercial supplementary products (惠民保), settled one-stop after the public layers.
    #[serde(default)]
    pub supplements: Vec<CommercialSupplement>,
}

/// Layer 1 for inpatient care: deductible, rate by level, category tilt, annual cap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicPool {
    /// Per admission or annual.
    pub deductible_basis: DeductibleBasis,
    /// 起付线 by level.
    pub deductibles: Vec<DeductibleRule>,
    /// 支付比例 by level.
    pub rates: Vec<LevelRate>,
    /// Extra points for categories (the highest tilt the person holds applies).
    #[serde(default)]
    pub category_tilts: Vec<CategoryTilt>,
    /// 封顶线: annual maximum paid by the pool; none means uncapped.
    #[serde(default)]
    pub annual_cap: Option<Fen>,
}

/// 起付线 at one level, with lower amounts for repeat admissions and special categories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeductibleRule {
    /// Level.
    pub level: LevelKey,
    /// Amount for a first admission (or the annual amount).
    pub amount: Fen,
    /// Amount for the second and later admissions of the year (per-admission basis only).
    #[serde(default)]
    pub repeat_admission: Option<Fen>,
    /// Lower amounts for categories; the lowest applicable amount wins.
    #[serde(default)]
    pub by_category: Vec<CategoryAmount>,
}

/// An amount for a category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryAmount {
    /// Category.
    pub category: PersonCategory,
    /// Amount.
    pub amount: Fen,
}

/// Pool rate at one level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelRate {
    /// Level.
    pub level: LevelKey,
    /// Rate.
    pub rate: Bp,
}

/// Extra points on the pool rate for a category (capped at 100%).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryTilt {
    /// Category.
    pub category: PersonCategory,
    /// Points added.
    pub plus: Bp,
}

/// Maternity flat benefit: the pool pays up to `flat_amount` of the policy-range cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaternityBenefit {
    /// 定额补助.
    pub flat_amount: Fen,
}

/// A general-outpatient pool (门诊统筹), e.g. Huoqiu's poor-household pool: 300 yuan a year at 70%.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutpatientPool {
    /// Code, unique in the document; the accumulator key.
    pub code: String,
    /// Name.
    pub name: String,
    /// Categories eligible; empty = everyone in the scheme.
    #[serde(default)]
    pub categories: Vec<PersonCategory>,
    /// Encounter kinds (general outpatient and/or pharmacy).
    pub encounter_kinds: Vec<EncounterKind>,
    /// Rate.
    pub rate: Bp,
    /// Deductible per visit.
    #[serde(default)]
    pub per_visit_deductible: Fen,
    /// Annual limit of the pool's payments.
    pub annual_limit: Fen,
}

/// An outpatient chronic or special disease (门诊慢特病) with its own annual cap and rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChronicDisease {
    /// Disease code (门诊慢特病病种目录代码 `opsp_dise_cod`), the accumulator key.
    pub code: String,
    /// Name.
    pub name: String,
    /// Rate (no deductible). Ignored when `settle_as_inpatient` (the inpatient rate applies).
    pub rate: Bp,
    /// Annual cap of the pool's payments for this disease.
    pub annual_cap: Fen,
    /// Settled by the inpatient rules (rate by level, inpatient layers), e.g. haemophilia in Qinghai.
    #[serde(default)]
    pub settle_as_inpatient: bool,
}

/// Layer 2: critical-illness insurance on the cumulative compliant self-pay above a threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CriticalIllness {
    /// Encounter kinds in scope.
    pub encounter_kinds: Vec<EncounterKind>,
    /// 起付线: annual threshold on cumulative 合规个人自付.
    pub threshold: Fen,
    /// Progressive bands on the cumulative amount above the threshold, lowest first.
    pub bands: Vec<Band>,
    /// Annual cap; none = uncapped.
    #[serde(default)]
    pub annual_cap: Option<Fen>,
    /// Tilt for poor and assisted people.
    #[serde(default)]
    pub poor_tilt: Option<PoorTilt>,
}

/// A band of a progressive rate table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    /// Upper bound of the band on the cumulative amount above the threshold; none = open.
    #[serde(default)]
    pub up_to: Option<Fen>,
    /// Rate within the band.
    pub rate: Bp,
}

/// The national poverty tilt of critical-illness insurance: threshold halved, +5 points, no cap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoorTilt {
    /// Categories receiving the tilt.
    pub categories: Vec<PersonCategory>,
    /// Share of the threshold that applies (5000 = halved).
    pub threshold_share: Bp,
    /// Points added to each band's rate.
    pub rate_plus: Bp,
    /// True to lift the annual cap.
    pub no_cap: bool,
}

/// Layer 3: medical assistance by category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MedicalAssistance {
    /// Encounter kinds in scope.
    pub encounter_kinds: Vec<EncounterKind>,
    /// Rules in priority order; the first whose category the person holds applies.
    pub rules: Vec<AssistanceRule>,
}

/// Medical assistance for one category (救助对象).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssistanceRule {
    /// Category.
    pub category: PersonCategory,
    /// Rate on the remaining compliant self-pay.
    pub rate: Bp,
    /// Annual deductible (年度起付标准).
    #[serde(default)]
    pub annual_deductible: Fen,
    /// Annual limit (年度救助限额); none = unlimited.
    #[serde(default)]
    pub annual_limit: Option<Fen>,
}

/// Layer 4a: government backstop ("351"): the patient's annual compliant out-of-pocket is capped
/// by the highest institution tier visited in the year; the excess is paid by the government.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backstop {
    /// Categories eligible (poverty-registered…).
    pub categories: Vec<PersonCategory>,
    /// Encounter kinds in scope.
    pub encounter_kinds: Vec<EncounterKind>,
    /// Annual out-of-pocket cap by tier.
    pub tier_caps: Vec<TierCap>,
    /// Only care inside the insured province counts (省外 excluded).
    #[serde(default)]
    pub in_province_only: bool,
}

/// The backstop cap at one tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierCap {
    /// Tier.
    pub tier: InstitutionTier,
    /// Annual out-of-pocket cap.
    pub cap: Fen,
}

/// Layer 4b: the "180" chronic-disease supplement: a share of the remaining compliant cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChronicSupplement {
    /// Categories eligible.
    pub categories: Vec<PersonCategory>,
    /// Encounter kinds in scope (outpatient chronic).
    pub encounter_kinds: Vec<EncounterKind>,
    /// Rate (8000 = 80%).
    pub rate: Bp,
    /// Annual cap; none = uncapped.
    #[serde(default)]
    pub annual_cap: Option<Fen>,
}

/// Pool-rate reductions for cross-region care without long-term residence (医保发〔2022〕22号 [K]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossRegionRules {
    /// 异地长期居住 / 安置.
    #[serde(default)]
    pub long_term_reduction: Bp,
    /// 转诊转院.
    #[serde(default)]
    pub referral_reduction: Bp,
    /// 急诊抢救.
    #[serde(default)]
    pub emergency_reduction: Bp,
    /// 其他临时外出.
    #[serde(default)]
    pub other_temporary_reduction: Bp,
    /// Without any filing (未备案).
    #[serde(default)]
    pub unfiled_reduction: Bp,
}

/// A commercial supplementary product (惠民保, e.g. Zhongshan 博爱康) paid by an insurer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommercialSupplement {
    /// Product code, the accumulator key.
    pub code: String,
    /// Name.
    pub name: String,
    /// The insurer's organisation code (the insurer caller must own it).
    pub insurer_code: String,
    /// Encounter kinds in scope.
    pub encounter_kinds: Vec<EncounterKind>,
    /// Annual deductible (免赔额) on the covered remainder.
    pub annual_deductible: Fen,
    /// Rate.
    pub rate: Bp,
    /// Annual cap.
    pub annual_cap: Fen,
    /// Also covers the 乙类 first self-pay.
    #[serde(default)]
    pub covers_preselfpay: bool,
    /// Also covers out-of-catalogue (丙类) items.
    #[serde(default)]
    pub covers_out_of_catalogue: bool,
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
        let bundle: PolicyBundle =
            serde_json::from_str(text).map_err(|e| PolicyError::Parse(e.to_string()))?;
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
        let doc: PolicyDocument =
            serde_json::from_str(text).map_err(|e| PolicyError::Parse(e.to_string()))?;
        doc.validate()?;
        Ok(doc)
    }

    /// The document as JSON text (the `document_json` of the contract).
    pub fn to_json(&self) -> Result<String, PolicyError> {
        serde_json::to_string_pretty(self).map_err(|e| PolicyError::Parse(e.to_string()))
    }

    /// Checks the document's internal consistency; every problem names its field path.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let mut v = Validator { errors: Vec::new() };
        if self.id.trim().is_empty() {
            v.err("id", "must not be empty");
        }
        if !(2000..=2100).contains(&self.year) {
            v.err("year", "must be between 2000 and 2100");
        }
        if self.effective_from.year() != self.year {
            v.err("effective_from", "must fall within the policy year");
        }
        v.share("preselfpay_share", self.preselfpay_share);
        self.validate_basic(&mut v);
        if let Some(m) = &self.maternity {
            v.non_negative("maternity.flat_amount", m.flat_amount);
        }
        let mut codes = BTreeSet::new();
        for (i, p) in self.outpatient_pools.iter().enumerate() {
            let at = format!("outpatient_pools[{i}]");
            v.code(&format!("{at}.code"), &p.code, &mut codes);
            v.share(&format!("{at}.rate"), p.rate);
            v.non_negative(
                &format!("{at}.per_visit_deductible"),
                p.per_visit_deductible,
            );
            v.non_negative(&format!("{at}.annual_limit"), p.annual_limit);
            v.kinds(&format!("{at}.encounter_kinds"), &p.encounter_kinds);
            if p.encounter_kinds.iter().any(|k| {
                !matches!(
                    k,
                    EncounterKind::GeneralOutpatient | EncounterKind::Pharmacy
                )
            }) {
                v.err(
                    &format!("{at}.encounter_kinds"),
                    "an outpatient pool covers general_outpatient or pharmacy only",
                );
            }
        }
        let mut codes = BTreeSet::new();
        for (i, d) in self.chronic_diseases.iter().enumerate() {
            let at = format!("chronic_diseases[{i}]");
            v.code(&format!("{at}.code"), &d.code, &mut codes);
            v.share(&format!("{at}.rate"), d.rate);
            v.positive(&format!("{at}.annual_cap"), d.annual_cap);
        }
        if let Some(c) = &self.critical_illness {
            v.kinds("critical_illness.encounter_kinds", &c.encounter_kinds);
            v.non_negative("critical_illness.threshold", c.threshold);
            v.bands("critical_illness.bands", &c.bands);
            if let Some(cap) = c.annual_cap {
                v.non_negative("critical_illness.annual_cap", cap);
            }
            if let Some(t) = &c.poor_tilt {
                v.share(
                    "critical_illness.poor_tilt.threshold_share",
                    t.threshold_share,
                );
                v.share("critical_illness.poor_tilt.rate_plus", t.rate_plus);
                if t.categories.is_empty() {
                    v.err(
                        "critical_illness.poor_tilt.categories",
                        "must name at least one category",
                    );
                }
            }
        }
        if let Some(a) = &self.assistance {
            v.kinds("assistance.encounter_kinds", &a.encounter_kinds);
            let mut cats = BTreeSet::new();
            for (i, r) in a.rules.iter().enumerate() {
                let at = format!("assistance.rules[{i}]");
                if !cats.insert(r.category) {
                    v.err(&format!("{at}.category"), "duplicate category");
                }
                v.share(&format!("{at}.rate"), r.rate);
                v.non_negative(&format!("{at}.annual_deductible"), r.annual_deductible);
                if let Some(l) = r.annual_limit {
                    v.non_negative(&format!("{at}.annual_limit"), l);
                }
            }
        }
        if let Some(b) = &self.backstop {
            v.kinds("backstop.encounter_kinds", &b.encounter_kinds);
            if b.categories.is_empty() {
                v.err("backstop.categories", "must name at least one category");
            }
            if b.tier_caps.is_empty() {
                v.err(
                    "backstop.tier_caps",
                    "must give a cap for at least one tier",
                );
            }
            let mut tiers = BTreeSet::new();
            for (i, t) in b.tier_caps.iter().enumerate() {
                if !tiers.insert(t.tier) {
                    v.err(&format!("backstop.tier_caps[{i}].tier"), "duplicate tier");
                }
                v.non_negative(&format!("backstop.tier_caps[{i}].cap"), t.cap);
            }
        }
        if let Some(s) = &self.chronic_supplement {
            v.kinds("chronic_supplement.encounter_kinds", &s.encounter_kinds);
            v.share("chronic_supplement.rate", s.rate);
            if s.categories.is_empty() {
                v.err(
                    "chronic_supplement.categories",
                    "must name at least one category",
                );
            }
            if let Some(cap) = s.annual_cap {
                v.non_negative("chronic_supplement.annual_cap", cap);
            }
        }
        let cr = &self.cross_region;
        v.share("cross_region.long_term_reduction", cr.long_term_reduction);
        v.share("cross_region.referral_reduction", cr.referral_reduction);
        v.share("cross_region.emergency_reduction", cr.emergency_reduction);
        v.share(
            "cross_region.other_temporary_reduction",
            cr.other_temporary_reduction,
        );
        v.share("cross_region.unfiled_reduction", cr.unfiled_reduction);
        let mut codes = BTreeSet::new();
        for (i, s) in self.supplements.iter().enumerate() {
            let at = format!("supplements[{i}]");
            v.code(&format!("{at}.code"), &s.code, &mut codes);
            if s.insurer_code.trim().is_empty() {
                v.err(&format!("{at}.insurer_code"), "must not be empty");
            }
            v.kinds(&format!("{at}.encounter_kinds"), &s.encounter_kinds);
            v.non_negative(&format!("{at}.annual_deductible"), s.annual_deductible);
            v.share(&format!("{at}.rate"), s.rate);
            v.non_negative(&format!("{at}.annual_cap"), s.annual_cap);
        }
        if v.errors.is_empty() {
            Ok(())
        } else {
            Err(PolicyError::Invalid(v.errors))
        }
    }

    fn validate_basic(&self, v: &mut Validator) {
        let basis_ok = |k: LevelKey| match self.level_basis {
            LevelBasis::Tier => k.is_tier(),
            LevelBasis::Grade => !k.is_tier(),
        };
        if self.basic.rates.is_empty() {
            v.err("basic.rates", "must give a rate for at least one level");
        }
        let mut levels = BTreeSet::new();
        for (i, r) in self.basic.rates.iter().enumerate() {
            let at = format!("basic.rates[{i}]");
            if !basis_ok(r.level) {
                v.err(&format!("{at}.level"), "does not match level_basis");
            }
            if !levels.insert(r.level) {
                v.err(&format!("{at}.level"), "duplicate level");
            }
            v.share(&format!("{at}.rate"), r.rate);
        }
        let mut dlevels = BTreeSet::new();
        for (i, d) in self.basic.deductibles.iter().enumerate() {
            let at = format!("basic.deductibles[{i}]");
            if !basis_ok(d.level) {
                v.err(&format!("{at}.level"), "does not match level_basis");
            }
            if !dlevels.insert(d.level) {
                v.err(&format!("{at}.level"), "duplicate level");
            }
            if !levels.contains(&d.level) {
                v.err(&format!("{at}.level"), "has no rate in basic.rates");
            }
            v.non_negative(&format!("{at}.amount"), d.amount);
            if let Some(r) = d.repeat_admission {
                v.non_negative(&format!("{at}.repeat_admission"), r);
                if self.basic.deductible_basis == DeductibleBasis::Annual {
                    v.err(
                        &format!("{at}.repeat_admission"),
                        "only meaningful with deductible_basis per_admission",
                    );
                }
            }
            for (j, c) in d.by_category.iter().enumerate() {
                v.non_negative(&format!("{at}.by_category[{j}].amount"), c.amount);
            }
        }
        for l in &levels {
            if !dlevels.contains(l) {
                v.err(
                    "basic.deductibles",
                    format!("missing a deductible for level {l:?}").as_str(),
                );
            }
        }
        for (i, t) in self.basic.category_tilts.iter().enumerate() {
            v.share(&format!("basic.category_tilts[{i}].plus"), t.plus);
        }
        if let Some(cap) = self.basic.annual_cap {
            v.positive("basic.annual_cap", cap);
        }
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

struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    fn err(&mut self, path: &str, message: &str) {
        self.errors.push(FieldError::new(path, message));
    }
    fn share(&mut self, path: &str, rate: Bp) {
        if rate.0 > Bp::FULL.0 {
            self.err(path, "a rate must not exceed 10000 bp (100%)");
        }
    }
    fn non_negative(&mut self, path: &str, amount: Fen) {
        if amount.is_negative() {
            self.err(path, "must not be negative");
        }
    }
    fn positive(&mut self, path: &str, amount: Fen) {
        if amount.0 <= 0 {
            self.err(path, "must be positive");
        }
    }
    fn code<'a>(&mut self, path: &str, code: &'a str, seen: &mut BTreeSet<&'a str>) {
        if code.trim().is_empty() {
            self.err(path, "must not be empty");
        } else if !seen.insert(code) {
            self.err(path, "duplicate code");
        }
    }
    fn kinds(&mut self, path: &str, kinds: &[EncounterKind]) {
        if kinds.is_empty() {
            self.err(path, "must name at least one encounter kind");
        }
    }
    fn bands(&mut self, path: &str, bands: &[Band]) {
        if bands.is_empty() {
            self.err(path, "must give at least one band");
            return;
        }
        let mut previous = Fen::ZERO;
        for (i, b) in bands.iter().enumerate() {
            self.share(&format!("{path}[{i}].rate"), b.rate);
            let last = i + 1 == bands.len();
            match (b.up_to, last) {
                (None, false) => self.err(
                    &format!("{path}[{i}].up_to"),
                    "only the last band may be open",
                ),
                (Some(_), true) => self.err(
                    &format!("{path}[{i}].up_to"),
                    "the last band must be open (no up_to)",
                ),
                (Some(u), false) => {
                    if u <= previous {
                        self.err(&format!("{path}[{i}].up_to"), "bands must increase");
                    }
                    previous = u;
                }
                (None, true) => {}
            }
        }
    }
}
