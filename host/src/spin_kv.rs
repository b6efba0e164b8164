//! `spin:key-value/key-value@3.0.0` backed by SQLite, in Spin's own table layout
//! `spin_key_value(store, key, value)`.
//!
//! Store `default` lives in `<data-dir>/sqlite_key_value.db` (Spin's file name); any other label
//! gets its own file `<data-dir>/kv_<label>.db`. One connection per label is shared by all
//! instances (opened at startup), which keeps `open` cheap for instance-per-request.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use rusqlite::OptionalExtension;
use wasmtime::component::{Accessor, FutureReader, Resource, StreamReader};

use crate::bindings::key_value::{self, Error};
use crate::spin_sqlite::open_file;
use crate::state::{HostState, Spin};

/// One key-value store (a label), shared by every instance that may open it.
pub struct KvBackend {
    label: String,
    conn: Mutex<rusqlite::Connection>,
}

impl KvBackend {
    /// Opens (creating if needed) the SQLite file for store `label` in `data_dir`.
    pub fn open(data_dir: &Path, label: &str) -> anyhow::Result<Self> {
        let path = store_path(data_dir, label);
        let conn = open_file(&path).with_context(|| format!("opening {}", path.display()))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS spin_key_value (
                store TEXT NOT NULL,
                key   TEXT NOT NULL,
                value BLOB NOT NULL,
                PRIMARY KEY (store, key)
            )",
        )?;
        Ok(Self {
            label: label.to_string(),
            conn: Mutex::new(conn),
        })
    }

    /// Runs `work` on the connection on a blocking thread.
    async fn run<R: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&rusqlite::Connection, &str) -> rusqlite::Result<R> + Send + 'static,
    ) -> wasmtime::Result<Result<R, Error>> {
        let this = Arc::clone(self);
        let result = tokio::task::spawn_blocking(move || {
            let conn = this.conn.lock().unwrap_or_else(|p| p.into_inner());
            work(&conn, &this.label)
        })
        .await?;
        Ok(result.map_err(|e| Error::Other(e.to_string())))
    }
}

/// File backing key-value store `label`.
pub fn store_path(data_dir: &Path, label: &str) -> PathBuf {
    if label == "default" {
        data_dir.join("sqlite_key_value.db")
    } else {
        data_dir.join(format!("kv_{label}.db"))
    }
}

/// The `store` resource: a handle on one granted backend.
pub struct Store {
    backend: Arc<KvBackend>,
}

fn backend<T>(
    accessor: &Accessor<T, Spin>,
    this: &Resource<Store>,
) -> wasmtime::Result<Arc<KvBackend>> {
    accessor.with(|mut access| Ok(Arc::clone(&access.get().table.get(this)?.backend)))
}

impl key_value::Host for HostState {}

impl key_value::HostStore for HostState {
    fn drop(&mut self, rep: Resource<Store>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl<T> key_value::HostStoreWithStore<T> for Spin {
    async fn open(
        accessor: &Accessor<T, Self>,
        label: String,
    ) -> wasmtime::Result<Result<Resource<Store>, Error>> {
        accessor.with(|mut access| {
            let state = access.get();
            // Spin answers `access-denied` for a label the manifest does not grant.
            let Some(backend) = state.platform.key_value_stores.get(&label) else {
                return Ok(Err(Error::AccessDenied));
            };
            let store = Store {
                backend: Arc::clone(backend),
            };
            Ok(Ok(state.table.push(store)?))
        })
    }

    async fn get(
        accessor: &Accessor<T, Self>,
        this: Resource<Store>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        backend(accessor, &this)?
            .run(move |c, store| {
                c.query_row(
                    "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
                    (store, &key),
                    |row| row.get::<_, Vec<u8>>(0),
                )
                .optional()
            })
            .await
    }

    async fn set(
        accessor: &Accessor<T, Self>,
        this: Resource<Store>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        backend(accessor, &this)?
            .run(move |c, store| {
                c.execute(
                    "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                    (store, &key, &value),
                )
                .map(drop)
            })
            .await
    }

    async fn delete(
        accessor: &Accessor<T, Self>,
        this: Resource<Store>,
        key: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        backend(accessor, &this)?
            .run(move |c, store| {
                c.execute(
                    "DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2",
                    (store, &key),
                )
                .map(drop)
            })
            .await
    }

    async fn exists(
        accessor: &Accessor<T, Self>,
        this: Resource<Store>,
        key: String,
    ) -> wasmtime::Result<Result<bool, Error>> {
        backend(accessor, &this)?
            .run(move |c, store| {
                c.query_row(
                    "SELECT EXISTS (SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2)",
                    (store, &key),
                    |row| row.get::<_, bool>(0),
                )
            })
            .await
    }

    async fn get_keys(
        accessor: &Accessor<T, Self>,
        this: Resource<Store>,
    ) -> wasmtime::Result<(StreamReader<String>, FutureReader<Result<(), Error>>)> {
        let keys = backend(accessor, &this)?
            .run(|c, store| {
                let mut stmt =
                    c.prepare("SELECT key FROM spin_key_value WHERE store = ?1 ORDER BY key")?;
                stmt.query_map([store], |row| row.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let (keys, result) = match keys {
            Ok(keys) => (keys, Ok(())),
            Err(e) => (Vec::new(), Err(e)),
        };
        accessor.with(|mut access| {
            let keys = StreamReader::new(&mut access, keys)?;
            let done = FutureReader::new(&mut access, async move {
                wasmtime::Result::<Result<(), Error>>::Ok(result)
            })?;
            Ok((keys, done))
        })
    }
}
