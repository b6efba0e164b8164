//! FAQ drafts from agents' answers, end to end: a question the bot could not answer goes to a
//! person, the agent's reply on the ticket becomes a draft attached to the question's gap,
//! an agent accepts it over `/v1/knowledge/drafts`, the export is applied to a copy of `kb/`
//! with `kb-loader apply-drafts`, and the FAQ that `kb-loader build` makes from it answers the
//! question (run natively on the rebuilt models, as the faq component runs them).

use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use tandem_tests::{
    Body, Host, assert_problem, request_with, start_app, target_dir, workspace_root,
};
use tempfile::TempDir;

const BEARER: &str = "Bearer drafts-test-token";
const PET_FOOD: &str = "do you sell dog food";

fn app() -> (Host, TempDir) {
    let dir = TempDir::new().unwrap();
    let env = vec![("SPIN_VARIABLE_AGENT_TOKEN", "drafts-test-token")];
    let host = start_app(&dir.path().join("data"), env).unwrap();
    (host, dir)
}

fn call(host: &Host, method: &str, path: &str, body: Option<&Value>) -> (u16, Value, String) {
    let bytes = body.map(|b| b.to_string());
    let body = match &bytes {
        Some(b) => Body::Sized(b.as_bytes()),
        None => Body::Empty,
    };
    let res = request_with(host.addr, method, path, &[("Authorization", BEARER)], body).unwrap();
    let text = res.text();
    (
        res.status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

fn ok(host: &Host, method: &str, path: &str, body: Option<&Value>) -> Value {
    let (status, v, text) = call(host, method, path, body);
    assert!(
        status == 200 || status == 201,
        "{method} {path}: {status} {text}"
    );
    v
}

/// A conversation whose question the bot cannot answer, then a person: its ticket id.
fn unanswered_then_person(host: &Host) -> (String, String) {
    let first = ok(
        host,
        "POST",
        "/v1/assist",
        Some(&json!({"message": PET_FOOD})),
    );
    assert_eq!(first["reply"]["source"], "fallback", "{first}");
    let conversation = first["conversation_id"].as_str().unwrap().to_string();
    let human = json!({"conversation_id": conversation, "message": "转人工 I want a real person"});
    let handed = ok(host, "POST", "/v1/assist", Some(&human));
    let ticket = handed["ticket"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{handed}"))
        .to_string();
    (conversation, ticket)
}

fn kb_loader(args: &[&str]) {
    let bin = target_dir().join("release/kb-loader");
    let out = Command::new(&bin)
        .args(args)
        .current_dir(workspace_root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kb-loader {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn an_agents_answer_becomes_an_faq_entry_that_answers_the_question() {
    let (host, dir) = app();
    let (conversation, ticket) = unanswered_then_person(&host);
    let reply = json!({"kind": "note", "actor": "ann",
        "text": "We don't sell pet food yet — only clothing and electronics. Call 13812345678 for news."});
    ok(
        &host,
        "POST",
        &format!("/v1/tickets/{ticket}/events"),
        Some(&reply),
    );

    let list = ok(&host, "GET", "/v1/knowledge/drafts?status=draft", None);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let draft = &items[0];
    assert_eq!(draft["question"], PET_FOOD);
    assert_eq!(draft["ticket_id"], ticket.as_str());
    assert_eq!(draft["question_id"], format!("{conversation}:1"));
    assert!(
        !draft["answer"].as_str().unwrap().contains("13812345678"),
        "masked: {draft}"
    );
    let id = draft["id"].as_str().unwrap().to_string();
    let path = format!("/v1/knowledge/drafts/{id}");
    // The gap it answers lists it.
    let gaps = ok(&host, "GET", "/v1/knowledge/gaps", None);
    let attached = &gaps["clusters"][0]["drafts"];
    assert_eq!(attached, &json!([{"id": id, "status": "draft"}]), "{gaps}");

    // Edit, then accept as a new entry; a stale version and a taken id are refused.
    let edit = json!({"version": 1, "answer": "We don't sell pet food yet: only clothing, shoes and electronics.", "lang": "en"});
    let edited = ok(&host, "PATCH", &path, Some(&edit));
    assert_eq!(edited["version"], 2);
    let (status, _, text) = call(
        &host,
        "PATCH",
        &path,
        Some(&json!({"version": 1, "status": "rejected"})),
    );
    assert_eq!(status, 409, "{text}");
    let taken = json!({"version": 2, "status": "accepted", "faq_id": "return_policy_7day"});
    let (status, p, _) = call(&host, "PATCH", &path, Some(&taken));
    assert_eq!(
        (status, &p["invalid-params"][0]["name"]),
        (422, &json!("faq_id")),
        "{p}"
    );
    let accept = json!({"version": 2, "status": "accepted", "faq_id": "pet_food",
                        "intent": "product_inquiry", "reviewed_by": "ann"});
    let accepted = ok(&host, "PATCH", &path, Some(&accept));
    assert_eq!(
        (&accepted["status"], &accepted["faq_id"]),
        (&json!("accepted"), &json!("pet_food"))
    );
    assert_eq!(ok(&host, "GET", &path, None), accepted);

    // The export, applied to a copy of kb/, rebuilt: the FAQ answers the question.
    let res = request_with(
        host.addr,
        "GET",
        "/v1/knowledge/drafts/export",
        &[("Authorization", BEARER)],
        Body::Empty,
    )
    .unwrap();
    assert_eq!(res.status, 200);
    assert_eq!(
        res.header("content-type"),
        Some("application/jsonl; charset=utf-8")
    );
    let export = res.text();
    assert_eq!(export.lines().count(), 1, "{export}");
    let kb = dir.path().join("kb");
    copy_dir(&workspace_root().join("kb"), &kb);
    let export_file = dir.path().join("drafts.jsonl");
    std::fs::write(&export_file, &export).unwrap();
    let (kb_arg, export_arg) = (kb.to_str().unwrap(), export_file.to_str().unwrap());
    kb_loader(&["apply-drafts", "--kb", kb_arg, "--drafts", export_arg]);
    let accepted_yaml = std::fs::read_to_string(kb.join("faq-accepted.yaml")).unwrap();
    assert!(accepted_yaml.contains("id: pet_food"), "{accepted_yaml}");
    let models = dir.path().join("models");
    kb_loader(&[
        "build",
        "--quiet",
        "--kb",
        kb_arg,
        "--out",
        models.to_str().unwrap(),
    ]);
    let runner = tandem_core::faq::runner::FaqRunner::from_bytes(
        &std::fs::read(models.join("faq.onnx")).unwrap(),
        &std::fs::read(models.join("faq.json")).unwrap(),
    )
    .unwrap();
    let ask = |question: &str| {
        let sentence = tandem_tests::sentence_embedding(question);
        let req = tandem_core::faq::runner::AskRequest {
            question,
            lang: None,
            top_k: 3,
            mode: tandem_core::faq::runner::Mode::Agent,
            sentence: Some(&sentence),
        };
        let answer = runner.ask(&req, None).unwrap();
        let top = answer.suggestions.first().map(|s| s.faq_id.clone());
        (answer.best.map(|b| b.faq_id), top)
    };
    assert_eq!(ask(PET_FOOD).0.as_deref(), Some("pet_food"), "answered");
    // The entries the KB had still rank first for their questions (the threshold is
    // re-calibrated with the new entry, so "answered" may move either way).
    assert_eq!(
        ask("七天无理由退货怎么算").1.as_deref(),
        Some("return_policy_7day")
    );
}

#[test]
fn a_reply_when_the_bot_had_answered_makes_no_draft_and_bad_reviews_are_problems() {
    let (host, _dir) = app();
    let answered = ok(
        &host,
        "POST",
        "/v1/assist",
        Some(&json!({"message": "退款多久到账？"})),
    );
    assert_eq!(answered["reply"]["source"], "faq");
    let conversation = answered["conversation_id"].as_str().unwrap();
    let human = json!({"conversation_id": conversation, "message": "转人工 I want a real person"});
    let ticket = ok(&host, "POST", "/v1/assist", Some(&human))["ticket"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let note = json!({"kind": "note", "actor": "ann", "text": "Refunds take 1-3 days."});
    ok(
        &host,
        "POST",
        &format!("/v1/tickets/{ticket}/events"),
        Some(&note),
    );
    assert_eq!(
        ok(&host, "GET", "/v1/knowledge/drafts", None)["items"],
        json!([])
    );
    assert_eq!(
        ok(&host, "GET", "/v1/knowledge", None)["drafts"]["draft"],
        0
    );

    let (_, ticket) = unanswered_then_person(&host);
    ok(
        &host,
        "POST",
        &format!("/v1/tickets/{ticket}/events"),
        Some(&note),
    );
    let id = ok(&host, "GET", "/v1/knowledge/drafts", None)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1/knowledge/drafts/{id}");
    for (body, status) in [
        (b"{".as_slice(), 400),
        (b"{\"version\": 1, \"colour\": \"red\"}".as_slice(), 422),
        (b"{\"version\": 1, \"status\": \"merged\"}".as_slice(), 422),
        (
            b"{\"version\": 1, \"status\": \"merged\", \"faq_id\": \"no_such_entry\"}".as_slice(),
            422,
        ),
        (b"{\"version\": 1, \"question\": \"\"}".as_slice(), 422),
        (b"{\"version\": 1, \"intent\": \"weather\"}".as_slice(), 422),
        (b"\xff\xfe".as_slice(), 400),
    ] {
        let res = request_with(
            host.addr,
            "PATCH",
            &path,
            &[("Authorization", BEARER)],
            Body::Sized(body),
        )
        .unwrap();
        assert_problem(&res, status);
    }
    let huge = format!(
        "{{\"version\": 1, \"answer\": \"{}\"}}",
        "长".repeat(10_000)
    );
    let res = request_with(
        host.addr,
        "PATCH",
        &path,
        &[("Authorization", BEARER)],
        Body::Sized(huge.as_bytes()),
    )
    .unwrap();
    assert_problem(&res, 413);
    // Nothing of that was written.
    assert_eq!(ok(&host, "GET", &path, None)["version"], 1);
    let merge = json!({"version": 1, "status": "merged", "faq_id": "refund_time"});
    assert_eq!(ok(&host, "PATCH", &path, Some(&merge))["status"], "merged");
    for (method, p, status) in [
        ("GET", "/v1/knowledge/drafts/dr_nope", 404),
        ("PATCH", "/v1/knowledge/drafts/export", 405),
        ("POST", "/v1/knowledge/drafts", 405),
        ("GET", "/v1/knowledge/drafts?status=maybe", 422),
    ] {
        let res = request_with(
            host.addr,
            method,
            p,
            &[("Authorization", BEARER)],
            Body::Sized(b"{}"),
        )
        .unwrap();
        assert_problem(&res, status);
    }
    let anonymous =
        request_with(host.addr, "GET", "/v1/knowledge/drafts", &[], Body::Empty).unwrap();
    assert_problem(&anonymous, 401);
    let export = request_with(
        host.addr,
        "GET",
        "/v1/knowledge/drafts/export",
        &[("Authorization", BEARER)],
        Body::Empty,
    )
    .unwrap();
    let line: Value = serde_json::from_str(export.text().trim()).unwrap();
    assert_eq!(
        line,
        json!({"op": "add_paraphrase", "draft": id, "faq": "refund_time", "lang": "en", "text": PET_FOOD})
    );
}
