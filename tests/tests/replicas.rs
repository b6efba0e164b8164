//! Replicas: two `tandem up` processes with one runtime config serve one app, as SpinKube's
//! replicas would (deploy/, README "Production"). Conversations are in one real Redis, tickets
//! and feedback in one SQLite file (shared on one machine here; libSQL or one volume in
//! production). A conversation whose turns alternate between the replicas keeps its state; a
//! ticket created on one is read and changed on the other; under 16-way load spread over both,
//! with one replica SIGKILLed mid-run, no acknowledged ticket is lost and none is duplicated.

mod redis_server;

use redis_server::RedisServer;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tandem_tests::{Body, Host, HostOptions, HttpResponse, request_with};
use tempfile::TempDir;

const TOKEN: &str = "replica-token";

/// One Redis, one SQLite file, one runtime config; replicas started from it.
struct Cluster {
    _redis: RedisServer,
    dir: TempDir,
    config: String,
}

impl Cluster {
    fn new() -> Self {
        let redis = RedisServer::start();
        let dir = TempDir::new().unwrap();
        let config = dir.path().join("runtime-config.toml");
        // Absolute: Spin resolves a relative SQLite path against the working directory.
        let db = dir.path().join("shared").join("app.db");
        std::fs::write(
            &config,
            format!(
                "[key_value_store.default]\ntype = \"redis\"\nurl = \"{}\"\n\n\
                 [sqlite_database.default]\ntype = \"spin\"\npath = {:?}\n",
                redis.url(),
                db.display().to_string()
            ),
        )
        .unwrap();
        Self {
            _redis: redis,
            config: config.display().to_string(),
            dir,
        }
    }

    /// A replica with its own data dir (which must stay unused: every store is shared).
    fn replica(&self, name: &str) -> Host {
        tandem_tests::start_app_with(
            &self.dir.path().join(name),
            HostOptions {
                args: vec!["--runtime-config-file", &self.config],
                env: vec![("SPIN_VARIABLE_AGENT_TOKEN", TOKEN)],
            },
        )
        .unwrap()
    }

    fn db_path(&self) -> PathBuf {
        self.dir.path().join("shared").join("app.db")
    }

    fn ticket_rows(&self) -> i64 {
        let db = rusqlite::Connection::open(self.db_path()).unwrap();
        db.busy_timeout(Duration::from_secs(10)).unwrap();
        db.query_row("SELECT COUNT(*) FROM ticket_tickets", [], |r| r.get(0))
            .unwrap()
    }
}

fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> anyhow::Result<HttpResponse> {
    let bytes = body.map(|b| b.to_string().into_bytes());
    let body = bytes.as_deref().map_or(Body::Empty, Body::Sized);
    request_with(addr, method, path, headers, body)
}

