//! Tables and transactions of the settlement service.
//!
//! Every write is one transaction. A settlement writes, together, the claim, its items, the
//! explanation of every amount, the person-year accumulators, the double-entry ledger lines
//! per fund, the insurers' layers and an outbox event; a reversal writes the compensating
//! lines. Concurrent settlements of one person are serialised on the accumulator row
//! (`SELECT … FOR UPDATE` on PostgreSQL; SQLite has one writer, queued on a lock here), and the
//! row carries a version checked on update as a second guard.

pub mod events;
pub mod migration;
pub mod sql;

use crate::domain::{
    Accumulators, Breakdown, CatalogueEntry, Claim, ClaimItem, CrossRegionFiling,
    EligibilitySnapshot, EncounterKind, HospitalGrade, InstitutionTier, ItemClass, Layer,
    PolicyBundle, PolicyDocument, Scheme, Settlement, apply_delta, refund_items, settle,
};
use crate::error::SettleError;
use chrono::NaiveDate;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, QueryResult,
    TransactionTrait, Value,
};
use serde::{Deserialize, Serialize};
use sql::{i, i4, insert_rows, int, int32, oi, opt_int, opt_text, ot, t, text};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use yibao_core::{Bp, Fen, IdNumber, InstitutionCode, RegionCode};

/// Who made a change.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Token subject.
    pub subject: String,
    /// Role name.
    pub role: String,
}

/// State of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimStatus {
    /// Settled.
    Settled,
    /// Some items refunded.
    PartiallyRefunded,
    /// Fully reversed.
    Reversed,
    /// Replaced by a corrected claim.
    Superseded,
}

impl ClaimStatus {
    /// Text form in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimStatus::Settled => "settled",
            ClaimStatus::PartiallyRefunded => "partially_refunded",
            ClaimStatus::Reversed => "reversed",
            ClaimStatus::Superseded => "superseded",
        }
    }

    /// Parses the text form.
    pub fn parse(s: &str) -> Option<ClaimStatus> {
        [
            ClaimStatus::Settled,
            ClaimStatus::PartiallyRefunded,
            ClaimStatus::Reversed,
            ClaimStatus::Superseded,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    fn open(self) -> bool {
        matches!(self, ClaimStatus::Settled | ClaimStatus::PartiallyRefunded)
    }
}

/// Text form of a scheme.
pub fn scheme_str(s: Scheme) -> &'static str {
    match s {
        Scheme::Employee => "employee",
        Scheme::Resident => "resident",
    }
}

/// Parses a scheme's text form.
pub fn scheme_of(s: &str) -> Option<Scheme> {
    [Scheme::Employee, Scheme::Resident]
        .into_iter()
        .find(|x| scheme_str(*x) == s)
}

/// Text form of an encounter kind.
pub fn kind_str(k: EncounterKind) -> &'static str {
    match k {
        EncounterKind::Inpatient => "inpatient",
        EncounterKind::GeneralOutpatient => "general_outpatient",
        EncounterKind::OutpatientChronic => "outpatient_chronic",
        EncounterKind::Maternity => "maternity",
        EncounterKind::Pharmacy => "pharmacy",
    }
}

/// Parses an encounter kind's text form.
pub fn kind_of(s: &str) -> Option<EncounterKind> {
    [
        EncounterKind::Inpatient,
        EncounterKind::GeneralOutpatient,
        EncounterKind::OutpatientChronic,
        EncounterKind::Maternity,
        EncounterKind::Pharmacy,
    ]
    .into_iter()
    .find(|k| kind_str(*k) == s)
}

/// The fund (and insurer) lines of a breakdown as `(fund_pay_type, fen)`, zeros left out.
/// The commercial line (990201) is a payer line, not a fund; the ledger carries it too.
pub fn fund_lines(scheme: Scheme, b: &Breakdown) -> Vec<(&'static str, i64)> {
    let pool = match scheme {
        Scheme::Employee => "310100",
        Scheme::Resident => "390100",
    };
    [
        (pool, b.hifp_pay.0),
        ("320100", b.cvlserv_pay.0),
        ("340100", b.hifes_pay.0),
        ("330100", b.hifob_pay.0),
        ("390200", b.hifmi_pay.0),
        ("610100", b.maf_pay.0),
        ("350100", b.hifdm_pay.0),
        ("990101", b.backstop_pay.0),
        ("990102", b.supplement_pay.0),
        ("990201", b.insurer_pay.0),
    ]
    .into_iter()
    .filter(|(_, v)| *v != 0)
    .collect()
}

/// A claim as stored: the priced claim the engine settled plus what the request carried
/// besides it. Serialised into `claims.claim_json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredClaim {
    /// Institution.
    pub institution_code: String,
    /// Encounter number.
    pub encounter_no: String,
    /// ID number (clear; never logged, masked in responses).
    pub id_number: String,
    /// Insured region as submitted and verified.
    pub insured_region_code: String,
    /// Kind.
    pub kind: EncounterKind,
    /// Disease code of a chronic claim.
    pub disease_code: Option<String>,
    /// Grade.
    pub grade: HospitalGrade,
    /// Tier.
    pub tier: InstitutionTier,
    /// Start date.
    pub start_date: NaiveDate,
    /// End date.
    pub end_date: NaiveDate,
    /// Diagnoses.
    pub diagnoses: Vec<String>,
    /// Items as priced (class and payment standard from the catalogue).
    pub items: Vec<ClaimItem>,
    /// Cross-region filing.
    pub cross_region_filing: Option<CrossRegionFiling>,
    /// Indexes of refunded items, in the order refunded.
    #[serde(default)]
    pub refunded: Vec<usize>,
}

impl StoredClaim {
    /// Captures a parsed claim.
    pub fn of(
        claim: &Claim,
        insured_region: &RegionCode,
        filing: Option<CrossRegionFiling>,
    ) -> StoredClaim {
        StoredClaim {
            institution_code: claim.institution_code.as_str().to_string(),
            encounter_no: claim.encounter_no.clone(),
            id_number: claim.id_number.expose().to_string(),
            insured_region_code: insured_region.to_string(),
            kind: claim.kind,
            disease_code: claim.disease_code.clone(),
            grade: claim.grade,
            tier: claim.tier,
            start_date: claim.start_date,
            end_date: claim.end_date,
            diagnoses: claim.diagnoses.clone(),
            items: claim.items.clone(),
            cross_region_filing: filing,
            refunded: Vec::new(),
        }
    }

    /// The domain claim with every item.
    pub fn claim(&self) -> Result<Claim, SettleError> {
        Ok(Claim {
            institution_code: InstitutionCode::parse(&self.institution_code)
                .map_err(|e| SettleError::Corrupt(e.to_string()))?,
            encounter_no: self.encounter_no.clone(),
            id_number: IdNumber::parse(&self.id_number)
                .map_err(|e| SettleError::Corrupt(e.to_string()))?,
            kind: self.kind,
            disease_code: self.disease_code.clone(),
            grade: self.grade,
            tier: self.tier,
            start_date: self.start_date,
            end_date: self.end_date,
            diagnoses: self.diagnoses.clone(),
            items: self.items.clone(),
        })
    }

    /// The claim with the items not yet refunded, and their original indexes.
    pub fn remaining(&self) -> Result<(Claim, Vec<usize>), SettleError> {
        let mut c = self.claim()?;
        let keep: Vec<usize> = (0..self.items.len())
            .filter(|i| !self.refunded.contains(i))
            .collect();
        c.items = keep.iter().map(|i| self.items[*i].clone()).collect();
        Ok((c, keep))
    }
}

/// A policy document's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyHeader {
    /// Id.
    pub policy_id: String,
    /// Version.
    pub version: u32,
    /// Title.
    pub name: String,
    /// Region.
    pub region_code: String,
    /// Year.
    pub year: i32,
    /// Scheme.
    pub scheme: Scheme,
    /// First day in force.
    pub effective_from: String,
    /// Uploader.
    pub uploaded_by: String,
    /// Uploader's role.
    pub uploaded_role: String,
    /// When.
    pub uploaded_at: String,
}

/// A catalogue entry with its name and first day in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueRow {
    /// Region of the catalogue.
    pub region_code: String,
    /// Class, standard and share.
    pub entry: CatalogueEntry,
    /// Name.
    pub name: String,
    /// First day in force.
    pub effective_from: NaiveDate,
}

/// Everything a settlement needs besides the accumulators.
#[derive(Debug, Clone)]
pub struct SettleInput {
    /// The priced claim.
    pub claim: Claim,
    /// Its stored form.
    pub stored: StoredClaim,
    /// Enrollment's person id (the person key of events).
    pub person_id: String,
    /// Eligibility snapshot.
    pub eligibility: EligibilitySnapshot,
    /// The insured region's policy.
    pub policy: Arc<PolicyDocument>,
}

/// A settlement, new or replayed.
#[derive(Debug, Clone)]
pub struct Settled {
    /// Claim id.
    pub claim_id: String,
    /// The settlement.
    pub settlement: Settlement,
    /// True when an earlier settlement of the same encounter was returned.
    pub replayed: bool,
}

/// A reversal or refund, new or replayed.
#[derive(Debug, Clone)]
pub struct Reversed {
    /// Claim id.
    pub claim_id: String,
    /// Amounts given back.
    pub refund: Breakdown,
    /// Re-settlement of the remaining items.
    pub settlement: Option<Settlement>,
    /// Status afterwards.
    pub status: ClaimStatus,
}

/// A corrected claim settled in place of a previous one.
#[derive(Debug, Clone)]
pub struct Resettled {
    /// New claim id.
    pub claim_id: String,
    /// Superseded claim id.
    pub previous_claim_id: String,
    /// New settlement.
    pub settlement: Settlement,
    /// New minus previous.
    pub difference: Breakdown,
}

/// A stored reversal.
#[derive(Debug, Clone)]
pub struct ReversalRow {
    /// Institution's reversal number.
    pub reversal_no: String,
    /// Refunded items; empty for a full reversal.
    pub item_indexes: Vec<usize>,
    /// Amounts given back.
    pub refund: Breakdown,
    /// Reason.
    pub reason: String,
    /// Who.
    pub actor: String,
    /// Role.
    pub role: String,
    /// When.
    pub at: String,
}

