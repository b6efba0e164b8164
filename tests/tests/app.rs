//! End-to-end tests of the real app: `spin.toml` with every component, built by its own build
//! commands (`tandem build`), served by `tandem up` on loopback.

use tandem_tests::{Body, Host, assert_problem, request, start_app, workspace_root};
use tempfile::TempDir;

const TOKEN: (&str, &str) = ("SPIN_VARIABLE_AGENT_TOKEN", "app-test-token");

fn app() -> (Host, TempDir) {
    let dir = TempDir::new().unwrap();
    let host = start_app(&dir.path().join("data"), vec![TOKEN]).unwrap();
    (host, dir)
}

fn classify(host: &Host, text: &str) -> serde_json::Value {
    classify_top(host, text, 3)
}

#[test]
fn every_component_answers_its_health_route() {
    let (host, _dir) = app();
    let health = host.get("/v1/health");
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.json()["component"], "health");
    assert_eq!(health.json()["version"], env!("CARGO_PKG_VERSION"));
    for (path, component) in [
        ("/v1/embed/health", "embed"),
        ("/v1/intent/health", "intent"),
        ("/v1/faq/health", "faq"),
        ("/v1/tickets/health", "ticket"),
        ("/v1/agents/health", "ticket"),
        ("/v1/handoff/health", "handoff"),
        ("/v1/feedback/health", "feedback"),
        ("/v1/assist/health", "assist"),
        ("/v1/graph/health", "knowledge"),
    ] {
        let res = host.get(path);
        assert_eq!(res.status, 200, "{path}: {}", res.text());
        assert_eq!(res.json()["component"], component, "{path}");
    }
    let model = host.get("/v1/intent/health").json();
    assert!(
        model["model"]["version"]
            .as_str()
            .unwrap()
            .starts_with("tandem-shop-")
    );
}

#[test]
fn unknown_routes_are_404_problems() {
    let (host, _dir) = app();
    assert_problem(&host.get("/nope"), 404);
    assert_problem(&host.get("/v2/health"), 404);
    assert_problem(&host.get("/v1/intent/elsewhere"), 404);
}

#[test]
fn intent_classifies_chinese_english_and_mixed() {
    let (host, _dir) = app();
    for (text, expected) in [
        ("我的订单到哪了，怎么还没到", "order_status"),
        ("帮我转人工客服", "talk_to_human"),
        ("where is my order, it still hasn't arrived", "order_status"),
        ("I want to talk to a real person", "talk_to_human"),
        ("我想退货，这件 jacket 尺码不合适", "return_request"),
        ("the coupon 优惠券 doesn't work at checkout", "coupon_usage"),
    ] {
        let out = classify(&host, text);
        assert_eq!(out["intent"], expected, "{text}: {out}");
        assert_eq!(out["ranking"].as_array().unwrap().len(), 3);
        assert!(out["model"]["version"].is_string());
    }
}

#[test]
fn intent_flags_out_of_scope_messages() {
    let (host, _dir) = app();
    let out = classify(&host, "what is the boiling point of tungsten in kelvin");
    assert_eq!(out["out_of_scope"], true, "{out}");
    let out = classify(&host, "我的订单到哪了");
    assert_eq!(out["out_of_scope"], false, "{out}");
}

