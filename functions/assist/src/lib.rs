//! The assist component: `POST /v1/assist`, one call per customer message (docs/assist.md).
//!
//! It imports the five Tandem interfaces (world `assist` in `wit/tandem.wit`) and the build
//! plugs the five components into them (`scripts/build-assist.sh`), so a turn is in-process
//! calls: intent → FAQ → handoff decision over the conversation so far → a ticket when the
//! decision is a person (plus a feedback `outcome` event recording the handoff). The
//! conversation is kept in `spin:key-value` (store `default`). The reply rules, ids, state and
//! TTL are pure functions in `tandem_core::assist`; this file moves data between them, the
//! imports, the store and HTTP.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use serde_json::json;
use spin_sdk::http::Request;
use spin_sdk::http_service;
use spin_sdk::key_value::Store;
use std::sync::OnceLock;
use tandem_adapter as adapter;
use tandem_adapter::sqlite::Spin;
use tandem_core::assist::{
    self, AssistPolicy, AssistRequest, Conversation, Decision, DeskHours, HandoffView, IntentView,
    Lookup, Replies, TicketRef, Turn,
};
use tandem_core::handoff::{BusinessHours, Role};
use tandem_core::problem::Problem;
use tandem_stores::knowledge;

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
    });
}

use bindings::tandem::service::encoder as wit_encoder;
use bindings::tandem::service::faq as wit_faq;
use bindings::tandem::service::feedback as wit_feedback;
use bindings::tandem::service::handoff as wit_handoff;
use bindings::tandem::service::intent as wit_intent;
use bindings::tandem::service::ticket as wit_ticket;
use bindings::tandem::service::types as wit_types;

/// Templates, entity patterns and names extracted from `models/` by `build.rs`.
const POLICY_JSON: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/assist.json"));

/// The key-value store holding conversations (`key_value_stores = ["default"]`).
const STORE: &str = "default";

static REPLIES: OnceLock<Replies> = OnceLock::new();

/// Parsed and compiled at pre-initialisation, so a fresh instance starts with them ready.
fn replies() -> &'static Replies {
    REPLIES.get_or_init(|| {
        let policy: AssistPolicy = serde_json::from_slice(POLICY_JSON)
            .expect("build.rs writes the policy from the models kb-loader checked");
        Replies::new(policy).expect("kb-loader checks the KB's entity patterns")
    })
}

fn now_ms() -> i64 {
    tandem_adapter::sqlite::now_ms()
}

fn new_conversation_id() -> Result<String, Problem> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| Problem::internal(format!("no randomness available: {e}")))?;
    Ok(assist::conversation_id(bytes))
}

fn store_error(e: spin_sdk::key_value::Error) -> Problem {
    Problem::internal(format!("the conversation store failed: {e:?}"))
}

/// A failure of a plugged-in service. Input it refuses is ours to have checked first, so
/// every error here is a 500 naming the service (never the customer's fault).
fn service_error(service: &'static str) -> impl Fn(wit_types::Error) -> Problem {
    move |e| {
        let detail = match e {
            wit_types::Error::InvalidInput(params) => {
                let names: Vec<String> = params
                    .into_iter()
                    .map(|p| format!("{}: {}", p.name, p.reason))
                    .collect();
                format!("refused the turn: {}", names.join("; "))
            }
            wit_types::Error::NotFound(m)
            | wit_types::Error::Conflict(m)
            | wit_types::Error::Unauthorized(m)
            | wit_types::Error::Internal(m) => m,
        };
        Problem::internal(format!("the {service} service failed: {detail}"))
    }
}

fn role_to_wit(r: Role) -> wit_types::Role {
    match r {
        Role::Customer => wit_types::Role::Customer,
        Role::Bot => wit_types::Role::Bot,
        Role::Agent => wit_types::Role::Agent,
    }
}

fn turns_to_wit(turns: &[Turn]) -> Vec<wit_types::Turn> {
    turns
        .iter()
        .map(|t| wit_types::Turn {
            role: role_to_wit(t.role),
            text: t.text.clone(),
            intent: t.intent.clone(),
            confidence: t.confidence,
            answered: t.answered,
            negative: t.negative,
        })
        .collect()
}

fn priority_str(p: wit_types::Priority) -> &'static str {
    match p {
        wit_types::Priority::Low => "low",
        wit_types::Priority::Normal => "normal",
        wit_types::Priority::High => "high",
        wit_types::Priority::Urgent => "urgent",
    }
}

