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

use crate::faq::templates::{EntityPatterns, fill};
use crate::foundation::problem::Problem;
use crate::foundation::vocab::{Lang, Role};
use crate::kb::Localized;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

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
    #[serde(default)]
    pub customer: Option<CustomerInput>,
    pub message: String,
}

/// Who the customer is; every field optional, later turns may add or change fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
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

/// How assist phrases its replies in a [`Lang`].
trait LangText {
    fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str;
    fn of_localized(self, localized: &Localized) -> Option<&str>;
}

impl LangText for Lang {
    fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The text of `localized` in this language, else in any language it has.
    fn of_localized(self, localized: &Localized) -> Option<&str> {
        localized
            .get(self.as_str())
            .or_else(|| localized.values().next())
            .map(String::as_str)
    }
}

/// One turn as stored (customer text masked with [`crate::foundation::pii::mask`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub role: Role,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered: Option<bool>,
    /// Customer turns: the probability that the turn is negative, as handoff returned it on
    /// that turn, so the next turns' decisions do not run it through the encoder again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative: Option<f32>,
}

/// The ticket a conversation was handed off with (kept so it is never created twice).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketRef {
    pub id: String,
    pub queue: String,
    pub priority: String,
    pub category: String,
    pub sla_due: String,
    pub created_at: String,
    /// The customer turn that created it.
    pub turn: u32,
}

/// What the bot asked for and is waiting on: the intent whose template needs `missing`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub intent: String,
    pub missing: Vec<String>,
}

/// A conversation's state in the key-value store (one JSON value per conversation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// Time of the last turn; the TTL counts from here.
    pub updated_at_ms: i64,
    /// Customer turns so far (the current turn's number once it is added); never decreases,
    /// even when old turns are dropped.
    pub customer_turns: u32,
    #[serde(default)]
    pub customer: CustomerInput,
    /// The most recent turns, oldest first, at most [`MAX_KEPT_TURNS`].
    #[serde(default)]
    pub turns: Vec<Turn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<TicketRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
    /// The language of the last reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<Lang>,
}

impl Conversation {
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

/// Everything the assist needs from the knowledge base, extracted from `models/` at build
/// time (the component's `build.rs`): reply templates, entity patterns, display names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AssistPolicy {
    pub model_version: String,
    /// Intent id → language → reply template with `{entity}` placeholders.
    #[serde(default)]
    pub templates: BTreeMap<String, Localized>,
    /// Entity name → regex.
    #[serde(default)]
    pub entities: BTreeMap<String, String>,
    /// Intent id → language → display name.
    #[serde(default)]
    pub intent_names: BTreeMap<String, Localized>,
    /// Queue id → language → display name.
    #[serde(default)]
    pub queue_names: BTreeMap<String, Localized>,
    /// Intents a person always handles: their templates promise a transfer, so the bot never
    /// sends them on its own.
    #[serde(default)]
    pub always_human: BTreeSet<String>,
}

/// The policy with its entity patterns compiled (once, at pre-initialisation).
#[derive(Clone, Debug)]
pub struct Replies {
    pub policy: AssistPolicy,
    entities: EntityPatterns,
}

/// What the intent service said about the message.
#[derive(Clone, Debug, PartialEq)]
pub struct IntentView {
    pub intent: String,
    pub confidence: f32,
    pub out_of_scope: bool,
}

/// Where the handoff decision learns whether people are at work (Spin variable
/// `business_hours`): the routed queue's calendar at the turn's time, or an operator's word
/// that overrides every calendar (a desk staffed around the clock, or closed for an incident).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeskHours {
    Calendar,
    Open,
    Closed,
}

impl DeskHours {
    /// `calendar` (also unset: empty), `open` or `closed`; anything else is a setup error.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "calendar" => Ok(Self::Calendar),
            "open" => Ok(Self::Open),
            "closed" => Ok(Self::Closed),
            other => Err(format!(
                "the business_hours variable is \"{other}\": write calendar, open or closed"
            )),
        }
    }

    /// What the handoff request carries: `(within_business_hours, at)` for a turn at
    /// `now_secs` (Unix seconds).
    pub fn availability(self, now_secs: i64) -> (Option<bool>, Option<String>) {
        match self {
            Self::Calendar => (
                None,
                Some(crate::foundation::calendar::format_rfc3339(now_secs, 0)),
            ),
            Self::Open => (Some(true), None),
            Self::Closed => (Some(false), None),
        }
    }
}

