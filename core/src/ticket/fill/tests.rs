use super::*;
use crate::kb::Queue;
use crate::ticket::{Customer, policy::IntentRoute, policy::TopicRule};
use std::collections::BTreeMap;

fn rules() -> TicketRules {
    let route = |queue: &str, priority, zh: &str, en: &str| IntentRoute {
        queue: queue.into(),
        priority,
        name: [
            ("zh".to_string(), zh.to_string()),
            ("en".to_string(), en.to_string()),
        ]
        .into(),
    };
    let policy = TicketPolicy {
        format: 1,
        model_version: "test".into(),
        kb_hash: "0".into(),
        queues: ["general", "orders", "complaints"]
            .map(|id| Queue {
                id: id.into(),
                name: BTreeMap::new(),
                hours: None,
                escalate_to: None,
                ownership_timeout_minutes: None,
                sla_pauses_outside_hours: false,
            })
            .to_vec(),
        default_queue: "general".into(),
        intents: [
            (
                "refund".to_string(),
                route("orders", Priority::Normal, "退款", "Refund"),
            ),
            (
                "shipping".to_string(),
                route("orders", Priority::Low, "物流", "Shipping"),
            ),
        ]
        .into(),
        entities: [(
            "order_id".to_string(),
            r"(?-u:\b)(?:TD\d{10,14}|\d{12,16})(?-u:\b)".to_string(),
        )]
        .into(),
        topics: vec![
            TopicRule {
                topic: "legal".into(),
                priority: Priority::Urgent,
                phrases: vec!["律师".into(), "lawyer".into()],
            },
            TopicRule {
                topic: "complaint".into(),
                priority: Priority::High,
                phrases: vec!["投诉".into(), "complaint".into()],
            },
        ],
        sla_hours: Default::default(),
        // The orders queue's clock runs 09:00-18:00 Beijing time, Monday to Friday.
        sla_calendars: [(
            "orders".to_string(),
            serde_yaml::from_str(
                "utc_offset: \"+08:00\"\nweekly: {mon: [\"09:00-18:00\"], tue: [\"09:00-18:00\"], wed: [\"09:00-18:00\"], thu: [\"09:00-18:00\"], fri: [\"09:00-18:00\"]}\n",
            )
            .unwrap(),
        )]
        .into(),
    };
    TicketRules::new(policy).unwrap()
}

#[test]
fn an_sla_that_pauses_counts_only_open_hours() {
    let at = |s: &str| crate::foundation::calendar::parse_rfc3339(s).unwrap() * 1000;
    let mut req = input(&["I want my money back for order TD2026112612345."]);
    req.category = Some("refund".into());
    let d = rules().fill(&req, None, 0);
    assert_eq!((d.queue.as_str(), d.sla_hours), ("orders", 24));
    // Friday 17:00 + 24 open hours (9 a day): 1 h Friday, 9 Monday, 9 Tuesday, 5 Wednesday.
    assert_eq!(
        d.sla_due(at("2026-12-11T17:00:00+08:00")),
        at("2026-12-16T14:00:00+08:00")
    );
    // A queue whose clock does not pause: wall-clock hours.
    req.category = Some("complaint_intent".into());
    let d = rules().fill(&req, None, 0);
    assert_ne!(d.queue, "orders");
    assert_eq!(d.sla_due(0), i64::from(d.sla_hours) * 3_600_000);
}

fn input(texts: &[&str]) -> CreateInput {
    CreateInput {
        customer: Customer {
            id: "c1".into(),
            name: None,
            channel: None,
            contact: Some("13812345678".into()),
            tier: None,
        },
        transcript: texts
            .iter()
            .map(|t| Turn {
                role: Role::Customer,
                text: t.to_string(),
                intent: None,
                confidence: None,
                answered: None,
                negative: None,
            })
            .collect(),
        subject: None,
        category: None,
        priority: None,
    }
}

