//! Tickets end to end (docs/tickets.md): the composed ticket component
//! (`target/tandem/ticket.wasm`, intent plugged in) behind the real host, its real SQLite file,
//! plain HTTP on loopback. Auto-fill, idempotent creates, listing and paging, the lifecycle with
//! optimistic concurrency, access control, personal data on disk, assignment, hostile input,
//! concurrent clients and a host killed mid-write.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tandem_core::feedback::parse_time;
use tandem_core::pii::{self, PiiKind};
use tandem_tests::{Body, Host, HostOptions, HttpResponse, assert_problem, request_with};
use tempfile::TempDir;

const TOKEN: &str = "ticket-test-token";
const HOUR_MS: i64 = 3_600_000;

// ---------------------------------------------------------------------------------------------
// The app under test.

/// The ticket component as `spin.toml` serves it: pre-initialised, intent composed in.
fn ticket_wasm() -> PathBuf {
    tandem_tests::built_component("ticket")
}

/// A manifest with only the ticket component, as `spin.toml` declares it.
fn manifest(dir: &Path) -> PathBuf {
    warm_cache();
    manifest_unwarmed(dir)
}

/// Compiles the component once, in one host, before the tests start theirs: it carries tract and
/// the intent model, and several hosts compiling it at once on a 2-core machine could miss the
/// harness's start-up deadline. The host's compilation cache serves every later start.
fn warm_cache() {
    static WARM: std::sync::Once = std::sync::Once::new();
    WARM.call_once(|| {
        let dir = TempDir::new().unwrap();
        let host = Host::start(
            &manifest_unwarmed(dir.path()),
            &dir.path().join("data"),
            HostOptions {
                args: vec![],
                env: vec![("SPIN_VARIABLE_AGENT_TOKEN", TOKEN)],
            },
        )
        .unwrap();
        let health = host.get("/v1/tickets/health");
        assert_eq!(health.status, 200, "{}", health.text());
        assert_eq!(health.json()["component"], "ticket", "{}", health.text());
    });
}

