//! Assignment: new tickets go to the online agent of their queue with the most room.
//!
//! The composed ticket component (`target/tandem/ticket.wasm`, intent plugged in) behind the
//! real host, its real SQLite file, plain HTTP on loopback (docs/tickets.md; the shared app and
//! helpers are `tandem_tests::tickets`).

use std::collections::HashMap;

use serde_json::{Value, json};
use tandem_tests::assert_problem;
use tandem_tests::tickets::{App, id_of, list_of, new_ticket, rows};

// ---------------------------------------------------------------------------------------------
// Assignment.

#[test]
fn new_tickets_go_to_the_online_agent_with_the_most_room() {
    let app = App::start();
    // Ids chosen so that "the smaller id" would pick the other agent in every tie below: the
    // ties must be decided by idle time.
    assert_eq!(app.put_agent("zoe", &["orders"], 2, "online").status, 201);
    assert_eq!(app.put_agent("bob", &["orders"], 5, "online").status, 201);
    assert_eq!(
        app.put_agent("carl", &["orders"], 10, "offline").status,
        201
    );
    assert_eq!(
        app.put_agent("dan", &["logistics"], 10, "online").status,
        201
    );
    // Replacing is 200.
    assert_eq!(app.put_agent("zoe", &["orders"], 2, "online").status, 200);

    let orders = |n: usize| -> Value {
        app.create(&new_ticket(
            &format!("as-{n}"),
            &["我的订单到哪了"],
            Some("order_status"),
        ))["ticket"]
            .clone()
    };
    // Spare room (zoe, bob): (2,5) bob; (2,4) bob; (2,3) bob; (2,2) tie, zoe never assigned →
    // zoe; (1,2) bob; (1,1) tie, zoe idle longer → zoe; (0,1) bob; (0,0) nobody. carl is
    // offline with room for ten and never gets one.
    let want = [
        Some("bob"),
        Some("bob"),
        Some("bob"),
        Some("zoe"),
        Some("bob"),
        Some("zoe"),
        Some("bob"),
        None,
    ];
    let mut tickets = Vec::new();
    for (n, want) in want.iter().enumerate() {
        let t = orders(n);
        assert_eq!(t["assignee"].as_str(), *want, "ticket {n}: {t}");
        tickets.push(t);
    }
    // Another queue's agent.
    let lost = app.create(&new_ticket(
        "as-lost",
        &["my package is lost"],
        Some("lost_package"),
    ));
    assert_eq!(lost["ticket"]["assignee"], "dan", "{lost}");

    let agents = list_of(
        &{
            let res = app.agent("GET", "/v1/agents", None);
            assert_eq!(res.status, 200, "{}", res.text());
            res.json()
        },
        &["items", "agents"],
    );
    let open: HashMap<String, u64> = agents
        .iter()
        .map(|a| (id_of(a), a["open_tickets"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        open,
        HashMap::from([
            ("zoe".to_string(), 2),
            ("bob".to_string(), 5),
            ("carl".to_string(), 0),
            ("dan".to_string(), 1)
        ])
    );

    // Resolving frees room: bob gets the next one.
    let first = id_of(&tickets[0]);
    app.patch_ok(&first, 1, &json!({"status": "resolved"}));
    let res = app.agent("GET", "/v1/agents/bob", None);
    assert_eq!(res.status, 200, "{}", res.text());
    let bob = res.json();
    let bob = bob.get("agent").unwrap_or(&bob);
    assert_eq!(bob["open_tickets"], 4, "{bob}");
    assert_eq!(orders(100)["assignee"], "bob");

    // carl comes online: the status change is audited, and carl has the most room.
    assert_eq!(app.put_agent("carl", &["orders"], 10, "online").status, 200);
    let db = app.db();
    let audited = rows(&db, "ticket_events").into_iter().any(|row| {
        row.values().any(|v| v == "agent_status") && row.values().any(|v| v.contains("carl"))
    });
    assert!(audited, "{:?}", rows(&db, "ticket_events"));
    assert_eq!(orders(101)["assignee"], "carl");
    // Away is not online.
    assert_eq!(app.put_agent("carl", &["orders"], 10, "away").status, 200);
    assert_eq!(orders(102)["assignee"], Value::Null);

    // Never assigned, equal room: the smaller id.
    assert_eq!(
        app.put_agent("pay2", &["payments"], 3, "online").status,
        201
    );
    assert_eq!(
        app.put_agent("pay1", &["payments"], 3, "online").status,
        201
    );
    let refund = app.create(&new_ticket(
        "as-pay",
        &["退款怎么还没到账"],
        Some("refund_status"),
    ));
    assert_eq!(refund["ticket"]["assignee"], "pay1", "{refund}");

    // Manual assignment and unassignment are audited.
    let id = id_of(&lost["ticket"]);
    let t = app.patch_ok(&id, 1, &json!({"assignee": "pay2", "actor": "lead"}));
    assert_eq!(t["assignee"], "pay2");
    let t = app.patch_ok(&id, 2, &json!({"assignee": null}));
    assert_eq!(t["assignee"], Value::Null);
    let assigned: Vec<Value> = app
        .events(&id)
        .into_iter()
        .filter(|e| e["kind"] == "assigned")
        .collect();
    assert!(assigned.len() >= 2, "{assigned:?}");
    assert_eq!(assigned[assigned.len() - 2]["to"], "pay2", "{assigned:?}");
    assert_eq!(
        assigned[assigned.len() - 1]["to"],
        Value::Null,
        "{assigned:?}"
    );

    // Agent input checks.
    for (id, body) in [
        (
            "x1",
            json!({"name": "x", "queues": ["nowhere"], "capacity": 1, "status": "online"}),
        ),
        (
            "x1",
            json!({"name": "x", "queues": ["orders"], "capacity": 0, "status": "online"}),
        ),
        (
            "x1",
            json!({"name": "x", "queues": ["orders"], "capacity": 101, "status": "online"}),
        ),
        (
            "x1",
            json!({"name": "x", "queues": ["orders"], "capacity": 1, "status": "busy"}),
        ),
        (
            "x1",
            json!({"name": "x", "queues": ["orders"], "capacity": 1, "status": "online", "x": 1}),
        ),
        (
            "x1",
            json!({"name": "x", "queues": ["orders"], "capacity": "1", "status": "online"}),
        ),
        (
            "none",
            json!({"name": "x", "queues": ["orders"], "capacity": 1, "status": "online"}),
        ),
    ] {
        assert_problem(
            &app.agent("PUT", &format!("/v1/agents/{id}"), Some(&body)),
            422,
        );
    }
    assert_problem(&app.agent("GET", "/v1/agents/ghost", None), 404);
}
