//! The feedback component: `POST /v1/feedback`, `GET /v1/feedback/stats`,
//! `GET /v1/feedback/conversations` (drill-down), `GET /v1/feedback/export`, and the
//! `tandem:service/feedback` export.
//!
//! Validation, PII masking and the metric definitions live in the core
//! (`tandem_core::{feedback, pii, metrics}`); this crate only moves them in and out of
//! `spin:sqlite` (see [`store`]) and HTTP.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

mod drilldown;
mod store;

use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;
use std::sync::OnceLock;
use tandem_adapter as adapter;
use tandem_core::feedback::metrics::{GroupBy, Stats};
use tandem_core::feedback::{self, EventInput};
use tandem_core::foundation::problem::Problem;
use tandem_core::handoff::sentiment::SentimentRunner;

tandem_adapter::snapshot_allocator!();

mod bindings {
    spin_sdk::wit_bindgen::generate!({
        runtime_path: "spin_sdk::wit_bindgen::rt",
        inline: r#"
            package tandem:feedback-component;
            world component {
                include tandem:service/feedback-service@0.1.0;
                /// Pre-initialisation hook called once by `tandem preinit` (wasmtime-wizer).
                export wizer-initialize: func();
            }
        "#,
        path: "../../wit",
        pub_export_macro: true,
        generate_all,
    });
}

use bindings::exports::tandem::service::feedback as wit;
use bindings::tandem::service::encoder as wit_encoder;
use bindings::tandem::service::types as wit_types;

tandem_adapter::sentence_embedding_import!(wit_encoder, wit_types);

use adapter::sqlite::now_ms;

/// The sentiment model of the handoff capability (`models/sentiment.*`, trained by `kb-loader`
/// from `kb/handoff.yaml`), compiled in and shared through the core, so a comment is judged the
/// way a live conversation is.
const SENTIMENT_ONNX: &[u8] = include_bytes!("../../../models/sentiment.onnx");
const SENTIMENT_MANIFEST: &[u8] = include_bytes!("../../../models/sentiment.json");

static SENTIMENT: OnceLock<Option<SentimentRunner>> = OnceLock::new();

/// Parsed at pre-initialisation (`tandem preinit`), or on the first comment of an instance that
/// was not pre-initialised; routes without a comment never touch it.
fn sentiment_runner() -> Option<&'static SentimentRunner> {
    SENTIMENT
        .get_or_init(|| SentimentRunner::from_bytes(SENTIMENT_ONNX, SENTIMENT_MANIFEST).ok())
        .as_ref()
}

/// (label, probability) of a comment. A model of the semantic tier takes the comment's
/// sentence embedding from the imported encoder. A model or encoder failure (a comment with
/// more tokens than the encoder takes, say) leaves the sentiment null rather than losing the
/// customer's feedback: the event matters more than its annotation.
fn comment_sentiment(comment: Option<&str>) -> Option<(String, f64)> {
    let (comment, runner) = (comment?, sentiment_runner()?);
    let embedding = match runner.uses_embedding() {
        true => Some(sentence_embedding(comment, "comment").ok()?),
        false => None,
    };
    let analysis = runner
        .analyze_embedded(comment, embedding.as_deref())
        .ok()?;
    Some((analysis.label, f64::from(analysis.score)))
}

/// Validates, masks and stores one event: (stored event, created?).
async fn record(input: &EventInput) -> Result<(serde_json::Value, bool), Problem> {
    let event = feedback::validate(input, now_ms())?.masked();
    let sentiment = comment_sentiment(event.comment.as_deref());
    store::open().await?.record(&event, sentiment).await
}

async fn stats(
    from: Option<&str>,
    to: Option<&str>,
    group_by: Option<&str>,
) -> Result<(Stats, i64, i64, Option<GroupBy>), Problem> {
    let (from_ms, to_ms) = feedback::parse_range(from, to)?;
    let by = match group_by {
        None => None,
        Some(g) => Some(GroupBy::parse(g).ok_or_else(|| {
            Problem::unprocessable(format!("group_by {g:?} is not supported"))
                .with_param("group_by", "one of intent, day, channel, agent")
        })?),
    };
    let stats = store::open().await?.stats(from_ms, to_ms, by).await?;
    Ok((stats, from_ms, to_ms, by))
}

async fn export(since: Option<&str>) -> Result<Vec<serde_json::Value>, Problem> {
    let since_ms = match since {
        None => 0,
        Some(s) => feedback::parse_time(s).ok_or_else(|| {
            Problem::unprocessable(format!("since is not a time: {s:?}")).with_param(
                "since",
                "RFC 3339 (2026-11-26T00:00:00Z) or a date (2026-11-26)",
            )
        })?,
    };
    store::open().await?.corrections_since(since_ms).await
}

