//! The stores' backend on `spin:sqlite`: [`Spin`] runs `tandem_stores`' SQL (migrations, write
//! transactions, busy → 503) on the component's connection to database `default`. The SQL and
//! its tests live in `tandem-stores`; this file only moves values across the interface.

use spin_sdk::sqlite::{self, Error as DbError};
use tandem_core::foundation::problem::Problem;
use tandem_stores::db::{Row, Value, db_error};

pub use tandem_stores::db::{Db, Migration, now_ms, text};

/// One `spin:sqlite` connection to database `default`, owned by one request.
pub struct Spin(sqlite::Connection);

impl Spin {
    /// Opens database `default`; a failure is reported as store `store`'s.
    pub async fn open_default(store: &'static str) -> Result<Spin, Problem> {
        sqlite::Connection::open_default()
            .await
            .map(Spin)
            .map_err(|e| db_error(store, &detail(e)))
    }
}

impl tandem_stores::Connection for Spin {
    async fn query(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, String> {
        let result = self
            .0
            .execute(sql, params.into_iter().map(to_spin))
            .await
            .map_err(detail)?;
        let rows = result.collect().await.map_err(detail)?;
        Ok(rows
            .into_iter()
            .map(|r| Row {
                values: r.values.into_iter().map(from_spin).collect(),
            })
            .collect())
    }
}

fn detail(e: DbError) -> String {
    match e {
        DbError::Io(m) => m,
        other => format!("{other:?}"),
    }
}

fn to_spin(v: Value) -> sqlite::Value {
    match v {
        Value::Integer(i) => sqlite::Value::Integer(i),
        Value::Real(r) => sqlite::Value::Real(r),
        Value::Text(t) => sqlite::Value::Text(t),
        Value::Blob(b) => sqlite::Value::Blob(b),
        Value::Null => sqlite::Value::Null,
    }
}

fn from_spin(v: sqlite::Value) -> Value {
    match v {
        sqlite::Value::Integer(i) => Value::Integer(i),
        sqlite::Value::Real(r) => Value::Real(r),
        sqlite::Value::Text(t) => Value::Text(t),
        sqlite::Value::Blob(b) => Value::Blob(b),
        sqlite::Value::Null => Value::Null,
    }
}