#[test]
fn a_given_category_routes_to_its_queue_with_its_hint() {
    let mut req = input(&["I want my money back for order TD2026112612345."]);
    req.category = Some("refund".into());
    let d = rules().fill(&req, None, 0);
    assert_eq!(
        (d.category.as_str(), d.category_source),
        ("refund", "given")
    );
    assert_eq!(d.queue, "orders");
    assert_eq!(d.priority, Priority::Normal);
    assert_eq!(d.sla_hours, 24);
    assert_eq!(d.priority_reasons[0].code, "intent_hint");
    assert_eq!(
        d.entities,
        vec![Entity {
            kind: "order_id".into(),
            value: "TD2026112612345".into()
        }]
    );
    assert_eq!(d.subject, "I want my money back for order TD2026112612345.");
}

#[test]
fn classification_fills_a_missing_category_and_out_of_scope_is_none() {
    let req = input(&["快递到哪了"]);
    let c = Classified {
        intent: "shipping".into(),
        confidence: 0.8,
        out_of_scope: false,
    };
    let d = rules().fill(&req, Some(&c), 0);
    assert_eq!(
        (d.category.as_str(), d.category_source),
        ("shipping", "classified")
    );
    assert_eq!(d.category_confidence, Some(0.8));
    assert_eq!(d.priority, Priority::Low);
    let oos = Classified {
        out_of_scope: true,
        ..c
    };
    let d = rules().fill(&req, Some(&oos), 0);
    assert_eq!((d.category.as_str(), d.queue.as_str()), ("none", "general"));
    assert_eq!(d.priority, Priority::Normal);
}

#[test]
fn topics_vip_and_repeat_contact_raise_priority_with_reasons() {
    let mut req = input(&["物流太慢了，我要投诉"]);
    req.category = Some("shipping".into());
    let d = rules().fill(&req, None, 0);
    assert_eq!(d.priority, Priority::High);
    let codes: Vec<&str> = d.priority_reasons.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["intent_hint", "sensitive_topic"]);

    let mut req = input(&["I'll get a lawyer if this isn't fixed"]);
    req.category = Some("shipping".into());
    assert_eq!(rules().fill(&req, None, 0).priority, Priority::Urgent);

    let mut req = input(&["where is my parcel"]);
    req.category = Some("shipping".into());
    req.customer.tier = Some("VIP".into());
    let d = rules().fill(&req, None, 0);
    assert_eq!(d.priority, Priority::High);
    assert_eq!(d.sla_hours, 4);

    req.customer.tier = None;
    let d = rules().fill(&req, None, 2);
    assert_eq!(d.priority, Priority::Normal, "low, one level up");
    assert!(d.priority_reasons[1].message_en.contains("2 other ticket"));

    req.priority = Some(Priority::Urgent);
    let d = rules().fill(&req, None, 2);
    assert_eq!(d.priority, Priority::Urgent);
    assert_eq!(d.priority_reasons.len(), 1);
    assert_eq!(d.priority_reasons[0].code, "given");
}

