//! Handoff: should the bot keep a conversation or should a human take over — and why, to
//! which queue, how urgently. Pure: the models (sentiment, escalation score) are run by the
//! caller ([`crate::handoff_model`] on tract) and handed in as numbers, so every rule and the
//! decision logic are tested natively without a model.
//!
//! Order of evaluation (documented in docs/kb-format.md, "Handoff"):
//! 1. [`signals`] are computed from the turns (the caller fills in missing intents first);
//! 2. the KB's rules are tried in file order; the **first** whose `when` holds decides;
//! 3. when none holds, the escalation score decides against `score_threshold`;
//! 4. a `human` decision becomes `ticket` when it is outside business hours (the caller's
//!    `within_business_hours`, else the routed queue's [`calendar`](crate::calendar) at the
//!    request's time) or no agent is online ([`Availability`]); the reasons say which.

use crate::calendar::{self, Calendar, Hours};
use crate::kb::{self, KnowledgeBase, Priority};
use crate::text::normalize;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Bot,
    Agent,
}

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

/// Byte offsets where `phrase` occurs in `text` as a whole word when it starts/ends with a
/// Latin letter or digit ("operator" is not in "cooperator"); Han phrases match anywhere.
fn phrase_positions<'a>(text: &'a str, phrase: &'a str) -> impl Iterator<Item = usize> + 'a {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    occurrences(text, phrase).filter(move |&i| {
        let first = phrase.chars().next();
        let last = phrase.chars().last();
        let before = text[..i].chars().next_back();
        let after = text[i + phrase.len()..].chars().next();
        let cuts_word_before = word(first) && word(before);
        let cuts_word_after = word(last) && word(after);
        !cuts_word_before && !cuts_word_after
    })
}

/// Byte offsets of the non-overlapping occurrences of a non-empty `phrase`, leftmost first, as
/// `str::match_indices` gives them. A scan for the first byte: a policy has a few hundred short
/// phrases and a turn is short, so building a two-way searcher per phrase (what
/// `match_indices` does) cost more than the search itself. UTF-8 is self-synchronising, so a
/// byte match of valid UTF-8 always starts on a character boundary.
fn occurrences<'a>(text: &'a str, phrase: &'a str) -> impl Iterator<Item = usize> + 'a {
    let (t, p) = (text.as_bytes(), phrase.as_bytes());
    let mut from = 0;
    std::iter::from_fn(move || {
        let (&first, rest) = p.split_first()?;
        while from + p.len() <= t.len() {
            let at = from
                + t[from..=t.len() - p.len()]
                    .iter()
                    .position(|&b| b == first)?;
            if &t[at + 1..at + p.len()] == rest {
                from = at + p.len();
                return Some(at);
            }
            from = at + 1;
        }
        None
    })
}

pub fn contains_phrase(text: &str, phrase: &str) -> bool {
    phrase_positions(text, phrase).next().is_some()
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
mod tests {
    use super::*;
    use crate::kb::{HandoffRule, RuleCondition};

    #[test]
    fn occurrences_are_those_of_match_indices() {
        let texts = [
            "",
            "a",
            "aaaa",
            "转人工转人工 please 转人工",
            "i want a human, a HUMAN agent, human",
            "退款退款退 refund refunds",
            "订单号 td123 还没到 where is it",
        ];
        let phrases = [
            "a",
            "aa",
            "aaa",
            "aaaaa",
            "转人工",
            "人工转",
            "human",
            "n, a",
            "退款",
            "退",
            "refund",
            "s",
            "还没到",
            "it",
            "td123 还",
            "where is it!",
        ];
        for t in texts {
            for p in phrases {
                let want: Vec<usize> = t.match_indices(p).map(|(i, _)| i).collect();
                assert_eq!(
                    occurrences(t, p).collect::<Vec<_>>(),
                    want,
                    "{p:?} in {t:?}"
                );
            }
        }
    }

    fn rule(
        id: &str,
        when: RuleCondition,
        queue: Option<&str>,
        prio: Option<Priority>,
    ) -> HandoffRule {
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
    fn run(
        tier: Option<&str>,
        turns: &[Turn],
        score: f32,
        agents: Option<u32>,
    ) -> (Signals, Decision) {
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
            crate::calendar::WEEKDAYS
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
        use crate::calendar::parse_rfc3339;
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
}