fn status_str(s: wit_ticket::Status) -> &'static str {
    match s {
        wit_ticket::Status::New => "new",
        wit_ticket::Status::Open => "open",
        wit_ticket::Status::Pending => "pending",
        wit_ticket::Status::Resolved => "resolved",
        wit_ticket::Status::Closed => "closed",
    }
}

fn lang_str(l: wit_types::Lang) -> &'static str {
    match l {
        wit_types::Lang::Zh => "zh",
        wit_types::Lang::En => "en",
        wit_types::Lang::Auto => "auto",
    }
}

/// Loads the conversation a turn continues, or starts one. A given id must name a live
/// conversation: unknown → 404 (ids cannot be planted), expired → deleted, then 404.
async fn load(store: &Store, given: Option<&str>, now: i64) -> Result<Conversation, Problem> {
    let Some(id) = given else {
        return Ok(Conversation::new(new_conversation_id()?, now));
    };
    let key = assist::state_key(id);
    let stored = store.get(&key).await.map_err(store_error)?;
    match assist::lookup(id, stored.as_deref(), now) {
        Lookup::Live(c) => Ok(*c),
        Lookup::Expired => {
            store.delete(&key).await.map_err(store_error)?;
            Err(assist::conversation_not_found())
        }
        Lookup::Missing => Err(assist::conversation_not_found()),
    }
}

/// Opens the conversation's ticket through the ticket interface (transcript included).
/// The idempotency key is the conversation and turn number, so a retried turn whose state
/// was never saved gets the same ticket back.
async fn open_ticket(
    conv: &Conversation,
    transcript: &[Turn],
    turn: u32,
) -> Result<wit_ticket::Created, Problem> {
    let c = &conv.customer;
    let request = wit_ticket::CreateRequest {
        customer: wit_ticket::Customer {
            id: conv.customer_id(),
            name: c.name.clone(),
            channel: c.channel.clone(),
            contact: c.contact.clone(),
            tier: c.tier.clone(),
        },
        transcript: turns_to_wit(transcript),
        // Subject, category (the last customer turns, classified), priority and queue are
        // filled in by the ticket rules.
        subject: None,
        category: None,
        priority: None,
        idempotency_key: Some(assist::idempotency_key(&conv.id, turn)),
    };
    wit_ticket::create(request)
        .await
        .map_err(service_error("ticket"))
}

/// Records the handoff as the conversation's outcome so far (`handled_by: human`, not yet
/// resolved); the agent's own outcome event replaces it. Idempotent per conversation. A
/// failure is logged, not returned: the ticket exists and the customer must hear about it.
async fn record_handoff(conv: &Conversation, turn: u32, intent: Option<&str>) {
    let event = wit_feedback::Event {
        event_id: assist::handoff_event_id(&conv.id),
        conversation_id: conv.id.clone(),
        turn_id: Some(turn.to_string()),
        kind: wit_feedback::Kind::Outcome,
        rating: None,
        resolved: Some(false),
        handled_by: Some(wit_feedback::HandledBy::Human),
        agent_id: None,
        contact_count: None,
        intent_predicted: intent.map(str::to_string),
        intent_corrected: None,
        faq_predicted: None,
        faq_corrected: None,
        text: None,
        comment: None,
        channel: conv.customer.channel.clone(),
        created_at: None,
    };
    if let Err(e) = wit_feedback::record_event(event).await {
        eprintln!("assist: recording the handoff of {} failed: {e:?}", conv.id);
    }
}

/// Keeps a question the bot could not answer for the gap clusters (docs/graph.md, "Gaps"):
/// masked, with the masked text's embedding (the encoder answers from memory when masking
/// changed nothing). On the turn that hands off, the conversation's earlier questions are
/// marked too. A failure is logged, not returned: the customer's turn matters more than its
/// analysis.
async fn record_gap(
    conversation_id: &str,
    turn: u32,
    message: &str,
    lang: assist::Lang,
    intent: Option<&str>,
    handed_off: bool,
    now: i64,
) {
    let text = assist::clip(&tandem_core::pii::mask(message));
    let result: Result<(), String> = async {
        let embedding = wit_encoder::embed(std::slice::from_ref(&text))
            .map_err(|e| format!("{e:?}"))?
            .pop()
            .ok_or("the encoder returned no embedding")?;
        let conn = Spin::open_default("knowledge")
            .await
            .map_err(|p| p.to_json())?;
        let store = knowledge::Store::open(&conn)
            .await
            .map_err(|p| p.to_json())?;
        let question = knowledge::Unanswered {
            conversation_id,
            turn,
            text: &text,
            lang: lang.as_str(),
            intent,
            embedding: &embedding,
            handed_off,
            created_at_ms: now,
        };
        // A question of a turn that went to a person marks the earlier ones in the same
        // transaction.
        store
            .record_unanswered(&question)
            .await
            .map_err(|p| p.to_json())?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        eprintln!("assist: recording the unanswered question of {conversation_id} failed: {e}");
    }
}

