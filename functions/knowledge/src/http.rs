//! The HTTP routes (docs/graph.md): health for anyone; every other route checks the method
//! and the agent token, then its query parameters, and renders what [`crate::graph`] or
//! [`crate::knowledge`] answers.

use crate::{compiled, graph, knowledge};
use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;
use tandem_adapter as adapter;

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
