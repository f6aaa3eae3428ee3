//! Catalogue versions per region and first day (`catalogue_entries`) and the trail of their
//! changes (`catalogue_changes`): who created, replaced or closed which version, with the
//! version before and after.

use super::{
    Actor, Audit, Store, StoreError, Txn, audit, date, from_json, get_os, get_s, json, n, opt_date,
    opt_date_text, opt_s, placeholders, region_chain, s,
};
use crate::domain::{
    CatalogueEntry, InsuranceClass, ItemCode, ItemKind, RegionVersion, Restrictions,
};
use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, QueryResult, Value};
use yibao_core::{Bp, Fen, Sex};

/// Rows of one multi-row `INSERT` (23 columns each: far below SQLite's and PostgreSQL's limits
/// on parameters).
const INSERT_CHUNK: usize = 400;

/// Codes of one `IN (…)` list.
const IN_CHUNK: usize = 500;

/// A stored catalogue version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    /// Region of the catalogue.
    pub region: String,
    /// The version.
    pub entry: CatalogueEntry,
    /// Last change.
    pub updated: Audit,
}

impl StoredItem {
    /// The version with its region, as resolution takes it.
    pub fn region_version(&self) -> RegionVersion {
        RegionVersion {
            region: self.region.clone(),
            entry: self.entry.clone(),
        }
    }
}

/// What a change did to a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A new version.
    Created,
    /// The version of the same first day replaced (a correction).
    Replaced,
    /// An open-ended version ended the day before a new one.
    Closed,
}

impl ChangeKind {
    fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Replaced => "replaced",
            ChangeKind::Closed => "closed",
        }
    }

    fn parse(s: &str) -> Result<ChangeKind, StoreError> {
        match s {
            "created" => Ok(ChangeKind::Created),
            "replaced" => Ok(ChangeKind::Replaced),
            "closed" => Ok(ChangeKind::Closed),
            _ => Err(StoreError::Corrupt(format!("catalogue change kind `{s}`"))),
        }
    }
}

/// One change of a version, as the trail keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChange {
    /// Id (time-ordered).
    pub id: String,
    /// Region of the version.
    pub region: String,
    /// What the change did.
    pub kind: ChangeKind,
    /// The version before (none when created).
    pub before: Option<CatalogueEntry>,
    /// The version after.
    pub after: CatalogueEntry,
    /// The RPC that made it (`UpsertCatalogueItem`, `ImportCatalogue <import id>`).
    pub source: String,
    /// Who, with which role, when.
    pub changed: Audit,
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

fn kind_of(s: &str) -> Result<ItemKind, StoreError> {
    [
        ItemKind::WesternDrug,
        ItemKind::ChinesePatentMedicine,
        ItemKind::Consumable,
        ItemKind::Reagent,
        ItemKind::ServiceItem,
    ]
    .into_iter()
    .find(|k| kind_str(*k) == s)
    .ok_or_else(|| StoreError::Corrupt(format!("item kind `{s}`")))
}

fn class_str(c: InsuranceClass) -> &'static str {
    match c {
        InsuranceClass::A => "A",
        InsuranceClass::B => "B",
        InsuranceClass::C => "C",
    }
}

fn class_of(s: &str) -> Result<InsuranceClass, StoreError> {
    match s {
        "A" => Ok(InsuranceClass::A),
        "B" => Ok(InsuranceClass::B),
        "C" => Ok(InsuranceClass::C),
        _ => Err(StoreError::Corrupt(format!("insurance class `{s}`"))),
    }
}

fn sex_str(s: Sex) -> &'static str {
    match s {
        Sex::Male => "M",
        Sex::Female => "F",
    }
}

fn sex_of(s: Option<String>) -> Result<Option<Sex>, StoreError> {
    match s.as_deref() {
        None => Ok(None),
        Some("M") => Ok(Some(Sex::Male)),
        Some("F") => Ok(Some(Sex::Female)),
        Some(other) => Err(StoreError::Corrupt(format!("restricted sex `{other}`"))),
    }
}

