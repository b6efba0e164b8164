//! The conversions particular to assist's imports: a ticket's status, a handoff decision,
//! turns into the list the services take. Every conversion of the shared types (roles,
//! priorities, turns, signals, business hours, errors) is in `tandem_contract::conv`.

use crate::{wit_handoff, wit_ticket, wit_types};
use tandem_core::assist::{Decision, Turn};

pub(crate) use tandem_contract::conv::service_error;

pub(crate) fn turns_to_wit(turns: &[Turn]) -> Vec<wit_types::Turn> {
    turns.iter().map(wit_types::Turn::from).collect()
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

pub(crate) fn decision(d: wit_handoff::Decision) -> Decision {
    match d {
        wit_handoff::Decision::Bot => Decision::Bot,
        wit_handoff::Decision::Human => Decision::Human,
        wit_handoff::Decision::Ticket => Decision::Ticket,
    }
}
