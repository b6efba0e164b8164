//! The host's interfaces as factors, after Spin's `spin-factors` (`crates/factor-*`), in a
//! small local form: one module per interface, each owning
//!
//! - its runtime configuration (its `[table.<label>]` entries of the runtime config file, parsed
//!   in its `runtime_config.rs`; [`crate::runtime_config`] only reads the file and hands each
//!   table to its factor);
//! - its load-time configuration, [`Factor::configure_app`]: everything the manifest and the
//!   runtime config say about it is checked here, before any request (a component's store
//!   label that nothing defines is refused, as Spin refuses it);
//! - its per-instance state, [`Factor::prepare`], one field of [`crate::state::HostState`];
//! - its linking: an `add_to_linker` function taking the linker and, for the Spin interfaces, a
//!   getter from the store data to its instance state (the WASI ones need the resource table
//!   shared by `wasi:cli` and `wasi:http`, so they are linked through `WasiView` /
//!   `WasiHttpView` instead).
//!
//! | interface | module |
//! |---|---|
//! | WASI 0.2/0.3 CLI, filesystem, clocks; memory limiter | [`wasi`] |
//! | `wasi:http` outgoing (`allowed_outbound_hosts`) | [`outbound_http`] |
//! | `spin:key-value@3.0.0` (SQLite file or Redis) | [`key_value`] |
//! | `spin:sqlite@3.1.0` | [`sqlite`] |
//! | `spin:variables@3.0.0` | [`variables`] |
//!
//! Adding an interface: a module here implementing [`Factor`] (with a unit test on
//! `test_manifest.rs`), a field in `HostState` and `AppStates` and a line in
//! `state::linker`.

pub mod key_value;
pub mod outbound_http;
pub mod sqlite;
pub mod variables;
pub mod wasi;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, bail};

use crate::factors::variables::expressions::Value;
use crate::limits::Limits;
use crate::manifest::{ComponentConfig, Manifest};

/// What every factor sees when the application is loaded.
pub struct AppContext<'a> {
    /// The validated manifest.
    pub manifest: &'a Manifest,
    /// Where stores and staged files live.
    pub data_dir: &'a Path,
    /// The application variables, resolved (environment, then defaults).
    pub app_variables: &'a BTreeMap<String, Value>,
    /// Per-request limits.
    pub limits: &'a Limits,
}

/// One host interface: configured once per application, prepared once per instance.
pub trait Factor {
    /// Its part of the runtime config file (`()` when it has none).
    type RuntimeConfig;
    /// What it keeps for the whole application, shared by every instance.
    type AppState;
    /// What one instance of one component holds (a field of `HostState`).
    type InstanceState;

    /// Checks what the manifest and the runtime config say about this interface and builds
    /// its application state; an error stops the load.
    fn configure_app(ctx: &AppContext<'_>, config: &Self::RuntimeConfig) -> Result<Self::AppState>;

    /// The state of a new instance of `component_id` (a component the application does not
    /// have gets nothing granted).
    fn prepare(app: &Self::AppState, component_id: &str) -> Result<Self::InstanceState>;
}

/// Spin's rule for store labels: every label a component is granted (`key`, e.g.
/// `key_value_stores`) must be `default` or have a `[<table>.<label>]` entry in the runtime
/// config (`defined`); anything else is refused at load, naming the component.
pub fn check_labels_defined(
    manifest: &Manifest,
    (key, table): (&str, &str),
    labels: fn(&ComponentConfig) -> &Vec<String>,
    defined: impl Fn(&str) -> bool,
) -> Result<()> {
    for (id, comp) in &manifest.components {
        if let Some(label) = labels(comp)
            .iter()
            .find(|l| l.as_str() != "default" && !defined(l))
        {
            bail!(
                "{}: component `{id}`: `{key}` label `{label}` is not defined: only `default` \
                 is, unless the runtime config file (`--runtime-config-file`) has a \
                 `[{table}.{label}]` entry (Spin refuses it too)",
                manifest.path.display()
            );
        }
    }
    Ok(())
}
