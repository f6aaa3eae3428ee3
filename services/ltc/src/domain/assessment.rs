//! The national disability assessment (《长期护理失能等级评估标准（试行）》, 医保办发〔2021〕37号):
//! 3 first-level indicators (日常生活活动能力 ADL, 认知能力, 感知觉与沟通能力) scored item by item,
//! each banded into an impairment, combined by the table (组合法) into a disability level 0–5.
//! The level is always computed here from the items, never typed in. Dementia (重度失智) is
//! recorded separately and does not change the level.

use super::DomainError;
use crate::error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// First-level indicator (一级指标).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Indicator {
    /// 日常生活活动能力 (10 items, 0–100).
    Adl,
    /// 认知能力 (4 items × 0–4, 0–16).
    Cognition,
    /// 感知觉与沟通能力 (3 items × 0–4, 0–12).
    Perception,
}

/// An item (二级指标) of the standard: 10 ADL, 4 cognition, 3 perception and communication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Item {
    /// 进食: 0 / 5 / 10.
    Feeding,
    /// 穿衣: 0 / 5 / 10.
    Dressing,
    /// 面部与口腔清洁: 0 / 5.
    Grooming,
    /// 大便控制: 0 / 5 / 10.
    Bowel,
    /// 小便控制: 0 / 5 / 10.
    Bladder,
    /// 用厕: 0 / 5 / 10.
    Toilet,
    /// 平地行走: 0 / 5 / 10 / 15.
    Walking,
    /// 床椅转移: 0 / 5 / 10 / 15.
    Transfer,
    /// 上下楼: 0 / 5 / 10.
    Stairs,
    /// 洗澡: 0 / 5.
    Bathing,
    /// 时间定向: 0–4.
    TimeOrientation,
    /// 人物定向: 0–4.
    PersonOrientation,
    /// 空间定向: 0–4.
    PlaceOrientation,
    /// 记忆力: 0–4.
    Memory,
    /// 视力: 0–4.
    Vision,
    /// 听力: 0–4.
    Hearing,
    /// 沟通能力: 0–4.
    Communication,
}

impl Item {
    /// All 17 items, in the standard's order.
    pub const ALL: [Item; 17] = [
        Item::Feeding,
        Item::Dressing,
        Item::Grooming,
        Item::Bowel,
        Item::Bladder,
        Item::Toilet,
        Item::Walking,
        Item::Transfer,
        Item::Stairs,
        Item::Bathing,
        Item::TimeOrientation,
        Item::PersonOrientation,
        Item::PlaceOrientation,
        Item::Memory,
        Item::Vision,
        Item::Hearing,
        Item::Communication,
    ];

    /// The code used in the contract (`adl.feeding`, `cognition.memory`, …).
    pub fn code(self) -> &'static str {
        match self {
            Item::Feeding => "adl.feeding",
            Item::Dressing => "adl.dressing",
            Item::Grooming => "adl.grooming",
            Item::Bowel => "adl.bowel",
            Item::Bladder => "adl.bladder",
            Item::Toilet => "adl.toilet",
            Item::Walking => "adl.walking",
            Item::Transfer => "adl.transfer",
            Item::Stairs => "adl.stairs",
            Item::Bathing => "adl.bathing",
            Item::TimeOrientation => "cognition.time",
            Item::PersonOrientation => "cognition.person",
            Item::PlaceOrientation => "cognition.place",
            Item::Memory => "cognition.memory",
            Item::Vision => "perception.vision",
            Item::Hearing => "perception.hearing",
            Item::Communication => "perception.communication",
        }
    }

    /// Parses a contract code.
    pub fn parse(code: &str) -> Option<Item> {
        Item::ALL.into_iter().find(|i| i.code() == code)
    }

    /// The indicator the item belongs to.
    pub fn indicator(self) -> Indicator {
        match self {
            Item::TimeOrientation
            | Item::PersonOrientation
            | Item::PlaceOrientation
            | Item::Memory => Indicator::Cognition,
            Item::Vision | Item::Hearing | Item::Communication => Indicator::Perception,
            _ => Indicator::Adl,
        }
    }

    /// The scores the standard allows for the item.
    pub fn allowed(self) -> &'static [u32] {
        match self {
            Item::Grooming | Item::Bathing => &[0, 5],
            Item::Feeding
            | Item::Dressing
            | Item::Bowel
            | Item::Bladder
            | Item::Toilet
            | Item::Stairs => &[0, 5, 10],
            Item::Walking | Item::Transfer => &[0, 5, 10, 15],
            _ => &[0, 1, 2, 3, 4],
        }
    }
}

