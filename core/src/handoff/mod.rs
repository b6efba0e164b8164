//! Handoff: should the bot keep a conversation or should a human take over — and why, to
//! which queue, how urgently. Pure: the models (sentiment, escalation score) are run by the
//! caller ([`crate::handoff::model`] on tract) and handed in as numbers, so every rule and the
//! decision logic are tested natively without a model.
//!
//! Order of evaluation (documented in docs/kb-format.md, "Handoff"):
//! 1. [`signals`] are computed from the turns (the caller fills in missing intents first);
//! 2. the KB's rules are tried in file order; the **first** whose `when` holds decides;
//! 3. when none holds, the escalation score decides against `score_threshold`;
//! 4. a `human` decision becomes `ticket` when it is outside business hours (the caller's
//!    `within_business_hours`, else the routed queue's [`calendar`](crate::foundation::calendar) at the
//!    request's time) or no agent is online ([`Availability`]); the reasons say which.

use crate::foundation::calendar::{self, Calendar, Hours};
use crate::foundation::text::{contains_phrase, normalize, phrase_positions};
use crate::foundation::vocab::Priority;
use crate::foundation::vocab::Role;
use crate::kb::{self, KnowledgeBase};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[cfg(feature = "onnx")]
pub mod model;
#[cfg(feature = "onnx")]
pub mod sentiment;

/// Most turns a request may carry (the recent ones; older turns add little to the decision and
/// the cost of signals grows with them).
pub const MAX_TURNS: usize = 200;
/// Longest turn text, in bytes after trimming (as `/v1/intent`).
pub const MAX_TURN_TEXT_BYTES: usize = 4096;
/// Customer turns whose sentiment counts towards frustration: the mood now, not an hour ago.
pub const FRUSTRATION_WINDOW: usize = 3;
/// Customer turns whose sentiment is averaged into `negativity_mean`. Bounded so that a long
/// conversation's turn costs what a short one's does: each scored turn is a model run, and an
/// assist conversation keeps up to [`MAX_TURNS`] turns.
pub const NEGATIVITY_WINDOW: usize = 10;
/// Character-bigram Dice similarity from which a customer turn is a rephrasing of the last one.
pub const REPHRASE_SIMILARITY: f32 = 0.4;
/// Intent confidence from which an `always_human` intent counts: routing every shaky guess of
/// "complaint" to a person would flood the agents with what the bot could answer.
pub const ALWAYS_HUMAN_MIN_CONFIDENCE: f32 = 0.5;

/// One turn as the decision sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub role: Option<Role>,
    pub text: String,
    /// Intent of a customer turn (given by the caller or classified by the component).
    pub intent: Option<String>,
    pub confidence: Option<f32>,
    /// Bot turns: `false` = the bot had no answer.
    pub answered: Option<bool>,
    /// Customer turns: the probability that the turn is negative, as an earlier decision
    /// computed it ([`Signals::latest_negative`]); none = the decision computes it. A caller
    /// that keeps the conversation stores it so that no turn is run through the encoder twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative: Option<f32>,
}

impl Turn {
    pub fn new(role: Role, text: &str) -> Self {
        Self {
            role: Some(role),
            text: text.into(),
            ..Default::default()
        }
    }
    fn is(&self, role: Role) -> bool {
        self.role == Some(role)
    }
}

/// Per-intent handoff settings taken from intents.yaml.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IntentPolicy {
    pub always_human: bool,
    pub queue: Option<String>,
    pub priority: Priority,
}

/// Everything the decision needs from the KB, normalised once (shipped in models/handoff.json).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Normalised explicit-request phrases (all languages together: customers mix them).
    pub human_request_phrases: Vec<String>,
    /// Topic → normalised trigger phrases.
    pub sensitive_topics: BTreeMap<String, Vec<String>>,
    pub rules: Vec<kb::HandoffRule>,
    pub score_threshold: f32,
    pub intents: BTreeMap<String, IntentPolicy>,
    /// Queue for human decisions that name none.
    pub default_queue: String,
    /// Queue id → its business-hours calendar (`kb.yaml`: the queue's `hours`). Queues without
    /// one are taken as always staffed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub business_hours: BTreeMap<String, Calendar>,
}

/// Decision threshold when the KB sets none.
pub const DEFAULT_SCORE_THRESHOLD: f32 = 0.5;