#[test]
fn intent_rejects_bad_input_with_problems() {
    let (host, _dir) = app();
    let post = |body: &[u8]| host.post("/v1/intent", body);
    assert_problem(&post(b""), 400);
    assert_problem(&post(b"{\"text\":"), 400);
    assert_problem(&post(b"{\"text\": \"\xff\xfe\"}"), 400);
    assert_problem(&post(b"[]"), 422);
    assert_problem(&post(b"{\"text\": 42}"), 422);
    assert_problem(&post(b"{\"text\": \"   \"}"), 422);
    assert_problem(&post(b"{\"text\": \"hi\", \"top_k\": 0}"), 422);
    assert_problem(&post(b"{\"text\": \"hi\", \"top_k\": \"3\"}"), 422);
    assert_problem(&post(b"{\"text\": \"hi\", \"extra\": 1}"), 422);
    let long = serde_json::json!({ "text": "退".repeat(2000) }).to_string();
    assert_problem(&post(long.as_bytes()), 413);
    let huge = vec![b'a'; 64 * 1024];
    assert_problem(&post(&huge), 413);
    assert_problem(&host.get("/v1/intent"), 405);
    // Hostile but well-formed text is just text.
    let out = classify(
        &host,
        "'; DROP TABLE tickets; -- <script>alert(1)</script> \u{202e}",
    );
    assert!(out["intent"].is_string());
    // After all of that the component still serves.
    assert_eq!(
        classify(&host, "where is my order")["intent"],
        "order_status"
    );
}

/// The full spin.toml routes both ticket subtrees to the (composed) ticket component: its
/// health answers with the KB build, and an empty create is refused field by field.
#[test]
fn the_full_app_serves_tickets_and_agents() {
    let (host, _dir) = app();
    let health = host.get("/v1/tickets/health");
    assert_eq!(health.status, 200);
    assert!(health.text().contains("tandem-shop-"), "{}", health.text());
    let res = request(host.addr, "POST", "/v1/tickets", Body::Sized(b"{}")).unwrap();
    assert_problem(&res, 422);
    let res = request(host.addr, "GET", "/v1/agents", Body::Sized(b"")).unwrap();
    assert_problem(&res, 401);
}

/// Training/serving skew check: the component (wasm, tract in wasm) and the core natively give
/// the same ranking and probabilities for the same model, so the feature extractor and model
/// runner behave identically on both targets. The sentence embedding's sums run in another
/// order natively (AVX2 + FMA) than in wasm (simd128): probabilities agree to 1e-4, not bit
/// for bit.
#[test]
fn wasm_component_matches_native_core() {
    let (host, _dir) = app();
    let root = workspace_root();
    let runner = tandem_core::intent::IntentRunner::from_bytes(
        &std::fs::read(root.join("models/intent.onnx")).unwrap(),
        &std::fs::read(root.join("models/intent.json")).unwrap(),
    )
    .unwrap();
    for text in [
        "我的订单到哪了",
        "ＦＵＬＬ－ＷＩＤＴＨ　退款　ＲＥＦＵＮＤ",
        "where's my parcel?? it's been 5 days",
        "我想 cancel 这个 order TD2026112612345",
        "發票怎麼開",
        "😀 hi",
    ] {
        let native = tandem_tests::classify_native(&runner, text, 5);
        let wasm = classify_top(&host, text, 5);
        assert_eq!(wasm["intent"], native.intent, "{text}");
        assert_eq!(wasm["out_of_scope"], native.out_of_scope, "{text}");
        for (w, n) in wasm["ranking"]
            .as_array()
            .unwrap()
            .iter()
            .zip(&native.ranking)
        {
            assert_eq!(w["intent"], n.intent, "{text}");
            let diff = (w["confidence"].as_f64().unwrap() - n.confidence as f64).abs();
            assert!(
                diff < 1e-4,
                "{text}: {} vs {}",
                w["confidence"],
                n.confidence
            );
        }
    }
}

fn classify_top(host: &Host, text: &str, top_k: u32) -> serde_json::Value {
    let body = serde_json::json!({ "text": text, "top_k": top_k }).to_string();
    let res = host.post("/v1/intent", body.as_bytes());
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()
}

