//! The knowledge base (docs/kb-format.md): serde types, validation with file:line
//! diagnostics, and the training view (labelled examples) of a KB or of a `text,category` CSV.
//! Pure: callers read the files and hand over their text.

use crate::foundation::text::normalize;
use crate::foundation::vocab::Priority;

mod accepted;
pub use accepted::{ACCEPTED_DRAFTS_FILE, AcceptedDrafts, FaqChange, apply_changes};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

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

/// Validation outcome: the KB when there is no error, plus every diagnostic found.
pub struct Loaded {
    pub kb: Option<KnowledgeBase>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }
}

/// Parses and validates a KB from its files, found by file name (`kb.yaml`, `intents.yaml`,
/// optional `faq.yaml`, `handoff.yaml`, `faq-accepted.yaml`).
pub fn load(files: &[SourceFile]) -> Loaded {
    let mut v = Validator::default();
    let find = |name: &str| {
        files
            .iter()
            .find(|f| f.path.rsplit(['/', '\\']).next() == Some(name))
    };
    let meta: Option<KbMeta> = v.parse_required(find("kb.yaml"), "kb.yaml");
    let intents: Option<IntentsFile> = v.parse_required(find("intents.yaml"), "intents.yaml");
    let faq: Option<FaqFile> = find("faq.yaml").and_then(|f| v.parse(f));
    let handoff: Option<Handoff> = find("handoff.yaml").and_then(|f| v.parse(f));
    let accepted: Option<AcceptedDrafts> = find(ACCEPTED_DRAFTS_FILE).and_then(|f| v.parse(f));
    if let (Some(meta), Some(intents)) = (meta, intents) {
        let mut kb = KnowledgeBase {
            meta,
            intents: intents.intents,
            intent_out_of_scope: intents.out_of_scope,
            faq_no_answer: faq
                .as_ref()
                .map(|f| f.no_answer_examples.clone())
                .unwrap_or_default(),
            faq: faq.map(|f| f.faq).unwrap_or_default(),
            handoff,
        };
        // Accepted drafts join the FAQ before it is checked, so their ids are too.
        if let (Some(accepted), Some(file)) = (accepted, find(ACCEPTED_DRAFTS_FILE))
            && let Err(errors) = apply_changes(&mut kb, &accepted.changes)
        {
            for e in errors {
                let line = e.split_once(':').map_or(0, |(draft, _)| {
                    line_of(&file.text, draft.trim_start_matches("draft "), 1)
                });
                v.report(Severity::Error, file, line, e);
            }
        }
        v.check(
            &kb,
            find("kb.yaml").unwrap(),
            find("intents.yaml").unwrap(),
            find("faq.yaml"),
            find("handoff.yaml"),
        );
        let ok = !v.out.iter().any(|d| d.severity == Severity::Error);
        return Loaded {
            kb: ok.then_some(kb),
            diagnostics: v.out,
        };
    }
    Loaded {
        kb: None,
        diagnostics: v.out,
    }
}

#[derive(Default)]
struct Validator {
    out: Vec<Diagnostic>,
}

impl Validator {
    fn report(&mut self, severity: Severity, file: &SourceFile, line: usize, message: String) {
        self.out.push(Diagnostic {
            severity,
            file: file.path.clone(),
            line,
            message,
        });
    }

