//! The outbox: events written in their change's transaction and fanned out to subscriptions,
//! deliveries claimed under a lease, retried, dead-lettered and replayed; and the ticket
//! sweep (escalation, ownership timeout) with its audit entries and events.

use serde_json::json;

use super::feedback::{DAY, event, outcome};
use super::ticket::{create, open};
use super::{int, memory, sql};
use crate::db::Value;
use crate::native::{Native, block_on};
use crate::outbox::{Outcome, Store};
use tandem_core::feedback::{HandledBy, Kind};
use tandem_core::kb::Queue;
use tandem_core::ticket::{AgentInput, AgentStatus, PatchInput};
use tandem_core::webhook::SubscriptionInput;

fn outbox(conn: &Native) -> Store<&Native> {
    block_on(Store::open(conn)).unwrap()
}

/// A subscription named `name` (its URL's path); returns its id.
fn subscribe(o: &Store<&Native>, name: &str, events: &[&str]) -> String {
    let input = SubscriptionInput {
        url: format!("https://hooks.example/{name}"),
        events: events.iter().map(|e| e.to_string()).collect(),
        description: None,
        active: true,
    };
    let (stored, secret) = block_on(o.create_subscription(&input)).unwrap();
    assert!(stored.id.starts_with("wh_") && secret.starts_with("whsec_"));
    assert_eq!(stored.events, input.events);
    stored.id
}

/// (type, subject) of every event, oldest first.
fn events(conn: &Native) -> Vec<(String, String)> {
    sql(
        conn,
        "SELECT type, COALESCE(subject, '') FROM outbox_events ORDER BY seq",
        vec![],
    )
    .into_iter()
    .map(|r| match (&r[0], &r[1]) {
        (Value::Text(a), Value::Text(b)) => (a.clone(), b.clone()),
        other => panic!("{other:?}"),
    })
    .collect()
}

fn deliveries(conn: &Native, subscription: &str) -> i64 {
    int(&sql(
        conn,
        "SELECT COUNT(*) FROM outbox_deliveries WHERE subscription_id = ?",
        vec![Value::Text(subscription.into())],
    )[0][0])
}

fn online_agent(queues: &[&str]) -> AgentInput {
    AgentInput {
        name: "Li".into(),
        queues: queues.iter().map(|q| q.to_string()).collect(),
        capacity: 5,
        status: AgentStatus::Online,
    }
}

#[test]
fn ticket_changes_write_their_events_and_fan_out_by_type() {
    let conn = memory();
    let s = open(&conn);
    let o = outbox(&conn);
    let all = subscribe(&o, "all", &["*"]);
    let tickets = subscribe(&o, "tickets", &["ticket.created"]);
    let ratings = subscribe(&o, "ratings", &["feedback.recorded"]);
    block_on(s.put_agent("a1", &online_agent(&["orders"]))).unwrap();
    let t = create(&s, "c1", "orders", true);
    assert_eq!(
        events(&conn),
        [
            ("ticket.created".into(), t.id.clone()),
            ("ticket.assigned".into(), t.id.clone())
        ]
    );
    assert_eq!(
        (deliveries(&conn, &all), deliveries(&conn, &tickets)),
        (2, 1)
    );
    assert_eq!(deliveries(&conn, &ratings), 0);
    // A refused change (stale version) writes no event.
    let patch: PatchInput = serde_json::from_value(json!({"status": "open"})).unwrap();
    assert!(block_on(s.patch(&t.id, 9, &patch)).is_err());
    assert_eq!(events(&conn).len(), 2);
    block_on(s.patch(&t.id, t.version, &patch)).unwrap();
    let last = block_on(o.events(2, 10)).unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0]["type"], "ticket.status_changed");
    assert_eq!(
        last[0]["data"]["change"],
        json!({"from": "new", "to": "open", "actor": "agent"})
    );
    assert_eq!(last[0]["data"]["ticket"]["status"], "open");
    // No free text and no contact in a ticket event.
    let payloads = sql(&conn, "SELECT payload FROM outbox_events", vec![]);
    for p in payloads {
        let Value::Text(p) = &p[0] else { panic!() };
        assert!(
            !p.contains("13812345678") && !p.contains("where is my order"),
            "{p}"
        );
    }
}

