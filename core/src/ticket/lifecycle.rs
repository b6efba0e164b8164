//! The ticket lifecycle and the `PATCH` body that moves a ticket through it.

use super::{MAX_ID_BYTES, MAX_TEXT_BYTES, TicketPolicy, invalid};
use crate::foundation::problem::Problem;
use crate::foundation::vocab::Priority;
use serde::{Deserialize, Deserializer, Serialize};

/// Where a ticket is in its lifecycle (serde: lower case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Just created, nobody has worked on it.
    New,
    /// Being worked on.
    Open,
    /// Waiting on the customer; not escalated by the schedule.
    Pending,
    /// Solved; may be reopened or closed.
    Resolved,
    /// Done; may be reopened.
    Closed,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 5] = [
        Status::New,
        Status::Open,
        Status::Pending,
        Status::Resolved,
        Status::Closed,
    ];

    /// The serde name (`new`, `open`, `pending`, `resolved`, `closed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Open => "open",
            Status::Pending => "pending",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    /// The status of a serde name; none for anything else.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The statuses a ticket may move to from this one (the WIT `status` doc says the same).
    pub fn allowed_next(self) -> &'static [Status] {
        use Status::*;
        match self {
            New => &[Open, Pending, Resolved, Closed],
            Open => &[Pending, Resolved, Closed],
            Pending => &[Open, Resolved, Closed],
            Resolved => &[Closed, Open],
            Closed => &[Open],
        }
    }

    /// Whether an assigned ticket in this status counts against its agent's capacity.
    pub fn is_active(self) -> bool {
        matches!(self, Status::New | Status::Open | Status::Pending)
    }

    /// Ok when `self → to` is allowed; a 409 listing the allowed moves otherwise.
    pub fn check_move(self, to: Status) -> Result<(), Problem> {
        if self.allowed_next().contains(&to) {
            return Ok(());
        }
        let allowed: Vec<&str> = self.allowed_next().iter().map(|s| s.as_str()).collect();
        Err(Problem::conflict(format!(
            "a ticket cannot move from {} to {}; allowed from {}: {}",
            self.as_str(),
            to.as_str(),
            self.as_str(),
            allowed.join(", ")
        ))
        .with_extension("allowed", allowed.into()))
    }
}

/// `PATCH /v1/tickets/{id}` body. `assignee: null` unassigns; an absent field is unchanged.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchInput {
    /// New status; must be allowed from the current one ([`Status::check_move`]).
    #[serde(default)]
    pub status: Option<Status>,
    /// New priority.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// New queue, a queue id of the KB.
    #[serde(default)]
    pub queue: Option<String>,
    /// New category: an intent id of the KB, or `none`.
    #[serde(default)]
    pub category: Option<String>,
    /// `Some(Some(id))` assigns to an agent, `Some(None)` (JSON `null`) unassigns, `None` leaves
    /// it.
    #[serde(default, deserialize_with = "present")]
    pub assignee: Option<Option<String>>,
    /// Who made the change, for the audit trail.
    #[serde(default)]
    pub actor: Option<String>,
    /// A note recorded with the change.
    #[serde(default)]
    pub note: Option<String>,
}

/// Tells an explicit `null` (Some(None)) from an absent field (None, by `default`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl PatchInput {
    /// Whether the patch names anything to change (an `actor` alone does not).
    pub fn changes_something(&self) -> bool {
        self.status.is_some()
            || self.priority.is_some()
            || self.queue.is_some()
            || self.category.is_some()
            || self.assignee.is_some()
            || self.note.is_some()
    }

    /// Field checks that need no stored state (the assignee's existence is the store's).
    pub fn validate(&self, policy: &TicketPolicy) -> Result<(), Problem> {
        let mut bad: Vec<(String, String)> = Vec::new();
        if !self.changes_something() {
            bad.push((
                "".into(),
                "name at least one of status, priority, queue, category, assignee, note".into(),
            ));
        }
        if let Some(q) = &self.queue
            && !policy.has_queue(q)
        {
            bad.push(("queue".into(), "a queue of the knowledge base".into()));
        }
        if let Some(c) = &self.category
            && c != "none"
            && !policy.intents.contains_key(c)
        {
            bad.push((
                "category".into(),
                "an intent id of the knowledge base".into(),
            ));
        }
        if let Some(Some(a)) = &self.assignee
            && !super::assign::is_agent_id(a)
        {
            bad.push(("assignee".into(), "an agent id".into()));
        }
        if self
            .actor
            .as_ref()
            .is_some_and(|a| a.trim().is_empty() || a.len() > MAX_ID_BYTES)
        {
            bad.push(("actor".into(), format!("1 to {MAX_ID_BYTES} bytes")));
        }
        if self
            .note
            .as_ref()
            .is_some_and(|n| n.trim().is_empty() || n.len() > MAX_TEXT_BYTES)
        {
            bad.push(("note".into(), format!("1 to {MAX_TEXT_BYTES} bytes")));
        }
        invalid(bad)
    }
}

/// Parses `If-Match`: `"3"`, `W/"3"` or `3`.
pub fn parse_if_match(value: &str) -> Option<u32> {
    let v = value.trim();
    let v = v.strip_prefix("W/").unwrap_or(v);
    let v = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(v);
    v.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_can_eventually_close_and_reopen() {
        for s in Status::ALL {
            assert!(
                s == Status::Closed || s.check_move(Status::Closed).is_ok(),
                "{s:?}"
            );
        }
        assert!(Status::Resolved.check_move(Status::Open).is_ok());
        assert!(Status::Closed.check_move(Status::Open).is_ok());
    }

    #[test]
    fn a_forbidden_move_is_a_409_listing_the_allowed_ones() {
        let p = Status::Open.check_move(Status::New).unwrap_err();
        assert_eq!(p.status, 409);
        let json: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
        assert_eq!(
            json["allowed"],
            serde_json::json!(["pending", "resolved", "closed"])
        );
        assert!(Status::Closed.check_move(Status::Resolved).is_err());
        assert!(Status::New.check_move(Status::New).is_err());
    }

    #[test]
    fn patch_tells_null_from_absent() {
        let p: PatchInput = serde_json::from_str(r#"{"assignee": null}"#).unwrap();
        assert_eq!(p.assignee, Some(None));
        let p: PatchInput = serde_json::from_str(r#"{"status": "open"}"#).unwrap();
        assert_eq!(p.assignee, None);
        assert_eq!(p.status, Some(Status::Open));
        assert!(serde_json::from_str::<PatchInput>(r#"{"stauts": "open"}"#).is_err());
    }

    #[test]
    fn if_match_forms() {
        assert_eq!(parse_if_match("\"3\""), Some(3));
        assert_eq!(parse_if_match("W/\"12\""), Some(12));
        assert_eq!(parse_if_match(" 7 "), Some(7));
        assert_eq!(parse_if_match("\"x\""), None);
        assert_eq!(parse_if_match("*"), None);
    }
}
