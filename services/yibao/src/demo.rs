//! Demo data for `yibao up --demo`, echoing seed 000 (Huoqiu county, region 341522): the
//! county pays the 180-yuan individual contribution of poverty-registered people; its
//! designated institutions (45 hospitals and 163 pharmacies with this year's agreements) and
//! their insurance physicians are in the registry, and one poor resident holds a certification
//! of hypertension (门诊慢特病认定). Loaded through the services' own gRPC API with an operator
//! token, so it obeys every rule; safe to run again (registrations, imports and payments are
//! idempotent).

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
/// The demo's designated county hospital (二级, county tier).
pub const HOSPITAL: &str = "H34152200001";
/// An active insurance physician of the county hospital.
pub const PHYSICIAN: &str = "D341522000001";
/// A suspended insurance physician of the county hospital.
pub const SUSPENDED_PHYSICIAN: &str = "D341522000002";
/// The demo resident certified for [`CHRONIC_DISEASE`] (李德胜, poverty-registered).
pub const CHRONIC_PATIENT: &str = "341522195508070016";
/// The chronic disease of the demo's certification: hypertension grade III in the Huoqiu policy.
pub const CHRONIC_DISEASE: &str = "M03900";

/// Township health centres of the demo county (one per town).
const TOWNS: [&str; 30] = [
    "城关",
    "新店",
    "石店",
    "孟集",
    "花园",
    "扈胡",
    "长集",
    "乌龙",
    "高塘",
    "龙潭",
    "岔路",
    "冯井",
    "众兴",
    "周集",
    "临水",
    "马店",
    "宋店",
    "彭塔",
    "夏店",
    "邵岗",
    "白莲",
    "潘集",
    "曹庙",
    "范桥",
    "河口",
    "王截流",
    "冯瓴",
    "姚李",
    "户胡",
    "三流",
];

/// Other hospitals of the county: name, grade, beds.
const COUNTY_HOSPITALS: [(&str, &str, u32); 15] = [
    ("霍邱县第一人民医院", "2", 600),
    ("霍邱县中医院", "2", 300),
    ("霍邱县第二人民医院", "2", 260),
    ("霍邱县妇幼保健院", "2", 120),
    ("霍邱县精神病医院", "1", 100),
    ("霍邱县皮肤病防治所", "ungraded", 20),
    ("霍邱县仁和医院", "1", 80),
    ("霍邱县博爱医院", "1", 60),
    ("霍邱县康复医院", "1", 50),
    ("霍邱县骨科医院", "1", 60),
    ("霍邱县眼科医院", "ungraded", 30),
    ("霍邱县口腔医院", "ungraded", 10),
    ("霍邱县城南医院", "1", 40),
    ("霍邱县城北医院", "1", 40),
    ("霍邱县老年病医院", "1", 80),
];

/// The hospital (by its sequence, `H34152200002`, 霍邱县中医院) whose agreement also covers
/// long-term care: the care institution of `services/ltc/README.md`'s tour.
const LTC_HOSPITAL: usize = 2;

/// The demo county's roster (docs/roster-format.md): 45 hospitals (15 county ones, 30
/// township health centres) and 163 pharmacies (seed 000's agreements), each with an
/// agreement for `year` covering both schemes (the TCM hospital's also long-term care).
pub fn roster(year: i32) -> String {
    let mut csv = String::from(
        "institution_code,name,kind,grade,tier,effective_from,region_code,beds,agreement_no,agreement_from,agreement_to,schemes,service_kinds\n",
    );
    let hospitals = COUNTY_HOSPITALS
        .iter()
        .map(|(name, grade, beds)| (name.to_string(), *grade, "county", *beds))
        .chain(
            TOWNS
                .iter()
                .map(|t| (format!("霍邱县{t}镇卫生院"), "1", "township", 40)),
        );
    for (n, (name, grade, tier, beds)) in hospitals.enumerate() {
        let n = n + 1;
        // The county's TCM hospital also runs the long-term-care ward of the LTC tour.
        let ltc = if n == LTC_HOSPITAL { ";ltc" } else { "" };
        csv.push_str(&format!(
            "H{REGION}{n:05},{name},hospital,{grade},{tier},2015-01-01,{REGION},{beds},HQ-{year}-H{n:03},{year}-01-01,{year}-12-31,resident;employee,inpatient;outpatient;chronic{ltc}\n"
        ));
    }
    for n in 1..=163usize {
        let town = TOWNS[(n - 1) % TOWNS.len()];
        let tier = if n <= 40 { "county" } else { "township" };
        csv.push_str(&format!(
            "P{REGION}{n:05},霍邱县{town}惠民大药房第{n}店,pharmacy,ungraded,{tier},2016-01-01,{REGION},0,HQ-{year}-P{n:03},{year}-01-01,{year}-12-31,resident;employee,pharmacy\n"
        ));
    }
    csv
}

