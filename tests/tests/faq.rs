//! End-to-end tests of `POST /v1/faq`: the real faq component (pre-initialised `.wasm` with
//! the index built from the sample KB) in the real app on loopback.

use serde_json::{Value, json};
use tandem_tests::manifest::{Component, Manifest, Var};
use tandem_tests::{
    Body, Host, HostOptions, assert_problem, request, request_with, start_app, workspace_root,
};
use tempfile::TempDir;

const TOKEN: &str = "faq-test-token";

fn app() -> (Host, TempDir) {
    let dir = TempDir::new().unwrap();
    let host = start_app(
        &dir.path().join("data"),
        vec![("SPIN_VARIABLE_AGENT_TOKEN", TOKEN)],
    )
    .unwrap();
    (host, dir)
}

fn ask(host: &Host, body: Value) -> Value {
    let res = host.post("/v1/faq", body.to_string().as_bytes());
    assert_eq!(res.status, 200, "{body}: {}", res.text());
    assert_eq!(res.header("content-type"), Some("application/json"));
    res.json()
}

fn ask_agent(host: &Host, body: Value) -> Value {
    let auth = format!("Bearer {TOKEN}");
    let text = body.to_string();
    let res = request_with(
        host.addr,
        "POST",
        "/v1/faq",
        &[("Authorization", &auth)],
        Body::Sized(text.as_bytes()),
    )
    .unwrap();
    assert_eq!(res.status, 200, "{body}: {}", res.text());
    res.json()
}

