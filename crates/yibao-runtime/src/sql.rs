//! Raw portable SQL for the services' stores: one dialect written with `?` placeholders,
//! numbered `$n` on PostgreSQL; typed column readers and value builders; hex for bytes kept
//! in portable text columns.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement, Value};

/// Rewrites `?` placeholders as `$1, $2, …` for PostgreSQL (the SQL text never contains a
/// literal question mark).
pub fn dialect(backend: DbBackend, sql: &str) -> String {
    if backend != DbBackend::Postgres {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(ch);
        }
    }
    out
}

/// A statement for `backend`.
pub fn stmt(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(backend, dialect(backend, sql), values)
}

/// Executes a statement; returns the rows affected.
pub async fn exec<C: ConnectionTrait>(c: &C, sql: &str, values: Vec<Value>) -> Result<u64, DbErr> {
    let b = c.get_database_backend();
    Ok(c.execute_raw(stmt(b, sql, values)).await?.rows_affected())
}

/// All rows of a query.
pub async fn all<C: ConnectionTrait>(
    c: &C,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<QueryResult>, DbErr> {
    let b = c.get_database_backend();
    c.query_all_raw(stmt(b, sql, values)).await
}

/// The first row of a query.
pub async fn one<C: ConnectionTrait>(
    c: &C,
    sql: &str,
    values: Vec<Value>,
) -> Result<Option<QueryResult>, DbErr> {
    let b = c.get_database_backend();
    c.query_one_raw(stmt(b, sql, values)).await
}

/// Inserts many rows, in statements of at most ~900 values (SQLite's variable limit is 32766 in
/// recent versions; smaller chunks keep statements cheap to prepare on both backends).
pub async fn insert_rows<C: ConnectionTrait>(
    c: &C,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let per_stmt = (900 / columns.len()).max(1);
    let one_row = format!("({})", vec!["?"; columns.len()].join(", "));
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(per_stmt).collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES {}",
            columns.join(", "),
            vec![one_row.as_str(); chunk.len()].join(", ")
        );
        exec(c, &sql, chunk.into_iter().flatten().collect()).await?;
    }
    Ok(())
}

/// A text column.
pub fn text(r: &QueryResult, col: &str) -> Result<String, DbErr> {
    r.try_get::<String>("", col)
}

/// A nullable text column.
pub fn opt_text(r: &QueryResult, col: &str) -> Result<Option<String>, DbErr> {
    r.try_get::<Option<String>>("", col)
}

/// A BIGINT column (also COUNT and CAST(SUM(…) AS BIGINT)).
pub fn int(r: &QueryResult, col: &str) -> Result<i64, DbErr> {
    r.try_get::<Option<i64>>("", col).map(|v| v.unwrap_or(0))
}

/// An INTEGER column; NULL reads as `None`.
pub fn opt_int32(r: &QueryResult, col: &str) -> Result<Option<i32>, DbErr> {
    r.try_get::<Option<i32>>("", col)
}

/// A nullable BIGINT column.
pub fn opt_int(r: &QueryResult, col: &str) -> Result<Option<i64>, DbErr> {
    r.try_get::<Option<i64>>("", col)
}

/// An INTEGER column.
pub fn int32(r: &QueryResult, col: &str) -> Result<i32, DbErr> {
    r.try_get::<i32>("", col)
}

/// Text value.
pub fn t(s: impl Into<String>) -> Value {
    Value::String(Some(s.into()))
}

/// Nullable text value.
pub fn ot(s: Option<String>) -> Value {
    Value::String(s)
}

/// BIGINT value.
pub fn i(n: i64) -> Value {
    Value::BigInt(Some(n))
}

/// Nullable BIGINT value.
pub fn oi(n: Option<i64>) -> Value {
    Value::BigInt(n)
}

/// INTEGER value.
pub fn i4(n: i32) -> Value {
    Value::Int(Some(n))
}

/// Lower-case hexadecimal of bytes (the outbox stores encoded events as portable text).
pub fn hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(D[usize::from(b >> 4)] as char);
        s.push(D[usize::from(b & 15)] as char);
    }
    s
}

/// Bytes of lower-case hexadecimal; `None` when malformed.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let v = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(v(p[0])? << 4 | v(p[1])?))
        .collect()
}

