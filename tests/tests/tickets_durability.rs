//! Nothing acknowledged is lost: concurrent clients creating and updating, and a host killed
//! mid-write.
//!
//! The composed ticket component (`target/tandem/ticket.wasm`, intent plugged in) behind the
//! real host, its real SQLite file, plain HTTP on loopback (docs/tickets.md; the shared app and
//! helpers are `tandem_tests::tickets`).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tandem_tests::tickets::{
    App, TOKEN, create_at, get_as, id_of, list_of, new_ticket, open_db, start_host, ticket_of,
    try_send, version_of,
};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------------
// Concurrent clients.

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
// A killed host.

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
