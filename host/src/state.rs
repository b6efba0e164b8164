//! The per-instance store data: WASI contexts, the resource table, the memory limiter and the
//! component's view of the Spin platform.

use std::sync::Arc;

use wasmtime::component::{HasData, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::limits::MemoryLimiter;
use crate::outbound::OutboundHooks;
use crate::platform::ComponentPlatform;

/// Store data of one component instance.
pub struct HostState {
    /// WASI CLI/filesystem/clocks/random context (p2 and p3 share it).
    pub wasi: WasiCtx,
    /// `wasi:http` context.
    pub http: WasiHttpCtx,
    /// Resources handed to the guest (requests, connections, stores, ...).
    pub table: ResourceTable,
    /// Per-request memory cap; records whether it refused a growth.
    pub limiter: MemoryLimiter,
    /// What this component may use of the Spin platform.
    pub platform: Arc<ComponentPlatform>,
    /// Set when a store this request used could not be reached (Redis down): a failure of the
    /// request is then the store's, answered 503 rather than 500.
    pub store_unavailable: Option<String>,
    hooks: OutboundHooks,
}

impl HostState {
    /// New store data for one instance of the component described by `platform`.
    pub fn new(wasi: WasiCtx, platform: Arc<ComponentPlatform>, limiter: MemoryLimiter) -> Self {
        let hooks = OutboundHooks::new(Arc::clone(&platform.outbound));
        Self {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            limiter,
            platform,
            store_unavailable: None,
            hooks,
        }
    }

    /// The `wasi:http` hooks, needed to turn a host request into a guest request.
    pub fn http_hooks(&mut self) -> &mut dyn wasmtime_wasi_http::WasiHttpHooks {
        &mut self.hooks
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// `HasData` marker for the Spin interfaces: they all project the store data to `&mut HostState`.
pub struct Spin;

impl HasData for Spin {
    type Data<'a> = &'a mut HostState;
}
