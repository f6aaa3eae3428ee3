//! Payment restrictions of a catalogue entry (限定支付, DOMAIN §6.2–6.3): the sex and ages of
//! the persons, the lowest institution grade, the indication (限定支付范围) and the most days'
//! supply the fund pays the entry for. A restriction is checked against the facts given for a
//! claim line; one whose fact is not given is reported as unchecked, never as passed.

use serde::{Deserialize, Serialize};
use yibao_core::Sex;

/// Oldest age a restriction may name, in whole years.
pub const MAX_AGE_YEARS: u32 = 150;

/// Longest indication text, in characters.
const MAX_INDICATION_CHARS: usize = 500;

/// Most diagnosis prefixes of one indication.
const MAX_INDICATION_DIAGNOSES: usize = 100;

/// Most days' supply a restriction may name.
const MAX_DAYS_SUPPLY: u32 = 366;

/// 限定支付 of an entry. Empty (the default): the fund pays the entry for anyone, anywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restrictions {
    /// 限定性别: only for persons of this sex.
    #[serde(default)]
    pub sex: Option<Sex>,
    /// 限定年龄: only from this age (whole years on the date of service, inclusive).
    #[serde(default)]
    pub min_age: Option<u32>,
    /// 限定年龄: only up to this age (inclusive), e.g. 17 for 限儿童 where the local cut-off is
    /// under 18 (DOMAIN §6.3 leaves it local).
    #[serde(default)]
    pub max_age: Option<u32>,
    /// 限定机构等级: only at institutions of this grade or above (1 一级, 2 二级, 3 三级).
    #[serde(default)]
    pub min_institution_grade: Option<u8>,
    /// 限定支付范围 as the catalogue states it (e.g. "限二线用药"); for people, not checked by
    /// itself.
    #[serde(default)]
    pub indication: String,
    /// The diagnoses the indication covers, as 医保版 ICD-10 prefixes (`I10`, `E11.9`): when
    /// given, one of the claim's diagnoses must start with one of them.
    #[serde(default)]
    pub indication_diagnoses: Vec<String>,
    /// 限定支付疗程 / 超量开药: the most days' supply of one claim line.
    #[serde(default)]
    pub max_days_supply: Option<u32>,
}

/// Which restriction a violation or an unchecked restriction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RestrictionKind {
    /// 限定性别.
    Sex,
    /// 限定年龄 (minimum or maximum).
    Age,
    /// 限定机构等级.
    InstitutionGrade,
    /// 限定支付范围 (indication).
    Indication,
    /// 限定支付疗程 (days' supply).
    DaysSupply,
}

/// A restriction a claim line does not meet, with the reason in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Which restriction.
    pub kind: RestrictionKind,
    /// Why the line does not meet it.
    pub reason: String,
}

/// The facts a restriction is checked against; `None` (or empty) where the caller gave none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts<'a> {
    /// The person's sex.
    pub sex: Option<Sex>,
    /// The person's age in whole years on the date of service.
    pub age: Option<u32>,
    /// The institution's grade (1, 2, 3).
    pub institution_grade: Option<u8>,
    /// The claim's diagnoses.
    pub diagnoses: &'a [String],
    /// The line's days of supply.
    pub days_supply: Option<u32>,
}

fn sex_word(s: Sex) -> &'static str {
    match s {
        Sex::Male => "male (男)",
        Sex::Female => "female (女)",
    }
}

/// A diagnosis prefix of an indication: a capital letter, then digits, `.` and `x`, at most 11
/// characters (`I10`, `E11.9`, `I10.x00x002`).
fn is_diagnosis_prefix(p: &str) -> bool {
    let mut chars = p.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase())
        && p.len() <= 11
        && chars.all(|c| c.is_ascii_digit() || c == '.' || c == 'x')
}

impl Restrictions {
    /// True when the entry has no restriction.
    pub fn is_empty(&self) -> bool {
        self == &Restrictions::default()
    }

