use super::*;
use crate::foundation::vocab::{Lang, Role};
use crate::kb::Localized;
use std::collections::{BTreeMap, BTreeSet};

#[test]
fn a_tickets_key_names_its_conversation() {
    let key = idempotency_key("cv_abc", 3);
    assert_eq!(conversation_of_key(&key), Some("cv_abc"));
    assert_eq!(conversation_of_key("crm:cv_abc:3"), None);
    assert_eq!(conversation_of_key("assist:cv_abc:x"), None);
    assert_eq!(conversation_of_key("assist::1"), None);
}

#[test]
fn a_gap_is_a_fallback_or_the_handoff_of_what_nothing_covers() {
    assert!(is_knowledge_gap(Source::Fallback, false, false));
    assert!(is_knowledge_gap(Source::Handoff, false, true));
    assert!(
        !is_knowledge_gap(Source::Handoff, false, false),
        "in scope: a person's job"
    );
    assert!(
        !is_knowledge_gap(Source::Handoff, true, true),
        "the FAQ had an answer"
    );
    assert!(!is_knowledge_gap(Source::Faq, true, true));
    assert!(!is_knowledge_gap(Source::Intent, false, false));
}

fn policy() -> AssistPolicy {
    let loc = |zh: &str, en: &str| {
        Localized::from([("zh".to_string(), zh.to_string()), ("en".into(), en.into())])
    };
    AssistPolicy {
        model_version: "test-1".into(),
        templates: BTreeMap::from([
            (
                "order_status".into(),
                loc("订单 {order_id} 已发货。", "Order {order_id} has shipped."),
            ),
            ("greeting".into(), loc("您好！", "Hello!")),
            (
                "complaint".into(),
                loc("正在为您转接投诉专员。", "Transferring you."),
            ),
        ]),
        entities: BTreeMap::from([(
            "order_id".into(),
            r"(?-u:\b)(?:TD\d{10,14}|\d{12,16})(?-u:\b)".into(),
        )]),
        intent_names: BTreeMap::from([(
            "order_status".into(),
            loc("查询订单状态", "Order status"),
        )]),
        queue_names: BTreeMap::from([("orders".into(), loc("订单组", "Orders"))]),
        always_human: BTreeSet::from(["complaint".to_string()]),
    }
}

fn replies() -> Replies {
    Replies::new(policy()).unwrap()
}

/// A reply in the message's own language.
fn say(
    r: &Replies,
    message: &str,
    intent: &IntentView,
    faq_answer: Option<&str>,
    handoff: &HandoffView<'_>,
    pending: Option<&Pending>,
) -> Reply {
    r.compose(
        message,
        Lang::of(message),
        intent,
        faq_answer,
        handoff,
        pending,
    )
}

#[test]
fn a_message_without_words_keeps_the_conversations_language() {
    assert_eq!(Lang::of_turn("TD2026112612345", Some(Lang::Zh)), Lang::Zh);
    assert_eq!(
        Lang::of_turn(" 202611261234567 ? ", Some(Lang::Zh)),
        Lang::Zh
    );
    assert_eq!(Lang::of_turn("👍", Some(Lang::En)), Lang::En);
    assert_eq!(Lang::of_turn("TD2026112612345", None), Lang::En);
    assert_eq!(
        Lang::of_turn("it's TD2026112612345", Some(Lang::Zh)),
        Lang::En
    );
    assert_eq!(
        Lang::of_turn("订单 TD2026112612345", Some(Lang::En)),
        Lang::Zh
    );
    assert_eq!(Lang::of_turn("ok", Some(Lang::Zh)), Lang::En);
}

fn intent(id: &str, confidence: f32) -> IntentView {
    IntentView {
        intent: id.into(),
        confidence,
        out_of_scope: confidence < 0.25,
    }
}

const BOT: HandoffView<'static> = HandoffView {
    decision: Decision::Bot,
    ticket_id: None,
    ticket_queue: None,
    ticket_is_new: false,
    back_at: None,
};

