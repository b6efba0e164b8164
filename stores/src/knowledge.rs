//! The knowledge store (database `default`; tables start with `knowledge_`): the customer
//! questions the bot could not answer, with their sentence embeddings, for the gap clusters of
//! `GET /v1/knowledge/gaps` (docs/graph.md, "Gaps"). `assist` writes them; the knowledge
//! component reads them.
//!
//! A question's id is its conversation and turn, so a retried turn stores it once. Texts are
//! PII-masked before they get here, and the embedding is the masked text's.
//!
//! Drafts (`knowledge_drafts`): the ticket store writes one per ticket when an agent replies to
//! a question the bot could not answer ([`draft_from_reply`], inside its own transaction); the
//! knowledge component lists, reviews and exports them.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use crate::db::{Connection, Db, Migration, Row, Value};
use std::collections::BTreeMap;
use tandem_core::drafts::{Draft, DraftStatus};
use tandem_core::kb::FaqChange;

const ALL_STATUSES: [DraftStatus; 4] = [
    DraftStatus::Draft,
    DraftStatus::Accepted,
    DraftStatus::Merged,
    DraftStatus::Rejected,
];
use tandem_core::feedback::format_time;
use tandem_core::foundation::problem::Problem;
use tandem_core::gaps::Question;

pub const NAME: &str = "knowledge";

pub const MIGRATIONS: &[Migration] = &[
    (
        1,
        r#"
    CREATE TABLE knowledge_questions (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        question_id     TEXT    NOT NULL UNIQUE,
        conversation_id TEXT    NOT NULL,
        text            TEXT    NOT NULL,
        lang            TEXT    NOT NULL,
        intent          TEXT,
        embedding       BLOB    NOT NULL,
        handed_off      INTEGER NOT NULL DEFAULT 0 CHECK (handed_off IN (0, 1)),
        created_at      INTEGER NOT NULL
    );
    CREATE INDEX knowledge_questions_by_time ON knowledge_questions (created_at);
    CREATE INDEX knowledge_questions_by_conversation ON knowledge_questions (conversation_id);
    "#,
    ),
    (
        2,
        // FAQ drafts from agents' replies (tandem_core::drafts); one per ticket, written in the
        // ticket store's transaction that adds the reply.
        r#"
    CREATE TABLE knowledge_drafts (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        id          TEXT    NOT NULL UNIQUE,
        ticket_id   TEXT    NOT NULL UNIQUE,
        status      TEXT    NOT NULL CHECK (status IN ('draft', 'accepted', 'merged', 'rejected')),
        question    TEXT    NOT NULL,
        answer      TEXT    NOT NULL,
        lang        TEXT    NOT NULL,
        question_id TEXT,
        intent      TEXT,
        faq_id      TEXT,
        reviewed_by TEXT,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        version     INTEGER NOT NULL
    );
    CREATE INDEX knowledge_drafts_by_status ON knowledge_drafts (status, seq);
    "#,
    ),
];

const DRAFT_COLUMNS: &str = "id, status, question, answer, lang, ticket_id, question_id, intent, \
     faq_id, reviewed_by, created_at, updated_at, version";

/// The ticket store's note transaction hands this over: an agent's reply (masked) on a ticket.
pub struct Reply<'a> {
    pub ticket_id: &'a str,
    /// The conversation the ticket was filed for.
    pub conversation_id: &'a str,
    pub transcript: &'a [tandem_core::foundation::vocab::Turn],
    pub answer: &'a str,
    pub now_ms: i64,
}

