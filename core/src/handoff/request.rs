//! A decide request as both front doors (`POST /v1/handoff` and the WIT export) hand it over,
//! and its checks: one set of rules, so the two doors refuse the same input the same way.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use super::{Availability, MAX_TURN_TEXT_BYTES, MAX_TURNS, Turn};
use crate::foundation::calendar;
use crate::foundation::problem::Problem;
use crate::foundation::vocab::Role;

/// Longest `conversation_id`, in bytes.
pub const MAX_CONVERSATION_ID_BYTES: usize = 128;
/// Longest `customer.tier`, in bytes (`standard`, `vip`, …).
pub const MAX_TIER_BYTES: usize = 32;
/// Longest intent id a turn may carry, in bytes.
pub const MAX_INTENT_BYTES: usize = 64;

/// A checked request: what [`super::model::HandoffEngine::decide`] needs, and the id to echo.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The caller's conversation id, echoed in the response.
    pub conversation_id: String,
    /// The customer's tier (`vip` routes by rule), as sent.
    pub tier: Option<String>,
    /// The recent turns, oldest first; at most [`MAX_TURNS`].
    pub turns: Vec<Turn>,
    /// Agents online, the caller's business hours, and the instant to read calendars at.
    pub availability: Availability,
}

/// Checks a request: 422 for an empty or long id or tier, no turns or too many, a confidence
/// or negative probability outside [0, 1], an empty or long intent; 413 for a turn text over
/// [`MAX_TURN_TEXT_BYTES`]. Each error names its field (`turns[3].text`).
pub fn validate(
    conversation_id: String,
    tier: Option<String>,
    turns: Vec<Turn>,
    availability: Availability,
) -> Result<Request, Problem> {
    if conversation_id.trim().is_empty() || conversation_id.len() > MAX_CONVERSATION_ID_BYTES {
        return Err(
            Problem::unprocessable("conversation_id is empty or too long").with_param(
                "conversation_id",
                format!("1 to {MAX_CONVERSATION_ID_BYTES} bytes"),
            ),
        );
    }
    if turns.is_empty() {
        return Err(Problem::unprocessable("the conversation has no turns")
            .with_param("turns", "at least one turn"));
    }
    if turns.len() > MAX_TURNS {
        return Err(Problem::unprocessable(format!(
            "the conversation has {} turns; send at most the last {MAX_TURNS}",
            turns.len()
        ))
        .with_param("turns", format!("at most {MAX_TURNS} turns")));
    }
    if let Some(t) = &tier
        && (t.trim().is_empty() || t.len() > MAX_TIER_BYTES)
    {
        return Err(
            Problem::unprocessable("customer.tier is empty or too long").with_param(
                "customer.tier",
                format!("1 to {MAX_TIER_BYTES} bytes, e.g. standard or vip"),
            ),
        );
    }
    for (i, t) in turns.iter().enumerate() {
        check_turn(i, t)?;
    }
    Ok(Request {
        conversation_id,
        tier,
        turns,
        availability,
    })
}

/// One turn's text size, probabilities and intent.
fn check_turn(i: usize, t: &Turn) -> Result<(), Problem> {
    let text = t.text.trim().len();
    if text > MAX_TURN_TEXT_BYTES {
        return Err(Problem::payload_too_large(format!(
            "turns[{i}].text is {text} bytes; the limit is {MAX_TURN_TEXT_BYTES}"
        ))
        .with_param(
            format!("turns[{i}].text"),
            format!("at most {MAX_TURN_TEXT_BYTES} bytes"),
        ));
    }
    for (name, value) in [("confidence", t.confidence), ("negative", t.negative)] {
        if let Some(v) = value
            && !(0.0..=1.0).contains(&v)
        {
            return Err(Problem::unprocessable(format!("turns[{i}].{name} is {v}"))
                .with_param(format!("turns[{i}].{name}"), "between 0 and 1"));
        }
    }
    if let Some(intent) = &t.intent
        && (intent.is_empty() || intent.len() > MAX_INTENT_BYTES)
    {
        return Err(
            Problem::unprocessable(format!("turns[{i}].intent is empty or too long")).with_param(
                format!("turns[{i}].intent"),
                format!("1 to {MAX_INTENT_BYTES} bytes"),
            ),
        );
    }
    Ok(())
}

