//! Test-only Spin component: one route per host feature the end-to-end tests check.
//!
//! Every response is `200` with a small JSON body unless the route exists to fail
//! (`/probe/trap`, `/probe/sleep`, `/probe/alloc`), so a test can tell "the host refused"
//! from "the component answered".

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{Request, StatusCode};
use spin_sdk::http_service;
use spin_sdk::{key_value, sqlite, variables};

/// Incremented by `/probe/counter`: survives between requests only if the host reuses instances.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Set by `wizer-initialize`: true in a request only if the component was pre-initialised.
static INITIALISED: AtomicBool = AtomicBool::new(false);

mod init {
    // A world-level `wizer-initialize` export next to the HTTP handler, as the real
    // components have it, so `tandem preinit` can be tested on the probe.
    spin_sdk::wit_bindgen::generate!({
        inline: "package tandem:probe; world init { export wizer-initialize: func(); }",
        runtime_path: "spin_sdk::wit_bindgen::rt",
    });

    struct Probe;

    impl Guest for Probe {
        fn wizer_initialize() {
            super::INITIALISED.store(true, super::Ordering::SeqCst);
        }
    }

    export!(Probe);
}

type Reply = (StatusCode, String);

fn json(value: serde_json::Value) -> Reply {
    (StatusCode::OK, value.to_string())
}

fn fail(status: StatusCode, message: impl std::fmt::Display) -> Reply {
    (
        status,
        serde_json::json!({ "error": message.to_string() }).to_string(),
    )
}

/// Value of query parameter `name` (no percent-decoding: tests use plain ASCII).
fn query<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.uri().query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

#[http_service]
async fn handle(req: Request) -> Reply {
    let path = req.uri().path().to_string();
    match path.as_str() {
        "/probe/kv" => kv(&req).await,
        "/probe/sqlite" => sqlite_round_trip().await,
        "/probe/var" => var(&req).await,
        "/probe/outbound" => outbound(&req).await,
        "/probe/trap" => panic!("probe trap requested"),
        "/probe/counter" => json(serde_json::json!({
            "counter": COUNTER.fetch_add(1, Ordering::SeqCst) + 1
        })),
        "/probe/sleep" => sleep(&req),
        "/probe/alloc" => alloc(&req),
        "/probe/echo" => echo(req).await,
        "/probe/denied-db" => match sqlite::Connection::open("not-granted").await {
            Ok(_) => fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "opened a database not granted",
            ),
            Err(e) => json(serde_json::json!({ "denied": format!("{e:?}") })),
        },
        "/probe/init" => json(serde_json::json!({
            "initialised": INITIALISED.load(Ordering::SeqCst)
        })),
        "/probe/headers" => {
            let headers: serde_json::Map<String, serde_json::Value> = req
                .headers()
                .iter()
                .filter(|(k, _)| k.as_str().starts_with("spin-"))
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").into()))
                .collect();
            json(serde_json::Value::Object(headers))
        }
        other => fail(StatusCode::NOT_FOUND, format!("probe has no route {other}")),
    }
}

async fn kv(req: &Request) -> Reply {
    let Some(key) = query(req, "key") else {
        return fail(StatusCode::BAD_REQUEST, "missing key");
    };
    let store = match key_value::Store::open_default().await {
        Ok(s) => s,
        Err(e) => return fail(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:?}")),
    };
    if let Some(value) = query(req, "value")
        && let Err(e) = store.set(key, value.as_bytes()).await
    {
        return fail(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:?}"));
    }
    match store.get(key).await {
        Ok(v) => json(serde_json::json!({
            "key": key,
            "value": v.map(|b| String::from_utf8_lossy(&b).into_owned()),
            "keys": store.get_keys().await.collect().await.unwrap_or_default(),
        })),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:?}")),
    }
}

async fn sqlite_round_trip() -> Reply {
    async fn run() -> Result<Vec<String>, sqlite::Error> {
        let db = sqlite::Connection::open_default().await?;
        db.execute(
            "CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, note TEXT NOT NULL)",
            [],
        )
        .await?
        .result()
        .await?;
        db.execute(
            "INSERT INTO probe (note) VALUES (?)",
            [sqlite::Value::Text("hello from probe".into())],
        )
        .await?
        .result()
        .await?;
        let rows = db
            .execute("SELECT note FROM probe ORDER BY id", [])
            .await?
            .collect()
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| r.get::<&str>(0).map(str::to_string))
            .collect())
    }
    match run().await {
        Ok(notes) => json(serde_json::json!({ "notes": notes })),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:?}")),
    }
}

async fn var(req: &Request) -> Reply {
    let name = query(req, "name").unwrap_or("");
    match variables::get(name).await {
        Ok(value) => json(serde_json::json!({ "name": name, "value": value })),
        Err(e) => fail(StatusCode::NOT_FOUND, format!("{e:?}")),
    }
}

/// `GET <url>` through the host's outbound `wasi:http`: the receiver's status, or the error
/// code the host answered with (`HttpRequestDenied` outside `allowed_outbound_hosts`).
async fn outbound(req: &Request) -> Reply {
    let url = query(req, "url").unwrap_or("");
    match spin_sdk::http::get(url).await {
        Ok(response) => json(serde_json::json!({ "status": response.status().as_u16() })),
        Err(e) => json(serde_json::json!({ "error": format!("{e:?}") })),
    }
}

/// Busy-loops (no host calls) so only epoch interruption can stop it.
fn sleep(req: &Request) -> Reply {
    let ms: u64 = query(req, "ms").and_then(|v| v.parse().ok()).unwrap_or(100);
    let start = std::time::Instant::now();
    let mut spins: u64 = 0;
    while start.elapsed().as_millis() < u128::from(ms) {
        spins = std::hint::black_box(spins.wrapping_add(1));
    }
    json(serde_json::json!({ "slept_ms": ms }))
}

/// Allocates and touches `mb` MiB so the memory limit is really hit.
fn alloc(req: &Request) -> Reply {
    let mb: usize = query(req, "mb").and_then(|v| v.parse().ok()).unwrap_or(1);
    let mut block = vec![0u8; mb * 1024 * 1024];
    for i in (0..block.len()).step_by(4096) {
        block[i] = 1;
    }
    let touched: usize = std::hint::black_box(&block)
        .iter()
        .step_by(4096)
        .map(|&b| b as usize)
        .sum();
    json(serde_json::json!({ "allocated_mb": mb, "pages": touched }))
}

async fn echo(req: Request) -> Reply {
    match req.into_body().bytes().await {
        Ok(body) => json(serde_json::json!({ "length": body.len() })),
        Err(e) => fail(StatusCode::BAD_REQUEST, format!("{e:?}")),
    }
}
