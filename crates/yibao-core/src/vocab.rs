//! The insurance vocabulary every service shares: the schemes and the person categories,
//! numbered as in `yibao.common.v1` (`Scheme`, `PersonCategory`) so that mapping to and from
//! the contracts is one function, not one per service.
//!
//! In JSON (policy documents, journals) a category is written in snake case
//! (`minimum_living`); the PascalCase spelling written by earlier versions is still read.

use serde::{Deserialize, Serialize};

/// A basic medical-insurance scheme (险种).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// 职工基本医疗保险 (insutype 310).
    #[serde(alias = "Employee")]
    Employee,
    /// 城乡居民基本医疗保险 (insutype 390).
    #[serde(alias = "Resident")]
    Resident,
}

impl Scheme {
    /// Both schemes, in contract order.
    pub const ALL: [Scheme; 2] = [Scheme::Employee, Scheme::Resident];

    /// Parses `employee` / `resident`, the national codes 310 / 390, or the contract's names.
    pub fn parse(s: &str) -> Option<Scheme> {
        match s.trim().to_ascii_lowercase().as_str() {
            "employee" | "310" | "scheme_employee" => Some(Scheme::Employee),
            "resident" | "390" | "scheme_resident" => Some(Scheme::Resident),
            _ => None,
        }
    }

    /// The national insurance-type code (`insutype`).
    pub fn insutype(self) -> &'static str {
        match self {
            Scheme::Employee => "310",
            Scheme::Resident => "390",
        }
    }

    /// The `yibao.common.v1.Scheme` number.
    pub fn proto_number(self) -> i32 {
        match self {
            Scheme::Employee => 1,
            Scheme::Resident => 2,
        }
    }

    /// From a `yibao.common.v1.Scheme` number (`None` for unspecified or unknown).
    pub fn from_proto_number(n: i32) -> Option<Scheme> {
        Scheme::ALL.into_iter().find(|s| s.proto_number() == n)
    }
}

/// A person's category (人员类别), which opens subsidies and the assistance layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonCategory {
    /// 低保对象: minimum-living-allowance recipient.
    #[serde(alias = "MinimumLiving")]
    MinimumLiving,
    /// 特困人员: person in extreme poverty.
    #[serde(alias = "ExtremePoverty")]
    ExtremePoverty,
    /// 脱贫/建档立卡: poverty-registered.
    #[serde(alias = "PovertyRegistered")]
    PovertyRegistered,
    /// 五保户: five-guarantee household member.
    #[serde(alias = "FiveGuarantees")]
    FiveGuarantees,
    /// 残疾人: disabled.
    #[serde(alias = "Disabled")]
    Disabled,
    /// 低保边缘/低收入: low-income.
    #[serde(alias = "LowIncome")]
    LowIncome,
    /// 学生: student.
    #[serde(alias = "Student")]
    Student,
    /// 退休: retiree.
    #[serde(alias = "Retiree")]
    Retiree,
}

impl PersonCategory {
    /// All categories, in contract order (numbers 1..=8).
    pub const ALL: [PersonCategory; 8] = [
        PersonCategory::MinimumLiving,
        PersonCategory::ExtremePoverty,
        PersonCategory::PovertyRegistered,
        PersonCategory::FiveGuarantees,
        PersonCategory::Disabled,
        PersonCategory::LowIncome,
        PersonCategory::Student,
        PersonCategory::Retiree,
    ];

    /// The `yibao.common.v1.PersonCategory` number.
    pub fn proto_number(self) -> i32 {
        match self {
            PersonCategory::MinimumLiving => 1,
            PersonCategory::ExtremePoverty => 2,
            PersonCategory::PovertyRegistered => 3,
            PersonCategory::FiveGuarantees => 4,
            PersonCategory::Disabled => 5,
            PersonCategory::LowIncome => 6,
            PersonCategory::Student => 7,
            PersonCategory::Retiree => 8,
        }
    }

    /// From a `yibao.common.v1.PersonCategory` number (`None` for unspecified or unknown).
    pub fn from_proto_number(n: i32) -> Option<PersonCategory> {
        PersonCategory::ALL
            .into_iter()
            .find(|c| c.proto_number() == n)
    }

    /// The snake-case name used in JSON and policy documents.
    pub fn as_str(self) -> &'static str {
        match self {
            PersonCategory::MinimumLiving => "minimum_living",
            PersonCategory::ExtremePoverty => "extreme_poverty",
            PersonCategory::PovertyRegistered => "poverty_registered",
            PersonCategory::FiveGuarantees => "five_guarantees",
            PersonCategory::Disabled => "disabled",
            PersonCategory::LowIncome => "low_income",
            PersonCategory::Student => "student",
            PersonCategory::Retiree => "retiree",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_both_json_spellings_are_read() {
        for c in PersonCategory::ALL {
            assert_eq!(PersonCategory::from_proto_number(c.proto_number()), Some(c));
            let json = serde_json::to_string(&c).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(serde_json::from_str::<PersonCategory>(&json).ok(), Some(c));
        }
        let old: Option<PersonCategory> = serde_json::from_str("\"MinimumLiving\"").ok();
        assert_eq!(old, Some(PersonCategory::MinimumLiving));
        assert_eq!(PersonCategory::from_proto_number(0), None);
        assert_eq!(Scheme::parse("390"), Some(Scheme::Resident));
        assert_eq!(
            Scheme::from_proto_number(1).map(Scheme::insutype),
            Some("310")
        );
        assert_eq!(
            serde_json::to_string(&Scheme::Employee).ok().as_deref(),
            Some("\"employee\"")
        );
    }
}