fn has_han(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[test]
fn answers_customers_in_their_language() {
    let (host, _dir) = app();
    let zh = ask(&host, json!({ "question": "怎么申请退货？" }));
    assert_eq!(zh["faq_id"], "return_how_to", "{zh}");
    assert_eq!(zh["lang"], "zh");
    assert!(has_han(zh["answer"].as_str().unwrap()), "{zh}");
    assert!(zh["score"].as_f64().unwrap() <= 1.0);
    assert!(zh["matched_question"].is_string());
    assert!(
        zh["model"]["version"]
            .as_str()
            .unwrap()
            .starts_with("tandem-shop-")
    );

    let en = ask(&host, json!({ "question": "How do I return an item?" }));
    assert_eq!(en["faq_id"], "return_how_to", "{en}");
    assert_eq!(en["lang"], "en");
    assert!(!has_han(en["answer"].as_str().unwrap()), "{en}");

    // The language can be forced: a Chinese question, an English answer.
    let forced = ask(&host, json!({ "question": "怎么申请退货？", "lang": "en" }));
    assert_eq!(forced["faq_id"], "return_how_to");
    assert_eq!(forced["lang"], "en");
    assert!(!has_han(forced["answer"].as_str().unwrap()), "{forced}");
}

/// One instance serving hundreds of requests (`--instance-reuse`) answers the last exactly as
/// the first. The component allocates above its snapshot after pre-initialisation and frees
/// those blocks itself (`tandem_adapter::snapshot_alloc`): if it corrupted them, answers would
/// change; leaking more than ~70 KB a request would exhaust the 128 MB memory limit set here
/// (the limit applies to each memory; the largest is the composed encoder's, whose image is
/// 84.5 MB, docs/encoder.md) within these 604 requests. The app is the faq component alone
/// (with its encoder composed in), so that no other component's image sets the floor.
#[test]
fn a_reused_instance_answers_the_same_every_time() {
    let dir = TempDir::new().unwrap();
    let faq_wasm = workspace_root().join("target/tandem/faq.wasm");
    let manifest = Manifest::new("faq-alone")
        .variable("agent_token", Var::required_secret())
        .component(
            Component::new("faq", &faq_wasm)
                .route("/v1/faq/...")
                .var("agent_token", "{{ agent_token }}"),
        )
        .write(dir.path());
    // The app's build (and so faq.wasm) as every other test of this file gets it.
    drop(
        start_app(
            &dir.path().join("warm"),
            vec![("SPIN_VARIABLE_AGENT_TOKEN", TOKEN)],
        )
        .unwrap(),
    );
    let host = Host::start(
        &manifest,
        &dir.path().join("data"),
        HostOptions {
            args: vec!["--instance-reuse", "1000", "--max-memory-mb", "128"],
            env: vec![("SPIN_VARIABLE_AGENT_TOKEN", TOKEN)],
        },
    )
    .unwrap();
    let questions = [
        json!({ "question": "怎么申请退货？" }),
        json!({ "question": "How do I return an item?" }),
        json!({ "question": "我的 order TD20261126123456 怎么查看物流信息", "mode": "agent", "top_k": 5 }),
        json!({ "question": "what is the meaning of life" }),
    ];
    let first: Vec<Value> = questions
        .iter()
        .map(|q| ask_agent(&host, q.clone()))
        .collect();
    assert_eq!(first[0]["faq_id"], "return_how_to", "{}", first[0]);
    for round in 0..150 {
        for (q, expected) in questions.iter().zip(&first) {
            assert_eq!(&ask_agent(&host, q.clone()), expected, "round {round}: {q}");
        }
    }
}

#[test]
fn says_no_answer_honestly() {
    let (host, _dir) = app();
    for q in [
        "明天杭州会下雨吗",
        "tell me a joke",
        "量子色动力学的渐近自由是什么 quantum",
    ] {
        let out = ask(&host, json!({ "question": q }));
        assert_eq!(out["no_answer"], true, "{q}: {out}");
        assert_eq!(out["reason"], "below-threshold", "{q}");
        assert!(out.get("answer").is_none(), "{q}: {out}");
    }
}

#[test]
fn agent_mode_needs_the_token() {
    let (host, _dir) = app();
    let body = json!({ "question": "怎么申请退货？", "mode": "agent" }).to_string();
    let res = host.post("/v1/faq", body.as_bytes());
    let p = assert_problem(&res, 401);
    assert!(p["detail"].as_str().unwrap().contains("Bearer"), "{p}");
    let wrong = request_with(
        host.addr,
        "POST",
        "/v1/faq",
        &[("Authorization", "Bearer not-the-token")],
        Body::Sized(body.as_bytes()),
    )
    .unwrap();
    assert_problem(&wrong, 403);
}

#[test]
fn agent_mode_ranks_suggestions_and_fills_templates() {
    let (host, _dir) = app();
    // Mixed Chinese and English, with an order number for the template.
    let out = ask_agent(
        &host,
        json!({ "question": "我的 order TD20261126123456 怎么查看物流信息", "mode": "agent", "top_k": 5 }),
    );
    let suggestions = out["suggestions"].as_array().unwrap();
    assert_eq!(suggestions.len(), 5, "{out}");
    assert_eq!(suggestions[0]["faq_id"], "order_tracking", "{out}");
    let scores: Vec<f64> = suggestions
        .iter()
        .map(|s| s["score"].as_f64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "ranked: {scores:?}"
    );
    let ids: Vec<&str> = suggestions
        .iter()
        .map(|s| s["faq_id"].as_str().unwrap())
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "no entry twice: {ids:?}");
    let template = &out["templates"][0];
    assert_eq!(template["intent"], "order_status", "{out}");
    assert!(
        template["text"]
            .as_str()
            .unwrap()
            .contains("TD20261126123456"),
        "{template}"
    );
    assert!(
        has_han(template["text"].as_str().unwrap()),
        "zh question, zh template"
    );

    // Without an order number the placeholder is reported missing.
    let out = ask_agent(
        &host,
        json!({ "question": "How do I track my order?", "mode": "agent", "top_k": 1 }),
    );
    assert_eq!(out["suggestions"].as_array().unwrap().len(), 1);
    assert_eq!(out["templates"][0]["missing"], json!(["order_id"]), "{out}");
}

