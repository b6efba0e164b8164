//! One key-value store (a label) on a SQLite file or on Redis ([`super::redis_store`]).
//!
//! SQLite: Spin's own table layout `spin_key_value(store, key, value)`. Store `default` lives in
//! `<data-dir>/sqlite_key_value.db` (Spin's file name); any other label gets its own file
//! `<data-dir>/kv_<label>.db`; a runtime config `[key_value_store.<label>] type = "spin"` with a
//! `path` moves it. One connection per label is shared by all instances (opened at load),
//! which keeps `open` cheap for instance-per-request.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use rusqlite::OptionalExtension;

use super::error::KvError;
use super::redis_store::RedisStore;
use super::runtime_config::KvConfig;
use crate::factors::sqlite::file::open_file;

enum Engine {
    File(Mutex<rusqlite::Connection>),
    Redis(RedisStore),
}

/// One key-value store (a label), shared by every instance that may open it.
pub struct KvBackend {
    label: String,
    engine: Engine,
}

impl KvBackend {
    /// Opens store `label` as `config` says (none: the default file in `data_dir`). A Redis
    /// store is connected to (and pinged) now, so a Redis that is down fails the load.
    pub fn open(data_dir: &Path, label: &str, config: Option<&KvConfig>) -> anyhow::Result<Self> {
        match config {
            None | Some(KvConfig::Spin { path: None }) => {
                Self::open_file(&store_path(data_dir, label), label)
            }
            Some(KvConfig::Spin { path: Some(path) }) => Self::open_file(path, label),
            Some(KvConfig::Redis { url }) => Ok(Self {
                label: label.to_string(),
                engine: Engine::Redis(
                    RedisStore::connect(url)
                        .with_context(|| format!("key-value store `{label}`"))?,
                ),
            }),
        }
    }