#[test]
fn feedback_tells_handoffs_and_resolutions_once() {
    let conn = memory();
    let f = block_on(crate::feedback::Store::open(&conn)).unwrap();
    let record = |e| block_on(f.record(&e, None)).unwrap();
    record(event("e1", "conv", Kind::Comment, DAY));
    record(outcome("e2", "conv", false, HandledBy::Human, 1, DAY + 1));
    // Still with a person: no second handoff.
    record(outcome("e3", "conv", false, HandledBy::Human, 1, DAY + 2));
    record(outcome("e4", "conv", true, HandledBy::Human, 1, DAY + 3));
    // A replay of a stored event changes nothing, so tells nothing.
    record(outcome("e4", "conv", true, HandledBy::Human, 1, DAY + 3));
    let types: Vec<String> = events(&conn).into_iter().map(|e| e.0).collect();
    assert_eq!(
        types,
        [
            "feedback.recorded",
            "feedback.recorded",
            "handoff.requested",
            "feedback.recorded",
            "feedback.recorded",
            "conversation.resolved",
        ]
    );
}

#[test]
fn deliveries_are_leased_retried_dead_lettered_and_replayed() {
    let conn = memory();
    let s = open(&conn);
    let o = outbox(&conn);
    subscribe(&o, "hook", &["ticket.created"]);
    let paused = subscribe(&o, "paused", &["ticket.created"]);
    block_on(o.update_subscription(
        &paused,
        &tandem_core::webhook::PartialSubscription {
            active: Some(false),
            ..Default::default()
        },
    ))
    .unwrap();
    let t = create(&s, "c1", "orders", false);
    let claimed = block_on(o.claim(10, 60_000)).unwrap();
    assert_eq!(claimed.len(), 1, "the paused subscription's delivery waits");
    let c = &claimed[0];
    assert_eq!(
        (c.attempts, c.url.as_str()),
        (1, "https://hooks.example/hook")
    );
    let body: serde_json::Value = serde_json::from_str(&c.body).unwrap();
    assert_eq!(body["type"], "ticket.created");
    assert_eq!(body["id"], c.event_id.as_str());
    assert_eq!(body["data"]["ticket"]["id"], t.id.as_str());
    // Leased: another run does not see it.
    assert!(block_on(o.claim(10, 60_000)).unwrap().is_empty());
    // A failure due again now: the next claim is try 2.
    let failed = |retry_at| Outcome::Failed {
        status: Some(503),
        error: "503 from receiver".into(),
        retry_at,
    };
    block_on(o.settle(c, &failed(Some(0)))).unwrap();
    let again = block_on(o.claim(10, 60_000)).unwrap().remove(0);
    assert_eq!(again.attempts, 2);
    // Released (not tried): the try is given back.
    block_on(o.settle(&again, &Outcome::Released { retry_at: 0 })).unwrap();
    let again = block_on(o.claim(10, 60_000)).unwrap().remove(0);
    assert_eq!(again.attempts, 2);
    // A sender that died holds its lease until it runs out, then the delivery is due again.
    block_on(o.settle(&again, &Outcome::Released { retry_at: 0 })).unwrap();
    let died = block_on(o.claim(10, -1)).unwrap().remove(0);
    let took_over = block_on(o.claim(10, 60_000)).unwrap().remove(0);
    assert_eq!(took_over.attempts, 3);
    // The run that died wakes up late: its outcome is fenced off, the new claim's stands.
    block_on(o.settle(&died, &Outcome::Delivered { status: 200 })).unwrap();
    assert_eq!(block_on(o.counts()).unwrap()["delivered"], 0);
    // Out of tries: dead, listed, replayable once.
    block_on(o.settle(&took_over, &failed(None))).unwrap();
    block_on(o.settle(&took_over, &Outcome::Released { retry_at: 0 })).unwrap();
    let dead = block_on(o.deliveries(Some("dead"), None, 10)).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["last_status"], 503);
    assert_eq!(block_on(o.counts()).unwrap()["dead"], 1);
    assert_eq!(block_on(o.replay(c.seq + 100)).unwrap_err().status, 404);
    let replayed = block_on(o.replay(c.seq)).unwrap();
    assert_eq!(
        (replayed["state"].as_str(), replayed["attempts"].as_i64()),
        (Some("pending"), Some(0))
    );
    assert_eq!(block_on(o.replay(c.seq)).unwrap_err().status, 409);
    let c = block_on(o.claim(10, 60_000)).unwrap().remove(0);
    block_on(o.settle(&c, &Outcome::Delivered { status: 204 })).unwrap();
    assert_eq!(
        block_on(o.counts()).unwrap(),
        json!({"pending": 0, "delivered": 1, "dead": 0})
    );
    // Deleting a subscription takes its deliveries with it.
    assert!(block_on(o.delete_subscription(&paused)).unwrap());
    assert!(!block_on(o.delete_subscription(&paused)).unwrap());
    assert_eq!(deliveries(&conn, &paused), 0);
}

