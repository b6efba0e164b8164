//! `GET /v1/health`: is the app up, which version, which models. `GET /v1/openapi.json`: the
//! OpenAPI document of every route (`openapi/openapi.json`, compiled in).
//!
//! The baseline route of every benchmark: it does no work beyond rendering, so a route's
//! latency divided by this one's is the cost of the route's own work on the same host.

use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;
use tandem_adapter as adapter;

/// The API description, checked against the running app by `tests/tests/openapi.rs`.
const OPENAPI: &str = include_str!("../../../openapi/openapi.json");

#[http_service]
async fn handle(req: Request) -> adapter::HttpResponse {
    match adapter::path(&req) {
        "/v1/health" => {
            if let Err(p) = adapter::require_method(&req, &[Method::GET, Method::HEAD]) {
                return adapter::problem(&p);
            }
            adapter::health("health", None)
        }
        "/v1/openapi.json" => {
            if let Err(p) = adapter::require_method(&req, &[Method::GET]) {
                return adapter::problem(&p);
            }
            // The JSON response's status and headers, with the compiled-in document (static
            // bytes, not copied) as its body.
            adapter::json(200, &()).map(|_| OPENAPI.into())
        }
        other => adapter::problem(&adapter::not_found(other)),
    }
}
