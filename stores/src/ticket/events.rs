//! What a ticket event tells the outside (docs/webhooks.md): ids, states and times, never the
//! conversation's text or the customer's contact.

use tandem_core::ticket::Ticket;

/// One change of a field, as a webhook payload carries it.
pub struct Change<'a> {
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub actor: &'a str,
}

impl<'a> Change<'a> {
    pub fn new(from: Option<&'a str>, to: Option<&'a str>, actor: &'a str) -> Self {
        Change { from, to, actor }
    }
}

/// The `data` of a `ticket.*` event.
pub fn ticket_data(t: &Ticket, change: Option<&Change>) -> serde_json::Value {
    let mut data = serde_json::json!({
        "ticket": {
            "id": t.id,
            "status": t.status.as_str(),
            "priority": t.priority,
            "queue": t.queue,
            "assignee": t.assignee,
            "category": t.category,
            "customer_id": t.customer.id,
            "customer_tier": t.customer.tier,
            "sla_due": t.sla_due,
            "created_at": t.created_at,
            "updated_at": t.updated_at,
            "escalated_at": t.escalated_at,
            "version": t.version,
        }
    });
    if let Some(c) = change {
        data["change"] = serde_json::json!({"from": c.from, "to": c.to, "actor": c.actor});
    }
    data
}
