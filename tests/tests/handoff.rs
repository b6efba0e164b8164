//! Handoff end to end: the models in `models/` through tract (negation, held-out targets), the
//! composed component (`target/tandem/handoff.wasm`, intent plugged in) and `POST /v1/handoff`
//! through the real host.

use serde_json::{Value, json};
use tandem_core::handoff::NEGATIVITY_WINDOW;
use tandem_core::handoff::model::HandoffEngine;
use tandem_core::handoff::sentiment::SentimentRunner;
use tandem_tests::manifest::{Component, Manifest};
use tandem_tests::{
    Host, HostOptions, assert_problem, component, sentence_embedding, target_dir, workspace_root,
};
use tempfile::TempDir;

fn model(name: &str) -> Vec<u8> {
    let path = workspace_root().join("models").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run kb-loader build)", path.display()))
}

fn sentiment() -> SentimentRunner {
    SentimentRunner::from_bytes(&model("sentiment.onnx"), &model("sentiment.json")).unwrap()
}

/// Analyses natively as the handoff component does: with the text's sentence embedding when
/// the model is of the semantic tier.
fn analyze(s: &SentimentRunner, text: &str) -> tandem_core::handoff::sentiment::Sentiment {
    let embedding = s.uses_embedding().then(|| sentence_embedding(text));
    s.analyze_embedded(text, embedding.as_deref()).unwrap()
}

#[test]
fn sentiment_model_handles_negation_in_both_languages() {
    let s = sentiment();
    for (text, label) in [
        ("我不是很生气，只是想问一下", "neutral"),
        ("很生气", "negative"),
        ("not happy at all", "negative"),
        ("I'm not happy at all with this", "negative"),
        ("气死我了，太差了", "negative"),
        ("this is the worst service ever", "negative"),
        ("非常满意，谢谢", "positive"),
        ("not bad at all", "positive"),
    ] {
        let a = analyze(&s, text);
        assert_eq!(a.label, label, "{text}: {a:?}");
        assert!((0.0..=1.0).contains(&a.score));
    }
    // The bare negation is the one short text the semantic tier still leans negative on
    // (docs/handoff.md, "Sentiment"): the negation lowers the probability, and below the
    // lowest frustration rule of the sample KB (0.6) it escalates nobody.
    let angry = analyze(&s, "很生气").negative;
    let not_angry = analyze(&s, "不是很生气").negative;
    assert!(
        not_angry < angry && not_angry < 0.6,
        "{not_angry} vs {angry}"
    );
}

#[test]
fn shipped_models_meet_the_held_out_targets() {
    // Measured by kb-loader on the held-out conversations and recorded in the manifest; the
    // engine loading the same files proves the manifest belongs to these models.
    let engine = HandoffEngine::from_bytes(
        &model("handoff.onnx"),
        &model("handoff.json"),
        &model("sentiment.onnx"),
        &model("sentiment.json"),
    )
    .unwrap();
    let m = &engine.manifest().metrics["held_out"];
    assert!(m["conversations"].as_u64().unwrap() >= 50, "{m}");
    assert!(
        m["explicit_and_sensitive_recall"].as_f64().unwrap() >= 0.95,
        "{m}"
    );
    assert!(m["precision"].as_f64().unwrap() >= 0.85, "{m}");
}

#[test]
fn composed_component_has_no_service_imports_left() {
    let path = target_dir().join("tandem").join("handoff.wasm");
    let (host, _dir) = app(); // builds the app, handoff included
    drop(host);
    let wasm = std::fs::read(&path).unwrap();
    let imports = tandem_tests::component_imports(&wasm).unwrap();
    // Only the types-only interface may remain (intent.wasm alone imports it too).
    assert!(
        !imports
            .iter()
            .any(|i| i.starts_with("tandem:service/") && !i.starts_with("tandem:service/types@")),
        "{imports:?}"
    );
    assert!(
        imports.iter().any(|i| i.starts_with("wasi:")),
        "{imports:?}"
    );
    // Before composition the import is there: the test would see a missing composition.
    let unplugged =
        std::fs::read(target_dir().join("tandem").join("handoff.unplugged.wasm")).unwrap();
    assert!(
        tandem_tests::component_imports(&unplugged)
            .unwrap()
            .iter()
            .any(|i| i.starts_with("tandem:service/intent")),
    );
}

