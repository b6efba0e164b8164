//! Knowledge gaps over real HTTP: questions the bot could not answer in `/v1/assist` are kept
//! (masked, with their embeddings) and `GET /v1/knowledge/gaps` clusters them by meaning across
//! Chinese and English, ranked by count and by how often a person had to take over.

use serde_json::{Value, json};
use tandem_tests::{Body, Host, assert_problem, request_with, start_app};
use tempfile::TempDir;

const BEARER: &str = "Bearer gaps-test-token";

fn app() -> (Host, TempDir) {
    let dir = TempDir::new().unwrap();
    let env = vec![("SPIN_VARIABLE_AGENT_TOKEN", "gaps-test-token")];
    let host = start_app(&dir.path().join("data"), env).unwrap();
    (host, dir)
}

fn say(host: &Host, conversation: Option<&str>, message: &str) -> Value {
    let mut body = json!({"message": message, "customer": {"id": "c-gaps", "channel": "web"}});
    if let Some(c) = conversation {
        body["conversation_id"] = c.into();
    }
    let res = host.post("/v1/assist", body.to_string().as_bytes());
    assert_eq!(res.status, 200, "{message}: {}", res.text());
    res.json()
}

fn gaps(host: &Host, query: &str) -> (u16, Value, String) {
    let path = format!("/v1/knowledge/gaps{query}");
    let res = request_with(
        host.addr,
        "GET",
        &path,
        &[("Authorization", BEARER)],
        Body::Empty,
    )
    .unwrap();
    (res.status, res.json(), res.text())
}

/// The cluster holding the question `text` (by its examples or, for a cluster showing others,
/// by its size): the one whose examples include it.
fn cluster_with<'a>(report: &'a Value, text: &str) -> Option<&'a Value> {
    report["clusters"].as_array().unwrap().iter().find(|c| {
        c["examples"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["text"] == text)
    })
}

#[test]
fn unanswered_questions_cluster_by_meaning_across_languages() {
    let (host, _dir) = app();
    let pet_food = [
        "你们卖宠物粮吗",
        "do you sell dog food",
        "宠物狗粮有卖吗",
        "do you sell pet food",
    ];
    let weather = ["明天北京天气怎么样", "what's the weather like tomorrow"];
    let mut pet_conversation = None;
    // Pet-food questions that went to a person at once (the handoff rules may send an
    // out-of-scope first message to one).
    let mut pets_handed_off = 0;
    for message in pet_food.iter().chain(&weather) {
        let turn = say(&host, None, message);
        let source = turn["reply"]["source"].as_str().unwrap();
        assert!(
            source == "fallback" || (source == "handoff" && turn["intent"]["out_of_scope"] == true),
            "{message} must be a question the KB does not answer: {turn}"
        );
        if source == "handoff" && pet_food.contains(message) {
            pets_handed_off += 1;
        }
        if pet_conversation.is_none() && source == "fallback" && pet_food.contains(message) {
            pet_conversation = turn["conversation_id"].as_str().map(str::to_string);
        }
    }
    // A pet-food conversation that ends with a person: its question counts twice.
    let conversation = pet_conversation.expect("a pet-food question got the fallback");
    let human = say(&host, Some(&conversation), "转人工 I want a real person");
    assert_eq!(human["reply"]["source"], "handoff", "{human}");
    // Answered questions and a masked phone number.
    let answered = say(&host, None, "七天无理由退货怎么算");
    assert_eq!(answered["reply"]["source"], "faq", "{answered}");
    say(&host, None, "我想买一台二手拖拉机，电话 13812345678");

    let (status, report, text) = gaps(&host, "");
    assert_eq!(status, 200, "{text}");
    assert!(
        !text.contains("13812345678"),
        "a phone number leaked: {text}"
    );
    // The six gap questions and the tractor; not the FAQ answer nor the request for a person.
    assert_eq!(report["questions"], 7, "{report}");
    let pets = cluster_with(&report, pet_food[0])
        .or_else(|| cluster_with(&report, pet_food[1]))
        .expect("a pet-food cluster");
    assert_eq!(
        pets["questions"], 4,
        "all four, zh and en, in one cluster: {report}"
    );
    assert_eq!(pets["languages"], json!({"en": 2, "zh": 2}));
    // Plus the conversation escalated above.
    assert_eq!(pets["handed_off"], pets_handed_off + 1, "{pets}");
    assert_eq!(pets["score"], 4 + pets_handed_off + 1);
    assert_eq!(
        report["clusters"][0], *pets,
        "the biggest gap, with a handoff, ranks first"
    );
    for e in pets["examples"].as_array().unwrap() {
        assert!(pet_food.contains(&e["text"].as_str().unwrap()), "{pets}");
    }
    let rain = cluster_with(&report, weather[0])
        .or_else(|| cluster_with(&report, weather[1]))
        .expect("a weather cluster");
    assert_ne!(rain["id"], pets["id"]);
    assert_eq!(rain["questions"], 2, "{report}");

    let (_, big, _) = gaps(&host, "?min_questions=3");
    assert_eq!(big["clusters"].as_array().unwrap().len(), 1, "{big}");
    let (_, one, _) = gaps(&host, "?limit=1");
    assert_eq!(one["clusters"].as_array().unwrap().len(), 1);
    let (_, future, _) = gaps(&host, "?from=2099-01-01");
    assert_eq!(
        (
            future["questions"].as_u64(),
            future["clusters"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
}

#[test]
fn bad_gap_requests_are_problems() {
    let (host, _dir) = app();
    let anonymous = request_with(host.addr, "GET", "/v1/knowledge/gaps", &[], Body::Empty).unwrap();
    assert_problem(&anonymous, 401);
    for query in [
        "?limit=0",
        "?limit=201",
        "?min_questions=0",
        "?from=yesterday",
        "?from=2026-12-02&to=2026-12-01",
        "?cluster=1",
    ] {
        let (status, body, text) = gaps(&host, query);
        assert_eq!(status, 422, "{query}: {text}");
        assert!(body["detail"].is_string(), "{query}: {body}");
    }
    let (status, _, _) = gaps(&host, "?from=%FF");
    assert_eq!(status, 400);
    let other = request_with(
        host.addr,
        "GET",
        "/v1/knowledge/other",
        &[("Authorization", BEARER)],
        Body::Empty,
    )
    .unwrap();
    assert_problem(&other, 404);
}