/// Turn `i`'s role from its JSON name; 422 naming `turns[i].role` otherwise.
pub fn parse_role(i: usize, role: &str) -> Result<Role, Problem> {
    match role {
        "customer" => Ok(Role::Customer),
        "bot" => Ok(Role::Bot),
        "agent" => Ok(Role::Agent),
        other => Err(
            Problem::unprocessable(format!("turns[{i}].role is \"{other}\""))
                .with_param(format!("turns[{i}].role"), "customer, bot or agent"),
        ),
    }
}

/// The instant (Unix seconds) to read calendars at, from a request's optional RFC 3339 `at`.
pub fn parse_at(at: Option<&str>) -> Result<Option<i64>, Problem> {
    at.map(|text| {
        calendar::parse_rfc3339(text).ok_or_else(|| {
            Problem::unprocessable(format!("at is \"{text}\"")).with_param(
                "at",
                "an RFC 3339 date-time, e.g. 2026-12-07T12:30:00+08:00",
            )
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(text: &str) -> Turn {
        Turn::new(Role::Customer, text)
    }

    fn check(id: &str, tier: Option<&str>, turns: Vec<Turn>) -> Result<Request, Problem> {
        validate(
            id.into(),
            tier.map(str::to_string),
            turns,
            Availability::default(),
        )
    }

    fn param(r: Result<Request, Problem>) -> (u16, String) {
        let p = r.unwrap_err();
        (p.status, p.invalid_params[0].name.clone())
    }

    #[test]
    fn a_valid_request_passes_through_unchanged() {
        let r = check("c1", Some("vip"), vec![turn("我要投诉 I want a person")]).unwrap();
        assert_eq!(r.conversation_id, "c1");
        assert_eq!(r.tier.as_deref(), Some("vip"));
        assert_eq!(r.turns.len(), 1);
    }

    #[test]
    fn each_refusal_names_its_field() {
        assert_eq!(
            param(check(" ", None, vec![turn("hi")])),
            (422, "conversation_id".into())
        );
        let long = "c".repeat(MAX_CONVERSATION_ID_BYTES + 1);
        assert_eq!(
            param(check(&long, None, vec![turn("hi")])),
            (422, "conversation_id".into())
        );
        assert_eq!(param(check("c", None, vec![])), (422, "turns".into()));
        let many = vec![turn("hi"); MAX_TURNS + 1];
        assert_eq!(param(check("c", None, many)), (422, "turns".into()));
        assert_eq!(
            param(check("c", Some(""), vec![turn("hi")])),
            (422, "customer.tier".into())
        );
        let big = "字".repeat(MAX_TURN_TEXT_BYTES / 3 + 1);
        assert_eq!(
            param(check("c", None, vec![turn("hi"), turn(&big)])),
            (413, "turns[1].text".into())
        );
        let mut t = turn("hi");
        t.confidence = Some(1.5);
        assert_eq!(
            param(check("c", None, vec![t])),
            (422, "turns[0].confidence".into())
        );
        let mut t = turn("hi");
        t.negative = Some(-0.1);
        assert_eq!(
            param(check("c", None, vec![t])),
            (422, "turns[0].negative".into())
        );
        let mut t = turn("hi");
        t.intent = Some(String::new());
        assert_eq!(
            param(check("c", None, vec![t])),
            (422, "turns[0].intent".into())
        );
    }

    #[test]
    fn roles_and_times_are_read_or_named() {
        assert_eq!(parse_role(0, "agent").unwrap(), Role::Agent);
        assert_eq!(
            parse_role(2, "robot").unwrap_err().invalid_params[0].name,
            "turns[2].role"
        );
        assert_eq!(parse_at(None).unwrap(), None);
        assert_eq!(
            parse_at(Some("2026-12-07T12:30:00+08:00")).unwrap(),
            Some(1_796_617_800)
        );
        assert_eq!(
            parse_at(Some("tomorrow")).unwrap_err().invalid_params[0].name,
            "at"
        );
    }
}
