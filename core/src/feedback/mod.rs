//! Feedback events: what a client may send, how it is checked, and the times it carries.
//!
//! The feedback component stores what [`validate`] returns; keeping the rules here means the
//! component, the metrics reference in [`crate::feedback::metrics`] and the tests all agree on what an
//! event is. Personal data in `comment` and `text` is masked with [`crate::foundation::pii`] before storage.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use crate::foundation::problem::Problem;
use crate::foundation::time::{civil_from_days, days_from_civil};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub mod drilldown;
pub mod metrics;

/// Longest `comment` or `text`, in bytes after trimming. Longer is 413, not truncated.
pub const MAX_TEXT_BYTES: usize = 4096;
/// Largest request body (two texts at the limit plus the other fields fit).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest id (`event_id`, `conversation_id`, `turn_id`, `agent_id`).
pub const MAX_ID_BYTES: usize = 128;
/// Largest plausible `contact_count`.
pub const MAX_CONTACTS: u32 = 1000;

/// What an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A customer's rating, 1–5.
    Rating,
    /// How the conversation ended: resolved or not, and by whom.
    Outcome,
    /// An agent's fix of the predicted intent or FAQ entry.
    Correction,
    /// A free-text comment alone.
    Comment,
}

impl Kind {
    /// The serde name (`rating`, `outcome`, `correction`, `comment`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Rating => "rating",
            Kind::Outcome => "outcome",
            Kind::Correction => "correction",
            Kind::Comment => "comment",
        }
    }

    /// The kind of a serde name; none for anything else.
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "rating" => Kind::Rating,
            "outcome" => Kind::Outcome,
            "correction" => Kind::Correction,
            "comment" => Kind::Comment,
            _ => return None,
        })
    }
}

/// Who handled a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandledBy {
    /// The bot alone.
    Bot,
    /// A human alone (the bot handed over before answering anything).
    Human,
    /// The bot, then a human.
    Both,
}

impl HandledBy {
    /// The serde name (`bot`, `human`, `both`).
    pub fn as_str(self) -> &'static str {
        match self {
            HandledBy::Bot => "bot",
            HandledBy::Human => "human",
            HandledBy::Both => "both",
        }
    }

    /// The value of a serde name; none for anything else.
    pub fn parse(s: &str) -> Option<HandledBy> {
        Some(match s {
            "bot" => HandledBy::Bot,
            "human" => HandledBy::Human,
            "both" => HandledBy::Both,
            _ => return None,
        })
    }
}

/// `POST /v1/feedback` body. The integer fields are taken as any JSON value and checked by
/// [`validate`], so a rating of `"five"` is a 422 naming `rating`, as `0` and `6` are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// The client's id of this event, 1–128 of `A-Z a-z 0-9 - _ . : @`; the idempotency key.
    pub event_id: String,
    /// The conversation it is about, same alphabet as `event_id`.
    pub conversation_id: String,
    /// The turn it is about, if any, same alphabet as `event_id`.
    #[serde(default)]
    pub turn_id: Option<String>,
    /// What the event records; decides which fields are required and allowed.
    pub kind: Kind,
    /// `rating` only (required): an integer 1–5.
    #[serde(default)]
    pub rating: Option<serde_json::Value>,
    /// `outcome` only (required): whether the issue was resolved.
    #[serde(default)]
    pub resolved: Option<bool>,
    /// `outcome` only (required): who handled the conversation.
    #[serde(default)]
    pub handled_by: Option<HandledBy>,
    /// `outcome` (not with `handled_by: bot`) and `correction`: the agent who handled or corrected
    /// it.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// `outcome` only: which contact about this issue, an integer 1–[`MAX_CONTACTS`] (1 = the
    /// first).
    #[serde(default)]
    pub contact_count: Option<serde_json::Value>,
    /// The intent the bot predicted, a KB id.
    #[serde(default)]
    pub intent_predicted: Option<String>,
    /// `correction` only: the right intent, a KB id; needs `text`.
    #[serde(default)]
    pub intent_corrected: Option<String>,
    /// The FAQ entry the bot answered with, a KB id.
    #[serde(default)]
    pub faq_predicted: Option<String>,
    /// `correction` only: the right FAQ entry, a KB id.
    #[serde(default)]
    pub faq_corrected: Option<String>,
    /// The customer's utterance a correction is about (what the training data learns from).
    #[serde(default)]
    pub text: Option<String>,
    /// Free text, 1–[`MAX_TEXT_BYTES`] bytes after trimming; required for `comment`, optional on
    /// any kind.
    #[serde(default)]
    pub comment: Option<String>,
    /// Where the conversation happened (`web`, ...), a KB-style id `[a-z0-9_]{1,64}`.
    #[serde(default)]
    pub channel: Option<String>,
    /// When it happened (RFC 3339); the time of receipt when absent.
    #[serde(default)]
    pub created_at: Option<String>,
}

