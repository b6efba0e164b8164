//! The one conversation vocabulary every layer above shares: the reply language, who speaks a
//! turn, a ticket's priority and the SLA hours per priority. Plain data with serde names; the
//! capabilities give them meaning.
//!
//! Turns are not unified here: `handoff::Turn` (the decision's view: intent, confidence,
//! sentiment), `ticket::TurnInput` (a transcript line) and `assist::Turn` (the stored
//! conversation) carry different fields under different serde rules, so one type would change
//! their JSON.

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
