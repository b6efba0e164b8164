//! `Db`: migrations, write transactions, busy handling, values and errors.

use std::cell::Cell;
use std::time::Duration;

use super::{int, memory, schema_objects, sql};
use crate::db::{BEGIN_ATTEMPTS, Connection, Db, Migration, Row, Value, db_error};
use crate::native::{Native, block_on};
use tandem_core::foundation::problem::Problem;

const TWO: &[Migration] = &[
    (
        1,
        "CREATE TABLE t_a (x INTEGER); CREATE INDEX t_a_x ON t_a (x)",
    ),
    (2, "CREATE TABLE t_b (y TEXT);"),
];

fn versions(conn: &impl Connection) -> Vec<i64> {
    sql(
        conn,
        "SELECT version FROM t_migrations ORDER BY version",
        vec![],
    )
    .iter()
    .map(|r| int(&r[0]))
    .collect()
}

#[test]
fn a_fresh_database_gets_every_migration_in_order_and_full_sync() {
    let conn = memory();
    let db = block_on(Db::open(&conn, "t", TWO)).unwrap();
    assert_eq!(block_on(db.schema_version()).unwrap(), 2);
    assert_eq!(versions(&conn), [1, 2]);
    assert_eq!(
        schema_objects(&conn, "table"),
        ["t_a", "t_b", "t_migrations"]
    );
    assert_eq!(schema_objects(&conn, "index"), ["t_a_x"]);
    // Every statement of a migration ran, each applied_at stamped.
    let stamps = sql(&conn, "SELECT applied_at FROM t_migrations", vec![]);
    assert!(stamps.iter().all(|r| int(&r[0]) > 1_700_000_000_000));
    // synchronous = FULL (2) on the store's connection.
    let sync = block_on(db.query("PRAGMA synchronous", vec![])).unwrap();
    assert_eq!(sync[0].get::<i64>(0), Some(2));
}

#[test]
fn reopening_applies_only_the_missing_migrations() {
    let conn = memory();
    block_on(Db::open(&conn, "t", &TWO[..1])).unwrap();
    assert_eq!(versions(&conn), [1]);
    sql(&conn, "INSERT INTO t_a (x) VALUES (7)", vec![]);
    // Migration 1 is not idempotent (CREATE TABLE): running it again would fail.
    block_on(Db::open(&conn, "t", TWO)).unwrap();
    block_on(Db::open(&conn, "t", TWO)).unwrap();
    assert_eq!(versions(&conn), [1, 2]);
    assert_eq!(
        sql(&conn, "SELECT x FROM t_a", vec![]),
        [[Value::Integer(7)]]
    );
}

#[test]
fn a_failing_migration_leaves_nothing_behind() {
    let conn = memory();
    let broken: &[Migration] = &[(1, "CREATE TABLE t_a (x)"), (2, "CREATE TABLE t_b (")];
    let p = block_on(Db::open(&conn, "t", broken)).err().unwrap();
    assert_eq!(p.status, 500);
    assert!(p.detail.unwrap().starts_with("the t store failed: "));
    // One transaction: not even migration 1 or the version table survived.
    assert!(schema_objects(&conn, "table").is_empty());
    assert_eq!(block_on(Db::open(&conn, "t", TWO)).map(drop), Ok(()));
}

#[test]
fn a_write_commits_on_ok_and_rolls_back_on_err() {
    let conn = memory();
    let db = block_on(Db::open(&conn, "t", TWO)).unwrap();
    let n = block_on(db.write(async |db: &Db<&Native>| {
        db.exec("INSERT INTO t_a (x) VALUES (1)", vec![]).await?;
        db.exec("INSERT INTO t_a (x) VALUES (?)", vec![Value::Integer(2)])
            .await?;
        Ok(2)
    }));
    assert_eq!(n, Ok(2));
    let failed = block_on(db.write(async |db: &Db<&Native>| {
        db.exec("INSERT INTO t_a (x) VALUES (3)", vec![]).await?;
        Err::<(), _>(Problem::conflict("no"))
    }));
    assert_eq!(failed.unwrap_err().status, 409);
    // A statement error inside the transaction rolls back what came before it too.
    let failed = block_on(db.write(async |db: &Db<&Native>| {
        db.exec("INSERT INTO t_a (x) VALUES (4)", vec![]).await?;
        db.exec("INSERT INTO nowhere VALUES (1)", vec![]).await
    }));
    assert_eq!(failed.unwrap_err().status, 500);
    let xs = sql(&conn, "SELECT x FROM t_a ORDER BY x", vec![]);
    assert_eq!(xs, [[Value::Integer(1)], [Value::Integer(2)]]);
    // No transaction is left open.
    assert!(block_on(db.exec("BEGIN IMMEDIATE", vec![])).is_ok());
}