impl Policy {
    /// Builds the policy from a validated KB; errors name what is inconsistent.
    pub fn from_kb(kb: &KnowledgeBase) -> Result<Self, String> {
        let h = kb.handoff.clone().unwrap_or_default();
        let queues: BTreeSet<&str> = kb.meta.queues.iter().map(|q| q.id.as_str()).collect();
        let intents: BTreeMap<String, IntentPolicy> = kb
            .intents
            .iter()
            .map(|i| {
                (
                    i.id.clone(),
                    IntentPolicy {
                        always_human: i.handoff.always_human,
                        queue: i.queue.clone(),
                        priority: i.ticket.priority,
                    },
                )
            })
            .collect();
        for r in &h.rules {
            if r.decision != "human" && r.decision != "bot" {
                return Err(format!(
                    "rule \"{}\": decision must be human or bot, not \"{}\"",
                    r.id, r.decision
                ));
            }
            if let Some(q) = &r.queue
                && !queues.contains(q.as_str())
            {
                return Err(format!("rule \"{}\": unknown queue \"{q}\"", r.id));
            }
            if let Some(t) = &r.when.sensitive_topic
                && t != "any"
                && !h.sensitive_topics.contains_key(t)
            {
                return Err(format!(
                    "rule \"{}\": unknown sensitive topic \"{t}\"",
                    r.id
                ));
            }
            if let Some(i) = &r.when.intent
                && !intents.contains_key(i)
            {
                return Err(format!("rule \"{}\": unknown intent \"{i}\"", r.id));
            }
            for lang in ["zh", "en"] {
                if r.reason.get(lang).is_none_or(|s| s.trim().is_empty()) {
                    return Err(format!("rule \"{}\" has no {lang} reason", r.id));
                }
            }
        }
        let phrases = |lists: &kb::LocalizedList| -> Vec<String> {
            let mut v: Vec<String> = lists
                .values()
                .flatten()
                .map(|p| normalize(p))
                .filter(|p| !p.is_empty())
                .collect();
            v.sort();
            v.dedup();
            v
        };
        let default_queue = if queues.contains("general") {
            "general".to_string()
        } else {
            kb.meta
                .queues
                .first()
                .map_or("general".into(), |q| q.id.clone())
        };
        let mut business_hours = BTreeMap::new();
        for q in &kb.meta.queues {
            if let Some(name) = &q.hours {
                let c =
                    kb.meta.calendars.get(name).ok_or_else(|| {
                        format!("queue \"{}\": unknown calendar \"{name}\"", q.id)
                    })?;
                if let Err(e) = c.compile() {
                    return Err(format!("calendar \"{name}\": {}", e[0].message));
                }
                business_hours.insert(q.id.clone(), c.clone());
            }
        }
        Ok(Policy {
            human_request_phrases: phrases(&h.human_request_phrases),
            sensitive_topics: h
                .sensitive_topics
                .iter()
                .map(|(k, v)| (k.clone(), phrases(v)))
                .collect(),
            rules: h.rules,
            score_threshold: h.score_threshold.unwrap_or(DEFAULT_SCORE_THRESHOLD),
            intents,
            default_queue,
            business_hours,
        })
    }
}

/// What the decision is based on; returned to the caller for audit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Signals {
    /// A customer asked for a person (and did not say they need none).
    pub explicit_request: bool,
    /// The phrase that showed it.
    pub explicit_phrase: Option<String>,
    /// Sensitive topics mentioned by the customer, sorted.
    pub sensitive_topics: Vec<String>,
    /// Intent of the latest customer turn.
    pub intent: Option<String>,
    pub intent_confidence: Option<f32>,
    /// Some customer turn has an intent marked `always_human` (given, or classified with at
    /// least [`ALWAYS_HUMAN_MIN_CONFIDENCE`]); the latest such intent.
    pub always_human_intent: Option<String>,
    /// Bot no-answers in a row at the end of the conversation.
    pub bot_failures: u32,
    /// Bot no-answers in the whole conversation.
    pub bot_no_answers: u32,
    /// Customer turns that rephrase the previous customer turn.
    pub rephrases: u32,
    /// Highest probability of negative sentiment over the last customer turns, in `[0, 1]`.
    pub frustration: f32,
    /// Mean negative probability over the last [`NEGATIVITY_WINDOW`] customer turns.
    pub negativity_mean: f32,
    /// Negative probability of the latest customer turn (none without customer turns).
    pub latest_negative: Option<f32>,
    pub tier: Option<String>,
    pub turns: u32,
    pub customer_turns: u32,
    /// A human agent already wrote in this conversation.
    pub agent_involved: bool,
}

