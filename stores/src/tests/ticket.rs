//! The ticket store: its schema, secret and queue sync, create (assignment, idempotency), reads,
//! the list filters and pages, patches and their audit trail, notes and agents.

use serde_json::json;

use super::{int, memory, schema_objects, sql};
use crate::db::Value;
use crate::native::{Native, block_on};
use crate::ticket::{ListQuery, MIGRATIONS, Store};
use tandem_core::foundation::vocab::Priority;
use tandem_core::ticket::{
    AgentInput, AgentStatus, CreateInput, Draft, PatchInput, Status, TicketPolicy,
};

pub(super) type S<'a> = Store<&'a Native>;

pub(super) fn open(conn: &Native) -> S<'_> {
    block_on(Store::open(conn)).unwrap()
}

fn policy(version: &str, orders_zh: &str) -> TicketPolicy {
    serde_json::from_value(json!({
        "format": 1, "model_version": version, "kb_hash": "h",
        "queues": [
            {"id": "general", "name": {"en": "General", "zh": "综合"}},
            {"id": "orders", "name": {"en": "Orders", "zh": orders_zh}},
            {"id": "vip"}
        ],
        "default_queue": "general", "intents": {}, "entities": {}, "topics": [],
        "sla_hours": {"low": 72, "normal": 24, "high": 4, "urgent": 1}
    }))
    .unwrap()
}

fn input(customer: &str, text: &str) -> CreateInput {
    serde_json::from_value(json!({
        "customer": {"id": customer, "name": "王小明", "channel": "web",
                     "contact": "13812345678", "tier": "vip"},
        "transcript": [{"role": "customer", "text": text},
                       {"role": "bot", "text": "抱歉", "answered": false}]
    }))
    .unwrap()
}

pub(super) fn draft(input: &CreateInput, queue: &str, priority: Priority) -> Draft {
    Draft {
        category: "order_status".into(),
        category_source: "classified",
        category_confidence: Some(0.75),
        queue: queue.into(),
        priority,
        priority_reasons: serde_json::from_value(json!([
            {"code": "vip", "message_zh": "VIP 客户", "message_en": "VIP customer"}
        ]))
        .unwrap(),
        subject: "订单未到".into(),
        summary: "customer waits".into(),
        transcript: input.transcript.clone(),
        entities: serde_json::from_value(json!([{"kind": "order_id", "value": "TD1"}])).unwrap(),
        sla_hours: 4,
        sla_calendar: None,
    }
}

/// Creates a ticket for `customer` in `queue`, without an idempotency key.
pub(super) fn create(
    s: &S,
    customer: &str,
    queue: &str,
    auto_assign: bool,
) -> tandem_core::ticket::Ticket {
    let i = input(customer, "where is my order");
    let created = block_on(s.create(&i, &draft(&i, queue, Priority::High), None, auto_assign));
    let created = created.unwrap();
    assert!(!created.replayed);
    created.ticket
}

fn agent(queues: &[&str], capacity: u32, status: AgentStatus) -> AgentInput {
    AgentInput {
        name: " Li Lei ".into(),
        queues: queues.iter().map(|q| q.to_string()).collect(),
        capacity,
        status,
    }
}

fn patch(v: serde_json::Value) -> PatchInput {
    serde_json::from_value(v).unwrap()
}

/// An audit event: (kind, actor, from, to).
type Audit = (String, Option<String>, Option<String>, Option<String>);

fn event_kinds(s: &S, id: &str) -> Vec<Audit> {
    block_on(s.events(id))
        .unwrap()
        .unwrap()
        .iter()
        .map(|e| {
            let f = |k: &str| e[k].as_str().map(str::to_string);
            (f("kind").unwrap(), f("actor"), f("from"), f("to"))
        })
        .collect()
}