/// The demo county's insurance physicians: two at the county hospital (one suspended), one at
/// every other hospital.
pub fn physicians() -> String {
    let mut csv = String::from("physician_code,name,institution_code,status,status_reason\n");
    csv.push_str(&format!("{PHYSICIAN},王立新,{HOSPITAL},,\n"));
    csv.push_str(&format!(
        "{SUSPENDED_PHYSICIAN},陈国平,{HOSPITAL},suspended,12 points deducted for over-prescribing\n"
    ));
    for n in 2..=45usize {
        csv.push_str(&format!(
            "D{REGION}{:06},医师{n:02},H{REGION}{n:05},,\n",
            100 + n
        ));
    }
    csv
}

/// One demo person: ID number, name, poverty-registered, how the contribution is paid.
pub const PEOPLE: &[(&str, &str, bool, Payment)] = &[
    ("341522195803120020", "张桂兰", true, Payment::Subsidy),
    ("341522195508070016", "李德胜", true, Payment::Subsidy),
    ("341522201205190035", "李小明", true, Payment::Subsidy),
    ("341522198001010018", "王建国", false, Payment::SelfPaid),
    ("341522199006150022", "赵敏", false, Payment::Unpaid),
];

/// A demo person enrolled twice in the year, resident (self-paid) and employee (the employer
/// paid), so that the duplicate scan of `docs/api.md` finds a cross-system pair to work.
pub const DUPLICATE_PERSON: (&str, &str) = ("341522197503080046", "周海燕");

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
    let mut enrollment =
        EnrollmentServiceClient::with_interceptor(channel.clone(), forward.clone());
    registry(&mut enrollment).await?;
    load_people(enrollment.clone()).await?;
    certify(&mut enrollment).await?;
    load_policy(SettlementServiceClient::with_interceptor(channel, forward)).await
}

/// Loads the demo county's designated institutions, agreements and physicians (also what the
/// load generator settles at).
pub async fn load_registry(grpc: std::net::SocketAddr, operator_token: &str) -> Result<(), String> {
    let (channel, forward) = connect(grpc, operator_token).await?;
    registry(&mut EnrollmentServiceClient::with_interceptor(
        channel, forward,
    ))
    .await
}

async fn registry(c: &mut Client) -> Result<(), String> {
    let year = chrono::Utc::now().year();
    let roster = c
        .import_institution_roster(pb::ImportInstitutionRosterRequest {
            region_code: REGION.into(),
            csv: roster(year),
            dry_run: false,
        })
        .await
        .map_err(|e| format!("roster: {}", e.message()))?
        .into_inner();
    if !roster.stored {
        return Err(format!("roster refused: {:?}", roster.errors));
    }
    let physicians = c
        .import_physicians(pb::ImportPhysiciansRequest {
            region_code: REGION.into(),
            csv: physicians(),
            dry_run: false,
        })
        .await
        .map_err(|e| format!("physicians: {}", e.message()))?
        .into_inner();
    if !physicians.stored {
        return Err(format!("physicians refused: {:?}", physicians.errors));
    }
    Ok(())
}

