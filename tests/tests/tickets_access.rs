//! Who may call what: the agent token, the customer's access token and the customer view; tokens
//! are derived, never stored.
//!
//! The composed ticket component (`target/tandem/ticket.wasm`, intent plugged in) behind the
//! real host, its real SQLite file, plain HTTP on loopback (docs/tickets.md; the shared app and
//! helpers are `tandem_tests::tickets`).

use tandem_tests::assert_problem;
use tandem_tests::tickets::{
    App, TOKEN, contains_bytes, get_as, id_of, new_ticket, send, ticket_of,
};

// ---------------------------------------------------------------------------------------------
// Who may call what.

#[test]
fn agents_and_customers_see_what_they_may() {
    let app = App::start();
    let addr = app.addr();
    assert_eq!(
        app.put_agent("ag_auth", &["after_sales"], 5, "online")
            .status,
        201
    );
    let mut body = new_ticket("auth-1", &["我要退款"], Some("refund_request"));
    body["customer"]["contact"] = "13812345678".into();
    let a = app.create(&body);
    let (id_a, token_a) = (
        id_of(&a["ticket"]),
        a["access_token"].as_str().unwrap().to_string(),
    );
    assert_eq!(a["ticket"]["assignee"], "ag_auth", "{a}");
    let b = app.create(&new_ticket(
        "auth-2",
        &["where is my order"],
        Some("order_status"),
    ));
    let (id_b, token_b) = (
        id_of(&b["ticket"]),
        b["access_token"].as_str().unwrap().to_string(),
    );
    assert_ne!(token_a, token_b);
    let bearer_a = format!("Bearer {token_a}");
    let agent = format!("Bearer {TOKEN}");

    // Agent routes without a token: 401; with a wrong one: 403; a customer token is no agent.
    for path in [
        "/v1/tickets".to_string(),
        format!("/v1/tickets/{id_a}/events"),
        "/v1/agents".to_string(),
        "/v1/agents/ag_auth".to_string(),
    ] {
        assert_problem(&get_as(addr, &path, None), 401);
        assert_problem(&get_as(addr, &path, Some("Basic dXNlcjpwdw==")), 401);
        assert_problem(&get_as(addr, &path, Some("Bearer wrong-token")), 403);
        assert_problem(&get_as(addr, &path, Some(&bearer_a)), 403);
        assert_eq!(get_as(addr, &path, Some(&agent)).status, 200, "{path}");
    }
    let patch = |auth: Option<&str>| {
        let mut headers = vec![("If-Match", "\"1\"")];
        if let Some(a) = auth {
            headers.push(("Authorization", a));
        }
        send(
            addr,
            "PATCH",
            &format!("/v1/tickets/{id_a}"),
            &headers,
            Some(br#"{"status":"open"}"#),
        )
    };
    assert_problem(&patch(None), 401);
    assert_problem(&patch(Some("Bearer wrong-token")), 403);
    assert_problem(&patch(Some(&bearer_a)), 403);
    let note = |auth: &str| {
        send(
            addr,
            "POST",
            &format!("/v1/tickets/{id_a}/events"),
            &[("Authorization", auth)],
            Some(br#"{"kind":"note","text":"hi"}"#),
        )
    };
    assert_problem(&note(&bearer_a), 403);
    let put = send(
        addr,
        "PUT",
        "/v1/agents/sneaky",
        &[("Authorization", bearer_a.as_str())],
        Some(br#"{"name":"x","queues":["orders"],"capacity":1,"status":"online"}"#),
    );
    assert_problem(&put, 403);
    assert_eq!(
        app.ticket(&id_a).0["status"],
        "new",
        "no refused PATCH applied"
    );

    // The customer view of one's own ticket.
    let res = get_as(addr, &format!("/v1/tickets/{id_a}"), Some(&bearer_a));
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.header("etag"), Some("\"1\""));
    let view = ticket_of(&res.json());
    let (full, _) = app.ticket(&id_a);
    assert_eq!(full["customer"]["contact"], "13812345678");
    assert_eq!(full["assignee"], "ag_auth");
    let mut expected = full.clone();
    {
        let o = expected.as_object_mut().unwrap();
        o.remove("assignee");
        o.remove("priority_reasons");
        // The service clocks are the desk's business, not the customer's.
        o.remove("escalated_at");
        o.remove("first_response_at");
        for audit in ["events", "audit", "audit_trail"] {
            o.remove(audit);
        }
        o["customer"].as_object_mut().unwrap().remove("contact");
    }
    assert_eq!(
        view, expected,
        "the customer view is the agent view less the hidden fields"
    );
    assert!(!res.text().contains("13812345678"));
    assert!(!res.text().contains("ag_auth"));

    // A customer token never opens another ticket, and never tells whether an id exists.
    let other = get_as(addr, &format!("/v1/tickets/{id_b}"), Some(&bearer_a));
    assert_problem(&other, 403);
    let missing = get_as(addr, "/v1/tickets/tk_0000000000000000", Some(&bearer_a));
    assert_problem(&missing, 403);
    assert_eq!(other.json()["detail"], missing.json()["detail"]);
    assert_problem(&get_as(addr, &format!("/v1/tickets/{id_a}"), None), 401);
    assert_problem(
        &get_as(addr, &format!("/v1/tickets/{id_a}"), Some("Bearer wrong")),
        403,
    );
    assert_problem(
        &get_as(addr, "/v1/tickets/tk_0000000000000000", Some(&agent)),
        404,
    );
    // The token is bound to the id, not a prefix of it.
    assert_problem(
        &get_as(
            addr,
            &format!("/v1/tickets/{id_a}"),
            Some(&format!("Bearer {}", &token_a[..token_a.len() - 1])),
        ),
        403,
    );

    // Tokens are derived, never stored.
    let data = app.dir.path().join("data");
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for token in [&token_a, &token_b] {
            assert!(
                !contains_bytes(&bytes, token.as_bytes()),
                "{} holds an access token",
                path.display()
            );
        }
    }
}