/// The handoff service's outcome for the turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Bot,
    Human,
    Ticket,
}

/// Where a reply came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Faq,
    Intent,
    Fallback,
    Handoff,
}

/// Whether a turn is a knowledge gap (docs/graph.md, "Gaps"): the bot gave its "I can't
/// answer that", or it handed off a message the FAQ could not answer and no intent covers.
/// A handoff of an in-scope message (a refund a person must approve, "转人工") is not a gap:
/// the KB knows the topic.
pub fn is_knowledge_gap(source: Source, faq_answered: bool, out_of_scope: bool) -> bool {
    match source {
        Source::Fallback => true,
        Source::Handoff => !faq_answered && out_of_scope,
        Source::Faq | Source::Intent => false,
    }
}

/// The bot's reply to a turn.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reply {
    pub text: String,
    pub source: Source,
    pub lang: Lang,
    /// As recorded on the bot turn for the handoff decision: `true` answered, `false` no
    /// answer (fallback), none for handoffs and questions back to the customer.
    #[serde(skip)]
    pub answered: Option<bool>,
    /// The template placeholders the bot asked for, to fill from the next message.
    #[serde(skip)]
    pub pending: Option<Pending>,
}

/// The handoff part of a turn, as the reply needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct HandoffView<'a> {
    pub decision: Decision,
    /// The conversation's ticket (created on this turn or earlier).
    pub ticket_id: Option<&'a str>,
    pub ticket_queue: Option<&'a str>,
    /// Whether this turn created the ticket.
    pub ticket_is_new: bool,
    /// When the desk is closed: the RFC 3339 time a person is back (the routed queue's
    /// calendar), told to the customer.
    pub back_at: Option<&'a str>,
}

/// How entity kinds are named when the bot asks for them.
fn entity_name(name: &str, lang: Lang) -> String {
    let (zh, en) = match name {
        "order_id" => ("订单号", "order number"),
        "amount" => ("金额", "amount"),
        "date" => ("日期", "date"),
        "phone" => ("手机号", "phone number"),
        "email" => ("邮箱", "e-mail address"),
        other => (other, other),
    };
    lang.pick(zh, en).replace('_', " ")
}

impl Replies {
    pub fn new(policy: AssistPolicy) -> anyhow::Result<Self> {
        let entities = EntityPatterns::compile(&policy.entities)?;
        Ok(Self { policy, entities })
    }

    /// Whether the handoff decision sends this turn to a person.
    pub fn hands_off(decision: Decision) -> bool {
        matches!(decision, Decision::Human | Decision::Ticket)
    }

    /// The reply to a turn (see the module docs for the order).
    pub fn compose(
        &self,
        message: &str,
        lang: Lang,
        intent: &IntentView,
        faq_answer: Option<&str>,
        handoff: &HandoffView<'_>,
        pending: Option<&Pending>,
    ) -> Reply {
        if Self::hands_off(handoff.decision) {
            return Reply {
                text: self.handoff_text(lang, handoff),
                source: Source::Handoff,
                lang,
                answered: None,
                pending: None,
            };
        }
        if let Some(answer) = faq_answer {
            return Reply {
                text: answer.to_string(),
                source: Source::Faq,
                lang,
                answered: Some(true),
                pending: None,
            };
        }
        let confident = !intent.out_of_scope && intent.confidence >= INTENT_REPLY_MIN_CONFIDENCE;
        // The message answers what the bot asked for (an order number after "which order?"),
        // unless it is confidently about something else.
        let values = self.entities.find(message);
        if let Some(p) = pending
            && (!confident || intent.intent == p.intent)
            && p.missing.iter().all(|m| values.contains_key(m))
            && let Some(reply) = self.template_reply(&p.intent, lang, &values)
        {
            return reply;
        }
        if confident && let Some(reply) = self.template_reply(&intent.intent, lang, &values) {
            return reply;
        }
        Reply {
            text: fallback_text(lang).to_string(),
            source: Source::Fallback,
            lang,
            answered: Some(false),
            pending: None,
        }
    }

