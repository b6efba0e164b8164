//! What the bot says back: the handoff notice, the FAQ answer, a filled intent template, or the
//! honest fallback, in the customer's language.

use super::*;
use crate::faq::templates::{EntityPatterns, fill};
use crate::foundation::vocab::Lang;
use crate::kb::Localized;
use std::collections::{BTreeMap, BTreeSet};

/// How assist phrases its replies in a [`Lang`].
trait LangText {
    fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str;
    fn of_localized(self, localized: &Localized) -> Option<&str>;
}

impl LangText for Lang {
    fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The text of `localized` in this language, else in any language it has.
    fn of_localized(self, localized: &Localized) -> Option<&str> {
        localized
            .get(self.as_str())
            .or_else(|| localized.values().next())
            .map(String::as_str)
    }
}

/// Everything the assist needs from the knowledge base, extracted from `models/` at build
/// time (the component's `build.rs`): reply templates, entity patterns, display names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AssistPolicy {
    /// Version of the KB build the policy comes from (`models/faq.json`'s `model_version`).
    pub model_version: String,
    /// Intent id → language → reply template with `{entity}` placeholders.
    #[serde(default)]
    pub templates: BTreeMap<String, Localized>,
    /// Entity name → regex.
    #[serde(default)]
    pub entities: BTreeMap<String, String>,
    /// Intent id → language → display name.
    #[serde(default)]
    pub intent_names: BTreeMap<String, Localized>,
    /// Queue id → language → display name.
    #[serde(default)]
    pub queue_names: BTreeMap<String, Localized>,
    /// Intents a person always handles: their templates promise a transfer, so the bot never
    /// sends them on its own.
    #[serde(default)]
    pub always_human: BTreeSet<String>,
}

/// The policy with its entity patterns compiled (once, at pre-initialisation).
#[derive(Clone, Debug)]
pub struct Replies {
    /// The policy the patterns were compiled from.
    pub policy: AssistPolicy,
    entities: EntityPatterns,
}

/// What the intent service said about the message.
#[derive(Clone, Debug, PartialEq)]
pub struct IntentView {
    /// The predicted intent id.
    pub intent: String,
    /// Its confidence, in `[0, 1]`.
    pub confidence: f32,
    /// True when no intent fits; the template path is then skipped.
    pub out_of_scope: bool,
}

/// Where the handoff decision learns whether people are at work (Spin variable
/// `business_hours`): the routed queue's calendar at the turn's time, or an operator's word
/// that overrides every calendar (a desk staffed around the clock, or closed for an incident).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeskHours {
    /// Read the routed queue's calendar at the turn's time (`calendar`, the default).
    Calendar,
    /// Staffed whatever the calendars say (`open`).
    Open,
    /// Closed whatever the calendars say (`closed`).
    Closed,
}

impl DeskHours {
    /// `calendar` (also unset: empty), `open` or `closed`; anything else is a setup error.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "calendar" => Ok(Self::Calendar),
            "open" => Ok(Self::Open),
            "closed" => Ok(Self::Closed),
            other => Err(format!(
                "the business_hours variable is \"{other}\": write calendar, open or closed"
            )),
        }
    }

    /// What the handoff request carries: `(within_business_hours, at)` for a turn at
    /// `now_secs` (Unix seconds).
    pub fn availability(self, now_secs: i64) -> (Option<bool>, Option<String>) {
        match self {
            Self::Calendar => (
                None,
                Some(crate::foundation::calendar::format_rfc3339(now_secs, 0)),
            ),
            Self::Open => (Some(true), None),
            Self::Closed => (Some(false), None),
        }
    }
}

/// The handoff service's outcome for the turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The bot keeps the conversation.
    Bot,
    /// A person takes over.
    Human,
    /// A ticket instead of a person (desk closed, or no agent online).
    Ticket,
}

/// Where a reply came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The FAQ's answer.
    Faq,
    /// The intent's reply template, filled or asking for what it lacks.
    Intent,
    /// The "I can't answer that" of [`fallback_text`].
    Fallback,
    /// The handoff notice (a person takes over, or a ticket was opened).
    Handoff,
}

