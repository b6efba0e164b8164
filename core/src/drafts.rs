//! FAQ drafts from agents' answers (docs/graph.md, "Drafts"): when an agent replies on a
//! ticket whose customer asked something the bot could not answer, the question and the reply
//! become a draft; an agent reviews it (edit, accept as a new entry, merge into an entry as a
//! paraphrase, reject); accepted drafts leave as `kb/` changes that `kb-loader apply-drafts`
//! writes into `kb/faq-accepted.yaml`, which the KB loader merges into the FAQ.
//!
//! Pure: which question a reply answers, the review rules, the change format and applying
//! changes to a KB.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use crate::foundation::problem::{InvalidParam, Problem};
use crate::foundation::vocab::{Role, Turn};
use crate::kb::{FaqChange, valid_id};
use serde::{Deserialize, Serialize};

/// A draft's question or answer, in bytes.
pub const MAX_DRAFT_TEXT_BYTES: usize = 4096;

/// The customer question an agent's reply on this transcript answers: the last customer turn
/// the bot answered with its "I can't answer that" (`answered: false`). None when the bot
/// answered everything it was asked: then the reply is not knowledge the FAQ lacks.
pub fn unanswered_question(transcript: &[Turn]) -> Option<&str> {
    transcript
        .windows(2)
        .rev()
        .find(|w| {
            w[0].role == Role::Customer && w[1].role == Role::Bot && w[1].answered == Some(false)
        })
        .map(|w| w[0].text.as_str())
        .filter(|t| !t.trim().is_empty())
}

/// Where a draft is in its review (serde: lower case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DraftStatus {
    /// Waiting for review; its text may be edited.
    Draft,
    /// Accepted as a new FAQ entry (`faq_id`).
    Accepted,
    /// Merged into an existing entry (`faq_id`) as a paraphrase.
    Merged,
    /// Rejected; leaves nothing in the KB.
    Rejected,
}

impl DraftStatus {
    /// The serde name (`draft`, `accepted`, `merged`, `rejected`).
    pub fn as_str(self) -> &'static str {
        match self {
            DraftStatus::Draft => "draft",
            DraftStatus::Accepted => "accepted",
            DraftStatus::Merged => "merged",
            DraftStatus::Rejected => "rejected",
        }
    }

    /// The status of a serde name; none for anything else.
    pub fn parse(s: &str) -> Option<DraftStatus> {
        [
            DraftStatus::Draft,
            DraftStatus::Accepted,
            DraftStatus::Merged,
            DraftStatus::Rejected,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// A draft as stored and served.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Draft {
    /// `dr_` + the ticket id without its `tk_` (one draft per ticket).
    pub id: String,
    /// Where it is in its review.
    pub status: DraftStatus,
    /// The customer's unanswered question, masked, at most [`MAX_DRAFT_TEXT_BYTES`].
    pub question: String,
    /// The agent's reply, masked, at most [`MAX_DRAFT_TEXT_BYTES`]; the entry's answer.
    pub answer: String,
    /// `zh` or `en`, detected from the question when made; reviewers may change it.
    pub lang: String,
    /// The ticket whose reply it came from.
    pub ticket_id: String,
    /// The stored unanswered question it answers (`<conversation>:<turn>`), when found: what
    /// attaches it to its gap cluster.
    pub question_id: Option<String>,
    /// The intent the new entry answers (accepted drafts).
    pub intent: Option<String>,
    /// The new entry's id (accepted) or the entry it joined as a paraphrase (merged).
    pub faq_id: Option<String>,
    /// Agent id of the last reviewer; none before a review names one.
    pub reviewed_by: Option<String>,
    /// Creation time, RFC 3339 UTC with milliseconds.
    pub created_at: String,
    /// Last change, RFC 3339 UTC with milliseconds.
    pub updated_at: String,
    /// Starts at 1, one up per review; a review must name the current one.
    pub version: u32,
}

/// `PATCH /v1/knowledge/drafts/{id}` body.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    /// The version read; a stale one is a 409.
    pub version: u32,
    /// New status; `accepted` and `merged` need `faq_id`.
    pub status: Option<DraftStatus>,
    /// New question text, 1–[`MAX_DRAFT_TEXT_BYTES`] bytes; only while a draft (masked again).
    pub question: Option<String>,
    /// New answer text, 1–[`MAX_DRAFT_TEXT_BYTES`] bytes; only while a draft (masked again).
    pub answer: Option<String>,
    /// New language, `zh` or `en`; only while a draft.
    pub lang: Option<String>,
    /// The intent the new entry answers, an intent id of the KB.
    pub intent: Option<String>,
    /// With `accepted`: a new entry id no entry has; with `merged`: the existing entry.
    pub faq_id: Option<String>,
    /// Agent id of the reviewer, 1–64 of `A-Z a-z 0-9 . _ -`.
    pub reviewed_by: Option<String>,
}

