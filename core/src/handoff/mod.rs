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

mod decide;
mod policy;
pub mod request;
mod signals;
pub use crate::foundation::vocab::Turn;
pub use decide::{Availability, BusinessHours, Decision, Outcome, Reason, decide, rule_holds};
pub use policy::{DEFAULT_SCORE_THRESHOLD, IntentPolicy, Policy};
pub use signals::{SCORE_FEATURES, Signals, dice, score_features, signals};

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

#[cfg(test)]
mod tests;
