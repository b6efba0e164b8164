//! The knowledge graph over real HTTP (`functions/knowledge`, docs/graph.md): the compiled KB
//! part as `models/graph.json` has it, a scripted week of feedback and tickets turned into
//! confusion, resolution and queue edges, an assist answer credited as the widget credits it,
//! and bad requests refused with problems.

use serde_json::{Value, json};
use tandem_tests::{Body, Host, assert_problem, request_with, start_app, workspace_root};
use tempfile::TempDir;

const TOKEN: &str = "graph-test-token";
const BEARER: &str = "Bearer graph-test-token";

fn app() -> (Host, TempDir) {
    let dir = TempDir::new().unwrap();
    let host = start_app(
        &dir.path().join("data"),
        vec![("SPIN_VARIABLE_AGENT_TOKEN", TOKEN)],
    )
    .unwrap();
    (host, dir)
}

fn get(host: &Host, path: &str) -> Value {
    let res = request_with(
        host.addr,
        "GET",
        path,
        &[("Authorization", BEARER)],
        Body::Empty,
    )
    .unwrap();
    assert_eq!(res.status, 200, "GET {path}: {}", res.text());
    res.json()
}

fn post(host: &Host, path: &str, body: &Value, status: u16) -> Value {
    let bytes = body.to_string();
    let res = request_with(
        host.addr,
        "POST",
        path,
        &[("Authorization", BEARER)],
        Body::Sized(bytes.as_bytes()),
    )
    .unwrap();
    assert_eq!(res.status, status, "POST {path} {body}: {}", res.text());
    res.json()
}

/// The neighbour of `view` over an edge of `kind` to node `to`.
fn neighbour<'a>(view: &'a Value, kind: &str, to: &str) -> Option<&'a Value> {
    view["neighbours"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["edge"] == kind && n["node"]["id"] == to)
}

#[test]
fn the_served_graph_is_the_compiled_one_until_operation_adds_to_it() {
    let (host, _dir) = app();
    let compiled: Value =
        serde_json::from_slice(&std::fs::read(workspace_root().join("models/graph.json")).unwrap())
            .unwrap();
    let summary = get(&host, "/v1/graph");
    assert_eq!(
        summary["nodes"],
        compiled["nodes"].as_array().unwrap().len()
    );
    assert_eq!(
        summary["edges"],
        compiled["edges"].as_array().unwrap().len()
    );
    assert!(
        summary["edges_by_kind"].get("confused_with").is_none(),
        "{summary}"
    );
    let all = get(&host, "/v1/graph/subgraph?limit=5000");
    assert_eq!(all["truncated"], false);
    assert_eq!(
        all["nodes"].as_array().unwrap().len(),
        compiled["nodes"].as_array().unwrap().len()
    );
    // Labels in both languages, as the KB names them.
    let order = get(&host, "/v1/graph/nodes/intent:order_status");
    assert_eq!(order["node"]["label"]["zh"], "查询订单状态");
    assert_eq!(order["node"]["label"]["en"], "Order status");
    assert!(
        neighbour(&order, "routes_to", "queue:orders").is_some(),
        "{order}"
    );
    assert!(
        neighbour(&order, "mentions", "entity:order_id").is_some(),
        "{order}"
    );
}

#[test]
fn a_week_of_feedback_and_tickets_becomes_weighted_edges() {
    let (host, _dir) = app();
    // Monday to Sunday: agents correct refund_request three times to cancel_order and once to
    // refund_status; the FAQ resolves delivery_time conversations with two entries.
    for day in 1..=7 {
        let at = format!("2026-11-{:02}T10:00:00Z", 15 + day);
        if day <= 4 {
            let to = if day == 4 {
                "refund_status"
            } else {
                "cancel_order"
            };
            let correction = json!({"event_id": format!("fix-{day}"), "conversation_id": format!("c-fix-{day}"),
                "kind": "correction", "intent_predicted": "refund_request", "intent_corrected": to,
                "text": "我要取消订单 cancel it", "agent_id": "ann", "created_at": at});
            post(&host, "/v1/feedback", &correction, 201);
        }
        let faq = if day % 2 == 0 {
            "dispatch_time"
        } else {
            "delivery_time_regions"
        };
        let outcome = json!({"event_id": format!("out-{day}"), "conversation_id": format!("c-out-{day}"),
            "kind": "outcome", "resolved": day != 7, "handled_by": "bot", "contact_count": 1,
            "intent_predicted": "delivery_time", "faq_predicted": faq, "created_at": at});
        post(&host, "/v1/feedback", &outcome, 201);
    }
    for (i, category) in ["refund_request", "refund_request", "complaint"]
        .iter()
        .enumerate()
    {
        let ticket = json!({"customer": {"id": format!("cust-{i}")}, "category": category,
            "transcript": [{"role": "customer", "text": "退款还没到 my refund is missing"}]});
        post(&host, "/v1/tickets", &ticket, 201);
    }

    let refund = get(&host, "/v1/graph/nodes/intent:refund_request");
    let cancel = neighbour(&refund, "confused_with", "intent:cancel_order").expect("confusion");
    assert_eq!(
        (cancel["count"].as_u64(), cancel["weight"].as_f64()),
        (Some(3), Some(0.75))
    );
    assert_eq!(cancel["origin"], "live");
    let status = neighbour(&refund, "confused_with", "intent:refund_status").unwrap();
    assert_eq!(status["weight"].as_f64(), Some(0.25));
    assert_eq!(refund["node"]["stats"]["corrected"], 4, "{refund}");
    assert_eq!(refund["node"]["stats"]["tickets"], 2, "{refund}");
    // The KB routes refund_request to a queue; its tickets went there.
    let routed = refund["neighbours"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["edge"] == "routes_to")
        .unwrap();
    let queue = routed["node"]["id"].as_str().unwrap();
    let handled = neighbour(&refund, "handled_in", queue).expect("tickets per queue");
    assert_eq!(
        (handled["count"].as_u64(), handled["weight"].as_f64()),
        (Some(2), Some(1.0))
    );

    // Day 7 was not resolved: 3 of the 6 resolved ones each.
    let delivery = get(&host, "/v1/graph/nodes/intent:delivery_time?kind=faq");
    for faq in ["faq:dispatch_time", "faq:delivery_time_regions"] {
        let r =
            neighbour(&delivery, "resolved_by", faq).unwrap_or_else(|| panic!("{faq}: {delivery}"));
        assert_eq!(
            (r["count"].as_u64(), r["weight"].as_f64()),
            (Some(3), Some(0.5)),
            "{faq}"
        );
    }
    assert_eq!(delivery["node"]["stats"]["conversations"], 7);
    assert_eq!(delivery["node"]["stats"]["resolved"], 6);
    // Only FAQ neighbours were asked for; the KB's answers edges are among them.
    assert!(
        delivery["neighbours"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["node"]["kind"] == "faq")
    );
    assert!(
        delivery["degree"].as_u64() > delivery["neighbours"].as_array().map(|a| a.len() as u64)
    );

    // From a corrected intent to the FAQ entry that resolves its look-alike, through the graph.
    let path = get(
        &host,
        "/v1/graph/path?from=intent:cancel_order&to=queue:complaints",
    );
    let nodes = path["nodes"].as_array().unwrap();
    assert_eq!(nodes.first().unwrap()["id"], "intent:cancel_order");
    assert_eq!(nodes.last().unwrap()["id"], "queue:complaints");
    assert_eq!(path["edges"].as_array().unwrap().len(), nodes.len() - 1);
}

