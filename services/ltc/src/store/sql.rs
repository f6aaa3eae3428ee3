//! Raw portable SQL (shared with the other services), and the bulk insert of settlement runs.

pub use yibao_runtime::sql::*;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Value};

/// A PostgreSQL array literal (`{"a",NULL,3}`) of text or integer values, bound as one text
/// parameter and cast in SQL (`?::text[]`).
fn pg_array(values: impl Iterator<Item = Value>) -> Result<String, DbErr> {
    let mut out = String::from("{");
    for (k, v) in values.enumerate() {
        if k > 0 {
            out.push(',');
        }
        match v {
            Value::String(Some(text)) => {
                out.push('"');
                for ch in text.chars() {
                    if ch == '"' || ch == '\\' {
                        out.push('\\');
                    }
                    out.push(ch);
                }
                out.push('"');
            }
            Value::BigInt(Some(n)) => out.push_str(&n.to_string()),
            Value::Int(Some(n)) => out.push_str(&n.to_string()),
            Value::String(None) | Value::BigInt(None) | Value::Int(None) => out.push_str("NULL"),
            other => return Err(DbErr::Custom(format!("no array form for {other:?}"))),
        }
    }
    out.push('}');
    Ok(out)
}

/// Inserts many rows in as few statements as the backend allows: on PostgreSQL
/// `INSERT … SELECT * FROM UNNEST(…)` of one array parameter per column, 5,000 rows a statement
/// (`columns` give each column's array type, `text[]`, `bigint[]` or `int[]`); on SQLite
/// multi-row `VALUES` of ~900 parameters.
///
/// Why not many small multi-row statements on PostgreSQL too: sqlx 0.9 no longer sets
/// `TCP_NODELAY`, so every statement larger than the socket's send buffer (16 KB by default)
/// waits for the server's delayed ACK, about 40 ms on Linux, before its tail goes out. The
/// monthly settlement of an institution wrote its 3,448 outbox events in 23 statements of 150
/// rows, 45 ms each: a second a run spent waiting.
pub async fn insert_bulk<C: ConnectionTrait>(c: &C, table: &str, columns: &[(&str, &str)], rows: Vec<Vec<Value>>) -> Result<(), DbErr> {
    if c.get_database_backend() != DbBackend::Postgres {
        let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
        return insert_rows(c, table, &names, rows).await;
    }
    let names = columns.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
    let arrays = columns.iter().map(|(_, ty)| format!("?::{ty}")).collect::<Vec<_>>().join(", ");
    let sql = format!("INSERT INTO {table} ({names}) SELECT * FROM UNNEST({arrays})");
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut by_column: Vec<Vec<Value>> = columns.iter().map(|_| Vec::new()).collect();
        for row in rows.by_ref().take(5_000) {
            if row.len() != columns.len() {
                return Err(DbErr::Custom(format!("{table}: a row of {} values for {} columns", row.len(), columns.len())));
            }
            for (column, v) in by_column.iter_mut().zip(row) {
                column.push(v);
            }
        }
        let values = by_column.into_iter().map(|c| pg_array(c.into_iter()).map(Value::from)).collect::<Result<Vec<_>, _>>()?;
        exec(c, &sql, values).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_literals_quote_text_and_keep_nulls_and_numbers() {
        let a = pg_array(vec![Value::from("a\"b\\c"), Value::String(None), Value::from(3i64), Value::from(-4i32)].into_iter());
        assert_eq!(a.ok().as_deref(), Some(r#"{"a\"b\\c",NULL,3,-4}"#));
    }
}