/// Creates the ticket's draft from `reply` when its conversation has a question the bot could
/// not answer — the latest one stored for the gaps, else the transcript's last fallback
/// (`tandem_core::drafts::unanswered_question`) — or, while the draft is still a draft, gives
/// it the latest answer (an agent's last word is usually the complete one). Runs inside the
/// caller's write transaction on `db` (the ticket store's, same database). A decided draft is
/// left alone; a reply when the bot answered everything makes none.
pub async fn draft_from_reply<C: Connection>(db: &Db<C>, reply: &Reply<'_>) -> Result<(), Problem> {
    let existing = db
        .query(
            "SELECT status FROM knowledge_drafts WHERE ticket_id = ?",
            vec![Value::Text(reply.ticket_id.into())],
        )
        .await?;
    if let Some(row) = existing.first() {
        if row.get::<&str>(0) == Some("draft") {
            db.exec(
                "UPDATE knowledge_drafts SET answer = ?, updated_at = ?, version = version + 1 \
                 WHERE ticket_id = ?",
                vec![
                    Value::Text(reply.answer.into()),
                    Value::Integer(reply.now_ms),
                    Value::Text(reply.ticket_id.into()),
                ],
            )
            .await?;
        }
        return Ok(());
    }
    let stored = db
        .query(
            "SELECT question_id, text FROM knowledge_questions WHERE conversation_id = ? \
             ORDER BY seq DESC LIMIT 1",
            vec![Value::Text(reply.conversation_id.into())],
        )
        .await?;
    let stored = stored
        .first()
        .and_then(|r| Some((r.get::<&str>(0)?.to_string(), r.get::<&str>(1)?.to_string())));
    let (question_id, question) = match stored {
        Some((id, text)) => (Some(id), text),
        None => match tandem_core::drafts::unanswered_question(reply.transcript) {
            Some(q) => (None, q.to_string()),
            None => return Ok(()),
        },
    };
    let lang = tandem_core::foundation::text::detect_language(&question);
    db.exec(
        "INSERT INTO knowledge_drafts (id, ticket_id, status, question, answer, lang, question_id, \
         created_at, updated_at, version) VALUES (?, ?, 'draft', ?, ?, ?, ?, ?, ?, 1)",
        vec![
            Value::Text(format!("dr_{}", reply.ticket_id.trim_start_matches("tk_"))),
            Value::Text(reply.ticket_id.into()),
            Value::Text(question),
            Value::Text(reply.answer.into()),
            Value::Text(lang.to_string()),
            crate::db::text(question_id.as_deref()),
            Value::Integer(reply.now_ms),
            Value::Integer(reply.now_ms),
        ],
    )
    .await
}

async fn mark<C: Connection>(db: &Db<C>, conversation_id: &str) -> Result<(), Problem> {
    db.exec(
        "UPDATE knowledge_questions SET handed_off = 1 WHERE conversation_id = ? AND handed_off = 0",
        vec![Value::Text(conversation_id.to_string())],
    )
    .await
}

fn draft(r: &Row) -> Option<Draft> {
    Some(Draft {
        id: r.get::<&str>(0)?.to_string(),
        status: DraftStatus::parse(r.get::<&str>(1)?)?,
        question: r.get::<&str>(2)?.to_string(),
        answer: r.get::<&str>(3)?.to_string(),
        lang: r.get::<&str>(4)?.to_string(),
        ticket_id: r.get::<&str>(5)?.to_string(),
        question_id: r.get::<&str>(6).map(str::to_string),
        intent: r.get::<&str>(7).map(str::to_string),
        faq_id: r.get::<&str>(8).map(str::to_string),
        reviewed_by: r.get::<&str>(9).map(str::to_string),
        created_at: format_time(r.get::<i64>(10)?),
        updated_at: format_time(r.get::<i64>(11)?),
        version: u32::try_from(r.get::<i64>(12)?).ok()?,
    })
}

/// An unanswered question to store.
#[derive(Clone, Debug, PartialEq)]
pub struct Unanswered<'a> {
    pub conversation_id: &'a str,
    pub turn: u32,
    /// PII-masked.
    pub text: &'a str,
    pub lang: &'a str,
    pub intent: Option<&'a str>,
    pub embedding: &'a [f32],
    /// The turn itself went to a person.
    pub handed_off: bool,
    pub created_at_ms: i64,
}

pub struct Store<C> {
    db: Db<C>,
}

impl<C: Connection> Store<C> {
    pub async fn open(conn: C) -> Result<Store<C>, Problem> {
        Ok(Store {
            db: Db::open(conn, NAME, MIGRATIONS).await?,
        })
    }

