//! Customer records from a CRM over real HTTP (`PUT|GET /v1/customers/{id}`, docs/tickets.md
//! "Customers"): a record fills what an agent-token create leaves out (a VIP is treated as
//! one), the request's own fields win, anonymous callers learn nothing of it, the record lists
//! the customer's tickets, and bad records are refused whole.

use serde_json::{Value, json};
use tandem_tests::{Body, Host, HttpResponse, assert_problem, request_with, start_app};
use tempfile::TempDir;

const TOKEN: &str = "customers-test-token";
const BEARER: &str = "Bearer customers-test-token";

fn call(host: &Host, method: &str, path: &str, body: Option<&[u8]>) -> HttpResponse {
    let body = body.map_or(Body::Empty, Body::Sized);
    request_with(host.addr, method, path, &[("Authorization", BEARER)], body).unwrap()
}

fn ok(res: HttpResponse, status: u16) -> Value {
    assert_eq!(res.status, status, "{}", res.text());
    res.json()
}

#[test]
fn a_crm_record_fills_tickets_and_assist_and_lists_the_tickets() {
    let dir = TempDir::new().unwrap();
    let host = start_app(
        &dir.path().join("data"),
        vec![("SPIN_VARIABLE_AGENT_TOKEN", TOKEN)],
    )
    .unwrap();
    let record = json!({
        "name": "王小明", "tier": "vip", "language": "zh", "contact": "wang@example.com",
        "recent_orders": [{"id": "TD2026120100001", "status": "shipped", "total": 299.0, "currency": "CNY",
                           "placed_at": "2026-12-01T10:00:00+08:00", "items": ["蓝牙耳机"]}],
        "attributes": {"plan": "gold"}, "source": "salesforce"
    })
    .to_string();
    let path = "/v1/customers/crm%20c1";
    let created = ok(call(&host, "PUT", path, Some(record.as_bytes())), 201);
    assert_eq!(
        (created["id"].as_str(), created["version"].as_u64()),
        (Some("crm c1"), Some(1))
    );
    assert_eq!(
        ok(call(&host, "PUT", path, Some(record.as_bytes())), 200)["version"],
        2
    );

    // Anyone may claim any customer id on the public routes: an anonymous create learns
    // nothing of the record (the ticket it gets back has only what it sent), and neither does
    // an assist turn.
    let body = json!({"customer": {"id": "crm c1"},
                      "transcript": [{"role": "customer", "text": "我想退货 I want to return it"}]});
    let anonymous = ok(
        request_with(
            host.addr,
            "POST",
            "/v1/tickets",
            &[],
            Body::Sized(body.to_string().as_bytes()),
        )
        .unwrap(),
        201,
    );
    let c = &anonymous["ticket"]["customer"];
    assert!(
        c["name"].is_null() && c["tier"].is_null() && c["contact"].is_null(),
        "{anonymous}"
    );
    assert!(!anonymous.to_string().contains("wang@example.com"));
    let turn = json!({"message": "你好，我的订单到哪了", "customer": {"id": "crm c1"}}).to_string();
    let a = ok(
        request_with(
            host.addr,
            "POST",
            "/v1/assist",
            &[],
            Body::Sized(turn.as_bytes()),
        )
        .unwrap(),
        200,
    );
    assert!(
        a["handoff"]["signals"]["tier"].is_null(),
        "{}",
        a["handoff"]
    );
    assert!(!a.to_string().contains("wang@example.com") && !a.to_string().contains("王小明"));

    // A CRM or the console (agent token) filing for the customer: name, tier and contact come
    // from the record, and the tier raises its priority; a ticket that gives its own name
    // keeps it.
    let t = ok(
        call(
            &host,
            "POST",
            "/v1/tickets",
            Some(body.to_string().as_bytes()),
        ),
        201,
    );
    let c = &t["ticket"]["customer"];
    assert_eq!(
        (
            c["name"].as_str(),
            c["tier"].as_str(),
            c["contact"].as_str()
        ),
        (Some("王小明"), Some("vip"), Some("wang@example.com")),
        "{t}"
    );
    let reasons: Vec<&str> = t["ticket"]["priority_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"vip"), "{reasons:?}");
    let own = json!({"customer": {"id": "crm c1", "name": "Xiaoming", "tier": "standard"},
                     "transcript": [{"role": "customer", "text": "where is my parcel"}]});
    let t2 = ok(
        call(
            &host,
            "POST",
            "/v1/tickets",
            Some(own.to_string().as_bytes()),
        ),
        201,
    );
    assert_eq!(t2["ticket"]["customer"]["name"], "Xiaoming");
    assert_eq!(t2["ticket"]["customer"]["tier"], "standard");

    // The record with the customer's tickets, newest first.
    let got = ok(call(&host, "GET", path, None), 200);
    assert_eq!(got["record"]["recent_orders"][0]["id"], "TD2026120100001");
    let ids: Vec<&str> = got["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            t2["ticket"]["id"].as_str().unwrap(),
            t["ticket"]["id"].as_str().unwrap(),
            anonymous["ticket"]["id"].as_str().unwrap()
        ]
    );

    // Bad records: one 422 naming every field, nothing written; too large: 413.
    let bad =
        json!({"language": "fr", "recent_orders": [{"id": "", "currency": "rmb"}], "nickname": 1})
            .to_string();
    assert_problem(&call(&host, "PUT", path, Some(bad.as_bytes())), 422);
    let bad =
        json!({"language": "fr", "recent_orders": [{"id": "", "currency": "rmb"}]}).to_string();
    let p = assert_problem(&call(&host, "PUT", path, Some(bad.as_bytes())), 422);
    let names: Vec<&str> = p["invalid-params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "recent_orders[0].id",
            "language",
            "recent_orders[0].currency"
        ],
        "{p}"
    );
    assert_eq!(
        ok(call(&host, "GET", path, None), 200)["record"]["version"],
        2
    );
    let huge = json!({"attributes": {"notes": "长".repeat(6000)}}).to_string();
    assert_problem(&call(&host, "PUT", path, Some(huge.as_bytes())), 413);
    assert_problem(&call(&host, "PUT", path, Some(b"\xff\xfe")), 400);
    assert_problem(
        &request_with(host.addr, "GET", path, &[], Body::Empty).unwrap(),
        401,
    );
    assert_problem(&call(&host, "GET", "/v1/customers/nobody", None), 404);
}