#[test]
fn expired_and_disabled_entries_are_never_served() {
    let (host, _dir) = app();
    for q in [
        "2024 双 12 满减活动规则是什么？",
        "What are the rules of the 2024 Double 12 sale?",
        "春节期间可以货到付款吗？",
    ] {
        let out = ask_agent(
            &host,
            json!({ "question": q, "mode": "agent", "top_k": 10 }),
        );
        for s in out["suggestions"].as_array().unwrap() {
            let id = s["faq_id"].as_str().unwrap();
            assert!(
                id != "double12_2024_rules" && id != "cod_paused_spring_festival",
                "{q}: {id}"
            );
        }
    }
}

#[test]
fn rejects_bad_input_with_problems() {
    let (host, _dir) = app();
    let post = |body: &[u8]| host.post("/v1/faq", body);
    assert_problem(&post(b"{not json"), 400);
    assert_problem(&post(b"\xff\xfe{}"), 400);
    assert_problem(&post(b""), 400);
    assert_problem(&post(b"{}"), 422);
    assert_problem(&post(br#"{"question": 42}"#), 422);
    assert_problem(&post(br#"{"question": "   "}"#), 422);
    assert_problem(&post(br#"{"question": "hi", "top_k": 0}"#), 422);
    assert_problem(&post(br#"{"question": "hi", "top_k": 11}"#), 422);
    assert_problem(&post(br#"{"question": "hi", "lang": "fr"}"#), 422);
    assert_problem(&post(br#"{"question": "hi", "mode": "boss"}"#), 422);
    assert_problem(&post(br#"{"question": "hi", "extra": 1}"#), 422);
    let long = json!({ "question": "退".repeat(1500) }).to_string();
    assert_problem(&post(long.as_bytes()), 413);
    let huge = json!({ "question": "x".repeat(20_000) }).to_string();
    assert_problem(&post(huge.as_bytes()), 413);
    assert_problem(&host.get("/v1/faq"), 405);
    assert_problem(&host.get("/v1/faq/elsewhere"), 404);
    // Hostile but valid text is just a question with no answer, and the component keeps serving.
    let out = ask(
        &host,
        json!({ "question": "'; DROP TABLE faq; -- <script>alert(1)</script> \u{202e}\u{0000}" }),
    );
    assert_eq!(out["no_answer"], true, "{out}");
    let again = request(host.addr, "GET", "/v1/faq/health", Body::Sized(b"")).unwrap();
    assert_eq!(again.status, 200);
}

/// The component (tract in wasm) and the core natively rank the same entries with the same
/// scores for the same index: the shared extractor and BM25 behave identically on both targets.
#[test]
fn wasm_component_matches_native_core() {
    let (host, _dir) = app();
    let root = workspace_root();
    let runner = tandem_core::faq::runner::FaqRunner::from_bytes(
        &std::fs::read(root.join("models/faq.onnx")).unwrap(),
        &std::fs::read(root.join("models/faq.json")).unwrap(),
    )
    .unwrap();
    let today = {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        tandem_core::foundation::time::iso_date(secs)
    };
    for q in [
        "怎么申请退货？",
        "ＦＵＬＬ－ＷＩＤＴＨ　退款　ＲＥＦＵＮＤ",
        "my parcel says delivered but I never got it",
        "发票 invoice 怎么开",
        "😀",
    ] {
        let sentence = runner
            .uses_embedding()
            .then(|| tandem_tests::sentence_embedding(q));
        let native = runner
            .search_embedded(q, sentence.as_deref(), Some(&today))
            .unwrap();
        let wasm = ask_agent(&host, json!({ "question": q, "mode": "agent", "top_k": 5 }));
        for (w, n) in wasm["suggestions"].as_array().unwrap().iter().zip(&native) {
            let id = &runner.retriever().entries()[n.signals.entry].id;
            assert_eq!(w["faq_id"], id.as_str(), "{q}");
            let diff = (w["score"].as_f64().unwrap() - n.score as f64).abs();
            assert!(diff < 1e-4, "{q}: {} vs {}", w["score"], n.score);
        }
    }
}
