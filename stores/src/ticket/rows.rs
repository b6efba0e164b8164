//! Stored rows → API values: tickets, agents, audit events.

use super::corrupt;
use crate::db::Row;
use tandem_core::feedback::format_time;
use tandem_core::foundation::problem::Problem;
use tandem_core::ticket::{AgentLoad, AgentStatus, Customer, Status, Ticket};

pub fn event_json(r: &Row) -> serde_json::Value {
    let s = |i: usize| r.get::<&str>(i).map(str::to_string);
    serde_json::json!({
        "seq": r.get::<i64>(0),
        "ticket_id": s(1),
        "agent_id": s(2),
        "kind": s(3),
        "actor": s(4),
        "from": s(5),
        "to": s(6),
        "text": s(7),
        "created_at": r.get::<i64>(8).map(format_time),
    })
}

pub fn agent_from_row(r: &Row) -> Result<AgentLoad, Problem> {
    Ok(AgentLoad {
        id: r
            .get::<&str>(0)
            .ok_or_else(|| corrupt("agent id"))?
            .to_string(),
        queues: serde_json::from_str(r.get::<&str>(1).unwrap_or("[]"))
            .map_err(|_| corrupt("agent queue list"))?,
        capacity: r.get::<i64>(2).unwrap_or(0).clamp(0, 100) as u32,
        status: r
            .get::<&str>(3)
            .and_then(AgentStatus::parse)
            .ok_or_else(|| corrupt("agent status"))?,
        last_assigned_at: r.get::<i64>(4),
        open_tickets: r.get::<i64>(5).unwrap_or(0).max(0) as u32,
    })
}

pub fn agent_json(r: &Row) -> Result<serde_json::Value, Problem> {
    let a = agent_from_row(r)?;
    Ok(serde_json::json!({
        "id": a.id,
        "name": r.get::<&str>(6),
        "queues": a.queues,
        "capacity": a.capacity,
        "status": a.status,
        "open_tickets": a.open_tickets,
        "last_assigned_at": a.last_assigned_at.map(format_time),
    }))
}

fn from_value<T: serde::de::DeserializeOwned>(
    v: serde_json::Value,
    what: &str,
) -> Result<T, Problem> {
    serde_json::from_value(v).map_err(|_| corrupt(what))
}

pub fn ticket_from_row(r: &Row) -> Result<Ticket, Problem> {
    let s = |i: usize| r.get::<&str>(i).map(str::to_string);
    let req = |i: usize, what: &str| s(i).ok_or_else(|| corrupt(what));
    let parse_json = |i: usize, what: &str| -> Result<serde_json::Value, Problem> {
        serde_json::from_str(r.get::<&str>(i).unwrap_or("null")).map_err(|_| corrupt(what))
    };
    Ok(Ticket {
        id: req(0, "id")?,
        status: Status::parse(&req(1, "status")?).ok_or_else(|| corrupt("status"))?,
        priority: from_value(serde_json::Value::String(req(2, "priority")?), "priority")?,
        priority_reasons: from_value(parse_json(3, "priority reasons")?, "priority reasons")?,
        category: req(4, "category")?,
        category_source: req(5, "category source")?,
        category_confidence: r.get::<f64>(6).map(|c| c as f32),
        queue: req(7, "queue")?,
        assignee: s(8),
        customer: Customer {
            id: req(9, "customer id")?,
            name: s(10),
            channel: s(11),
            contact: s(12),
            tier: s(13),
        },
        subject: req(14, "subject")?,
        summary: req(15, "summary")?,
        transcript: from_value(parse_json(16, "transcript")?, "transcript")?,
        entities: from_value(parse_json(17, "entity list")?, "entity list")?,
        sla_due: format_time(r.get::<i64>(18).unwrap_or(0)),
        created_at: format_time(r.get::<i64>(19).unwrap_or(0)),
        updated_at: format_time(r.get::<i64>(20).unwrap_or(0)),
        resolved_at: r.get::<i64>(21).map(format_time),
        version: r.get::<i64>(22).unwrap_or(1).clamp(1, i64::from(u32::MAX)) as u32,
        escalated_at: r.get::<i64>(25).map(format_time),
        first_response_at: r.get::<i64>(26).map(format_time),
    })
}
