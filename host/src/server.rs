//! The HTTP/1 server: routing, Spin request headers, per-request limits, error mapping,
//! access log and graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use wasmtime::Trap;

use crate::app::{App, LoadedComponent};
use crate::problem::Problem;
use crate::routing::RouteMatch;

/// How long shutdown waits for in-flight requests before giving up on them.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// After a 413 the host goes on reading, and discarding, what the client still sends of the
/// body before it closes (nginx's "lingering close"). Closing a socket with unread data makes
/// the kernel answer with a reset, which also throws away the response the client has not read
/// yet: a client that writes its whole body before it reads (Python's urllib, many SDKs) would
/// see a broken pipe instead of the 413. Both bounds below are totals for one refused request,
/// so a client can neither hold the connection nor make the host read for longer.
///
/// 5 s: nginx's `lingering_timeout`. The rest of a body of a few MiB arrives well within it on
/// any link fast enough to upload such a body at all, and it is a sixth of the 30 s a request
/// may run by default, so lingering adds little to how long a connection stays open.
const LINGER_TIME: Duration = Duration::from_secs(5);
/// 8 MiB past the point of refusal (eight times the default body limit): an upload mistaken by
/// a few MiB (a photo, a log file) still gets a readable 413, while one request cannot make the
/// host swallow more than that. What is read is dropped as it arrives, so this bounds bandwidth,
/// not memory. A body declared longer than this is not read at all: its client would be reset
/// before the end of it anyway.
const LINGER_BYTES: u64 = 8 * 1024 * 1024;

/// Accepts connections on `listener` until `shutdown` resolves, then stops accepting and
/// waits for in-flight requests to finish.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        eprintln!("accept failed: {e}");
                        continue;
                    }
                };
                let app = Arc::clone(&app);
                let local = stream.local_addr().ok();
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .serve_connection(
                        TokioIo::new(stream),
                        service_fn(move |req| {
                            let app = Arc::clone(&app);
                            async move { Ok::<_, Infallible>(handle(app, req, peer, local).await) }
                        }),
                    );
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await
                        && !e.is_incomplete_message()
                    {
                        eprintln!("connection from {peer}: {e}");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    eprintln!("shutting down: waiting for in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => eprintln!("gave up waiting for in-flight requests"),
    }
    Ok(())
}

/// Serves one request and writes its access-log line.
async fn handle(
    app: Arc<App>,
    req: Request<Incoming>,
    peer: SocketAddr,
    local: Option<SocketAddr>,
) -> Response<Full<Bytes>> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let (component, res) = match app.router.route(&path) {
        None => ("-".to_string(), Problem::not_found(&path).response()),
        Some(matched) => {
            let id = matched.component.to_string();
            let res = match app.components.get(&id) {
                Some(comp) => dispatch(&app, comp, &matched, req, peer, local)
                    .await
                    .unwrap_or_else(|p| p.response()),
                None => Problem::not_found(&path).response(),
            };
            (id, res)
        }
    };
    eprintln!(
        "{method} {path} {component} {} {:.1}ms",
        res.status().as_u16(),
        start.elapsed().as_secs_f64() * 1000.0
    );
    res
}

/// Reads the (capped) body, adds Spin's headers and runs the component.
async fn dispatch(
    app: &App,
    comp: &LoadedComponent,
    matched: &RouteMatch<'_>,
    req: Request<Incoming>,
    peer: SocketAddr,
    local: Option<SocketAddr>,
) -> Result<Response<Full<Bytes>>, Problem> {
    let max_body = app.options.limits.max_body;
    // Refuse a declared oversize body before reading any of it.
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(declared) = declared.filter(|&n| n > max_body) {
        // A client that asked before sending (`Expect: 100-continue`) was not told to go on
        // and sends nothing to read: reading would make hyper invite the body after all.
        let expects_continue = req
            .headers()
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if declared <= LINGER_BYTES && !expects_continue {
            tokio::spawn(linger(req.into_body()));
        }
        return Err(Problem::payload_too_large(max_body));
    }
    let (parts, mut body) = req.into_parts();
    // ... and cap streamed (chunked) bodies as they arrive.
    let body = match Limited::new(&mut body, max_body as usize).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            tokio::spawn(linger(body));
            return Err(Problem::payload_too_large(max_body));
        }
        Err(e) => {
            return Err(Problem::component_failed(
                StatusCode::BAD_REQUEST,
                format!("reading the request body failed: {e}"),
            ));
        }
    };
    run_routed(app, comp, matched, parts, body, peer, local).await
}

/// Runs a request the host makes to itself (the schedule, [`crate::schedule`]) exactly as a
/// client's request: same router, Spin headers, limits and error responses; `addr` (the
/// listen address) stands for both ends of the connection. Returns the serving component's id
/// (`-` when no route matches) with the response; it writes no access-log line.
pub async fn handle_internal(
    app: &App,
    req: Request<Bytes>,
    addr: SocketAddr,
) -> (String, Response<Full<Bytes>>) {
    let path = req.uri().path().to_string();
    let Some(matched) = app.router.route(&path) else {
        return ("-".to_string(), Problem::not_found(&path).response());
    };
    let id = matched.component.to_string();
    let Some(comp) = app.components.get(&id) else {
        return (id, Problem::not_found(&path).response());
    };
    let (parts, body) = req.into_parts();
    let res = if body.len() as u64 > app.options.limits.max_body {
        Problem::payload_too_large(app.options.limits.max_body).response()
    } else {
        run_routed(app, comp, &matched, parts, body, addr, Some(addr))
            .await
            .unwrap_or_else(|p| p.response())
    };
    (id, res)
}

