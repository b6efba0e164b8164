//! The handoff component: `POST /v1/handoff` and the `tandem:service/handoff` export.
//!
//! Keeps no state: the request carries the recent turns. Business hours: the caller's
//! `within_business_hours` when given, else the routed queue's calendar (models/handoff.json) at
//! the body's `at` or, without one, at the wall clock's now; the WIT export reads the calendar
//! only at the request's `at` (assist passes the turn's time). Customer turns without an intent are
//! classified through the imported `tandem:service/intent` interface, which `tandem compose`
//! satisfies at build time with the intent component (one component, in-process calls). The
//! policy, the escalation-score model and the sentiment model (`models/handoff.*`,
//! `models/sentiment.*`, written by `kb-loader build`) are compiled in and parsed by
//! `wizer-initialize` at build time, like the intent component's model.
//!
//! A sentiment model of the semantic tier (`kb-loader build`'s default) takes each scored
//! customer turn's sentence embedding from the imported `tandem:service/encoder`, except for
//! turns that carry their `negative` from an earlier decision (what `assist` stores).

use serde::{Deserialize, Serialize};
use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;
use std::sync::OnceLock;
use tandem_adapter as adapter;
use tandem_core::foundation::calendar;
use tandem_core::foundation::problem::Problem;
use tandem_core::foundation::vocab::{Priority, Role};
use tandem_core::handoff::model::HandoffEngine;
use tandem_core::handoff::{
    self, Availability, BusinessHours, MAX_TURN_TEXT_BYTES, MAX_TURNS, Outcome, Signals, Turn,
};

tandem_adapter::snapshot_allocator!();

mod bindings {
    spin_sdk::wit_bindgen::generate!({
        runtime_path: "spin_sdk::wit_bindgen::rt",
        inline: r#"
            package tandem:handoff-component;
            world component {
                include tandem:service/handoff-service@0.1.0;
                /// Pre-initialisation hook called once by `tandem preinit` (wasmtime-wizer).
                export wizer-initialize: func();
            }
        "#,
        path: "../../wit",
        pub_export_macro: true,
        generate_all,
    });
}

use bindings::exports::tandem::service::handoff as wit;
use bindings::tandem::service::encoder as wit_encoder;
use bindings::tandem::service::intent as wit_intent;
use bindings::tandem::service::types as wit_types;

tandem_adapter::sentence_embedding_import!(wit_encoder, wit_types);

const HANDOFF_ONNX: &[u8] = include_bytes!("../../../models/handoff.onnx");
const HANDOFF_MANIFEST: &[u8] = include_bytes!("../../../models/handoff.json");
const SENTIMENT_ONNX: &[u8] = include_bytes!("../../../models/sentiment.onnx");
const SENTIMENT_MANIFEST: &[u8] = include_bytes!("../../../models/sentiment.json");

/// Largest accepted body: 200 turns of 4 KiB text plus JSON overhead.
const MAX_BODY_BYTES: usize = 1024 * 1024;
const MAX_ID_BYTES: usize = 128;

static ENGINE: OnceLock<HandoffEngine> = OnceLock::new();

fn engine() -> &'static HandoffEngine {
    ENGINE.get_or_init(|| {
        HandoffEngine::from_bytes(
            HANDOFF_ONNX,
            HANDOFF_MANIFEST,
            SENTIMENT_ONNX,
            SENTIMENT_MANIFEST,
        )
        .expect("the models compiled into this component are checked by kb-loader")
    })
}

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

#[derive(Serialize)]
struct ModelInfo {
    version: String,
}

#[derive(Serialize)]
struct DecideResponse {
    conversation_id: String,
    decision: Outcome,
    score: f32,
    reasons: Vec<handoff::Reason>,
    queue: Option<String>,
    priority: Priority,
    /// The rule id or `score`: what decided.
    driver: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    business_hours: Option<BusinessHours>,
    signals: Signals,
    model: ModelInfo,
}

/// A validated request, shared by the HTTP route and the WIT export.
struct Decide {
    conversation_id: String,
    tier: Option<String>,
    turns: Vec<Turn>,
    availability: Availability,
}

