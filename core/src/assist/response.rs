//! The answer to a turn, typed: the `AssistResponse` schema of openapi/openapi.json. The
//! component fills it from what its plugged-in services returned; serde gives its JSON.

use super::{Decision, Reply, TicketRef};
use crate::handoff::{BusinessHours, Reason, Signals};
use serde::Serialize;

/// `POST /v1/assist`'s answer.
#[derive(Serialize)]
pub struct AssistResponse {
    /// The conversation this turn belongs to (`cv_…`): the one sent, or a new one.
    pub conversation_id: String,
    /// This turn's number in the conversation, from 1.
    pub turn: u32,
    /// What the bot says back, and which capability it came from.
    pub reply: Reply,
    /// The intent model's reading of the message.
    pub intent: IntentPart,
    /// The FAQ's answer, or why there is none.
    pub faq: FaqPart,
    /// The handoff decision and the signals behind it.
    pub handoff: HandoffPart,
    /// The conversation's ticket, once a turn has handed it to a person.
    pub ticket: Option<TicketPart>,
    /// What the turn cost the shared encoder.
    pub trace: Trace,
}

/// The version of the model that answered (the manifest's `model_version`).
#[derive(Serialize)]
pub struct ModelPart {
    /// `<kb name>-<hash of the KB>`, as the model's manifest states it.
    pub version: String,
}

/// One intent of the ranking.
#[derive(Serialize)]
pub struct Ranked {
    /// The intent id.
    pub intent: String,
    /// Its probability, in [0, 1].
    pub confidence: f32,
}

/// The intent model's reading of the message.
#[derive(Serialize)]
pub struct IntentPart {
    /// The best intent id (even when out of scope: the closest guess).
    pub intent: String,
    /// Its probability, in [0, 1].
    pub confidence: f32,
    /// The message is none of the KB's intents (below the calibrated threshold).
    pub out_of_scope: bool,
    /// The top intents, most likely first.
    pub ranking: Vec<Ranked>,
    /// The intent model's version.
    pub model: ModelPart,
}

/// The FAQ's answer, or why there is none (the two shapes of `POST /v1/faq`'s customer mode).
#[derive(Serialize)]
#[serde(untagged)]
pub enum FaqPart {
    /// An entry clears the calibrated threshold.
    Answer {
        /// The entry's answer in `lang`.
        answer: String,
        /// The entry's id in faq.yaml.
        faq_id: String,
        /// The ranking score that cleared the threshold.
        score: f32,
        /// The question or paraphrase of the entry that matched best.
        matched_question: String,
        /// `zh` or `en`.
        lang: &'static str,
        /// The FAQ index's version.
        model: ModelPart,
    },
    /// No entry clears it.
    NoAnswer {
        /// Always `true`: the shape's tag for clients.
        no_answer: bool,
        /// `below-threshold`, or what kept the best entry out (e.g. expired).
        reason: String,
        /// `zh` or `en`.
        lang: &'static str,
        /// The FAQ index's version.
        model: ModelPart,
    },
}

/// The handoff decision, as `POST /v1/handoff` gives it.
#[derive(Serialize)]
pub struct HandoffPart {
    /// Bot, a person now, or a ticket for later.
    pub decision: Decision,
    /// The escalation model's probability that a person should take over, in [0, 1].
    pub score: f32,
    /// Why, in both languages: the rule that decided or the score, then any downgrade.
    pub reasons: Vec<Reason>,
    /// The queue a person would take it from (decisions that want a person).
    pub queue: Option<String>,
    /// `low`, `normal`, `high` or `urgent`.
    pub priority: &'static str,
    /// The signals the decision rests on.
    pub signals: Signals,
    /// Only on a decision that wanted a person (as `POST /v1/handoff` answers it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_hours: Option<BusinessHours>,
}

/// The conversation's ticket; on the turn that created it, also what only that turn shows.
#[derive(Serialize)]
pub struct TicketPart {
    /// Its id and number, as the conversation keeps them.
    #[serde(flatten)]
    pub ticket: TicketRef,
    /// This turn created it.
    pub new: bool,
    /// Only on the turn that created it.
    #[serde(flatten)]
    pub created: Option<CreatedPart>,
}

/// What only the creating turn shows of a ticket.
#[derive(Serialize)]
pub struct CreatedPart {
    /// Its status: `new` when just created; a replay shows the status it has now.
    pub status: &'static str,
    /// The agent it was assigned to at creation, if any.
    pub assignee: Option<String>,
    /// The customer's token for reading this ticket (`GET /v1/tickets/{id}`); shown once.
    pub access_token: String,
    /// The ticket existed already for this turn (a retried request).
    pub replayed: bool,
}

/// The one encoder instance intent and FAQ share (and ticket's classification when a ticket
/// is opened): how many texts this turn ran through the network.
#[derive(Serialize)]
pub struct Trace {
    /// Texts run through the encoder network this turn (cached texts are not counted).
    pub texts_encoded: u64,
}