/// The conversation went to a person: its unanswered questions ended with one.
async fn mark_handed_off(conversation_id: &str) {
    let result = async {
        let conn = Spin::open_default("knowledge").await?;
        knowledge::Store::open(&conn)
            .await?
            .mark_handed_off(conversation_id)
            .await
    }
    .await;
    if let Err(p) = result {
        eprintln!(
            "assist: marking the questions of {conversation_id} handed off failed: {}",
            p.to_json()
        );
    }
}

/// Where the handoff decision reads business hours (Spin variable `business_hours`).
async fn desk_hours() -> Result<DeskHours, Problem> {
    let value = spin_sdk::variables::get("business_hours")
        .await
        .unwrap_or_default();
    DeskHours::parse(&value).map_err(Problem::internal)
}

/// One customer turn, end to end.
async fn turn(body: AssistRequest) -> Result<serde_json::Value, Problem> {
    body.validate()?;
    let now = now_ms();
    let store = Store::open(STORE).await.map_err(store_error)?;
    let mut conv = load(&store, body.conversation_id.as_deref(), now).await?;
    conv.merge_customer(body.customer.as_ref());
    let message = body.message.trim();
    let turn_number = conv.customer_turns + 1;

    // 1. What does the customer want?
    let c = wit_intent::classify(&wit_intent::ClassifyRequest {
        text: message.to_string(),
        top_k: Some(3),
    })
    .map_err(service_error("intent"))?;
    let intent = IntentView {
        intent: c.intent.clone(),
        confidence: c.confidence,
        out_of_scope: c.out_of_scope,
    };

    // 2. Does the knowledge base answer it?
    let faq = wit_faq::ask(&wit_faq::AskRequest {
        question: message.to_string(),
        lang: wit_types::Lang::Auto,
        top_k: None,
        mode: wit_faq::Mode::Customer,
    })
    .map_err(service_error("faq"))?;

    // 3. Bot or person, over the conversation so far. The turn carries its intent (the best
    // guess with its confidence, below 0.5 when out of scope, so it never counts as an
    // always-human intent), so the handoff component does not classify it again.
    let mut customer_turn = Turn {
        role: Role::Customer,
        text: assist::clip(&tandem_core::pii::mask(message)),
        intent: Some(c.intent.clone()),
        confidence: Some(c.confidence),
        answered: None,
        negative: None,
    };
    let transcript = conv.transcript_with(&customer_turn);
    // Handoff gets the message as intent and FAQ saw it (the stored turn is masked), so the
    // encoder answers its sentiment's embedding from memory; earlier customer turns carry the
    // `negative` stored with them. A turn thus encodes its message once.
    let mut handoff_turns = turns_to_wit(&transcript);
    if let Some(current) = handoff_turns.last_mut() {
        current.text = message.to_string();
    }
    let (within_business_hours, at) = desk_hours().await?.availability(now.div_euclid(1000));
    let decide = |agents_online| {
        wit_handoff::decide(&wit_handoff::DecideRequest {
            conversation_id: conv.id.clone(),
            tier: conv.customer.tier.clone(),
            turns: handoff_turns.clone(),
            agents_online,
            within_business_hours,
            at: at.clone(),
        })
        .map_err(service_error("handoff"))
    };
    let mut d = decide(None)?;
    // Whether anyone can take over is asked only when a person is needed: one store read on
    // that rare turn instead of on every turn. Nobody online → decided again, so the answer is
    // the handoff component's own `ticket` with its reason, not a guess made here.
    if matches!(d.decision, wit_handoff::Decision::Human)
        && wit_ticket::agents_online()
            .await
            .map_err(service_error("ticket"))?
            == Some(0)
    {
        d = decide(Some(0))?;
    }
    customer_turn.negative = d.latest_negative;
    let decision = match d.decision {
        wit_handoff::Decision::Bot => Decision::Bot,
        wit_handoff::Decision::Human => Decision::Human,
        wit_handoff::Decision::Ticket => Decision::Ticket,
    };

    // 4. A person: a ticket, once per conversation.
    let mut created = None;
    if Replies::hands_off(decision) && conv.ticket.is_none() {
        let new = open_ticket(&conv, &transcript, turn_number).await?;
        let t = &new.ticket;
        conv.ticket = Some(TicketRef {
            id: t.id.clone(),
            queue: t.queue.clone(),
            priority: priority_str(t.priority).to_string(),
            category: t.category.clone(),
            sla_due: t.sla_due.clone(),
            created_at: t.created_at.clone(),
            turn: turn_number,
        });
        let in_scope = (!c.out_of_scope).then_some(c.intent.as_str());
        record_handoff(&conv, turn_number, in_scope).await;
        created = Some(new);
    }

    let best = faq.best.as_ref();
    let lang = assist::Lang::of_turn(message, conv.lang);
    let closed = d.business_hours.as_ref().filter(|h| !h.open);
    let reply = replies().compose(
        message,
        lang,
        &intent,
        best.map(|b| b.answer.as_str()),
        &HandoffView {
            decision,
            ticket_id: conv.ticket.as_ref().map(|t| t.id.as_str()),
            ticket_queue: conv.ticket.as_ref().map(|t| t.queue.as_str()),
            ticket_is_new: created.is_some(),
            back_at: closed.and_then(|h| h.next_open.as_deref()),
        },
        conv.pending.as_ref(),
    );
    conv.record_turn(customer_turn, &reply, now);
    let state = serde_json::to_vec(&conv)
        .map_err(|e| Problem::internal(format!("serialising the conversation: {e}")))?;
    store
        .set(assist::state_key(&conv.id), state)
        .await
        .map_err(store_error)?;
    let handed_off = conv.ticket.is_some();
    if assist::is_knowledge_gap(reply.source, best.is_some(), c.out_of_scope) {
        let intent = (!c.out_of_scope).then_some(c.intent.as_str());
        record_gap(
            &conv.id,
            turn_number,
            message,
            reply.lang,
            intent,
            handed_off,
            now,
        )
        .await;
    } else if created.is_some() {
        mark_handed_off(&conv.id).await;
    }

    let model = json!({ "version": c.model.version });
    let faq_json = match best {
        Some(b) => json!({
            "answer": b.answer, "faq_id": b.faq_id, "score": b.score,
            "matched_question": b.matched_question, "lang": lang_str(faq.lang),
            "model": { "version": faq.model.version },
        }),
        None => json!({
            "no_answer": true,
            "reason": faq.no_answer_reason.as_deref().unwrap_or("below-threshold"),
            "lang": lang_str(faq.lang),
            "model": { "version": faq.model.version },
        }),
    };
    let signals: serde_json::Value =
        serde_json::from_str(&d.signals_json).unwrap_or(serde_json::Value::Null);
    let ticket_json = conv.ticket.as_ref().map(|t| {
        let mut v = json!({
            "id": t.id, "queue": t.queue, "priority": t.priority, "category": t.category,
            "sla_due": t.sla_due, "created_at": t.created_at, "turn": t.turn,
            "new": created.is_some(),
        });
        if let Some(new) = &created {
            v["status"] = json!(status_str(new.ticket.status));
            v["assignee"] = json!(new.ticket.assignee);
            v["access_token"] = json!(new.access_token);
            v["replayed"] = json!(new.replayed);
        }
        v
    });
    let mut response = json!({
        "conversation_id": conv.id,
        "turn": turn_number,
        "reply": reply,
        "intent": {
            "intent": c.intent, "confidence": c.confidence, "out_of_scope": c.out_of_scope,
            "ranking": c.ranking.iter()
                .map(|r| json!({ "intent": r.label, "confidence": r.confidence }))
                .collect::<Vec<_>>(),
            "model": model,
        },
        "faq": faq_json,
        "handoff": {
            "decision": decision, "score": d.score,
            "reasons": d.reasons.iter().map(|r| json!({
                "code": r.code, "message_zh": r.message_zh, "message_en": r.message_en,
            })).collect::<Vec<_>>(),
            "queue": d.queue, "priority": priority_str(d.priority), "signals": signals,
        },
        "ticket": ticket_json,
        // The one encoder instance intent and FAQ share (and ticket's classification when a
        // ticket is opened): how many texts this turn ran through the network.
        "trace": { "texts_encoded": wit_encoder::encoded() },
    });
    // Only on a decision that wanted a person (as `POST /v1/handoff` answers it).
    if let Some(h) = d.business_hours {
        response["handoff"]["business_hours"] = json!(BusinessHours {
            queue: h.queue,
            open: h.open,
            source: h.source,
            at: h.at,
            next_open: h.next_open,
        });
    }
    Ok(response)
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
                    Ok(body) => turn(body).await,
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
            assist::Lang::Zh,
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
