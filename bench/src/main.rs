//! `tandem-bench`: latency and throughput of one route, measured side by side with `/v1/health`.
//!
//! Absolute numbers depend on the machine; the ratio of a route's p50 to the health route's p50,
//! measured in the same run on the same host, is what the quality gates compare. Phases of the
//! two routes alternate (route, health, route, health, ...) so that both see the same machine
//! conditions. Each worker keeps one HTTP/1.1 keep-alive connection, as a browser or gateway would.

use anyhow::{Context, Result, bail};
use clap::Parser;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "p50/p99 latency and requests/s of a route against /v1/health in the same run")]
struct Args {
    /// Base URL of a running app; when absent, the bench starts `target/release/tandem up` itself.
    /// Repeat it for replicas of one app: connection `i` goes to URL `i mod n` (bench/replicas.sh).
    #[arg(long)]
    url: Vec<String>,
    /// Manifest to serve when the bench starts the host.
    #[arg(long, default_value = "spin.toml")]
    manifest: String,
    /// Extra arguments for `tandem up` (e.g. `--instance-reuse 1000`).
    #[arg(long, allow_hyphen_values = true)]
    host_args: Vec<String>,
    /// HTTP method of the measured route.
    #[arg(long, default_value = "POST")]
    method: String,
    /// Path of the measured route.
    #[arg(long, default_value = "/v1/intent")]
    path: String,
    /// JSON body sent with the measured route.
    #[arg(long, default_value = r#"{"text":"我的订单到哪了 where is my order"}"#)]
    body: String,
    /// Extra request header `Name: value` (repeatable).
    #[arg(long)]
    header: Vec<String>,
    /// Concurrent connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Seconds of measurement per route (split into alternating one-second phases).
    #[arg(long, default_value_t = 6)]
    seconds: u64,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// What one route measured.
struct Stats {
    latencies_us: Vec<u64>,
    errors: usize,
    elapsed: Duration,
}

impl Stats {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let mut v = self.latencies_us.clone();
        v.sort_unstable();
        let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[idx] as f64 / 1000.0
    }
    fn rps(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64()
    }
}

struct Target {
    /// One address per replica; worker `i` connects to `addrs[i % len]`.
    addrs: Vec<String>,
    request: Vec<u8>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let (bases, _host) = match args.url.is_empty() {
        false => (args.url.clone(), None),
        true => {
            let host = HostProcess::start(&args.manifest, &args.host_args)?;
            (vec![host.base.clone()], Some(host))
        }
    };
    let addrs: Vec<String> = bases
        .iter()
        .map(|b| {
            b.trim_start_matches("http://")
                .trim_end_matches('/')
                .to_owned()
        })
        .collect();
    let addr = &addrs[0];
    let route = Target {
        addrs: addrs.clone(),
        request: build_request(&args.method, &args.path, addr, &args.header, &args.body),
    };
    let health = Target {
        addrs: addrs.clone(),
        request: build_request("GET", "/v1/health", addr, &[], ""),
    };
    // Warm up both routes (compilation caches, connection setup) before measuring.
    run_phase(&route, args.connections, Duration::from_millis(500))?;
    run_phase(&health, args.connections, Duration::from_millis(500))?;

    let mut route_stats = Stats {
        latencies_us: vec![],
        errors: 0,
        elapsed: Duration::ZERO,
    };
    let mut health_stats = Stats {
        latencies_us: vec![],
        errors: 0,
        elapsed: Duration::ZERO,
    };
    for _ in 0..args.seconds {
        for (target, stats) in [(&route, &mut route_stats), (&health, &mut health_stats)] {
            let phase = run_phase(target, args.connections, Duration::from_secs(1))?;
            stats.latencies_us.extend(phase.latencies_us);
            stats.errors += phase.errors;
            stats.elapsed += phase.elapsed;
        }
    }
    report(&args, &route_stats, &health_stats);
    if route_stats.errors > 0 || health_stats.errors > 0 {
        bail!("some requests failed (non-2xx or I/O error); figures above are not trustworthy");
    }
    Ok(())
}