/// A PostgreSQL array literal (`{"a",NULL,3}`) of text or integer values, bound as one text
/// parameter and cast in SQL (`?::text[]`).
pub fn pg_array(values: impl Iterator<Item = Value>) -> Result<String, DbErr> {
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

/// The statements of a bulk insert into `table`, as few as the backend allows: on PostgreSQL
/// `INSERT … SELECT * FROM UNNEST(…)` of one array parameter per column, 5,000 rows a statement
/// (`columns` give each column's array type, `text[]`, `bigint[]` or `int[]`); on SQLite
/// multi-row `VALUES` of ~900 parameters. `tail` ends each statement (`ON CONFLICT …`,
/// `RETURNING …`). One statement of 5,000 rows costs PostgreSQL far less than many small
/// multi-row ones (one parse, one plan, one round trip).
pub fn bulk_insert_statements(
    backend: DbBackend,
    table: &str,
    columns: &[(&str, &str)],
    rows: Vec<Vec<Value>>,
    tail: &str,
) -> Result<Vec<(String, Vec<Value>)>, DbErr> {
    if let Some(row) = rows.iter().find(|r| r.len() != columns.len()) {
        return Err(DbErr::Custom(format!(
            "{table}: a row of {} values for {} columns",
            row.len(),
            columns.len()
        )));
    }
    let names = columns
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ");
    let postgres = backend == DbBackend::Postgres;
    let per_stmt = if postgres {
        5_000
    } else {
        (900 / columns.len().max(1)).max(1)
    };
    let mut out = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(per_stmt).collect();
        if postgres {
            let mut by_column: Vec<Vec<Value>> = columns
                .iter()
                .map(|_| Vec::with_capacity(chunk.len()))
                .collect();
            for row in chunk {
                for (column, v) in by_column.iter_mut().zip(row) {
                    column.push(v);
                }
            }
            let arrays = columns
                .iter()
                .map(|(_, ty)| format!("?::{ty}"))
                .collect::<Vec<_>>()
                .join(", ");
            let values = by_column
                .into_iter()
                .map(|c| pg_array(c.into_iter()).map(Value::from))
                .collect::<Result<Vec<_>, _>>()?;
            out.push((
                format!("INSERT INTO {table} ({names}) SELECT * FROM UNNEST({arrays}) {tail}"),
                values,
            ));
        } else {
            let one_row = format!("({})", vec!["?"; columns.len()].join(", "));
            let marks = vec![one_row.as_str(); chunk.len()].join(", ");
            out.push((
                format!("INSERT INTO {table} ({names}) VALUES {marks} {tail}"),
                chunk.into_iter().flatten().collect(),
            ));
        }
    }
    Ok(out)
}

/// Inserts many rows with [`bulk_insert_statements`].
pub async fn insert_bulk<C: ConnectionTrait>(
    c: &C,
    table: &str,
    columns: &[(&str, &str)],
    rows: Vec<Vec<Value>>,
) -> Result<(), DbErr> {
    for (sql, values) in bulk_insert_statements(c.get_database_backend(), table, columns, rows, "")?
    {
        exec(c, &sql, values).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_only() {
        assert_eq!(
            dialect(DbBackend::Postgres, "a = ? AND b = ?"),
            "a = $1 AND b = $2"
        );
        assert_eq!(
            dialect(DbBackend::Sqlite, "a = ? AND b = ?"),
            "a = ? AND b = ?"
        );
    }

    #[test]
    fn hex_round_trips() {
        let bytes = vec![0u8, 1, 127, 128, 255];
        assert_eq!(hex(&bytes), "00017f80ff");
        assert_eq!(unhex(&hex(&bytes)), Some(bytes));
        assert_eq!(unhex("0g"), None);
    }

    #[test]
    fn array_literals_quote_text_and_keep_nulls_and_numbers() {
        let a = pg_array(
            vec![
                Value::from("a\"b\\c"),
                Value::String(None),
                Value::from(3i64),
                Value::from(-4i32),
            ]
            .into_iter(),
        );
        assert_eq!(a.ok().as_deref(), Some(r#"{"a\"b\\c",NULL,3,-4}"#));
    }
}
