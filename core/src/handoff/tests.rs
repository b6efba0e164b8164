use super::*;
use crate::foundation::calendar::Calendar;
use crate::foundation::vocab::Priority;
use crate::foundation::vocab::Role;
use crate::kb::{HandoffRule, RuleCondition};
use std::collections::{BTreeMap, BTreeSet};

fn rule(id: &str, when: RuleCondition, queue: Option<&str>, prio: Option<Priority>) -> HandoffRule {
    HandoffRule {
        id: id.into(),
        when,
        decision: "human".into(),
        queue: queue.map(str::to_string),
        priority: prio,
        reason: [
            ("zh".to_string(), format!("{id} 中文")),
            ("en".to_string(), format!("{id} en")),
        ]
        .into_iter()
        .collect(),
    }
}

fn policy() -> Policy {
    let mut topics = BTreeMap::new();
    topics.insert(
        "legal".to_string(),
        vec!["律师".to_string(), "sue you".to_string()],
    );
    topics.insert(
        "fraud".to_string(),
        vec!["盗刷".to_string(), "scam".to_string()],
    );
    let mut intents = BTreeMap::new();
    intents.insert(
        "account_security".to_string(),
        IntentPolicy {
            always_human: true,
            queue: Some("accounts".into()),
            priority: Priority::Urgent,
        },
    );
    intents.insert(
        "order_status".to_string(),
        IntentPolicy {
            always_human: false,
            queue: Some("orders".into()),
            priority: Priority::Normal,
        },
    );
    Policy {
        human_request_phrases: [
            "转人工",
            "人工客服",
            "real person",
            "agent please",
            "operator",
        ]
        .map(String::from)
        .to_vec(),
        sensitive_topics: topics,
        rules: vec![
            rule(
                "explicit_request",
                RuleCondition {
                    explicit_request: Some(true),
                    ..Default::default()
                },
                Some("general"),
                None,
            ),
            rule(
                "sensitive_legal",
                RuleCondition {
                    sensitive_topic: Some("legal".into()),
                    ..Default::default()
                },
                Some("complaints"),
                Some(Priority::Urgent),
            ),
            rule(
                "always_human_intent",
                RuleCondition {
                    always_human_intent: Some(true),
                    ..Default::default()
                },
                None,
                None,
            ),
            rule(
                "vip_frustrated",
                RuleCondition {
                    tier: Some("vip".into()),
                    frustration_min: Some(0.6),
                    ..Default::default()
                },
                Some("vip"),
                Some(Priority::High),
            ),
            rule(
                "bot_failures",
                RuleCondition {
                    bot_failures_min: Some(2),
                    ..Default::default()
                },
                None,
                None,
            ),
            rule(
                "rephrases",
                RuleCondition {
                    rephrases_min: Some(2),
                    ..Default::default()
                },
                None,
                None,
            ),
            rule(
                "long",
                RuleCondition {
                    turns_min: Some(20),
                    ..Default::default()
                },
                None,
                None,
            ),
            rule(
                "any_topic",
                RuleCondition {
                    sensitive_topic: Some("any".into()),
                    ..Default::default()
                },
                None,
                Some(Priority::High),
            ),
        ],
        score_threshold: 0.5,
        intents,
        default_queue: "general".into(),
        business_hours: BTreeMap::new(),
    }
}

fn customer(text: &str) -> Turn {
    Turn::new(Role::Customer, text)
}
fn bot(text: &str, answered: bool) -> Turn {
    Turn {
        answered: Some(answered),
        ..Turn::new(Role::Bot, text)
    }
}

/// Decides with a stub sentiment that reads "ANGRY" as 0.9 negative (the real model is
/// tested in `handoff_model` and end to end); `score` stands in for the score model.
fn run(tier: Option<&str>, turns: &[Turn], score: f32, agents: Option<u32>) -> (Signals, Decision) {
    let p = policy();
    let s = signals(&p, tier, turns, &mut |t| {
        if t.contains("ANGRY") { 0.9 } else { 0.1 }
    });
    let availability = Availability {
        agents_online: agents,
        within_business_hours: None,
        at: None,
    };
    let d = decide(&p, &s, score, availability);
    (s, d)
}

