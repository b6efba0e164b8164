//! WASI 0.2 and 0.3 (CLI, filesystem, clocks, random) for every component, and the instance's
//! memory limiter.
//!
//! An instance gets stdout and stderr, its manifest `environment`, and its `files` read-only
//! at `/` (staged under the data dir when the component is loaded, [`crate::files`]). Its
//! resource table is the one `wasi:http` uses too ([`crate::state::HostState`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::error::wt;
use crate::factors::{AppContext, Factor};
use crate::limits::MemoryLimiter;

/// The WASI factor.
pub struct WasiFactor;

/// What an instance of one component gets of WASI.
#[derive(Debug, Clone, Default)]
pub struct ComponentWasi {
    environment: Vec<(String, String)>,
    mount: Option<PathBuf>,
    max_memory: usize,
}

impl ComponentWasi {
    /// No environment, no files, and memory limited to `max_memory` bytes (`tandem preinit`).
    pub fn bare(max_memory: usize) -> Self {
        Self {
            max_memory,
            ..Self::default()
        }
    }

    /// A new instance's WASI state.
    pub fn prepare(&self) -> Result<WasiState> {
        let mut wasi = WasiCtxBuilder::new();
        wasi.inherit_stdout()
            .inherit_stderr()
            .envs(&self.environment);
        if let Some(dir) = &self.mount {
            wasi.preopened_dir(dir, "/", FsPerms::ReadOnly)?;
        }
        Ok(WasiState {
            ctx: wasi.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(self.max_memory),
        })
    }
}

/// WASI of every component, by id.
pub type AppState = BTreeMap<String, Arc<ComponentWasi>>;

/// One instance's WASI context, resource table and memory limiter.
pub struct WasiState {
    ctx: WasiCtx,
    /// Resources handed to the guest (requests, streams, ...), shared with `wasi:http`.
    pub table: ResourceTable,
    /// Per-request memory cap; records whether it refused a growth.
    pub limiter: MemoryLimiter,
}

impl WasiState {
    /// The view `wasmtime-wasi` works on.
    pub fn view(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

impl Factor for WasiFactor {
    type RuntimeConfig = ();
    type AppState = AppState;
    type InstanceState = WasiState;

    fn configure_app(ctx: &AppContext<'_>, _config: &()) -> Result<AppState> {
        Ok(ctx
            .manifest
            .components
            .iter()
            .map(|(id, comp)| {
                let wasi = ComponentWasi {
                    environment: comp
                        .environment
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    mount: (!comp.files.is_empty())
                        .then(|| crate::files::staging_dir(ctx.data_dir, id)),
                    max_memory: ctx.limits.max_memory,
                };
                (id.clone(), Arc::new(wasi))
            })
            .collect())
    }

    fn prepare(app: &AppState, component_id: &str) -> Result<WasiState> {
        match app.get(component_id) {
            Some(wasi) => wasi.prepare(),
            None => ComponentWasi::default().prepare(),
        }
    }
}

/// Links WASI 0.2 and 0.3 for store data that is a [`WasiView`].
pub fn add_to_linker<T: WasiView + 'static>(linker: &mut Linker<T>) -> Result<()> {
    wt(
        wasmtime_wasi::p2::add_to_linker_async(linker),
        "linking WASI 0.2",
    )?;
    wt(wasmtime_wasi::p3::add_to_linker(linker), "linking WASI 0.3")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_manifest::{TestComponent, TestManifest, configure};

    #[test]
    fn components_get_their_environment_files_and_memory_limit() {
        let manifest = TestManifest::new()
            .component(
                TestComponent::new("web")
                    .environment("RUST_LOG", "info")
                    .file("static/**/*"),
            )
            .component(TestComponent::new("api"))
            .parse();
        let data = tempfile::tempdir().unwrap();
        let app = configure::<WasiFactor>(&manifest, data.path(), &()).unwrap();
        assert_eq!(app["web"].environment, [("RUST_LOG".into(), "info".into())]);
        assert_eq!(
            app["web"].mount.as_deref(),
            Some(data.path().join(".files/web").as_path())
        );
        assert_eq!(app["api"].mount, None);
        assert_eq!(
            app["api"].max_memory,
            crate::test_manifest::limits().max_memory
        );

        // The mount must exist by the time an instance is prepared (the load stages it).
        assert!(WasiFactor::prepare(&app, "web").is_err());
        std::fs::create_dir_all(data.path().join(".files/web")).unwrap();
        let state = WasiFactor::prepare(&app, "web").unwrap();
        assert!(!state.limiter.hit());
        assert!(WasiFactor::prepare(&app, "api").is_ok());
    }
}
