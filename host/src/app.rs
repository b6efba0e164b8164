//! Loading an application: engine, linker, one pre-instantiated component per manifest entry,
//! and making a store (fresh or reused) for each request.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi_http::p3::bindings::{Service, ServicePre};

use crate::error::wt;
use crate::factors::key_value::KeyValueFactor;
use crate::factors::outbound_http::OutboundHttpFactor;
use crate::factors::sqlite::SqliteFactor;
use crate::factors::variables::{self, VariablesFactor};
use crate::factors::wasi::WasiFactor;
use crate::factors::{AppContext, Factor};
use crate::limits::Limits;
use crate::manifest::{ComponentConfig, Manifest};
use crate::routing::Router;
use crate::runtime_config::RuntimeConfig;
use crate::schedule::Schedule;
use crate::state::{AppStates, HostState};

/// Instances that may exist at the same time (pooling allocator slots); more concurrent
/// requests than this get a 503 instead of exhausting the machine.
pub const MAX_INSTANCES: u32 = 128;

/// Written pages of a memory slot restored in place (copied back from the image) instead of
/// being dropped when an instance ends; the pages it only read stay mapped either way.
const KEEP_RESIDENT_BYTES: usize = 32 << 20;

/// How an application is run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Per-request limits.
    pub limits: Limits,
    /// Requests one instance may serve; 1 = a fresh instance per request (Spin's behaviour).
    pub instance_reuse: usize,
    /// Where databases and staged files live.
    pub data_dir: PathBuf,
    /// Where stores live instead of their default files (`--runtime-config-file`).
    pub runtime_config: RuntimeConfig,
}

/// A loaded application, ready to serve.
pub struct App {
    /// The engine every component runs on.
    pub engine: Engine,
    /// HTTP routes.
    pub router: Router,
    /// Components by id.
    pub components: HashMap<String, Arc<LoadedComponent>>,
    /// How requests are run.
    pub options: RunOptions,
    /// Routes the host calls itself on a timer (`schedule_*` application variables), if any.
    pub schedule: Option<Schedule>,
}

/// An instance kept for reuse with the number of requests it has served.
pub struct Reusable {
    /// The instance's store.
    pub store: Store<HostState>,
    /// The instance's `wasi:http/handler` export.
    pub service: Service,
    /// Requests served so far.
    pub uses: usize,
}

/// One component, compiled and linked once, instantiated per request.
pub struct LoadedComponent {
    /// Component id.
    pub id: String,
    pre: ServicePre<HostState>,
    /// The factors' application states, to prepare each instance's [`HostState`] from.
    states: Arc<AppStates>,
    idle: Mutex<Vec<Reusable>>,
}

/// The engine configuration shared by `up` and `preinit`: component-model async (spin-sdk 7
/// components are WASI 0.3).
pub fn base_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model_async(true);
    config
}