/// Computes the signals. `negative(text)` is the sentiment model's probability that a
/// customer text is negative (negation is the model's job: "不是很生气" is not anger); it is
/// called only for the customer turns in the scored window that carry no `negative` yet.
pub fn signals(
    policy: &Policy,
    tier: Option<&str>,
    turns: &[Turn],
    negative: &mut dyn FnMut(&str) -> f32,
) -> Signals {
    let mut s = Signals {
        tier: tier.map(normalize),
        turns: turns.len() as u32,
        ..Default::default()
    };
    let customer: Vec<(usize, &Turn)> = turns
        .iter()
        .enumerate()
        .filter(|(_, t)| t.is(Role::Customer))
        .collect();
    s.customer_turns = customer.len() as u32;
    s.agent_involved = turns.iter().any(|t| t.is(Role::Agent));
    let normalized: Vec<String> = customer.iter().map(|(_, t)| normalize(&t.text)).collect();

    let mut topics = BTreeSet::new();
    for text in &normalized {
        if !s.explicit_request
            && let Some(p) = find_request(&policy.human_request_phrases, text)
        {
            s.explicit_request = true;
            s.explicit_phrase = Some(p.to_string());
        }
        for (topic, phrases) in &policy.sensitive_topics {
            if phrases.iter().any(|p| contains_phrase(text, p)) {
                topics.insert(topic.clone());
            }
        }
    }
    s.sensitive_topics = topics.into_iter().collect();

    if let Some((_, last)) = customer.last() {
        s.intent = last.intent.clone();
        s.intent_confidence = last.confidence;
    }
    s.always_human_intent = customer
        .iter()
        .rev()
        .filter(|(_, t)| t.confidence.unwrap_or(1.0) >= ALWAYS_HUMAN_MIN_CONFIDENCE)
        .filter_map(|(_, t)| t.intent.as_deref())
        .find(|i| policy.intents.get(*i).is_some_and(|p| p.always_human))
        .map(str::to_string);

    for t in turns.iter().filter(|t| t.is(Role::Bot)) {
        if t.answered == Some(false) {
            s.bot_failures += 1;
            s.bot_no_answers += 1;
        } else {
            s.bot_failures = 0;
        }
    }

    // Each turn's bigrams once, not once per comparison it takes part in.
    let grams: Vec<Vec<(char, char)>> = normalized.iter().map(|t| bigrams(t)).collect();
    for k in 1..customer.len() {
        let (prev_at, prev) = customer[k - 1];
        let (at, cur) = customer[k];
        let similar = dice_of(&grams[k - 1], &grams[k]) >= REPHRASE_SIMILARITY;
        // Same intent again after the bot failed to answer it: the customer is trying anew.
        let bot_failed_between = turns[prev_at + 1..at]
            .iter()
            .any(|t| t.is(Role::Bot) && t.answered == Some(false));
        let same_intent = cur.intent.is_some() && cur.intent == prev.intent && bot_failed_between;
        if similar || same_intent {
            s.rephrases += 1;
        }
    }

    // Only the recent customer turns are scored (oldest first); older ones are not run at all.
    let scored = customer
        .len()
        .saturating_sub(NEGATIVITY_WINDOW.max(FRUSTRATION_WINDOW));
    let negatives: Vec<f32> = customer[scored..]
        .iter()
        .map(|(_, t)| t.negative.unwrap_or_else(|| negative(&t.text)))
        .collect();
    s.latest_negative = negatives.last().copied();
    let last = |n: usize| &negatives[negatives.len().saturating_sub(n)..];
    s.frustration = last(FRUSTRATION_WINDOW).iter().fold(0f32, |a, &b| a.max(b));
    let window = last(NEGATIVITY_WINDOW);
    if !window.is_empty() {
        s.negativity_mean = window.iter().sum::<f32>() / window.len() as f32;
    }
    s
}

/// Words that, just before a request phrase, turn it around ("不用转人工", "no need for an agent").
const REQUEST_NEGATORS: &[&str] = &[
    "不用",
    "不需要",
    "无需",
    "没必要",
    "不必",
    "don't need",
    "do not need",
    "no need",
    "don't want",
    "do not want",
    "not necessary",
];