#[test]
fn explicit_requests_zh_en_mixed() {
    for text in [
        "转人工",
        "我要人工客服！",
        "I want a REAL person now",
        "agent please",
        "订单有问题，agent please",
    ] {
        let (s, d) = run(None, &[customer(text)], 0.0, None);
        assert!(s.explicit_request, "{text}");
        assert_eq!(d.decision, Outcome::Human, "{text}");
        assert_eq!(d.driver, "explicit_request");
        assert_eq!(d.queue.as_deref(), Some("general"));
        assert!(!d.reasons[0].message_zh.is_empty() && !d.reasons[0].message_en.is_empty());
    }
}

#[test]
fn negated_or_embedded_requests_are_not_requests() {
    for text in [
        "不用转人工，我自己看看",
        "no need for a real person, thanks",
        "I'm a cooperator",
        "不需要人工客服",
    ] {
        let (s, d) = run(None, &[customer(text)], 0.0, None);
        assert!(!s.explicit_request, "{text}");
        assert_eq!(d.decision, Outcome::Bot, "{text}");
    }
}

#[test]
fn sensitive_topics_pick_their_rule_in_order() {
    let (s, d) = run(None, &[customer("再不退款我就找律师")], 0.0, None);
    assert_eq!(s.sensitive_topics, ["legal"]);
    assert_eq!(
        (d.driver.as_str(), d.priority),
        ("sensitive_legal", Priority::Urgent)
    );
    assert_eq!(d.queue.as_deref(), Some("complaints"));
    // fraud has no rule of its own here: the catch-all `any` rule, later in the list, decides.
    let (s, d) = run(
        None,
        &[customer("my card was used, this is a scam")],
        0.0,
        None,
    );
    assert_eq!(s.sensitive_topics, ["fraud"]);
    assert_eq!(d.driver, "any_topic");
    // "sue" inside "issue" is not a threat.
    let (s, _) = run(None, &[customer("there is an issue you know")], 0.0, None);
    assert!(s.sensitive_topics.is_empty());
}

#[test]
fn first_matching_rule_wins() {
    // Explicit request and a legal threat: the explicit rule is first.
    let (_, d) = run(None, &[customer("转人工，不然我找律师")], 0.0, None);
    assert_eq!(d.driver, "explicit_request");
}

#[test]
fn always_human_intent_takes_the_intents_queue() {
    let mut t = customer("我的账号好像有问题");
    t.intent = Some("account_security".into());
    t.confidence = Some(0.8);
    let (s, d) = run(None, &[t], 0.0, None);
    assert_eq!(s.always_human_intent.as_deref(), Some("account_security"));
    assert_eq!(d.driver, "always_human_intent");
    assert_eq!(
        (d.queue.as_deref(), d.priority),
        (Some("accounts"), Priority::Urgent)
    );
}

#[test]
fn consecutive_bot_failures_reset_on_an_answer() {
    let turns = [
        customer("a"),
        bot("?", false),
        customer("b"),
        bot("?", false),
        customer("c"),
    ];
    let (s, d) = run(None, &turns, 0.0, None);
    assert_eq!(s.bot_failures, 2);
    assert_eq!(d.driver, "bot_failures");
    let turns = [
        customer("a"),
        bot("?", false),
        customer("b"),
        bot("ok", true),
        customer("c"),
        bot("?", false),
    ];
    let (s, d) = run(None, &turns, 0.0, None);
    assert_eq!((s.bot_failures, s.bot_no_answers), (1, 2));
    assert_eq!(d.decision, Outcome::Bot);
}

