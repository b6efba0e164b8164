//! The native backend: a [`Connection`] on rusqlite, for tests and native tools. It runs each
//! statement the way `tandem`'s `spin:sqlite` does (`host/src/factors/sqlite/host.rs`: prepare, bind
//! positionally, read every column of every row), so a query behaves here as in a component.

use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use rusqlite::types::{Value as SqlValue, ValueRef};

use crate::db::{Connection, Row, Value};

/// A rusqlite connection behind the stores' [`Connection`] trait.
pub struct Native {
    pub conn: rusqlite::Connection,
}

impl Native {
    /// A private in-memory database.
    pub fn memory() -> rusqlite::Result<Native> {
        Ok(Native {
            conn: rusqlite::Connection::open_in_memory()?,
        })
    }

    /// A database file, in WAL mode as the host opens it.
    pub fn file(path: &Path) -> rusqlite::Result<Native> {
        let conn = rusqlite::Connection::open(path)?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        Ok(Native { conn })
    }
}

impl Connection for Native {
    async fn query(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, String> {
        let e = |e: rusqlite::Error| e.to_string();
        let mut stmt = self.conn.prepare(sql).map_err(e)?;
        let columns = stmt.column_count();
        let params = params.into_iter().map(to_sql);
        let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(e)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(e)? {
            let values = (0..columns)
                .map(|i| row.get_ref(i).map(from_sql).map_err(e))
                .collect::<Result<Vec<_>, _>>()?;
            out.push(Row { values });
        }
        Ok(out)
    }
}

fn to_sql(v: Value) -> SqlValue {
    match v {
        Value::Integer(i) => SqlValue::Integer(i),
        Value::Real(r) => SqlValue::Real(r),
        Value::Text(t) => SqlValue::Text(t),
        Value::Blob(b) => SqlValue::Blob(b),
        Value::Null => SqlValue::Null,
    }
}

fn from_sql(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// Runs a store call to completion. The native backend never waits (every statement runs
/// inside `poll`), so one poll finishes any store future.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a store future on the native backend waited"),
    }
}