/// Engine for serving: pooling allocator sized by the limits, epoch interruption for timeouts.
pub fn serving_engine(limits: &Limits) -> Result<Engine> {
    let mut config = base_config();
    config.epoch_interruption(true);
    // `TANDEM_PERFMAP=1` names the compiled wasm functions for `perf` (/tmp/perf-PID.map), so a
    // profile of the host shows where a component spends its time.
    if std::env::var_os("TANDEM_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    // Compiling a model-carrying component (~15 MB) takes tens of seconds on two cores. Cache
    // the compiled code (wasmtime's default cache directory, keyed by module bytes and engine
    // settings) so that restarts and test hosts start in well under a second.
    match wasmtime::Cache::from_file(None) {
        Ok(cache) => {
            config.cache(Some(cache));
        }
        Err(e) => eprintln!("warning: wasmtime compilation cache unavailable: {e}"),
    }
    // Per-component maxima fit a composed component: `assist` holds six components (assist,
    // intent, faq, ticket, handoff, feedback), each with its own memories, tables and core
    // instances. The totals bound what all live instances use together.
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(MAX_INSTANCES)
        .total_core_instances(MAX_INSTANCES * 16)
        .total_memories(MAX_INSTANCES * 8)
        .total_tables(MAX_INSTANCES * 16)
        .total_stacks(MAX_INSTANCES * 4)
        .max_component_instance_size(4 << 20)
        .max_core_instances_per_component(96)
        .max_memories_per_component(24)
        .max_tables_per_component(48)
        .max_memory_size(limits.max_memory)
        // A fresh instance per request must start from the component's memory image. By
        // default wasmtime resets a slot with `madvise` and every page the next instance
        // touches faults in again (a third of a composed component's request time). With
        // PAGEMAP_SCAN (Linux 6.7+) only the pages the request wrote are copied back from the
        // image and the rest stay mapped: the next instance still sees exactly the image.
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(1 << 20)
        .pagemap_scan(wasmtime::Enabled::Auto);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    wt(Engine::new(&config), "creating the wasmtime engine")
}

impl App {
    /// Configures every factor, then compiles and links every component of `manifest`; fails
    /// on the first problem, naming the component.
    pub fn load(
        manifest: &Manifest,
        options: RunOptions,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        std::fs::create_dir_all(&options.data_dir)
            .with_context(|| format!("creating data dir {}", options.data_dir.display()))?;
        // Everything that depends on variable values is checked before any compilation.
        let app_variables = variables::resolve_app_variables(&manifest.variables, env)?;
        let ctx = AppContext {
            manifest,
            data_dir: &options.data_dir,
            app_variables: &app_variables,
            limits: &options.limits,
        };
        let variables = VariablesFactor::configure_app(&ctx, &())?;
        let outbound_http = OutboundHttpFactor::configure_app(&ctx, &())?;
        let router = Router::new(
            manifest
                .http_triggers
                .iter()
                .map(|t| (t.route.clone(), t.component.clone())),
        );
        let schedule = Schedule::from_variables(manifest, &app_variables, env, &router)?;
        let stores = &options.runtime_config;
        let states = Arc::new(AppStates {
            sqlite: SqliteFactor::configure_app(&ctx, &stores.sqlite_databases)?,
            key_value: KeyValueFactor::configure_app(&ctx, &stores.key_value_stores)?,
            wasi: WasiFactor::configure_app(&ctx, &())?,
            outbound_http,
            variables,
        });

        let engine = serving_engine(&options.limits)?;
        let linker = crate::state::linker(&engine)?;
        let mut components = HashMap::new();
        for (id, comp) in &manifest.components {
            let loaded = LoadedComponent::load(
                &engine,
                &linker,
                comp,
                &manifest.dir,
                &options.data_dir,
                Arc::clone(&states),
            )
            .with_context(|| format!("component `{id}` ({})", comp.source.display()))?;
            components.insert(id.clone(), Arc::new(loaded));
        }

        Ok(Self {
            engine,
            router,
            components,
            options,
            schedule,
        })
    }
}

impl LoadedComponent {
    fn load(
        engine: &Engine,
        linker: &Linker<HostState>,
        comp: &ComponentConfig,
        app_dir: &Path,
        data_dir: &Path,
        states: Arc<AppStates>,
    ) -> Result<Self> {
        let component = wt(Component::from_file(engine, &comp.source), "compiling")?;
        crate::memory_images::prepare(&component)?;
        let pre = wt(linker.instantiate_pre(&component), "linking")?;
        let pre = wt(
            ServicePre::new(pre),
            "the component must export wasi:http/handler@0.3.0",
        )?;
        // The WASI factor mounts the staged files at `/`.
        crate::files::stage(comp, app_dir, data_dir)?;
        Ok(Self {
            id: comp.id.clone(),
            pre,
            states,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// A store + instance for one request: an idle reusable one if reuse is on, else fresh.
    pub async fn checkout(&self, engine: &Engine, options: &RunOptions) -> Result<Reusable> {
        if options.instance_reuse > 1
            && let Some(mut reused) = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
        {
            reused.store.data_mut().wasi.limiter.reset();
            reused
                .store
                .set_epoch_deadline(options.limits.epoch_ticks());
            return Ok(reused);
        }
        let state = HostState::prepare(&self.states, &self.id)?;
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.wasi.limiter);
        store.set_epoch_deadline(options.limits.epoch_ticks());
        store.epoch_deadline_trap();
        let service = self.pre.instantiate_async(&mut store).await?;
        Ok(Reusable {
            store,
            service,
            uses: 0,
        })
    }

    /// Returns an instance that completed a request cleanly, unless it has served its quota.
    pub fn checkin(&self, mut instance: Reusable, options: &RunOptions) {
        instance.uses += 1;
        if options.instance_reuse > 1 && instance.uses < options.instance_reuse {
            self.idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(instance);
        }
    }
}
