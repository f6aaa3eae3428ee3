//! National-interface credentials over a real store (SQLite; a fresh PostgreSQL database when
//! `YIBAO_TEST_DATABASE_URL` is set): issued once and answered again unchanged, rotated into
//! new ones (the old `paasid` resolves no more), refused for an institution outside the
//! registry or the operator's region with nothing written, and resolved with the institution's
//! status today.

use chrono::NaiveDate;
use std::sync::Arc;
use yibao_core::{InstitutionCode, RegionCode};
use yibao_enrollment::app::Enrollment;
use yibao_enrollment::app::registry::StatusRequest;
use yibao_enrollment::domain::registry::InstitutionStatus;
use yibao_enrollment::store::{Entity, Store};
use yibao_runtime::Caller;
use yibao_runtime::auth::Role;
use yibao_runtime::config::DatabaseConfig;
use yibao_runtime::db::StoreBase;

const HUOQIU: &str = "341522";
const H: &str = "H34152200001";
const HEADER: &str = "institution_code,name,kind,grade,tier,effective_from,region_code,beds,agreement_no,agreement_from,agreement_to,schemes,service_kinds\n";

async fn app() -> Enrollment {
    replica(&base().await).await
}

async fn base() -> StoreBase {
    let cfg = match std::env::var("YIBAO_TEST_DATABASE_URL") {
        Ok(url) => DatabaseConfig {
            url: yibao_runtime::db::create_fresh_postgres(&url, "yibao_enrollment_credentials")
                .await
                .unwrap_or_else(|e| panic!("postgres: {e}")),
            max_connections: 4,
        },
        Err(_) => {
            let dir = std::env::temp_dir().join(format!(
                "yibao-enrollment-credentials-{}",
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
            DatabaseConfig::sqlite(&dir.join("enrollment.db"))
        }
    };
    StoreBase::connect::<yibao_enrollment::store::migration::Migrator>(&cfg)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

/// The use cases over `base`, as one replica of the service.
async fn replica(base: &StoreBase) -> Enrollment {
    let app = Enrollment::new(
        Store::with_base(base.clone()),
        Arc::new(yibao_runtime::cache::MemoryCache::new(100)),
        &[7u8; 32],
    );
    app.institution_cache()
        .refresh_epoch()
        .await
        .unwrap_or_else(|e| panic!("epoch: {e}"));
    app
}

fn operator(region: &str) -> Caller {
    Caller {
        subject: format!("op-{region}"),
        role: Role::Operator,
        org: String::new(),
        region: RegionCode::parse(region).ok(),
    }
}

fn code(s: &str) -> InstitutionCode {
    InstitutionCode::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// The county hospital in the registry of Huoqiu.
async fn registered(app: &Enrollment) {
    let csv = format!(
        "{HEADER}{H},霍邱县第一人民医院,hospital,2,county,2015-01-01,,600,A-1,2024-01-01,2099-12-31,resident,inpatient\n"
    );
    let within = RegionCode::parse(HUOQIU).unwrap_or_else(|e| panic!("{e}"));
    let out = app
        .import_roster(&operator(HUOQIU), &within, &csv, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.stored && out.errors.is_empty(), "{out:?}");
}

/// The kinds of the registry's journal entries about credentials.
async fn credential_journal(app: &Enrollment, institution: &str) -> Vec<(String, String)> {
    app.store()
        .institution_history(&code(institution))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .filter(|e| e.kind.starts_with("interface_credential."))
        .map(|e| (e.kind, e.actor))
        .collect()
}

#[tokio::test]
async fn a_credential_is_issued_once_answered_again_unchanged_and_rotated_into_a_new_one() {
    let app = app().await;
    registered(&app).await;
    let op = operator(HUOQIU);
    let first = app
        .issue_interface_credential(&op, &code(H), false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(first.issued);
    let c = &first.credential;
    assert_eq!(c.institution, code(H));
    assert!(
        c.paasid.starts_with("H34152200001-") && c.paasid.len() == 21,
        "{}",
        c.paasid
    );
    assert_eq!(c.paas_token.len(), 64);
    assert!(
        c.paas_token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    let again = app
        .issue_interface_credential(&op, &code(H), false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!again.issued);
    assert_eq!(again.credential, first.credential, "the same credential");
    assert_eq!(
        credential_journal(&app, H).await,
        [("interface_credential.issued".into(), "op-341522".into())],
        "asking again writes nothing"
    );

    // The province's operator rotates: a new paasid and token, the old ones revoked at once.
    let province = operator("340000");
    let rotated = app
        .issue_interface_credential(&province, &code(H), true)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(rotated.issued);
    assert_ne!(rotated.credential.paasid, first.credential.paasid);
    assert_ne!(rotated.credential.paas_token, first.credential.paas_token);
    let old = app
        .resolve_interface_credential(&first.credential.paasid)
        .await;
    match &old {
        Err(e) => assert_eq!(
            (e.code().code, e.to_string()),
            (
                "ENROLLMENT_INTERFACE_CREDENTIAL_NOT_FOUND",
                format!(
                    "paasid: interface credential `{}` not found",
                    first.credential.paasid
                )
            )
        ),
        Ok(r) => panic!("a revoked paasid resolved: {r:?}"),
    }
    let now = app
        .resolve_interface_credential(&rotated.credential.paasid)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(now.credential, rotated.credential);
    assert_eq!(now.status, InstitutionStatus::Active);
    assert_eq!(
        app.issue_interface_credential(&op, &code(H), false)
            .await
            .map(|i| (i.credential, i.issued))
            .ok(),
        Some((rotated.credential.clone(), false)),
        "the rotated credential is the one in force"
    );
    // Both are kept, the old one with its revocation.
    let history = app
        .store()
        .credential_history(&code(H))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut kept: Vec<(String, bool)> = history
        .iter()
        .map(|(c, revoked)| (c.paasid.clone(), revoked.is_some()))
        .collect();
    kept.sort();
    let mut expected = vec![
        (first.credential.paasid.clone(), true),
        (rotated.credential.paasid.clone(), false),
    ];
    expected.sort();
    assert_eq!(kept, expected);
    assert_eq!(
        credential_journal(&app, H).await,
        [
            ("interface_credential.issued".into(), "op-341522".into()),
            ("interface_credential.revoked".into(), "op-340000".into()),
            ("interface_credential.issued".into(), "op-340000".into()),
        ]
    );
}

#[tokio::test]
async fn an_institution_outside_the_registry_is_not_found_naming_institution_code_and_nothing_is_written()
 {
    let app = app().await;
    registered(&app).await;
    for rotate in [false, true] {
        let refused = app
            .issue_interface_credential(&operator(HUOQIU), &code("H34152200099"), rotate)
            .await;
        match refused {
            Err(e) => assert_eq!(
                (e.code().code, e.to_string()),
                (
                    "ENROLLMENT_INSTITUTION_NOT_FOUND",
                    "institution_code: institution `H34152200099` not found".to_string()
                )
            ),
            Ok(i) => panic!("issued for an unregistered institution: {i:?}"),
        }
    }
    assert_eq!(
        app.store()
            .credential_history(&code("H34152200099"))
            .await
            .map(|h| h.len())
            .ok(),
        Some(0)
    );
}

#[tokio::test]
async fn an_operator_of_another_region_is_refused_and_nothing_is_written() {
    let app = app().await;
    registered(&app).await;
    for rotate in [false, true] {
        let refused = app
            .issue_interface_credential(&operator("341502"), &code(H), rotate)
            .await;
        match refused {
            Err(e) => {
                assert_eq!(e.code().code, "OUTSIDE_REGION");
                assert!(e.to_string().contains("institution_code"), "{e}");
            }
            Ok(i) => panic!("another region's operator was answered: {i:?}"),
        }
    }
    assert_eq!(
        app.store()
            .credential_history(&code(H))
            .await
            .map(|h| h.len())
            .ok(),
        Some(0)
    );
    assert!(credential_journal(&app, H).await.is_empty());
    // Once issued, another region's operator cannot read it either.
    app.issue_interface_credential(&operator(HUOQIU), &code(H), false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        app.issue_interface_credential(&operator("341502"), &code(H), false)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_resolved_credential_carries_the_institutions_status_today() {
    let app = app().await;
    registered(&app).await;
    let op = operator(HUOQIU);
    let issued = app
        .issue_interface_credential(&op, &code(H), false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let paasid = issued.credential.paasid;
    let resolved = app
        .resolve_interface_credential(&paasid)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resolved.status, InstitutionStatus::Active);
    let today = chrono::Utc::now().date_naive();
    app.change_institution_status(
        &op,
        StatusRequest {
            code: code(H),
            status: InstitutionStatus::Suspended,
            effective_on: today,
            reason: "inspection".into(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let resolved = app
        .resolve_interface_credential(&paasid)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resolved.status, InstitutionStatus::Suspended);
    assert_eq!(resolved.credential.paasid, paasid, "suspension keeps it");
    // A suspension from tomorrow leaves today's standing as it is.
    let app2 = self::app().await;
    registered(&app2).await;
    let c = app2
        .issue_interface_credential(&op, &code(H), false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let tomorrow = today.succ_opt().unwrap_or(NaiveDate::MAX);
    app2.change_institution_status(
        &op,
        StatusRequest {
            code: code(H),
            status: InstitutionStatus::Suspended,
            effective_on: tomorrow,
            reason: "inspection".into(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        app2.resolve_interface_credential(&c.credential.paasid)
            .await
            .map(|r| r.status)
            .ok(),
        Some(InstitutionStatus::Active)
    );
}

#[tokio::test]
async fn an_unknown_paasid_is_not_found_naming_paasid() {
    let app = app().await;
    match app
        .resolve_interface_credential("H34152200001-00000000")
        .await
    {
        Err(e) => {
            assert_eq!(e.code().code, "ENROLLMENT_INTERFACE_CREDENTIAL_NOT_FOUND");
            assert!(e.to_string().starts_with("paasid: "), "{e}");
            assert!(matches!(
                e,
                yibao_enrollment::app::AppError::Unknown {
                    field: "paasid",
                    entity: Entity::InterfaceCredential,
                    ..
                }
            ));
        }
        Ok(r) => panic!("resolved: {r:?}"),
    }
}

#[tokio::test]
async fn replicas_issuing_at_once_put_one_credential_in_force_and_all_answer_it() {
    let base = base().await;
    let app = replica(&base).await;
    registered(&app).await;
    let mut calls = Vec::new();
    for _ in 0..4 {
        let r = replica(&base).await;
        calls.push(tokio::spawn(async move {
            r.issue_interface_credential(&operator(HUOQIU), &code(H), false)
                .await
                .map_err(|e| e.to_string())
        }));
    }
    let mut answers = Vec::new();
    for c in calls {
        answers.push(
            c.await
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    assert_eq!(
        answers.iter().filter(|a| a.issued).count(),
        1,
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .all(|a| a.credential == answers[0].credential)
    );
    assert_eq!(
        app.store()
            .credential_history(&code(H))
            .await
            .map(|h| h.len())
            .ok(),
        Some(1)
    );
}