    /// The intent's template filled from `values`; when placeholders stay empty, a question
    /// asking for them. None when the intent has no template or is always handled by a person.
    fn template_reply(
        &self,
        intent: &str,
        lang: Lang,
        values: &BTreeMap<String, String>,
    ) -> Option<Reply> {
        if self.policy.always_human.contains(intent) {
            return None;
        }
        let template = lang.of_localized(self.policy.templates.get(intent)?)?;
        let filled = fill(template, values);
        if filled.missing.is_empty() {
            return Some(Reply {
                text: filled.text,
                source: Source::Intent,
                lang,
                answered: Some(true),
                pending: None,
            });
        }
        let wanted: Vec<String> = filled
            .missing
            .iter()
            .map(|m| entity_name(m, lang))
            .collect();
        let topic = self
            .policy
            .intent_names
            .get(intent)
            .and_then(|n| lang.of_localized(n))
            .unwrap_or(intent);
        let text = match lang {
            Lang::Zh => format!(
                "好的，关于「{topic}」，请提供您的{}，我来帮您处理。",
                wanted.join("和")
            ),
            Lang::En => format!(
                "Sure, I can help with that ({topic}). Could you give me your {}?",
                wanted.join(" and ")
            ),
        };
        Some(Reply {
            text,
            source: Source::Intent,
            lang,
            answered: None,
            pending: Some(Pending {
                intent: intent.to_string(),
                missing: filled.missing,
            }),
        })
    }

    fn handoff_text(&self, lang: Lang, h: &HandoffView<'_>) -> String {
        let id = h.ticket_id.unwrap_or("-");
        let queue = h
            .ticket_queue
            .and_then(|q| self.policy.queue_names.get(q))
            .and_then(|n| lang.of_localized(n));
        if let Some(back) = h.back_at.map(crate::foundation::calendar::readable) {
            return match (lang, h.ticket_is_new) {
                (Lang::Zh, true) => format!(
                    "现在是人工客服的休息时间，已为您创建工单 {id}。人工客服将于 {back} 上班，届时会在这里回复您。"
                ),
                (Lang::En, true) => format!(
                    "Our team is offline right now, so I've opened ticket {id} for you. A person \
                     is back at {back} and will reply here."
                ),
                (Lang::Zh, false) => {
                    format!("您的问题已在工单 {id} 中，人工客服将于 {back} 上班后在这里回复您。")
                }
                (Lang::En, false) => format!(
                    "Your conversation is already with our team (ticket {id}); a person is back \
                     at {back} and will reply here."
                ),
            };
        }
        match (lang, h.ticket_is_new, h.decision) {
            (Lang::Zh, false, _) => {
                format!("您的问题已在工单 {id} 中由人工客服跟进，客服会尽快在这里回复您，请稍候。")
            }
            (Lang::En, false, _) => format!(
                "Your conversation is already with our team (ticket {id}); an agent will reply \
                 here as soon as possible."
            ),
            (Lang::Zh, true, Decision::Ticket) => {
                format!("目前暂无人工客服在线，已为您创建工单 {id}，我们会尽快联系您。")
            }
            (Lang::En, true, Decision::Ticket) => format!(
                "No agent is available right now, so I've opened ticket {id} for you; we'll get \
                 back to you as soon as possible."
            ),
            (Lang::Zh, true, _) => match queue {
                Some(q) => format!(
                    "好的，正在为您转接人工客服（{q}），工单号 {id}。客服会在这里继续为您服务，请稍候。"
                ),
                None => format!(
                    "好的，正在为您转接人工客服，工单号 {id}。客服会在这里继续为您服务，请稍候。"
                ),
            },
            (Lang::En, true, _) => match queue {
                Some(q) => format!(
                    "I'm passing you to a human agent ({q} team), ticket {id}. An agent will \
                     continue here shortly."
                ),
                None => format!(
                    "I'm passing you to a human agent, ticket {id}. An agent will continue here \
                     shortly."
                ),
            },
        }
    }
}