#[test]
fn an_answer_the_customer_confirms_credits_its_faq_entry() {
    let (host, _dir) = app();
    let before = get(&host, "/v1/graph");
    assert!(before["edges_by_kind"].get("resolved_by").is_none());
    for message in [
        "七天无理由退货怎么算",
        "how long does shipping take to Beijing",
    ] {
        let turn = post(&host, "/v1/assist", &json!({"message": message}), 200);
        let (faq, intent) = (&turn["faq"]["faq_id"], &turn["intent"]["intent"]);
        assert!(faq.is_string() && intent.is_string(), "{message}: {turn}");
        // What the widget sends when the customer says the bot resolved it (web/widget.js).
        let outcome = json!({"event_id": format!("ok-{}", turn["conversation_id"].as_str().unwrap()),
            "conversation_id": turn["conversation_id"], "kind": "outcome", "resolved": true,
            "handled_by": "bot", "contact_count": 1, "channel": "web",
            "intent_predicted": intent, "faq_predicted": faq});
        post(&host, "/v1/feedback", &outcome, 201);
        let view = get(
            &host,
            &format!("/v1/graph/nodes/intent:{}", intent.as_str().unwrap()),
        );
        let faq_id = format!("faq:{}", faq.as_str().unwrap());
        let credited = neighbour(&view, "resolved_by", &faq_id).unwrap_or_else(|| panic!("{view}"));
        assert_eq!(credited["count"], 1, "{message}");
    }
}

#[test]
fn bad_graph_requests_are_problems() {
    let (host, _dir) = app();
    let call = |path: &str, auth: Option<&str>| {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        request_with(host.addr, "GET", path, &headers, Body::Empty).unwrap()
    };
    assert_problem(&call("/v1/graph", None), 401);
    assert_problem(
        &call("/v1/graph/nodes/intent:order_status", Some("Bearer nope")),
        403,
    );
    for (path, status) in [
        ("/v1/graph/nodes/intent:no_such", 404),
        ("/v1/graph/nodes/order_status", 422),
        ("/v1/graph/nodes/planet:earth", 422),
        ("/v1/graph/nodes/intent:%E8%AE%A2%E5%8D%95", 422),
        ("/v1/graph/nodes/intent:%FF", 400),
        (&format!("/v1/graph/nodes/intent:{}", "a".repeat(5000)), 422),
        ("/v1/graph/nodes/intent:order_status?limit=0", 422),
        ("/v1/graph/nodes/intent:order_status?limit=1001", 422),
        ("/v1/graph/nodes/intent:order_status?kind=planet", 422),
        ("/v1/graph/nodes/intent:order_status?limit=1&limit=2", 422),
        ("/v1/graph/path?from=intent:order_status", 422),
        ("/v1/graph/path?from=intent:order_status&to=tag:nope", 404),
        (
            "/v1/graph/path?from=intent:order_status&to=queue:vip&max_hops=99",
            422,
        ),
        ("/v1/graph/subgraph?kinds=", 200),
        ("/v1/graph/subgraph?kinds=intent,,faq", 422),
        ("/v1/graph/subgraph?limit=-1", 422),
        ("/v1/graph/elsewhere", 404),
    ] {
        let res = call(path, Some(BEARER));
        if status == 200 {
            assert_eq!(res.status, 200, "{path}: {}", res.text());
        } else {
            let p = assert_problem(&res, status);
            assert!(p["detail"].is_string(), "{path}: {p}");
        }
    }
    let post = request_with(
        host.addr,
        "POST",
        "/v1/graph",
        &[("Authorization", BEARER)],
        Body::Sized(b"{}"),
    )
    .unwrap();
    assert_problem(&post, 405);
}
