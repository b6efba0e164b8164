//! The ticket component alone behind the real host, and the helpers the `tickets_*` test files
//! share (docs/tickets.md): an [`App`] with its data dir, requests with and without the agent
//! token, request bodies, and readers of answers and of the SQLite file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tandem_core::feedback::parse_time;
use tempfile::TempDir;

use crate::manifest::{Component, Manifest, Var};
use crate::{Body, Host, HostOptions, HttpResponse, request_with};

/// The agent token every ticket app here is started with.
pub const TOKEN: &str = "ticket-test-token";
/// One hour in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;

// ---------------------------------------------------------------------------------------------
// The app under test.

/// The ticket component as `spin.toml` serves it: pre-initialised, intent composed in.
pub fn ticket_wasm() -> PathBuf {
    crate::built_component("ticket")
}

/// A manifest with only the ticket component, as `spin.toml` declares it.
pub fn manifest(dir: &Path) -> PathBuf {
    warm_cache();
    manifest_unwarmed(dir)
}

/// The component carries tract and the intent model: compiled once before the tests start.
fn warm_cache() {
    static WARM: std::sync::Once = std::sync::Once::new();
    crate::warm_compilation_cache(&WARM, manifest_unwarmed, "/v1/tickets/health");
}

fn manifest_unwarmed(dir: &Path) -> PathBuf {
    Manifest::new("ticket-test")
        .variable("agent_token", Var::required_secret())
        .variable("auto_assign", Var::default("true"))
        .component(
            Component::new("ticket", &ticket_wasm())
                .route("/v1/tickets/...")
                .route("/v1/agents/...")
                .sqlite("default")
                .var("agent_token", "{{ agent_token }}")
                .var("auto_assign", "{{ auto_assign }}"),
        )
        .write(dir)
}

