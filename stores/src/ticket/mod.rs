//! The ticket store (database `default`, shared with the feedback component, so every table
//! name starts with `ticket_`). docs/tickets.md describes the tables.
//!
//! Every change is one transaction ([`Db::write`]): a ticket, its audit
//! events and its agent's idle clock land together or not at all. Parameters only, never SQL
//! built from input: the few `format!`s below splice in fixed column lists.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use crate::db::{Connection, Db, Row, Value, now_ms, text};
use crate::random;
use tandem_core::foundation::problem::Problem;
use tandem_core::foundation::vocab::Priority;
use tandem_core::ticket::{
    self, AgentInput, AgentLoad, AgentStatus, CreateInput, Draft, PatchInput, Status, Ticket,
    TicketPolicy,
};

mod customers;
mod events;
mod rows;
mod schema;
mod sla;
mod sweep;

use crate::outbox;

pub use customers::StoredCustomer;
use rows::{agent_from_row, agent_json, event_json, ticket_from_row};
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

    /// Inserts a new ticket (assigning it when `auto_assign`), or returns the ticket a
    /// concurrent request with the same idempotency key committed first.
    pub async fn create(
        &self,
        input: &CreateInput,
        draft: &Draft,
        idempotency_key: Option<&str>,
        auto_assign: bool,
    ) -> Result<Created, Problem> {
        self.create_as(
            input,
            &input.fingerprint(),
            draft,
            idempotency_key,
            auto_assign,
        )
        .await
    }

    /// [`Store::create`] of `input` as filled in (a CRM record's fields), replay-checked
    /// against `fingerprint`, the request as the client sent it: a retry stays a replay when
    /// the record changed in between.
    pub async fn create_as(
        &self,
        input: &CreateInput,
        fingerprint: &str,
        draft: &Draft,
        idempotency_key: Option<&str>,
        auto_assign: bool,
    ) -> Result<Created, Problem> {
        let fingerprint = fingerprint.to_string();
        let id = ticket::ticket_id(random::<10>()?);
        self.db
            .write(async |db: &Db<C>| {
                if let Some(key) = idempotency_key {
                    let s = Store::peek(db);
                    if let Some((t, fp)) = s.by_idempotency_key(&input.customer.id, key).await? {
                        return replay(t, &fp, &fingerprint);
                    }
                }
                let now = now_ms();
                let assignee = if auto_assign {
                    let agents = Store::peek(db).agent_loads().await?;
                    ticket::pick_agent(&agents, &draft.queue).map(|a| a.id.clone())
                } else {
                    None
                };
                let c = &input.customer;
                db.exec(
                    "INSERT INTO ticket_tickets (id, status, priority, priority_reasons, category, \
                     category_source, category_confidence, queue, assignee, customer_id, \
                     customer_name, customer_channel, customer_contact, customer_tier, subject, \
                     summary, transcript, entities, sla_due, created_at, updated_at, version, \
                     idempotency_key, fingerprint, assigned_at) \
                     VALUES (?, 'new', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
                    vec![
                        Value::Text(id.clone()),
                        Value::Text(priority_str(draft.priority).into()),
                        to_json(&draft.priority_reasons),
                        Value::Text(draft.category.clone()),
                        Value::Text(draft.category_source.into()),
                        draft
                            .category_confidence
                            .map_or(Value::Null, |c| Value::Real(f64::from(c))),
                        Value::Text(draft.queue.clone()),
                        text(assignee.as_deref()),
                        Value::Text(c.id.clone()),
                        text(c.name.as_deref()),
                        text(c.channel.as_deref()),
                        text(c.contact.as_deref()),
                        text(c.tier.as_deref()),
                        Value::Text(draft.subject.clone()),
                        Value::Text(draft.summary.clone()),
                        to_json(&draft.transcript),
                        to_json(&draft.entities),
                        Value::Integer(draft.sla_due(now)),
                        Value::Integer(now),
                        Value::Integer(now),
                        text(idempotency_key),
                        Value::Text(fingerprint.clone()),
                        assignee.as_ref().map_or(Value::Null, |_| Value::Integer(now)),
                    ],
                )
                .await?;
                event(db, Some(&id), None, "created", None, None, Some(&draft.queue), None, now)
                    .await?;
                if let Some(agent) = &assignee {
                    event(db, Some(&id), None, "assigned", Some("auto-assign"), None, Some(agent), None, now)
                        .await?;
                    touch_agent(db, agent, now).await?;
                }
                let ticket = Store::peek(db)
                    .get(&id)
                    .await?
                    .ok_or_else(|| Problem::internal("the ticket vanished inside its transaction"))?;
                let data = events::ticket_data(&ticket, None);
                outbox::emit(db, "ticket.created", Some(&id), data).await?;
                if let Some(agent) = &assignee {
                    let change = events::Change::new(None, Some(agent), "auto-assign");
                    let data = events::ticket_data(&ticket, Some(&change));
                    outbox::emit(db, "ticket.assigned", Some(&id), data).await?;
                }
                Ok(Created {
                    ticket,
                    replayed: false,
                })
            })
            .await
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

    /// Applies a patch when `expected_version` is current: every change is audited, the version
    /// goes up by one. 404 unknown, 412 stale, 409 forbidden move, 422 unknown assignee.
    pub async fn patch(
        &self,
        id: &str,
        expected_version: u32,
        patch: &PatchInput,
    ) -> Result<Ticket, Problem> {
        self.db
            .write(async |db: &Db<C>| {
                let t = Store::peek(db)
                    .get(id)
                    .await?
                    .ok_or_else(|| Problem::not_found(format!("no ticket {id}")))?;
                if t.version != expected_version {
                    return Err(Problem::precondition_failed(format!(
                        "the ticket is at version {}, not {expected_version}; read it again and retry",
                        t.version
                    ))
                    .with_extension("current_version", t.version.into()));
                }
                let now = now_ms();
                let actor = patch.actor.as_deref().unwrap_or("agent");
                let mut sets: Vec<(&str, Value)> = Vec::new();
                let mut changes: Vec<(&str, Option<String>, Option<String>)> = Vec::new();
                if let Some(to) = patch.status
                    && to != t.status
                {
                    t.status.check_move(to)?;
                    sets.push(("status", Value::Text(to.as_str().into())));
                    // Resolving stamps the time, reopening clears it, closing keeps the
                    // resolution time (or stamps one when closed without being resolved).
                    match to {
                        Status::Resolved => sets.push(("resolved_at", Value::Integer(now))),
                        Status::Open => sets.push(("resolved_at", Value::Null)),
                        Status::Closed if t.resolved_at.is_none() => {
                            sets.push(("resolved_at", Value::Integer(now)))
                        }
                        _ => {}
                    }
                    changes.push(("status", Some(t.status.as_str().into()), Some(to.as_str().into())));
                }
                if let Some(p) = patch.priority
                    && p != t.priority
                {
                    sets.push(("priority", Value::Text(priority_str(p).into())));
                    changes.push(("priority", Some(priority_str(t.priority).into()), Some(priority_str(p).into())));
                }
                if let Some(q) = &patch.queue
                    && *q != t.queue
                {
                    sets.push(("queue", Value::Text(q.clone())));
                    changes.push(("queue", Some(t.queue.clone()), Some(q.clone())));
                }
                if let Some(c) = &patch.category
                    && *c != t.category
                {
                    sets.push(("category", Value::Text(c.clone())));
                    sets.push(("category_source", Value::Text("agent".into())));
                    changes.push(("category", Some(t.category.clone()), Some(c.clone())));
                }
                if let Some(a) = &patch.assignee
                    && *a != t.assignee
                {
                    if let Some(agent) = a
                        && Store::peek(db).agent(agent).await?.is_none()
                    {
                        return Err(Problem::unprocessable(format!("no agent {agent}"))
                            .with_param("assignee", "an existing agent id (PUT /v1/agents/{id})"));
                    }
                    sets.push(("assignee", text(a.as_deref())));
                    sets.push(("assigned_at", a.as_ref().map_or(Value::Null, |_| Value::Integer(now))));
                    sets.push(("assignee_replied_at", Value::Null));
                    changes.push(("assigned", t.assignee.clone(), a.clone()));
                    if let Some(agent) = a {
                        touch_agent(db, agent, now).await?;
                    }
                }
                if sets.is_empty() && patch.note.is_none() {
                    return Ok(t);
                }
                let mut sql = String::from("UPDATE ticket_tickets SET version = version + 1, updated_at = ?");
                let mut params = vec![Value::Integer(now)];
                for (column, value) in sets {
                    sql.push_str(&format!(", {column} = ?"));
                    params.push(value);
                }
                sql.push_str(" WHERE id = ? AND version = ?");
                params.push(Value::Text(id.into()));
                params.push(Value::Integer(i64::from(expected_version)));
                db.exec(&sql, params).await?;
                for (kind, from, to) in &changes {
                    event(db, Some(id), None, kind, Some(actor), from.as_deref(), to.as_deref(), None, now)
                        .await?;
                }
                if let Some(note) = &patch.note {
                    let masked = tandem_core::foundation::pii::mask(note);
                    event(db, Some(id), None, "note", Some(actor), None, None, Some(&masked), now).await?;
                    responded(db, id, Some(actor), now).await?;
                }
                let ticket = Store::peek(db)
                    .get(id)
                    .await?
                    .ok_or_else(|| Problem::internal("the ticket vanished inside its transaction"))?;
                for (kind, from, to) in &changes {
                    let event_type = match *kind {
                        "status" => "ticket.status_changed",
                        "assigned" => "ticket.assigned",
                        _ => continue,
                    };
                    let change = events::Change::new(from.as_deref(), to.as_deref(), actor);
                    let data = events::ticket_data(&ticket, Some(&change));
                    outbox::emit(db, event_type, Some(id), data).await?;
                }
                Ok(ticket)
            })
            .await
    }

    /// Adds a note to a ticket's audit trail (not a change: the version stays).
    pub async fn add_note(
        &self,
        id: &str,
        actor: Option<&str>,
        note: &str,
    ) -> Result<serde_json::Value, Problem> {
        self.db
            .write(async |db: &Db<C>| {
                let Some(ticket) = Store::peek(db).get(id).await? else {
                    return Err(Problem::not_found(format!("no ticket {id}")));
                };
                let masked = tandem_core::foundation::pii::mask(note);
                // A reply to a question the bot could not answer is a FAQ draft (same
                // transaction: no note without its draft). Its conversation: the one
                // `/v1/assist` filed the ticket for, else the customer id.
                let key = db
                    .query(
                        "SELECT idempotency_key FROM ticket_tickets WHERE id = ?",
                        vec![Value::Text(id.into())],
                    )
                    .await?;
                let key = key.first().and_then(|r| r.get::<&str>(0));
                let conversation = key
                    .and_then(tandem_core::assist::conversation_of_key)
                    .unwrap_or(&ticket.customer.id);
                let reply = crate::knowledge::Reply {
                    ticket_id: id,
                    conversation_id: conversation,
                    transcript: &ticket.transcript,
                    answer: &masked,
                    now_ms: now_ms(),
                };
                crate::knowledge::draft_from_reply(db, &reply).await?;
                event(
                    db,
                    Some(id),
                    None,
                    "note",
                    actor,
                    None,
                    None,
                    Some(&masked),
                    now_ms(),
                )
                .await?;
                responded(db, id, actor, now_ms()).await?;
                let rows = db
                    .query(
                        "SELECT seq, ticket_id, agent_id, kind, actor, from_value, to_value, text, \
                         created_at FROM ticket_events WHERE seq = last_insert_rowid()",
                        vec![],
                    )
                    .await?;
                rows.first()
                    .map(event_json)
                    .ok_or_else(|| Problem::internal("the note vanished inside its transaction"))
            })
            .await
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

    /// Creates or replaces an agent; `true` when it was created. A status change is audited.
    pub async fn put_agent(&self, id: &str, agent: &AgentInput) -> Result<bool, Problem> {
        self.db
            .write(async |db: &Db<C>| {
                let now = now_ms();
                let before = Store::peek(db).agent(id).await?;
                db.exec(
                    "INSERT INTO ticket_agents (id, name, queues, capacity, status, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                     queues = excluded.queues, capacity = excluded.capacity, status = excluded.status, \
                     updated_at = excluded.updated_at",
                    vec![
                        Value::Text(id.into()),
                        Value::Text(agent.name.trim().into()),
                        to_json(&agent.queues),
                        Value::Integer(i64::from(agent.capacity)),
                        Value::Text(agent.status.as_str().into()),
                        Value::Integer(now),
                        Value::Integer(now),
                    ],
                )
                .await?;
                let old_status = before.as_ref().map(|a| a.status);
                if old_status != Some(agent.status) {
                    event(
                        db,
                        None,
                        Some(id),
                        "agent_status",
                        None,
                        old_status.map(AgentStatus::as_str),
                        Some(agent.status.as_str()),
                        None,
                        now,
                    )
                    .await?;
                }
                Ok(before.is_none())
            })
            .await
    }

    pub async fn agent_json(&self, id: &str) -> Result<Option<serde_json::Value>, Problem> {
        let rows = self
            .db
            .query(
                &format!("{AGENT_LOAD_SQL} WHERE a.id = ?"),
                vec![Value::Text(id.into())],
            )
            .await?;
        rows.first().map(agent_json).transpose()
    }

    /// Agents online now; `None` when no agent is registered (availability unknown).
    pub async fn agents_online(&self) -> Result<Option<u32>, Problem> {
        let rows = self
            .db
            .query(
                "SELECT COUNT(*), COALESCE(SUM(status = 'online'), 0) FROM ticket_agents",
                vec![],
            )
            .await?;
        let count = |i| rows.first().and_then(|r| r.get::<i64>(i)).unwrap_or(0);
        Ok((count(0) > 0).then(|| count(1).max(0) as u32))
    }

    pub async fn agents_json(&self) -> Result<Vec<serde_json::Value>, Problem> {
        let rows = self
            .db
            .query(&format!("{AGENT_LOAD_SQL} ORDER BY a.id"), vec![])
            .await?;
        rows.iter().map(agent_json).collect()
    }
}
/// Read queries usable both on a plain connection and inside a write transaction.
struct Peek<'a, C> {
    db: &'a Db<C>,
}