#[test]
fn rephrasing_counts_similar_follow_ups() {
    let turns = [
        customer("我想把两个订单合并换货"),
        bot("请换个说法", true),
        customer("两个订单合并一起换货"),
        bot("请换个说法", true),
        customer("how do I merge two orders for an exchange"),
        bot("?", true),
        customer("merge two orders exchange"),
    ];
    let (s, d) = run(None, &turns, 0.0, None);
    assert_eq!(s.rephrases, 2, "{s:?}");
    assert_eq!(d.driver, "rephrases");
    assert!(dice("完全不同的话", "where is my order") < REPHRASE_SIMILARITY);
}

#[test]
fn dice_counts_distinct_bigrams() {
    // Set semantics, the reference definition: 2·|X ∩ Y| / (|X| + |Y|).
    let reference = |a: &str, b: &str| -> f32 {
        let grams = |s: &str| -> BTreeSet<(char, char)> {
            let c: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
            c.windows(2).map(|w| (w[0], w[1])).collect()
        };
        let (x, y) = (grams(a), grams(b));
        if x.is_empty() || y.is_empty() {
            return 0.0;
        }
        2.0 * x.intersection(&y).count() as f32 / (x.len() + y.len()) as f32
    };
    let texts = [
        "where is my order",
        "where is my order??",
        "我的订单到哪了",
        "订单到哪了 where is it",
        "aaaa aaaa",
        "a",
        "",
        "退款退款退款 refund refund",
    ];
    for a in texts {
        for b in texts {
            assert_eq!(dice(a, b), reference(a, b), "{a:?} vs {b:?}");
        }
    }
    assert_eq!(dice("我的订单到哪了", "我的订单到哪了"), 1.0);
}

#[test]
fn only_the_recent_customer_turns_are_scored() {
    // 60 customer turns, angry at first and calm for the last NEGATIVITY_WINDOW.
    let mut turns: Vec<Turn> = (0..50).map(|_| customer("ANGRY 又坏了")).collect();
    turns.extend((0..NEGATIVITY_WINDOW).map(|i| customer(&format!("ok {i} 好的"))));
    let mut scored = Vec::new();
    let s = signals(&policy(), None, &turns, &mut |t| {
        scored.push(t.to_string());
        if t.contains("ANGRY") { 0.9 } else { 0.1 }
    });
    assert_eq!(scored.len(), NEGATIVITY_WINDOW, "{scored:?}");
    assert!(scored.iter().all(|t| t.starts_with("ok ")), "{scored:?}");
    assert!(
        (s.negativity_mean - 0.1).abs() < 1e-6,
        "{}",
        s.negativity_mean
    );
    assert_eq!(s.customer_turns, 60);
    // One angry turn inside the window moves the mean by its share.
    turns.push(customer("ANGRY"));
    let s = signals(&policy(), None, &turns, &mut |t| {
        if t.contains("ANGRY") { 0.9 } else { 0.1 }
    });
    let expected = (0.9 + 0.1 * (NEGATIVITY_WINDOW - 1) as f32) / NEGATIVITY_WINDOW as f32;
    assert!((s.negativity_mean - expected).abs() < 1e-6);
    assert!((s.frustration - 0.9).abs() < 1e-6);
}

#[test]
fn vip_and_frustration_combine() {
    let turns = [customer("ANGRY 又坏了")];
    let (_, d) = run(Some("VIP"), &turns, 0.0, None);
    assert_eq!(
        (d.driver.as_str(), d.queue.as_deref()),
        ("vip_frustrated", Some("vip"))
    );
    let (s, d) = run(Some("standard"), &turns, 0.0, None);
    assert!(s.frustration > 0.8);
    assert_eq!(
        d.decision,
        Outcome::Bot,
        "standard tier: the vip rule does not hold"
    );
    // Only the last customer turns count towards frustration.
    let mut turns = vec![customer("ANGRY")];
    turns.extend((0..3).map(|_| customer("fine")));
    let (s, _) = run(Some("vip"), &turns, 0.0, None);
    assert!(s.frustration < 0.5);
}

