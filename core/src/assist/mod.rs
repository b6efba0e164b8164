//! Assist: one call per customer message (`POST /v1/assist`). The component runs the turn
//! through the composed services (intent → FAQ → handoff → ticket) and keeps the conversation
//! in `spin:key-value`; everything that needs no I/O lives here: request validation,
//! conversation ids and state, the TTL, and what the bot says back (docs/assist.md).
//!
//! What the reply is, in order (the first that applies):
//! 1. **handoff** — the handoff decision is `human` or `ticket`: the conversation goes to a
//!    person, with a ticket (created on the first such turn, reused after);
//! 2. **faq** — the FAQ has an answer above its calibrated threshold;
//! 3. **intent** — the intent is in scope with at least [`INTENT_REPLY_MIN_CONFIDENCE`] and the
//!    knowledge base has a reply template for it: the template, with its placeholders filled
//!    from the message (or from the next message, when the bot had to ask for them);
//! 4. **fallback** — an honest "I can't answer that" in the customer's language, with the way
//!    to a person.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use crate::foundation::problem::Problem;
use serde::{Deserialize, Serialize};

mod conversation;
mod reply;
pub mod response;
pub use crate::foundation::vocab::Turn;
pub use conversation::{Conversation, Lookup, Pending, TicketRef, conversation_not_found, lookup};
pub use reply::{
    AssistPolicy, Decision, DeskHours, HandoffView, IntentView, Replies, Reply, Source,
    fallback_text, is_knowledge_gap,
};

/// Largest request body: a 4 KiB message, the customer fields and the JSON around them.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest message (after trimming), as `/v1/intent` and `/v1/faq` accept.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// `customer.id`, as the ticket store accepts.
pub const MAX_CUSTOMER_ID_BYTES: usize = 128;
/// `customer.name`, `channel`, `contact`, as the ticket store accepts.
pub const MAX_CUSTOMER_FIELD_BYTES: usize = 256;
/// `customer.tier`, as the handoff service accepts.
pub const MAX_TIER_BYTES: usize = 32;
/// Turns kept per conversation (the most recent): what the handoff decision and a ticket's
/// transcript take at most.
pub const MAX_KEPT_TURNS: usize = crate::handoff::MAX_TURNS;
/// A conversation idle for longer than this is expired: a turn naming it gets a 404 and the
/// stored state is deleted.
pub const CONVERSATION_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// Intent confidence from which the intent's reply template is used when the FAQ has no
/// answer. The out-of-scope threshold alone lets shaky guesses through, and a wrong template is
/// worse than an honest fallback: on the sample KB "what's the weather like on mars" is
/// `product_inquiry` at 0.83, while real requests without an FAQ answer ("我的包裹丢了",
/// "thanks, bye") score 0.97 and more.
pub const INTENT_REPLY_MIN_CONFIDENCE: f32 = 0.9;

/// Prefix of conversation ids.
pub const CONVERSATION_ID_PREFIX: &str = "cv_";
/// Characters after the prefix: 26 Crockford base-32 characters carry 128 random bits.
const CONVERSATION_ID_CHARS: usize = 26;
const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// `cv_` + 26 Crockford base-32 characters of 16 random bytes: unguessable, so knowing one
/// conversation's id says nothing about another's.
pub fn conversation_id(random: [u8; 16]) -> String {
    let bits = u128::from_be_bytes(random);
    let mut out = String::with_capacity(CONVERSATION_ID_PREFIX.len() + CONVERSATION_ID_CHARS);
    out.push_str(CONVERSATION_ID_PREFIX);
    for i in (0..CONVERSATION_ID_CHARS).rev() {
        // 26 × 5 = 130 bits: the two top positions read beyond the 128 bits as zeros.
        let shift = i * 5;
        let index = if shift >= 128 {
            0
        } else {
            (bits >> shift) & 31
        };
        out.push(CROCKFORD[index as usize] as char);
    }
    out
}

/// Whether `s` has the shape of a conversation id (checked before any lookup).
pub fn is_conversation_id(s: &str) -> bool {
    s.len() == CONVERSATION_ID_PREFIX.len() + CONVERSATION_ID_CHARS
        && s.starts_with(CONVERSATION_ID_PREFIX)
        && s.bytes()
            .skip(CONVERSATION_ID_PREFIX.len())
            .all(|b| CROCKFORD.contains(&b))
}

