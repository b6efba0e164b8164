//! The decision's view of the KB: explicit-request phrases, sensitive topics, rules, the score
//! threshold, per-intent routing and the queues' calendars, normalised once at build time.

use crate::foundation::calendar::Calendar;
use crate::foundation::text::normalize;
use crate::foundation::vocab::Priority;
use crate::kb::{self, KnowledgeBase};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Per-intent handoff settings taken from intents.yaml.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IntentPolicy {
    /// Whether the intent goes to a person (confidence ≥
    /// [`crate::handoff::ALWAYS_HUMAN_MIN_CONFIDENCE`]).
    pub always_human: bool,
    /// The intent's queue, used when the rule names none; none: the default queue.
    pub queue: Option<String>,
    /// The intent's `ticket.priority`, used when the rule gives none.
    pub priority: Priority,
}

/// Everything the decision needs from the KB, normalised once (shipped in models/handoff.json).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Normalised explicit-request phrases (all languages together: customers mix them).
    pub human_request_phrases: Vec<String>,
    /// Topic → normalised trigger phrases.
    pub sensitive_topics: BTreeMap<String, Vec<String>>,
    /// `handoff.yaml`'s rules, in file order.
    pub rules: Vec<kb::HandoffRule>,
    /// Escalation score from which a human takes over when no rule holds (`handoff.yaml`, else
    /// [`DEFAULT_SCORE_THRESHOLD`]).
    pub score_threshold: f32,
    /// Intent id → its handoff settings (intents.yaml).
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
            check_rule(r, &queues, &h.sensitive_topics, &intents)?;
        }
        let default_queue = if queues.contains("general") {
            "general".to_string()
        } else {
            kb.meta
                .queues
                .first()
                .map_or("general".into(), |q| q.id.clone())
        };
        let business_hours = queue_calendars(kb)?;
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

/// A rule names a known decision, queue, topic and intent, and gives its reason in both
/// languages.
fn check_rule(
    r: &kb::HandoffRule,
    queues: &BTreeSet<&str>,
    topics: &BTreeMap<String, kb::LocalizedList>,
    intents: &BTreeMap<String, IntentPolicy>,
) -> Result<(), String> {
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
        && !topics.contains_key(t)
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
    Ok(())
}

/// Normalised phrases of every language together, sorted, without duplicates or empties.
fn phrases(lists: &kb::LocalizedList) -> Vec<String> {
    let mut v: Vec<String> = lists
        .values()
        .flatten()
        .map(|p| normalize(p))
        .filter(|p| !p.is_empty())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Queue id → its calendar, for the queues that have hours; each calendar must compile.
fn queue_calendars(kb: &KnowledgeBase) -> Result<BTreeMap<String, Calendar>, String> {
    let mut business_hours = BTreeMap::new();
    for q in &kb.meta.queues {
        if let Some(name) = &q.hours {
            let c = kb
                .meta
                .calendars
                .get(name)
                .ok_or_else(|| format!("queue \"{}\": unknown calendar \"{name}\"", q.id))?;
            if let Err(e) = c.compile() {
                return Err(format!("calendar \"{name}\": {}", e[0].message));
            }
            business_hours.insert(q.id.clone(), c.clone());
        }
    }
    Ok(business_hours)
}
