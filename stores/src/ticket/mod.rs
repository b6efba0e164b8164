//! The ticket store (database `default`, shared with the feedback component, so every table
//! name starts with `ticket_`). docs/tickets.md describes the tables.
//!
//! Every change is one transaction ([`Db::write`]): a ticket, its audit
//! events and its agent's idle clock land together or not at all. Parameters only, never SQL
//! built from input: the few `format!`s below splice in fixed column lists.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use crate::db::{Connection, Db, Row, Value, text};
use crate::random;
use tandem_core::foundation::problem::Problem;
use tandem_core::foundation::vocab::Priority;
use tandem_core::ticket::{self, Status, Ticket, TicketPolicy};

mod agents;
mod create;
mod customers;
mod events;
mod rows;
mod schema;
mod sla;
mod sweep;
mod update;

pub use customers::StoredCustomer;
use rows::{event_json, ticket_from_row};
pub use schema::MIGRATIONS;
pub use sweep::{SweepRules, Swept};

/// The store's name: its tables' prefix and its name in error messages.
pub const NAME: &str = "ticket";

const TICKET_COLUMNS: &str = "id, status, priority, priority_reasons, category, category_source, \
    category_confidence, queue, assignee, customer_id, customer_name, customer_channel, \
    customer_contact, customer_tier, subject, summary, transcript, entities, sla_due, created_at, \
    updated_at, resolved_at, version, fingerprint, seq, escalated_at, first_response_at";

/// Filters of `GET /v1/tickets`.
#[derive(Default)]
pub struct ListQuery {
    pub status: Option<Status>,
    pub queue: Option<String>,
    /// `Some(None)` = unassigned.
    pub assignee: Option<Option<String>>,
    pub priority: Option<Priority>,
    pub category: Option<String>,
    pub customer_id: Option<String>,
    pub limit: u32,
    /// Items strictly older than this position.
    pub before_seq: Option<i64>,
}

/// The outcome of a create: the ticket and whether it is an idempotent replay.
pub struct Created {
    pub ticket: Ticket,
    pub replayed: bool,
}

pub struct Store<C> {
    db: Db<C>,
}

fn priority_str(p: Priority) -> &'static str {
    match p {
        Priority::Low => "low",
        Priority::Normal => "normal",
        Priority::High => "high",
        Priority::Urgent => "urgent",
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    Value::Text(serde_json::to_string(v).expect("stored values serialise"))
}

pub(super) fn corrupt(what: &str) -> Problem {
    Problem::internal(format!("a stored ticket has an unreadable {what}"))
}
impl<C: Connection> Store<C> {
    /// The store on `conn`, its schema brought up to date.
    pub async fn open(conn: C) -> Result<Store<C>, Problem> {
        // A reply note can write a FAQ draft in its transaction: the knowledge tables must be
        // there (one schema read when they are).
        Db::open(&conn, crate::knowledge::NAME, crate::knowledge::MIGRATIONS).await?;
        // Every change writes its event in its own transaction (docs/webhooks.md).
        Db::open(&conn, crate::outbox::NAME, crate::outbox::MIGRATIONS).await?;
        Ok(Store {
            db: Db::open(conn, NAME, MIGRATIONS).await?,
        })
    }

