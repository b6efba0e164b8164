//! The feedback store: its three migrations (fresh and upgraded), recording with idempotent
//! replays, the folded conversation rows, stats against the core's fold, the agents' median
//! time to resolve and the corrections export.

use serde_json::json;

use super::{int, memory, schema_objects, sql};
use crate::db::{Db, Value};
use crate::feedback::{MIGRATIONS, NAME, Store};
use crate::native::{Native, block_on};
use tandem_core::feedback::metrics::{self, GroupBy};
use tandem_core::feedback::{Event, HandledBy, Kind};

pub(super) type S<'a> = Store<&'a Native>;

pub(super) fn open(conn: &Native) -> S<'_> {
    block_on(Store::open(conn)).unwrap()
}

/// 2026-11-17T00:00:00Z.
pub(super) const DAY: i64 = 1_794_873_600_000;
const HOUR: i64 = 3_600_000;

pub(super) fn event(id: &str, conversation: &str, kind: Kind, at: i64) -> Event {
    Event {
        event_id: id.into(),
        conversation_id: conversation.into(),
        turn_id: None,
        kind,
        rating: None,
        resolved: None,
        handled_by: None,
        agent_id: None,
        contact_count: None,
        intent_predicted: None,
        intent_corrected: None,
        faq_predicted: None,
        faq_corrected: None,
        text: None,
        comment: None,
        channel: None,
        created_at_ms: at,
        fingerprint: format!("fp-{id}"),
    }
}

fn rating(id: &str, conversation: &str, stars: u8, at: i64) -> Event {
    Event {
        rating: Some(stars),
        ..event(id, conversation, Kind::Rating, at)
    }
}

pub(super) fn outcome(
    id: &str,
    c: &str,
    resolved: bool,
    by: HandledBy,
    contacts: u32,
    at: i64,
) -> Event {
    Event {
        resolved: Some(resolved),
        handled_by: Some(by),
        agent_id: (by != HandledBy::Bot).then(|| "a1".to_string()),
        contact_count: Some(contacts),
        ..event(id, c, Kind::Outcome, at)
    }
}

pub(super) fn correction(id: &str, c: &str, from: Option<&str>, to: &str, at: i64) -> Event {
    Event {
        intent_predicted: from.map(str::to_string),
        intent_corrected: Some(to.into()),
        text: Some(format!("utterance {id}")),
        ..event(id, c, Kind::Correction, at)
    }
}

/// A month of varied conversations: channels, intents, outcomes, ratings, corrections, two days.
pub(super) fn history() -> Vec<Event> {
    let mut events = Vec::new();
    for i in 0..12_i64 {
        let c = format!("conv-{i}");
        let at = DAY + i * 5 * HOUR;
        let mut first = event(&format!("e{i}-0"), &c, Kind::Comment, at);
        first.channel = Some(["web", "app", "wechat"][(i % 3) as usize].into());
        first.intent_predicted = Some(["refund", "order_status"][(i % 2) as usize].into());
        first.comment = Some("ok".into());
        events.push(first);
        let by = [HandledBy::Bot, HandledBy::Human, HandledBy::Both][(i % 3) as usize];
        if i % 4 != 3 {
            events.push(outcome(
                &format!("e{i}-1"),
                &c,
                i % 2 == 0,
                by,
                1 + (i % 2) as u32,
                at + 1,
            ));
        }
        if i % 3 != 2 {
            events.push(rating(&format!("e{i}-2"), &c, 1 + (i % 5) as u8, at + 2));
        }
        if i % 5 == 0 {
            events.push(correction(
                &format!("e{i}-3"),
                &c,
                Some("refund"),
                "cancel_order",
                at + 3,
            ));
        }
    }
    // A later rating replaces an earlier one; a channel-less event does not erase the channel.
    events.push(rating("late", "conv-0", 5, DAY + 10 * HOUR));
    events
}

pub(super) fn record_all(s: &S, events: &[Event]) {
    for e in events {
        let (_, created) = block_on(s.record(e, None)).unwrap();
        assert!(created, "{}", e.event_id);
    }
}

