//! `POST /v1/handoff` and its health route: the JSON body, read into the core's checked
//! [`Request`].

use crate::{decide, engine};
use serde::Deserialize;
use spin_sdk::http::{Method, Request as HttpRequest};
use spin_sdk::http_service;
use tandem_adapter as adapter;
use tandem_core::foundation::problem::Problem;
use tandem_core::handoff::request::{self, Request};
use tandem_core::handoff::{Availability, MAX_TURNS, Turn};

/// Largest accepted body: 200 turns of 4 KiB text plus JSON overhead.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// `POST /v1/handoff` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideBody {
    conversation_id: String,
    #[serde(default)]
    customer: Option<CustomerBody>,
    turns: Vec<TurnBody>,
    #[serde(default)]
    agents_online: Option<u32>,
    #[serde(default)]
    within_business_hours: Option<bool>,
    /// RFC 3339: the time to read the queue's calendar at (default: now).
    #[serde(default)]
    at: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerBody {
    #[serde(default)]
    tier: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TurnBody {
    /// A string here (not the enum) so an unknown role is named in `invalid-params`.
    role: String,
    text: String,
    #[serde(default)]
    intent: Option<String>,
    #[serde(default)]
    confidence: Option<f32>,
    #[serde(default)]
    answered: Option<bool>,
    #[serde(default)]
    negative: Option<f32>,
}

/// Unix seconds now, from the WASI wall clock.
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The body as the core's request; without `at`, calendars are read at the wall clock's now.
fn from_body(body: DecideBody) -> Result<Request, Problem> {
    let at = request::parse_at(body.at.as_deref())?.or_else(|| Some(now_secs()));
    let mut turns = Vec::with_capacity(body.turns.len().min(MAX_TURNS + 1));
    for (i, t) in body.turns.into_iter().enumerate() {
        turns.push(Turn {
            role: request::parse_role(i, &t.role)?,
            text: t.text,
            intent: t.intent,
            confidence: t.confidence,
            answered: t.answered,
            negative: t.negative,
        });
    }
    request::validate(
        body.conversation_id,
        body.customer.and_then(|c| c.tier),
        turns,
        Availability {
            agents_online: body.agents_online,
            within_business_hours: body.within_business_hours,
            at,
        },
    )
}

#[http_service]
async fn handle(req: HttpRequest) -> adapter::HttpResponse {
    match adapter::path(&req) {
        "/v1/handoff" => {
            if let Err(p) = adapter::require_method(&req, &[Method::POST]) {
                return adapter::problem(&p);
            }
            let result = match adapter::read_json::<DecideBody>(req, MAX_BODY_BYTES).await {
                Ok(body) => from_body(body).and_then(decide),
                Err(p) => Err(p),
            };
            adapter::render(200, result)
        }
        "/v1/handoff/health" => {
            adapter::health_route(&req, "handoff", Some(&engine().manifest().model_version))
        }
        other => adapter::problem(&adapter::not_found(other)),
    }
}
