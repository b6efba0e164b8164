//! `tandem up --runtime-config-file`: the probe component's key-value and SQLite stores mapped
//! to files and to a real Redis (Debian's `redis-server`, started and stopped by the tests).

mod redis_server;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis_server::RedisServer;
use tandem_tests::{Host, HostOptions, HttpResponse, component, probe_manifest};
use tempfile::TempDir;

const TOKEN: (&str, &str) = ("SPIN_VARIABLE_API_TOKEN", "t0ken");

/// Starts the probe with `runtime_config` written to `<dir>/runtime-config.toml`.
fn start(dir: &Path, runtime_config: &str) -> anyhow::Result<Host> {
    let manifest = probe_manifest(dir);
    let config = dir.join("runtime-config.toml");
    std::fs::write(&config, runtime_config).unwrap();
    let config = config.display().to_string();
    Host::start(
        &manifest,
        &dir.join("data"),
        HostOptions {
            args: vec!["--runtime-config-file", &config],
            env: vec![TOKEN],
        },
    )
}

/// The load error `tandem up` exits with for `runtime_config`.
fn load_error(runtime_config: &str) -> String {
    let dir = TempDir::new().unwrap();
    match start(dir.path(), runtime_config) {
        Ok(host) => panic!(
            "tandem up served with a runtime config it should refuse:\n{runtime_config}\n{}",
            host.stderr()
        ),
        Err(e) => format!("{e:#}"),
    }
}

fn kv(host: &Host, key: &str, value: Option<&str>) -> HttpResponse {
    match value {
        Some(v) => host.get(&format!("/probe/kv?key={key}&value={v}")),
        None => host.get(&format!("/probe/kv?key={key}")),
    }
}

/// The key-value behaviour the components rely on, the same for every backend.
fn key_value_behaviour(host: &Host) {
    let missing = kv(host, "missing", None);
    assert_eq!(missing.status, 200, "{}", missing.text());
    assert_eq!(missing.json()["value"], serde_json::Value::Null);
    assert_eq!(missing.json()["keys"], serde_json::json!([]));

    let set = kv(host, "colour", Some("teal"));
    assert_eq!(set.status, 200, "{}", set.text());
    // Another request (a fresh instance) reads it back; an overwrite replaces it.
    assert_eq!(kv(host, "colour", None).json()["value"], "teal");
    assert_eq!(kv(host, "colour", Some("ochre")).json()["value"], "ochre");
    kv(host, "size", Some("xl"));
    kv(host, "%E4%BC%9A%E8%AF%9D", Some("1"));
    let got = kv(host, "colour", None).json();
    assert_eq!(got["value"], "ochre");
    assert_eq!(
        got["keys"],
        serde_json::json!(["%E4%BC%9A%E8%AF%9D", "colour", "size"])
    );

    // Concurrent writers to distinct keys: every one lands.
    std::thread::scope(|s| {
        for i in 0..16 {
            s.spawn(move || {
                let res = kv(host, &format!("w{i:02}"), Some(&format!("v{i}")));
                assert_eq!(res.status, 200, "{}", res.text());
            });
        }
    });
    for i in 0..16 {
        assert_eq!(
            kv(host, &format!("w{i:02}"), None).json()["value"],
            format!("v{i}")
        );
    }
}

#[test]
fn key_value_behaves_the_same_on_the_file_store_and_on_redis() {
    // File store at a path relative to the runtime config file.
    let dir = TempDir::new().unwrap();
    let host = start(
        dir.path(),
        "[key_value_store.default]\ntype = \"spin\"\npath = \"stores/kv.db\"\n",
    )
    .unwrap();
    key_value_behaviour(&host);
    assert!(dir.path().join("stores/kv.db").is_file());
    assert!(!dir.path().join("data/sqlite_key_value.db").exists());
    drop(host);

    // The same assertions on Redis.
    let redis = RedisServer::start();
    let dir = TempDir::new().unwrap();
    let config = format!(
        "[key_value_store.default]\ntype = \"redis\"\nurl = \"{}\"\n",
        redis.url()
    );
    let host = start(dir.path(), &config).unwrap();
    key_value_behaviour(&host);
    assert!(!dir.path().join("data/sqlite_key_value.db").exists());
    drop(host);

    // The values are in Redis itself (as Spin keeps them: the key as it is, the value as bytes),
    // so a second host on the same Redis, as a replica would be, sees them.
    let dir = TempDir::new().unwrap();
    let host = start(dir.path(), &config).unwrap();
    assert_eq!(kv(&host, "colour", None).json()["value"], "ochre");
}

