//! The policy document and its sections, as data (serde shapes of the JSON documents).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use yibao_core::{Bp, Fen, RegionCode};

use crate::domain::{EncounterKind, InstitutionTier, LevelKey, PersonCategory, Scheme};

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

/// A general-outpatient pool (门诊统筹), e.g. Huoqiu's poor-household "210" pool: 300 yuan a year of
/// eligible cost at 70%, so `annual_limit` (of the pool's payments) is 210 yuan.
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
