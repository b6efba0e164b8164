//! The assist component: `POST /v1/assist`, one call per customer message (docs/assist.md).
//!
//! It imports the five Tandem interfaces (world `assist` in `wit/tandem.wit`) and the build
//! plugs the five components into them (`scripts/build-assist.sh`), so a turn is in-process
//! calls: intent → FAQ → handoff decision over the conversation so far → a ticket when the
//! decision is a person (plus a feedback `outcome` event recording the handoff). The
//! conversation is kept in `spin:key-value` (store `default`). The reply rules, ids, state and
//! TTL are pure functions in `tandem_core::assist`. Here: the route and pre-initialisation;
//! [`turn`] moves a turn's data between core, the imports and the store; [`conv`] holds every
//! WIT ↔ core conversion, [`records`] what a turn writes beside the conversation, [`response`]
//! the typed answer.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

mod conv;
mod records;
mod response;
mod turn;

use spin_sdk::http::Request;
use spin_sdk::http_service;
use std::sync::OnceLock;
use tandem_adapter as adapter;
use tandem_core::assist::{
    self, AssistPolicy, AssistRequest, Decision, HandoffView, IntentView, Replies,
};

tandem_adapter::snapshot_allocator!();

mod bindings {
    spin_sdk::wit_bindgen::generate!({
        runtime_path: "spin_sdk::wit_bindgen::rt",
        inline: r#"
            package tandem:assist-component;
            world component {
                include tandem:service/assist@0.1.0;
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

use bindings::tandem::service::faq as wit_faq;
use bindings::tandem::service::feedback as wit_feedback;
use bindings::tandem::service::handoff as wit_handoff;
use bindings::tandem::service::intent as wit_intent;
use bindings::tandem::service::ticket as wit_ticket;
use tandem_contract::encoder as wit_encoder;
use tandem_contract::types as wit_types;

/// Templates, entity patterns and names extracted from `models/` by `build.rs`.
const POLICY_JSON: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/assist.json"));

static REPLIES: OnceLock<Replies> = OnceLock::new();

/// Parsed and compiled at pre-initialisation, so a fresh instance starts with them ready.
fn replies() -> &'static Replies {
    REPLIES.get_or_init(|| {
        let policy: AssistPolicy = serde_json::from_slice(POLICY_JSON)
            .expect("build.rs writes the policy from the models kb-loader checked");
        Replies::new(policy).expect("kb-loader checks the KB's entity patterns")
    })
}

#[http_service]
async fn handle(req: Request) -> adapter::HttpResponse {
    match adapter::path(&req).trim_end_matches('/') {
        "/v1/assist" => {
            // The widget calls this from pages of any origin: CORS preflight and header.
            if let Err(response) = adapter::cors_post_route(&req) {
                return response;
            }
            let result =
                match adapter::read_json::<AssistRequest>(req, assist::MAX_BODY_BYTES).await {
                    Ok(body) => turn::turn(body).await,
                    Err(p) => Err(p),
                };
            adapter::with_cors(adapter::render(200, result))
        }
        "/v1/assist/health" => {
            adapter::health_route(&req, "assist", Some(&replies().policy.model_version))
        }
        other => adapter::problem(&adapter::not_found(other)),
    }
}

struct Component;

impl bindings::Guest for Component {
    fn wizer_initialize() {
        // Parse the policy and compile the entity patterns; the imports are stubs until the
        // build plugs the services in, and none is called here.
        let r = replies();
        let _ = r.compose(
            "warm up 预热 TD2026112612345",
            tandem_core::foundation::vocab::Lang::Zh,
            &IntentView {
                intent: String::new(),
                confidence: 0.0,
                out_of_scope: true,
            },
            None,
            &HandoffView {
                decision: Decision::Bot,
                ticket_id: None,
                ticket_queue: None,
                ticket_is_new: false,
                back_at: None,
            },
            None,
        );
        // Last: what a request allocates from here on goes above the snapshot's heap.
        freeze_snapshot_heap();
    }
}

bindings::export!(Component with_types_in bindings);
