//! Service metrics from feedback events: the definitions, and a reference computation.
//!
//! The definitions (also in the README, section "Metrics"):
//!
//! - A **conversation** is one `conversation_id`: one contact of a customer with the service
//!   about one issue, whatever its channel and however many turns it has. A customer who comes
//!   back about the same issue starts a new conversation; its `contact_count` says which contact
//!   about that issue it is (1 = the first).
//! - A conversation's state is folded from its events, ordering events by
//!   `(created_at, event_id)` so that the result does not depend on arrival order:
//!   its **start** is its earliest event; its **outcome** (`resolved`, `handled_by`, `agent_id`,
//!   `contact_count`) comes from its latest `outcome` event; its **rating** from its latest
//!   `rating` event (a customer who re-rates replaces the earlier rating); its **intent** is the
//!   latest `intent_corrected` if any correction exists, else the latest `intent_predicted`; its
//!   **channel** is that of its earliest event that names one.
//! - A conversation belongs to a time range when its start lies in `[from, to)`.
//!
//! Over the conversations of a range (or of one group):
//!
//! | metric | formula |
//! |---|---|
//! | CSAT | rated conversations with rating 4 or 5 / rated conversations |
//! | average rating | sum of ratings / rated conversations |
//! | FCR | resolved conversations with `contact_count = 1` / resolved conversations (an unknown contact count is not counted as first contact) |
//! | resolution rate | resolved conversations / conversations with an outcome |
//! | self-service rate | conversations resolved with `handled_by = bot` / all conversations |
//! | handoff rate | conversations with `handled_by` = `human` or `both` / all conversations |
//!
//! Every conversation enters through the bot, so any human involvement is a handoff. A rate
//! whose denominator is zero is `null` (undefined), never 0. Counts of events and the top
//! corrections use each event's own `created_at`.

use super::{Event, HandledBy, Kind};
use serde::Serialize;
use std::collections::BTreeMap;

/// How stats are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// By the conversation's intent (corrected, else predicted).
    Intent,
    /// By the UTC day the conversation started (`YYYY-MM-DD`).
    Day,
    /// By the conversation's channel.
    Channel,
    /// By the agent of the conversation's latest outcome.
    Agent,
}

impl GroupBy {
    /// The grouping of a `group_by` value (`intent`, `day`, `channel`, `agent`); none for anything
    /// else.
    pub fn parse(s: &str) -> Option<GroupBy> {
        Some(match s {
            "intent" => GroupBy::Intent,
            "day" => GroupBy::Day,
            "channel" => GroupBy::Channel,
            "agent" => GroupBy::Agent,
            _ => return None,
        })
    }
}

/// The folded state of one conversation (see the module docs for the rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// The `conversation_id` its events share.
    pub conversation_id: String,
    /// Its earliest event's `created_at`, ms since the Unix epoch; decides which range it is in.
    pub started_at_ms: i64,
    /// Of its earliest event that names one.
    pub channel: Option<String>,
    /// The latest `intent_corrected`, else the latest `intent_predicted`.
    pub intent: Option<String>,
    /// Of its latest outcome; none without an outcome event.
    pub resolved: Option<bool>,
    /// Of its latest outcome.
    pub handled_by: Option<HandledBy>,
    /// Of its latest outcome.
    pub agent_id: Option<String>,
    /// Of its latest outcome; none: unknown (not counted as a first contact).
    pub contact_count: Option<u32>,
    /// Of its latest rating event, 1–5.
    pub rating: Option<u8>,
}

