//! The HTTP route `GET|HEAD /...`: a path to one of [`ASSETS`], rendered with its caching
//! and security headers.
//!
//! - `/` is `index.html` (the chat widget demo); `/agent` and `/dashboard` are `agent.html`
//!   and `dashboard.html` (a page is found by its name with or without `.html`, or as
//!   `dir/index.html`; one trailing `/` is ignored).
//! - Caching: pages and plain asset names (`/widget.js`, embedded by other sites) are
//!   `Cache-Control: no-cache` with a content-hash `ETag` (`If-None-Match` → 304); versioned
//!   aliases (`/assets/app.<hash>.css`, which the pages reference) are immutable for a year.
//! - Fallback: an unknown path without an extension, outside the API namespace (`/v1/...`,
//!   `/v2/...`), asked for by a browser navigation (`Accept` names `text/html`) gets
//!   `index.html`; everything else unknown is a 404 problem, so API clients never get HTML.
//! - Traversal: `.`/`..` segments (also percent-encoded), encoded `/` or `\`, backslashes,
//!   control characters and malformed escapes are a 400 problem; only compiled-in files exist.
//! - Methods: GET and HEAD; anything else is 405 with `Allow`.

use crate::{ASSETS, Asset};
use bytes::Bytes;
use http_body_util::Full;
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_service;
use tandem_adapter as adapter;
use tandem_core::foundation::problem::Problem;

const NO_CACHE: &str = "no-cache";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The pages load only their own scripts, styles and API; nobody may frame them.
const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

#[http_service]
async fn handle(req: Request) -> adapter::HttpResponse {
    let head = match *req.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => {
            let mut res = adapter::problem(&Problem::method_not_allowed(
                req.method().as_str(),
                &["GET", "HEAD"],
            ));
            set(&mut res, "allow", "GET, HEAD");
            return res;
        }
    };
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let wants_html = header("accept").contains("text/html");
    let found = match resolve(req.uri().path(), wants_html) {
        Ok(found) => found,
        Err(p) => {
            let mut res = adapter::problem(&p);
            set(&mut res, "vary", "accept");
            return res;
        }
    };
    serve(&found, head, header("if-none-match"))
}

/// What a path resolved to.
struct Found {
    asset: &'static Asset,
    /// Requested by its versioned alias (cache for a year).
    immutable: bool,
    /// Served as the fallback for an unknown path (depends on `Accept`).
    fallback: bool,
}

fn resolve(raw_path: &str, wants_html: bool) -> Result<Found, Problem> {
    let path = decode_path(raw_path)?;
    let trimmed = if path.len() > 1 {
        path.strip_suffix('/').unwrap_or(&path)
    } else {
        &path
    };
    let found = |asset, immutable| {
        Ok(Found {
            asset,
            immutable,
            fallback: false,
        })
    };
    if let Some(asset) = ASSETS.iter().find(|a| a.versioned == Some(trimmed)) {
        return found(asset, true);
    }
    let base = trimmed.trim_end_matches('/');
    for candidate in [
        trimmed.to_string(),
        format!("{base}.html"),
        format!("{base}/index.html"),
    ] {
        if let Some(asset) = ASSETS.iter().find(|a| a.path == candidate) {
            return found(asset, false);
        }
    }
    let last = trimmed.rsplit('/').next().unwrap_or("");
    if wants_html
        && !last.contains('.')
        && !is_api_path(trimmed)
        && !trimmed.contains("//")
        && let Some(asset) = ASSETS.iter().find(|a| a.path == "/index.html")
    {
        return Ok(Found {
            asset,
            immutable: false,
            fallback: true,
        });
    }
    Err(adapter::not_found(raw_path))
}

/// `/v1`, `/v2/...`: the API's namespace, never answered with a page.
fn is_api_path(path: &str) -> bool {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    first.len() > 1 && first.starts_with('v') && first[1..].bytes().all(|b| b.is_ascii_digit())
}

/// Percent-decodes the path and refuses anything that could name a file outside `web/` (if
/// there were files) or that a proxy might read differently from us.
fn decode_path(raw: &str) -> Result<String, Problem> {
    let bad = |why: &str| Err(Problem::bad_request(format!("path {raw:?}: {why}")));
    if !raw.starts_with('/') {
        return bad("must start with /");
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: u8| (b as char).to_digit(16);
            let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) else {
                return bad("malformed percent-escape");
            };
            let byte = (hi * 16 + lo) as u8;
            if byte == b'/' || byte == b'\\' {
                return bad("encoded slashes are not allowed");
            }
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let Ok(path) = String::from_utf8(out) else {
        return bad("not UTF-8");
    };
    if path.contains('\\') || path.chars().any(char::is_control) {
        return bad("backslashes and control characters are not allowed");
    }
    if path.split('/').any(|seg| seg == "." || seg == "..") {
        return bad("`.` and `..` segments are not allowed");
    }
    Ok(path)
}

fn serve(found: &Found, head: bool, if_none_match: &str) -> adapter::HttpResponse {
    let asset = found.asset;
    let not_modified = if_none_match.split(',').any(|tag| {
        let tag = tag.trim();
        tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == asset.etag
    });
    let status = if not_modified { 304 } else { 200 };
    // HEAD: the GET's headers without the body. No `Content-Length` of the GET: wasi:http
    // checks a declared length against the body actually sent (a mismatch is a trap).
    let body = if head || not_modified {
        Bytes::new()
    } else {
        Bytes::from_static(asset.body)
    };
    let mut res = Response::builder()
        .status(status)
        .header("content-type", asset.content_type)
        .header("etag", asset.etag)
        .header(
            "cache-control",
            if found.immutable { IMMUTABLE } else { NO_CACHE },
        )
        .header("x-content-type-options", "nosniff")
        .body(Full::new(body))
        .expect("static headers are valid");
    if asset.content_type.starts_with("text/html") {
        set(&mut res, "content-security-policy", PAGE_CSP);
        set(&mut res, "referrer-policy", "no-referrer");
    } else {
        // Other sites embed the widget's script and style sheet.
        set(&mut res, "cross-origin-resource-policy", "cross-origin");
    }
    if found.fallback {
        set(&mut res, "vary", "accept");
    }
    res
}

fn set(res: &mut adapter::HttpResponse, name: &'static str, value: &str) {
    if let Ok(value) = spin_sdk::http::HeaderValue::from_str(value) {
        res.headers_mut().insert(name, value);
    }
}
