//! The answer to a turn, typed (the `AssistResponse` schema of openapi/openapi.json).

use crate::conv::{self, lang_str, priority_str, status_str};
use crate::turn::Understood;
use crate::{wit_encoder, wit_handoff, wit_ticket};
use serde::Serialize;
use tandem_core::assist::{Conversation, Decision, Reply, TicketRef};
use tandem_core::handoff::BusinessHours;

/// `POST /v1/assist`'s answer.
#[derive(Serialize)]
pub(crate) struct AssistResponse {
    conversation_id: String,
    turn: u32,
    reply: Reply,
    intent: IntentPart,
    faq: FaqPart,
    handoff: HandoffPart,
    ticket: Option<TicketPart>,
    trace: Trace,
}

#[derive(Serialize)]
struct ModelPart {
    version: String,
}

#[derive(Serialize)]
struct Ranked {
    intent: String,
    confidence: f32,
}

#[derive(Serialize)]
struct IntentPart {
    intent: String,
    confidence: f32,
    out_of_scope: bool,
    ranking: Vec<Ranked>,
    model: ModelPart,
}

/// The FAQ's answer, or why there is none.
#[derive(Serialize)]
#[serde(untagged)]
enum FaqPart {
    Answer {
        answer: String,
        faq_id: String,
        score: f32,
        matched_question: String,
        lang: &'static str,
        model: ModelPart,
    },
    NoAnswer {
        no_answer: bool,
        reason: String,
        lang: &'static str,
        model: ModelPart,
    },
}

#[derive(Serialize)]
struct ReasonPart {
    code: String,
    message_zh: String,
    message_en: String,
}

#[derive(Serialize)]
struct HandoffPart {
    decision: Decision,
    score: f32,
    reasons: Vec<ReasonPart>,
    queue: Option<String>,
    priority: &'static str,
    signals: serde_json::Value,
    /// Only on a decision that wanted a person (as `POST /v1/handoff` answers it).
    #[serde(skip_serializing_if = "Option::is_none")]
    business_hours: Option<BusinessHours>,
}

/// The conversation's ticket; on the turn that created it, also what only that turn shows.
#[derive(Serialize)]
struct TicketPart {
    #[serde(flatten)]
    ticket: TicketRef,
    new: bool,
    #[serde(flatten)]
    created: Option<CreatedPart>,
}

#[derive(Serialize)]
struct CreatedPart {
    status: &'static str,
    assignee: Option<String>,
    access_token: String,
    replayed: bool,
}

/// The one encoder instance intent and FAQ share (and ticket's classification when a ticket
/// is opened): how many texts this turn ran through the network.
#[derive(Serialize)]
struct Trace {
    texts_encoded: u64,
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
                .map(|r| ReasonPart {
                    code: r.code.clone(),
                    message_zh: r.message_zh.clone(),
                    message_en: r.message_en.clone(),
                })
                .collect(),
            queue: d.queue.clone(),
            priority: priority_str(d.priority),
            signals: serde_json::from_str(&d.signals_json).unwrap_or(serde_json::Value::Null),
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
