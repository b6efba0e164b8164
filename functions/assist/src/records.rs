//! What a turn writes besides its conversation: the ticket (through the ticket interface), the
//! handoff as a feedback outcome, and the questions the bot could not answer (for the gap
//! clusters). Only the ticket's failure fails the turn.

use crate::conv::{service_error, turns_to_wit};
use crate::{wit_encoder, wit_feedback, wit_ticket};
use tandem_adapter::sqlite::Spin;
use tandem_core::assist::{self, Conversation, Turn};
use tandem_core::foundation::problem::Problem;
use tandem_stores::knowledge;

/// Opens the conversation's ticket through the ticket interface (transcript included).
/// The idempotency key is the conversation and turn number, so a retried turn whose state
/// was never saved gets the same ticket back.
pub(crate) async fn open_ticket(
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
pub(crate) async fn record_handoff(conv: &Conversation, turn: u32, intent: Option<&str>) {
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
pub(crate) async fn record_gap(
    conversation_id: &str,
    turn: u32,
    message: &str,
    lang: tandem_core::foundation::vocab::Lang,
    intent: Option<&str>,
    handed_off: bool,
    now: i64,
) {
    let text = assist::clip(&tandem_core::foundation::pii::mask(message));
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
pub(crate) async fn mark_handed_off(conversation_id: &str) {
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
