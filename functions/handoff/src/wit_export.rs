//! The `tandem:service/handoff` export: the WIT request into the core's checked
//! [`request::Request`], the decision back into WIT (the shared types through
//! `tandem_contract::conv`). Calendars are read only at the request's
//! `at` (assist passes the turn's time), never at the wall clock.

use crate::bindings::exports::tandem::service::handoff as wit;
use crate::{Component, decide};
use tandem_contract::types as wit_types;
use tandem_core::handoff::request;
use tandem_core::handoff::{Availability, Outcome, Turn};

impl wit::Guest for Component {
    fn decide(req: wit::DecideRequest) -> Result<wit::DecisionResult, wit_types::Error> {
        let turns = req.turns.into_iter().map(Turn::from).collect();
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
            .map_err(wit_types::Error::from)?;
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
            priority: r.priority.into(),
            signals: r.signals.into(),
            business_hours: r.business_hours.map(Into::into),
        })
    }
}
