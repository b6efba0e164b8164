//! The conversation assist keeps between turns: its turns (masked), language, ticket, pending
//! template, and when it expires.

use super::*;
use crate::foundation::vocab::{Lang, Role, Turn};

/// The ticket a conversation was handed off with (kept so it is never created twice).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketRef {
    /// Ticket id (`tk_…`).
    pub id: String,
    /// Queue id the ticket was routed to.
    pub queue: String,
    /// Priority at creation (`low`, `normal`, `high`, `urgent`).
    pub priority: String,
    /// The ticket's category: an intent id or `none`.
    pub category: String,
    /// SLA due time as the ticket service returned it (RFC 3339).
    pub sla_due: String,
    /// Creation time as the ticket service returned it (RFC 3339).
    pub created_at: String,
    /// The customer turn that created it.
    pub turn: u32,
}

/// What the bot asked for and is waiting on: the intent whose template needs `missing`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// The intent whose template is waiting for values.
    pub intent: String,
    /// Entity names its placeholders still lack (`order_id`, ...).
    pub missing: Vec<String>,
}

/// A conversation's state in the key-value store (one JSON value per conversation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// `cv_` + 26 Crockford base-32 characters ([`conversation_id`]); also the key in
    /// [`state_key`].
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// Time of the last turn; the TTL counts from here.
    pub updated_at_ms: i64,
    /// Customer turns so far (the current turn's number once it is added); never decreases,
    /// even when old turns are dropped.
    pub customer_turns: u32,
    /// What the customer's turns said about themselves, merged ([`Conversation::merge_customer`]).
    #[serde(default)]
    pub customer: CustomerInput,
    /// The most recent turns, oldest first, at most [`MAX_KEPT_TURNS`].
    #[serde(default)]
    pub turns: Vec<Turn>,
    /// The ticket of its first handoff; none before one. Later handoffs reuse it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<TicketRef>,
    /// What the bot asked for on the last turn; none when it asked nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
    /// The language of the last reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<Lang>,
}

impl Conversation {
    /// A conversation without turns, created at `now_ms` (ms since the Unix epoch).
    pub fn new(id: String, now_ms: i64) -> Self {
        Self {
            id,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            customer_turns: 0,
            customer: CustomerInput::default(),
            turns: Vec::new(),
            ticket: None,
            pending: None,
            lang: None,
        }
    }

    /// Idle for longer than the TTL at `now_ms`.
    pub fn is_expired(&self, now_ms: i64) -> bool {
        now_ms.saturating_sub(self.updated_at_ms) > CONVERSATION_TTL_MS
    }

    /// Fields given on this turn replace the stored ones; absent fields keep theirs.
    pub fn merge_customer(&mut self, given: Option<&CustomerInput>) {
        let Some(g) = given else { return };
        let c = &mut self.customer;
        for (slot, value) in [
            (&mut c.id, &g.id),
            (&mut c.tier, &g.tier),
            (&mut c.name, &g.name),
            (&mut c.channel, &g.channel),
            (&mut c.contact, &g.contact),
        ] {
            if let Some(v) = value {
                *slot = Some(v.trim().to_string());
            }
        }
    }

    /// The customer id a ticket is filed under: the given one, else the conversation's id.
    pub fn customer_id(&self) -> String {
        self.customer.id.clone().unwrap_or_else(|| self.id.clone())
    }

    /// The stored turns plus `current` (not yet stored): what the handoff decision and a
    /// ticket see. At most [`MAX_KEPT_TURNS`], the most recent.
    pub fn transcript_with(&self, current: &Turn) -> Vec<Turn> {
        let keep = MAX_KEPT_TURNS - 1;
        let start = self.turns.len().saturating_sub(keep);
        let mut out = self.turns[start..].to_vec();
        out.push(current.clone());
        out
    }

    /// Records a finished turn: the customer's turn, the bot's reply, the time, and what the
    /// bot now waits for. Old turns beyond [`MAX_KEPT_TURNS`] are dropped.
    pub fn record_turn(&mut self, customer: Turn, reply: &Reply, now_ms: i64) {
        self.customer_turns = self.customer_turns.saturating_add(1);
        self.turns.push(customer);
        self.turns.push(Turn {
            role: Role::Bot,
            text: clip(&reply.text),
            intent: None,
            confidence: None,
            answered: reply.answered,
            negative: None,
        });
        let excess = self.turns.len().saturating_sub(MAX_KEPT_TURNS);
        self.turns.drain(..excess);
        self.pending = reply.pending.clone();
        self.lang = Some(reply.lang);
        self.updated_at_ms = now_ms.max(self.updated_at_ms);
    }
}

/// How a turn of a stored conversation resolves before any work is done.
#[derive(Debug, PartialEq)]
pub enum Lookup {
    /// Continue it.
    Live(Box<Conversation>),
    /// Idle past the TTL: delete it and answer 404.
    Expired,
    /// Never existed (or was deleted): 404.
    Missing,
}

/// Decides what a stored value (or its absence) means at `now_ms`. An unreadable value is
/// treated as missing: it cannot be continued and will be overwritten by nothing.
pub fn lookup(id: &str, stored: Option<&[u8]>, now_ms: i64) -> Lookup {
    let Some(bytes) = stored else {
        return Lookup::Missing;
    };
    match serde_json::from_slice::<Conversation>(bytes) {
        Ok(c) if c.id != id => Lookup::Missing,
        Ok(c) if c.is_expired(now_ms) => Lookup::Expired,
        Ok(c) => Lookup::Live(Box::new(c)),
        Err(_) => Lookup::Missing,
    }
}

/// The 404 for a conversation id that does not exist (or no longer does). The same answer for
/// "never existed" and "expired", so ids cannot be probed.
pub fn conversation_not_found() -> Problem {
    Problem::not_found(
        "no live conversation has this id: it never existed or was idle for more than 24 hours; \
         omit conversation_id to start a new one",
    )
}
