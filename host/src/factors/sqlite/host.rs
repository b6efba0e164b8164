//! The `spin:sqlite` host functions on a [`SqliteState`]. Each guest `open` gets its own SQLite
//! connection, so `last-insert-rowid`/`changes` and transactions belong to that guest
//! connection only.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::types::ValueRef;
use wasmtime::component::{
    Accessor, FutureReader, HasData, Linker, Resource, ResourceTable, StreamReader,
};

use self::bindings::spin::sqlite::sqlite::{self, Error, QueryResult, RowResult, Value};
use super::file::open_file;

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "tandem:host/sqlite",
        imports: { default: trappable },
        with: {
            "spin:sqlite/sqlite.connection": crate::factors::sqlite::host::Connection,
        },
    });
}

/// What one instance may open, and the connections it has open.
#[derive(Default)]
pub struct SqliteState {
    table: ResourceTable,
    databases: Arc<BTreeMap<String, PathBuf>>,
}

impl SqliteState {
    /// State of an instance granted `databases` (label → file).
    pub fn new(databases: Arc<BTreeMap<String, PathBuf>>) -> Self {
        Self {
            table: ResourceTable::new(),
            databases,
        }
    }

    /// The databases the component may open: label → file.
    pub fn databases(&self) -> &BTreeMap<String, PathBuf> {
        &self.databases
    }
}

/// `HasData` marker: the interface projects the store data to its [`SqliteState`].
struct Sqlite;

impl HasData for Sqlite {
    type Data<'a> = &'a mut SqliteState;
}

/// Links `spin:sqlite`; `get` finds the instance's state in the store data.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut SqliteState,
) -> anyhow::Result<()> {
    crate::error::wt(
        sqlite::add_to_linker::<T, Sqlite>(linker, get),
        "linking spin:sqlite",
    )
}

/// The `connection` resource: one SQLite connection owned by one guest handle.
pub struct Connection {
    conn: Arc<Mutex<rusqlite::Connection>>,
}

fn io_error(e: impl std::fmt::Display) -> Error {
    Error::Io(e.to_string())
}

/// Opens `label` for the calling component, enforcing its `sqlite_databases` grant.
fn open(state: &mut SqliteState, label: &str) -> Result<Connection, Error> {
    let Some(path) = state.databases.get(label) else {
        return Err(Error::AccessDenied);
    };
    let conn = open_file(path).map_err(io_error)?;
    Ok(Connection {
        conn: Arc::new(Mutex::new(conn)),
    })
}

/// Runs one statement and collects its result set.
fn execute(
    conn: &rusqlite::Connection,
    statement: &str,
    parameters: Vec<Value>,
) -> Result<QueryResult, Error> {
    let mut stmt = conn.prepare(statement).map_err(io_error)?;
    let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
    let params: Vec<rusqlite::types::Value> = parameters.into_iter().map(to_sql).collect();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params))
        .map_err(io_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(io_error)? {
        let values = (0..columns.len())
            .map(|i| row.get_ref(i).map(from_sql).map_err(io_error))
            .collect::<Result<Vec<_>, _>>()?;
        out.push(RowResult { values });
    }
    Ok(QueryResult { columns, rows: out })
}

fn to_sql(v: Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Integer(i) => V::Integer(i),
        Value::Real(r) => V::Real(r),
        Value::Text(t) => V::Text(t),
        Value::Blob(b) => V::Blob(b),
        Value::Null => V::Null,
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

fn shared(
    state: &mut SqliteState,
    rep: &Resource<Connection>,
) -> wasmtime::Result<Arc<Mutex<rusqlite::Connection>>> {
    Ok(Arc::clone(&state.table.get(rep)?.conn))
}

/// Runs blocking SQLite work off the async executor.
async fn blocking<R: Send + 'static>(
    conn: Arc<Mutex<rusqlite::Connection>>,
    work: impl FnOnce(&rusqlite::Connection) -> R + Send + 'static,
) -> wasmtime::Result<R> {
    Ok(tokio::task::spawn_blocking(move || {
        let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
        work(&conn)
    })
    .await?)
}

impl sqlite::Host for SqliteState {}

impl sqlite::HostConnection for SqliteState {
    fn open(&mut self, database: String) -> wasmtime::Result<Result<Resource<Connection>, Error>> {
        match open(self, &database) {
            Ok(conn) => Ok(Ok(self.table.push(conn)?)),
            Err(e) => Ok(Err(e)),
        }
    }

    fn execute(
        &mut self,
        this: Resource<Connection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<Result<QueryResult, Error>> {
        let conn = shared(self, &this)?;
        let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
        Ok(execute(&conn, &statement, parameters))
    }

    fn last_insert_rowid(&mut self, this: Resource<Connection>) -> wasmtime::Result<i64> {
        let conn = shared(self, &this)?;
        let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
        Ok(conn.last_insert_rowid())
    }

    fn changes(&mut self, this: Resource<Connection>) -> wasmtime::Result<u64> {
        let conn = shared(self, &this)?;
        let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
        Ok(conn.changes())
    }

    fn drop(&mut self, rep: Resource<Connection>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl<T> sqlite::HostConnectionWithStore<T> for Sqlite {
    async fn open_async(
        accessor: &Accessor<T, Self>,
        database: String,
    ) -> wasmtime::Result<Result<Resource<Connection>, Error>> {
        let path = accessor.with(|mut access| access.get().databases.get(&database).cloned());
        let Some(path) = path else {
            return Ok(Err(Error::AccessDenied));
        };
        let opened = tokio::task::spawn_blocking(move || open_file(&path)).await?;
        match opened {
            Ok(conn) => {
                let conn = Connection {
                    conn: Arc::new(Mutex::new(conn)),
                };
                Ok(Ok(
                    accessor.with(|mut access| access.get().table.push(conn))?
                ))
            }
            Err(e) => Ok(Err(io_error(e))),
        }
    }

    async fn execute_async(
        accessor: &Accessor<T, Self>,
        this: Resource<Connection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<
        Result<
            (
                Vec<String>,
                StreamReader<RowResult>,
                FutureReader<Result<(), Error>>,
            ),
            Error,
        >,
    > {
        let conn = accessor.with(|mut access| shared(access.get(), &this))?;
        // The whole result set is read before the stream starts: statements here are small,
        // and it keeps the SQLite lock from being held across guest suspension points.
        let result = blocking(conn, move |c| execute(c, &statement, parameters)).await?;
        let QueryResult { columns, rows } = match result {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        accessor.with(|mut access| {
            let rows = StreamReader::new(&mut access, rows)?;
            let done = FutureReader::new(&mut access, async {
                wasmtime::Result::<Result<(), Error>>::Ok(Ok(()))
            })?;
            Ok(Ok((columns, rows, done)))
        })
    }

    async fn last_insert_rowid_async(
        accessor: &Accessor<T, Self>,
        this: Resource<Connection>,
    ) -> wasmtime::Result<i64> {
        let conn = accessor.with(|mut access| shared(access.get(), &this))?;
        blocking(conn, |c| c.last_insert_rowid()).await
    }

    async fn changes_async(
        accessor: &Accessor<T, Self>,
        this: Resource<Connection>,
    ) -> wasmtime::Result<u64> {
        let conn = accessor.with(|mut access| shared(access.get(), &this))?;
        blocking(conn, |c| c.changes()).await
    }
}
