//! The signals a decision rests on, computed from the turns: explicit requests (unless negated),
//! sensitive topics, always-human intents, bot failures, rephrasings, frustration; and the
//! escalation-score model's input vector made from them.

use super::{
    ALWAYS_HUMAN_MIN_CONFIDENCE, FRUSTRATION_WINDOW, NEGATIVITY_WINDOW, Policy,
    REPHRASE_SIMILARITY, Turn,
};
use crate::foundation::text::{contains_phrase, normalize, phrase_positions};
use crate::foundation::vocab::Role;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

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
    /// Confidence of `intent`, as the turn carried it.
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
    /// The customer's tier, normalised (`vip`); none when not given.
    pub tier: Option<String>,
    /// All turns of the request.
    pub turns: u32,
    /// Turns by the customer.
    pub customer_turns: u32,
    /// A human agent already wrote in this conversation.
    pub agent_involved: bool,
}

/// What the customer's (normalised) texts say: an explicit request for a person, unless
/// negated, and the sensitive topics they touch.
fn read_texts(policy: &Policy, normalized: &[String], s: &mut Signals) {
    let mut topics = BTreeSet::new();
    for text in normalized {
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
}

/// Customer turns that rephrase the one before: similar text, or the same intent again after
/// the bot failed to answer it. `customer` holds each customer turn with its index in `turns`.
fn rephrases(turns: &[Turn], customer: &[(usize, &Turn)], normalized: &[String]) -> u32 {
    // Each turn's bigrams once, not once per comparison it takes part in.
    let grams: Vec<Vec<(char, char)>> = normalized.iter().map(|t| bigrams(t)).collect();
    let mut n = 0;
    for k in 1..customer.len() {
        let (prev_at, prev) = customer[k - 1];
        let (at, cur) = customer[k];
        let similar = dice_of(&grams[k - 1], &grams[k]) >= REPHRASE_SIMILARITY;
        let bot_failed_between = turns[prev_at + 1..at]
            .iter()
            .any(|t| t.is(Role::Bot) && t.answered == Some(false));
        let same_intent = cur.intent.is_some() && cur.intent == prev.intent && bot_failed_between;
        if similar || same_intent {
            n += 1;
        }
    }
    n
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

    read_texts(policy, &normalized, &mut s);

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

    s.rephrases = rephrases(turns, &customer, &normalized);

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
