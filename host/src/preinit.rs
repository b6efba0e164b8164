//! `tandem preinit`: pre-initialise a component with `wasmtime-wizer`, calling its
//! `wizer-initialize` export and snapshotting the resulting state into a new component.
//!
//! Equivalent to `wasmtime wizer -Scli -Shttp -Sp3 -Wcomponent-model-async --keep-init-func`.
//! The init function is kept exported: without it the output component failed to load.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use wasmtime::{Engine, Store};
use wasmtime_wizer::Wizer;

use crate::factors::outbound_http::{AllowedHosts, OutboundHttpState, OutboundPolicy};
use crate::factors::wasi::ComponentWasi;
use crate::state::HostState;

/// Name of the component export that initialises state worth snapshotting.
pub const INIT_FUNC: &str = "wizer-initialize";

/// Hostcall fuel for the snapshot: wizer copies each memory out through one host call, and
/// the 128 MiB default is exceeded by components holding larger models.
const HOSTCALL_FUEL: usize = 4 << 30;

/// Pre-initialises the component in `input`, writing the snapshot to `output`.
pub async fn preinit(input: &Path, output: &Path) -> Result<()> {
    let wasm = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let engine = Engine::new(&crate::app::base_config())?;
    let linker = crate::state::linker(&engine)?;

    // The initialiser gets WASI (stdio, clocks, random) but no Spin resources: state that
    // depends on databases or variables belongs in request handling, not in the snapshot.
    let state = HostState {
        wasi: ComponentWasi::bare(usize::MAX).prepare()?,
        // Nor any network: a snapshot must not depend on what a server answered.
        outbound_http: OutboundHttpState::new(Arc::new(OutboundPolicy::new(
            "preinit",
            AllowedHosts::default(),
        ))),
        key_value: Default::default(),
        sqlite: Default::default(),
        variables: Default::default(),
    };
    let mut store = Store::new(&engine, state);
    store.set_hostcall_fuel(HOSTCALL_FUEL);

    let mut wizer = Wizer::new();
    wizer.init_func(INIT_FUNC).keep_init_func(true);
    let (snapshot, _results) = wizer
        .run_component(&mut store, &wasm, async |store, component| {
            // A component that imports another Tandem service (handoff imports intent) is
            // pre-initialised before it is composed: those imports trap if called, and
            // initialisers must not call them (their results belong to requests).
            let mut linker = linker.clone();
            stub_service_imports(&mut linker, component)?;
            linker.instantiate_async(store, component).await
        })
        .await
        .map_err(anyhow::Error::from)
        .with_context(|| format!("pre-initialising {}", input.display()))?;
    std::fs::write(output, snapshot).with_context(|| format!("writing {}", output.display()))?;
    Ok(())
}

/// Defines every function of the component's `tandem:service/*` imports as a trap.
/// (`Linker::define_unknown_imports_as_traps` would also redefine type aliases of WASI
/// resources, such as `wasi:http/types#headers`, as new resources and break the link.)
fn stub_service_imports(
    linker: &mut wasmtime::component::Linker<HostState>,
    component: &wasmtime::component::Component,
) -> wasmtime::Result<()> {
    use wasmtime::component::types::ComponentItem;
    let engine = component.engine();
    for (name, item) in component.component_type().imports(engine) {
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            continue;
        };
        if !name.starts_with(crate::compose::SERVICE_PREFIX) {
            continue;
        }
        let mut stub = linker.instance(name)?;
        for (func, item) in instance.exports(engine) {
            let ComponentItem::ComponentFunc(ty) = item.ty else {
                continue;
            };
            let qualified = format!("{name}#{func}");
            // An `async func` import (ticket's `create`, say) must be satisfied by a
            // concurrent host function; a sync-style one fails the link.
            if ty.async_() {
                stub.func_new_concurrent(func, move |_, _, _, _| {
                    let qualified = qualified.clone();
                    Box::pin(async move {
                        wasmtime::bail!("{qualified} is not available during pre-initialisation")
                    })
                })?;
            } else {
                stub.func_new(func, move |_, _, _, _| {
                    wasmtime::bail!("{qualified} is not available during pre-initialisation")
                })?;
            }
        }
    }
    Ok(())
}
