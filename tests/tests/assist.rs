//! Assist end to end (docs/assist.md): the composed component (`target/tandem/assist.wasm`,
//! five services plugged in by `scripts/build-assist.sh`) behind the real host, with its real
//! key-value and SQLite files, over plain HTTP on loopback. The ticket and feedback components
//! are served beside it (as in `spin.toml`) to read back what the assist wrote into the shared
//! database: the ticket with its transcript, the handoff outcome.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use tandem_tests::manifest::{Component, Manifest, Var};
use tandem_tests::{
    Body, Host, HostOptions, HttpResponse, any_origin, assert_cors_preflight,
    assert_preflight_refused, assert_problem, component, component_imports, cors_headers,
    request_from_other_origin, request_with, target_dir, workspace_root,
};
use tempfile::TempDir;

const TOKEN: &str = "assist-test-token";
const INTENT: &str = "tandem:service/intent@0.1.0";
const ENCODER: &str = "tandem:service/encoder@0.1.0";

// ---------------------------------------------------------------------------------------------
// The app under test.

fn sh(args: &[&str]) {
    let ok = std::process::Command::new("sh")
        .args(args)
        .current_dir(workspace_root())
        .status()
        .unwrap_or_else(|e| panic!("running sh {args:?}: {e}"))
        .success();
    assert!(ok, "sh {args:?} failed");
}

/// The components as `spin.toml` builds them: the assist with the services plugged in, and the
/// ticket and feedback components served beside it. Built with the same scripts unless
/// `TANDEM_SKIP_BUILD` says the artifacts are already there.
fn artifacts() -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        if std::env::var_os("TANDEM_SKIP_BUILD").is_none() {
            sh(&["scripts/build-assist.sh"]);
            let tandem = target_dir().join("tandem");
            if !tandem.join("ticket.wasm").exists() {
                sh(&["scripts/build-component.sh", "ticket"]);
            }
        }
    });
    let tandem = target_dir().join("tandem");
    let paths = (
        component("tandem-health"),
        tandem.join("assist.wasm"),
        tandem.join("ticket.wasm"),
        tandem.join("feedback.wasm"),
    );
    for p in [&paths.1, &paths.2, &paths.3] {
        assert!(
            p.exists(),
            "{} is missing: run `sh scripts/build-assist.sh`",
            p.display()
        );
    }
    paths
}

fn manifest_unwarmed(dir: &Path) -> PathBuf {
    let (health, assist, ticket, feedback) = artifacts();
    Manifest::new("assist-test")
        .variable("agent_token", Var::required_secret())
        .variable("auto_assign", Var::default("true"))
        // The flows here expect a person at any hour; the calendar's own test sets "calendar".
        .variable("business_hours", Var::default("open"))
        .component(Component::new("health", &health).route("/v1/health"))
        .component(
            Component::new("assist", &assist)
                .route("/v1/assist/...")
                .kv("default")
                .sqlite("default")
                .var("agent_token", "{{ agent_token }}")
                .var("auto_assign", "{{ auto_assign }}")
                .var("business_hours", "{{ business_hours }}"),
        )
        .component(
            Component::new("ticket", &ticket)
                .route("/v1/tickets/...")
                .route("/v1/agents/...")
                .sqlite("default")
                .var("agent_token", "{{ agent_token }}")
                .var("auto_assign", "{{ auto_assign }}"),
        )
        .component(
            Component::new("feedback", &feedback)
                .route("/v1/feedback/...")
                .sqlite("default")
                .var("agent_token", "{{ agent_token }}"),
        )
        .write(dir)
}

/// The assist alone is ~70 MB of wasm: compiled once before the tests start.
fn warm_cache() {
    static WARM: std::sync::Once = std::sync::Once::new();
    tandem_tests::warm_compilation_cache(&WARM, manifest_unwarmed, "/v1/assist/health");
}

fn start_host_unwarmed(dir: &Path) -> Host {
    start_host_with(dir, vec![])
}

fn start_host_with(dir: &Path, mut env: Vec<(&str, &str)>) -> Host {
    env.push(("SPIN_VARIABLE_AGENT_TOKEN", TOKEN));
    Host::start(
        &manifest_unwarmed(dir),
        &dir.join("data"),
        HostOptions { args: vec![], env },
    )
    .unwrap()
}

struct App {
    host: Host,
    dir: TempDir,
}

impl App {
    fn start() -> App {
        warm_cache();
        let dir = TempDir::new().unwrap();
        let host = start_host_unwarmed(dir.path());
        App { host, dir }
    }

    /// [`App::start`] with the Spin variable `business_hours` set to `desk`.
    fn start_with_desk(desk: &str) -> App {
        warm_cache();
        let dir = TempDir::new().unwrap();
        let host = start_host_with(dir.path(), vec![("SPIN_VARIABLE_BUSINESS_HOURS", desk)]);
        App { host, dir }
    }

