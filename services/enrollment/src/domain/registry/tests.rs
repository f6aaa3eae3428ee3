#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::physicians::{PhysicianStatus, parse_physicians};
use super::roster::{parse_roster, plan};
use super::*;
use std::collections::HashMap;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn huoqiu() -> RegionCode {
    RegionCode::parse("341522").unwrap()
}

const HEADER: &str = "institution_code,name,kind,grade,tier,effective_from,region_code,beds,agreement_no,agreement_from,agreement_to,schemes,service_kinds\n";

fn roster(rows: &str) -> String {
    format!("{HEADER}{rows}")
}

/// The county hospital with two agreements and a pharmacy with one.
fn good() -> String {
    roster(
        "H34152200001,霍邱县第一人民医院,hospital,2,county,2015-01-01,,600,HQ-2024-001,2024-01-01,2026-12-31,resident;employee,inpatient;outpatient;chronic\n\
         H34152200001,霍邱县第一人民医院,hospital,2,county,2015-01-01,,600,HQ-2024-002,2024-01-01,2024-06-30,resident,pharmacy\n\
         P34152200001,霍邱县城关大药房,pharmacy,ungraded,county,2016-03-01,341522,0,HQ-P-001,2024-01-01,2026-12-31,resident,pharmacy\n",
    )
}

fn file_of(text: &str) -> InstitutionFile {
    let rows = parse_roster(text, &huoqiu()).unwrap();
    let code = rows[0].code.clone();
    let mut f = InstitutionFile {
        code: code.clone(),
        versions: Vec::new(),
        agreements: Vec::new(),
        status_changes: Vec::new(),
    };
    for r in rows.into_iter().filter(|r| r.code == code) {
        if !f.versions.contains(&r.version) {
            f.versions.push(r.version);
        }
        f.agreements.extend(r.agreement);
    }
    f
}

#[test]
fn a_good_roster_gives_one_version_per_institution_and_one_agreement_per_row() {
    let rows = parse_roster(&good(), &huoqiu()).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].line, 2);
    assert_eq!(rows[0].version.grade, Grade::Grade2);
    assert_eq!(rows[0].version.tier, Tier::County);
    assert_eq!(rows[0].version.region, huoqiu());
    assert_eq!(rows[0].version.beds, 600);
    let a = rows[0].agreement.as_ref().unwrap();
    assert_eq!(a.schemes, vec![Scheme::Employee, Scheme::Resident]);
    assert_eq!(
        a.services,
        vec![
            ServiceKind::Inpatient,
            ServiceKind::Outpatient,
            ServiceKind::Chronic
        ]
    );
    assert_eq!(rows[2].version.kind, InstitutionKind::Pharmacy);
    assert_eq!(rows[2].version.grade, Grade::Ungraded);
}

#[test]
fn every_bad_row_is_named_by_line_and_column_and_a_row_may_have_several() {
    let text = roster(
        "H34152200001,霍邱县第一人民医院,hospital,4,county,2015-01-01,,600,,,,,\n\
         H3415220000X,,surgery,2,metro,2015-13-01,,-1,,,,,\n\
         H34010000001,合肥某医院,hospital,3,province,2015-01-01,,900,,,,,\n\
         P34152200002,药房,hospital,ungraded,county,2016-01-01,,0,,,,,\n\
         H34152200003,卫生院,hospital,1,township,2016-01-01,,40,A-1,2024-01-01,2023-01-01,farmer,surgery\n\
         H34152200004,卫生院,hospital,1,township,2016-01-01,,40,,2024-01-01,,,\n\
         P34152200005,药房,pharmacy,ungraded,county,2016-01-01,,0,P-1,2024-01-01,2024-12-31,resident,inpatient;pharmacy\n\
         H34152200006,卫生院,hospital,1,township\n",
    );
    let errors = parse_roster(&text, &huoqiu()).unwrap_err();
    let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
    assert_eq!(
        got,
        [
            (2, "grade"),
            (3, "institution_code"),
            (3, "name"),
            (3, "kind"),
            (3, "tier"),
            (3, "effective_from"),
            (3, "beds"),
            (4, "institution_code"),
            (5, "kind"),
            (6, "agreement_to"),
            (6, "schemes"),
            (6, "service_kinds"),
            (7, "agreement_from"),
            (8, "service_kinds"),
            (9, ""),
        ]
    );
    assert!(
        errors[7]
            .reason
            .contains("outside the roster's region 341522")
    );
    assert!(errors[13].reason.contains("pharmacy purchases only"));
    assert!(errors[14].reason.contains("5 fields, the header 13"));
}