    /// The secret customer access tokens are derived from, created on first use, and the
    /// queues synced from the compiled-in policy when its version changed.
    pub async fn secret(&self, policy: &TicketPolicy) -> Result<String, Problem> {
        let read = async |db: &Db<C>| -> Result<(Option<String>, Option<String>), Problem> {
            let rows = db
                .query(
                    "SELECT key, value FROM ticket_meta WHERE key IN ('token_secret', 'policy_version')",
                    vec![],
                )
                .await?;
            let get = |k: &str| {
                rows.iter()
                    .find(|r| r.get::<&str>(0) == Some(k))
                    .and_then(|r| r.get::<&str>(1))
                    .map(str::to_string)
            };
            Ok((get("token_secret"), get("policy_version")))
        };
        if let (Some(secret), Some(v)) = read(&self.db).await?
            && v == policy.model_version
        {
            return Ok(secret);
        }
        self.db
            .write(async |db: &Db<C>| {
                let (secret, version) = read(db).await?;
                let secret = match secret {
                    Some(s) => s,
                    None => {
                        let s = ticket::hex(&random::<32>()?);
                        db.exec(
                            "INSERT INTO ticket_meta (key, value) VALUES ('token_secret', ?)",
                            vec![Value::Text(s.clone())],
                        )
                        .await?;
                        s
                    }
                };
                if version.as_deref() != Some(policy.model_version.as_str()) {
                    for q in &policy.queues {
                        db.exec(
                            "INSERT INTO ticket_queues (id, name_zh, name_en) VALUES (?, ?, ?) \
                             ON CONFLICT (id) DO UPDATE SET name_zh = excluded.name_zh, \
                             name_en = excluded.name_en",
                            vec![
                                Value::Text(q.id.clone()),
                                text(q.name.get("zh").map(String::as_str)),
                                text(q.name.get("en").map(String::as_str)),
                            ],
                        )
                        .await?;
                    }
                    db.exec(
                        "INSERT INTO ticket_meta (key, value) VALUES ('policy_version', ?) \
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        vec![Value::Text(policy.model_version.clone())],
                    )
                    .await?;
                }
                Ok(secret)
            })
            .await
    }

    /// The ticket an earlier create with this key made, if any: (ticket, its fingerprint).
    pub async fn by_idempotency_key(
        &self,
        customer_id: &str,
        key: &str,
    ) -> Result<Option<(Ticket, String)>, Problem> {
        Store::peek(&self.db)
            .by_idempotency_key(customer_id, key)
            .await
    }

    /// The customer's tickets created in the last seven days (the repeated-contact signal).
    pub async fn recent_tickets(&self, customer_id: &str, now: i64) -> Result<u32, Problem> {
        let rows = self
            .db
            .query(
                "SELECT COUNT(*) FROM ticket_tickets WHERE customer_id = ? AND created_at >= ?",
                vec![
                    Value::Text(customer_id.into()),
                    Value::Integer(now - 7 * 86_400_000),
                ],
            )
            .await?;
        Ok(rows
            .first()
            .and_then(|r| r.get::<i64>(0))
            .unwrap_or(0)
            .max(0) as u32)
    }

    /// Reading inside a transaction: the same connection, seen through the store's queries.
    fn peek(db: &Db<C>) -> Peek<'_, C> {
        Peek { db }
    }

    pub async fn get(&self, id: &str) -> Result<Option<Ticket>, Problem> {
        Store::peek(&self.db).get(id).await
    }

    /// One page, newest first, and the position of its last item when more follow.
    pub async fn list(&self, q: &ListQuery) -> Result<(Vec<Ticket>, Option<i64>), Problem> {
        let mut sql = format!("SELECT {TICKET_COLUMNS} FROM ticket_tickets WHERE 1 = 1");
        let mut params = Vec::new();
        let mut eq = |column: &str, v: Option<&str>| {
            if let Some(v) = v {
                sql.push_str(&format!(" AND {column} = ?"));
                params.push(Value::Text(v.into()));
            }
        };
        eq("status", q.status.map(Status::as_str));
        eq("queue", q.queue.as_deref());
        eq("priority", q.priority.map(priority_str));
        eq("category", q.category.as_deref());
        eq("customer_id", q.customer_id.as_deref());
        match &q.assignee {
            Some(Some(a)) => eq("assignee", Some(a)),
            Some(None) => sql.push_str(" AND assignee IS NULL"),
            None => {}
        }
        if let Some(seq) = q.before_seq {
            sql.push_str(" AND seq < ?");
            params.push(Value::Integer(seq));
        }
        sql.push_str(" ORDER BY seq DESC LIMIT ?");
        params.push(Value::Integer(i64::from(q.limit) + 1));
        let rows = self.db.query(&sql, params).await?;
        let more = rows.len() > q.limit as usize;
        let page: Vec<&Row> = rows.iter().take(q.limit as usize).collect();
        let next = if more {
            page.last().and_then(|r| r.get::<i64>(24))
        } else {
            None
        };
        let tickets = page
            .into_iter()
            .map(ticket_from_row)
            .collect::<Result<_, _>>()?;
        Ok((tickets, next))
    }

    /// A ticket's audit trail, oldest first; `None` when the ticket does not exist.
    pub async fn events(&self, id: &str) -> Result<Option<Vec<serde_json::Value>>, Problem> {
        if self.get(id).await?.is_none() {
            return Ok(None);
        }
        let rows = self
            .db
            .query(
                "SELECT seq, ticket_id, agent_id, kind, actor, from_value, to_value, text, \
                 created_at FROM ticket_events WHERE ticket_id = ? ORDER BY seq",
                vec![Value::Text(id.into())],
            )
            .await?;
        Ok(Some(rows.iter().map(event_json).collect()))
    }
}