fn report(args: &Args, route: &Stats, health: &Stats) {
    let ratio = route.percentile(0.5) / health.percentile(0.5);
    if args.json {
        let one = |s: &Stats| {
            serde_json::json!({
                "requests": s.latencies_us.len(), "errors": s.errors,
                "p50_ms": s.percentile(0.5), "p99_ms": s.percentile(0.99), "rps": s.rps(),
            })
        };
        let doc = serde_json::json!({
            "route": format!("{} {}", args.method, args.path),
            "connections": args.connections,
            "measured": one(route),
            "health": one(health),
            "p50_ratio_to_health": ratio,
        });
        println!("{doc:#}");
        return;
    }
    println!(
        "{:<28} {:>9} {:>7} {:>9} {:>9} {:>10}",
        "route", "requests", "errors", "p50 ms", "p99 ms", "req/s"
    );
    for (name, s) in [
        (format!("{} {}", args.method, args.path), route),
        ("GET /v1/health".to_owned(), health),
    ] {
        println!(
            "{:<28} {:>9} {:>7} {:>9.3} {:>9.3} {:>10.0}",
            name,
            s.latencies_us.len(),
            s.errors,
            s.percentile(0.5),
            s.percentile(0.99),
            s.rps()
        );
    }
    println!(
        "p50 ratio {} / health = {ratio:.2} ({} connections, alternating 1 s phases)",
        args.path, args.connections
    );
}

fn build_request(method: &str, path: &str, addr: &str, headers: &[String], body: &str) -> Vec<u8> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: keep-alive\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    if !body.is_empty() && method != "GET" {
        req.push_str("Content-Type: application/json\r\n");
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(if method == "GET" { "" } else { body });
    req.into_bytes()
}

/// Runs `connections` workers against one target for `duration`.
fn run_phase(target: &Target, connections: usize, duration: Duration) -> Result<Stats> {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let results: Vec<(Vec<u64>, usize)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..connections)
            .map(|i| {
                let stop = stop.clone();
                let addr = &target.addrs[i % target.addrs.len()];
                scope.spawn(move || worker(addr, &target.request, &stop))
            })
            .collect();
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        workers
            .into_iter()
            .map(|w| w.join().expect("worker panicked"))
            .collect()
    });
    let mut stats = Stats {
        latencies_us: vec![],
        errors: 0,
        elapsed: started.elapsed(),
    };
    for (lat, errors) in results {
        stats.latencies_us.extend(lat);
        stats.errors += errors;
    }
    Ok(stats)
}

fn worker(addr: &str, request: &[u8], stop: &AtomicBool) -> (Vec<u64>, usize) {
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut conn: Option<BufReader<TcpStream>> = None;
    while !stop.load(Ordering::Relaxed) {
        let start = Instant::now();
        let outcome = (|| -> Result<u16> {
            if conn.is_none() {
                let stream = TcpStream::connect(addr)?;
                stream.set_nodelay(true)?;
                stream.set_read_timeout(Some(Duration::from_secs(30)))?;
                conn = Some(BufReader::new(stream));
            }
            let c = conn.as_mut().expect("connected above");
            c.get_mut().write_all(request)?;
            read_response(c)
        })();
        match outcome {
            Ok(status) if (200..300).contains(&status) => {
                latencies.push(start.elapsed().as_micros() as u64)
            }
            Ok(_) => errors += 1,
            Err(_) => {
                errors += 1;
                conn = None;
            }
        }
    }
    (latencies, errors)
}

/// Reads one HTTP/1.1 response with a Content-Length body; returns its status.
fn read_response(conn: &mut BufReader<TcpStream>) -> Result<u16> {
    let mut line = String::new();
    conn.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .context("no status line")?
        .parse()?;
    let mut len = 0usize;
    loop {
        line.clear();
        conn.read_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            len = value.trim().parse()?;
        }
    }
    let mut body = vec![0; len];
    conn.read_exact(&mut body)?;
    Ok(status)
}

/// The host started by the bench, killed when the bench ends.
struct HostProcess {
    child: Child,
    base: String,
}

impl HostProcess {
    fn start(manifest: &str, extra: &[String]) -> Result<Self> {
        let mut child = Command::new("target/release/tandem")
            .args(["up", "--from", manifest, "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("SPIN_VARIABLE_AGENT_TOKEN", std::env::var("SPIN_VARIABLE_AGENT_TOKEN").unwrap_or_else(|_| "bench-token".into()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting target/release/tandem (build it with `cargo build --release -p tandem-host`)")?;
        let stdout = child.stdout.take().context("host stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines.next().context("host exited before it listened")??;
            if let Some(url) = line.strip_prefix("Serving ") {
                break url.trim().to_owned();
            }
        };
        // Keep draining stdout so the host never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(HostProcess { child, base })
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
