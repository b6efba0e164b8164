//! Drill-down: the conversations behind a figure (docs/web.md, "Dashboard"). Each figure of
//! [`Counts`](super::metrics::Counts) is a [`Subset`] of the range's conversations, defined once
//! in `metrics`:
//! `Counts::add` counts with the same predicates, so a drill-down lists exactly the
//! conversations a tile counts. Rows render as JSON, JSON Lines or CSV, one per conversation.

use super::metrics::{Conversation, GroupBy, group_key};
use super::{HandledBy, format_time};
use serde::Serialize;

/// A group's conversations: `key` of `by` (as `stats?group_by=` names groups), `None` = the
/// conversations without one.
pub fn in_group(c: &Conversation, by: GroupBy, key: Option<&str>) -> bool {
    group_key(c, by).as_deref() == key
}

/// One exported row. Conversations hold no free text (comments and transcripts stay in their
/// stores, masked), so a row carries no personal data beyond the ids the client sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The `conversation_id` its events carry.
    pub conversation_id: String,
    /// Its start, RFC 3339 UTC with milliseconds (`2026-11-26T09:30:00.250Z`).
    pub started_at: String,
    /// Channel of its earliest event that names one.
    pub channel: Option<String>,
    /// Corrected intent, else predicted.
    pub intent: Option<String>,
    /// Of its latest outcome; none without one.
    pub resolved: Option<bool>,
    /// `bot`, `human` or `both`, of its latest outcome.
    pub handled_by: Option<&'static str>,
    /// Agent of its latest outcome.
    pub agent_id: Option<String>,
    /// Which contact about the issue (1 = the first), of its latest outcome.
    pub contact_count: Option<u32>,
    /// Its latest rating, 1–5.
    pub rating: Option<u8>,
}

/// The CSV header line, the fields of [`Row`] in order.
pub const CSV_HEADER: &str =
    "conversation_id,started_at,channel,intent,resolved,handled_by,agent_id,contact_count,rating";

impl Row {
    /// The row of a folded conversation.
    pub fn of(c: &Conversation) -> Row {
        Row {
            conversation_id: c.conversation_id.clone(),
            started_at: format_time(c.started_at_ms),
            channel: c.channel.clone(),
            intent: c.intent.clone(),
            resolved: c.resolved,
            handled_by: c.handled_by.map(HandledBy::as_str),
            agent_id: c.agent_id.clone(),
            contact_count: c.contact_count,
            rating: c.rating,
        }
    }

    /// The row as a CSV line (RFC 4180 quoting; a field a spreadsheet would read as a formula
    /// gets a leading `'`).
    pub fn csv(&self) -> String {
        let opt = |v: Option<String>| v.unwrap_or_default();
        [
            self.conversation_id.clone(),
            self.started_at.clone(),
            opt(self.channel.clone()),
            opt(self.intent.clone()),
            opt(self.resolved.map(|r| r.to_string())),
            opt(self.handled_by.map(str::to_string)),
            opt(self.agent_id.clone()),
            opt(self.contact_count.map(|n| n.to_string())),
            opt(self.rating.map(|n| n.to_string())),
        ]
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
    }
}

fn csv_field(f: &str) -> String {
    let f = match f.starts_with(['=', '+', '-', '@']) {
        true => format!("'{f}"),
        false => f.to_string(),
    };
    match f.contains([',', '"', '\n', '\r']) {
        true => format!("\"{}\"", f.replace('"', "\"\"")),
        false => f,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feedback::metrics::{Counts, Subset};

    fn conv(
        id: &str,
        resolved: Option<bool>,
        by: Option<HandledBy>,
        contacts: Option<u32>,
        rating: Option<u8>,
    ) -> Conversation {
        Conversation {
            conversation_id: id.into(),
            started_at_ms: 1_794_873_600_000,
            channel: Some("web".into()),
            intent: Some("refund".into()),
            resolved,
            handled_by: by,
            agent_id: None,
            contact_count: contacts,
            rating,
        }
    }

    #[test]
    fn every_subset_lists_what_its_count_counts() {
        let all = [
            conv("a", Some(true), Some(HandledBy::Bot), Some(1), Some(5)),
            conv("b", Some(true), Some(HandledBy::Human), Some(2), Some(3)),
            conv("c", Some(false), Some(HandledBy::Both), None, None),
            conv("d", None, None, None, Some(4)),
        ];
        let mut counts = Counts::default();
        all.iter().for_each(|c| counts.add(c));
        let n = |s: Subset| all.iter().filter(|c| s.matches(c)).count() as u64;
        assert_eq!(n(Subset::All), counts.conversations);
        assert_eq!(n(Subset::WithOutcome), counts.with_outcome);
        assert_eq!(n(Subset::Resolved), counts.resolved);
        assert_eq!(
            n(Subset::ResolvedFirstContact),
            counts.resolved_first_contact
        );
        assert_eq!(n(Subset::SelfServed), counts.self_served);
        assert_eq!(n(Subset::HandedOff), counts.handed_off);
        assert_eq!(n(Subset::Rated), counts.rated);
        assert_eq!(n(Subset::Satisfied), counts.satisfied);
        assert_eq!(
            (counts.resolved, counts.handed_off, counts.satisfied),
            (2, 2, 2)
        );
    }

    #[test]
    fn csv_quotes_what_needs_it_and_defuses_formulas() {
        let mut c = conv("x,\"y\"", Some(true), Some(HandledBy::Bot), Some(1), None);
        c.channel = Some("=HYPERLINK(\"evil\")".into());
        let line = Row::of(&c).csv();
        assert_eq!(
            line,
            "\"x,\"\"y\"\"\",2026-11-17T00:00:00.000Z,\"'=HYPERLINK(\"\"evil\"\")\",refund,true,bot,,1,"
        );
    }
}
