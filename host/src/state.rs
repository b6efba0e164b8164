//! The store data of an instance, [`HostState`]: one field per factor ([`crate::factors`]),
//! the application states they are prepared from ([`AppStates`]), and the linker that links
//! every factor's interfaces.

use anyhow::Result;
use wasmtime::Engine;
use wasmtime::component::Linker;
use wasmtime_wasi::{WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpView};

use crate::factors::Factor;
use crate::factors::key_value::{self, KeyValueFactor, KeyValueState};
use crate::factors::outbound_http::{self, OutboundHttpFactor, OutboundHttpState};
use crate::factors::sqlite::{self, SqliteFactor, SqliteState};
use crate::factors::variables::{self, VariablesFactor, VariablesState};
use crate::factors::wasi::{self, WasiFactor, WasiState};

/// Store data of one component instance: each factor's instance state.
pub struct HostState {
    /// WASI context, the resource table (shared with `wasi:http`) and the memory limiter.
    pub wasi: WasiState,
    /// `wasi:http` context and the outbound hooks applying the component's policy.
    pub outbound_http: OutboundHttpState,
    /// The key-value stores the component may open.
    pub key_value: KeyValueState,
    /// The SQLite databases the component may open.
    pub sqlite: SqliteState,
    /// The component's variables.
    pub variables: VariablesState,
}

/// Every factor's application state, as [`crate::app::App::load`] configured it.
pub struct AppStates {
    /// [`WasiFactor`]'s.
    pub wasi: <WasiFactor as Factor>::AppState,
    /// [`OutboundHttpFactor`]'s.
    pub outbound_http: <OutboundHttpFactor as Factor>::AppState,
    /// [`KeyValueFactor`]'s.
    pub key_value: <KeyValueFactor as Factor>::AppState,
    /// [`SqliteFactor`]'s.
    pub sqlite: <SqliteFactor as Factor>::AppState,
    /// [`VariablesFactor`]'s.
    pub variables: <VariablesFactor as Factor>::AppState,
}

impl HostState {
    /// Store data for a new instance of `component_id`.
    pub fn prepare(app: &AppStates, component_id: &str) -> Result<Self> {
        Ok(Self {
            wasi: WasiFactor::prepare(&app.wasi, component_id)?,
            outbound_http: OutboundHttpFactor::prepare(&app.outbound_http, component_id)?,
            key_value: KeyValueFactor::prepare(&app.key_value, component_id)?,
            sqlite: SqliteFactor::prepare(&app.sqlite, component_id)?,
            variables: VariablesFactor::prepare(&app.variables, component_id)?,
        })
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.wasi.view()
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        self.outbound_http.view(&mut self.wasi.table)
    }
}

/// A linker with everything a spin-sdk 7 component may import: WASI 0.2 and 0.3 CLI,
/// `wasi:http@0.3`, and the Spin sqlite/key-value/variables interfaces.
pub fn linker(engine: &Engine) -> Result<Linker<HostState>> {
    let mut linker: Linker<HostState> = Linker::new(engine);
    wasi::add_to_linker(&mut linker)?;
    outbound_http::add_to_linker(&mut linker)?;
    sqlite::add_to_linker(&mut linker, |s| &mut s.sqlite)?;
    key_value::add_to_linker(&mut linker, |s| &mut s.key_value)?;
    variables::add_to_linker(&mut linker, |s| &mut s.variables)?;
    Ok(linker)
}