fn agent(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: Option<&Value>,
) -> HttpResponse {
    let auth = format!("Bearer {TOKEN}");
    let mut headers = vec![("Authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    send(addr, method, path, &headers, body).unwrap_or_else(|e| panic!("{method} {path}: {e:#}"))
}

/// The ticket of an answer that is either the ticket or `{"ticket": ...}`.
fn ticket_of(v: &Value) -> Value {
    match v.get("ticket") {
        Some(t) if t.is_object() => t.clone(),
        _ => v.clone(),
    }
}

fn new_ticket(customer: &str, text: &str) -> Value {
    json!({
        "customer": {"id": customer},
        "transcript": [{"role": "customer", "text": text}],
        "category": "refund_request",
    })
}

fn unused(data: &Path) -> bool {
    !data.join("sqlite_db.db").exists() && !data.join("sqlite_key_value.db").exists()
}

#[test]
fn conversations_and_tickets_move_between_replicas() {
    let cluster = Cluster::new();
    let (a, b) = (cluster.replica("a"), cluster.replica("b"));

    // One conversation, its turns alternating a, b, a, b: each replica continues it.
    let mut id: Option<String> = None;
    for (n, (host, message)) in [
        (&a, "退款多久能到账"),
        (&b, "where is my order TD2026120612345"),
        (&a, "还是没收到 still nothing"),
        (&b, "好的，谢谢"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = json!({"message": message});
        if let Some(id) = &id {
            body["conversation_id"] = id.as_str().into();
        }
        let res = host.post("/v1/assist", body.to_string().as_bytes());
        assert_eq!(res.status, 200, "{body}: {}", res.text());
        let v = res.json();
        assert_eq!(v["turn"], n as u64 + 1, "{v}");
        id.get_or_insert_with(|| v["conversation_id"].as_str().unwrap().to_string());
        assert_eq!(v["conversation_id"], id.as_deref().unwrap(), "{v}");
    }

    // A ticket created on a is read and changed on b, and a sees the change.
    let res = send(
        a.addr,
        "POST",
        "/v1/tickets",
        &[],
        Some(&new_ticket("rep-1", "我要退款")),
    )
    .unwrap();
    assert_eq!(res.status, 201, "{}", res.text());
    let ticket = res.json()["ticket"].clone();
    let tid = ticket["id"].as_str().unwrap().to_string();
    let path = format!("/v1/tickets/{tid}");
    let on_b = agent(b.addr, "GET", &path, &[], None);
    assert_eq!(on_b.status, 200, "{}", on_b.text());
    let seen = ticket_of(&on_b.json());
    assert_eq!(seen["id"], tid.as_str(), "{seen}");
    let version = seen["version"].as_u64().unwrap();
    let tag = format!("\"{version}\"");
    let changed = agent(
        b.addr,
        "PATCH",
        &path,
        &[("If-Match", &tag)],
        Some(&json!({"status": "open"})),
    );
    assert_eq!(changed.status, 200, "{}", changed.text());
    let on_a = ticket_of(&agent(a.addr, "GET", &path, &[], None).json());
    assert_eq!(on_a["status"], "open", "{on_a}");
    assert_eq!(on_a["version"], version + 1, "{on_a}");
    // The stale version is refused on either replica.
    let stale = agent(
        a.addr,
        "PATCH",
        &path,
        &[("If-Match", &tag)],
        Some(&json!({"status": "pending"})),
    );
    assert_eq!(stale.status, 412, "{}", stale.text());

    for data in ["a", "b"] {
        assert!(
            unused(&cluster.dir.path().join(data)),
            "{data} wrote a store of its own"
        );
    }
}

#[test]
fn no_ticket_is_lost_or_duplicated_under_load_when_a_replica_is_killed() {
    const CLIENTS: usize = 16;
    const TICKETS_PER_CLIENT: usize = 8;
    let cluster = Cluster::new();
    let a = cluster.replica("a");
    let b = Arc::new(Mutex::new(Some(cluster.replica("b"))));
    let addrs = [a.addr, b.lock().unwrap().as_ref().unwrap().addr];

    let acknowledged = AtomicUsize::new(0);
    let failovers = AtomicUsize::new(0);
    // Tickets each replica acknowledged, and how many in all when b was killed.
    let served = [AtomicUsize::new(0), AtomicUsize::new(0)];
    let at_kill = AtomicUsize::new(usize::MAX);
    // (idempotency key, ticket id) of every acknowledged creation.
    let created: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        // SIGKILL b once the load is well under way (a quarter of the tickets acknowledged).
        let killer = {
            let b = Arc::clone(&b);
            let (acknowledged, at_kill) = (&acknowledged, &at_kill);
            s.spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(120);
                while acknowledged.load(Ordering::SeqCst) < CLIENTS * TICKETS_PER_CLIENT / 4 {
                    assert!(Instant::now() < deadline, "the load never got going");
                    std::thread::sleep(Duration::from_millis(5));
                }
                at_kill.store(acknowledged.load(Ordering::SeqCst), Ordering::SeqCst);
                drop(b.lock().unwrap().take()); // Host's drop is SIGKILL
            })
        };
        for client in 0..CLIENTS {
            let (acknowledged, failovers, created, served) =
                (&acknowledged, &failovers, &created, &served);
            s.spawn(move || {
                for i in 0..TICKETS_PER_CLIENT {
                    let key = format!("load-{client}-{i}");
                    let body = new_ticket(
                        &format!("load-{client}"),
                        &format!("第 {i} 个问题 refund {i}"),
                    );
                    // Spread over both replicas; a refused or cut connection is retried with
                    // the same key on the other one, as a load balancer's client would.
                    let mut target = (client + i) % 2;
                    let deadline = Instant::now() + Duration::from_secs(60);
                    let res = loop {
                        match send(
                            addrs[target],
                            "POST",
                            "/v1/tickets",
                            &[("Idempotency-Key", &key)],
                            Some(&body),
                        ) {
                            Ok(res) if res.status == 201 || res.status == 200 => break res,
                            // The database busy beyond the host's lock wait: the same key
                            // again, on the same replica (it says when: `Retry-After`).
                            Ok(res) if res.status == 503 => {
                                assert!(Instant::now() < deadline, "{key}: 503 for a minute");
                                std::thread::sleep(Duration::from_millis(200));
                            }
                            Ok(res) => panic!("{key}: {} {}", res.status, res.text()),
                            // A refused, reset or cut connection: the other replica.
                            Err(_) => {
                                failovers.fetch_add(1, Ordering::SeqCst);
                                target = 1 - target;
                                assert!(Instant::now() < deadline, "{key}: no replica answered");
                                std::thread::sleep(Duration::from_millis(20));
                            }
                        }
                    };
                    let id = res.json()["ticket"]["id"].as_str().unwrap().to_string();
                    served[target].fetch_add(1, Ordering::SeqCst);
                    created.lock().unwrap().push((key, id));
                    acknowledged.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        killer.join().unwrap();
    });

    let created = created.into_inner().unwrap();
    let total = CLIENTS * TICKETS_PER_CLIENT;
    assert_eq!(created.len(), total);
    // Not vacuous: both replicas served, b died with the load still running, and clients felt it.
    let served = served.map(|n| n.into_inner());
    let at_kill = at_kill.into_inner();
    assert!(served[0] > 0 && served[1] > 0, "served {served:?}");
    assert!(
        at_kill < total,
        "b was killed after the load ended ({at_kill})"
    );
    assert!(failovers.load(Ordering::SeqCst) > 0, "no client saw b go");
    let ids: std::collections::HashSet<&str> = created.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids.len(), total, "two keys got one ticket");
    // Exactly one row per key: a creation cut short by the kill and retried on a replayed its
    // ticket or made the only one.
    assert_eq!(
        cluster.ticket_rows(),
        total as i64,
        "lost or duplicated tickets"
    );
    // Every acknowledged ticket is readable on the survivor, and its key still replays it.
    for (_, id) in &created {
        let res = agent(a.addr, "GET", &format!("/v1/tickets/{id}"), &[], None);
        assert_eq!(res.status, 200, "{id}: {}", res.text());
        assert_eq!(ticket_of(&res.json())["id"], id.as_str());
    }
    let (key, id) = &created[total / 2];
    let client: usize = key.split('-').nth(1).unwrap().parse().unwrap();
    let i: usize = key.split('-').nth(2).unwrap().parse().unwrap();
    let body = new_ticket(
        &format!("load-{client}"),
        &format!("第 {i} 个问题 refund {i}"),
    );
    let again = send(
        a.addr,
        "POST",
        "/v1/tickets",
        &[("Idempotency-Key", key)],
        Some(&body),
    )
    .unwrap();
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json()["ticket"]["id"], id.as_str());
    assert!(b.lock().unwrap().is_none(), "b was killed mid-run");
    eprintln!(
        "{total} tickets over 2 replicas (a {}, b {}), b killed after {at_kill} acknowledged; {} failovers",
        served[0],
        served[1],
        failovers.load(Ordering::SeqCst)
    );
}