#[test]
fn long_conversations() {
    let turns: Vec<Turn> = (0..20)
        .map(|i| {
            if i % 2 == 0 {
                customer(&i.to_string())
            } else {
                bot("answer", true)
            }
        })
        .collect();
    let (s, d) = run(None, &turns, 0.0, None);
    assert_eq!(s.turns, 20);
    assert_eq!(d.driver, "long");
}

#[test]
fn score_path_against_the_threshold() {
    let turns = [customer("where is my order")];
    let (_, d) = run(None, &turns, 0.49, None);
    assert_eq!((d.decision, d.driver.as_str()), (Outcome::Bot, "score"));
    assert_eq!(d.reasons[0].code, "bot_can_continue");
    let (_, d) = run(None, &turns, 0.7, None);
    assert_eq!(d.decision, Outcome::Human);
    assert_eq!(d.reasons[0].code, "score");
    assert!(d.reasons[0].message_en.contains("0.70"));
    assert_eq!(d.queue.as_deref(), Some("general"));
}

#[test]
fn no_agent_online_offers_a_ticket() {
    let (_, d) = run(None, &[customer("转人工")], 0.0, Some(0));
    assert_eq!(d.decision, Outcome::Ticket);
    assert_eq!(d.reasons.last().unwrap().code, "no_agent_online");
    let (_, d) = run(None, &[customer("转人工")], 0.0, Some(3));
    assert_eq!(d.decision, Outcome::Human);
    // A bot decision stays a bot decision without agents.
    let (_, d) = run(None, &[customer("hello")], 0.0, Some(0));
    assert_eq!(d.decision, Outcome::Bot);
}

#[test]
fn outside_business_hours_offers_a_ticket() {
    let p = policy();
    let s = signals(&p, None, &[customer("转人工")], &mut |_| 0.1);
    let at = |agents_online, within_business_hours| {
        decide(
            &p,
            &s,
            0.0,
            Availability {
                agents_online,
                within_business_hours,
                at: None,
            },
        )
    };
    let d = at(None, Some(false));
    assert_eq!(d.decision, Outcome::Ticket);
    let last = d.reasons.last().unwrap();
    assert_eq!(last.code, "outside_business_hours");
    assert!(last.message_zh.contains("服务时间") && last.message_en.contains("business hours"));
    // Closed and nobody online: one reason, the root cause.
    let d = at(Some(0), Some(false));
    let codes: Vec<_> = d.reasons.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["explicit_request", "outside_business_hours"]);
    // Open (or unknown) with agents: a person.
    assert_eq!(at(Some(2), Some(true)).decision, Outcome::Human);
    assert_eq!(at(None, None).decision, Outcome::Human);
    // Open but nobody online: still a ticket, for the other reason.
    assert_eq!(
        at(Some(0), Some(true)).reasons.last().unwrap().code,
        "no_agent_online"
    );
    // A bot decision is not touched by the hours.
    let calm = signals(&p, None, &[customer("hello")], &mut |_| 0.1);
    let d = decide(
        &p,
        &calm,
        0.0,
        Availability {
            agents_online: None,
            within_business_hours: Some(false),
            at: None,
        },
    );
    assert_eq!((d.decision, d.reasons.len()), (Outcome::Bot, 1));
}