/// A validated event, ready to store (texts still unmasked; see [`Event::masked`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// As [`EventInput::event_id`].
    pub event_id: String,
    /// As [`EventInput::conversation_id`].
    pub conversation_id: String,
    /// As [`EventInput::turn_id`].
    pub turn_id: Option<String>,
    /// What the event records.
    pub kind: Kind,
    /// 1–5, on ratings only.
    pub rating: Option<u8>,
    /// On outcomes only.
    pub resolved: Option<bool>,
    /// On outcomes only.
    pub handled_by: Option<HandledBy>,
    /// The agent who handled (outcome) or corrected (correction) it.
    pub agent_id: Option<String>,
    /// 1–[`MAX_CONTACTS`], on outcomes only; none: unknown.
    pub contact_count: Option<u32>,
    /// The intent the bot predicted.
    pub intent_predicted: Option<String>,
    /// The right intent, on corrections only.
    pub intent_corrected: Option<String>,
    /// The FAQ entry the bot answered with.
    pub faq_predicted: Option<String>,
    /// The right FAQ entry, on corrections only.
    pub faq_corrected: Option<String>,
    /// The corrected customer text, trimmed (masked by [`Event::masked`]).
    pub text: Option<String>,
    /// The comment, trimmed (masked by [`Event::masked`]).
    pub comment: Option<String>,
    /// Where the conversation happened.
    pub channel: Option<String>,
    /// Milliseconds since the Unix epoch, UTC.
    pub created_at_ms: i64,
    /// Hex SHA-256 of the request as sent: a replay with the same id must carry the same event.
    pub fingerprint: String,
}

impl Event {
    /// The event with personal data masked in its free texts.
    pub fn masked(mut self) -> Event {
        self.comment = self.comment.map(|c| crate::foundation::pii::mask(&c));
        self.text = self.text.map(|t| crate::foundation::pii::mask(&t));
        self
    }
}

fn check_id(p: &mut Problem, name: &str, value: &str) {
    let ok = !value.is_empty()
        && value.len() <= MAX_ID_BYTES
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'@'));
    if !ok {
        p.invalid_params
            .push(crate::foundation::problem::InvalidParam {
                name: name.into(),
                reason: format!("1..={MAX_ID_BYTES} characters from A-Z a-z 0-9 - _ . : @"),
            });
    }
}

/// A KB id: `[a-z0-9_]{1,64}` (intents, FAQ entries, channels use the same alphabet).
pub fn is_kb_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn reject(p: &mut Problem, name: &str, reason: impl Into<String>) {
    p.invalid_params
        .push(crate::foundation::problem::InvalidParam {
            name: name.into(),
            reason: reason.into(),
        });
}

/// An integer field: `None` when absent, rejected (and `None`) when not an integer.
fn integer(p: &mut Problem, name: &str, value: &Option<serde_json::Value>) -> Option<i64> {
    let v = value.as_ref()?;
    let n = v.as_i64();
    if n.is_none() {
        reject(p, name, format!("{v} is not an integer"));
    }
    n
}

