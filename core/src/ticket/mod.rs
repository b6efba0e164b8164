//! Tickets (docs/tickets.md): request validation, auto-fill (category routing, priority with
//! reasons, entities, masked subject/summary/transcript, SLA), the lifecycle, the choice of
//! agent, ticket ids and per-ticket access tokens. Pure: the ticket component does the storage
//! and the intent call, and hands their results in.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

pub mod assign;
pub mod customer;
pub mod fill;
pub mod lifecycle;
pub mod policy;
pub mod sla;

pub use assign::{AgentInput, AgentLoad, AgentStatus, pick_agent};
pub use customer::CustomerRecord;
pub use fill::{Classified, Draft, Entity, Reason, TicketRules};
pub use lifecycle::{PatchInput, Status};
pub use policy::TicketPolicy;

use crate::foundation::problem::Problem;
use crate::foundation::vocab::Priority;
use crate::foundation::vocab::{Role, Turn};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Largest create body: 200 turns of 4 KiB plus JSON overhead.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most transcript turns a create request may carry.
pub const MAX_TURNS: usize = 200;
/// Longest turn text (and note), in bytes.
pub const MAX_TEXT_BYTES: usize = 4096;
/// Longest `customer.id` and turn `intent`, in bytes.
pub const MAX_ID_BYTES: usize = 128;
/// Customer turns, from the end of the transcript, that a ticket's category is classified from.
pub const CLASSIFIED_TURNS: usize = 3;
/// Most bytes of text the intent classifier takes (its request limit).
pub const CLASSIFIED_MAX_BYTES: usize = 4096;
/// Longest optional customer field (`name`, `channel`, `contact`, `tier`) and `subject`, in bytes.
pub const MAX_FIELD_BYTES: usize = 256;

/// The customer a ticket belongs to (request and stored shape).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    /// The caller's customer id, 1–[`MAX_ID_BYTES`] bytes; repeated-contact counts and idempotency
    /// keys are scoped to it.
    pub id: String,
    /// Display name; none: unknown (a CRM record may fill it in, docs/tickets.md, "Customers").
    #[serde(default)]
    pub name: Option<String>,
    /// Where the customer wrote from (e.g. `web`), free text.
    #[serde(default)]
    pub channel: Option<String>,
    /// Kept verbatim for follow-up; shown only to agents.
    #[serde(default)]
    pub contact: Option<String>,
    /// Customer tier (`standard`, `vip`, ...); `vip` (any case) raises the priority to at least
    /// `high`.
    #[serde(default)]
    pub tier: Option<String>,
}

impl Customer {
    /// Whether the tier is `vip`, ignoring case and surrounding spaces.
    pub fn is_vip(&self) -> bool {
        self.tier
            .as_deref()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("vip"))
    }
}

/// `POST /v1/tickets` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateInput {
    /// Who the ticket is for.
    pub customer: Customer,
    /// The conversation so far, oldest first: 1–[`MAX_TURNS`] turns, at least one from the
    /// customer.
    pub transcript: Vec<Turn>,
    /// Subject line; none: the first sentence of the first customer turn.
    #[serde(default)]
    pub subject: Option<String>,
    /// An intent id of the KB; none: classified from the customer turns.
    #[serde(default)]
    pub category: Option<String>,
    /// Priority; none: derived (intent hint, sensitive topics, VIP, repeated contact).
    #[serde(default)]
    pub priority: Option<Priority>,
}

impl CreateInput {
    /// What the ticket's category is classified from: its last [`CLASSIFIED_TURNS`] customer
    /// turns, one per line, cut from the front to [`CLASSIFIED_MAX_BYTES`] (on a character
    /// boundary), so the latest turn, where a customer usually says what they want, is kept.
    pub fn classification_text(&self) -> String {
        let mut turns: Vec<&str> = self
            .transcript
            .iter()
            .filter(|t| t.role == Role::Customer)
            .map(|t| t.text.as_str())
            .collect();
        turns = turns.split_off(turns.len().saturating_sub(CLASSIFIED_TURNS));
        let text = turns.join("\n");
        let mut start = text.len().saturating_sub(CLASSIFIED_MAX_BYTES);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        text[start..].to_string()
    }