fn manifest_unwarmed(dir: &Path) -> PathBuf {
    let text = format!(
        r#"spin_manifest_version = 2
[application]
name = "ticket-test"
[variables]
agent_token = {{ required = true, secret = true }}
auto_assign = {{ default = "true" }}
[[trigger.http]]
route = "/v1/tickets/..."
component = "ticket"
[[trigger.http]]
route = "/v1/agents/..."
component = "ticket"
[component.ticket]
source = {source:?}
sqlite_databases = ["default"]
[component.ticket.variables]
agent_token = "{{{{ agent_token }}}}"
auto_assign = "{{{{ auto_assign }}}}"
"#,
        source = ticket_wasm().display().to_string()
    );
    let path = dir.join("spin.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts a host serving the ticket manifest with its data in `dir/data`.
fn start_host(dir: &Path, env: &[(&str, &str)]) -> Host {
    let manifest = manifest(dir);
    let mut vars = vec![("SPIN_VARIABLE_AGENT_TOKEN", TOKEN)];
    vars.extend_from_slice(env);
    Host::start(
        &manifest,
        &dir.join("data"),
        HostOptions {
            args: vec![],
            env: vars,
        },
    )
    .unwrap()
}

struct App {
    host: Host,
    dir: TempDir,
}

impl App {
    fn start() -> App {
        App::start_with(&[])
    }

    fn start_with(env: &[(&str, &str)]) -> App {
        let dir = TempDir::new().unwrap();
        let host = start_host(dir.path(), env);
        App { host, dir }
    }

    fn addr(&self) -> SocketAddr {
        self.host.addr
    }

    fn db(&self) -> rusqlite::Connection {
        open_db(&self.dir.path().join("data"))
    }

    fn ticket_rows(&self) -> i64 {
        self.db()
            .query_row("SELECT COUNT(*) FROM ticket_tickets", [], |r| r.get(0))
            .unwrap()
    }

    /// A request with the agent token.
    fn agent(&self, method: &str, path: &str, body: Option<&Value>) -> HttpResponse {
        self.agent_with(method, path, &[], body)
    }

    fn agent_with(
        &self,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: Option<&Value>,
    ) -> HttpResponse {
        let auth = format!("Bearer {TOKEN}");
        let mut headers = vec![("Authorization", auth.as_str())];
        headers.extend_from_slice(extra);
        let bytes = body.map(|b| b.to_string().into_bytes());
        send(self.addr(), method, path, &headers, bytes.as_deref())
    }

    /// `POST /v1/tickets` (no token: anyone may create), with an optional idempotency key.
    fn create_res(&self, body: &Value, key: Option<&str>) -> HttpResponse {
        create_at(self.addr(), body, key).unwrap()
    }

    /// Creates and insists on 201; returns the whole answer (`ticket`, `access_token`, ...).
    fn create(&self, body: &Value) -> Value {
        let res = self.create_res(body, None);
        assert_eq!(res.status, 201, "{body}: {}", res.text());
        res.json()
    }

    /// Creates and returns the new ticket's id.
    fn create_id(&self, body: &Value) -> String {
        self.create(body)["ticket"]["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The agent view of a ticket and its ETag.
    fn ticket(&self, id: &str) -> (Value, String) {
        let res = self.agent("GET", &format!("/v1/tickets/{id}"), None);
        assert_eq!(res.status, 200, "GET {id}: {}", res.text());
        let etag = res.header("etag").unwrap_or_default().to_string();
        (ticket_of(&res.json()), etag)
    }

    fn patch(&self, id: &str, version: Option<u64>, body: &Value) -> HttpResponse {
        let tag = version.map(|v| format!("\"{v}\""));
        let extra: Vec<(&str, &str)> = tag.iter().map(|t| ("If-Match", t.as_str())).collect();
        self.agent_with("PATCH", &format!("/v1/tickets/{id}"), &extra, Some(body))
    }

    /// PATCH that must succeed; returns the changed ticket.
    fn patch_ok(&self, id: &str, version: u64, body: &Value) -> Value {
        let res = self.patch(id, Some(version), body);
        assert_eq!(
            res.status,
            200,
            "PATCH {id} v{version} {body}: {}",
            res.text()
        );
        assert_eq!(
            res.header("etag"),
            Some(format!("\"{}\"", version + 1).as_str()),
            "PATCH answers with the new version's ETag"
        );
        ticket_of(&res.json())
    }

    fn events(&self, id: &str) -> Vec<Value> {
        let res = self.agent("GET", &format!("/v1/tickets/{id}/events"), None);
        assert_eq!(res.status, 200, "events of {id}: {}", res.text());
        list_of(&res.json(), &["items", "events"])
    }

    fn list(&self, query: &str) -> Value {
        let res = self.agent("GET", &format!("/v1/tickets{query}"), None);
        assert_eq!(res.status, 200, "list {query}: {}", res.text());
        res.json()
    }

    /// Follows `next_cursor` from the first page to the last; returns every id in order and
    /// checks each page's size.
    fn list_all(&self, filters: &str, limit: usize) -> Vec<String> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10_000 {
            let mut q = format!("?limit={limit}");
            if !filters.is_empty() {
                q.push('&');
                q.push_str(filters);
            }
            if let Some(c) = &cursor {
                q.push_str(&format!("&cursor={}", enc(c)));
            }
            let page = self.list(&q);
            let items = page["items"].as_array().expect("items").clone();
            assert!(items.len() <= limit, "{q}: {} items", items.len());
            ids.extend(items.iter().map(|t| t["id"].as_str().unwrap().to_string()));
            match &page["next_cursor"] {
                Value::Null => return ids,
                Value::String(c) => {
                    assert!(!items.is_empty(), "{q}: an empty page with a next cursor");
                    cursor = Some(c.clone());
                }
                other => panic!("{q}: next_cursor is {other}"),
            }
        }
        panic!("paging {filters} never ended");
    }

    fn put_agent(&self, id: &str, queues: &[&str], capacity: u32, status: &str) -> HttpResponse {
        self.agent(
            "PUT",
            &format!("/v1/agents/{id}"),
            Some(&json!({"name": format!("Agent {id}"), "queues": queues,
                "capacity": capacity, "status": status})),
        )
    }
}

fn open_db(data: &Path) -> rusqlite::Connection {
    let db = rusqlite::Connection::open(data.join("sqlite_db.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db
}

/// Every row of `table`, each column rendered as text (NULL as "").
fn rows(db: &rusqlite::Connection, table: &str) -> Vec<BTreeMap<String, String>> {
    use rusqlite::types::ValueRef;
    let mut stmt = db.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let mut out = Vec::new();
    let mut q = stmt.query([]).unwrap();
    while let Some(row) = q.next().unwrap() {
        let mut m = BTreeMap::new();
        for (i, name) in names.iter().enumerate() {
            let text = match row.get_ref(i).unwrap() {
                ValueRef::Null => String::new(),
                ValueRef::Integer(n) => n.to_string(),
                ValueRef::Real(f) => f.to_string(),
                ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
            };
            m.insert(name.clone(), text);
        }
        out.push(m);
    }
    out
}

fn ticket_tables(db: &rusqlite::Connection) -> Vec<String> {
    let mut stmt = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'ticket\\_%' ESCAPE '\\'")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// One request on a fresh connection; JSON bodies are sent as `application/json`.
fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> HttpResponse {
    try_send(addr, method, path, headers, body).unwrap_or_else(|e| panic!("{method} {path}: {e:#}"))
}

fn try_send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> anyhow::Result<HttpResponse> {
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    match body {
        Some(b) => {
            all.push(("Content-Type", "application/json"));
            request_with(addr, method, path, &all, Body::Sized(b))
        }
        None => request_with(addr, method, path, &all, Body::Empty),
    }
}

fn create_at(addr: SocketAddr, body: &Value, key: Option<&str>) -> anyhow::Result<HttpResponse> {
    let headers: Vec<(&str, &str)> = key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
    try_send(
        addr,
        "POST",
        "/v1/tickets",
        &headers,
        Some(body.to_string().as_bytes()),
    )
}

/// A GET with an optional `Authorization` value.
fn get_as(addr: SocketAddr, path: &str, auth: Option<&str>) -> HttpResponse {
    let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
    send(addr, "GET", path, &headers, None)
}

/// The ticket in an answer: `{"ticket": {...}}` or the ticket itself (the doc gives the create
/// answer's shape only).
fn ticket_of(v: &Value) -> Value {
    match v.get("ticket") {
        Some(t) if t.is_object() => t.clone(),
        _ => v.clone(),
    }
}

/// A list answer: a bare array or the array under one of `keys`.
fn list_of(v: &Value, keys: &[&str]) -> Vec<Value> {
    if let Some(a) = v.as_array() {
        return a.clone();
    }
    keys.iter()
        .find_map(|k| v.get(*k).and_then(Value::as_array))
        .unwrap_or_else(|| panic!("no list under {keys:?}: {v}"))
        .clone()
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn customer_turn(text: &str) -> Value {
    json!({"role": "customer", "text": text})
}

/// A create body: one customer, the given customer turns, optional category.
fn new_ticket(customer: &str, texts: &[&str], category: Option<&str>) -> Value {
    let mut body = json!({
        "customer": {"id": customer},
        "transcript": texts.iter().map(|t| customer_turn(t)).collect::<Vec<_>>(),
    });
    if let Some(c) = category {
        body["category"] = c.into();
    }
    body
}

fn id_of(t: &Value) -> String {
    t["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id: {t}"))
        .to_string()
}

fn version_of(t: &Value) -> u64 {
    t["version"]
        .as_u64()
        .unwrap_or_else(|| panic!("no version: {t}"))
}

/// `tk_` + 16 Crockford base-32 characters (either case; no I, L, O, U).
fn is_ticket_id(id: &str) -> bool {
    id.len() == 19
        && id.starts_with("tk_")
        && id[3..]
            .chars()
            .all(|c| c.is_ascii_digit() || (c.is_ascii_alphabetic() && !"ILOUilou".contains(c)))
}

fn ms(t: &Value, field: &str) -> i64 {
    let s = t[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a time: {t}"));
    parse_time(s).unwrap_or_else(|| panic!("{field} = {s:?} is not RFC 3339"))
}

/// `sla_due` is `created_at` plus `hours` (to the second: either may be written without
/// milliseconds).
fn assert_sla(t: &Value, hours: i64) {
    let diff = ms(t, "sla_due") - ms(t, "created_at");
    assert!(
        (diff - hours * HOUR_MS).abs() < 1000,
        "SLA of {} h expected: {t}",
        hours
    );
}

fn sorted(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------------
// 1. Create and auto-fill.

#[test]
fn create_fills_in_every_field() {
    let app = App::start();
    let body = json!({
        "customer": {"id": "c-1001", "name": "王小明", "channel": "web",
            "contact": "13812345678", "tier": "standard"},
        "transcript": [
            {"role": "customer", "text": "订单 TD2026112612345 申请退款"},
            {"role": "bot", "text": "好的，我来帮您处理。", "answered": false}
        ],
        "subject": null, "category": "refund_request", "priority": null
    });
    let res = app.create_res(&body, None);
    assert_eq!(res.status, 201, "{}", res.text());
    let out = res.json();
    let t = &out["ticket"];
    let id = id_of(t);
    assert!(is_ticket_id(&id), "{id}");
    assert_eq!(
        res.header("location"),
        Some(format!("/v1/tickets/{id}").as_str())
    );
    assert_eq!(res.header("etag"), Some("\"1\""));
    assert_eq!(out["replayed"], false, "{out}");
    let token = out["access_token"].as_str().expect("access_token");
    assert!(token.len() >= 16, "{token}");

    assert_eq!(t["status"], "new");
    assert_eq!(version_of(t), 1);
    assert_eq!(t["category"], "refund_request");
    assert_eq!(t["category_source"], "given");
    // kb/intents.yaml: refund_request → queue after_sales, ticket priority normal.
    assert_eq!(t["queue"], "after_sales", "{t}");
    assert_eq!(t["priority"], "normal", "{t}");
    let reasons = t["priority_reasons"].as_array().expect("priority_reasons");
    assert!(!reasons.is_empty(), "{t}");
    for r in reasons {
        assert!(
            r["message_zh"].as_str().is_some_and(|m| !m.is_empty())
                && r["message_en"].as_str().is_some_and(|m| !m.is_empty()),
            "every reason in both languages: {r}"
        );
    }
    assert_eq!(t["subject"], "订单 TD2026112612345 申请退款", "{t}");
    let summary = t["summary"].as_str().expect("summary");
    assert!(summary.contains("TD2026112612345"), "{summary}");
    assert!(summary.chars().count() <= 280);
    assert!(
        t["entities"]
            .as_array()
            .unwrap()
            .contains(&json!({"kind": "order_id", "value": "TD2026112612345"})),
        "{t}"
    );
    assert_eq!(t["customer"]["id"], "c-1001");
    assert_eq!(t["customer"]["name"], "王小明");
    assert_eq!(
        t["customer"]["contact"], "13812345678",
        "agents see the contact"
    );
    assert_eq!(t["assignee"], Value::Null, "no agents, nobody assigned");
    let turns = t["transcript"].as_array().unwrap();
    assert_eq!(turns.len(), 2);
    for (got, sent) in turns.iter().zip(body["transcript"].as_array().unwrap()) {
        assert_eq!((&got["role"], &got["text"]), (&sent["role"], &sent["text"]));
    }
    assert_eq!(turns[1]["answered"], false);
    assert_sla(t, 24);

    // What GET answers is what the create answered.
    let (got, etag) = app.ticket(&id);
    assert_eq!(got, *t);
    assert_eq!(etag, "\"1\"");

    // A given priority wins over the derived one; its SLA follows it.
    let urgent = app.create(&json!({"customer": {"id": "c-1002"},
        "transcript": [customer_turn("where is my order")],
        "category": "order_status", "priority": "urgent"}));
    let t = &urgent["ticket"];
    assert_eq!(
        (t["queue"].as_str(), t["priority"].as_str()),
        (Some("orders"), Some("urgent")),
        "{t}"
    );
    assert_sla(t, 1);

    // A category that is no intent of the KB.
    let p = assert_problem(
        &app.create_res(
            &new_ticket("c-1003", &["我要退款"], Some("refunds_please")),
            None,
        ),
        422,
    );
    assert!(p.to_string().contains("category"), "{p}");
    assert_eq!(app.ticket_rows(), 2);
}

#[test]
fn an_uncategorised_ticket_is_classified_through_intent() {
    let app = App::start();
    // Examples copied from kb/intents.yaml.
    for (customer, text, intent, queue) in [
        ("zh-1", "我要退款", "refund_request", "after_sales"),
        ("zh-2", "我的订单到哪了", "order_status", "orders"),
        ("en-1", "where is my order", "order_status", "orders"),
        ("en-2", "I want a refund", "refund_request", "after_sales"),
        ("en-3", "my package is lost", "lost_package", "logistics"),
    ] {
        let t = app.create(&new_ticket(customer, &[text], None))["ticket"].clone();
        assert_eq!(t["category"], intent, "{text}: {t}");
        assert_eq!(t["category_source"], "classified", "{text}: {t}");
        assert_eq!(t["queue"], queue, "{text}: {t}");
        let confidence = t["category_confidence"]
            .as_f64()
            .expect("category_confidence");
        assert!(confidence > 0.0 && confidence <= 1.0, "{text}: {t}");
    }
    // The last customer turns carry the request: a greeting first does not hide it.
    let t = app.create(&json!({"customer": {"id": "zh-3"}, "transcript": [
        customer_turn("你好"),
        {"role": "bot", "text": "您好，请问有什么可以帮您？"},
        customer_turn("我的包裹现在在哪儿"),
    ]}))["ticket"]
        .clone();
    assert_eq!(t["category"], "order_status", "{t}");
}

#[test]
fn priority_is_derived_from_hint_topics_tier_and_repeat_contact() {
    let app = App::start();
    let derived = |customer: &str, text: &str, category: &str, tier: Option<&str>| -> Value {
        let mut body = new_ticket(customer, &[text], Some(category));
        if let Some(tier) = tier {
            body["customer"]["tier"] = tier.into();
        }
        app.create(&body)["ticket"].clone()
    };
    let codes = |t: &Value| -> Vec<String> {
        t["priority_reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    // The intent's hint: lost_package is high (4 h), delivery_time low (72 h).
    let t = derived("p-1", "my package is lost", "lost_package", None);
    assert_eq!(t["priority"], "high", "{t}");
    assert_sla(&t, 4);
    let t = derived("p-2", "什么时候能到货", "delivery_time", None);
    assert_eq!(t["priority"], "low", "{t}");
    assert_sla(&t, 72);
    // Sensitive topics: legal → urgent, complaint → high, whatever the hint.
    let t = derived("p-3", "你们再不退款我就找律师起诉", "refund_request", None);
    assert_eq!(t["priority"], "urgent", "{t}");
    assert!(codes(&t).contains(&"sensitive_topic".to_string()), "{t}");
    let t = derived(
        "p-4",
        "I want to file a complaint, worst service ever",
        "order_status",
        None,
    );
    assert_eq!(t["priority"], "high", "{t}");
    // VIP: at least high.
    let t = derived("p-5", "我的订单到哪了", "order_status", Some("vip"));
    assert_eq!(t["priority"], "high", "{t}");
    assert!(codes(&t).contains(&"vip".to_string()), "{t}");
    // Repeated contact within 7 days: one level up (once, not per earlier ticket).
    let t = derived("p-6", "我的订单到哪了", "order_status", None);
    assert_eq!(t["priority"], "normal", "{t}");
    for _ in 0..2 {
        let t = derived("p-6", "订单什么时候发货啊", "order_status", None);
        assert_eq!(t["priority"], "high", "{t}");
        assert!(codes(&t).contains(&"repeated_contact".to_string()), "{t}");
    }
    // Another customer is not a repeat.
    let t = derived("p-7", "订单什么时候发货啊", "order_status", None);
    assert_eq!(t["priority"], "normal", "{t}");

    // A long first sentence makes a subject of at most 60 characters.
    let long = "我".repeat(100) + "。后面的句子";
    let t = derived("p-8", &long, "order_status", None);
    let subject = t["subject"].as_str().unwrap();
    assert!(
        !subject.is_empty() && subject.chars().count() <= 60,
        "{subject}"
    );
    assert!(subject.starts_with("我我我"), "{subject}");
    // A given subject is kept.
    let mut body = new_ticket("p-9", &["我要退款"], Some("refund_request"));
    body["subject"] = "退款 refund".into();
    assert_eq!(app.create(&body)["ticket"]["subject"], "退款 refund");
}

// ---------------------------------------------------------------------------------------------
// 2. Idempotent retries.

#[test]
fn retries_with_an_idempotency_key_create_one_ticket() {
    let app = App::start();
    let body = new_ticket("idem-1", &["我要退款"], Some("refund_request"));
    let first = app.create_res(&body, Some("key-0001"));
    assert_eq!(first.status, 201, "{}", first.text());
    let first = first.json();
    let id = id_of(&first["ticket"]);
    for _ in 0..3 {
        let again = app.create_res(&body, Some("key-0001"));
        assert_eq!(again.status, 200, "{}", again.text());
        let again = again.json();
        assert_eq!(again["replayed"], true, "{again}");
        assert_eq!(id_of(&again["ticket"]), id);
        assert_eq!(again["access_token"], first["access_token"]);
        assert_eq!(
            again["ticket"], first["ticket"],
            "the first ticket, unchanged"
        );
    }
    assert_eq!(app.ticket_rows(), 1);

    // The same key with another body: a conflict, nothing written.
    let other = new_ticket("idem-1", &["我要退款，快点"], Some("refund_request"));
    assert_problem(&app.create_res(&other, Some("key-0001")), 409);
    assert_eq!(app.ticket_rows(), 1);

    // The key is scoped to the customer: another customer's request is a new ticket.
    let mut theirs = body.clone();
    theirs["customer"]["id"] = "idem-2".into();
    let res = app.create_res(&theirs, Some("key-0001"));
    assert_eq!(res.status, 201, "{}", res.text());
    assert_ne!(id_of(&res.json()["ticket"]), id);
    assert_eq!(app.ticket_rows(), 2);

    // Without a key every POST is a new ticket.
    for _ in 0..2 {
        assert_eq!(app.create_res(&body, None).status, 201);
    }
    assert_eq!(app.ticket_rows(), 4);

    // Keys outside 1–128 visible ASCII characters are refused.
    for bad in ["k".repeat(129), "has space".to_string()] {
        let res = app.create_res(&body, Some(&bad));
        assert!(
            res.status == 400 || res.status == 422,
            "key {bad:?}: {} {}",
            res.status,
            res.text()
        );
    }
    assert_eq!(app.ticket_rows(), 4);

    // Concurrent retries of one request: exactly one 201, the rest replay the same ticket.
    let addr = app.addr();
    let body = new_ticket("idem-3", &["where is my order"], Some("order_status"));
    let answers: Vec<(u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let body = body.clone();
                s.spawn(move || {
                    let res = create_at(addr, &body, Some("race-key")).unwrap();
                    (res.status, res.json())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "{answers:?}");
    assert!(
        answers.iter().all(|(s, _)| *s == 201 || *s == 200),
        "{answers:?}"
    );
    let ids: BTreeSet<String> = answers.iter().map(|(_, v)| id_of(&v["ticket"])).collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    assert_eq!(app.ticket_rows(), 5);
}

// ---------------------------------------------------------------------------------------------
// 3. Listing and paging.

#[test]
fn lists_filter_and_page_newest_first() {
    // Auto-assign off: assignments below are explicit.
    let app = App::start_with(&[("SPIN_VARIABLE_AUTO_ASSIGN", "false")]);
    assert_eq!(app.put_agent("ag1", &["orders"], 5, "online").status, 201);
    // (customer, category, priority), created in this order.
    let plan = [
        ("A", "order_status", "low"),
        ("B", "refund_request", "high"),
        ("A", "order_status", "urgent"),
        ("C", "lost_package", "high"),
        ("B", "order_status", "normal"),
        ("D", "cancel_order", "low"),
        ("A", "refund_request", "normal"),
    ];
    let ids: Vec<String> = plan
        .iter()
        .map(|(customer, category, priority)| {
            let mut body = new_ticket(customer, &["请帮我处理一下"], Some(category));
            body["priority"] = (*priority).into();
            let t = app.create(&body)["ticket"].clone();
            assert_eq!(t["assignee"], Value::Null, "auto_assign=false: {t}");
            id_of(&t)
        })
        .collect();
    // Assign t0 and t2 to ag1; open t4.
    for i in [0, 2] {
        let t = app.patch_ok(&ids[i], 1, &json!({"assignee": "ag1"}));
        assert_eq!(t["assignee"], "ag1");
    }
    app.patch_ok(&ids[4], 1, &json!({"status": "open"}));

    let newest_first = |picked: &[usize]| -> Vec<String> {
        let mut v: Vec<usize> = picked.to_vec();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v.into_iter().map(|i| ids[i].clone()).collect()
    };
    let listed = |q: &str| -> Vec<String> {
        app.list(q)["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect()
    };
    assert_eq!(listed(""), newest_first(&[0, 1, 2, 3, 4, 5, 6]));
    assert_eq!(app.list("")["next_cursor"], Value::Null);
    assert_eq!(listed("?queue=orders"), newest_first(&[0, 2, 4, 5]));
    assert_eq!(listed("?priority=high"), newest_first(&[1, 3]));
    assert_eq!(listed("?customer_id=A"), newest_first(&[0, 2, 6]));
    assert_eq!(listed("?status=open"), newest_first(&[4]));
    assert_eq!(listed("?status=new"), newest_first(&[0, 1, 2, 3, 5, 6]));
    assert_eq!(listed("?assignee=ag1"), newest_first(&[0, 2]));
    assert_eq!(listed("?assignee=none"), newest_first(&[1, 3, 4, 5, 6]));
    assert_eq!(listed("?category=refund_request"), newest_first(&[1, 6]));
    assert_eq!(listed("?queue=orders&assignee=none"), newest_first(&[4, 5]));
    assert_eq!(listed("?customer_id=nobody"), Vec::<String>::new());

    // Pages of two, following the cursor: every ticket exactly once, newest first.
    assert_eq!(app.list_all("", 2), newest_first(&[0, 1, 2, 3, 4, 5, 6]));
    assert_eq!(app.list_all("queue=orders", 1), newest_first(&[0, 2, 4, 5]));
    assert_eq!(app.list_all("", 7), newest_first(&[0, 1, 2, 3, 4, 5, 6]));

    // Stable under inserts: a ticket created between pages does not shift the later pages.
    let page = app.list("?limit=3");
    assert_eq!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect::<Vec<_>>(),
        newest_first(&[4, 5, 6])
    );
    let mut cursor = page["next_cursor"].as_str().unwrap().to_string();
    let late = app.create_id(&new_ticket("E", &["我要退款"], Some("refund_request")));
    let mut rest = Vec::new();
    loop {
        let page = app.list(&format!("?limit=3&cursor={}", enc(&cursor)));
        rest.extend(page["items"].as_array().unwrap().iter().map(id_of));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(rest, newest_first(&[0, 1, 2, 3]));
    assert_eq!(listed("?limit=1"), vec![late]);

    // Bad parameters.
    for q in [
        "?stauts=new",
        "?status=new&status=open",
        "?limit=0",
        "?limit=101",
        "?limit=ten",
        "?status=done",
        "?priority=critical",
        "?cursor=not-a-cursor",
    ] {
        assert_problem(&app.agent("GET", &format!("/v1/tickets{q}"), None), 422);
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Lifecycle, optimistic concurrency, audit trail.

#[test]
fn the_lifecycle_is_enforced_with_versions_and_audited() {
    let app = App::start();
    let id = app.create_id(&new_ticket("life-1", &["我要退款"], Some("refund_request")));
    let path = format!("/v1/tickets/{id}");

    // If-Match is required.
    assert_problem(&app.patch(&id, None, &json!({"status": "open"})), 428);

    let mut version = 1;
    let moves = [
        ("new", "open"),
        ("open", "pending"),
        ("pending", "resolved"),
        ("resolved", "closed"),
        ("closed", "open"),
    ];
    for (from, to) in moves {
        let t = app.patch_ok(&id, version, &json!({"status": to, "actor": "agent_li"}));
        version += 1;
        assert_eq!(t["status"], to, "{from} → {to}: {t}");
        assert_eq!(version_of(&t), version);
        let (got, etag) = app.ticket(&id);
        assert_eq!(got["status"], to);
        assert_eq!(etag, format!("\"{version}\""));
        if to == "resolved" {
            assert!(got["resolved_at"].is_string(), "{got}");
        }
    }
    // open → new is no move of the lifecycle: 409 naming the allowed ones, nothing changed.
    let p = assert_problem(
        &app.patch(&id, Some(version), &json!({"status": "new"})),
        409,
    );
    assert_eq!(
        sorted(&p["allowed"]),
        ["closed", "pending", "resolved"],
        "{p}"
    );
    // closed → resolved neither.
    let t = app.patch_ok(&id, version, &json!({"status": "closed"}));
    version += 1;
    assert_eq!(t["status"], "closed");
    let p = assert_problem(
        &app.patch(&id, Some(version), &json!({"status": "resolved"})),
        409,
    );
    assert_eq!(sorted(&p["allowed"]), ["open"], "{p}");
    let t = app.patch_ok(
        &id,
        version,
        &json!({"status": "open", "actor": "agent_li"}),
    );
    version += 1;
    assert_eq!(t["status"], "open");
    assert_eq!(
        app.ticket(&id).1,
        format!("\"{version}\""),
        "409s changed nothing"
    );

    // A stale version: 412 with the current one.
    let p = assert_problem(&app.patch(&id, Some(3), &json!({"priority": "high"})), 412);
    assert_eq!(p["current_version"], json!(version), "{p}");

    // Several fields at once: one version, one event per field (plus the note).
    let t = app.patch_ok(
        &id,
        version,
        &json!({"priority": "high", "queue": "payments", "note": "客户来电 13812345678",
            "actor": "agent_wang"}),
    );
    version += 1;
    assert_eq!(
        (t["priority"].as_str(), t["queue"].as_str()),
        (Some("high"), Some("payments"))
    );
    assert_eq!(version_of(&t), version);

    // Field checks.
    for bad in [
        json!({"queue": "no_such_queue"}),
        json!({"category": "no_such_intent"}),
        json!({"assignee": "no_such_agent"}),
        json!({"priority": "critical"}),
        json!({"status": "archived"}),
        json!({"colour": "red"}),
        json!({}),
    ] {
        assert_problem(&app.patch(&id, Some(version), &bad), 422);
    }
    assert_problem(
        &app.patch("tk_0000000000000000", Some(1), &json!({"status": "open"})),
        404,
    );

    // Notes.
    let note = app.agent(
        "POST",
        &format!("{path}/events"),
        Some(
            &json!({"kind": "note", "text": "已联系客户 wang.xm@example.com", "actor": "agent_li"}),
        ),
    );
    assert_eq!(note.status, 201, "{}", note.text());
    for bad in [
        json!({"kind": "note", "text": ""}),
        json!({"kind": "status", "text": "x"}),
        json!({"kind": "note", "text": "x".repeat(4097)}),
        json!({"kind": "note", "text": "x", "extra": 1}),
    ] {
        assert_problem(
            &app.agent("POST", &format!("{path}/events"), Some(&bad)),
            422,
        );
    }
    assert_eq!(app.ticket(&id).1, format!("\"{version}\""));

    // The trail, oldest first.
    let events = app.events(&id);
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    let statuses: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["kind"] == "status")
        .map(|e| (e["from"].as_str().unwrap(), e["to"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds[0], "created", "{events:?}");
    assert_eq!(
        statuses,
        [
            ("new", "open"),
            ("open", "pending"),
            ("pending", "resolved"),
            ("resolved", "closed"),
            ("closed", "open"),
            ("open", "closed"),
            ("closed", "open"),
        ]
    );
    // The multi-field patch: priority, queue and its note, then the posted note last.
    let tail: BTreeSet<&str> = kinds[kinds.len() - 4..kinds.len() - 1]
        .iter()
        .copied()
        .collect();
    assert_eq!(
        tail,
        BTreeSet::from(["note", "priority", "queue"]),
        "{kinds:?}"
    );
    assert_eq!(kinds.len(), 1 + 7 + 3 + 1, "{kinds:?}");
    let last = events.last().unwrap();
    assert_eq!(last["kind"], "note");
    assert_eq!(last["actor"], "agent_li");
    assert_eq!(
        last["text"],
        pii::mask("已联系客户 wang.xm@example.com"),
        "notes are masked"
    );
    let patch_note = events
        .iter()
        .find(|e| e["kind"] == "note" && e["actor"] == "agent_wang")
        .unwrap_or_else(|| panic!("the PATCH note: {events:?}"));
    assert_eq!(patch_note["text"], "客户来电 138****5678");
    let priority = events.iter().find(|e| e["kind"] == "priority").unwrap();
    assert_eq!(
        (priority["from"].as_str(), priority["to"].as_str()),
        (Some("normal"), Some("high"))
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e["kind"] == "status")
            .map(|e| e["actor"].as_str().unwrap_or_default())
            .next(),
        Some("agent_li")
    );
    let mut last_seq = i64::MIN;
    for e in &events {
        assert_eq!(e["ticket_id"], id.as_str(), "{e}");
        let seq = e["seq"].as_i64().unwrap_or_else(|| panic!("seq: {e}"));
        assert!(seq > last_seq, "{events:?}");
        last_seq = seq;
        assert!(
            parse_time(e["created_at"].as_str().unwrap()).is_some(),
            "{e}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Who may call what.

#[test]
fn agents_and_customers_see_what_they_may() {
    let app = App::start();
    let addr = app.addr();
    assert_eq!(
        app.put_agent("ag_auth", &["after_sales"], 5, "online")
            .status,
        201
    );
    let mut body = new_ticket("auth-1", &["我要退款"], Some("refund_request"));
    body["customer"]["contact"] = "13812345678".into();
    let a = app.create(&body);
    let (id_a, token_a) = (
        id_of(&a["ticket"]),
        a["access_token"].as_str().unwrap().to_string(),
    );
    assert_eq!(a["ticket"]["assignee"], "ag_auth", "{a}");
    let b = app.create(&new_ticket(
        "auth-2",
        &["where is my order"],
        Some("order_status"),
    ));
    let (id_b, token_b) = (
        id_of(&b["ticket"]),
        b["access_token"].as_str().unwrap().to_string(),
    );
    assert_ne!(token_a, token_b);
    let bearer_a = format!("Bearer {token_a}");
    let agent = format!("Bearer {TOKEN}");

    // Agent routes without a token: 401; with a wrong one: 403; a customer token is no agent.
    for path in [
        "/v1/tickets".to_string(),
        format!("/v1/tickets/{id_a}/events"),
        "/v1/agents".to_string(),
        "/v1/agents/ag_auth".to_string(),
    ] {
        assert_problem(&get_as(addr, &path, None), 401);
        assert_problem(&get_as(addr, &path, Some("Basic dXNlcjpwdw==")), 401);
        assert_problem(&get_as(addr, &path, Some("Bearer wrong-token")), 403);
        assert_problem(&get_as(addr, &path, Some(&bearer_a)), 403);
        assert_eq!(get_as(addr, &path, Some(&agent)).status, 200, "{path}");
    }
    let patch = |auth: Option<&str>| {
        let mut headers = vec![("If-Match", "\"1\"")];
        if let Some(a) = auth {
            headers.push(("Authorization", a));
        }
        send(
            addr,
            "PATCH",
            &format!("/v1/tickets/{id_a}"),
            &headers,
            Some(br#"{"status":"open"}"#),
        )
    };
    assert_problem(&patch(None), 401);
    assert_problem(&patch(Some("Bearer wrong-token")), 403);
    assert_problem(&patch(Some(&bearer_a)), 403);
    let note = |auth: &str| {
        send(
            addr,
            "POST",
            &format!("/v1/tickets/{id_a}/events"),
            &[("Authorization", auth)],
            Some(br#"{"kind":"note","text":"hi"}"#),
        )
    };
    assert_problem(&note(&bearer_a), 403);
    let put = send(
        addr,
        "PUT",
        "/v1/agents/sneaky",
        &[("Authorization", bearer_a.as_str())],
        Some(br#"{"name":"x","queues":["orders"],"capacity":1,"status":"online"}"#),
    );
    assert_problem(&put, 403);
    assert_eq!(
        app.ticket(&id_a).0["status"],
        "new",
        "no refused PATCH applied"
    );

    // The customer view of one's own ticket.
    let res = get_as(addr, &format!("/v1/tickets/{id_a}"), Some(&bearer_a));
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.header("etag"), Some("\"1\""));
    let view = ticket_of(&res.json());
    let (full, _) = app.ticket(&id_a);
    assert_eq!(full["customer"]["contact"], "13812345678");
    assert_eq!(full["assignee"], "ag_auth");
    let mut expected = full.clone();
    {
        let o = expected.as_object_mut().unwrap();
        o.remove("assignee");
        o.remove("priority_reasons");
        // The service clocks are the desk's business, not the customer's.
        o.remove("escalated_at");
        o.remove("first_response_at");
        for audit in ["events", "audit", "audit_trail"] {
            o.remove(audit);
        }
        o["customer"].as_object_mut().unwrap().remove("contact");
    }
    assert_eq!(
        view, expected,
        "the customer view is the agent view less the hidden fields"
    );
    assert!(!res.text().contains("13812345678"));
    assert!(!res.text().contains("ag_auth"));

    // A customer token never opens another ticket, and never tells whether an id exists.
    let other = get_as(addr, &format!("/v1/tickets/{id_b}"), Some(&bearer_a));
    assert_problem(&other, 403);
    let missing = get_as(addr, "/v1/tickets/tk_0000000000000000", Some(&bearer_a));
    assert_problem(&missing, 403);
    assert_eq!(other.json()["detail"], missing.json()["detail"]);
    assert_problem(&get_as(addr, &format!("/v1/tickets/{id_a}"), None), 401);
    assert_problem(
        &get_as(addr, &format!("/v1/tickets/{id_a}"), Some("Bearer wrong")),
        403,
    );
    assert_problem(
        &get_as(addr, "/v1/tickets/tk_0000000000000000", Some(&agent)),
        404,
    );
    // The token is bound to the id, not a prefix of it.
    assert_problem(
        &get_as(
            addr,
            &format!("/v1/tickets/{id_a}"),
            Some(&format!("Bearer {}", &token_a[..token_a.len() - 1])),
        ),
        403,
    );

    // Tokens are derived, never stored.
    let data = app.dir.path().join("data");
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for token in [&token_a, &token_b] {
            assert!(
                !contains_bytes(&bytes, token.as_bytes()),
                "{} holds an access token",
                path.display()
            );
        }
    }
}

fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------------------------------------
// 6. Personal data.

/// An 18-character resident ID with a valid ISO 7064 MOD 11-2 check character.
fn id_card(base17: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = base17
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{base17}{check}")
}

/// `base` with its Luhn check digit appended.
fn luhn(base: &str) -> String {
    let sum: u32 = base
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    format!("{base}{}", (10 - sum % 10) % 10)
}

#[test]
fn personal_data_is_masked_everywhere_but_the_contact() {
    let app = App::start();
    let phone = "13812345678";
    let email = "wang.xiaoming@example.com";
    let id_no = id_card("11010519900307123");
    let card = luhn("622848001234567");
    let text = format!(
        "我的手机{phone}，邮箱 {email}，身份证号 {id_no}，银行卡 {card} 被扣了两次钱，订单 TD2026112612345 要退款"
    );
    // The test data is what the masker recognises.
    let kinds: Vec<PiiKind> = pii::find(&text).iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [
            PiiKind::Phone,
            PiiKind::Email,
            PiiKind::IdCard,
            PiiKind::BankCard
        ],
        "{text}"
    );
    let bot = format!("好的，已记录您的手机 {phone} 和邮箱 {email}");
    let agent_text = format!("请核对银行卡 {card}");
    let body = json!({
        "customer": {"id": "pii-1", "name": "王小明", "contact": phone},
        "transcript": [
            {"role": "customer", "text": text},
            {"role": "bot", "text": bot},
            {"role": "agent", "text": agent_text},
        ],
        "category": "refund_request",
    });
    let out = app.create(&body);
    let t = &out["ticket"];
    let raw = [phone, email, id_no.as_str(), card.as_str()];

    assert_eq!(t["customer"]["contact"], phone);
    let turns = t["transcript"].as_array().unwrap();
    for (got, sent) in turns.iter().zip([&text, &bot, &agent_text]) {
        assert_eq!(got["text"], pii::mask(sent), "{got}");
    }
    let mut shown = t.clone();
    shown["customer"].as_object_mut().unwrap().remove("contact");
    for value in raw {
        assert!(!shown.to_string().contains(value), "{value} in {shown}");
    }
    let entities = t["entities"].as_array().unwrap();
    for m in pii::find(&text) {
        assert!(
            entities.contains(&json!({"kind": m.kind.as_str(), "value": m.masked})),
            "{:?} {} missing from {entities:?}",
            m.kind,
            m.masked
        );
    }
    assert!(entities.contains(&json!({"kind": "order_id", "value": "TD2026112612345"})));
    assert!(
        t["summary"].as_str().unwrap().contains("138****5678"),
        "{t}"
    );

    // A given subject and a note are masked too.
    let mut body2 = new_ticket("pii-2", &["call me"], Some("order_status"));
    body2["subject"] = format!("回电 {phone}").into();
    let t2 = app.create(&body2)["ticket"].clone();
    assert_eq!(t2["subject"], pii::mask(&format!("回电 {phone}")));
    let id2 = id_of(&t2);
    let res = app.agent(
        "POST",
        &format!("/v1/tickets/{id2}/events"),
        Some(&json!({"kind": "note", "text": format!("卡号 {card} 邮箱 {email}")})),
    );
    assert_eq!(res.status, 201, "{}", res.text());
    let res = app.patch(&id2, Some(1), &json!({"note": format!("身份证 {id_no}")}));
    assert_eq!(res.status, 200, "{}", res.text());

    // On disk: no raw value in any ticket table, except the contact column.
    let db = app.db();
    let tables = ticket_tables(&db);
    assert!(tables.contains(&"ticket_tickets".to_string()), "{tables:?}");
    let mut contact_seen = false;
    for table in &tables {
        for row in rows(&db, table) {
            for (column, value) in &row {
                if table == "ticket_tickets" && column.contains("contact") {
                    contact_seen |= value == phone;
                    continue;
                }
                for r in raw {
                    assert!(!value.contains(r), "{table}.{column} holds {r}: {value}");
                }
            }
        }
    }
    assert!(contact_seen, "the contact is stored verbatim for follow-up");
    drop(db);
    // Nor anywhere in the database files (journal and WAL included): these three were never
    // anyone's contact.
    for entry in std::fs::read_dir(app.dir.path().join("data")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for r in [email, id_no.as_str(), card.as_str()] {
            assert!(
                !contains_bytes(&bytes, r.as_bytes()),
                "{} holds {r}",
                path.display()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Assignment.

#[test]
fn new_tickets_go_to_the_online_agent_with_the_most_room() {
    let app = App::start();
    // Ids chosen so that "the smaller id" would pick the other agent in every tie below: the
    // ties must be decided by idle time.
    assert_eq!(app.put_agent("zoe", &["orders"], 2, "online").status, 201);
    assert_eq!(app.put_agent("bob", &["orders"], 5, "online").status, 201);
    assert_eq!(
        app.put_agent("carl", &["orders"], 10, "offline").status,
        201
    );
    assert_eq!(
        app.put_agent("dan", &["logistics"], 10, "online").status,
        201
    );
    // Replacing is 200.
    assert_eq!(app.put_agent("zoe", &["orders"], 2, "online").status, 200);

    let orders = |n: usize| -> Value {
        app.create(&new_ticket(
            &format!("as-{n}"),
            &["我的订单到哪了"],
            Some("order_status"),
        ))["ticket"]
            .clone()
    };
    // Spare room (zoe, bob): (2,5) bob; (2,4) bob; (2,3) bob; (2,2) tie, zoe never assigned →
    // zoe; (1,2) bob; (1,1) tie, zoe idle longer → zoe; (0,1) bob; (0,0) nobody. carl is
    // offline with room for ten and never gets one.
    let want = [
        Some("bob"),
        Some("bob"),
        Some("bob"),
        Some("zoe"),
        Some("bob"),
        Some("zoe"),
        Some("bob"),
        None,
    ];
    let mut tickets = Vec::new();
    for (n, want) in want.iter().enumerate() {
        let t = orders(n);
        assert_eq!(t["assignee"].as_str(), *want, "ticket {n}: {t}");
        tickets.push(t);
    }
    // Another queue's agent.
    let lost = app.create(&new_ticket(
        "as-lost",
        &["my package is lost"],
        Some("lost_package"),
    ));
    assert_eq!(lost["ticket"]["assignee"], "dan", "{lost}");

    let agents = list_of(
        &{
            let res = app.agent("GET", "/v1/agents", None);
            assert_eq!(res.status, 200, "{}", res.text());
            res.json()
        },
        &["items", "agents"],
    );
    let open: HashMap<String, u64> = agents
        .iter()
        .map(|a| (id_of(a), a["open_tickets"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        open,
        HashMap::from([
            ("zoe".to_string(), 2),
            ("bob".to_string(), 5),
            ("carl".to_string(), 0),
            ("dan".to_string(), 1)
        ])
    );

    // Resolving frees room: bob gets the next one.
    let first = id_of(&tickets[0]);
    app.patch_ok(&first, 1, &json!({"status": "resolved"}));
    let res = app.agent("GET", "/v1/agents/bob", None);
    assert_eq!(res.status, 200, "{}", res.text());
    let bob = res.json();
    let bob = bob.get("agent").unwrap_or(&bob);
    assert_eq!(bob["open_tickets"], 4, "{bob}");
    assert_eq!(orders(100)["assignee"], "bob");

    // carl comes online: the status change is audited, and carl has the most room.
    assert_eq!(app.put_agent("carl", &["orders"], 10, "online").status, 200);
    let db = app.db();
    let audited = rows(&db, "ticket_events").into_iter().any(|row| {
        row.values().any(|v| v == "agent_status") && row.values().any(|v| v.contains("carl"))
    });
    assert!(audited, "{:?}", rows(&db, "ticket_events"));
    assert_eq!(orders(101)["assignee"], "carl");
    // Away is not online.
    assert_eq!(app.put_agent("carl", &["orders"], 10, "away").status, 200);
    assert_eq!(orders(102)["assignee"], Value::Null);

    // Never assigned, equal room: the smaller id.
    assert_eq!(
        app.put_agent("pay2", &["payments"], 3, "online").status,
        201
    );
    assert_eq!(
        app.put_agent("pay1", &["payments"], 3, "online").status,
        201
    );
    let refund = app.create(&new_ticket(
        "as-pay",
        &["退款怎么还没到账"],
        Some("refund_status"),
    ));
    assert_eq!(refund["ticket"]["assignee"], "pay1", "{refund}");

    // Manual assignment and unassignment are audited.
    let id = id_of(&lost["ticket"]);
    let t = app.patch_ok(&id, 1, &json!({"assignee": "pay2", "actor": "lead"}));
    assert_eq!(t["assignee"], "pay2");
    let t = app.patch_ok(&id, 2, &json!({"assignee": null}));
    assert_eq!(t["assignee"], Value::Null);
    let assigned: Vec<Value> = app
        .events(&id)
        .into_iter()
        .filter(|e| e["kind"] == "assigned")
        .collect();
    assert!(assigned.len() >= 2, "{assigned:?}");
    assert_eq!(assigned[assigned.len() - 2]["to"], "pay2", "{assigned:?}");
    assert_eq!(
        assigned[assigned.len() - 1]["to"],
        Value::Null,
        "{assigned:?}"
    );

    // Agent input checks.
    for (id, body) in [
        (
            "x1",
            json!({"name": "x", "queues": ["nowhere"], "capacity": 1, "status": "online"}),
        ),
        (
            "x1",
            json!({"name": "x", "queues": ["orders"], "capacity": 0, "status": "online"}),
        ),
        (
            "x1",
            json!({"name": "x", "queues": ["orders"], "capacity": 101, "status": "online"}),
        ),
        (
            "x1",
            json!({"name": "x", "queues": ["orders"], "capacity": 1, "status": "busy"}),
        ),
        (
            "x1",
            json!({"name": "x", "queues": ["orders"], "capacity": 1, "status": "online", "x": 1}),
        ),
        (
            "x1",
            json!({"name": "x", "queues": ["orders"], "capacity": "1", "status": "online"}),
        ),
        (
            "none",
            json!({"name": "x", "queues": ["orders"], "capacity": 1, "status": "online"}),
        ),
    ] {
        assert_problem(
            &app.agent("PUT", &format!("/v1/agents/{id}"), Some(&body)),
            422,
        );
    }
    assert_problem(&app.agent("GET", "/v1/agents/ghost", None), 404);
}

// ---------------------------------------------------------------------------------------------
// 8. Hostile and malformed input.

#[test]
fn bad_input_is_a_problem_and_never_a_5xx() {
    let app = App::start();
    let post = |bytes: &[u8]| send(app.addr(), "POST", "/v1/tickets", &[], Some(bytes));
    let post_json = |v: &Value| post(v.to_string().as_bytes());
    let ok = new_ticket("bad-1", &["我要退款"], Some("refund_request"));

    assert_problem(&post(br#"{"customer": {"id": "x"}, "transcript": "#), 400);
    assert_problem(&post(b""), 400);
    assert_problem(
        &post(b"{\"customer\": {\"id\": \"\xff\xfe\"}, \"transcript\": []}"),
        400,
    );

    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = ok.clone();
        f(&mut v);
        v
    };
    let named = |v: &Value, field: &str| {
        let p = assert_problem(&post_json(v), 422);
        assert!(p.to_string().contains(field), "{field}: {p}");
    };
    named(&with(&|v| v["colour"] = "red".into()), "colour");
    named(&with(&|v| v["customer"]["age"] = 30.into()), "age");
    named(
        &with(&|v| v["transcript"][0]["mood"] = "angry".into()),
        "mood",
    );
    named(&with(&|v| v["transcript"] = json!([])), "transcript");
    named(&with(&|v| v["customer"]["id"] = "".into()), "customer.id");
    named(
        &with(&|v| v["customer"]["id"] = "c".repeat(129).into()),
        "customer.id",
    );
    named(
        &with(&|v| v["customer"]["name"] = "n".repeat(257).into()),
        "customer.name",
    );
    named(
        &with(&|v| v["transcript"][0]["text"] = "".into()),
        "transcript[0].text",
    );
    named(
        &with(&|v| v["transcript"][0]["text"] = "长".repeat(1366).into()), // 4,098 bytes
        "transcript[0].text",
    );
    named(
        &with(&|v| v["transcript"][0]["confidence"] = 2.into()),
        "transcript[0].confidence",
    );
    named(
        &with(&|v| v["transcript"][0]["role"] = "robot".into()),
        "robot",
    );
    named(
        &with(&|v| v["transcript"] = json!([{"role": "bot", "text": "hello"}])),
        "transcript",
    );
    named(&with(&|v| v["priority"] = "critical".into()), "critical");
    // Wrong types.
    for v in [
        with(&|v| v["transcript"] = "我要退款".into()),
        with(&|v| v["customer"]["id"] = 42.into()),
        with(&|v| v["customer"] = "bad-1".into()),
        with(&|v| v["transcript"][0]["answered"] = "yes".into()),
        json!([ok.clone()]),
        json!({"transcript": ok["transcript"].clone()}),
    ] {
        assert_problem(&post_json(&v), 422);
    }
    // 200 turns is the limit: accepted; 201 is not.
    let turns = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| {
                if i % 2 == 0 {
                    customer_turn(&format!("第 {i} 个问题 question"))
                } else {
                    json!({"role": "bot", "text": "好的 ok", "answered": true})
                }
            })
            .collect()
    };
    let mut long = ok.clone();
    long["transcript"] = turns(200).into();
    assert_eq!(post_json(&long).status, 201);
    long["transcript"] = turns(201).into();
    let p = assert_problem(&post_json(&long), 422);
    assert!(p.to_string().contains("transcript"), "{p}");
    // Over the 1 MiB body limit, announced and streamed.
    let mut huge = ok.clone();
    huge["transcript"][0]["text"] = "a".repeat(2 * 1024 * 1024).into();
    let huge = huge.to_string();
    assert_problem(&post(huge.as_bytes()), 413);
    let chunked = request_with(
        app.addr(),
        "POST",
        "/v1/tickets",
        &[("Content-Type", "application/json")],
        Body::Chunked(huge.as_bytes()),
    )
    .unwrap();
    assert_problem(&chunked, 413);
    assert_eq!(app.ticket_rows(), 1, "only the 200-turn ticket was stored");

    // SQL-looking strings are data.
    let evil = "'); DROP TABLE ticket_tickets;--";
    let body = json!({
        "customer": {"id": evil, "name": evil, "channel": evil, "tier": evil, "contact": evil},
        "transcript": [customer_turn(evil), customer_turn(&format!("我要退款 {evil}"))],
        "subject": evil,
        "category": "refund_request",
    });
    let t = app.create(&body)["ticket"].clone();
    let id = id_of(&t);
    let (got, _) = app.ticket(&id);
    for field in ["id", "name", "channel", "tier", "contact"] {
        assert_eq!(got["customer"][field], evil, "{field}");
    }
    assert_eq!(got["subject"], evil);
    assert_eq!(got["transcript"][0]["text"], evil);
    let listed = app.list(&format!("?customer_id={}", enc(evil)));
    assert_eq!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect::<Vec<_>>(),
        [id.as_str()]
    );
    let note = app.agent(
        "POST",
        &format!("/v1/tickets/{id}/events"),
        Some(&json!({"kind": "note", "text": evil, "actor": evil})),
    );
    assert_eq!(note.status, 201, "{}", note.text());
    assert_eq!(app.events(&id).last().unwrap()["text"], evil);
    assert_eq!(app.ticket_rows(), 2, "the table is still there");

    // Odd paths and methods are problems too.
    assert_problem(&app.agent("GET", "/v1/tickets/not-an-id", None), 404);
    assert_problem(
        &app.agent("GET", "/v1/tickets/tk_0000000000000000/events", None),
        404,
    );
    assert_problem(&app.agent("GET", "/v1/tickets/a/b/c/d", None), 404);
    let res = app.agent("DELETE", &format!("/v1/tickets/{id}"), None);
    assert!(res.status == 405 || res.status == 404, "{}", res.text());
    assert_problem(&res, res.status);
    assert_eq!(app.ticket_rows(), 2);
}

// ---------------------------------------------------------------------------------------------
// 9. Concurrent clients.

#[test]
fn concurrent_creates_and_updates_lose_nothing() {
    const CLIENTS: usize = 16;
    const CREATES: usize = 500;
    const UPDATES: usize = 200;
    const HOT: usize = 10;
    let app = App::start();
    let addr = app.addr();
    let hot: Vec<String> = (0..HOT)
        .map(|i| {
            app.create_id(&new_ticket(
                &format!("hot-{i}"),
                &["我的订单到哪了"],
                Some("order_status"),
            ))
        })
        .collect();
    let hot = Arc::new(hot);
    let successes: Arc<Vec<AtomicUsize>> =
        Arc::new((0..HOT).map(|_| AtomicUsize::new(0)).collect());
    let created = Arc::new(Mutex::new(Vec::<String>::new()));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));

    // 700 jobs; every seventh pair is an update (200 in all), the rest creates.
    let jobs: Vec<bool> = (0..CREATES + UPDATES)
        .map(|j| j % 7 == 3 || j % 7 == 6)
        .collect();
    assert_eq!(jobs.iter().filter(|u| **u).count(), UPDATES);
    let jobs = Arc::new(jobs);
    let texts = [
        "我的订单到哪了",
        "I want a refund",
        "where is my order",
        "快递丢了",
    ];
    let started = Instant::now();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (hot, successes, created, failures, jobs) = (
                hot.clone(),
                successes.clone(),
                created.clone(),
                failures.clone(),
                jobs.clone(),
            );
            std::thread::spawn(move || {
                let fail = |m: String| failures.lock().unwrap().push(m);
                let auth = format!("Bearer {TOKEN}");
                for j in (c..jobs.len()).step_by(CLIENTS) {
                    if !jobs[j] {
                        // Every fifth create is classified, the others name their category.
                        let category = (j % 5 != 0).then_some("order_status");
                        let body = new_ticket(&format!("load-{j}"), &[texts[j % 4]], category);
                        match create_at(addr, &body, None) {
                            Ok(res) if res.status == 201 => {
                                created.lock().unwrap().push(id_of(&res.json()["ticket"]))
                            }
                            Ok(res) => fail(format!("create {j}: {} {}", res.status, res.text())),
                            Err(e) => fail(format!("create {j}: {e:#}")),
                        }
                        continue;
                    }
                    let t = j % HOT;
                    let path = format!("/v1/tickets/{}", hot[t]);
                    let mut attempts = 0;
                    loop {
                        attempts += 1;
                        if attempts > 200 {
                            fail(format!("update {j}: still 412 after 200 attempts"));
                            break;
                        }
                        let got = match try_send(
                            addr,
                            "GET",
                            &path,
                            &[("Authorization", auth.as_str())],
                            None,
                        ) {
                            Ok(r) if r.status == 200 => ticket_of(&r.json()),
                            Ok(r) => {
                                fail(format!("read {j}: {} {}", r.status, r.text()));
                                break;
                            }
                            Err(e) => {
                                fail(format!("read {j}: {e:#}"));
                                break;
                            }
                        };
                        let next = match got["priority"].as_str() {
                            Some("low") => "normal",
                            Some("normal") => "high",
                            Some("high") => "urgent",
                            _ => "low",
                        };
                        let tag = format!("\"{}\"", version_of(&got));
                        let body = json!({"priority": next, "actor": format!("client-{c}")});
                        match try_send(
                            addr,
                            "PATCH",
                            &path,
                            &[("Authorization", auth.as_str()), ("If-Match", tag.as_str())],
                            Some(body.to_string().as_bytes()),
                        ) {
                            Ok(r) if r.status == 200 => {
                                successes[t].fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                            Ok(r) if r.status == 412 => continue,
                            Ok(r) => {
                                fail(format!("update {j}: {} {}", r.status, r.text()));
                                break;
                            }
                            Err(e) => {
                                fail(format!("update {j}: {e:#}"));
                                break;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    eprintln!(
        "{CREATES} creates + {UPDATES} updates from {CLIENTS} clients in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} failed requests, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let created = created.lock().unwrap();
    assert_eq!(created.len(), CREATES);

    // Every 201 is in the database exactly once; nothing else is.
    let db = app.db();
    assert_eq!(app.ticket_rows(), (CREATES + HOT) as i64);
    let stored: Vec<String> = {
        let mut stmt = db.prepare("SELECT id FROM ticket_tickets").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let stored_set: BTreeSet<&String> = stored.iter().collect();
    assert_eq!(stored_set.len(), stored.len(), "duplicate ids");
    let answered: BTreeSet<&String> = created.iter().chain(hot.iter()).collect();
    assert_eq!(stored_set, answered);
    // And the API lists them all.
    let listed = app.list_all("", 100);
    assert_eq!(listed.len(), CREATES + HOT);
    assert_eq!(listed.iter().collect::<BTreeSet<_>>(), answered);

    // Every successful update is in its ticket's version and trail.
    let total: usize = successes.iter().map(|s| s.load(Ordering::Relaxed)).sum();
    assert_eq!(total, UPDATES);
    for (i, id) in hot.iter().enumerate() {
        let n = successes[i].load(Ordering::Relaxed) as u64;
        let (t, etag) = app.ticket(id);
        assert_eq!(version_of(&t), 1 + n, "{id}: {t}");
        assert_eq!(etag, format!("\"{}\"", 1 + n));
        let changes = app
            .events(id)
            .iter()
            .filter(|e| e["kind"] == "priority")
            .count() as u64;
        assert_eq!(changes, n, "{id}");
    }
}

// ---------------------------------------------------------------------------------------------
// 10. A killed host.

#[test]
fn every_acknowledged_ticket_survives_a_killed_host() {
    const CLIENTS: usize = 4;
    const BEFORE_KILL: usize = 40;
    let dir = TempDir::new().unwrap();
    let host = start_host(dir.path(), &[]);
    let addr = host.addr;
    let acknowledged = Arc::new(Mutex::new(Vec::<(Value, String)>::new()));
    let unexpected = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (acknowledged, unexpected, stop) =
                (acknowledged.clone(), unexpected.clone(), stop.clone());
            std::thread::spawn(move || {
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let mut body = new_ticket(
                        &format!("dur-{c}-{n}"),
                        &[&format!("订单 TD20261126{c:02}{n:04} 申请退款")],
                        Some(["refund_request", "order_status"][n % 2]),
                    );
                    body["subject"] = format!("durable {c}-{n}").into();
                    match create_at(addr, &body, None) {
                        Ok(res) if res.status == 201 => {
                            // A body cut short by the kill was never acknowledged.
                            let Ok(out) = serde_json::from_slice::<Value>(&res.body) else {
                                break;
                            };
                            acknowledged.lock().unwrap().push((
                                out["ticket"].clone(),
                                out["access_token"].as_str().unwrap_or_default().to_string(),
                            ));
                        }
                        Ok(res) => {
                            if !stop.load(Ordering::Relaxed) {
                                unexpected.lock().unwrap().push(format!(
                                    "{} {}",
                                    res.status,
                                    res.text()
                                ));
                            }
                        }
                        // The host is gone (or went mid-response): this one was never
                        // acknowledged.
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while acknowledged.lock().unwrap().len() < BEFORE_KILL {
        assert!(
            Instant::now() < deadline,
            "creates too slow: {}",
            host.stderr()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // Dropping the harness's Host kills its child: `Child::kill` is SIGKILL on Unix, so the
    // host gets no chance to flush or finish anything in flight.
    drop(host);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let unexpected = unexpected.lock().unwrap();
    assert!(unexpected.is_empty(), "{unexpected:?}");
    let acknowledged = acknowledged.lock().unwrap();

    // The file is a consistent SQLite database.
    let data = dir.path().join("data");
    {
        let db = open_db(&data);
        let check: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }

    let host = start_host(dir.path(), &[]);
    let agent = format!("Bearer {TOKEN}");
    for (sent, token) in acknowledged.iter() {
        let id = id_of(sent);
        let res = get_as(host.addr, &format!("/v1/tickets/{id}"), Some(&agent));
        assert_eq!(res.status, 200, "{id} lost: {}", res.text());
        let got = ticket_of(&res.json());
        for field in [
            "id",
            "subject",
            "category",
            "queue",
            "priority",
            "status",
            "version",
            "customer",
            "transcript",
            "summary",
            "entities",
            "created_at",
            "sla_due",
        ] {
            assert_eq!(got[field], sent[field], "{id}: {field}");
        }
        // The token secret survived too.
        let own = get_as(
            host.addr,
            &format!("/v1/tickets/{id}"),
            Some(&format!("Bearer {token}")),
        );
        assert_eq!(own.status, 200, "{id} with its token: {}", own.text());
    }
    // Nothing half-written: every stored ticket is whole, with its `created` event.
    let db = open_db(&data);
    let stored: Vec<String> = {
        let mut stmt = db.prepare("SELECT id FROM ticket_tickets").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    eprintln!(
        "{} tickets acknowledged before the kill, {} stored",
        acknowledged.len(),
        stored.len()
    );
    assert!(stored.len() >= acknowledged.len());
    for id in &stored {
        let res = get_as(host.addr, &format!("/v1/tickets/{id}/events"), Some(&agent));
        assert_eq!(res.status, 200, "{id}: {}", res.text());
        let events = list_of(&res.json(), &["items", "events"]);
        assert_eq!(
            events.first().map(|e| &e["kind"]),
            Some(&json!("created")),
            "{id}"
        );
    }
    // And the store keeps working.
    let res = create_at(
        host.addr,
        &new_ticket("dur-after", &["我要退款"], Some("refund_request")),
        None,
    )
    .unwrap();
    assert_eq!(res.status, 201, "{}", res.text());
}
