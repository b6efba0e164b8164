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

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

mod http;
mod wit_export;

use serde::Serialize;
use std::sync::OnceLock;
use tandem_core::foundation::problem::Problem;
use tandem_core::foundation::vocab::{Priority, Role};
use tandem_core::handoff::model::HandoffEngine;
use tandem_core::handoff::request::Request;
use tandem_core::handoff::{self, Availability, BusinessHours, Outcome, Signals, Turn};

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
        with: {
            "tandem:service/types@0.1.0": tandem_contract::types,
            "tandem:service/encoder@0.1.0": tandem_contract::encoder,
        },
    });
}

use bindings::tandem::service::intent as wit_intent;
use tandem_contract::types as wit_types;

use tandem_contract::sentence_embedding;

const HANDOFF_ONNX: &[u8] = include_bytes!("../../../models/handoff.onnx");
const HANDOFF_MANIFEST: &[u8] = include_bytes!("../../../models/handoff.json");
const SENTIMENT_ONNX: &[u8] = include_bytes!("../../../models/sentiment.onnx");
const SENTIMENT_MANIFEST: &[u8] = include_bytes!("../../../models/sentiment.json");

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

#[derive(Serialize)]
struct ModelInfo {
    version: String,
}

#[derive(Serialize)]
/// The decision with the signals it rests on: the HTTP response, and what the WIT export
/// converts.
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

/// Fills in the intents of customer turns that lack one, through the imported interface.
fn classify_missing(turns: &mut [Turn]) -> Result<(), Problem> {
    for t in turns
        .iter_mut()
        .filter(|t| t.role == Role::Customer && t.intent.is_none())
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

/// Classifies what the caller left unclassified, then runs the rules and the models.
fn decide(mut req: Request) -> Result<DecideResponse, Problem> {
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

pub(crate) struct Component;

impl bindings::Guest for Component {
    fn wizer_initialize() {
        // Parse both models and run them once, so tract's lazily built state is in the
        // snapshot. The imported intent and encoder interfaces are not reachable here (they
        // trap until composed), so the warm-up turn carries its intent and the sentiment
        // model gets a zero embedding.
        let turns = [Turn {
            intent: Some("warm_up".into()),
            confidence: Some(1.0),
            ..Turn::new(Role::Customer, "warm up 预热")
        }];
        let _ = engine().decide(None, &turns, Availability::default(), &mut |_| {
            Ok(vec![0.0; tandem_core::foundation::features::EMBEDDING_DIM])
        });
        // Last: what a request allocates from here on goes above the snapshot's heap.
        freeze_snapshot_heap();
    }
}

bindings::export!(Component with_types_in bindings);
