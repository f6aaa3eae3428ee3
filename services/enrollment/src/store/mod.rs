//! Persistence of the enrollment service: entities, migrations and the queries and
//! transactions the API needs. Every write is one transaction; every change to a person is
//! journalled in `history` (who, what, when) and person corrections keep each version in
//! `person_versions`: nothing is overwritten without its previous value being kept.

pub mod entities;
pub mod migration;

use crate::domain::enrolment::{ContributionKind, ContributionStandard, EventOutcome};
use crate::domain::{
    Category, CategoryGrant, EndReason, Enrolment, PersonFile, Scheme, Suspension,
};
use crate::error::EnrollError;
use chrono::NaiveDate;
use entities::*;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use yibao_core::{Fen, IdNumber, RegionCode};

/// Who made a change.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Token subject.
    pub subject: String,
    /// Role name.
    pub role: String,
}

/// The enrollment store.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// SQLite allows one writer: write transactions queue here instead of failing as "locked".
    write_lock: yibao_runtime::db::WriteGate,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn date(s: &str) -> Result<NaiveDate, EnrollError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| EnrollError::Corrupt(format!("stored date `{s}`: {e}")))
}

fn opt_date(s: &Option<String>) -> Result<Option<NaiveDate>, EnrollError> {
    s.as_deref().map(date).transpose()
}

/// Text form of a scheme in the database.
pub fn scheme_str(s: Scheme) -> &'static str {
    match s {
        Scheme::Employee => "employee",
        Scheme::Resident => "resident",
    }
}

/// Text form of a category in the database.
pub fn category_str(c: Category) -> &'static str {
    match c {
        Category::MinimumLiving => "minimum_living",
        Category::ExtremePoverty => "extreme_poverty",
        Category::PovertyRegistered => "poverty_registered",
        Category::FiveGuarantees => "five_guarantees",
        Category::Disabled => "disabled",
        Category::LowIncome => "low_income",
        Category::Student => "student",
        Category::Retiree => "retiree",
    }
}

fn category_of(s: &str) -> Option<Category> {
    Category::ALL.into_iter().find(|c| category_str(*c) == s)
}

fn end_reason_str(r: EndReason) -> &'static str {
    match r {
        EndReason::Deceased => "deceased",
        EndReason::MovedOutOfRegion => "moved_out_of_region",
        EndReason::MovedOutOfProvince => "moved_out_of_province",
        EndReason::Transferred => "transferred",
        EndReason::Duplicate => "duplicate",
    }
}

fn end_reason_of(s: &str) -> Option<EndReason> {
    [
        EndReason::Deceased,
        EndReason::MovedOutOfRegion,
        EndReason::MovedOutOfProvince,
        EndReason::Transferred,
        EndReason::Duplicate,
    ]
    .into_iter()
    .find(|r| end_reason_str(*r) == s)
}

/// Converts a stored enrolment.
pub fn enrolment_of(m: &enrolment::Model) -> Result<Enrolment, EnrollError> {
    Ok(Enrolment {
        id: m.id.clone(),
        year: m.year,
        scheme: Scheme::parse(&m.scheme)
            .ok_or_else(|| EnrollError::Corrupt(format!("scheme `{}`", m.scheme)))?,
        region: RegionCode::parse(&m.region_code)
            .map_err(|e| EnrollError::Corrupt(e.to_string()))?,
        enrolled_on: date(&m.enrolled_on)?,
        effective_from: date(&m.effective_from)?,
        effective_to: date(&m.effective_to)?,
        due: Fen(m.due_fen),
        paid: Fen(m.paid_fen),
        subsidised: Fen(m.subsidised_fen),
        paid_on: opt_date(&m.paid_on)?,
        end_reason: m.end_reason.as_deref().and_then(end_reason_of),
    })
}

fn enrolment_model(person_id: &str, e: &Enrolment, created_at: String) -> enrolment::ActiveModel {
    enrolment::ActiveModel {
        id: Set(e.id.clone()),
        person_id: Set(person_id.to_string()),
        year: Set(e.year),
        scheme: Set(scheme_str(e.scheme).into()),
        region_code: Set(e.region.to_string()),
        enrolled_on: Set(e.enrolled_on.to_string()),
        effective_from: Set(e.effective_from.to_string()),
        effective_to: Set(e.effective_to.to_string()),
        due_fen: Set(e.due.0),
        paid_fen: Set(e.paid.0),
        subsidised_fen: Set(e.subsidised.0),
        paid_on: Set(e.paid_on.map(|d| d.to_string())),
        end_reason: Set(e.end_reason.map(|r| end_reason_str(r).to_string())),
        created_at: Set(created_at),
    }
}

fn person_row(new: NewPerson, id: String, ts: String) -> person::Model {
    person::Model {
        id,
        sex: match new.id_number.sex() {
            yibao_core::Sex::Male => "male".into(),
            yibao_core::Sex::Female => "female".into(),
        },
        birth_date: new.id_number.birth_date().to_string(),
        id_number: new.id_number.expose().to_string(),
        name: new.name,
        region_code: new.region.to_string(),
        household_id: new.household_id,
        contact: new.contact,
        death_date: None,
        moved_out_of_province: None,
        suspensions_json: "[]".into(),
        version: 1,
        created_at: ts.clone(),
        updated_at: ts,
    }
}

fn version_model(
    p: &person::Model,
    reason: &str,
    actor: &Actor,
    at: String,
) -> person_version::ActiveModel {
    let snapshot = serde_json::json!({
        "name": p.name, "region_code": p.region_code, "household_id": p.household_id,
        "contact": p.contact, "death_date": p.death_date, "version": p.version,
    });
    person_version::ActiveModel {
        person_id: Set(p.id.clone()),
        version: Set(p.version),
        snapshot_json: Set(snapshot.to_string()),
        reason: Set(reason.to_string()),
        actor: Set(actor.subject.clone()),
        role: Set(actor.role.clone()),
        at: Set(at),
    }
}

