//! The answer to a turn: the core's typed [`AssistResponse`], filled from the services' WIT
//! results.

use crate::conv::{self, lang_str, priority_str, status_str};
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
    let c = &understood.intent;
    let faq = &understood.faq;
    let faq_model = || ModelPart {
        version: faq.model.version.clone(),
    };
    AssistResponse {
        conversation_id: conv.id.clone(),
        turn,
        reply,
        intent: IntentPart {
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
        },
        faq: match &faq.best {
            Some(b) => FaqPart::Answer {
                answer: b.answer.clone(),
                faq_id: b.faq_id.clone(),
                score: b.score,
                matched_question: b.matched_question.clone(),
                lang: lang_str(faq.lang),
                model: faq_model(),
            },
            None => FaqPart::NoAnswer {
                no_answer: true,
                reason: faq
                    .no_answer_reason
                    .clone()
                    .unwrap_or_else(|| "below-threshold".into()),
                lang: lang_str(faq.lang),
                model: faq_model(),
            },
        },
        handoff: HandoffPart {
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
            priority: priority_str(d.priority),
            signals: conv::signals(&d.signals),
            business_hours: d.business_hours.as_ref().map(conv::business_hours),
        },
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
