//! The HTTP routes: the widget's `POST /v1/feedback` (any origin, CORS), and the agent-token
//! routes for stats, drill-down and export.

use crate::{drilldown, export, record, stats, store};
use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;
use tandem_adapter as adapter;
use tandem_core::feedback::metrics::GroupBy;
use tandem_core::feedback::{self, EventInput};

#[http_service]
async fn handle(req: Request) -> adapter::HttpResponse {
    let path = adapter::path(&req).trim_end_matches('/').to_string();
    match path.as_str() {
        "/v1/feedback/health" => adapter::health_route(&req, "feedback", None),
        "/v1/feedback" => {
            // The widget posts ratings from pages of any origin: CORS preflight and header.
            // Stats and export (agent token) stay without CORS.
            if let Err(response) = adapter::cors_post_route(&req) {
                return response;
            }
            let result = match adapter::read_json::<EventInput>(req, feedback::MAX_BODY_BYTES).await
            {
                Ok(input) => record(&input).await,
                Err(p) => Err(p),
            };
            adapter::with_cors(match result {
                Ok((event, created)) => adapter::json(if created { 201 } else { 200 }, &event),
                Err(p) => adapter::problem(&p),
            })
        }
        "/v1/feedback/stats" => match guarded(&req, &["from", "to", "group_by"]).await {
            Err(response) => response,
            Ok(q) => match stats(q.get("from"), q.get("to"), q.get("group_by")).await {
                Ok((stats, from, to, by)) => {
                    let mut body = serde_json::to_value(&stats).expect("stats serialise");
                    body["query"] = serde_json::json!({
                        "from": (from > 0).then(|| feedback::format_time(from)),
                        "to": (to < i64::MAX).then(|| feedback::format_time(to)),
                        "group_by": by,
                    });
                    // The agent view adds the median time to resolve from the ticket store.
                    if by == Some(GroupBy::Agent)
                        && let Some(groups) = body["groups"].as_array_mut()
                    {
                        let medians = match store::open().await {
                            Ok(store) => store.median_time_to_resolve(from, to).await,
                            Err(p) => Err(p),
                        };
                        let medians = match medians {
                            Ok(m) => m,
                            Err(p) => return adapter::problem(&p),
                        };
                        for g in groups {
                            let m = g["key"].as_str().and_then(|agent| medians.get(agent));
                            g["median_time_to_resolve_seconds"] = m.copied().into();
                        }
                    }
                    adapter::json(200, &body)
                }
                Err(p) => adapter::problem(&p),
            },
        },
        "/v1/feedback/conversations" => match guarded(&req, drilldown::PARAMETERS).await {
            Err(response) => response,
            Ok(q) => drilldown::respond(&q).await,
        },
        "/v1/feedback/export" => match guarded(&req, &["since"]).await {
            Err(response) => response,
            Ok(q) => match export(q.get("since")).await {
                Ok(lines) => adapter::jsonl(&lines),
                Err(p) => adapter::problem(&p),
            },
        },
        other => adapter::problem(&adapter::not_found(other)),
    }
}

/// GET only, the agent token, and known query parameters; the error response otherwise.
async fn guarded(
    req: &Request,
    allowed: &[&str],
) -> Result<adapter::query::Query, adapter::HttpResponse> {
    if let Err(p) = adapter::require_method(req, &[Method::GET]) {
        return Err(adapter::problem(&p));
    }
    adapter::authorize_agent(req).await?;
    adapter::query::parse_query(req, allowed).map_err(|p| adapter::problem(&p))
}