/// The handoff component as `spin.toml` builds it (pre-initialised, intent composed in),
/// served with health by the real host from a manifest of just those two, so these tests do
/// not wait for, or depend on, the other components.
fn app() -> (Host, TempDir) {
    let handoff = tandem_tests::built_component("handoff");
    let health = component("tandem-health");
    let dir = TempDir::new().unwrap();
    let manifest = Manifest::new("handoff-test")
        .component(Component::new("health", &health).route("/v1/health"))
        .component(Component::new("handoff", &handoff).route("/v1/handoff/..."))
        .write(dir.path());
    let host = Host::start(&manifest, &dir.path().join("data"), HostOptions::default()).unwrap();
    (host, dir)
}

/// A Monday morning, when every queue of the sample KB is open: the tests that are not about
/// business hours pin it, so that they decide the same at any hour of the day.
const OPEN: &str = "2026-12-07T10:00:00+08:00";

/// Posts the body, with `at` set to [`OPEN`] unless it names its own time.
fn decide(host: &Host, body: &Value) -> Value {
    let mut body = body.clone();
    if body.get("at").is_none() {
        body["at"] = json!(OPEN);
    }
    decide_as_is(host, &body)
}

fn decide_as_is(host: &Host, body: &Value) -> Value {
    let res = host.post("/v1/handoff", body.to_string().as_bytes());
    assert_eq!(res.status, 200, "{body}: {}", res.text());
    res.json()
}

fn customer(text: &str) -> Value {
    json!({"role": "customer", "text": text})
}