fn queues() -> Vec<Queue> {
    serde_json::from_value(json!([
        {"id": "orders", "escalate_to": "vip", "ownership_timeout_minutes": 30},
        {"id": "general"},
        {"id": "vip"}
    ]))
    .unwrap()
}

#[test]
fn the_sweep_escalates_overdue_tickets_once_and_frees_silent_owners() {
    let conn = memory();
    let s = open(&conn);
    let o = outbox(&conn);
    subscribe(&o, "hook", &["ticket.escalated", "ticket.assigned"]);
    block_on(s.put_agent("a1", &online_agent(&["orders", "general"]))).unwrap();
    let overdue = create(&s, "c1", "orders", true);
    let silent = create(&s, "c2", "orders", true);
    let replied = create(&s, "c3", "orders", true);
    let general = create(&s, "c4", "general", true);
    let now = crate::db::now_ms();
    let set = |q: &str, v: i64, id: &str| {
        sql(&conn, q, vec![Value::Integer(v), Value::Text(id.into())]);
    };
    set(
        "UPDATE ticket_tickets SET sla_due = ? WHERE id = ?",
        now - 1,
        &overdue.id,
    );
    for id in [&silent.id, &replied.id, &general.id] {
        set(
            "UPDATE ticket_tickets SET assigned_at = ? WHERE id = ?",
            now - 31 * 60_000,
            id,
        );
    }
    block_on(s.add_note(&replied.id, Some("a1"), "looking into it")).unwrap();
    let rules = crate::ticket::SweepRules { queues: &queues() };
    let swept = block_on(s.sweep(&rules, now)).unwrap();
    assert_eq!(swept.escalated, std::slice::from_ref(&overdue.id));
    // The overdue one moved queue and lost its owner by escalation; of the others, only the
    // silent one in a queue with a timeout is returned.
    assert_eq!(swept.returned, std::slice::from_ref(&silent.id));
    let t = block_on(s.get(&overdue.id)).unwrap().unwrap();
    assert_eq!(
        (t.queue.as_str(), t.priority, t.assignee.as_deref()),
        (
            "vip",
            tandem_core::foundation::vocab::Priority::Urgent,
            None
        )
    );
    assert!(t.escalated_at.is_some());
    assert_eq!(t.version, overdue.version + 1);
    let audit: Vec<String> = block_on(s.events(&overdue.id))
        .unwrap()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "schedule")
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(audit, ["escalated", "priority", "queue", "assigned"]);
    assert_eq!(block_on(s.get(&silent.id)).unwrap().unwrap().assignee, None);
    assert_eq!(
        block_on(s.get(&replied.id))
            .unwrap()
            .unwrap()
            .assignee
            .as_deref(),
        Some("a1")
    );
    assert!(
        block_on(s.get(&replied.id))
            .unwrap()
            .unwrap()
            .first_response_at
            .is_some()
    );
    assert_eq!(
        block_on(s.get(&general.id))
            .unwrap()
            .unwrap()
            .assignee
            .as_deref(),
        Some("a1")
    );
    let told: Vec<(String, String)> = events(&conn)
        .into_iter()
        .filter(|e| {
            e.0 == "ticket.escalated"
                || (e.0 == "ticket.assigned" && (e.1 == overdue.id || e.1 == silent.id))
        })
        .collect();
    assert_eq!(
        told,
        [
            ("ticket.assigned".into(), overdue.id.clone()),
            ("ticket.assigned".into(), silent.id.clone()),
            ("ticket.escalated".into(), overdue.id.clone()),
            ("ticket.assigned".into(), overdue.id.clone()),
            ("ticket.assigned".into(), silent.id.clone()),
        ]
    );
    // The SLA figures' rows: one per ticket, the escalation and the first response on them.
    let rows = block_on(s.sla_rows(0, i64::MAX, 100)).unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows.iter().filter(|r| r.escalated).count(), 1);
    assert_eq!(
        rows.iter()
            .filter(|r| r.first_response_at.is_some())
            .count(),
        1
    );
    let report = tandem_core::ticket::sla::report(&rows, now);
    assert_eq!(
        (report.overall.overdue, report.queues["vip"].escalated),
        (1, 1)
    );
    // Idempotent: the next run changes nothing and tells nothing.
    let before = events(&conn).len();
    let again = block_on(s.sweep(&rules, now + 1000)).unwrap();
    assert!(again.escalated.is_empty() && again.returned.is_empty());
    assert_eq!(events(&conn).len(), before);
}
