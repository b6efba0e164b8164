//! Listing tickets: filters, newest first, and cursor paging to the last page.
//!
//! The composed ticket component (`target/tandem/ticket.wasm`, intent plugged in) behind the
//! real host, its real SQLite file, plain HTTP on loopback (docs/tickets.md; the shared app and
//! helpers are `tandem_tests::tickets`).

use serde_json::{Value, json};
use tandem_tests::assert_problem;
use tandem_tests::tickets::{App, enc, id_of, new_ticket};

// ---------------------------------------------------------------------------------------------
// Listing and paging.

#[test]
fn lists_filter_and_page_newest_first() {
    // Auto-assign off: assignments below are explicit.
    let app = App::start_with(&[("SPIN_VARIABLE_AUTO_ASSIGN", "false")]);
    assert_eq!(app.put_agent("ag1", &["orders"], 5, "online").status, 201);
    // (customer, category, priority), created in this order.
    let plan = [
        ("A", "order_status", "low"),
        ("B", "refund_request", "high"),
        ("A", "order_status", "urgent"),
        ("C", "lost_package", "high"),
        ("B", "order_status", "normal"),
        ("D", "cancel_order", "low"),
        ("A", "refund_request", "normal"),
    ];
    let ids: Vec<String> = plan
        .iter()
        .map(|(customer, category, priority)| {
            let mut body = new_ticket(customer, &["请帮我处理一下"], Some(category));
            body["priority"] = (*priority).into();
            let t = app.create(&body)["ticket"].clone();
            assert_eq!(t["assignee"], Value::Null, "auto_assign=false: {t}");
            id_of(&t)
        })
        .collect();
    // Assign t0 and t2 to ag1; open t4.
    for i in [0, 2] {
        let t = app.patch_ok(&ids[i], 1, &json!({"assignee": "ag1"}));
        assert_eq!(t["assignee"], "ag1");
    }
    app.patch_ok(&ids[4], 1, &json!({"status": "open"}));

    let newest_first = |picked: &[usize]| -> Vec<String> {
        let mut v: Vec<usize> = picked.to_vec();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v.into_iter().map(|i| ids[i].clone()).collect()
    };
    let listed = |q: &str| -> Vec<String> {
        app.list(q)["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect()
    };
    assert_eq!(listed(""), newest_first(&[0, 1, 2, 3, 4, 5, 6]));
    assert_eq!(app.list("")["next_cursor"], Value::Null);
    assert_eq!(listed("?queue=orders"), newest_first(&[0, 2, 4, 5]));
    assert_eq!(listed("?priority=high"), newest_first(&[1, 3]));
    assert_eq!(listed("?customer_id=A"), newest_first(&[0, 2, 6]));
    assert_eq!(listed("?status=open"), newest_first(&[4]));
    assert_eq!(listed("?status=new"), newest_first(&[0, 1, 2, 3, 5, 6]));
    assert_eq!(listed("?assignee=ag1"), newest_first(&[0, 2]));
    assert_eq!(listed("?assignee=none"), newest_first(&[1, 3, 4, 5, 6]));
    assert_eq!(listed("?category=refund_request"), newest_first(&[1, 6]));
    assert_eq!(listed("?queue=orders&assignee=none"), newest_first(&[4, 5]));
    assert_eq!(listed("?customer_id=nobody"), Vec::<String>::new());

    // Pages of two, following the cursor: every ticket exactly once, newest first.
    assert_eq!(app.list_all("", 2), newest_first(&[0, 1, 2, 3, 4, 5, 6]));
    assert_eq!(app.list_all("queue=orders", 1), newest_first(&[0, 2, 4, 5]));
    assert_eq!(app.list_all("", 7), newest_first(&[0, 1, 2, 3, 4, 5, 6]));

    // Stable under inserts: a ticket created between pages does not shift the later pages.
    let page = app.list("?limit=3");
    assert_eq!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect::<Vec<_>>(),
        newest_first(&[4, 5, 6])
    );
    let mut cursor = page["next_cursor"].as_str().unwrap().to_string();
    let late = app.create_id(&new_ticket("E", &["我要退款"], Some("refund_request")));
    let mut rest = Vec::new();
    loop {
        let page = app.list(&format!("?limit=3&cursor={}", enc(&cursor)));
        rest.extend(page["items"].as_array().unwrap().iter().map(id_of));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(rest, newest_first(&[0, 1, 2, 3]));
    assert_eq!(listed("?limit=1"), vec![late]);

    // Bad parameters.
    for q in [
        "?stauts=new",
        "?status=new&status=open",
        "?limit=0",
        "?limit=101",
        "?limit=ten",
        "?status=done",
        "?priority=critical",
        "?cursor=not-a-cursor",
    ] {
        assert_problem(&app.agent("GET", &format!("/v1/tickets{q}"), None), 422);
    }
}
