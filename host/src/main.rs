//! `tandem`: run a Spin application locally (`tandem up`), run its build commands
//! (`tandem build`), pre-initialise a component (`tandem preinit`) or compose components
//! (`tandem compose`).

#![warn(missing_docs)]

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tandem_host::limits::Limits;

#[derive(Parser)]
#[command(
    name = "tandem",
    version,
    about = "Run a Spin spin.toml locally on wasmtime"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the application's HTTP triggers.
    Up {
        /// The manifest (or a directory containing spin.toml).
        #[arg(long, short = 'f', default_value = "spin.toml")]
        from: PathBuf,
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: String,
        /// Where SQLite databases and key-value stores live (default: .spin/ beside the manifest).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Spin runtime config: `[key_value_store.<label>]` (`spin` or `redis`) and
        /// `[sqlite_database.<label>]` (`spin`) map stores to files or Redis.
        #[arg(long)]
        runtime_config_file: Option<PathBuf>,
        /// Run each component's build command first.
        #[arg(long)]
        build: bool,
        /// Requests served by one instance before it is discarded (1 = fresh per request).
        #[arg(long, default_value_t = 1)]
        instance_reuse: usize,
        /// Per-request time limit.
        #[arg(long, default_value_t = 30_000)]
        timeout_ms: u64,
        /// Per-instance linear memory limit.
        #[arg(long, default_value_t = 256)]
        max_memory_mb: usize,
        /// Largest request body accepted.
        #[arg(long, default_value_t = 1_048_576)]
        max_body_bytes: u64,
    },
    /// Run each component's `[component.X.build] command` (like `spin build`).
    Build {
        /// The manifest (or a directory containing spin.toml).
        #[arg(long, short = 'f', default_value = "spin.toml")]
        from: PathBuf,
    },
    /// Pre-initialise a component by running its `wizer-initialize` export.
    Preinit {
        /// Component to initialise.
        #[arg(long)]
        input: PathBuf,
        /// Where to write the initialised component.
        #[arg(long)]
        output: PathBuf,
    },
    /// Plug components into another's imports (like `wac plug`), e.g. intent into handoff.
    Compose {
        /// The component whose imports are to be satisfied.
        #[arg(long)]
        input: PathBuf,
        /// A component whose exports satisfy imports of the same name (repeatable).
        #[arg(long = "plug", required = true)]
        plugs: Vec<PathBuf>,
        /// Where to write the composed component.
        #[arg(long)]
        output: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    // wasmtime builds (and drops) errors on ordinary request paths; with `RUST_BACKTRACE=1` in
    // the environment each of them captured a backtrace, 3 % of a request's CPU. Panics still
    // print theirs: only library error backtraces are switched off, unless asked for.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: no other thread exists yet; the runtime starts below.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("starting the async runtime");
    runtime.block_on(run())
}

async fn run() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Command::Up {
            from,
            listen,
            data_dir,
            runtime_config_file,
            build,
            instance_reuse,
            timeout_ms,
            max_memory_mb,
            max_body_bytes,
        } => {
            tandem_host::up(tandem_host::UpOptions {
                from,
                listen,
                data_dir,
                runtime_config_file,
                build,
                instance_reuse,
                limits: Limits {
                    timeout: Duration::from_millis(timeout_ms),
                    max_memory: max_memory_mb * 1024 * 1024,
                    max_body: max_body_bytes,
                },
            })
            .await
        }
        Command::Build { from } => {
            let path = if from.is_dir() {
                from.join("spin.toml")
            } else {
                from
            };
            tandem_host::manifest::load(&path).and_then(|m| tandem_host::build_step::run(&m))
        }
        Command::Preinit { input, output } => tandem_host::preinit::preinit(&input, &output).await,
        Command::Compose {
            input,
            plugs,
            output,
        } => tandem_host::compose::compose(&input, &plugs, &output),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
