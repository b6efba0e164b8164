//! A key-value store on Redis: keys as they are, values as bytes, as Spin's Redis store keeps
//! them, so Spin and this host can share one Redis.
//!
//! Connections are pooled per label and used on blocking threads with 2 s timeouts; a
//! connection that fails is dropped, and an operation that failed on a pooled connection (Redis
//! restarted since) is retried once on a fresh one (every operation here is idempotent).

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::error::KvError;
use super::runtime_config::redact_url;

/// How long connecting to Redis may take.
const REDIS_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one Redis command may wait for its answer (or to be written).
const REDIS_IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Idle Redis connections kept per store.
const REDIS_MAX_IDLE: usize = 32;
/// Connect helpers per store that may be left waiting on a server that does not answer.
const REDIS_MAX_STUCK: usize = 4;

/// A Redis server behind one store label: the client and a pool of idle connections.
pub struct RedisStore {
    client: redis::Client,
    /// The URL with its password redacted, for messages.
    shown: String,
    idle: Mutex<Vec<redis::Connection>>,
    /// Connect helpers given up on and still waiting (see [`RedisStore::fresh`]).
    stuck: Arc<AtomicUsize>,
}

impl RedisStore {
    /// Checks the URL and that the server answers `PING` now.
    pub fn connect(url: &str) -> anyhow::Result<Self> {
        let shown = redact_url(url);
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("`{shown}` is not a usable Redis URL: {e}"))?;
        let store = Self {
            client,
            shown,
            idle: Mutex::new(Vec::new()),
            stuck: Arc::default(),
        };
        store
            .run(|c| redis::cmd("PING").query::<String>(c))
            .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
        Ok(store)
    }

    /// A new connection with the I/O timeouts set.
    ///
    /// The client's handshake after the TCP connect (`CLIENT SETINFO`, `AUTH`, `SELECT`) reads
    /// without a timeout, so a hung server (stopped, partitioned) would hold the caller for
    /// good: the connect runs on a helper thread and the caller waits at most
    /// [`REDIS_CONNECT_TIMEOUT`] plus [`REDIS_IO_TIMEOUT`]. A helper given up on ends when the
    /// server answers or the connection breaks; while [`REDIS_MAX_STUCK`] of them are still
    /// waiting, a connect fails at once instead of leaving another thread behind.
    fn fresh(&self) -> redis::RedisResult<redis::Connection> {
        const RUNNING: u8 = 0;
        const DONE: u8 = 1;
        const ABANDONED: u8 = 2;
        let timed_out = || {
            redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connecting to Redis timed out",
            ))
        };
        if self.stuck.load(Ordering::SeqCst) >= REDIS_MAX_STUCK {
            return Err(timed_out());
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let state = Arc::new(AtomicU8::new(RUNNING));
        let (client, helper_state, stuck) = (
            self.client.clone(),
            Arc::clone(&state),
            Arc::clone(&self.stuck),
        );
        std::thread::spawn(move || {
            let _ = tx.send(client.get_connection_with_timeout(REDIS_CONNECT_TIMEOUT));
            if helper_state.swap(DONE, Ordering::SeqCst) == ABANDONED {
                stuck.fetch_sub(1, Ordering::SeqCst);
            }
        });
        let conn = match rx.recv_timeout(REDIS_CONNECT_TIMEOUT + REDIS_IO_TIMEOUT) {
            Ok(conn) => conn?,
            Err(_) => {
                match state.compare_exchange(RUNNING, ABANDONED, Ordering::SeqCst, Ordering::SeqCst)
                {
                    Ok(_) => {
                        self.stuck.fetch_add(1, Ordering::SeqCst);
                        return Err(timed_out());
                    }
                    // It finished just now: its result is in the channel.
                    Err(_) => rx.try_recv().map_err(|_| timed_out())??,
                }
            }
        };
        conn.set_read_timeout(Some(REDIS_IO_TIMEOUT))?;
        conn.set_write_timeout(Some(REDIS_IO_TIMEOUT))?;
        Ok(conn)
    }

    fn error(&self, e: &redis::RedisError) -> KvError {
        if unreachable(e) {
            KvError::Unavailable(format!("Redis at {} is unavailable: {e}", self.shown))
        } else {
            KvError::Other(format!("Redis at {}: {e}", self.shown))
        }
    }

    /// Runs `op` on a pooled (or new) connection; see the module docs for the retry.
    pub fn run<R>(
        &self,
        op: impl Fn(&mut redis::Connection) -> redis::RedisResult<R>,
    ) -> Result<R, KvError> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let reused = pooled.is_some();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => self.fresh().map_err(|e| self.error(&e))?,
        };
        let mut result = op(&mut conn);
        if reused && result.as_ref().is_err_and(unreachable) {
            conn = self.fresh().map_err(|e| self.error(&e))?;
            result = op(&mut conn);
        }
        match result {
            Ok(value) => {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                if idle.len() < REDIS_MAX_IDLE {
                    idle.push(conn);
                }
                Ok(value)
            }
            // The connection is dropped: after an error its state is unknown.
            Err(e) => Err(self.error(&e)),
        }
    }
}

/// Whether a Redis error means "cannot be reached now" rather than "refused this command".
fn unreachable(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || matches!(
            e.kind(),
            redis::ErrorKind::BusyLoadingError
                | redis::ErrorKind::TryAgain
                | redis::ErrorKind::MasterDown
                | redis::ErrorKind::ReadOnly
        )
}