    fn parse_required<T: serde::de::DeserializeOwned>(
        &mut self,
        file: Option<&SourceFile>,
        name: &str,
    ) -> Option<T> {
        match file {
            Some(f) => self.parse(f),
            None => {
                self.out.push(Diagnostic {
                    severity: Severity::Error,
                    file: name.into(),
                    line: 0,
                    message: "required file missing".into(),
                });
                None
            }
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(&mut self, file: &SourceFile) -> Option<T> {
        match serde_yaml::from_str(&file.text) {
            Ok(v) => Some(v),
            Err(e) => {
                let line = e.location().map_or(0, |l| l.line());
                self.report(Severity::Error, file, line, e.to_string());
                None
            }
        }
    }

    fn check(
        &mut self,
        kb: &KnowledgeBase,
        kb_file: &SourceFile,
        intents_file: &SourceFile,
        faq_file: Option<&SourceFile>,
        handoff_file: Option<&SourceFile>,
    ) {
        use Severity::{Error, Warning};
        if kb.meta.format != KB_FORMAT {
            let line = line_of(&kb_file.text, "format", 1);
            self.report(
                Error,
                kb_file,
                line,
                format!(
                    "unsupported format {} (expected {KB_FORMAT})",
                    kb.meta.format
                ),
            );
        }
        let queue_ids: Vec<&str> = kb.meta.queues.iter().map(|q| q.id.as_str()).collect();
        let queue_lines = self.check_ids(
            kb_file,
            kb.meta.queues.iter().map(|q| q.id.as_str()),
            "queue",
        );
        self.check_calendars(kb, kb_file, &queue_lines);
        for (q, &line) in kb.meta.queues.iter().zip(&queue_lines) {
            if let Some(target) = &q.escalate_to
                && (!queue_ids.contains(&target.as_str()) || *target == q.id)
            {
                self.report(
                    Error,
                    kb_file,
                    line,
                    format!(
                        "queue \"{}\": escalate_to \"{target}\" must name another queue",
                        q.id
                    ),
                );
            }
            if q.sla_pauses_outside_hours && q.hours.is_none() {
                let message = format!(
                    "queue \"{}\": sla_pauses_outside_hours needs the queue's hours (a calendar)",
                    q.id
                );
                self.report(Error, kb_file, line, message);
            }
            if q.ownership_timeout_minutes == Some(0) {
                let message = format!(
                    "queue \"{}\": ownership_timeout_minutes must be at least 1 (omit it for no limit)",
                    q.id
                );
                self.report(Error, kb_file, line, message);
            }
        }
        let lines = self.check_ids(
            intents_file,
            kb.intents.iter().map(|i| i.id.as_str()),
            "intent",
        );
        // Normalised example text → (intent index) first seen, for conflicting labels.
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (k, intent) in kb.intents.iter().enumerate() {
            let line = lines[k];
            for lang in ["zh", "en"] {
                if intent.name.get(lang).is_none_or(|n| n.trim().is_empty()) {
                    self.report(
                        Error,
                        intents_file,
                        line,
                        format!("intent \"{}\" has no {lang} name", intent.id),
                    );
                }
            }
            if let Some(q) = &intent.queue
                && !queue_ids.contains(&q.as_str())
            {
                self.report(
                    Error,
                    intents_file,
                    line,
                    format!("intent \"{}\": unknown queue \"{q}\"", intent.id),
                );
            }
            let total: usize = intent.examples.values().map(Vec::len).sum();
            if total == 0 {
                self.report(
                    Error,
                    intents_file,
                    line,
                    format!("intent \"{}\" has no examples", intent.id),
                );
            }
            for (lang, examples) in &intent.examples {
                if examples.len() < kb.meta.min_examples_per_intent {
                    self.report(
                        Warning,
                        intents_file,
                        line,
                        format!(
                            "intent \"{}\" has {} {lang} examples (min_examples_per_intent is {})",
                            intent.id,
                            examples.len(),
                            kb.meta.min_examples_per_intent
                        ),
                    );
                }
                for ex in examples {
                    let ex_line = line_of(&intents_file.text, ex, line);
                    let norm = normalize(ex);
                    if norm.is_empty() {
                        self.report(
                            Error,
                            intents_file,
                            ex_line,
                            format!("intent \"{}\": empty example", intent.id),
                        );
                        continue;
                    }
                    match seen.get(&norm) {
                        Some(&other) if other != k => self.report(
                            Error,
                            intents_file,
                            ex_line,
                            format!(
                                "example \"{ex}\" is under both \"{}\" and \"{}\"",
                                kb.intents[other].id, intent.id
                            ),
                        ),
                        Some(_) => self.report(
                            Warning,
                            intents_file,
                            ex_line,
                            format!("intent \"{}\": duplicate example \"{ex}\"", intent.id),
                        ),
                        None => {
                            seen.insert(norm, k);
                        }
                    }
                }
            }
        }
        if let Some(faq_file) = faq_file {
            let lines = self.check_ids(faq_file, kb.faq.iter().map(|f| f.id.as_str()), "faq entry");
            for (entry, line) in kb.faq.iter().zip(lines) {
                if let Some(i) = &entry.intent
                    && !kb.intents.iter().any(|x| &x.id == i)
                {
                    self.report(
                        Error,
                        faq_file,
                        line,
                        format!("faq \"{}\": unknown intent \"{i}\"", entry.id),
                    );
                }
                // Tags are nodes of the knowledge graph (`tag:<tag>`), so they are ids too.
                for tag in entry.tags.iter().filter(|t| !valid_id(t)) {
                    self.report(
                        Error,
                        faq_file,
                        line,
                        format!(
                            "faq \"{}\": invalid tag \"{tag}\" (want [a-z0-9_]{{1,64}})",
                            entry.id
                        ),
                    );
                }
            }
        }
        if let (Some(h), Some(file)) = (&kb.handoff, handoff_file) {
            self.check_ids(file, h.rules.iter().map(|r| r.id.as_str()), "rule");
            self.check_ids(
                file,
                h.conversations.iter().map(|c| c.id.as_str()),
                "conversation",
            );
        }
    }

    /// Calendars compile (times, intervals, dates, offsets), queues name known ones, and
    /// every calendar is used.
    fn check_calendars(&mut self, kb: &KnowledgeBase, file: &SourceFile, queue_lines: &[usize]) {
        let section = line_of(&file.text, "calendars:", 1);
        for (name, calendar) in &kb.meta.calendars {
            let line = line_of(&file.text, &format!("{name}:"), section);
            if !valid_id(name) {
                self.report(
                    Severity::Error,
                    file,
                    line,
                    format!("invalid calendar name \"{name}\" (want [a-z0-9_]{{1,64}})"),
                );
            }
            if let Err(errors) = calendar.compile() {
                for e in errors {
                    let at = line_of(&file.text, &e.at, line);
                    self.report(
                        Severity::Error,
                        file,
                        at,
                        format!("calendar \"{name}\": {}", e.message),
                    );
                }
            }
            if !kb
                .meta
                .queues
                .iter()
                .any(|q| q.hours.as_ref() == Some(name))
            {
                self.report(
                    Severity::Warning,
                    file,
                    line,
                    format!("calendar \"{name}\" is used by no queue"),
                );
            }
        }
        for (q, &line) in kb.meta.queues.iter().zip(queue_lines) {
            if let Some(h) = &q.hours
                && !kb.meta.calendars.contains_key(h)
            {
                self.report(
                    Severity::Error,
                    file,
                    line_of(&file.text, "hours:", line),
                    format!("queue \"{}\": unknown calendar \"{h}\"", q.id),
                );
            }
        }
    }

    /// Checks id syntax and uniqueness; returns each item's line.
    fn check_ids<'a>(
        &mut self,
        file: &SourceFile,
        ids: impl Iterator<Item = &'a str>,
        what: &str,
    ) -> Vec<usize> {
        let mut count: HashMap<&str, usize> = HashMap::new();
        let mut lines = Vec::new();
        for id in ids {
            let nth = count.entry(id).or_default();
            *nth += 1;
            let line = id_line(&file.text, id, *nth);
            lines.push(line);
            if !valid_id(id) {
                self.report(
                    Severity::Error,
                    file,
                    line,
                    format!("invalid {what} id \"{id}\" (want [a-z0-9_]{{1,64}})"),
                );
            }
            if *nth == 2 {
                self.report(
                    Severity::Error,
                    file,
                    line,
                    format!("duplicate {what} id \"{id}\""),
                );
            }
        }
        lines
    }
}

pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Line of the `nth` `id: <id>` entry (YAML gives no positions after deserialising; ids are
/// what people search for anyway).
fn id_line(text: &str, id: &str, nth: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim_start().trim_start_matches(['-', '{', ' ']);
            l.strip_prefix("id:").is_some_and(|rest| {
                let v = rest
                    .trim()
                    .split([',', '}', '#'])
                    .next()
                    .unwrap_or("")
                    .trim();
                v.trim_matches(['"', '\'']) == id
            })
        })
        .nth(nth - 1)
        .map_or(0, |(i, _)| i + 1)
}

