//! The ticket store's time-driven work (`POST /v1/tickets/sweep`, docs/tickets.md "Schedule"):
//! escalate tickets past their SLA, return tickets whose assignee went silent to their queue.
//!
//! Idempotent: a ticket is escalated at most once (`escalated_at`), and a returned ticket has no
//! assignee, so running the sweep twice, or from two schedulers at once, changes nothing more.
//! Each ticket's change, its audit entries and its event share one transaction.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use super::events::{self, Change};
use super::{Store, TICKET_COLUMNS, event, priority_str};
use crate::db::{Connection, Db, Value, text};
use crate::outbox;
use crate::ticket::rows::ticket_from_row;
use tandem_core::foundation::problem::Problem;
use tandem_core::foundation::vocab::Priority;
use tandem_core::kb::Queue;
use tandem_core::ticket::Ticket;

/// Most tickets one run changes of each kind; the next run takes the rest.
pub const BATCH: u32 = 200;

/// The queues' escalation targets and ownership timeouts (from the KB's `queues`).
pub struct SweepRules<'a> {
    pub queues: &'a [Queue],
}

/// What one run changed.
#[derive(Debug, Default, serde::Serialize)]
pub struct Swept {
    pub escalated: Vec<String>,
    pub returned: Vec<String>,
}

/// One step more urgent (urgent stays urgent).
fn raised(p: Priority) -> Priority {
    match p {
        Priority::Low => Priority::Normal,
        Priority::Normal => Priority::High,
        Priority::High | Priority::Urgent => Priority::Urgent,
    }
}

impl<C: Connection> Store<C> {
    /// Runs the schedule's ticket work as of `now` (ms).
    pub async fn sweep(&self, rules: &SweepRules<'_>, now: i64) -> Result<Swept, Problem> {
        let mut swept = Swept::default();
        let overdue = self
            .db
            .query(
                &format!(
                    "SELECT {TICKET_COLUMNS} FROM ticket_tickets INDEXED BY ticket_tickets_overdue \
                     WHERE escalated_at IS NULL AND status IN ('new', 'open') AND sla_due < ? \
                     ORDER BY sla_due LIMIT ?"
                ),
                vec![Value::Integer(now), Value::Integer(i64::from(BATCH))],
            )
            .await?;
        for row in &overdue {
            let t = ticket_from_row(row)?;
            if self.escalate(&t, rules, now).await? {
                swept.escalated.push(t.id);
            }
        }
        for q in rules.queues {
            let Some(minutes) = q.ownership_timeout_minutes else {
                continue;
            };
            let cutoff = now - i64::from(minutes) * 60_000;
            let silent = self
                .db
                .query(
                    &format!(
                        "SELECT {TICKET_COLUMNS} FROM ticket_tickets INDEXED BY ticket_tickets_owned \
                         WHERE assignee IS NOT NULL AND assignee_replied_at IS NULL \
                         AND status IN ('new', 'open') AND assigned_at < ? AND queue = ? \
                         ORDER BY assigned_at LIMIT ?"
                    ),
                    vec![
                        Value::Integer(cutoff),
                        Value::Text(q.id.clone()),
                        Value::Integer(i64::from(BATCH)),
                    ],
                )
                .await?;
            for row in &silent {
                let t = ticket_from_row(row)?;
                if self.return_to_queue(&t, minutes, cutoff, now).await? {
                    swept.returned.push(t.id);
                }
            }
        }
        Ok(swept)
    }