#[test]
fn decides_through_the_host() {
    let (host, _dir) = app();
    assert_eq!(
        host.get("/v1/handoff/health").json()["component"],
        "handoff"
    );

    // Explicit requests, zh / en / mixed.
    for text in [
        "我要转人工",
        "I want to talk to a real person",
        "这个问题 agent please",
    ] {
        let out = decide(
            &host,
            &json!({"conversation_id": "c1", "turns": [customer(text)]}),
        );
        assert_eq!(out["decision"], "human", "{text}: {out}");
        assert_eq!(out["driver"], "explicit_request", "{out}");
        assert_eq!(out["queue"], "general");
        let reason = &out["reasons"][0];
        assert!(
            reason["message_zh"].as_str().unwrap().contains("人工"),
            "{out}"
        );
        assert!(!reason["message_en"].as_str().unwrap().is_empty());
        assert!(
            out["model"]["version"]
                .as_str()
                .unwrap()
                .starts_with("tandem-shop-")
        );
    }

    // A sensitive topic: urgent, to its queue.
    let out = decide(
        &host,
        &json!({"conversation_id": "c2", "turns": [customer("你们再不退款我就找律师起诉")]}),
    );
    assert_eq!(
        (out["decision"].as_str(), out["driver"].as_str()),
        (Some("human"), Some("sensitive_legal")),
        "{out}"
    );
    assert_eq!(
        (out["queue"].as_str(), out["priority"].as_str()),
        (Some("complaints"), Some("urgent"))
    );
    assert_eq!(out["signals"]["sensitive_topics"], json!(["legal"]));

    // A routine question stays with the bot, decided by the score; the intent came from the
    // composed intent component (the request gave none).
    let out = decide(
        &host,
        &json!({"conversation_id": "c3", "customer": {"tier": "standard"},
        "turns": [customer("我的订单到哪了")]}),
    );
    assert_eq!(
        (out["decision"].as_str(), out["driver"].as_str()),
        (Some("bot"), Some("score")),
        "{out}"
    );
    assert_eq!(out["signals"]["intent"], "order_status", "{out}");
    let score = out["score"].as_f64().unwrap();
    assert!((0.0..0.5).contains(&score), "{out}");

    // Two bot failures in a row.
    let out = decide(
        &host,
        &json!({"conversation_id": "c4", "turns": [
        customer("我想把两个订单的商品合在一起换货"),
        {"role": "bot", "text": "Sorry, I didn't get that.", "answered": false},
        customer("就是两个订单的东西一起寄回去换另一个款"),
        {"role": "bot", "text": "Sorry, I can't help with that yet.", "answered": false},
        customer("好的，那还有别的办法吗")]}),
    );
    assert_eq!(out["driver"], "bot_failures", "{out}");
    assert_eq!(out["signals"]["bot_failures"], 2);

    // Negation: "not angry" from a VIP is no frustration; "not happy at all" is.
    let out = decide(
        &host,
        &json!({"conversation_id": "c5", "customer": {"tier": "vip"},
        "turns": [customer("我不是很生气，就是想问问发货时间")]}),
    );
    assert_eq!(out["decision"], "bot", "{out}");
    let out = decide(
        &host,
        &json!({"conversation_id": "c6", "customer": {"tier": "vip"},
        "turns": [customer("I'm not happy at all, this is the second broken one")]}),
    );
    assert_eq!(out["decision"], "human", "{out}");
    assert!(
        out["signals"]["frustration"].as_f64().unwrap() >= 0.6,
        "{out}"
    );
    // The latest customer turn's negativity comes back for the caller to store on that turn;
    // a turn that carries one is taken at its word (not run through the encoder again), so
    // the same calm text reads as frustrated when an earlier decision found it so.
    let latest = out["signals"]["latest_negative"].as_f64().unwrap();
    assert_eq!(
        latest,
        out["signals"]["frustration"].as_f64().unwrap(),
        "{out}"
    );
    let calm = "where is my parcel 我的包裹到哪了";
    let out = decide(
        &host,
        &json!({"conversation_id": "c6b", "customer": {"tier": "vip"},
        "turns": [{"role": "customer", "text": calm, "negative": 0.97}]}),
    );
    assert_eq!(out["decision"], "human", "{out}");
    assert!(
        (out["signals"]["latest_negative"].as_f64().unwrap() - 0.97).abs() < 1e-6,
        "{out}"
    );
    let out = decide(
        &host,
        &json!({"conversation_id": "c6c", "customer": {"tier": "vip"}, "turns": [customer(calm)]}),
    );
    assert_eq!(out["decision"], "bot", "{out}");
    assert!(
        out["signals"]["latest_negative"].as_f64().unwrap() < 0.6,
        "{out}"
    );

    // No agent online: a ticket instead, and it says so in both languages.
    let out = decide(
        &host,
        &json!({"conversation_id": "c7", "agents_online": 0, "turns": [customer("转人工")]}),
    );
    assert_eq!(out["decision"], "ticket", "{out}");
    assert_eq!(out["reasons"][1]["code"], "no_agent_online");

    // Outside business hours: a ticket, with that reason (the root cause even with nobody
    // online); inside hours with agents, a person; a calm question stays with the bot.
    let out = decide(
        &host,
        &json!({"conversation_id": "c7b", "within_business_hours": false, "agents_online": 0,
                "turns": [customer("I want a real person 转人工")]}),
    );
    assert_eq!(out["decision"], "ticket", "{out}");
    assert_eq!(out["reasons"].as_array().unwrap().len(), 2, "{out}");
    assert_eq!(out["reasons"][1]["code"], "outside_business_hours");
    assert!(
        out["reasons"][1]["message_zh"]
            .as_str()
            .unwrap()
            .contains("服务时间")
    );
    let open = json!({"conversation_id": "c7c", "within_business_hours": true, "agents_online": 2,
                      "turns": [customer("转人工")]});
    assert_eq!(decide(&host, &open)["decision"], "human");
    let calm = json!({"conversation_id": "c7d", "within_business_hours": false,
                      "turns": [customer("hello")]});
    let out = decide(&host, &calm);
    assert_eq!(out["decision"], "bot", "{out}");

    // Deterministic.
    let body =
        json!({"conversation_id": "c8", "turns": [customer("退款怎么还没到 where is my refund")]});
    assert_eq!(decide(&host, &body), decide(&host, &body));

    // Sentiment counts over the last NEGATIVITY_WINDOW customer turns: forty angry turns before
    // ten calm ones leave the same negativity as the calm ones alone, while one angry turn
    // inside the window raises it.
    let calm: Vec<Value> = (0..NEGATIVITY_WINDOW)
        .map(|i| customer(&format!("好的，第 {i} 个问题 thanks, got it")))
        .collect();
    let angry = customer("气死我了，太差了 this is the worst service ever");
    let with = |before: Vec<Value>, after: &[Value]| -> Value {
        let turns: Vec<Value> = before.into_iter().chain(after.iter().cloned()).collect();
        decide(&host, &json!({"conversation_id": "mood", "turns": turns}))["signals"].clone()
    };
    let only_calm = with(vec![], &calm);
    let angry_long_ago = with(vec![angry.clone(); 40], &calm);
    assert_eq!(
        angry_long_ago["negativity_mean"], only_calm["negativity_mean"],
        "{angry_long_ago}"
    );
    assert_eq!(angry_long_ago["frustration"], only_calm["frustration"]);
    assert_eq!(angry_long_ago["customer_turns"], 50);
    let angry_recently = with(vec![], &[&calm[1..], &[angry]].concat());
    assert!(
        angry_recently["negativity_mean"].as_f64() > only_calm["negativity_mean"].as_f64(),
        "{angry_recently} vs {only_calm}"
    );
}