#[test]
fn a_fresh_database_gets_the_ticket_schema() {
    let conn = memory();
    open(&conn);
    assert_eq!(
        schema_objects(&conn, "table"),
        [
            // The knowledge tables too: a reply note may write a FAQ draft.
            "knowledge_drafts",
            "knowledge_migrations",
            "knowledge_questions",
            "outbox_deliveries",
            "outbox_events",
            "outbox_migrations",
            "outbox_subscriptions",
            "ticket_agents",
            "ticket_customers",
            "ticket_events",
            "ticket_meta",
            "ticket_migrations",
            "ticket_queues",
            "ticket_tickets",
        ]
    );
    assert_eq!(
        schema_objects(&conn, "index"),
        [
            "knowledge_drafts_by_status",
            "knowledge_questions_by_conversation",
            "knowledge_questions_by_time",
            "outbox_deliveries_by_state",
            "outbox_deliveries_due",
            "ticket_events_by_ticket",
            "ticket_tickets_by_assignee",
            "ticket_tickets_by_customer",
            "ticket_tickets_by_queue",
            "ticket_tickets_by_status",
            "ticket_tickets_idempotency",
            "ticket_tickets_overdue",
            "ticket_tickets_owned",
        ]
    );
    let applied = sql(&conn, "SELECT version FROM ticket_migrations", vec![]);
    assert_eq!(applied.len(), MIGRATIONS.len());
    // Opening again (every request does) changes nothing.
    open(&conn);
    let again = sql(&conn, "SELECT version FROM ticket_migrations", vec![]);
    assert_eq!(again, applied);
}

#[test]
fn the_secret_is_made_once_and_the_queues_follow_the_policy() {
    let conn = memory();
    let s = open(&conn);
    let secret = block_on(s.secret(&policy("v1", "订单组"))).unwrap();
    assert_eq!(secret.len(), 64);
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(block_on(s.secret(&policy("v1", "订单组"))).unwrap(), secret);
    let queues = |conn: &Native| {
        sql(
            conn,
            "SELECT id, name_zh, name_en FROM ticket_queues ORDER BY id",
            vec![],
        )
    };
    let t = |s: &str| Value::Text(s.into());
    assert_eq!(
        queues(&conn),
        [
            vec![t("general"), t("综合"), t("General")],
            vec![t("orders"), t("订单组"), t("Orders")],
            vec![t("vip"), Value::Null, Value::Null],
        ]
    );
    // A new policy version renames in place and keeps the secret.
    assert_eq!(block_on(s.secret(&policy("v2", "订单"))).unwrap(), secret);
    assert_eq!(queues(&conn)[1], [t("orders"), t("订单"), t("Orders")]);
    let meta = sql(
        &conn,
        "SELECT value FROM ticket_meta WHERE key = 'policy_version'",
        vec![],
    );
    assert_eq!(meta, [[t("v2")]]);
    // Another database, another secret.
    let other = memory();
    assert_ne!(
        block_on(open(&other).secret(&policy("v1", "x"))).unwrap(),
        secret
    );
}

#[test]
fn a_created_ticket_reads_back_whole_with_its_audit_event() {
    let conn = memory();
    let s = open(&conn);
    let i = input("c-1", "我的订单还没到");
    let d = draft(&i, "orders", Priority::High);
    let t = block_on(s.create(&i, &d, None, true)).unwrap().ticket;
    assert!(tandem_core::ticket::is_ticket_id(&t.id), "{}", t.id);
    assert_eq!(t.status, Status::New);
    assert_eq!(t.version, 1);
    assert_eq!(t.priority, Priority::High);
    assert_eq!(t.priority_reasons, d.priority_reasons);
    assert_eq!(t.category, "order_status");
    assert_eq!(t.category_source, "classified");
    assert_eq!(t.category_confidence, Some(0.75));
    assert_eq!((t.queue.as_str(), t.assignee.as_deref()), ("orders", None));
    assert_eq!(t.customer, i.customer);
    assert_eq!(
        (t.subject.as_str(), t.summary.as_str()),
        ("订单未到", "customer waits")
    );
    assert_eq!(t.transcript, i.transcript);
    assert_eq!(t.entities, d.entities);
    assert_eq!(t.created_at, t.updated_at);
    assert_eq!(t.resolved_at, None);
    let row = &sql(
        &conn,
        "SELECT sla_due - created_at, idempotency_key, fingerprint FROM ticket_tickets",
        vec![],
    )[0];
    assert_eq!(int(&row[0]), 4 * 3_600_000);
    assert_eq!(row[1], Value::Null);
    assert_eq!(row[2], Value::Text(i.fingerprint()));
    assert_eq!(block_on(s.get(&t.id)).unwrap(), Some(t.clone()));
    assert_eq!(block_on(s.get("TK-NOPE")).unwrap(), None);
    assert_eq!(
        event_kinds(&s, &t.id),
        [("created".into(), None, None, Some("orders".into()))]
    );
    // No classification: no confidence, stored as NULL.
    let mut d = draft(&i, "orders", Priority::Low);
    d.category_confidence = None;
    let t = block_on(s.create(&i, &d, None, false)).unwrap().ticket;
    assert_eq!(t.category_confidence, None);
}