    /// Priority one step up, to the queue's escalation target (unassigned there), audited and
    /// told. `false` when another run got there first.
    async fn escalate(
        &self,
        t: &Ticket,
        rules: &SweepRules<'_>,
        now: i64,
    ) -> Result<bool, Problem> {
        let target = rules
            .queues
            .iter()
            .find(|q| q.id == t.queue)
            .and_then(|q| q.escalate_to.clone());
        let priority = raised(t.priority);
        self.db
            .write(async |db: &Db<C>| {
                let queue = target.clone().unwrap_or_else(|| t.queue.clone());
                let moved = queue != t.queue;
                let assignee = if moved { None } else { t.assignee.clone() };
                let changed = db
                    .query(
                        "UPDATE ticket_tickets SET escalated_at = ?1, priority = ?2, queue = ?3, \
                         assignee = ?4, assigned_at = CASE WHEN ?4 IS NULL THEN NULL ELSE assigned_at END, \
                         version = version + 1, updated_at = ?1 \
                         WHERE id = ?5 AND escalated_at IS NULL AND version = ?6 RETURNING id",
                        vec![
                            Value::Integer(now),
                            Value::Text(priority_str(priority).into()),
                            Value::Text(queue.clone()),
                            text(assignee.as_deref()),
                            Value::Text(t.id.clone()),
                            Value::Integer(i64::from(t.version)),
                        ],
                    )
                    .await?;
                if changed.is_empty() {
                    return Ok(false);
                }
                let audit = format!("SLA due {} passed", t.sla_due);
                let id = Some(t.id.as_str());
                event(db, id, None, "escalated", Some("schedule"), None, None, Some(&audit), now)
                    .await?;
                if priority != t.priority {
                    let (from, to) = (priority_str(t.priority), priority_str(priority));
                    event(db, id, None, "priority", Some("schedule"), Some(from), Some(to), None, now)
                        .await?;
                }
                if moved {
                    event(db, id, None, "queue", Some("schedule"), Some(&t.queue), Some(&queue), None, now)
                        .await?;
                    if t.assignee.is_some() {
                        event(db, id, None, "assigned", Some("schedule"), t.assignee.as_deref(), None, None, now)
                            .await?;
                    }
                }
                let ticket = Store::peek(db)
                    .get(&t.id)
                    .await?
                    .ok_or_else(|| Problem::internal("the ticket vanished inside its transaction"))?;
                let mut data = events::ticket_data(&ticket, None);
                data["escalation"] = serde_json::json!({
                    "reason": "sla_missed",
                    "sla_due": t.sla_due,
                    "from_priority": t.priority,
                    "to_priority": priority,
                    "from_queue": t.queue,
                    "to_queue": queue,
                });
                outbox::emit(db, "ticket.escalated", id, data).await?;
                if moved && let Some(previous) = &t.assignee {
                    let change = Change::new(Some(previous), None, "schedule");
                    let data = events::ticket_data(&ticket, Some(&change));
                    outbox::emit(db, "ticket.assigned", id, data).await?;
                }
                Ok(true)
            })
            .await
    }

    /// The assignee held it `minutes` without a word: back to the queue, unassigned.
    async fn return_to_queue(
        &self,
        t: &Ticket,
        minutes: u32,
        cutoff: i64,
        now: i64,
    ) -> Result<bool, Problem> {
        self.db
            .write(async |db: &Db<C>| {
                let changed = db
                    .query(
                        "UPDATE ticket_tickets SET assignee = NULL, assigned_at = NULL, \
                         version = version + 1, updated_at = ?1 \
                         WHERE id = ?2 AND assignee = ?3 AND assignee_replied_at IS NULL \
                         AND assigned_at < ?4 AND version = ?5 RETURNING id",
                        vec![
                            Value::Integer(now),
                            Value::Text(t.id.clone()),
                            text(t.assignee.as_deref()),
                            Value::Integer(cutoff),
                            Value::Integer(i64::from(t.version)),
                        ],
                    )
                    .await?;
                if changed.is_empty() {
                    return Ok(false);
                }
                let id = Some(t.id.as_str());
                let why = format!("no reply from the assignee within {minutes} min");
                event(
                    db,
                    id,
                    None,
                    "assigned",
                    Some("schedule"),
                    t.assignee.as_deref(),
                    None,
                    Some(&why),
                    now,
                )
                .await?;
                let ticket = Store::peek(db).get(&t.id).await?.ok_or_else(|| {
                    Problem::internal("the ticket vanished inside its transaction")
                })?;
                let change = Change::new(t.assignee.as_deref(), None, "schedule");
                let mut data = events::ticket_data(&ticket, Some(&change));
                data["reason"] = "ownership_timeout".into();
                outbox::emit(db, "ticket.assigned", id, data).await?;
                Ok(true)
            })
            .await
    }
}