/// Whether a turn is a knowledge gap (docs/graph.md, "Gaps"): the bot gave its "I can't
/// answer that", or it handed off a message the FAQ could not answer and no intent covers.
/// A handoff of an in-scope message (a refund a person must approve, "转人工") is not a gap:
/// the KB knows the topic.
pub fn is_knowledge_gap(source: Source, faq_answered: bool, out_of_scope: bool) -> bool {
    match source {
        Source::Fallback => true,
        Source::Handoff => !faq_answered && out_of_scope,
        Source::Faq | Source::Intent => false,
    }
}

/// The bot's reply to a turn.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reply {
    /// What to show the customer.
    pub text: String,
    /// Which path produced it.
    pub source: Source,
    /// The language it is written in.
    pub lang: Lang,
    /// As recorded on the bot turn for the handoff decision: `true` answered, `false` no
    /// answer (fallback), none for handoffs and questions back to the customer.
    #[serde(skip)]
    pub answered: Option<bool>,
    /// The template placeholders the bot asked for, to fill from the next message.
    #[serde(skip)]
    pub pending: Option<Pending>,
}

/// The handoff part of a turn, as the reply needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct HandoffView<'a> {
    /// The handoff service's outcome for the turn.
    pub decision: Decision,
    /// The conversation's ticket (created on this turn or earlier).
    pub ticket_id: Option<&'a str>,
    /// Queue id of the conversation's ticket; its display name goes into the notice.
    pub ticket_queue: Option<&'a str>,
    /// Whether this turn created the ticket.
    pub ticket_is_new: bool,
    /// When the desk is closed: the RFC 3339 time a person is back (the routed queue's
    /// calendar), told to the customer.
    pub back_at: Option<&'a str>,
}

/// How entity kinds are named when the bot asks for them.
fn entity_name(name: &str, lang: Lang) -> String {
    let (zh, en) = match name {
        "order_id" => ("订单号", "order number"),
        "amount" => ("金额", "amount"),
        "date" => ("日期", "date"),
        "phone" => ("手机号", "phone number"),
        "email" => ("邮箱", "e-mail address"),
        other => (other, other),
    };
    lang.pick(zh, en).replace('_', " ")
}

impl Replies {
    /// Compiles the policy's entity patterns; errors on a bad regex.
    pub fn new(policy: AssistPolicy) -> anyhow::Result<Self> {
        let entities = EntityPatterns::compile(&policy.entities)?;
        Ok(Self { policy, entities })
    }

    /// Whether the handoff decision sends this turn to a person.
    pub fn hands_off(decision: Decision) -> bool {
        matches!(decision, Decision::Human | Decision::Ticket)
    }

    /// The reply to a turn (see the module docs for the order).
    pub fn compose(
        &self,
        message: &str,
        lang: Lang,
        intent: &IntentView,
        faq_answer: Option<&str>,
        handoff: &HandoffView<'_>,
        pending: Option<&Pending>,
    ) -> Reply {
        if Self::hands_off(handoff.decision) {
            return Reply {
                text: self.handoff_text(lang, handoff),
                source: Source::Handoff,
                lang,
                answered: None,
                pending: None,
            };
        }
        if let Some(answer) = faq_answer {
            return Reply {
                text: answer.to_string(),
                source: Source::Faq,
                lang,
                answered: Some(true),
                pending: None,
            };
        }
        let confident = !intent.out_of_scope && intent.confidence >= INTENT_REPLY_MIN_CONFIDENCE;
        // The message answers what the bot asked for (an order number after "which order?"),
        // unless it is confidently about something else.
        let values = self.entities.find(message);
        if let Some(p) = pending
            && (!confident || intent.intent == p.intent)
            && p.missing.iter().all(|m| values.contains_key(m))
            && let Some(reply) = self.template_reply(&p.intent, lang, &values)
        {
            return reply;
        }
        if confident && let Some(reply) = self.template_reply(&intent.intent, lang, &values) {
            return reply;
        }
        Reply {
            text: fallback_text(lang).to_string(),
            source: Source::Fallback,
            lang,
            answered: Some(false),
            pending: None,
        }
    }