/// The reply when nothing answers the message, in the customer's language.
pub fn fallback_text(lang: Lang) -> &'static str {
    lang.pick(
        "抱歉，这个问题我暂时无法回答。您可以换个说法再问一次，或者回复「转人工」联系人工客服。",
        "Sorry, I don't have an answer to that. You could rephrase your question, or say \
         \"talk to a human\" to reach a person.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tickets_key_names_its_conversation() {
        let key = idempotency_key("cv_abc", 3);
        assert_eq!(conversation_of_key(&key), Some("cv_abc"));
        assert_eq!(conversation_of_key("crm:cv_abc:3"), None);
        assert_eq!(conversation_of_key("assist:cv_abc:x"), None);
        assert_eq!(conversation_of_key("assist::1"), None);
    }

    #[test]
    fn a_gap_is_a_fallback_or_the_handoff_of_what_nothing_covers() {
        assert!(is_knowledge_gap(Source::Fallback, false, false));
        assert!(is_knowledge_gap(Source::Handoff, false, true));
        assert!(
            !is_knowledge_gap(Source::Handoff, false, false),
            "in scope: a person's job"
        );
        assert!(
            !is_knowledge_gap(Source::Handoff, true, true),
            "the FAQ had an answer"
        );
        assert!(!is_knowledge_gap(Source::Faq, true, true));
        assert!(!is_knowledge_gap(Source::Intent, false, false));
    }

    fn policy() -> AssistPolicy {
        let loc = |zh: &str, en: &str| {
            Localized::from([("zh".to_string(), zh.to_string()), ("en".into(), en.into())])
        };
        AssistPolicy {
            model_version: "test-1".into(),
            templates: BTreeMap::from([
                (
                    "order_status".into(),
                    loc("订单 {order_id} 已发货。", "Order {order_id} has shipped."),
                ),
                ("greeting".into(), loc("您好！", "Hello!")),
                (
                    "complaint".into(),
                    loc("正在为您转接投诉专员。", "Transferring you."),
                ),
            ]),
            entities: BTreeMap::from([(
                "order_id".into(),
                r"(?-u:\b)(?:TD\d{10,14}|\d{12,16})(?-u:\b)".into(),
            )]),
            intent_names: BTreeMap::from([(
                "order_status".into(),
                loc("查询订单状态", "Order status"),
            )]),
            queue_names: BTreeMap::from([("orders".into(), loc("订单组", "Orders"))]),
            always_human: BTreeSet::from(["complaint".to_string()]),
        }
    }

    fn replies() -> Replies {
        Replies::new(policy()).unwrap()
    }

    /// A reply in the message's own language.
    fn say(
        r: &Replies,
        message: &str,
        intent: &IntentView,
        faq_answer: Option<&str>,
        handoff: &HandoffView<'_>,
        pending: Option<&Pending>,
    ) -> Reply {
        r.compose(
            message,
            Lang::of(message),
            intent,
            faq_answer,
            handoff,
            pending,
        )
    }

    #[test]
    fn a_message_without_words_keeps_the_conversations_language() {
        assert_eq!(Lang::of_turn("TD2026112612345", Some(Lang::Zh)), Lang::Zh);
        assert_eq!(
            Lang::of_turn(" 202611261234567 ? ", Some(Lang::Zh)),
            Lang::Zh
        );
        assert_eq!(Lang::of_turn("👍", Some(Lang::En)), Lang::En);
        assert_eq!(Lang::of_turn("TD2026112612345", None), Lang::En);
        assert_eq!(
            Lang::of_turn("it's TD2026112612345", Some(Lang::Zh)),
            Lang::En
        );
        assert_eq!(
            Lang::of_turn("订单 TD2026112612345", Some(Lang::En)),
            Lang::Zh
        );
        assert_eq!(Lang::of_turn("ok", Some(Lang::Zh)), Lang::En);
    }

    fn intent(id: &str, confidence: f32) -> IntentView {
        IntentView {
            intent: id.into(),
            confidence,
            out_of_scope: confidence < 0.25,
        }
    }

    const BOT: HandoffView<'static> = HandoffView {
        decision: Decision::Bot,
        ticket_id: None,
        ticket_queue: None,
        ticket_is_new: false,
        back_at: None,
    };

    #[test]
    fn ids_are_unguessable_shapes() {
        let a = conversation_id([0u8; 16]);
        let b = conversation_id([0xffu8; 16]);
        let c = conversation_id([7u8; 16]);
        for id in [&a, &b, &c] {
            assert_eq!(id.len(), 29, "{id}");
            assert!(is_conversation_id(id), "{id}");
        }
        assert_eq!(a, "cv_00000000000000000000000000");
        assert_ne!(b, c);
        // Every bit matters: flipping the lowest bit changes the id.
        let mut r = [7u8; 16];
        r[15] ^= 1;
        assert_ne!(conversation_id(r), c);
        for bad in [
            "",
            "cv_",
            "c-42",
            "cv_0000000000000000000000000",
            "cv_000000000000000000000000000",
            "cv_0000000000000000000000000u",
            "CV_00000000000000000000000000",
            "cv_0000000000000000000000000I",
            "tk_00000000000000000000000000",
        ] {
            assert!(!is_conversation_id(bad), "{bad}");
        }
    }

    #[test]
    fn clip_keeps_characters_whole() {
        assert_eq!(clip("short"), "short");
        let long = "字".repeat(2000);
        let c = clip(&long);
        assert!(c.len() <= MAX_MESSAGE_BYTES && c.len() > MAX_MESSAGE_BYTES - 3);
        assert!(c.chars().all(|ch| ch == '字'));
    }

    #[test]
    fn keys_are_ascii_and_short() {
        let id = conversation_id([9u8; 16]);
        let key = idempotency_key(&id, 4_000_000_000);
        assert!(key.len() <= 128 && key.bytes().all(|b| b.is_ascii_graphic()));
        assert_ne!(idempotency_key(&id, 1), idempotency_key(&id, 2));
        assert!(state_key(&id).ends_with(&id));
    }

    fn request(message: &str) -> AssistRequest {
        AssistRequest {
            message: message.into(),
            ..Default::default()
        }
    }

    #[test]
    fn validation_names_fields_and_sorts_statuses() {
        assert!(request("退款多久到账").validate().is_ok());
        let p = request("   ").validate().unwrap_err();
        assert_eq!(p.status, 422);
        assert_eq!(p.invalid_params[0].name, "message");
        let p = request(&"字".repeat(1366)).validate().unwrap_err();
        assert_eq!(p.status, 413);
        assert!(request(&"a".repeat(4096)).validate().is_ok());
        let mut r = request("hi");
        r.conversation_id = Some("c-42".into());
        assert_eq!(
            r.validate().unwrap_err().invalid_params[0].name,
            "conversation_id"
        );
        r.conversation_id = Some(conversation_id([1; 16]));
        assert!(r.validate().is_ok());
        r.customer = Some(CustomerInput {
            tier: Some("x".repeat(33)),
            id: Some(" ".into()),
            name: Some("王小明".into()),
            ..Default::default()
        });
        let p = r.validate().unwrap_err();
        assert_eq!(p.status, 422);
        let names: Vec<&str> = p.invalid_params.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["customer.id", "customer.tier"]);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let p = crate::foundation::problem::decode_json::<AssistRequest>(
            br#"{"message": "hi", "customer": {"vip": true}}"#,
            MAX_BODY_BYTES,
        )
        .unwrap_err();
        assert_eq!(p.status, 422);
        let p = crate::foundation::problem::decode_json::<AssistRequest>(
            br#"{"message": "hi", "text": "x"}"#,
            MAX_BODY_BYTES,
        )
        .unwrap_err();
        assert_eq!(p.status, 422);
    }

    #[test]
    fn state_expires_after_the_ttl_and_round_trips() {
        let id = conversation_id([3; 16]);
        let mut c = Conversation::new(id.clone(), 1_000);
        let bytes = serde_json::to_vec(&c).unwrap();
        assert!(matches!(lookup(&id, Some(&bytes), 1_000), Lookup::Live(_)));
        assert!(matches!(
            lookup(&id, Some(&bytes), 1_000 + CONVERSATION_TTL_MS),
            Lookup::Live(_)
        ));
        assert_eq!(
            lookup(&id, Some(&bytes), 1_001 + CONVERSATION_TTL_MS),
            Lookup::Expired
        );
        assert_eq!(lookup(&id, None, 1_000), Lookup::Missing);
        assert_eq!(lookup(&id, Some(b"garbage"), 1_000), Lookup::Missing);
        // A value stored under another id (never happens unless keys collide) is not continued.
        assert_eq!(
            lookup(&conversation_id([4; 16]), Some(&bytes), 1_000),
            Lookup::Missing
        );
        // A turn moves the clock: the TTL counts from the last turn.
        let reply = Reply {
            text: "ok".into(),
            source: Source::Faq,
            lang: Lang::En,
            answered: Some(true),
            pending: None,
        };
        c.record_turn(Turn::customer("hi"), &reply, 1_000 + CONVERSATION_TTL_MS);
        let bytes = serde_json::to_vec(&c).unwrap();
        assert!(matches!(
            lookup(&id, Some(&bytes), 1_000 + 2 * CONVERSATION_TTL_MS),
            Lookup::Live(_)
        ));
    }

    impl Turn {
        fn customer(text: &str) -> Turn {
            Turn {
                role: Role::Customer,
                text: text.into(),
                intent: None,
                confidence: None,
                answered: None,
                negative: None,
            }
        }
    }

    #[test]
    fn turns_are_recorded_in_pairs_and_capped() {
        let mut c = Conversation::new(conversation_id([5; 16]), 0);
        let reply = Reply {
            text: fallback_text(Lang::En).into(),
            source: Source::Fallback,
            lang: Lang::En,
            answered: Some(false),
            pending: None,
        };
        for i in 0..150 {
            let t = Turn::customer(&format!("q{i}"));
            let transcript = c.transcript_with(&t);
            assert!(transcript.len() <= MAX_KEPT_TURNS);
            assert_eq!(transcript.last(), Some(&t));
            c.record_turn(t, &reply, i);
        }
        assert_eq!(c.customer_turns, 150);
        assert_eq!(c.turns.len(), MAX_KEPT_TURNS);
        assert_eq!(c.turns.last().unwrap().role, Role::Bot);
        assert_eq!(c.turns.last().unwrap().answered, Some(false));
        assert_eq!(c.turns[c.turns.len() - 2].text, "q149");
        assert_eq!(c.turns[0].text, "q50");
        assert_eq!(
            c.transcript_with(&Turn::customer("x")).len(),
            MAX_KEPT_TURNS
        );
    }

    #[test]
    fn customer_fields_merge_and_default_id() {
        let mut c = Conversation::new(conversation_id([6; 16]), 0);
        assert_eq!(c.customer_id(), c.id);
        c.merge_customer(Some(&CustomerInput {
            id: Some(" u-1 ".into()),
            tier: Some("vip".into()),
            ..Default::default()
        }));
        c.merge_customer(Some(&CustomerInput {
            name: Some("Ann".into()),
            ..Default::default()
        }));
        c.merge_customer(None);
        assert_eq!(c.customer_id(), "u-1");
        assert_eq!(c.customer.tier.as_deref(), Some("vip"));
        assert_eq!(c.customer.name.as_deref(), Some("Ann"));
    }

    #[test]
    fn faq_answers_win_over_templates_and_fallback() {
        let r = replies();
        let reply = say(
            &r,
            "退款多久到账",
            &intent("refund_status", 0.9),
            Some("1–3 个工作日"),
            &BOT,
            None,
        );
        assert_eq!(reply.source, Source::Faq);
        assert_eq!(reply.answered, Some(true));
        assert_eq!(reply.text, "1–3 个工作日");
    }

    #[test]
    fn fallback_speaks_the_customers_language() {
        let r = replies();
        let zh = say(
            &r,
            "今天天气怎么样",
            &intent("greeting", 0.1),
            None,
            &BOT,
            None,
        );
        assert_eq!((zh.source, zh.lang), (Source::Fallback, Lang::Zh));
        assert_eq!(zh.text, fallback_text(Lang::Zh));
        assert_eq!(zh.answered, Some(false));
        let en = say(
            &r,
            "what's the weather",
            &intent("greeting", 0.1),
            None,
            &BOT,
            None,
        );
        assert_eq!((en.source, en.lang), (Source::Fallback, Lang::En));
        assert!(en.text.starts_with("Sorry"));
        // Mixed text: Han share decides.
        let mixed = say(
            &r,
            "这个 weather 怎么样呢",
            &intent("x", 0.1),
            None,
            &BOT,
            None,
        );
        assert_eq!(mixed.lang, Lang::Zh);
        // A confident intent without a template still falls back.
        let none = say(&r, "blah", &intent("no_template", 0.9), None, &BOT, None);
        assert_eq!(none.source, Source::Fallback);
    }

    #[test]
    fn templates_fill_or_ask_and_the_next_message_fills_them() {
        let r = replies();
        let direct = say(
            &r,
            "where is order TD2026112612345",
            &intent("order_status", 0.95),
            None,
            &BOT,
            None,
        );
        assert_eq!(direct.source, Source::Intent);
        assert_eq!(direct.text, "Order TD2026112612345 has shipped.");
        assert_eq!(direct.answered, Some(true));

        let ask = say(
            &r,
            "我的订单到哪了",
            &intent("order_status", 0.95),
            None,
            &BOT,
            None,
        );
        assert_eq!(ask.source, Source::Intent);
        assert!(
            ask.text.contains("订单号") && ask.text.contains("查询订单状态"),
            "{}",
            ask.text
        );
        assert_eq!(ask.answered, None);
        let pending = ask.pending.clone().unwrap();
        assert_eq!(pending.missing, ["order_id"]);

        // The order number alone: out of scope for the classifier, but what the bot asked for.
        let filled = say(
            &r,
            "TD2026112612345",
            &intent("greeting", 0.1),
            None,
            &BOT,
            Some(&pending),
        );
        assert_eq!(filled.source, Source::Intent);
        assert_eq!(filled.text, "Order TD2026112612345 has shipped.");
        assert_eq!(filled.pending, None);

        // Without the entity the pending question does not answer anything.
        let no = say(
            &r,
            "嗯嗯",
            &intent("greeting", 0.1),
            None,
            &BOT,
            Some(&pending),
        );
        assert_eq!(no.source, Source::Fallback);

        // A confident, different intent wins over the pending question.
        let hi = say(
            &r,
            "你好 TD2026112612345",
            &intent("greeting", 0.9),
            None,
            &BOT,
            Some(&pending),
        );
        assert_eq!(hi.text, "您好！");
    }

    #[test]
    fn shaky_or_always_human_intents_get_no_template() {
        let r = replies();
        let shaky = say(&r, "hello?", &intent("greeting", 0.85), None, &BOT, None);
        assert_eq!(shaky.source, Source::Fallback);
        let sure = say(&r, "hello", &intent("greeting", 0.95), None, &BOT, None);
        assert_eq!(
            (sure.source, sure.text.as_str()),
            (Source::Intent, "Hello!")
        );
        // The complaint template promises a transfer; only the handoff decision may do that.
        let complaint = say(
            &r,
            "I complain",
            &intent("complaint", 0.9),
            None,
            &BOT,
            None,
        );
        assert_eq!(complaint.source, Source::Fallback);
    }

    #[test]
    fn handoffs_name_the_ticket_in_the_customers_language() {
        let r = replies();
        let human = HandoffView {
            decision: Decision::Human,
            ticket_id: Some("tk_0123456789abcdef"),
            ticket_queue: Some("orders"),
            ticket_is_new: true,
            back_at: None,
        };
        let zh = say(
            &r,
            "转人工",
            &intent("talk_to_human", 0.9),
            Some("faq"),
            &human,
            None,
        );
        assert_eq!(zh.source, Source::Handoff);
        assert!(
            zh.text.contains("tk_0123456789abcdef") && zh.text.contains("订单组"),
            "{}",
            zh.text
        );
        assert_eq!(zh.answered, None);
        let en = say(
            &r,
            "I want to talk to a real person",
            &intent("x", 0.9),
            None,
            &human,
            None,
        );
        assert!(en.text.contains("tk_0123456789abcdef") && en.text.contains("Orders team"));
        let no_agents = HandoffView {
            decision: Decision::Ticket,
            ticket_queue: None,
            ..human.clone()
        };
        let t = say(
            &r,
            "agent please",
            &intent("x", 0.9),
            None,
            &no_agents,
            None,
        );
        assert!(t.text.contains("No agent is available") && t.text.contains("tk_0123456789abcdef"));
        let again = HandoffView {
            ticket_is_new: false,
            ..human
        };
        let a = say(&r, "还在吗", &intent("x", 0.9), None, &again, None);
        assert!(
            a.text.contains("已在工单 tk_0123456789abcdef"),
            "{}",
            a.text
        );
    }

    #[test]
    fn desk_hours_come_from_the_calendar_unless_the_operator_says_otherwise() {
        assert_eq!(DeskHours::parse(""), Ok(DeskHours::Calendar));
        assert_eq!(DeskHours::parse(" Calendar "), Ok(DeskHours::Calendar));
        assert_eq!(DeskHours::parse("open"), Ok(DeskHours::Open));
        assert_eq!(DeskHours::parse("CLOSED"), Ok(DeskHours::Closed));
        let bad = DeskHours::parse("24/7").unwrap_err();
        assert!(bad.contains("\"24/7\"") && bad.contains("calendar, open or closed"));
        // 2026-12-07T04:30:00Z, the turn's time, read by the queue's calendar.
        assert_eq!(
            DeskHours::Calendar.availability(1_796_617_800),
            (None, Some("2026-12-07T04:30:00Z".into()))
        );
        assert_eq!(DeskHours::Open.availability(0), (Some(true), None));
        assert_eq!(DeskHours::Closed.availability(0), (Some(false), None));
    }

    #[test]
    fn outside_business_hours_the_customer_hears_when_a_person_is_back() {
        let r = replies();
        let closed = HandoffView {
            decision: Decision::Ticket,
            ticket_id: Some("tk_0123456789abcdef"),
            ticket_queue: Some("orders"),
            ticket_is_new: true,
            back_at: Some("2026-12-07T09:00:00+08:00"),
        };
        let zh = say(&r, "转人工", &intent("x", 0.9), None, &closed, None);
        assert_eq!(zh.source, Source::Handoff);
        assert!(
            zh.text.contains("tk_0123456789abcdef")
                && zh.text.contains("2026-12-07 09:00 (UTC+08:00)")
                && zh.text.contains("上班"),
            "{}",
            zh.text
        );
        let en = say(
            &r,
            "a person please",
            &intent("x", 0.9),
            None,
            &closed,
            None,
        );
        assert!(
            en.text
                .contains("a person is back at 2026-12-07 09:00 (UTC+08:00)")
                || en
                    .text
                    .contains("A person is back at 2026-12-07 09:00 (UTC+08:00)"),
            "{}",
            en.text
        );
        assert!(!en.text.contains("No agent is available"), "{}", en.text);
        let later = HandoffView {
            ticket_is_new: false,
            ..closed
        };
        let again = say(&r, "hello?", &intent("x", 0.9), None, &later, None);
        assert!(
            again
                .text
                .contains("already with our team (ticket tk_0123456789abcdef)")
                && again.text.contains("back at 2026-12-07 09:00"),
            "{}",
            again.text
        );
    }

    #[test]
    fn policy_json_round_trips() {
        let json = serde_json::to_string(&policy()).unwrap();
        let back: AssistPolicy = serde_json::from_str(&json).unwrap();
        assert_eq!(back, policy());
        assert!(Replies::new(back).is_ok());
        let bad = AssistPolicy {
            entities: BTreeMap::from([("x".into(), "(".into())]),
            ..policy()
        };
        assert!(Replies::new(bad).is_err());
    }
}
