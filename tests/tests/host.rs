//! End-to-end tests: the probe component behind `tandem up`, over HTTP on loopback.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use tandem_tests::{
    Body, Host, HostOptions, component, probe_app, probe_manifest_for, request, run_tandem,
};
use tempfile::TempDir;

const TOKEN: (&str, &str) = ("SPIN_VARIABLE_API_TOKEN", "t0ken");

/// A probe host with its own temp dir (manifest + data dir), plus extra args and env.
fn probe(args: &[&str], env: &[(&str, &str)]) -> (Host, TempDir) {
    let wasm = component("tandem-probe");
    let dir = TempDir::new().unwrap();
    let manifest = probe_manifest_for(dir.path(), &wasm);
    let mut env = env.to_vec();
    if !env.iter().any(|(k, _)| *k == TOKEN.0) {
        env.push(TOKEN);
    }
    let host = Host::start(
        &manifest,
        &dir.path().join("data"),
        HostOptions {
            args: args.to_vec(),
            env,
        },
    )
    .unwrap();
    (host, dir)
}

/// A problem the host made itself: readable by a page of any origin (a widget on a shop's
/// site tells "too large" or "timed out" from "unreachable").
fn assert_problem(res: &tandem_tests::HttpResponse, status: u16, slug: &str) {
    let body = tandem_tests::assert_problem(res, status);
    assert_eq!(body["type"], format!("https://tandem.dev/problems/{slug}"));
    assert_eq!(
        tandem_tests::cors_headers(res),
        tandem_tests::any_origin(),
        "{slug}"
    );
}

#[test]
fn unknown_route_is_404_problem() {
    let (host, _dir) = probe(&[], &[]);
    assert_problem(&host.get("/nope"), 404, "not-found");
    assert_problem(&host.get("/probex"), 404, "not-found");
    // The access log names method, path, component and status.
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        host.stderr().contains("GET /nope - 404"),
        "{}",
        host.stderr()
    );
}

