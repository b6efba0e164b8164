//! Loading a KB from its files: parse each, merge accepted drafts, then check every rule of
//! docs/kb-format.md, reporting each problem at its file and line.

use super::{
    ACCEPTED_DRAFTS_FILE, AcceptedDrafts, Diagnostic, FaqFile, Handoff, IntentsFile, KB_FORMAT,
    KbMeta, KnowledgeBase, Severity, SourceFile, apply_changes,
};
use crate::foundation::text::normalize;
use std::collections::HashMap;

/// Validation outcome: the KB when there is no error, plus every diagnostic found.
pub struct Loaded {
    /// The KB; none when any diagnostic is an error.
    pub kb: Option<KnowledgeBase>,
    /// Every error and warning, in the order found.
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    /// The diagnostics of severity [`Severity::Error`].
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
        self.check_meta(kb, kb_file);
        self.check_intents(kb, intents_file);
        if let Some(faq_file) = faq_file {
            self.check_faq(kb, faq_file);
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

    /// `kb.yaml`: the format, the queues and their calendars.
    fn check_meta(&mut self, kb: &KnowledgeBase, kb_file: &SourceFile) {
        use Severity::Error;
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
    }

    /// `intents.yaml`: names, queues, and examples (enough of them, none empty, none under two
    /// intents).
    fn check_intents(&mut self, kb: &KnowledgeBase, intents_file: &SourceFile) {
        use Severity::{Error, Warning};
        let queue_ids: Vec<&str> = kb.meta.queues.iter().map(|q| q.id.as_str()).collect();
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
                    self.check_example(kb, intents_file, (k, line), ex, &mut seen);
                }
            }
        }
    }

    /// One example of intent `k` (declared at `line`): not empty, not under another intent,
    /// not twice under this one. `seen` maps each normalised example to its first intent.
    fn check_example(
        &mut self,
        kb: &KnowledgeBase,
        file: &SourceFile,
        (k, line): (usize, usize),
        ex: &str,
        seen: &mut HashMap<String, usize>,
    ) {
        let intent = &kb.intents[k];
        let ex_line = line_of(&file.text, ex, line);
        let norm = normalize(ex);
        if norm.is_empty() {
            let message = format!("intent \"{}\": empty example", intent.id);
            self.report(Severity::Error, file, ex_line, message);
            return;
        }
        match seen.get(&norm) {
            Some(&other) if other != k => {
                let message = format!(
                    "example \"{ex}\" is under both \"{}\" and \"{}\"",
                    kb.intents[other].id, intent.id
                );
                self.report(Severity::Error, file, ex_line, message);
            }
            Some(_) => {
                let message = format!("intent \"{}\": duplicate example \"{ex}\"", intent.id);
                self.report(Severity::Warning, file, ex_line, message);
            }
            None => {
                seen.insert(norm, k);
            }
        }
    }

    /// `faq.yaml`: ids, the intents entries name, and tags (graph nodes, so ids too).
    fn check_faq(&mut self, kb: &KnowledgeBase, faq_file: &SourceFile) {
        use Severity::Error;
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

/// Whether `id` is a valid KB id: `[a-z0-9_]{1,64}`.
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