fn history_model(
    person_id: &str,
    kind: &str,
    detail: &serde_json::Value,
    actor: &Actor,
    at: String,
) -> history::ActiveModel {
    history::ActiveModel {
        id: Set(new_id()),
        person_id: Set(person_id.to_string()),
        kind: Set(kind.to_string()),
        detail_json: Set(detail.to_string()),
        actor: Set(actor.subject.clone()),
        role: Set(actor.role.clone()),
        at: Set(at),
    }
}

fn registered_detail(p: &person::Model) -> serde_json::Value {
    serde_json::json!({"name": p.name, "region_code": p.region_code})
}

fn enrolment_detail(e: &Enrolment) -> serde_json::Value {
    serde_json::json!({"enrolment_id": e.id, "year": e.year, "scheme": scheme_str(e.scheme), "region_code": e.region, "effective_from": e.effective_from, "due_fen": e.due.0})
}

fn contribution_detail(enrolment_id: &str, c: &Contribution, effective: bool) -> serde_json::Value {
    serde_json::json!({"enrolment_id": enrolment_id, "kind": kind_str(c.kind), "amount_fen": c.amount.0, "paid_on": c.paid_on, "reference": c.reference, "effective": effective})
}

/// A contribution to record.
#[derive(Debug, Clone)]
pub struct Contribution {
    /// Payment or subsidy.
    pub kind: ContributionKind,
    /// Amount.
    pub amount: Fen,
    /// Day paid.
    pub paid_on: NaiveDate,
    /// Idempotency reference, unique per enrolment.
    pub reference: String,
}

/// A person new to the register with their first enrolment (in its state after the
/// contributions) and those contributions, prepared by the rules for a bulk insert.
#[derive(Debug, Clone)]
pub struct ImportedPerson {
    /// The person.
    pub person: NewPerson,
    /// The enrolment after the contributions.
    pub enrolment: Enrolment,
    /// The contributions in order, each with whether the enrolment was effective after it.
    pub contributions: Vec<(Contribution, bool)>,
}

/// Rows per multi-row INSERT: well under SQLite's and PostgreSQL's bind-parameter limits.
const INSERT_CHUNK: usize = 1000;

async fn insert_all<A>(txn: &DatabaseTransaction, rows: Vec<A>) -> Result<(), EnrollError>
where
    A: ActiveModelTrait + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(INSERT_CHUNK).collect();
        <A::Entity as EntityTrait>::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// `COPY table (columns) FROM STDIN` of active models (every column set), PostgreSQL's text
