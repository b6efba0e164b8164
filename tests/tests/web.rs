//! The web component (`functions/web`, assets of `web/` compiled in) behind the real host with
//! the real `spin.toml`: content types, caching headers and validators, the `index.html`
//! fallback, directory traversal, methods, and the `/v1/...` routes winning over `/...`.
//! The pages themselves are tested in a real browser by `tests/browser/run.sh`.

use tandem_tests::{Body, Host, HttpResponse, assert_problem, request_with, start_app};
use tempfile::TempDir;

fn app() -> (Host, TempDir) {
    let dir = TempDir::new().unwrap();
    let host = start_app(
        &dir.path().join("data"),
        vec![("SPIN_VARIABLE_AGENT_TOKEN", "web-test-token")],
    )
    .unwrap();
    (host, dir)
}

fn send(host: &Host, method: &str, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    request_with(host.addr, method, path, headers, Body::Empty)
        .unwrap_or_else(|e| panic!("{method} {path}: {e:#}\n{}", host.stderr()))
}

/// A browser navigation.
const HTML: (&str, &str) = ("Accept", "text/html,application/xhtml+xml,*/*;q=0.8");

/// The quoted absolute paths in `html` that start with `prefix`.
fn references(html: &str, prefix: &str) -> Vec<String> {
    html.split('"')
        .filter(|s| s.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

#[test]
fn pages_and_assets_have_their_content_types_and_caching() {
    let (host, _dir) = app();
    for (path, marker) in [
        ("/", "widget."),
        ("/index.html", "widget."),
        ("/agent", "agent-form"),
        ("/agent/", "agent-form"),
        ("/agent.html", "agent-form"),
        ("/dashboard", "trend-chart"),
    ] {
        let res = send(&host, "GET", path, &[HTML]);
        assert_eq!(res.status, 200, "{path}: {}", res.text());
        assert_eq!(
            res.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
        assert_eq!(res.header("cache-control"), Some("no-cache"), "{path}");
        let etag = res.header("etag").unwrap();
        assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10);
        let csp = res.header("content-security-policy").unwrap();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
        assert!(res.text().contains(marker), "{path} is not the right page");
    }
    for (path, content_type) in [
        ("/widget.js", "text/javascript; charset=utf-8"),
        ("/widget.css", "text/css; charset=utf-8"),
        ("/assets/app.css", "text/css; charset=utf-8"),
        ("/assets/common.js", "text/javascript; charset=utf-8"),
        ("/favicon.svg", "image/svg+xml"),
        ("/kb.json", "application/json"),
    ] {
        let res = send(&host, "GET", path, &[]);
        assert_eq!(res.status, 200, "{path}: {}", res.text());
        assert_eq!(res.header("content-type"), Some(content_type), "{path}");
        // Plain names (what other sites embed) are revalidated on every use.
        assert_eq!(res.header("cache-control"), Some("no-cache"), "{path}");
        assert!(res.header("etag").is_some(), "{path}");
        assert_eq!(
            res.header("cross-origin-resource-policy"),
            Some("cross-origin")
        );
    }
    // The catalogue for the console: the KB's queues and intents with their names.
    let kb = send(&host, "GET", "/kb.json", &[]).json();
    assert!(kb["queues"].as_array().unwrap().len() >= 3, "{kb}");
    assert_eq!(kb["intents"]["refund_status"]["name"]["zh"], "退款进度");
}

#[test]
fn pages_reference_versioned_assets_that_are_immutable() {
    let (host, _dir) = app();
    let index = send(&host, "GET", "/", &[HTML]).text();
    let mut refs = references(&index, "/assets/");
    refs.extend(references(&index, "/widget."));
    assert!(refs.len() >= 4, "{refs:?}");
    for versioned in &refs {
        // `/assets/app.<12 hex>.css`: never the plain name.
        let name = versioned.rsplit('/').next().unwrap();
        let parts: Vec<&str> = name.split('.').collect();
        assert_eq!(parts.len(), 3, "{versioned} is not versioned");
        assert!(parts[1].len() == 12 && parts[1].bytes().all(|b| b.is_ascii_hexdigit()));
        let res = send(&host, "GET", versioned, &[]);
        assert_eq!(res.status, 200, "{versioned}");
        assert_eq!(
            res.header("cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{versioned}"
        );
        let plain = format!(
            "{}/{}.{}",
            versioned.rsplit_once('/').unwrap().0,
            parts[0],
            parts[2]
        );
        let plain_res = send(&host, "GET", &plain, &[]);
        assert_eq!(plain_res.status, 200, "{plain}");
        assert_eq!(plain_res.header("etag"), res.header("etag"), "{plain}");
        // widget.js names its style sheet by its versioned name too; pages name no plain asset.
        if plain == "/widget.js" {
            assert!(
                res.text().contains("/widget.") && !res.text().contains("'/widget.css'"),
                "widget.js must load the versioned widget.css"
            );
        }
    }
    assert!(!index.contains("\"/assets/app.css\""));
    // A stale version is not an alias of anything.
    assert_problem(
        &send(&host, "GET", "/assets/app.000000000000.css", &[]),
        404,
    );
}

#[test]
fn validators_head_and_methods() {
    let (host, _dir) = app();
    let first = send(&host, "GET", "/", &[]);
    let etag = first.header("etag").unwrap().to_string();
    for tag in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"nope\", {etag}"),
        "*".into(),
    ] {
        let res = send(&host, "GET", "/", &[("If-None-Match", tag.as_str())]);
        assert_eq!(res.status, 304, "If-None-Match: {tag}");
        assert!(res.body.is_empty());
        assert_eq!(res.header("etag"), Some(etag.as_str()));
        assert_eq!(res.header("cache-control"), Some("no-cache"));
    }
    let changed = send(&host, "GET", "/", &[("If-None-Match", "\"other\"")]);
    assert_eq!(changed.status, 200);
    assert_eq!(changed.body, first.body);

    let head = send(&host, "HEAD", "/widget.js", &[]);
    assert_eq!(head.status, 200, "{}", head.text());
    assert_eq!(
        head.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(head.header("etag").is_some());
    assert!(head.body.is_empty());

    for (method, path) in [
        ("POST", "/"),
        ("PUT", "/widget.js"),
        ("DELETE", "/agent"),
        ("PATCH", "/nope"),
    ] {
        let res = send(&host, method, path, &[]);
        let body = assert_problem(&res, 405);
        assert_eq!(body["allowed"], serde_json::json!(["GET", "HEAD"]));
        assert_eq!(res.header("allow"), Some("GET, HEAD"), "{method} {path}");
    }
}

#[test]
fn unknown_paths_fall_back_to_index_for_browsers_only() {
    let (host, _dir) = app();
    let index = send(&host, "GET", "/", &[HTML]);
    // A browser navigating to a page-like path gets the app's entry page.
    for path in ["/help", "/orders/TD2026112612345", "/chat/"] {
        let res = send(&host, "GET", path, &[HTML]);
        assert_eq!(res.status, 200, "{path}: {}", res.text());
        assert_eq!(res.body, index.body, "{path}");
        assert_eq!(res.header("vary"), Some("accept"));
        assert_eq!(res.header("cache-control"), Some("no-cache"));
    }
    // API clients, missing assets and the API namespace never get HTML.
    for (path, headers) in [
        ("/help", &[][..]),
        ("/help", &[("Accept", "application/json")][..]),
        ("/missing.js", &[HTML][..]),
        ("/assets/missing.css", &[HTML][..]),
        ("/v1/nope", &[HTML][..]),
        ("/v1", &[HTML][..]),
        ("/v2/health", &[HTML][..]),
        ("/.gitignore", &[HTML][..]),
    ] {
        assert_problem(&send(&host, "GET", path, headers), 404);
    }
    // The more specific API routes win over the web component's `/...`, browser or not.
    for (path, component) in [
        ("/v1/health", "health"),
        ("/v1/tickets/health", "ticket"),
        ("/v1/feedback/health", "feedback"),
        ("/v1/faq/health", "faq"),
    ] {
        let res = send(&host, "GET", path, &[HTML]);
        assert_eq!(res.status, 200, "{path}");
        assert_eq!(res.json()["component"], component, "{path}");
    }
}

#[test]
fn traversal_and_malformed_paths_are_refused() {
    let (host, _dir) = app();
    for path in [
        "/../Cargo.toml",
        "/assets/../../spin.toml",
        "/assets/../index.html",
        "/%2e%2e/Cargo.toml",
        "/%2E%2E/%2E%2E/etc/passwd",
        "/.%2e/spin.toml",
        "/assets/%2e/app.css",
        "/./index.html",
        "/assets%2fapp.css",
        "/assets%2Fapp.css",
        "/..%2f..%2fetc%2fpasswd",
        "/assets%5capp.css",
        "/assets\\app.css",
        "/index.html%00",
        "/%zz",
        "/%c3%28",
    ] {
        for headers in [&[][..], &[HTML][..]] {
            let res = send(&host, "GET", path, headers);
            assert!(
                res.status == 400 || res.status == 404,
                "{path}: {} {}",
                res.status,
                res.text()
            );
            assert_problem(&res, res.status);
        }
    }
    // Encoded characters that are not separators are decoded and served.
    assert_eq!(send(&host, "GET", "/widget%2ejs", &[]).status, 200);
}