    /// Opens (creating if needed) SQLite file `path` for store `label`.
    pub fn open_file(path: &Path, label: &str) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let conn = open_file(path).with_context(|| format!("opening {}", path.display()))?;
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
            engine: Engine::File(Mutex::new(conn)),
        })
    }

    /// Runs `work` on a blocking thread (both engines block).
    async fn run<R: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&Self) -> Result<R, KvError> + Send + 'static,
    ) -> Result<R, KvError> {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || work(&this))
            .await
            .unwrap_or_else(|e| Err(KvError::Other(format!("key-value worker failed: {e}"))))
    }

    fn file<R>(
        &self,
        conn: &Mutex<rusqlite::Connection>,
        work: impl FnOnce(&rusqlite::Connection, &str) -> rusqlite::Result<R>,
    ) -> Result<R, KvError> {
        let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
        work(&conn, &self.label).map_err(|e| KvError::Other(e.to_string()))
    }

    /// The value of `key`, if any.
    pub async fn get(self: &Arc<Self>, key: String) -> Result<Option<Vec<u8>>, KvError> {
        self.run(move |this| match &this.engine {
            Engine::File(c) => this.file(c, |c, store| {
                c.query_row(
                    "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
                    (store, &key),
                    |row| row.get::<_, Vec<u8>>(0),
                )
                .optional()
            }),
            Engine::Redis(r) => r.run(|c| redis::cmd("GET").arg(&key).query(c)),
        })
        .await
    }

    /// Sets `key` to `value`, replacing any value it had.
    pub async fn set(self: &Arc<Self>, key: String, value: Vec<u8>) -> Result<(), KvError> {
        self.run(move |this| match &this.engine {
            Engine::File(c) => this.file(c, |c, store| {
                c.execute(
                    "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                    (store, &key, &value),
                )
                .map(drop)
            }),
            Engine::Redis(r) => r.run(|c| redis::cmd("SET").arg(&key).arg(&value[..]).query(c)),
        })
        .await
    }

    /// Removes `key` (no error when it is absent).
    pub async fn delete(self: &Arc<Self>, key: String) -> Result<(), KvError> {
        self.run(move |this| match &this.engine {
            Engine::File(c) => this.file(c, |c, store| {
                c.execute(
                    "DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2",
                    (store, &key),
                )
                .map(drop)
            }),
            Engine::Redis(r) => r.run(|c| redis::cmd("DEL").arg(&key).query::<i64>(c).map(drop)),
        })
        .await
    }

    /// Whether `key` has a value.
    pub async fn exists(self: &Arc<Self>, key: String) -> Result<bool, KvError> {
        self.run(move |this| match &this.engine {
            Engine::File(c) => this.file(c, |c, store| {
                c.query_row(
                    "SELECT EXISTS (SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2)",
                    (store, &key),
                    |row| row.get::<_, bool>(0),
                )
            }),
            Engine::Redis(r) => r.run(|c| redis::cmd("EXISTS").arg(&key).query(c)),
        })
        .await
    }

    /// Every key, sorted.
    pub async fn keys(self: &Arc<Self>) -> Result<Vec<String>, KvError> {
        self.run(|this| match &this.engine {
            Engine::File(c) => this.file(c, |c, store| {
                let mut stmt =
                    c.prepare("SELECT key FROM spin_key_value WHERE store = ?1 ORDER BY key")?;
                stmt.query_map([store], |row| row.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            }),
            Engine::Redis(r) => r.run(|c| {
                // SCAN rather than KEYS: it does not block the server on a large database.
                let mut keys = Vec::new();
                let mut cursor = 0u64;
                loop {
                    let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("COUNT")
                        .arg(1000)
                        .query(c)?;
                    keys.extend(batch);
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
                keys.sort();
                keys.dedup();
                Ok(keys)
            }),
        })
        .await
    }
}

/// Default file backing key-value store `label`.
pub fn store_path(data_dir: &Path, label: &str) -> PathBuf {
    if label == "default" {
        data_dir.join("sqlite_key_value.db")
    } else {
        data_dir.join(format!("kv_{label}.db"))
    }
}

#[cfg(test)]
mod tests {
    //! The same assertions against the SQLite file store and a real Redis (Debian's
    //! `redis-server`, started here on a free loopback port in a temporary directory).

    use super::*;
    use std::time::Duration;

    /// A `redis-server` child on a free port, killed on drop.
    struct Redis {
        child: std::process::Child,
        port: u16,
        _dir: tempfile::TempDir,
    }

    impl Redis {
        fn start() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = std::process::Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(dir.path())
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("redis-server (Debian package `redis-server`) must be installed");
            let redis = Self {
                child,
                port,
                _dir: dir,
            };
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "redis-server did not start"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            redis
        }

        fn url(&self) -> String {
            format!("redis://127.0.0.1:{}", self.port)
        }
    }

    impl Drop for Redis {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    async fn behaves_as_a_spin_store(kv: Arc<KvBackend>) {
        assert_eq!(kv.get("missing".into()).await, Ok(None));
        assert_eq!(kv.exists("missing".into()).await, Ok(false));
        assert_eq!(kv.keys().await, Ok(vec![]));
        kv.set("b".into(), b"one".to_vec()).await.unwrap();
        kv.set("b".into(), b"two".to_vec()).await.unwrap();
        assert_eq!(kv.get("b".into()).await, Ok(Some(b"two".to_vec())));
        // Binary and empty values, non-ASCII keys.
        kv.set("a".into(), vec![0, 255, 10, 13]).await.unwrap();
        kv.set("会话:1".into(), Vec::new()).await.unwrap();
        assert_eq!(kv.get("a".into()).await, Ok(Some(vec![0, 255, 10, 13])));
        assert_eq!(kv.get("会话:1".into()).await, Ok(Some(Vec::new())));
        assert_eq!(kv.exists("会话:1".into()).await, Ok(true));
        assert_eq!(
            kv.keys().await,
            Ok(vec!["a".to_string(), "b".to_string(), "会话:1".to_string()])
        );
        kv.delete("b".into()).await.unwrap();
        kv.delete("never-set".into()).await.unwrap();
        assert_eq!(kv.get("b".into()).await, Ok(None));
        assert_eq!(kv.exists("b".into()).await, Ok(false));
        assert_eq!(
            kv.keys().await,
            Ok(vec!["a".to_string(), "会话:1".to_string()])
        );
        // A value near Spin's 1 MB limit.
        let big = vec![7u8; 1 << 20];
        kv.set("big".into(), big.clone()).await.unwrap();
        assert_eq!(kv.get("big".into()).await, Ok(Some(big)));
        // Concurrent writers to distinct keys all land.
        let writes = (0..32).map(|i| {
            let kv = Arc::clone(&kv);
            async move { kv.set(format!("k{i:02}"), vec![i]).await }
        });
        for r in futures::future::join_all(writes).await {
            r.unwrap();
        }
        for i in 0..32u8 {
            assert_eq!(kv.get(format!("k{i:02}")).await, Ok(Some(vec![i])));
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn file_store_behaves_as_a_spin_store() {
        let dir = tempfile::tempdir().unwrap();
        let kv = KvBackend::open(dir.path(), "default", None).unwrap();
        behaves_as_a_spin_store(Arc::new(kv)).await;
        // The default label keeps Spin's file name; a configured path is used as given.
        assert!(dir.path().join("sqlite_key_value.db").exists());
        let path = dir.path().join("nested/kv.db");
        let config = KvConfig::Spin {
            path: Some(path.clone()),
        };
        KvBackend::open(dir.path(), "default", Some(&config)).unwrap();
        assert!(path.exists());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn redis_store_behaves_as_a_spin_store() {
        let redis = Redis::start();
        let config = KvConfig::Redis { url: redis.url() };
        let kv = KvBackend::open(Path::new("/nonexistent"), "default", Some(&config)).unwrap();
        behaves_as_a_spin_store(Arc::new(kv)).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn redis_down_fails_the_load_and_then_requests_as_unavailable() {
        let mut redis = Redis::start();
        let url = format!("redis://:hunter2@127.0.0.1:{}", redis.port);
        // A wrong password is not "unavailable": the server refused.
        let config = KvConfig::Redis { url };
        let e = KvBackend::open(Path::new("/"), "default", Some(&config))
            .err()
            .unwrap();
        let msg = format!("{e:#}");
        assert!(!msg.contains("hunter2"), "{msg}");
        assert!(msg.contains("`default`"), "{msg}");

        let config = KvConfig::Redis { url: redis.url() };
        let kv = Arc::new(KvBackend::open(Path::new("/"), "default", Some(&config)).unwrap());
        kv.set("k".into(), b"v".to_vec()).await.unwrap();
        redis.child.kill().unwrap();
        redis.child.wait().unwrap();
        match kv.get("k".into()).await {
            Err(KvError::Unavailable(m)) => assert!(m.contains("unavailable"), "{m}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
        let e = KvBackend::open(Path::new("/"), "default", Some(&config))
            .err()
            .unwrap();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("unavailable") && msg.contains(&redis.url()),
            "{msg}"
        );
    }

    /// Figures for docs/production.md: one `get` + one `set` of a 4 KiB value (an assist turn's
    /// store traffic), file store vs Redis on loopback. `cargo test --release -p tandem-host --lib
    /// kv_latency -- --ignored --nocapture`.
    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "timing, not a check"]
    async fn kv_latency() {
        async fn time(kv: Arc<KvBackend>) -> (f64, f64) {
            let value = vec![b'x'; 4096];
            let mut samples = Vec::new();
            for i in 0..2000 {
                let key = format!("assist:conversation:{}", i % 100);
                let start = std::time::Instant::now();
                kv.get(key.clone()).await.unwrap();
                kv.set(key, value.clone()).await.unwrap();
                samples.push(start.elapsed().as_secs_f64() * 1e6);
            }
            samples.sort_by(f64::total_cmp);
            (
                samples[samples.len() / 2],
                samples[samples.len() * 99 / 100],
            )
        }
        let dir = tempfile::tempdir().unwrap();
        let file = time(Arc::new(
            KvBackend::open(dir.path(), "default", None).unwrap(),
        ))
        .await;
        let redis = Redis::start();
        let config = KvConfig::Redis { url: redis.url() };
        let on_redis = time(Arc::new(
            KvBackend::open(dir.path(), "default", Some(&config)).unwrap(),
        ))
        .await;
        println!("get+set 4 KiB, p50/p99 us: file {file:.0?}, redis {on_redis:.0?}");
    }
}
