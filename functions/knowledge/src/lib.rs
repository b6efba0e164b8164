//! The knowledge component (docs/graph.md), every route behind the agent token but health:
//! the graph (`GET /v1/graph`, `/v1/graph/nodes/{id}`, `/v1/graph/path`, `/v1/graph/subgraph`,
//! in [`graph`]) and what the service does not know yet (`GET /v1/knowledge`,
//! `/v1/knowledge/gaps`, the FAQ drafts under `/v1/knowledge/drafts`, in [`knowledge`]).
//!
//! The KB part of the graph (`models/graph.json`, written by `kb-loader build`) is compiled in
//! and parsed at pre-initialisation; each request adds what the stores say now.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

mod graph;
mod knowledge;

use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;
use std::sync::OnceLock;
use tandem_adapter as adapter;
use tandem_core::foundation::problem::Problem;
use tandem_core::graph::Graph;

tandem_adapter::snapshot_allocator!();

mod bindings {
    spin_sdk::wit_bindgen::generate!({
        runtime_path: "spin_sdk::wit_bindgen::rt",
        inline: r#"
            package tandem:knowledge-component;
            world component {
                /// Pre-initialisation hook called once by `tandem preinit` (wasmtime-wizer).
                export wizer-initialize: func();
            }
        "#,
        pub_export_macro: true,
    });
}

const GRAPH_JSON: &[u8] = include_bytes!("../../../models/graph.json");

static COMPILED: OnceLock<Result<Graph, String>> = OnceLock::new();

/// The KB's graph as `kb-loader` compiled it.
fn compiled() -> Result<&'static Graph, Problem> {
    COMPILED
        .get_or_init(|| Graph::from_json(GRAPH_JSON).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Problem::internal(format!("models/graph.json: {e}")))
}

#[http_service]
async fn handle(req: Request) -> adapter::HttpResponse {
    let path = adapter::path(&req).trim_end_matches('/').to_string();
    if adapter::is_health_path(&path) {
        let version = compiled().ok().map(|g| g.graph_version.as_str());
        return adapter::health_route(&req, "knowledge", version);
    }
    let patch = path.starts_with("/v1/knowledge/drafts/") && path != knowledge::EXPORT;
    let allowed: &[Method] = if patch {
        &[Method::GET, Method::PATCH]
    } else {
        &[Method::GET]
    };
    if let Err(p) = adapter::require_method(&req, allowed) {
        return adapter::problem(&p);
    }
    if let Err(response) = adapter::authorize_agent(&req).await {
        return response;
    }
    if req.method() == Method::PATCH {
        let id = path.trim_start_matches("/v1/knowledge/drafts/").to_string();
        let result = match adapter::read_json(req, knowledge::MAX_REVIEW_BYTES).await {
            Ok(input) => knowledge::review(&id, &input).await,
            Err(p) => Err(p),
        };
        return adapter::render(200, result);
    }
    let query = match adapter::query::parse_query(&req, parameters(&path)) {
        Ok(q) => q,
        Err(p) => return adapter::problem(&p),
    };
    if path == knowledge::EXPORT {
        return match knowledge::export().await {
            Ok(changes) => adapter::jsonl(&changes),
            Err(p) => adapter::problem(&p),
        };
    }
    let result = match path.as_str() {
        p if p == "/v1/graph" || p.starts_with("/v1/graph/") => graph::route(p, &query).await,
        "/v1/knowledge" => knowledge::summary().await,
        "/v1/knowledge/gaps" => knowledge::gaps(&query).await,
        "/v1/knowledge/drafts" => knowledge::drafts(&query).await,
        p if p.starts_with("/v1/knowledge/drafts/") => {
            knowledge::draft(p.trim_start_matches("/v1/knowledge/drafts/")).await
        }
        other => Err(adapter::not_found(other)),
    };
    adapter::render(200, result)
}

/// The query parameters each route takes (none: any parameter is a 422).
fn parameters(path: &str) -> &'static [&'static str] {
    match path {
        "/v1/graph/subgraph" => &["kinds", "limit"],
        "/v1/graph/path" => &["from", "to", "max_hops"],
        "/v1/knowledge/gaps" => &["from", "to", "limit", "min_questions"],
        "/v1/knowledge/drafts" => &["status", "limit"],
        p if p.starts_with("/v1/graph/nodes/") => &["kind", "limit"],
        _ => &[],
    }
}

struct Component;

impl bindings::Guest for Component {
    fn wizer_initialize() {
        // Parse the graph once, into the snapshot.
        let _ = compiled();
        // Last: what a request allocates from here on goes above the snapshot's heap.
        freeze_snapshot_heap();
    }
}

bindings::export!(Component with_types_in bindings);