#[test]
fn personal_data_is_masked_everywhere_but_found_as_entities() {
    let req = input(&[
        "手机13812345678，邮箱 wang.xm@example.com。订单TD2026112612345退款¥199.50",
        "卡号 6222 0212 3456 7893 8, 身份证11010519491231002X",
    ]);
    let d = rules().fill(&req, None, 0);
    let stored = format!("{} {} {:?}", d.subject, d.summary, d.transcript);
    for raw in ["13812345678", "wang.xm@example.com", "11010519491231002X"] {
        assert!(!stored.contains(raw), "{raw} leaked into {stored}");
    }
    let kinds: Vec<&str> = d.entities.iter().map(|e| e.kind.as_str()).collect();
    for k in ["order_id", "amount", "phone", "email", "id_card"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    for e in &d.entities {
        if ["phone", "email", "id_card", "bank_card"].contains(&e.kind.as_str()) {
            assert!(e.value.contains('*'), "{e:?} is not masked");
        }
    }
    assert!(
        d.entities
            .iter()
            .any(|e| e.kind == "amount" && e.value == "¥199.50")
    );
}

#[test]
fn subject_and_summary_are_bounded_and_bilingual() {
    let long = "这是一段非常长的描述".repeat(20);
    let d = rules().fill(&input(&[&long]), None, 0);
    assert_eq!(d.subject.chars().count(), SUBJECT_CHARS);
    assert!(d.subject.ends_with('…'));
    assert!(d.summary.chars().count() <= SUMMARY_CHARS);

    let mut req = input(&[
        "Hi there. My order TD2026112612345 has not arrived!",
        "Nothing else matters here.",
        "I will file a complaint.",
    ]);
    req.category = Some("shipping".into());
    let d = rules().fill(&req, None, 0);
    assert_eq!(
        d.summary,
        "[Shipping] Hi there.; My order TD2026112612345 has not arrived!; I will file a complaint."
    );
    let mut req = input(&["我的订单TD2026112612345还没到。麻烦查一下"]);
    req.category = Some("shipping".into());
    let d = rules().fill(&req, None, 0);
    assert_eq!(d.summary, "[物流] 我的订单TD2026112612345还没到。");
    assert_eq!(d.subject, "我的订单TD2026112612345还没到。");
}

#[test]
fn dates_are_entities_and_mixed_text_works() {
    let d = rules().fill(
        &input(&["我2026-11-20下的单, order 1234567890123 still 没发货, 11月25日催过"]),
        None,
        0,
    );
    let values: Vec<(&str, &str)> = d
        .entities
        .iter()
        .map(|e| (e.kind.as_str(), e.value.as_str()))
        .collect();
    assert!(values.contains(&("date", "2026-11-20")), "{values:?}");
    assert!(values.contains(&("date", "11月25日")), "{values:?}");
    assert!(
        values.contains(&("order_id", "1234567890123")),
        "{values:?}"
    );
}

#[test]
fn a_transcript_turn_carries_no_sentiment_and_a_stored_turn_reads_as_before() {
    let rules = rules();
    let mut req = input(&["我的订单 TD2026112612345 还没到 where is it?"]);
    assert!(req.validate(&rules.policy).is_ok());
    // `negative` is a handoff signal: a ticket's transcript refuses it, by name.
    req.transcript[0].negative = Some(0.9);
    let p = req.validate(&rules.policy).unwrap_err();
    assert_eq!(p.status, 422);
    assert_eq!(p.invalid_params[0].name, "transcript[0].negative");
    // The one turn type writes a ticket's transcript line as the old transcript type did, and
    // an unknown field is still refused.
    let line = serde_json::to_string(&Turn::new(Role::Customer, "在吗")).unwrap();
    assert_eq!(line, r#"{"role":"customer","text":"在吗"}"#);
    assert!(serde_json::from_str::<Turn>(r#"{"role":"bot","text":"hi","mood":1}"#).is_err());
}

#[test]
fn classification_reads_the_last_three_customer_turns_within_the_classifiers_limit() {
    let mut req = input(&["first 第一", "second 第二", "third 第三", "fourth 第四"]);
    req.transcript
        .insert(3, Turn::new(Role::Bot, "bot turns are not read"));
    assert_eq!(
        req.classification_text(),
        "second 第二\nthird 第三\nfourth 第四"
    );
    // Over the limit: the front is cut on a character boundary, the latest turn kept whole.
    let long = "退".repeat(2000); // 6000 bytes
    let req = input(&[&long, "where is my refund 退款"]);
    let text = req.classification_text();
    assert!(text.len() <= crate::ticket::CLASSIFIED_MAX_BYTES);
    assert!(text.ends_with("\nwhere is my refund 退款"));
    assert!(text.starts_with('退'));
}
