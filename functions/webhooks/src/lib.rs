//! The webhooks component (docs/webhooks.md), every route behind the agent token but health:
//! subscriptions (`/v1/webhooks`, `/v1/webhooks/{id}`), the outbox's events
//! (`/v1/webhooks/events`), deliveries and the dead-letter list
//! (`/v1/webhooks/deliveries`, `.../{id}/replay`), and the delivery run
//! (`POST /v1/webhooks/deliver`, in [`deliver`]) that the schedule calls.
//!
//! The only component with outbound HTTP: `allowed_outbound_hosts` in spin.toml names the
//! receivers the operator allows, and the host refuses every other destination.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

mod admin;
mod deliver;

use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;
use tandem_adapter as adapter;
use tandem_adapter::sqlite::Spin;
use tandem_core::foundation::problem::Problem;
use tandem_stores::outbox;

type Store = outbox::Store<Spin>;

/// Opens database `default` and brings the outbox schema up to date.
async fn store() -> Result<Store, Problem> {
    Store::open(Spin::open_default(outbox::NAME).await?).await
}

/// Largest subscription body accepted.
const MAX_BODY_BYTES: usize = 8 * 1024;

#[http_service]
async fn handle(req: Request) -> adapter::HttpResponse {
    let path = adapter::path(&req).trim_end_matches('/').to_string();
    if adapter::is_health_path(&path) {
        return adapter::health_route(&req, "webhooks", None);
    }
    let segments: Vec<&str> = path.split('/').skip(3).collect();
    let allowed: &[Method] = match segments.as_slice() {
        [] => &[Method::GET, Method::POST],
        ["deliver"] => &[Method::POST],
        ["events"] | ["deliveries"] => &[Method::GET],
        ["deliveries", _, "replay"] => &[Method::POST],
        [_] => &[Method::GET, Method::PATCH, Method::DELETE],
        _ => return adapter::problem(&adapter::not_found(&path)),
    };
    if let Err(p) = adapter::require_method(&req, allowed) {
        return adapter::problem(&p);
    }
    if let Err(response) = adapter::authorize_agent(&req).await {
        return response;
    }
    let query = match adapter::query::parse_query(&req, parameters(&segments)) {
        Ok(q) => q,
        Err(p) => return adapter::problem(&p),
    };
    let method = req.method().clone();
    match (segments.as_slice(), method) {
        ([], Method::POST) => match adapter::read_json(req, MAX_BODY_BYTES).await {
            Ok(body) => adapter::render(201, admin::create(&body).await),
            Err(p) => adapter::problem(&p),
        },
        ([], _) => adapter::render(200, admin::list().await),
        (["deliver"], _) => adapter::render(200, deliver::run(&query).await),
        (["events"], _) => adapter::render(200, admin::events(&query).await),
        (["deliveries"], _) => adapter::render(200, admin::deliveries(&query).await),
        (["deliveries", id, "replay"], _) => adapter::render(200, admin::replay(id).await),
        ([id], Method::PATCH) => match adapter::read_json(req, MAX_BODY_BYTES).await {
            Ok(body) => adapter::render(200, admin::update(id, &body).await),
            Err(p) => adapter::problem(&p),
        },
        ([id], Method::DELETE) => match admin::delete(id).await {
            Ok(()) => adapter::json(200, &serde_json::json!({"deleted": id})),
            Err(p) => adapter::problem(&p),
        },
        ([id], _) => adapter::render(200, admin::get(id).await),
        _ => adapter::problem(&adapter::not_found(&path)),
    }
}

/// The query parameters each route takes (none: any parameter is a 422).
fn parameters(segments: &[&str]) -> &'static [&'static str] {
    match segments {
        ["events"] => &["after", "limit"],
        ["deliveries"] => &["state", "subscription", "limit"],
        ["deliver"] => &["limit"],
        _ => &[],
    }
}