    /// The intent's template filled from `values`; when placeholders stay empty, a question
    /// asking for them. None when the intent has no template or is always handled by a person.
    fn template_reply(
        &self,
        intent: &str,
        lang: Lang,
        values: &BTreeMap<String, String>,
    ) -> Option<Reply> {
        if self.policy.always_human.contains(intent) {
            return None;
        }
        let template = lang.of_localized(self.policy.templates.get(intent)?)?;
        let filled = fill(template, values);
        if filled.missing.is_empty() {
            return Some(Reply {
                text: filled.text,
                source: Source::Intent,
                lang,
                answered: Some(true),
                pending: None,
            });
        }
        let wanted: Vec<String> = filled
            .missing
            .iter()
            .map(|m| entity_name(m, lang))
            .collect();
        let topic = self
            .policy
            .intent_names
            .get(intent)
            .and_then(|n| lang.of_localized(n))
            .unwrap_or(intent);
        let text = match lang {
            Lang::Zh => format!(
                "好的，关于「{topic}」，请提供您的{}，我来帮您处理。",
                wanted.join("和")
            ),
            Lang::En => format!(
                "Sure, I can help with that ({topic}). Could you give me your {}?",
                wanted.join(" and ")
            ),
        };
        Some(Reply {
            text,
            source: Source::Intent,
            lang,
            answered: None,
            pending: Some(Pending {
                intent: intent.to_string(),
                missing: filled.missing,
            }),
        })
    }

    fn handoff_text(&self, lang: Lang, h: &HandoffView<'_>) -> String {
        let id = h.ticket_id.unwrap_or("-");
        let queue = h
            .ticket_queue
            .and_then(|q| self.policy.queue_names.get(q))
            .and_then(|n| lang.of_localized(n));
        if let Some(back) = h.back_at.map(crate::foundation::calendar::readable) {
            return match (lang, h.ticket_is_new) {
                (Lang::Zh, true) => format!(
                    "现在是人工客服的休息时间，已为您创建工单 {id}。人工客服将于 {back} 上班，届时会在这里回复您。"
                ),
                (Lang::En, true) => format!(
                    "Our team is offline right now, so I've opened ticket {id} for you. A person \
                     is back at {back} and will reply here."
                ),
                (Lang::Zh, false) => {
                    format!("您的问题已在工单 {id} 中，人工客服将于 {back} 上班后在这里回复您。")
                }
                (Lang::En, false) => format!(
                    "Your conversation is already with our team (ticket {id}); a person is back \
                     at {back} and will reply here."
                ),
            };
        }
        match (lang, h.ticket_is_new, h.decision) {
            (Lang::Zh, false, _) => {
                format!("您的问题已在工单 {id} 中由人工客服跟进，客服会尽快在这里回复您，请稍候。")
            }
            (Lang::En, false, _) => format!(
                "Your conversation is already with our team (ticket {id}); an agent will reply \
                 here as soon as possible."
            ),
            (Lang::Zh, true, Decision::Ticket) => {
                format!("目前暂无人工客服在线，已为您创建工单 {id}，我们会尽快联系您。")
            }
            (Lang::En, true, Decision::Ticket) => format!(
                "No agent is available right now, so I've opened ticket {id} for you; we'll get \
                 back to you as soon as possible."
            ),
            (Lang::Zh, true, _) => match queue {
                Some(q) => format!(
                    "好的，正在为您转接人工客服（{q}），工单号 {id}。客服会在这里继续为您服务，请稍候。"
                ),
                None => format!(
                    "好的，正在为您转接人工客服，工单号 {id}。客服会在这里继续为您服务，请稍候。"
                ),
            },
            (Lang::En, true, _) => match queue {
                Some(q) => format!(
                    "I'm passing you to a human agent ({q} team), ticket {id}. An agent will \
                     continue here shortly."
                ),
                None => format!(
                    "I'm passing you to a human agent, ticket {id}. An agent will continue here \
                     shortly."
                ),
            },
        }
    }
}

/// The reply when nothing answers the message, in the customer's language.
pub fn fallback_text(lang: Lang) -> &'static str {
    lang.pick(
        "抱歉，这个问题我暂时无法回答。您可以换个说法再问一次，或者回复「转人工」联系人工客服。",
        "Sorry, I don't have an answer to that. You could rephrase your question, or say \
         \"talk to a human\" to reach a person.",
    )
}
