//! What the service does not know yet: `GET /v1/knowledge` (counts), `/v1/knowledge/gaps`
//! (unanswered questions clustered, `tandem_core::gaps`) and the FAQ drafts agents' replies
//! made (`/v1/knowledge/drafts`, `.../{id}` with `PATCH` to review, `.../export`;
//! `tandem_core::drafts`).

use crate::compiled;
use std::collections::BTreeSet;
use tandem_adapter::query::Query;
use tandem_adapter::sqlite::{Spin, now_ms};
use tandem_core::drafts::{self, DraftStatus, KnownIds, ReviewInput};
use tandem_core::feedback::{format_time, parse_range};
use tandem_core::foundation::problem::Problem;
use tandem_core::gaps;
use tandem_core::graph::NodeKind;
use tandem_core::kb::FaqChange;
use tandem_stores::knowledge::Store;

pub const EXPORT: &str = "/v1/knowledge/drafts/export";
/// A review body: two texts of at most 4 KiB and a few ids.
pub const MAX_REVIEW_BYTES: usize = 16 * 1024;
const DEFAULT_GAPS: usize = 20;
const MAX_GAPS: usize = 200;
const DEFAULT_DRAFTS: usize = 50;
const MAX_DRAFTS: usize = 500;

async fn store(conn: &Spin) -> Result<Store<&Spin>, Problem> {
    Store::open(conn).await
}

/// Unanswered questions in all, and drafts per status.
pub async fn summary() -> Result<serde_json::Value, Problem> {
    let conn = Spin::open_default("knowledge").await?;
    let s = store(&conn).await?;
    let (_, questions) = s.questions(0, i64::MAX, 0).await?;
    let drafts = s.draft_counts().await?;
    Ok(serde_json::json!({ "unanswered_questions": questions, "drafts": drafts }))
}

/// The unanswered questions of `[from, to)` (the most recent [`gaps::MAX_QUESTIONS`]),
/// clustered; the `limit` highest-scoring clusters of at least `min_questions`, each with the
/// drafts made from its questions.
pub async fn gaps(q: &Query) -> Result<serde_json::Value, Problem> {
    let (from, to) = parse_range(q.get("from"), q.get("to"))?;
    let limit = q.bounded("limit", DEFAULT_GAPS, MAX_GAPS)?;
    let min_questions = q.bounded("min_questions", 1, gaps::MAX_QUESTIONS)?;
    let conn = Spin::open_default("knowledge").await?;
    let s = store(&conn).await?;
    let (questions, total) = s.questions(from, to, gaps::MAX_QUESTIONS).await?;
    let all = gaps::clusters(&questions, gaps::GAP_SIMILARITY);
    let attached = s.attached_drafts().await?;
    let kept: Vec<serde_json::Value> = all
        .iter()
        .filter(|c| c.questions >= min_questions)
        .take(limit)
        .map(|c| {
            let members: BTreeSet<&str> = c.members.iter().map(String::as_str).collect();
            let drafts: Vec<_> = attached
                .iter()
                .filter(|(question, ..)| members.contains(question.as_str()))
                .map(|(_, id, status)| serde_json::json!({"id": id, "status": status}))
                .collect();
            let mut v = serde_json::to_value(c).expect("serialises");
            v["first_seen"] = format_time(c.first_seen_ms).into();
            v["last_seen"] = format_time(c.last_seen_ms).into();
            v["drafts"] = drafts.into();
            v
        })
        .collect();
    Ok(serde_json::json!({
        "questions": total,
        "clustered": questions.len(),
        "threshold": gaps::GAP_SIMILARITY,
        "clusters_found": all.len(),
        "clusters": kept,
    }))
}

pub async fn drafts(q: &Query) -> Result<serde_json::Value, Problem> {
    let status = match q.get("status") {
        None => None,
        Some(s) => Some(DraftStatus::parse(s).ok_or_else(|| {
            Problem::unprocessable(format!("status {s:?} is not a draft status"))
                .with_param("status", "draft, accepted, merged or rejected")
        })?),
    };
    let limit = q.bounded("limit", DEFAULT_DRAFTS, MAX_DRAFTS)?;
    let conn = Spin::open_default("knowledge").await?;
    let items = store(&conn).await?.drafts(status, limit).await?;
    Ok(serde_json::json!({ "items": items }))
}

fn no_draft(id: &str) -> Problem {
    Problem::not_found(format!("no draft {id:?}"))
}

pub async fn draft(id: &str) -> Result<serde_json::Value, Problem> {
    let conn = Spin::open_default("knowledge").await?;
    match store(&conn).await?.draft(id).await? {
        Some(d) => Ok(serde_json::to_value(d).expect("serialises")),
        None => Err(no_draft(id)),
    }
}

/// Reviews draft `id`: the FAQ entries and intents it may name are the compiled KB's, plus the
/// entries other accepted drafts add (two drafts cannot take one new id).
pub async fn review(id: &str, input: &ReviewInput) -> Result<serde_json::Value, Problem> {
    let graph = compiled()?;
    let conn = Spin::open_default("knowledge").await?;
    let s = store(&conn).await?;
    let pending: BTreeSet<String> = s
        .changes()
        .await?
        .into_iter()
        .filter(|c| c.draft() != id)
        .filter_map(|c| match c {
            FaqChange::AddEntry { id, .. } => Some(id),
            FaqChange::AddParaphrase { .. } => None,
        })
        .collect();
    let node = |kind: NodeKind, key: &str| graph.nodes.iter().any(|n| n.id == kind.id(key));
    let faq = |key: &str| node(NodeKind::Faq, key) || pending.contains(key);
    let intent = |key: &str| node(NodeKind::Intent, key);
    let known = KnownIds {
        faq: &faq,
        intent: &intent,
    };
    let reviewed = s
        .review(
            id,
            |current| drafts::review(current, input, &known),
            now_ms(),
        )
        .await
        .map_err(|p| if p.status == 404 { no_draft(id) } else { p })?;
    Ok(serde_json::to_value(reviewed).expect("serialises"))
}

/// The KB changes of the accepted and merged drafts, for `kb-loader apply-drafts`.
pub async fn export() -> Result<Vec<FaqChange>, Problem> {
    let conn = Spin::open_default("knowledge").await?;
    store(&conn).await?.changes().await
}
