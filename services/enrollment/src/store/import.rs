//! Bulk import of people new to the register: their rows written with multi-row INSERTs, or
//! `COPY … FROM STDIN` on PostgreSQL, in one transaction per batch.

use super::codec::{enrolment_model, new_id, now};
use super::enrolments::{Contribution, contribution_detail, contribution_model, enrolment_detail};
use super::entities::person;
use super::persons::{NewPerson, history_model, person_row, registered_detail, version_model};
use super::{Store, StoreError};
use crate::domain::Enrolment;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
};
use yibao_runtime::Actor;

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

async fn insert_all<A>(txn: &DatabaseTransaction, rows: Vec<A>) -> Result<(), StoreError>
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

/// One value in COPY text format; the error (a column type COPY here does not write) becomes
/// a protocol error of the COPY.
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

fn sqlx_error(e: sqlx::Error) -> StoreError {
    StoreError::Db(sea_orm::DbErr::Custom(e.to_string()))
}

/// The rows of one batch, table by table.
#[derive(Default)]
struct BatchRows {
    persons: Vec<person::ActiveModel>,
    versions: Vec<super::entities::person_version::ActiveModel>,
    journal: Vec<super::entities::history::ActiveModel>,
    enrolments: Vec<super::entities::enrolment::ActiveModel>,
    contributions: Vec<super::entities::contribution::ActiveModel>,
}

fn batch_rows(batch: Vec<ImportedPerson>, actor: &Actor) -> BatchRows {
    let ts = now();
    let mut rows = BatchRows::default();
    for item in batch {
        let p = person_row(item.person, new_id(), ts.clone());
        rows.versions
            .push(version_model(&p, "registered", actor, ts.clone()));
        // One journal entry for the import row: the registration, the enrolment and the
        // contributions it made, each with the detail one-by-one entries would carry.
        let detail = serde_json::json!({
            "registered": registered_detail(&p),
            "enrolment": enrolment_detail(&item.enrolment),
            "contributions": item.contributions.iter().map(|(c, effective)| contribution_detail(&item.enrolment.id, c, *effective)).collect::<Vec<_>>(),
        });
        rows.journal.push(history_model(
            &p.id,
            "person.imported",
            &detail,
            actor,
            ts.clone(),
        ));
        for (c, _) in &item.contributions {
            rows.contributions
                .push(contribution_model(&item.enrolment.id, c, ts.clone()));
        }
        rows.enrolments
            .push(enrolment_model(&p.id, &item.enrolment, ts.clone()));
        rows.persons.push(person::ActiveModel::from(p).reset_all());
    }
    rows
}

impl Store {
    /// Registers people new to the register with their enrolment and contributions in one
    /// transaction of bulk statements. Each person gets their first version and one journal
    /// entry, `person.imported`, holding the registration, enrolment and contribution details
    /// one-by-one registration, enrolment and payment would journal separately. If any ID
    /// number is already registered nothing is written and [`StoreError::Exists`] is returned.
    pub async fn insert_imported(
        &self,
        batch: Vec<ImportedPerson>,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let rows = batch_rows(batch, actor);
        let exists =
            || StoreError::Exists("an ID number in the batch is already registered".into());
        if self.is_postgres() {
            // COPY in one transaction: several times faster than multi-row INSERTs.
            let mut tx = self
                .db()
                .get_postgres_connection_pool()
                .begin()
                .await
                .map_err(sqlx_error)?;
            copy_all(&mut tx, rows.persons).await.map_err(|e| {
                if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("23505") {
                    exists()
                } else {
                    sqlx_error(e)
                }
            })?;
            copy_all(&mut tx, rows.versions).await.map_err(sqlx_error)?;
            copy_all(&mut tx, rows.enrolments)
                .await
                .map_err(sqlx_error)?;
            copy_all(&mut tx, rows.contributions)
                .await
                .map_err(sqlx_error)?;
            copy_all(&mut tx, rows.journal).await.map_err(sqlx_error)?;
            return tx.commit().await.map_err(sqlx_error);
        }
        let txn = self.begin().await?;
        insert_all(&txn, rows.persons).await.map_err(|e| match e {
            StoreError::Db(d) if yibao_runtime::db::is_unique_violation(&d) => exists(),
            e => e,
        })?;
        insert_all(&txn, rows.versions).await?;
        insert_all(&txn, rows.enrolments).await?;
        insert_all(&txn, rows.contributions).await?;
        insert_all(&txn, rows.journal).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Which of these ID numbers are registered.
    pub async fn registered_id_numbers(
        &self,
        ids: Vec<String>,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut found = std::collections::HashSet::new();
        for chunk in ids.chunks(INSERT_CHUNK) {
            let rows: Vec<String> = person::Entity::find()
                .select_only()
                .column(person::Column::IdNumber)
                .filter(person::Column::IdNumber.is_in(chunk.to_vec()))
                .into_tuple()
                .all(self.db())
                .await?;
            found.extend(rows);
        }
        Ok(found)
    }
}
