//! Every conversion between the shared WIT types and the core's, in one place (as wasmtime's
//! `wasi-http` keeps its `conv.rs`). Both directions live here because both sides of a
//! composition use them: the handoff component converts its decision's signals into WIT and
//! assist converts them back, with the same pair of `From`s.

use crate::types;
use tandem_core::foundation::problem::Problem;
use tandem_core::foundation::vocab::{Lang, Priority, Role, Turn};
use tandem_core::handoff::{BusinessHours, Signals};

impl From<types::Role> for Role {
    fn from(r: types::Role) -> Self {
        match r {
            types::Role::Customer => Role::Customer,
            types::Role::Bot => Role::Bot,
            types::Role::Agent => Role::Agent,
        }
    }
}

impl From<Role> for types::Role {
    fn from(r: Role) -> Self {
        match r {
            Role::Customer => types::Role::Customer,
            Role::Bot => types::Role::Bot,
            Role::Agent => types::Role::Agent,
        }
    }
}

impl From<types::Priority> for Priority {
    fn from(p: types::Priority) -> Self {
        match p {
            types::Priority::Low => Priority::Low,
            types::Priority::Normal => Priority::Normal,
            types::Priority::High => Priority::High,
            types::Priority::Urgent => Priority::Urgent,
        }
    }
}

impl From<Priority> for types::Priority {
    fn from(p: Priority) -> Self {
        match p {
            Priority::Low => types::Priority::Low,
            Priority::Normal => types::Priority::Normal,
            Priority::High => types::Priority::High,
            Priority::Urgent => types::Priority::Urgent,
        }
    }
}

impl types::Priority {
    /// The priority as the HTTP API spells it: `low`, `normal`, `high` or `urgent`.
    pub fn as_str(self) -> &'static str {
        match self {
            types::Priority::Low => "low",
            types::Priority::Normal => "normal",
            types::Priority::High => "high",
            types::Priority::Urgent => "urgent",
        }
    }
}

impl From<Lang> for types::Lang {
    fn from(l: Lang) -> Self {
        match l {
            Lang::Zh => types::Lang::Zh,
            Lang::En => types::Lang::En,
        }
    }
}

impl types::Lang {
    /// The tag as the HTTP API spells it: `zh`, `en` or `auto`.
    pub fn as_str(self) -> &'static str {
        match self {
            types::Lang::Zh => "zh",
            types::Lang::En => "en",
            types::Lang::Auto => "auto",
        }
    }
}

/// The one mapping of problem statuses onto the WIT `error` variant: a request's field
/// problems stay field problems; the status picks the case.
impl From<Problem> for types::Error {
    fn from(p: Problem) -> Self {
        let message = p.detail.unwrap_or(p.title);
        match p.status {
            400 | 413 | 422 => types::Error::InvalidInput(
                p.invalid_params
                    .into_iter()
                    .map(|i| types::InvalidParam {
                        name: i.name,
                        reason: i.reason,
                    })
                    .collect(),
            ),
            404 => types::Error::NotFound(message),
            409 | 412 => types::Error::Conflict(message),
            401 | 403 => types::Error::Unauthorized(message),
            _ => types::Error::Internal(message),
        }
    }
}

/// A failure of an imported service, as the caller's problem. Input it refuses is the caller's
/// to have checked first, so every error is a 500 naming the service (never the client's fault).
pub fn service_error(service: &'static str) -> impl Fn(types::Error) -> Problem {
    move |e| {
        let detail = match e {
            types::Error::InvalidInput(params) => {
                let names: Vec<String> = params
                    .into_iter()
                    .map(|p| format!("{}: {}", p.name, p.reason))
                    .collect();
                format!("refused the turn: {}", names.join("; "))
            }
            types::Error::NotFound(m)
            | types::Error::Conflict(m)
            | types::Error::Unauthorized(m)
            | types::Error::Internal(m) => m,
        };
        Problem::internal(format!("the {service} service failed: {detail}"))
    }
}

/// A turn as the services it is passed to read it.
impl From<&Turn> for types::Turn {
    fn from(t: &Turn) -> Self {
        t.clone().into()
    }
}

impl From<Turn> for types::Turn {
    fn from(t: Turn) -> Self {
        types::Turn {
            role: t.role.into(),
            text: t.text,
            intent: t.intent,
            confidence: t.confidence,
            answered: t.answered,
            negative: t.negative,
        }
    }
}

impl From<types::Turn> for Turn {
    fn from(t: types::Turn) -> Self {
        Turn {
            role: t.role.into(),
            text: t.text,
            intent: t.intent,
            confidence: t.confidence,
            answered: t.answered,
            negative: t.negative,
        }
    }
}

impl From<Signals> for types::Signals {
    fn from(s: Signals) -> Self {
        types::Signals {
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
}

impl From<types::Signals> for Signals {
    fn from(s: types::Signals) -> Self {
        Signals {
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
}

impl From<BusinessHours> for types::BusinessHours {
    fn from(h: BusinessHours) -> Self {
        types::BusinessHours {
            queue: h.queue,
            open: h.open,
            source: h.source,
            at: h.at,
            next_open: h.next_open,
        }
    }
}

impl From<types::BusinessHours> for BusinessHours {
    fn from(h: types::BusinessHours) -> Self {
        BusinessHours {
            queue: h.queue,
            open: h.open,
            source: h.source,
            at: h.at,
            next_open: h.next_open,
        }
    }
}