/// Business hours from the KB's calendars (kb/kb.yaml): `general` and the other front-desk
/// queues every day 09:00-21:00 (+08:00, holidays included, open until midnight on sale days),
/// `complaints` Monday to Friday 09:00-12:00 and 13:30-18:00, closed on public holidays.
#[test]
fn calendars_decide_by_the_queues_hours() {
    let (host, _dir) = app();
    let at = |turn: &str, at: &str| {
        decide(
            &host,
            &json!({"conversation_id": "cal", "at": at, "turns": [customer(turn)]}),
        )
    };
    let legal = "你们再不退款我就找律师起诉";
    let explicit = "转人工";
    let hours = |out: &Value| out["business_hours"].clone();

    // 12:30 on Monday, the complaints team's lunch break: a ticket, and when they are back.
    let out = at(legal, "2026-12-07T12:30:00+08:00");
    assert_eq!(
        (out["decision"].as_str(), out["queue"].as_str()),
        (Some("ticket"), Some("complaints")),
        "{out}"
    );
    assert_eq!(
        hours(&out),
        json!({"queue": "complaints", "open": false, "source": "calendar",
               "at": "2026-12-07T12:30:00+08:00", "next_open": "2026-12-07T13:30:00+08:00"})
    );
    let reason = &out["reasons"][1];
    assert_eq!(reason["code"], "outside_business_hours", "{out}");
    assert!(
        reason["message_zh"]
            .as_str()
            .unwrap()
            .contains("2026-12-07 13:30 (UTC+08:00) 恢复服务"),
        "{out}"
    );
    assert!(
        reason["message_en"]
            .as_str()
            .unwrap()
            .contains("back at 2026-12-07 13:30 (UTC+08:00)"),
        "{out}"
    );
    // The front desk has no lunch break: a person.
    let out = at(explicit, "2026-12-07T12:30:00+08:00");
    assert_eq!(out["decision"], "human", "{out}");
    assert_eq!(hours(&out)["open"], true);
    // After lunch the complaints team takes it.
    assert_eq!(at(legal, "2026-12-07T13:30:00+08:00")["decision"], "human");

    // A public holiday (New Year's Day 2027, a Friday): complaints closed until Monday, the
    // front desk open as the service_hours FAQ promises.
    let out = at(legal, "2027-01-01T10:00:00+08:00");
    assert_eq!(out["decision"], "ticket", "{out}");
    assert_eq!(hours(&out)["next_open"], "2027-01-04T09:00:00+08:00");
    assert_eq!(
        at(explicit, "2027-01-01T10:00:00+08:00")["decision"],
        "human"
    );
    // A special day: the front desk stays open until midnight on 11.11.
    assert_eq!(
        at(explicit, "2027-11-11T22:30:00+08:00")["decision"],
        "human"
    );
    let out = at(explicit, "2027-11-12T22:30:00+08:00");
    assert_eq!(out["decision"], "ticket", "{out}");
    assert_eq!(hours(&out)["next_open"], "2027-11-13T09:00:00+08:00");

    // Across time-zone boundaries: the calendar's zone decides, whatever zone `at` is written
    // in. 04:30Z = 12:30 in Beijing (lunch), though 04:30 would be closed and 12:30 UTC open.
    for instant in [
        "2026-12-07T04:30:00Z",
        "2026-12-06T23:30:00-05:00",
        "2026-12-07T05:30:00+01:00",
    ] {
        let out = at(legal, instant);
        assert_eq!(out["decision"], "ticket", "{instant}: {out}");
        assert_eq!(hours(&out)["at"], "2026-12-07T12:30:00+08:00", "{out}");
    }
    // 01:30Z, an hour when a UTC desk would be closed, is 09:30 in Beijing: open.
    assert_eq!(at(legal, "2026-12-07T01:30:00Z")["decision"], "human");
    // 13:30Z is 21:30 in Beijing: the front desk has closed, back at 09:00 local time.
    let out = at(explicit, "2026-12-07T13:30:00Z");
    assert_eq!(out["decision"], "ticket", "{out}");
    assert_eq!(hours(&out)["next_open"], "2026-12-08T09:00:00+08:00");
    // The date is the calendar's too: Thursday 31 December at 18:00 in San Francisco is
    // already 10:00 on New Year's Day in Beijing, a holiday for the complaints team.
    let out = at(legal, "2026-12-31T18:00:00-08:00");
    assert_eq!(out["decision"], "ticket", "{out}");
    assert_eq!(hours(&out)["at"], "2027-01-01T10:00:00+08:00");
    assert_eq!(hours(&out)["next_open"], "2027-01-04T09:00:00+08:00");

    // The caller's boolean overrides the calendar, both ways.
    let out = decide(
        &host,
        &json!({"conversation_id": "cal", "at": "2026-12-07T12:30:00+08:00",
                "within_business_hours": true, "turns": [customer(legal)]}),
    );
    assert_eq!(out["decision"], "human", "{out}");
    assert_eq!(
        hours(&out),
        json!({"queue": "complaints", "open": true, "source": "request"})
    );
    let out = decide(
        &host,
        &json!({"conversation_id": "cal", "at": "2026-12-07T10:00:00+08:00",
                "within_business_hours": false, "turns": [customer(explicit)]}),
    );
    assert_eq!(out["decision"], "ticket", "{out}");

    // A bot decision reads no calendar.
    let out = at("我的订单到哪了", "2026-12-07T23:00:00+08:00");
    assert_eq!(out["decision"], "bot", "{out}");
    assert!(out.get("business_hours").is_none(), "{out}");

    // Without `at`, the calendar is read at the wall clock's now.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let out = decide_as_is(
        &host,
        &json!({"conversation_id": "cal", "turns": [customer(explicit)]}),
    );
    let h = hours(&out);
    assert_eq!(h["source"], "calendar", "{out}");
    let read_at =
        tandem_core::foundation::calendar::parse_rfc3339(h["at"].as_str().unwrap()).unwrap();
    assert!((read_at - now).abs() < 300, "{out}");
    let open = h["open"].as_bool().unwrap();
    assert_eq!(
        out["decision"],
        if open { "human" } else { "ticket" },
        "{out}"
    );

    // A time that is not RFC 3339: 422 naming `at`.
    for bad in ["2026-12-07 12:30", "yesterday", "2026-12-07T12:30:00"] {
        let res = host.post(
            "/v1/handoff",
            json!({"conversation_id": "cal", "at": bad, "turns": [customer(explicit)]})
                .to_string()
                .as_bytes(),
        );
        let p = assert_problem(&res, 422);
        assert!(p.to_string().contains("\"at\""), "{bad}: {p}");
    }
}