fn opt_n(v: Option<i64>) -> Value {
    Value::BigInt(v)
}

fn get_on(r: &QueryResult, col: &str) -> Result<Option<i64>, StoreError> {
    Ok(r.try_get::<Option<i64>>("", col)?)
}

fn small<T: TryFrom<i64>>(v: Option<i64>, what: &str) -> Result<Option<T>, StoreError> {
    v.map(|v| T::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v}"))))
        .transpose()
}

const COLS: &str = "region_code, code, valid_from, valid_to, kind, generic_name, dosage_form, specification, manufacturer, insurance_class, negotiated, preselfpay_share_bp, payment_standard_fen, restrict_sex, restrict_min_age, restrict_max_age, restrict_min_grade, indication, indication_diagnoses, max_days_supply, updated_by, updated_role, updated_at";
const NCOLS: usize = 23;

/// The column values of a version, in [`COLS`] order.
fn values(region: &str, e: &CatalogueEntry, actor: &Actor, at: &str) -> Vec<Value> {
    let r = &e.restrictions;
    vec![
        s(region),
        s(e.code.as_str()),
        s(e.valid_from.to_string()),
        opt_date_text(e.valid_to),
        s(kind_str(e.kind)),
        s(e.generic_name.clone()),
        s(e.dosage_form.clone()),
        s(e.specification.clone()),
        s(e.manufacturer.clone()),
        s(class_str(e.class)),
        n(i64::from(e.negotiated)),
        opt_n(e.preselfpay_share.map(|b| i64::from(b.0))),
        opt_n(e.payment_standard.map(|f| f.0)),
        opt_s(r.sex.map(|x| sex_str(x).to_string())),
        opt_n(r.min_age.map(i64::from)),
        opt_n(r.max_age.map(i64::from)),
        opt_n(r.min_institution_grade.map(i64::from)),
        s(r.indication.clone()),
        s(r.indication_diagnoses.join(";")),
        opt_n(r.max_days_supply.map(i64::from)),
        s(actor.subject.clone()),
        s(actor.role.clone()),
        s(at),
    ]
}

fn catalogue_row(r: &QueryResult) -> Result<StoredItem, StoreError> {
    let kind = kind_of(&get_s(r, "kind")?)?;
    let raw = get_s(r, "code")?;
    let diagnoses = get_s(r, "indication_diagnoses")?;
    Ok(StoredItem {
        region: get_s(r, "region_code")?,
        entry: CatalogueEntry {
            code: ItemCode::parse(kind, &raw)
                .map_err(|e| StoreError::Corrupt(format!("stored code `{raw}`: {e}")))?,
            kind,
            generic_name: get_s(r, "generic_name")?,
            dosage_form: get_s(r, "dosage_form")?,
            specification: get_s(r, "specification")?,
            manufacturer: get_s(r, "manufacturer")?,
            class: class_of(&get_s(r, "insurance_class")?)?,
            negotiated: super::get_n(r, "negotiated")? != 0,
            valid_from: date(&get_s(r, "valid_from")?)?,
            valid_to: opt_date(get_os(r, "valid_to")?)?,
            preselfpay_share: small::<u32>(get_on(r, "preselfpay_share_bp")?, "share")?.map(Bp),
            payment_standard: get_on(r, "payment_standard_fen")?.map(Fen),
            restrictions: Restrictions {
                sex: sex_of(get_os(r, "restrict_sex")?)?,
                min_age: small(get_on(r, "restrict_min_age")?, "age")?,
                max_age: small(get_on(r, "restrict_max_age")?, "age")?,
                min_institution_grade: small(get_on(r, "restrict_min_grade")?, "grade")?,
                indication: get_s(r, "indication")?,
                indication_diagnoses: diagnoses
                    .split(';')
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect(),
                max_days_supply: small(get_on(r, "max_days_supply")?, "days")?,
            },
        },
        updated: audit(r, "updated_by", "updated_role", "updated_at")?,
    })
}

