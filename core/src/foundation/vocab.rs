//! The one conversation vocabulary every layer above shares: the reply language, who speaks a
//! turn, a ticket's priority and the SLA hours per priority. Plain data with serde names; the
//! capabilities give them meaning.
//!
//! [`Turn`] is the one turn of a conversation: the conversation assist stores, the turns a
//! handoff decision reads and a ticket's transcript are all lists of it (re-exported as
//! `assist::Turn` and `handoff::Turn`), and the WIT `turn` has the same fields.

use crate::foundation::text::detect_language;
use serde::{Deserialize, Serialize};

/// The two reply languages. Mixed messages follow [`detect_language`] (Han share ≥ 30 % → zh).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Chinese (`zh`).
    Zh,
    /// English (`en`).
    En,
}

impl Lang {
    /// The language of a customer's message.
    pub fn of(text: &str) -> Lang {
        match detect_language(text) {
            "zh" => Lang::Zh,
            _ => Lang::En,
        }
    }

    /// The language to answer a turn in: the message's, unless it has no words to tell by
    /// (an order number, "👍", "?"), in which case the conversation keeps its language.
    pub fn of_turn(message: &str, previous: Option<Lang>) -> Lang {
        let has_words = message
            .split_whitespace()
            // Tokens with digits are identifiers (`TD2026112612345`), not words.
            .filter(|w| !w.chars().any(|c| c.is_ascii_digit()))
            .any(|w| w.chars().any(char::is_alphabetic));
        match previous {
            Some(lang) if !has_words => lang,
            _ => Lang::of(message),
        }
    }

    /// The serde name: `zh` or `en`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}

/// Who speaks a turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The customer.
    Customer,
    /// The bot (an automatic reply).
    Bot,
    /// A human agent.
    Agent,
}

/// Ordered from least to most urgent, so `max` picks the most urgent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// `low`.
    Low,
    /// `normal`, the default.
    #[default]
    Normal,
    /// `high`.
    High,
    /// `urgent`.
    Urgent,
}

/// Hours from creation to the SLA due time, per priority.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlaHours {
    /// Hours for `low` (default 72).
    pub low: u32,
    /// Hours for `normal` (default 24).
    pub normal: u32,
    /// Hours for `high` (default 4).
    pub high: u32,
    /// Hours for `urgent` (default 1).
    pub urgent: u32,
}

impl Default for SlaHours {
    fn default() -> Self {
        Self {
            low: 72,
            normal: 24,
            high: 4,
            urgent: 1,
        }
    }
}

impl SlaHours {
    /// Hours from creation to the SLA due time for priority `p`.
    pub fn for_priority(&self, p: Priority) -> u32 {
        match p {
            Priority::Low => self.low,
            Priority::Normal => self.normal,
            Priority::High => self.high,
            Priority::Urgent => self.urgent,
        }
    }
}

/// One turn of a conversation. Optional fields are left out of its JSON when absent, so a
/// ticket's stored transcript and assist's stored conversation read as they always have; an
/// unknown field is refused, so a typo in a request is a 422, not a silently dropped value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Turn {
    /// Who wrote it.
    pub role: Role,
    /// What was written (customer turns masked where they are stored).
    pub text: String,
    /// Customer turns: the intent the bot predicted, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// The confidence of `intent`, in `[0, 1]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// Bot turns: `true` answered, `false` a no-answer or fallback, none for handoffs and
    /// questions back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered: Option<bool>,
    /// Customer turns: the probability, in `[0, 1]`, that the turn is negative, as an earlier
    /// handoff decision computed it; none = the next decision computes it. A caller that keeps
    /// the conversation stores it so that no turn is run through the encoder twice. A ticket's
    /// transcript never carries it: it is what an agent reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative: Option<f32>,
}

impl Turn {
    /// A turn of `role` with only its text.
    pub fn new(role: Role, text: &str) -> Self {
        Self {
            role,
            text: text.into(),
            intent: None,
            confidence: None,
            answered: None,
            negative: None,
        }
    }

    /// Whether `role` wrote it.
    pub fn is(&self, role: Role) -> bool {
        self.role == role
    }
}