/// Checks an event. `now_ms` stands in for `created_at` when the client sent none.
///
/// Every field a kind does not use is rejected rather than ignored (a `rating` on an outcome
/// event would otherwise silently not count). Oversize texts are 413; everything else 422, with
/// all offending fields listed.
pub fn validate(input: &EventInput, now_ms: i64) -> Result<Event, Problem> {
    let comment = input.comment.as_deref().map(str::trim);
    let text = input.text.as_deref().map(str::trim);
    // Size first: a 413 says "send less", whatever else is wrong.
    check_sizes(&[("comment", comment), ("text", text)])?;

    let mut p = Problem::unprocessable("the feedback event is not valid");
    check_ids(&mut p, input);
    for (name, value) in [("comment", comment), ("text", text)] {
        if value == Some("") {
            reject(&mut p, name, "must not be empty; leave it out instead");
        }
    }
    let rating = bounded(&mut p, "rating", &input.rating, 1, 5).map(|r| r as u8);
    let contact_count = bounded(
        &mut p,
        "contact_count",
        &input.contact_count,
        1,
        i64::from(MAX_CONTACTS),
    )
    .map(|c| c as u32);
    check_kind_fields(&mut p, input, text, comment);
    let created_at_ms = created_at(&mut p, input.created_at.as_deref(), now_ms);

    if !p.invalid_params.is_empty() {
        let names: Vec<String> = p.invalid_params.iter().map(|i| i.name.clone()).collect();
        return Err(p.with_detail(format!("invalid fields: {}", names.join(", "))));
    }
    Ok(Event {
        event_id: input.event_id.clone(),
        conversation_id: input.conversation_id.clone(),
        turn_id: input.turn_id.clone(),
        kind: input.kind,
        rating,
        resolved: input.resolved,
        handled_by: input.handled_by,
        agent_id: input.agent_id.clone(),
        contact_count,
        intent_predicted: input.intent_predicted.clone(),
        intent_corrected: input.intent_corrected.clone(),
        faq_predicted: input.faq_predicted.clone(),
        faq_corrected: input.faq_corrected.clone(),
        text: text.map(str::to_string),
        comment: comment.map(str::to_string),
        channel: input.channel.clone(),
        created_at_ms,
        fingerprint: fingerprint(input),
    })
}

/// 413 for the first free text over [`MAX_TEXT_BYTES`].
fn check_sizes(texts: &[(&str, Option<&str>)]) -> Result<(), Problem> {
    for &(name, value) in texts {
        if let Some(v) = value
            && v.len() > MAX_TEXT_BYTES
        {
            return Err(Problem::payload_too_large(format!(
                "{name} is {} bytes; the limit is {MAX_TEXT_BYTES}",
                v.len()
            ))
            .with_param(name, format!("at most {MAX_TEXT_BYTES} bytes")));
        }
    }
    Ok(())
}

/// The event's own ids and the KB ids it names.
fn check_ids(p: &mut Problem, input: &EventInput) {
    check_id(p, "event_id", &input.event_id);
    check_id(p, "conversation_id", &input.conversation_id);
    if let Some(t) = &input.turn_id {
        check_id(p, "turn_id", t);
    }
    if let Some(a) = &input.agent_id {
        check_id(p, "agent_id", a);
    }
    for (name, value) in [
        ("intent_predicted", &input.intent_predicted),
        ("intent_corrected", &input.intent_corrected),
        ("faq_predicted", &input.faq_predicted),
        ("faq_corrected", &input.faq_corrected),
        ("channel", &input.channel),
    ] {
        if let Some(v) = value
            && !is_kb_id(v)
        {
            reject(p, name, "an id of 1..=64 characters from a-z 0-9 _");
        }
    }
}

/// An integer field within `lo..=hi`: `None` when absent, rejected (and `None`) otherwise.
fn bounded(
    p: &mut Problem,
    name: &str,
    value: &Option<serde_json::Value>,
    lo: i64,
    hi: i64,
) -> Option<i64> {
    match integer(p, name, value)? {
        n if (lo..=hi).contains(&n) => Some(n),
        n => {
            reject(p, name, format!("{n} is not between {lo} and {hi}"));
            None
        }
    }
}

