//! The feedback store (database `default`, shared with the ticket component, so every table
//! name starts with `feedback_`).
//!
//! Two tables. `feedback_events` is the append-only record, one row per client event id.
//! `feedback_conversations` holds each conversation folded from its events (the rules of
//! `tandem_core::feedback::metrics`), recomputed from that conversation's events in the same transaction
//! as every insert: stats then aggregate one row per conversation with an index on its start,
//! instead of re-folding every event of the range on every request (100,000 events must answer
//! in well under 200 ms).
//!
//! Durability: each write is one `BEGIN IMMEDIATE … COMMIT` transaction, so an event and its
//! conversation row land together or not at all (an instance that dies mid-way drops its
//! connection, and SQLite rolls the transaction back). The connection runs with
//! `synchronous = FULL`: in WAL mode that syncs the log on every commit, so a 201 means the
//! event survives a power cut, not only a crash of the host.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use crate::db::{Connection, Db, Migration, Row, Value};
use tandem_core::feedback::metrics::{self, CorrectionCount, Counts, EventCounts, GroupBy, Stats};
use tandem_core::feedback::{self, Event, HandledBy, Kind};
use tandem_core::foundation::problem::Problem;

/// The store's name: its tables' prefix and its name in error messages.
pub const NAME: &str = "feedback";

