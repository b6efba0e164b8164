//! Harness for the end-to-end tests: build the host and components once, run
//! `tandem up` as a child process on a free port, and talk to it over plain HTTP/1.1.
//!
//! The HTTP client is a few lines over `TcpStream` on purpose: the tests must see exactly
//! what the host sends (status, headers, body) with nothing in between.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub mod manifest;
mod probe;
pub mod tickets;

pub use probe::{probe_app, probe_manifest, probe_manifest_for};

/// The workspace root (parent of `tests/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `target/` of the workspace (honours `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The shipped sentence encoder (`models/encoder.bin`, written by `./dev`), loaded once.
pub fn encoder() -> &'static tandem_encoder::Encoder {
    static ENCODER: OnceLock<tandem_encoder::Encoder> = OnceLock::new();
    ENCODER.get_or_init(|| {
        let path = workspace_root().join("models/encoder.bin");
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (./dev builds it)", path.display()));
        let pack = tandem_encoder::Pack::from_vec(bytes).expect("a valid encoder pack");
        tandem_encoder::Encoder::load(pack).expect("a complete encoder pack")
    })
}

/// The sentence embedding the components compute for `text` (its first characters, as
/// `tandem_core::foundation::features::embedding_input` cuts them), natively.
pub fn sentence_embedding(text: &str) -> Vec<f32> {
    let input = tandem_core::foundation::features::embedding_input(text);
    encoder().embed(input).to_vec()
}

/// Classifies natively as the intent component does: with the text's sentence embedding when
/// the model is of the semantic tier.
pub fn classify_native(
    runner: &tandem_core::intent::IntentRunner,
    text: &str,
    top_k: usize,
) -> tandem_core::intent::Classification {
    let embedding = runner.uses_embedding().then(|| sentence_embedding(text));
    runner
        .classify_embedded(text, embedding.as_deref(), top_k)
        .expect("the intent model runs")
}

/// With `TANDEM_SKIP_BUILD` set, the harness uses already-built artifacts instead of running
/// cargo (for runs where the target dir is busy or prebuilt).
fn cargo(args: &[&str]) -> Result<()> {
    if std::env::var_os("TANDEM_SKIP_BUILD").is_some() {
        return Ok(());
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .args(args)
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("running cargo {args:?}"))?;
    if !status.success() {
        bail!("cargo {args:?} failed: {status}");
    }
    Ok(())
}

/// Builds the `tandem` binary (release) once per test process and returns its path.
pub fn host_binary() -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            cargo(&["build", "--release", "-p", "tandem-host"]).map_err(|e| format!("{e:#}"))?;
            Ok(target_dir().join("release").join("tandem"))
        })
        .clone()
        .expect("building tandem-host")
}

/// Builds component package `pkg` for `wasm32-wasip2` (release) once per test process and
/// returns the `.wasm` path.
pub fn component(pkg: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    // Holding the lock while building serialises builds, so parallel tests never race cargo.
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let built = built.get_or_insert_with(HashSet::new);
    if !built.contains(pkg) {
        cargo(&["build", "--release", "--target", "wasm32-wasip2", "-p", pkg])
            .unwrap_or_else(|e| panic!("building {pkg}: {e:#}"));
        built.insert(pkg.to_string());
    }
    target_dir()
        .join("wasm32-wasip2")
        .join("release")
        .join(format!("{}.wasm", pkg.replace('-', "_")))
}

/// `target/tandem/NAME.wasm` as `spin.toml` builds it (pre-initialised, its plugs composed in),
/// built with `scripts/build-component.sh NAME` unless `TANDEM_SKIP_BUILD` says the artifacts
/// are already there (`./dev test` built the whole app with the manifest's own commands).
pub fn built_component(name: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let built = built.get_or_insert_with(HashSet::new);
    if std::env::var_os("TANDEM_SKIP_BUILD").is_none() && !built.contains(name) {
        let ok = std::process::Command::new("sh")
            .args(["scripts/build-component.sh", name])
            .current_dir(workspace_root())
            .status()
            .expect("running scripts/build-component.sh")
            .success();
        assert!(ok, "building the {name} component failed");
        built.insert(name.to_string());
    }
    let path = target_dir().join("tandem").join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run `sh scripts/build-component.sh {name}`",
        path.display()
    );
    path
}