fn validate(
    conversation_id: String,
    tier: Option<String>,
    turns: Vec<Turn>,
    availability: Availability,
) -> Result<Decide, Problem> {
    if conversation_id.trim().is_empty() || conversation_id.len() > MAX_ID_BYTES {
        return Err(
            Problem::unprocessable("conversation_id is empty or too long")
                .with_param("conversation_id", format!("1 to {MAX_ID_BYTES} bytes")),
        );
    }
    if turns.is_empty() {
        return Err(Problem::unprocessable("the conversation has no turns")
            .with_param("turns", "at least one turn"));
    }
    if turns.len() > MAX_TURNS {
        return Err(Problem::unprocessable(format!(
            "the conversation has {} turns; send at most the last {MAX_TURNS}",
            turns.len()
        ))
        .with_param("turns", format!("at most {MAX_TURNS} turns")));
    }
    if let Some(t) = &tier
        && (t.trim().is_empty() || t.len() > 32)
    {
        return Err(Problem::unprocessable("customer.tier is empty or too long")
            .with_param("customer.tier", "1 to 32 bytes, e.g. standard or vip"));
    }
    for (i, t) in turns.iter().enumerate() {
        if t.text.trim().len() > MAX_TURN_TEXT_BYTES {
            return Err(Problem::payload_too_large(format!(
                "turns[{i}].text is {} bytes; the limit is {MAX_TURN_TEXT_BYTES}",
                t.text.trim().len()
            ))
            .with_param(
                format!("turns[{i}].text"),
                format!("at most {MAX_TURN_TEXT_BYTES} bytes"),
            ));
        }
        if let Some(c) = t.confidence
            && !(0.0..=1.0).contains(&c)
        {
            return Err(
                Problem::unprocessable(format!("turns[{i}].confidence is {c}"))
                    .with_param(format!("turns[{i}].confidence"), "between 0 and 1"),
            );
        }
        if let Some(p) = t.negative
            && !(0.0..=1.0).contains(&p)
        {
            return Err(
                Problem::unprocessable(format!("turns[{i}].negative is {p}"))
                    .with_param(format!("turns[{i}].negative"), "between 0 and 1"),
            );
        }
        if let Some(intent) = &t.intent
            && (intent.is_empty() || intent.len() > 64)
        {
            return Err(
                Problem::unprocessable(format!("turns[{i}].intent is empty or too long"))
                    .with_param(format!("turns[{i}].intent"), "1 to 64 bytes"),
            );
        }
    }
    Ok(Decide {
        conversation_id,
        tier,
        turns,
        availability,
    })
}

/// Unix seconds now, from the WASI wall clock.
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The instant to read calendars at, from a request's optional RFC 3339 `at`.
fn parse_at(at: Option<&str>) -> Result<Option<i64>, Problem> {
    at.map(|text| {
        calendar::parse_rfc3339(text).ok_or_else(|| {
            Problem::unprocessable(format!("at is \"{text}\"")).with_param(
                "at",
                "an RFC 3339 date-time, e.g. 2026-12-07T12:30:00+08:00",
            )
        })
    })
    .transpose()
}

