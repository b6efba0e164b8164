//! Creating tickets: every field auto-filled (category through intent, priority, SLA) and
//! idempotent retries that create one ticket.
//!
//! The composed ticket component (`target/tandem/ticket.wasm`, intent plugged in) behind the
//! real host, its real SQLite file, plain HTTP on loopback (docs/tickets.md; the shared app and
//! helpers are `tandem_tests::tickets`).

use std::collections::BTreeSet;

use serde_json::{Value, json};
use tandem_tests::assert_problem;
use tandem_tests::tickets::{
    App, assert_sla, create_at, customer_turn, id_of, is_ticket_id, new_ticket, version_of,
};

// ---------------------------------------------------------------------------------------------
// Create and auto-fill.

#[test]
fn create_fills_in_every_field() {
    let app = App::start();
    let body = json!({
        "customer": {"id": "c-1001", "name": "王小明", "channel": "web",
            "contact": "13812345678", "tier": "standard"},
        "transcript": [
            {"role": "customer", "text": "订单 TD2026112612345 申请退款"},
            {"role": "bot", "text": "好的，我来帮您处理。", "answered": false}
        ],
        "subject": null, "category": "refund_request", "priority": null
    });
    let res = app.create_res(&body, None);
    assert_eq!(res.status, 201, "{}", res.text());
    let out = res.json();
    let t = &out["ticket"];
    let id = id_of(t);
    assert!(is_ticket_id(&id), "{id}");
    assert_eq!(
        res.header("location"),
        Some(format!("/v1/tickets/{id}").as_str())
    );
    assert_eq!(res.header("etag"), Some("\"1\""));
    assert_eq!(out["replayed"], false, "{out}");
    let token = out["access_token"].as_str().expect("access_token");
    assert!(token.len() >= 16, "{token}");

    assert_eq!(t["status"], "new");
    assert_eq!(version_of(t), 1);
    assert_eq!(t["category"], "refund_request");
    assert_eq!(t["category_source"], "given");
    // kb/intents.yaml: refund_request → queue after_sales, ticket priority normal.
    assert_eq!(t["queue"], "after_sales", "{t}");
    assert_eq!(t["priority"], "normal", "{t}");
    let reasons = t["priority_reasons"].as_array().expect("priority_reasons");
    assert!(!reasons.is_empty(), "{t}");
    for r in reasons {
        assert!(
            r["message_zh"].as_str().is_some_and(|m| !m.is_empty())
                && r["message_en"].as_str().is_some_and(|m| !m.is_empty()),
            "every reason in both languages: {r}"
        );
    }
    assert_eq!(t["subject"], "订单 TD2026112612345 申请退款", "{t}");
    let summary = t["summary"].as_str().expect("summary");
    assert!(summary.contains("TD2026112612345"), "{summary}");
    assert!(summary.chars().count() <= 280);
    assert!(
        t["entities"]
            .as_array()
            .unwrap()
            .contains(&json!({"kind": "order_id", "value": "TD2026112612345"})),
        "{t}"
    );
    assert_eq!(t["customer"]["id"], "c-1001");
    assert_eq!(t["customer"]["name"], "王小明");
    assert_eq!(
        t["customer"]["contact"], "13812345678",
        "agents see the contact"
    );
    assert_eq!(t["assignee"], Value::Null, "no agents, nobody assigned");
    let turns = t["transcript"].as_array().unwrap();
    assert_eq!(turns.len(), 2);
    for (got, sent) in turns.iter().zip(body["transcript"].as_array().unwrap()) {
        assert_eq!((&got["role"], &got["text"]), (&sent["role"], &sent["text"]));
    }
    assert_eq!(turns[1]["answered"], false);
    assert_sla(t, 24);

    // What GET answers is what the create answered.
    let (got, etag) = app.ticket(&id);
    assert_eq!(got, *t);
    assert_eq!(etag, "\"1\"");

    // A given priority wins over the derived one; its SLA follows it.
    let urgent = app.create(&json!({"customer": {"id": "c-1002"},
        "transcript": [customer_turn("where is my order")],
        "category": "order_status", "priority": "urgent"}));
    let t = &urgent["ticket"];
    assert_eq!(
        (t["queue"].as_str(), t["priority"].as_str()),
        (Some("orders"), Some("urgent")),
        "{t}"
    );
    assert_sla(t, 1);

    // A category that is no intent of the KB.
    let p = assert_problem(
        &app.create_res(
            &new_ticket("c-1003", &["我要退款"], Some("refunds_please")),
            None,
        ),
        422,
    );
    assert!(p.to_string().contains("category"), "{p}");
    assert_eq!(app.ticket_rows(), 2);
}