#[test]
fn sqlite_database_goes_to_the_configured_path() {
    // Absolute here: Spin resolves a relative SQLite path against the working directory
    // (the host's unit tests check that), and the tests run wherever cargo puts them.
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("shared/app.db");
    let host = start(
        dir.path(),
        &format!(
            "[sqlite_database.default]\ntype = \"spin\"\npath = {:?}\n",
            db.display().to_string()
        ),
    )
    .unwrap();
    let res = host.get("/probe/sqlite");
    assert_eq!(res.status, 200, "{}", res.text());
    assert!(db.is_file());
    assert!(!dir.path().join("data/sqlite_db.db").exists());
}

#[test]
fn redis_stopped_mid_run_gives_503_then_recovers_with_no_acknowledged_write_lost() {
    let mut redis = RedisServer::start();
    let dir = TempDir::new().unwrap();
    let config = format!(
        "[key_value_store.default]\ntype = \"redis\"\nurl = \"{}\"\n",
        redis.url()
    );
    let host = Arc::new(start(dir.path(), &config).unwrap());

    // Writers run through the outage: each records the writes the host acknowledged (200)
    // and checks that every other answer is the host's 503 problem.
    let acknowledged: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let unavailable = Arc::new(Mutex::new(0usize));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (host, acknowledged, unavailable, stop) = (
                Arc::clone(&host),
                Arc::clone(&acknowledged),
                Arc::clone(&unavailable),
                Arc::clone(&stop),
            );
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let (key, value) = (format!("w{w}-{n}"), format!("v{n}"));
                    let res = kv(&host, &key, Some(&value));
                    match res.status {
                        200 => acknowledged.lock().unwrap().push((key, value)),
                        503 => {
                            assert_store_unavailable(&res);
                            *unavailable.lock().unwrap() += 1;
                        }
                        other => panic!("write answered {other}: {}", res.text()),
                    }
                    n += 1;
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        })
        .collect();

    std::thread::sleep(Duration::from_millis(300));
    redis.stop();
    // While Redis is down: the store's requests are 503, the rest of the app still answers.
    let down = kv(&host, "colour", None);
    assert_store_unavailable(&down);
    let var = host.get("/probe/var?name=greeting");
    assert_eq!(var.status, 200, "{}", var.text());
    std::thread::sleep(Duration::from_millis(300));

    redis.restart();
    // Recovery: the first request after Redis is back succeeds (the host reconnects).
    let back = kv(&host, "colour", Some("teal"));
    assert_eq!(back.status, 200, "{}", back.text());
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }

    let acknowledged = acknowledged.lock().unwrap();
    assert!(
        *unavailable.lock().unwrap() > 0,
        "no write ran into the outage"
    );
    assert!(acknowledged.len() > 20, "{} writes", acknowledged.len());
    for (key, value) in acknowledged.iter() {
        let got = kv(&host, key, None);
        assert_eq!(got.status, 200, "{}", got.text());
        assert_eq!(
            got.json()["value"],
            value.as_str(),
            "acknowledged write {key} lost"
        );
    }
    assert!(host.stderr().contains(" 503 "), "{}", host.stderr());
}

#[test]
fn a_hung_redis_gives_503_within_seconds_not_a_timeout() {
    let redis = RedisServer::start();
    let dir = TempDir::new().unwrap();
    let config = format!(
        "[key_value_store.default]\ntype = \"redis\"\nurl = \"{}\"\n",
        redis.url()
    );
    let host = start(dir.path(), &config).unwrap();
    assert_eq!(kv(&host, "colour", Some("teal")).status, 200);

    redis.pause();
    let started = Instant::now();
    let res = kv(&host, "colour", None);
    let waited = started.elapsed();
    redis.resume();
    assert_store_unavailable(&res);
    // The host's Redis timeouts (2 s to connect, 2 s per reply, one retry) answer well before
    // the request's own 30 s limit would have made it a 504.
    assert!(waited < Duration::from_secs(10), "{waited:?}");

    let back = kv(&host, "colour", None);
    assert_eq!(back.status, 200, "{}", back.text());
    assert_eq!(back.json()["value"], "teal");
}

fn assert_store_unavailable(res: &HttpResponse) {
    let body = tandem_tests::assert_problem(res, 503);
    assert_eq!(
        body["type"],
        "https://tandem.dev/problems/store-unavailable"
    );
    assert!(body["detail"].as_str().unwrap().contains("Redis"), "{body}");
    assert_eq!(res.header("retry-after"), Some("1"));
}