#[test]
fn auto_assign_picks_an_online_agent_of_the_queue_and_audits_it() {
    let conn = memory();
    let s = open(&conn);
    block_on(s.put_agent("away", &agent(&["orders"], 5, AgentStatus::Away))).unwrap();
    block_on(s.put_agent("other", &agent(&["general"], 5, AgentStatus::Online))).unwrap();
    block_on(s.put_agent("a1", &agent(&["orders"], 5, AgentStatus::Online))).unwrap();
    let t = create(&s, "c-1", "orders", true);
    assert_eq!(t.assignee.as_deref(), Some("a1"));
    assert_eq!(
        event_kinds(&s, &t.id),
        [
            ("created".into(), None, None, Some("orders".into())),
            (
                "assigned".into(),
                Some("auto-assign".into()),
                None,
                Some("a1".into())
            ),
        ]
    );
    let touched = sql(
        &conn,
        "SELECT last_assigned_at FROM ticket_agents WHERE id = 'a1'",
        vec![],
    );
    assert_ne!(touched[0][0], Value::Null);
    let a1 = block_on(s.agent_json("a1")).unwrap().unwrap();
    assert_eq!(a1["open_tickets"], 1);
    assert!(a1["last_assigned_at"].is_string());
    // Off: nobody is assigned, nobody touched.
    let t = create(&s, "c-2", "orders", false);
    assert_eq!(t.assignee, None);
    // Full (capacity 1) or no agent for the queue: unassigned.
    block_on(s.put_agent("a1", &agent(&["orders"], 1, AgentStatus::Online))).unwrap();
    assert_eq!(create(&s, "c-3", "orders", true).assignee, None);
    assert_eq!(create(&s, "c-4", "vip", true).assignee, None);
}

#[test]
fn an_idempotency_key_replays_the_same_body_and_refuses_another() {
    let conn = memory();
    let s = open(&conn);
    let i = input("c-1", "where is my order");
    let d = draft(&i, "orders", Priority::Normal);
    let first = block_on(s.create(&i, &d, Some("k-1"), false)).unwrap();
    assert!(!first.replayed);
    let again = block_on(s.create(&i, &d, Some("k-1"), false)).unwrap();
    assert!(again.replayed);
    assert_eq!(again.ticket, first.ticket);
    let (t, fp) = block_on(s.by_idempotency_key("c-1", "k-1"))
        .unwrap()
        .unwrap();
    assert_eq!((t, fp), (first.ticket.clone(), i.fingerprint()));
    // Another body under the same key: 409, nothing stored.
    let other = input("c-1", "a different question");
    let p = block_on(s.create(
        &other,
        &draft(&other, "orders", Priority::Normal),
        Some("k-1"),
        false,
    ));
    assert_eq!(p.err().unwrap().status, 409);
    // Keys are per customer.
    assert_eq!(block_on(s.by_idempotency_key("c-2", "k-1")).unwrap(), None);
    let j = input("c-2", "where is my order");
    let c2 = block_on(s.create(
        &j,
        &draft(&j, "orders", Priority::Normal),
        Some("k-1"),
        false,
    ));
    assert!(!c2.unwrap().replayed);
    assert_eq!(
        sql(&conn, "SELECT COUNT(*) FROM ticket_tickets", vec![]),
        [[Value::Integer(2)]]
    );
}