/// Which fields each kind requires and allows.
fn check_kind_fields(
    p: &mut Problem,
    input: &EventInput,
    text: Option<&str>,
    comment: Option<&str>,
) {
    reject_other_kinds_fields(p, input);
    require_kind_fields(p, input, text, comment);
}

/// Fields of another kind: sent on this one, they would be stored and never counted.
fn reject_other_kinds_fields(p: &mut Problem, input: &EventInput) {
    let kind = input.kind;
    // The utterance a correction is about belongs to corrections only.
    for (present, name, belongs) in [
        (input.rating.is_some(), "rating", Kind::Rating),
        (input.resolved.is_some(), "resolved", Kind::Outcome),
        (input.handled_by.is_some(), "handled_by", Kind::Outcome),
        (
            input.contact_count.is_some(),
            "contact_count",
            Kind::Outcome,
        ),
        (
            input.intent_corrected.is_some(),
            "intent_corrected",
            Kind::Correction,
        ),
        (
            input.faq_corrected.is_some(),
            "faq_corrected",
            Kind::Correction,
        ),
        (input.text.is_some(), "text", Kind::Correction),
    ] {
        if present && kind != belongs {
            reject(
                p,
                name,
                format!("only allowed on kind \"{}\"", belongs.as_str()),
            );
        }
    }
    // The agent who handled (outcome) or corrected it.
    if input.agent_id.is_some() && !matches!(kind, Kind::Outcome | Kind::Correction) {
        reject(
            p,
            "agent_id",
            "only allowed on kinds \"outcome\" and \"correction\"",
        );
    }
}

/// The fields without which an event of its kind says nothing.
fn require_kind_fields(
    p: &mut Problem,
    input: &EventInput,
    text: Option<&str>,
    comment: Option<&str>,
) {
    match input.kind {
        Kind::Rating if input.rating.is_none() => reject(p, "rating", "required for a rating"),
        Kind::Outcome => {
            if input.resolved.is_none() {
                reject(p, "resolved", "required for an outcome");
            }
            match input.handled_by {
                None => reject(p, "handled_by", "required for an outcome"),
                Some(HandledBy::Bot) if input.agent_id.is_some() => reject(
                    p,
                    "agent_id",
                    "a conversation the bot handled alone has no agent",
                ),
                _ => {}
            }
        }
        Kind::Correction => {
            if input.intent_corrected.is_none() && input.faq_corrected.is_none() {
                reject(
                    p,
                    "intent_corrected",
                    "a correction needs intent_corrected or faq_corrected",
                );
            }
            if input.intent_corrected.is_some() && text.is_none() {
                reject(
                    p,
                    "text",
                    "an intent correction needs the customer's text it corrects",
                );
            }
        }
        Kind::Comment if comment.is_none() => reject(p, "comment", "required for a comment"),
        _ => {}
    }
}

/// The event's time: the client's (not more than 5 minutes ahead of ours), else now.
fn created_at(p: &mut Problem, sent: Option<&str>, now_ms: i64) -> i64 {
    let Some(s) = sent else { return now_ms };
    match parse_time(s) {
        Some(ms) if ms <= now_ms + 5 * 60_000 => ms,
        Some(_) => {
            reject(p, "created_at", "lies in the future");
            now_ms
        }
        None => {
            reject(
                p,
                "created_at",
                "an RFC 3339 time between 2000 and 2099 (2026-11-26T09:30:00Z)",
            );
            now_ms
        }
    }
}

