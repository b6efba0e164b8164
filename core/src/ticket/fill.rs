//! Auto-fill: from a validated create request (plus the intent classification and the
//! customer's recent-ticket count, which the component looks up) to everything a ticket stores.

use super::{CreateInput, TicketPolicy};
use crate::faq::templates::EntityPatterns;
use crate::foundation::pii;
use crate::foundation::text::contains_phrase;
use crate::foundation::text::{detect_language, normalize};
use crate::foundation::vocab::Priority;
use crate::foundation::vocab::Role;
use crate::foundation::vocab::Turn;
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest derived subject, in characters (`…` included when cut).
pub const SUBJECT_CHARS: usize = 60;
/// Longest summary, in characters (`…` included when cut).
pub const SUMMARY_CHARS: usize = 280;

/// The intent classification of an uncategorised ticket.
#[derive(Clone, Debug, PartialEq)]
pub struct Classified {
    /// The predicted intent id.
    pub intent: String,
    /// The model's confidence in it, in `[0, 1]`.
    pub confidence: f32,
    /// True when no intent fits: the ticket's category becomes `none`.
    pub out_of_scope: bool,
}

/// An entity found in the conversation; personal data arrives masked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    /// `order_id` (or another KB entity name), `amount`, `date`, or a personal-data kind (`phone`,
    /// `email`, `id_card`, `bank_card`).
    pub kind: String,
    /// The text found (masked for personal data).
    pub value: String,
}

/// Why a ticket has its priority, in both languages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// `given`, `intent_hint`, `sensitive_topic`, `vip` or `repeated_contact`.
    pub code: String,
    /// Chinese message, ending with the priority it implies (`（高）`).
    pub message_zh: String,
    /// English message, ending with the priority it implies (`(high)`).
    pub message_en: String,
}

/// Everything filled in for a new ticket except what the store decides (id, assignee, times).
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    /// An intent id, or `none` (out of scope, or nothing classified).
    pub category: String,
    /// `given` or `classified`.
    pub category_source: &'static str,
    /// The classifier's confidence; none when given or not classified.
    pub category_confidence: Option<f32>,
    /// Queue of the category ([`TicketPolicy::queue_of`]).
    pub queue: String,
    /// The given priority, else the highest contribution, one level up on repeated contact.
    pub priority: Priority,
    /// Every contribution to the priority, in order.
    pub priority_reasons: Vec<Reason>,
    /// The given subject or the first customer sentence, masked, at most [`SUBJECT_CHARS`].
    pub subject: String,
    /// `[category name] ` + the first customer sentence and those carrying an entity or sensitive
    /// topic, masked, at most [`SUMMARY_CHARS`].
    pub summary: String,
    /// The request's transcript with personal data masked.
    pub transcript: Vec<Turn>,
    /// Entities of the customer turns, without repeats.
    pub entities: Vec<Entity>,
    /// SLA for the priority, in hours (`kb.yaml`'s `ticket_sla_hours`, else 72/24/4/1).
    pub sla_hours: u32,
    /// The queue's business hours when its SLA clock pauses outside them.
    pub sla_calendar: Option<crate::foundation::calendar::Hours>,
}

impl Draft {
    /// When the ticket is due if filed at `now_ms`: `sla_hours` later, counted in the queue's
    /// open hours when its clock pauses outside them (wall-clock hours if the calendar holds
    /// too little open time ahead).
    pub fn sla_due(&self, now_ms: i64) -> i64 {
        let seconds = i64::from(self.sla_hours) * 3_600;
        self.sla_calendar
            .as_ref()
            .and_then(|h| h.add_open_time(now_ms.div_euclid(1000), seconds))
            .map_or(now_ms + seconds * 1000, |due| due * 1000)
    }
}

/// The policy with its patterns compiled (once per instance).
pub struct TicketRules {
    /// The policy the rules were compiled from.
    pub policy: TicketPolicy,
    /// Queue id → compiled hours, for the queues whose SLA pauses outside them.
    sla_hours: BTreeMap<String, crate::foundation::calendar::Hours>,
    entities: EntityPatterns,
    amount: Regex,
    date: Regex,
}