    fn send(&self, method: &str, path: &str, auth: bool, body: Option<&[u8]>) -> HttpResponse {
        let bearer = format!("Bearer {TOKEN}");
        let headers: Vec<(&str, &str)> = if auth {
            vec![("Authorization", bearer.as_str())]
        } else {
            vec![]
        };
        let body = body.map_or(Body::Empty, Body::Sized);
        request_with(self.host.addr, method, path, &headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e:#}\n{}", self.host.stderr()))
    }

    /// `POST /v1/assist` with a raw body.
    fn post_raw(&self, body: &[u8]) -> HttpResponse {
        self.send("POST", "/v1/assist", false, Some(body))
    }

    /// One turn that must succeed; returns the answer.
    fn turn(&self, body: &Value) -> Value {
        let res = self.post_raw(body.to_string().as_bytes());
        assert_eq!(res.status, 200, "{body}: {}", res.text());
        assert_eq!(res.header("content-type"), Some("application/json"));
        let v = res.json();
        check_shape(&v);
        v
    }

    /// The agent view of a ticket.
    fn ticket(&self, id: &str) -> Value {
        let res = self.send("GET", &format!("/v1/tickets/{id}"), true, None);
        assert_eq!(res.status, 200, "GET ticket {id}: {}", res.text());
        let v = res.json();
        match v.get("ticket") {
            Some(t) if t.is_object() => t.clone(),
            _ => v,
        }
    }

    /// Tickets of a customer (agent list).
    fn tickets_of(&self, customer_id: &str) -> Vec<Value> {
        let res = self.send(
            "GET",
            &format!("/v1/tickets?customer_id={customer_id}"),
            true,
            None,
        );
        assert_eq!(res.status, 200, "{}", res.text());
        res.json()["items"].as_array().unwrap().clone()
    }

    fn kv(&self) -> rusqlite::Connection {
        let db =
            rusqlite::Connection::open(self.dir.path().join("data/sqlite_key_value.db")).unwrap();
        db.busy_timeout(Duration::from_secs(10)).unwrap();
        db
    }

    /// The stored state of a conversation, if any.
    fn state(&self, conversation_id: &str) -> Option<Value> {
        let key = format!("assist:conversation:{conversation_id}");
        let bytes: Option<Vec<u8>> = self
            .kv()
            .query_row(
                "SELECT value FROM spin_key_value WHERE store = 'default' AND key = ?1",
                [&key],
                |r| r.get(0),
            )
            .ok();
        bytes.map(|b| serde_json::from_slice(&b).unwrap())
    }

    fn set_state(&self, conversation_id: &str, state: &Value) {
        let key = format!("assist:conversation:{conversation_id}");
        let n = self
            .kv()
            .execute(
                "UPDATE spin_key_value SET value = ?1 WHERE store = 'default' AND key = ?2",
                (state.to_string().into_bytes(), &key),
            )
            .unwrap();
        assert_eq!(n, 1);
    }
}

/// Every turn answers the documented shape.
fn check_shape(v: &Value) {
    let id = v["conversation_id"].as_str().unwrap_or_default();
    assert!(
        id.len() == 29 && id.starts_with("cv_"),
        "conversation id {id:?}"
    );
    assert!(v["turn"].as_u64().is_some_and(|t| t >= 1), "{v}");
    let reply = &v["reply"];
    assert!(
        reply["text"].as_str().is_some_and(|t| !t.trim().is_empty()),
        "{v}"
    );
    assert!(
        ["faq", "intent", "fallback", "handoff"].contains(&reply["source"].as_str().unwrap_or("")),
        "{v}"
    );
    assert!(
        ["zh", "en"].contains(&reply["lang"].as_str().unwrap_or("")),
        "{v}"
    );
    assert!(v["intent"]["intent"].is_string() && v["intent"]["confidence"].is_number());
    assert!(
        v["intent"]["ranking"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );
    assert!(v["faq"]["model"]["version"].is_string(), "{v}");
    assert!(
        ["bot", "human", "ticket"].contains(&v["handoff"]["decision"].as_str().unwrap_or("")),
        "{v}"
    );
    assert!(
        v["handoff"]["reasons"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );
    assert!(v["handoff"]["signals"].is_object(), "{v}");
}

fn source(v: &Value) -> &str {
    v["reply"]["source"].as_str().unwrap()
}

fn text(v: &Value) -> &str {
    v["reply"]["text"].as_str().unwrap()
}

fn cid(v: &Value) -> String {
    v["conversation_id"].as_str().unwrap().to_string()
}

/// Sends `messages` as one conversation (optionally with customer fields on the first turn).
fn conversation(app: &App, customer: Option<Value>, messages: &[&str]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for m in messages {
        let mut body = json!({ "message": m });
        if let Some(prev) = out.last() {
            body["conversation_id"] = json!(cid(prev));
        } else if let Some(c) = &customer {
            body["customer"] = c.clone();
        }
        out.push(app.turn(&body));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Composition.

/// How many components inside `wasm` export the intent interface: one intent component
/// definition serves assist, ticket and handoff when the unplugged builds were plugged in.
fn intent_exporters(wasm: &[u8]) -> usize {
    exporters(wasm, INTENT)
}

/// How many components inside `wasm` export the instance `name`.
fn exporters(wasm: &[u8], name: &str) -> usize {
    use wasmparser::{ComponentExternalKind, Parser, Payload};
    let mut depth = 0usize;
    let mut count = 0;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.unwrap() {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentExportSection(reader) if depth >= 1 => {
                for export in reader {
                    let export = export.unwrap();
                    if export.kind == ComponentExternalKind::Instance && export.name.name == name {
                        count += 1;
                    }
                }
            }
            _ => {}
        }
    }
    count
}

#[test]
fn composed_component_imports_no_service_and_runs() {
    let app = App::start();
    let tandem = target_dir().join("tandem");
    let composed = std::fs::read(tandem.join("assist.wasm")).unwrap();
    let imports = component_imports(&composed).unwrap();
    let services: Vec<&String> = imports
        .iter()
        .filter(|i| i.starts_with("tandem:") && !i.starts_with("tandem:service/types@"))
        .collect();
    assert!(services.is_empty(), "left unplugged: {services:?}");
    assert!(
        imports.iter().any(|i| i.starts_with("wasi:")),
        "{imports:?}"
    );
    assert!(
        imports.iter().any(|i| i.starts_with("spin:key-value/")),
        "{imports:?}"
    );
    // Before composition the five imports are there: the test would see a missing plug.
    let unplugged =
        component_imports(&std::fs::read(tandem.join("assist.unplugged.wasm")).unwrap()).unwrap();
    for service in ["encoder", "intent", "faq", "ticket", "handoff", "feedback"] {
        let name = format!("tandem:service/{service}@0.1.0");
        assert!(unplugged.contains(&name), "{name} not in {unplugged:?}");
    }
    // One intent component inside, shared by assist, ticket and handoff. The composed
    // ticket.wasm carries its own: intent.wasm, whose composition of intent and its encoder
    // re-exports the intent interface (two exports, one intent component).
    assert_eq!(intent_exporters(&composed), 1);
    assert_eq!(
        intent_exporters(&std::fs::read(tandem.join("ticket.wasm")).unwrap()),
        2
    );
    // One encoder inside, shared by assist, intent, FAQ, handoff and feedback: its 54 MB token table is in the
    // memory image once, not once per capability.
    assert_eq!(exporters(&composed, ENCODER), 1);
    for alone in ["intent.wasm", "faq.wasm", "handoff.wasm", "feedback.wasm"] {
        let wasm = std::fs::read(tandem.join(alone)).unwrap();
        assert_eq!(exporters(&wasm, ENCODER), 1, "{alone}");
    }

    // And it runs: health, then a turn that goes through every plugged service but feedback.
    let health = app.send("GET", "/v1/assist/health", false, None);
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.json()["component"], "assist");
    let v = app.turn(&json!({"message": "退款多久到账"}));
    assert_eq!(source(&v), "faq", "{v}");
    // Intent and FAQ both took the message's sentence embedding; the encoder ran once.
    assert_eq!(v["trace"]["texts_encoded"], 1, "{v}");
    let v = app.turn(&json!({"message": "where is my parcel 我的包裹到哪了"}));
    assert_eq!(v["trace"]["texts_encoded"], 1, "{v}");
    // Later turns too: handoff's sentiment reads the earlier customer turns' `negative` from
    // the stored conversation instead of encoding them again.
    let turns = conversation(
        &app,
        None,
        &[
            "包裹三天了还没到",
            "this is ridiculous, still nothing",
            "还是没有物流更新 no update",
        ],
    );
    for v in &turns {
        assert_eq!(v["trace"]["texts_encoded"], 1, "{v}");
    }
    let state = app
        .state(&cid(&turns[2]))
        .expect("the conversation is stored");
    let stored: Vec<&Value> = state["turns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["role"] == "customer")
        .collect();
    assert_eq!(stored.len(), 3, "{state}");
    assert!(
        stored.iter().all(|t| t["negative"]
            .as_f64()
            .is_some_and(|p| (0.0..=1.0).contains(&p))),
        "{state}"
    );
}

// ---------------------------------------------------------------------------------------------
// Conversations.

#[test]
fn faq_questions_are_answered_in_chinese_and_english() {
    let app = App::start();
    let zh = conversation(&app, None, &["退款多久到账", "七天无理由怎么算"]);
    assert_eq!(source(&zh[0]), "faq", "{}", zh[0]);
    assert_eq!(zh[0]["faq"]["faq_id"], "refund_time");
    assert_eq!(zh[0]["reply"]["lang"], "zh");
    assert_eq!(text(&zh[0]), zh[0]["faq"]["answer"].as_str().unwrap());
    assert!(text(&zh[0]).contains("工作日"), "{}", text(&zh[0]));
    assert_eq!(zh[0]["handoff"]["decision"], "bot");
    assert!(zh[0]["ticket"].is_null(), "{}", zh[0]);
    // The second turn continues the same conversation.
    assert_eq!(cid(&zh[1]), cid(&zh[0]));
    assert_eq!(zh[1]["turn"], 2);
    assert_eq!(source(&zh[1]), "faq", "{}", zh[1]);
    assert_eq!(zh[1]["faq"]["faq_id"], "return_policy_7day");
    assert_eq!(zh[1]["handoff"]["signals"]["turns"], 3);

    let en = conversation(
        &app,
        None,
        &["how long does a refund take", "what is your return policy"],
    );
    assert_eq!(source(&en[0]), "faq", "{}", en[0]);
    assert_eq!(en[0]["faq"]["faq_id"], "refund_time");
    assert_eq!(en[0]["reply"]["lang"], "en");
    assert!(text(&en[0]).contains("business days"), "{}", text(&en[0]));
    assert_eq!(source(&en[1]), "faq");
    assert_eq!(en[1]["faq"]["faq_id"], "return_policy_7day");
    // Two conversations, two unrelated ids.
    assert_ne!(cid(&zh[0]), cid(&en[0]));

    // The state keeps both sides of every turn.
    let state = app.state(&cid(&zh[0])).expect("stored");
    let turns = state["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 4);
    assert_eq!(turns[0]["role"], "customer");
    assert_eq!(turns[0]["text"], "退款多久到账");
    assert_eq!(turns[0]["intent"], "refund_status");
    assert_eq!(turns[1]["role"], "bot");
    assert_eq!(turns[1]["answered"], true);
}

#[test]
fn out_of_scope_messages_fall_back_in_the_customers_language() {
    let app = App::start();
    // Not "长城有多长" (how long is the Great Wall) any more: the semantic FAQ reads it as "how
    // long to ship" and answers it (docs/faq.md, "Known misses").
    for (message, lang, marker) in [
        ("珠穆朗玛峰有多高", "zh", "转人工"),
        (
            "who won the football match yesterday",
            "en",
            "talk to a human",
        ),
        ("帮我写一首诗 please", "zh", "转人工"),
    ] {
        let v = app.turn(&json!({ "message": message }));
        assert_eq!(source(&v), "fallback", "{message}: {v}");
        assert_eq!(v["reply"]["lang"], lang, "{message}");
        assert!(text(&v).contains(marker), "{message}: {}", text(&v));
        assert_eq!(v["faq"]["no_answer"], true, "{v}");
        assert_eq!(v["handoff"]["decision"], "bot", "{v}");
        assert!(v["ticket"].is_null());
    }
}

/// The knowledge base's reply template of `intent` in `lang` (from the models kb-loader wrote).
fn template(intent: &str, lang: &str) -> String {
    let path = workspace_root().join("models/faq.json");
    let faq: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    faq["templates"][intent][lang].as_str().unwrap().to_string()
}

#[test]
fn intent_templates_answer_and_ask_for_what_is_missing() {
    let app = App::start();
    // No FAQ entry, a confident intent with a template of the KB.
    let v = app.turn(&json!({"message": "谢谢，再见"}));
    assert_eq!(source(&v), "intent", "{v}");
    assert_eq!(v["intent"]["intent"], "thanks_goodbye");
    assert_eq!(text(&v), template("thanks_goodbye", "zh"));

    // A template that needs the order number, for a message no FAQ entry answers (a lost
    // package has one: its policy): the bot asks, the next message (just the number, out of
    // scope on its own) fills it.
    for (first, second, lang, ask) in [
        ("帮我看看我的订单", "TD2026112612345", "zh", "订单号"),
        (
            "check my order for me",
            "it's TD2026112612345",
            "en",
            "order number",
        ),
    ] {
        let c = conversation(&app, None, &[first, second]);
        assert_eq!(source(&c[0]), "intent", "{}", c[0]);
        assert_eq!(c[0]["intent"]["intent"], "order_status");
        assert!(text(&c[0]).contains(ask), "{}", text(&c[0]));
        assert!(!text(&c[0]).contains("{order_id}"));
        assert_ne!(c[1]["intent"]["intent"], "order_status", "{}", c[1]);
        assert_eq!(source(&c[1]), "intent", "{}", c[1]);
        let filled = template("order_status", lang).replace("{order_id}", "TD2026112612345");
        assert_eq!(text(&c[1]), filled);
        // Answered: nothing is pending any more.
        assert!(app.state(&cid(&c[1])).unwrap().get("pending").is_none());
    }
}

/// Customer asks for a person: a ticket with the transcript, the reply names it; later turns
/// reuse it.
#[test]
fn explicit_request_for_a_human_opens_one_ticket_with_the_transcript() {
    let app = App::start();
    for (customer_id, messages, lang) in [
        ("c-zh-1", ["退款多久到账", "转人工", "还在吗"], "zh"),
        (
            "c-en-1",
            [
                "how long does a refund take",
                "I want to talk to a real person",
                "hello? anyone there",
            ],
            "en",
        ),
    ] {
        let customer = json!({"id": customer_id, "name": "王小明", "channel": "web",
                              "contact": "13812345678", "tier": "vip"});
        let c = conversation(&app, Some(customer), &messages);
        assert_eq!(source(&c[0]), "faq", "{}", c[0]);
        let handed = &c[1];
        assert_eq!(source(handed), "handoff", "{handed}");
        assert_eq!(handed["handoff"]["decision"], "human", "{handed}");
        assert_eq!(handed["reply"]["lang"], lang);
        assert!(
            handed["handoff"]["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["code"] == "explicit_request"),
            "{handed}"
        );
        let ticket = &handed["ticket"];
        assert_eq!(ticket["new"], true, "{handed}");
        let id = ticket["id"].as_str().unwrap();
        assert!(id.starts_with("tk_"), "{ticket}");
        assert!(text(handed).contains(id), "{}", text(handed));
        assert!(
            ticket["access_token"]
                .as_str()
                .is_some_and(|t| t.len() >= 32)
        );

        // The ticket as an agent sees it: the customer, and the conversation up to the request.
        let stored = app.ticket(id);
        assert_eq!(stored["customer"]["id"], customer_id, "{stored}");
        assert_eq!(stored["customer"]["tier"], "vip");
        assert_eq!(stored["customer"]["contact"], "13812345678");
        let transcript = stored["transcript"].as_array().unwrap();
        let roles: Vec<&str> = transcript
            .iter()
            .map(|t| t["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["customer", "bot", "customer"], "{stored}");
        assert_eq!(transcript[0]["text"], messages[0]);
        assert_eq!(transcript[1]["text"], text(&c[0]));
        assert_eq!(transcript[1]["answered"], true);
        assert_eq!(transcript[2]["text"], messages[1]);

        // The next turn stays with the person and reuses the ticket.
        let later = &c[2];
        assert_eq!(source(later), "handoff", "{later}");
        assert_eq!(later["ticket"]["id"], id);
        assert_eq!(later["ticket"]["new"], false);
        assert!(later["ticket"].get("access_token").is_none());
        assert!(text(later).contains(id));
        assert_eq!(app.tickets_of(customer_id).len(), 1);
    }
}

/// With the roster kept in Tandem and nobody online, asking for a person opens a ticket and
/// says so, in the customer's language; once an agent is online the same request goes to a
/// person. Without any agent registered, availability is unknown and a person is promised.
#[test]
fn nobody_online_turns_a_handoff_into_a_ticket_and_says_so() {
    let app = App::start();
    let handed = |message: &str| {
        let c = conversation(&app, None, &[message]);
        assert_eq!(source(&c[0]), "handoff", "{}", c[0]);
        c.into_iter().next().unwrap()
    };
    assert_eq!(handed("转人工")["handoff"]["decision"], "human");

    let put_agent = |status: &str| {
        let body =
            json!({"name": "Alice 李", "queues": ["general"], "capacity": 5, "status": status});
        let res = app.send(
            "PUT",
            "/v1/agents/alice",
            true,
            Some(body.to_string().as_bytes()),
        );
        assert!(matches!(res.status, 200 | 201), "PUT agent: {}", res.text());
    };
    put_agent("away");
    for (message, lang, says) in [
        ("转人工", "zh", "暂无人工客服在线"),
        (
            "I want to talk to a real person",
            "en",
            "No agent is available",
        ),
    ] {
        let t = handed(message);
        assert_eq!(t["handoff"]["decision"], "ticket", "{t}");
        let reasons = t["handoff"]["reasons"].as_array().unwrap();
        assert_eq!(reasons.last().unwrap()["code"], "no_agent_online", "{t}");
        assert_eq!(t["reply"]["lang"], lang);
        assert!(text(&t).contains(says), "{}", text(&t));
        assert_eq!(t["ticket"]["new"], true, "{t}");
        let id = t["ticket"]["id"].as_str().unwrap();
        assert!(text(&t).contains(id));
        assert_eq!(app.ticket(id)["status"], "new", "nobody to assign it to");
    }

    put_agent("online");
    let t = handed("I want to talk to a real person");
    assert_eq!(t["handoff"]["decision"], "human", "{t}");
    assert!(!text(&t).contains("No agent is available"), "{}", text(&t));
}

/// Under `business_hours = "calendar"` the routed queue's calendar decides, at the turn's time:
/// the test reads the same compiled calendar (models/handoff.json) around the request. Closed,
/// the customer gets a ticket and hears when a person is back, in their language; open, a
/// person. An operator's `closed` overrides any calendar.
#[test]
fn assist_reads_the_queues_calendar_and_says_when_a_person_is_back() {
    let policy: tandem_core::handoff::Policy = serde_json::from_value(
        serde_json::from_slice::<Value>(
            &std::fs::read(tandem_tests::workspace_root().join("models/handoff.json")).unwrap(),
        )
        .unwrap()["policy"]
            .clone(),
    )
    .unwrap();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    };
    let app = App::start_with_desk("calendar");
    for (message, lang, back) in [
        ("转人工", "zh", "人工客服将于"),
        ("I want to talk to a real person", "en", "is back at"),
    ] {
        let before = now();
        let t = conversation(&app, None, &[message]).remove(0);
        let after = now();
        let hours = &t["handoff"]["business_hours"];
        assert_eq!(hours["source"], "calendar", "{t}");
        let queue = hours["queue"].as_str().unwrap();
        assert_eq!(t["handoff"]["queue"], queue, "{t}");
        let calendar = policy.business_hours[queue].compile().unwrap();
        let (open, next) = (calendar.is_open(before), calendar.next_open(before));
        if open != calendar.is_open(after) {
            continue; // the request straddled an opening or closing minute
        }
        assert_eq!(hours["open"], open, "{t}");
        assert_eq!(t["reply"]["lang"], lang);
        let read_at =
            tandem_core::foundation::calendar::parse_rfc3339(hours["at"].as_str().unwrap())
                .unwrap();
        assert!((before..=after).contains(&read_at), "{t}");
        if open {
            assert_eq!(t["handoff"]["decision"], "human", "{t}");
            assert!(hours.get("next_open").is_none_or(Value::is_null), "{t}");
        } else {
            let next = calendar.format_local(next.unwrap());
            assert_eq!(t["handoff"]["decision"], "ticket", "{t}");
            assert_eq!(hours["next_open"], next.as_str(), "{t}");
            let reasons = t["handoff"]["reasons"].as_array().unwrap();
            assert_eq!(reasons.last().unwrap()["code"], "outside_business_hours");
            let said = text(&t);
            assert!(
                said.contains(back)
                    && said.contains(&tandem_core::foundation::calendar::readable(&next)),
                "{said}"
            );
            assert!(said.contains(t["ticket"]["id"].as_str().unwrap()), "{said}");
        }
    }

    let closed = App::start_with_desk("closed");
    let t = conversation(&closed, None, &["转人工"]).remove(0);
    assert_eq!(t["handoff"]["decision"], "ticket", "{t}");
    assert_eq!(t["handoff"]["business_hours"]["source"], "request", "{t}");
    assert_eq!(t["handoff"]["business_hours"]["open"], false, "{t}");
    assert_eq!(t["ticket"]["new"], true, "{t}");

    // A value the operator mistyped is named, not guessed at.
    let typo = App::start_with_desk("24/7");
    let res = typo.post_raw(json!({"message": "转人工"}).to_string().as_bytes());
    let p = tandem_tests::assert_problem(&res, 500);
    assert!(
        p["detail"].as_str().unwrap().contains("business_hours"),
        "{p}"
    );
}

/// Two answers the bot did not have, then an angry message: a person takes over.
#[test]
fn frustrated_customer_after_two_failed_answers_is_handed_off() {
    let app = App::start();
    for (customer_id, messages) in [
        (
            "c-zh-2",
            [
                "李白是哪个朝代的",
                "月亮离地球多远",
                "你们这什么破客服，问了两遍都答非所问，气死我了",
            ],
        ),
        (
            "c-en-2",
            [
                "who won the football match yesterday",
                "what is the capital of australia",
                "this is useless, you keep not answering my question",
            ],
        ),
    ] {
        let c = conversation(&app, Some(json!({ "id": customer_id })), &messages);
        for failed in &c[..2] {
            assert_eq!(source(failed), "fallback", "{failed}");
            assert_eq!(failed["handoff"]["decision"], "bot", "{failed}");
        }
        let last = &c[2];
        assert_eq!(source(last), "handoff", "{last}");
        assert_eq!(last["handoff"]["signals"]["bot_failures"], 2, "{last}");
        assert!(
            last["handoff"]["signals"]["frustration"].as_f64().unwrap() > 0.5,
            "{last}"
        );
        let id = last["ticket"]["id"].as_str().unwrap();
        assert!(text(last).contains(id));
        let stored = app.ticket(id);
        let transcript = stored["transcript"].as_array().unwrap();
        assert_eq!(transcript.len(), 5, "{stored}");
        assert_eq!(transcript[1]["answered"], false);
        assert_eq!(transcript[3]["answered"], false);
        assert_eq!(transcript[4]["text"], messages[2]);
    }
    // Both handoffs are recorded as outcomes in the feedback store.
    let res = app.send("GET", "/v1/feedback/stats", true, None);
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["counts"]["handed_off"], 2, "{}", res.text());
}

/// A turn whose state was never saved (the instance died after the ticket was created) is
/// retried: the same ticket comes back, none is added.
#[test]
fn a_retried_handoff_turn_does_not_duplicate_the_ticket() {
    let app = App::start();
    let first = app.turn(&json!({"customer": {"id": "c-retry"}, "message": "退款多久到账"}));
    let id = cid(&first);
    let before = app.state(&id).unwrap();
    let handed = app.turn(&json!({"conversation_id": id, "message": "转人工"}));
    let ticket = handed["ticket"]["id"].as_str().unwrap().to_string();
    // Put the state back as it was before the handoff turn, then send the turn again.
    app.set_state(&id, &before);
    let again = app.turn(&json!({"conversation_id": id, "message": "转人工"}));
    assert_eq!(again["turn"], 2);
    assert_eq!(again["ticket"]["id"], ticket.as_str(), "{again}");
    assert_eq!(again["ticket"]["replayed"], true, "{again}");
    assert_eq!(app.tickets_of("c-retry").len(), 1);
}

#[test]
fn conversation_ids_are_checked_and_expire() {
    let app = App::start();
    // Well-formed but never issued: 404, and nothing is planted under it.
    let planted = "cv_0000000000000000000000000a";
    let res = app.post_raw(
        json!({"conversation_id": planted, "message": "hi"})
            .to_string()
            .as_bytes(),
    );
    assert_problem(&res, 404);
    assert!(app.state(planted).is_none());
    // Malformed: 422 naming the field.
    for bad in [
        json!("c-42"),
        json!(""),
        json!("CV_00000000000000000000000000"),
    ] {
        let res = app.post_raw(
            json!({"conversation_id": bad, "message": "hi"})
                .to_string()
                .as_bytes(),
        );
        let p = assert_problem(&res, 422);
        assert_eq!(p["invalid-params"][0]["name"], "conversation_id", "{p}");
    }
    let res = app.post_raw(br#"{"conversation_id": 42, "message": "hi"}"#);
    assert_problem(&res, 422);

    // Idle past the TTL: 404, and the state is deleted.
    let v = app.turn(&json!({"message": "退款多久到账"}));
    let id = cid(&v);
    let mut state = app.state(&id).unwrap();
    let idle_since = state["updated_at_ms"].as_i64().unwrap() - 25 * 3_600_000;
    state["updated_at_ms"] = json!(idle_since);
    app.set_state(&id, &state);
    let res = app.post_raw(
        json!({"conversation_id": id, "message": "还在吗"})
            .to_string()
            .as_bytes(),
    );
    assert_problem(&res, 404);
    assert!(app.state(&id).is_none(), "expired state still stored");
    let res = app.post_raw(
        json!({"conversation_id": id, "message": "还在吗"})
            .to_string()
            .as_bytes(),
    );
    assert_problem(&res, 404);

    // Within the TTL a conversation continues.
    let v = app.turn(&json!({"message": "how long does a refund take"}));
    let id = cid(&v);
    let mut state = app.state(&id).unwrap();
    state["updated_at_ms"] = json!(state["updated_at_ms"].as_i64().unwrap() - 23 * 3_600_000);
    app.set_state(&id, &state);
    let v = app.turn(&json!({"conversation_id": id, "message": "what is your return policy"}));
    assert_eq!(v["turn"], 2);
}

#[test]
fn personal_data_is_masked_in_the_stored_conversation() {
    let app = App::start();
    let v = app
        .turn(&json!({"message": "我的手机号是13812345678，邮箱 wang@example.com，退款多久到账"}));
    let raw: Vec<u8> = app
        .kv()
        .query_row(
            "SELECT value FROM spin_key_value WHERE key = ?1",
            [format!("assist:conversation:{}", cid(&v))],
            |r| r.get(0),
        )
        .unwrap();
    let raw = String::from_utf8(raw).unwrap();
    assert!(
        !raw.contains("13812345678") && !raw.contains("wang@example.com"),
        "{raw}"
    );
    assert!(raw.contains("138****5678"), "{raw}");
}

#[test]
fn bad_input_is_a_problem_never_a_500() {
    let app = App::start();
    let post = |body: &[u8]| app.post_raw(body);
    assert_problem(&post(b""), 400);
    assert_problem(&post(b"{not json"), 400);
    assert_problem(&post(b"{\"message\": \"\xff\"}"), 400);
    assert_problem(&post(b"[\"message\"]"), 422);
    for (body, field) in [
        (json!({}), "message"),
        (json!({"message": 42}), ""),
        (json!({"message": "   "}), "message"),
        (json!({"message": "hi", "text": "x"}), "text"),
        (json!({"message": "hi", "customer": {"vip": true}}), "vip"),
        (
            json!({"message": "hi", "customer": {"tier": "x".repeat(33)}}),
            "customer.tier",
        ),
        (
            json!({"message": "hi", "customer": {"id": " "}}),
            "customer.id",
        ),
        (
            json!({"message": "hi", "customer": {"name": "n".repeat(257)}}),
            "customer.name",
        ),
        (json!({"message": "hi", "customer": "c-1"}), ""),
    ] {
        let res = post(body.to_string().as_bytes());
        let p = assert_problem(&res, 422);
        if !field.is_empty() {
            assert!(p.to_string().contains(field), "{body}: {p}");
        }
    }
    // Too long: the message (4 KiB after trimming), the body (16 KiB).
    let long = json!({"message": "字".repeat(1366)});
    let p = assert_problem(&post(long.to_string().as_bytes()), 413);
    assert!(p.to_string().contains("message"), "{p}");
    assert_eq!(
        app.turn(&json!({"message": format!("  {}  ", "a".repeat(4096))}))["turn"],
        1
    );
    assert_problem(
        &post(
            json!({"message": "a".repeat(20_000)})
                .to_string()
                .as_bytes(),
        ),
        413,
    );
    // Wrong method, unknown route.
    let p = assert_problem(&app.send("GET", "/v1/assist", false, None), 405);
    assert_eq!(p["allowed"], json!(["POST", "OPTIONS"]));
    assert_problem(
        &app.send("POST", "/v1/assist/nope", false, Some(b"{}")),
        404,
    );
}

/// The CORS headers of a response (`access-control-*`), sorted.
/// The chat widget runs on pages of other sites (docs/web.md): `/v1/assist` answers the
/// browser's CORS preflight, and every answer to a POST, problems included, carries
/// `Access-Control-Allow-Origin: *`. The token-protected ticket routes send no CORS header.
#[test]
fn cross_origin_pages_may_call_assist_but_not_the_agent_routes() {
    let app = App::start();
    let from_shop = |method: &str, path: &str, headers: &[(&str, &str)], body: Body<'_>| {
        request_from_other_origin(app.host.addr, method, path, headers, body)
    };
    let any_origin = any_origin();

    assert_cors_preflight(app.host.addr, "/v1/assist");
    // The trailing slash the route also takes.
    assert_cors_preflight(app.host.addr, "/v1/assist/");

    // A turn (with a ticket, so the answer carries its access token) and problems.
    let json_body = [("Content-Type", "application/json")];
    let post = |body: &[u8]| from_shop("POST", "/v1/assist", &json_body, Body::Sized(body));
    let turn = post(br#"{"message": "I want to talk to a real person"}"#);
    assert_eq!(turn.status, 200, "{}", turn.text());
    assert_eq!(cors_headers(&turn), any_origin);
    let ticket = turn.json()["ticket"]["id"].as_str().unwrap().to_string();
    for (body, status) in [
        (b"{not json".as_slice(), 400),
        (
            br#"{"conversation_id": "cv_00000000000000000000000000", "message": "hi"}"#,
            404,
        ),
        (br#"{"message": " "}"#, 422),
    ] {
        let res = post(body);
        assert_problem(&res, status);
        assert_eq!(cors_headers(&res), any_origin, "{status}");
    }
    let long = json!({"message": "a".repeat(20_000)}).to_string();
    let res = post(long.as_bytes());
    assert_problem(&res, 413);
    assert_eq!(cors_headers(&res), any_origin);

    // Agent routes: no CORS header on the answer, with or without the token, and a preflight
    // gets the 405 it always got.
    let auth = format!("Bearer {TOKEN}");
    for path in ["/v1/tickets".to_string(), format!("/v1/tickets/{ticket}")] {
        let ok = from_shop("GET", &path, &[("Authorization", &auth)], Body::Empty);
        assert_eq!(ok.status, 200, "{path}: {}", ok.text());
        assert_eq!(cors_headers(&ok), vec![], "{path}");
        let refused = from_shop("GET", &path, &[], Body::Empty);
        assert_problem(&refused, 401);
        assert_eq!(cors_headers(&refused), vec![], "{path}");
    }
    for path in ["/v1/tickets", "/v1/feedback/stats", "/v1/assist/health"] {
        assert_preflight_refused(app.host.addr, path);
    }
}