#[test]
fn unknown_types_and_tables_are_refused_at_load() {
    let e = load_error("[key_value_store.default]\ntype = \"memcached\"\n");
    assert!(
        e.contains("unknown key-value store type \"memcached\""),
        "{e}"
    );
    assert!(e.contains("runtime-config.toml:2"), "{e}");
    let e = load_error("[sqlite_database.default]\ntype = \"postgres\"\n");
    assert!(
        e.contains("unknown SQLite database type \"postgres\""),
        "{e}"
    );
    let e = load_error("[key_value_store.default]\ntype = \"spin\"\npth = \"kv.db\"\n");
    assert!(e.contains("unknown key `pth`"), "{e}");
    let e = load_error("[variables_provider]\ntype = \"vault\"\n");
    assert!(e.contains("does not implement"), "{e}");
    let e = load_error("not toml [");
    assert!(e.contains("invalid runtime config"), "{e}");
}

#[test]
fn labels_the_manifest_does_not_use_are_refused_at_load() {
    let e = load_error("[key_value_store.sessions]\ntype = \"spin\"\n");
    assert!(
        e.contains("[key_value_store.sessions] is not used by any component"),
        "{e}"
    );
    let e = load_error("[sqlite_database.analytics]\ntype = \"spin\"\n");
    assert!(
        e.contains("[sqlite_database.analytics] is not used by any component"),
        "{e}"
    );
}

#[test]
fn libsql_is_refused_at_load_naming_spin_and_spinkube() {
    let e = load_error(
        "[sqlite_database.default]\ntype = \"libsql\"\n\
         url = \"https://tandem.turso.io\"\ntoken = \"secret\"\n",
    );
    assert!(e.contains("\"libsql\""), "{e}");
    assert!(e.contains("Spin") && e.contains("SpinKube"), "{e}");
    assert!(!e.contains("secret"), "{e}");
}

#[test]
fn a_redis_that_is_down_at_start_is_refused_at_load() {
    // A port nothing listens on: a stopped server's.
    let mut redis = RedisServer::start();
    let url = format!("redis://:pa55word@127.0.0.1:{}", redis.port);
    redis.stop();
    // Built before the clock starts: only the host's own wait is timed.
    tandem_tests::host_binary();
    component("tandem-probe");
    let started = Instant::now();
    let e = load_error(&format!(
        "[key_value_store.default]\ntype = \"redis\"\nurl = \"{url}\"\n"
    ));
    assert!(e.contains("key-value store `default`"), "{e}");
    assert!(e.contains("unavailable"), "{e}");
    assert!(e.contains(&format!("127.0.0.1:{}", redis.port)), "{e}");
    assert!(!e.contains("pa55word"), "the password leaked: {e}");
    assert!(started.elapsed() < Duration::from_secs(60));
}

/// The real app's conversations on Redis: turns of one conversation served by two `tandem up`
/// processes one after the other (as replicas would take them) continue the same conversation,
/// whose state is in Redis and not in either host's data dir.
#[test]
fn assist_conversations_live_in_redis_and_continue_on_another_host() {
    let redis = RedisServer::start();
    let dir = TempDir::new().unwrap();
    let config = dir.path().join("runtime-config.toml");
    std::fs::write(
        &config,
        format!(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"{}\"\n",
            redis.url()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let start = |data: &str| {
        tandem_tests::start_app_with(
            &dir.path().join(data),
            HostOptions {
                args: vec!["--runtime-config-file", &config],
                env: vec![("SPIN_VARIABLE_AGENT_TOKEN", "replica-token")],
            },
        )
        .unwrap()
    };
    let turn = |host: &Host, body: serde_json::Value| {
        let res = host.post("/v1/assist", body.to_string().as_bytes());
        assert_eq!(res.status, 200, "{body}: {}", res.text());
        res.json()
    };

    let first = start("a");
    let one = turn(&first, serde_json::json!({"message": "退款多久能到账"}));
    let id = one["conversation_id"].as_str().unwrap().to_string();
    assert_eq!(one["turn"], 1);
    drop(first);

    let second = start("b");
    let two = turn(
        &second,
        serde_json::json!({"conversation_id": id, "message": "where is my order"}),
    );
    assert_eq!(two["conversation_id"], id.as_str());
    assert_eq!(two["turn"], 2, "{two}");
    for data in ["a", "b"] {
        assert!(!dir.path().join(data).join("sqlite_key_value.db").exists());
    }
    // An unknown conversation is still a 404, whichever host is asked.
    let res = second.post(
        "/v1/assist",
        br#"{"conversation_id": "cv_00000000000000000000000000", "message": "hi"}"#,
    );
    assert_eq!(res.status, 404, "{}", res.text());
}