fn change_row(r: &QueryResult) -> Result<StoredChange, StoreError> {
    Ok(StoredChange {
        id: get_s(r, "id")?,
        region: get_s(r, "region_code")?,
        kind: ChangeKind::parse(&get_s(r, "change_kind")?)?,
        before: get_os(r, "before_json")?
            .map(|t| from_json(&t, "catalogue change before"))
            .transpose()?,
        after: from_json(&get_s(r, "after_json")?, "catalogue change after")?,
        source: get_s(r, "source")?,
        changed: audit(r, "changed_by", "changed_role", "changed_at")?,
    })
}

/// A change to write with the versions.
#[derive(Debug, Clone)]
pub struct NewChange<'a> {
    /// Region of the version.
    pub region: &'a str,
    /// What it does.
    pub kind: ChangeKind,
    /// Before.
    pub before: Option<&'a CatalogueEntry>,
    /// After.
    pub after: &'a CatalogueEntry,
}

impl Store {
    /// Every version of `codes` in every region, by code, region and first day.
    pub async fn versions_of_codes(
        &self,
        c: &impl ConnectionTrait,
        codes: &[String],
    ) -> Result<Vec<StoredItem>, StoreError> {
        let mut out = Vec::new();
        for chunk in codes.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT {COLS} FROM catalogue_entries WHERE code IN ({}) ORDER BY code, region_code, valid_from",
                placeholders(1, chunk.len())
            );
            let values = chunk.iter().map(|c| s(c.as_str())).collect();
            for r in self.all(c, &sql, values).await? {
                out.push(catalogue_row(&r)?);
            }
        }
        Ok(out)
    }

    /// Inserts new versions (`(region, version)`), many rows per statement.
    pub async fn insert_versions(
        &self,
        t: &Txn,
        rows: &[(&str, &CatalogueEntry)],
        actor: &Actor,
        at: &str,
    ) -> Result<(), StoreError> {
        for chunk in rows.chunks(INSERT_CHUNK) {
            let groups: Vec<String> = (0..chunk.len())
                .map(|i| format!("({})", placeholders(1 + i * NCOLS, NCOLS)))
                .collect();
            let sql = format!(
                "INSERT INTO catalogue_entries ({COLS}) VALUES {}",
                groups.join(", ")
            );
            let values = chunk
                .iter()
                .flat_map(|(region, e)| values(region, e, actor, at))
                .collect();
            self.exec(&**t, &sql, values).await?;
        }
        Ok(())
    }

    /// Replaces the whole version of `(region, code, valid_from)`; false when there is none.
    pub async fn replace_version(
        &self,
        t: &Txn,
        region: &str,
        e: &CatalogueEntry,
        actor: &Actor,
        at: &str,
    ) -> Result<bool, StoreError> {
        let set: Vec<String> = COLS
            .split(", ")
            .enumerate()
            .skip(3)
            .map(|(i, col)| format!("{col} = ${}", i + 1))
            .collect();
        let sql = format!(
            "UPDATE catalogue_entries SET {} WHERE region_code = $1 AND code = $2 AND valid_from = $3",
            set.join(", ")
        );
        Ok(self.exec(&**t, &sql, values(region, e, actor, at)).await? == 1)
    }

    /// Writes changes of the trail, many rows per statement; `source` names the request.
    pub async fn insert_changes(
        &self,
        t: &Txn,
        changes: &[NewChange<'_>],
        source: &str,
        actor: &Actor,
        at: &str,
    ) -> Result<(), StoreError> {
        const N: usize = 11;
        for chunk in changes.chunks(INSERT_CHUNK) {
            let groups: Vec<String> = (0..chunk.len())
                .map(|i| format!("({})", placeholders(1 + i * N, N)))
                .collect();
            let sql = format!(
                "INSERT INTO catalogue_changes (id, region_code, code, valid_from, change_kind, before_json, after_json, source, changed_by, changed_role, changed_at) VALUES {}",
                groups.join(", ")
            );
            let mut values = Vec::with_capacity(chunk.len() * N);
            for c in chunk {
                values.extend([
                    s(super::new_id()),
                    s(c.region),
                    s(c.after.code.as_str()),
                    s(c.after.valid_from.to_string()),
                    s(c.kind.as_str()),
                    opt_s(c.before.map(json).transpose()?),
                    s(json(c.after)?),
                    s(source),
                    s(actor.subject.clone()),
                    s(actor.role.clone()),
                    s(at),
                ]);
            }
            self.exec(&**t, &sql, values).await?;
        }
        Ok(())
    }

    /// The versions of `code` in `region`'s own catalogue, oldest first.
    pub async fn catalogue_history(
        &self,
        region: &str,
        code: &str,
    ) -> Result<Vec<StoredItem>, StoreError> {
        let sql = format!(
            "SELECT {COLS} FROM catalogue_entries WHERE region_code = $1 AND code = $2 ORDER BY valid_from"
        );
        self.all(self.db(), &sql, vec![s(region), s(code)])
            .await?
            .iter()
            .map(catalogue_row)
            .collect()
    }

    /// A version of `code` in the most specific region of `region`'s chain that has one (any
    /// period).
    pub async fn catalogue_item_in_chain(
        &self,
        region: &str,
        code: &str,
    ) -> Result<Option<StoredItem>, StoreError> {
        for r in region_chain(region) {
            if let Some(item) = self.catalogue_history(&r, code).await?.pop() {
                return Ok(Some(item));
            }
        }
        Ok(None)
    }

    /// Versions of a region in (code, first day) order after `(after_code, after_from)`, at
    /// most `limit`, filtered by kind, generic name (substring) and validity on a date.
    #[allow(clippy::too_many_arguments)]
    pub async fn list_catalogue(
        &self,
        region: &str,
        kind: Option<ItemKind>,
        name_contains: &str,
        on_date: Option<NaiveDate>,
        after: (&str, &str),
        limit: u64,
    ) -> Result<Vec<StoredItem>, StoreError> {
        let mut sql = format!(
            "SELECT {COLS} FROM catalogue_entries WHERE region_code = $1 AND (code > $2 OR (code = $2 AND valid_from > $3))"
        );
        let mut values = vec![s(region), s(after.0), s(after.1)];
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
        sql.push_str(&format!(
            " ORDER BY code, valid_from LIMIT ${}",
            values.len()
        ));
        self.all(self.db(), &sql, values)
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
    ) -> Result<Vec<String>, StoreError> {
        let chain = region_chain(region);
        let sql = format!(
            "SELECT DISTINCT code FROM catalogue_entries WHERE generic_name = $1 AND region_code IN ({}) ORDER BY code",
            placeholders(2, chain.len())
        );
        let mut values = vec![s(generic_name)];
        values.extend(chain.into_iter().map(s));
        self.all(self.db(), &sql, values)
            .await?
            .iter()
            .map(|r| get_s(r, "code"))
            .collect()
    }

    /// Changes of versions that apply in `region` — its own, its sub-regions' (`prefix`) and
    /// those of the regions above it (`chain`) — newest first, before change `before` (empty:
    /// from the newest), optionally of one code, at most `limit`.
    pub async fn catalogue_changes(
        &self,
        region: &str,
        prefix: &str,
        code: Option<&str>,
        before: &str,
        limit: u64,
    ) -> Result<Vec<StoredChange>, StoreError> {
        let chain = region_chain(region);
        let mut values = vec![s(format!("{prefix}%"))];
        values.extend(chain.iter().map(|r| s(r.as_str())));
        let mut sql = format!(
            "SELECT * FROM catalogue_changes WHERE (region_code LIKE $1 OR region_code IN ({}))",
            placeholders(2, chain.len())
        );
        if !before.is_empty() {
            values.push(s(before));
            sql.push_str(&format!(" AND id < ${}", values.len()));
        }
        if let Some(c) = code {
            values.push(s(c));
            sql.push_str(&format!(" AND code = ${}", values.len()));
        }
        values.push(n(i64::try_from(limit).unwrap_or(1000)));
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", values.len()));
        self.all(self.db(), &sql, values)
            .await?
            .iter()
            .map(change_row)
            .collect()
    }
}