/// A stored claim with its history.
#[derive(Debug, Clone)]
pub struct ClaimRow {
    /// Claim id.
    pub claim_id: String,
    /// The claim.
    pub stored: StoredClaim,
    /// Current settlement.
    pub settlement: Settlement,
    /// Status.
    pub status: ClaimStatus,
    /// Reversals, oldest first.
    pub reversals: Vec<ReversalRow>,
    /// Replacement.
    pub superseded_by: Option<String>,
    /// Corrected claim.
    pub corrects: Option<String>,
    /// Settled by.
    pub settled_by: String,
    /// Role.
    pub settled_role: String,
    /// When.
    pub settled_at: String,
}

/// A line of a claim list.
#[derive(Debug, Clone)]
pub struct ClaimSummaryRow {
    /// Claim id.
    pub claim_id: String,
    /// Institution.
    pub institution_code: String,
    /// Encounter.
    pub encounter_no: String,
    /// Kind.
    pub kind: EncounterKind,
    /// Settled on.
    pub settled_on: String,
    /// Status.
    pub status: ClaimStatus,
    /// Scheme.
    pub scheme: Scheme,
    /// Total.
    pub medfee_sumamt: i64,
    /// Funds.
    pub fund_pay_sumamt: i64,
    /// Person.
    pub psn_part_amt: i64,
    /// Insurers.
    pub insurer_pay: i64,
}

/// Filter of a claim list.
#[derive(Debug, Clone, Default)]
pub struct ClaimFilter {
    /// Institution (exact).
    pub institution_code: Option<String>,
    /// Insured region prefix.
    pub region_prefix: Option<String>,
    /// Month `YYYY-MM` of the settlement date.
    pub month: Option<String>,
    /// Status.
    pub status: Option<ClaimStatus>,
}

/// Totals of one scheme in an institution's month.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatementTotals {
    /// Claims settled in the month and not fully reversed.
    pub claims: i64,
    /// Reversals and refunds posted in the month.
    pub reversals: i64,
    /// Net amounts (settled in the month less given back in the month).
    pub net: Breakdown,
}

/// One fund line of a ledger reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundTotal {
    /// fund_pay_type.
    pub fund_pay_type: String,
    /// From settlements and reversals.
    pub claims_total: i64,
    /// From the ledger.
    pub ledger_total: i64,
}

/// A claim whose ledger lines differ from its settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discrepancy {
    /// Claim.
    pub claim_id: String,
    /// Fund line.
    pub fund_pay_type: String,
    /// From the settlement.
    pub expected: i64,
    /// In the ledger.
    pub recorded: i64,
}

/// Result of a ledger reconciliation.
#[derive(Debug, Clone)]
pub struct LedgerReconciliation {
    /// Run id.
    pub run_id: String,
    /// Per fund line.
    pub funds: Vec<FundTotal>,
    /// Mismatching claims.
    pub discrepancies: Vec<Discrepancy>,
    /// Total debits equal total credits.
    pub double_entry_balanced: bool,
}

impl LedgerReconciliation {
    /// True when every fund line and the double entry match.
    pub fn balanced(&self) -> bool {
        self.double_entry_balanced
            && self.discrepancies.is_empty()
            && self.funds.iter().all(|f| f.claims_total == f.ledger_total)
    }
}

/// An insurer's layer of one claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsurerClaimRow {
    /// Claim.
    pub claim_id: String,
    /// Product.
    pub product_code: String,
    /// Insurer.
    pub insurer_code: String,
    /// Institution.
    pub institution_code: String,
    /// Settled on.
    pub settled_on: String,
    /// Masked ID number.
    pub id_number_masked: String,
    /// Covered remainder.
    pub covered_base: i64,
    /// Product deductible consumed.
    pub deductible: i64,
    /// Rate.
    pub rate_bp: i64,
    /// Paid.
    pub insurer_pay: i64,
    /// Status text (`settled`, `reconciled`, `disputed`, `resolved`, `reversed`).
    pub status: String,
    /// Amount disputed.
    pub disputed: i64,
    /// Dispute reason.
    pub dispute_reason: String,
}

/// Filter of an insurer's claims.
#[derive(Debug, Clone, Default)]
pub struct InsurerFilter {
    /// Insurer.
    pub insurer_code: String,
    /// Product.
    pub product_code: Option<String>,
    /// Month.
    pub month: Option<String>,
    /// Status text.
    pub status: Option<String>,
    /// Region prefix.
    pub region_prefix: Option<String>,
}

/// Per product totals of an insurer reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductTotal {
    /// Product.
    pub product_code: String,
    /// Claims.
    pub claims: i64,
    /// Paid on the insurer's behalf.
    pub insurer_pay: i64,
    /// Of which disputed.
    pub disputed: i64,
}

/// An unpublished outbox row.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    /// Event id.
    pub id: String,
    /// Stream.
    pub stream: String,
    /// Encoded event.
    pub payload: Vec<u8>,
}