#[test]
fn spin_headers_reach_the_component() {
    let (host, _dir) = probe(&[], &[]);
    let res = host.get("/probe/headers?x=1");
    assert_eq!(res.status, 200, "{}", res.text());
    let h = res.json();
    assert_eq!(h["spin-path-info"], "/headers");
    assert_eq!(h["spin-matched-route"], "/probe/...");
    assert_eq!(h["spin-raw-component-route"], "/probe/...");
    assert_eq!(h["spin-component-route"], "/probe");
    assert_eq!(h["spin-base-path"], "/");
    assert_eq!(
        h["spin-full-url"],
        format!("http://{}/probe/headers?x=1", host.addr)
    );
    assert!(
        h["spin-client-addr"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
}

#[test]
fn oversize_bodies_are_413_and_small_ones_pass() {
    let (host, _dir) = probe(&["--max-body-bytes", "1000"], &[]);
    let ok = host.post("/probe/echo", &[b'a'; 1000]);
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["length"], 1000);

    assert_problem(
        &host.post("/probe/echo", &[b'a'; 1001]),
        413,
        "payload-too-large",
    );
    // A chunked body announces no length: the cap applies while it streams in.
    let chunked = request(
        host.addr,
        "POST",
        "/probe/echo",
        Body::Chunked(&[b'a'; 50_000]),
    )
    .unwrap();
    assert_problem(&chunked, 413, "payload-too-large");
    let chunked_ok = request(
        host.addr,
        "POST",
        "/probe/echo",
        Body::Chunked(&[b'a'; 999]),
    )
    .unwrap();
    assert_eq!(chunked_ok.json()["length"], 999);
}

/// Opens a connection to `addr` and sends `POST /probe/echo` with head `headers` and then
/// `body`, strictly: a failed write is an error, not (as for [`request`]) ignored.
fn send_strictly(
    addr: std::net::SocketAddr,
    headers: &str,
    body: &[u8],
) -> std::io::Result<std::net::TcpStream> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let head = format!("POST /probe/echo HTTP/1.1\r\nHost: {addr}\r\n{headers}\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    Ok(stream)
}

/// Reads the response to the end of the connection: a reset is an error.
fn read_strictly(mut stream: std::net::TcpStream) -> anyhow::Result<tandem_tests::HttpResponse> {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    tandem_tests::parse_response(&raw)
}

/// A client that writes its whole over-limit body before it reads a byte (Python's urllib,
/// many SDKs) still reads the 413: the host reads and drops the rest of the body instead of
/// closing at once, which would reset the connection (a broken pipe while writing, or a reset
/// that throws away the 413 before it is read). Several MiB, so that without that the write
/// or the read fails.
#[test]
fn oversize_body_written_in_full_before_reading_still_gets_its_413() {
    let (host, _dir) = probe(&["--max-body-bytes", "1000"], &[]);
    let payload = vec![b'a'; 4 * 1024 * 1024];
    let mut chunked = Vec::with_capacity(payload.len() + 4096);
    for chunk in payload.chunks(16 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let sized_head = format!("Content-Length: {}\r\n", payload.len());
    for (kind, headers, body) in [
        ("Content-Length", sized_head.as_str(), &payload),
        ("chunked", "Transfer-Encoding: chunked\r\n", &chunked),
    ] {
        let stream = send_strictly(host.addr, headers, body)
            .unwrap_or_else(|e| panic!("{kind}: writing the whole body failed: {e}"));
        let res = read_strictly(stream)
            .unwrap_or_else(|e| panic!("{kind}: reading the response failed: {e:#}"));
        assert_problem(&res, 413, "payload-too-large");
        assert_eq!(res.header("connection"), Some("close"), "{kind}");
    }
    // The host is as it was.
    assert_eq!(host.post("/probe/echo", b"ok").status, 200);
}

/// The drain after a 413 is bounded in time: a client that stops sending halfway through its
/// refused body gets the 413 and then the end of the connection, within seconds.
#[test]
fn a_stalled_oversize_body_does_not_hold_the_connection() {
    let (host, _dir) = probe(&["--max-body-bytes", "1000"], &[]);
    let start = Instant::now();
    // Both ways of sending a body at once: declared (refused before any of it is read) and
    // chunked (refused after the limit is read). Neither sends the rest.
    let chunked = format!("7d0\r\n{}", "a".repeat(2000));
    let streams = [
        send_strictly(host.addr, "Content-Length: 2000000\r\n", &[b'a'; 10]).unwrap(),
        send_strictly(
            host.addr,
            "Transfer-Encoding: chunked\r\n",
            chunked.as_bytes(),
        )
        .unwrap(),
    ];
    std::thread::scope(|s| {
        let readers = streams.map(|stream| s.spawn(|| read_strictly(stream)));
        for reader in readers {
            let res = reader.join().unwrap().unwrap();
            assert_problem(&res, 413, "payload-too-large");
        }
    });
    // 5 s of lingering at most, then the host closes.
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn trap_is_500_for_that_request_only() {
    let (host, _dir) = probe(&[], &[]);
    assert_problem(&host.get("/probe/trap"), 500, "component-failed");
    let next = host.get("/probe/counter");
    assert_eq!(next.status, 200, "{}", next.text());
}

#[test]
fn fresh_instance_per_request_by_default() {
    let (host, _dir) = probe(&[], &[]);
    for _ in 0..3 {
        assert_eq!(host.get("/probe/counter").json()["counter"], 1);
    }
}

#[test]
fn instance_reuse_keeps_state_when_asked() {
    let (host, _dir) = probe(&["--instance-reuse", "10"], &[]);
    let counts: Vec<u64> = (0..3)
        .map(|_| {
            host.get("/probe/counter").json()["counter"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(counts, [1, 2, 3]);
}

#[test]
fn timeout_is_504_for_that_request_only() {
    let (host, _dir) = probe(&["--timeout-ms", "300"], &[]);
    let start = Instant::now();
    assert_problem(&host.get("/probe/sleep?ms=10000"), 504, "timeout");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(host.get("/probe/sleep?ms=10").status, 200);
}

#[test]
fn memory_limit_is_500_for_that_request_only() {
    let (host, _dir) = probe(&["--max-memory-mb", "32"], &[]);
    let res = host.get("/probe/alloc?mb=64");
    assert_problem(&res, 500, "component-failed");
    assert!(
        res.json()["detail"].as_str().unwrap().contains("memory"),
        "{}",
        res.text()
    );
    let small = host.get("/probe/alloc?mb=4");
    assert_eq!(small.status, 200, "{}", small.text());
}

#[test]
fn key_value_round_trip() {
    let (host, _dir) = probe(&[], &[]);
    let set = host.get("/probe/kv?key=colour&value=teal");
    assert_eq!(set.status, 200, "{}", set.text());
    // A separate request (and instance) reads it back.
    let got = host.get("/probe/kv?key=colour").json();
    assert_eq!(got["value"], "teal");
    assert_eq!(got["keys"], serde_json::json!(["colour"]));
    assert_eq!(
        host.get("/probe/kv?key=missing").json()["value"],
        serde_json::Value::Null
    );
}

#[test]
fn sqlite_round_trip_lands_in_the_data_dir() {
    let (host, dir) = probe(&[], &[]);
    let first = host.get("/probe/sqlite");
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(
        first.json()["notes"],
        serde_json::json!(["hello from probe"])
    );
    assert_eq!(
        host.get("/probe/sqlite").json()["notes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let db = rusqlite::Connection::open(dir.path().join("data/sqlite_db.db")).unwrap();
    let count: i64 = db
        .query_row("SELECT COUNT(*) FROM probe", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 2);
}

#[test]
fn concurrent_sqlite_writers_do_not_fail() {
    let (host, _dir) = probe(&[], &[]);
    let addr = host.addr;
    let workers: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                (0..3)
                    .map(|_| {
                        request(addr, "GET", "/probe/sqlite", Body::Empty)
                            .unwrap()
                            .status
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for w in workers {
        assert!(w.join().unwrap().iter().all(|s| *s == 200));
    }
}

#[test]
fn variables_default_and_env_override() {
    let (host, _dir) = probe(&[], &[]);
    assert_eq!(
        host.get("/probe/var?name=greeting").json()["value"],
        "hello, world"
    );
    assert_eq!(host.get("/probe/var?name=token").json()["value"], "t0ken");
    assert_eq!(host.get("/probe/var?name=nope").status, 404);

    let (host, _dir) = probe(&[], &[("SPIN_VARIABLE_GREETING", "bonjour")]);
    assert_eq!(
        host.get("/probe/var?name=greeting").json()["value"],
        "bonjour, world"
    );
    // Secret values never reach the log.
    assert!(!host.stderr().contains("t0ken"));
}

#[test]
fn required_variable_missing_stops_startup() {
    let wasm = component("tandem-probe");
    let dir = TempDir::new().unwrap();
    let manifest = probe_manifest_for(dir.path(), &wasm);
    let err = Host::start(&manifest, &dir.path().join("data"), HostOptions::default())
        .err()
        .expect("startup must fail");
    assert!(
        format!("{err:#}").contains("SPIN_VARIABLE_API_TOKEN"),
        "{err:#}"
    );
}

#[test]
fn ungranted_database_is_denied_not_a_crash() {
    let (host, _dir) = probe(&[], &[]);
    let res = host.get("/probe/denied-db");
    assert_eq!(res.status, 200, "{}", res.text());
    assert!(
        res.json()["denied"]
            .as_str()
            .unwrap()
            .contains("AccessDenied"),
        "{}",
        res.text()
    );
}

#[test]
fn manifest_errors_name_the_line() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("spin.toml");
    let fixture = probe_app(&component("tandem-probe")).render();
    // A path is not an allowed host (Spin's rule): refused at load, at its line.
    let text = fixture.replace(
        "allowed_outbound_hosts = [\"{{ probe_outbound }}\"]",
        "allowed_outbound_hosts = [\"https://example.com/hooks\"]",
    );
    assert_ne!(text, fixture);
    let line = text[..text.find("allowed_outbound_hosts").unwrap()]
        .matches('\n')
        .count()
        + 1;
    std::fs::write(&path, text).unwrap();
    let (ok, out) = run_tandem(&["up", "--from", path.to_str().unwrap()], &[TOKEN]).unwrap();
    assert!(!ok);
    assert!(out.contains(&format!("spin.toml:{line}")), "{out}");
}

#[test]
fn preinit_snapshots_wizer_initialize() {
    let wasm = component("tandem-probe");
    let (host, _dir) = probe(&[], &[]);
    assert_eq!(host.get("/probe/init").json()["initialised"], false);
    drop(host);

    let dir = TempDir::new().unwrap();
    let out = dir.path().join("probe.init.wasm");
    let (ok, log) = run_tandem(
        &[
            "preinit",
            "--input",
            wasm.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ],
        &[],
    )
    .unwrap();
    assert!(ok, "{log}");
    let manifest = probe_manifest_for(dir.path(), &out);
    let host = Host::start(
        &manifest,
        &dir.path().join("data"),
        HostOptions {
            env: vec![TOKEN],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(host.get("/probe/init").json()["initialised"], true);
    // Still a fresh instance per request: every request starts from the snapshot.
    assert_eq!(host.get("/probe/counter").json()["counter"], 1);
    assert_eq!(host.get("/probe/counter").json()["counter"], 1);
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let (host, _dir) = probe(&[], &[]);
    assert_eq!(host.get("/probe/counter").status, 200);
    assert!(host.terminate().unwrap());
}

/// Answers every connection on a loopback port with `204`; returns the port and how many
/// requests reached it.
fn receiver() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
        }
    });
    (port, hits)
}

#[test]
fn outbound_http_reaches_only_the_allowed_hosts() {
    let (port, hits) = receiver();
    let (other_port, other_hits) = receiver();
    let url = format!("http://127.0.0.1:{port}/hook");
    let other = format!("http://127.0.0.1:{other_port}/hook");
    // No allowed host (the default): every request is refused by the host.
    let (host, _dir) = probe(&[], &[]);
    let refused = host.get(&format!("/probe/outbound?url={url}"));
    assert!(
        refused.json()["error"]
            .as_str()
            .unwrap()
            .contains("HttpRequestDenied"),
        "{}",
        refused.text()
    );
    drop(host);
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    // One allowed host: it is reached; the same address on another port is not.
    let allowed = format!("http://127.0.0.1:{port}");
    let (host, _dir) = probe(&[], &[("SPIN_VARIABLE_PROBE_OUTBOUND", &allowed)]);
    let res = host.get(&format!("/probe/outbound?url={url}"));
    assert_eq!(res.json()["status"], 204, "{}", res.text());
    let res = host.get(&format!("/probe/outbound?url={other}"));
    assert!(
        res.json()["error"]
            .as_str()
            .unwrap()
            .contains("HttpRequestDenied"),
        "{}",
        res.text()
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(other_hits.load(std::sync::atomic::Ordering::SeqCst), 0);
}