    /// The column of the first restriction set (for a refusal naming one).
    pub fn first_field(&self) -> &'static str {
        if self.sex.is_some() {
            "sex"
        } else if self.min_age.is_some() {
            "min_age"
        } else if self.max_age.is_some() {
            "max_age"
        } else if self.min_institution_grade.is_some() {
            "min_institution_grade"
        } else if !self.indication.is_empty() {
            "indication"
        } else if !self.indication_diagnoses.is_empty() {
            "indication_diagnoses"
        } else {
            "max_days_supply"
        }
    }

    /// The incoherent parts, each naming its column.
    pub fn problems(&self) -> Vec<super::FieldProblem> {
        let mut out = Vec::new();
        let mut refuse = |field: &'static str, reason: String| {
            out.push(super::FieldProblem { field, reason });
        };
        for (field, age) in [("min_age", self.min_age), ("max_age", self.max_age)] {
            if let Some(a) = age
                && a > MAX_AGE_YEARS
            {
                refuse(field, format!("{a} is above {MAX_AGE_YEARS} years"));
            }
        }
        if let (Some(min), Some(max)) = (self.min_age, self.max_age)
            && max < min
        {
            refuse("max_age", format!("{max} is below min_age {min}"));
        }
        if let Some(g) = self.min_institution_grade
            && !(1..=3).contains(&g)
        {
            refuse(
                "min_institution_grade",
                format!("{g} is not a grade: 1 (一级), 2 (二级) or 3 (三级)"),
            );
        }
        if self.indication.chars().count() > MAX_INDICATION_CHARS {
            refuse(
                "indication",
                format!("must be at most {MAX_INDICATION_CHARS} characters"),
            );
        }
        if self.indication_diagnoses.len() > MAX_INDICATION_DIAGNOSES {
            refuse(
                "indication_diagnoses",
                format!("at most {MAX_INDICATION_DIAGNOSES} prefixes"),
            );
        }
        if let Some(bad) = self
            .indication_diagnoses
            .iter()
            .find(|p| !is_diagnosis_prefix(p))
        {
            refuse(
                "indication_diagnoses",
                format!(
                    "`{bad}` is not an ICD-10 code prefix (a capital letter, then digits, `.` and `x`)"
                ),
            );
        }
        if let Some(d) = self.max_days_supply
            && !(1..=MAX_DAYS_SUPPLY).contains(&d)
        {
            refuse(
                "max_days_supply",
                format!("must be 1 to {MAX_DAYS_SUPPLY} days"),
            );
        }
        out
    }

    /// Checks the restrictions against `facts`: the violated ones with their reasons, and the
    /// ones that could not be checked because their fact was not given (an indication stated
    /// only in words is always among those: it needs a person to judge it).
    pub fn check(&self, facts: &Facts<'_>) -> (Vec<Violation>, Vec<RestrictionKind>) {
        let mut violations = Vec::new();
        let mut unchecked = Vec::new();
        let mut violate = |kind, reason: String| violations.push(Violation { kind, reason });
        if let Some(only) = self.sex {
            match facts.sex {
                Some(s) if s != only => violate(
                    RestrictionKind::Sex,
                    format!(
                        "paid for {} patients only (限定性别); the person is {}",
                        sex_word(only),
                        sex_word(s)
                    ),
                ),
                Some(_) => {}
                None => unchecked.push(RestrictionKind::Sex),
            }
        }
        if self.min_age.is_some() || self.max_age.is_some() {
            match facts.age {
                Some(age) => {
                    if let Some(min) = self.min_age
                        && age < min
                    {
                        violate(
                            RestrictionKind::Age,
                            format!("paid from age {min} (限定年龄); the person is {age}"),
                        );
                    }
                    if let Some(max) = self.max_age
                        && age > max
                    {
                        violate(
                            RestrictionKind::Age,
                            format!("paid up to age {max} (限定年龄); the person is {age}"),
                        );
                    }
                }
                None => unchecked.push(RestrictionKind::Age),
            }
        }
        if let Some(min) = self.min_institution_grade {
            match facts.institution_grade {
                Some(g) if g < min => violate(
                    RestrictionKind::InstitutionGrade,
                    format!(
                        "paid at grade-{min} institutions and above (限定机构等级); the institution is grade {g}"
                    ),
                ),
                Some(_) => {}
                None => unchecked.push(RestrictionKind::InstitutionGrade),
            }
        }
        if !self.indication_diagnoses.is_empty() {
            if facts.diagnoses.is_empty() {
                unchecked.push(RestrictionKind::Indication);
            } else if !facts.diagnoses.iter().any(|d| {
                self.indication_diagnoses
                    .iter()
                    .any(|p| d.trim().starts_with(p.as_str()))
            }) {
                violate(
                    RestrictionKind::Indication,
                    format!(
                        "paid for diagnoses {} only (限定支付范围{}); the claim's diagnoses are {}",
                        self.indication_diagnoses.join(", "),
                        if self.indication.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", self.indication)
                        },
                        facts.diagnoses.join(", ")
                    ),
                );
            }
        } else if !self.indication.is_empty() {
            unchecked.push(RestrictionKind::Indication);
        }
        if let Some(max) = self.max_days_supply {
            match facts.days_supply {
                Some(d) if d > max => violate(
                    RestrictionKind::DaysSupply,
                    format!(
                        "paid for at most {max} days' supply (限定支付疗程); the line supplies {d}"
                    ),
                ),
                Some(_) => {}
                None => unchecked.push(RestrictionKind::DaysSupply),
            }
        }
        (violations, unchecked)
    }
}
