//! Loading an application: engine, linker, one pre-instantiated component per manifest entry,
//! and making a store (fresh or reused) for each request.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};
use wasmtime_wasi_http::p3::bindings::{Service, ServicePre};

use crate::bindings::SpinPlatform;
use crate::limits::{Limits, MemoryLimiter};
use crate::manifest::{ComponentConfig, Manifest};
use crate::outbound::{AllowedHosts, OutboundPolicy};
use crate::platform::ComponentPlatform;
use crate::routing::Router;
use crate::runtime_config::{RuntimeConfig, SqliteConfig};
use crate::schedule::Schedule;
use crate::spin_kv::KvBackend;
use crate::state::{HostState, Spin};

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
    platform: Arc<ComponentPlatform>,
    environment: Vec<(String, String)>,
    mount: Option<PathBuf>,
    idle: Mutex<Vec<Reusable>>,
}

/// Adds context to a wasmtime error, converting it to `anyhow` (wasmtime 48 has its own
/// error type, which anyhow's `Context` does not cover).
pub(crate) fn wt<T>(result: wasmtime::Result<T>, context: &str) -> Result<T> {
    result.map_err(|e| anyhow::Error::from(e).context(context.to_string()))
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

/// A linker with everything a spin-sdk 7 component may import: WASI 0.2 and 0.3 CLI,
/// `wasi:http@0.3`, and the Spin sqlite/key-value/variables interfaces.
pub fn linker(engine: &Engine) -> Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wt(
        wasmtime_wasi::p2::add_to_linker_async(&mut linker),
        "linking WASI 0.2",
    )?;
    wt(
        wasmtime_wasi::p3::add_to_linker(&mut linker),
        "linking WASI 0.3",
    )?;
    wt(
        wasmtime_wasi_http::p3::add_to_linker(&mut linker),
        "linking wasi:http 0.3",
    )?;
    wt(
        SpinPlatform::add_to_linker::<_, Spin>(&mut linker, |state| state),
        "linking the Spin interfaces",
    )?;
    Ok(linker)
}

impl App {
    /// Compiles and links every component of `manifest`; fails on the first problem, naming
    /// the component.
    pub fn load(
        manifest: &Manifest,
        options: RunOptions,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        std::fs::create_dir_all(&options.data_dir)
            .with_context(|| format!("creating data dir {}", options.data_dir.display()))?;
        // Everything that depends on variable values is checked before any compilation.
        let app_values = crate::spin_variables::resolve_app_variables(&manifest.variables, env)?;
        let variables = crate::spin_variables::component_variables(manifest, &app_values)?;
        let mut outbound = BTreeMap::new();
        for (id, comp) in &manifest.components {
            let hosts = AllowedHosts::resolve(&comp.allowed_outbound_hosts, &app_values)
                .with_context(|| format!("component `{id}`"))?;
            outbound.insert(id.clone(), Arc::new(OutboundPolicy::new(id.clone(), hosts)));
        }
        let router = Router::new(
            manifest
                .http_triggers
                .iter()
                .map(|t| (t.route.clone(), t.component.clone())),
        );
        let schedule = Schedule::from_variables(manifest, &app_values, env, &router)?;
        for db in options.runtime_config.sqlite_databases.values() {
            let SqliteConfig::Spin { path: Some(path) } = db else {
                continue;
            };
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
        }
        let engine = serving_engine(&options.limits)?;
        let linker = linker(&engine)?;

        // One backend per key-value label, shared by every component granted it.
        let mut kv: BTreeMap<String, Arc<KvBackend>> = BTreeMap::new();
        for comp in manifest.components.values() {
            for label in &comp.key_value_stores {
                if !kv.contains_key(label) {
                    kv.insert(
                        label.clone(),
                        Arc::new(KvBackend::open(
                            &options.data_dir,
                            label,
                            options.runtime_config.key_value_stores.get(label),
                        )?),
                    );
                }
            }
        }

        let mut components = HashMap::new();
        for (id, comp) in &manifest.components {
            let platform = ComponentPlatform {
                id: id.clone(),
                data_dir: options.data_dir.clone(),
                variables: variables.get(id).cloned().unwrap_or_default(),
                key_value_stores: comp
                    .key_value_stores
                    .iter()
                    .map(|l| (l.clone(), Arc::clone(&kv[l])))
                    .collect(),
                sqlite_databases: comp
                    .sqlite_databases
                    .iter()
                    .map(|l| {
                        let path = match options.runtime_config.sqlite_databases.get(l) {
                            Some(SqliteConfig::Spin { path: Some(path) }) => path.clone(),
                            Some(SqliteConfig::Spin { path: None }) | None => {
                                crate::spin_sqlite::database_path(&options.data_dir, l)
                            }
                        };
                        (l.clone(), path)
                    })
                    .collect(),
                outbound: Arc::clone(&outbound[id]),
            };
            let loaded = LoadedComponent::load(
                &engine,
                &linker,
                comp,
                &manifest.dir,
                &options.data_dir,
                platform,
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
        platform: ComponentPlatform,
    ) -> Result<Self> {
        let component = wt(Component::from_file(engine, &comp.source), "compiling")?;
        crate::memory_images::prepare(&component)?;
        let pre = wt(linker.instantiate_pre(&component), "linking")?;
        let pre = wt(
            ServicePre::new(pre),
            "the component must export wasi:http/handler@0.3.0",
        )?;
        let mount = crate::files::stage(comp, app_dir, data_dir)?;
        Ok(Self {
            id: comp.id.clone(),
            pre,
            platform: Arc::new(platform),
            environment: comp
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            mount,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// A store + instance for one request: an idle reusable one if reuse is on, else fresh.
    pub async fn checkout(&self, engine: &Engine, options: &RunOptions) -> Result<Reusable> {
        if options.instance_reuse > 1
            && let Some(mut reused) = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
        {
            reused.store.data_mut().limiter.reset();
            reused
                .store
                .set_epoch_deadline(options.limits.epoch_ticks());
            return Ok(reused);
        }
        let mut wasi = WasiCtxBuilder::new();
        wasi.inherit_stdout()
            .inherit_stderr()
            .envs(&self.environment);
        if let Some(dir) = &self.mount {
            wasi.preopened_dir(dir, "/", FsPerms::ReadOnly)?;
        }
        let state = HostState::new(
            wasi.build(),
            Arc::clone(&self.platform),
            MemoryLimiter::new(options.limits.max_memory),
        );
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limiter);
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
