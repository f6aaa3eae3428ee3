//! Demo data for `yibao up --demo`, echoing seed 000 (Huoqiu county, region 341522): the
//! county pays the 180-yuan individual contribution of poverty-registered people. Loaded
//! through the services' own gRPC API with an operator token, so it obeys every rule; safe
//! to run again (registrations and payments are idempotent).

use chrono::Datelike;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use yibao_proto::common::v1 as common;
use yibao_proto::enrollment::v1 as pb;
use yibao_proto::enrollment::v1::enrollment_service_client::EnrollmentServiceClient;
use yibao_proto::settlement::v1 as settlement;
use yibao_proto::settlement::v1::settlement_service_client::SettlementServiceClient;

/// The demo's county.
pub const REGION: &str = "341522";
/// The demo's designated county hospital.
pub const HOSPITAL: &str = "H34152200001";

/// One demo person: ID number, name, poverty-registered, how the contribution is paid.
pub const PEOPLE: &[(&str, &str, bool, Payment)] = &[
    ("341522195803120020", "张桂兰", true, Payment::Subsidy),
    ("341522195508070016", "李德胜", true, Payment::Subsidy),
    ("341522201205190035", "李小明", true, Payment::Subsidy),
    ("341522198001010018", "王建国", false, Payment::SelfPaid),
    ("341522199006150022", "赵敏", false, Payment::Unpaid),
];

/// How a demo person's contribution is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payment {
    /// The county subsidy pays all of it.
    Subsidy,
    /// The person paid.
    SelfPaid,
    /// Not paid: eligibility answers UNPAID.
    Unpaid,
}

type Client = EnrollmentServiceClient<InterceptedService<Channel, yibao_runtime::server::Forward>>;

fn already(e: &tonic::Status) -> bool {
    e.code() == tonic::Code::AlreadyExists
}

/// Loads the demo data through the services' APIs at `grpc` using `operator_token`.
pub async fn load(grpc: std::net::SocketAddr, operator_token: &str) -> Result<(), String> {
    let (channel, forward) = connect(grpc, operator_token).await?;
    load_people(EnrollmentServiceClient::with_interceptor(
        channel.clone(),
        forward.clone(),
    ))
    .await?;
    load_policy(SettlementServiceClient::with_interceptor(channel, forward)).await
}

/// Carries the seeded Huoqiu policy over to this year (also what the load generator settles by).
pub async fn carry_policy(grpc: std::net::SocketAddr, operator_token: &str) -> Result<(), String> {
    let (channel, forward) = connect(grpc, operator_token).await?;
    load_policy(SettlementServiceClient::with_interceptor(channel, forward)).await
}

async fn connect(
    grpc: std::net::SocketAddr,
    operator_token: &str,
) -> Result<(Channel, yibao_runtime::server::Forward), String> {
    let channel = Channel::from_shared(format!("http://{grpc}"))
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let auth = http::HeaderValue::from_str(&format!("Bearer {operator_token}"))
        .map_err(|e| e.to_string())?;
    Ok((
        channel,
        yibao_runtime::server::Forward {
            authorization: Some(auth),
        },
    ))
}

/// The seeded Huoqiu policy (2018, seed 001's figures) carried over to this year, so claims
/// of this year settle.
async fn load_policy(
    mut c: SettlementServiceClient<InterceptedService<Channel, yibao_runtime::server::Forward>>,
) -> Result<(), String> {
    let year = chrono::Utc::now().year();
    let this_years = format!("{REGION}-{year}-resident");
    let get = |policy_id: String| settlement::GetPolicyRequest {
        policy_id,
        version: 0,
        region_code: REGION.into(),
    };
    if c.get_policy(get(this_years.clone())).await.is_ok() {
        return Ok(());
    }
    let seeded = c
        .get_policy(get(format!("{REGION}-2018-resident")))
        .await
        .map_err(|e| format!("seeded policy: {}", e.message()))?
        .into_inner();
    let mut doc: serde_json::Value =
        serde_json::from_str(&seeded.document_json).map_err(|e| format!("seeded policy: {e}"))?;
    doc["id"] = this_years.into();
    doc["version"] = 1.into();
    doc["year"] = year.into();
    doc["effective_from"] = format!("{year}-01-01").into();
    c.upload_policy(settlement::UploadPolicyRequest {
        region_code: REGION.into(),
        document_json: doc.to_string(),
    })
    .await
    .map_err(|e| format!("policy: {}", e.message()))?;
    Ok(())
}

