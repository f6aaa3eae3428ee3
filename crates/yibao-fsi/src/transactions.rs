//! The transactions (`infno`) of the interface for designated institutions, as DOMAIN §1.9
//! lists them, with the input node each reads.

/// One transaction of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transaction {
    /// Its number.
    pub infno: &'static str,
    /// Its name on the national platform.
    pub name: &'static str,
    /// What it does.
    pub what: &'static str,
    /// The node of `input` it reads.
    pub input_node: &'static str,
    /// Whether its input names a person (`psn_no`), so the envelope must carry
    /// `insuplc_admdvs`.
    pub names_person: bool,
}

const fn t(
    infno: &'static str,
    name: &'static str,
    what: &'static str,
    input_node: &'static str,
    names_person: bool,
) -> Transaction {
    Transaction {
        infno,
        name,
        what,
        input_node,
        names_person,
    }
}

/// Every transaction the interface defines for an institution's ordinary calls.
pub const TRANSACTIONS: &[Transaction] = &[
    t(
        "9001",
        "签到",
        "sign in: a sign_no for the session",
        "signIn",
        false,
    ),
    t("9002", "签退", "sign out", "signOut", false),
    t(
        "1101",
        "人员信息获取",
        "a person's identity, insurance and categories",
        "data",
        false,
    ),
    t(
        "2201",
        "门诊挂号",
        "outpatient registration: opens an encounter (mdtrt_id)",
        "data",
        true,
    ),
    t(
        "2202",
        "门诊挂号撤销",
        "cancels an outpatient registration",
        "data",
        true,
    ),
    t(
        "2203",
        "门诊就诊信息上传",
        "outpatient visit information (diagnoses)",
        "mdtrtinfo",
        true,
    ),
    t(
        "2204",
        "门诊费用明细信息上传",
        "uploads outpatient fee lines",
        "feedetail",
        true,
    ),
    t(
        "2205",
        "门诊费用明细信息撤销",
        "cancels outpatient fee lines",
        "data",
        true,
    ),
    t(
        "2206",
        "门诊预结算",
        "outpatient pre-settlement (writes nothing)",
        "data",
        true,
    ),
    t("2207", "门诊结算", "outpatient settlement", "data", true),
    t(
        "2208",
        "门诊结算撤销",
        "reverses an outpatient settlement",
        "data",
        true,
    ),
    t(
        "2301",
        "住院费用明细信息上传",
        "uploads inpatient fee lines",
        "feedetail",
        true,
    ),
    t(
        "2302",
        "住院费用明细信息撤销",
        "cancels inpatient fee lines",
        "data",
        true,
    ),
    t(
        "2303",
        "住院预结算",
        "inpatient pre-settlement (writes nothing)",
        "data",
        true,
    ),
    t("2304", "住院结算", "inpatient settlement", "data", true),
    t(
        "2305",
        "住院结算撤销",
        "reverses an inpatient settlement",
        "data",
        true,
    ),
    t(
        "2401",
        "入院办理",
        "admission: opens an inpatient encounter (mdtrt_id)",
        "mdtrtinfo",
        true,
    ),
    t(
        "2402",
        "出院办理",
        "discharge: closes the encounter",
        "dscginfo",
        true,
    ),
    t(
        "2403",
        "住院信息变更",
        "changes an admission's information",
        "adminfo",
        true,
    ),
    t("2404", "入院办理撤销", "cancels an admission", "data", true),
    t("2405", "出院办理撤销", "cancels a discharge", "data", true),
    t(
        "2601",
        "冲正交易",
        "reverses a timed-out transaction by its msgid",
        "data",
        true,
    ),
    t(
        "3201",
        "医药机构费用结算对总账",
        "reconciles totals over a period",
        "data",
        false,
    ),
    t(
        "3202",
        "医药机构费用结算对明细账",
        "reconciles settlement details",
        "data",
        false,
    ),
    t(
        "5203",
        "结算信息查询",
        "a settlement's setlinfo and setldetail",
        "data",
        true,
    ),
    t(
        "5206",
        "人员累计信息查询",
        "a person's accumulators (cuminfo)",
        "data",
        true,
    ),
];

/// The transaction numbered `infno`, if the interface defines it.
pub fn find(infno: &str) -> Option<&'static Transaction> {
    TRANSACTIONS.iter().find(|t| t.infno == infno)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_unique_and_found() {
        let mut seen = std::collections::HashSet::new();
        for t in TRANSACTIONS {
            assert!(seen.insert(t.infno), "{} twice", t.infno);
            assert_eq!(t.infno.len(), 4);
            assert_eq!(find(t.infno), Some(t));
        }
        assert_eq!(find("9999"), None);
        assert!(find("2207").is_some_and(|t| t.names_person && t.input_node == "data"));
        assert!(find("1101").is_some_and(|t| !t.names_person));
    }
}
