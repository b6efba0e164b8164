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

/// Language (`zh`, `en`) → text.
pub type Localized = BTreeMap<String, String>;
/// Language → list of texts (examples, paraphrases, phrases).
pub type LocalizedList = BTreeMap<String, Vec<String>>;

/// The `format` this crate reads in `kb.yaml`; any other is a validation error.
pub const KB_FORMAT: u32 = 1;

/// `kb.yaml`: the KB's name and format, its queues, calendars, entity patterns and SLAs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KbMeta {
    /// Format version of the KB; must equal [`KB_FORMAT`].
    pub format: u32,
    /// The KB's name, used in model versions (`<name>-<hash prefix>`).
    pub name: String,
    /// Languages the KB's texts are written in, e.g. `[zh, en]`.
    #[serde(default)]
    pub languages: Vec<String>,
    /// Fewer examples than this for an intent in a language is a warning, not an error (default
    /// 10).
    #[serde(default = "default_min_examples")]
    pub min_examples_per_intent: usize,
    /// Queues that tickets and handoffs are routed to.
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

/// A queue of `kb.yaml`: a team that takes over conversations and tickets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Queue {
    /// `[a-z0-9_]{1,64}`, unique within `kb.yaml`; what intents and rules name in `queue`.
    pub id: String,
    /// Display name per language (`{zh: 订单组, en: Orders}`).
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

/// `intents.yaml` as parsed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IntentsFile {
    /// The intents, in file order (the model's labels keep this order).
    pub intents: Vec<Intent>,
    /// Messages no intent covers (weather, homework, chit-chat), per language. Never trained
    /// on: the out-of-scope threshold is calibrated on them (in-scope accuracy + their
    /// rejection rate, maximised), instead of on the in-scope scores alone.
    #[serde(default)]
    pub out_of_scope: LocalizedList,
}

/// An intent of `intents.yaml`: what a customer message is about.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Intent {
    /// `[a-z0-9_]{1,64}`, unique within `intents.yaml`; the intent model's label.
    pub id: String,
    /// Display name per language; both `zh` and `en` are required.
    pub name: Localized,
    /// What the intent covers, for people editing the KB.
    #[serde(default)]
    pub description: String,
    /// Training examples per language; at least one in all, none empty, none under two intents.
    #[serde(default)]
    pub examples: LocalizedList,
    /// Queue (a `kb.yaml` queue id) of this intent's tickets and handoffs, unless a handoff rule
    /// names one; none: the default queue.
    #[serde(default)]
    pub queue: Option<String>,
    /// `handoff:` settings of this intent.
    #[serde(default)]
    pub handoff: IntentHandoff,
    /// `ticket:` defaults of this intent.
    #[serde(default)]
    pub ticket: TicketDefaults,
    /// Agent reply template per language, with `{entity}` placeholders filled from the message.
    #[serde(default)]
    pub templates: Localized,
}

/// An intent's `handoff:` block in `intents.yaml`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IntentHandoff {
    /// A human takes over whenever this intent is predicted with confidence ≥ 0.5 (rule key
    /// `always_human_intent`).
    #[serde(default)]
    pub always_human: bool,
}

/// An intent's `ticket:` block in `intents.yaml`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TicketDefaults {
    /// Default priority of this intent's tickets and handoffs (`normal` when absent).
    #[serde(default)]
    pub priority: Priority,
}

/// `faq.yaml` as parsed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FaqFile {
    /// The FAQ entries, in file order.
    pub faq: Vec<FaqEntry>,
    /// Questions the FAQ deliberately has no entry for, per language: they calibrate and test
    /// the "no answer" path (kb-loader), and are never served.
    #[serde(default)]
    pub no_answer_examples: LocalizedList,
}

/// An entry of `faq.yaml`: a question in its phrasings and its answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FaqEntry {
    /// `[a-z0-9_]{1,64}`, unique within `faq.yaml` (accepted drafts included).
    pub id: String,
    /// An intent id this entry belongs to; it lends the entry its examples and reply templates.
    #[serde(default)]
    pub intent: Option<String>,
    /// Tags, `[a-z0-9_]{1,64}` each (they are `tag:<tag>` nodes of the knowledge graph).
    #[serde(default)]
    pub tags: Vec<String>,
    /// `false`: the entry is not indexed (default `true`).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Inclusive dates, `YYYY-MM-DD`.
    #[serde(default)]
    pub valid_from: Option<String>,
    /// Last day the entry is served, inclusive, `YYYY-MM-DD`; none: no end.
    #[serde(default)]
    pub valid_to: Option<String>,
    /// Canonical question per language.
    pub question: Localized,
    /// More phrasings of the question per language; the more, the better retrieval.
    #[serde(default)]
    pub paraphrases: LocalizedList,
    /// The answer per language, Markdown.
    pub answer: Localized,
}

fn yes() -> bool {
    true
}

