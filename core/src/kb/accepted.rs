//! `faq-accepted.yaml`: the FAQ changes of accepted drafts (docs/graph.md, "Drafts"), their
//! format and merging them into a parsed KB. The review that produces them is
//! `drafts`, a layer above; the KB only reads them.

use super::{FaqEntry, KnowledgeBase};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The file `kb-loader apply-drafts` writes the accepted FAQ drafts to (docs/graph.md,
/// "Drafts"); the loader merges it into the FAQ.
pub const ACCEPTED_DRAFTS_FILE: &str = "faq-accepted.yaml";

/// `faq-accepted.yaml`: the changes of accepted and merged drafts, in the order applied.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptedDrafts {
    /// The changes, in the order they are applied.
    pub changes: Vec<FaqChange>,
}

/// One KB change, a line of `GET /v1/knowledge/drafts/export` and an item of
/// `kb/faq-accepted.yaml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaqChange {
    /// A new entry: the draft's question and answer in its language.
    AddEntry {
        /// Id of the draft this change comes from (`dr_…`).
        draft: String,
        /// Id of the new FAQ entry, `[a-z0-9_]{1,64}`; must not exist yet.
        id: String,
        /// An intent id to link the entry to; must exist.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        intent: Option<String>,
        /// Language of the question and the answer (`zh`, `en`).
        lang: String,
        /// The entry's canonical question.
        question: String,
        /// The entry's answer, Markdown.
        answer: String,
    },
    /// The draft's question as one more paraphrase of an entry.
    AddParaphrase {
        /// Id of the draft this change comes from (`dr_…`).
        draft: String,
        /// Id of the FAQ entry that gains the paraphrase; must exist.
        faq: String,
        /// Language of the paraphrase (`zh`, `en`).
        lang: String,
        /// The draft's question, added as written.
        text: String,
    },
}

impl FaqChange {
    /// Id of the draft this change comes from.
    pub fn draft(&self) -> &str {
        match self {
            FaqChange::AddEntry { draft, .. } | FaqChange::AddParaphrase { draft, .. } => draft,
        }
    }
}

/// Applies `changes` to `kb`'s FAQ, in order. Every change that cannot apply (an entry id
/// taken, an intent or entry that does not exist) is an error naming its draft; nothing is
/// applied then.
pub fn apply_changes(kb: &mut KnowledgeBase, changes: &[FaqChange]) -> Result<(), Vec<String>> {
    let mut faq = kb.faq.clone();
    let mut errors = Vec::new();
    for change in changes {
        match change {
            FaqChange::AddEntry {
                draft,
                id,
                intent,
                lang,
                question,
                answer,
            } => {
                if faq.iter().any(|e| &e.id == id) {
                    errors.push(format!("draft {draft}: FAQ entry {id} exists already"));
                    continue;
                }
                if let Some(i) = intent
                    && !kb.intents.iter().any(|x| &x.id == i)
                {
                    errors.push(format!("draft {draft}: unknown intent {i}"));
                    continue;
                }
                faq.push(FaqEntry {
                    id: id.clone(),
                    intent: intent.clone(),
                    tags: Vec::new(),
                    enabled: true,
                    valid_from: None,
                    valid_to: None,
                    question: BTreeMap::from([(lang.clone(), question.clone())]),
                    paraphrases: BTreeMap::new(),
                    answer: BTreeMap::from([(lang.clone(), answer.clone())]),
                });
            }
            FaqChange::AddParaphrase {
                draft,
                faq: target,
                lang,
                text,
            } => match faq.iter_mut().find(|e| &e.id == target) {
                Some(e) => e
                    .paraphrases
                    .entry(lang.clone())
                    .or_default()
                    .push(text.clone()),
                None => errors.push(format!("draft {draft}: no FAQ entry {target}")),
            },
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    kb.faq = faq;
    Ok(())
}