#[test]
fn ids_are_unguessable_shapes() {
    let a = conversation_id([0u8; 16]);
    let b = conversation_id([0xffu8; 16]);
    let c = conversation_id([7u8; 16]);
    for id in [&a, &b, &c] {
        assert_eq!(id.len(), 29, "{id}");
        assert!(is_conversation_id(id), "{id}");
    }
    assert_eq!(a, "cv_00000000000000000000000000");
    assert_ne!(b, c);
    // Every bit matters: flipping the lowest bit changes the id.
    let mut r = [7u8; 16];
    r[15] ^= 1;
    assert_ne!(conversation_id(r), c);
    for bad in [
        "",
        "cv_",
        "c-42",
        "cv_0000000000000000000000000",
        "cv_000000000000000000000000000",
        "cv_0000000000000000000000000u",
        "CV_00000000000000000000000000",
        "cv_0000000000000000000000000I",
        "tk_00000000000000000000000000",
    ] {
        assert!(!is_conversation_id(bad), "{bad}");
    }
}

#[test]
fn clip_keeps_characters_whole() {
    assert_eq!(clip("short"), "short");
    let long = "字".repeat(2000);
    let c = clip(&long);
    assert!(c.len() <= MAX_MESSAGE_BYTES && c.len() > MAX_MESSAGE_BYTES - 3);
    assert!(c.chars().all(|ch| ch == '字'));
}

#[test]
fn keys_are_ascii_and_short() {
    let id = conversation_id([9u8; 16]);
    let key = idempotency_key(&id, 4_000_000_000);
    assert!(key.len() <= 128 && key.bytes().all(|b| b.is_ascii_graphic()));
    assert_ne!(idempotency_key(&id, 1), idempotency_key(&id, 2));
    assert!(state_key(&id).ends_with(&id));
}

fn request(message: &str) -> AssistRequest {
    AssistRequest {
        message: message.into(),
        ..Default::default()
    }
}

#[test]
fn validation_names_fields_and_sorts_statuses() {
    assert!(request("退款多久到账").validate().is_ok());
    let p = request("   ").validate().unwrap_err();
    assert_eq!(p.status, 422);
    assert_eq!(p.invalid_params[0].name, "message");
    let p = request(&"字".repeat(1366)).validate().unwrap_err();
    assert_eq!(p.status, 413);
    assert!(request(&"a".repeat(4096)).validate().is_ok());
    let mut r = request("hi");
    r.conversation_id = Some("c-42".into());
    assert_eq!(
        r.validate().unwrap_err().invalid_params[0].name,
        "conversation_id"
    );
    r.conversation_id = Some(conversation_id([1; 16]));
    assert!(r.validate().is_ok());
    r.customer = Some(CustomerInput {
        tier: Some("x".repeat(33)),
        id: Some(" ".into()),
        name: Some("王小明".into()),
        ..Default::default()
    });
    let p = r.validate().unwrap_err();
    assert_eq!(p.status, 422);
    let names: Vec<&str> = p.invalid_params.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["customer.id", "customer.tier"]);
}

#[test]
fn unknown_fields_are_refused() {
    let p = crate::foundation::problem::decode_json::<AssistRequest>(
        br#"{"message": "hi", "customer": {"vip": true}}"#,
        MAX_BODY_BYTES,
    )
    .unwrap_err();
    assert_eq!(p.status, 422);
    let p = crate::foundation::problem::decode_json::<AssistRequest>(
        br#"{"message": "hi", "text": "x"}"#,
        MAX_BODY_BYTES,
    )
    .unwrap_err();
    assert_eq!(p.status, 422);
}