/// Hex SHA-256 of the request as sent: a replay with the same id must carry the same event.
fn fingerprint(input: &EventInput) -> String {
    let canonical = serde_json::to_vec(input).expect("an input always serialises");
    Sha256::digest(&canonical)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `from`/`to`: RFC 3339 or `YYYY-MM-DD`; open-ended when absent. `to` is exclusive.
pub fn parse_range(from: Option<&str>, to: Option<&str>) -> Result<(i64, i64), Problem> {
    let parse = |name: &str, v: Option<&str>, default: i64| match v {
        None => Ok(default),
        Some(s) => parse_time(s).ok_or_else(|| {
            Problem::unprocessable(format!("{name} is not a time: {s:?}")).with_param(
                name,
                "RFC 3339 (2026-11-26T00:00:00Z) or a date (2026-11-26), years 2000-2099",
            )
        }),
    };
    let from_ms = parse("from", from, 0)?;
    let to_ms = parse("to", to, i64::MAX)?;
    if from_ms > to_ms {
        return Err(
            Problem::unprocessable("from is after to").with_param("to", "must not be before from")
        );
    }
    Ok((from_ms, to_ms))
}

/// Parses an RFC 3339 time (`2026-11-26T09:30:00Z`, `...T17:30:00.250+08:00`) or a bare date
/// (`2026-11-26`, midnight UTC) into milliseconds since the epoch. Years 2000–2099 only: any
/// other year in feedback is a client bug.
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(2000..=2099).contains(&y) || !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    let day_ms = days_from_civil(y, mo, d) * 86_400_000;
    if b.len() == 10 {
        return Some(day_ms);
    }
    if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let mut rest = &s[19..];
    let mut ms = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        let mut f: i64 = frac[..digits].parse().ok()?;
        for _ in digits..3 {
            f *= 10;
        }
        for _ in 3..digits {
            f /= 10;
        }
        ms = f;
        rest = &frac[digits..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[..1], "+" | "-") && &rest[3..4] == ":" => {
            let (oh, om) = (
                rest[1..3].parse::<i64>().ok()?,
                rest[4..6].parse::<i64>().ok()?,
            );
            if oh > 23 || om > 59 {
                return None;
            }
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (oh * 60 + om)
        }
        _ => return None,
    };
    Some(day_ms + ((h * 60 + mi - offset_min) * 60 + sec) * 1000 + ms)
}