#[test]
fn a_fresh_database_gets_every_migration() {
    let conn = memory();
    open(&conn);
    assert_eq!(
        schema_objects(&conn, "table"),
        [
            "feedback_conversations",
            "feedback_events",
            "feedback_migrations",
            // Every recorded event writes its webhook events in its transaction.
            "outbox_deliveries",
            "outbox_events",
            "outbox_migrations",
            "outbox_subscriptions",
        ]
    );
    assert_eq!(
        schema_objects(&conn, "index")
            .into_iter()
            .filter(|i| i.starts_with("feedback_"))
            .collect::<Vec<_>>(),
        [
            "feedback_conversations_by_intent",
            "feedback_conversations_by_start_covering",
            "feedback_events_by_conversation",
            "feedback_events_by_kind_time",
            "feedback_events_by_time",
            "feedback_events_corrections",
            "feedback_events_faq_resolutions",
            "feedback_events_intent_corrections",
        ]
    );
    let versions = sql(
        &conn,
        "SELECT version FROM feedback_migrations ORDER BY version",
        vec![],
    );
    assert_eq!(
        versions,
        [
            [Value::Integer(1)],
            [Value::Integer(2)],
            [Value::Integer(3)]
        ]
    );
}

#[test]
fn a_version_1_store_is_upgraded_with_its_events_kept() {
    let conn = memory();
    // A store whose database stopped at migration 1, with a history recorded there.
    let v1 = Store::on(block_on(Db::open(&conn, NAME, &MIGRATIONS[..1])).unwrap());
    block_on(Db::open(
        &conn,
        crate::outbox::NAME,
        crate::outbox::MIGRATIONS,
    ))
    .unwrap();
    assert!(schema_objects(&conn, "index").contains(&"feedback_conversations_by_start".into()));
    let events = history();
    record_all(&v1, &events);
    // The next request opens it: migrations 2 and 3 run once, the history stays and reads the
    // same.
    let s = open(&conn);
    let versions = sql(
        &conn,
        "SELECT version FROM feedback_migrations ORDER BY version",
        vec![],
    );
    assert_eq!(
        versions,
        [
            [Value::Integer(1)],
            [Value::Integer(2)],
            [Value::Integer(3)]
        ]
    );
    let indexes = schema_objects(&conn, "index");
    assert!(!indexes.contains(&"feedback_conversations_by_start".into()));
    assert!(indexes.contains(&"feedback_conversations_by_start_covering".into()));
    assert!(indexes.contains(&"feedback_events_by_kind_time".into()));
    for by in [None, Some(GroupBy::Day)] {
        let stats = block_on(s.stats(DAY, DAY + 3 * 86_400_000, by)).unwrap();
        let expected = metrics::stats(&events, DAY, DAY + 3 * 86_400_000, by);
        assert_eq!(json!(stats), json!(expected));
    }
    assert_eq!(block_on(s.corrections_since(0)).unwrap().len(), 3);
    // And keeps recording.
    record_all(&s, &[rating("after", "conv-new", 4, DAY + 2 * HOUR)]);
}