/// Read queries usable both on a plain connection and inside a write transaction.
struct Peek<'a, C> {
    db: &'a Db<C>,
}

impl<C: Connection> Peek<'_, C> {
    async fn get(&self, id: &str) -> Result<Option<Ticket>, Problem> {
        let rows = self
            .db
            .query(
                &format!("SELECT {TICKET_COLUMNS} FROM ticket_tickets WHERE id = ?"),
                vec![Value::Text(id.into())],
            )
            .await?;
        rows.first().map(ticket_from_row).transpose()
    }

    async fn by_idempotency_key(
        &self,
        customer_id: &str,
        key: &str,
    ) -> Result<Option<(Ticket, String)>, Problem> {
        let rows = self
            .db
            .query(
                &format!(
                    "SELECT {TICKET_COLUMNS} FROM ticket_tickets \
                     WHERE customer_id = ? AND idempotency_key = ?"
                ),
                vec![Value::Text(customer_id.into()), Value::Text(key.into())],
            )
            .await?;
        rows.first()
            .map(|r| {
                Ok((
                    ticket_from_row(r)?,
                    r.get::<&str>(23).unwrap_or("").to_string(),
                ))
            })
            .transpose()
    }
}

/// The same key and body again: the first ticket. The same key with another body: a 409.
pub fn replay(t: Ticket, stored: &str, presented: &str) -> Result<Created, Problem> {
    if stored != presented {
        return Err(Problem::conflict(
            "this Idempotency-Key was used for a different request; a retry must send the same \
             body, a new ticket needs a new key",
        ));
    }
    Ok(Created {
        ticket: t,
        replayed: true,
    })
}

#[allow(clippy::too_many_arguments)]
async fn event<C: Connection>(
    db: &Db<C>,
    ticket_id: Option<&str>,
    agent_id: Option<&str>,
    kind: &str,
    actor: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    note: Option<&str>,
    now: i64,
) -> Result<(), Problem> {
    db.exec(
        "INSERT INTO ticket_events (ticket_id, agent_id, kind, actor, from_value, to_value, text, \
         created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            text(ticket_id),
            text(agent_id),
            Value::Text(kind.into()),
            text(actor),
            text(from),
            text(to),
            text(note),
            Value::Integer(now),
        ],
    )
    .await
}

/// A person wrote on the ticket: the first response is stamped once, and a note by the
/// assignee stops their ownership clock (docs/tickets.md, "Schedule").
async fn responded<C: Connection>(
    db: &Db<C>,
    id: &str,
    actor: Option<&str>,
    now: i64,
) -> Result<(), Problem> {
    db.exec(
        "UPDATE ticket_tickets SET first_response_at = COALESCE(first_response_at, ?1), \
         assignee_replied_at = CASE WHEN assignee IS NOT NULL AND assignee = ?2 \
         THEN COALESCE(assignee_replied_at, ?1) ELSE assignee_replied_at END WHERE id = ?3",
        vec![Value::Integer(now), text(actor), Value::Text(id.into())],
    )
    .await
}
