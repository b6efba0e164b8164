//! `spin:sqlite` plumbing shared by the components that keep records (feedback, tickets):
//! numbered migrations applied once, write transactions that take the lock up front and retry
//! a busy start, and database errors mapped onto problems (busy → 503 with a retry hint).
//!
//! Durability: every connection runs with `synchronous = FULL`; in WAL mode that syncs the log
//! on every commit, so an acknowledged write survives a power cut, not only a crashed host. A
//! request that dies inside a transaction drops its connection and SQLite rolls it back.

use spin_sdk::sqlite::{Connection, Error as DbError, RowResult, Value};
use tandem_core::problem::Problem;

/// How often a write tries to take the write lock, each try waiting up to the host's busy
/// timeout (5 s in `tandem`).
const BEGIN_ATTEMPTS: u32 = 4;

/// One connection to database `default`, owned by one request.
pub struct Db {
    conn: Connection,
    /// What the store is called in error messages (`feedback`, `ticket`).
    store: &'static str,
}

/// A numbered schema change. Never edit a shipped one: add a new version.
pub type Migration = (i64, &'static str);

impl Db {
    /// Opens database `default` and applies the missing `migrations`, recorded in table
    /// `<store>_migrations`. The fast path (schema current) is one read; the slow path re-checks
    /// under the write lock, so concurrent first requests apply each migration once, and the
    /// missing ones run in one transaction, so a store is never left half-migrated.
    pub async fn open(store: &'static str, migrations: &[Migration]) -> Result<Db, Problem> {
        let conn = Connection::open_default()
            .await
            .map_err(|e| db_error(store, e))?;
        let db = Db { conn, store };
        db.exec("PRAGMA synchronous = FULL", vec![]).await?;
        let latest = migrations.last().map_or(0, |m| m.0);
        if db.schema_version().await? < latest {
            db.write(async |db: &Db| {
                db.exec(
                    &format!(
                        "CREATE TABLE IF NOT EXISTS {store}_migrations \
                         (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"
                    ),
                    vec![],
                )
                .await?;
                let current = db.schema_version().await?;
                for (version, sql) in migrations.iter().filter(|m| m.0 > current) {
                    for statement in sql.split(';').map(str::trim).filter(|x| !x.is_empty()) {
                        db.exec(statement, vec![]).await?;
                    }
                    db.exec(
                        &format!(
                            "INSERT INTO {store}_migrations (version, applied_at) VALUES (?, ?)"
                        ),
                        vec![Value::Integer(*version), Value::Integer(now_ms())],
                    )
                    .await?;
                }
                Ok(())
            })
            .await?;
        }
        Ok(db)
    }

    async fn schema_version(&self) -> Result<i64, Problem> {
        let table = format!("{}_migrations", self.store);
        let exists = self
            .query(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                vec![Value::Text(table.clone())],
            )
            .await?;
        if exists.is_empty() {
            return Ok(0);
        }
        let rows = self
            .query(
                &format!("SELECT COALESCE(MAX(version), 0) FROM {table}"),
                vec![],
            )
            .await?;
        Ok(rows.first().and_then(|r| r.get::<i64>(0)).unwrap_or(0))
    }

    pub async fn query(&self, sql: &str, params: Vec<Value>) -> Result<Vec<RowResult>, Problem> {
        let store = self.store;
        let result = self
            .conn
            .execute(sql, params)
            .await
            .map_err(|e| db_error(store, e))?;
        result.collect().await.map_err(|e| db_error(store, e))
    }

    pub async fn exec(&self, sql: &str, params: Vec<Value>) -> Result<(), Problem> {
        self.query(sql, params).await.map(drop)
    }

    /// Runs `work` in a write transaction; rolls back on any error.
    pub async fn write<T>(
        &self,
        work: impl AsyncFnOnce(&Db) -> Result<T, Problem>,
    ) -> Result<T, Problem> {
        // IMMEDIATE takes the write lock up front: two writers never deadlock upgrading a read
        // lock, they queue on the busy timeout instead. SQLite's busy handler is not fair, so
        // under sustained write load one writer can lose every race for the whole timeout;
        // nothing has happened yet when BEGIN fails, so it is retried before giving up (503).
        let mut attempt = 1;
        loop {
            match self.exec("BEGIN IMMEDIATE", vec![]).await {
                Ok(()) => break,
                Err(p) if p.status == 503 && attempt < BEGIN_ATTEMPTS => attempt += 1,
                Err(p) => return Err(p),
            }
        }
        match work(self).await {
            Ok(v) => match self.exec("COMMIT", vec![]).await {
                Ok(()) => Ok(v),
                Err(p) => {
                    let _ = self.exec("ROLLBACK", vec![]).await;
                    Err(p)
                }
            },
            Err(p) => {
                let _ = self.exec("ROLLBACK", vec![]).await;
                Err(p)
            }
        }
    }
}

/// Milliseconds since the Unix epoch (wasi:clocks wall clock).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `Value::Text` of an optional string, `Null` when absent.
pub fn text(v: Option<&str>) -> Value {
    v.map_or(Value::Null, |s| Value::Text(s.to_string()))
}

fn db_error(store: &str, e: DbError) -> Problem {
    let detail = match &e {
        DbError::Io(m) => m.clone(),
        other => format!("{other:?}"),
    };
    if detail.contains("locked") || detail.contains("busy") {
        return Problem::new(503, "unavailable", "Service unavailable")
            .with_detail(format!("the {store} store is busy; retry the same request"))
            .with_extension("retry_after_seconds", 1.into());
    }
    Problem::internal(format!("the {store} store failed: {detail}"))
}