#[test]
fn an_event_is_stored_once_and_replays_only_with_the_same_body() {
    let conn = memory();
    let s = open(&conn);
    let mut e = correction("e-1", "c-1", None, "refund", DAY);
    e.turn_id = Some("t-1".into());
    e.faq_corrected = Some("faq-refund".into());
    e.channel = Some("web".into());
    e.comment = Some("慢".into());
    let (value, created) = block_on(s.record(&e, Some(("negative".into(), 0.875)))).unwrap();
    assert!(created);
    assert_eq!(
        value,
        json!({
            "event_id": "e-1", "conversation_id": "c-1", "turn_id": "t-1", "kind": "correction",
            "rating": null, "resolved": null, "handled_by": null, "agent_id": null,
            "contact_count": null, "intent_predicted": null, "intent_corrected": "refund",
            "faq_predicted": null, "faq_corrected": "faq-refund", "text": "utterance e-1",
            "comment": "慢", "sentiment": {"label": "negative", "score": 0.875},
            "channel": "web", "created_at": "2026-11-17T00:00:00.000Z",
            "received_at": value["received_at"],
        })
    );
    assert!(value["received_at"].is_string());
    let (again, created) = block_on(s.record(&e, None)).unwrap();
    assert!(!created);
    assert_eq!(again, value);
    let other = Event {
        fingerprint: "another body".into(),
        ..e.clone()
    };
    assert_eq!(block_on(s.record(&other, None)).unwrap_err().status, 409);
    assert_eq!(
        sql(&conn, "SELECT COUNT(*) FROM feedback_events", vec![]),
        [[Value::Integer(1)]]
    );
    // Outcome fields read back typed.
    let o = outcome("e-2", "c-1", true, HandledBy::Both, 2, DAY + 1);
    let (value, _) = block_on(s.record(&o, None)).unwrap();
    assert_eq!(
        (
            &value["resolved"],
            &value["handled_by"],
            &value["agent_id"],
            &value["contact_count"]
        ),
        (&json!(true), &json!("both"), &json!("a1"), &json!(2))
    );
    assert_eq!(value["sentiment"], serde_json::Value::Null);
}

#[test]
fn each_conversation_row_is_the_fold_of_its_events() {
    let conn = memory();
    let s = open(&conn);
    let events = history();
    record_all(&s, &events);
    let rows = sql(
        &conn,
        "SELECT conversation_id, started_at, day, channel, intent, resolved, handled_by, agent_id, \
         contact_count, rating FROM feedback_conversations ORDER BY conversation_id",
        vec![],
    );
    let folded = metrics::conversations(&events);
    assert_eq!(rows.len(), folded.len());
    let text = |v: &Value| match v {
        Value::Text(s) => Some(s.clone()),
        Value::Null => None,
        other => panic!("{other:?}"),
    };
    let opt = |v: &Value| match v {
        Value::Integer(i) => Some(*i),
        _ => None,
    };
    for c in folded {
        let row = rows
            .iter()
            .find(|r| text(&r[0]).as_deref() == Some(c.conversation_id.as_str()))
            .unwrap();
        assert_eq!(int(&row[1]), c.started_at_ms, "{}", c.conversation_id);
        assert_eq!(
            text(&row[2]),
            Some(tandem_core::feedback::format_day(c.started_at_ms))
        );
        assert_eq!(text(&row[3]), c.channel, "{}", c.conversation_id);
        assert_eq!(text(&row[4]), c.intent, "{}", c.conversation_id);
        assert_eq!(
            opt(&row[5]).map(|r| r == 1),
            c.resolved,
            "{}",
            c.conversation_id
        );
        assert_eq!(
            text(&row[6]),
            c.handled_by.map(|h| h.as_str().to_string()),
            "{}",
            c.conversation_id
        );
        assert_eq!(text(&row[7]), c.agent_id, "{}", c.conversation_id);
        assert_eq!(
            opt(&row[8]),
            c.contact_count.map(i64::from),
            "{}",
            c.conversation_id
        );
        assert_eq!(
            opt(&row[9]),
            c.rating.map(i64::from),
            "{}",
            c.conversation_id
        );
    }
    // conv-0: the later rating won, the correction's intent beat the prediction.
    let conv0 = &rows[0];
    assert_eq!(
        (opt(&conv0[9]), text(&conv0[4])),
        (Some(5), Some("cancel_order".into()))
    );
}

#[test]
fn stats_in_sql_are_the_cores_stats_over_the_same_events() {
    let conn = memory();
    let s = open(&conn);
    let events = history();
    record_all(&s, &events);
    let ranges = [
        (DAY, DAY + 86_400_000),
        (DAY, DAY + 3 * 86_400_000),
        (DAY + 20 * HOUR, DAY + 40 * HOUR),
        (0, 1),
    ];
    let groupings = [
        None,
        Some(GroupBy::Intent),
        Some(GroupBy::Day),
        Some(GroupBy::Channel),
        Some(GroupBy::Agent),
    ];
    for (from, to) in ranges {
        for by in groupings {
            let stats = block_on(s.stats(from, to, by)).unwrap();
            let expected = metrics::stats(&events, from, to, by);
            assert_eq!(json!(stats), json!(expected), "[{from}, {to}) by {by:?}");
        }
    }
    let all = block_on(s.stats(DAY, DAY + 3 * 86_400_000, None)).unwrap();
    assert_eq!(all.counts.conversations, 12);
    assert_eq!(all.events.correction, 3);
    assert_eq!(all.top_corrections[0].count, 3);
}