/// The test policy with calendars: `general` on a split shift in Shanghai (+08:00) with a
/// holiday, `complaints` in UTC+1 (an overseas team), `vip` without one (always staffed).
fn policy_with_calendars() -> Policy {
    let days = |iv: &[&str]| -> BTreeMap<String, Vec<String>> {
        crate::foundation::calendar::WEEKDAYS
            .iter()
            .map(|d| (d.to_string(), iv.iter().map(|s| s.to_string()).collect()))
            .collect()
    };
    let mut p = policy();
    p.business_hours.insert(
        "general".into(),
        Calendar {
            utc_offset: "+08:00".into(),
            weekly: days(&["09:00-12:00", "13:30-21:00"]),
            holidays: vec!["2026-10-01".into()],
            special_days: [("2026-12-31".to_string(), vec!["09:00-17:00".to_string()])]
                .into_iter()
                .collect(),
        },
    );
    p.business_hours.insert(
        "complaints".into(),
        Calendar {
            utc_offset: "+01:00".into(),
            weekly: days(&["09:00-18:00"]),
            ..Default::default()
        },
    );
    p
}

#[test]
fn calendars_decide_when_the_caller_does_not() {
    use crate::foundation::calendar::parse_rfc3339;
    let p = policy_with_calendars();
    let explicit = signals(&p, None, &[customer("转人工")], &mut |_| 0.1);
    let legal = signals(&p, None, &[customer("我要找律师")], &mut |_| 0.1);
    let decide_at = |s: &Signals, when: &str, within: Option<bool>| {
        decide(
            &p,
            s,
            0.0,
            Availability {
                agents_online: None,
                within_business_hours: within,
                at: Some(parse_rfc3339(when).unwrap()),
            },
        )
    };
    // 12:30 on the split shift's lunch break: a ticket, and when a person is back.
    let d = decide_at(&explicit, "2026-12-07T12:30:00+08:00", None);
    assert_eq!(
        (d.decision, d.queue.as_deref()),
        (Outcome::Ticket, Some("general"))
    );
    let h = d.business_hours.as_ref().unwrap();
    assert_eq!((h.open, h.source.as_str()), (false, "calendar"));
    assert_eq!(h.at.as_deref(), Some("2026-12-07T12:30:00+08:00"));
    assert_eq!(h.next_open.as_deref(), Some("2026-12-07T13:30:00+08:00"));
    let r = d.reasons.last().unwrap();
    assert_eq!(r.code, "outside_business_hours");
    assert!(
        r.message_zh.contains("2026-12-07 13:30 (UTC+08:00)"),
        "{r:?}"
    );
    assert!(
        r.message_en
            .contains("back at 2026-12-07 13:30 (UTC+08:00)"),
        "{r:?}"
    );
    // Within the shift: a person.
    let d = decide_at(&explicit, "2026-12-07T14:00:00+08:00", None);
    assert_eq!(d.decision, Outcome::Human);
    assert!(d.business_hours.unwrap().open);
    // A holiday at what is otherwise a working hour; open again the next morning.
    let d = decide_at(&explicit, "2026-10-01T10:00:00+08:00", None);
    assert_eq!(d.decision, Outcome::Ticket);
    assert_eq!(
        d.business_hours.unwrap().next_open.as_deref(),
        Some("2026-10-02T09:00:00+08:00")
    );
    // A special day closes early.
    assert_eq!(
        decide_at(&explicit, "2026-12-31T17:30:00+08:00", None).decision,
        Outcome::Ticket
    );
    assert_eq!(
        decide_at(&explicit, "2026-12-30T17:30:00+08:00", None).decision,
        Outcome::Human
    );
    // Across a time-zone boundary: 2026-12-07T13:30Z is 21:30 in Shanghai (general closed)
    // and 14:30 in UTC+1 (complaints open), the same instant.
    let t = "2026-12-07T13:30:00Z";
    assert_eq!(decide_at(&explicit, t, None).decision, Outcome::Ticket);
    let d = decide_at(&legal, t, None);
    assert_eq!(
        (d.decision, d.queue.as_deref()),
        (Outcome::Human, Some("complaints"))
    );
    assert_eq!(
        d.business_hours.unwrap().at.as_deref(),
        Some("2026-12-07T14:30:00+01:00")
    );
    // 01:30Z: 09:30 in Shanghai (open), 02:30 in UTC+1 (closed until 09:00 there).
    let t = "2026-12-07T01:30:00Z";
    assert_eq!(decide_at(&explicit, t, None).decision, Outcome::Human);
    let d = decide_at(&legal, t, None);
    assert_eq!(d.decision, Outcome::Ticket);
    assert_eq!(
        d.business_hours.unwrap().next_open.as_deref(),
        Some("2026-12-07T09:00:00+01:00")
    );
    // The caller's boolean overrides the calendar, both ways.
    let d = decide_at(&explicit, "2026-12-07T12:30:00+08:00", Some(true));
    assert_eq!(d.decision, Outcome::Human);
    assert_eq!(d.business_hours.unwrap().source, "request");
    let d = decide_at(&explicit, "2026-12-07T14:00:00+08:00", Some(false));
    assert_eq!(d.decision, Outcome::Ticket);
    // No time given, or a queue without a calendar: unknown, a person is assumed.
    let d = decide(&p, &explicit, 0.0, Availability::default());
    assert_eq!((d.decision, d.business_hours), (Outcome::Human, None));
    let vip = signals(&p, Some("vip"), &[customer("ANGRY")], &mut |_| 0.9);
    let d = decide_at(&vip, "2026-12-07T03:00:00+08:00", None);
    assert_eq!(
        (d.decision, d.queue.as_deref()),
        (Outcome::Human, Some("vip"))
    );
    // Closed and nobody online: the hours are the cause. A bot decision reads no calendar.
    let mut a = Availability {
        agents_online: Some(0),
        within_business_hours: None,
        at: parse_rfc3339("2026-12-07T12:30:00+08:00"),
    };
    let d = decide(&p, &explicit, 0.0, a);
    assert_eq!(d.reasons.last().unwrap().code, "outside_business_hours");
    a.at = parse_rfc3339("2026-12-07T10:00:00+08:00");
    assert_eq!(
        decide(&p, &explicit, 0.0, a).reasons.last().unwrap().code,
        "no_agent_online"
    );
    let calm = signals(&p, None, &[customer("hello")], &mut |_| 0.1);
    let d = decide_at(&calm, "2026-12-07T12:30:00+08:00", None);
    assert_eq!((d.decision, d.business_hours), (Outcome::Bot, None));
}