/// First line at or after `from` (1-based) that contains `needle`; `from` when none does.
fn line_of(text: &str, needle: &str, from: usize) -> usize {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, l)| l.contains(needle))
        .map_or(from, |(i, _)| i + 1)
}

/// What the intent model trains on: labelled examples, plus out-of-scope texts used only to
/// calibrate the rejection threshold.
#[derive(Clone, Debug, Default)]
pub struct TrainingSet {
    pub name: String,
    pub labels: Vec<String>,
    /// Intent id → language → display name.
    pub display_names: BTreeMap<String, Localized>,
    pub examples: Vec<Example>,
    pub oos: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub text: String,
    pub label: usize,
}

impl TrainingSet {
    pub fn from_kb(kb: &KnowledgeBase) -> Self {
        let mut set = TrainingSet {
            name: kb.meta.name.clone(),
            ..Default::default()
        };
        for (label, intent) in kb.intents.iter().enumerate() {
            set.labels.push(intent.id.clone());
            set.display_names
                .insert(intent.id.clone(), intent.name.clone());
            for ex in intent.examples.values().flatten() {
                set.examples.push(Example {
                    text: ex.clone(),
                    label,
                });
            }
        }
        set.oos = kb.intent_out_of_scope.values().flatten().cloned().collect();
        set
    }