/// Adds Spin's request headers to a request whose body has been read, and runs the component.
async fn run_routed(
    app: &App,
    comp: &LoadedComponent,
    matched: &RouteMatch<'_>,
    mut parts: http::request::Parts,
    body: Bytes,
    peer: SocketAddr,
    local: Option<SocketAddr>,
) -> Result<Response<Full<Bytes>>, Problem> {
    let authority = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| local.map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".to_string());
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let full_url = format!("http://{authority}{path_and_query}");
    if let Ok(uri) = full_url.parse() {
        parts.uri = uri;
    }
    // The body is complete now: describe it by its length, as the guest will see it.
    parts.headers.remove(http::header::TRANSFER_ENCODING);
    parts
        .headers
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    let raw_route = matched.route.to_string();
    let spin_headers = [
        ("spin-full-url", full_url.clone()),
        ("spin-path-info", matched.path_info.clone()),
        ("spin-matched-route", raw_route.clone()),
        ("spin-raw-component-route", raw_route),
        ("spin-component-route", matched.route.base().to_string()),
        ("spin-base-path", "/".to_string()),
        ("spin-client-addr", peer.to_string()),
    ];
    for (name, value) in spin_headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            parts.headers.insert(name, value);
        }
    }
    run_component(app, comp, Request::from_parts(parts, Full::new(body))).await
}

/// Reads and drops the rest of a refused request body, for at most [`LINGER_TIME`] and
/// [`LINGER_BYTES`], while hyper sends the 413. hyper closes the connection once the body has
/// ended or this gives up (dropping the body); the response says `Connection: close`.
async fn linger(mut body: Incoming) {
    let discard = async {
        let mut read = 0u64;
        while read < LINGER_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => {
                    read += frame.data_ref().map_or(0, |d| d.len() as u64);
                }
                // The end of the body, or the client gave up.
                Some(Err(_)) | None => break,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, discard).await;
}

/// Why an instance's request failed, for the problem response.
enum Failure {
    Timeout,
    Trap(String),
    MemoryLimit,
}

/// Runs the request through an instance with the timeout and memory limit applied.
async fn run_component(
    app: &App,
    comp: &LoadedComponent,
    req: Request<Full<Bytes>>,
) -> Result<Response<Full<Bytes>>, Problem> {
    let limits = app.options.limits;
    let timeout_problem = || Problem::timeout(&comp.id, limits.timeout.as_millis());
    let deadline = tokio::time::Instant::now() + limits.timeout;

    let mut instance = tokio::time::timeout_at(deadline, comp.checkout(&app.engine, &app.options))
        .await
        .map_err(|_| timeout_problem())?
        .map_err(|e| {
            Problem::component_failed(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("could not instantiate component `{}`: {e:#}", comp.id),
            )
        })?;

    let service = &instance.service;
    let store = &mut instance.store;
    let (wasi_req, _body_io) =
        wasmtime_wasi_http::p3::Request::from_http(store.data_mut().outbound_http.hooks(), req);
    let run = store.run_concurrent(async move |accessor| {
        let res = match service.handle(accessor, wasi_req).await? {
            Ok(res) => res,
            Err(code) => return wasmtime::Result::Ok(Err(format!("{code:?}"))),
        };
        let res = accessor.with(|store| res.into_http(store, async { Ok(()) }))?;
        let (parts, body) = res.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| wasmtime::format_err!("response body failed: {e:?}"))?
            .to_bytes();
        Ok(Ok(Response::from_parts(parts, Full::new(body))))
    });
    // The epoch deadline stops guests burning CPU; this timer stops guests waiting on the host.
    let outcome = match tokio::time::timeout_at(deadline, run).await {
        Err(_) => Err(Failure::Timeout),
        Ok(Err(e)) | Ok(Ok(Err(e))) => Err(classify(&e, store.data().wasi.limiter.hit())),
        Ok(Ok(Ok(Ok(res)))) => Ok(res),
        Ok(Ok(Ok(Err(code)))) => Err(Failure::Trap(format!("component returned error {code}"))),
    };
    // A store this request used could not be reached (Redis down): a failure is the store's,
    // not the component's, and a retry may succeed, so it is a 503 whatever the component made
    // of the store's error. A request that coped without the store keeps its answer.
    if let Some(detail) = instance.store.data_mut().key_value.take_unavailable()
        && match &outcome {
            Ok(res) => res.status().is_server_error(),
            Err(Failure::Trap(_) | Failure::MemoryLimit) => true,
            Err(Failure::Timeout) => false,
        }
    {
        if outcome.is_ok() {
            comp.checkin(instance, &app.options);
        }
        return Err(Problem::store_unavailable(&comp.id, &detail));
    }
    match outcome {
        Ok(res) => {
            comp.checkin(instance, &app.options);
            Ok(res)
        }
        // A failed instance is never reused: its state may be half-updated.
        Err(Failure::Timeout) => Err(timeout_problem()),
        Err(Failure::MemoryLimit) => Err(Problem::component_failed(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "component `{}` exceeded the memory limit of {} MiB",
                comp.id,
                limits.max_memory / (1024 * 1024)
            ),
        )),
        Err(Failure::Trap(msg)) => Err(Problem::component_failed(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("component `{}` failed: {msg}", comp.id),
        )),
    }
}

