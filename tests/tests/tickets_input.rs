//! Hostile and malformed input to the ticket routes: a problem+json answer, never a 5xx.
//!
//! The composed ticket component (`target/tandem/ticket.wasm`, intent plugged in) behind the
//! real host, its real SQLite file, plain HTTP on loopback (docs/tickets.md; the shared app and
//! helpers are `tandem_tests::tickets`).

use serde_json::{Value, json};
use tandem_tests::tickets::{App, customer_turn, enc, id_of, new_ticket, send};
use tandem_tests::{Body, assert_problem, request_with};

// ---------------------------------------------------------------------------------------------
// Hostile and malformed input.

#[test]
fn bad_input_is_a_problem_and_never_a_5xx() {
    let app = App::start();
    let post = |bytes: &[u8]| send(app.addr(), "POST", "/v1/tickets", &[], Some(bytes));
    let post_json = |v: &Value| post(v.to_string().as_bytes());
    let ok = new_ticket("bad-1", &["我要退款"], Some("refund_request"));

    assert_problem(&post(br#"{"customer": {"id": "x"}, "transcript": "#), 400);
    assert_problem(&post(b""), 400);
    assert_problem(
        &post(b"{\"customer\": {\"id\": \"\xff\xfe\"}, \"transcript\": []}"),
        400,
    );

    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = ok.clone();
        f(&mut v);
        v
    };
    let named = |v: &Value, field: &str| {
        let p = assert_problem(&post_json(v), 422);
        assert!(p.to_string().contains(field), "{field}: {p}");
    };
    named(&with(&|v| v["colour"] = "red".into()), "colour");
    named(&with(&|v| v["customer"]["age"] = 30.into()), "age");
    named(
        &with(&|v| v["transcript"][0]["mood"] = "angry".into()),
        "mood",
    );
    named(&with(&|v| v["transcript"] = json!([])), "transcript");
    named(&with(&|v| v["customer"]["id"] = "".into()), "customer.id");
    named(
        &with(&|v| v["customer"]["id"] = "c".repeat(129).into()),
        "customer.id",
    );
    named(
        &with(&|v| v["customer"]["name"] = "n".repeat(257).into()),
        "customer.name",
    );
    named(
        &with(&|v| v["transcript"][0]["text"] = "".into()),
        "transcript[0].text",
    );
    named(
        &with(&|v| v["transcript"][0]["text"] = "长".repeat(1366).into()), // 4,098 bytes
        "transcript[0].text",
    );
    named(
        &with(&|v| v["transcript"][0]["confidence"] = 2.into()),
        "transcript[0].confidence",
    );
    named(
        &with(&|v| v["transcript"][0]["role"] = "robot".into()),
        "robot",
    );
    named(
        &with(&|v| v["transcript"] = json!([{"role": "bot", "text": "hello"}])),
        "transcript",
    );
    named(&with(&|v| v["priority"] = "critical".into()), "critical");
    // Wrong types.
    for v in [
        with(&|v| v["transcript"] = "我要退款".into()),
        with(&|v| v["customer"]["id"] = 42.into()),
        with(&|v| v["customer"] = "bad-1".into()),
        with(&|v| v["transcript"][0]["answered"] = "yes".into()),
        json!([ok.clone()]),
        json!({"transcript": ok["transcript"].clone()}),
    ] {
        assert_problem(&post_json(&v), 422);
    }
    // 200 turns is the limit: accepted; 201 is not.
    let turns = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| {
                if i % 2 == 0 {
                    customer_turn(&format!("第 {i} 个问题 question"))
                } else {
                    json!({"role": "bot", "text": "好的 ok", "answered": true})
                }
            })
            .collect()
    };
    let mut long = ok.clone();
    long["transcript"] = turns(200).into();
    assert_eq!(post_json(&long).status, 201);
    long["transcript"] = turns(201).into();
    let p = assert_problem(&post_json(&long), 422);
    assert!(p.to_string().contains("transcript"), "{p}");
    // Over the 1 MiB body limit, announced and streamed.
    let mut huge = ok.clone();
    huge["transcript"][0]["text"] = "a".repeat(2 * 1024 * 1024).into();
    let huge = huge.to_string();
    assert_problem(&post(huge.as_bytes()), 413);
    let chunked = request_with(
        app.addr(),
        "POST",
        "/v1/tickets",
        &[("Content-Type", "application/json")],
        Body::Chunked(huge.as_bytes()),
    )
    .unwrap();
    assert_problem(&chunked, 413);
    assert_eq!(app.ticket_rows(), 1, "only the 200-turn ticket was stored");

    // SQL-looking strings are data.
    let evil = "'); DROP TABLE ticket_tickets;--";
    let body = json!({
        "customer": {"id": evil, "name": evil, "channel": evil, "tier": evil, "contact": evil},
        "transcript": [customer_turn(evil), customer_turn(&format!("我要退款 {evil}"))],
        "subject": evil,
        "category": "refund_request",
    });
    let t = app.create(&body)["ticket"].clone();
    let id = id_of(&t);
    let (got, _) = app.ticket(&id);
    for field in ["id", "name", "channel", "tier", "contact"] {
        assert_eq!(got["customer"][field], evil, "{field}");
    }
    assert_eq!(got["subject"], evil);
    assert_eq!(got["transcript"][0]["text"], evil);
    let listed = app.list(&format!("?customer_id={}", enc(evil)));
    assert_eq!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect::<Vec<_>>(),
        [id.as_str()]
    );
    let note = app.agent(
        "POST",
        &format!("/v1/tickets/{id}/events"),
        Some(&json!({"kind": "note", "text": evil, "actor": evil})),
    );
    assert_eq!(note.status, 201, "{}", note.text());
    assert_eq!(app.events(&id).last().unwrap()["text"], evil);
    assert_eq!(app.ticket_rows(), 2, "the table is still there");

    // Odd paths and methods are problems too.
    assert_problem(&app.agent("GET", "/v1/tickets/not-an-id", None), 404);
    assert_problem(
        &app.agent("GET", "/v1/tickets/tk_0000000000000000/events", None),
        404,
    );
    assert_problem(&app.agent("GET", "/v1/tickets/a/b/c/d", None), 404);
    let res = app.agent("DELETE", &format!("/v1/tickets/{id}"), None);
    assert!(res.status == 405 || res.status == 404, "{}", res.text());
    assert_problem(&res, res.status);
    assert_eq!(app.ticket_rows(), 2);
}