#[test]
fn an_uncategorised_ticket_is_classified_through_intent() {
    let app = App::start();
    // Examples copied from kb/intents.yaml.
    for (customer, text, intent, queue) in [
        ("zh-1", "我要退款", "refund_request", "after_sales"),
        ("zh-2", "我的订单到哪了", "order_status", "orders"),
        ("en-1", "where is my order", "order_status", "orders"),
        ("en-2", "I want a refund", "refund_request", "after_sales"),
        ("en-3", "my package is lost", "lost_package", "logistics"),
    ] {
        let t = app.create(&new_ticket(customer, &[text], None))["ticket"].clone();
        assert_eq!(t["category"], intent, "{text}: {t}");
        assert_eq!(t["category_source"], "classified", "{text}: {t}");
        assert_eq!(t["queue"], queue, "{text}: {t}");
        let confidence = t["category_confidence"]
            .as_f64()
            .expect("category_confidence");
        assert!(confidence > 0.0 && confidence <= 1.0, "{text}: {t}");
    }
    // The last customer turns carry the request: a greeting first does not hide it.
    let t = app.create(&json!({"customer": {"id": "zh-3"}, "transcript": [
        customer_turn("你好"),
        {"role": "bot", "text": "您好，请问有什么可以帮您？"},
        customer_turn("我的包裹现在在哪儿"),
    ]}))["ticket"]
        .clone();
    assert_eq!(t["category"], "order_status", "{t}");
}