/// `handoff.yaml` as parsed (docs/handoff.md).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Handoff {
    /// Explicit requests for a person per language ("转人工", "talk to a human").
    #[serde(default)]
    pub human_request_phrases: LocalizedList,
    /// Topic → trigger phrases per language.
    #[serde(default)]
    pub sensitive_topics: BTreeMap<String, LocalizedList>,
    /// Rules tried in file order; the first whose `when` holds decides.
    #[serde(default)]
    pub rules: Vec<HandoffRule>,
    /// Escalation score from which a human takes over when no rule fired; none:
    /// [`crate::handoff::DEFAULT_SCORE_THRESHOLD`].
    #[serde(default)]
    pub score_threshold: Option<f32>,
    /// Training data of the sentiment model.
    #[serde(default)]
    pub sentiment_examples: Vec<SentimentExample>,
    /// Labelled conversations: training data of the escalation-score model, and its evaluation.
    #[serde(default)]
    pub conversations: Vec<Conversation>,
}

/// A handoff rule of `handoff.yaml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HandoffRule {
    /// `[a-z0-9_]{1,64}`, unique within `handoff.yaml`; the decision's `driver` and reason code.
    pub id: String,
    /// The conditions that must all hold; empty: always holds.
    #[serde(default)]
    pub when: RuleCondition,
    /// `human` or `bot` (anything else fails the policy build).
    pub decision: String,
    /// Queue a `human` decision goes to; none: the intent's, else the default queue.
    #[serde(default)]
    pub queue: Option<String>,
    /// Priority of the decision; none: the intent's, else `normal`.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Why, per language; both `zh` and `en` are required. The decision's first reason.
    #[serde(default)]
    pub reason: Localized,
}

/// All given keys must hold for a rule to fire.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleCondition {
    /// The customer asked for a person (`true`) or did not (`false`).
    pub explicit_request: Option<bool>,
    /// A topic id, or `any`.
    pub sensitive_topic: Option<String>,
    /// An `always_human` intent was predicted with confidence ≥ 0.5 (`true`), or not (`false`).
    pub always_human_intent: Option<bool>,
    /// At least this many bot no-answers in a row at the end of the conversation.
    pub bot_failures_min: Option<u32>,
    /// At least this many customer turns that rephrase the previous one.
    pub rephrases_min: Option<u32>,
    /// Frustration (highest negative probability of the last 3 customer turns) at least this, in
    /// `[0, 1]`.
    pub frustration_min: Option<f32>,
    /// The customer's tier is this one (compared after normalisation, e.g. `vip`).
    pub tier: Option<String>,
    /// The conversation has at least this many turns (all roles).
    pub turns_min: Option<u32>,
    /// The latest customer turn's intent is this intent id.
    pub intent: Option<String>,
}

/// A labelled text the sentiment model trains on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SentimentExample {
    /// A customer message.
    pub text: String,
    /// negative | neutral | positive
    pub label: String,
}

/// A labelled conversation of `handoff.yaml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Conversation {
    /// `[a-z0-9_]{1,64}`, unique within `handoff.yaml`.
    pub id: String,
    /// The customer's tier (`standard`, `vip`); none: no tier.
    #[serde(default)]
    pub tier: Option<String>,
    /// human | bot
    pub label: String,
    /// Why it is labelled so: `explicit_request`, `sensitive_topic`, `frustration`, `failures` or
    /// `routine`; the held-out split is taken per kind.
    #[serde(default)]
    pub kind: Option<String>,
    /// The turns, oldest first.
    pub turns: Vec<Turn>,
}

/// A turn of a labelled conversation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Turn {
    /// `customer`, `bot` or `agent`.
    pub role: String,
    /// What was written.
    pub text: String,
    /// Bot turns: `false` marks a no-answer or fallback.
    #[serde(default)]
    pub answered: Option<bool>,
}

/// A parsed, validated knowledge base.
#[derive(Clone, Debug)]
pub struct KnowledgeBase {
    /// `kb.yaml`.
    pub meta: KbMeta,
    /// `intents.yaml`'s intents, in file order.
    pub intents: Vec<Intent>,
    /// `intents.yaml`'s `out_of_scope` examples.
    pub intent_out_of_scope: LocalizedList,
    /// `faq.yaml`'s entries with the accepted drafts (`faq-accepted.yaml`) applied; empty without
    /// `faq.yaml`.
    pub faq: Vec<FaqEntry>,
    /// `faq.yaml`'s `no_answer_examples`.
    pub faq_no_answer: LocalizedList,
    /// `handoff.yaml`; none when the KB has no such file.
    pub handoff: Option<Handoff>,
}

/// One KB file as read by the caller; `path` is what diagnostics print (`kb/intents.yaml`).
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Path as diagnostics print it; the file is recognised by its last component (`kb.yaml`, ...).
    pub path: String,
    /// The file's UTF-8 contents.
    pub text: String,
}

/// How bad a [`Diagnostic`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The KB is not loaded.
    Error,
    /// The KB loads anyway (too few examples, an unused calendar, a duplicate example).
    Warning,
}

/// A problem found in a KB file, printed `file:line: [warning: ]message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Whether the KB still loads.
    pub severity: Severity,
    /// The file's path, as in [`SourceFile::path`] (or the expected file name when it is missing).
    pub file: String,
    /// 1-based; 0 when unknown.
    pub line: usize,
    /// What is wrong, naming the item (`duplicate intent id "refund"`).
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