#[test]
fn score_features_are_bounded_and_named() {
    let turns: Vec<Turn> = (0..60).map(|_| bot("?", false)).collect();
    let (s, _) = run(Some("vip"), &turns, 0.0, None);
    let x = score_features(&s);
    assert_eq!(x.len(), SCORE_FEATURES.len());
    assert!(x.iter().all(|v| (0.0..=1.0).contains(v)), "{x:?}");
}

#[test]
fn policy_carries_each_queues_calendar() {
    let file = |path: &str, text: &str| crate::kb::SourceFile {
        path: path.into(),
        text: text.into(),
    };
    let meta = "format: 1\nname: t\nmin_examples_per_intent: 1\ncalendars:\n  desk:\n    utc_offset: \"+08:00\"\n    weekly:\n      mon: [\"09:00-12:00\", \"13:30-18:00\"]\n      tue: [\"21:00-24:00\"]\n    holidays: [2026-10-01]\n    special_days:\n      2026-10-10: [\"09:00-12:00\"]\n  spare:\n    utc_offset: \"-05:00\"\nqueues:\n  - id: orders\n    hours: desk\n  - id: vip\n    hours: spare\n";
    let intents =
        "intents:\n  - id: a\n    name: {zh: 甲, en: A}\n    examples:\n      en: [hello]\n";
    let l = crate::kb::load(&[file("kb/kb.yaml", meta), file("kb/intents.yaml", intents)]);
    assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
    let p = Policy::from_kb(&l.kb.unwrap()).unwrap();
    assert_eq!(
        p.business_hours.keys().collect::<Vec<_>>(),
        ["orders", "vip"]
    );
    assert_eq!(p.business_hours["vip"].utc_offset, "-05:00");
}