#[test]
fn the_header_is_checked_before_any_row() {
    let errors = parse_roster(
        "institution_code,name,colour\nH34152200001,x,red\n",
        &huoqiu(),
    )
    .unwrap_err();
    let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
    assert_eq!(
        got,
        [
            (1, "colour"),
            (1, "kind"),
            (1, "grade"),
            (1, "tier"),
            (1, "effective_from")
        ]
    );
    let empty = parse_roster(HEADER, &huoqiu()).unwrap_err();
    assert_eq!(empty[0].reason, "the file has no rows");
}

#[test]
fn rows_of_one_institution_and_first_day_must_agree_and_an_agreement_appears_once() {
    let text = roster(
        "H34152200001,霍邱县第一人民医院,hospital,2,county,2015-01-01,,600,A-1,2024-01-01,2024-12-31,resident,inpatient\n\
         H34152200001,霍邱县第一人民医院,hospital,3,county,2015-01-01,,600,A-2,2024-01-01,2024-12-31,resident,outpatient\n\
         H34152200001,霍邱县第一人民医院,hospital,2,county,2015-01-01,,600,A-1,2025-01-01,2025-12-31,resident,inpatient\n",
    );
    let errors = parse_roster(&text, &huoqiu()).unwrap_err();
    let got: Vec<(usize, &str, &str)> = errors
        .iter()
        .map(|e| (e.line, e.field.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                3,
                "grade",
                "differs from line 2 for H34152200001 from 2015-01-01"
            ),
            (
                4,
                "agreement_no",
                "agreement A-1 of H34152200001 is on line 2 already"
            ),
        ]
    );
}

#[test]
fn planning_writes_what_is_new_or_changed_and_counts_the_rest_unchanged() {
    let rows = parse_roster(&good(), &huoqiu()).unwrap();
    let first = plan(&rows, &HashMap::new());
    assert_eq!(first.created.len(), 2);
    assert_eq!(first.versions.len(), 2);
    assert_eq!(first.agreements.len(), 3);
    assert_eq!(first.unchanged_rows, 0);
    // The registry now holds the file: the same roster changes nothing.
    let hospital = file_of(&good());
    let pharmacy = {
        let text = roster(
            "P34152200001,霍邱县城关大药房,pharmacy,ungraded,county,2016-03-01,341522,0,HQ-P-001,2024-01-01,2026-12-31,resident,pharmacy\n",
        );
        file_of(&text)
    };
    let existing: HashMap<_, _> = [hospital, pharmacy]
        .into_iter()
        .map(|f| (f.code.clone(), f))
        .collect();
    let again = plan(&rows, &existing);
    assert!(again.created.is_empty() && again.versions.is_empty() && again.agreements.is_empty());
    assert_eq!(again.unchanged_rows, 3);
    // An upgrade from a date is a new version; a changed agreement end is a change.
    let upgraded = parse_roster(
        &roster(
            "H34152200001,霍邱县第一人民医院,hospital,3,county,2025-07-01,,800,HQ-2024-001,2024-01-01,2027-12-31,resident;employee,inpatient;outpatient;chronic\n",
        ),
        &huoqiu(),
    )
    .unwrap();
    let p = plan(&upgraded, &existing);
    assert!(p.created.is_empty());
    assert_eq!(p.versions.len(), 1);
    assert!(!p.versions[0].2, "a new first day is not a correction");
    assert_eq!(p.agreements.len(), 1);
    assert!(p.agreements[0].2, "the agreement's end moved");
}

#[test]
fn the_version_in_force_follows_the_claim_date() {
    let mut f = file_of(&good());
    let mut upgraded = f.versions[0].clone();
    upgraded.effective_from = d("2025-07-01");
    upgraded.grade = Grade::Grade3;
    f.versions.push(upgraded);
    assert!(f.version_on(d("2014-12-31")).is_none());
    assert_eq!(f.version_on(d("2025-06-30")).unwrap().grade, Grade::Grade2);
    assert_eq!(f.version_on(d("2025-07-01")).unwrap().grade, Grade::Grade3);
    assert_eq!(f.latest().unwrap().grade, Grade::Grade3);
}

