//! The graph's live counts over a scripted week: corrections become confusions (an agent
//! confirming the bot's intent is none), resolved outcomes with a FAQ answer credit the entry
//! once per conversation, tickets count per queue, conversations per intent.

use super::feedback::{DAY, correction, event, outcome};
use super::memory;
use crate::feedback::Store;
use crate::graph;
use crate::native::block_on;
use tandem_core::feedback::{Event, HandledBy, Kind};
use tandem_core::graph::live::{IntentOutcomes, PairCount};

const HOUR: i64 = 3_600_000;

fn pair(from: &str, to: &str, count: u64) -> PairCount {
    PairCount {
        from: from.into(),
        to: to.into(),
        count,
    }
}

fn resolved_by_faq(id: &str, c: &str, intent: Option<&str>, faq: &str, at: i64) -> Event {
    Event {
        intent_predicted: intent.map(str::to_string),
        faq_predicted: Some(faq.into()),
        ..outcome(id, c, true, HandledBy::Bot, 1, at)
    }
}

#[test]
fn a_week_of_conversations_gives_confusions_resolutions_tickets_and_outcomes() {
    let conn = memory();
    let feedback = block_on(Store::open(&conn)).unwrap();
    let tickets = super::ticket::open(&conn);
    let mut events = Vec::new();
    for day in 0..7 {
        let at = DAY + day * 24 * HOUR;
        let c = format!("week-{day}");
        // Every conversation starts as shipping_time; the first event names its intent.
        let mut first = event(&format!("{c}-start"), &c, Kind::Comment, at);
        first.intent_predicted = Some("shipping_time".into());
        first.comment = Some("ok".into());
        events.push(first);
        match day % 3 {
            // Resolved by the FAQ; the intent comes from the conversation, the outcome twice.
            0 => {
                events.push(resolved_by_faq(
                    &format!("{c}-o1"),
                    &c,
                    None,
                    "delivery_days",
                    at + 1,
                ));
                events.push(resolved_by_faq(
                    &format!("{c}-o2"),
                    &c,
                    None,
                    "delivery_days",
                    at + 2,
                ));
            }
            // Resolved by another entry, the intent on the event.
            1 => events.push(resolved_by_faq(
                &format!("{c}-o1"),
                &c,
                Some("shipping_time"),
                "shipping_fee",
                at + 1,
            )),
            // Not resolved: the entry it showed gets no credit; a person took over.
            _ => events.push(Event {
                faq_predicted: Some("delivery_days".into()),
                ..outcome(&format!("{c}-o1"), &c, false, HandledBy::Human, 2, at + 1)
            }),
        }
        if day < 4 {
            let to = if day == 0 {
                "refund_status"
            } else {
                "cancel_order"
            };
            let fix = format!("fix-{day}");
            events.push(correction(
                &format!("{fix}-1"),
                &fix,
                Some("refund_request"),
                to,
                at + 3,
            ));
        }
    }
    // An agent confirming the bot's guess: a correction, no confusion.
    events.push(correction(
        "same",
        "fix-same",
        Some("refund_request"),
        "refund_request",
        DAY,
    ));
    for e in &events {
        block_on(feedback.record(e, None)).unwrap();
    }
    for (i, queue) in ["orders", "orders", "general"].iter().enumerate() {
        super::ticket::create(&tickets, &format!("cust-{i}"), queue, false);
    }

    let mut counts = block_on(feedback.graph_counts()).unwrap();
    counts.corrections.sort_by(|a, b| a.to.cmp(&b.to));
    assert_eq!(
        counts.corrections,
        [
            pair("refund_request", "cancel_order", 3),
            pair("refund_request", "refund_request", 1),
            pair("refund_request", "refund_status", 1),
        ]
    );
    counts.resolutions.sort_by(|a, b| a.to.cmp(&b.to));
    // Days 0, 3, 6 by delivery_days (each once, though recorded twice); 1, 4 by shipping_fee.
    assert_eq!(
        counts.resolutions,
        [
            pair("shipping_time", "delivery_days", 3),
            pair("shipping_time", "shipping_fee", 2),
        ]
    );
    counts.tickets.sort_by(|a, b| a.to.cmp(&b.to));
    assert_eq!(
        counts.tickets,
        [
            pair("order_status", "general", 1),
            pair("order_status", "orders", 2)
        ]
    );
    // A corrected conversation's intent is the one the agent set.
    let conversations = |intent: &str, conversations, resolved, human| IntentOutcomes {
        intent: intent.into(),
        conversations,
        resolved,
        human,
    };
    assert_eq!(
        counts.outcomes,
        [
            conversations("cancel_order", 3, 0, 0),
            conversations("refund_request", 1, 0, 0),
            conversations("refund_status", 1, 0, 0),
            conversations("shipping_time", 7, 5, 2),
        ]
    );
}

#[test]
fn without_a_ticket_table_there_are_no_ticket_counts() {
    let conn = memory();
    let feedback = block_on(Store::open(&conn)).unwrap();
    let counts = block_on(feedback.graph_counts()).unwrap();
    assert!(counts.tickets.is_empty() && counts.corrections.is_empty());
}

#[test]
fn the_counts_read_their_partial_indexes_not_the_table() {
    let conn = memory();
    block_on(Store::open(&conn)).unwrap();
    let plan = |sql: &str| {
        format!(
            "{:?}",
            super::sql(&conn, &format!("EXPLAIN QUERY PLAN {sql}"), vec![])
        )
    };
    // Covering and in grouping order: no table row read, no sort.
    for (sql, index) in [
        (graph::CORRECTIONS, "feedback_events_intent_corrections"),
        (graph::OUTCOMES, "feedback_conversations_by_intent"),
    ] {
        let text = plan(sql);
        assert!(
            text.contains(&format!("COVERING INDEX {index}")),
            "{sql}: {text}"
        );
        assert!(!text.contains("TEMP B-TREE FOR GROUP BY"), "{sql}: {text}");
    }
    // Only resolved outcomes with an entry: the few rows this count wants (the group key
    // comes from the conversation when the event has no intent, so it is sorted).
    let text = plan(graph::RESOLUTIONS);
    assert!(
        text.contains("USING INDEX feedback_events_faq_resolutions"),
        "{text}"
    );
}