const AGENT_LOAD_SQL: &str = "SELECT a.id, a.queues, a.capacity, a.status, a.last_assigned_at, \
    (SELECT COUNT(*) FROM ticket_tickets t WHERE t.assignee = a.id \
       AND t.status IN ('new', 'open', 'pending')), a.name \
    FROM ticket_agents a";

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

    async fn agent(&self, id: &str) -> Result<Option<AgentLoad>, Problem> {
        let rows = self
            .db
            .query(
                &format!("{AGENT_LOAD_SQL} WHERE a.id = ?"),
                vec![Value::Text(id.into())],
            )
            .await?;
        rows.first().map(agent_from_row).transpose()
    }

    async fn agent_loads(&self) -> Result<Vec<AgentLoad>, Problem> {
        let rows = self
            .db
            .query(
                &format!("{AGENT_LOAD_SQL} WHERE a.status = 'online'"),
                vec![],
            )
            .await?;
        rows.iter().map(agent_from_row).collect()
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

async fn touch_agent<C: Connection>(db: &Db<C>, agent: &str, now: i64) -> Result<(), Problem> {
    db.exec(
        "UPDATE ticket_agents SET last_assigned_at = ? WHERE id = ?",
        vec![Value::Integer(now), Value::Text(agent.into())],
    )
    .await
}
