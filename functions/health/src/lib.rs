//! `GET /v1/health`: is the app up, which version, which models.
//!
//! The baseline route of every benchmark: it does no work beyond rendering, so a route's
//! latency divided by this one's is the cost of the route's own work on the same host.

use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;
use tandem_adapter as adapter;

#[http_service]
async fn handle(req: Request) -> adapter::HttpResponse {
    if adapter::path(&req) != "/v1/health" {
        return adapter::problem(&tandem_adapter::not_found(adapter::path(&req)));
    }
    if let Err(p) = adapter::require_method(&req, &[Method::GET, Method::HEAD]) {
        return adapter::problem(&p);
    }
    adapter::health("health", None)
}