/// Impairment of one indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Impairment {
    /// 能力完好.
    Intact,
    /// 轻度受损.
    Mild,
    /// 中度受损.
    Moderate,
    /// 重度受损.
    Severe,
}

impl Impairment {
    /// ADL (0–100): 100 intact, 65–95 mild, 45–60 moderate, ≤ 40 severe.
    pub fn of_adl(score: u32) -> Impairment {
        match score {
            100.. => Impairment::Intact,
            65..=99 => Impairment::Mild,
            45..=64 => Impairment::Moderate,
            _ => Impairment::Severe,
        }
    }

    /// Cognition (0–16): 16 intact, 12–15 mild, 4–11 moderate, 0–3 severe.
    pub fn of_cognition(score: u32) -> Impairment {
        match score {
            16.. => Impairment::Intact,
            12..=15 => Impairment::Mild,
            4..=11 => Impairment::Moderate,
            _ => Impairment::Severe,
        }
    }

    /// Perception and communication (0–12): 12 intact, 8–11 mild, 4–7 moderate, 0–3 severe.
    pub fn of_perception(score: u32) -> Impairment {
        match score {
            12.. => Impairment::Intact,
            8..=11 => Impairment::Mild,
            4..=7 => Impairment::Moderate,
            _ => Impairment::Severe,
        }
    }
}

/// Disability level (失能等级) 0–5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DisabilityLevel {
    /// 0 基本正常.
    Normal,
    /// 1 轻度失能.
    Mild,
    /// 2 中度失能.
    Moderate,
    /// 3 重度失能Ⅰ级.
    Severe1,
    /// 4 重度失能Ⅱ级.
    Severe2,
    /// 5 重度失能Ⅲ级.
    Severe3,
}

impl DisabilityLevel {
    /// All levels, 0 to 5.
    pub const ALL: [DisabilityLevel; 6] = [
        DisabilityLevel::Normal,
        DisabilityLevel::Mild,
        DisabilityLevel::Moderate,
        DisabilityLevel::Severe1,
        DisabilityLevel::Severe2,
        DisabilityLevel::Severe3,
    ];

    /// The number of the standard, 0–5.
    pub fn number(self) -> u8 {
        match self {
            DisabilityLevel::Normal => 0,
            DisabilityLevel::Mild => 1,
            DisabilityLevel::Moderate => 2,
            DisabilityLevel::Severe1 => 3,
            DisabilityLevel::Severe2 => 4,
            DisabilityLevel::Severe3 => 5,
        }
    }

    /// The level of a number 0–5.
    pub fn from_number(n: u8) -> Option<DisabilityLevel> {
        DisabilityLevel::ALL.get(usize::from(n)).copied()
    }

    /// The combination table (组合法): rows the ADL impairment, columns the worse of cognition
    /// and perception.
    pub fn combine(
        adl: Impairment,
        cognition: Impairment,
        perception: Impairment,
    ) -> DisabilityLevel {
        use DisabilityLevel as L;
        use Impairment as I;
        let other = cognition.max(perception);
        match (adl, other) {
            (I::Intact, I::Intact | I::Mild) => L::Normal,
            (I::Intact, I::Moderate | I::Severe) => L::Mild,
            (I::Mild, I::Intact | I::Mild | I::Moderate) => L::Mild,
            (I::Mild, I::Severe) => L::Moderate,
            (I::Moderate, I::Intact | I::Mild | I::Moderate) => L::Moderate,
            (I::Moderate, I::Severe) => L::Severe1,
            (I::Severe, I::Intact | I::Mild) => L::Severe1,
            (I::Severe, I::Moderate) => L::Severe2,
            (I::Severe, I::Severe) => L::Severe3,
        }
    }
}

/// A complete, valid score sheet of one assessor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreSheet {
    scores: BTreeMap<Item, u32>,
    /// 重度失智 recorded.
    pub dementia: bool,
}

/// What an assessment concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssessmentResult {
    /// ADL total.
    pub adl_score: u32,
    /// Cognition total.
    pub cognition_score: u32,
    /// Perception and communication total.
    pub perception_score: u32,
    /// ADL impairment.
    pub adl: Impairment,
    /// Cognition impairment.
    pub cognition: Impairment,
    /// Perception impairment.
    pub perception: Impairment,
    /// The computed level.
    pub level: DisabilityLevel,
    /// 重度失智.
    pub dementia: bool,
}

fn item_field(prefix: &str, item: Item) -> String {
    format!("{prefix}[{}]", item.code())
}

