//! Tables and transactions of the procurement service. Plain SQL with `$n` parameters, the
//! same text on PostgreSQL and SQLite (see [`migration`]). Every write is one transaction;
//! histories (reference prices, listings, payment standards) are changed only by closing the
//! open-ended period the day before a new one, as the domain decides; a repeated identical
//! request finds its first result and writes nothing.

pub mod migration;

use crate::domain::{
    CatalogueEntry, GroupOutcome, InsuranceClass, InventoryRecord, ItemCode, ItemKind, ListedPrice,
    Movement, OpeningStock, PaymentStandard, PaymentStandardIndex, Period, PriceBook, PricingError,
    ReferenceKind, ReferencePrice, RetainedSavings, RoundRules,
};
use crate::error::ProcError;
use chrono::NaiveDate;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, QueryResult, Statement,
    TransactionTrait, Value,
};
use std::sync::Arc;
use yibao_core::{Fen, InstitutionCode};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Token subject.
    pub subject: String,
    /// Role name.
    pub role: String,
}

/// Who changed a record and when.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Audit {
    /// Token subject.
    pub actor: String,
    /// Role name.
    pub role: String,
    /// RFC 3339 time.
    pub at: String,
}

/// A stored catalogue entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    /// Region of the catalogue.
    pub region: String,
    /// The entry.
    pub entry: CatalogueEntry,
    /// Last change.
    pub updated: Audit,
}

/// State of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundStatus {
    /// Accepting groups, demand and bids.
    Open,
    /// Selection run.
    Selected,
}

impl RoundStatus {
    fn as_str(self) -> &'static str {
        match self {
            RoundStatus::Open => "open",
            RoundStatus::Selected => "selected",
        }
    }
    fn parse(s: &str) -> Result<RoundStatus, ProcError> {
        match s {
            "open" => Ok(RoundStatus::Open),
            "selected" => Ok(RoundStatus::Selected),
            _ => Err(ProcError::Corrupt(format!("round status `{s}`"))),
        }
    }
}

/// A stored round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRound {
    /// Id.
    pub id: String,
    /// Organising region.
    pub region: String,
    /// Name.
    pub name: String,
    /// Rules.
    pub rules: RoundRules,
    /// First day of the contract period.
    pub contract_start: NaiveDate,
    /// Last day of the contract period.
    pub contract_end: NaiveDate,
    /// State.
    pub status: RoundStatus,
    /// Creation.
    pub created: Audit,
    /// Selection, once run.
    pub selected: Option<Audit>,
}

/// A stored group with its price-cut category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredGroup {
    /// The group.
    pub group: crate::domain::Group,
    /// Category for price-cut statistics.
    pub category: String,
}

/// A stored bid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBid {
    /// Id.
    pub id: String,
    /// The bid.
    pub bid: crate::domain::Bid,
}

/// A stored reference price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReference {
    /// Id.
    pub id: String,
    /// Region.
    pub region: String,
    /// The reference.
    pub reference: ReferencePrice,
    /// The reference this one ended, if any.
    pub closed_id: Option<String>,
    /// Last change.
    pub updated: Audit,
}

/// A stored listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredListing {
    /// Id.
    pub id: String,
    /// Region.
    pub region: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// The listing.
    pub listing: ListedPrice,
    /// Last change.
    pub updated: Audit,
}

/// A stored payment standard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredStandard {
    /// Id.
    pub id: String,
    /// Region.
    pub region: String,
    /// The standard.
    pub standard: PaymentStandard,
    /// The standard this one ended, if any.
    pub closed_id: Option<String>,
    /// Last change.
    pub updated: Audit,
}

/// An agreed volume of an institution in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAllocation {
    /// Group.
    pub group_id: String,
    /// Institution.
    pub institution: String,
    /// Reported demand.
    pub demand: u64,
    /// Agreed volume.
    pub agreed_volume: u64,
}

/// A purchase of an institution (for completion and savings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    /// Institution.
    pub institution: String,
    /// Item.
    pub item_code: String,
    /// Quantity.
    pub quantity: u64,
    /// Price per unit.
    pub unit_price: Fen,
}

/// An event to publish, written with the records it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// Stable event id (the bus message's event id).
    pub event_id: String,
    /// Stream.
    pub stream: String,
    /// Encoded event.
    pub payload: Vec<u8>,
}

/// What a retried request found instead of writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written<T> {
    /// Newly written.
    New(T),
    /// An identical record existed: nothing was written.
    Existing(T),
}

impl<T> Written<T> {
    /// The record either way.
    pub fn into_inner(self) -> T {
        match self {
            Written::New(t) | Written::Existing(t) => t,
        }
    }
}

/// The procurement store.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// SQLite allows one writer: write transactions queue here instead of failing as "locked".
    write_lock: yibao_runtime::db::WriteGate,
    /// One outbox relay pass at a time, so two passes never publish the same event twice.
    relay_lock: Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction with the SQLite writer slot it holds.
struct Txn {
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
    txn: DatabaseTransaction,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn date(s: &str) -> Result<NaiveDate, ProcError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| ProcError::Corrupt(format!("stored date `{s}`: {e}")))
}

fn opt_date(s: Option<String>) -> Result<Option<NaiveDate>, ProcError> {
    s.as_deref().map(date).transpose()
}

fn code(s: &str) -> Result<ItemCode, ProcError> {
    ItemCode::parse_any(s)
        .map(|(_, c)| c)
        .map_err(|e| ProcError::Corrupt(format!("stored item code `{s}`: {e}")))
}

fn qty(v: u64) -> Result<i64, ProcError> {
    i64::try_from(v).map_err(|_| ProcError::invalid("quantity", "is too large"))
}

fn uqty(v: i64) -> Result<u64, ProcError> {
    u64::try_from(v).map_err(|_| ProcError::Corrupt(format!("negative quantity {v}")))
}

fn s(v: impl Into<String>) -> Value {
    Value::String(Some(v.into()))
}

fn opt_s(v: Option<String>) -> Value {
    Value::String(v)
}

fn n(v: i64) -> Value {
    Value::BigInt(Some(v))
}

fn get_s(r: &QueryResult, col: &str) -> Result<String, ProcError> {
    Ok(r.try_get::<String>("", col)?)
}

fn get_os(r: &QueryResult, col: &str) -> Result<Option<String>, ProcError> {
    Ok(r.try_get::<Option<String>>("", col)?)
}

fn get_n(r: &QueryResult, col: &str) -> Result<i64, ProcError> {
    Ok(r.try_get::<i64>("", col)?)
}

fn audit(r: &QueryResult, by: &str, role: &str, at: &str) -> Result<Audit, ProcError> {
    Ok(Audit {
        actor: get_s(r, by)?,
        role: get_s(r, role)?,
        at: get_s(r, at)?,
    })
}

/// Text form of an item kind.
pub fn kind_str(k: ItemKind) -> &'static str {
    match k {
        ItemKind::WesternDrug => "western_drug",
        ItemKind::ChinesePatentMedicine => "chinese_patent_medicine",
        ItemKind::Consumable => "consumable",
        ItemKind::Reagent => "reagent",
        ItemKind::ServiceItem => "service_item",
    }
}

