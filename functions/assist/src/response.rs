//! The answer to a turn: the core's typed [`AssistResponse`], filled from the services' WIT
//! results.

use crate::conv::status_str;
use crate::{wit_encoder, wit_faq, wit_handoff, wit_intent, wit_ticket};
use tandem_core::assist::response::{
    AssistResponse, CreatedPart, FaqPart, HandoffPart, IntentPart, ModelPart, Ranked, TicketPart,
    Trace,
};
use tandem_core::assist::{Conversation, Decision, Reply};
use tandem_core::handoff::Reason;

/// What intent and FAQ made of the message.
pub(crate) struct Understood {
    pub(crate) intent: wit_intent::Classification,
    pub(crate) faq: wit_faq::Answer,
}

/// The answer from what the turn found, decided and wrote.
pub(crate) fn render(
    conv: &Conversation,
    turn: u32,
    reply: Reply,
    understood: &Understood,
    d: &wit_handoff::DecisionResult,
    decision: Decision,
    created: Option<&wit_ticket::Created>,
) -> AssistResponse {
    AssistResponse {
        conversation_id: conv.id.clone(),
        turn,
        reply,
        intent: intent_part(&understood.intent),
        faq: faq_part(&understood.faq),
        handoff: handoff_part(d, decision),
        ticket: conv.ticket.as_ref().map(|t| TicketPart {
            ticket: t.clone(),
            new: created.is_some(),
            created: created.map(|new| CreatedPart {
                status: status_str(new.ticket.status),
                assignee: new.ticket.assignee.clone(),
                access_token: new.access_token.clone(),
                replayed: new.replayed,
            }),
        }),
        trace: Trace {
            texts_encoded: wit_encoder::encoded(),
        },
    }
}

fn intent_part(c: &wit_intent::Classification) -> IntentPart {
    IntentPart {
        intent: c.intent.clone(),
        confidence: c.confidence,
        out_of_scope: c.out_of_scope,
        ranking: c
            .ranking
            .iter()
            .map(|r| Ranked {
                intent: r.label.clone(),
                confidence: r.confidence,
            })
            .collect(),
        model: ModelPart {
            version: c.model.version.clone(),
        },
    }
}

fn faq_part(faq: &wit_faq::Answer) -> FaqPart {
    let model = ModelPart {
        version: faq.model.version.clone(),
    };
    match &faq.best {
        Some(b) => FaqPart::Answer {
            answer: b.answer.clone(),
            faq_id: b.faq_id.clone(),
            score: b.score,
            matched_question: b.matched_question.clone(),
            lang: faq.lang.as_str(),
            model,
        },
        None => FaqPart::NoAnswer {
            no_answer: true,
            reason: faq
                .no_answer_reason
                .clone()
                .unwrap_or_else(|| "below-threshold".into()),
            lang: faq.lang.as_str(),
            model,
        },
    }
}

fn handoff_part(d: &wit_handoff::DecisionResult, decision: Decision) -> HandoffPart {
    HandoffPart {
        decision,
        score: d.score,
        reasons: d
            .reasons
            .iter()
            .map(|r| Reason {
                code: r.code.clone(),
                message_zh: r.message_zh.clone(),
                message_en: r.message_en.clone(),
            })
            .collect(),
        queue: d.queue.clone(),
        priority: d.priority.as_str(),
        signals: d.signals.clone().into(),
        business_hours: d.business_hours.clone().map(Into::into),
    }
}