#[test]
fn recent_tickets_counts_the_customers_last_seven_days() {
    let conn = memory();
    let s = open(&conn);
    create(&s, "c-1", "orders", false);
    create(&s, "c-1", "orders", false);
    create(&s, "c-2", "orders", false);
    let now = crate::db::now_ms();
    assert_eq!(block_on(s.recent_tickets("c-1", now)).unwrap(), 2);
    assert_eq!(block_on(s.recent_tickets("c-3", now)).unwrap(), 0);
    // Eight days on, they are no longer recent.
    assert_eq!(
        block_on(s.recent_tickets("c-1", now + 8 * 86_400_000)).unwrap(),
        0
    );
}

#[test]
fn list_filters_and_pages_newest_first() {
    let conn = memory();
    let s = open(&conn);
    block_on(s.put_agent("a1", &agent(&["orders"], 100, AgentStatus::Online))).unwrap();
    let t1 = create(&s, "c-1", "orders", true);
    let t2 = create(&s, "c-2", "general", true);
    let t3 = create(&s, "c-1", "orders", false);
    let p = patch(json!({"status": "open", "priority": "urgent", "category": "refund"}));
    let t3 = block_on(s.patch(&t3.id, 1, &p)).unwrap();
    let ids = |q: ListQuery| -> Vec<String> {
        let (items, _) = block_on(s.list(&ListQuery { limit: 10, ..q })).unwrap();
        items.into_iter().map(|t| t.id).collect()
    };
    assert_eq!(
        ids(ListQuery::default()),
        [t3.id.as_str(), t2.id.as_str(), t1.id.as_str()]
    );
    let status = ListQuery {
        status: Some(Status::New),
        ..Default::default()
    };
    assert_eq!(ids(status), [t2.id.as_str(), t1.id.as_str()]);
    let queue = ListQuery {
        queue: Some("general".into()),
        ..Default::default()
    };
    assert_eq!(ids(queue), [t2.id.as_str()]);
    let assigned = ListQuery {
        assignee: Some(Some("a1".into())),
        ..Default::default()
    };
    assert_eq!(ids(assigned), [t1.id.as_str()]);
    let unassigned = ListQuery {
        assignee: Some(None),
        ..Default::default()
    };
    assert_eq!(ids(unassigned), [t3.id.as_str(), t2.id.as_str()]);
    let urgent = ListQuery {
        priority: Some(Priority::Urgent),
        ..Default::default()
    };
    assert_eq!(ids(urgent), [t3.id.as_str()]);
    let refund = ListQuery {
        category: Some("refund".into()),
        ..Default::default()
    };
    assert_eq!(ids(refund), [t3.id.as_str()]);
    let customer = ListQuery {
        customer_id: Some("c-1".into()),
        queue: Some("orders".into()),
        ..Default::default()
    };
    assert_eq!(ids(customer), [t3.id.as_str(), t1.id.as_str()]);
    // Pages of two: the first says where the next starts, the last says nothing.
    let (page, next) = block_on(s.list(&ListQuery {
        limit: 2,
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(
        page.iter().map(|t| &t.id).collect::<Vec<_>>(),
        [&t3.id, &t2.id]
    );
    let next = next.expect("a third ticket follows");
    let rest = ListQuery {
        limit: 2,
        before_seq: Some(next),
        ..Default::default()
    };
    let (page, next) = block_on(s.list(&rest)).unwrap();
    assert_eq!(page.iter().map(|t| &t.id).collect::<Vec<_>>(), [&t1.id]);
    assert_eq!(next, None);
    let (page, next) = block_on(s.list(&ListQuery {
        limit: 3,
        ..Default::default()
    }))
    .unwrap();
    assert_eq!((page.len(), next), (3, None));
}

#[test]
fn a_patch_checks_version_move_and_assignee_and_audits_each_change() {
    let conn = memory();
    let s = open(&conn);
    block_on(s.put_agent("a1", &agent(&["orders"], 5, AgentStatus::Online))).unwrap();
    let t = create(&s, "c-1", "orders", false);
    let p = |v| block_on(s.patch(&t.id, 1, &patch(v)));
    assert_eq!(
        block_on(s.patch("TK-NOPE", 1, &patch(json!({}))))
            .unwrap_err()
            .status,
        404
    );
    let stale = block_on(s.patch(&t.id, 2, &patch(json!({"status": "open"})))).unwrap_err();
    assert_eq!(
        (stale.status, &stale.extensions["current_version"]),
        (412, &json!(1))
    );
    let unknown = p(json!({"assignee": "ghost"})).unwrap_err();
    assert_eq!(unknown.status, 422);
    // Nothing to change: the ticket as it was, no new version.
    assert_eq!(p(json!({"status": "new", "queue": "orders"})).unwrap(), t);

    let changed = p(
        json!({"status": "resolved", "priority": "low", "queue": "general",
        "category": "refund", "assignee": "a1", "actor": "lee", "note": "call 13812345678"}),
    )
    .unwrap();
    assert_eq!(changed.version, 2);
    assert_eq!(changed.status, Status::Resolved);
    assert!(changed.resolved_at.is_some());
    assert_eq!(
        (changed.priority, changed.queue.as_str()),
        (Priority::Low, "general")
    );
    assert_eq!(
        (changed.category.as_str(), changed.category_source.as_str()),
        ("refund", "agent")
    );
    assert_eq!(changed.assignee.as_deref(), Some("a1"));
    let s_ = |v: &str| Some(v.to_string());
    let lee = s_("lee");
    assert_eq!(
        event_kinds(&s, &t.id)[1..],
        [
            ("status".into(), lee.clone(), s_("new"), s_("resolved")),
            ("priority".into(), lee.clone(), s_("high"), s_("low")),
            ("queue".into(), lee.clone(), s_("orders"), s_("general")),
            (
                "category".into(),
                lee.clone(),
                s_("order_status"),
                s_("refund")
            ),
            ("assigned".into(), lee.clone(), None, s_("a1")),
            ("note".into(), lee, None, None),
        ]
    );
    let events = block_on(s.events(&t.id)).unwrap().unwrap();
    let note = events.last().unwrap()["text"].as_str().unwrap();
    assert!(!note.contains("13812345678"), "{note}");
    let touched = sql(&conn, "SELECT last_assigned_at FROM ticket_agents", vec![]);
    assert_ne!(touched[0][0], Value::Null);

    // Resolved → pending is not a move; closing keeps the resolution time; reopening clears it.
    let bad = block_on(s.patch(&t.id, 2, &patch(json!({"status": "pending"})))).unwrap_err();
    assert_eq!(bad.status, 409);
    let closed = block_on(s.patch(&t.id, 2, &patch(json!({"status": "closed"})))).unwrap();
    assert_eq!(closed.resolved_at, changed.resolved_at);
    let reopened = block_on(s.patch(&t.id, 3, &patch(json!({"status": "open"})))).unwrap();
    assert_eq!((reopened.resolved_at, reopened.version), (None, 4));
    // Unassigning; the default actor is "agent". A note alone bumps the version too.
    let unassigned = block_on(s.patch(&t.id, 4, &patch(json!({"assignee": null})))).unwrap();
    assert_eq!(unassigned.assignee, None);
    let last = event_kinds(&s, &t.id).pop().unwrap();
    assert_eq!(last, ("assigned".into(), s_("agent"), s_("a1"), None));
    let noted = block_on(s.patch(&t.id, 5, &patch(json!({"note": "x"})))).unwrap();
    assert_eq!(noted.version, 6);
    // Closing a ticket never resolved stamps a resolution time.
    let u = create(&s, "c-2", "orders", false);
    let closed = block_on(s.patch(&u.id, 1, &patch(json!({"status": "closed"})))).unwrap();
    assert!(closed.resolved_at.is_some());
}

#[test]
fn a_note_is_masked_audited_and_leaves_the_version() {
    let conn = memory();
    let s = open(&conn);
    let t = create(&s, "c-1", "orders", false);
    let e = block_on(s.add_note(&t.id, Some("lee"), "mail me at a.b@example.com")).unwrap();
    assert_eq!(
        (e["kind"].as_str(), e["actor"].as_str()),
        (Some("note"), Some("lee"))
    );
    assert_eq!(e["ticket_id"].as_str(), Some(t.id.as_str()));
    assert!(!e["text"].as_str().unwrap().contains("a.b@example.com"));
    assert!(e["seq"].is_i64() && e["created_at"].is_string());
    assert_eq!(e["agent_id"], serde_json::Value::Null);
    assert_eq!(block_on(s.events(&t.id)).unwrap().unwrap()[1], e);
    assert_eq!(block_on(s.get(&t.id)).unwrap().unwrap().version, 1);
    assert_eq!(
        block_on(s.add_note("TK-NOPE", None, "x"))
            .unwrap_err()
            .status,
        404
    );
    assert_eq!(block_on(s.events("TK-NOPE")).unwrap(), None);
}

#[test]
fn agents_are_upserted_audited_and_counted() {
    let conn = memory();
    let s = open(&conn);
    assert_eq!(block_on(s.agents_online()).unwrap(), None, "no roster");
    assert_eq!(block_on(s.agent_json("a1")).unwrap(), None);
    assert!(block_on(s.put_agent("b2", &agent(&["general"], 3, AgentStatus::Offline))).unwrap());
    assert!(block_on(s.put_agent("a1", &agent(&["orders"], 5, AgentStatus::Online))).unwrap());
    assert_eq!(block_on(s.agents_online()).unwrap(), Some(1));
    // The same agent again: replaced, not created; the same status is no event.
    assert!(
        !block_on(s.put_agent("a1", &agent(&["orders", "vip"], 9, AgentStatus::Online))).unwrap()
    );
    assert!(!block_on(s.put_agent("b2", &agent(&["general"], 3, AgentStatus::Online))).unwrap());
    assert_eq!(block_on(s.agents_online()).unwrap(), Some(2));
    let audit = sql(
        &conn,
        "SELECT agent_id, kind, from_value, to_value FROM ticket_events WHERE ticket_id IS NULL ORDER BY seq",
        vec![],
    );
    let t = |s: &str| Value::Text(s.into());
    assert_eq!(
        audit,
        [
            vec![t("b2"), t("agent_status"), Value::Null, t("offline")],
            vec![t("a1"), t("agent_status"), Value::Null, t("online")],
            vec![t("b2"), t("agent_status"), t("offline"), t("online")],
        ]
    );
    let t1 = create(&s, "c-1", "orders", true);
    create(&s, "c-2", "orders", true);
    block_on(s.patch(&t1.id, 1, &patch(json!({"status": "resolved"})))).unwrap();
    let a1 = block_on(s.agent_json("a1")).unwrap().unwrap();
    assert_eq!(a1["name"], "Li Lei", "trimmed");
    assert_eq!(a1["queues"], json!(["orders", "vip"]));
    assert_eq!(
        (a1["capacity"].as_u64(), a1["status"].as_str()),
        (Some(9), Some("online"))
    );
    assert_eq!(a1["open_tickets"], 1, "a resolved ticket no longer counts");
    let all = block_on(s.agents_json()).unwrap();
    let ids: Vec<_> = all.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a1", "b2"]);
    assert_eq!(all[1]["last_assigned_at"], serde_json::Value::Null);
}

#[test]
fn an_unreadable_stored_ticket_is_a_500_not_a_panic() {
    let conn = memory();
    let s = open(&conn);
    let t = create(&s, "c-1", "orders", false);
    sql(
        &conn,
        "UPDATE ticket_tickets SET transcript = 'not json'",
        vec![],
    );
    let p = block_on(s.get(&t.id)).unwrap_err();
    assert_eq!(p.status, 500);
    assert_eq!(
        p.detail.as_deref(),
        Some("a stored ticket has an unreadable transcript")
    );
}
