//! One customer turn, end to end: understand the message (intent, FAQ), decide bot or person
//! over the conversation so far, hand off (a ticket, once per conversation), reply, save the
//! conversation, keep what the bot could not answer, answer.

use crate::conv::{self, service_error, turns_to_wit};
use crate::records::{mark_handed_off, open_ticket, record_gap, record_handoff};
use crate::response::{self, Understood};
use crate::{replies, wit_faq, wit_handoff, wit_intent, wit_ticket, wit_types};
use spin_sdk::key_value::Store;
use tandem_core::assist::response::AssistResponse;
use tandem_core::assist::{
    self, AssistRequest, Conversation, Decision, DeskHours, HandoffView, IntentView, Lookup,
    Replies, Reply, TicketRef, Turn,
};
use tandem_core::foundation::problem::Problem;
use tandem_core::foundation::vocab::Role;

/// The key-value store holding conversations (`key_value_stores = ["default"]`).
const STORE: &str = "default";

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

/// Where the handoff decision reads business hours (Spin variable `business_hours`).
async fn desk_hours() -> Result<DeskHours, Problem> {
    let value = spin_sdk::variables::get("business_hours")
        .await
        .unwrap_or_default();
    DeskHours::parse(&value).map_err(Problem::internal)
}

fn understand(message: &str) -> Result<Understood, Problem> {
    let intent = wit_intent::classify(&wit_intent::ClassifyRequest {
        text: message.to_string(),
        top_k: Some(3),
    })
    .map_err(service_error("intent"))?;
    let faq = wit_faq::ask(&wit_faq::AskRequest {
        question: message.to_string(),
        lang: wit_types::Lang::Auto,
        top_k: None,
        mode: wit_faq::Mode::Customer,
    })
    .map_err(service_error("faq"))?;
    Ok(Understood { intent, faq })
}

/// Bot or person, over the conversation so far (`transcript` ends with this turn, masked;
/// handoff gets the message as intent and FAQ saw it, so the encoder answers its sentiment's
/// embedding from memory and a turn encodes its message once).
async fn decide(
    conv: &Conversation,
    transcript: &[Turn],
    message: &str,
    now: i64,
) -> Result<wit_handoff::DecisionResult, Problem> {
    let mut turns = turns_to_wit(transcript);
    if let Some(current) = turns.last_mut() {
        current.text = message.to_string();
    }
    let (within_business_hours, at) = desk_hours().await?.availability(now.div_euclid(1000));
    let decide = |agents_online| {
        wit_handoff::decide(&wit_handoff::DecideRequest {
            conversation_id: conv.id.clone(),
            tier: conv.customer.tier.clone(),
            turns: turns.clone(),
            agents_online,
            within_business_hours,
            at: at.clone(),
        })
        .map_err(service_error("handoff"))
    };
    let d = decide(None)?;
    // Whether anyone can take over is asked only when a person is needed: one store read on
    // that rare turn instead of on every turn. Nobody online → decided again, so the answer is
    // the handoff component's own `ticket` with its reason, not a guess made here.
    if matches!(d.decision, wit_handoff::Decision::Human)
        && wit_ticket::agents_online()
            .await
            .map_err(service_error("ticket"))?
            == Some(0)
    {
        return decide(Some(0));
    }
    Ok(d)
}

/// A person: the conversation's ticket, created once (on the first turn that hands off), and
/// the handoff recorded as its outcome so far. Returns the ticket when this turn created it.
async fn hand_off(
    conv: &mut Conversation,
    transcript: &[Turn],
    turn: u32,
    decision: Decision,
    intent: &wit_intent::Classification,
) -> Result<Option<wit_ticket::Created>, Problem> {
    if !Replies::hands_off(decision) || conv.ticket.is_some() {
        return Ok(None);
    }
    let new = open_ticket(conv, transcript, turn).await?;
    let t = &new.ticket;
    conv.ticket = Some(TicketRef {
        id: t.id.clone(),
        queue: t.queue.clone(),
        priority: t.priority.as_str().to_string(),
        category: t.category.clone(),
        sla_due: t.sla_due.clone(),
        created_at: t.created_at.clone(),
        turn,
    });
    let in_scope = (!intent.out_of_scope).then_some(intent.intent.as_str());
    record_handoff(conv, turn, in_scope).await;
    Ok(Some(new))
}

/// The conversation, durably, before the turn is answered.
async fn save(store: &Store, conv: &Conversation) -> Result<(), Problem> {
    let state = serde_json::to_vec(conv)
        .map_err(|e| Problem::internal(format!("serialising the conversation: {e}")))?;
    store
        .set(assist::state_key(&conv.id), state)
        .await
        .map_err(store_error)
}

/// What the knowledge store learns from the turn: a question the bot could not answer (a
/// gap), or that an earlier gap of this conversation went to a person.
async fn note_for_knowledge(
    conv: &Conversation,
    turn_number: u32,
    message: &str,
    reply: &Reply,
    understood: &Understood,
    ticket_created: bool,
    now: i64,
) {
    let c = &understood.intent;
    if assist::is_knowledge_gap(reply.source, understood.faq.best.is_some(), c.out_of_scope) {
        let intent = (!c.out_of_scope).then_some(c.intent.as_str());
        let handed_off = conv.ticket.is_some();
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
    } else if ticket_created {
        mark_handed_off(&conv.id).await;
    }
}

/// One customer turn, end to end.
pub(crate) async fn turn(body: AssistRequest) -> Result<AssistResponse, Problem> {
    body.validate()?;
    let now = now_ms();
    let store = Store::open(STORE).await.map_err(store_error)?;
    let mut conv = load(&store, body.conversation_id.as_deref(), now).await?;
    conv.merge_customer(body.customer.as_ref());
    let message = body.message.trim();
    let turn_number = conv.customer_turns + 1;

    let understood = understand(message)?;
    let c = &understood.intent;
    // The turn carries its intent (the best guess with its confidence, below 0.5 when out of
    // scope, so it never counts as an always-human intent): handoff does not classify again.
    let mut customer_turn = Turn {
        role: Role::Customer,
        text: assist::clip(&tandem_core::foundation::pii::mask(message)),
        intent: Some(c.intent.clone()),
        confidence: Some(c.confidence),
        answered: None,
        negative: None,
    };
    let transcript = conv.transcript_with(&customer_turn);
    let d = decide(&conv, &transcript, message, now).await?;
    customer_turn.negative = d.signals.latest_negative;
    let decision = conv::decision(d.decision);
    let created = hand_off(&mut conv, &transcript, turn_number, decision, c).await?;

    let best = understood.faq.best.as_ref();
    let lang = tandem_core::foundation::vocab::Lang::of_turn(message, conv.lang);
    let closed = d.business_hours.as_ref().filter(|h| !h.open);
    let reply = replies().compose(
        message,
        lang,
        &IntentView {
            intent: c.intent.clone(),
            confidence: c.confidence,
            out_of_scope: c.out_of_scope,
        },
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
    save(&store, &conv).await?;
    let ticket_created = created.is_some();
    note_for_knowledge(
        &conv,
        turn_number,
        message,
        &reply,
        &understood,
        ticket_created,
        now,
    )
    .await;
    Ok(response::render(
        &conv,
        turn_number,
        reply,
        &understood,
        &d,
        decision,
        created.as_ref(),
    ))
}
