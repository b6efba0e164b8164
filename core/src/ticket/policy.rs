//! What the ticket component needs from the knowledge base, compiled once by `kb-loader` into
//! `models/ticket.json`: queues, the intent → queue and priority hints, the entity patterns, the
//! sensitive-topic phrases that raise priority, and the SLA per priority.

use crate::foundation::text::normalize;
use crate::foundation::vocab::{Priority, SlaHours};
use crate::kb::{self, KnowledgeBase};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The `format` of `models/ticket.json` this crate writes and reads.
pub const POLICY_FORMAT: u32 = 1;

/// How a sensitive topic raises a ticket's priority. Topics the KB defines but this table does
/// not name raise it to `high`.
const TOPIC_PRIORITY: &[(&str, Priority)] = &[
    ("legal", Priority::Urgent),
    ("fraud", Priority::Urgent),
    ("account_security", Priority::Urgent),
    ("safety", Priority::Urgent),
    ("complaint", Priority::High),
    ("privacy", Priority::High),
];

/// Routing and priority hints of one intent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntentRoute {
    /// The intent's `queue`, else the default queue.
    pub queue: String,
    /// The intent's `ticket.priority` hint.
    pub priority: Priority,
    /// Display names per language, for summaries.
    pub name: kb::Localized,
}

/// A sensitive topic: its normalised phrases and the priority it implies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicRule {
    /// Topic id, a key of `handoff.yaml`'s `sensitive_topics`.
    pub topic: String,
    /// `urgent` for `legal`, `fraud`, `account_security`, `safety`; `high` for the rest.
    pub priority: Priority,
    /// The topic's trigger phrases of all languages, normalised.
    pub phrases: Vec<String>,
}

/// The ticket policy (`models/ticket.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketPolicy {
    /// [`POLICY_FORMAT`] when written.
    pub format: u32,
    /// `<kb name>-<first 12 hex digits of kb_hash>`, as every model of one build.
    pub model_version: String,
    /// Hex SHA-256 over the KB's source files.
    pub kb_hash: String,
    /// The KB's queues (`kb.yaml`), in file order.
    pub queues: Vec<kb::Queue>,
    /// Where a ticket goes when its category names no queue (the KB's first queue).
    pub default_queue: String,
    /// Intent id → its queue, priority hint and names.
    pub intents: BTreeMap<String, IntentRoute>,
    /// Entity name → regex (`kb.yaml`, `entities:`).
    pub entities: BTreeMap<String, String>,
    /// Sensitive topics that raise a ticket's priority, in `handoff.yaml` order.
    pub topics: Vec<TopicRule>,
    /// SLA per priority (`kb.yaml`'s `ticket_sla_hours`, else 72/24/4/1 hours).
    pub sla_hours: SlaHours,
    /// Queue id → the calendar its SLA clock runs on (queues with `sla_pauses_outside_hours`).
    #[serde(default)]
    pub sla_calendars: BTreeMap<String, crate::foundation::calendar::Calendar>,
}

impl TicketPolicy {
    /// Builds the policy from a validated KB; errors name what is inconsistent.
    pub fn from_kb(kb: &KnowledgeBase, version: &str, hash: &str) -> Result<Self, String> {
        let default_queue = kb
            .meta
            .queues
            .first()
            .map(|q| q.id.clone())
            .ok_or("kb.yaml declares no queues; tickets need at least one")?;
        let known: BTreeSet<&str> = kb.meta.queues.iter().map(|q| q.id.as_str()).collect();
        let mut intents = BTreeMap::new();
        for i in &kb.intents {
            let queue = i.queue.clone().unwrap_or_else(|| default_queue.clone());
            if !known.contains(queue.as_str()) {
                return Err(format!("intent \"{}\": unknown queue \"{queue}\"", i.id));
            }
            intents.insert(
                i.id.clone(),
                IntentRoute {
                    queue,
                    priority: i.ticket.priority,
                    name: i.name.clone(),
                },
            );
        }
        let topics = kb
            .handoff
            .as_ref()
            .map(|h| {
                h.sensitive_topics
                    .iter()
                    .map(|(topic, phrases)| TopicRule {
                        topic: topic.clone(),
                        priority: TOPIC_PRIORITY
                            .iter()
                            .find(|(t, _)| t == topic)
                            .map_or(Priority::High, |(_, p)| *p),
                        phrases: phrases
                            .values()
                            .flatten()
                            .map(|p| normalize(p))
                            .filter(|p| !p.is_empty())
                            .collect(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            format: POLICY_FORMAT,
            model_version: version.into(),
            kb_hash: hash.into(),
            queues: kb.meta.queues.clone(),
            default_queue,
            intents,
            entities: kb.meta.entities.clone(),
            topics,
            sla_hours: kb.meta.ticket_sla_hours.unwrap_or_default(),
            sla_calendars: kb
                .meta
                .queues
                .iter()
                .filter(|q| q.sla_pauses_outside_hours)
                .filter_map(|q| {
                    let name = q.hours.as_ref()?;
                    Some((q.id.clone(), kb.meta.calendars.get(name)?.clone()))
                })
                .collect(),
        })
    }

    /// Whether `id` is a queue of the KB.
    pub fn has_queue(&self, id: &str) -> bool {
        self.queues.iter().any(|q| q.id == id)
    }

    /// The queue of a category; unknown categories (and `none`) go to the default queue.
    pub fn queue_of(&self, category: &str) -> &str {
        self.intents
            .get(category)
            .map_or(self.default_queue.as_str(), |r| r.queue.as_str())
    }
}
