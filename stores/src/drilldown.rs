//! The conversations behind a dashboard figure (`tandem_core::feedback::drilldown`), read from the
//! feedback store's folded conversations in one range scan of the covering start index.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use crate::db::{Connection, Value};
use crate::feedback::Store;
use tandem_core::feedback::HandledBy;
use tandem_core::feedback::metrics::Subset;
use tandem_core::feedback::metrics::{Conversation, GroupBy};
use tandem_core::foundation::problem::Problem;

/// Which conversations: a range, a subset, and optionally one group.
pub struct Filter<'a> {
    pub from: i64,
    pub to: i64,
    pub subset: Subset,
    /// A group as `stats?group_by=` names it; `Some((by, None))`: the conversations without
    /// a key of `by`.
    pub group: Option<(GroupBy, Option<&'a str>)>,
}

impl<C: Connection> Store<C> {
    /// The conversations of `filter`, newest first, at most `limit`, and how many match in all.
    pub async fn drilldown(
        &self,
        filter: &Filter<'_>,
        limit: usize,
    ) -> Result<(Vec<Conversation>, u64), Problem> {
        let rows = self
            .query(
                "SELECT conversation_id, started_at, channel, intent, resolved, handled_by, \
                 agent_id, contact_count, rating FROM feedback_conversations \
                 WHERE started_at >= ? AND started_at < ? ORDER BY started_at DESC, conversation_id",
                vec![Value::Integer(filter.from), Value::Integer(filter.to)],
            )
            .await?;
        let mut total = 0;
        let mut out = Vec::new();
        for r in &rows {
            let s = |i: usize| r.get::<&str>(i).map(str::to_string);
            let c = Conversation {
                conversation_id: s(0).unwrap_or_default(),
                started_at_ms: r.get::<i64>(1).unwrap_or(0),
                channel: s(2),
                intent: s(3),
                resolved: r.get::<i64>(4).map(|v| v == 1),
                handled_by: r.get::<&str>(5).and_then(HandledBy::parse),
                agent_id: s(6),
                contact_count: r.get::<i64>(7).and_then(|n| u32::try_from(n).ok()),
                rating: r.get::<i64>(8).and_then(|n| u8::try_from(n).ok()),
            };
            let in_group = filter
                .group
                .is_none_or(|(by, key)| tandem_core::feedback::drilldown::in_group(&c, by, key));
            if in_group && filter.subset.matches(&c) {
                total += 1;
                if out.len() < limit {
                    out.push(c);
                }
            }
        }
        Ok((out, total))
    }
}