/// format: tab-separated, `\N` for NULL, backslash escapes.
async fn copy_all<A>(conn: &mut sqlx::PgConnection, rows: Vec<A>) -> Result<(), sqlx::Error>
where
    A: ActiveModelTrait + Send,
{
    use sea_orm::{EntityName, IdenStatic, Iterable};
    if rows.is_empty() {
        return Ok(());
    }
    let columns: Vec<<A::Entity as EntityTrait>::Column> =
        <A::Entity as EntityTrait>::Column::iter().collect();
    let names: Vec<&str> = columns.iter().map(|c| c.as_str()).collect();
    let mut buf = String::with_capacity(rows.len() * 128);
    for row in &rows {
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                buf.push('\t');
            }
            push_copy_value(&mut buf, row.get(*c).into_value()).map_err(sqlx::Error::Protocol)?;
        }
        buf.push('\n');
    }
    let table = <A::Entity as Default>::default().table_name().to_string();
    let mut copy = conn
        .copy_in_raw(&format!("COPY {table} ({}) FROM STDIN", names.join(", ")))
        .await?;
    copy.send(buf.into_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

fn push_copy_value(buf: &mut String, v: Option<sea_orm::Value>) -> Result<(), String> {
    use sea_orm::Value as V;
    match v {
        Some(V::String(Some(s))) => {
            for ch in s.chars() {
                match ch {
                    '\\' => buf.push_str("\\\\"),
                    '\t' => buf.push_str("\\t"),
                    '\n' => buf.push_str("\\n"),
                    '\r' => buf.push_str("\\r"),
                    c => buf.push(c),
                }
            }
        }
        Some(V::BigInt(Some(i))) => buf.push_str(&i.to_string()),
        Some(V::Int(Some(i))) => buf.push_str(&i.to_string()),
        Some(V::String(None) | V::BigInt(None) | V::Int(None)) | None => buf.push_str("\\N"),
        Some(other) => return Err(format!("COPY of {other:?} is not supported")),
    }
    Ok(())
}

fn sqlx_error(e: sqlx::Error) -> EnrollError {
    EnrollError::Db(sea_orm::DbErr::Custom(e.to_string()))
}

/// A new person to register.
#[derive(Debug, Clone)]
pub struct NewPerson {
    /// Validated ID number.
    pub id_number: IdNumber,
    /// Name.
    pub name: String,
    /// Region of residence.
    pub region: RegionCode,
    /// Household.
    pub household_id: Option<String>,
    /// Contact.
    pub contact: String,
}

/// Changes to a person (None = unchanged).
#[derive(Debug, Clone, Default)]
pub struct PersonChanges {
    /// Name.
    pub name: Option<String>,
    /// Contact.
    pub contact: Option<String>,
    /// Household.
    pub household_id: Option<String>,
}

/// Result of recording a contribution.
#[derive(Debug, Clone)]
pub struct Contributed {
    /// The enrolment afterwards.
    pub enrolment: Enrolment,
    /// The person it belongs to.
    pub person_id: String,
    /// The person's ID number (for cache invalidation).
    pub id_number: String,
}

impl Store {
    /// Wraps a connection.
    pub fn new(db: DatabaseConnection) -> Store {
        let write_lock = yibao_runtime::db::WriteGate::for_connection(&db);
        Store { db, write_lock }
    }

    /// The connection.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    async fn begin(
        &self,
    ) -> Result<
        (
            Option<tokio::sync::OwnedMutexGuard<()>>,
            DatabaseTransaction,
        ),
        EnrollError,
    > {
        let guard = self.write_lock.enter().await;
        Ok((guard, self.db.begin().await?))
    }

    fn is_postgres(&self) -> bool {
        self.db.get_database_backend() == DbBackend::Postgres
    }

    async fn journal(
        txn: &DatabaseTransaction,
        person_id: &str,
        kind: &str,
        detail: serde_json::Value,
        actor: &Actor,
    ) -> Result<(), EnrollError> {
        history_model(person_id, kind, &detail, actor, now())
            .insert(txn)
            .await?;
        Ok(())
    }

    async fn keep_version(
        txn: &DatabaseTransaction,
        p: &person::Model,
        reason: &str,
        actor: &Actor,
    ) -> Result<(), EnrollError> {
        version_model(p, reason, actor, now()).insert(txn).await?;
        Ok(())
    }

    /// Registers a person; a second registration of the same ID number is refused.
    pub async fn register_person(
        &self,
        new: NewPerson,
        actor: &Actor,
    ) -> Result<person::Model, EnrollError> {
        let (_g, txn) = self.begin().await?;
        if person::Entity::find()
            .filter(person::Column::IdNumber.eq(new.id_number.expose()))
            .one(&txn)
            .await?
            .is_some()
        {
            return Err(EnrollError::Exists(format!(
                "a person with ID number {} is registered",
                new.id_number
            )));
        }
        if let Some(h) = &new.household_id {
            household::Entity::find_by_id(h.clone())
                .one(&txn)
                .await?
                .ok_or_else(|| EnrollError::NotFound("household", h.clone()))?;
        }
        let exists = format!("a person with ID number {} is registered", new.id_number);
        let model = person::ActiveModel::from(person_row(new, new_id(), now()))
            .reset_all()
            .insert(&txn)
            .await
            .map_err(|e| {
                if yibao_runtime::db::is_unique_violation(&e) {
                    EnrollError::Exists(exists)
                } else {
                    e.into()
                }
            })?;
        Self::keep_version(&txn, &model, "registered", actor).await?;
        Self::journal(
            &txn,
            &model.id,
            "person.registered",
            registered_detail(&model),
            actor,
        )
        .await?;
        txn.commit().await?;
        Ok(model)
    }

    /// Registers people new to the register with their enrolment and contributions in one
    /// transaction of bulk statements. Each person gets their first version and one journal
    /// entry, `person.imported`, holding the registration, enrolment and contribution details
    /// one-by-one registration, enrolment and payment would journal separately. If any ID
    /// number is already registered nothing is written and [`EnrollError::Exists`] is returned.
    pub async fn insert_imported(
        &self,
        batch: Vec<ImportedPerson>,
        actor: &Actor,
    ) -> Result<(), EnrollError> {
        let ts = now();
        let (mut persons, mut versions, mut journal, mut enrolments, mut contributions) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for item in batch {
            let p = person_row(item.person, new_id(), ts.clone());
            versions.push(version_model(&p, "registered", actor, ts.clone()));
            // One journal entry for the import row: the registration, the enrolment and the
            // contributions it made, each with the detail one-by-one entries would carry.
            let detail = serde_json::json!({
                "registered": registered_detail(&p),
                "enrolment": enrolment_detail(&item.enrolment),
                "contributions": item.contributions.iter().map(|(c, effective)| contribution_detail(&item.enrolment.id, c, *effective)).collect::<Vec<_>>(),
            });
            journal.push(history_model(
                &p.id,
                "person.imported",
                &detail,
                actor,
                ts.clone(),
            ));
            for (c, _) in &item.contributions {
                contributions.push(contribution::ActiveModel {
                    id: Set(new_id()),
                    enrolment_id: Set(item.enrolment.id.clone()),
                    kind: Set(kind_str(c.kind).into()),
                    amount_fen: Set(c.amount.0),
                    paid_on: Set(c.paid_on.to_string()),
                    reference: Set(c.reference.clone()),
                    created_at: Set(ts.clone()),
                });
            }
            enrolments.push(enrolment_model(&p.id, &item.enrolment, ts.clone()));
            persons.push(person::ActiveModel::from(p).reset_all());
        }
        let exists =
            || EnrollError::Exists("an ID number in the batch is already registered".into());
        if self.is_postgres() {
            // COPY in one transaction: several times faster than multi-row INSERTs.
            let mut tx = self
                .db
                .get_postgres_connection_pool()
                .begin()
                .await
                .map_err(sqlx_error)?;
            copy_all(&mut tx, persons).await.map_err(|e| {
                if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("23505") {
                    exists()
                } else {
                    sqlx_error(e)
                }
            })?;
            copy_all(&mut tx, versions).await.map_err(sqlx_error)?;
            copy_all(&mut tx, enrolments).await.map_err(sqlx_error)?;
            copy_all(&mut tx, contributions).await.map_err(sqlx_error)?;
            copy_all(&mut tx, journal).await.map_err(sqlx_error)?;
            return tx.commit().await.map_err(sqlx_error);
        }
        let (_g, txn) = self.begin().await?;
        insert_all(&txn, persons).await.map_err(|e| match e {
            EnrollError::Db(d) if yibao_runtime::db::is_unique_violation(&d) => exists(),
            e => e,
        })?;
        insert_all(&txn, versions).await?;
        insert_all(&txn, enrolments).await?;
        insert_all(&txn, contributions).await?;
        insert_all(&txn, journal).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Which of these ID numbers are registered.
    pub async fn registered_id_numbers(
        &self,
        ids: Vec<String>,
    ) -> Result<std::collections::HashSet<String>, EnrollError> {
        let mut found = std::collections::HashSet::new();
        for chunk in ids.chunks(INSERT_CHUNK) {
            let rows: Vec<String> = person::Entity::find()
                .select_only()
                .column(person::Column::IdNumber)
                .filter(person::Column::IdNumber.is_in(chunk.to_vec()))
                .into_tuple()
                .all(&self.db)
                .await?;
            found.extend(rows);
        }
        Ok(found)
    }

    /// A person by id.
    pub async fn person(&self, id: &str) -> Result<person::Model, EnrollError> {
        person::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
            .ok_or_else(|| EnrollError::NotFound("person", id.to_string()))
    }

    /// A person by ID number.
    pub async fn person_by_id_number(
        &self,
        id: &IdNumber,
    ) -> Result<Option<person::Model>, EnrollError> {
        Ok(person::Entity::find()
            .filter(person::Column::IdNumber.eq(id.expose()))
            .one(&self.db)
            .await?)
    }

    /// Corrects a person; keeps the previous version.
    pub async fn correct_person(
        &self,
        id: &str,
        changes: PersonChanges,
        expected_version: i64,
        reason: &str,
        actor: &Actor,
    ) -> Result<person::Model, EnrollError> {
        let (_g, txn) = self.begin().await?;
        let current = person::Entity::find_by_id(id.to_string())
            .one(&txn)
            .await?
            .ok_or_else(|| EnrollError::NotFound("person", id.to_string()))?;
        if expected_version != 0 && expected_version != current.version {
            return Err(EnrollError::Conflict(format!(
                "person is at version {}, not {expected_version}",
                current.version
            )));
        }
        if let Some(h) = &changes.household_id {
            household::Entity::find_by_id(h.clone())
                .one(&txn)
                .await?
                .ok_or_else(|| EnrollError::NotFound("household", h.clone()))?;
        }
        let mut am: person::ActiveModel = current.clone().into();
        if let Some(n) = changes.name.clone() {
            am.name = Set(n);
        }
        if let Some(c) = changes.contact.clone() {
            am.contact = Set(c);
        }
        if let Some(h) = changes.household_id.clone() {
            am.household_id = Set(Some(h));
        }
        am.version = Set(current.version + 1);
        am.updated_at = Set(now());
        // Optimistic concurrency: the update only applies to the version we read.
        let res = person::Entity::update_many()
            .set(am)
            .filter(person::Column::Id.eq(id))
            .filter(person::Column::Version.eq(current.version))
            .exec(&txn)
            .await?;
        if res.rows_affected != 1 {
            return Err(EnrollError::Conflict(
                "the person changed concurrently; retry".into(),
            ));
        }
        let updated = person::Entity::find_by_id(id.to_string())
            .one(&txn)
            .await?
            .ok_or_else(|| EnrollError::NotFound("person", id.to_string()))?;
        Self::keep_version(&txn, &updated, reason, actor).await?;
        Self::journal(&txn, id, "person.corrected", serde_json::json!({"reason": reason, "name": changes.name, "contact": changes.contact, "household_id": changes.household_id, "version": updated.version}), actor).await?;
        txn.commit().await?;
        Ok(updated)
    }

    /// The person's categories.
    pub async fn categories(&self, person_id: &str) -> Result<Vec<CategoryGrant>, EnrollError> {
        category::Entity::find()
            .filter(category::Column::PersonId.eq(person_id))
            .order_by_asc(category::Column::ValidFrom)
            .all(&self.db)
            .await?
            .iter()
            .map(|c| {
                Ok(CategoryGrant {
                    category: category_of(&c.category).ok_or_else(|| {
                        EnrollError::Corrupt(format!("category `{}`", c.category))
                    })?,
                    valid_from: date(&c.valid_from)?,
                    valid_to: opt_date(&c.valid_to)?,
                })
            })
            .collect()
    }

    /// Grants a category for a period.
    pub async fn grant_category(
        &self,
        person_id: &str,
        grant: &CategoryGrant,
        actor: &Actor,
    ) -> Result<(), EnrollError> {
        let (_g, txn) = self.begin().await?;
        person::Entity::find_by_id(person_id.to_string())
            .one(&txn)
            .await?
            .ok_or_else(|| EnrollError::NotFound("person", person_id.to_string()))?;
        category::ActiveModel {
            id: Set(new_id()),
            person_id: Set(person_id.to_string()),
            category: Set(category_str(grant.category).into()),
            valid_from: Set(grant.valid_from.to_string()),
            valid_to: Set(grant.valid_to.map(|d| d.to_string())),
            created_at: Set(now()),
        }
        .insert(&txn)
        .await?;
        Self::journal(&txn, person_id, "category.granted", serde_json::json!({"category": category_str(grant.category), "valid_from": grant.valid_from, "valid_to": grant.valid_to}), actor).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Everything eligibility needs about a person.
    pub async fn person_file(&self, p: &person::Model) -> Result<PersonFile, EnrollError> {
        let enrolments = enrolment::Entity::find()
            .filter(enrolment::Column::PersonId.eq(p.id.clone()))
            .order_by_asc(enrolment::Column::Year)
            .all(&self.db)
            .await?
            .iter()
            .map(enrolment_of)
            .collect::<Result<Vec<_>, _>>()?;
        let suspensions: Vec<Suspension> = serde_json::from_str(&p.suspensions_json)
            .map_err(|e| EnrollError::Corrupt(e.to_string()))?;
        Ok(PersonFile {
            person_id: p.id.clone(),
            id_masked: IdNumber::parse(&p.id_number)
                .map(|i| i.masked())
                .unwrap_or_else(|_| "******".into()),
            sex: p.sex.clone(),
            birth_date: date(&p.birth_date)?,
            region: RegionCode::parse(&p.region_code)
                .map_err(|e| EnrollError::Corrupt(e.to_string()))?,
            death_date: opt_date(&p.death_date)?,
            moved_out_of_province: opt_date(&p.moved_out_of_province)?,
            enrolments,
            categories: self.categories(&p.id).await?,
            suspensions,
        })
    }

    /// Sets a contribution standard (replacing the previous one for the same key).
    pub async fn set_standard(
        &self,
        region: &RegionCode,
        year: i32,
        scheme: Scheme,
        std: &ContributionStandard,
    ) -> Result<(), EnrollError> {
        let (_g, txn) = self.begin().await?;
        standard::Entity::delete_many()
            .filter(standard::Column::RegionCode.eq(region.as_str()))
            .filter(standard::Column::Year.eq(year))
            .filter(standard::Column::Scheme.eq(scheme_str(scheme)))
            .exec(&txn)
            .await?;
        standard::ActiveModel {
            region_code: Set(region.to_string()),
            year: Set(year),
            scheme: Set(scheme_str(scheme).into()),
            individual_amount_fen: Set(std.individual_amount.0),
            waiting_days: Set(i32::try_from(std.waiting_days).unwrap_or(i32::MAX)),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The standard for a region, year and scheme: the region's own, or its city's, or its
    /// province's (a province may set one standard for all its counties).
    pub async fn standard(
        &self,
        region: &RegionCode,
        year: i32,
        scheme: Scheme,
    ) -> Result<Option<ContributionStandard>, EnrollError> {
        let codes = [
            region.to_string(),
            format!("{}00", &region.as_str()[..4]),
            region.province().to_string(),
        ];
        let rows = standard::Entity::find()
            .filter(standard::Column::RegionCode.is_in(codes.clone()))
            .filter(standard::Column::Year.eq(year))
            .filter(standard::Column::Scheme.eq(scheme_str(scheme)))
            .all(&self.db)
            .await?;
        Ok(codes
            .iter()
            .find_map(|c| rows.iter().find(|r| &r.region_code == c))
            .map(|r| ContributionStandard {
                individual_amount: Fen(r.individual_amount_fen),
                waiting_days: u32::try_from(r.waiting_days).unwrap_or(0),
            }))
    }

    /// Inserts a planned enrolment.
    pub async fn insert_enrolment(
        &self,
        person_id: &str,
        e: &Enrolment,
        actor: &Actor,
    ) -> Result<(), EnrollError> {
        let (_g, txn) = self.begin().await?;
        let dup = enrolment::Entity::find()
            .filter(enrolment::Column::PersonId.eq(person_id))
            .filter(enrolment::Column::Year.eq(e.year))
            .filter(enrolment::Column::Scheme.eq(scheme_str(e.scheme)))
            .filter(enrolment::Column::RegionCode.eq(e.region.as_str()))
            .filter(enrolment::Column::EndReason.is_null())
            .one(&txn)
            .await?;
        if dup.is_some() {
            return Err(EnrollError::Exists(format!(
                "already enrolled in {} for this scheme in region {}",
                e.year, e.region
            )));
        }
        enrolment_model(person_id, e, now()).insert(&txn).await?;
        Self::journal(
            &txn,
            person_id,
            "enrolment.created",
            enrolment_detail(e),
            actor,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// An enrolment by id.
    pub async fn enrolment(&self, id: &str) -> Result<(String, Enrolment), EnrollError> {
        let m = enrolment::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
            .ok_or_else(|| EnrollError::NotFound("enrolment", id.to_string()))?;
        Ok((m.person_id.clone(), enrolment_of(&m)?))
    }

    /// Records a contribution in one transaction, idempotent by `reference`: a retry with the
    /// same reference returns the enrolment as it is and writes nothing. The enrolment row is
    /// locked (PostgreSQL `FOR UPDATE`; SQLite's single writer) so concurrent payments cannot
    /// both pass the over-payment check.
    pub async fn contribute(
        &self,
        enrolment_id: &str,
        kind: ContributionKind,
        amount: Fen,
        paid_on: NaiveDate,
        reference: &str,
        actor: &Actor,
    ) -> Result<Contributed, EnrollError> {
        let (_g, txn) = self.begin().await?;
        let mut q = enrolment::Entity::find_by_id(enrolment_id.to_string());
        if self.is_postgres() {
            q = q.lock_exclusive();
        }
        let row = q
            .one(&txn)
            .await?
            .ok_or_else(|| EnrollError::NotFound("enrolment", enrolment_id.to_string()))?;
        let p = person::Entity::find_by_id(row.person_id.clone())
            .one(&txn)
            .await?
            .ok_or_else(|| EnrollError::NotFound("person", row.person_id.clone()))?;
        let existing = contribution::Entity::find()
            .filter(contribution::Column::EnrolmentId.eq(enrolment_id))
            .filter(contribution::Column::Reference.eq(reference))
            .one(&txn)
            .await?;
        if let Some(c) = existing {
            let same = c.amount_fen == amount.0 && c.kind == kind_str(kind);
            txn.rollback().await?;
            if !same {
                return Err(EnrollError::Conflict(format!(
                    "reference `{reference}` was already used for a different contribution"
                )));
            }
            return Ok(Contributed {
                enrolment: enrolment_of(&row)?,
                person_id: p.id,
                id_number: p.id_number,
            });
        }
        let current = enrolment_of(&row)?;
        let next = crate::domain::enrolment::contribute(&current, kind, amount, paid_on)?;
        enrolment::Entity::update_many()
            .col_expr(enrolment::Column::PaidFen, Expr::value(next.paid.0))
            .col_expr(
                enrolment::Column::SubsidisedFen,
                Expr::value(next.subsidised.0),
            )
            .col_expr(
                enrolment::Column::PaidOn,
                Expr::value(next.paid_on.map(|d| d.to_string())),
            )
            .filter(enrolment::Column::Id.eq(enrolment_id))
            .exec(&txn)
            .await?;
        contribution::ActiveModel {
            id: Set(new_id()),
            enrolment_id: Set(enrolment_id.to_string()),
            kind: Set(kind_str(kind).into()),
            amount_fen: Set(amount.0),
            paid_on: Set(paid_on.to_string()),
            reference: Set(reference.to_string()),
            created_at: Set(now()),
        }
        .insert(&txn)
        .await?;
        let c = Contribution {
            kind,
            amount,
            paid_on,
            reference: reference.to_string(),
        };
        Self::journal(
            &txn,
            &p.id,
            "contribution.recorded",
            contribution_detail(enrolment_id, &c, next.paid_on.is_some()),
            actor,
        )
        .await?;
        txn.commit().await?;
        Ok(Contributed {
            enrolment: next,
            person_id: p.id,
            id_number: p.id_number,
        })
    }

    /// A person's enrolments, newest year first.
    pub async fn enrolments(&self, person_id: &str) -> Result<Vec<Enrolment>, EnrollError> {
        enrolment::Entity::find()
            .filter(enrolment::Column::PersonId.eq(person_id))
            .order_by_desc(enrolment::Column::Year)
            .order_by_asc(enrolment::Column::EffectiveFrom)
            .all(&self.db)
            .await?
            .iter()
            .map(enrolment_of)
            .collect()
    }

    /// Writes the outcome of a status event (decided by the domain on a file read just before;
    /// the person's version guards against a concurrent change).
    pub async fn apply_event(
        &self,
        p: &person::Model,
        kind: &str,
        on: NaiveDate,
        detail: serde_json::Value,
        out: &EventOutcome,
        actor: &Actor,
    ) -> Result<(), EnrollError> {
        let (_g, txn) = self.begin().await?;
        let mut am: person::ActiveModel = p.clone().into();
        if let Some(d) = out.death_date {
            am.death_date = Set(Some(d.to_string()));
        }
        if let Some(d) = out.moved_out_of_province {
            am.moved_out_of_province = Set(Some(d.to_string()));
        }
        if let Some(s) = &out.suspensions {
            am.suspensions_json =
                Set(serde_json::to_string(s).map_err(|e| EnrollError::Corrupt(e.to_string()))?);
        }
        am.version = Set(p.version + 1);
        am.updated_at = Set(now());
        let res = person::Entity::update_many()
            .set(am)
            .filter(person::Column::Id.eq(p.id.clone()))
            .filter(person::Column::Version.eq(p.version))
            .exec(&txn)
            .await?;
        if res.rows_affected != 1 {
            return Err(EnrollError::Conflict(
                "the person changed concurrently; retry".into(),
            ));
        }
        for e in &out.changed {
            enrolment::Entity::update_many()
                .col_expr(
                    enrolment::Column::EffectiveTo,
                    Expr::value(e.effective_to.to_string()),
                )
                .col_expr(
                    enrolment::Column::EndReason,
                    Expr::value(e.end_reason.map(|r| end_reason_str(r).to_string())),
                )
                .filter(enrolment::Column::Id.eq(e.id.clone()))
                .exec(&txn)
                .await?;
        }
        for e in &out.created {
            enrolment_model(&p.id, e, now()).insert(&txn).await?;
        }
        status_event::ActiveModel {
            id: Set(new_id()),
            person_id: Set(p.id.clone()),
            kind: Set(kind.to_string()),
            effective_on: Set(on.to_string()),
            detail_json: Set(detail.to_string()),
            created_at: Set(now()),
        }
        .insert(&txn)
        .await?;
        let mut journal = detail;
        journal["effective_on"] = serde_json::json!(on);
        journal["ended"] = serde_json::json!(out.changed.iter().map(|e| &e.id).collect::<Vec<_>>());
        journal["created"] =
            serde_json::json!(out.created.iter().map(|e| &e.id).collect::<Vec<_>>());
        Self::journal(&txn, &p.id, &format!("status.{kind}"), journal, actor).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The journal of a person, oldest first.
    pub async fn history(&self, person_id: &str) -> Result<Vec<history::Model>, EnrollError> {
        Ok(history::Entity::find()
            .filter(history::Column::PersonId.eq(person_id))
            .order_by_asc(history::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// Creates a household.
    pub async fn create_household(
        &self,
        region: &RegionCode,
        address: &str,
        head: Option<String>,
    ) -> Result<household::Model, EnrollError> {
        if let Some(h) = &head {
            self.person(h).await?;
        }
        let (_g, txn) = self.begin().await?;
        let m = household::ActiveModel {
            id: Set(new_id()),
            region_code: Set(region.to_string()),
            address: Set(address.to_string()),
            head_person_id: Set(head.clone()),
            created_at: Set(now()),
        }
        .insert(&txn)
        .await?;
        if let Some(h) = head {
            person::Entity::update_many()
                .col_expr(person::Column::HouseholdId, Expr::value(m.id.clone()))
                .filter(person::Column::Id.eq(h))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(m)
    }

    /// A household and its members.
    pub async fn household(
        &self,
        id: &str,
    ) -> Result<(household::Model, Vec<person::Model>), EnrollError> {
        let h = household::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
            .ok_or_else(|| EnrollError::NotFound("household", id.to_string()))?;
        let members = person::Entity::find()
            .filter(person::Column::HouseholdId.eq(id))
            .order_by_asc(person::Column::BirthDate)
            .all(&self.db)
            .await?;
        Ok((h, members))
    }

    /// Records an issued voucher.
    pub async fn insert_voucher(
        &self,
        id: &str,
        person_id: &str,
        expires_at: &str,
    ) -> Result<(), EnrollError> {
        let (_g, txn) = self.begin().await?;
        voucher::ActiveModel {
            id: Set(id.into()),
            person_id: Set(person_id.into()),
            expires_at: Set(expires_at.into()),
            revoked_at: Set(None),
            revoke_reason: Set(None),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// A voucher record.
    pub async fn voucher(&self, id: &str) -> Result<Option<voucher::Model>, EnrollError> {
        Ok(voucher::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?)
    }

    /// Revokes a voucher (idempotent: the first revocation time stays).
    pub async fn revoke_voucher(
        &self,
        id: &str,
        reason: &str,
    ) -> Result<voucher::Model, EnrollError> {
        let (_g, txn) = self.begin().await?;
        let v = voucher::Entity::find_by_id(id.to_string())
            .one(&txn)
            .await?
            .ok_or_else(|| EnrollError::NotFound("voucher", id.to_string()))?;
        if v.revoked_at.is_some() {
            return Ok(v);
        }
        let mut am: voucher::ActiveModel = v.into();
        am.revoked_at = Set(Some(now()));
        am.revoke_reason = Set(Some(reason.to_string()));
        let v = am.update(&txn).await?;
        txn.commit().await?;
        Ok(v)
    }

    /// People with more than one paid enrolment in `year`, at least one of them within the
    /// region prefix: the only candidates for duplicates. The database aggregates, so the
    /// service never holds the year's enrolments; the list is keyset-paged by person id.
    pub async fn duplicate_candidates(
        &self,
        year: i32,
        region_prefix: &str,
        after: &str,
        limit: u64,
    ) -> Result<Vec<String>, EnrollError> {
        use sea_orm::{ConnectionTrait, Statement};
        let backend = self.db.get_database_backend();
        let (p1, p2, p3, p4) = match backend {
            DbBackend::Postgres => ("$1", "$2", "$3", "$4"),
            _ => ("?", "?", "?", "?"),
        };
        let sql = format!(
            "SELECT person_id FROM enrolments WHERE year = {p1} AND paid_on IS NOT NULL AND person_id > {p2} \
             GROUP BY person_id HAVING COUNT(*) > 1 AND SUM(CASE WHEN region_code LIKE {p3} THEN 1 ELSE 0 END) > 0 \
             ORDER BY person_id LIMIT {p4}"
        );
        let like = format!("{}%", region_prefix.replace(['%', '_'], ""));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [year.into(), after.into(), like.into(), limit.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| r.try_get_by_index::<String>(0).map_err(EnrollError::from))
            .collect()
    }

    /// Paid enrolments of these people in the year, wherever they are (a duplicate may
    /// straddle two regions).
    pub async fn enrolments_of_people(
        &self,
        year: i32,
        people: Vec<String>,
    ) -> Result<Vec<enrolment::Model>, EnrollError> {
        if people.is_empty() {
            return Ok(vec![]);
        }
        Ok(enrolment::Entity::find()
            .filter(enrolment::Column::Year.eq(year))
            .filter(enrolment::Column::PaidOn.is_not_null())
            .filter(enrolment::Column::PersonId.is_in(people))
            .all(&self.db)
            .await?)
    }

    /// Inserts duplicate tasks that are new; returns (opened, already known).
    pub async fn insert_duplicate_tasks(
        &self,
        tasks: Vec<duplicate_task::ActiveModel>,
    ) -> Result<(u64, u64), EnrollError> {
        let (_g, txn) = self.begin().await?;
        let (mut opened, mut known) = (0, 0);
        for t in tasks {
            let keep = t.keep_enrolment_id.clone().unwrap();
            let drop = t.drop_enrolment_id.clone().unwrap();
            let exists = duplicate_task::Entity::find()
                .filter(duplicate_task::Column::KeepEnrolmentId.eq(keep))
                .filter(duplicate_task::Column::DropEnrolmentId.eq(drop))
                .one(&txn)
                .await?;
            if exists.is_some() {
                known += 1;
            } else {
                t.insert(&txn).await?;
                opened += 1;
            }
        }
        txn.commit().await?;
        Ok((opened, known))
    }

    /// Duplicate tasks within a region prefix, optionally by state.
    pub async fn duplicate_tasks(
        &self,
        region_prefix: &str,
        state: Option<&str>,
        after: &str,
        limit: u64,
    ) -> Result<Vec<duplicate_task::Model>, EnrollError> {
        let mut q = duplicate_task::Entity::find()
            .filter(duplicate_task::Column::Id.gt(after))
            .order_by_asc(duplicate_task::Column::Id)
            .limit(limit);
        if !region_prefix.is_empty() {
            q = q.filter(duplicate_task::Column::RegionCode.starts_with(region_prefix));
        }
        if let Some(s) = state {
            q = q.filter(duplicate_task::Column::State.eq(s));
        }
        Ok(q.all(&self.db).await?)
    }

    /// A duplicate task.
    pub async fn duplicate_task(&self, id: &str) -> Result<duplicate_task::Model, EnrollError> {
        duplicate_task::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
            .ok_or_else(|| EnrollError::NotFound("duplicate task", id.to_string()))
    }

    /// Moves a task to `state`, appending the step; resolving ends the losing enrolment from
    /// the day after the kept one became effective (no double benefits from then on).
    pub async fn transition_duplicate(
        &self,
        task: &duplicate_task::Model,
        state: &str,
        note: &str,
        actor: &Actor,
    ) -> Result<duplicate_task::Model, EnrollError> {
        let (_g, txn) = self.begin().await?;
        let mut steps: Vec<serde_json::Value> =
            serde_json::from_str(&task.steps_json).unwrap_or_default();
        steps.push(serde_json::json!({"actor": actor.subject, "role": actor.role, "at": now(), "state": state, "note": note}));
        let res = duplicate_task::Entity::update_many()
            .col_expr(duplicate_task::Column::State, Expr::value(state))
            .col_expr(
                duplicate_task::Column::StepsJson,
                Expr::value(serde_json::Value::Array(steps).to_string()),
            )
            .filter(duplicate_task::Column::Id.eq(task.id.clone()))
            .filter(duplicate_task::Column::State.eq(task.state.clone()))
            .exec(&txn)
            .await?;
        if res.rows_affected != 1 {
            return Err(EnrollError::Conflict(
                "the task changed concurrently; retry".into(),
            ));
        }
        if state == "resolved" {
            let drop = enrolment::Entity::find_by_id(task.drop_enrolment_id.clone())
                .one(&txn)
                .await?
                .ok_or_else(|| {
                    EnrollError::NotFound("enrolment", task.drop_enrolment_id.clone())
                })?;
            let keep = enrolment::Entity::find_by_id(task.keep_enrolment_id.clone())
                .one(&txn)
                .await?
                .ok_or_else(|| {
                    EnrollError::NotFound("enrolment", task.keep_enrolment_id.clone())
                })?;
            let keep_from = keep
                .paid_on
                .clone()
                .unwrap_or(keep.effective_from.clone())
                .max(keep.effective_from.clone());
            let end = date(&keep_from)?
                .pred_opt()
                .map(|d| d.to_string())
                .unwrap_or(keep_from);
            let end = end
                .max(
                    date(&drop.effective_from)?
                        .pred_opt()
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                )
                .min(drop.effective_to.clone());
            enrolment::Entity::update_many()
                .col_expr(enrolment::Column::EffectiveTo, Expr::value(end.clone()))
                .col_expr(
                    enrolment::Column::EndReason,
                    Expr::value(end_reason_str(EndReason::Duplicate)),
                )
                .filter(enrolment::Column::Id.eq(drop.id.clone()))
                .exec(&txn)
                .await?;
            Self::journal(&txn, &task.person_id, "enrolment.ended_as_duplicate", serde_json::json!({"enrolment_id": drop.id, "kept": keep.id, "effective_to": end, "task_id": task.id}), actor).await?;
        }
        txn.commit().await?;
        self.duplicate_task(&task.id).await
    }

    /// Sets a coverage target.
    pub async fn set_target(
        &self,
        region: &RegionCode,
        year: i32,
        scheme: &str,
        category: &str,
        target: i64,
    ) -> Result<(), EnrollError> {
        let (_g, txn) = self.begin().await?;
        coverage_target::Entity::delete_many()
            .filter(coverage_target::Column::RegionCode.eq(region.as_str()))
            .filter(coverage_target::Column::Year.eq(year))
            .filter(coverage_target::Column::Scheme.eq(scheme))
            .filter(coverage_target::Column::Category.eq(category))
            .exec(&txn)
            .await?;
        coverage_target::ActiveModel {
            region_code: Set(region.to_string()),
            year: Set(year),
            scheme: Set(scheme.into()),
            category: Set(category.into()),
            target: Set(target),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Sum of targets within a region prefix.
    pub async fn target(
        &self,
        region_prefix: &str,
        year: i32,
        scheme: &str,
        category: &str,
    ) -> Result<i64, EnrollError> {
        let rows = coverage_target::Entity::find()
            .filter(coverage_target::Column::RegionCode.starts_with(region_prefix))
            .filter(coverage_target::Column::Year.eq(year))
            .filter(coverage_target::Column::Scheme.eq(scheme))
            .filter(coverage_target::Column::Category.eq(category))
            .all(&self.db)
            .await?;
        Ok(rows.iter().map(|r| r.target).sum())
    }

    /// People with a paid enrolment in the year within the prefix (optionally of a scheme).
    pub async fn enrolled_people(
        &self,
        region_prefix: &str,
        year: i32,
        scheme: Option<Scheme>,
    ) -> Result<std::collections::HashSet<String>, EnrollError> {
        let mut q = enrolment::Entity::find()
            .select_only()
            .column(enrolment::Column::PersonId)
            .filter(enrolment::Column::Year.eq(year))
            .filter(enrolment::Column::PaidOn.is_not_null())
            .filter(enrolment::Column::RegionCode.starts_with(region_prefix));
        if let Some(s) = scheme {
            q = q.filter(enrolment::Column::Scheme.eq(scheme_str(s)));
        }
        let ids: Vec<String> = q.into_tuple().all(&self.db).await?;
        Ok(ids.into_iter().collect())
    }

    /// People in the prefix holding `category` at some time in the year.
    pub async fn people_with_category(
        &self,
        region_prefix: &str,
        year: i32,
        category: Category,
    ) -> Result<Vec<String>, EnrollError> {
        let (start, end) = crate::domain::year_bounds(year).ok_or_else(|| {
            EnrollError::Domain(crate::domain::EnrolmentError::invalid(
                "year",
                "out of range",
            ))
        })?;
        let ids: Vec<String> = category::Entity::find()
            .select_only()
            .column(category::Column::PersonId)
            .filter(category::Column::Category.eq(category_str(category)))
            .filter(category::Column::ValidFrom.lte(end.to_string()))
            .filter(
                sea_orm::Condition::any()
                    .add(category::Column::ValidTo.is_null())
                    .add(category::Column::ValidTo.gte(start.to_string())),
            )
            .into_tuple()
            .all(&self.db)
            .await?;
        if ids.is_empty() {
            return Ok(ids);
        }
        let mut in_region: Vec<String> = person::Entity::find()
            .select_only()
            .column(person::Column::Id)
            .filter(person::Column::Id.is_in(ids))
            .filter(person::Column::RegionCode.starts_with(region_prefix))
            .into_tuple()
            .all(&self.db)
            .await?;
        in_region.sort();
        in_region.dedup();
        Ok(in_region)
    }
}

fn kind_str(k: ContributionKind) -> &'static str {
    match k {
        ContributionKind::Payment => "payment",
        ContributionKind::Subsidy => "subsidy",
    }
}
