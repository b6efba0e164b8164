//! Webhooks over real HTTP on loopback (`functions/webhooks`, docs/webhooks.md): a receiver
//! thread that checks every signature with its own HMAC gets each event of a scripted
//! conversation once; a receiver that is down gets everything when it comes back; one that
//! always fails ends in the dead-letter list after the configured tries and is replayed; the
//! host SIGKILLed mid-delivery loses nothing; the schedule escalates an overdue ticket and
//! frees a silent assignee; bad subscriptions are refused.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tandem_tests::{Body, Host, HttpResponse, assert_problem, request_with, start_app};
use tempfile::TempDir;

const TOKEN: &str = "webhook-test-token";
const BEARER: &str = "Bearer webhook-test-token";

/// What the receiver does with the next request.
const OK: u8 = 0;
/// Answers 503.
const FAILING: u8 = 1;
/// Closes the connection without an answer (a receiver that is down).
const DOWN: u8 = 2;
/// Reads the request and never answers (the host is killed meanwhile).
const HANGING: u8 = 3;

/// One request the receiver read: event id, type header, body, whether its signature verified.
#[derive(Clone, Debug)]
struct Received {
    event_id: String,
    event_type: String,
    body: Value,
    verified: bool,
    answered: u16,
}

struct Receiver {
    port: u16,
    mode: Arc<AtomicU8>,
    secret: Arc<Mutex<String>>,
    log: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(OK));
        let secret = Arc::new(Mutex::new(String::new()));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (m, s, l) = (mode.clone(), secret.clone(), log.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (m, s, l) = (m.clone(), s.clone(), l.clone());
                std::thread::spawn(move || serve(stream, &m, &s, &l));
            }
        });
        Receiver {
            port,
            mode,
            secret,
            log,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    /// Event id → how many times it was answered 2xx.
    fn delivered(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for r in self.received().iter().filter(|r| r.answered == 204) {
            *out.entry(r.event_id.clone()).or_insert(0) += 1;
        }
        out
    }
}

