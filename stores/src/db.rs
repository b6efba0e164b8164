//! The SQLite plumbing shared by the stores, over any [`Connection`]: numbered migrations
//! applied once, write transactions that take the lock up front and retry a busy start, and
//! database errors mapped onto problems (busy → 503 with a retry hint).
//!
//! Durability: every connection runs with `synchronous = FULL`; in WAL mode that syncs the log
//! on every commit, so an acknowledged write survives a power cut, not only a crashed host. A
//! request that dies inside a transaction drops its connection and SQLite rolls it back.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use tandem_core::foundation::problem::Problem;

/// How often a write tries to take the write lock, each try waiting up to the host's busy
/// timeout (5 s in `tandem`).
pub const BEGIN_ATTEMPTS: u32 = 4;

/// A numbered schema change. Never edit a shipped one: add a new version.
pub type Migration = (i64, &'static str);

/// A SQL parameter or column value: SQLite's five storage classes, as `spin:sqlite` has them.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Null,
}

/// One result row, its values in column order.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub values: Vec<Value>,
}

/// What [`Row::get`] converts a column to. The conversions are `spin_sdk::sqlite`'s, so a
/// query reads the same on every backend: integers only from `Integer`, `f64` only from `Real`,
/// `&str` from `Text` or UTF-8 `Blob`; anything else (and `Null`) is `None`.
pub trait FromValue<'a>: Sized {
    fn from_value(v: &'a Value) -> Option<Self>;
}

impl FromValue<'_> for i64 {
    fn from_value(v: &Value) -> Option<i64> {
        match v {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }
}

impl FromValue<'_> for f64 {
    fn from_value(v: &Value) -> Option<f64> {
        match v {
            Value::Real(f) => Some(*f),
            _ => None,
        }
    }
}

impl<'a> FromValue<'a> for &'a str {
    fn from_value(v: &'a Value) -> Option<&'a str> {
        match v {
            Value::Text(s) => Some(s),
            Value::Blob(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}

impl Row {
    /// Column `index` as `T`; `None` when it is missing, `Null` or of another kind.
    pub fn get<'a, T: FromValue<'a>>(&'a self, index: usize) -> Option<T> {
        self.values.get(index).and_then(T::from_value)
    }
}

/// One SQLite connection, owned by one request: the only thing a backend provides.
///
/// Transactions are statements like any other (`BEGIN IMMEDIATE`, `COMMIT`, `ROLLBACK`, issued
/// by [`Db::write`]), so every backend runs the same SQL in the same order.
// The components are single-threaded wasm; nothing needs the futures to be `Send`.
#[allow(async_fn_in_trait)]
pub trait Connection {
    /// Runs one statement with positional parameters and returns every row it yields (none for
    /// a statement that yields none). `Err` carries the database's message, which [`Db`] maps
    /// onto a problem ([`db_error`]).
    async fn query(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, String>;
}

/// A borrowed connection, so two stores can share one (the feedback stats read the ticket table).
impl<C: Connection> Connection for &C {
    async fn query(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, String> {
        (**self).query(sql, params).await
    }
}

/// A connection with a store's name, migrations applied.
pub struct Db<C> {
    conn: C,
    /// What the store is called in error messages (`feedback`, `ticket`).
    store: &'static str,
}

impl<C: Connection> Db<C> {
    /// Sets up `conn` and applies the missing `migrations`, recorded in table
    /// `<store>_migrations`. The fast path (schema current) is one read; the slow path re-checks
    /// under the write lock, so concurrent first requests apply each migration once, and the
    /// missing ones run in one transaction, so a store is never left half-migrated.
    pub async fn open(
        conn: C,
        store: &'static str,
        migrations: &[Migration],
    ) -> Result<Db<C>, Problem> {
        let db = Db { conn, store };
        db.exec("PRAGMA synchronous = FULL", vec![]).await?;
        let latest = migrations.last().map_or(0, |m| m.0);
        if db.schema_version().await? < latest {
            db.write(async |db: &Db<C>| {
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

    /// The highest migration applied, 0 on a fresh database.
    pub async fn schema_version(&self) -> Result<i64, Problem> {
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

    pub async fn query(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, Problem> {
        self.conn
            .query(sql, params)
            .await
            .map_err(|detail| db_error(self.store, &detail))
    }

    pub async fn exec(&self, sql: &str, params: Vec<Value>) -> Result<(), Problem> {
        self.query(sql, params).await.map(drop)
    }

    /// Runs `work` in a write transaction; rolls back on any error.
    pub async fn write<T>(
        &self,
        work: impl AsyncFnOnce(&Db<C>) -> Result<T, Problem>,
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

/// Milliseconds since the Unix epoch (wasi:clocks wall clock in a component).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `Value::Text` of an optional string, `Null` when absent.
pub fn text(v: Option<&str>) -> Value {
    v.map_or(Value::Null, |s| Value::Text(s.to_string()))
}

/// A database failure as a problem: busy or locked → 503 with a retry hint, anything else 500.
pub fn db_error(store: &str, detail: &str) -> Problem {
    if detail.contains("locked") || detail.contains("busy") {
        return Problem::new(503, "unavailable", "Service unavailable")
            .with_detail(format!("the {store} store is busy; retry the same request"))
            .with_extension("retry_after_seconds", 1.into());
    }
    Problem::internal(format!("the {store} store failed: {detail}"))
}