/// One HTTP response as received.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// Body (de-chunked).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Body parsed as JSON (panics with the body on failure).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }
}

/// How a request body is sent.
pub enum Body<'a> {
    /// No body.
    Empty,
    /// With `Content-Length`.
    Sized(&'a [u8]),
    /// `Transfer-Encoding: chunked`, no length announced up front.
    Chunked(&'a [u8]),
}

/// Sends one request on a fresh connection (`Connection: close`) and reads the response.
pub fn request(addr: SocketAddr, method: &str, path: &str, body: Body<'_>) -> Result<HttpResponse> {
    request_with(addr, method, path, &[], body)
}

/// [`request`] with extra request headers (`("Authorization", "Bearer ...")`).
pub fn request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Body<'_>,
) -> Result<HttpResponse> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match body {
        Body::Empty => head.push_str("\r\n"),
        Body::Sized(b) => head.push_str(&format!("Content-Length: {}\r\n\r\n", b.len())),
        Body::Chunked(_) => head.push_str("Transfer-Encoding: chunked\r\n\r\n"),
    }
    stream.write_all(head.as_bytes())?;
    // The server may answer (413) and close before the whole body is written: ignore write errors.
    let _ = match body {
        Body::Empty => Ok(()),
        Body::Sized(b) => stream.write_all(b),
        Body::Chunked(b) => (|| {
            for chunk in b.chunks(16 * 1024) {
                stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
                stream.write_all(chunk)?;
                stream.write_all(b"\r\n")?;
            }
            stream.write_all(b"0\r\n\r\n")
        })(),
    };
    let mut raw = Vec::new();
    // A reset after a complete response (server closed early) still leaves the response readable.
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
}

/// Parses one raw HTTP/1.1 response (head and body, read to the end of the connection).
pub fn parse_response(raw: &[u8]) -> Result<HttpResponse> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no complete HTTP response head")?;
    let head = std::str::from_utf8(&raw[..split])?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().context("empty response")?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .context("no status code")?
        .parse()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    {
        body = dechunk(&body)?;
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("bad chunk")?;
        let size_text = std::str::from_utf8(&data[..line_end])?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// A running `tandem up` child process; killed on drop.
pub struct Host {
    child: Child,
    /// The address it serves on.
    pub addr: SocketAddr,
    stderr: Arc<Mutex<Vec<String>>>,
}

/// Options for [`Host::start`].
#[derive(Default)]
pub struct HostOptions<'a> {
    /// Extra `tandem up` arguments.
    pub args: Vec<&'a str>,
    /// Extra environment variables for the host.
    pub env: Vec<(&'a str, &'a str)>,
}

impl Host {
    /// Starts `tandem up --from manifest --listen 127.0.0.1:0 --data-dir data_dir` and waits
    /// for its `Serving http://...` line.
    pub fn start(manifest: &Path, data_dir: &Path, opts: HostOptions<'_>) -> Result<Self> {
        let mut cmd = Command::new(host_binary());
        cmd.arg("up")
            .arg("--from")
            .arg(manifest)
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(&opts.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // The tests decide every Spin variable themselves.
        for (key, _) in std::env::vars() {
            if key.starts_with("SPIN_VARIABLE_") {
                cmd.env_remove(key);
            }
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().context("spawning tandem")?;

        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&stderr);
        let err_pipe = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err_pipe).lines().map_while(Result::ok) {
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });

