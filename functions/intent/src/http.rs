//! `POST /v1/intent` and its health route.

use crate::{classify, runner};
use serde::Deserialize;
use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;
use tandem_adapter as adapter;

/// Largest accepted request body; the text itself is limited to [`crate::MAX_TEXT_BYTES`].
const MAX_BODY_BYTES: usize = 16 * 1024;

/// `POST /v1/intent` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassifyBody {
    text: String,
    #[serde(default)]
    top_k: Option<u32>,
}

#[http_service]
async fn handle(req: Request) -> adapter::HttpResponse {
    match adapter::path(&req) {
        "/v1/intent" => {
            if let Err(p) = adapter::require_method(&req, &[Method::POST]) {
                return adapter::problem(&p);
            }
            let result = match adapter::read_json::<ClassifyBody>(req, MAX_BODY_BYTES).await {
                Ok(body) => classify(&body.text, body.top_k),
                Err(p) => Err(p),
            };
            adapter::render(200, result)
        }
        "/v1/intent/health" => {
            adapter::health_route(&req, "intent", Some(&runner().manifest().model_version))
        }
        other => adapter::problem(&adapter::not_found(other)),
    }
}