/// `2026-11-26T09:30:00.250Z` for milliseconds since the epoch.
pub fn format_time(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

/// `2026-11-26`: the UTC day of a time, the key of `group_by=day`.
pub fn format_day(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::foundation::problem::decode_json;

    const NOW: i64 = 1_795_000_000_000; // 2026-11-18

    fn input(json: serde_json::Value) -> Result<Event, Problem> {
        let input: EventInput = decode_json(json.to_string().as_bytes(), MAX_BODY_BYTES)?;
        validate(&input, NOW)
    }

    fn rating(r: serde_json::Value) -> Result<Event, Problem> {
        input(serde_json::json!({
            "event_id": "e1", "conversation_id": "c1", "kind": "rating", "rating": r
        }))
    }

    #[test]
    fn ratings_outside_one_to_five_or_not_numbers_are_422() {
        for r in [0, 6, -1, 300] {
            let p = rating(serde_json::json!(r)).unwrap_err();
            assert_eq!(p.status, 422, "{r}");
            assert_eq!(p.invalid_params[0].name, "rating");
        }
        for r in [
            serde_json::json!("five"),
            serde_json::json!(4.5),
            serde_json::json!(true),
        ] {
            assert_eq!(rating(r.clone()).unwrap_err().status, 422, "{r}");
        }
        for r in 1..=5 {
            assert_eq!(rating(serde_json::json!(r)).unwrap().rating, Some(r as u8));
        }
    }

    #[test]
    fn oversize_texts_are_413_and_empty_ones_422() {
        let long = "好".repeat(MAX_TEXT_BYTES / 3 + 1);
        let p = input(serde_json::json!({
            "event_id": "e", "conversation_id": "c", "kind": "comment", "comment": long
        }))
        .unwrap_err();
        assert_eq!(p.status, 413);
        let exact = "a".repeat(MAX_TEXT_BYTES);
        assert!(
            input(serde_json::json!({
                "event_id": "e", "conversation_id": "c", "kind": "comment", "comment": exact
            }))
            .is_ok()
        );
        let p = input(serde_json::json!({
            "event_id": "e", "conversation_id": "c", "kind": "comment", "comment": "  "
        }))
        .unwrap_err();
        assert_eq!(p.status, 422);
    }

    #[test]
    fn each_kind_requires_its_fields_and_rejects_the_others() {
        let bad = |json: serde_json::Value| -> Vec<String> {
            input(json)
                .unwrap_err()
                .invalid_params
                .into_iter()
                .map(|i| i.name)
                .collect()
        };
        assert_eq!(
            bad(serde_json::json!({"event_id": "e", "conversation_id": "c", "kind": "outcome"})),
            ["resolved", "handled_by"]
        );
        assert_eq!(
            bad(
                serde_json::json!({"event_id": "e", "conversation_id": "c", "kind": "outcome",
                "resolved": true, "handled_by": "bot", "rating": 5})
            ),
            ["rating"]
        );
        assert_eq!(
            bad(
                serde_json::json!({"event_id": "e", "conversation_id": "c", "kind": "outcome",
                "resolved": true, "handled_by": "bot", "agent_id": "a1"})
            ),
            ["agent_id"]
        );
        assert_eq!(
            bad(
                serde_json::json!({"event_id": "e", "conversation_id": "c", "kind": "correction",
                "intent_corrected": "refund"})
            ),
            ["text"]
        );
        assert_eq!(
            bad(
                serde_json::json!({"event_id": "has space", "conversation_id": "", "kind": "comment",
                "comment": "x", "channel": "Web"})
            ),
            ["event_id", "conversation_id", "channel"]
        );
        // The utterance belongs to a correction; the agent to an outcome or a correction.
        assert_eq!(
            bad(
                serde_json::json!({"event_id": "e", "conversation_id": "c", "kind": "rating",
                "rating": 4, "text": "我的退款呢", "agent_id": "a1"})
            ),
            ["text", "agent_id"]
        );
        assert!(
            input(serde_json::json!({"event_id": "e", "conversation_id": "c",
                "kind": "correction", "intent_corrected": "refund", "text": "我的退款呢",
                "agent_id": "a1"}))
            .is_ok()
        );
        let ok = input(serde_json::json!({"event_id": "e", "conversation_id": "c",
            "kind": "outcome", "resolved": true, "handled_by": "both", "agent_id": "a1",
            "contact_count": 2, "channel": "web", "created_at": "2026-11-17T08:00:00+08:00"}))
        .unwrap();
        assert_eq!(ok.contact_count, Some(2));
        assert_eq!(format_time(ok.created_at_ms), "2026-11-17T00:00:00.000Z");
    }

    #[test]
    fn the_fingerprint_tells_a_replay_from_a_different_event() {
        let a = rating(serde_json::json!(5)).unwrap();
        let b = rating(serde_json::json!(5)).unwrap();
        let c = rating(serde_json::json!(4)).unwrap();
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_ne!(a.fingerprint, c.fingerprint);
    }

    #[test]
    fn masking_covers_comment_and_text() {
        let e = input(serde_json::json!({"event_id": "e", "conversation_id": "c",
            "kind": "correction", "intent_corrected": "refund",
            "text": "退款到卡 4111111111111111", "comment": "call 13812345678"}))
        .unwrap()
        .masked();
        assert_eq!(e.text.as_deref(), Some("退款到卡 ************1111"));
        assert_eq!(e.comment.as_deref(), Some("call 138****5678"));
    }

    #[test]
    fn times_round_trip_and_bad_ones_are_refused() {
        let ms = parse_time("2026-11-26T09:30:00Z").unwrap();
        assert_eq!(format_time(ms), "2026-11-26T09:30:00.000Z");
        assert_eq!(format_day(ms), "2026-11-26");
        assert_eq!(
            parse_time("2026-11-26").unwrap(),
            ms - 9 * 3_600_000 - 30 * 60_000
        );
        assert_eq!(parse_time("2026-11-26T09:30:00.5Z").unwrap(), ms + 500);
        assert_eq!(parse_time("2026-11-26T17:30:00+08:00").unwrap(), ms);
        assert_eq!(
            parse_time("2024-02-29").map(format_day).unwrap(),
            "2024-02-29"
        );
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "1999-01-01",
            "2026-11-26T24:00:00Z",
            "2026-11-26T09:30:00",
            "2026-11-26T09:30:00+8",
            "yesterday",
            "",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }
}