impl TicketRules {
    /// Compiles the entity patterns and SLA calendars; errors on a bad pattern or calendar.
    pub fn new(policy: TicketPolicy) -> anyhow::Result<Self> {
        let entities = EntityPatterns::compile(&policy.entities)?;
        let mut sla_hours = BTreeMap::new();
        for (queue, calendar) in &policy.sla_calendars {
            let hours = calendar.compile().map_err(|e| {
                anyhow::anyhow!(
                    "queue {queue}: its calendar does not compile: {}",
                    e[0].message
                )
            })?;
            sla_hours.insert(queue.clone(), hours);
        }
        Ok(Self {
            policy,
            sla_hours,
            entities,
            amount: Regex::new(
                r"(?i)(?:[¥￥$]\s?\d[\d,]*(?:\.\d{1,2})?|\d[\d,]*(?:\.\d{1,2})?\s?(?:元|块钱|块|rmb|cny|usd|yuan|dollars?)(?-u:\b)?)",
            )?,
            date: Regex::new(
                r"(?:\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}[日号]?|\d{1,2}月\d{1,2}[日号])",
            )?,
        })
    }

    /// Fills a ticket from a request that passed [`CreateInput::validate`]. `classified` is
    /// used only when the request names no category; `recent_tickets` counts the customer's
    /// other tickets of the last seven days.
    pub fn fill(
        &self,
        input: &CreateInput,
        classified: Option<&Classified>,
        recent_tickets: u32,
    ) -> Draft {
        let (category, category_source, category_confidence) = match (&input.category, classified) {
            (Some(c), _) => (c.clone(), "given", None),
            (None, Some(c)) if !c.out_of_scope => {
                (c.intent.clone(), "classified", Some(c.confidence))
            }
            (None, Some(c)) => ("none".to_string(), "classified", Some(c.confidence)),
            (None, None) => ("none".to_string(), "classified", None),
        };
        let queue = self.policy.queue_of(&category).to_string();
        let customer_text: Vec<&str> = input
            .transcript
            .iter()
            .filter(|t| t.role == Role::Customer)
            .map(|t| t.text.as_str())
            .collect();
        let topics = self.topics(&customer_text);
        let (priority, priority_reasons) = match input.priority {
            Some(p) => (
                p,
                vec![reason("given", "由创建者指定", "set by the caller", p)],
            ),
            None => self.priority(&category, &topics, input.customer.is_vip(), recent_tickets),
        };
        let transcript: Vec<Turn> = input
            .transcript
            .iter()
            .map(|t| Turn {
                text: pii::mask(&t.text),
                negative: None,
                ..t.clone()
            })
            .collect();
        let masked_customer: Vec<&str> = transcript
            .iter()
            .filter(|t| t.role == Role::Customer)
            .map(|t| t.text.as_str())
            .collect();
        let subject = match &input.subject {
            Some(s) => pii::mask(s.trim()),
            None => masked_customer
                .first()
                .and_then(|t| sentences(t).next())
                .map_or_else(String::new, |s| truncate_chars(s, SUBJECT_CHARS)),
        };
        let entities = self.entities(&customer_text);
        let summary = self.summary(&category, &masked_customer, &entities);
        Draft {
            sla_hours: self.policy.sla_hours.for_priority(priority),
            sla_calendar: self.sla_hours.get(&queue).cloned(),
            category,
            category_source,
            category_confidence,
            queue,
            priority,
            priority_reasons,
            subject,
            summary,
            transcript,
            entities,
        }
    }

    /// Sensitive topics named in the customer's turns, in policy order.
    fn topics(&self, customer_text: &[&str]) -> Vec<(&str, Priority)> {
        let normalized: Vec<String> = customer_text.iter().map(|t| normalize(t)).collect();
        self.policy
            .topics
            .iter()
            .filter(|rule| {
                rule.phrases
                    .iter()
                    .any(|p| normalized.iter().any(|t| contains_phrase(t, p)))
            })
            .map(|rule| (rule.topic.as_str(), rule.priority))
            .collect()
    }