#[test]
fn state_expires_after_the_ttl_and_round_trips() {
    let id = conversation_id([3; 16]);
    let mut c = Conversation::new(id.clone(), 1_000);
    let bytes = serde_json::to_vec(&c).unwrap();
    assert!(matches!(lookup(&id, Some(&bytes), 1_000), Lookup::Live(_)));
    assert!(matches!(
        lookup(&id, Some(&bytes), 1_000 + CONVERSATION_TTL_MS),
        Lookup::Live(_)
    ));
    assert_eq!(
        lookup(&id, Some(&bytes), 1_001 + CONVERSATION_TTL_MS),
        Lookup::Expired
    );
    assert_eq!(lookup(&id, None, 1_000), Lookup::Missing);
    assert_eq!(lookup(&id, Some(b"garbage"), 1_000), Lookup::Missing);
    // A value stored under another id (never happens unless keys collide) is not continued.
    assert_eq!(
        lookup(&conversation_id([4; 16]), Some(&bytes), 1_000),
        Lookup::Missing
    );
    // A turn moves the clock: the TTL counts from the last turn.
    let reply = Reply {
        text: "ok".into(),
        source: Source::Faq,
        lang: Lang::En,
        answered: Some(true),
        pending: None,
    };
    c.record_turn(Turn::customer("hi"), &reply, 1_000 + CONVERSATION_TTL_MS);
    let bytes = serde_json::to_vec(&c).unwrap();
    assert!(matches!(
        lookup(&id, Some(&bytes), 1_000 + 2 * CONVERSATION_TTL_MS),
        Lookup::Live(_)
    ));
}

impl Turn {
    fn customer(text: &str) -> Turn {
        Turn {
            role: Role::Customer,
            text: text.into(),
            intent: None,
            confidence: None,
            answered: None,
            negative: None,
        }
    }
}

#[test]
fn turns_are_recorded_in_pairs_and_capped() {
    let mut c = Conversation::new(conversation_id([5; 16]), 0);
    let reply = Reply {
        text: fallback_text(Lang::En).into(),
        source: Source::Fallback,
        lang: Lang::En,
        answered: Some(false),
        pending: None,
    };
    for i in 0..150 {
        let t = Turn::customer(&format!("q{i}"));
        let transcript = c.transcript_with(&t);
        assert!(transcript.len() <= MAX_KEPT_TURNS);
        assert_eq!(transcript.last(), Some(&t));
        c.record_turn(t, &reply, i);
    }
    assert_eq!(c.customer_turns, 150);
    assert_eq!(c.turns.len(), MAX_KEPT_TURNS);
    assert_eq!(c.turns.last().unwrap().role, Role::Bot);
    assert_eq!(c.turns.last().unwrap().answered, Some(false));
    assert_eq!(c.turns[c.turns.len() - 2].text, "q149");
    assert_eq!(c.turns[0].text, "q50");
    assert_eq!(
        c.transcript_with(&Turn::customer("x")).len(),
        MAX_KEPT_TURNS
    );
}

#[test]
fn customer_fields_merge_and_default_id() {
    let mut c = Conversation::new(conversation_id([6; 16]), 0);
    assert_eq!(c.customer_id(), c.id);
    c.merge_customer(Some(&CustomerInput {
        id: Some(" u-1 ".into()),
        tier: Some("vip".into()),
        ..Default::default()
    }));
    c.merge_customer(Some(&CustomerInput {
        name: Some("Ann".into()),
        ..Default::default()
    }));
    c.merge_customer(None);
    assert_eq!(c.customer_id(), "u-1");
    assert_eq!(c.customer.tier.as_deref(), Some("vip"));
    assert_eq!(c.customer.name.as_deref(), Some("Ann"));
}

#[test]
fn faq_answers_win_over_templates_and_fallback() {
    let r = replies();
    let reply = say(
        &r,
        "退款多久到账",
        &intent("refund_status", 0.9),
        Some("1–3 个工作日"),
        &BOT,
        None,
    );
    assert_eq!(reply.source, Source::Faq);
    assert_eq!(reply.answered, Some(true));
    assert_eq!(reply.text, "1–3 个工作日");
}

