//! The decision: the first rule that holds, else the escalation score against the threshold;
//! then a `human` decision becomes `ticket` when no person can take over now.

use super::{IntentPolicy, Policy, Signals};
use crate::foundation::calendar::{self, Hours};
use crate::foundation::text::normalize;
use crate::foundation::vocab::Priority;
use crate::kb;
use serde::{Deserialize, Serialize};

/// What happens next (serde: lower case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The bot keeps the conversation.
    Bot,
    /// A person takes over now.
    Human,
    /// A person is needed but none can take over now (closed, or no agent online): a ticket is
    /// offered.
    Ticket,
}

/// Why, in both languages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// A rule id, or `score`, `bot_can_continue`, `outside_business_hours`, `no_agent_online`.
    pub code: String,
    /// The reason in Chinese (a rule's `reason.zh`).
    pub message_zh: String,
    /// The reason in English (a rule's `reason.en`).
    pub message_en: String,
}

/// The decision for the latest turn (the body of `POST /v1/handoff`'s answer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// What happens next: `bot`, `human` or `ticket`.
    pub decision: Outcome,
    /// The escalation model's probability of `human`, in `[0, 1]`; returned even when a rule
    /// decided.
    pub score: f32,
    /// The deciding reason first; a second when availability turned `human` into `ticket`.
    pub reasons: Vec<Reason>,
    /// Queue a person takes over in; none for `bot` decisions.
    pub queue: Option<String>,
    /// The rule's, else the intent's, else `normal` (`normal` for `bot` by score).
    pub priority: Priority,
    /// What decided: a rule id, or `score`.
    pub driver: String,
    /// Whether the routed queue is open, and who said so; only for a decision that needed a
    /// person, and only when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_hours: Option<BusinessHours>,
}

/// The business hours a `human` decision was checked against.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BusinessHours {
    /// The queue that was checked.
    pub queue: String,
    /// Whether it is staffed now.
    pub open: bool,
    /// `request` (the caller's `within_business_hours`) or `calendar` (the queue's calendar).
    pub source: String,
    /// Calendar only: the instant it was read at, RFC 3339 in the calendar's UTC offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Calendar only, when closed: when the queue opens next, in the calendar's offset
    /// (none within a year: absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_open: Option<String>,
}

/// True when every condition given in `when` holds (an empty `when` always holds).
pub fn rule_holds(when: &kb::RuleCondition, s: &Signals) -> bool {
    let ok = |c: Option<bool>| c.unwrap_or(true);
    ok(when.explicit_request.map(|v| v == s.explicit_request))
        && ok(when.sensitive_topic.as_ref().map(|t| {
            if t == "any" {
                !s.sensitive_topics.is_empty()
            } else {
                s.sensitive_topics.contains(t)
            }
        }))
        && ok(when
            .always_human_intent
            .map(|v| v == s.always_human_intent.is_some()))
        && ok(when.bot_failures_min.map(|n| s.bot_failures >= n))
        && ok(when.rephrases_min.map(|n| s.rephrases >= n))
        && ok(when.frustration_min.map(|f| s.frustration >= f))
        && ok(when
            .tier
            .as_ref()
            .map(|t| s.tier.as_deref() == Some(normalize(t).as_str())))
        && ok(when.turns_min.map(|n| s.turns >= n))
        && ok(when.intent.as_ref().map(|i| s.intent.as_ref() == Some(i)))
}

/// What the caller knows about its human agents right now. Both are optional: unknown means
/// "assume a person can take over", so a caller that tracks neither gets pure bot-or-human.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Availability {
    /// Agents online now; `Some(0)` turns a `human` decision into a `ticket`.
    pub agents_online: Option<u32>,
    /// Whether the support desk is open now, as the caller sees it: overrides the queue's
    /// calendar. `Some(false)` turns `human` into `ticket`.
    pub within_business_hours: Option<bool>,
    /// The request's time (Unix seconds): when `within_business_hours` is unknown, the routed
    /// queue's calendar is read at this instant. `None`: no calendar is read.
    pub at: Option<i64>,
}

/// The routed queue's hours: the caller's word first, else its calendar at `at`.
fn business_hours(policy: &Policy, queue: &str, a: Availability) -> Option<BusinessHours> {
    if let Some(open) = a.within_business_hours {
        return Some(BusinessHours {
            queue: queue.into(),
            open,
            source: "request".into(),
            at: None,
            next_open: None,
        });
    }
    let t = a.at?;
    // Checked by the KB's validation; a calendar that does not compile reads as unknown.
    let hours: Hours = policy.business_hours.get(queue)?.compile().ok()?;
    let open = hours.is_open(t);
    Some(BusinessHours {
        queue: queue.into(),
        open,
        source: "calendar".into(),
        at: Some(hours.format_local(t)),
        next_open: if open {
            None
        } else {
            hours.next_open(t).map(|n| hours.format_local(n))
        },
    })
}

