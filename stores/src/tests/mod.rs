//! Every query, migration and transaction of the stores, run natively on rusqlite
//! ([`crate::native`]) instead of through wasm and the host.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

mod customers;
mod db;
mod drilldown;
mod feedback;
mod graph;
mod knowledge;
mod outbox;
mod ticket;

use crate::db::{Connection, Value};
use crate::native::{Native, block_on};

/// A fresh private database.
fn memory() -> Native {
    Native::memory().expect("an in-memory SQLite database opens")
}

/// Runs one statement directly on the connection, for setting up and inspecting rows.
fn sql(conn: &impl Connection, sql: &str, params: Vec<Value>) -> Vec<Vec<Value>> {
    block_on(conn.query(sql, params))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|r| r.values)
        .collect()
}

/// The names of the tables and indexes of the database (SQLite's own aside), sorted.
fn schema_objects(conn: &impl Connection, kind: &str) -> Vec<String> {
    sql(
        conn,
        "SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%' ORDER BY name",
        vec![Value::Text(kind.into())],
    )
    .into_iter()
    .map(|r| match &r[0] {
        Value::Text(s) => s.clone(),
        other => panic!("a name that is not text: {other:?}"),
    })
    .collect()
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Integer(i) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}
