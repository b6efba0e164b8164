//! The `tandem:service/handoff` export: the WIT request into the core's checked
//! [`request::Request`], the decision back into WIT. Calendars are read only at the request's
//! `at` (assist passes the turn's time), never at the wall clock.

use crate::bindings::exports::tandem::service::handoff as wit;
use crate::bindings::tandem::service::types as wit_types;
use crate::{Component, decide, to_wit_error};
use tandem_core::foundation::vocab::{Priority, Role};
use tandem_core::handoff::request;
use tandem_core::handoff::{Availability, Outcome, Signals, Turn};

impl wit::Guest for Component {
    fn decide(req: wit::DecideRequest) -> Result<wit::DecisionResult, wit_types::Error> {
        let turns = req
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
        let r = request::parse_at(req.at.as_deref())
            .and_then(|at| {
                request::validate(
                    req.conversation_id,
                    req.tier,
                    turns,
                    Availability {
                        agents_online: req.agents_online,
                        within_business_hours: req.within_business_hours,
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
            signals: signals_to_wit(r.signals),
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

fn signals_to_wit(s: Signals) -> wit::Signals {
    wit::Signals {
        explicit_request: s.explicit_request,
        explicit_phrase: s.explicit_phrase,
        sensitive_topics: s.sensitive_topics,
        intent: s.intent,
        intent_confidence: s.intent_confidence,
        always_human_intent: s.always_human_intent,
        bot_failures: s.bot_failures,
        bot_no_answers: s.bot_no_answers,
        rephrases: s.rephrases,
        frustration: s.frustration,
        negativity_mean: s.negativity_mean,
        latest_negative: s.latest_negative,
        tier: s.tier,
        turns: s.turns,
        customer_turns: s.customer_turns,
        agent_involved: s.agent_involved,
    }
}
