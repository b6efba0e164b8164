//! The training view of a KB or of a `text,category` CSV: labelled examples for the intent
//! model, and a seeded shuffle for reproducible splits.

use super::{Diagnostic, KnowledgeBase, Localized, Severity, SourceFile};
use std::collections::{BTreeMap, HashMap};

/// What the intent model trains on: labelled examples, plus out-of-scope texts used only to
/// calibrate the rejection threshold.
#[derive(Clone, Debug, Default)]
pub struct TrainingSet {
    /// The KB's name (`kb.yaml`'s `name`), or the name given for a CSV.
    pub name: String,
    /// Intent ids; an example's `label` indexes this list (KB order, or a CSV's order of first
    /// appearance).
    pub labels: Vec<String>,
    /// Intent id → language → display name.
    pub display_names: BTreeMap<String, Localized>,
    /// Labelled examples, every language together.
    pub examples: Vec<Example>,
    /// Out-of-scope texts (`out_of_scope` of intents.yaml, or a CSV's `oos` rows): never trained
    /// on.
    pub oos: Vec<String>,
}

/// A training text and its intent.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// The text as written in the KB.
    pub text: String,
    /// Index into [`TrainingSet::labels`].
    pub label: usize,
}

impl TrainingSet {
    /// The KB's intents in file order, their examples of every language, and its out-of-scope
    /// texts.
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