#[test]
fn limits_and_bad_input_are_problems() {
    let (host, _dir) = app();
    let post = |body: &str| host.post("/v1/handoff", body.as_bytes());
    for negative in ["1.5", "-0.1", "\"high\""] {
        let p = assert_problem(
            &post(&format!(
                r#"{{"conversation_id": "x", "turns": [{{"role": "customer", "text": "hi", "negative": {negative}}}]}}"#
            )),
            422,
        );
        assert!(
            p.to_string().contains("turns[0].negative") || negative.starts_with('"'),
            "{p}"
        );
    }
    assert_problem(&post(r#"{"conversation_id": "x", "turns": []}"#), 422);
    let p = assert_problem(
        &post(r#"{"conversation_id": "x", "turns": [{"role": "robot", "text": "hi"}]}"#),
        422,
    );
    assert!(p.to_string().contains("turns[0].role"), "{p}");
    assert_problem(
        &post(r#"{"conversation_id": "x", "turns": [{"role": "customer"}]}"#),
        422,
    );
    assert_problem(
        &post(
            r#"{"conversation_id": "x", "turns": [{"role": "customer", "text": "hi", "mood": 1}]}"#,
        ),
        422,
    );
    assert_problem(
        &post(
            r#"{"conversation_id": "x", "turns": [{"role": "customer", "text": "hi", "confidence": 2}]}"#,
        ),
        422,
    );
    assert_problem(
        &post(r#"{"conversation_id": "", "turns": [{"role": "customer", "text": "hi"}]}"#),
        422,
    );
    assert_problem(
        &post(
            r#"{"conversation_id": "x", "within_business_hours": "yes", "turns": [{"role": "customer", "text": "hi"}]}"#,
        ),
        422,
    );
    assert_problem(&post(r#"{"conversation_id": "x", "turns": "#), 400);
    assert_problem(&post(""), 400);
    assert_problem(&host.post("/v1/handoff", &[0xff, 0xfe]), 400);
    let long = "长".repeat(2000);
    assert_problem(
        &post(&json!({"conversation_id": "x", "turns": [customer(&long)]}).to_string()),
        413,
    );
    assert_problem(&host.get("/v1/handoff"), 405);

    // 200 turns is the documented limit: accepted; 201 is not.
    let turns = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| {
                if i % 2 == 0 {
                    customer(&format!("第 {i} 个问题 question"))
                } else {
                    json!({"role": "bot", "text": "好的 ok", "answered": true})
                }
            })
            .collect()
    };
    let out = decide(
        &host,
        &json!({"conversation_id": "long", "turns": turns(200)}),
    );
    assert_eq!(out["signals"]["turns"], 200);
    assert_eq!(
        out["decision"], "human",
        "200 turns trip the long-conversation rule: {out}"
    );
    let p = assert_problem(
        &post(&json!({"conversation_id": "long", "turns": turns(201)}).to_string()),
        422,
    );
    assert!(p.to_string().contains("200"), "{p}");
}