/// Starts a host serving the ticket manifest with its data in `dir/data`.
pub fn start_host(dir: &Path, env: &[(&str, &str)]) -> Host {
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

/// A ticket app: its host and the temp dir holding its manifest and data.
pub struct App {
    /// The running host.
    pub host: Host,
    /// Its manifest and data (`dir/data`).
    pub dir: TempDir,
}

impl App {
    /// Starts a ticket app in a fresh temp dir.
    pub fn start() -> App {
        App::start_with(&[])
    }

    /// [`App::start`] with extra host environment (`SPIN_VARIABLE_...`).
    pub fn start_with(env: &[(&str, &str)]) -> App {
        let dir = TempDir::new().unwrap();
        let host = start_host(dir.path(), env);
        App { host, dir }
    }

    /// The address the host serves on.
    pub fn addr(&self) -> SocketAddr {
        self.host.addr
    }

    /// A connection to the app's SQLite file.
    pub fn db(&self) -> rusqlite::Connection {
        open_db(&self.dir.path().join("data"))
    }

    /// How many rows `ticket_tickets` holds.
    pub fn ticket_rows(&self) -> i64 {
        self.db()
            .query_row("SELECT COUNT(*) FROM ticket_tickets", [], |r| r.get(0))
            .unwrap()
    }

    /// A request with the agent token.
    pub fn agent(&self, method: &str, path: &str, body: Option<&Value>) -> HttpResponse {
        self.agent_with(method, path, &[], body)
    }

    /// [`App::agent`] with extra request headers.
    pub fn agent_with(
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
    pub fn create_res(&self, body: &Value, key: Option<&str>) -> HttpResponse {
        create_at(self.addr(), body, key).unwrap()
    }

    /// Creates and insists on 201; returns the whole answer (`ticket`, `access_token`, ...).
    pub fn create(&self, body: &Value) -> Value {
        let res = self.create_res(body, None);
        assert_eq!(res.status, 201, "{body}: {}", res.text());
        res.json()
    }

    /// Creates and returns the new ticket's id.
    pub fn create_id(&self, body: &Value) -> String {
        self.create(body)["ticket"]["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The agent view of a ticket and its ETag.
    pub fn ticket(&self, id: &str) -> (Value, String) {
        let res = self.agent("GET", &format!("/v1/tickets/{id}"), None);
        assert_eq!(res.status, 200, "GET {id}: {}", res.text());
        let etag = res.header("etag").unwrap_or_default().to_string();
        (ticket_of(&res.json()), etag)
    }

    /// `PATCH /v1/tickets/{id}`, with `If-Match` when `version` is given.
    pub fn patch(&self, id: &str, version: Option<u64>, body: &Value) -> HttpResponse {
        let tag = version.map(|v| format!("\"{v}\""));
        let extra: Vec<(&str, &str)> = tag.iter().map(|t| ("If-Match", t.as_str())).collect();
        self.agent_with("PATCH", &format!("/v1/tickets/{id}"), &extra, Some(body))
    }

    /// PATCH that must succeed; returns the changed ticket.
    pub fn patch_ok(&self, id: &str, version: u64, body: &Value) -> Value {
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

    /// The audit events of a ticket (asserts 200).
    pub fn events(&self, id: &str) -> Vec<Value> {
        let res = self.agent("GET", &format!("/v1/tickets/{id}/events"), None);
        assert_eq!(res.status, 200, "events of {id}: {}", res.text());
        list_of(&res.json(), &["items", "events"])
    }

    /// `GET /v1/tickets{query}` (asserts 200).
    pub fn list(&self, query: &str) -> Value {
        let res = self.agent("GET", &format!("/v1/tickets{query}"), None);
        assert_eq!(res.status, 200, "list {query}: {}", res.text());
        res.json()
    }

    /// Follows `next_cursor` from the first page to the last; returns every id in order and
    /// checks each page's size.
    pub fn list_all(&self, filters: &str, limit: usize) -> Vec<String> {
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

    /// `PUT /v1/agents/{id}`: an agent with its queues, capacity and status.
    pub fn put_agent(
        &self,
        id: &str,
        queues: &[&str],
        capacity: u32,
        status: &str,
    ) -> HttpResponse {
        self.agent(
            "PUT",
            &format!("/v1/agents/{id}"),
            Some(&json!({"name": format!("Agent {id}"), "queues": queues,
                "capacity": capacity, "status": status})),
        )
    }
}

/// Opens the SQLite file of data dir `data` (waiting up to 10 s on locks).
pub fn open_db(data: &Path) -> rusqlite::Connection {
    let db = rusqlite::Connection::open(data.join("sqlite_db.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db
}

/// Every row of `table`, each column rendered as text (NULL as "").
pub fn rows(db: &rusqlite::Connection, table: &str) -> Vec<BTreeMap<String, String>> {
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

/// The names of the ticket component's tables (`ticket_*`).
pub fn ticket_tables(db: &rusqlite::Connection) -> Vec<String> {
    let mut stmt = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'ticket\\_%' ESCAPE '\\'")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// One request on a fresh connection; JSON bodies are sent as `application/json`.
pub fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> HttpResponse {
    try_send(addr, method, path, headers, body).unwrap_or_else(|e| panic!("{method} {path}: {e:#}"))
}

/// [`send`], returning connection errors instead of panicking.
pub fn try_send(
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

/// `POST /v1/tickets` to `addr` with an optional `Idempotency-Key`.
pub fn create_at(
    addr: SocketAddr,
    body: &Value,
    key: Option<&str>,
) -> anyhow::Result<HttpResponse> {
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
pub fn get_as(addr: SocketAddr, path: &str, auth: Option<&str>) -> HttpResponse {
    let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
    send(addr, "GET", path, &headers, None)
}

/// The ticket in an answer: `{"ticket": {...}}` or the ticket itself (the doc gives the create
/// answer's shape only).
pub fn ticket_of(v: &Value) -> Value {
    match v.get("ticket") {
        Some(t) if t.is_object() => t.clone(),
        _ => v.clone(),
    }
}

/// A list answer: a bare array or the array under one of `keys`.
pub fn list_of(v: &Value, keys: &[&str]) -> Vec<Value> {
    if let Some(a) = v.as_array() {
        return a.clone();
    }
    keys.iter()
        .find_map(|k| v.get(*k).and_then(Value::as_array))
        .unwrap_or_else(|| panic!("no list under {keys:?}: {v}"))
        .clone()
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
pub fn enc(s: &str) -> String {
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

/// One customer turn of a transcript.
pub fn customer_turn(text: &str) -> Value {
    json!({"role": "customer", "text": text})
}

/// A create body: one customer, the given customer turns, optional category.
pub fn new_ticket(customer: &str, texts: &[&str], category: Option<&str>) -> Value {
    let mut body = json!({
        "customer": {"id": customer},
        "transcript": texts.iter().map(|t| customer_turn(t)).collect::<Vec<_>>(),
    });
    if let Some(c) = category {
        body["category"] = c.into();
    }
    body
}

/// The `id` of a ticket.
pub fn id_of(t: &Value) -> String {
    t["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id: {t}"))
        .to_string()
}

/// The `version` of a ticket.
pub fn version_of(t: &Value) -> u64 {
    t["version"]
        .as_u64()
        .unwrap_or_else(|| panic!("no version: {t}"))
}

/// `tk_` + 16 Crockford base-32 characters (either case; no I, L, O, U).
pub fn is_ticket_id(id: &str) -> bool {
    id.len() == 19
        && id.starts_with("tk_")
        && id[3..]
            .chars()
            .all(|c| c.is_ascii_digit() || (c.is_ascii_alphabetic() && !"ILOUilou".contains(c)))
}

/// Time field `field` of a ticket, in milliseconds since the epoch.
pub fn ms(t: &Value, field: &str) -> i64 {
    let s = t[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a time: {t}"));
    parse_time(s).unwrap_or_else(|| panic!("{field} = {s:?} is not RFC 3339"))
}

/// `sla_due` is `created_at` plus `hours` (to the second: either may be written without
/// milliseconds).
pub fn assert_sla(t: &Value, hours: i64) {
    let diff = ms(t, "sla_due") - ms(t, "created_at");
    assert!(
        (diff - hours * HOUR_MS).abs() < 1000,
        "SLA of {} h expected: {t}",
        hours
    );
}

/// A JSON array of strings, sorted.
pub fn sorted(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

/// Whether `needle` (non-empty) occurs in `haystack`.
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
