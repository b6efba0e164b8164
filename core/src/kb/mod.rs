//! The knowledge base (docs/kb-format.md): its serde types here, validation with file:line
//! diagnostics in `validate`, and the training view (labelled examples) of a KB or of a
//! `text,category` CSV in `training`. Pure: callers read the files and hand over their text.

use crate::foundation::vocab::Priority;

mod accepted;
mod training;
mod validate;
pub use accepted::{ACCEPTED_DRAFTS_FILE, AcceptedDrafts, FaqChange, apply_changes};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
pub use training::{Example, TrainingSet, parse_csv, shuffle};
pub use validate::{Loaded, load, valid_id};

/// Language → text, and language → list of texts.
pub type Localized = BTreeMap<String, String>;
pub type LocalizedList = BTreeMap<String, Vec<String>>;

pub const KB_FORMAT: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KbMeta {
    pub format: u32,
    pub name: String,
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default = "default_min_examples")]
    pub min_examples_per_intent: usize,
    #[serde(default)]
    pub queues: Vec<Queue>,
    /// Entity name → Rust regex.
    #[serde(default)]
    pub entities: BTreeMap<String, String>,
    /// Hours from ticket creation to its SLA due time per priority (docs/tickets.md).
    #[serde(default)]
    pub ticket_sla_hours: Option<crate::foundation::vocab::SlaHours>,
    /// Business-hours calendars by name, referenced by queues' `hours` (docs/handoff.md,
    /// "Business hours").
    #[serde(default)]
    pub calendars: BTreeMap<String, crate::foundation::calendar::Calendar>,
}

fn default_min_examples() -> usize {
    10
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Queue {
    pub id: String,
    #[serde(default)]
    pub name: Localized,
    /// Name of the calendar (in `calendars`) of this queue's people; none: always staffed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<String>,
    /// Where a ticket of this queue goes when it misses its SLA (a queue id); none: it stays,
    /// its priority still goes up (docs/tickets.md, "Schedule").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_to: Option<String>,
    /// Minutes an assignee may hold a ticket without writing on it before the schedule returns
    /// it to the queue; none: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ownership_timeout_minutes: Option<u32>,
    /// Whether this queue's SLA clock runs only in its business hours (`hours`): a ticket due
    /// in 4 h filed at closing time is due 4 open hours later.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sla_pauses_outside_hours: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IntentsFile {
    pub intents: Vec<Intent>,
    /// Messages no intent covers (weather, homework, chit-chat), per language. Never trained
    /// on: the out-of-scope threshold is calibrated on them (in-scope accuracy + their
    /// rejection rate, maximised), instead of on the in-scope scores alone.
    #[serde(default)]
    pub out_of_scope: LocalizedList,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Intent {
    pub id: String,
    pub name: Localized,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub examples: LocalizedList,
    #[serde(default)]
    pub queue: Option<String>,
    #[serde(default)]
    pub handoff: IntentHandoff,
    #[serde(default)]
    pub ticket: TicketDefaults,
    #[serde(default)]
    pub templates: Localized,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IntentHandoff {
    #[serde(default)]
    pub always_human: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TicketDefaults {
    #[serde(default)]
    pub priority: Priority,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FaqFile {
    pub faq: Vec<FaqEntry>,
    /// Questions the FAQ deliberately has no entry for, per language: they calibrate and test
    /// the "no answer" path (kb-loader), and are never served.
    #[serde(default)]
    pub no_answer_examples: LocalizedList,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FaqEntry {
    pub id: String,
    #[serde(default)]
    pub intent: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Inclusive dates, `YYYY-MM-DD`.
    #[serde(default)]
    pub valid_from: Option<String>,
    #[serde(default)]
    pub valid_to: Option<String>,
    pub question: Localized,
    #[serde(default)]
    pub paraphrases: LocalizedList,
    pub answer: Localized,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Handoff {
    #[serde(default)]
    pub human_request_phrases: LocalizedList,
    /// Topic → trigger phrases per language.
    #[serde(default)]
    pub sensitive_topics: BTreeMap<String, LocalizedList>,
    #[serde(default)]
    pub rules: Vec<HandoffRule>,
    #[serde(default)]
    pub score_threshold: Option<f32>,
    #[serde(default)]
    pub sentiment_examples: Vec<SentimentExample>,
    #[serde(default)]
    pub conversations: Vec<Conversation>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HandoffRule {
    pub id: String,
    #[serde(default)]
    pub when: RuleCondition,
    pub decision: String,
    #[serde(default)]
    pub queue: Option<String>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub reason: Localized,
}

/// All given keys must hold for a rule to fire.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleCondition {
    pub explicit_request: Option<bool>,
    /// A topic id, or `any`.
    pub sensitive_topic: Option<String>,
    pub always_human_intent: Option<bool>,
    pub bot_failures_min: Option<u32>,
    pub rephrases_min: Option<u32>,
    pub frustration_min: Option<f32>,
    pub tier: Option<String>,
    pub turns_min: Option<u32>,
    pub intent: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SentimentExample {
    pub text: String,
    /// negative | neutral | positive
    pub label: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Conversation {
    pub id: String,
    #[serde(default)]
    pub tier: Option<String>,
    /// human | bot
    pub label: String,
    #[serde(default)]
    pub kind: Option<String>,
    pub turns: Vec<Turn>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Turn {
    pub role: String,
    pub text: String,
    #[serde(default)]
    pub answered: Option<bool>,
}

/// A parsed, validated knowledge base.
#[derive(Clone, Debug)]
pub struct KnowledgeBase {
    pub meta: KbMeta,
    pub intents: Vec<Intent>,
    /// `intents.yaml`'s `out_of_scope` examples.
    pub intent_out_of_scope: LocalizedList,
    pub faq: Vec<FaqEntry>,
    /// `faq.yaml`'s `no_answer_examples`.
    pub faq_no_answer: LocalizedList,
    pub handoff: Option<Handoff>,
}

/// One KB file as read by the caller; `path` is what diagnostics print (`kb/intents.yaml`).
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    /// 1-based; 0 when unknown.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = if self.severity == Severity::Warning {
            "warning: "
        } else {
            ""
        };
        write!(f, "{}:{}: {tag}{}", self.file, self.line, self.message)
    }
}

#[cfg(test)]
mod tests;
