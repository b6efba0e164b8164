//! HTTP glue shared by the Tandem components (spin-sdk 7, `wasi:http@0.3`).
//!
//! Components stay thin: they read a bounded body, decode it with
//! [`tandem_core::foundation::problem::decode_json`], call the core, and render with [`json`] or
//! [`problem`]. Keeping that here means every route reads bodies, limits sizes and renders
//! errors identically.

#![warn(missing_docs)]
// A `Problem` is the error of a request handler, built at most once per request: boxing it
// would buy nothing and change every component's signatures.
#![allow(clippy::result_large_err)]

pub mod query;
#[cfg(target_arch = "wasm32")]
pub mod snapshot_alloc;
pub mod sqlite;

use futures::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{Method, Request, Response};
use tandem_core::foundation::problem::{self, Problem};

/// Version of the Tandem service, reported by every health route.
pub const SERVICE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The response type every component returns.
pub type HttpResponse = Response<http_body_util::Full<bytes::Bytes>>;

/// Reads the request body, refusing more than `max_bytes` without buffering the excess.
pub async fn read_body(req: Request, max_bytes: usize) -> Result<Vec<u8>, Problem> {
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(len) = declared
        && len > max_bytes
    {
        return Err(too_large(len, max_bytes));
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    let mut stream = req.into_body().stream();
    // A body with a declared length is complete once that many bytes are in (none, for 0).
    // Waiting for the stream to end and for the (absent) trailers as well costs two more round
    // trips through the host, about 50 µs of a request (README, "Benchmarks").
    while declared.is_none_or(|len| body.len() < len)
        && let Some(chunk) = stream.next().await
    {
        let chunk =
            chunk.map_err(|e| Problem::bad_request(format!("could not read the body: {e:?}")))?;
        if body.len() + chunk.len() > max_bytes {
            return Err(too_large(body.len() + chunk.len(), max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn too_large(len: usize, max_bytes: usize) -> Problem {
    Problem::payload_too_large(format!(
        "the body has at least {len} bytes; the limit is {max_bytes}"
    ))
}

/// Reads and decodes a JSON body (see [`problem::decode_json`] for the statuses).
pub async fn read_json<T: DeserializeOwned>(req: Request, max_bytes: usize) -> Result<T, Problem> {
    let body = read_body(req, max_bytes).await?;
    problem::decode_json(&body, max_bytes)
}

/// A JSON response with the given status.
pub fn json(status: u16, value: &impl Serialize) -> HttpResponse {
    let body = serde_json::to_vec(value).expect("response types always serialise");
    respond(status, "application/json", body)
}

/// A JSON response with extra headers (`Location`, `ETag`, ...).
pub fn json_with_headers(
    status: u16,
    value: &impl Serialize,
    headers: &[(&str, String)],
) -> HttpResponse {
    let mut response = json(status, value);
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            spin_sdk::http::HeaderName::try_from(*name),
            spin_sdk::http::HeaderValue::try_from(value.as_str()),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// A text response of `content_type` (CSV, say).
pub fn text(status: u16, content_type: &str, body: String) -> HttpResponse {
    respond(status, content_type, body.into_bytes())
}

/// A JSON Lines response (`application/jsonl`), one value per line, with `X-Tandem-Lines`.
pub fn jsonl<T: Serialize>(values: &[T]) -> HttpResponse {
    let mut body = Vec::new();
    for v in values {
        serde_json::to_writer(&mut body, v).expect("response types always serialise");
        body.push(b'\n');
    }
    let mut response = respond(200, "application/jsonl; charset=utf-8", body);
    response
        .headers_mut()
        .insert("x-tandem-lines", values.len().into());
    response
}

/// A problem+json response.
pub fn problem(p: &Problem) -> HttpResponse {
    respond(p.status, problem::CONTENT_TYPE, p.to_json().into_bytes())
}

/// Renders a handler result: the value as JSON with `status`, or the problem.
pub fn render<T: Serialize>(status: u16, result: Result<T, Problem>) -> HttpResponse {
    match result {
        Ok(value) => json(status, &value),
        Err(p) => problem(&p),
    }
}

fn respond(status: u16, content_type: &str, body: Vec<u8>) -> HttpResponse {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("cache-control", "no-store")
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .expect("status and headers are valid")
}

/// The request path without query string.
pub fn path(req: &Request) -> &str {
    req.uri().path()
}

/// The health document every component serves at `GET /v1/<component>/health`.
pub fn health(component: &str, model_version: Option<&str>) -> HttpResponse {
    json(
        200,
        &serde_json::json!({
            "status": "ok",
            "service": "tandem",
            "version": SERVICE_VERSION,
            "component": component,
            "model": model_version.map(|v| serde_json::json!({ "version": v })),
        }),
    )
}

/// A component's `GET|HEAD /v1/<route>/health`: the health answer, or 405 for other methods.
pub fn health_route(req: &Request, component: &str, model_version: Option<&str>) -> HttpResponse {
    match require_method(req, &[Method::GET, Method::HEAD]) {
        Ok(()) => health(component, model_version),
        Err(p) => problem(&p),
    }
}

/// 405 unless the request uses one of `allowed`.
pub fn require_method(req: &Request, allowed: &[Method]) -> Result<(), Problem> {
    if allowed.contains(req.method()) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    Err(Problem::method_not_allowed(req.method().as_str(), &names))
}

/// CORS for the customer routes the embeddable chat widget calls from pages of any origin
/// (`POST /v1/assist`, `POST /v1/feedback`; docs/web.md): any origin, no credentials (they take
/// no token and no cookie). Agent and admin routes never send these headers, so a browser
/// refuses other sites' pages to call or read them.
pub mod cors {
    /// `Access-Control-Allow-Origin`: every origin.
    pub const ALLOW_ORIGIN: &str = "*";
    /// `Access-Control-Allow-Methods` of a preflight.
    pub const ALLOW_METHODS: &str = "POST, OPTIONS";
    /// `Access-Control-Allow-Headers` of a preflight: the only non-safelisted request header
    /// those routes read (`Content-Type: application/json`). No `authorization`: a token is
    /// never asked for, nor accepted, from another origin.
    pub const ALLOW_HEADERS: &str = "content-type";
    /// `Access-Control-Max-Age` of a preflight, in seconds.
    pub const MAX_AGE: &str = "600";
}

/// The answer to a CORS preflight (`OPTIONS`) of a customer route: 204, no body, the
/// [`cors`] headers.
pub fn cors_preflight() -> HttpResponse {
    Response::builder()
        .status(204)
        .header("access-control-allow-origin", cors::ALLOW_ORIGIN)
        .header("access-control-allow-methods", cors::ALLOW_METHODS)
        .header("access-control-allow-headers", cors::ALLOW_HEADERS)
        .header("access-control-max-age", cors::MAX_AGE)
        .header("cache-control", "no-store")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("status and headers are valid")
}

/// A customer route's response (success or problem) made readable by pages of any origin.
/// The widget reads no response header but the status and the body, so nothing is exposed.
pub fn with_cors(mut response: HttpResponse) -> HttpResponse {
    response.headers_mut().insert(
        "access-control-allow-origin",
        spin_sdk::http::HeaderValue::from_static(cors::ALLOW_ORIGIN),
    );
    response
}

/// The method check of a customer `POST` route that other origins may call: `Ok` for `POST`;
/// otherwise the response to send, the [`cors_preflight`] for `OPTIONS` and a 405 (allowed
/// `POST, OPTIONS`) for anything else. Render the `POST`'s answer with [`with_cors`].
pub fn cors_post_route(req: &Request) -> Result<(), HttpResponse> {
    if *req.method() == Method::OPTIONS {
        return Err(cors_preflight());
    }
    require_method(req, &[Method::POST, Method::OPTIONS]).map_err(|p| problem(&p))
}

/// 404 for a path inside a component's routes that it does not serve.
pub fn not_found(path: &str) -> Problem {
    Problem::not_found(format!("no route for {path}"))
}

/// `/v1/<route>/health`: the health route of whichever subtree a component serves.
///
/// ```rust
/// use tandem_adapter::is_health_path;
///
/// assert!(is_health_path("/v1/tickets/health"));
/// assert!(is_health_path("/v1/faq/health/"));
/// assert!(!is_health_path("/v1/tickets/42/health")); // a ticket's sub-route, not the health route
/// assert!(!is_health_path("/v1/health")); // the health component's own route
/// ```
pub fn is_health_path(path: &str) -> bool {
    let mut segments = path.trim_end_matches('/').split('/').skip(1);
    matches!(
        (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next()
        ),
        (Some("v1"), Some(_), Some("health"), None)
    )
}

/// Agent and admin routes: `Authorization: Bearer <agent_token>` (the Spin variable).
/// 401 when absent or not a bearer token, 403 when wrong. No `WWW-Authenticate` header:
/// setting a response header here breaks wizer pre-initialisation of every component that
/// links this crate (the snapshot fails with "mismatched resource types" on
/// `wasi:http/types.headers`), and the problem body already names the scheme.
pub async fn authorize_agent(req: &Request) -> Result<(), HttpResponse> {
    authorize_agent_header(req.headers().get("authorization")).await
}

/// [`authorize_agent`] on an `Authorization` header kept aside, for routes that must read the
/// body (which consumes the request) before they know whether the call needs the token.
pub async fn authorize_agent_header(
    authorization: Option<&spin_sdk::http::HeaderValue>,
) -> Result<(), HttpResponse> {
    let Some(presented) = bearer_token(authorization) else {
        return Err(missing_token());
    };
    if !is_agent_token(&presented).await? {
        return Err(problem(&Problem::forbidden(
            "the bearer token is not the agent token",
        )));
    }
    Ok(())
}

/// The token of an `Authorization: Bearer <token>` header, if that is what it holds.
pub fn bearer_token(authorization: Option<&spin_sdk::http::HeaderValue>) -> Option<String> {
    authorization
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_string())
        })
        .filter(|t| !t.is_empty())
}

/// The 401 of a route that needs a bearer token and got none.
pub fn missing_token() -> HttpResponse {
    problem(&Problem::unauthorized(
        "this route needs the agent token: Authorization: Bearer <agent_token>",
    ))
}

/// Whether `presented` is the agent token (the Spin variable `agent_token`), compared in
/// constant time; an unreadable variable is a 500, never an open door.
pub async fn is_agent_token(presented: &str) -> Result<bool, HttpResponse> {
    let expected = spin_sdk::variables::get("agent_token").await.map_err(|e| {
        problem(&Problem::internal(format!(
            "the agent_token variable is not readable: {e:?}"
        )))
    })?;
    Ok(!expected.is_empty() && constant_time_eq(presented.as_bytes(), expected.as_bytes()))
}

/// The request's bearer token, if any, and whether it is the agent token: for routes where
/// the agent token widens what a caller sees and another token (or none) narrows it.
pub async fn presented_token(req: &Request) -> Result<Option<(String, bool)>, HttpResponse> {
    match bearer_token(req.headers().get("authorization")) {
        Some(presented) => {
            let agent = is_agent_token(&presented).await?;
            Ok(Some((presented, agent)))
        }
        None => Ok(None),
    }
}

/// Compares without an early exit, so response time does not reveal how much of a guess matched.
///
/// ```rust
/// use tandem_adapter::constant_time_eq;
///
/// assert!(constant_time_eq(b"s3cret", b"s3cret"));
/// assert!(!constant_time_eq(b"s3cret", b"s3cre")); // a prefix is not a match
/// assert!(!constant_time_eq(b"", b"x"));
/// ```
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// A switch as operators write one: `true`/`1`/`yes`/`on` or `false`/`0`/`no`/`off`, any case;
/// anything else is no answer.
///
/// ```rust
/// use tandem_adapter::parse_flag;
///
/// assert_eq!(parse_flag(" On "), Some(true));
/// assert_eq!(parse_flag("0"), Some(false));
/// assert_eq!(parse_flag("enable"), None); // not a switch: the caller keeps its default
/// ```
pub fn parse_flag(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The Spin variable `name` read as a switch ([`parse_flag`]); unset, empty or unreadable
/// values are `default`.
pub async fn variable_flag(name: &str, default: bool) -> bool {
    match spin_sdk::variables::get(name).await {
        Ok(v) => parse_flag(&v).unwrap_or(default),
        Err(_) => default,
    }
}

/// The Spin variable `name` read as a whole number in `range`; unset, unreadable or out of
/// range values are `default`.
pub async fn variable_number(
    name: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> u64 {
    match spin_sdk::variables::get(name).await {
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| range.contains(n))
            .unwrap_or(default),
        Err(_) => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_read_as_operators_write_them() {
        for on in ["true", "1", "yes", " ON ", "True"] {
            assert_eq!(parse_flag(on), Some(true), "{on}");
        }
        for off in ["false", "0", "no", "Off"] {
            assert_eq!(parse_flag(off), Some(false), "{off}");
        }
        for unknown in ["", "maybe", "2", "enable"] {
            assert_eq!(parse_flag(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