fn classify(e: &wasmtime::Error, memory_hit: bool) -> Failure {
    if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        Failure::Timeout
    } else if memory_hit {
        Failure::MemoryLimit
    } else {
        // The root cause is the informative part (e.g. "wasm `unreachable` instruction executed").
        Failure::Trap(e.root_cause().to_string())
    }
}

#[cfg(test)]
mod tests {
    //! The server loop on a real socket. Without a component: the answers the host gives before
    //! any component runs, and shutdown. With the probe component, when it has been built
    //! (`target/wasm32-wasip2/release/tandem_probe.wasm`; skipped otherwise): the 413 paths.

    use std::collections::HashMap;
    use std::path::{Path, PathBuf};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::app::RunOptions;
    use crate::limits::Limits;
    use crate::routing::{RoutePattern, Router};
    use crate::test_manifest::{TestComponent, TestManifest};

    fn options(data_dir: &Path, max_body: u64) -> RunOptions {
        RunOptions {
            limits: Limits {
                max_body,
                ..crate::test_manifest::limits()
            },
            instance_reuse: 1,
            data_dir: data_dir.to_path_buf(),
            runtime_config: Default::default(),
        }
    }

    /// Serves `app` on a free port until the returned sender fires.
    async fn start(
        app: App,
    ) -> (
        SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<Result<()>>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(serve(Arc::new(app), listener, async {
            let _ = stopped.await;
        }));
        (addr, stop, served)
    }

    /// Sends `head` (and `body`) on a new connection and reads the whole answer.
    async fn exchange(addr: SocketAddr, head: &str, body: &[u8]) -> String {
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(head.as_bytes()).await.unwrap();
        // The host may answer and close before it has read everything.
        let _ = conn.write_all(body).await;
        let mut answer = Vec::new();
        let _ = conn.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    }

    #[tokio::test]
    async fn unrouted_paths_get_a_404_problem_and_shutdown_ends_the_loop() {
        let data = tempfile::tempdir().unwrap();
        let route = |r: &str, c: &str| (RoutePattern::parse(r).unwrap(), c.to_string());
        let app = App {
            engine: wasmtime::Engine::default(),
            // `/gone/...` names a component that is not loaded.
            router: Router::new([route("/gone/...", "gone")]),
            components: HashMap::new(),
            options: options(data.path(), 1024),
            schedule: None,
        };
        let (addr, stop, served) = start(app).await;
        for path in ["/nope", "/gone/x"] {
            let head = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
            let answer = exchange(addr, &head, b"").await;
            assert!(answer.starts_with("HTTP/1.1 404 Not Found\r\n"), "{answer}");
            assert!(
                answer.contains("content-type: application/problem+json"),
                "{answer}"
            );
            assert!(
                answer.contains(&format!("no route matches {path}")),
                "{answer}"
            );
        }
        stop.send(()).unwrap();
        served.await.unwrap().unwrap();
        // The listener is closed once the loop has ended.
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }

    fn probe() -> Option<PathBuf> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/wasm32-wasip2/release/tandem_probe.wasm");
        path.is_file().then_some(path)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn oversized_bodies_get_a_413_before_the_component_runs() {
        let Some(wasm) = probe() else {
            eprintln!("skipped: the probe component is not built");
            return;
        };
        let manifest = TestManifest::new()
            .component(
                TestComponent::new("probe")
                    .source(wasm.to_str().unwrap())
                    .route("/probe/..."),
            )
            .parse();
        let data = tempfile::tempdir().unwrap();
        let app = App::load(&manifest, options(data.path(), 16), &|_| None).unwrap();
        let (addr, stop, served) = start(app).await;

        // Declared too long: refused up front, told to close.
        let head = "POST /probe/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n\r\n";
        let answer = exchange(addr, head, &[b'x'; 17]).await;
        assert!(
            answer.starts_with("HTTP/1.1 413 Payload Too Large\r\n"),
            "{answer}"
        );
        assert!(answer.contains("connection: close"), "{answer}");
        assert!(answer.contains("exceeds the limit of 16 bytes"), "{answer}");

        // Chunked past the limit: refused as it arrives.
        let head = "POST /probe/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
        let answer = exchange(addr, head, b"10\r\n0123456789abcdef\r\n1\r\nx\r\n0\r\n\r\n").await;
        assert!(
            answer.starts_with("HTTP/1.1 413 Payload Too Large\r\n"),
            "{answer}"
        );

        stop.send(()).unwrap();
        served.await.unwrap().unwrap();
    }
}