#[test]
fn the_median_time_to_resolve_reads_the_ticket_table_when_there_is_one() {
    let conn = memory();
    let s = open(&conn);
    assert!(
        block_on(s.median_time_to_resolve(0, i64::MAX))
            .unwrap()
            .is_empty()
    );
    block_on(crate::ticket::Store::open(&conn)).unwrap();
    let insert = |id: &str, assignee: Option<&str>, created: i64, resolved: Option<i64>| {
        sql(
            &conn,
            "INSERT INTO ticket_tickets (id, status, priority, priority_reasons, category, \
             category_source, queue, assignee, customer_id, subject, summary, transcript, \
             entities, sla_due, created_at, updated_at, resolved_at, version, fingerprint) \
             VALUES (?, 'resolved', 'normal', '[]', 'c', 'given', 'q', ?, 'cust', 's', 's', '[]', \
             '[]', 0, ?, ?, ?, 1, 'fp')",
            vec![
                Value::Text(id.into()),
                crate::db::text(assignee),
                Value::Integer(created),
                Value::Integer(created),
                resolved.map_or(Value::Null, Value::Integer),
            ],
        );
    };
    insert("t1", Some("a1"), DAY, Some(DAY + 60_000));
    insert("t2", Some("a1"), DAY, Some(DAY + 180_000));
    insert("t3", Some("a1"), DAY, Some(DAY + 120_000));
    insert("t4", Some("b2"), DAY, Some(DAY + 30_000));
    insert("t5", Some("b2"), DAY, Some(DAY + 90_000));
    insert("t6", None, DAY, Some(DAY + 1_000));
    insert("t7", Some("c3"), DAY, None);
    insert("t8", Some("c3"), DAY - 86_400_000, Some(DAY - 1));
    let medians = block_on(s.median_time_to_resolve(DAY, DAY + 86_400_000)).unwrap();
    assert_eq!(medians.len(), 2);
    assert_eq!(medians["a1"], 120.0);
    assert_eq!(medians["b2"], 60.0);
}

#[test]
fn corrections_export_in_receipt_order_with_only_the_fields_that_apply() {
    let conn = memory();
    let s = open(&conn);
    let mut faq = correction("k2", "c-2", None, "x", DAY + 5);
    faq.intent_corrected = None;
    faq.faq_predicted = Some("faq-a".into());
    faq.faq_corrected = Some("faq-b".into());
    let mut no_text = correction("k3", "c-3", None, "refund", DAY);
    no_text.text = None;
    let events = [
        correction("k1", "c-1", Some("refund"), "cancel_order", DAY + 10),
        faq,
        no_text,
        rating("r1", "c-1", 5, DAY),
    ];
    record_all(&s, &events);
    let lines = block_on(s.corrections_since(0)).unwrap();
    assert_eq!(
        lines,
        [
            json!({"text": "utterance k1", "source": "feedback", "event_id": "k1",
                   "conversation_id": "c-1", "created_at": "2026-11-17T00:00:00.010Z",
                   "received_at": lines[0]["received_at"],
                   "intent": "cancel_order", "intent_predicted": "refund"}),
            json!({"text": "utterance k2", "source": "feedback", "event_id": "k2",
                   "conversation_id": "c-2", "created_at": "2026-11-17T00:00:00.005Z",
                   "received_at": lines[1]["received_at"],
                   "faq": "faq-b", "faq_predicted": "faq-a"}),
        ]
    );
    let future = crate::db::now_ms() + 60_000;
    assert!(block_on(s.corrections_since(future)).unwrap().is_empty());
}
