//! The ticket component: `/v1/tickets/...`, `/v1/agents/...` and the `tandem:service/ticket`
//! export (docs/tickets.md).
//!
//! The rules live in `tandem_core::ticket`; [`store`] keeps tickets in `spin:sqlite`; this file
//! routes HTTP and WIT calls to them. Tickets without a category are classified through the
//! imported `tandem:service/intent` interface, which `tandem compose` satisfies at build time
//! with the intent component (in-process, no network).

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

mod http;
mod store;

use std::sync::OnceLock;
use store::Created;
use tandem_core::foundation::problem::Problem;
use tandem_core::ticket::{Classified, CreateInput, TicketPolicy, TicketRules};

tandem_adapter::snapshot_allocator!();

mod bindings {
    spin_sdk::wit_bindgen::generate!({
        runtime_path: "spin_sdk::wit_bindgen::rt",
        inline: r#"
            package tandem:ticket-component;
            world component {
                include tandem:service/ticket-service@0.1.0;
                /// Pre-initialisation hook called once by `tandem preinit` (wasmtime-wizer).
                export wizer-initialize: func();
            }
        "#,
        path: "../../wit",
        pub_export_macro: true,
        generate_all,
        with: {
            "tandem:service/types@0.1.0": tandem_contract::types,
        },
    });
}

mod wit_export;

use bindings::tandem::service::intent as wit_intent;
use tandem_contract::types as wit_types;

/// Routing, priority hints, entity patterns and SLAs from the KB (`kb-loader build`).
const POLICY_JSON: &[u8] = include_bytes!("../../../models/ticket.json");

static RULES: OnceLock<TicketRules> = OnceLock::new();

/// Parsed and compiled at pre-initialisation, so a fresh instance starts with them ready.
fn rules() -> &'static TicketRules {
    RULES.get_or_init(|| {
        let policy: TicketPolicy = serde_json::from_slice(POLICY_JSON)
            .expect("models/ticket.json is written by kb-loader from a validated KB");
        TicketRules::new(policy).expect("kb-loader checks the KB's entity patterns")
    })
}

/// The classification of a ticket's conversation
/// ([`CreateInput::classification_text`]: its last customer turns together).
fn classify(input: &CreateInput) -> Result<Option<Classified>, Problem> {
    let text = input.classification_text();
    let request = wit_intent::ClassifyRequest {
        text,
        top_k: Some(1),
    };
    match wit_intent::classify(&request) {
        Ok(c) => Ok(Some(Classified {
            intent: c.intent,
            confidence: c.confidence,
            out_of_scope: c.out_of_scope,
        })),
        // Text the intent service refuses: the ticket is still worth having, uncategorised.
        Err(wit_types::Error::InvalidInput(_)) => Ok(None),
        Err(e) => Err(Problem::internal(format!(
            "the intent service failed: {e:?}"
        ))),
    }
}

/// Who files a ticket: an agent-token holder (a CRM, the console) or an anonymous customer-side
/// caller (the public route, `/v1/assist`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Caller {
    Agent,
    Anonymous,
}

/// Validates, fills, assigns and stores a ticket; an idempotent replay returns the first one.
/// Returns the ticket and the customer's access token for it.
async fn create(
    input: &CreateInput,
    idempotency_key: Option<&str>,
    from: Caller,
) -> Result<(Created, String), Problem> {
    let rules = rules();
    input.validate(&rules.policy)?;
    if let Some(key) = idempotency_key
        && (key.is_empty() || key.len() > 128 || !key.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(
            Problem::unprocessable("the Idempotency-Key header is not usable")
                .with_param("Idempotency-Key", "1 to 128 visible ASCII characters"),
        );
    }
    let store = store::open().await?;
    let secret = store.secret(&rules.policy).await?;
    let token = |c: Created| {
        let t = tandem_core::ticket::access_token(secret.as_bytes(), &c.ticket.id);
        (c, t)
    };
    // A replay needs no classification: answer it before doing the work again.
    if let Some(key) = idempotency_key
        && let Some((ticket, fingerprint)) =
            store.by_idempotency_key(&input.customer.id, key).await?
    {
        return store::replay(ticket, &fingerprint, &input.fingerprint()).map(token);
    }
    // What the CRM told us about the customer fills what the request leaves out (tier →
    // priority, name and contact for the agent); the request's own fields win. Only for an
    // agent-token caller: anyone may claim any customer id on the anonymous routes, and the
    // created ticket is echoed back to them.
    let fingerprint = input.fingerprint();
    let mut input = input.clone();
    if from == Caller::Agent
        && let Some(known) = store.customer(&input.customer.id).await?
    {
        input.customer = known.record.fill(&input.customer);
    }
    let classified = match input.category {
        Some(_) => None,
        None => classify(&input)?,
    };
    let recent = store
        .recent_tickets(&input.customer.id, tandem_adapter::sqlite::now_ms())
        .await?;
    let draft = rules.fill(&input, classified.as_ref(), recent);
    let created = store
        .create_as(
            &input,
            &fingerprint,
            &draft,
            idempotency_key,
            // Whether new tickets are assigned on creation (default on).
            tandem_adapter::variable_flag("auto_assign", true).await,
        )
        .await?;
    Ok(token(created))
}

struct Component;

impl bindings::Guest for Component {
    fn wizer_initialize() {
        let _ = rules();
        // Last: what a request allocates from here on goes above the snapshot's heap.
        freeze_snapshot_heap();
    }
}

bindings::export!(Component with_types_in bindings);