/// Counts the statements that start a transaction.
struct Counting<'a> {
    inner: &'a Native,
    begins: Cell<u32>,
}

impl Connection for Counting<'_> {
    async fn query(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, String> {
        if sql == "BEGIN IMMEDIATE" {
            self.begins.set(self.begins.get() + 1);
        }
        self.inner.query(sql, params).await
    }
}

#[test]
fn a_busy_write_lock_is_retried_then_answered_503() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.db");
    let holder = Native::file(&path).unwrap();
    block_on(Db::open(&holder, "t", TWO)).unwrap();
    let waiter = Native::file(&path).unwrap();
    waiter.conn.busy_timeout(Duration::ZERO).unwrap();
    let counting = Counting {
        inner: &waiter,
        begins: Cell::new(0),
    };
    let db = block_on(Db::open(&counting, "t", TWO)).unwrap();
    assert_eq!(
        counting.begins.get(),
        0,
        "a current schema takes no write lock"
    );

    sql(&holder, "BEGIN IMMEDIATE", vec![]);
    let p =
        block_on(db.write(async |db: &Db<&Counting>| {
            db.exec("INSERT INTO t_a (x) VALUES (1)", vec![]).await
        }))
        .unwrap_err();
    assert_eq!(counting.begins.get(), BEGIN_ATTEMPTS);
    assert_eq!(p.status, 503);
    assert_eq!(
        p.detail.as_deref(),
        Some("the t store is busy; retry the same request")
    );
    assert_eq!(p.extensions["retry_after_seconds"], 1);

    sql(&holder, "COMMIT", vec![]);
    block_on(
        db.write(async |db: &Db<&Counting>| {
            db.exec("INSERT INTO t_a (x) VALUES (1)", vec![]).await
        }),
    )
    .unwrap();
    assert_eq!(
        sql(&holder, "SELECT COUNT(*) FROM t_a", vec![]),
        [[Value::Integer(1)]]
    );
}

#[test]
fn columns_convert_as_spin_sdk_converts_them() {
    let row = Row {
        values: vec![
            Value::Integer(3),
            Value::Real(0.5),
            Value::Text("zh 中文".into()),
            Value::Blob(b"bytes".to_vec()),
            Value::Blob(vec![0xff]),
            Value::Null,
        ],
    };
    assert_eq!(row.get::<i64>(0), Some(3));
    assert_eq!(row.get::<f64>(0), None, "an integer is not read as a real");
    assert_eq!(row.get::<f64>(1), Some(0.5));
    assert_eq!(row.get::<i64>(1), None, "a real is not read as an integer");
    assert_eq!(row.get::<&str>(2), Some("zh 中文"));
    assert_eq!(row.get::<&str>(3), Some("bytes"));
    assert_eq!(row.get::<&str>(4), None, "a blob that is not UTF-8");
    assert_eq!(row.get::<i64>(5), None);
    assert_eq!(row.get::<&str>(5), None);
    assert_eq!(row.get::<i64>(6), None, "past the last column");
}

#[test]
fn the_native_backend_round_trips_every_storage_class() {
    let conn = memory();
    let values = vec![
        Value::Integer(-5),
        Value::Real(1.25),
        Value::Text("文本".into()),
        Value::Blob(vec![0, 1, 2]),
        Value::Null,
    ];
    let rows = sql(&conn, "SELECT ?, ?, ?, ?, ?", values.clone());
    assert_eq!(rows, [values]);
    assert!(sql(&conn, "CREATE TABLE x (a)", vec![]).is_empty());
}

#[test]
fn database_errors_become_problems() {
    let busy = db_error("ticket", "database is locked");
    assert_eq!(busy.status, 503);
    assert_eq!(busy.extensions["retry_after_seconds"], 1);
    assert_eq!(db_error("ticket", "SQLITE_BUSY: busy").status, 503);
    let other = db_error("feedback", "no such table: x");
    assert_eq!(other.status, 500);
    assert_eq!(
        other.detail.as_deref(),
        Some("the feedback store failed: no such table: x")
    );
}