// ---------------------------------------------------------------------------------------------
// HTTP

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

// ---------------------------------------------------------------------------------------------
// WIT export. A composed caller is inside the trust boundary the composition draws, so these
// functions ask for no token; the HTTP routes above do.

struct Component;

impl bindings::Guest for Component {
    fn wizer_initialize() {
        // Run the model once so tract's lazily built state is part of the snapshot too. The
        // encoder import traps until composed: the warm-up takes a zero embedding.
        if let Some(runner) = sentiment_runner() {
            let zero = [0.0; tandem_core::foundation::features::EMBEDDING_DIM];
            let _ = runner.analyze_embedded("warm up 预热", Some(&zero));
        }
        // Last: what a request allocates from here on goes above the snapshot's heap.
        freeze_snapshot_heap();
    }
}

tandem_adapter::wit_error_mapping!(wit_types);

fn wit_counts(c: &tandem_core::feedback::metrics::Counts) -> wit::Counts {
    wit::Counts {
        conversations: c.conversations,
        with_outcome: c.with_outcome,
        resolved: c.resolved,
        resolved_first_contact: c.resolved_first_contact,
        self_served: c.self_served,
        handed_off: c.handed_off,
        rated: c.rated,
        satisfied: c.satisfied,
        rating_sum: c.rating_sum,
    }
}

fn wit_metrics(m: &tandem_core::feedback::metrics::Metrics) -> wit::Metrics {
    wit::Metrics {
        csat: m.csat,
        average_rating: m.average_rating,
        fcr: m.fcr,
        resolution_rate: m.resolution_rate,
        self_service_rate: m.self_service_rate,
        handoff_rate: m.handoff_rate,
    }
}

impl wit::Guest for Component {
    async fn record_event(event: wit::Event) -> Result<bool, wit_types::Error> {
        let kind = match event.kind {
            wit::Kind::Rating => feedback::Kind::Rating,
            wit::Kind::Outcome => feedback::Kind::Outcome,
            wit::Kind::Correction => feedback::Kind::Correction,
            wit::Kind::Comment => feedback::Kind::Comment,
        };
        let handled_by = event.handled_by.map(|h| match h {
            wit::HandledBy::Bot => feedback::HandledBy::Bot,
            wit::HandledBy::Human => feedback::HandledBy::Human,
            wit::HandledBy::Both => feedback::HandledBy::Both,
        });
        let input = EventInput {
            event_id: event.event_id,
            conversation_id: event.conversation_id,
            turn_id: event.turn_id,
            kind,
            rating: event.rating.map(serde_json::Value::from),
            resolved: event.resolved,
            handled_by,
            agent_id: event.agent_id,
            contact_count: event.contact_count.map(serde_json::Value::from),
            intent_predicted: event.intent_predicted,
            intent_corrected: event.intent_corrected,
            faq_predicted: event.faq_predicted,
            faq_corrected: event.faq_corrected,
            text: event.text,
            comment: event.comment,
            channel: event.channel,
            created_at: event.created_at,
        };
        record(&input)
            .await
            .map(|(_, created)| created)
            .map_err(to_wit_error)
    }

    async fn stats(request: wit::StatsRequest) -> Result<wit::StatsReport, wit_types::Error> {
        let group_by = request.group_by.map(|g| match g {
            wit::GroupBy::Intent => "intent",
            wit::GroupBy::Day => "day",
            wit::GroupBy::Channel => "channel",
            wit::GroupBy::Agent => "agent",
        });
        let (s, ..) = stats(request.start.as_deref(), request.end.as_deref(), group_by)
            .await
            .map_err(to_wit_error)?;
        Ok(wit::StatsReport {
            counts: wit_counts(&s.counts),
            metrics: wit_metrics(&s.metrics),
            events: s.events.total,
            top_corrections: s
                .top_corrections
                .iter()
                .map(|c| wit::CorrectionCount {
                    predicted: c.from.clone(),
                    corrected: c.to.clone(),
                    count: c.count,
                })
                .collect(),
            groups: s
                .groups
                .unwrap_or_default()
                .iter()
                .map(|g| wit::Group {
                    key: g.key.clone(),
                    counts: wit_counts(&g.counts),
                    metrics: wit_metrics(&g.metrics),
                })
                .collect(),
        })
    }

    async fn export_corrections(since: Option<String>) -> Result<Vec<String>, wit_types::Error> {
        let lines = export(since.as_deref()).await.map_err(to_wit_error)?;
        Ok(lines.iter().map(|l| l.to_string()).collect())
    }
}

bindings::export!(Component with_types_in bindings);
