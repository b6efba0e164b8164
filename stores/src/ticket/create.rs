//! Creating a ticket: once per idempotency key, assigned at once when asked, its audit events
//! and webhook events written in the transaction that inserts it.

use super::agents::touch_agent;
use super::{Created, Store, event, events, priority_str, replay, to_json};
use crate::db::{Connection, Db, Value, now_ms, text};
use crate::{outbox, random};
use tandem_core::foundation::problem::Problem;
use tandem_core::ticket::{self, CreateInput, Draft, Ticket};

impl<C: Connection> Store<C> {
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
                let new = NewTicket {
                    id: &id,
                    input,
                    draft,
                    assignee: assignee.as_deref(),
                    idempotency_key,
                    fingerprint: &fingerprint,
                    now,
                };
                insert(db, &new).await?;
                audit(db, &new).await?;
                let ticket = Store::peek(db).get(&id).await?.ok_or_else(|| {
                    Problem::internal("the ticket vanished inside its transaction")
                })?;
                announce(db, &id, &ticket, new.assignee).await?;
                Ok(Created {
                    ticket,
                    replayed: false,
                })
            })
            .await
    }
}

/// Everything a new ticket's row is made of.
struct NewTicket<'a> {
    id: &'a str,
    input: &'a CreateInput,
    draft: &'a Draft,
    assignee: Option<&'a str>,
    idempotency_key: Option<&'a str>,
    fingerprint: &'a str,
    now: i64,
}

/// The ticket's row, status `new` at version 1.
async fn insert<C: Connection>(db: &Db<C>, new: &NewTicket<'_>) -> Result<(), Problem> {
    let NewTicket {
        id,
        input,
        draft,
        assignee,
        idempotency_key,
        fingerprint,
        now,
    } = *new;
    let c = &input.customer;
    db.exec(
        "INSERT INTO ticket_tickets (id, status, priority, priority_reasons, category, \
         category_source, category_confidence, queue, assignee, customer_id, \
         customer_name, customer_channel, customer_contact, customer_tier, subject, \
         summary, transcript, entities, sla_due, created_at, updated_at, version, \
         idempotency_key, fingerprint, assigned_at) \
         VALUES (?, 'new', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
        vec![
            Value::Text(id.into()),
            Value::Text(priority_str(draft.priority).into()),
            to_json(&draft.priority_reasons),
            Value::Text(draft.category.clone()),
            Value::Text(draft.category_source.into()),
            draft
                .category_confidence
                .map_or(Value::Null, |c| Value::Real(f64::from(c))),
            Value::Text(draft.queue.clone()),
            text(assignee),
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
            Value::Text(fingerprint.into()),
            assignee.map_or(Value::Null, |_| Value::Integer(now)),
        ],
    )
    .await
}

/// The audit trail's `created` and, when assigned at once, `assigned`; an assignment also
/// restarts the agent's idle clock, so that ties of the next pick go to agents idle longer.
async fn audit<C: Connection>(db: &Db<C>, new: &NewTicket<'_>) -> Result<(), Problem> {
    let (id, now) = (Some(new.id), new.now);
    event(
        db,
        id,
        None,
        "created",
        None,
        None,
        Some(&new.draft.queue),
        None,
        now,
    )
    .await?;
    if let Some(agent) = new.assignee {
        event(
            db,
            id,
            None,
            "assigned",
            Some("auto-assign"),
            None,
            Some(agent),
            None,
            now,
        )
        .await?;
        touch_agent(db, agent, now).await?;
    }
    Ok(())
}

/// The webhook events of a new ticket: `ticket.created`, and `ticket.assigned` when assigned
/// at once.
async fn announce<C: Connection>(
    db: &Db<C>,
    id: &str,
    ticket: &Ticket,
    assignee: Option<&str>,
) -> Result<(), Problem> {
    let data = events::ticket_data(ticket, None);
    outbox::emit(db, "ticket.created", Some(id), data).await?;
    if let Some(agent) = assignee {
        let change = events::Change::new(None, Some(agent), "auto-assign");
        let data = events::ticket_data(ticket, Some(&change));
        outbox::emit(db, "ticket.assigned", Some(id), data).await?;
    }
    Ok(())
}