    /// Identifies the request for idempotent replays: the same key with another body is a
    /// conflict, not a replay.
    pub fn fingerprint(&self) -> String {
        let canonical = serde_json::to_vec(self).expect("create input serialises");
        hex(&Sha256::digest(&canonical))
    }

    /// Checks every documented limit; all problems at once, each naming its field.
    pub fn validate(&self, policy: &TicketPolicy) -> Result<(), Problem> {
        let mut bad: Vec<(String, String)> = Vec::new();
        let c = &self.customer;
        if c.id.trim().is_empty() || c.id.len() > MAX_ID_BYTES {
            bad.push(("customer.id".into(), format!("1 to {MAX_ID_BYTES} bytes")));
        }
        for (name, v) in [
            ("customer.name", &c.name),
            ("customer.channel", &c.channel),
            ("customer.contact", &c.contact),
            ("customer.tier", &c.tier),
        ] {
            if v.as_ref().is_some_and(|v| v.len() > MAX_FIELD_BYTES) {
                bad.push((name.into(), format!("at most {MAX_FIELD_BYTES} bytes")));
            }
        }
        if self.transcript.is_empty() || self.transcript.len() > MAX_TURNS {
            bad.push((
                "transcript".into(),
                format!("1 to {MAX_TURNS} turns, got {}", self.transcript.len()),
            ));
        } else if !self.transcript.iter().any(|t| t.role == Role::Customer) {
            bad.push((
                "transcript".into(),
                "needs at least one customer turn".into(),
            ));
        }
        for (i, t) in self.transcript.iter().enumerate().take(MAX_TURNS) {
            if t.text.trim().is_empty() || t.text.len() > MAX_TEXT_BYTES {
                bad.push((
                    format!("transcript[{i}].text"),
                    format!("1 to {MAX_TEXT_BYTES} bytes"),
                ));
            }
            if t.confidence.is_some_and(|c| !(0.0..=1.0).contains(&c)) {
                bad.push((
                    format!("transcript[{i}].confidence"),
                    "between 0 and 1".into(),
                ));
            }
            if t.intent.as_ref().is_some_and(|v| v.len() > MAX_ID_BYTES) {
                bad.push((
                    format!("transcript[{i}].intent"),
                    format!("at most {MAX_ID_BYTES} bytes"),
                ));
            }
            if t.negative.is_some() {
                bad.push((
                    format!("transcript[{i}].negative"),
                    "not part of a ticket's transcript (omit it)".into(),
                ));
            }
        }
        if let Some(s) = &self.subject
            && (s.trim().is_empty() || s.len() > MAX_FIELD_BYTES)
        {
            bad.push(("subject".into(), format!("1 to {MAX_FIELD_BYTES} bytes")));
        }
        if let Some(cat) = &self.category
            && !policy.intents.contains_key(cat)
        {
            bad.push((
                "category".into(),
                "an intent id of the knowledge base (omit it to classify)".into(),
            ));
        }
        invalid(bad)
    }
}

/// A 422 listing every bad field, or Ok when there is none.
pub(crate) fn invalid(bad: Vec<(String, String)>) -> Result<(), Problem> {
    if bad.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = bad.iter().map(|(n, _)| n.as_str()).collect();
    let mut p = Problem::unprocessable(format!("invalid fields: {}", names.join(", ")));
    for (name, reason) in bad {
        p = p.with_param(name, reason);
    }
    Err(p)
}

