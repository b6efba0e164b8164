//! Agents: who they are, which queues they serve, their capacity and status, and their load
//! (open tickets assigned) as the assignment rules read it.

use super::rows::{agent_from_row, agent_json};
use super::{Peek, Store, event, to_json};
use crate::db::{Connection, Db, Value, now_ms};
use tandem_core::foundation::problem::Problem;
use tandem_core::ticket::{AgentInput, AgentLoad, AgentStatus};

pub(super) const AGENT_LOAD_SQL: &str = "SELECT a.id, a.queues, a.capacity, a.status, a.last_assigned_at, \
    (SELECT COUNT(*) FROM ticket_tickets t WHERE t.assignee = a.id \
       AND t.status IN ('new', 'open', 'pending')), a.name \
    FROM ticket_agents a";

impl<C: Connection> Store<C> {
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

impl<C: Connection> Peek<'_, C> {
    pub(super) async fn agent(&self, id: &str) -> Result<Option<AgentLoad>, Problem> {
        let rows = self
            .db
            .query(
                &format!("{AGENT_LOAD_SQL} WHERE a.id = ?"),
                vec![Value::Text(id.into())],
            )
            .await?;
        rows.first().map(agent_from_row).transpose()
    }

    pub(super) async fn agent_loads(&self) -> Result<Vec<AgentLoad>, Problem> {
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

pub(super) async fn touch_agent<C: Connection>(
    db: &Db<C>,
    agent: &str,
    now: i64,
) -> Result<(), Problem> {
    db.exec(
        "UPDATE ticket_agents SET last_assigned_at = ? WHERE id = ?",
        vec![Value::Integer(now), Value::Text(agent.into())],
    )
    .await
}
