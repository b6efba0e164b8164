//! The knowledge store (database `default`; tables start with `knowledge_`): the customer
//! questions the bot could not answer, with their sentence embeddings, for the gap clusters of
//! `GET /v1/knowledge/gaps` (docs/graph.md, "Gaps"). `assist` writes them; the knowledge
//! component reads them.
//!
//! A question's id is its conversation and turn, so a retried turn stores it once. Texts are
//! PII-masked before they get here, and the embedding is the masked text's.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use crate::db::{Connection, Db, Migration, Row, Value};
use tandem_core::gaps::Question;
use tandem_core::problem::Problem;

pub const NAME: &str = "knowledge";

pub const MIGRATIONS: &[Migration] = &[(
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
)];

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

    /// Stores `q` unless its turn is stored already; true when it was new.
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
                Ok(true)
            })
            .await
    }

    /// The conversation went to a person: its unanswered questions count as ending with one.
    pub async fn mark_handed_off(&self, conversation_id: &str) -> Result<(), Problem> {
        self.db
            .write(async |db: &Db<C>| {
                db.exec(
                    "UPDATE knowledge_questions SET handed_off = 1 \
                     WHERE conversation_id = ? AND handed_off = 0",
                    vec![Value::Text(conversation_id.to_string())],
                )
                .await
            })
            .await
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