/// The settlement store.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// SQLite allows one writer: write transactions queue here instead of failing as "locked".
    write_lock: yibao_runtime::db::WriteGate,
    /// Parsed policy documents by (id, version); documents never change once stored.
    policies: Arc<Mutex<HashMap<(String, u32), Arc<PolicyDocument>>>>,
    /// Wakes the outbox relay after a commit.
    outbox_notify: Arc<tokio::sync::Notify>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn month_of(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

fn json<T: Serialize>(v: &T) -> Result<String, SettleError> {
    serde_json::to_string(v).map_err(|e| SettleError::Corrupt(e.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, SettleError> {
    serde_json::from_str(s).map_err(|e| SettleError::Corrupt(format!("{what}: {e}")))
}

fn class_str(c: ItemClass) -> &'static str {
    match c {
        ItemClass::A => "A",
        ItemClass::B => "B",
        ItemClass::C => "C",
    }
}

fn class_of(s: &str) -> Option<ItemClass> {
    [ItemClass::A, ItemClass::B, ItemClass::C]
        .into_iter()
        .find(|c| class_str(*c) == s)
}

/// The rule of an explanation as a short name (`basic_pool_rate`, `not_applied:not_in_policy`).
pub fn rule_name(rule: &crate::domain::Rule) -> String {
    match serde_json::to_value(rule) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(m)) => m
            .iter()
            .map(|(k, v)| format!("{k}:{}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(","),
        _ => "unknown".into(),
    }
}

fn like_prefix(region: &str) -> String {
    match RegionCode::parse(region) {
        Ok(r) => format!("{}%", r.prefix()),
        Err(_) => format!("{region}%"),
    }
}

impl Store {
    /// Wraps a connection.
    pub fn new(db: DatabaseConnection) -> Store {
        let write_lock = yibao_runtime::db::WriteGate::for_connection(&db);
        Store {
            db,
            write_lock,
            policies: Arc::default(),
            outbox_notify: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// The connection.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Notified after every commit that wrote an outbox row.
    pub fn outbox_notify(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.outbox_notify)
    }

    fn is_postgres(&self) -> bool {
        self.db.get_database_backend() == DbBackend::Postgres
    }

    async fn begin(
        &self,
    ) -> Result<
        (
            Option<tokio::sync::OwnedMutexGuard<()>>,
            DatabaseTransaction,
        ),
        SettleError,
    > {
        let guard = self.write_lock.enter().await;
        Ok((guard, self.db.begin().await?))
    }

    fn for_update(&self) -> &'static str {
        if self.is_postgres() {
            " FOR UPDATE"
        } else {
            ""
        }
    }

    // ---- policies ---------------------------------------------------------------------

    /// Stores the default bundle when no policy is stored yet; returns how many were stored.
    pub async fn seed_default_policies(&self, bundle: &PolicyBundle) -> Result<usize, SettleError> {
        let (_g, txn) = self.begin().await?;
        let n = sql::one(&txn, "SELECT COUNT(*) AS n FROM policies", vec![])
            .await?
            .map(|r| int(&r, "n"))
            .transpose()?
            .unwrap_or(0);
        if n > 0 {
            return Ok(0);
        }
        let actor = Actor {
            subject: "default-bundle".into(),
            role: "system".into(),
        };
        for doc in &bundle.policies {
            // Instances starting together may both seed: the second one's rows are ignored.
            Self::insert_policy_row(
                &txn,
                doc,
                &doc.to_json()?,
                &actor,
                " ON CONFLICT (policy_id, version) DO NOTHING",
            )
            .await?;
        }
        txn.commit().await?;
        Ok(bundle.policies.len())
    }

    async fn insert_policy_row(
        txn: &DatabaseTransaction,
        doc: &PolicyDocument,
        json_text: &str,
        actor: &Actor,
        on_conflict: &str,
    ) -> Result<(), SettleError> {
        sql::exec(
            txn,
            &format!("INSERT INTO policies (policy_id, version, name, region_code, year, scheme, effective_from, document_json, uploaded_by, uploaded_role, uploaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?){on_conflict}"),
            vec![
                t(&doc.id),
                i(i64::from(doc.version)),
                t(&doc.name),
                t(doc.region.to_string()),
                i4(doc.year),
                t(scheme_str(doc.scheme)),
                t(doc.effective_from.to_string()),
                t(json_text),
                t(&actor.subject),
                t(&actor.role),
                t(now()),
            ],
        )
        .await?;
        Ok(())
    }

    /// Stores a new version of a validated document. The version must be above every stored
    /// version of the same id.
    pub async fn insert_policy(
        &self,
        doc: &PolicyDocument,
        actor: &Actor,
    ) -> Result<PolicyHeader, SettleError> {
        let (_g, txn) = self.begin().await?;
        let latest = sql::one(
            &txn,
            "SELECT MAX(version) AS v FROM policies WHERE policy_id = ?",
            vec![t(&doc.id)],
        )
        .await?
        .map(|r| opt_int(&r, "v"))
        .transpose()?
        .flatten();
        if let Some(v) = latest {
            if i64::from(doc.version) <= v {
                return Err(SettleError::invalid(
                    "document_json.version",
                    format!(
                        "must be above the latest stored version {v} of `{}`",
                        doc.id
                    ),
                ));
            }
        }
        match Self::insert_policy_row(&txn, doc, &doc.to_json()?, actor, "").await {
            Err(SettleError::Db(e)) if yibao_runtime::db::is_unique_violation(&e) => {
                return Err(SettleError::invalid(
                    "document_json.version",
                    format!(
                        "version {} of `{}` was stored concurrently",
                        doc.version, doc.id
                    ),
                ));
            }
            other => other?,
        }
        txn.commit().await?;
        self.policy_header(&doc.id, doc.version)
            .await?
            .ok_or_else(|| SettleError::Corrupt("policy vanished after insert".into()))
    }

    fn header_of(r: &QueryResult) -> Result<PolicyHeader, SettleError> {
        let scheme = text(r, "scheme")?;
        Ok(PolicyHeader {
            policy_id: text(r, "policy_id")?,
            version: u32::try_from(int(r, "version")?)
                .map_err(|e| SettleError::Corrupt(e.to_string()))?,
            name: text(r, "name")?,
            region_code: text(r, "region_code")?,
            year: int32(r, "year")?,
            scheme: scheme_of(&scheme)
                .ok_or_else(|| SettleError::Corrupt(format!("scheme `{scheme}`")))?,
            effective_from: text(r, "effective_from")?,
            uploaded_by: text(r, "uploaded_by")?,
            uploaded_role: text(r, "uploaded_role")?,
            uploaded_at: text(r, "uploaded_at")?,
        })
    }

    const HEADER_COLS: &'static str = "policy_id, version, name, region_code, year, scheme, effective_from, uploaded_by, uploaded_role, uploaded_at";

    async fn policy_header(
        &self,
        id: &str,
        version: u32,
    ) -> Result<Option<PolicyHeader>, SettleError> {
        let q = format!(
            "SELECT {} FROM policies WHERE policy_id = ? AND version = ?",
            Self::HEADER_COLS
        );
        sql::one(&self.db, &q, vec![t(id), i(i64::from(version))])
            .await?
            .map(|r| Self::header_of(&r))
            .transpose()
    }

    /// Lists headers of a region prefix (newest version first).
    pub async fn list_policies(
        &self,
        region_prefix: &str,
        year: Option<i32>,
        scheme: Option<Scheme>,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<PolicyHeader>, SettleError> {
        // A province code lists its cities and counties: documents whose region lies inside.
        let mut q = format!(
            "SELECT {} FROM policies WHERE region_code LIKE ?",
            Self::HEADER_COLS
        );
        let mut v = vec![t(like_prefix(region_prefix))];
        if let Some(y) = year {
            q.push_str(" AND year = ?");
            v.push(i4(y));
        }
        if let Some(s) = scheme {
            q.push_str(" AND scheme = ?");
            v.push(t(scheme_str(s)));
        }
        q.push_str(" ORDER BY policy_id, version DESC LIMIT ? OFFSET ?");
        v.push(i(i64::try_from(limit).unwrap_or(i64::MAX)));
        v.push(i(i64::try_from(offset).unwrap_or(i64::MAX)));
        sql::all(&self.db, &q, v)
            .await?
            .iter()
            .map(Self::header_of)
            .collect()
    }

    /// One document: a version, or the latest when `version` is 0.
    pub async fn get_policy(
        &self,
        id: &str,
        version: u32,
    ) -> Result<Option<(PolicyHeader, String)>, SettleError> {
        let q = format!(
            "SELECT {}, document_json FROM policies WHERE policy_id = ? {} ORDER BY version DESC LIMIT 1",
            Self::HEADER_COLS,
            if version == 0 { "" } else { "AND version = ?" }
        );
        let mut v = vec![t(id)];
        if version != 0 {
            v.push(i(i64::from(version)));
        }
        match sql::one(&self.db, &q, v).await? {
            Some(r) => Ok(Some((Self::header_of(&r)?, text(&r, "document_json")?))),
            None => Ok(None),
        }
    }

    /// The parsed document (id, version), cached.
    pub async fn policy_document<C: ConnectionTrait>(
        &self,
        c: &C,
        id: &str,
        version: u32,
    ) -> Result<Arc<PolicyDocument>, SettleError> {
        if let Some(d) = self
            .policies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(id.to_string(), version))
        {
            return Ok(Arc::clone(d));
        }
        let r = sql::one(
            c,
            "SELECT document_json FROM policies WHERE policy_id = ? AND version = ?",
            vec![t(id), i(i64::from(version))],
        )
        .await?
        .ok_or_else(|| SettleError::NotFound("policy", format!("{id} v{version}")))?;
        let doc: PolicyDocument = parse(&text(&r, "document_json")?, "policy document")?;
        let doc = Arc::new(doc);
        self.policies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((id.to_string(), version), Arc::clone(&doc));
        Ok(doc)
    }

    /// The policy for an insured person of `region` and `scheme` on `date`: the most specific
    /// region covering the insured region, then the highest version in force (as
    /// [`PolicyBundle::find`]).
    pub async fn find_policy(
        &self,
        region: &RegionCode,
        scheme: Scheme,
        date: NaiveDate,
    ) -> Result<Option<Arc<PolicyDocument>>, SettleError> {
        use chrono::Datelike;
        let rows = sql::all(
            &self.db,
            "SELECT policy_id, version, region_code FROM policies WHERE scheme = ? AND year = ? AND effective_from <= ?",
            vec![t(scheme_str(scheme)), i4(date.year()), t(date.to_string())],
        )
        .await?;
        let mut best: Option<(usize, i64, String)> = None;
        for r in &rows {
            let Ok(pr) = RegionCode::parse(&text(r, "region_code")?) else {
                continue;
            };
            if !pr.covers(region) {
                continue;
            }
            let key = (pr.prefix().len(), int(r, "version")?);
            if best.as_ref().is_none_or(|b| (b.0, b.1) < key) {
                best = Some((key.0, key.1, text(r, "policy_id")?));
            }
        }
        match best {
            Some((_, v, id)) => {
                let v = u32::try_from(v).map_err(|e| SettleError::Corrupt(e.to_string()))?;
                Ok(Some(self.policy_document(&self.db, &id, v).await?))
            }
            None => Ok(None),
        }
    }

    /// The insurer of a product offered by a policy of `year` covering `region`.
    pub async fn product_insurer(
        &self,
        region: &RegionCode,
        year: i32,
        product_code: &str,
    ) -> Result<Option<String>, SettleError> {
        let rows = sql::all(
            &self.db,
            "SELECT policy_id, version, region_code FROM policies WHERE year = ?",
            vec![i4(year)],
        )
        .await?;
        for r in &rows {
            let Ok(pr) = RegionCode::parse(&text(r, "region_code")?) else {
                continue;
            };
            if !pr.covers(region) && !region.covers(&pr) {
                continue;
            }
            let v = u32::try_from(int(r, "version")?)
                .map_err(|e| SettleError::Corrupt(e.to_string()))?;
            let doc = self
                .policy_document(&self.db, &text(r, "policy_id")?, v)
                .await?;
            if let Some(p) = doc.supplements.iter().find(|p| p.code == product_code) {
                return Ok(Some(p.insurer_code.clone()));
            }
        }
        Ok(None)
    }

    // ---- catalogue --------------------------------------------------------------------

    /// Adds or replaces the entry (region, code, effective_from); true when created.
    pub async fn upsert_catalogue(&self, row: &CatalogueRow) -> Result<bool, SettleError> {
        let (_g, txn) = self.begin().await?;
        let key = vec![
            t(&row.region_code),
            t(&row.entry.national_code),
            t(row.effective_from.to_string()),
        ];
        let existed = sql::exec(&txn, "DELETE FROM catalogue_items WHERE region_code = ? AND national_code = ? AND effective_from = ?", key).await? > 0;
        sql::exec(
            &txn,
            "INSERT INTO catalogue_items (region_code, national_code, effective_from, name, item_class, payment_standard_fen, preselfpay_share_bp, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                t(&row.region_code),
                t(&row.entry.national_code),
                t(row.effective_from.to_string()),
                t(&row.name),
                t(class_str(row.entry.class)),
                oi(row.entry.payment_standard.map(|f| f.0)),
                oi(row.entry.preselfpay_share.map(|b| i64::from(b.0))),
                t(now()),
            ],
        )
        .await?;
        txn.commit().await?;
        Ok(!existed)
    }

    /// Entries in force on `date` for the codes at the place of treatment: the most specific
    /// catalogue (county, city, province) listing the code, its latest entry on the date.
    pub async fn catalogue_for(
        &self,
        treatment: &RegionCode,
        codes: &[String],
        date: NaiveDate,
    ) -> Result<HashMap<String, CatalogueRow>, SettleError> {
        let mut out = HashMap::new();
        if codes.is_empty() {
            return Ok(out);
        }
        let s = treatment.as_str();
        let regions = [
            s.to_string(),
            format!("{}00", &s[..4]),
            format!("{}0000", &s[..2]),
        ];
        let q = format!(
            "SELECT region_code, national_code, effective_from, name, item_class, payment_standard_fen, preselfpay_share_bp FROM catalogue_items WHERE region_code IN (?, ?, ?) AND effective_from <= ? AND national_code IN ({})",
            vec!["?"; codes.len()].join(", ")
        );
        let mut v: Vec<Value> = regions.iter().map(t).collect();
        v.push(t(date.to_string()));
        v.extend(codes.iter().map(t));
        let mut best: HashMap<String, (usize, String, CatalogueRow)> = HashMap::new();
        for r in sql::all(&self.db, &q, v).await? {
            let region_code = text(&r, "region_code")?;
            let specificity = 3 - regions.iter().position(|x| *x == region_code).unwrap_or(2);
            let from = text(&r, "effective_from")?;
            let code = text(&r, "national_code")?;
            let class = text(&r, "item_class")?;
            let row = CatalogueRow {
                region_code: region_code.clone(),
                entry: CatalogueEntry {
                    national_code: code.clone(),
                    class: class_of(&class)
                        .ok_or_else(|| SettleError::Corrupt(format!("item class `{class}`")))?,
                    payment_standard: opt_int(&r, "payment_standard_fen")?.map(Fen),
                    preselfpay_share: opt_int(&r, "preselfpay_share_bp")?
                        .and_then(|b| u32::try_from(b).ok())
                        .map(Bp),
                },
                name: text(&r, "name")?,
                effective_from: NaiveDate::parse_from_str(&from, "%Y-%m-%d")
                    .map_err(|e| SettleError::Corrupt(e.to_string()))?,
            };
            let better = best
                .get(&code)
                .is_none_or(|(sp, f, _)| (specificity, &from) > (*sp, f));
            if better {
                best.insert(code, (specificity, from, row));
            }
        }
        for (code, (_, _, row)) in best {
            out.insert(code, row);
        }
        Ok(out)
    }

    // ---- supplementary products ------------------------------------------------------

    /// Registers a member of a product for a year; true when new.
    pub async fn register_member(
        &self,
        product_code: &str,
        insurer_code: &str,
        id_number: &IdNumber,
        year: i32,
    ) -> Result<bool, SettleError> {
        let (_g, txn) = self.begin().await?;
        let n = sql::exec(
            &txn,
            "INSERT INTO supplement_members (product_code, insurer_code, id_number, year, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (product_code, id_number, year) DO NOTHING",
            vec![t(product_code), t(insurer_code), t(id_number.expose()), i4(year), t(now())],
        )
        .await?;
        txn.commit().await?;
        Ok(n > 0)
    }

    /// Products a person holds in a year.
    pub async fn member_products(
        &self,
        id_number: &IdNumber,
        year: i32,
    ) -> Result<Vec<String>, SettleError> {
        sql::all(&self.db, "SELECT product_code FROM supplement_members WHERE id_number = ? AND year = ? ORDER BY product_code", vec![t(id_number.expose()), i4(year)])
            .await?
            .iter()
            .map(|r| text(r, "product_code").map_err(SettleError::from))
            .collect()
    }

    // ---- accumulators -----------------------------------------------------------------

    /// The counters of a person-year (zero when nothing was settled).
    pub async fn accumulators(
        &self,
        id_number: &str,
        year: i32,
        region: &RegionCode,
    ) -> Result<Accumulators, SettleError> {
        match sql::one(&self.db, "SELECT data_json FROM accumulators WHERE id_number = ? AND year = ? AND region_code = ?", vec![t(id_number), i4(year), t(region.to_string())]).await? {
            Some(r) => parse(&text(&r, "data_json")?, "accumulators"),
            None => Ok(Accumulators::new(year, region.clone())),
        }
    }

    /// Locks the counters of a person-year for this transaction, creating them when absent.
    async fn lock_accumulators(
        &self,
        txn: &DatabaseTransaction,
        id_number: &str,
        year: i32,
        region: &RegionCode,
    ) -> Result<(Accumulators, i64), SettleError> {
        let q = format!(
            "SELECT version, data_json FROM accumulators WHERE id_number = ? AND year = ? AND region_code = ?{}",
            self.for_update()
        );
        let key = || vec![t(id_number), i4(year), t(region.to_string())];
        if let Some(r) = sql::one(txn, &q, key()).await? {
            return Ok((
                parse(&text(&r, "data_json")?, "accumulators")?,
                int(&r, "version")?,
            ));
        }
        // First claim of the person-year: create the row (a concurrent first claim may win;
        // either way the row exists afterwards) and lock it.
        let empty = json(&Accumulators::new(year, region.clone()))?;
        sql::exec(
            txn,
            "INSERT INTO accumulators (id_number, year, region_code, version, data_json, updated_at) VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (id_number, year, region_code) DO NOTHING",
            vec![t(id_number), i4(year), t(region.to_string()), t(empty), t(now())],
        )
        .await?;
        let r = sql::one(txn, &q, key())
            .await?
            .ok_or_else(|| SettleError::Corrupt("accumulator row vanished".into()))?;
        Ok((
            parse(&text(&r, "data_json")?, "accumulators")?,
            int(&r, "version")?,
        ))
    }

    async fn save_accumulators(
        txn: &DatabaseTransaction,
        id_number: &str,
        acc: &Accumulators,
        version: i64,
    ) -> Result<(), SettleError> {
        let n = sql::exec(
            txn,
            "UPDATE accumulators SET version = ?, data_json = ?, updated_at = ? WHERE id_number = ? AND year = ? AND region_code = ? AND version = ?",
            vec![i(version + 1), t(json(acc)?), t(now()), t(id_number), i4(acc.year), t(acc.region.to_string()), i(version)],
        )
        .await?;
        if n == 1 {
            Ok(())
        } else {
            Err(SettleError::Conflict(
                "the person's accumulators changed concurrently; retry".into(),
            ))
        }
    }

    // ---- settlement -------------------------------------------------------------------

    async fn encounter_claim<C: ConnectionTrait>(
        c: &C,
        institution: &str,
        encounter_no: &str,
    ) -> Result<Option<String>, SettleError> {
        Ok(sql::one(
            c,
            "SELECT claim_id FROM encounters WHERE institution_code = ? AND encounter_no = ?",
            vec![t(institution), t(encounter_no)],
        )
        .await?
        .map(|r| text(&r, "claim_id"))
        .transpose()?)
    }

    /// The current settlement of an encounter, if it was settled.
    pub async fn settled_encounter(
        &self,
        institution: &str,
        encounter_no: &str,
    ) -> Result<Option<Settled>, SettleError> {
        match Self::encounter_claim(&self.db, institution, encounter_no).await? {
            Some(id) => {
                let row = self.claim(&id).await?.ok_or_else(|| {
                    SettleError::Corrupt(format!("encounter points at missing claim {id}"))
                })?;
                Ok(Some(Settled {
                    claim_id: id,
                    settlement: row.settlement,
                    replayed: true,
                }))
            }
            None => Ok(None),
        }
    }

    /// Settles a claim: in one transaction the claim, items, explanations, accumulators,
    /// ledger lines, insurer layers and an outbox event. A repeated (institution, encounter)
    /// returns the first settlement and writes nothing.
    pub async fn settle(&self, input: &SettleInput, actor: &Actor) -> Result<Settled, SettleError> {
        let inst = input.stored.institution_code.clone();
        let no = input.stored.encounter_no.clone();
        let (guard, txn) = self.begin().await?;
        // Claim the encounter: a key already taken (or taken by a concurrent settlement that
        // commits while this insert waits on the key) inserts nothing, and the first
        // settlement is returned instead.
        let claim_id = new_id();
        let claimed = sql::exec(
            &txn,
            "INSERT INTO encounters (institution_code, encounter_no, claim_id) VALUES (?, ?, ?) ON CONFLICT (institution_code, encounter_no) DO NOTHING",
            vec![t(&inst), t(&no), t(&claim_id)],
        )
        .await?;
        if claimed == 0 {
            drop(txn);
            drop(guard);
            return self
                .settled_encounter(&inst, &no)
                .await?
                .ok_or_else(|| SettleError::Corrupt("encounter vanished".into()));
        }
        let region = input.eligibility.insured_region.clone();
        let year = {
            use chrono::Datelike;
            input.claim.end_date.year()
        };
        let (acc, version) = self
            .lock_accumulators(&txn, &input.stored.id_number, year, &region)
            .await?;
        let s = settle(&input.claim, &input.eligibility, &acc, &input.policy)?;
        self.write_settlement(&txn, &claim_id, input, &s, actor, None)
            .await?;
        Self::save_accumulators(
            &txn,
            &input.stored.id_number,
            &s.accumulators_after,
            version,
        )
        .await?;
        txn.commit().await?;
        drop(guard);
        self.outbox_notify.notify_one();
        Ok(Settled {
            claim_id,
            settlement: s,
            replayed: false,
        })
    }

    async fn write_settlement(
        &self,
        txn: &DatabaseTransaction,
        claim_id: &str,
        input: &SettleInput,
        s: &Settlement,
        actor: &Actor,
        corrects: Option<&str>,
    ) -> Result<(), SettleError> {
        let b = &s.breakdown;
        let st = &input.stored;
        let month = month_of(s.settled_on);
        sql::exec(
            txn,
            "INSERT INTO claims (claim_id, institution_code, encounter_no, id_number, person_id, insured_region, treatment_region, kind, scheme, year, settled_on, month, status, medfee_sumamt_fen, fund_pay_sumamt_fen, psn_part_amt_fen, insurer_pay_fen, claim_json, eligibility_json, settlement_json, current_json, superseded_by, corrects, settled_by, settled_role, settled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?)",
            vec![
                t(claim_id),
                t(&st.institution_code),
                t(&st.encounter_no),
                t(&st.id_number),
                t(&input.person_id),
                t(s.insured_region.to_string()),
                t(s.treatment_region.to_string()),
                t(kind_str(s.kind)),
                t(scheme_str(s.scheme)),
                i4(s.year),
                t(s.settled_on.to_string()),
                t(&month),
                t(ClaimStatus::Settled.as_str()),
                i(b.medfee_sumamt.0),
                i(b.fund_pay_sumamt.0),
                i(b.psn_part_amt.0),
                i(b.insurer_pay.0),
                t(json(st)?),
                t(json(&input.eligibility)?),
                t(json(s)?),
                ot(corrects.map(str::to_string)),
                t(&actor.subject),
                t(&actor.role),
                t(now()),
            ],
        )
        .await?;
        let items = st
            .items
            .iter()
            .zip(&s.items)
            .enumerate()
            .map(|(n, (it, sp))| {
                vec![
                    t(claim_id),
                    i4(i32::try_from(n).unwrap_or(i32::MAX)),
                    t(&it.national_code),
                    t(&it.name),
                    t(class_str(it.class)),
                    i(it.quantity),
                    i(it.unit_price.0),
                    i(it.amount.0),
                    oi(it.payment_standard.map(|f| f.0)),
                    i(sp.fulamt_ownpay_amt.0),
                    i(sp.overlmt_selfpay.0),
                    i(sp.preselfpay_amt.0),
                    i(sp.inscp_scp_amt.0),
                ]
            })
            .collect();
        insert_rows(
            txn,
            "claim_items",
            &[
                "claim_id",
                "item_index",
                "national_code",
                "name",
                "item_class",
                "quantity",
                "unit_price_fen",
                "amount_fen",
                "payment_standard_fen",
                "fulamt_ownpay_amt_fen",
                "overlmt_selfpay_fen",
                "preselfpay_amt_fen",
                "inscp_scp_amt_fen",
            ],
            items,
        )
        .await?;
        Self::write_explanations(txn, claim_id, 0, s).await?;
        Self::post_ledger(
            txn,
            claim_id,
            &month,
            s,
            &st.institution_code,
            &s.breakdown,
            1,
        )
        .await?;
        // Insurers' layers: one row per product the person holds.
        for line in s.layers.iter().filter(|l| l.layer == Layer::Commercial) {
            let Some(code) = &line.code else { continue };
            let insurer = input
                .policy
                .supplements
                .iter()
                .find(|p| &p.code == code)
                .map(|p| p.insurer_code.clone())
                .unwrap_or_default();
            let deductible = s
                .delta
                .supplements
                .get(code)
                .map(|u| u.deductible_used.0)
                .unwrap_or(0);
            let masked = IdNumber::parse(&st.id_number)
                .map(|n| n.masked())
                .unwrap_or_default();
            sql::exec(
                txn,
                "INSERT INTO insurer_claims (claim_id, product_code, insurer_code, institution_code, region_code, settled_on, month, id_number_masked, covered_base_fen, deductible_fen, rate_bp, insurer_pay_fen, status, disputed_fen, dispute_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'settled', 0, '')",
                vec![
                    t(claim_id),
                    t(code),
                    t(insurer),
                    t(&st.institution_code),
                    t(s.insured_region.to_string()),
                    t(s.settled_on.to_string()),
                    t(&month),
                    t(masked),
                    i(line.base.0),
                    i(deductible),
                    i(i64::from(line.rate.0)),
                    i(line.amount.0),
                ],
            )
            .await?;
        }
        let event = events::claim_event(
            claim_id,
            events::Action::Settled,
            &input.person_id,
            st,
            s,
            &st.items,
            &now(),
        )?;
        Self::enqueue(txn, claim_id, &event).await
    }

    async fn write_explanations(
        txn: &DatabaseTransaction,
        claim_id: &str,
        revision: i32,
        s: &Settlement,
    ) -> Result<(), SettleError> {
        let rows = s
            .explanations
            .iter()
            .enumerate()
            .map(|(n, e)| {
                vec![
                    t(claim_id),
                    i4(revision),
                    i4(i32::try_from(n).unwrap_or(i32::MAX)),
                    t(e.field.name()),
                    t(rule_name(&e.rule)),
                    i(e.amount.0),
                    i(e.base.0),
                    i(e.less.0),
                    oi(e.rate.map(|r| i64::from(r.0))),
                    oi(e.limit.map(|l| l.0)),
                    t(e.words()),
                ]
            })
            .collect();
        insert_rows(
            txn,
            "breakdown_lines",
            &[
                "claim_id",
                "revision",
                "seq",
                "field",
                "rule",
                "amount_fen",
                "base_fen",
                "less_fen",
                "rate_bp",
                "limit_fen",
                "text",
            ],
            rows,
        )
        .await?;
        Ok(())
    }

    /// Posts `sign × breakdown` to the ledger: per fund line, the fund account against the
    /// institution's payable, with equal debit and credit.
    async fn post_ledger(
        txn: &DatabaseTransaction,
        claim_id: &str,
        month: &str,
        s: &Settlement,
        institution: &str,
        b: &Breakdown,
        sign: i64,
    ) -> Result<(), SettleError> {
        let posting = new_id();
        let at = now();
        let mut rows = Vec::new();
        for (code, amount) in fund_lines(s.scheme, b) {
            let amount = amount * sign;
            let (debit, credit) = if amount >= 0 {
                (amount, 0)
            } else {
                (0, -amount)
            };
            for (account, d, c) in [
                (format!("fund:{code}"), debit, credit),
                (format!("payable:{institution}"), credit, debit),
            ] {
                rows.push(vec![
                    t(new_id()),
                    t(&posting),
                    t(claim_id),
                    t(month),
                    t(s.insured_region.to_string()),
                    t(institution),
                    t(scheme_str(s.scheme)),
                    t(code),
                    t(account),
                    i(d),
                    i(c),
                    t(&at),
                ]);
            }
        }
        insert_rows(
            txn,
            "ledger_lines",
            &[
                "id",
                "posting_id",
                "claim_id",
                "month",
                "region_code",
                "institution_code",
                "scheme",
                "fund_pay_type",
                "account",
                "debit_fen",
                "credit_fen",
                "created_at",
            ],
            rows,
        )
        .await?;
        Ok(())
    }

    async fn enqueue(
        txn: &DatabaseTransaction,
        claim_id: &str,
        event: &yibao_proto::events::v1::ClaimEvent,
    ) -> Result<(), SettleError> {
        use prost::Message;
        sql::exec(
            txn,
            "INSERT INTO outbox (id, stream, claim_id, payload_hex, created_at, attempts, published_at) VALUES (?, ?, ?, ?, ?, 0, NULL)",
            vec![t(&event.event_id), t(events::STREAM), t(claim_id), t(sql::hex(&event.encode_to_vec())), t(now())],
        )
        .await?;
        Ok(())
    }

    // ---- reading claims ---------------------------------------------------------------

    /// A claim with its history.
    pub async fn claim(&self, claim_id: &str) -> Result<Option<ClaimRow>, SettleError> {
        let Some(mut row) = self.claim_in(&self.db, claim_id).await? else {
            return Ok(None);
        };
        let mut reversals = Vec::new();
        for x in sql::all(&self.db, "SELECT reversal_no, item_indexes, refund_json, reason, actor, role, at FROM reversals WHERE claim_id = ? ORDER BY at, reversal_no", vec![t(claim_id)]).await? {
            reversals.push(ReversalRow {
                reversal_no: text(&x, "reversal_no")?,
                item_indexes: parse(&text(&x, "item_indexes")?, "item indexes")?,
                refund: parse(&text(&x, "refund_json")?, "refund")?,
                reason: text(&x, "reason")?,
                actor: text(&x, "actor")?,
                role: text(&x, "role")?,
                at: text(&x, "at")?,
            });
        }
        row.reversals = reversals;
        Ok(Some(row))
    }

    /// Claims by filter, newest first.
    pub async fn list_claims(
        &self,
        f: &ClaimFilter,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<ClaimSummaryRow>, SettleError> {
        let mut q = String::from(
            "SELECT claim_id, institution_code, encounter_no, kind, settled_on, status, scheme, medfee_sumamt_fen, fund_pay_sumamt_fen, psn_part_amt_fen, insurer_pay_fen FROM claims WHERE 1 = 1",
        );
        let mut v = Vec::new();
        if let Some(x) = &f.institution_code {
            q.push_str(" AND institution_code = ?");
            v.push(t(x));
        }
        if let Some(x) = &f.region_prefix {
            q.push_str(" AND insured_region LIKE ?");
            v.push(t(like_prefix(x)));
        }
        if let Some(x) = &f.month {
            q.push_str(" AND month = ?");
            v.push(t(x));
        }
        if let Some(x) = f.status {
            q.push_str(" AND status = ?");
            v.push(t(x.as_str()));
        }
        q.push_str(" ORDER BY settled_at DESC, claim_id DESC LIMIT ? OFFSET ?");
        v.push(i(i64::try_from(limit).unwrap_or(i64::MAX)));
        v.push(i(i64::try_from(offset).unwrap_or(i64::MAX)));
        let mut out = Vec::new();
        for r in sql::all(&self.db, &q, v).await? {
            let (kind, status, scheme) =
                (text(&r, "kind")?, text(&r, "status")?, text(&r, "scheme")?);
            out.push(ClaimSummaryRow {
                claim_id: text(&r, "claim_id")?,
                institution_code: text(&r, "institution_code")?,
                encounter_no: text(&r, "encounter_no")?,
                kind: kind_of(&kind)
                    .ok_or_else(|| SettleError::Corrupt(format!("kind `{kind}`")))?,
                settled_on: text(&r, "settled_on")?,
                status: ClaimStatus::parse(&status)
                    .ok_or_else(|| SettleError::Corrupt(format!("status `{status}`")))?,
                scheme: scheme_of(&scheme)
                    .ok_or_else(|| SettleError::Corrupt(format!("scheme `{scheme}`")))?,
                medfee_sumamt: int(&r, "medfee_sumamt_fen")?,
                fund_pay_sumamt: int(&r, "fund_pay_sumamt_fen")?,
                psn_part_amt: int(&r, "psn_part_amt_fen")?,
                insurer_pay: int(&r, "insurer_pay_fen")?,
            });
        }
        Ok(out)
    }

    // ---- reversal and resettlement ---------------------------------------------------

    /// Reverses a claim fully (`items` empty) or refunds some of its items. Idempotent on
    /// (institution, reversal number).
    pub async fn reverse(
        &self,
        claim_id: &str,
        institution: &str,
        reversal_no: &str,
        items: &[usize],
        reason: &str,
        actor: &Actor,
    ) -> Result<Reversed, SettleError> {
        let (guard, txn) = self.begin().await?;
        if let Some(r) = sql::one(&txn, "SELECT claim_id, refund_json FROM reversals WHERE institution_code = ? AND reversal_no = ?", vec![t(institution), t(reversal_no)]).await? {
            let earlier = text(&r, "claim_id")?;
            if earlier != claim_id {
                return Err(SettleError::invalid("reversal_no", format!("already used for claim {earlier}")));
            }
            let refund: Breakdown = parse(&text(&r, "refund_json")?, "refund")?;
            drop(txn);
            drop(guard);
            let row = self.claim(claim_id).await?.ok_or_else(|| SettleError::NotFound("claim", claim_id.to_string()))?;
            let settlement = (row.status != ClaimStatus::Reversed).then_some(row.settlement);
            return Ok(Reversed { claim_id: claim_id.to_string(), refund, settlement, status: row.status });
        }
        let (row, person_id, eligibility) = self.lock_claim(&txn, claim_id).await?;
        if !row.status.open() {
            return Err(SettleError::Precondition(
                "SETTLEMENT_CLAIM_CLOSED",
                format!(
                    "claim {claim_id} is {} and cannot be reversed",
                    row.status.as_str()
                ),
            ));
        }
        if row.stored.institution_code != institution {
            return Err(SettleError::invalid(
                "institution_code",
                "is not the claim's institution",
            ));
        }
        let mut seen = Vec::new();
        for (n, ix) in items.iter().enumerate() {
            if *ix >= row.stored.items.len() {
                return Err(SettleError::invalid(
                    format!("item_indexes[{n}]"),
                    format!("the claim has {} items", row.stored.items.len()),
                ));
            }
            if row.stored.refunded.contains(ix) || seen.contains(ix) {
                return Err(SettleError::invalid(
                    format!("item_indexes[{n}]"),
                    "item already refunded or listed twice",
                ));
            }
            seen.push(*ix);
        }
        let current = row.settlement.clone();
        let (acc, version) = self
            .lock_accumulators(
                &txn,
                &row.stored.id_number,
                current.year,
                &current.insured_region,
            )
            .await?;
        let (remaining_claim, keep) = row.stored.remaining()?;
        let removed_positions: Vec<usize> = keep
            .iter()
            .enumerate()
            .filter(|(_, orig)| items.contains(orig))
            .map(|(p, _)| p)
            .collect();
        let full = items.is_empty() || removed_positions.len() == keep.len();
        let (refund, new_settlement, acc_after) = if full {
            let undo = crate::domain::reverse(&current)?;
            (current.breakdown, None, apply_delta(&acc, &undo)?)
        } else {
            let policy = self
                .policy_document(&txn, &current.policy_id, current.policy_version)
                .await?;
            let r = refund_items(
                &current,
                &remaining_claim,
                &removed_positions,
                &eligibility,
                &acc,
                &policy,
            )?;
            (r.refund, r.settlement, r.accumulators_after)
        };
        let status = if full {
            ClaimStatus::Reversed
        } else {
            ClaimStatus::PartiallyRefunded
        };
        let mut stored = row.stored.clone();
        if full {
            stored.refunded = (0..stored.items.len()).collect();
        } else {
            stored.refunded.extend(items.iter().copied());
        }
        self.write_reversal(
            &txn,
            &row,
            &stored,
            &person_id,
            reversal_no,
            items,
            &refund,
            new_settlement.as_ref(),
            status,
            None,
            reason,
            actor,
        )
        .await?;
        Self::save_accumulators(&txn, &row.stored.id_number, &acc_after, version).await?;
        txn.commit().await?;
        drop(guard);
        self.outbox_notify.notify_one();
        Ok(Reversed {
            claim_id: claim_id.to_string(),
            refund,
            settlement: new_settlement,
            status,
        })
    }

    async fn lock_claim(
        &self,
        txn: &DatabaseTransaction,
        claim_id: &str,
    ) -> Result<(ClaimRow, String, EligibilitySnapshot), SettleError> {
        let q = format!(
            "SELECT person_id, eligibility_json FROM claims WHERE claim_id = ?{}",
            self.for_update()
        );
        let r = sql::one(txn, &q, vec![t(claim_id)])
            .await?
            .ok_or_else(|| SettleError::NotFound("claim", claim_id.to_string()))?;
        let person_id = text(&r, "person_id")?;
        let eligibility: EligibilitySnapshot =
            parse(&text(&r, "eligibility_json")?, "eligibility")?;
        // Read the rest through the transaction's snapshot: the row is locked now.
        let row = self
            .claim_in(txn, claim_id)
            .await?
            .ok_or_else(|| SettleError::NotFound("claim", claim_id.to_string()))?;
        Ok((row, person_id, eligibility))
    }

    async fn claim_in<C: ConnectionTrait>(
        &self,
        c: &C,
        claim_id: &str,
    ) -> Result<Option<ClaimRow>, SettleError> {
        let Some(r) = sql::one(
            c,
            "SELECT claim_id, status, claim_json, settlement_json, current_json, superseded_by, corrects, settled_by, settled_role, settled_at FROM claims WHERE claim_id = ?",
            vec![t(claim_id)],
        )
        .await?
        else {
            return Ok(None);
        };
        let status = text(&r, "status")?;
        let settlement: Settlement = match opt_text(&r, "current_json")? {
            Some(c) => parse(&c, "settlement")?,
            None => parse(&text(&r, "settlement_json")?, "settlement")?,
        };
        Ok(Some(ClaimRow {
            claim_id: text(&r, "claim_id")?,
            stored: parse(&text(&r, "claim_json")?, "claim")?,
            settlement,
            status: ClaimStatus::parse(&status)
                .ok_or_else(|| SettleError::Corrupt(format!("status `{status}`")))?,
            reversals: Vec::new(),
            superseded_by: opt_text(&r, "superseded_by")?,
            corrects: opt_text(&r, "corrects")?,
            settled_by: text(&r, "settled_by")?,
            settled_role: text(&r, "settled_role")?,
            settled_at: text(&r, "settled_at")?,
        }))
    }

    /// Writes a reversal: the reversal row, compensating ledger lines, the claim's new state,
    /// the insurers' layers, the explanations of a re-settlement and outbox events.
    #[allow(clippy::too_many_arguments)]
    async fn write_reversal(
        &self,
        txn: &DatabaseTransaction,
        row: &ClaimRow,
        stored: &StoredClaim,
        person_id: &str,
        reversal_no: &str,
        items: &[usize],
        refund: &Breakdown,
        new_settlement: Option<&Settlement>,
        status: ClaimStatus,
        superseded_by: Option<&str>,
        reason: &str,
        actor: &Actor,
    ) -> Result<(), SettleError> {
        let claim_id = row.claim_id.as_str();
        let month = month_of(today());
        let at = now();
        sql::exec(
            txn,
            "INSERT INTO reversals (claim_id, institution_code, reversal_no, month, item_indexes, refund_json, reason, actor, role, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![t(claim_id), t(&stored.institution_code), t(reversal_no), t(&month), t(json(&items)?), t(json(refund)?), t(reason), t(&actor.subject), t(&actor.role), t(&at)],
        )
        .await?;
        Self::post_ledger(
            txn,
            claim_id,
            &month,
            &row.settlement,
            &stored.institution_code,
            refund,
            -1,
        )
        .await?;
        let shown = new_settlement.unwrap_or(&row.settlement);
        let b = &shown.breakdown;
        sql::exec(
            txn,
            "UPDATE claims SET status = ?, claim_json = ?, current_json = ?, superseded_by = ?, medfee_sumamt_fen = ?, fund_pay_sumamt_fen = ?, psn_part_amt_fen = ?, insurer_pay_fen = ? WHERE claim_id = ?",
            vec![t(status.as_str()), t(json(stored)?), t(json(shown)?), ot(superseded_by.map(str::to_string)), i(b.medfee_sumamt.0), i(b.fund_pay_sumamt.0), i(b.psn_part_amt.0), i(b.insurer_pay.0), t(claim_id)],
        )
        .await?;
        let revision = i32::try_from(row.stored.refunded.len() + 1).unwrap_or(i32::MAX);
        match new_settlement {
            Some(s) => {
                Self::write_explanations(txn, claim_id, revision, s).await?;
                for line in s.layers.iter().filter(|l| l.layer == Layer::Commercial) {
                    let Some(code) = &line.code else { continue };
                    let deductible = s
                        .delta
                        .supplements
                        .get(code)
                        .map(|u| u.deductible_used.0)
                        .unwrap_or(0);
                    sql::exec(
                        txn,
                        "UPDATE insurer_claims SET covered_base_fen = ?, deductible_fen = ?, insurer_pay_fen = ? WHERE claim_id = ? AND product_code = ?",
                        vec![i(line.base.0), i(deductible), i(line.amount.0), t(claim_id), t(code)],
                    )
                    .await?;
                }
            }
            None => {
                sql::exec(
                    txn,
                    "UPDATE insurer_claims SET status = 'reversed' WHERE claim_id = ?",
                    vec![t(claim_id)],
                )
                .await?;
            }
        }
        let at_event = now();
        let reversed = events::claim_event(
            claim_id,
            events::Action::Reversed,
            person_id,
            stored,
            &row.settlement,
            &row.stored.remaining()?.0.items,
            &at_event,
        )?;
        Self::enqueue(txn, claim_id, &reversed).await?;
        if let Some(s) = new_settlement {
            let remaining = stored.remaining()?.0.items;
            let settled = events::claim_event(
                claim_id,
                events::Action::Settled,
                person_id,
                stored,
                s,
                &remaining,
                &at_event,
            )?;
            Self::enqueue(txn, claim_id, &settled).await?;
        }
        Ok(())
    }

    /// Re-settles a corrected claim in place of `previous_id`: reverses the previous claim
    /// fully and settles the correction, in one transaction.
    pub async fn resettle(
        &self,
        previous_id: &str,
        input: &SettleInput,
        reason: &str,
        actor: &Actor,
    ) -> Result<Resettled, SettleError> {
        let (guard, txn) = self.begin().await?;
        let (row, person_id, _) = self.lock_claim(&txn, previous_id).await?;
        if !row.status.open() {
            return Err(SettleError::Precondition(
                "SETTLEMENT_CLAIM_CLOSED",
                format!(
                    "claim {previous_id} is {} and cannot be re-settled",
                    row.status.as_str()
                ),
            ));
        }
        let st = &input.stored;
        if st.institution_code != row.stored.institution_code
            || st.encounter_no != row.stored.encounter_no
        {
            return Err(SettleError::invalid(
                "claim.encounter_no",
                "the corrected claim must keep the institution and encounter number",
            ));
        }
        if st.id_number != row.stored.id_number {
            return Err(SettleError::invalid(
                "claim.id_number",
                "the corrected claim must be the same person's",
            ));
        }
        let previous = row.settlement.clone();
        let year = {
            use chrono::Datelike;
            input.claim.end_date.year()
        };
        if year != previous.year || input.eligibility.insured_region != previous.insured_region {
            return Err(SettleError::invalid(
                "claim.end_date",
                "the corrected claim must stay in the same insurance year and insured region",
            ));
        }
        let (acc, version) = self
            .lock_accumulators(&txn, &st.id_number, year, &previous.insured_region)
            .await?;
        let undone = apply_delta(&acc, &crate::domain::reverse(&previous)?)?;
        let s = settle(&input.claim, &input.eligibility, &undone, &input.policy)?;
        let claim_id = new_id();
        let mut old = row.stored.clone();
        old.refunded = (0..old.items.len()).collect();
        self.write_reversal(
            &txn,
            &row,
            &old,
            &person_id,
            &format!("RESETTLE-{claim_id}"),
            &[],
            &previous.breakdown,
            None,
            ClaimStatus::Superseded,
            Some(&claim_id),
            reason,
            actor,
        )
        .await?;
        self.write_settlement(&txn, &claim_id, input, &s, actor, Some(previous_id))
            .await?;
        sql::exec(
            &txn,
            "UPDATE encounters SET claim_id = ? WHERE institution_code = ? AND encounter_no = ?",
            vec![t(&claim_id), t(&st.institution_code), t(&st.encounter_no)],
        )
        .await?;
        Self::save_accumulators(&txn, &st.id_number, &s.accumulators_after, version).await?;
        txn.commit().await?;
        drop(guard);
        self.outbox_notify.notify_one();
        let difference = s.breakdown.minus(&previous.breakdown)?;
        Ok(Resettled {
            claim_id,
            previous_claim_id: previous_id.to_string(),
            settlement: s,
            difference,
        })
    }

    // ---- statements and reconciliation -----------------------------------------------

    /// Fund amounts per claim in a month: settlements dated in the month (their first
    /// settlement) less refunds posted in the month.
    async fn expected_by_claim(
        &self,
        column: &str,
        value: &str,
        month: &str,
    ) -> Result<BTreeMap<(String, String), (Scheme, i64)>, SettleError> {
        let mut out: BTreeMap<(String, String), (Scheme, i64)> = BTreeMap::new();
        let q = format!(
            "SELECT claim_id, scheme, settlement_json FROM claims WHERE {column} AND month = ?"
        );
        for r in sql::all(&self.db, &q, vec![t(value), t(month)]).await? {
            let scheme_text = text(&r, "scheme")?;
            let scheme = scheme_of(&scheme_text)
                .ok_or_else(|| SettleError::Corrupt(format!("scheme `{scheme_text}`")))?;
            let s: Settlement = parse(&text(&r, "settlement_json")?, "settlement")?;
            let id = text(&r, "claim_id")?;
            for (code, v) in fund_lines(scheme, &s.breakdown) {
                out.entry((id.clone(), code.to_string()))
                    .or_insert((scheme, 0))
                    .1 += v;
            }
        }
        let q = format!(
            "SELECT r.claim_id AS claim_id, c.scheme AS scheme, r.refund_json AS refund_json FROM reversals r JOIN claims c ON c.claim_id = r.claim_id WHERE c.{column} AND r.month = ?"
        );
        for r in sql::all(&self.db, &q, vec![t(value), t(month)]).await? {
            let scheme_text = text(&r, "scheme")?;
            let scheme = scheme_of(&scheme_text)
                .ok_or_else(|| SettleError::Corrupt(format!("scheme `{scheme_text}`")))?;
            let b: Breakdown = parse(&text(&r, "refund_json")?, "refund")?;
            let id = text(&r, "claim_id")?;
            for (code, v) in fund_lines(scheme, &b) {
                out.entry((id.clone(), code.to_string()))
                    .or_insert((scheme, 0))
                    .1 -= v;
            }
        }
        Ok(out)
    }

    /// An institution's month by scheme.
    pub async fn statement(
        &self,
        institution: &str,
        month: &str,
    ) -> Result<BTreeMap<Scheme, StatementTotals>, SettleError> {
        let mut out: BTreeMap<Scheme, StatementTotals> = BTreeMap::new();
        for r in sql::all(&self.db, "SELECT scheme, status, settlement_json FROM claims WHERE institution_code = ? AND month = ?", vec![t(institution), t(month)]).await? {
            let scheme_text = text(&r, "scheme")?;
            let scheme = scheme_of(&scheme_text).ok_or_else(|| SettleError::Corrupt(format!("scheme `{scheme_text}`")))?;
            let s: Settlement = parse(&text(&r, "settlement_json")?, "settlement")?;
            let e = out.entry(scheme).or_default();
            let status = text(&r, "status")?;
            if status != ClaimStatus::Reversed.as_str() && status != ClaimStatus::Superseded.as_str() {
                e.claims += 1;
            }
            e.net = add_breakdown(&e.net, &s.breakdown, 1);
        }
        for r in sql::all(&self.db, "SELECT c.scheme AS scheme, r.refund_json AS refund_json FROM reversals r JOIN claims c ON c.claim_id = r.claim_id WHERE r.institution_code = ? AND r.month = ?", vec![t(institution), t(month)]).await? {
            let scheme_text = text(&r, "scheme")?;
            let scheme = scheme_of(&scheme_text).ok_or_else(|| SettleError::Corrupt(format!("scheme `{scheme_text}`")))?;
            let b: Breakdown = parse(&text(&r, "refund_json")?, "refund")?;
            let e = out.entry(scheme).or_default();
            e.reversals += 1;
            e.net = add_breakdown(&e.net, &b, -1);
        }
        Ok(out)
    }

    /// Reconciles the ledger of a region prefix and month against settlements and reversals,
    /// and records the run.
    pub async fn reconcile_ledger(
        &self,
        region: &str,
        month: &str,
        actor: &Actor,
    ) -> Result<LedgerReconciliation, SettleError> {
        let region_like = like_prefix(region);
        let expected = self
            .expected_by_claim("insured_region LIKE ?", &region_like, month)
            .await?;
        let mut recorded: BTreeMap<(String, String), i64> = BTreeMap::new();
        for r in sql::all(
            &self.db,
            "SELECT claim_id, fund_pay_type, CAST(SUM(debit_fen - credit_fen) AS BIGINT) AS net FROM ledger_lines WHERE region_code LIKE ? AND month = ? AND account LIKE 'fund:%' GROUP BY claim_id, fund_pay_type",
            vec![t(&region_like), t(month)],
        )
        .await?
        {
            recorded.insert((text(&r, "claim_id")?, text(&r, "fund_pay_type")?), int(&r, "net")?);
        }
        let balance = sql::one(
            &self.db,
            "SELECT CAST(SUM(debit_fen) AS BIGINT) AS d, CAST(SUM(credit_fen) AS BIGINT) AS c FROM ledger_lines WHERE region_code LIKE ? AND month = ?",
            vec![t(&region_like), t(month)],
        )
        .await?;
        let double_entry_balanced = match &balance {
            Some(r) => int(r, "d")? == int(r, "c")?,
            None => true,
        };
        let mut funds: BTreeMap<String, FundTotal> = BTreeMap::new();
        let mut discrepancies = Vec::new();
        let keys: std::collections::BTreeSet<(String, String)> =
            expected.keys().chain(recorded.keys()).cloned().collect();
        for key in keys {
            let e = expected.get(&key).map(|x| x.1).unwrap_or(0);
            let r = recorded.get(&key).copied().unwrap_or(0);
            let f = funds.entry(key.1.clone()).or_insert_with(|| FundTotal {
                fund_pay_type: key.1.clone(),
                claims_total: 0,
                ledger_total: 0,
            });
            f.claims_total += e;
            f.ledger_total += r;
            if e != r && discrepancies.len() < 1000 {
                discrepancies.push(Discrepancy {
                    claim_id: key.0.clone(),
                    fund_pay_type: key.1.clone(),
                    expected: e,
                    recorded: r,
                });
            }
        }
        let result = LedgerReconciliation {
            run_id: new_id(),
            funds: funds.into_values().collect(),
            discrepancies,
            double_entry_balanced,
        };
        let summary = serde_json::json!({
            "balanced": result.balanced(),
            "funds": result.funds.iter().map(|f| serde_json::json!({"fund_pay_type": f.fund_pay_type, "claims": f.claims_total, "ledger": f.ledger_total})).collect::<Vec<_>>(),
            "discrepancies": result.discrepancies.len(),
        });
        self.record_run(&result.run_id, "ledger", region, month, &summary, actor)
            .await?;
        Ok(result)
    }

    async fn record_run(
        &self,
        id: &str,
        kind: &str,
        scope: &str,
        month: &str,
        result: &serde_json::Value,
        actor: &Actor,
    ) -> Result<(), SettleError> {
        let (_g, txn) = self.begin().await?;
        sql::exec(
            &txn,
            "INSERT INTO reconciliation_runs (id, kind, scope, month, result_json, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![t(id), t(kind), t(scope), t(month), t(result.to_string()), t(&actor.subject), t(now())],
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    // ---- insurers ---------------------------------------------------------------------

    fn insurer_row(r: &QueryResult) -> Result<InsurerClaimRow, SettleError> {
        Ok(InsurerClaimRow {
            claim_id: text(r, "claim_id")?,
            product_code: text(r, "product_code")?,
            insurer_code: text(r, "insurer_code")?,
            institution_code: text(r, "institution_code")?,
            settled_on: text(r, "settled_on")?,
            id_number_masked: text(r, "id_number_masked")?,
            covered_base: int(r, "covered_base_fen")?,
            deductible: int(r, "deductible_fen")?,
            rate_bp: int(r, "rate_bp")?,
            insurer_pay: int(r, "insurer_pay_fen")?,
            status: text(r, "status")?,
            disputed: int(r, "disputed_fen")?,
            dispute_reason: text(r, "dispute_reason")?,
        })
    }

    const INSURER_COLS: &'static str = "claim_id, product_code, insurer_code, institution_code, settled_on, id_number_masked, covered_base_fen, deductible_fen, rate_bp, insurer_pay_fen, status, disputed_fen, dispute_reason";

    /// An insurer's claims.
    pub async fn insurer_claims(
        &self,
        f: &InsurerFilter,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<InsurerClaimRow>, SettleError> {
        let mut q = format!(
            "SELECT {} FROM insurer_claims WHERE insurer_code = ?",
            Self::INSURER_COLS
        );
        let mut v = vec![t(&f.insurer_code)];
        if let Some(x) = &f.product_code {
            q.push_str(" AND product_code = ?");
            v.push(t(x));
        }
        if let Some(x) = &f.month {
            q.push_str(" AND month = ?");
            v.push(t(x));
        }
        if let Some(x) = &f.status {
            q.push_str(" AND status = ?");
            v.push(t(x));
        }
        if let Some(x) = &f.region_prefix {
            q.push_str(" AND region_code LIKE ?");
            v.push(t(like_prefix(x)));
        }
        q.push_str(" ORDER BY settled_on DESC, claim_id DESC LIMIT ? OFFSET ?");
        v.push(i(i64::try_from(limit).unwrap_or(i64::MAX)));
        v.push(i(i64::try_from(offset).unwrap_or(i64::MAX)));
        sql::all(&self.db, &q, v)
            .await?
            .iter()
            .map(Self::insurer_row)
            .collect()
    }

    /// Reconciles an insurer's month: settled layers per product with disputed amounts apart;
    /// undisputed settled layers become `reconciled`. Records the run.
    pub async fn reconcile_insurer(
        &self,
        insurer: &str,
        month: &str,
        region: Option<&str>,
        actor: &Actor,
    ) -> Result<(String, Vec<ProductTotal>), SettleError> {
        let (g, txn) = self.begin().await?;
        let mut q = String::from(
            "SELECT product_code, COUNT(*) AS n, CAST(SUM(insurer_pay_fen) AS BIGINT) AS paid, CAST(SUM(disputed_fen) AS BIGINT) AS disputed FROM insurer_claims WHERE insurer_code = ? AND month = ? AND status <> 'reversed'",
        );
        let mut v = vec![t(insurer), t(month)];
        let mut upd = String::from(
            "UPDATE insurer_claims SET status = 'reconciled' WHERE insurer_code = ? AND month = ? AND status = 'settled'",
        );
        let mut uv = vec![t(insurer), t(month)];
        if let Some(r) = region {
            q.push_str(" AND region_code LIKE ?");
            v.push(t(like_prefix(r)));
            upd.push_str(" AND region_code LIKE ?");
            uv.push(t(like_prefix(r)));
        }
        q.push_str(" GROUP BY product_code ORDER BY product_code");
        let mut totals = Vec::new();
        for r in sql::all(&txn, &q, v).await? {
            totals.push(ProductTotal {
                product_code: text(&r, "product_code")?,
                claims: int(&r, "n")?,
                insurer_pay: int(&r, "paid")?,
                disputed: int(&r, "disputed")?,
            });
        }
        sql::exec(&txn, &upd, uv).await?;
        txn.commit().await?;
        drop(g);
        let run_id = new_id();
        let summary = serde_json::json!({
            "products": totals.iter().map(|p| serde_json::json!({"product": p.product_code, "claims": p.claims, "paid": p.insurer_pay, "disputed": p.disputed})).collect::<Vec<_>>(),
        });
        self.record_run(&run_id, "insurer", insurer, month, &summary, actor)
            .await?;
        Ok((run_id, totals))
    }

    /// An insurer disputes its layer of a claim.
    pub async fn dispute(
        &self,
        insurer: &str,
        claim_id: &str,
        product_code: &str,
        amount: i64,
        reason: &str,
        actor: &Actor,
    ) -> Result<InsurerClaimRow, SettleError> {
        let (g, txn) = self.begin().await?;
        let q = format!(
            "SELECT {} FROM insurer_claims WHERE claim_id = ? AND product_code = ?{}",
            Self::INSURER_COLS,
            self.for_update()
        );
        let row = sql::one(&txn, &q, vec![t(claim_id), t(product_code)])
            .await?
            .map(|r| Self::insurer_row(&r))
            .transpose()?
            .filter(|r| r.insurer_code == insurer)
            .ok_or_else(|| {
                SettleError::NotFound("insurer claim", format!("{claim_id}/{product_code}"))
            })?;
        if row.status == "reversed" {
            return Err(SettleError::Precondition(
                "SETTLEMENT_CLAIM_CLOSED",
                "the claim was reversed; nothing to dispute".into(),
            ));
        }
        if amount <= 0 || amount > row.insurer_pay {
            return Err(SettleError::invalid(
                "disputed_amount_fen",
                format!("must be 1 to {} (the insurer's layer)", row.insurer_pay),
            ));
        }
        sql::exec(&txn, "UPDATE insurer_claims SET status = 'disputed', disputed_fen = ?, dispute_reason = ? WHERE claim_id = ? AND product_code = ?", vec![i(amount), t(reason), t(claim_id), t(product_code)]).await?;
        sql::exec(
            &txn,
            "INSERT INTO disputes (id, claim_id, product_code, insurer_code, amount_fen, reason, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            vec![t(new_id()), t(claim_id), t(product_code), t(insurer), i(amount), t(reason), t(&actor.subject), t(now())],
        )
        .await?;
        txn.commit().await?;
        drop(g);
        Ok(InsurerClaimRow {
            status: "disputed".into(),
            disputed: amount,
            dispute_reason: reason.to_string(),
            ..row
        })
    }

    /// The operator resolves a dispute: upheld keeps the disputed amount off what the insurer
    /// owes, rejected clears it. Only a disputed layer can be resolved; `region` confines an
    /// operator to claims insured in their region.
    #[allow(clippy::too_many_arguments)]
    pub async fn resolve_dispute(
        &self,
        insurer: &str,
        claim_id: &str,
        product_code: &str,
        region: Option<&RegionCode>,
        upheld: bool,
        resolution: &str,
        actor: &Actor,
    ) -> Result<InsurerClaimRow, SettleError> {
        let (g, txn) = self.begin().await?;
        let q = format!(
            "SELECT {}, region_code FROM insurer_claims WHERE claim_id = ? AND product_code = ?{}",
            Self::INSURER_COLS,
            self.for_update()
        );
        let found = sql::one(&txn, &q, vec![t(claim_id), t(product_code)]).await?;
        let Some(r) = found else {
            return Err(SettleError::NotFound(
                "insurer claim",
                format!("{claim_id}/{product_code}"),
            ));
        };
        let row = Self::insurer_row(&r)?;
        let claim_region = RegionCode::parse(&text(&r, "region_code")?)
            .map_err(|e| SettleError::Corrupt(e.to_string()))?;
        if row.insurer_code != insurer || region.is_some_and(|own| !own.covers(&claim_region)) {
            return Err(SettleError::NotFound(
                "insurer claim",
                format!("{claim_id}/{product_code}"),
            ));
        }
        if row.status != "disputed" {
            return Err(SettleError::Precondition(
                "SETTLEMENT_NOT_DISPUTED",
                format!("the insurer's layer is {}, not disputed", row.status),
            ));
        }
        let disputed = if upheld { row.disputed } else { 0 };
        sql::exec(&txn, "UPDATE insurer_claims SET status = 'resolved', disputed_fen = ? WHERE claim_id = ? AND product_code = ?", vec![i(disputed), t(claim_id), t(product_code)]).await?;
        sql::exec(
            &txn,
            "INSERT INTO disputes (id, claim_id, product_code, insurer_code, amount_fen, reason, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            vec![t(new_id()), t(claim_id), t(product_code), t(insurer), i(disputed), t(format!("{}: {resolution}", if upheld { "upheld" } else { "rejected" })), t(&actor.subject), t(now())],
        )
        .await?;
        txn.commit().await?;
        drop(g);
        Ok(InsurerClaimRow {
            status: "resolved".into(),
            disputed,
            ..row
        })
    }

    // ---- outbox -----------------------------------------------------------------------

    /// The oldest unpublished outbox rows.
    pub async fn unpublished(&self, limit: u64) -> Result<Vec<OutboxRow>, SettleError> {
        let rows = sql::all(&self.db, "SELECT id, stream, payload_hex FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT ?", vec![i(i64::try_from(limit).unwrap_or(i64::MAX))]).await?;
        rows.iter()
            .map(|r| {
                let hexed = text(r, "payload_hex")?;
                Ok(OutboxRow {
                    id: text(r, "id")?,
                    stream: text(r, "stream")?,
                    payload: sql::unhex(&hexed)
                        .ok_or_else(|| SettleError::Corrupt("outbox payload".into()))?,
                })
            })
            .collect()
    }

    /// Marks outbox rows published (one statement for a batch).
    pub async fn mark_published(&self, ids: &[String]) -> Result<(), SettleError> {
        if ids.is_empty() {
            return Ok(());
        }
        let q = format!(
            "UPDATE outbox SET published_at = ?, attempts = attempts + 1 WHERE id IN ({})",
            vec!["?"; ids.len()].join(", ")
        );
        let mut v = vec![t(now())];
        v.extend(ids.iter().map(t));
        let (_g, txn) = self.begin().await?;
        sql::exec(&txn, &q, v).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Counts a failed publication attempt.
    pub async fn mark_attempt(&self, id: &str) -> Result<(), SettleError> {
        let (_g, txn) = self.begin().await?;
        sql::exec(
            &txn,
            "UPDATE outbox SET attempts = attempts + 1 WHERE id = ?",
            vec![t(id)],
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}

/// `a + sign × b` for every money field of a breakdown (the rate is kept from `b`).
pub fn add_breakdown(a: &Breakdown, b: &Breakdown, sign: i64) -> Breakdown {
    let f = |x: Fen, y: Fen| Fen(x.0 + sign * y.0);
    Breakdown {
        medfee_sumamt: f(a.medfee_sumamt, b.medfee_sumamt),
        fulamt_ownpay_amt: f(a.fulamt_ownpay_amt, b.fulamt_ownpay_amt),
        overlmt_selfpay: f(a.overlmt_selfpay, b.overlmt_selfpay),
        preselfpay_amt: f(a.preselfpay_amt, b.preselfpay_amt),
        inscp_scp_amt: f(a.inscp_scp_amt, b.inscp_scp_amt),
        act_pay_dedc: f(a.act_pay_dedc, b.act_pay_dedc),
        hifp_pay: f(a.hifp_pay, b.hifp_pay),
        pool_prop_selfpay: b.pool_prop_selfpay,
        cvlserv_pay: f(a.cvlserv_pay, b.cvlserv_pay),
        hifes_pay: f(a.hifes_pay, b.hifes_pay),
        hifmi_pay: f(a.hifmi_pay, b.hifmi_pay),
        hifob_pay: f(a.hifob_pay, b.hifob_pay),
        maf_pay: f(a.maf_pay, b.maf_pay),
        hifdm_pay: f(a.hifdm_pay, b.hifdm_pay),
        oth_pay: f(a.oth_pay, b.oth_pay),
        backstop_pay: f(a.backstop_pay, b.backstop_pay),
        supplement_pay: f(a.supplement_pay, b.supplement_pay),
        fund_pay_sumamt: f(a.fund_pay_sumamt, b.fund_pay_sumamt),
        hosp_part_amt: f(a.hosp_part_amt, b.hosp_part_amt),
        psn_part_amt: f(a.psn_part_amt, b.psn_part_amt),
        insurer_pay: f(a.insurer_pay, b.insurer_pay),
        acct_pay: f(a.acct_pay, b.acct_pay),
        acct_mulaid_pay: f(a.acct_mulaid_pay, b.acct_mulaid_pay),
        psn_cash_pay: f(a.psn_cash_pay, b.psn_cash_pay),
    }
}

#[cfg(test)]
mod tests;