/// Folds events into conversations, sorted by id.
pub fn conversations(events: &[Event]) -> Vec<Conversation> {
    let mut by_id: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for e in events {
        by_id.entry(&e.conversation_id).or_default().push(e);
    }
    by_id
        .into_iter()
        .map(|(id, mut evs)| {
            evs.sort_by(|a, b| (a.created_at_ms, &a.event_id).cmp(&(b.created_at_ms, &b.event_id)));
            let latest =
                |pred: &dyn Fn(&Event) -> bool| evs.iter().rev().find(|e| pred(e)).copied();
            let outcome = latest(&|e| e.kind == Kind::Outcome);
            Conversation {
                conversation_id: id.to_string(),
                started_at_ms: evs[0].created_at_ms,
                channel: evs.iter().find_map(|e| e.channel.clone()),
                intent: latest(&|e| e.intent_corrected.is_some())
                    .and_then(|e| e.intent_corrected.clone())
                    .or_else(|| {
                        latest(&|e| e.intent_predicted.is_some())
                            .and_then(|e| e.intent_predicted.clone())
                    }),
                resolved: outcome.and_then(|e| e.resolved),
                handled_by: outcome.and_then(|e| e.handled_by),
                agent_id: outcome.and_then(|e| e.agent_id.clone()),
                contact_count: outcome.and_then(|e| e.contact_count),
                rating: latest(&|e| e.kind == Kind::Rating).and_then(|e| e.rating),
            }
        })
        .collect()
}

/// The numerators and denominators of every metric; what the database aggregates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// All conversations of the range.
    pub conversations: u64,
    /// Conversations with an outcome event.
    pub with_outcome: u64,
    /// Conversations whose latest outcome says resolved.
    pub resolved: u64,
    /// Resolved with `contact_count = 1`.
    pub resolved_first_contact: u64,
    /// Resolved with `handled_by = bot`.
    pub self_served: u64,
    /// `handled_by` = `human` or `both`.
    pub handed_off: u64,
    /// Conversations with a rating.
    pub rated: u64,
    /// Rated 4 or 5.
    pub satisfied: u64,
    /// Sum of the ratings of rated conversations (for the average).
    pub rating_sum: u64,
}

/// Which conversations of a range: every figure's numerator or denominator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Subset {
    /// Every conversation (`all`).
    All,
    /// With an outcome event (`with_outcome`).
    WithOutcome,
    /// Resolved (`resolved`).
    Resolved,
    /// Resolved with `contact_count = 1` (`resolved_first_contact`).
    ResolvedFirstContact,
    /// Resolved with `handled_by = bot` (`self_served`).
    SelfServed,
    /// `handled_by` = `human` or `both` (`handed_off`).
    HandedOff,
    /// With a rating (`rated`).
    Rated,
    /// Rated 4 or 5 (`satisfied`).
    Satisfied,
}

impl Subset {
    /// Every subset, in the order of [`Counts`]' fields.
    pub const ALL: [Subset; 8] = [
        Subset::All,
        Subset::WithOutcome,
        Subset::Resolved,
        Subset::ResolvedFirstContact,
        Subset::SelfServed,
        Subset::HandedOff,
        Subset::Rated,
        Subset::Satisfied,
    ];

    /// The serde and query name (`all`, `with_outcome`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Subset::All => "all",
            Subset::WithOutcome => "with_outcome",
            Subset::Resolved => "resolved",
            Subset::ResolvedFirstContact => "resolved_first_contact",
            Subset::SelfServed => "self_served",
            Subset::HandedOff => "handed_off",
            Subset::Rated => "rated",
            Subset::Satisfied => "satisfied",
        }
    }

    /// The subset of a `subset` query value; none for anything else.
    pub fn parse(s: &str) -> Option<Subset> {
        Subset::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether `c` is one of this subset's conversations (the README's metric definitions).
    pub fn matches(self, c: &Conversation) -> bool {
        let resolved = c.resolved == Some(true);
        match self {
            Subset::All => true,
            Subset::WithOutcome => c.resolved.is_some(),
            Subset::Resolved => resolved,
            Subset::ResolvedFirstContact => resolved && c.contact_count == Some(1),
            Subset::SelfServed => resolved && c.handled_by == Some(HandledBy::Bot),
            Subset::HandedOff => matches!(c.handled_by, Some(HandledBy::Human | HandledBy::Both)),
            Subset::Rated => c.rating.is_some(),
            Subset::Satisfied => c.rating.is_some_and(|r| r >= 4),
        }
    }
}

