//! The SQL of Tandem's two stores, [`ticket`] and [`feedback`]: every query, migration and
//! transaction, written once over the small [`Connection`] trait (run a statement, get its rows).
//!
//! Two backends implement it: `spin:sqlite` inside the components (`tandem_adapter::sqlite`),
//! and rusqlite natively ([`native`], feature `native`), on which this crate's unit tests run
//! every query and every migration without wasm or a host (docs/tickets.md, "Tested natively").
//! The crate has no Spin dependency, so the components and native code share it unchanged.

pub mod db;
pub mod drilldown;
pub mod feedback;
pub mod graph;
pub mod knowledge;
#[cfg(any(test, feature = "native"))]
pub mod native;
pub mod outbox;
pub mod ticket;

#[cfg(test)]
mod tests;

pub use db::{Connection, Db, Migration, Row, Value};

/// `N` bytes from `wasi:random` (the OS natively): ids and secrets.
#[allow(clippy::result_large_err)]
pub(crate) fn random<const N: usize>() -> Result<[u8; N], tandem_core::foundation::problem::Problem>
{
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| {
        tandem_core::foundation::problem::Problem::internal(format!("no randomness available: {e}"))
    })?;
    Ok(bytes)
}
