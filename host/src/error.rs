//! Converting wasmtime's errors.

use anyhow::Result;

/// Adds context to a wasmtime error, converting it to `anyhow` (wasmtime 48 has its own
/// error type, which anyhow's `Context` does not cover).
pub fn wt<T>(result: wasmtime::Result<T>, context: &str) -> Result<T> {
    result.map_err(|e| anyhow::Error::from(e).context(context.to_string()))
}
