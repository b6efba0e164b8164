//! The rows of the SLA figures (`GET /v1/tickets/sla`; the figures are
//! `tandem_core::ticket::sla::report`).

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use super::Store;
use crate::db::{Connection, Value};
use tandem_core::foundation::problem::Problem;

impl<C: Connection> Store<C> {
    /// One row per ticket created in `[from, to)` (ms), at most `limit`, for the SLA figures.
    pub async fn sla_rows(
        &self,
        from: i64,
        to: i64,
        limit: u32,
    ) -> Result<Vec<tandem_core::ticket::sla::SlaRow>, Problem> {
        let rows = self
            .db
            .query(
                "SELECT queue, assignee, created_at, sla_due, resolved_at, first_response_at, \
                 escalated_at IS NOT NULL FROM ticket_tickets \
                 WHERE created_at >= ? AND created_at < ? ORDER BY created_at LIMIT ?",
                vec![
                    Value::Integer(from),
                    Value::Integer(to),
                    Value::Integer(i64::from(limit)),
                ],
            )
            .await?;
        let bad = || Problem::internal("a stored ticket has unreadable times");
        rows.iter()
            .map(|r| {
                Ok(tandem_core::ticket::sla::SlaRow {
                    queue: r.get::<&str>(0).ok_or_else(bad)?.into(),
                    assignee: r.get::<&str>(1).map(str::to_string),
                    created_at: r.get::<i64>(2).ok_or_else(bad)?,
                    sla_due: r.get::<i64>(3).ok_or_else(bad)?,
                    resolved_at: r.get::<i64>(4),
                    first_response_at: r.get::<i64>(5),
                    escalated: r.get::<i64>(6) == Some(1),
                })
            })
            .collect()
    }
}