/// The first request phrase found in `text` that is not negated.
fn find_request<'a>(phrases: &'a [String], text: &str) -> Option<&'a str> {
    phrases.iter().map(String::as_str).find(|p| {
        phrase_positions(text, p).any(|at| {
            let before: Vec<char> = text[..at].chars().collect();
            let before: String = before[before.len().saturating_sub(24)..].iter().collect();
            !negated(&before)
        })
    })
}

/// A negator close before the end of `before`: at most three words (English) or three
/// characters (Chinese) in between.
fn negated(before: &str) -> bool {
    REQUEST_NEGATORS.iter().any(|n| {
        before.rfind(n).is_some_and(|i| {
            let gap = &before[i + n.len()..];
            if n.is_ascii() {
                gap.split_whitespace().count() <= 3
            } else {
                gap.chars().count() <= 3
            }
        })
    })
}

/// Dice coefficient of the character-bigram sets (spaces dropped): works for Chinese, English
/// and mixed text alike without a tokenizer.
pub fn dice(a: &str, b: &str) -> f32 {
    dice_of(&bigrams(a), &bigrams(b))
}

/// The distinct character bigrams of a text (whitespace left out), sorted.
fn bigrams(s: &str) -> Vec<(char, char)> {
    let c: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
    let mut grams: Vec<(char, char)> = c.windows(2).map(|w| (w[0], w[1])).collect();
    grams.sort_unstable();
    grams.dedup();
    grams
}

/// [`dice`] of two texts' [`bigrams`]: one merge of the sorted lists.
fn dice_of(x: &[(char, char)], y: &[(char, char)]) -> f32 {
    if x.is_empty() || y.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut shared) = (0, 0, 0usize);
    while i < x.len() && j < y.len() {
        match x[i].cmp(&y[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    2.0 * shared as f32 / (x.len() + y.len()) as f32
}

/// Inputs of the escalation-score model, in this order (the ONNX model's feature indices).
pub const SCORE_FEATURES: &[&str] = &[
    "explicit_request",
    "sensitive_topic",
    "always_human_intent",
    "bot_failures",
    "bot_no_answers",
    "rephrases",
    "frustration",
    "negativity_mean",
    "vip",
    "turns",
    "customer_turns",
    "intent_uncertainty",
    "agent_involved",
];

/// The score model's input vector: every signal scaled into `[0, 1]`.
pub fn score_features(s: &Signals) -> Vec<f32> {
    let b = |x: bool| if x { 1.0 } else { 0.0 };
    let capped = |x: u32, cap: f32| (x as f32 / cap).min(1.0);
    vec![
        b(s.explicit_request),
        b(!s.sensitive_topics.is_empty()),
        b(s.always_human_intent.is_some()),
        capped(s.bot_failures, 3.0),
        capped(s.bot_no_answers, 4.0),
        capped(s.rephrases, 3.0),
        s.frustration,
        s.negativity_mean,
        b(s.tier.as_deref() == Some("vip")),
        capped(s.turns, 20.0),
        capped(s.customer_turns, 10.0),
        s.intent_confidence.map_or(0.5, |c| 1.0 - c.clamp(0.0, 1.0)),
        b(s.agent_involved),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Bot,
    Human,
    Ticket,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub decision: Outcome,
    pub score: f32,
    pub reasons: Vec<Reason>,
    pub queue: Option<String>,
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
    pub queue: String,
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
        Some(rule) => {
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
        None => {
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
    };
    if d.decision != Outcome::Human {
        return d;
    }
    let queue = d
        .queue
        .clone()
        .unwrap_or_else(|| policy.default_queue.clone());
    d.business_hours = business_hours(policy, &queue, availability);
    // Outside hours is the root cause when both hold, so it is the only reason given.
    if let Some(h) = d.business_hours.as_ref().filter(|h| !h.open) {
        d.decision = Outcome::Ticket;
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
        d.reasons.push(Reason {
            code: "outside_business_hours".into(),
            message_zh,
            message_en,
        });
    } else if availability.agents_online == Some(0) {
        d.decision = Outcome::Ticket;
        d.reasons.push(Reason {
            code: "no_agent_online".into(),
            message_zh: "当前没有在线客服，改为创建工单，客服上线后跟进".into(),
            message_en: "No agent is online; a ticket is offered instead and an agent will follow up"
                .into(),
        });
    }
    d
}

#[cfg(test)]
mod tests;