fn from_body(body: DecideBody) -> Result<Decide, Problem> {
    let at = parse_at(body.at.as_deref())?.or_else(|| Some(now_secs()));
    let mut turns = Vec::with_capacity(body.turns.len().min(MAX_TURNS + 1));
    for (i, t) in body.turns.into_iter().enumerate() {
        let role = match t.role.as_str() {
            "customer" => Role::Customer,
            "bot" => Role::Bot,
            "agent" => Role::Agent,
            other => {
                return Err(
                    Problem::unprocessable(format!("turns[{i}].role is \"{other}\""))
                        .with_param(format!("turns[{i}].role"), "customer, bot or agent"),
                );
            }
        };
        turns.push(Turn {
            role: Some(role),
            text: t.text,
            intent: t.intent,
            confidence: t.confidence,
            answered: t.answered,
            negative: t.negative,
        });
    }
    validate(
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

/// Fills in the intents of customer turns that lack one, through the imported interface.
fn classify_missing(turns: &mut [Turn]) -> Result<(), Problem> {
    for t in turns
        .iter_mut()
        .filter(|t| t.role == Some(Role::Customer) && t.intent.is_none())
    {
        if t.text.trim().is_empty() {
            continue;
        }
        let request = wit_intent::ClassifyRequest {
            text: t.text.clone(),
            top_k: Some(1),
        };
        match wit_intent::classify(&request) {
            Ok(c) => {
                // An out-of-scope guess is no intent: it must not trigger `always_human`.
                t.intent = (!c.out_of_scope).then_some(c.intent);
                if t.confidence.is_none() {
                    t.confidence = Some(c.confidence);
                }
            }
            // The intent component's own input checks (e.g. text it refuses): no intent.
            Err(wit_types::Error::InvalidInput(_)) => {}
            Err(e) => {
                return Err(Problem::internal(format!(
                    "the intent service failed: {e:?}"
                )));
            }
        }
    }
    Ok(())
}

fn decide(mut req: Decide) -> Result<DecideResponse, Problem> {
    classify_missing(&mut req.turns)?;
    let engine = engine();
    // A turn the encoder refuses (too many tokens) is the client's 413, named by its field,
    // not the models' 500.
    let mut refused = None;
    let turns = &req.turns;
    let mut embed = |text: &str| -> anyhow::Result<Vec<f32>> {
        let i = turns.iter().position(|t| t.text == text).unwrap_or(0);
        sentence_embedding(text, &format!("turns[{i}].text")).map_err(|p| {
            let message = p.detail.clone().unwrap_or_default();
            refused.get_or_insert(p);
            anyhow::anyhow!(message)
        })
    };
    let decided = engine.decide(req.tier.as_deref(), turns, req.availability, &mut embed);
    if let Some(p) = refused {
        return Err(p);
    }
    let (signals, d) =
        decided.map_err(|e| Problem::internal(format!("the handoff models failed: {e}")))?;
    Ok(DecideResponse {
        conversation_id: req.conversation_id,
        decision: d.decision,
        score: d.score,
        reasons: d.reasons,
        queue: d.queue,
        priority: d.priority,
        driver: d.driver,
        business_hours: d.business_hours,
        signals,
        model: ModelInfo {
            version: engine.manifest().model_version.clone(),
        },
    })
}

#[http_service]
async fn handle(req: Request) -> adapter::HttpResponse {
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

struct Component;

impl bindings::Guest for Component {
    fn wizer_initialize() {
        // Parse both models and run them once, so tract's lazily built state is in the
        // snapshot. The imported intent and encoder interfaces are not reachable here (they
        // trap until composed), so the warm-up turn carries its intent and the sentiment
        // model gets a zero embedding.
        let turns = [Turn {
            role: Some(Role::Customer),
            text: "warm up 预热".into(),
            intent: Some("warm_up".into()),
            confidence: Some(1.0),
            ..Default::default()
        }];
        let _ = engine().decide(None, &turns, Availability::default(), &mut |_| {
            Ok(vec![0.0; tandem_core::foundation::features::EMBEDDING_DIM])
        });
        // Last: what a request allocates from here on goes above the snapshot's heap.
        freeze_snapshot_heap();
    }
}

impl wit::Guest for Component {
    fn decide(request: wit::DecideRequest) -> Result<wit::DecisionResult, wit_types::Error> {
        let turns = request
            .turns
            .into_iter()
            .map(|t| Turn {
                role: Some(match t.role {
                    wit_types::Role::Customer => Role::Customer,
                    wit_types::Role::Bot => Role::Bot,
                    wit_types::Role::Agent => Role::Agent,
                }),
                text: t.text,
                intent: t.intent,
                confidence: t.confidence,
                answered: t.answered,
                negative: t.negative,
            })
            .collect();
        let r = parse_at(request.at.as_deref())
            .and_then(|at| {
                validate(
                    request.conversation_id,
                    request.tier,
                    turns,
                    Availability {
                        agents_online: request.agents_online,
                        within_business_hours: request.within_business_hours,
                        at,
                    },
                )
            })
            .and_then(decide)
            .map_err(to_wit_error)?;
        Ok(wit::DecisionResult {
            decision: match r.decision {
                Outcome::Bot => wit::Decision::Bot,
                Outcome::Human => wit::Decision::Human,
                Outcome::Ticket => wit::Decision::Ticket,
            },
            score: r.score,
            reasons: r
                .reasons
                .into_iter()
                .map(|x| wit::Reason {
                    code: x.code,
                    message_zh: x.message_zh,
                    message_en: x.message_en,
                })
                .collect(),
            queue: r.queue,
            priority: match r.priority {
                Priority::Low => wit_types::Priority::Low,
                Priority::Normal => wit_types::Priority::Normal,
                Priority::High => wit_types::Priority::High,
                Priority::Urgent => wit_types::Priority::Urgent,
            },
            latest_negative: r.signals.latest_negative,
            signals_json: serde_json::to_string(&r.signals).unwrap_or_default(),
            business_hours: r.business_hours.map(|h| wit::BusinessHours {
                queue: h.queue,
                open: h.open,
                source: h.source,
                at: h.at,
                next_open: h.next_open,
            }),
        })
    }
}

tandem_adapter::wit_error_mapping!(wit_types);

bindings::export!(Component with_types_in bindings);