#[test]
fn fallback_speaks_the_customers_language() {
    let r = replies();
    let zh = say(
        &r,
        "今天天气怎么样",
        &intent("greeting", 0.1),
        None,
        &BOT,
        None,
    );
    assert_eq!((zh.source, zh.lang), (Source::Fallback, Lang::Zh));
    assert_eq!(zh.text, fallback_text(Lang::Zh));
    assert_eq!(zh.answered, Some(false));
    let en = say(
        &r,
        "what's the weather",
        &intent("greeting", 0.1),
        None,
        &BOT,
        None,
    );
    assert_eq!((en.source, en.lang), (Source::Fallback, Lang::En));
    assert!(en.text.starts_with("Sorry"));
    // Mixed text: Han share decides.
    let mixed = say(
        &r,
        "这个 weather 怎么样呢",
        &intent("x", 0.1),
        None,
        &BOT,
        None,
    );
    assert_eq!(mixed.lang, Lang::Zh);
    // A confident intent without a template still falls back.
    let none = say(&r, "blah", &intent("no_template", 0.9), None, &BOT, None);
    assert_eq!(none.source, Source::Fallback);
}

#[test]
fn templates_fill_or_ask_and_the_next_message_fills_them() {
    let r = replies();
    let direct = say(
        &r,
        "where is order TD2026112612345",
        &intent("order_status", 0.95),
        None,
        &BOT,
        None,
    );
    assert_eq!(direct.source, Source::Intent);
    assert_eq!(direct.text, "Order TD2026112612345 has shipped.");
    assert_eq!(direct.answered, Some(true));

    let ask = say(
        &r,
        "我的订单到哪了",
        &intent("order_status", 0.95),
        None,
        &BOT,
        None,
    );
    assert_eq!(ask.source, Source::Intent);
    assert!(
        ask.text.contains("订单号") && ask.text.contains("查询订单状态"),
        "{}",
        ask.text
    );
    assert_eq!(ask.answered, None);
    let pending = ask.pending.clone().unwrap();
    assert_eq!(pending.missing, ["order_id"]);

    // The order number alone: out of scope for the classifier, but what the bot asked for.
    let filled = say(
        &r,
        "TD2026112612345",
        &intent("greeting", 0.1),
        None,
        &BOT,
        Some(&pending),
    );
    assert_eq!(filled.source, Source::Intent);
    assert_eq!(filled.text, "Order TD2026112612345 has shipped.");
    assert_eq!(filled.pending, None);

    // Without the entity the pending question does not answer anything.
    let no = say(
        &r,
        "嗯嗯",
        &intent("greeting", 0.1),
        None,
        &BOT,
        Some(&pending),
    );
    assert_eq!(no.source, Source::Fallback);

    // A confident, different intent wins over the pending question.
    let hi = say(
        &r,
        "你好 TD2026112612345",
        &intent("greeting", 0.9),
        None,
        &BOT,
        Some(&pending),
    );
    assert_eq!(hi.text, "您好！");
}

#[test]
fn shaky_or_always_human_intents_get_no_template() {
    let r = replies();
    let shaky = say(&r, "hello?", &intent("greeting", 0.85), None, &BOT, None);
    assert_eq!(shaky.source, Source::Fallback);
    let sure = say(&r, "hello", &intent("greeting", 0.95), None, &BOT, None);
    assert_eq!(
        (sure.source, sure.text.as_str()),
        (Source::Intent, "Hello!")
    );
    // The complaint template promises a transfer; only the handoff decision may do that.
    let complaint = say(
        &r,
        "I complain",
        &intent("complaint", 0.9),
        None,
        &BOT,
        None,
    );
    assert_eq!(complaint.source, Source::Fallback);
}