fn kind_of(s: &str) -> Result<ItemKind, ProcError> {
    [
        ItemKind::WesternDrug,
        ItemKind::ChinesePatentMedicine,
        ItemKind::Consumable,
        ItemKind::Reagent,
        ItemKind::ServiceItem,
    ]
    .into_iter()
    .find(|k| kind_str(*k) == s)
    .ok_or_else(|| ProcError::Corrupt(format!("item kind `{s}`")))
}

fn class_str(c: InsuranceClass) -> &'static str {
    match c {
        InsuranceClass::A => "A",
        InsuranceClass::B => "B",
        InsuranceClass::C => "C",
    }
}

fn class_of(s: &str) -> Result<InsuranceClass, ProcError> {
    match s {
        "A" => Ok(InsuranceClass::A),
        "B" => Ok(InsuranceClass::B),
        "C" => Ok(InsuranceClass::C),
        _ => Err(ProcError::Corrupt(format!("insurance class `{s}`"))),
    }
}

fn ref_kind_str(k: ReferenceKind) -> &'static str {
    match k {
        ReferenceKind::Ceiling => "ceiling",
        ReferenceKind::Guide => "guide",
    }
}

fn ref_kind_of(s: &str) -> Result<ReferenceKind, ProcError> {
    match s {
        "ceiling" => Ok(ReferenceKind::Ceiling),
        "guide" => Ok(ReferenceKind::Guide),
        _ => Err(ProcError::Corrupt(format!("reference kind `{s}`"))),
    }
}

fn movement_str(m: Movement) -> &'static str {
    match m {
        Movement::Purchase => "purchase",
        Movement::Sale => "sale",
    }
}

fn movement_of(s: &str) -> Result<Movement, ProcError> {
    match s {
        "purchase" => Ok(Movement::Purchase),
        "sale" => Ok(Movement::Sale),
        _ => Err(ProcError::Corrupt(format!("movement `{s}`"))),
    }
}

/// Lower-case hex of bytes (outbox payloads are text for portability).
fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn from_hex(s: &str) -> Result<Vec<u8>, ProcError> {
    let digit = |c: u8| -> Result<u8, ProcError> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(ProcError::Corrupt("outbox payload is not hex".into())),
        }
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Ok((digit(p[0])? << 4) | digit(*p.get(1).unwrap_or(&b'0'))?))
        .collect()
}