/// The feedback component's agent view reads the ticket store (same `default` database): the
/// median time to resolve of the tickets an agent resolved. An agent with feedback but no
/// resolved ticket has none.
#[test]
fn agent_view_has_the_median_time_to_resolve_from_tickets() {
    let (host, _dir) = app();
    let auth = [("Authorization", "Bearer app-test-token")];
    let call = |method: &str, path: &str, headers: &[(&str, &str)], body: &str| {
        let res = tandem_tests::request_with(
            host.addr,
            method,
            path,
            headers,
            Body::Sized(body.as_bytes()),
        )
        .unwrap();
        assert!(
            res.status < 300,
            "{method} {path}: {} {}",
            res.status,
            res.text()
        );
        res.json()
    };
    call(
        "PUT",
        "/v1/agents/li",
        &auth,
        r#"{"name": "Li", "queues": ["orders"], "capacity": 5, "status": "online"}"#,
    );
    for text in ["我的订单到哪了", "where is my order TD2026112612345"] {
        let created = call(
            "POST",
            "/v1/tickets",
            &[],
            &serde_json::json!({
                "customer": {"id": "c-median"},
                "transcript": [{"role": "customer", "text": text}],
                "category": "order_status",
            })
            .to_string(),
        );
        let ticket = &created["ticket"];
        assert_eq!(ticket["assignee"], "li", "{created}");
        let path = format!("/v1/tickets/{}", ticket["id"].as_str().unwrap());
        let headers = [auth[0], ("If-Match", "\"1\"")];
        let resolved = call("PATCH", &path, &headers, r#"{"status": "resolved"}"#);
        assert_eq!(resolved["status"], "resolved");
    }
    for (id, agent) in [("e-li", "li"), ("e-wang", "wang")] {
        call(
            "POST",
            "/v1/feedback",
            &[],
            &serde_json::json!({
                "event_id": id, "conversation_id": format!("conv-{agent}"), "kind": "outcome",
                "resolved": true, "handled_by": "human", "agent_id": agent,
            })
            .to_string(),
        );
    }
    let stats = call("GET", "/v1/feedback/stats?group_by=agent", &auth, "");
    let group = |key: &str| {
        stats["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["key"] == key)
            .unwrap_or_else(|| panic!("no group {key} in {stats}"))
            .clone()
    };
    let li = group("li")["median_time_to_resolve_seconds"].as_f64();
    assert!(li.is_some_and(|s| (0.0..60.0).contains(&s)), "{stats}");
    assert!(
        group("wang")["median_time_to_resolve_seconds"].is_null(),
        "{stats}"
    );
}

/// The handoff component as the full spin.toml serves it (composed with intent): zh, en and
/// mixed conversations get explained decisions, and no agent online turns `human` into `ticket`.
#[test]
fn handoff_decides_in_the_full_app() {
    let (host, _dir) = app();
    let decide = |body: serde_json::Value| {
        let res = host.post("/v1/handoff", body.to_string().as_bytes());
        assert_eq!(res.status, 200, "{}", res.text());
        res.json()
    };
    let turns = |texts: &[&str]| {
        texts
            .iter()
            .map(|t| serde_json::json!({"role": "customer", "text": t}))
            .collect::<Vec<_>>()
    };
    for text in [
        "帮我转人工客服",
        "I want to talk to a real person",
        "转人工 please",
    ] {
        // At a time the routed queue's calendar is open (kb/kb.yaml), so the clock cannot turn
        // the person into a ticket.
        let out = decide(serde_json::json!({"conversation_id": "c1",
            "at": "2026-12-07T10:00:00+08:00", "turns": turns(&[text])}));
        assert_eq!(out["decision"], "human", "{text}: {out}");
        assert!(
            out["reasons"][0]["message_zh"].is_string()
                && out["reasons"][0]["message_en"].is_string(),
            "{out}"
        );
    }
    let out =
        decide(serde_json::json!({"conversation_id": "c2", "turns": turns(&["我的订单到哪了"])}));
    assert_eq!(out["decision"], "bot", "{out}");
    let out = decide(serde_json::json!({
        "conversation_id": "c3", "agents_online": 0, "turns": turns(&["转人工"]),
    }));
    assert_eq!(out["decision"], "ticket", "{out}");
    assert_problem(
        &host.post("/v1/handoff", br#"{"conversation_id": "c4", "turns": []}"#),
        422,
    );
}