impl Counts {
    /// Counts `c` in every figure whose subset it belongs to ([`Subset`]: the drill-down lists
    /// the same conversations).
    pub fn add(&mut self, c: &Conversation) {
        let n = |s: Subset| u64::from(s.matches(c));
        self.conversations += n(Subset::All);
        self.with_outcome += n(Subset::WithOutcome);
        self.resolved += n(Subset::Resolved);
        self.resolved_first_contact += n(Subset::ResolvedFirstContact);
        self.self_served += n(Subset::SelfServed);
        self.handed_off += n(Subset::HandedOff);
        self.rated += n(Subset::Rated);
        self.satisfied += n(Subset::Satisfied);
        self.rating_sum += c.rating.map_or(0, u64::from);
    }

    /// The rates; `None` where the denominator is zero.
    pub fn metrics(&self) -> Metrics {
        let ratio = |n: u64, d: u64| (d > 0).then(|| round4(n as f64 / d as f64));
        Metrics {
            csat: (self.rated > 0)
                .then(|| round4(100.0 * self.satisfied as f64 / self.rated as f64)),
            average_rating: ratio(self.rating_sum, self.rated),
            fcr: ratio(self.resolved_first_contact, self.resolved),
            resolution_rate: ratio(self.resolved, self.with_outcome),
            self_service_rate: ratio(self.self_served, self.conversations),
            handoff_rate: ratio(self.handed_off, self.conversations),
        }
    }
}

/// Four decimals: enough for a dashboard, and stable across float summation orders.
fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The rates of one set of conversations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Metrics {
    /// Percent (0–100) of rated conversations rated 4 or 5.
    pub csat: Option<f64>,
    /// Mean rating of rated conversations, 1–5.
    pub average_rating: Option<f64>,
    /// Fraction (0–1).
    pub fcr: Option<f64>,
    /// Resolved / conversations with an outcome, fraction (0–1).
    pub resolution_rate: Option<f64>,
    /// Resolved by the bot alone / all conversations, fraction (0–1).
    pub self_service_rate: Option<f64>,
    /// Handled by a human or both / all conversations, fraction (0–1).
    pub handoff_rate: Option<f64>,
}

/// A group's key: the intent, day (`YYYY-MM-DD`, UTC), channel or agent; `None` when the
/// conversation has none (no intent known, no channel given, no agent involved).
pub fn group_key(c: &Conversation, by: GroupBy) -> Option<String> {
    match by {
        GroupBy::Intent => c.intent.clone(),
        GroupBy::Day => Some(super::format_day(c.started_at_ms)),
        GroupBy::Channel => c.channel.clone(),
        GroupBy::Agent => c.agent_id.clone(),
    }
}

/// One corrected prediction and how often it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CorrectionCount {
    /// The intent the bot predicted (`null` when the client did not say).
    pub from: Option<String>,
    /// The intent an agent corrected it to.
    pub to: String,
    /// How many correction events in the range made this change.
    pub count: u64,
}

/// How many top corrections stats report.
pub const TOP_CORRECTIONS: usize = 10;

/// Event counts per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EventCounts {
    /// All events in the range, by their own `created_at`.
    pub total: u64,
    /// Rating events.
    pub rating: u64,
    /// Outcome events.
    pub outcome: u64,
    /// Correction events.
    pub correction: u64,
    /// Comment events.
    pub comment: u64,
}

impl EventCounts {
    /// Adds `n` events of `kind`.
    pub fn add(&mut self, kind: Kind, n: u64) {
        self.total += n;
        match kind {
            Kind::Rating => self.rating += n,
            Kind::Outcome => self.outcome += n,
            Kind::Correction => self.correction += n,
            Kind::Comment => self.comment += n,
        }
    }
}

/// Stats of a range, as `GET /v1/feedback/stats` returns them (minus the echo of the query).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// The numerators and denominators over the range's conversations.
    pub counts: Counts,
    /// The rates from `counts`.
    pub metrics: Metrics,
    /// Events created in the range, per kind.
    pub events: EventCounts,
    /// Most frequent intent corrections (predicted → corrected), at most [`TOP_CORRECTIONS`].
    pub top_corrections: Vec<CorrectionCount>,
    /// Present when grouped; ordered by key, `null` key first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<Group>>,
}