#[test]
fn an_agreement_must_be_in_force_and_cover_the_scheme_and_the_service() {
    let f = file_of(&good());
    let ok = f
        .agreement_for(d("2024-03-01"), Scheme::Resident, ServiceKind::Inpatient)
        .unwrap();
    assert_eq!(ok.agreement_no, "HQ-2024-001");
    assert_eq!(
        f.agreement_for(d("2024-03-01"), Scheme::Resident, ServiceKind::Pharmacy)
            .unwrap()
            .agreement_no,
        "HQ-2024-002"
    );
    let after = f
        .agreement_for(d("2024-07-01"), Scheme::Resident, ServiceKind::Pharmacy)
        .unwrap_err();
    assert_eq!(
        after,
        "no agreement of H34152200001 in force on 2024-07-01 covers pharmacy care under the resident scheme; in force: HQ-2024-001 (2024-01-01 to 2026-12-31: employee, resident; inpatient, outpatient, chronic)"
    );
    let ltc = f
        .agreement_for(d("2024-03-01"), Scheme::Employee, ServiceKind::Ltc)
        .unwrap_err();
    assert!(
        ltc.contains("covers ltc care under the employee scheme"),
        "{ltc}"
    );
    assert_eq!(
        f.agreement_for(d("2027-01-01"), Scheme::Resident, ServiceKind::Inpatient)
            .unwrap_err(),
        "H34152200001 has no agreement in force on 2027-01-01"
    );
}

fn change(status: InstitutionStatus, on: &str) -> StatusChange {
    StatusChange {
        status,
        effective_on: d(on),
        reason: "test".into(),
        actor: "op".into(),
        role: "operator".into(),
        at: String::new(),
    }
}

#[test]
fn the_status_on_a_date_is_the_last_change_by_then_and_termination_is_final() {
    let mut f = file_of(&good());
    assert_eq!(
        f.status_on(d("2024-01-01")).status,
        InstitutionStatus::Active
    );
    assert!(f.status_on(d("2024-01-01")).change.is_none());
    check_status_change(
        &f,
        InstitutionStatus::Suspended,
        d("2024-05-01"),
        "phantom bed stays",
    )
    .unwrap();
    assert!(matches!(
        check_status_change(&f, InstitutionStatus::Active, d("2024-05-01"), "x"),
        Err(EnrolmentError::Precondition(_))
    ));
    assert!(matches!(
        check_status_change(&f, InstitutionStatus::Suspended, d("2024-05-01"), " "),
        Err(EnrolmentError::Invalid {
            field: "reason",
            ..
        })
    ));
    assert!(matches!(
        check_status_change(&f, InstitutionStatus::Suspended, d("2014-05-01"), "x"),
        Err(EnrolmentError::Invalid {
            field: "effective_on",
            ..
        })
    ));
    f.status_changes
        .push(change(InstitutionStatus::Suspended, "2024-05-01"));
    assert_eq!(
        f.status_on(d("2024-04-30")).status,
        InstitutionStatus::Active
    );
    assert_eq!(
        f.status_on(d("2024-05-01")).status,
        InstitutionStatus::Suspended
    );
    assert!(matches!(
        check_status_change(&f, InstitutionStatus::Active, d("2024-04-01"), "x"),
        Err(EnrolmentError::Invalid {
            field: "effective_on",
            ..
        })
    ));
    f.status_changes
        .push(change(InstitutionStatus::Active, "2024-06-01"));
    assert_eq!(
        f.status_on(d("2024-06-01")).status,
        InstitutionStatus::Active
    );
    f.status_changes
        .push(change(InstitutionStatus::Terminated, "2024-09-01"));
    assert_eq!(
        f.status_on(d("2025-01-01")).status,
        InstitutionStatus::Terminated
    );
    assert!(matches!(
        check_status_change(&f, InstitutionStatus::Active, d("2025-01-01"), "appeal"),
        Err(EnrolmentError::Precondition(m)) if m.contains("termination is final")
    ));
}

#[test]
fn physician_files_name_every_bad_row_and_column() {
    let text = "physician_code,name,institution_code,status,status_reason\n\
                D341522000001,张医生,H34152200001,,\n\
                D34152200000,李医生,H34152200001,active,\n\
                D341522000003,王医生,H34010000001,suspended,\n\
                D341522000001,赵医生,H34152200001,retired,\n\
                D341522000005,孙医生,H34152200001,suspended,points exhausted\n";
    let errors = parse_physicians(text, &huoqiu()).unwrap_err();
    let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
    assert_eq!(
        got,
        [
            (3, "physician_code"),
            (4, "institution_code"),
            (4, "status_reason"),
            (5, "physician_code"),
            (5, "status"),
        ]
    );
    let ok = parse_physicians(
        "physician_code,name,institution_code,status,status_reason\n\
         D341522000001,张医生,H34152200001,,\n\
         D341522000005,孙医生,H34152200001,suspended,points exhausted\n",
        &huoqiu(),
    )
    .unwrap();
    assert_eq!(ok[0].physician.status, PhysicianStatus::Active);
    assert_eq!(ok[1].physician.status, PhysicianStatus::Suspended);
}