    fn priority(
        &self,
        category: &str,
        topics: &[(&str, Priority)],
        vip: bool,
        recent_tickets: u32,
    ) -> (Priority, Vec<Reason>) {
        let mut reasons = Vec::new();
        let mut p = Priority::Normal;
        if let Some(route) = self.policy.intents.get(category) {
            p = route.priority;
            reasons.push(reason(
                "intent_hint",
                &format!("意图 {category} 的默认优先级"),
                &format!("default priority of intent {category}"),
                p,
            ));
        }
        for (topic, tp) in topics {
            p = p.max(*tp);
            reasons.push(reason(
                "sensitive_topic",
                &format!("涉及敏感话题：{topic}"),
                &format!("mentions a sensitive topic: {topic}"),
                *tp,
            ));
        }
        if vip {
            p = p.max(Priority::High);
            reasons.push(reason("vip", "VIP 客户", "VIP customer", Priority::High));
        }
        if recent_tickets > 0 {
            p = bump(p);
            reasons.push(reason(
                "repeated_contact",
                &format!("该客户 7 天内已有 {recent_tickets} 张工单，提升一级"),
                &format!(
                    "the customer opened {recent_tickets} other ticket(s) in 7 days: one level up"
                ),
                p,
            ));
        }
        (p, reasons)
    }

    /// Order numbers, amounts, dates (raw text) and personal data (masked), without repeats.
    fn entities(&self, customer_text: &[&str]) -> Vec<Entity> {
        let mut out: Vec<Entity> = Vec::new();
        let mut push = |kind: &str, value: String| {
            if !out.iter().any(|e| e.kind == kind && e.value == value) {
                out.push(Entity {
                    kind: kind.into(),
                    value,
                });
            }
        };
        for text in customer_text {
            let personal = pii::find(text);
            let overlaps_personal =
                |s: usize, e: usize| personal.iter().any(|m| s < m.end && m.start < e);
            for (name, m) in self.entities.find_all(text) {
                if !overlaps_personal(m.start(), m.end()) {
                    push(name, m.as_str().to_string());
                }
            }
            for (kind, re) in [("amount", &self.amount), ("date", &self.date)] {
                for m in re.find_iter(text) {
                    if !overlaps_personal(m.start(), m.end()) {
                        push(kind, m.as_str().trim().to_string());
                    }
                }
            }
            for m in personal {
                push(m.kind.as_str(), m.masked);
            }
        }
        out
    }

    /// `[category name] first sentence … sentences carrying an entity or a sensitive topic`.
    fn summary(&self, category: &str, masked_customer: &[&str], entities: &[Entity]) -> String {
        let lang = masked_customer.first().map_or("en", |t| detect_language(t));
        let name = self
            .policy
            .intents
            .get(category)
            .and_then(|r| r.name.get(lang).or_else(|| r.name.values().next()))
            .cloned()
            .unwrap_or_else(|| category.to_string());
        let phrases: Vec<&str> = self
            .policy
            .topics
            .iter()
            .flat_map(|t| t.phrases.iter().map(String::as_str))
            .collect();
        let mut picked: Vec<&str> = Vec::new();
        for (i, s) in masked_customer
            .iter()
            .flat_map(|t| sentences(t))
            .enumerate()
        {
            let norm = normalize(s);
            let carries = entities.iter().any(|e| s.contains(e.value.as_str()))
                || phrases.iter().any(|p| contains_phrase(&norm, p));
            if (i == 0 || carries) && !picked.contains(&s) {
                picked.push(s);
            }
        }
        let sep = if lang == "zh" { "；" } else { "; " };
        truncate_chars(&format!("[{name}] {}", picked.join(sep)), SUMMARY_CHARS)
    }
}

fn bump(p: Priority) -> Priority {
    match p {
        Priority::Low => Priority::Normal,
        Priority::Normal => Priority::High,
        Priority::High | Priority::Urgent => Priority::Urgent,
    }
}

fn priority_word(p: Priority) -> (&'static str, &'static str) {
    match p {
        Priority::Low => ("低", "low"),
        Priority::Normal => ("普通", "normal"),
        Priority::High => ("高", "high"),
        Priority::Urgent => ("紧急", "urgent"),
    }
}

fn reason(code: &str, zh: &str, en: &str, p: Priority) -> Reason {
    let (pz, pe) = priority_word(p);
    Reason {
        code: code.into(),
        message_zh: format!("{zh}（{pz}）"),
        message_en: format!("{en} ({pe})"),
    }
}

/// Sentences of a text, split after Chinese and English end punctuation and at line breaks.
fn sentences(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive(['。', '！', '？', '!', '?', '\n', '；', ';'])
        .flat_map(|s| s.split_inclusive(". "))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// At most `max` characters, with `…` when cut (never splits a character).
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests;