/// A stored ticket (the agent view; [`Ticket::customer_view`] hides what customers must not see).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// `tk_` + 16 Crockford base-32 characters ([`ticket_id`]).
    pub id: String,
    /// Where the ticket is in its lifecycle.
    pub status: Status,
    /// Current priority (given, derived, or changed by an agent or the schedule).
    pub priority: Priority,
    /// Why the ticket got its priority at creation; agent view only.
    pub priority_reasons: Vec<Reason>,
    /// An intent id of the KB, or `none` when the classification was out of scope.
    pub category: String,
    /// `given` or `classified`.
    pub category_source: String,
    /// The intent model's confidence when classified; none when given.
    pub category_confidence: Option<f32>,
    /// Queue id (`kb.yaml`) the ticket is routed to.
    pub queue: String,
    /// Agent id of the current owner; none: unassigned. Agent view only.
    pub assignee: Option<String>,
    /// Who the ticket is for; `contact` only in the agent view.
    pub customer: Customer,
    /// Subject line, personal data masked.
    pub subject: String,
    /// Extractive summary (`[category name] first sentence; …`), at most 280 characters, masked.
    pub summary: String,
    /// The conversation, personal data masked.
    pub transcript: Vec<Turn>,
    /// Order numbers, amounts, dates and (masked) personal data found in the customer turns.
    pub entities: Vec<Entity>,
    /// When the SLA is due: RFC 3339 UTC with milliseconds (`2026-11-26T16:45:15.271Z`).
    pub sla_due: String,
    /// Creation time, RFC 3339 UTC with milliseconds.
    pub created_at: String,
    /// Last change, RFC 3339 UTC with milliseconds.
    pub updated_at: String,
    /// When it was resolved (or closed unresolved), RFC 3339 UTC; none while open (a reopen
    /// clears it).
    pub resolved_at: Option<String>,
    /// Starts at 1, one up per change; the `ETag` of `If-Match` checks.
    pub version: u32,
    /// When the schedule escalated it for missing its SLA (at most once).
    #[serde(default)]
    pub escalated_at: Option<String>,
    /// When a person first wrote on it (a note), for the time-to-first-response figures.
    #[serde(default)]
    pub first_response_at: Option<String>,
}

impl Ticket {
    /// What the customer's access token may read: no contact, no assignee, no internal reasons
    /// or service clocks.
    pub fn customer_view(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("ticket serialises");
        if let Some(o) = v.as_object_mut() {
            o.remove("assignee");
            o.remove("priority_reasons");
            o.remove("escalated_at");
            o.remove("first_response_at");
            if let Some(c) = o.get_mut("customer").and_then(|c| c.as_object_mut()) {
                c.remove("contact");
            }
        }
        v
    }
}

const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// `tk_` + 16 Crockford base-32 characters of 10 random bytes (80 bits): short enough to read
/// over the phone, too many to guess.
pub fn ticket_id(random: [u8; 10]) -> String {
    let mut bits: u128 = 0;
    for b in random {
        bits = (bits << 8) | u128::from(b);
    }
    let mut out = String::from("tk_");
    for i in (0..16).rev() {
        out.push(CROCKFORD[((bits >> (i * 5)) & 31) as usize] as char);
    }
    out
}

/// Whether `s` has the shape of a ticket id (checked before any lookup).
pub fn is_ticket_id(s: &str) -> bool {
    s.len() == 19 && s.starts_with("tk_") && s.bytes().skip(3).all(|b| CROCKFORD.contains(&b))
}

/// The customer's bearer token for one ticket: HMAC-SHA256 of the id under the store's secret.
/// Derived, not stored, so an idempotent replay can hand the same token back.
pub fn access_token(secret: &[u8], ticket_id: &str) -> String {
    hex(&hmac_sha256(secret, ticket_id.as_bytes()))
}

/// HMAC-SHA256 (RFC 2104) over SHA-256: customer access tokens and webhook signatures.
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Lower-case hex of `bytes`, two digits per byte.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_and_well_formed() {
        let id = ticket_id([0xff; 10]);
        assert_eq!(id, "tk_zzzzzzzzzzzzzzzz");
        assert!(is_ticket_id(&id));
        assert!(is_ticket_id(&ticket_id([0; 10])));
        assert_ne!(ticket_id([1; 10]), ticket_id([2; 10]));
        for bad in [
            "tk_",
            "tk_ZZZZZZZZZZZZZZZZ",
            "xx_zzzzzzzzzzzzzzzz",
            "tk_zzzzzzzzzzzzzzzu",
        ] {
            assert!(!is_ticket_id(bad), "{bad}");
        }
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn access_tokens_differ_per_ticket_and_secret() {
        let a = access_token(b"secret-1", "tk_0000000000000000");
        assert_eq!(a, access_token(b"secret-1", "tk_0000000000000000"));
        assert_ne!(a, access_token(b"secret-2", "tk_0000000000000000"));
        assert_ne!(a, access_token(b"secret-1", "tk_0000000000000001"));
        assert_eq!(a.len(), 64);
    }
}
