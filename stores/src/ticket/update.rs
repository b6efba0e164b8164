//! Changing a ticket: a versioned patch (every change audited, the outbox told of status and
//! assignment changes) and notes.

use super::agents::touch_agent;
use super::rows::event_json;
use super::{Store, event, events, priority_str, responded};
use crate::db::{Connection, Db, Value, now_ms, text};
use crate::outbox;
use tandem_core::foundation::problem::Problem;
use tandem_core::ticket::{PatchInput, Status, Ticket};

impl<C: Connection> Store<C> {
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
                let Planned { sets, changes, assign } = planned(&t, patch, now)?;
                if let Some(agent) = assign {
                    if Store::peek(db).agent(agent).await?.is_none() {
                        return Err(Problem::unprocessable(format!("no agent {agent}"))
                            .with_param("assignee", "an existing agent id (PUT /v1/agents/{id})"));
                    }
                    touch_agent(db, agent, now).await?;
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
}

/// What a patch changes on ticket `t`: the columns to set, the audited changes (kind, from,
/// to), and the agent it assigns, whose existence the caller checks.
struct Planned<'a> {
    sets: Vec<(&'static str, Value)>,
    changes: Vec<(&'static str, Option<String>, Option<String>)>,
    assign: Option<&'a str>,
}

/// The changes a patch makes, or 409 for a status move the lifecycle forbids. Fields equal to
/// the ticket's are no change.
fn planned<'a>(t: &Ticket, patch: &'a PatchInput, now: i64) -> Result<Planned<'a>, Problem> {
    let mut sets: Vec<(&str, Value)> = Vec::new();
    let mut changes: Vec<(&str, Option<String>, Option<String>)> = Vec::new();
    let mut assign = None;
    if let Some(to) = patch.status
        && to != t.status
    {
        t.status.check_move(to)?;
        sets.push(("status", Value::Text(to.as_str().into())));
        // Resolving stamps the time, reopening clears it, closing keeps the resolution time
        // (or stamps one when closed without being resolved).
        match to {
            Status::Resolved => sets.push(("resolved_at", Value::Integer(now))),
            Status::Open => sets.push(("resolved_at", Value::Null)),
            Status::Closed if t.resolved_at.is_none() => {
                sets.push(("resolved_at", Value::Integer(now)))
            }
            _ => {}
        }
        changes.push((
            "status",
            Some(t.status.as_str().into()),
            Some(to.as_str().into()),
        ));
    }
    if let Some(p) = patch.priority
        && p != t.priority
    {
        sets.push(("priority", Value::Text(priority_str(p).into())));
        changes.push((
            "priority",
            Some(priority_str(t.priority).into()),
            Some(priority_str(p).into()),
        ));
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
        sets.push(("assignee", text(a.as_deref())));
        sets.push((
            "assigned_at",
            a.as_ref().map_or(Value::Null, |_| Value::Integer(now)),
        ));
        sets.push(("assignee_replied_at", Value::Null));
        changes.push(("assigned", t.assignee.clone(), a.clone()));
        assign = a.as_deref();
    }
    Ok(Planned {
        sets,
        changes,
        assign,
    })
}