#[test]
fn handoffs_name_the_ticket_in_the_customers_language() {
    let r = replies();
    let human = HandoffView {
        decision: Decision::Human,
        ticket_id: Some("tk_0123456789abcdef"),
        ticket_queue: Some("orders"),
        ticket_is_new: true,
        back_at: None,
    };
    let zh = say(
        &r,
        "转人工",
        &intent("talk_to_human", 0.9),
        Some("faq"),
        &human,
        None,
    );
    assert_eq!(zh.source, Source::Handoff);
    assert!(
        zh.text.contains("tk_0123456789abcdef") && zh.text.contains("订单组"),
        "{}",
        zh.text
    );
    assert_eq!(zh.answered, None);
    let en = say(
        &r,
        "I want to talk to a real person",
        &intent("x", 0.9),
        None,
        &human,
        None,
    );
    assert!(en.text.contains("tk_0123456789abcdef") && en.text.contains("Orders team"));
    let no_agents = HandoffView {
        decision: Decision::Ticket,
        ticket_queue: None,
        ..human.clone()
    };
    let t = say(
        &r,
        "agent please",
        &intent("x", 0.9),
        None,
        &no_agents,
        None,
    );
    assert!(t.text.contains("No agent is available") && t.text.contains("tk_0123456789abcdef"));
    let again = HandoffView {
        ticket_is_new: false,
        ..human
    };
    let a = say(&r, "还在吗", &intent("x", 0.9), None, &again, None);
    assert!(
        a.text.contains("已在工单 tk_0123456789abcdef"),
        "{}",
        a.text
    );
}

#[test]
fn desk_hours_come_from_the_calendar_unless_the_operator_says_otherwise() {
    assert_eq!(DeskHours::parse(""), Ok(DeskHours::Calendar));
    assert_eq!(DeskHours::parse(" Calendar "), Ok(DeskHours::Calendar));
    assert_eq!(DeskHours::parse("open"), Ok(DeskHours::Open));
    assert_eq!(DeskHours::parse("CLOSED"), Ok(DeskHours::Closed));
    let bad = DeskHours::parse("24/7").unwrap_err();
    assert!(bad.contains("\"24/7\"") && bad.contains("calendar, open or closed"));
    // 2026-12-07T04:30:00Z, the turn's time, read by the queue's calendar.
    assert_eq!(
        DeskHours::Calendar.availability(1_796_617_800),
        (None, Some("2026-12-07T04:30:00Z".into()))
    );
    assert_eq!(DeskHours::Open.availability(0), (Some(true), None));
    assert_eq!(DeskHours::Closed.availability(0), (Some(false), None));
}

#[test]
fn outside_business_hours_the_customer_hears_when_a_person_is_back() {
    let r = replies();
    let closed = HandoffView {
        decision: Decision::Ticket,
        ticket_id: Some("tk_0123456789abcdef"),
        ticket_queue: Some("orders"),
        ticket_is_new: true,
        back_at: Some("2026-12-07T09:00:00+08:00"),
    };
    let zh = say(&r, "转人工", &intent("x", 0.9), None, &closed, None);
    assert_eq!(zh.source, Source::Handoff);
    assert!(
        zh.text.contains("tk_0123456789abcdef")
            && zh.text.contains("2026-12-07 09:00 (UTC+08:00)")
            && zh.text.contains("上班"),
        "{}",
        zh.text
    );
    let en = say(
        &r,
        "a person please",
        &intent("x", 0.9),
        None,
        &closed,
        None,
    );
    assert!(
        en.text
            .contains("a person is back at 2026-12-07 09:00 (UTC+08:00)")
            || en
                .text
                .contains("A person is back at 2026-12-07 09:00 (UTC+08:00)"),
        "{}",
        en.text
    );
    assert!(!en.text.contains("No agent is available"), "{}", en.text);
    let later = HandoffView {
        ticket_is_new: false,
        ..closed
    };
    let again = say(&r, "hello?", &intent("x", 0.9), None, &later, None);
    assert!(
        again
            .text
            .contains("already with our team (ticket tk_0123456789abcdef)")
            && again.text.contains("back at 2026-12-07 09:00"),
        "{}",
        again.text
    );
}

#[test]
fn policy_json_round_trips() {
    let json = serde_json::to_string(&policy()).unwrap();
    let back: AssistPolicy = serde_json::from_str(&json).unwrap();
    assert_eq!(back, policy());
    assert!(Replies::new(back).is_ok());
    let bad = AssistPolicy {
        entities: BTreeMap::from([("x".into(), "(".into())]),
        ..policy()
    };
    assert!(Replies::new(bad).is_err());
}
