//! Per-request resource limits: wall-clock time (epoch interruption), linear memory
//! (a `ResourceLimiter`) and request body size.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{Engine, ResourceLimiter};

/// How often the epoch advances; the timeout resolution.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits applied to every request, each affecting only the request that hits it.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock budget of one request.
    pub timeout: Duration,
    /// Largest linear memory an instance may grow to, in bytes.
    pub max_memory: usize,
    /// Largest request body accepted, in bytes.
    pub max_body: u64,
}

impl Limits {
    /// Epoch ticks that make up the timeout (at least one).
    pub fn epoch_ticks(&self) -> u64 {
        (self.timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }
}

/// A memory limiter that remembers it refused a growth, so a trap that follows can be
/// reported as "memory limit exceeded" rather than as an anonymous component failure.
pub struct MemoryLimiter {
    max_memory: usize,
    hit: bool,
}

impl MemoryLimiter {
    /// Limiter allowing memories up to `max_memory` bytes.
    pub fn new(max_memory: usize) -> Self {
        Self {
            max_memory,
            hit: false,
        }
    }

    /// Whether a memory growth was refused since the last [`MemoryLimiter::reset`].
    pub fn hit(&self) -> bool {
        self.hit
    }

    /// Forgets earlier refusals (a reused instance starts a new request).
    pub fn reset(&mut self) {
        self.hit = false;
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables are bounded by the pooling allocator; a generous cap guards the on-demand case.
        Ok(desired <= 1_000_000)
    }
}

/// Advances the engine epoch every [`EPOCH_TICK`] until the returned guard is dropped.
///
/// A plain thread rather than a tokio task: a busy guest can occupy every runtime worker,
/// and the ticker must keep running to interrupt exactly those guests.
pub fn start_epoch_ticker(engine: &Engine) -> EpochTicker {
    let stop = Arc::new(AtomicBool::new(false));
    let engine = engine.clone();
    let flag = Arc::clone(&stop);
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .expect("spawning the epoch ticker thread");
    EpochTicker { stop }
}

/// Stops the epoch ticker when dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_becomes_whole_epoch_ticks_at_least_one() {
        let limits = |ms| Limits {
            timeout: Duration::from_millis(ms),
            max_memory: 1 << 20,
            max_body: 1024,
        };
        assert_eq!(limits(30_000).epoch_ticks(), 3_000);
        assert_eq!(limits(15).epoch_ticks(), 1);
        assert_eq!(limits(0).epoch_ticks(), 1);
    }

    #[test]
    fn memory_limiter_refuses_growth_past_the_cap_and_remembers_until_reset() {
        let mut limiter = MemoryLimiter::new(64 << 10);
        assert!(limiter.memory_growing(0, 64 << 10, None).unwrap());
        assert!(!limiter.hit());
        assert!(
            !limiter
                .memory_growing(64 << 10, (64 << 10) + 1, None)
                .unwrap()
        );
        assert!(limiter.hit());
        // A later growth within the cap does not clear the record of the refusal.
        assert!(limiter.memory_growing(0, 1, None).unwrap());
        assert!(limiter.hit());
        limiter.reset();
        assert!(!limiter.hit());
        assert!(limiter.table_growing(0, 1_000_000, None).unwrap());
        assert!(!limiter.table_growing(0, 1_000_001, None).unwrap());
    }
}
