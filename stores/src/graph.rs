//! The live part of the knowledge graph (docs/graph.md): what the feedback and ticket tables
//! say about intents, counted for `tandem_core::graph::live::merge`.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use crate::db::{Connection, Row};
use crate::feedback::Store;
use tandem_core::foundation::problem::Problem;
use tandem_core::graph::live::{IntentOutcomes, LiveCounts, PairCount};

// `INDEXED BY`: each count has a partial covering index (feedback migration 3), but without
// `ANALYZE` statistics SQLite prefers the (kind, created_at) index and then reads every row of
// the kind from the table: 6 ms of a graph request's 8 over 20,000 events (bench/graph.sh).

pub(crate) const CORRECTIONS: &str = "SELECT intent_predicted, intent_corrected, COUNT(*) \
     FROM feedback_events INDEXED BY feedback_events_intent_corrections \
     WHERE kind = 'correction' AND intent_predicted IS NOT NULL AND intent_corrected IS NOT NULL \
     GROUP BY 1, 2 ORDER BY 1, 2";

/// A conversation counts once per entry, however many outcome events it has; its intent is the
/// event's, else the one its earlier events gave it.
pub(crate) const RESOLUTIONS: &str = "SELECT COALESCE(e.intent_predicted, c.intent), \
     e.faq_predicted, COUNT(DISTINCT e.conversation_id) \
     FROM feedback_events e INDEXED BY feedback_events_faq_resolutions \
     LEFT JOIN feedback_conversations c ON c.conversation_id = e.conversation_id \
     WHERE e.kind = 'outcome' AND e.resolved = 1 AND e.faq_predicted IS NOT NULL \
     GROUP BY 1, 2 ORDER BY 1, 2";

pub(crate) const OUTCOMES: &str = "SELECT intent, COUNT(*), SUM(resolved = 1), \
     SUM(handled_by IN ('human', 'both')) \
     FROM feedback_conversations INDEXED BY feedback_conversations_by_intent \
     WHERE intent IS NOT NULL GROUP BY intent ORDER BY intent";

impl<C: Connection> Store<C> {
    /// Confusions from corrections, FAQ answers that resolved conversations, tickets per
    /// queue (when the ticket store has a table) and outcomes, each per intent.
    pub async fn graph_counts(&self) -> Result<LiveCounts, Problem> {
        let corrections = self.query(CORRECTIONS, vec![]).await?;
        let resolutions = self.query(RESOLUTIONS, vec![]).await?;
        let outcomes = self.query(OUTCOMES, vec![]).await?;
        let tickets = match self.has_table("ticket_tickets").await? {
            true => {
                self.query(
                    "SELECT category, queue, COUNT(*) FROM ticket_tickets GROUP BY 1, 2 ORDER BY 1, 2",
                    vec![],
                )
                .await?
            }
            false => Vec::new(),
        };
        Ok(LiveCounts {
            corrections: pairs(&corrections),
            resolutions: pairs(&resolutions),
            tickets: pairs(&tickets),
            outcomes: outcomes
                .iter()
                .filter_map(|r| {
                    Some(IntentOutcomes {
                        intent: r.get::<&str>(0)?.to_string(),
                        conversations: count(r, 1),
                        resolved: count(r, 2),
                        human: count(r, 3),
                    })
                })
                .collect(),
        })
    }
}

fn count(row: &Row, i: usize) -> u64 {
    row.get::<i64>(i).unwrap_or(0).max(0) as u64
}

/// (text, text, count) rows; a row with a null key is skipped.
fn pairs(rows: &[Row]) -> Vec<PairCount> {
    rows.iter()
        .filter_map(|r| {
            Some(PairCount {
                from: r.get::<&str>(0)?.to_string(),
                to: r.get::<&str>(1)?.to_string(),
                count: count(r, 2),
            })
        })
        .collect()
}
