//! `tandem-host`: runs a Spin `spin.toml` (manifest version 2) locally on wasmtime.
//!
//! HTTP routing as Spin does it, a fresh instance per request (opt-in reuse), per-request
//! limits, and the Spin platform subset the Tandem components import: `spin:sqlite@3.1.0`,
//! `spin:key-value@3.0.0`, `spin:variables@3.0.0`, plus WASI 0.2/0.3 CLI and `wasi:http@0.3`.
//! The `tandem` binary is a thin CLI over [`up`], [`build_step::run`], [`preinit::preinit`] and
//! [`compose::compose`].

#![warn(missing_docs)]

pub mod app;
pub mod build_step;
pub mod compose;
pub mod error;
pub mod factors;
pub mod files;
pub mod limits;
pub mod manifest;
pub mod memory_images;
pub mod preinit;
pub mod problem;
pub mod routing;
pub mod runtime_config;
pub mod schedule;
pub mod server;
pub mod state;
#[cfg(test)]
pub(crate) mod test_manifest;

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};

/// Settings of `tandem up`.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// Manifest file, or a directory holding `spin.toml`.
    pub from: PathBuf,
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// Data directory; default `.spin/` beside the manifest.
    pub data_dir: Option<PathBuf>,
    /// Spin runtime config file mapping stores to files or Redis (`--runtime-config-file`).
    pub runtime_config_file: Option<PathBuf>,
    /// Run the components' build commands first.
    pub build: bool,
    /// Run options (limits, reuse) apart from the data dir.
    pub limits: limits::Limits,
    /// Requests per instance (1 = fresh instance per request).
    pub instance_reuse: usize,
}

/// `tandem up`: load the app, print `Serving http://ADDR` and the routes, serve until
/// Ctrl-C / SIGTERM, then drain in-flight requests.
pub async fn up(opts: UpOptions) -> Result<()> {
    let path = if opts.from.is_dir() {
        opts.from.join("spin.toml")
    } else {
        opts.from.clone()
    };
    let manifest = manifest::load(&path)?;
    // Checked before any build: a wrong runtime config fails at once.
    let runtime_config = match &opts.runtime_config_file {
        Some(file) => runtime_config::load(file, &manifest)?,
        None => runtime_config::RuntimeConfig::default(),
    };
    if opts.build {
        build_step::run(&manifest)?;
    }
    let data_dir = match &opts.data_dir {
        Some(d) => std::path::absolute(d)?,
        None => manifest.dir.join(".spin"),
    };
    let options = app::RunOptions {
        limits: opts.limits,
        instance_reuse: opts.instance_reuse.max(1),
        data_dir,
        runtime_config,
    };
    let app = app::App::load(&manifest, options, &|k| std::env::var(k).ok())?;
    let listener = tokio::net::TcpListener::bind(&opts.listen)
        .await
        .with_context(|| format!("cannot listen on {}", opts.listen))?;
    let addr = listener.local_addr()?;

    let mut out = std::io::stdout().lock();
    writeln!(out, "Serving http://{addr}")?;
    writeln!(out, "Available Routes:")?;
    for (route, component) in app.router.routes() {
        let wildcard = matches!(route, routing::RoutePattern::Wildcard(_));
        writeln!(
            out,
            "  {component}: http://{addr}{}{}",
            route.base(),
            if wildcard { " (wildcard)" } else { "" }
        )?;
    }
    out.flush()?;
    drop(out);

    let _ticker = limits::start_epoch_ticker(&app.engine);
    let app = Arc::new(app);
    // The schedule stops starting routes when shutdown begins; a route it is running finishes
    // (within the request timeout) before the host exits, like a client's request.
    let (stop_schedule, stop) = tokio::sync::watch::channel(false);
    let scheduler = app.schedule.clone().map(|schedule| {
        eprintln!("{}", schedule.describe());
        let app = Arc::clone(&app);
        tokio::spawn(schedule::run(schedule, addr, stop, move |req| {
            let app = Arc::clone(&app);
            async move { server::handle_internal(&app, req, addr).await }
        }))
    });
    let shutdown = async move {
        shutdown_signal().await;
        let _ = stop_schedule.send(true);
    };
    let served = server::serve(Arc::clone(&app), listener, shutdown).await;
    if let Some(scheduler) = scheduler {
        let _ = tokio::time::timeout(app.options.limits.timeout, scheduler).await;
    }
    served
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