/// One group of a grouped result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// The intent, day, channel or agent; none: conversations without one.
    pub key: Option<String>,
    /// The group's numerators and denominators.
    pub counts: Counts,
    /// The group's rates.
    pub metrics: Metrics,
}

impl Group {
    /// A group with its rates computed from `counts`.
    pub fn new(key: Option<String>, counts: Counts) -> Group {
        Group {
            key,
            metrics: counts.metrics(),
            counts,
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
/// Used for the agent view's median time to resolve, in seconds.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// Sorts corrections the way stats report them: most frequent first, then by name.
pub fn rank_corrections(mut list: Vec<CorrectionCount>) -> Vec<CorrectionCount> {
    list.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.to.cmp(&b.to))
            .then_with(|| a.from.cmp(&b.from))
    });
    list.truncate(TOP_CORRECTIONS);
    list
}

/// The reference computation of stats over `[from_ms, to_ms)`. The feedback component computes
/// the same in SQL; the end-to-end tests hold the two against each other.
pub fn stats(events: &[Event], from_ms: i64, to_ms: i64, group_by: Option<GroupBy>) -> Stats {
    let convs: Vec<Conversation> = conversations(events)
        .into_iter()
        .filter(|c| (from_ms..to_ms).contains(&c.started_at_ms))
        .collect();
    let mut counts = Counts::default();
    for c in &convs {
        counts.add(c);
    }
    let groups = group_by.map(|by| {
        let mut groups: BTreeMap<Option<String>, Counts> = BTreeMap::new();
        for c in &convs {
            groups.entry(group_key(c, by)).or_default().add(c);
        }
        groups.into_iter().map(|(k, c)| Group::new(k, c)).collect()
    });
    let mut event_counts = EventCounts::default();
    let mut corrections: BTreeMap<(Option<String>, String), u64> = BTreeMap::new();
    for e in events
        .iter()
        .filter(|e| (from_ms..to_ms).contains(&e.created_at_ms))
    {
        event_counts.add(e.kind, 1);
        if let Some(to) = &e.intent_corrected {
            *corrections
                .entry((e.intent_predicted.clone(), to.clone()))
                .or_default() += 1;
        }
    }
    Stats {
        counts,
        metrics: counts.metrics(),
        events: event_counts,
        top_corrections: rank_corrections(
            corrections
                .into_iter()
                .map(|((from, to), count)| CorrectionCount { from, to, count })
                .collect(),
        ),
        groups,
    }
}

#[cfg(test)]
mod median_tests {
    use super::median;