        let (tx, rx) = std::sync::mpsc::channel();
        let out_pipe = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            let mut sent = false;
            // Keep draining stdout so guest output can never block the host on a full pipe.
            for line in BufReader::new(out_pipe).lines().map_while(Result::ok) {
                if !sent && let Some(addr) = line.strip_prefix("Serving http://") {
                    let _ = tx.send(addr.trim().to_string());
                    sent = true;
                }
            }
        });

        // Generous: a cold compilation cache means compiling every component (tens of MB of
        // wasm) on a 2-core machine before the first `Serving` line.
        let deadline = Instant::now() + Duration::from_secs(300);
        let addr = loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(addr) => break addr.parse().context("parsing the Serving address")?,
                Err(_) => {
                    if let Some(status) = child.try_wait()? {
                        // Give the stderr reader a moment to collect the error message.
                        std::thread::sleep(Duration::from_millis(100));
                        let log = stderr.lock().unwrap_or_else(|p| p.into_inner()).join("\n");
                        bail!("tandem exited with {status} before serving:\n{log}");
                    }
                    if Instant::now() > deadline {
                        let _ = child.kill();
                        bail!("tandem did not print `Serving http://...` within 60 s");
                    }
                }
            }
        };
        Ok(Self {
            child,
            addr,
            stderr,
        })
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> HttpResponse {
        request(self.addr, "GET", path, Body::Empty)
            .unwrap_or_else(|e| panic!("GET {path}: {e:#}\n{}", self.stderr()))
    }

    /// `POST path` with a sized body.
    pub fn post(&self, path: &str, body: &[u8]) -> HttpResponse {
        request(self.addr, "POST", path, Body::Sized(body))
            .unwrap_or_else(|e| panic!("POST {path}: {e:#}\n{}", self.stderr()))
    }

    /// Everything the host wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }

    /// Sends SIGTERM and waits for a clean exit; returns whether the exit status was success.
    pub fn terminate(mut self) -> Result<bool> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status.success());
            }
            if Instant::now() > deadline {
                bail!("tandem did not exit within 10 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `tandem` with `args` to completion; returns (success, stdout+stderr).
pub fn run_tandem(args: &[&str], env: &[(&str, &str)]) -> Result<(bool, String)> {
    let mut cmd = Command::new(host_binary());
    cmd.args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("SPIN_VARIABLE_") {
            cmd.env_remove(key);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}

/// Asserts an RFC 9457 problem response with `status`; returns its body for further checks.
pub fn assert_problem(res: &HttpResponse, status: u16) -> serde_json::Value {
    assert_eq!(res.status, status, "{}", res.text());
    assert_eq!(
        res.header("content-type"),
        Some("application/problem+json"),
        "{}",
        res.text()
    );
    let body = res.json();
    assert_eq!(body["status"], status);
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("https://tandem.dev/problems/")),
        "{body}"
    );
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// The `access-control-*` headers of a response, sorted by name (CORS checks).
pub fn cors_headers(res: &HttpResponse) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = res
        .headers
        .iter()
        .filter(|(n, _)| n.starts_with("access-control-"))
        .cloned()
        .collect();
    h.sort();
    h
}

/// What every answer of a customer route that other origins may call carries, and nothing more.
pub fn any_origin() -> Vec<(String, String)> {
    vec![("access-control-allow-origin".into(), "*".into())]
}

/// The page origin the CORS tests send from: a shop's site, not the app's.
pub const OTHER_ORIGIN: &str = "https://shop.example";

/// What the browser's preflight asks before a JSON `POST` from another origin (beside `Origin`).
pub const JSON_POST_PREFLIGHT: &[(&str, &str)] = &[
    ("Access-Control-Request-Method", "POST"),
    ("Access-Control-Request-Headers", "content-type"),
];

/// A request as a page of [`OTHER_ORIGIN`] sends it: `Origin` plus `headers`.
pub fn request_from_other_origin(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Body<'_>,
) -> HttpResponse {
    let mut all = vec![("Origin", OTHER_ORIGIN)];
    all.extend_from_slice(headers);
    request_with(addr, method, path, &all, body)
        .unwrap_or_else(|e| panic!("{method} {path} from {OTHER_ORIGIN}: {e:#}"))
}

/// Sends the browser's preflight for a JSON `POST` to `path` from another origin and asserts the
/// customer routes' answer: 204, no body, exactly the documented CORS headers (docs/web.md).
pub fn assert_cors_preflight(addr: SocketAddr, path: &str) -> HttpResponse {
    let res = request_from_other_origin(addr, "OPTIONS", path, JSON_POST_PREFLIGHT, Body::Empty);
    assert_eq!(res.status, 204, "OPTIONS {path}: {}", res.text());
    assert!(res.body.is_empty(), "OPTIONS {path}: {}", res.text());
    let expected: Vec<(String, String)> = [
        ("access-control-allow-headers", "content-type"),
        ("access-control-allow-methods", "POST, OPTIONS"),
        ("access-control-allow-origin", "*"),
        ("access-control-max-age", "600"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    assert_eq!(cors_headers(&res), expected, "OPTIONS {path}");
    res
}

/// Sends another origin's preflight for an authorised `GET` of a route that is not for other
/// origins (agent, admin, health) and asserts the refusal: the usual 405, no CORS header.
pub fn assert_preflight_refused(addr: SocketAddr, path: &str) {
    let headers = [
        ("Access-Control-Request-Method", "GET"),
        ("Access-Control-Request-Headers", "authorization"),
    ];
    let res = request_from_other_origin(addr, "OPTIONS", path, &headers, Body::Empty);
    assert_problem(&res, 405);
    assert_eq!(cors_headers(&res), vec![], "OPTIONS {path}");
}

/// The real app: `spin.toml` with every component, built once per test process with the
/// manifest's own build commands (skipped under `TANDEM_SKIP_BUILD`, which `./dev test` sets
/// after building the same things), served on loopback with its stores in `data_dir`.
pub fn start_app(data_dir: &Path, env: Vec<(&str, &str)>) -> Result<Host> {
    start_app_with(data_dir, HostOptions { args: vec![], env })
}

/// Starts one host on the manifest `manifest_in` writes into a temporary folder and waits for `health` to answer 200, once per test binary
/// (`once`), before its tests start theirs: a component carrying tract or the encoder is tens of
/// MB of wasm, and several hosts compiling it at once on a 2-core machine could miss the
/// harness's start-up deadline. The host's compilation cache then serves every later start.
pub fn warm_compilation_cache(
    once: &'static std::sync::Once,
    manifest_in: impl FnOnce(&Path) -> PathBuf,
    health: &str,
) {
    once.call_once(|| {
        let dir = tempfile::TempDir::new().unwrap();
        let host = Host::start(
            &manifest_in(dir.path()),
            &dir.path().join("data"),
            HostOptions {
                args: vec![],
                env: vec![("SPIN_VARIABLE_AGENT_TOKEN", "warm-up")],
            },
        )
        .unwrap();
        let answer = host.get(health);
        assert_eq!(answer.status, 200, "{health}: {}", answer.text());
    });
}

/// [`start_app`] with extra `tandem up` arguments.
pub fn start_app_with(data_dir: &Path, opts: HostOptions<'_>) -> Result<Host> {
    static BUILT: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    let manifest = workspace_root().join("spin.toml");
    let built = BUILT.get_or_init(|| {
        if std::env::var_os("TANDEM_SKIP_BUILD").is_none() {
            match run_tandem(&["build", "--from", manifest.to_str().unwrap()], &[]) {
                Ok((true, _)) => {}
                Ok((false, log)) => return Err(format!("tandem build failed:\n{log}")),
                Err(e) => return Err(format!("tandem build did not run: {e}")),
            }
        }
        // One host first, alone, fills the compilation cache; the tests' hosts, started in
        // parallel, then load compiled components instead of all compiling them at once.
        let data = target_dir()
            .join("tmp")
            .join(format!("warm-{}", std::process::id()));
        let warm = Host::start(
            &manifest,
            &data,
            HostOptions {
                args: vec![],
                env: vec![("SPIN_VARIABLE_AGENT_TOKEN", "warm-up")],
            },
        )
        .and_then(|h| h.terminate().map(|_| ()));
        let _ = std::fs::remove_dir_all(&data);
        warm.map_err(|e| format!("warming the compilation cache: {e}"))
    });

    if let Err(e) = built {
        bail!("{e}");
    }
    let mut opts = opts;
    // The handoff flows under test expect a person, at whatever hour CI runs: the desk is open
    // unless a test asks for the calendar (tests/tests/assist.rs reads it at request time).
    if !opts.env.iter().any(|(k, _)| *k == BUSINESS_HOURS) {
        opts.env.push((BUSINESS_HOURS, "open"));
    }
    Host::start(&manifest, data_dir, opts)
}

/// The Spin variable that says where `/v1/assist` reads business hours.
pub const BUSINESS_HOURS: &str = "SPIN_VARIABLE_BUSINESS_HOURS";

/// Top-level import names of a component (nested components' imports are their own): what a
/// composed component still needs from its host.
pub fn component_imports(wasm: &[u8]) -> Result<Vec<String>> {
    use wasmparser::{Parser, Payload};
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    names.push(import?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(names)
}