/// Decides from the signals and the escalation score (the model's probability of `human`).
pub fn decide(policy: &Policy, s: &Signals, score: f32, availability: Availability) -> Decision {
    let intent_policy = s
        .always_human_intent
        .as_ref()
        .or(s.intent.as_ref())
        .and_then(|i| policy.intents.get(i));
    let mut d = match policy.rules.iter().find(|r| rule_holds(&r.when, s)) {
        Some(rule) => by_rule(policy, rule, intent_policy, score),
        None => by_score(policy, intent_policy, score),
    };
    if d.decision == Outcome::Human {
        let queue = d
            .queue
            .clone()
            .unwrap_or_else(|| policy.default_queue.clone());
        d.business_hours = business_hours(policy, &queue, availability);
        if let Some(reason) = no_person_now(&queue, d.business_hours.as_ref(), availability) {
            d.decision = Outcome::Ticket;
            d.reasons.push(reason);
        }
    }
    d
}

/// The decision of the first rule that holds; its queue and priority, else the intent's.
fn by_rule(
    policy: &Policy,
    rule: &kb::HandoffRule,
    intent_policy: Option<&IntentPolicy>,
    score: f32,
) -> Decision {
    let human = rule.decision == "human";
    Decision {
        decision: if human { Outcome::Human } else { Outcome::Bot },
        score,
        reasons: vec![Reason {
            code: rule.id.clone(),
            message_zh: rule.reason.get("zh").cloned().unwrap_or_default(),
            message_en: rule.reason.get("en").cloned().unwrap_or_default(),
        }],
        queue: human.then(|| {
            rule.queue
                .clone()
                .or_else(|| intent_policy.and_then(|p| p.queue.clone()))
                .unwrap_or_else(|| policy.default_queue.clone())
        }),
        priority: rule
            .priority
            .or(intent_policy.map(|p| p.priority))
            .unwrap_or_default(),
        driver: rule.id.clone(),
        business_hours: None,
    }
}

/// No rule holds: the escalation score against the threshold decides.
fn by_score(policy: &Policy, intent_policy: Option<&IntentPolicy>, score: f32) -> Decision {
    let t = policy.score_threshold;
    let human = score >= t;
    let reason = if human {
        Reason {
            code: "score".into(),
            message_zh: format!("升级评分 {score:.2} 达到阈值 {t:.2}，建议人工接手"),
            message_en: format!(
                "The escalation score {score:.2} reaches the threshold {t:.2}; a person should take over"
            ),
        }
    } else {
        Reason {
            code: "bot_can_continue".into(),
            message_zh: format!("未触发任何规则，升级评分 {score:.2} 低于阈值 {t:.2}"),
            message_en: format!(
                "No rule applies and the escalation score {score:.2} is below the threshold {t:.2}"
            ),
        }
    };
    Decision {
        decision: if human { Outcome::Human } else { Outcome::Bot },
        score,
        reasons: vec![reason],
        queue: human.then(|| {
            intent_policy
                .and_then(|p| p.queue.clone())
                .unwrap_or_else(|| policy.default_queue.clone())
        }),
        priority: if human {
            intent_policy.map(|p| p.priority).unwrap_or_default()
        } else {
            Priority::Normal
        },
        driver: "score".into(),
        business_hours: None,
    }
}

/// Why no person can take over now, if none can: the queue is closed or no agent is online.
/// Outside hours is the root cause when both hold, so it is the only reason given.
fn no_person_now(
    queue: &str,
    hours: Option<&BusinessHours>,
    availability: Availability,
) -> Option<Reason> {
    if let Some(h) = hours.filter(|h| !h.open) {
        let (message_zh, message_en) = match &h.next_open {
            Some(next) => (
                format!(
                    "当前不在 {queue} 队列的人工服务时间内，改为创建工单；人工客服将于 {} 恢复服务",
                    calendar::readable(next)
                ),
                format!(
                    "It is outside the {queue} queue's business hours; a ticket is offered \
                     instead and a person is back at {}",
                    calendar::readable(next)
                ),
            ),
            None => (
                "当前不在人工客服服务时间内，改为创建工单，上班后由客服跟进".into(),
                "It is outside the support desk's business hours; a ticket is offered \
                 instead and an agent will follow up when the desk opens"
                    .into(),
            ),
        };
        return Some(Reason {
            code: "outside_business_hours".into(),
            message_zh,
            message_en,
        });
    }
    (availability.agents_online == Some(0)).then(|| Reason {
        code: "no_agent_online".into(),
        message_zh: "当前没有在线客服，改为创建工单，客服上线后跟进".into(),
        message_en: "No agent is online; a ticket is offered instead and an agent will follow up"
            .into(),
    })
}