    /// A `text,category` CSV: labels in order of first appearance, `oos` rows set apart.
    pub fn from_csv(name: &str, file: &SourceFile) -> Result<Self, Diagnostic> {
        let mut set = TrainingSet {
            name: name.into(),
            ..Default::default()
        };
        let mut index: HashMap<String, usize> = HashMap::new();
        for (line, text, category) in parse_csv(file)? {
            if text.trim().is_empty() {
                continue;
            }
            if category == "oos" {
                set.oos.push(text);
                continue;
            }
            let label = *index.entry(category.clone()).or_insert_with(|| {
                set.labels.push(category);
                set.labels.len() - 1
            });
            let _ = line;
            set.examples.push(Example { text, label });
        }
        Ok(set)
    }

    /// Keeps up to `n` examples per intent, drawn by a seeded shuffle (few-shot experiments).
    pub fn subsample(&self, n: usize, seed: u64) -> Self {
        let mut order: Vec<usize> = (0..self.examples.len()).collect();
        shuffle(&mut order, seed);
        let mut taken = vec![0usize; self.labels.len()];
        let mut keep = Vec::new();
        for i in order {
            let ex = &self.examples[i];
            if taken[ex.label] < n {
                taken[ex.label] += 1;
                keep.push(i);
            }
        }
        keep.sort_unstable();
        Self {
            examples: keep.iter().map(|&i| self.examples[i].clone()).collect(),
            ..self.clone()
        }
    }
}

/// Deterministic Fisher–Yates with splitmix64, so draws are the same on every platform.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in (1..items.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// RFC 4180 CSV with a `text,category` header: quoted fields may hold commas, doubled quotes
/// and newlines. Returns (line, text, category) per record.
pub fn parse_csv(file: &SourceFile) -> Result<Vec<(usize, String, String)>, Diagnostic> {
    let err = |line: usize, message: String| Diagnostic {
        severity: Severity::Error,
        file: file.path.clone(),
        line,
        message,
    };
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let (mut line, mut record_line) = (1usize, 1usize);
    let mut in_quotes = false;
    let mut chars = file.text.trim_start_matches('\u{feff}').chars().peekable();
    let mut end_record =
        |fields: &mut Vec<String>, field: &mut String, at: usize| -> Result<(), Diagnostic> {
            fields.push(std::mem::take(field));
            let f = std::mem::take(fields);
            match f.as_slice() {
                [one] if one.is_empty() => {} // blank line
                [text, category] => records.push((at, text.clone(), category.trim().to_string())),
                _ => {
                    return Err(err(
                        at,
                        format!("expected 2 fields (text,category), found {}", f.len()),
                    ));
                }
            }
            Ok(())
        };
    while let Some(c) = chars.next() {
        match (in_quotes, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => in_quotes = false,
            (false, '"') if field.is_empty() => in_quotes = true,
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                end_record(&mut fields, &mut field, record_line)?;
                line += 1;
                record_line = line;
            }
            (_, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
        }
    }
    if in_quotes {
        return Err(err(record_line, "unterminated quoted field".into()));
    }
    if !field.is_empty() || !fields.is_empty() {
        end_record(&mut fields, &mut field, record_line)?;
    }
    match records.first() {
        Some((_, t, c)) if t == "text" && c == "category" => Ok(records.split_off(1)),
        _ => Err(err(1, "expected header `text,category`".into())),
    }
}

#[cfg(test)]
mod tests;