/// Certifies the demo's chronic patient for hypertension by the county hospital from the
/// start of the year (once).
async fn certify(c: &mut Client) -> Result<(), String> {
    let year = chrono::Utc::now().year();
    let person = c
        .lookup_person(pb::LookupPersonRequest {
            id_number: CHRONIC_PATIENT.into(),
        })
        .await
        .map_err(|e| format!("chronic patient: {}", e.message()))?
        .into_inner()
        .person
        .ok_or_else(|| "no person in reply".to_string())?;
    let held = c
        .list_chronic_certifications(pb::ListChronicCertificationsRequest {
            person_id: person.person_id.clone(),
        })
        .await
        .map_err(|e| format!("certifications: {}", e.message()))?
        .into_inner()
        .certifications;
    if held
        .iter()
        .any(|x| x.disease_code == CHRONIC_DISEASE && x.status == pb::RecordStatus::Active as i32)
    {
        return Ok(());
    }
    c.add_chronic_certification(pb::AddChronicCertificationRequest {
        person_id: person.person_id,
        disease_code: CHRONIC_DISEASE.into(),
        certifying_institution_code: HOSPITAL.into(),
        valid_from: format!("{year}-01-01"),
        valid_to: String::new(),
    })
    .await
    .map_err(|e| format!("certification: {}", e.message()))?;
    Ok(())
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
    set_standard(&mut c, year, resident, 30).await?;
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
        let enrolment = enrol_or_find(&mut c, &person.person_id, name, year, resident).await?;
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
    load_duplicate(&mut c, year).await
}

/// The region's contribution standard of `scheme` for `year`: 180 yuan a person.
async fn set_standard(
    c: &mut Client,
    year: i32,
    scheme: i32,
    waiting_days: i32,
) -> Result<(), String> {
    c.set_contribution_standard(pb::SetContributionStandardRequest {
        region_code: REGION.into(),
        year,
        scheme,
        individual_amount_fen: 18_000,
        waiting_days,
    })
    .await
    .map_err(|e| e.message().to_string())?;
    Ok(())
}

/// Enrols [`DUPLICATE_PERSON`] in both schemes of the year, each paid.
async fn load_duplicate(c: &mut Client, year: i32) -> Result<(), String> {
    let employee = common::Scheme::Employee as i32;
    set_standard(c, year, employee, 0).await?;
    let (id, name) = DUPLICATE_PERSON;
    let person = register_or_find(c, id, name, "").await?;
    for (scheme, paid_on) in [
        (
            common::Scheme::Resident as i32,
            format!("{}-12-01", year - 1),
        ),
        (employee, format!("{}-12-10", year - 1)),
    ] {
        let enrolment = enrol_or_find(c, &person.person_id, name, year, scheme).await?;
        c.record_contribution(pb::RecordContributionRequest {
            enrolment_id: enrolment.enrolment_id,
            kind: pb::ContributionKind::Payment as i32,
            amount_fen: 18_000,
            paid_on,
            reference: format!("receipt-{year}-{id}-{scheme}"),
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

/// Enrols a demo person for `year` in `scheme`, or finds the enrolment an earlier run made.
async fn enrol_or_find(
    c: &mut Client,
    person_id: &str,
    name: &str,
    year: i32,
    scheme: i32,
) -> Result<pb::Enrolment, String> {
    match c
        .enroll(pb::EnrollRequest {
            person_id: person_id.into(),
            year,
            scheme,
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
            .find(|e| e.year == year && e.scheme == scheme),
        Err(e) => return Err(format!("enrol {name}: {}", e.message())),
    }
    .ok_or_else(|| "no enrolment in reply".to_string())
}

/// Imports the demo catalogue of the province (`yibao_procurement::demo`), the codes the
/// tours settle; `province_token` is an operator's of 340000 (importing again changes nothing).
pub async fn load_catalogue(
    grpc: std::net::SocketAddr,
    province_token: &str,
) -> Result<(), String> {
    use yibao_proto::procurement::v1::procurement_service_client::ProcurementServiceClient;
    let (channel, forward) = connect(grpc, province_token).await?;
    ProcurementServiceClient::with_interceptor(channel, forward)
        .import_catalogue(yibao_procurement::demo::import_request())
        .await
        .map_err(|e| format!("demo catalogue: {}", e.message()))?;
    Ok(())
}