/// Regions whose data applies in `region`, most specific first: county, city, province.
pub fn region_chain(region: &str) -> Vec<String> {
    let mut out = vec![region.to_string()];
    if region.len() == 6 && region.is_ascii() {
        for r in [
            format!("{}00", &region[..4]),
            format!("{}0000", &region[..2]),
        ] {
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    out
}

/// `($k, $k+1, …)` placeholders for `count` values starting at `$start`.
fn placeholders(start: usize, count: usize) -> String {
    (start..start + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

const CATALOGUE_COLS: &str = "region_code, code, kind, generic_name, dosage_form, specification, manufacturer, insurance_class, negotiated, valid_from, valid_to, updated_by, updated_role, updated_at";

fn catalogue_row(r: &QueryResult) -> Result<StoredItem, ProcError> {
    let kind = kind_of(&get_s(r, "kind")?)?;
    let raw = get_s(r, "code")?;
    Ok(StoredItem {
        region: get_s(r, "region_code")?,
        entry: CatalogueEntry {
            code: ItemCode::parse(kind, &raw)
                .map_err(|e| ProcError::Corrupt(format!("stored code `{raw}`: {e}")))?,
            kind,
            generic_name: get_s(r, "generic_name")?,
            dosage_form: get_s(r, "dosage_form")?,
            specification: get_s(r, "specification")?,
            manufacturer: get_s(r, "manufacturer")?,
            class: class_of(&get_s(r, "insurance_class")?)?,
            negotiated: get_n(r, "negotiated")? != 0,
            valid_from: date(&get_s(r, "valid_from")?)?,
            valid_to: opt_date(get_os(r, "valid_to")?)?,
        },
        updated: audit(r, "updated_by", "updated_role", "updated_at")?,
    })
}

fn round_row(r: &QueryResult) -> Result<StoredRound, ProcError> {
    let rules: RoundRules = serde_json::from_str(&get_s(r, "rules_json")?)
        .map_err(|e| ProcError::Corrupt(format!("round rules: {e}")))?;
    let selected = match get_os(r, "selected_at")? {
        Some(at) => Some(Audit {
            actor: get_os(r, "selected_by")?.unwrap_or_default(),
            role: get_os(r, "selected_role")?.unwrap_or_default(),
            at,
        }),
        None => None,
    };
    Ok(StoredRound {
        id: get_s(r, "id")?,
        region: get_s(r, "region_code")?,
        name: get_s(r, "name")?,
        rules,
        contract_start: date(&get_s(r, "contract_start")?)?,
        contract_end: date(&get_s(r, "contract_end")?)?,
        status: RoundStatus::parse(&get_s(r, "status")?)?,
        created: audit(r, "created_by", "created_role", "created_at")?,
        selected,
    })
}

fn reference_row(r: &QueryResult) -> Result<StoredReference, ProcError> {
    Ok(StoredReference {
        id: get_s(r, "id")?,
        region: get_s(r, "region_code")?,
        reference: ReferencePrice {
            item_code: code(&get_s(r, "item_code")?)?,
            kind: ref_kind_of(&get_s(r, "kind")?)?,
            price: Fen(get_n(r, "price_fen")?),
            period: Period {
                from: date(&get_s(r, "valid_from")?)?,
                to: opt_date(get_os(r, "valid_to")?)?,
            },
        },
        closed_id: get_os(r, "closed_id")?,
        updated: audit(r, "updated_by", "updated_role", "updated_at")?,
    })
}

fn listing_row(r: &QueryResult) -> Result<StoredListing, ProcError> {
    Ok(StoredListing {
        id: get_s(r, "id")?,
        region: get_s(r, "region_code")?,
        manufacturer: get_s(r, "manufacturer_code")?,
        listing: ListedPrice {
            item_code: code(&get_s(r, "item_code")?)?,
            price: Fen(get_n(r, "price_fen")?),
            period: Period {
                from: date(&get_s(r, "valid_from")?)?,
                to: opt_date(get_os(r, "valid_to")?)?,
            },
        },
        updated: audit(r, "updated_by", "updated_role", "updated_at")?,
    })
}

fn standard_row(r: &QueryResult) -> Result<StoredStandard, ProcError> {
    Ok(StoredStandard {
        id: get_s(r, "id")?,
        region: get_s(r, "region_code")?,
        standard: PaymentStandard {
            item_code: code(&get_s(r, "item_code")?)?,
            amount: Fen(get_n(r, "amount_fen")?),
            period: Period {
                from: date(&get_s(r, "valid_from")?)?,
                to: opt_date(get_os(r, "valid_to")?)?,
            },
            basis: get_s(r, "basis")?,
        },
        closed_id: get_os(r, "closed_id")?,
        updated: audit(r, "updated_by", "updated_role", "updated_at")?,
    })
}

fn inventory_row(r: &QueryResult) -> Result<InventoryRecord, ProcError> {
    let inst = get_s(r, "institution_code")?;
    Ok(InventoryRecord {
        institution: InstitutionCode::parse(&inst)
            .map_err(|e| ProcError::Corrupt(format!("institution `{inst}`: {e}")))?,
        item_code: code(&get_s(r, "item_code")?)?,
        date: date(&get_s(r, "record_date")?)?,
        movement: movement_of(&get_s(r, "movement")?)?,
        quantity: uqty(get_n(r, "quantity")?)?,
        unit_price: Fen(get_n(r, "unit_price_fen")?),
        record_no: get_s(r, "record_no")?,
    })
}

/// Maps a domain pricing refusal to an input error naming `field`.
pub fn pricing_error(e: PricingError, field: &str) -> ProcError {
    let code = e.code();
    match e {
        PricingError::Overflow(_) => ProcError::invalid_code(code, field, "amount is too large"),
        other => ProcError::invalid_code(code, field, other.to_string()),
    }
}

impl Store {
    /// Wraps a connection.
    pub fn new(db: DatabaseConnection) -> Store {
        let write_lock = yibao_runtime::db::WriteGate::for_connection(&db);
        Store {
            db,
            write_lock,
            relay_lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    fn stmt(&self, sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(self.db.get_database_backend(), sql, values)
    }

    async fn begin(&self) -> Result<Txn, ProcError> {
        let guard = self.write_lock.enter().await;
        Ok(Txn {
            _guard: guard,
            txn: self.db.begin().await?,
        })
    }

    /// Serialises writers of one history (an item's standards, a manufacturer's bid, an
    /// institution's inventory) until the transaction ends. SQLite has one writer anyway; on
    /// PostgreSQL a transaction-scoped advisory lock keeps two concurrent read-check-write
    /// sequences from both closing the same open-ended period.
    async fn lock(&self, t: &Txn, key: &str) -> Result<(), ProcError> {
        if self.db.get_database_backend() == DbBackend::Postgres {
            self.one(
                &t.txn,
                "SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(hashtext($1))) AS l",
                vec![s(format!("procurement:{key}"))],
            )
            .await?;
        }
        Ok(())
    }

    async fn all(
        &self,
        c: &impl ConnectionTrait,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Vec<QueryResult>, ProcError> {
        Ok(c.query_all_raw(self.stmt(sql, values)).await?)
    }

    async fn one(
        &self,
        c: &impl ConnectionTrait,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Option<QueryResult>, ProcError> {
        Ok(c.query_one_raw(self.stmt(sql, values)).await?)
    }

    async fn exec(
        &self,
        c: &impl ConnectionTrait,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<u64, ProcError> {
        Ok(c.execute_raw(self.stmt(sql, values)).await?.rows_affected())
    }

    // ------------------------------------------------------------------ catalogue

    /// Inserts or replaces entries of a region's catalogue in one transaction; returns for
    /// each entry whether it was new.
    pub async fn upsert_catalogue(
        &self,
        region: &str,
        entries: &[CatalogueEntry],
        actor: &Actor,
    ) -> Result<Vec<bool>, ProcError> {
        let t = self.begin().await?;
        let at = now();
        let mut created = Vec::with_capacity(entries.len());
        for e in entries {
            let exists = self
                .one(
                    &t.txn,
                    "SELECT code FROM catalogue_items WHERE region_code = $1 AND code = $2",
                    vec![s(region), s(e.code.as_str())],
                )
                .await?
                .is_some();
            let sql = format!(
                "INSERT INTO catalogue_items ({CATALOGUE_COLS}) VALUES ({}) ON CONFLICT (region_code, code) DO UPDATE SET \
                 kind = excluded.kind, generic_name = excluded.generic_name, dosage_form = excluded.dosage_form, \
                 specification = excluded.specification, manufacturer = excluded.manufacturer, \
                 insurance_class = excluded.insurance_class, negotiated = excluded.negotiated, \
                 valid_from = excluded.valid_from, valid_to = excluded.valid_to, updated_by = excluded.updated_by, \
                 updated_role = excluded.updated_role, updated_at = excluded.updated_at",
                placeholders(1, 14)
            );
            self.exec(
                &t.txn,
                &sql,
                vec![
                    s(region),
                    s(e.code.as_str()),
                    s(kind_str(e.kind)),
                    s(e.generic_name.clone()),
                    s(e.dosage_form.clone()),
                    s(e.specification.clone()),
                    s(e.manufacturer.clone()),
                    s(class_str(e.class)),
                    n(i64::from(e.negotiated)),
                    s(e.valid_from.to_string()),
                    opt_s(e.valid_to.map(|d| d.to_string())),
                    s(actor.subject.clone()),
                    s(actor.role.clone()),
                    s(at.clone()),
                ],
            )
            .await?;
            created.push(!exists);
        }
        t.txn.commit().await?;
        Ok(created)
    }

    /// A catalogue entry of a region.
    pub async fn catalogue_item(
        &self,
        region: &str,
        code: &str,
    ) -> Result<Option<StoredItem>, ProcError> {
        let sql = format!(
            "SELECT {CATALOGUE_COLS} FROM catalogue_items WHERE region_code = $1 AND code = $2"
        );
        self.one(&self.db, &sql, vec![s(region), s(code)])
            .await?
            .as_ref()
            .map(catalogue_row)
            .transpose()
    }

    /// The entry of `code` in the most specific region of `region`'s chain that has it.
    pub async fn catalogue_item_in_chain(
        &self,
        region: &str,
        code: &str,
    ) -> Result<Option<StoredItem>, ProcError> {
        for r in region_chain(region) {
            if let Some(item) = self.catalogue_item(&r, code).await? {
                return Ok(Some(item));
            }
        }
        Ok(None)
    }

    /// Entries of a region in code order after `after`, at most `limit`, filtered by kind,
    /// generic name (substring) and validity on a date.
    pub async fn list_catalogue(
        &self,
        region: &str,
        kind: Option<ItemKind>,
        name_contains: &str,
        on_date: Option<NaiveDate>,
        after: &str,
        limit: u64,
    ) -> Result<Vec<StoredItem>, ProcError> {
        let mut sql = format!(
            "SELECT {CATALOGUE_COLS} FROM catalogue_items WHERE region_code = $1 AND code > $2"
        );
        let mut values = vec![s(region), s(after)];
        if let Some(k) = kind {
            values.push(s(kind_str(k)));
            sql.push_str(&format!(" AND kind = ${}", values.len()));
        }
        if !name_contains.is_empty() {
            values.push(s(format!("%{name_contains}%")));
            sql.push_str(&format!(" AND generic_name LIKE ${}", values.len()));
        }
        if let Some(d) = on_date {
            values.push(s(d.to_string()));
            let i = values.len();
            sql.push_str(&format!(
                " AND valid_from <= ${i} AND (valid_to IS NULL OR valid_to >= ${i})"
            ));
        }
        values.push(n(i64::try_from(limit).unwrap_or(1000)));
        sql.push_str(&format!(" ORDER BY code LIMIT ${}", values.len()));
        self.all(&self.db, &sql, values)
            .await?
            .iter()
            .map(catalogue_row)
            .collect()
    }

    /// Codes of the region chain's catalogue entries with a generic name.
    pub async fn codes_of_generic(
        &self,
        region: &str,
        generic_name: &str,
    ) -> Result<Vec<String>, ProcError> {
        let chain = region_chain(region);
        let sql = format!(
            "SELECT DISTINCT code FROM catalogue_items WHERE generic_name = $1 AND region_code IN ({}) ORDER BY code",
            placeholders(2, chain.len())
        );
        let mut values = vec![s(generic_name)];
        values.extend(chain.into_iter().map(s));
        self.all(&self.db, &sql, values)
            .await?
            .iter()
            .map(|r| get_s(r, "code"))
            .collect()
    }

    // ------------------------------------------------------------------ rounds

    /// Stores a new round (open).
    pub async fn create_round(&self, round: &StoredRound) -> Result<(), ProcError> {
        let rules =
            serde_json::to_string(&round.rules).map_err(|e| ProcError::Corrupt(e.to_string()))?;
        let t = self.begin().await?;
        self.exec(
            &t.txn,
            "INSERT INTO rounds (id, region_code, name, rules_json, contract_start, contract_end, status, created_by, created_role, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            vec![
                s(round.id.clone()),
                s(round.region.clone()),
                s(round.name.clone()),
                s(rules),
                s(round.contract_start.to_string()),
                s(round.contract_end.to_string()),
                s(round.status.as_str()),
                s(round.created.actor.clone()),
                s(round.created.role.clone()),
                s(round.created.at.clone()),
            ],
        )
        .await?;
        t.txn.commit().await?;
        Ok(())
    }

    async fn round_in(&self, c: &impl ConnectionTrait, id: &str) -> Result<StoredRound, ProcError> {
        self.one(c, "SELECT * FROM rounds WHERE id = $1", vec![s(id)])
            .await?
            .as_ref()
            .map(round_row)
            .transpose()?
            .ok_or_else(|| {
                ProcError::not_found("PROCUREMENT_ROUND_NOT_FOUND", format!("round `{id}`"))
            })
    }

    /// A round.
    pub async fn round(&self, id: &str) -> Result<StoredRound, ProcError> {
        self.round_in(&self.db, id).await
    }

    async fn open_round_in(
        &self,
        c: &impl ConnectionTrait,
        id: &str,
    ) -> Result<StoredRound, ProcError> {
        let round = self.round_in(c, id).await?;
        if round.status != RoundStatus::Open {
            return Err(ProcError::precondition(
                "PROCUREMENT_ROUND_NOT_OPEN",
                format!("round `{id}` is no longer open: its selection has run"),
            ));
        }
        Ok(round)
    }

    /// Adds a group to an open round; an identical repeat finds the stored group.
    pub async fn add_group(
        &self,
        round_id: &str,
        group: &StoredGroup,
    ) -> Result<Written<StoredGroup>, ProcError> {
        let t = self.begin().await?;
        self.lock(&t, &format!("round:{round_id}")).await?;
        if let Some(existing) = self
            .groups_in(&t.txn, round_id)
            .await?
            .into_iter()
            .find(|g| g.group.id == group.group.id)
        {
            if existing == *group {
                return Ok(Written::Existing(existing));
            }
            return Err(ProcError::Conflict {
                code: "PROCUREMENT_DUPLICATE_GROUP",
                message: format!(
                    "group `{}` exists in round `{round_id}` with other content",
                    group.group.id
                ),
            });
        }
        self.open_round_in(&t.txn, round_id).await?;
        let g = &group.group;
        self.exec(
            &t.txn,
            "INSERT INTO round_groups (round_id, group_id, generic_name, specification, highest_valid_price_fen, category) VALUES ($1, $2, $3, $4, $5, $6)",
            vec![s(round_id), s(g.id.clone()), s(g.generic_name.clone()), s(g.specification.clone()), n(g.highest_valid_price.0), s(group.category.clone())],
        )
        .await?;
        t.txn.commit().await?;
        Ok(Written::New(group.clone()))
    }

    async fn groups_in(
        &self,
        c: &impl ConnectionTrait,
        round_id: &str,
    ) -> Result<Vec<StoredGroup>, ProcError> {
        self.all(
            c,
            "SELECT * FROM round_groups WHERE round_id = $1 ORDER BY group_id",
            vec![s(round_id)],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(StoredGroup {
                group: crate::domain::Group {
                    id: get_s(r, "group_id")?,
                    generic_name: get_s(r, "generic_name")?,
                    specification: get_s(r, "specification")?,
                    highest_valid_price: Fen(get_n(r, "highest_valid_price_fen")?),
                },
                category: get_s(r, "category")?,
            })
        })
        .collect()
    }

    /// Groups of a round in id order.
    pub async fn groups(&self, round_id: &str) -> Result<Vec<StoredGroup>, ProcError> {
        self.groups_in(&self.db, round_id).await
    }

    /// Stores (or replaces) an institution's demand per group of an open round.
    pub async fn report_demand(
        &self,
        round_id: &str,
        institution: &str,
        lines: &[(String, u64)],
    ) -> Result<(), ProcError> {
        let t = self.begin().await?;
        self.lock(&t, &format!("round:{round_id}")).await?;
        self.open_round_in(&t.txn, round_id).await?;
        let groups = self.groups_in(&t.txn, round_id).await?;
        let at = now();
        for (i, (group_id, quantity)) in lines.iter().enumerate() {
            if !groups.iter().any(|g| &g.group.id == group_id) {
                return Err(ProcError::invalid_code(
                    "PROCUREMENT_UNKNOWN_GROUP",
                    format!("lines[{i}].group_id"),
                    format!("group `{group_id}` is not in round `{round_id}`"),
                ));
            }
            self.exec(
                &t.txn,
                "INSERT INTO demands (round_id, group_id, institution_code, quantity, updated_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (round_id, group_id, institution_code) DO UPDATE SET quantity = excluded.quantity, updated_at = excluded.updated_at",
                vec![s(round_id), s(group_id.clone()), s(institution), n(qty(*quantity)?), s(at.clone())],
            )
            .await?;
        }
        t.txn.commit().await?;
        Ok(())
    }

    /// Submits a bid in an open round: a new bid, a replacement of the manufacturer's earlier
    /// bid in the group (`replaced`), or an identical repeat (nothing written).
    pub async fn submit_bid(
        &self,
        round_id: &str,
        bid: &crate::domain::Bid,
    ) -> Result<(Written<String>, bool), ProcError> {
        let t = self.begin().await?;
        self.lock(&t, &format!("round:{round_id}")).await?;
        self.open_round_in(&t.txn, round_id).await?;
        if !self
            .groups_in(&t.txn, round_id)
            .await?
            .iter()
            .any(|g| g.group.id == bid.group_id)
        {
            return Err(ProcError::invalid_code(
                "PROCUREMENT_UNKNOWN_GROUP",
                "group_id",
                format!("group `{}` is not in round `{round_id}`", bid.group_id),
            ));
        }
        let existing = self
            .one(&t.txn, "SELECT * FROM bids WHERE round_id = $1 AND group_id = $2 AND manufacturer_code = $3", vec![s(round_id), s(bid.group_id.clone()), s(bid.manufacturer.clone())])
            .await?;
        let id = new_id();
        let values = vec![
            s(id.clone()),
            s(round_id),
            s(bid.group_id.clone()),
            s(bid.manufacturer.clone()),
            s(bid.item_code.as_str()),
            n(bid.unit_price.0),
            n(bid.declared_price.0),
            s(now()),
        ];
        let replaced = match existing {
            Some(r) => {
                let old_id = get_s(&r, "id")?;
                let same = get_s(&r, "item_code")? == bid.item_code.as_str()
                    && get_n(&r, "unit_price_fen")? == bid.unit_price.0
                    && get_n(&r, "declared_price_fen")? == bid.declared_price.0;
                if same {
                    return Ok((Written::Existing(old_id), false));
                }
                self.exec(&t.txn, "DELETE FROM bids WHERE id = $1", vec![s(old_id)])
                    .await?;
                true
            }
            None => false,
        };
        self.exec(
            &t.txn,
            "INSERT INTO bids (id, round_id, group_id, manufacturer_code, item_code, unit_price_fen, declared_price_fen, submitted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            values,
        )
        .await?;
        t.txn.commit().await?;
        Ok((Written::New(id), replaced))
    }

    /// Bids of a round.
    pub async fn bids(&self, round_id: &str) -> Result<Vec<StoredBid>, ProcError> {
        self.all(
            &self.db,
            "SELECT * FROM bids WHERE round_id = $1 ORDER BY group_id, manufacturer_code",
            vec![s(round_id)],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(StoredBid {
                id: get_s(r, "id")?,
                bid: crate::domain::Bid {
                    group_id: get_s(r, "group_id")?,
                    manufacturer: get_s(r, "manufacturer_code")?,
                    item_code: code(&get_s(r, "item_code")?)?,
                    unit_price: Fen(get_n(r, "unit_price_fen")?),
                    declared_price: Fen(get_n(r, "declared_price_fen")?),
                },
            })
        })
        .collect()
    }

    /// Demand of a round.
    pub async fn demands(&self, round_id: &str) -> Result<Vec<crate::domain::Demand>, ProcError> {
        self.all(
            &self.db,
            "SELECT * FROM demands WHERE round_id = $1 ORDER BY group_id, institution_code",
            vec![s(round_id)],
        )
        .await?
        .iter()
        .map(|r| {
            let inst = get_s(r, "institution_code")?;
            Ok(crate::domain::Demand {
                group_id: get_s(r, "group_id")?,
                institution: InstitutionCode::parse(&inst)
                    .map_err(|e| ProcError::Corrupt(format!("institution `{inst}`: {e}")))?,
                quantity: uqty(get_n(r, "quantity")?)?,
            })
        })
        .collect()
    }

    /// Records a selection: the outcome of every group, the allocations, and the round as
    /// selected. Returns false (writing nothing) when the round was selected meanwhile.
    pub async fn save_selection(
        &self,
        round_id: &str,
        groups: &[GroupOutcome],
        actor: &Actor,
    ) -> Result<bool, ProcError> {
        let t = self.begin().await?;
        self.lock(&t, &format!("round:{round_id}")).await?;
        let round = self.round_in(&t.txn, round_id).await?;
        if round.status != RoundStatus::Open {
            return Ok(false);
        }
        for g in groups {
            let json = serde_json::to_string(g).map_err(|e| ProcError::Corrupt(e.to_string()))?;
            self.exec(
                &t.txn,
                "INSERT INTO group_outcomes (round_id, group_id, outcome_json) VALUES ($1, $2, $3)",
                vec![s(round_id), s(g.group_id.clone()), s(json)],
            )
            .await?;
            for a in &g.allocations {
                self.exec(
                    &t.txn,
                    "INSERT INTO allocations (round_id, group_id, institution_code, demand_quantity, agreed_volume) VALUES ($1, $2, $3, $4, $5)",
                    vec![s(round_id), s(g.group_id.clone()), s(a.institution.as_str()), n(qty(a.demand)?), n(qty(a.agreed_volume)?)],
                )
                .await?;
            }
        }
        self.exec(
            &t.txn,
            "UPDATE rounds SET status = $1, selected_by = $2, selected_role = $3, selected_at = $4 WHERE id = $5",
            vec![s(RoundStatus::Selected.as_str()), s(actor.subject.clone()), s(actor.role.clone()), s(now()), s(round_id)],
        )
        .await?;
        t.txn.commit().await?;
        Ok(true)
    }

    /// The stored outcome of a round's groups, in group order.
    pub async fn outcome(&self, round_id: &str) -> Result<Vec<GroupOutcome>, ProcError> {
        self.all(
            &self.db,
            "SELECT outcome_json FROM group_outcomes WHERE round_id = $1 ORDER BY group_id",
            vec![s(round_id)],
        )
        .await?
        .iter()
        .map(|r| {
            serde_json::from_str(&get_s(r, "outcome_json")?)
                .map_err(|e| ProcError::Corrupt(format!("group outcome: {e}")))
        })
        .collect()
    }

    /// Allocations of a round, optionally of one institution, in (institution, group) order.
    pub async fn allocations(
        &self,
        round_id: &str,
        institution: Option<&str>,
    ) -> Result<Vec<StoredAllocation>, ProcError> {
        let (sql, values) = match institution {
            Some(i) => (
                "SELECT * FROM allocations WHERE round_id = $1 AND institution_code = $2 ORDER BY institution_code, group_id",
                vec![s(round_id), s(i)],
            ),
            None => (
                "SELECT * FROM allocations WHERE round_id = $1 ORDER BY institution_code, group_id",
                vec![s(round_id)],
            ),
        };
        self.all(&self.db, sql, values)
            .await?
            .iter()
            .map(|r| {
                Ok(StoredAllocation {
                    group_id: get_s(r, "group_id")?,
                    institution: get_s(r, "institution_code")?,
                    demand: uqty(get_n(r, "demand_quantity")?)?,
                    agreed_volume: uqty(get_n(r, "agreed_volume")?)?,
                })
            })
            .collect()
    }

    // ------------------------------------------------------------------ prices

    async fn references_in(
        &self,
        c: &impl ConnectionTrait,
        region: &str,
        item: &str,
    ) -> Result<Vec<StoredReference>, ProcError> {
        self.all(c, "SELECT * FROM reference_prices WHERE region_code = $1 AND item_code = $2 ORDER BY kind, valid_from", vec![s(region), s(item)])
            .await?
            .iter()
            .map(reference_row)
            .collect()
    }

    async fn listings_in(
        &self,
        c: &impl ConnectionTrait,
        region: &str,
        item: &str,
    ) -> Result<Vec<StoredListing>, ProcError> {
        self.all(c, "SELECT * FROM listed_prices WHERE region_code = $1 AND item_code = $2 ORDER BY valid_from", vec![s(region), s(item)])
            .await?
            .iter()
            .map(listing_row)
            .collect()
    }

    /// A price book of one item in a region: listings first (so a listing that a later
    /// reference undercuts is still held), then the references.
    fn book(
        listings: &[StoredListing],
        references: &[StoredReference],
    ) -> Result<PriceBook, ProcError> {
        let mut book = PriceBook::new();
        for l in listings {
            book.list(l.listing.clone())
                .map_err(|e| ProcError::Corrupt(format!("stored listing {}: {e}", l.id)))?;
        }
        for r in references {
            book.set_reference(r.reference.clone())
                .map_err(|e| ProcError::Corrupt(format!("stored reference {}: {e}", r.id)))?;
        }
        Ok(book)
    }

    /// Sets a ceiling or guide price. Returns the stored reference, the one it ended, and the
    /// listings now above a reference; an identical repeat writes nothing.
    pub async fn set_reference(
        &self,
        region: &str,
        reference: &ReferencePrice,
        actor: &Actor,
    ) -> Result<
        (
            Written<StoredReference>,
            Option<StoredReference>,
            Vec<StoredListing>,
        ),
        ProcError,
    > {
        let t = self.begin().await?;
        let item = reference.item_code.as_str();
        self.lock(&t, &format!("prices:{region}:{item}")).await?;
        let refs = self.references_in(&t.txn, region, item).await?;
        let listings = self.listings_in(&t.txn, region, item).await?;
        let by_id = |id: &Option<String>| {
            id.as_ref()
                .and_then(|id| refs.iter().find(|r| &r.id == id))
                .cloned()
        };
        let above = |book: &PriceBook| -> Vec<StoredListing> {
            let above: Vec<&ListedPrice> = book
                .listings_above_references()
                .into_iter()
                .map(|(l, _)| l)
                .collect();
            listings
                .iter()
                .filter(|l| above.contains(&&l.listing))
                .cloned()
                .collect()
        };
        if let Some(same) = refs.iter().find(|r| r.reference == *reference) {
            let book = Self::book(&listings, &refs)?;
            return Ok((
                Written::Existing(same.clone()),
                by_id(&same.closed_id),
                above(&book),
            ));
        }
        let mut book = Self::book(&listings, &refs)?;
        book.set_reference(reference.clone())
            .map_err(|e| pricing_error(e, "reference.valid_from_date"))?;
        let history = book.reference_history(&reference.item_code, reference.kind);
        let closed = refs.iter().find(|r| {
            r.reference.kind == reference.kind
                && history.iter().any(|h| {
                    h.period.from == r.reference.period.from && h.period.to != r.reference.period.to
                })
        });
        let mut previous = None;
        if let Some(c) = closed {
            let to = history
                .iter()
                .find(|h| h.period.from == c.reference.period.from)
                .and_then(|h| h.period.to);
            self.exec(
                &t.txn,
                "UPDATE reference_prices SET valid_to = $1 WHERE id = $2",
                vec![opt_s(to.map(|d| d.to_string())), s(c.id.clone())],
            )
            .await?;
            let mut p = c.clone();
            p.reference.period.to = to;
            previous = Some(p);
        }
        let stored = StoredReference {
            id: new_id(),
            region: region.to_string(),
            reference: reference.clone(),
            closed_id: previous.as_ref().map(|p| p.id.clone()),
            updated: Audit {
                actor: actor.subject.clone(),
                role: actor.role.clone(),
                at: now(),
            },
        };
        self.exec(
            &t.txn,
            "INSERT INTO reference_prices (id, region_code, item_code, kind, price_fen, valid_from, valid_to, closed_id, updated_by, updated_role, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            vec![
                s(stored.id.clone()),
                s(region),
                s(item),
                s(ref_kind_str(reference.kind)),
                n(reference.price.0),
                s(reference.period.from.to_string()),
                opt_s(reference.period.to.map(|d| d.to_string())),
                opt_s(stored.closed_id.clone()),
                s(stored.updated.actor.clone()),
                s(stored.updated.role.clone()),
                s(stored.updated.at.clone()),
            ],
        )
        .await?;
        t.txn.commit().await?;
        let above = above(&book);
        Ok((Written::New(stored), previous, above))
    }

    /// Lists a product. Refused (naming the reference) above a reference in force on any day
    /// of the period; an identical repeat writes nothing.
    pub async fn set_listing(
        &self,
        region: &str,
        manufacturer: &str,
        listing: &ListedPrice,
        actor: &Actor,
    ) -> Result<Written<StoredListing>, ProcError> {
        let t = self.begin().await?;
        let item = listing.item_code.as_str();
        self.lock(&t, &format!("prices:{region}:{item}")).await?;
        let refs = self.references_in(&t.txn, region, item).await?;
        let listings = self.listings_in(&t.txn, region, item).await?;
        if let Some(same) = listings
            .iter()
            .find(|l| l.listing == *listing && l.manufacturer == manufacturer)
        {
            return Ok(Written::Existing(same.clone()));
        }
        let mut book = Self::book(&listings, &refs)?;
        book.list(listing.clone()).map_err(|e| match &e {
            PricingError::AboveReference { .. } => pricing_error(e, "listing.price_fen"),
            _ => pricing_error(e, "listing.valid_from_date"),
        })?;
        for l in &listings {
            let now_to = book
                .listed_on(&l.listing.item_code, l.listing.period.from)
                .filter(|h| h.period.from == l.listing.period.from)
                .map(|h| h.period.to);
            if let Some(to) = now_to
                && to != l.listing.period.to
            {
                self.exec(
                    &t.txn,
                    "UPDATE listed_prices SET valid_to = $1 WHERE id = $2",
                    vec![opt_s(to.map(|d| d.to_string())), s(l.id.clone())],
                )
                .await?;
            }
        }
        let stored = StoredListing {
            id: new_id(),
            region: region.to_string(),
            manufacturer: manufacturer.to_string(),
            listing: listing.clone(),
            updated: Audit {
                actor: actor.subject.clone(),
                role: actor.role.clone(),
                at: now(),
            },
        };
        self.exec(
            &t.txn,
            "INSERT INTO listed_prices (id, region_code, item_code, manufacturer_code, price_fen, valid_from, valid_to, updated_by, updated_role, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            vec![
                s(stored.id.clone()),
                s(region),
                s(item),
                s(manufacturer),
                n(listing.price.0),
                s(listing.period.from.to_string()),
                opt_s(listing.period.to.map(|d| d.to_string())),
                s(stored.updated.actor.clone()),
                s(stored.updated.role.clone()),
                s(stored.updated.at.clone()),
            ],
        )
        .await?;
        t.txn.commit().await?;
        Ok(Written::New(stored))
    }

    /// A price book of the listings that apply in `region` for `items`: per item, those of the
    /// most specific region of the chain that has any.
    pub async fn listings_for(
        &self,
        region: &str,
        items: &[String],
    ) -> Result<PriceBook, ProcError> {
        let mut book = PriceBook::new();
        for item in items {
            for r in region_chain(region) {
                let listings = self.listings_in(&self.db, &r, item).await?;
                if listings.is_empty() {
                    continue;
                }
                for l in listings {
                    book.list(l.listing)
                        .map_err(|e| ProcError::Corrupt(format!("stored listing {}: {e}", l.id)))?;
                }
                break;
            }
        }
        Ok(book)
    }

    // ------------------------------------------------------------------ payment standards

    async fn standards_in(
        &self,
        c: &impl ConnectionTrait,
        region: &str,
        item: &str,
    ) -> Result<Vec<StoredStandard>, ProcError> {
        self.all(c, "SELECT * FROM payment_standards WHERE region_code = $1 AND item_code = $2 ORDER BY valid_from", vec![s(region), s(item)])
            .await?
            .iter()
            .map(standard_row)
            .collect()
    }

    async fn set_standard_in(
        &self,
        c: &DatabaseTransaction,
        region: &str,
        standard: &PaymentStandard,
        field: &str,
        actor: &Actor,
        at: &str,
    ) -> Result<(Written<StoredStandard>, Option<StoredStandard>), ProcError> {
        let item = standard.item_code.as_str();
        let rows = self.standards_in(c, region, item).await?;
        if let Some(same) = rows.iter().find(|r| r.standard == *standard) {
            let previous = same
                .closed_id
                .as_ref()
                .and_then(|id| rows.iter().find(|r| &r.id == id))
                .cloned();
            return Ok((Written::Existing(same.clone()), previous));
        }
        let mut index = PaymentStandardIndex::new();
        for r in &rows {
            index
                .set(r.standard.clone())
                .map_err(|e| ProcError::Corrupt(format!("stored standard {}: {e}", r.id)))?;
        }
        index
            .set(standard.clone())
            .map_err(|e| pricing_error(e, field))?;
        let history = index.history(item);
        let mut previous = None;
        for r in &rows {
            let to = history
                .iter()
                .find(|h| h.period.from == r.standard.period.from)
                .map(|h| h.period.to);
            if let Some(to) = to
                && to != r.standard.period.to
            {
                self.exec(
                    c,
                    "UPDATE payment_standards SET valid_to = $1 WHERE id = $2",
                    vec![opt_s(to.map(|d| d.to_string())), s(r.id.clone())],
                )
                .await?;
                let mut p = r.clone();
                p.standard.period.to = to;
                previous = Some(p);
            }
        }
        let stored = StoredStandard {
            id: new_id(),
            region: region.to_string(),
            standard: standard.clone(),
            closed_id: previous.as_ref().map(|p: &StoredStandard| p.id.clone()),
            updated: Audit {
                actor: actor.subject.clone(),
                role: actor.role.clone(),
                at: at.to_string(),
            },
        };
        self.exec(
            c,
            "INSERT INTO payment_standards (id, region_code, item_code, amount_fen, valid_from, valid_to, basis, closed_id, updated_by, updated_role, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            vec![
                s(stored.id.clone()),
                s(region),
                s(item),
                n(standard.amount.0),
                s(standard.period.from.to_string()),
                opt_s(standard.period.to.map(|d| d.to_string())),
                s(standard.basis.clone()),
                opt_s(stored.closed_id.clone()),
                s(stored.updated.actor.clone()),
                s(stored.updated.role.clone()),
                s(stored.updated.at.clone()),
            ],
        )
        .await?;
        Ok((Written::New(stored), previous))
    }

    /// Sets payment standards of a region in one transaction (one, or a derivation's set),
    /// each closing an open-ended standard the day before; `fields[i]` names the input of
    /// `standards[i]` in errors. An identical repeat of a standard writes nothing.
    pub async fn set_standards(
        &self,
        region: &str,
        standards: &[(PaymentStandard, String)],
        actor: &Actor,
    ) -> Result<Vec<(Written<StoredStandard>, Option<StoredStandard>)>, ProcError> {
        let t = self.begin().await?;
        let at = now();
        let mut out = Vec::with_capacity(standards.len());
        let mut keys: Vec<String> = standards
            .iter()
            .map(|(s, _)| format!("standards:{region}:{}", s.item_code))
            .collect();
        // Always in the same order, so two batches never wait on each other crosswise.
        keys.sort();
        keys.dedup();
        for key in &keys {
            self.lock(&t, key).await?;
        }
        for (standard, field) in standards {
            out.push(
                self.set_standard_in(&t.txn, region, standard, field, actor, &at)
                    .await?,
            );
        }
        t.txn.commit().await?;
        Ok(out)
    }

    /// Standard histories of items in every region, in (item, region, from) order.
    pub async fn standards_of_items(
        &self,
        items: &[String],
    ) -> Result<Vec<StoredStandard>, ProcError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT * FROM payment_standards WHERE item_code IN ({}) ORDER BY item_code, region_code, valid_from",
            placeholders(1, items.len())
        );
        self.all(&self.db, &sql, items.iter().map(|v| s(v.clone())).collect())
            .await?
            .iter()
            .map(standard_row)
            .collect()
    }

    /// The namespace of this database's cache keys: a random id stored on first use, so every
    /// replica over the same database shares it and a fresh database never reads stale keys.
    pub async fn cache_namespace(&self) -> Result<String, ProcError> {
        let t = self.begin().await?;
        self.exec(&t.txn, "INSERT INTO service_meta (meta_key, meta_value) VALUES ('cache_namespace', $1) ON CONFLICT (meta_key) DO NOTHING", vec![s(new_id())]).await?;
        let row = self
            .one(
                &t.txn,
                "SELECT meta_value FROM service_meta WHERE meta_key = 'cache_namespace'",
                vec![],
            )
            .await?;
        t.txn.commit().await?;
        row.as_ref()
            .map(|r| get_s(r, "meta_value"))
            .transpose()?
            .ok_or_else(|| ProcError::Corrupt("cache namespace missing".into()))
    }

    // ------------------------------------------------------------------ inventory

    /// Stores an upload's records (idempotent on record number: an identical record is kept,
    /// a different one under a used number is refused naming `records[i].record_no`) and
    /// opening stock; then runs `check` over every stored record and opening stock of the
    /// institution's items concerned, and writes the events it returns, all in one
    /// transaction.
    pub async fn upload_inventory<T>(
        &self,
        institution: &str,
        records: &[InventoryRecord],
        opening: &[OpeningStock],
        check: impl FnOnce(
            &[InventoryRecord],
            &[OpeningStock],
        ) -> Result<(T, Vec<OutboxEvent>), ProcError>,
    ) -> Result<T, ProcError> {
        let t = self.begin().await?;
        self.lock(&t, &format!("inventory:{institution}")).await?;
        let at = now();
        let mut items: Vec<String> = records
            .iter()
            .map(|r| r.item_code.as_str().to_string())
            .chain(opening.iter().map(|o| o.item_code.as_str().to_string()))
            .collect();
        items.sort();
        items.dedup();
        for (i, r) in records.iter().enumerate() {
            let existing = self.one(&t.txn, "SELECT * FROM inventory_records WHERE institution_code = $1 AND record_no = $2", vec![s(institution), s(r.record_no.clone())]).await?;
            if let Some(e) = existing {
                if inventory_row(&e)? != *r {
                    return Err(ProcError::Conflict {
                        code: "PROCUREMENT_RECORD_NO_REUSED",
                        message: format!(
                            "records[{i}].record_no: record `{}` is stored with other content",
                            r.record_no
                        ),
                    });
                }
                continue;
            }
            self.exec(
                &t.txn,
                "INSERT INTO inventory_records (institution_code, record_no, item_code, record_date, movement, quantity, unit_price_fen, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                vec![s(institution), s(r.record_no.clone()), s(r.item_code.as_str()), s(r.date.to_string()), s(movement_str(r.movement)), n(qty(r.quantity)?), n(r.unit_price.0), s(at.clone())],
            )
            .await?;
        }
        for o in opening {
            self.exec(
                &t.txn,
                "INSERT INTO opening_stocks (institution_code, item_code, as_of_date, quantity, unit_cost_fen) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (institution_code, item_code, as_of_date) DO UPDATE SET quantity = excluded.quantity, unit_cost_fen = excluded.unit_cost_fen",
                vec![s(institution), s(o.item_code.as_str()), s(o.as_of.to_string()), n(qty(o.quantity)?), n(o.unit_cost.0)],
            )
            .await?;
        }
        let mut all_records = Vec::new();
        let mut all_opening = Vec::new();
        if !items.is_empty() {
            let sql = format!(
                "SELECT * FROM inventory_records WHERE institution_code = $1 AND item_code IN ({})",
                placeholders(2, items.len())
            );
            let mut values = vec![s(institution)];
            values.extend(items.iter().map(|i| s(i.clone())));
            for r in self.all(&t.txn, &sql, values.clone()).await? {
                all_records.push(inventory_row(&r)?);
            }
            let sql = format!(
                "SELECT * FROM opening_stocks WHERE institution_code = $1 AND item_code IN ({})",
                placeholders(2, items.len())
            );
            for r in self.all(&t.txn, &sql, values).await? {
                let inst = get_s(&r, "institution_code")?;
                all_opening.push(OpeningStock {
                    institution: InstitutionCode::parse(&inst)
                        .map_err(|e| ProcError::Corrupt(format!("institution `{inst}`: {e}")))?,
                    item_code: code(&get_s(&r, "item_code")?)?,
                    quantity: uqty(get_n(&r, "quantity")?)?,
                    unit_cost: Fen(get_n(&r, "unit_cost_fen")?),
                    as_of: date(&get_s(&r, "as_of_date")?)?,
                });
            }
        }
        let (result, events) = check(&all_records, &all_opening)?;
        for e in events {
            self.exec(
                &t.txn,
                "INSERT INTO outbox (event_id, stream, payload_hex, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING",
                vec![s(e.event_id), s(e.stream), s(to_hex(&e.payload)), s(at.clone())],
            )
            .await?;
        }
        t.txn.commit().await?;
        Ok(result)
    }

    /// Purchases of institutions between two dates (inclusive), of the given items.
    pub async fn purchases(
        &self,
        institutions: &[String],
        items: &[String],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Purchase>, ProcError> {
        if institutions.is_empty() || items.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT institution_code, item_code, quantity, unit_price_fen FROM inventory_records WHERE movement = 'purchase' \
             AND record_date >= $1 AND record_date <= $2 AND institution_code IN ({}) AND item_code IN ({}) ORDER BY institution_code, item_code, record_date, record_no",
            placeholders(3, institutions.len()),
            placeholders(3 + institutions.len(), items.len())
        );
        let mut values = vec![s(from.to_string()), s(to.to_string())];
        values.extend(institutions.iter().chain(items).map(|v| s(v.clone())));
        self.all(&self.db, &sql, values)
            .await?
            .iter()
            .map(|r| {
                Ok(Purchase {
                    institution: get_s(r, "institution_code")?,
                    item_code: get_s(r, "item_code")?,
                    quantity: uqty(get_n(r, "quantity")?)?,
                    unit_price: Fen(get_n(r, "unit_price_fen")?),
                })
            })
            .collect()
    }

    // ------------------------------------------------------------------ savings

    /// Stores the retained savings computed for a round (replacing an earlier computation).
    pub async fn save_savings(
        &self,
        round_id: &str,
        results: &[RetainedSavings],
        actor: &Actor,
    ) -> Result<(), ProcError> {
        let t = self.begin().await?;
        let at = now();
        for r in results {
            let json = serde_json::to_string(r).map_err(|e| ProcError::Corrupt(e.to_string()))?;
            self.exec(
                &t.txn,
                "INSERT INTO retained_savings (round_id, institution_code, budget_fen, actual_fen, saving_fen, completed, retained_fen, result_json, computed_by, computed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (round_id, institution_code) DO UPDATE SET \
                 budget_fen = excluded.budget_fen, actual_fen = excluded.actual_fen, saving_fen = excluded.saving_fen, completed = excluded.completed, \
                 retained_fen = excluded.retained_fen, result_json = excluded.result_json, computed_by = excluded.computed_by, computed_at = excluded.computed_at",
                vec![s(round_id), s(r.institution.as_str()), n(r.budget.0), n(r.actual.0), n(r.saving.0), n(i64::from(r.completed)), n(r.retained.0), s(json), s(actor.subject.clone()), s(at.clone())],
            )
            .await?;
        }
        t.txn.commit().await?;
        Ok(())
    }

    /// Stored retained savings of a round, in institution order.
    pub async fn savings(&self, round_id: &str) -> Result<Vec<RetainedSavings>, ProcError> {
        self.all(&self.db, "SELECT result_json FROM retained_savings WHERE round_id = $1 ORDER BY institution_code", vec![s(round_id)])
            .await?
            .iter()
            .map(|r| serde_json::from_str(&get_s(r, "result_json")?).map_err(|e| ProcError::Corrupt(format!("retained savings: {e}"))))
            .collect()
    }

    // ------------------------------------------------------------------ outbox

    /// Holds the relay slot for one pass over the outbox.
    pub async fn relay_slot(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.relay_lock.clone().lock_owned().await
    }

    /// Events not yet published, oldest first.
    pub async fn unpublished(&self, limit: u64) -> Result<Vec<OutboxEvent>, ProcError> {
        self.all(&self.db, "SELECT * FROM outbox WHERE published_at IS NULL ORDER BY created_at, event_id LIMIT $1", vec![n(i64::try_from(limit).unwrap_or(100))])
            .await?
            .iter()
            .map(|r| Ok(OutboxEvent { event_id: get_s(r, "event_id")?, stream: get_s(r, "stream")?, payload: from_hex(&get_s(r, "payload_hex")?)? }))
            .collect()
    }

    /// Marks an event published.
    pub async fn mark_published(&self, event_id: &str) -> Result<(), ProcError> {
        let t = self.begin().await?;
        self.exec(
            &t.txn,
            "UPDATE outbox SET published_at = $1 WHERE event_id = $2",
            vec![s(now()), s(event_id)],
        )
        .await?;
        t.txn.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