/// `text` cut to at most [`MAX_MESSAGE_BYTES`] on a character boundary: every stored turn must
/// stay within what the handoff and ticket services accept (a masked message or a long FAQ
/// answer could otherwise exceed it).
pub fn clip(text: &str) -> String {
    let mut end = text.len().min(MAX_MESSAGE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// The key-value key of a conversation's state.
pub fn state_key(conversation_id: &str) -> String {
    format!("assist:conversation:{conversation_id}")
}

/// The ticket idempotency key of a turn: a retried turn (same conversation, same turn number,
/// same transcript) gets the first ticket back instead of a second one.
pub fn idempotency_key(conversation_id: &str, turn: u32) -> String {
    format!("assist:{conversation_id}:{turn}")
}

/// The conversation a ticket's idempotency key names, when `/v1/assist` filed the ticket (the
/// ticket's customer id is the site's own customer id when the widget was given one).
pub fn conversation_of_key(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("assist:")?;
    let (conversation, turn) = rest.rsplit_once(':')?;
    (turn.parse::<u32>().is_ok() && !conversation.is_empty()).then_some(conversation)
}

/// The feedback event id of a conversation's handoff (one per conversation, so idempotent).
pub fn handoff_event_id(conversation_id: &str) -> String {
    format!("assist:{conversation_id}:handoff")
}

/// `POST /v1/assist` body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssistRequest {
    /// Absent: a new conversation. Present: an existing, unexpired one (else 404).
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// Who the customer is; given fields replace the stored ones, absent ones keep theirs.
    #[serde(default)]
    pub customer: Option<CustomerInput>,
    /// The customer's message, 1–[`MAX_MESSAGE_BYTES`] bytes after trimming.
    pub message: String,
}

/// Who the customer is; every field optional, later turns may add or change fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    /// The site's customer id, 1–[`MAX_CUSTOMER_ID_BYTES`] bytes; the ticket is filed under it
    /// (absent: under the conversation id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// 1–[`MAX_TIER_BYTES`] bytes (`standard`, `vip`, ...); handoff rules and ticket priority use
    /// it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Display name, 1–[`MAX_CUSTOMER_FIELD_BYTES`] bytes; goes onto the ticket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where the customer writes from (e.g. `web`), 1–[`MAX_CUSTOMER_FIELD_BYTES`] bytes; goes onto
    /// the ticket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// How to reach the customer, 1–[`MAX_CUSTOMER_FIELD_BYTES`] bytes; stored verbatim on the
    /// ticket, agents only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

impl AssistRequest {
    /// Checks every documented limit. An over-long message is a 413 (as on `/v1/intent`);
    /// every other problem is a 422 listing all bad fields.
    pub fn validate(&self) -> Result<(), Problem> {
        let message = self.message.trim();
        if message.len() > MAX_MESSAGE_BYTES {
            return Err(Problem::payload_too_large(format!(
                "message is {} bytes; the limit is {MAX_MESSAGE_BYTES}",
                message.len()
            ))
            .with_param("message", format!("at most {MAX_MESSAGE_BYTES} bytes")));
        }
        let mut bad: Vec<(&str, String)> = Vec::new();
        if message.is_empty() {
            bad.push(("message", "must not be empty or whitespace".into()));
        }
        if let Some(id) = &self.conversation_id
            && !is_conversation_id(id)
        {
            bad.push((
                "conversation_id",
                format!(
                    "an id returned by an earlier turn ({CONVERSATION_ID_PREFIX} + \
                     {CONVERSATION_ID_CHARS} characters); omit it to start a conversation"
                ),
            ));
        }
        if let Some(c) = &self.customer {
            let limits = [
                ("customer.id", &c.id, MAX_CUSTOMER_ID_BYTES),
                ("customer.tier", &c.tier, MAX_TIER_BYTES),
                ("customer.name", &c.name, MAX_CUSTOMER_FIELD_BYTES),
                ("customer.channel", &c.channel, MAX_CUSTOMER_FIELD_BYTES),
                ("customer.contact", &c.contact, MAX_CUSTOMER_FIELD_BYTES),
            ];
            for (name, value, max) in limits {
                if let Some(v) = value
                    && (v.trim().is_empty() || v.len() > max)
                {
                    bad.push((name, format!("1 to {max} bytes, not blank")));
                }
            }
        }
        if bad.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = bad.iter().map(|(n, _)| *n).collect();
        let mut p = Problem::unprocessable(format!("invalid fields: {}", names.join(", ")));
        for (name, reason) in bad {
            p = p.with_param(name, reason);
        }
        Err(p)
    }
}

#[cfg(test)]
mod tests;
