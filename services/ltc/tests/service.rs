//! End-to-end tests of the LTC service over real gRPC on loopback, beside a real enrollment
//! service (eligibility, death): SQLite and the in-process bus by default; PostgreSQL (fresh
//! databases) when `YIBAO_TEST_DATABASE_URL` is set.

use chrono::{Datelike, NaiveDate};
use prost::Message;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use yibao_proto::common::v1 as common;
use yibao_proto::enrollment::v1 as en;
use yibao_proto::events::v1 as events;
use yibao_proto::ltc::v1 as pb;
use yibao_runtime::Role;
use yibao_runtime::auth::DevKeys;
use yibao_runtime::bus::{Bus, MemoryBus};
use yibao_runtime::config::{DatabaseConfig, Upstreams};
use yibao_runtime::server::ServiceDeps;

const CITY: &str = "370200"; // Qingdao
const COUNTY: &str = "370281"; // Jiaozhou
const INST: &str = "H37028100001";
const OTHER_INST: &str = "H37028100002";

struct Env {
    keys: DevKeys,
    ltc: pb::ltc_service_client::LtcServiceClient<Channel>,
    enrollment: en::enrollment_service_client::EnrollmentServiceClient<Channel>,
    bus: Arc<MemoryBus>,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
    dir: std::path::PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        for s in self.stops.drain(..) {
            let _ = s.send(());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn database(dir: &std::path::Path, name: &str) -> DatabaseConfig {
    match std::env::var("YIBAO_TEST_DATABASE_URL") {
        Ok(url) => DatabaseConfig {
            url: yibao_runtime::db::create_fresh_postgres(&url, &format!("yibao_ltc_test_{name}"))
                .await
                .unwrap_or_else(|e| panic!("postgres: {e}")),
            max_connections: 8,
        },
        Err(_) => DatabaseConfig::sqlite(&dir.join(format!("{name}.db"))),
    }
}

async fn serve(
    routes: tonic::service::Routes,
    keys: &DevKeys,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let verifier = keys
        .verifier("yibao", "yibao-api")
        .unwrap_or_else(|e| panic!("{e}"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(yibao_runtime::server::serve(
        listener,
        routes,
        verifier,
        async {
            let _ = rx.await;
        },
    ));
    (format!("http://{addr}"), tx)
}

async fn start() -> Env {
    let dir =
        std::env::temp_dir().join(format!("yibao-ltc-test-{}", uuid::Uuid::new_v4().simple()));
    let keys = DevKeys::load_or_create(&dir).unwrap_or_else(|e| panic!("keys: {e}"));
    let cache = Arc::new(yibao_runtime::cache::MemoryCache::new(10_000));
    let enrollment_svc = yibao_enrollment::build(ServiceDeps {
        database: database(&dir, "enrollment").await,
        cache: cache.clone(),
        bus: Arc::new(MemoryBus::new()),
        upstreams: Upstreams::default(),
        secrets: [(
            yibao_enrollment::VOUCHER_SECRET_KEY.to_string(),
            "a-test-secret-of-at-least-32-characters!!".to_string(),
        )]
        .into(),
        relay: Default::default(),
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let mut routes = tonic::service::RoutesBuilder::default();
    routes.add_service(enrollment_svc);
    let (enrollment_url, stop_e) = serve(routes.routes(), &keys).await;
    let bus = Arc::new(MemoryBus::new());
    let deps = ServiceDeps {
        database: database(&dir, "ltc").await,
        cache,
        bus: bus.clone(),
        upstreams: Upstreams {
            enrollment: enrollment_url.clone(),
            ..Upstreams::default()
        },
        secrets: Default::default(),
        relay: Default::default(),
    };
    let svc = yibao_ltc::build(deps)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut routes = tonic::service::RoutesBuilder::default();
    routes.add_service(svc);
    let (ltc_url, stop_l) = serve(routes.routes(), &keys).await;
    let ltc = pb::ltc_service_client::LtcServiceClient::connect(ltc_url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let enrollment =
        en::enrollment_service_client::EnrollmentServiceClient::connect(enrollment_url)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    let mut env = Env {
        keys,
        ltc,
        enrollment,
        bus,
        stops: vec![stop_e, stop_l],
        dir,
    };
    register_care_institutions(&mut env, &[INST, OTHER_INST], "2000-01-01", "2099-12-31").await;
    env
}

/// Registers care institutions in enrollment's registry with an agreement covering long-term
/// care from `from` to `to` (LTC admits only designated care institutions).
async fn register_care_institutions(env: &mut Env, codes: &[&str], from: &str, to: &str) {
    let mut csv = String::from(
        "institution_code,name,kind,grade,tier,effective_from,agreement_no,agreement_from,agreement_to,schemes,service_kinds\n",
    );
    for c in codes {
        csv.push_str(&format!(
            "{c},护理院 {c},care_institution,ungraded,county,2000-01-01,LTC-{c}-{from},{from},{to},resident;employee,ltc\n"
        ));
    }
    let op = env.operator();
    let out = ok(env
        .enrollment
        .import_institution_roster(req(
            en::ImportInstitutionRosterRequest {
                region_code: CITY.into(),
                csv,
                dry_run: false,
            },
            &op,
        ))
        .await);
    assert!(out.stored, "roster: {:?}", out.errors);
}

impl Env {
    fn token(&self, role: Role, org: &str, region: &str) -> String {
        self.keys
            .mint(
                role,
                org,
                region,
                &format!("{}-{org}{region}", role.as_str()),
                600,
                "yibao",
                "yibao-api",
            )
            .unwrap_or_else(|e| panic!("{e}"))
    }
    fn operator(&self) -> String {
        self.token(Role::Operator, "", CITY)
    }
    fn institution(&self) -> String {
        self.token(Role::CareInstitution, INST, "")
    }
    fn assessor(&self, code: &str) -> String {
        self.token(Role::Assessor, code, "")
    }
}

fn req<T>(msg: T, token: &str) -> Request<T> {
    let mut r = Request::new(msg);
    let v = format!("Bearer {token}")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    r.metadata_mut().insert("authorization", v);
    r
}

fn ok<T>(r: Result<tonic::Response<T>, Status>) -> T {
    r.unwrap_or_else(|s| panic!("{:?}: {}", s.code(), s.message()))
        .into_inner()
}

fn err<T: std::fmt::Debug>(r: Result<tonic::Response<T>, Status>) -> Status {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(s) => s,
    }
}

/// The fields named by an error's `google.rpc.BadRequest` details.
fn fields(s: &Status) -> Vec<String> {
    use tonic_types::StatusExt;
    s.get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// The month two months before today, and the next one (both in the past).
fn months() -> (NaiveDate, NaiveDate) {
    let today = chrono::Utc::now().date_naive();
    let this = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
    let last = this
        .pred_opt()
        .map(|d| NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(d))
        .unwrap_or(this);
    let before = last
        .pred_opt()
        .map(|d| NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(d))
        .unwrap_or(last);
    (before, last)
}

fn ym(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

fn day(month: NaiveDate, n: u32) -> String {
    NaiveDate::from_ymd_opt(month.year(), month.month(), n)
        .unwrap_or(month)
        .to_string()
}

fn id_number(first17: &str) -> String {
    yibao_core::IdNumber::with_check_digit(first17)
        .unwrap_or_else(|e| panic!("{e}"))
        .expose()
        .to_string()
}

/// Registers and enrols (paid) a person in Jiaozhou for the years of `months`.
async fn insured(env: &mut Env, id: &str) -> String {
    let op = env.operator();
    let (m1, m2) = months();
    let p = ok(env
        .enrollment
        .register_person(req(
            en::RegisterPersonRequest {
                id_number: id.into(),
                name: "孙宗德".into(),
                region_code: COUNTY.into(),
                ..Default::default()
            },
            &op,
        ))
        .await);
    let person_id = p.person.map(|p| p.person_id).unwrap_or_default();
    let mut years = vec![m1.year(), m2.year()];
    years.dedup();
    for year in years {
        let _ = env
            .enrollment
            .set_contribution_standard(req(
                en::SetContributionStandardRequest {
                    region_code: COUNTY.into(),
                    year,
                    scheme: common::Scheme::Resident as i32,
                    individual_amount_fen: 38_000,
                    waiting_days: 0,
                },
                &op,
            ))
            .await;
        let e = ok(env
            .enrollment
            .enroll(req(
                en::EnrollRequest {
                    person_id: person_id.clone(),
                    year,
                    scheme: common::Scheme::Resident as i32,
                    region_code: COUNTY.into(),
                    enrolled_on: format!("{}-12-01", year - 1),
                },
                &op,
            ))
            .await);
        let enrolment_id = e.enrolment.map(|e| e.enrolment_id).unwrap_or_default();
        ok(env
            .enrollment
            .record_contribution(req(
                en::RecordContributionRequest {
                    enrolment_id,
                    kind: en::ContributionKind::Payment as i32,
                    amount_fen: 38_000,
                    paid_on: format!("{}-12-02", year - 1),
                    reference: format!("r-{id}-{year}"),
                },
                &op,
            ))
            .await);
    }
    person_id
}

/// Jiaozhou's policy for the years of the test months: levels 3–5 and 重度失智; 院护 at 90% up to
/// 130 yuan a bed-day; 巡护 at 80% up to 50 yuan a visit; at most 3,450 yuan a month; two
/// assessors; reassessment after 6 months; care during a hospital stay refused.
async fn policy(env: &mut Env) {
    let doc = serde_json::json!({
        "qualifying_levels": [3, 4, 5],
        "dementia_qualifies": true,
        "care_types": [
            {"care_type": "institutional", "rate_bp": 9000, "unit": "day", "unit_fee_standard_fen": 13000},
            {"care_type": "visiting", "rate_bp": 8000, "unit": "visit", "unit_fee_standard_fen": 5000},
            {"care_type": "dementia_unit", "rate_bp": 7000, "unit": "day", "unit_fee_standard_fen": 15000}
        ],
        "monthly_cap_fen": 345000,
        "two_assessors": true,
        "reassessment_months": 6,
        "inpatient_overlap": "refuse"
    });
    let (m1, m2) = months();
    let op = env.operator();
    for year in [m1.year(), m2.year(), m1.year() - 1] {
        ok(env
            .ltc
            .upload_benefit_policy(req(
                pb::UploadBenefitPolicyRequest {
                    region_code: CITY.into(),
                    year,
                    document_json: doc.to_string(),
                },
                &op,
            ))
            .await);
    }
}

/// Item scores with the given totals (ADL a multiple of 5), consistent.
fn items(adl: u32, cognition: u32, perception: u32) -> HashMap<String, u32> {
    let mut m = HashMap::new();
    let mut rem = adl;
    for (code, max) in [
        ("adl.transfer", 15),
        ("adl.walking", 15),
        ("adl.feeding", 10),
        ("adl.dressing", 10),
        ("adl.grooming", 5),
        ("adl.bowel", 10),
        ("adl.bladder", 10),
        ("adl.toilet", 10),
        ("adl.bathing", 5),
        ("adl.stairs", 10),
    ] {
        let v = rem.min(max);
        rem -= v;
        m.insert(code.to_string(), v);
    }
    for (codes, total) in [
        (
            &[
                "cognition.time",
                "cognition.person",
                "cognition.place",
                "cognition.memory",
            ][..],
            cognition,
        ),
        (
            &[
                "perception.vision",
                "perception.hearing",
                "perception.communication",
            ][..],
            perception,
        ),
    ] {
        let mut rem = total;
        for c in codes {
            let v = rem.min(4);
            rem -= v;
            m.insert(c.to_string(), v);
        }
    }
    m
}

/// Application → assessment by two assessors (ADL 25, cognition 10, perception 9 → level 4) →
/// approval on the first day of the first test month → 院护 at INST from that day.
async fn beneficiary(env: &mut Env, id: &str, no: &str) -> (String, String) {
    let (m1, _) = months();
    let ci = env.institution();
    let op = env.operator();
    let a = ok(env
        .ltc
        .submit_application(req(
            pb::SubmitApplicationRequest {
                institution_code: INST.into(),
                application_no: no.into(),
                id_number: id.into(),
                name: "孙宗德".into(),
                region_code: COUNTY.into(),
                kind: pb::ApplicationKind::Initial as i32,
                medical_records: vec!["病历 2024-脑血栓".into()],
                applied_on: day(m1, 1),
            },
            &ci,
        ))
        .await)
    .application
    .unwrap_or_default();
    let s = ok(env
        .ltc
        .schedule_assessment(req(
            pb::ScheduleAssessmentRequest {
                application_id: a.application_id.clone(),
                assessor_codes: vec!["A001".into(), "A002".into()],
                scheduled_on: day(m1, 1),
            },
            &op,
        ))
        .await);
    let assessment_id = s.assessment.map(|a| a.assessment_id).unwrap_or_default();
    for code in ["A001", "A002"] {
        let t = env.assessor(code);
        ok(env
            .ltc
            .submit_score_sheet(req(
                pb::SubmitScoreSheetRequest {
                    assessment_id: assessment_id.clone(),
                    items: items(25, 10, 9),
                    dementia: false,
                },
                &t,
            ))
            .await);
    }
    let d = ok(env
        .ltc
        .decide_application(req(
            pb::DecideApplicationRequest {
                application_id: a.application_id.clone(),
                approve: true,
                reason: String::new(),
                decided_on: day(m1, 1),
            },
            &op,
        ))
        .await);
    let b = d.beneficiary.unwrap_or_default();
    ok(env
        .ltc
        .place_care(req(
            pb::PlaceCareRequest {
                beneficiary_id: b.beneficiary_id.clone(),
                institution_code: INST.into(),
                care_type: pb::CareType::Institutional as i32,
                start_date: day(m1, 1),
            },
            &ci,
        ))
        .await);
    (a.application_id, b.beneficiary_id)
}

fn bed_days(
    beneficiary: &str,
    month: NaiveDate,
    days: std::ops::RangeInclusive<u32>,
    yuan: i64,
    prefix: &str,
) -> Vec<pb::ServiceRecord> {
    days.map(|d| pb::ServiceRecord {
        record_no: format!("{prefix}-{d:02}"),
        beneficiary_id: beneficiary.into(),
        care_type: pb::CareType::Institutional as i32,
        service_date: day(month, d),
        units: 1,
        amount_fen: yuan * 100,
        items: vec!["翻身".into(), "康复训练".into()],
    })
    .collect()
}

async fn upload(
    env: &mut Env,
    records: Vec<pb::ServiceRecord>,
) -> pb::UploadServiceRecordsResponse {
    let ci = env.institution();
    ok(env
        .ltc
        .upload_service_records(req(
            pb::UploadServiceRecordsRequest {
                institution_code: INST.into(),
                records,
            },
            &ci,
        ))
        .await)
}

async fn settle(
    env: &mut Env,
    month: NaiveDate,
    request_id: &str,
) -> Result<pb::SettleMonthResponse, Status> {
    let op = env.operator();
    env.ltc
        .settle_month(req(
            pb::SettleMonthRequest {
                institution_code: INST.into(),
                month: ym(month),
                request_id: request_id.into(),
            },
            &op,
        ))
        .await
        .map(|r| r.into_inner())
}

/// Every LTC event published so far (read by a fresh consumer group).
async fn ltc_events(bus: &MemoryBus, want: usize) -> Vec<events::LtcEvent> {
    let group = format!("test-{}", uuid::Uuid::new_v4().simple());
    let mut out = Vec::new();
    let partitions = yibao_runtime::streams::all_partitions("yibao.ltc.claims");
    for _ in 0..50 {
        let batch = bus
            .read_many(&partitions, &group, "t", 1000, Duration::from_millis(100))
            .await
            .unwrap_or_default();
        // Acknowledged, so the next read brings only new entries (not these again).
        for (stream, m) in &batch {
            let _ = bus.ack(stream, &group, std::slice::from_ref(&m.id)).await;
        }
        out.extend(
            batch
                .iter()
                .filter(|(_, m)| !m.heartbeat)
                .filter_map(|(_, m)| events::LtcEvent::decode(m.payload.as_slice()).ok()),
        );
        if out.len() >= want {
            break;
        }
    }
    out
}

#[tokio::test]
async fn tour_one_person_from_application_to_a_settled_month() {
    let mut env = start().await;
    policy(&mut env).await;
    let id = id_number("37028119500101001");
    let person_id = insured(&mut env, &id).await;
    let (m1, _) = months();
    let (application_id, ben) = beneficiary(&mut env, &id, "JZ-2026-001").await;

    let op = env.operator();
    let a = ok(env
        .ltc
        .get_application(req(pb::GetApplicationRequest { application_id }, &op))
        .await)
    .application
    .unwrap_or_default();
    assert_eq!(a.status, pb::ApplicationStatus::Approved as i32);
    assert_eq!(
        a.level,
        pb::DisabilityLevel::Severe2 as i32,
        "ADL 25 + cognition 10 + perception 9 → 重度失能Ⅱ级"
    );
    let steps: Vec<i32> = a.steps.iter().map(|s| s.status).collect();
    assert_eq!(
        steps,
        vec![
            pb::ApplicationStatus::Received as i32,
            pb::ApplicationStatus::AssessmentScheduled as i32,
            pb::ApplicationStatus::Assessed as i32,
            pb::ApplicationStatus::Approved as i32
        ]
    );
    assert!(
        a.steps.iter().all(|s| s
            .audit
            .as_ref()
            .is_some_and(|x| !x.actor.is_empty() && !x.at.is_empty())),
        "every step records who and when"
    );
    assert!(a.id_number_masked.contains("**********"));

    // 28 bed-days at 150 yuan: 90% = 135 > 130 standard → 130 a day = 3,640 → cap 3,450.
    let up = upload(&mut env, bed_days(&ben, m1, 1..=28, 150, "R")).await;
    assert_eq!(
        (up.accepted, up.refused),
        (28, 0),
        "{:?}",
        up.results
            .iter()
            .find(|r| r.outcome != pb::RecordOutcome::Accepted as i32)
    );
    let again = upload(&mut env, bed_days(&ben, m1, 1..=2, 150, "R")).await;
    assert!(
        again
            .results
            .iter()
            .all(|r| r.outcome == pb::RecordOutcome::Replayed as i32),
        "a repeated upload writes nothing"
    );

    let s = settle(&mut env, m1, "run-1")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .settlement
        .unwrap_or_default();
    assert_eq!(s.lines.len(), 1);
    let line = &s.lines[0];
    assert_eq!(line.billed_fen, 420_000);
    assert_eq!(line.fund_before_cap_fen, 364_000);
    assert_eq!(line.fund_fen, 345_000);
    assert_eq!(line.capped_fen, 19_000);
    assert_eq!(line.person_fen, 75_000);
    assert_eq!(line.fund_fen + line.person_fen, line.billed_fen);
    assert_eq!(
        (s.billed_fen, s.fund_fen, s.person_fen),
        (420_000, 345_000, 75_000)
    );

    // Retrying the run returns the first result and writes nothing.
    let replay = settle(&mut env, m1, "run-1")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(replay.replayed);
    assert_eq!(
        replay.settlement.map(|x| x.settlement_id),
        Some(s.settlement_id.clone())
    );
    // A new run finds nothing left to settle.
    let nothing = err(env
        .ltc
        .settle_month(req(
            pb::SettleMonthRequest {
                institution_code: INST.into(),
                month: ym(m1),
                request_id: "run-2".into(),
            },
            &op,
        ))
        .await);
    assert_eq!(nothing.code(), Code::FailedPrecondition);

    let evs = ltc_events(&env.bus, 1).await;
    assert_eq!(evs.len(), 1, "one event per settled line");
    assert_eq!(evs[0].claim_id, line.line_id);
    assert_eq!(evs[0].action, events::LtcAction::Settled as i32);
    assert_eq!(evs[0].person_key, person_id);
    assert_eq!(
        (evs[0].amount_fen, evs[0].fund_paid_fen),
        (420_000, 345_000)
    );
    assert_eq!(evs[0].institution_code, INST);

    let stats = ok(env
        .ltc
        .get_statistics(req(
            pb::GetStatisticsRequest {
                region_code: CITY.into(),
                month: ym(m1),
            },
            &op,
        ))
        .await);
    assert_eq!(stats.beneficiaries, 1);
    assert_eq!(
        stats
            .by_level
            .iter()
            .map(|c| (c.key.as_str(), c.count))
            .collect::<Vec<_>>(),
        vec![("4", 1)]
    );
    assert_eq!(
        stats
            .by_care_type
            .iter()
            .map(|c| (c.key.as_str(), c.count))
            .collect::<Vec<_>>(),
        vec![("institutional", 1)]
    );
    assert_eq!(
        stats
            .by_region
            .iter()
            .map(|c| (c.key.as_str(), c.count))
            .collect::<Vec<_>>(),
        vec![(COUNTY, 1)]
    );
    assert_eq!(stats.institutions, 1);
    assert_eq!(stats.fund_paid_fen, 345_000);
    assert_eq!(stats.previous_month, 0);
}

#[tokio::test]
async fn a_corrected_record_reverses_and_resettles_its_line_and_a_full_reversal_nets_to_zero() {
    let mut env = start().await;
    policy(&mut env).await;
    let id = id_number("37028119500101002");
    insured(&mut env, &id).await;
    let (m1, _) = months();
    let (_, ben) = beneficiary(&mut env, &id, "JZ-2026-002").await;
    upload(&mut env, bed_days(&ben, m1, 1..=28, 150, "C")).await;
    let first = settle(&mut env, m1, "c-1")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .settlement
        .unwrap_or_default();

    let ci = env.institution();
    let corrected = ok(env
        .ltc
        .correct_service_record(req(
            pb::CorrectServiceRecordRequest {
                institution_code: INST.into(),
                record_no: "C-05".into(),
                units: 1,
                amount_fen: 10_000,
                reason: "bed-day billed at the wrong rate".into(),
            },
            &ci,
        ))
        .await);
    assert!(corrected.needs_resettlement);

    let second = settle(&mut env, m1, "c-2")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .settlement
        .unwrap_or_default();
    let rev = second
        .lines
        .iter()
        .find(|l| l.kind == pb::LineKind::Reversal as i32)
        .unwrap_or_else(|| panic!("no reversal line"));
    let new = second
        .lines
        .iter()
        .find(|l| l.kind == pb::LineKind::Settled as i32)
        .unwrap_or_else(|| panic!("no new line"));
    assert_eq!(rev.reverses_line_id, first.lines[0].line_id);
    assert_eq!(
        (rev.billed_fen, rev.fund_fen, rev.person_fen),
        (-420_000, -345_000, -75_000)
    );
    // 27 × 130 + min(90, 130) = 3,600 → still capped at 3,450; the person pays 4,150 − 3,450.
    assert_eq!(
        (
            new.billed_fen,
            new.fund_before_cap_fen,
            new.fund_fen,
            new.person_fen
        ),
        (415_000, 360_000, 345_000, 70_000)
    );
    assert_eq!(
        (second.billed_fen, second.fund_fen, second.person_fen),
        (-5_000, 0, -5_000)
    );

    let op = env.operator();
    let reversal = ok(env
        .ltc
        .reverse_settlement(req(
            pb::ReverseSettlementRequest {
                settlement_id: second.settlement_id.clone(),
                request_id: "rev-1".into(),
                reason: "audit".into(),
            },
            &op,
        ))
        .await);
    assert!(!reversal.replayed);
    let r = reversal.reversal.unwrap_or_default();
    assert_eq!(
        r.fund_fen, -345_000,
        "only the line still in force is reversed"
    );
    let again = ok(env
        .ltc
        .reverse_settlement(req(
            pb::ReverseSettlementRequest {
                settlement_id: second.settlement_id.clone(),
                request_id: "rev-1".into(),
                reason: "audit".into(),
            },
            &op,
        ))
        .await);
    assert!(again.replayed);
    let twice = err(env
        .ltc
        .reverse_settlement(req(
            pb::ReverseSettlementRequest {
                settlement_id: second.settlement_id.clone(),
                request_id: "rev-2".into(),
                reason: "audit".into(),
            },
            &op,
        ))
        .await);
    assert_eq!(twice.code(), Code::FailedPrecondition);
    let stats = ok(env
        .ltc
        .get_statistics(req(
            pb::GetStatisticsRequest {
                region_code: CITY.into(),
                month: ym(m1),
            },
            &op,
        ))
        .await);
    assert_eq!(
        stats.fund_paid_fen, 0,
        "settled, reversed, re-settled, reversed: nothing owed"
    );
    // Every line is on the bus: settled, or reversed naming the settled line with its figures.
    let mut evs: Vec<(i32, String, i64, i64)> = ltc_events(&env.bus, 4)
        .await
        .into_iter()
        .map(|e| (e.action, e.claim_id, e.amount_fen, e.fund_paid_fen))
        .collect();
    evs.sort();
    let (settled, reversed) = (
        events::LtcAction::Settled as i32,
        events::LtcAction::Reversed as i32,
    );
    let mut want = vec![
        (settled, first.lines[0].line_id.clone(), 420_000, 345_000),
        (reversed, first.lines[0].line_id.clone(), 420_000, 345_000),
        (settled, new.line_id.clone(), 415_000, 345_000),
        (reversed, new.line_id.clone(), 415_000, 345_000),
    ];
    want.sort();
    assert_eq!(evs, want);

    // The released records settle again.
    let third = settle(&mut env, m1, "c-3")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .settlement
        .unwrap_or_default();
    assert_eq!(third.fund_fen, 345_000);
    let stats = ok(env
        .ltc
        .get_statistics(req(
            pb::GetStatisticsRequest {
                region_code: CITY.into(),
                month: ym(m1),
            },
            &op,
        ))
        .await);
    assert_eq!(stats.fund_paid_fen, 345_000);
}

#[tokio::test]
async fn a_person_moved_to_another_institution_keeps_one_monthly_cap_when_both_settle_at_once() {
    let mut env = start().await;
    policy(&mut env).await;
    let id = id_number("37028119500101008");
    insured(&mut env, &id).await;
    let (m1, _) = months();
    let (_, ben) = beneficiary(&mut env, &id, "JZ-2026-008").await;
    let op = env.operator();
    // Placed with INST from the 1st, moved to OTHER_INST from the 16th.
    ok(env
        .ltc
        .place_care(req(
            pb::PlaceCareRequest {
                beneficiary_id: ben.clone(),
                institution_code: OTHER_INST.into(),
                care_type: pb::CareType::Institutional as i32,
                start_date: day(m1, 16),
            },
            &op,
        ))
        .await);
    upload(&mut env, bed_days(&ben, m1, 1..=15, 150, "M")).await;
    let other = env.token(Role::CareInstitution, OTHER_INST, "");
    let up = ok(env
        .ltc
        .upload_service_records(req(
            pb::UploadServiceRecordsRequest {
                institution_code: OTHER_INST.into(),
                records: bed_days(&ben, m1, 16..=28, 150, "N"),
            },
            &other,
        ))
        .await);
    assert_eq!((up.accepted, up.refused), (13, 0));

    // 15 × 130 + 13 × 130 = 3,640 before the cap: whichever run commits second is cut to the room
    // the first left, also when both run at once.
    let (mut a, mut b) = (env.ltc.clone(), env.ltc.clone());
    let run = |inst: &str, id: &str| pb::SettleMonthRequest {
        institution_code: inst.into(),
        month: ym(m1),
        request_id: id.into(),
    };
    let (first, second) = tokio::join!(
        a.settle_month(req(run(INST, "m-1"), &op)),
        b.settle_month(req(run(OTHER_INST, "m-2"), &op))
    );
    let (first, second) = (
        ok(first).settlement.unwrap_or_default(),
        ok(second).settlement.unwrap_or_default(),
    );
    assert_eq!(first.billed_fen + second.billed_fen, 420_000);
    assert_eq!(
        first.fund_fen + second.fund_fen,
        345_000,
        "one cap of 3,450 yuan across both institutions"
    );
    assert_eq!(first.person_fen + second.person_fen, 75_000);
    for line in first.lines.iter().chain(&second.lines) {
        assert_eq!(line.fund_fen + line.person_fen, line.billed_fen);
    }
    let stats = ok(env
        .ltc
        .get_statistics(req(
            pb::GetStatisticsRequest {
                region_code: CITY.into(),
                month: ym(m1),
            },
            &op,
        ))
        .await);
    assert_eq!(stats.fund_paid_fen, 345_000);
}

#[tokio::test]
async fn care_during_a_hospital_stay_and_after_death_is_refused() {
    let mut env = start().await;
    policy(&mut env).await;
    let id = id_number("37028119500101003");
    let person_id = insured(&mut env, &id).await;
    let (_, m2) = months();
    let (_, ben) = beneficiary(&mut env, &id, "JZ-2026-003").await;

    // Settlement settles an inpatient stay from day 10 to day 15 of the second month.
    let stay = events::ClaimEvent {
        event_id: "ev-stay-1".into(),
        claim_id: "CLM-1".into(),
        action: events::ClaimAction::Settled as i32,
        person_key: person_id.clone(),
        kind: events::ClaimKind::Inpatient as i32,
        start_date: day(m2, 10),
        end_date: day(m2, 15),
        institution_code: "H37028100009".into(),
        ..Default::default()
    };
    env.bus
        .publish(
            "yibao.settlement.claims",
            &stay.event_id,
            &stay.encode_to_vec(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..100 {
        if env
            .bus
            .lag("yibao.settlement.claims", "ltc-hospital-stays")
            .await
            .unwrap_or(1)
            == 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let up = upload(&mut env, bed_days(&ben, m2, 10..=15, 150, "H")).await;
    let outcome: Vec<(String, i32, String)> = up
        .results
        .iter()
        .map(|r| (r.record_no.clone(), r.outcome, r.code.clone()))
        .collect();
    let refused = pb::RecordOutcome::Refused as i32;
    let accepted = pb::RecordOutcome::Accepted as i32;
    assert_eq!(
        outcome,
        vec![
            ("H-10".into(), accepted, String::new()),
            (
                "H-11".into(),
                refused,
                "LTC_RECORD_DURING_HOSPITAL_STAY".into()
            ),
            (
                "H-12".into(),
                refused,
                "LTC_RECORD_DURING_HOSPITAL_STAY".into()
            ),
            (
                "H-13".into(),
                refused,
                "LTC_RECORD_DURING_HOSPITAL_STAY".into()
            ),
            (
                "H-14".into(),
                refused,
                "LTC_RECORD_DURING_HOSPITAL_STAY".into()
            ),
            ("H-15".into(), accepted, String::new()),
        ]
    );

    // Died on day 20: care from day 21 is refused; day 20 itself is still covered.
    let op = env.operator();
    ok(env
        .enrollment
        .record_status_event(req(
            en::RecordStatusEventRequest {
                person_id,
                kind: en::StatusEventKind::Death as i32,
                effective_on: day(m2, 20),
                ..Default::default()
            },
            &op,
        ))
        .await);
    let up = upload(&mut env, bed_days(&ben, m2, 19..=22, 150, "D")).await;
    let codes: Vec<String> = up.results.iter().map(|r| r.code.clone()).collect();
    assert_eq!(
        codes[2..],
        [
            "LTC_RECORD_AFTER_DEATH".to_string(),
            "LTC_RECORD_AFTER_DEATH".to_string()
        ]
    );
    assert_eq!(up.accepted + up.refused, 4);
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_writes_nothing() {
    let mut env = start().await;
    policy(&mut env).await;
    let id = id_number("37028119500101004");
    insured(&mut env, &id).await;
    let (m1, _) = months();
    let (_, ben) = beneficiary(&mut env, &id, "JZ-2026-004").await;

    let mut records = bed_days(&ben, m1, 1..=2, 150, "B");
    records[1].amount_fen = -1;
    let ci = env.institution();
    let e = err(env
        .ltc
        .upload_service_records(req(
            pb::UploadServiceRecordsRequest {
                institution_code: INST.into(),
                records,
            },
            &ci,
        ))
        .await);
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(fields(&e), vec!["records[1].amount_fen"]);
    let up = upload(&mut env, bed_days(&ben, m1, 1..=1, 150, "B")).await;
    assert_eq!(
        up.results[0].outcome,
        pb::RecordOutcome::Accepted as i32,
        "the first record of the refused upload was not stored"
    );

    // A bad policy names the path inside the document.
    let op = env.operator();
    let e = err(env.ltc.upload_benefit_policy(req(pb::UploadBenefitPolicyRequest { region_code: CITY.into(), year: m1.year(), document_json: r#"{"qualifying_levels":[3],"care_types":[{"care_type":"home","rate_bp":12000,"unit":"visit"}],"monthly_cap_fen":345000,"reassessment_months":12}"#.into() }, &op)).await);
    assert_eq!(fields(&e), vec!["care_types[0].rate_bp"]);

    // An incomplete score sheet is refused naming the item; an application needs records.
    let id2 = id_number("37028119500101005");
    insured(&mut env, &id2).await;
    let e = err(env
        .ltc
        .submit_application(req(
            pb::SubmitApplicationRequest {
                institution_code: INST.into(),
                application_no: "X-1".into(),
                id_number: id2.clone(),
                name: "王".into(),
                region_code: COUNTY.into(),
                kind: 1,
                medical_records: vec![],
                applied_on: day(m1, 2),
            },
            &ci,
        ))
        .await);
    assert_eq!(fields(&e), vec!["medical_records"]);
    let a = ok(env
        .ltc
        .submit_application(req(
            pb::SubmitApplicationRequest {
                institution_code: INST.into(),
                application_no: "X-1".into(),
                id_number: id2.clone(),
                name: "王".into(),
                region_code: COUNTY.into(),
                kind: 1,
                medical_records: vec!["病历".into()],
                applied_on: day(m1, 2),
            },
            &ci,
        ))
        .await)
    .application
    .unwrap_or_default();
    let s = ok(env
        .ltc
        .schedule_assessment(req(
            pb::ScheduleAssessmentRequest {
                application_id: a.application_id.clone(),
                assessor_codes: vec!["A001".into(), "A002".into()],
                scheduled_on: day(m1, 3),
            },
            &op,
        ))
        .await);
    let assessment_id = s.assessment.map(|a| a.assessment_id).unwrap_or_default();
    let mut sheet = items(25, 10, 9);
    sheet.remove("cognition.memory");
    let t = env.assessor("A001");
    let e = err(env
        .ltc
        .submit_score_sheet(req(
            pb::SubmitScoreSheetRequest {
                assessment_id: assessment_id.clone(),
                items: sheet,
                dementia: false,
            },
            &t,
        ))
        .await);
    assert_eq!(fields(&e), vec!["items[cognition.memory]"]);
    // Two assessors who disagree: the second sheet is refused naming the items, nothing written.
    ok(env
        .ltc
        .submit_score_sheet(req(
            pb::SubmitScoreSheetRequest {
                assessment_id: assessment_id.clone(),
                items: items(25, 10, 9),
                dementia: false,
            },
            &t,
        ))
        .await);
    let t2 = env.assessor("A002");
    let e = err(env
        .ltc
        .submit_score_sheet(req(
            pb::SubmitScoreSheetRequest {
                assessment_id: assessment_id.clone(),
                items: items(25, 12, 9),
                dementia: false,
            },
            &t2,
        ))
        .await);
    assert_eq!(fields(&e), vec!["items[cognition.place]"]);
    let got = ok(env
        .ltc
        .get_assessment(req(
            pb::GetAssessmentRequest {
                assessment_id: assessment_id.clone(),
            },
            &op,
        ))
        .await)
    .assessment
    .unwrap_or_default();
    assert_eq!(got.sheets.len(), 1);
    assert_eq!(got.status, pb::AssessmentStatus::Scheduled as i32);
    // A repeated application number returns the first application.
    let again = ok(env
        .ltc
        .submit_application(req(
            pb::SubmitApplicationRequest {
                institution_code: INST.into(),
                application_no: "X-1".into(),
                id_number: id2,
                name: "王".into(),
                region_code: COUNTY.into(),
                kind: 1,
                medical_records: vec!["病历".into()],
                applied_on: day(m1, 2),
            },
            &ci,
        ))
        .await);
    assert!(again.replayed);
    assert_eq!(
        again.application.map(|a| a.application_id),
        Some(a.application_id)
    );
}

#[tokio::test]
async fn institutions_assessors_and_operators_reach_only_their_own() {
    let mut env = start().await;
    policy(&mut env).await;
    let id = id_number("37028119500101006");
    insured(&mut env, &id).await;
    let (m1, _) = months();
    let (application_id, ben) = beneficiary(&mut env, &id, "JZ-2026-006").await;
    let other = env.token(Role::CareInstitution, OTHER_INST, "");
    let e = err(env
        .ltc
        .get_application(req(
            pb::GetApplicationRequest {
                application_id: application_id.clone(),
            },
            &other,
        ))
        .await);
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = err(env
        .ltc
        .get_beneficiary(req(
            pb::GetBeneficiaryRequest {
                beneficiary_id: ben.clone(),
            },
            &other,
        ))
        .await);
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = err(env
        .ltc
        .upload_service_records(req(
            pb::UploadServiceRecordsRequest {
                institution_code: INST.into(),
                records: bed_days(&ben, m1, 1..=1, 150, "T"),
            },
            &other,
        ))
        .await);
    assert_eq!(e.code(), Code::PermissionDenied);
    // Another institution's records for this person are refused by the plan.
    let up = ok(env
        .ltc
        .upload_service_records(req(
            pb::UploadServiceRecordsRequest {
                institution_code: OTHER_INST.into(),
                records: bed_days(&ben, m1, 1..=1, 150, "T"),
            },
            &other,
        ))
        .await);
    assert_eq!(up.results[0].code, "LTC_RECORD_OTHER_INSTITUTION");
    let app = ok(env
        .ltc
        .get_application(req(
            pb::GetApplicationRequest { application_id },
            &env.institution(),
        ))
        .await)
    .application
    .unwrap_or_default();
    let stranger = env.assessor("A999");
    let e = err(env
        .ltc
        .get_assessment(req(
            pb::GetAssessmentRequest {
                assessment_id: app.assessment_id.clone(),
            },
            &stranger,
        ))
        .await);
    assert_eq!(e.code(), Code::PermissionDenied);
    let mine = ok(env
        .ltc
        .list_assignments(req(
            pb::ListAssignmentsRequest {
                open_only: false,
                page: None,
            },
            &env.assessor("A001"),
        ))
        .await);
    assert_eq!(mine.assessments.len(), 1);
    let far = env.token(Role::Operator, "", "110000");
    let e = err(env
        .ltc
        .settle_month(req(
            pb::SettleMonthRequest {
                institution_code: INST.into(),
                month: ym(m1),
                request_id: "x".into(),
            },
            &far,
        ))
        .await);
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = err(env
        .ltc
        .get_statistics(req(
            pb::GetStatisticsRequest {
                region_code: CITY.into(),
                month: ym(m1),
            },
            &far,
        ))
        .await);
    assert_eq!(e.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_rejection_is_appealed_and_re_decided_and_a_lower_reassessment_applies_next_month() {
    let mut env = start().await;
    policy(&mut env).await;
    let id = id_number("37028119500101007");
    insured(&mut env, &id).await;
    let (m1, m2) = months();
    let ci = env.institution();
    let op = env.operator();
    let a = ok(env
        .ltc
        .submit_application(req(
            pb::SubmitApplicationRequest {
                institution_code: INST.into(),
                application_no: "AP-1".into(),
                id_number: id.clone(),
                name: "李".into(),
                region_code: COUNTY.into(),
                kind: 1,
                medical_records: vec!["病历".into()],
                applied_on: day(m1, 1),
            },
            &ci,
        ))
        .await)
    .application
    .unwrap_or_default();
    let assess = |env: &mut Env, application_id: String, adl: u32| {
        let op = env.operator();
        let mut ltc = env.ltc.clone();
        let (t1, t2) = (env.assessor("A001"), env.assessor("A002"));
        async move {
            let s = ok(ltc
                .schedule_assessment(req(
                    pb::ScheduleAssessmentRequest {
                        application_id,
                        assessor_codes: vec!["A001".into(), "A002".into()],
                        scheduled_on: day(m1, 2),
                    },
                    &op,
                ))
                .await);
            let aid = s.assessment.map(|a| a.assessment_id).unwrap_or_default();
            ok(ltc
                .submit_score_sheet(req(
                    pb::SubmitScoreSheetRequest {
                        assessment_id: aid.clone(),
                        items: items(adl, 16, 12),
                        dementia: false,
                    },
                    &t1,
                ))
                .await);
            ok(ltc
                .submit_score_sheet(req(
                    pb::SubmitScoreSheetRequest {
                        assessment_id: aid,
                        items: items(adl, 16, 12),
                        dementia: false,
                    },
                    &t2,
                ))
                .await)
        }
    };
    // ADL 45 → moderate → level 2: does not qualify; the operator rejects with a reason.
    assess(&mut env, a.application_id.clone(), 45).await;
    let e = err(env
        .ltc
        .decide_application(req(
            pb::DecideApplicationRequest {
                application_id: a.application_id.clone(),
                approve: true,
                reason: String::new(),
                decided_on: day(m1, 3),
            },
            &op,
        ))
        .await);
    assert_eq!(e.code(), Code::FailedPrecondition);
    let e = err(env
        .ltc
        .decide_application(req(
            pb::DecideApplicationRequest {
                application_id: a.application_id.clone(),
                approve: false,
                reason: String::new(),
                decided_on: day(m1, 3),
            },
            &op,
        ))
        .await);
    assert_eq!(fields(&e), vec!["reason"]);
    ok(env
        .ltc
        .decide_application(req(
            pb::DecideApplicationRequest {
                application_id: a.application_id.clone(),
                approve: false,
                reason: "中度失能，不符合待遇条件".into(),
                decided_on: day(m1, 3),
            },
            &op,
        ))
        .await);
    // Appeal → new assessment finds ADL 0 → level 3 (severe Ⅰ) → approved.
    ok(env
        .ltc
        .appeal_decision(req(
            pb::AppealDecisionRequest {
                application_id: a.application_id.clone(),
                reason: "病情加重".into(),
            },
            &ci,
        ))
        .await);
    assess(&mut env, a.application_id.clone(), 0).await;
    let d = ok(env
        .ltc
        .decide_application(req(
            pb::DecideApplicationRequest {
                application_id: a.application_id.clone(),
                approve: true,
                reason: String::new(),
                decided_on: day(m1, 5),
            },
            &op,
        ))
        .await);
    let app = d.application.unwrap_or_default();
    assert_eq!(app.status, pb::ApplicationStatus::Approved as i32);
    assert_eq!(app.level, pb::DisabilityLevel::Severe1 as i32);
    assert_eq!(
        app.steps.len(),
        8,
        "received, scheduled, assessed, rejected, appealed, scheduled, assessed, approved"
    );
    let e = err(env
        .ltc
        .appeal_decision(req(
            pb::AppealDecisionRequest {
                application_id: a.application_id.clone(),
                reason: "again".into(),
            },
            &ci,
        ))
        .await);
    assert_eq!(e.code(), Code::FailedPrecondition);
    let ben = d.beneficiary.unwrap_or_default();
    assert_eq!(ben.levels[0].effective_from, day(m1, 5));
    let due = ok(env
        .ltc
        .list_reassessments_due(req(
            pb::ListReassessmentsDueRequest {
                region_code: CITY.into(),
                date: "2100-01-01".into(),
                page: None,
            },
            &op,
        ))
        .await);
    assert_eq!(due.beneficiaries.len(), 1);

    // Reassessment on day 10 of the second month finds level 2: in force from the next month.
    let r = ok(env
        .ltc
        .submit_application(req(
            pb::SubmitApplicationRequest {
                institution_code: INST.into(),
                application_no: "AP-2".into(),
                id_number: id,
                name: "李".into(),
                region_code: COUNTY.into(),
                kind: 2,
                medical_records: vec!["复评".into()],
                applied_on: day(m2, 8),
            },
            &ci,
        ))
        .await)
    .application
    .unwrap_or_default();
    assess(&mut env, r.application_id.clone(), 45).await;
    let d = ok(env
        .ltc
        .decide_application(req(
            pb::DecideApplicationRequest {
                application_id: r.application_id,
                approve: true,
                reason: String::new(),
                decided_on: day(m2, 10),
            },
            &op,
        ))
        .await);
    let b = d.beneficiary.unwrap_or_default();
    let next = m2.checked_add_months(chrono::Months::new(1)).unwrap_or(m2);
    assert_eq!(
        b.levels
            .iter()
            .map(|l| (l.level, l.effective_from.clone()))
            .collect::<Vec<_>>(),
        vec![
            (pb::DisabilityLevel::Severe1 as i32, day(m1, 5)),
            (pb::DisabilityLevel::Moderate as i32, next.to_string())
        ]
    );
    // Care on day 20 of the second month is still paid under level 3.
    ok(env
        .ltc
        .place_care(req(
            pb::PlaceCareRequest {
                beneficiary_id: b.beneficiary_id.clone(),
                institution_code: INST.into(),
                care_type: pb::CareType::Institutional as i32,
                start_date: day(m2, 1),
            },
            &ci,
        ))
        .await);
    let up = upload(&mut env, bed_days(&b.beneficiary_id, m2, 20..=20, 100, "L")).await;
    assert_eq!(up.results[0].outcome, pb::RecordOutcome::Accepted as i32);
}

/// Publishes settlement's claim events of one inpatient claim and waits until ltc consumed them.
async fn settlement_events(env: &mut Env, events: &[events::ClaimEvent]) {
    for ev in events {
        env.bus
            .publish("yibao.settlement.claims", &ev.event_id, &ev.encode_to_vec())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    for _ in 0..100 {
        let lag = env
            .bus
            .lag("yibao.settlement.claims", "ltc-hospital-stays")
            .await
            .unwrap_or(1);
        if lag == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("ltc did not consume settlement's events");
}

#[tokio::test]
async fn a_partial_refund_keeps_the_stay_and_a_late_old_event_changes_nothing() {
    let mut env = start().await;
    policy(&mut env).await;
    let id = id_number("37028119500101004");
    let person_id = insured(&mut env, &id).await;
    let (_, m2) = months();
    let (_, ben) = beneficiary(&mut env, &id, "JZ-2026-004").await;
    let claim = |event_id: &str, action: events::ClaimAction, end: u32| events::ClaimEvent {
        event_id: event_id.into(),
        claim_id: "CLM-REFUND".into(),
        action: action as i32,
        person_key: person_id.clone(),
        kind: events::ClaimKind::Inpatient as i32,
        start_date: day(m2, 10),
        end_date: day(m2, end),
        institution_code: "H37028100009".into(),
        ..Default::default()
    };
    // Settled for days 10–15, then a partial refund: reversed, and settled again for 10–14.
    // An old copy of the first settlement arrives last (redelivered, or reclaimed from a
    // consumer that died): it must not bring back the first dates.
    settlement_events(
        &mut env,
        &[
            claim("ev-refund-1", events::ClaimAction::Settled, 15),
            claim("ev-refund-2", events::ClaimAction::Reversed, 15),
            claim("ev-refund-3", events::ClaimAction::Settled, 14),
            claim("ev-refund-1", events::ClaimAction::Settled, 15),
        ],
    )
    .await;
    let up = upload(&mut env, bed_days(&ben, m2, 10..=15, 150, "R")).await;
    let codes: Vec<(String, String)> = up
        .results
        .iter()
        .map(|r| (r.record_no.clone(), r.code.clone()))
        .collect();
    let during = "LTC_RECORD_DURING_HOSPITAL_STAY".to_string();
    assert_eq!(
        codes,
        vec![
            ("R-10".into(), String::new()),
            ("R-11".into(), during.clone()),
            ("R-12".into(), during.clone()),
            ("R-13".into(), during),
            ("R-14".into(), String::new()),
            ("R-15".into(), String::new()),
        ],
        "the stay of the re-settled claim (10–14) holds; care on its inner days is refused"
    );
}

/// The registry changes the care institution's status from `on`, as the county's operator.
async fn registry_status(env: &mut Env, status: en::InstitutionStatus, on: &str, why: &str) {
    let op = env.operator();
    ok(env
        .enrollment
        .change_institution_status(req(
            en::ChangeInstitutionStatusRequest {
                institution_code: INST.into(),
                status: status as i32,
                effective_on: on.into(),
                reason: why.into(),
            },
            &op,
        ))
        .await);
}

fn reason(s: &Status) -> String {
    use tonic_types::StatusExt as _;
    s.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn only_a_designated_ltc_provider_is_placed_recorded_and_settled() {
    let mut env = start().await;
    policy(&mut env).await;
    let id = id_number("37028119500101031");
    insured(&mut env, &id).await;
    let (m1, _) = months();
    let (_, ben) = beneficiary(&mut env, &id, "JZ-2026-031").await;
    let op = env.operator();

    // An institution the registry does not know is not placed with, and nothing is written.
    let stranger = "H37028100003";
    let e = err(env
        .ltc
        .place_care(req(
            pb::PlaceCareRequest {
                beneficiary_id: ben.clone(),
                institution_code: stranger.into(),
                care_type: pb::CareType::Institutional as i32,
                start_date: day(m1, 10),
            },
            &op,
        ))
        .await);
    assert_eq!(
        (e.code(), reason(&e).as_str()),
        (Code::FailedPrecondition, "LTC_INSTITUTION_NOT_DESIGNATED")
    );
    assert_eq!(fields(&e), vec!["institution_code"]);
    assert!(
        e.message()
            .contains("not in the designated-institution registry"),
        "{}",
        e.message()
    );
    let b = ok(env
        .ltc
        .get_beneficiary(req(
            pb::GetBeneficiaryRequest {
                beneficiary_id: ben.clone(),
            },
            &op,
        ))
        .await);
    assert_eq!(
        b.beneficiary.map(|b| b.care_plans.len()),
        Some(1),
        "no plan was added"
    );

    // Records uploaded while designated; then the registry suspends the institution from the
    // 15th: the month is refused at settlement with the registry's reason, and so are new records.
    let up = upload(&mut env, bed_days(&ben, m1, 1..=20, 150, "S")).await;
    assert_eq!(up.accepted, 20);
    registry_status(
        &mut env,
        en::InstitutionStatus::Suspended,
        &day(m1, 15),
        "虚假护理记录",
    )
    .await;
    let e = settle(&mut env, m1, "reg-1")
        .await
        .expect_err("suspended mid-month");
    assert_eq!(reason(&e), "LTC_INSTITUTION_NOT_DESIGNATED");
    assert_eq!(fields(&e), vec!["institution_code"]);
    assert!(
        e.message()
            .contains(&format!("suspended from {}", day(m1, 15)))
            && e.message().contains("虚假护理记录"),
        "{}",
        e.message()
    );
    let ci = env.institution();
    let e = err(env
        .ltc
        .upload_service_records(req(
            pb::UploadServiceRecordsRequest {
                institution_code: INST.into(),
                records: bed_days(&ben, m1, 21..=22, 150, "S"),
            },
            &ci,
        ))
        .await);
    assert_eq!(reason(&e), "LTC_INSTITUTION_NOT_DESIGNATED");
    // Nothing of the refused run was written: the request id is still free once reinstated
    // (from the 15th, so the whole month is covered again).
    registry_status(
        &mut env,
        en::InstitutionStatus::Active,
        &day(m1, 15),
        "整改完成",
    )
    .await;
    let run = settle(&mut env, m1, "reg-1")
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(!run.replayed);
    assert_eq!(run.settlement.map(|s| s.lines.len()), Some(1));
}