/// What the KB already has, for checking a review: FAQ entry ids and intent ids.
pub struct KnownIds<'a> {
    /// Whether an FAQ entry id exists (in the KB or among accepted drafts).
    pub faq: &'a dyn Fn(&str) -> bool,
    /// Whether an intent id exists in the KB.
    pub intent: &'a dyn Fn(&str) -> bool,
}

/// Applies `input` to `draft`, or says why not (409 for a stale version, 422 with every bad
/// field otherwise). Text is edited only while a draft; accepting needs a new entry id and an
/// answer, merging an existing entry; any decision can be taken back to `draft`.
pub fn review(draft: &Draft, input: &ReviewInput, known: &KnownIds<'_>) -> Result<Draft, Problem> {
    if input.version != draft.version {
        return Err(Problem::conflict(format!(
            "draft {} is at version {}, not {}: read it again",
            draft.id, draft.version, input.version
        )));
    }
    let mut next = draft.clone();
    let mut bad = Vec::new();
    let editing = input.question.is_some() || input.answer.is_some() || input.lang.is_some();
    if editing && draft.status != DraftStatus::Draft && input.status != Some(DraftStatus::Draft) {
        bad.push(param(
            "status",
            "text is edited while the draft is a draft: reopen it first",
        ));
    }
    for (name, value, target) in [
        ("question", &input.question, &mut next.question),
        ("answer", &input.answer, &mut next.answer),
    ] {
        if let Some(v) = value {
            let v = v.trim();
            if v.is_empty() || v.len() > MAX_DRAFT_TEXT_BYTES {
                bad.push(param(name, format!("1 to {MAX_DRAFT_TEXT_BYTES} bytes")));
            } else {
                *target = crate::foundation::pii::mask(v);
            }
        }
    }
    if let Some(lang) = &input.lang {
        match lang.as_str() {
            "zh" | "en" => next.lang = lang.clone(),
            _ => bad.push(param("lang", "zh or en")),
        }
    }
    if let Some(intent) = &input.intent {
        match (known.intent)(intent) {
            true => next.intent = Some(intent.clone()),
            false => bad.push(param("intent", "an intent of the KB")),
        }
    }
    if let Some(r) = &input.reviewed_by {
        let agent_id = (1..=64).contains(&r.len())
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        match agent_id {
            true => next.reviewed_by = Some(r.clone()),
            false => bad.push(param("reviewed_by", "an agent id")),
        }
    }
    check_status(input, known, &mut next, &mut bad);
    if let Some(s) = input.status {
        next.status = s;
    }
    if !bad.is_empty() {
        let mut p = Problem::unprocessable("the review is not valid");
        p.invalid_params = bad;
        return Err(p);
    }
    next.version += 1;
    Ok(next)
}

/// The new status and the FAQ entry it needs: a new id to accept into, an existing entry to
/// merge into, none otherwise.
fn check_status(
    input: &ReviewInput,
    known: &KnownIds<'_>,
    next: &mut Draft,
    bad: &mut Vec<InvalidParam>,
) {
    let faq_id = input.faq_id.as_deref();
    match input.status {
        Some(DraftStatus::Accepted) => match faq_id {
            Some(id) if valid_id(id) && !(known.faq)(id) => next.faq_id = Some(id.into()),
            Some(id) if valid_id(id) => bad.push(param(
                "faq_id",
                format!("{id} is an entry already: merge into it instead"),
            )),
            _ => bad.push(param("faq_id", "the new entry's id, [a-z0-9_]{1,64}")),
        },
        Some(DraftStatus::Merged) => match faq_id {
            Some(id) if (known.faq)(id) => next.faq_id = Some(id.into()),
            _ => bad.push(param(
                "faq_id",
                "the FAQ entry the question joins as a paraphrase",
            )),
        },
        Some(DraftStatus::Draft) | Some(DraftStatus::Rejected) => {
            if faq_id.is_some() {
                bad.push(param("faq_id", "only with status accepted or merged"));
            }
            next.faq_id = None;
        }
        None => {
            if faq_id.is_some() {
                bad.push(param("faq_id", "only with status accepted or merged"));
            }
        }
    }
}

fn param(name: &str, reason: impl Into<String>) -> InvalidParam {
    InvalidParam {
        name: name.into(),
        reason: reason.into(),
    }
}

impl FaqChange {
    /// The change an accepted or merged draft makes; none for the others.
    pub fn of(d: &Draft) -> Option<FaqChange> {
        match (d.status, &d.faq_id) {
            (DraftStatus::Accepted, Some(id)) => Some(FaqChange::AddEntry {
                draft: d.id.clone(),
                id: id.clone(),
                intent: d.intent.clone(),
                lang: d.lang.clone(),
                question: d.question.clone(),
                answer: d.answer.clone(),
            }),
            (DraftStatus::Merged, Some(faq)) => Some(FaqChange::AddParaphrase {
                draft: d.id.clone(),
                faq: faq.clone(),
                lang: d.lang.clone(),
                text: d.question.clone(),
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
