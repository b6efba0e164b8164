//! What the index is built from: a KB's entries and no-answer questions, or a CSV's.

use std::collections::BTreeMap;
use tandem_core::faq::{IndexedEntry, LangText};
use tandem_core::foundation::text::{detect_language, normalize};
use tandem_core::kb::{KnowledgeBase, Localized, TrainingSet};

/// What the index is built from.
pub struct Corpus {
    pub name: String,
    pub entries: Vec<IndexedEntry>,
    /// Questions that have no entry (calibration and no-answer figures).
    pub no_answer: Vec<LangText>,
    pub templates: BTreeMap<String, Localized>,
    pub entities: BTreeMap<String, String>,
    /// Extra encoder training texts with the entries they point to: the examples of each
    /// entry's linked intent. They teach the encoder the intent's vocabulary (a customer asking
    /// about returns in words no paraphrase uses still lands among the return entries); the
    /// entries' own questions then tell those entries apart.
    pub intent_examples: Vec<(String, Vec<usize>)>,
}

/// Enabled entries of the KB (disabled ones are left out of the index entirely; expired ones
/// stay in and are filtered by date at serving time).
pub fn corpus_from_kb(kb: &KnowledgeBase) -> Corpus {
    let entries = kb
        .faq
        .iter()
        .filter(|e| e.enabled)
        .map(|e| {
            let mut questions = Vec::new();
            for (lang, q) in &e.question {
                questions.push(lang_text(lang, q));
                for p in e.paraphrases.get(lang).into_iter().flatten() {
                    questions.push(lang_text(lang, p));
                }
            }
            // Paraphrases in a language with no canonical question still retrieve the entry.
            for (lang, ps) in &e.paraphrases {
                if !e.question.contains_key(lang) {
                    questions.extend(ps.iter().map(|p| lang_text(lang, p)));
                }
            }
            IndexedEntry {
                id: e.id.clone(),
                intent: e.intent.clone(),
                tags: e.tags.clone(),
                valid_from: e.valid_from.clone(),
                valid_to: e.valid_to.clone(),
                answer: e.answer.clone(),
                questions,
                vector: Vec::new(),
                sentence: Vec::new(),
            }
        })
        .collect::<Vec<IndexedEntry>>();
    // An intent example that is also an FAQ question would leak held-out paraphrases into
    // training: such texts are left out.
    let questions: std::collections::HashSet<String> = entries
        .iter()
        .flat_map(|e| e.questions.iter().map(|q| normalize(&q.text)))
        .collect();
    let intent_examples = kb
        .intents
        .iter()
        .filter_map(|intent| {
            let targets: Vec<usize> = entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.intent.as_deref() == Some(intent.id.as_str()))
                .map(|(i, _)| i)
                .collect();
            (!targets.is_empty()).then(|| {
                intent
                    .examples
                    .values()
                    .flatten()
                    .filter(|t| !questions.contains(&normalize(t)))
                    .map(move |t| (t.clone(), targets.clone()))
                    .collect::<Vec<_>>()
            })
        })
        .flatten()
        .collect();
    let no_answer = kb
        .faq_no_answer
        .iter()
        .flat_map(|(lang, qs)| qs.iter().map(move |q| lang_text(lang, q)))
        .collect();
    Corpus {
        name: kb.meta.name.clone(),
        entries,
        no_answer,
        templates: kb
            .intents
            .iter()
            .filter(|i| !i.templates.is_empty())
            .map(|i| (i.id.clone(), i.templates.clone()))
            .collect(),
        entities: kb.meta.entities.clone(),
        intent_examples,
    }
}

/// One entry per intent of a labelled CSV, from its first `per_intent` utterances in file
/// order: the first is the canonical question, the rest paraphrases (the BANKING77 protocol).
pub fn corpus_from_csv(set: &TrainingSet, per_intent: usize) -> Corpus {
    let mut entries: Vec<IndexedEntry> = set
        .labels
        .iter()
        .map(|l| IndexedEntry {
            id: l.clone(),
            intent: Some(l.clone()),
            tags: Vec::new(),
            valid_from: None,
            valid_to: None,
            answer: [("en".to_string(), format!("(answer for {l})"))].into(),
            questions: Vec::new(),
            vector: Vec::new(),
            sentence: Vec::new(),
        })
        .collect();
    for e in &set.examples {
        let qs = &mut entries[e.label].questions;
        if qs.len() < per_intent {
            qs.push(lang_text(detect_language(&e.text), &e.text));
        }
    }
    Corpus {
        name: set.name.clone(),
        entries,
        no_answer: set
            .oos
            .iter()
            .map(|t| lang_text(detect_language(t), t))
            .collect(),
        templates: BTreeMap::new(),
        entities: BTreeMap::new(),
        intent_examples: Vec::new(),
    }
}

fn lang_text(lang: &str, text: &str) -> LangText {
    LangText {
        lang: lang.to_string(),
        text: text.to_string(),
    }
}