async fn load_people(mut c: Client) -> Result<(), String> {
    let year = chrono::Utc::now().year();
    let resident = common::Scheme::Resident as i32;
    c.set_contribution_standard(pb::SetContributionStandardRequest {
        region_code: REGION.into(),
        year,
        scheme: resident,
        individual_amount_fen: 18_000,
        waiting_days: 30,
    })
    .await
    .map_err(|e| e.message().to_string())?;
    let mut household = String::new();
    for (id, name, poor, payment) in PEOPLE {
        let person = register_or_find(&mut c, id, name, &household).await?;
        if *poor && household.is_empty() {
            let h = c
                .create_household(pb::CreateHouseholdRequest {
                    region_code: REGION.into(),
                    address: "霍邱县城关镇 demo 村 1 号".into(),
                    head_person_id: person.person_id.clone(),
                })
                .await
                .map_err(|e| e.message().to_string())?;
            household = h
                .into_inner()
                .household
                .map(|h| h.household_id)
                .unwrap_or_default();
        }
        if *poor && person.categories.is_empty() {
            c.grant_category(pb::GrantCategoryRequest {
                person_id: person.person_id.clone(),
                category: common::PersonCategory::PovertyRegistered as i32,
                valid_from: "2016-01-01".into(),
                valid_to: String::new(),
            })
            .await
            .map_err(|e| e.message().to_string())?;
        }
        let enrolment = enrol_or_find(&mut c, &person.person_id, name, year).await?;
        let (kind, reference) = match payment {
            Payment::Subsidy => (
                pb::ContributionKind::Subsidy,
                format!("county-poverty-subsidy-{year}"),
            ),
            Payment::SelfPaid => (
                pb::ContributionKind::Payment,
                format!("receipt-{year}-{id}"),
            ),
            Payment::Unpaid => continue,
        };
        c.record_contribution(pb::RecordContributionRequest {
            enrolment_id: enrolment.enrolment_id,
            kind: kind as i32,
            amount_fen: 18_000,
            paid_on: format!("{}-12-01", year - 1),
            reference,
        })
        .await
        .map_err(|e| format!("contribution of {name}: {}", e.message()))?;
    }
    Ok(())
}

/// Registers a demo person, or finds them when an earlier run did.
async fn register_or_find(
    c: &mut Client,
    id: &str,
    name: &str,
    household: &str,
) -> Result<pb::Person, String> {
    match c
        .register_person(pb::RegisterPersonRequest {
            id_number: id.into(),
            name: name.into(),
            region_code: REGION.into(),
            household_id: household.into(),
            contact: String::new(),
        })
        .await
    {
        Ok(r) => r.into_inner().person,
        Err(e) if already(&e) => {
            c.lookup_person(pb::LookupPersonRequest {
                id_number: id.into(),
            })
            .await
            .map_err(|e| e.message().to_string())?
            .into_inner()
            .person
        }
        Err(e) => return Err(format!("register {name}: {}", e.message())),
    }
    .ok_or_else(|| "no person in reply".to_string())
}

/// Enrols a demo person for `year`, or finds the enrolment an earlier run made.
async fn enrol_or_find(
    c: &mut Client,
    person_id: &str,
    name: &str,
    year: i32,
) -> Result<pb::Enrolment, String> {
    match c
        .enroll(pb::EnrollRequest {
            person_id: person_id.into(),
            year,
            scheme: common::Scheme::Resident as i32,
            region_code: REGION.into(),
            enrolled_on: format!("{}-11-20", year - 1),
        })
        .await
    {
        Ok(r) => r.into_inner().enrolment,
        Err(e) if already(&e) => c
            .list_enrolments(pb::ListEnrolmentsRequest {
                person_id: person_id.into(),
            })
            .await
            .map_err(|e| e.message().to_string())?
            .into_inner()
            .enrolments
            .into_iter()
            .find(|e| e.year == year),
        Err(e) => return Err(format!("enrol {name}: {}", e.message())),
    }
    .ok_or_else(|| "no enrolment in reply".to_string())
}