    /// Stores `q` unless its turn is stored already; true when it was new. A question of a turn
    /// that went to a person marks the conversation's earlier questions too, in the same
    /// transaction.
    pub async fn record_unanswered(&self, q: &Unanswered<'_>) -> Result<bool, Problem> {
        let id = format!("{}:{}", q.conversation_id, q.turn);
        self.db
            .write(async |db: &Db<C>| {
                let before = db
                    .query(
                        "SELECT 1 FROM knowledge_questions WHERE question_id = ?",
                        vec![Value::Text(id.clone())],
                    )
                    .await?;
                if !before.is_empty() {
                    return Ok(false);
                }
                db.exec(
                    "INSERT INTO knowledge_questions (question_id, conversation_id, text, lang, \
                     intent, embedding, handed_off, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    vec![
                        Value::Text(id.clone()),
                        Value::Text(q.conversation_id.to_string()),
                        Value::Text(q.text.to_string()),
                        Value::Text(q.lang.to_string()),
                        crate::db::text(q.intent),
                        Value::Blob(to_blob(q.embedding)),
                        Value::Integer(i64::from(q.handed_off)),
                        Value::Integer(q.created_at_ms),
                    ],
                )
                .await?;
                if q.handed_off {
                    mark(db, q.conversation_id).await?;
                }
                Ok(true)
            })
            .await
    }

    /// The conversation went to a person: its unanswered questions count as ending with one.
    pub async fn mark_handed_off(&self, conversation_id: &str) -> Result<(), Problem> {
        self.db
            .write(async |db: &Db<C>| mark(db, conversation_id).await)
            .await
    }

    /// Drafts per status, every status present (0 when none).
    pub async fn draft_counts(&self) -> Result<BTreeMap<&'static str, u64>, Problem> {
        let rows = self
            .db
            .query(
                "SELECT status, COUNT(*) FROM knowledge_drafts GROUP BY status",
                vec![],
            )
            .await?;
        let mut counts: BTreeMap<&'static str, u64> =
            ALL_STATUSES.iter().map(|s| (s.as_str(), 0)).collect();
        for r in &rows {
            if let Some(s) = r.get::<&str>(0).and_then(DraftStatus::parse) {
                counts.insert(s.as_str(), r.get::<i64>(1).unwrap_or(0).max(0) as u64);
            }
        }
        Ok(counts)
    }

    /// (question id, draft id, status) of every draft attached to a stored question.
    pub async fn attached_drafts(&self) -> Result<Vec<(String, String, DraftStatus)>, Problem> {
        let rows = self
            .db
            .query(
                "SELECT question_id, id, status FROM knowledge_drafts \
                 WHERE question_id IS NOT NULL ORDER BY seq",
                vec![],
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                Some((
                    r.get::<&str>(0)?.to_string(),
                    r.get::<&str>(1)?.to_string(),
                    DraftStatus::parse(r.get::<&str>(2)?)?,
                ))
            })
            .collect())
    }

    /// Drafts, newest first, of `status` when given; at most `limit`.
    pub async fn drafts(
        &self,
        status: Option<DraftStatus>,
        limit: usize,
    ) -> Result<Vec<Draft>, Problem> {
        let (filter, mut params) = match status {
            Some(s) => ("WHERE status = ?", vec![Value::Text(s.as_str().into())]),
            None => ("", vec![]),
        };
        params.push(Value::Integer(limit as i64));
        let rows = self
            .db
            .query(
                &format!("SELECT {DRAFT_COLUMNS} FROM knowledge_drafts {filter} ORDER BY seq DESC LIMIT ?"),
                params,
            )
            .await?;
        rows.iter()
            .map(|r| draft(r).ok_or_else(|| Problem::internal("a stored draft is unreadable")))
            .collect()
    }

    pub async fn draft(&self, id: &str) -> Result<Option<Draft>, Problem> {
        let rows = self
            .db
            .query(
                &format!("SELECT {DRAFT_COLUMNS} FROM knowledge_drafts WHERE id = ?"),
                vec![Value::Text(id.into())],
            )
            .await?;
        match rows.first() {
            None => Ok(None),
            Some(r) => draft(r)
                .map(Some)
                .ok_or_else(|| Problem::internal("a stored draft is unreadable")),
        }
    }

    /// Reviews draft `id` with `decide` (the core's rules), in one transaction: read, decide,
    /// write. `decide` sees the draft as stored now, so a stale version is caught.
    pub async fn review(
        &self,
        id: &str,
        decide: impl Fn(&Draft) -> Result<Draft, Problem>,
        now: i64,
    ) -> Result<Draft, Problem> {
        self.db
            .write(async |db: &Db<C>| {
                let rows = db
                    .query(
                        &format!("SELECT {DRAFT_COLUMNS} FROM knowledge_drafts WHERE id = ?"),
                        vec![Value::Text(id.into())],
                    )
                    .await?;
                let current = rows
                    .first()
                    .and_then(draft)
                    .ok_or_else(|| Problem::not_found(format!("no draft {id}")))?;
                let next = decide(&current)?;
                db.exec(
                    "UPDATE knowledge_drafts SET status = ?, question = ?, answer = ?, lang = ?, \
                     intent = ?, faq_id = ?, reviewed_by = ?, updated_at = ?, version = ? \
                     WHERE id = ? AND version = ?",
                    vec![
                        Value::Text(next.status.as_str().into()),
                        Value::Text(next.question.clone()),
                        Value::Text(next.answer.clone()),
                        Value::Text(next.lang.clone()),
                        crate::db::text(next.intent.as_deref()),
                        crate::db::text(next.faq_id.as_deref()),
                        crate::db::text(next.reviewed_by.as_deref()),
                        Value::Integer(now),
                        Value::Integer(i64::from(next.version)),
                        Value::Text(id.into()),
                        Value::Integer(i64::from(current.version)),
                    ],
                )
                .await?;
                Ok(Draft {
                    updated_at: format_time(now),
                    ..next
                })
            })
            .await
    }

    /// The KB changes of every accepted and merged draft: new entries first, then paraphrases
    /// (one may join an entry another draft adds), each oldest first.
    pub async fn changes(&self) -> Result<Vec<FaqChange>, Problem> {
        let rows = self
            .db
            .query(
                &format!(
                    "SELECT {DRAFT_COLUMNS} FROM knowledge_drafts \
                     WHERE status IN ('accepted', 'merged') ORDER BY seq"
                ),
                vec![],
            )
            .await?;
        let (mut entries, paraphrases): (Vec<FaqChange>, Vec<FaqChange>) = rows
            .iter()
            .filter_map(draft)
            .filter_map(|d| FaqChange::of(&d))
            .partition(|c| matches!(c, FaqChange::AddEntry { .. }));
        entries.extend(paraphrases);
        Ok(entries)
    }

    /// The at most `limit` most recent questions created in `[from, to)`, oldest first (the
    /// order they came in), and how many the range holds in all.
    pub async fn questions(
        &self,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<(Vec<Question>, u64), Problem> {
        let range = vec![Value::Integer(from), Value::Integer(to)];
        let total = self
            .db
            .query(
                "SELECT COUNT(*) FROM knowledge_questions WHERE created_at >= ? AND created_at < ?",
                range.clone(),
            )
            .await?;
        let total = total
            .first()
            .and_then(|r| r.get::<i64>(0))
            .unwrap_or(0)
            .max(0) as u64;
        let mut params = range;
        params.push(Value::Integer(limit as i64));
        let rows = self
            .db
            .query(
                "SELECT question_id, text, lang, intent, embedding, handed_off, created_at \
                 FROM knowledge_questions WHERE created_at >= ? AND created_at < ? \
                 ORDER BY created_at DESC, seq DESC LIMIT ?",
                params,
            )
            .await?;
        let mut out: Vec<Question> = rows.iter().filter_map(question).collect();
        out.reverse();
        Ok((out, total))
    }
}

fn question(r: &Row) -> Option<Question> {
    let blob = match r.values.get(4)? {
        Value::Blob(b) => b,
        _ => return None,
    };
    Some(Question {
        id: r.get::<&str>(0)?.to_string(),
        text: r.get::<&str>(1)?.to_string(),
        lang: r.get::<&str>(2)?.to_string(),
        intent: r.get::<&str>(3).map(str::to_string),
        embedding: from_blob(blob)?,
        handed_off: r.get::<i64>(5)? == 1,
        created_at_ms: r.get::<i64>(6)?,
    })
}

/// Little-endian f32s.
fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(b: &[u8]) -> Option<Vec<f32>> {
    b.len().is_multiple_of(4).then(|| {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    })
}