/// Schema migrations ([`Db::open`]), applied in order, each once.
pub const MIGRATIONS: &[Migration] = &[
    (
        1,
        r#"
    CREATE TABLE feedback_events (
        seq              INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id         TEXT    NOT NULL UNIQUE,
        conversation_id  TEXT    NOT NULL,
        turn_id          TEXT,
        kind             TEXT    NOT NULL CHECK (kind IN ('rating', 'outcome', 'correction', 'comment')),
        rating           INTEGER CHECK (rating BETWEEN 1 AND 5),
        resolved         INTEGER CHECK (resolved IN (0, 1)),
        handled_by       TEXT    CHECK (handled_by IN ('bot', 'human', 'both')),
        agent_id         TEXT,
        contact_count    INTEGER CHECK (contact_count >= 1),
        intent_predicted TEXT,
        intent_corrected TEXT,
        faq_predicted    TEXT,
        faq_corrected    TEXT,
        text             TEXT,
        comment          TEXT,
        sentiment        TEXT,
        sentiment_score  REAL,
        channel          TEXT,
        created_at       INTEGER NOT NULL,
        received_at      INTEGER NOT NULL,
        fingerprint      TEXT    NOT NULL
    );
    CREATE INDEX feedback_events_by_conversation
        ON feedback_events (conversation_id, created_at, event_id);
    CREATE INDEX feedback_events_by_time ON feedback_events (created_at, kind);
    CREATE INDEX feedback_events_corrections
        ON feedback_events (received_at) WHERE kind = 'correction';
    CREATE TABLE feedback_conversations (
        conversation_id TEXT    PRIMARY KEY,
        started_at      INTEGER NOT NULL,
        day             TEXT    NOT NULL,
        channel         TEXT,
        intent          TEXT,
        resolved        INTEGER,
        handled_by      TEXT,
        agent_id        TEXT,
        contact_count   INTEGER,
        rating          INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX feedback_conversations_by_start ON feedback_conversations (started_at);
    "#,
    ),
    (
        2,
        // Measured over 100,000 events (bench/feedback-stats.sh): stats through the narrow
        // index looked every conversation up in the table; an index holding every column stats
        // reads answers from the index alone. Event counts per kind read one (kind, time) range
        // each instead of sorting the whole range by kind.
        r#"
    DROP INDEX feedback_conversations_by_start;
    CREATE INDEX feedback_conversations_by_start_covering ON feedback_conversations
        (started_at, day, channel, intent, agent_id, resolved, handled_by, contact_count, rating);
    CREATE INDEX feedback_events_by_kind_time ON feedback_events (kind, created_at);
    "#,
    ),
    (
        3,
        // The knowledge graph's live counts (`crate::graph`), read on every graph request:
        // measured with bench/graph.sh over 20,000 events, they read every outcome and every
        // conversation from the table. Partial and covering, these indexes hold only the rows
        // each count wants, in its grouping order.
        r#"
    CREATE INDEX feedback_events_intent_corrections ON feedback_events
        (intent_predicted, intent_corrected) WHERE kind = 'correction';
    CREATE INDEX feedback_events_faq_resolutions ON feedback_events
        (faq_predicted, intent_predicted, conversation_id)
        WHERE kind = 'outcome' AND resolved = 1 AND faq_predicted IS NOT NULL;
    CREATE INDEX feedback_conversations_by_intent ON feedback_conversations
        (intent, resolved, handled_by);
    "#,
    ),
];

/// An open store: one SQLite connection owned by this request.
pub struct Store<C> {
    db: Db<C>,
}

impl<C: Connection> Store<C> {
    /// The store on `conn`, its schema brought up to date.
    pub async fn open(conn: C) -> Result<Store<C>, Problem> {
        // Every recorded event writes its webhook events in its own transaction.
        Db::open(&conn, crate::outbox::NAME, crate::outbox::MIGRATIONS).await?;
        Ok(Store {
            db: Db::open(conn, NAME, MIGRATIONS).await?,
        })
    }

    /// The store on a database opened as it is (tests: a schema held at an older version).
    #[cfg(test)]
    pub(crate) fn on(db: Db<C>) -> Store<C> {
        Store { db }
    }

    /// Whether another store's table exists in this database (the ticket store's tables are
    /// there only once the ticket component has run).
    pub(crate) async fn has_table(&self, name: &str) -> Result<bool, Problem> {
        let rows = self
            .query(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                vec![Value::Text(name.into())],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    pub(crate) async fn query(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, Problem> {
        self.db.query(sql, params).await
    }

    async fn exec(&self, sql: &str, params: Vec<Value>) -> Result<(), Problem> {
        self.db.exec(sql, params).await
    }

    /// Runs `work` in one write transaction; rolls back on any error.
    async fn write<T>(
        &self,
        work: impl AsyncFnOnce(&Store<C>) -> Result<T, Problem>,
    ) -> Result<T, Problem> {
        self.db.write(async |_| work(self).await).await
    }

    /// Appends `event` (already masked) unless its id is stored. Returns the stored event and
    /// whether this call created it. The same id with a different body is a 409: a retry must
    /// carry the event it retries.
    pub async fn record(
        &self,
        event: &Event,
        sentiment: Option<(String, f64)>,
    ) -> Result<(serde_json::Value, bool), Problem> {
        self.write(async |s: &Store<C>| {
            if let Some(stored) = s.stored(&event.event_id).await? {
                let fingerprint = stored.1;
                if fingerprint != event.fingerprint {
                    return Err(Problem::conflict(format!(
                        "event_id {} is already stored with a different body; \
                         a retry must send the same event, a new event needs a new id",
                        event.event_id
                    )));
                }
                return Ok((stored.0, false));
            }
            let before = s.folded(&event.conversation_id).await?;
            s.insert(event, sentiment.clone()).await?;
            let after = s.refold(&event.conversation_id).await?;
            s.tell(event, before, &after).await?;
            let stored = s
                .stored(&event.event_id)
                .await?
                .ok_or_else(|| Problem::internal("the event vanished inside its transaction"))?;
            Ok((stored.0, true))
        })
        .await
    }

    /// What the conversation's folded row says: (resolved, a person handles it).
    async fn folded(&self, conversation_id: &str) -> Result<(bool, bool), Problem> {
        let rows = self
            .query(
                "SELECT resolved, handled_by FROM feedback_conversations WHERE conversation_id = ?",
                vec![Value::Text(conversation_id.into())],
            )
            .await?;
        let r = rows.first();
        Ok((
            r.and_then(|r| r.get::<i64>(0)) == Some(1),
            matches!(r.and_then(|r| r.get::<&str>(1)), Some("human" | "both")),
        ))
    }

    /// The webhook events of a new feedback event (docs/webhooks.md): `feedback.recorded`
    /// always; `handoff.requested` when an unresolved outcome first hands it to a person;
    /// `conversation.resolved` when the conversation turns resolved. No free text leaves.
    async fn tell(
        &self,
        e: &Event,
        (was_resolved, was_human): (bool, bool),
        folded: &Row,
    ) -> Result<(), Problem> {
        let conversation = Some(e.conversation_id.as_str());
        let data = serde_json::json!({
            "event_id": e.event_id,
            "conversation_id": e.conversation_id,
            "turn_id": e.turn_id,
            "kind": e.kind.as_str(),
            "rating": e.rating,
            "resolved": e.resolved,
            "handled_by": e.handled_by.map(HandledBy::as_str),
            "agent_id": e.agent_id,
            "intent": e.intent_corrected.as_ref().or(e.intent_predicted.as_ref()),
            "channel": e.channel,
            "created_at": tandem_core::feedback::format_time(e.created_at_ms),
        });
        crate::outbox::emit(&self.db, "feedback.recorded", conversation, data.clone()).await?;
        if e.kind == Kind::Outcome
            && !was_human
            && e.resolved != Some(true)
            && matches!(e.handled_by, Some(HandledBy::Human | HandledBy::Both))
        {
            crate::outbox::emit(&self.db, "handoff.requested", conversation, data.clone()).await?;
        }
        // `folded` is the row `refold` wrote: resolved, intent, handled_by, agent_id, rating,
        // contact_count.
        if !was_resolved && folded.get::<i64>(0) == Some(1) {
            let data = serde_json::json!({
                "conversation_id": e.conversation_id,
                "intent": folded.get::<&str>(1),
                "handled_by": folded.get::<&str>(2),
                "agent_id": folded.get::<&str>(3),
                "rating": folded.get::<i64>(4),
                "contact_count": folded.get::<i64>(5),
                "event_id": e.event_id,
            });
            crate::outbox::emit(&self.db, "conversation.resolved", conversation, data).await?;
        }
        Ok(())
    }

    async fn insert(&self, e: &Event, sentiment: Option<(String, f64)>) -> Result<(), Problem> {
        let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
        let int = |v: Option<i64>| v.map_or(Value::Null, Value::Integer);
        let (label, score) = match sentiment {
            Some((l, s)) => (Value::Text(l), Value::Real(s)),
            None => (Value::Null, Value::Null),
        };
        self.exec(
            "INSERT INTO feedback_events (event_id, conversation_id, turn_id, kind, rating, \
             resolved, handled_by, agent_id, contact_count, intent_predicted, intent_corrected, \
             faq_predicted, faq_corrected, text, comment, sentiment, sentiment_score, channel, \
             created_at, received_at, fingerprint) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                Value::Text(e.event_id.clone()),
                Value::Text(e.conversation_id.clone()),
                text(&e.turn_id),
                Value::Text(e.kind.as_str().into()),
                int(e.rating.map(i64::from)),
                int(e.resolved.map(i64::from)),
                e.handled_by
                    .map_or(Value::Null, |h| Value::Text(h.as_str().into())),
                text(&e.agent_id),
                int(e.contact_count.map(i64::from)),
                text(&e.intent_predicted),
                text(&e.intent_corrected),
                text(&e.faq_predicted),
                text(&e.faq_corrected),
                text(&e.text),
                text(&e.comment),
                label,
                score,
                text(&e.channel),
                Value::Integer(e.created_at_ms),
                // Taken under the write lock, so receipt order is commit order and an export
                // `since` a time never misses an event committed later with an earlier stamp.
                Value::Integer(crate::db::now_ms()),
                Value::Text(e.fingerprint.clone()),
            ],
        )
        .await
    }

    /// Recomputes one conversation's row from its events (the fold of
    /// `tandem_core::feedback::metrics::conversations`, ordering by `(created_at, event_id)`) and returns
    /// what it wrote: resolved, intent, handled_by, agent_id, rating, contact_count.
    async fn refold(&self, conversation_id: &str) -> Result<Row, Problem> {
        let rows = self
            .query(
                r#"
            INSERT INTO feedback_conversations
                (conversation_id, started_at, day, channel, intent, resolved, handled_by,
                 agent_id, contact_count, rating)
            SELECT ?1, f.started_at, strftime('%Y-%m-%d', f.started_at / 1000, 'unixepoch'),
                (SELECT channel FROM feedback_events
                  WHERE conversation_id = ?1 AND channel IS NOT NULL
                  ORDER BY created_at, event_id LIMIT 1),
                COALESCE(
                    (SELECT intent_corrected FROM feedback_events
                      WHERE conversation_id = ?1 AND intent_corrected IS NOT NULL
                      ORDER BY created_at DESC, event_id DESC LIMIT 1),
                    (SELECT intent_predicted FROM feedback_events
                      WHERE conversation_id = ?1 AND intent_predicted IS NOT NULL
                      ORDER BY created_at DESC, event_id DESC LIMIT 1)),
                o.resolved, o.handled_by, o.agent_id, o.contact_count,
                (SELECT rating FROM feedback_events
                  WHERE conversation_id = ?1 AND kind = 'rating'
                  ORDER BY created_at DESC, event_id DESC LIMIT 1)
            FROM (SELECT MIN(created_at) AS started_at FROM feedback_events
                   WHERE conversation_id = ?1) AS f
            LEFT JOIN (SELECT resolved, handled_by, agent_id, contact_count FROM feedback_events
                        WHERE conversation_id = ?1 AND kind = 'outcome'
                        ORDER BY created_at DESC, event_id DESC LIMIT 1) AS o ON 1
            ON CONFLICT (conversation_id) DO UPDATE SET
                started_at = excluded.started_at, day = excluded.day,
                channel = excluded.channel, intent = excluded.intent,
                resolved = excluded.resolved, handled_by = excluded.handled_by,
                agent_id = excluded.agent_id, contact_count = excluded.contact_count,
                rating = excluded.rating
            RETURNING resolved, intent, handled_by, agent_id, rating, contact_count
            "#,
                vec![Value::Text(conversation_id.into())],
            )
            .await?;
        rows.into_iter()
            .next()
            .ok_or_else(|| Problem::internal("the conversation's row was not written"))
    }

    /// The stored event as the API shows it, with its fingerprint.
    async fn stored(&self, event_id: &str) -> Result<Option<(serde_json::Value, String)>, Problem> {
        let rows = self
            .query(
                "SELECT event_id, conversation_id, turn_id, kind, rating, resolved, handled_by, \
                 agent_id, contact_count, intent_predicted, intent_corrected, faq_predicted, \
                 faq_corrected, text, comment, sentiment, sentiment_score, channel, created_at, \
                 received_at, fingerprint FROM feedback_events WHERE event_id = ?",
                vec![Value::Text(event_id.into())],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let s = |i: usize| row.get::<&str>(i).map(str::to_string);
        let i = |i: usize| row.get::<i64>(i);
        let sentiment =
            s(15).map(|label| serde_json::json!({"label": label, "score": row.get::<f64>(16)}));
        let value = serde_json::json!({
            "event_id": s(0),
            "conversation_id": s(1),
            "turn_id": s(2),
            "kind": s(3),
            "rating": i(4),
            "resolved": i(5).map(|r| r == 1),
            "handled_by": s(6),
            "agent_id": s(7),
            "contact_count": i(8),
            "intent_predicted": s(9),
            "intent_corrected": s(10),
            "faq_predicted": s(11),
            "faq_corrected": s(12),
            "text": s(13),
            "comment": s(14),
            "sentiment": sentiment,
            "channel": s(17),
            "created_at": i(18).map(feedback::format_time),
            "received_at": i(19).map(feedback::format_time),
        });
        Ok(Some((value, s(20).unwrap_or_default())))
    }

    /// Stats over conversations started in `[from, to)`; the same numbers as
    /// `tandem_core::feedback::metrics::stats` over the same events, aggregated in SQL.
    pub async fn stats(&self, from: i64, to: i64, by: Option<GroupBy>) -> Result<Stats, Problem> {
        let (total, groups) = self.conversation_counts(from, to, by).await?;
        let events = self.event_counts(from, to).await?;
        let corrections = self.intent_corrections(from, to).await?;
        Ok(Stats {
            counts: total,
            metrics: total.metrics(),
            events,
            top_corrections: metrics::rank_corrections(corrections),
            groups: by.map(|_| groups),
        })
    }

    /// The counts of the conversations started in `[from, to)`, in total and per group of `by`.
    async fn conversation_counts(
        &self,
        from: i64,
        to: i64,
        by: Option<GroupBy>,
    ) -> Result<(Counts, Vec<metrics::Group>), Problem> {
        let key = match by {
            None => "NULL",
            Some(GroupBy::Intent) => "intent",
            Some(GroupBy::Day) => "day",
            Some(GroupBy::Channel) => "channel",
            Some(GroupBy::Agent) => "agent_id",
        };
        // One pass over the range's conversations; groups are summed for the total, so the
        // parts always add up to the whole.
        let sql = format!(
            "SELECT {key} AS k, COUNT(*), \
             COALESCE(SUM(resolved IS NOT NULL), 0), \
             COALESCE(SUM(resolved = 1), 0), \
             COALESCE(SUM(resolved = 1 AND contact_count = 1), 0), \
             COALESCE(SUM(resolved = 1 AND handled_by = 'bot'), 0), \
             COALESCE(SUM(handled_by IN ('human', 'both')), 0), \
             COALESCE(SUM(rating IS NOT NULL), 0), \
             COALESCE(SUM(rating >= 4), 0), \
             COALESCE(SUM(rating), 0) \
             FROM feedback_conversations WHERE started_at >= ? AND started_at < ? \
             GROUP BY k ORDER BY k"
        );
        let rows = self
            .query(&sql, vec![Value::Integer(from), Value::Integer(to)])
            .await?;
        let mut total = Counts::default();
        let mut groups = Vec::new();
        for row in &rows {
            let c = counts_of(row);
            add_counts(&mut total, &c);
            groups.push(metrics::Group::new(
                row.get::<&str>(0).map(str::to_string),
                c,
            ));
        }
        Ok((total, groups))
    }

    /// The events of each kind created in `[from, to)`.
    async fn event_counts(&self, from: i64, to: i64) -> Result<EventCounts, Problem> {
        let mut events = EventCounts::default();
        // One count per kind reads one (kind, time) range of the index (migration 2).
        for kind in [Kind::Rating, Kind::Outcome, Kind::Correction, Kind::Comment] {
            let rows = self
                .query(
                    "SELECT COUNT(*) FROM feedback_events \
                     WHERE kind = ? AND created_at >= ? AND created_at < ?",
                    vec![
                        Value::Text(kind.as_str().into()),
                        Value::Integer(from),
                        Value::Integer(to),
                    ],
                )
                .await?;
            let n = rows.first().and_then(|r| r.get::<i64>(0)).unwrap_or(0);
            events.add(kind, n.max(0) as u64);
        }
        Ok(events)
    }

    /// The intent corrections created in `[from, to)`, counted per (predicted, corrected) pair.
    async fn intent_corrections(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<CorrectionCount>, Problem> {
        Ok(self
            .query(
                "SELECT intent_predicted, intent_corrected, COUNT(*) FROM feedback_events \
                 WHERE kind = 'correction' AND created_at >= ? AND created_at < ? \
                 AND intent_corrected IS NOT NULL GROUP BY 1, 2",
                vec![Value::Integer(from), Value::Integer(to)],
            )
            .await?
            .iter()
            .filter_map(|row| {
                Some(CorrectionCount {
                    from: row.get::<&str>(0).map(str::to_string),
                    to: row.get::<&str>(1)?.to_string(),
                    count: row.get::<i64>(2)?.max(0) as u64,
                })
            })
            .collect())
    }

    /// Median seconds from creation to resolution of the tickets each agent resolved in
    /// `[from, to)`, read from the ticket component's table in the same database (docs/tickets.md).
    /// Empty when the ticket store has never been used.
    pub async fn median_time_to_resolve(
        &self,
        from: i64,
        to: i64,
    ) -> Result<std::collections::BTreeMap<String, f64>, Problem> {
        if !self.has_table("ticket_tickets").await? {
            return Ok(Default::default());
        }
        let rows = self
            .query(
                "SELECT assignee, resolved_at - created_at FROM ticket_tickets \
                 WHERE assignee IS NOT NULL AND resolved_at >= ? AND resolved_at < ?",
                vec![Value::Integer(from), Value::Integer(to)],
            )
            .await?;
        let mut by_agent: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
        for row in &rows {
            if let (Some(agent), Some(ms)) = (row.get::<&str>(0), row.get::<i64>(1)) {
                by_agent
                    .entry(agent.to_string())
                    .or_default()
                    .push(ms.max(0) as f64 / 1000.0);
            }
        }
        Ok(by_agent
            .into_iter()
            .filter_map(|(agent, mut secs)| Some((agent, metrics::median(&mut secs)?)))
            .collect())
    }

    /// Corrections received at or after `since`, oldest first, as knowledge-base import lines.
    pub async fn corrections_since(&self, since: i64) -> Result<Vec<serde_json::Value>, Problem> {
        let rows = self
            .query(
                "SELECT text, intent_corrected, faq_corrected, intent_predicted, faq_predicted, \
                 event_id, conversation_id, created_at, received_at FROM feedback_events \
                 WHERE kind = 'correction' AND received_at >= ? AND text IS NOT NULL \
                 ORDER BY received_at, seq",
                vec![Value::Integer(since)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                let s = |i: usize| row.get::<&str>(i).map(str::to_string);
                let mut line = serde_json::json!({
                    "text": s(0),
                    "source": "feedback",
                    "event_id": s(5),
                    "conversation_id": s(6),
                    "created_at": row.get::<i64>(7).map(feedback::format_time),
                    "received_at": row.get::<i64>(8).map(feedback::format_time),
                });
                // Only the fields that apply: an intent line, an FAQ line, or both.
                for (name, i) in [
                    ("intent", 1),
                    ("faq", 2),
                    ("intent_predicted", 3),
                    ("faq_predicted", 4),
                ] {
                    if let Some(v) = s(i) {
                        line[name] = v.into();
                    }
                }
                line
            })
            .collect())
    }
}

/// A row of the conversation counts: the group's key, then the nine counts in `Counts`' order.
fn counts_of(row: &Row) -> Counts {
    let n = |i: usize| row.get::<i64>(i).unwrap_or(0).max(0) as u64;
    Counts {
        conversations: n(1),
        with_outcome: n(2),
        resolved: n(3),
        resolved_first_contact: n(4),
        self_served: n(5),
        handed_off: n(6),
        rated: n(7),
        satisfied: n(8),
        rating_sum: n(9),
    }
}

fn add_counts(total: &mut Counts, c: &Counts) {
    total.conversations += c.conversations;
    total.with_outcome += c.with_outcome;
    total.resolved += c.resolved;
    total.resolved_first_contact += c.resolved_first_contact;
    total.self_served += c.self_served;
    total.handed_off += c.handed_off;
    total.rated += c.rated;
    total.satisfied += c.satisfied;
    total.rating_sum += c.rating_sum;
}