impl ScoreSheet {
    /// Validates raw item scores (`code → score`) into a sheet. Refused, naming the item under
    /// `prefix` (e.g. `items[adl.walking]`): an unknown code, a missing item (incomplete), a score
    /// the standard does not allow, or scores that contradict each other (inconsistent).
    pub fn parse(
        prefix: &str,
        raw: &BTreeMap<String, u32>,
        dementia: bool,
    ) -> Result<ScoreSheet, DomainError> {
        let mut violations = Vec::new();
        for code in raw.keys() {
            if Item::parse(code).is_none() {
                violations.push((
                    format!("{prefix}[{code}]"),
                    "is not an item of the national standard".to_string(),
                ));
            }
        }
        let mut scores = BTreeMap::new();
        for item in Item::ALL {
            match raw.get(item.code()) {
                None => violations.push((
                    item_field(prefix, item),
                    "missing: every item of the standard must be scored".into(),
                )),
                Some(v) if !item.allowed().contains(v) => violations.push((
                    item_field(prefix, item),
                    format!("score {v} is not allowed; allowed: {:?}", item.allowed()),
                )),
                Some(v) => {
                    scores.insert(item, *v);
                }
            }
        }
        if violations.is_empty() {
            let get = |i: Item| scores.get(&i).copied().unwrap_or(0);
            // A person who cannot sit (床椅转移 0) is bedridden: cannot walk on the flat.
            if get(Item::Transfer) == 0 && get(Item::Walking) > 0 {
                violations.push((
                    item_field(prefix, Item::Walking),
                    "inconsistent: adl.transfer 0 (cannot sit) requires adl.walking 0 (bedridden)"
                        .into(),
                ));
            }
            // A bedridden person (平地行走 0) cannot go up and down stairs.
            if get(Item::Walking) == 0 && get(Item::Stairs) > 0 {
                violations.push((
                    item_field(prefix, Item::Stairs),
                    "inconsistent: adl.walking 0 (bedridden) requires adl.stairs 0".into(),
                ));
            }
        }
        if violations.is_empty() {
            Ok(ScoreSheet { scores, dementia })
        } else {
            Err(DomainError::InvalidFields {
                code: error::SCORE_SHEET_INVALID.code,
                violations,
            })
        }
    }

    /// The score of an item.
    pub fn score(&self, item: Item) -> u32 {
        self.scores.get(&item).copied().unwrap_or(0)
    }

    /// The items and their scores.
    pub fn items(&self) -> impl Iterator<Item = (Item, u32)> + '_ {
        self.scores.iter().map(|(i, s)| (*i, *s))
    }

    /// Total of an indicator.
    pub fn total(&self, indicator: Indicator) -> u32 {
        self.scores
            .iter()
            .filter(|(i, _)| i.indicator() == indicator)
            .map(|(_, s)| *s)
            .sum()
    }

    /// The level and the indicators' bands.
    pub fn result(&self) -> AssessmentResult {
        let adl_score = self.total(Indicator::Adl);
        let cognition_score = self.total(Indicator::Cognition);
        let perception_score = self.total(Indicator::Perception);
        let adl = Impairment::of_adl(adl_score);
        let cognition = Impairment::of_cognition(cognition_score);
        let perception = Impairment::of_perception(perception_score);
        AssessmentResult {
            adl_score,
            cognition_score,
            perception_score,
            adl,
            cognition,
            perception,
            level: DisabilityLevel::combine(adl, cognition, perception),
            dementia: self.dementia,
        }
    }
}

/// Combines the sheets of an assessment's assessors. The assessors must agree on the level and
/// on dementia; when they do not, the items on which the sheets differ are named (field
/// `prefix[item]`) so the assessors can reconcile. The result reported is the first sheet's.
pub fn combine_sheets(
    prefix: &str,
    sheets: &[ScoreSheet],
) -> Result<AssessmentResult, DomainError> {
    let Some(first) = sheets.first() else {
        return Err(DomainError::Precondition {
            code: error::NO_SCORE_SHEET.code,
            message: "no score sheet submitted".into(),
        });
    };
    let result = first.result();
    for other in &sheets[1..] {
        let r = other.result();
        if r.level != result.level || r.dementia != result.dementia {
            let mut violations: Vec<(String, String)> = Item::ALL
                .into_iter()
                .filter(|i| first.score(*i) != other.score(*i))
                .map(|i| {
                    (
                        item_field(prefix, i),
                        format!(
                            "assessors disagree: {} against {}",
                            first.score(i),
                            other.score(i)
                        ),
                    )
                })
                .collect();
            if r.dementia != result.dementia {
                violations.push(("dementia".into(), "assessors disagree on 重度失智".into()));
            }
            return Err(DomainError::InvalidFields {
                code: error::ASSESSORS_DISAGREE.code,
                violations,
            });
        }
    }
    Ok(result)
}
