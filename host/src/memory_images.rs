//! Building a component's copy-on-write memory images at load time, not at its first request.
//!
//! A fresh instance starts from its component's memory image. On Linux wasmtime writes each
//! module's initial memory into a memfd and seals it read-only, lazily, at the first
//! instantiation. The kernel refuses `F_ADD_SEALS` with `EBUSY` while a page of the memfd is
//! transiently pinned (seen once in CI: the first request to a freshly compiled component got
//! a 503, "cannot add seals to the memfd: Device or resource busy"). wasmtime keeps nothing
//! from a failed attempt, so building the images here, and retrying only that error, means no
//! request ever meets it.

use std::io;
use std::time::Duration;

use anyhow::Result;
use wasmtime::component::Component;

/// Attempts after the first before a busy memfd fails the load.
const BUSY_RETRIES: u32 = 20;

/// Pause before a retry, growing linearly: at most ~2 s in all.
const BUSY_PAUSE: Duration = Duration::from_millis(10);

/// Builds every memory image of `component` now, retrying while the kernel reports busy.
pub fn prepare(component: &Component) -> Result<()> {
    retry_while_busy(BUSY_RETRIES, BUSY_PAUSE, || {
        crate::error::wt(
            component.initialize_copy_on_write_image(),
            "building the copy-on-write memory images",
        )
    })
}

/// Runs `attempt` until it succeeds, fails with an error other than "resource busy", or has
/// been retried `retries` times; the n-th retry waits `n × pause`.
fn retry_while_busy<T>(
    retries: u32,
    pause: Duration,
    mut attempt: impl FnMut() -> Result<T>,
) -> Result<T> {
    let mut retried = 0;
    loop {
        match attempt() {
            Err(e) if is_busy(&e) && retried < retries => {
                retried += 1;
                std::thread::sleep(pause * retried);
            }
            Err(e) if retried > 0 => {
                return Err(e.context(format!("still failing after {retried} retries")));
            }
            result => return result,
        }
    }
}

/// Whether an I/O error anywhere in the chain is `EBUSY`.
fn is_busy(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::ResourceBusy)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error wasmtime returns: the memfd crate's error wrapping the OS error.
    #[derive(Debug)]
    struct AddSeals(io::Error);

    impl std::fmt::Display for AddSeals {
        fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("cannot add seals to the memfd")
        }
    }

    impl std::error::Error for AddSeals {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    /// Built as wasmtime builds it, then converted as `prepare` converts it.
    fn busy() -> anyhow::Error {
        let error = wasmtime::Error::new(AddSeals(io::Error::from_raw_os_error(16)))
            .context("instantiating");
        anyhow::Error::from(error)
    }

    #[test]
    fn ebusy_is_recognised_through_the_chain() {
        assert!(is_busy(&busy()));
        let other = anyhow::Error::new(AddSeals(io::Error::from_raw_os_error(12)));
        assert!(!is_busy(&other));
        assert!(!is_busy(&anyhow::anyhow!("Device or resource busy")));
    }

    #[test]
    fn a_transiently_busy_memfd_is_retried_until_it_succeeds() {
        let mut calls = 0;
        let result = retry_while_busy(5, Duration::ZERO, || {
            calls += 1;
            if calls < 4 { Err(busy()) } else { Ok(calls) }
        });
        assert_eq!(result.unwrap(), 4);
    }

    #[test]
    fn retries_are_bounded_and_say_so() {
        let mut calls = 0;
        let error = retry_while_busy(3, Duration::ZERO, || -> Result<()> {
            calls += 1;
            Err(busy())
        })
        .unwrap_err();
        assert_eq!(calls, 4);
        assert!(
            format!("{error:#}").contains("after 3 retries"),
            "{error:#}"
        );
        assert!(is_busy(&error));
    }

    #[test]
    fn other_errors_are_not_retried() {
        let mut calls = 0;
        let error = retry_while_busy(3, Duration::ZERO, || -> Result<()> {
            calls += 1;
            Err(anyhow::anyhow!("out of memory"))
        })
        .unwrap_err();
        assert_eq!(calls, 1);
        assert_eq!(error.to_string(), "out of memory");
    }
}