#[test]
fn priority_is_derived_from_hint_topics_tier_and_repeat_contact() {
    let app = App::start();
    let derived = |customer: &str, text: &str, category: &str, tier: Option<&str>| -> Value {
        let mut body = new_ticket(customer, &[text], Some(category));
        if let Some(tier) = tier {
            body["customer"]["tier"] = tier.into();
        }
        app.create(&body)["ticket"].clone()
    };
    let codes = |t: &Value| -> Vec<String> {
        t["priority_reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    // The intent's hint: lost_package is high (4 h), delivery_time low (72 h).
    let t = derived("p-1", "my package is lost", "lost_package", None);
    assert_eq!(t["priority"], "high", "{t}");
    assert_sla(&t, 4);
    let t = derived("p-2", "什么时候能到货", "delivery_time", None);
    assert_eq!(t["priority"], "low", "{t}");
    assert_sla(&t, 72);
    // Sensitive topics: legal → urgent, complaint → high, whatever the hint.
    let t = derived("p-3", "你们再不退款我就找律师起诉", "refund_request", None);
    assert_eq!(t["priority"], "urgent", "{t}");
    assert!(codes(&t).contains(&"sensitive_topic".to_string()), "{t}");
    let t = derived(
        "p-4",
        "I want to file a complaint, worst service ever",
        "order_status",
        None,
    );
    assert_eq!(t["priority"], "high", "{t}");
    // VIP: at least high.
    let t = derived("p-5", "我的订单到哪了", "order_status", Some("vip"));
    assert_eq!(t["priority"], "high", "{t}");
    assert!(codes(&t).contains(&"vip".to_string()), "{t}");
    // Repeated contact within 7 days: one level up (once, not per earlier ticket).
    let t = derived("p-6", "我的订单到哪了", "order_status", None);
    assert_eq!(t["priority"], "normal", "{t}");
    for _ in 0..2 {
        let t = derived("p-6", "订单什么时候发货啊", "order_status", None);
        assert_eq!(t["priority"], "high", "{t}");
        assert!(codes(&t).contains(&"repeated_contact".to_string()), "{t}");
    }
    // Another customer is not a repeat.
    let t = derived("p-7", "订单什么时候发货啊", "order_status", None);
    assert_eq!(t["priority"], "normal", "{t}");

    // A long first sentence makes a subject of at most 60 characters.
    let long = "我".repeat(100) + "。后面的句子";
    let t = derived("p-8", &long, "order_status", None);
    let subject = t["subject"].as_str().unwrap();
    assert!(
        !subject.is_empty() && subject.chars().count() <= 60,
        "{subject}"
    );
    assert!(subject.starts_with("我我我"), "{subject}");
    // A given subject is kept.
    let mut body = new_ticket("p-9", &["我要退款"], Some("refund_request"));
    body["subject"] = "退款 refund".into();
    assert_eq!(app.create(&body)["ticket"]["subject"], "退款 refund");
}

// ---------------------------------------------------------------------------------------------
// Idempotent retries.

#[test]
fn retries_with_an_idempotency_key_create_one_ticket() {
    let app = App::start();
    let body = new_ticket("idem-1", &["我要退款"], Some("refund_request"));
    let first = app.create_res(&body, Some("key-0001"));
    assert_eq!(first.status, 201, "{}", first.text());
    let first = first.json();
    let id = id_of(&first["ticket"]);
    for _ in 0..3 {
        let again = app.create_res(&body, Some("key-0001"));
        assert_eq!(again.status, 200, "{}", again.text());
        let again = again.json();
        assert_eq!(again["replayed"], true, "{again}");
        assert_eq!(id_of(&again["ticket"]), id);
        assert_eq!(again["access_token"], first["access_token"]);
        assert_eq!(
            again["ticket"], first["ticket"],
            "the first ticket, unchanged"
        );
    }
    assert_eq!(app.ticket_rows(), 1);

    // The same key with another body: a conflict, nothing written.
    let other = new_ticket("idem-1", &["我要退款，快点"], Some("refund_request"));
    assert_problem(&app.create_res(&other, Some("key-0001")), 409);
    assert_eq!(app.ticket_rows(), 1);

    // The key is scoped to the customer: another customer's request is a new ticket.
    let mut theirs = body.clone();
    theirs["customer"]["id"] = "idem-2".into();
    let res = app.create_res(&theirs, Some("key-0001"));
    assert_eq!(res.status, 201, "{}", res.text());
    assert_ne!(id_of(&res.json()["ticket"]), id);
    assert_eq!(app.ticket_rows(), 2);

    // Without a key every POST is a new ticket.
    for _ in 0..2 {
        assert_eq!(app.create_res(&body, None).status, 201);
    }
    assert_eq!(app.ticket_rows(), 4);

    // Keys outside 1–128 visible ASCII characters are refused.
    for bad in ["k".repeat(129), "has space".to_string()] {
        let res = app.create_res(&body, Some(&bad));
        assert!(
            res.status == 400 || res.status == 422,
            "key {bad:?}: {} {}",
            res.status,
            res.text()
        );
    }
    assert_eq!(app.ticket_rows(), 4);

    // Concurrent retries of one request: exactly one 201, the rest replay the same ticket.
    let addr = app.addr();
    let body = new_ticket("idem-3", &["where is my order"], Some("order_status"));
    let answers: Vec<(u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let body = body.clone();
                s.spawn(move || {
                    let res = create_at(addr, &body, Some("race-key")).unwrap();
                    (res.status, res.json())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "{answers:?}");
    assert!(
        answers.iter().all(|(s, _)| *s == 201 || *s == 200),
        "{answers:?}"
    );
    let ids: BTreeSet<String> = answers.iter().map(|(_, v)| id_of(&v["ticket"])).collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    assert_eq!(app.ticket_rows(), 5);
}