fn serve(
    stream: std::net::TcpStream,
    mode: &AtomicU8,
    secret: &Mutex<String>,
    log: &Mutex<Vec<Received>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut headers = BTreeMap::new();
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let body = match headers
        .get("content-length")
        .and_then(|l| l.parse::<usize>().ok())
    {
        Some(length) => {
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            body
        }
        None => match read_chunked(&mut reader) {
            Some(body) => body,
            None => return,
        },
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signature = headers.get("tandem-signature").cloned().unwrap_or_default();
    let verified = verify(&signature, &secret.lock().unwrap(), &body, now);
    let mut stream = stream;
    let mode = mode.load(Ordering::SeqCst);
    let answered = match mode {
        OK => 204,
        FAILING => 503,
        _ => 0,
    };
    log.lock().unwrap().push(Received {
        event_id: headers.get("tandem-event-id").cloned().unwrap_or_default(),
        event_type: headers
            .get("tandem-event-type")
            .cloned()
            .unwrap_or_default(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        verified,
        answered,
    });
    match mode {
        OK | FAILING => {
            let status = if mode == OK {
                "204 No Content"
            } else {
                "503 Service Unavailable"
            };
            let _ = stream.write_all(
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
        DOWN => {}
        _ => std::thread::sleep(Duration::from_secs(30)),
    }
}

/// A `transfer-encoding: chunked` body.
fn read_chunked(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
        let mut chunk = vec![0u8; size + 2];
        reader.read_exact(&mut chunk).ok()?;
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

/// The receiver's check, written from docs/webhooks.md: `t=<secs>,v1=<hex>`, HMAC-SHA256 of
/// `"<t>.<body>"` under the secret, within 5 minutes.
fn verify(header: &str, secret: &str, body: &[u8], now: i64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = x.parse::<i64>().ok(),
            Some(("v1", x)) => v1 = Some(x.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(body);
    (now - t).abs() <= 300 && hex(&hmac(secret.as_bytes(), &message)) == v1
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let inner: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x36)
        .chain(message.iter().copied())
        .collect();
    let inner = Sha256::digest(&inner);
    let outer: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x5c)
        .chain(inner.iter().copied())
        .collect();
    Sha256::digest(&outer).to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The app, its schedule every second, the receiver's host allowed, fast retries.
fn app(data: &Path, receiver: &Receiver, private: bool, lease_ms: &str) -> Host {
    let allowed = format!("http://127.0.0.1:{}", receiver.port);
    start_app(
        data,
        vec![
            ("SPIN_VARIABLE_AGENT_TOKEN", TOKEN),
            ("SPIN_VARIABLE_WEBHOOK_ALLOWED_HOST", &allowed),
            (
                "SPIN_VARIABLE_WEBHOOK_ALLOW_PRIVATE_NETWORKS",
                if private { "true" } else { "false" },
            ),
            ("SPIN_VARIABLE_WEBHOOK_MAX_ATTEMPTS", "3"),
            ("SPIN_VARIABLE_WEBHOOK_RETRY_BASE_MS", "300"),
            ("SPIN_VARIABLE_WEBHOOK_RETRY_CAP_MS", "600"),
            ("SPIN_VARIABLE_WEBHOOK_CLAIM_LEASE_MS", lease_ms),
            ("SPIN_VARIABLE_SCHEDULE_INTERVAL_SECONDS", "1"),
        ],
    )
    .unwrap()
}

fn call(
    host: &Host,
    method: &str,
    path: &str,
    body: Option<&Value>,
    extra: &[(&str, &str)],
) -> HttpResponse {
    let bytes = body.map(|b| b.to_string());
    let mut headers = vec![("Authorization", BEARER)];
    headers.extend_from_slice(extra);
    let body = match &bytes {
        Some(b) => Body::Sized(b.as_bytes()),
        None => Body::Empty,
    };
    request_with(host.addr, method, path, &headers, body).unwrap()
}

fn ok(res: HttpResponse, status: u16) -> Value {
    assert_eq!(res.status, status, "{}", res.text());
    res.json()
}

/// Subscribes the receiver to `events`; the receiver learns the secret.
fn subscribe(host: &Host, receiver: &Receiver, events: &[&str]) -> Value {
    let s = ok(
        call(
            host,
            "POST",
            "/v1/webhooks",
            Some(&json!({"url": receiver.url(), "events": events})),
            &[],
        ),
        201,
    );
    let secret = s["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    *receiver.secret.lock().unwrap() = secret.to_string();
    // Shown once: reads never carry it.
    let read = ok(
        call(
            host,
            "GET",
            &format!("/v1/webhooks/{}", s["id"].as_str().unwrap()),
            None,
            &[],
        ),
        200,
    );
    assert!(read.get("secret").is_none(), "{read}");
    s
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every event in the outbox: id → type.
fn outbox(host: &Host) -> BTreeMap<String, String> {
    let page = ok(
        call(host, "GET", "/v1/webhooks/events?limit=1000", None, &[]),
        200,
    );
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["type"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Agent `a1`, online in the queues the test tickets go to.
fn online_agent(host: &Host) {
    let agent = json!({"name": "李雷 Li", "queues": ["orders", "logistics", "general"],
                       "capacity": 5, "status": "online"});
    ok(call(host, "PUT", "/v1/agents/a1", Some(&agent), &[]), 201);
}

fn create_ticket(host: &Host, customer: &str) -> Value {
    let body = json!({"customer": {"id": customer},
        "transcript": [{"role": "customer", "text": "我的订单 TD2026010100001 还没到 where is it"}]});
    ok(call(host, "POST", "/v1/tickets", Some(&body), &[]), 201)["ticket"].clone()
}

fn feedback(host: &Host, id: &str, conversation: &str, fields: Value) {
    let mut event = json!({"event_id": id, "conversation_id": conversation});
    event
        .as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    ok(call(host, "POST", "/v1/feedback", Some(&event), &[]), 201);
}

fn patch(host: &Host, ticket: &Value, body: Value) -> Value {
    let tag = format!("\"{}\"", ticket["version"]);
    let res = call(
        host,
        "PATCH",
        &format!("/v1/tickets/{}", ticket["id"].as_str().unwrap()),
        Some(&body),
        &[("If-Match", &tag)],
    );
    let v = ok(res, 200);
    v.get("ticket").cloned().unwrap_or(v)
}

#[test]
fn a_receiver_gets_every_event_signed_once_even_when_down_and_the_dead_are_replayed() {
    let dir = TempDir::new().unwrap();
    let receiver = Receiver::start();
    let host = app(&dir.path().join("data"), &receiver, true, "120000");
    subscribe(&host, &receiver, &["*"]);
    online_agent(&host);

    // A scripted conversation: handed to a person, a ticket, worked, resolved, rated.
    feedback(
        &host,
        "f1",
        "conv-1",
        json!({"kind": "outcome", "resolved": false, "handled_by": "human"}),
    );
    let t = create_ticket(&host, "cust-1");
    let t = patch(&host, &t, json!({"status": "open", "actor": "a1"}));
    patch(
        &host,
        &t,
        json!({"status": "resolved", "actor": "a1", "note": "已补发 resent"}),
    );
    feedback(
        &host,
        "f2",
        "conv-1",
        json!({"kind": "outcome", "resolved": true, "handled_by": "human", "agent_id": "a1"}),
    );
    feedback(
        &host,
        "f3",
        "conv-1",
        json!({"kind": "rating", "rating": 5}),
    );
    let events = outbox(&host);
    let mut types: Vec<&str> = events.values().map(String::as_str).collect();
    types.sort();
    assert_eq!(
        types,
        [
            "conversation.resolved",
            "feedback.recorded",
            "feedback.recorded",
            "feedback.recorded",
            "handoff.requested",
            "ticket.assigned",
            "ticket.created",
            "ticket.status_changed",
            "ticket.status_changed",
        ]
    );
    wait_for("every event delivered", Duration::from_secs(30), || {
        receiver.delivered().len() == events.len()
    });
    let received = receiver.received();
    assert!(received.iter().all(|r| r.verified), "{received:?}");
    assert_eq!(
        receiver.delivered().values().max(),
        Some(&1),
        "each event once"
    );
    for r in &received {
        assert_eq!(events.get(&r.event_id), Some(&r.event_type));
        assert_eq!(r.body["id"], r.event_id.as_str());
        assert_eq!(r.body["type"], r.event_type.as_str());
        // No customer text leaves in an event.
        assert!(
            !r.body.to_string().contains("TD2026010100001"),
            "{}",
            r.body
        );
    }

    // The receiver goes down for a while: the events wait, then all arrive.
    receiver.set(DOWN);
    let before = receiver.received().len();
    create_ticket(&host, "cust-2");
    wait_for(
        "tries against the down receiver",
        Duration::from_secs(20),
        || receiver.received().len() > before,
    );
    let pending = ok(
        call(
            &host,
            "GET",
            "/v1/webhooks/deliveries?state=pending",
            None,
            &[],
        ),
        200,
    );
    assert!(
        pending["counts"]["pending"].as_u64().unwrap() >= 1,
        "{pending}"
    );
    receiver.set(OK);
    let events = outbox(&host);
    wait_for(
        "the backlog after the receiver is back",
        Duration::from_secs(30),
        || receiver.delivered().len() == events.len(),
    );

    // A receiver that always fails: 3 tries, then the dead-letter list; a replay delivers it.
    receiver.set(FAILING);
    let t3 = create_ticket(&host, "cust-3");
    let dead = || {
        ok(
            call(
                &host,
                "GET",
                "/v1/webhooks/deliveries?state=dead",
                None,
                &[],
            ),
            200,
        )
    };
    wait_for("dead letters", Duration::from_secs(30), || {
        dead()["counts"]["dead"].as_u64() >= Some(1)
    });
    let created_id = outbox(&host)
        .into_iter()
        .filter(|(_, t)| t == "ticket.created")
        .map(|(id, _)| id)
        .find(|id| {
            receiver
                .received()
                .iter()
                .any(|r| &r.event_id == id && r.body["data"]["ticket"]["id"] == t3["id"])
        })
        .unwrap();
    let letters = dead();
    let letter = letters["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["event_id"] == created_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(letter["attempts"], 3, "{letter}");
    assert_eq!(letter["last_status"], 503);
    let tries = receiver
        .received()
        .iter()
        .filter(|r| r.event_id == created_id)
        .count();
    assert_eq!(tries, 3);
    receiver.set(OK);
    let replayed = ok(
        call(
            &host,
            "POST",
            &format!("/v1/webhooks/deliveries/{}/replay", letter["id"]),
            None,
            &[],
        ),
        200,
    );
    assert_eq!(replayed["state"], "pending");
    wait_for("the replayed delivery", Duration::from_secs(20), || {
        receiver.delivered().contains_key(&created_id)
    });
    let again = call(
        &host,
        "POST",
        &format!("/v1/webhooks/deliveries/{}/replay", letter["id"]),
        None,
        &[],
    );
    assert_problem(&again, 409);
}

#[test]
fn a_host_killed_mid_delivery_loses_nothing_and_bad_subscriptions_are_refused() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let receiver = Receiver::start();
    let host = app(&data, &receiver, true, "2000");
    subscribe(&host, &receiver, &["ticket.created"]);
    receiver.set(HANGING);
    create_ticket(&host, "cust-k");
    wait_for("the delivery in flight", Duration::from_secs(20), || {
        !receiver.received().is_empty()
    });
    let id = receiver.received()[0].event_id.clone();
    drop(host); // SIGKILL, the delivery unanswered
    receiver.set(OK);
    let host = app(&data, &receiver, false, "2000");
    wait_for(
        "the delivery after the restart",
        Duration::from_secs(30),
        || receiver.delivered().contains_key(&id),
    );
    assert!(
        receiver.received().iter().all(|r| r.event_id == id),
        "duplicates only by id"
    );
    assert_eq!(outbox(&host).len(), 1);

    // Bad subscriptions: every field named, nothing stored.
    for (body, param) in [
        (
            json!({"url": "ftp://example.com/x", "events": ["ticket.created"]}),
            "url",
        ),
        (
            json!({"url": receiver.url(), "events": ["ticket.created"]}),
            "url",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": ["ticket.deleted"]}),
            "events[0]",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": []}),
            "events",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": ["*"], "active": "yes"}),
            "active",
        ),
        (json!({"url": "https://hooks.example.com/x"}), "events"),
    ] {
        let res = call(&host, "POST", "/v1/webhooks", Some(&body), &[]);
        let problem = assert_problem(&res, 422);
        let names: Vec<&str> = problem["invalid-params"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&param), "{body}: {problem}");
    }
    let list = ok(call(&host, "GET", "/v1/webhooks", None, &[]), 200);
    assert_eq!(list["subscriptions"].as_array().unwrap().len(), 1);
    let no_token = request_with(host.addr, "GET", "/v1/webhooks", &[], Body::Empty).unwrap();
    assert_problem(&no_token, 401);
    assert_problem(
        &call(&host, "GET", "/v1/webhooks/wh_0000000000000000", None, &[]),
        404,
    );
    assert_problem(
        &call(
            &host,
            "GET",
            "/v1/webhooks/deliveries?state=lost",
            None,
            &[],
        ),
        422,
    );
    assert_problem(
        &call(
            &host,
            "POST",
            "/v1/webhooks/deliveries/999/replay",
            None,
            &[],
        ),
        404,
    );
    assert_problem(&call(&host, "PUT", "/v1/webhooks", None, &[]), 405);
    let garbage = request_with(
        host.addr,
        "POST",
        "/v1/webhooks",
        &[("Authorization", BEARER)],
        Body::Sized(b"{not json"),
    )
    .unwrap();
    assert_eq!(garbage.status / 100, 4, "{}", garbage.text());
}

#[test]
fn the_schedule_escalates_overdue_tickets_and_frees_silent_assignees() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let receiver = Receiver::start();
    let host = app(&data, &receiver, true, "120000");
    subscribe(&host, &receiver, &["ticket.escalated", "ticket.assigned"]);
    online_agent(&host);
    let overdue = create_ticket(&host, "cust-o");
    let silent = create_ticket(&host, "cust-s");
    assert_eq!(overdue["assignee"], "a1");
    // Time passes: the SLA is due an hour ago, the assignment is 31 minutes old.
    let db = rusqlite::Connection::open(data.join("sqlite_db.db")).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    db.execute(
        "UPDATE ticket_tickets SET sla_due = ?1 WHERE id = ?2",
        rusqlite::params![now - 3_600_000, overdue["id"].as_str()],
    )
    .unwrap();
    db.execute(
        "UPDATE ticket_tickets SET assigned_at = ?1 WHERE id = ?2",
        rusqlite::params![now - 31 * 60_000, silent["id"].as_str()],
    )
    .unwrap();
    let get = |t: &Value| {
        ok(
            call(
                &host,
                "GET",
                &format!("/v1/tickets/{}", t["id"].as_str().unwrap()),
                None,
                &[],
            ),
            200,
        )
    };
    wait_for("the escalation", Duration::from_secs(20), || {
        get(&overdue)["escalated_at"].is_string()
    });
    wait_for("the return to the queue", Duration::from_secs(20), || {
        get(&silent)["assignee"].is_null()
    });
    let e = get(&overdue);
    assert_eq!(
        (
            e["priority"].as_str(),
            e["queue"].as_str(),
            e["assignee"].as_str()
        ),
        (Some("high"), Some("complaints"), None),
        "{e}"
    );
    let audit = ok(
        call(
            &host,
            "GET",
            &format!("/v1/tickets/{}/events", overdue["id"].as_str().unwrap()),
            None,
            &[],
        ),
        200,
    );
    let by_schedule: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["actor"] == "schedule")
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        by_schedule,
        ["escalated", "priority", "queue", "assigned"],
        "{audit}"
    );
    wait_for("the events delivered", Duration::from_secs(20), || {
        let r = receiver.received();
        r.iter().any(|r| {
            r.event_type == "ticket.escalated" && r.body["data"]["ticket"]["id"] == overdue["id"]
        }) && r.iter().any(|r| {
            r.event_type == "ticket.assigned"
                && r.body["data"]["reason"] == "ownership_timeout"
                && r.body["data"]["ticket"]["id"] == silent["id"]
        })
    });
    // The complaints queue's SLA clock runs in office hours only (kb.yaml): its due time is
    // the calendar's, not the wall clock's.
    let body = json!({"customer": {"id": "cust-c"}, "category": "complaint",
        "transcript": [{"role": "customer", "text": "我要投诉 I want to complain"}]});
    let c = ok(call(&host, "POST", "/v1/tickets", Some(&body), &[]), 201)["ticket"].clone();
    assert_eq!(c["queue"], "complaints", "{c}");
    let policy: tandem_core::ticket::TicketPolicy = serde_json::from_slice(
        &std::fs::read(tandem_tests::workspace_root().join("models/ticket.json")).unwrap(),
    )
    .unwrap();
    let office = policy.sla_calendars["complaints"].compile().unwrap();
    let secs =
        |f: &str| tandem_core::foundation::calendar::parse_rfc3339(c[f].as_str().unwrap()).unwrap();
    let priority = serde_json::from_value(c["priority"].clone()).unwrap();
    let hours = i64::from(policy.sla_hours.for_priority(priority));
    let expected = office
        .add_open_time(secs("created_at"), hours * 3600)
        .unwrap();
    assert!((secs("sla_due") - expected).abs() <= 1, "{c}");

    // Idempotent: an explicit run (any cron can call it) finds nothing more to do.
    let run = ok(call(&host, "POST", "/v1/tickets/sweep", None, &[]), 200);
    assert_eq!(
        (
            run["escalated"].as_array().unwrap().len(),
            run["returned"].as_array().unwrap().len()
        ),
        (0, 0),
        "{run}"
    );
}