    #[test]
    fn median_of_empty_odd_and_even() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [5.0]), Some(5.0));
        assert_eq!(median(&mut [9.0, 1.0, 5.0]), Some(5.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feedback::{EventInput, validate};

    const DAY: i64 = 86_400_000;
    /// 2026-11-20T00:00:00Z.
    const T0: i64 = 1_795_132_800_000;

    fn ev(id: &str, conv: &str, at: i64, json: serde_json::Value) -> Event {
        let mut v = json;
        v["event_id"] = id.into();
        v["conversation_id"] = conv.into();
        v["created_at"] = crate::feedback::format_time(at).into();
        let input: EventInput = serde_json::from_value(v).unwrap();
        validate(&input, T0 + 100 * DAY).unwrap()
    }

    fn outcome(
        id: &str,
        conv: &str,
        at: i64,
        resolved: bool,
        by: &str,
        contacts: Option<u32>,
    ) -> Event {
        let mut j = serde_json::json!({"kind": "outcome", "resolved": resolved, "handled_by": by});
        if let Some(c) = contacts {
            j["contact_count"] = c.into();
        }
        if by != "bot" {
            j["agent_id"] = "agent_li".into();
        }
        ev(id, conv, at, j)
    }

    fn rating(id: &str, conv: &str, at: i64, r: u8) -> Event {
        ev(
            id,
            conv,
            at,
            serde_json::json!({"kind": "rating", "rating": r}),
        )
    }

    /// Five conversations with hand-computed answers (see each assertion).
    fn sample() -> Vec<Event> {
        vec![
            // c1 (day 0, web, order_status): bot resolved on first contact, rated 5.
            ev(
                "e01",
                "c1",
                T0 + 1000,
                serde_json::json!({"kind": "comment", "comment": "快",
                "channel": "web", "intent_predicted": "order_status"}),
            ),
            outcome("e02", "c1", T0 + 2000, true, "bot", Some(1)),
            rating("e03", "c1", T0 + 3000, 5),
            // c2 (day 0, app, refund corrected from order_status): human resolved on 2nd contact,
            // rated 2 then re-rated 4 (the later rating counts).
            ev(
                "e04",
                "c2",
                T0 + 5000,
                serde_json::json!({"kind": "correction",
                "intent_predicted": "order_status", "intent_corrected": "refund",
                "text": "我的退款呢", "channel": "app"}),
            ),
            outcome("e05", "c2", T0 + 6000, true, "both", Some(2)),
            rating("e06", "c2", T0 + 7000, 2),
            rating("e07", "c2", T0 + 8000, 4),
            // c3 (day 1, web): not resolved, human; rated 1. Its outcome arrives first in the
            // list but is older than the later outcome (resolved=false wins by time).
            outcome("e09", "c3", T0 + DAY + 9000, false, "human", None),
            outcome("e08", "c3", T0 + DAY + 1000, true, "human", Some(1)),
            ev(
                "e10",
                "c3",
                T0 + DAY,
                serde_json::json!({"kind": "rating", "rating": 1,
                "channel": "web"}),
            ),
            // c4 (day 1): only a correction, no outcome, no rating.
            ev(
                "e11",
                "c4",
                T0 + DAY + 500,
                serde_json::json!({"kind": "correction",
                "intent_predicted": "order_status", "intent_corrected": "refund",
                "text": "refund please"}),
            ),
            // c5 (day 2): resolved by bot with unknown contact count.
            outcome("e12", "c5", T0 + 2 * DAY, true, "bot", None),
        ]
    }

    #[test]
    fn folding_follows_event_time_not_arrival_order() {
        let convs = conversations(&sample());
        let c3 = &convs[2];
        assert_eq!(c3.resolved, Some(false));
        assert_eq!(c3.started_at_ms, T0 + DAY);
        assert_eq!(convs[1].rating, Some(4));
        assert_eq!(convs[1].intent.as_deref(), Some("refund"));
        assert_eq!(convs[0].intent.as_deref(), Some("order_status"));
        let mut reversed = sample();
        reversed.reverse();
        assert_eq!(conversations(&reversed), convs);
    }

    #[test]
    fn every_metric_on_the_hand_built_set() {
        let s = stats(&sample(), T0, T0 + 3 * DAY, None);
        let c = s.counts;
        assert_eq!(c.conversations, 5);
        assert_eq!(c.with_outcome, 4); // c1, c2, c3, c5
        assert_eq!(c.resolved, 3); // c1, c2, c5
        assert_eq!(c.resolved_first_contact, 1); // c1 (c5's count is unknown)
        assert_eq!(c.self_served, 2); // c1, c5
        assert_eq!(c.handed_off, 2); // c2 (both), c3 (human)
        assert_eq!((c.rated, c.satisfied, c.rating_sum), (3, 2, 10)); // 5, 4, 1
        let m = s.metrics;
        assert_eq!(m.csat, Some(66.6667));
        assert_eq!(m.average_rating, Some(3.3333));
        assert_eq!(m.fcr, Some(0.3333));
        assert_eq!(m.resolution_rate, Some(0.75));
        assert_eq!(m.self_service_rate, Some(0.4));
        assert_eq!(m.handoff_rate, Some(0.4));
        assert_eq!(
            s.events,
            EventCounts {
                total: 12,
                rating: 4,
                outcome: 5,
                correction: 2,
                comment: 1
            }
        );
        assert_eq!(
            s.top_corrections,
            [CorrectionCount {
                from: Some("order_status".into()),
                to: "refund".into(),
                count: 2
            }]
        );
    }

    #[test]
    fn an_empty_range_has_zero_counts_and_undefined_rates() {
        let s = stats(&sample(), T0 + 10 * DAY, T0 + 11 * DAY, Some(GroupBy::Day));
        assert_eq!(s.counts, Counts::default());
        assert_eq!(s.metrics.csat, None);
        assert_eq!(s.metrics.self_service_rate, None);
        assert_eq!(s.events.total, 0);
        assert!(s.top_corrections.is_empty());
        assert_eq!(s.groups, Some(vec![]));
        assert_eq!(stats(&[], 0, i64::MAX, None).counts, Counts::default());
    }

    #[test]
    fn a_single_event() {
        let s = stats(&[rating("e", "c", T0, 3)], T0, T0 + 1, None);
        assert_eq!(s.counts.conversations, 1);
        assert_eq!(s.metrics.csat, Some(0.0));
        assert_eq!(s.metrics.average_rating, Some(3.0));
        assert_eq!(s.metrics.fcr, None);
        assert_eq!(s.metrics.self_service_rate, Some(0.0));
        // `to` is exclusive.
        assert_eq!(
            stats(&[rating("e", "c", T0, 3)], T0 - 1, T0, None)
                .counts
                .conversations,
            0
        );
    }

    #[test]
    fn the_range_takes_conversations_by_their_start() {
        // c3 starts on day 1; its late outcome (day 1 too) and c5 (day 2) are out of [T0, T0+DAY).
        let s = stats(&sample(), T0, T0 + DAY, None);
        assert_eq!(s.counts.conversations, 2);
        assert_eq!(s.events.total, 7);
    }

    #[test]
    fn grouped_by_day_channel_intent_and_agent() {
        let key = |g: &Group| g.key.clone().unwrap_or_else(|| "-".into());
        let groups = |by| stats(&sample(), T0, T0 + 3 * DAY, Some(by)).groups.unwrap();
        let day = groups(GroupBy::Day);
        assert_eq!(
            day.iter().map(key).collect::<Vec<_>>(),
            ["2026-11-20", "2026-11-21", "2026-11-22"]
        );
        assert_eq!(
            day.iter()
                .map(|g| g.counts.conversations)
                .collect::<Vec<_>>(),
            [2, 2, 1]
        );
        assert_eq!(day[0].metrics.csat, Some(100.0));
        assert_eq!(day[1].metrics.csat, Some(0.0));
        let channel = groups(GroupBy::Channel);
        assert_eq!(
            channel.iter().map(key).collect::<Vec<_>>(),
            ["-", "app", "web"]
        );
        assert_eq!(
            channel
                .iter()
                .map(|g| g.counts.conversations)
                .collect::<Vec<_>>(),
            [2, 1, 2]
        );
        let intent = groups(GroupBy::Intent);
        assert_eq!(
            intent.iter().map(key).collect::<Vec<_>>(),
            ["-", "order_status", "refund"]
        );
        assert_eq!(intent[2].counts.conversations, 2);
        let agent = groups(GroupBy::Agent);
        assert_eq!(agent.iter().map(key).collect::<Vec<_>>(), ["-", "agent_li"]);
        // agent_li: c2 (resolved, rated 4) and c3 (unresolved, rated 1).
        assert_eq!(agent[1].counts.conversations, 2);
        assert_eq!(agent[1].metrics.resolution_rate, Some(0.5));
        assert_eq!(agent[1].metrics.csat, Some(50.0));
        // The groups always add up to the whole.
        for by in [
            GroupBy::Day,
            GroupBy::Channel,
            GroupBy::Intent,
            GroupBy::Agent,
        ] {
            let total: u64 = groups(by).iter().map(|g| g.counts.conversations).sum();
            assert_eq!(total, 5);
        }
    }

    #[test]
    fn top_corrections_rank_by_count_then_name_and_keep_ten() {
        let list = (0..12)
            .map(|i| CorrectionCount {
                from: None,
                to: format!("i{i:02}"),
                count: i % 3,
            })
            .collect();
        let ranked = rank_corrections(list);
        assert_eq!(ranked.len(), TOP_CORRECTIONS);
        assert_eq!(ranked[0].to, "i02");
        assert_eq!(ranked[0].count, 2);
    }
}
