//! The ticket lifecycle: allowed transitions, optimistic concurrency with versions and
//! ETags, and the audit trail of events.
//!
//! The composed ticket component (`target/tandem/ticket.wasm`, intent plugged in) behind the
//! real host, its real SQLite file, plain HTTP on loopback (docs/tickets.md; the shared app and
//! helpers are `tandem_tests::tickets`).

use std::collections::BTreeSet;

use serde_json::json;
use tandem_core::feedback::parse_time;
use tandem_core::foundation::pii;
use tandem_tests::assert_problem;
use tandem_tests::tickets::{App, new_ticket, sorted, version_of};

// ---------------------------------------------------------------------------------------------
// Lifecycle, optimistic concurrency, audit trail.

#[test]
fn the_lifecycle_is_enforced_with_versions_and_audited() {
    let app = App::start();
    let id = app.create_id(&new_ticket("life-1", &["我要退款"], Some("refund_request")));
    let path = format!("/v1/tickets/{id}");

    // If-Match is required.
    assert_problem(&app.patch(&id, None, &json!({"status": "open"})), 428);

    let mut version = 1;
    let moves = [
        ("new", "open"),
        ("open", "pending"),
        ("pending", "resolved"),
        ("resolved", "closed"),
        ("closed", "open"),
    ];
    for (from, to) in moves {
        let t = app.patch_ok(&id, version, &json!({"status": to, "actor": "agent_li"}));
        version += 1;
        assert_eq!(t["status"], to, "{from} → {to}: {t}");
        assert_eq!(version_of(&t), version);
        let (got, etag) = app.ticket(&id);
        assert_eq!(got["status"], to);
        assert_eq!(etag, format!("\"{version}\""));
        if to == "resolved" {
            assert!(got["resolved_at"].is_string(), "{got}");
        }
    }
    // open → new is no move of the lifecycle: 409 naming the allowed ones, nothing changed.
    let p = assert_problem(
        &app.patch(&id, Some(version), &json!({"status": "new"})),
        409,
    );
    assert_eq!(
        sorted(&p["allowed"]),
        ["closed", "pending", "resolved"],
        "{p}"
    );
    // closed → resolved neither.
    let t = app.patch_ok(&id, version, &json!({"status": "closed"}));
    version += 1;
    assert_eq!(t["status"], "closed");
    let p = assert_problem(
        &app.patch(&id, Some(version), &json!({"status": "resolved"})),
        409,
    );
    assert_eq!(sorted(&p["allowed"]), ["open"], "{p}");
    let t = app.patch_ok(
        &id,
        version,
        &json!({"status": "open", "actor": "agent_li"}),
    );
    version += 1;
    assert_eq!(t["status"], "open");
    assert_eq!(
        app.ticket(&id).1,
        format!("\"{version}\""),
        "409s changed nothing"
    );

    // A stale version: 412 with the current one.
    let p = assert_problem(&app.patch(&id, Some(3), &json!({"priority": "high"})), 412);
    assert_eq!(p["current_version"], json!(version), "{p}");

    // Several fields at once: one version, one event per field (plus the note).
    let t = app.patch_ok(
        &id,
        version,
        &json!({"priority": "high", "queue": "payments", "note": "客户来电 13812345678",
            "actor": "agent_wang"}),
    );
    version += 1;
    assert_eq!(
        (t["priority"].as_str(), t["queue"].as_str()),
        (Some("high"), Some("payments"))
    );
    assert_eq!(version_of(&t), version);

    // Field checks.
    for bad in [
        json!({"queue": "no_such_queue"}),
        json!({"category": "no_such_intent"}),
        json!({"assignee": "no_such_agent"}),
        json!({"priority": "critical"}),
        json!({"status": "archived"}),
        json!({"colour": "red"}),
        json!({}),
    ] {
        assert_problem(&app.patch(&id, Some(version), &bad), 422);
    }
    assert_problem(
        &app.patch("tk_0000000000000000", Some(1), &json!({"status": "open"})),
        404,
    );

    // Notes.
    let note = app.agent(
        "POST",
        &format!("{path}/events"),
        Some(
            &json!({"kind": "note", "text": "已联系客户 wang.xm@example.com", "actor": "agent_li"}),
        ),
    );
    assert_eq!(note.status, 201, "{}", note.text());
    for bad in [
        json!({"kind": "note", "text": ""}),
        json!({"kind": "status", "text": "x"}),
        json!({"kind": "note", "text": "x".repeat(4097)}),
        json!({"kind": "note", "text": "x", "extra": 1}),
    ] {
        assert_problem(
            &app.agent("POST", &format!("{path}/events"), Some(&bad)),
            422,
        );
    }
    assert_eq!(app.ticket(&id).1, format!("\"{version}\""));

    // The trail, oldest first.
    let events = app.events(&id);
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    let statuses: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["kind"] == "status")
        .map(|e| (e["from"].as_str().unwrap(), e["to"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds[0], "created", "{events:?}");
    assert_eq!(
        statuses,
        [
            ("new", "open"),
            ("open", "pending"),
            ("pending", "resolved"),
            ("resolved", "closed"),
            ("closed", "open"),
            ("open", "closed"),
            ("closed", "open"),
        ]
    );
    // The multi-field patch: priority, queue and its note, then the posted note last.
    let tail: BTreeSet<&str> = kinds[kinds.len() - 4..kinds.len() - 1]
        .iter()
        .copied()
        .collect();
    assert_eq!(
        tail,
        BTreeSet::from(["note", "priority", "queue"]),
        "{kinds:?}"
    );
    assert_eq!(kinds.len(), 1 + 7 + 3 + 1, "{kinds:?}");
    let last = events.last().unwrap();
    assert_eq!(last["kind"], "note");
    assert_eq!(last["actor"], "agent_li");
    assert_eq!(
        last["text"],
        pii::mask("已联系客户 wang.xm@example.com"),
        "notes are masked"
    );
    let patch_note = events
        .iter()
        .find(|e| e["kind"] == "note" && e["actor"] == "agent_wang")
        .unwrap_or_else(|| panic!("the PATCH note: {events:?}"));
    assert_eq!(patch_note["text"], "客户来电 138****5678");
    let priority = events.iter().find(|e| e["kind"] == "priority").unwrap();
    assert_eq!(
        (priority["from"].as_str(), priority["to"].as_str()),
        (Some("normal"), Some("high"))
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e["kind"] == "status")
            .map(|e| e["actor"].as_str().unwrap_or_default())
            .next(),
        Some("agent_li")
    );
    let mut last_seq = i64::MIN;
    for e in &events {
        assert_eq!(e["ticket_id"], id.as_str(), "{e}");
        let seq = e["seq"].as_i64().unwrap_or_else(|| panic!("seq: {e}"));
        assert!(seq > last_seq, "{events:?}");
        last_seq = seq;
        assert!(
            parse_time(e["created_at"].as_str().unwrap()).is_some(),
            "{e}"
        );
    }
}
