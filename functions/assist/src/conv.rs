//! Every conversion between the `tandem:service` WIT types and core's, in one place, and the
//! plugged-in services' errors as this component's problems.

use crate::{wit_handoff, wit_ticket, wit_types};
use tandem_core::assist::{Decision, Turn};
use tandem_core::foundation::problem::Problem;
use tandem_core::foundation::vocab::Role;
use tandem_core::handoff::{BusinessHours, Signals};

/// A failure of a plugged-in service. Input it refuses is ours to have checked first, so
/// every error here is a 500 naming the service (never the customer's fault).
pub(crate) fn service_error(service: &'static str) -> impl Fn(wit_types::Error) -> Problem {
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

pub(crate) fn role_to_wit(r: Role) -> wit_types::Role {
    match r {
        Role::Customer => wit_types::Role::Customer,
        Role::Bot => wit_types::Role::Bot,
        Role::Agent => wit_types::Role::Agent,
    }
}

pub(crate) fn turns_to_wit(turns: &[Turn]) -> Vec<wit_types::Turn> {
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

pub(crate) fn priority_str(p: wit_types::Priority) -> &'static str {
    match p {
        wit_types::Priority::Low => "low",
        wit_types::Priority::Normal => "normal",
        wit_types::Priority::High => "high",
        wit_types::Priority::Urgent => "urgent",
    }
}

pub(crate) fn status_str(s: wit_ticket::Status) -> &'static str {
    match s {
        wit_ticket::Status::New => "new",
        wit_ticket::Status::Open => "open",
        wit_ticket::Status::Pending => "pending",
        wit_ticket::Status::Resolved => "resolved",
        wit_ticket::Status::Closed => "closed",
    }
}

pub(crate) fn lang_str(l: wit_types::Lang) -> &'static str {
    match l {
        wit_types::Lang::Zh => "zh",
        wit_types::Lang::En => "en",
        wit_types::Lang::Auto => "auto",
    }
}

pub(crate) fn decision(d: wit_handoff::Decision) -> Decision {
    match d {
        wit_handoff::Decision::Bot => Decision::Bot,
        wit_handoff::Decision::Human => Decision::Human,
        wit_handoff::Decision::Ticket => Decision::Ticket,
    }
}

pub(crate) fn business_hours(h: &wit_handoff::BusinessHours) -> BusinessHours {
    BusinessHours {
        queue: h.queue.clone(),
        open: h.open,
        source: h.source.clone(),
        at: h.at.clone(),
        next_open: h.next_open.clone(),
    }
}

/// The handoff decision's signals, as the core (and the response's JSON) has them.
pub(crate) fn signals(s: &wit_handoff::Signals) -> Signals {
    Signals {
        explicit_request: s.explicit_request,
        explicit_phrase: s.explicit_phrase.clone(),
        sensitive_topics: s.sensitive_topics.clone(),
        intent: s.intent.clone(),
        intent_confidence: s.intent_confidence,
        always_human_intent: s.always_human_intent.clone(),
        bot_failures: s.bot_failures,
        bot_no_answers: s.bot_no_answers,
        rephrases: s.rephrases,
        frustration: s.frustration,
        negativity_mean: s.negativity_mean,
        latest_negative: s.latest_negative,
        tier: s.tier.clone(),
        turns: s.turns,
        customer_turns: s.customer_turns,
        agent_involved: s.agent_involved,
    }
}
