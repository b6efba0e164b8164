//! The composition example (`examples/intent-router`): a component of a platform team's own that
//! imports only Tandem's `intent` interface, built with its manifest's build command (which
//! plugs the intent component in), served by the real host from its own `spin.toml`.

use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::OnceLock;
use tandem_tests::{
    Body, Host, HostOptions, HttpResponse, component_imports, request, run_tandem, target_dir,
    workspace_root,
};
use tempfile::TempDir;

fn manifest() -> PathBuf {
    workspace_root().join("examples/intent-router/spin.toml")
}

/// Built once: under `./dev test` its setup already ran this manifest's build command.
fn router() -> (Host, TempDir) {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        if std::env::var_os("TANDEM_SKIP_BUILD").is_none() {
            let (ok, log) = run_tandem(&["build", "--from", manifest().to_str().unwrap()], &[])
                .expect("running tandem build");
            assert!(ok, "building the example failed:\n{log}");
        }
    });
    let dir = TempDir::new().unwrap();
    let host = Host::start(
        &manifest(),
        &dir.path().join("data"),
        HostOptions::default(),
    )
    .unwrap();
    (host, dir)
}

fn route(host: &Host, text: &str) -> Value {
    let body = json!({ "text": text }).to_string();
    let res = request(host.addr, "POST", "/route", Body::Sized(body.as_bytes())).unwrap();
    assert_eq!(res.status, 200, "{text}: {}", res.text());
    res.json()
}

#[test]
fn the_example_imports_nothing_of_tandem_once_composed() {
    let _ = router();
    let composed = std::fs::read(target_dir().join("tandem/intent-router.wasm")).unwrap();
    let imports = component_imports(&composed).unwrap();
    assert!(
        !imports
            .iter()
            .any(|i| i.starts_with("tandem:service/") && !i.starts_with("tandem:service/types@")),
        "{imports:?}"
    );
    // Before composition the example needs intent (so the check above can fail).
    let plain =
        std::fs::read(target_dir().join("wasm32-wasip2/release/tandem_example_intent_router.wasm"))
            .unwrap();
    let imports = component_imports(&plain).unwrap();
    assert!(
        imports
            .iter()
            .any(|i| i.starts_with("tandem:service/intent@")),
        "{imports:?}"
    );
}

/// The composed example classifies exactly as the intent model does natively, and routes by
/// its own table: zh, en and mixed.
#[test]
fn the_example_routes_by_tandems_intent() {
    let (host, _dir) = router();
    let root = workspace_root();
    let native = tandem_core::intent::IntentRunner::from_bytes(
        &std::fs::read(root.join("models/intent.onnx")).unwrap(),
        &std::fs::read(root.join("models/intent.json")).unwrap(),
    )
    .unwrap();
    for (text, desk) in [
        ("我的订单到哪了，怎么还没到", "logistics-desk"),
        ("I want a refund for my order", "billing-desk"),
        ("帮我转人工客服 please", "escalations-desk"),
    ] {
        let routed = route(&host, text);
        let expected = tandem_tests::classify_native(&native, text, 1);
        assert_eq!(routed["intent"], expected.intent, "{text}: {routed}");
        assert_eq!(routed["desk"], desk, "{text}: {routed}");
        assert!(
            routed["model"]
                .as_str()
                .is_some_and(|m| m.starts_with("tandem-shop-"))
        );
    }
    let off_topic = route(&host, "what is the boiling point of tungsten in kelvin");
    assert_eq!(off_topic["out_of_scope"], true, "{off_topic}");
    assert_eq!(off_topic["desk"], "front-desk");
}

/// The example's own RFC 9457 problems (its type is `about:blank`: it is not a Tandem route).
fn assert_problem(res: &HttpResponse, status: u16) {
    assert_eq!(res.status, status, "{}", res.text());
    assert_eq!(res.header("content-type"), Some("application/problem+json"));
    let body = res.json();
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
}

#[test]
fn the_example_refuses_bad_input() {
    let (host, _dir) = router();
    assert_problem(
        &request(host.addr, "GET", "/route", Body::Empty).unwrap(),
        405,
    );
    assert_problem(
        &request(host.addr, "POST", "/route", Body::Sized(b"not json")).unwrap(),
        400,
    );
    // Text the intent interface refuses (empty) is its 4xx, passed on, never a trap.
    let res = request(
        host.addr,
        "POST",
        "/route",
        Body::Sized(br#"{"text": "   "}"#),
    )
    .unwrap();
    assert_problem(&res, 422);
}
