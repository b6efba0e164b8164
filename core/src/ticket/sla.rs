//! SLA figures (`GET /v1/tickets/sla`, docs/tickets.md "SLA figures"): per queue and per agent,
//! how many tickets met their due time, how many are overdue now, how many the schedule
//! escalated, and how long the first response took. Pure: the store hands in one row per ticket.

use serde::Serialize;
use std::collections::BTreeMap;

/// What the figures need of one ticket (times in ms since the epoch).
#[derive(Clone, Debug, PartialEq)]
pub struct SlaRow {
    /// Queue id the ticket is in now.
    pub queue: String,
    /// Current assignee's agent id; none: unassigned.
    pub assignee: Option<String>,
    /// Creation time (ms); where the time to first response starts.
    pub created_at: i64,
    /// SLA due time (ms): met when resolved no later, overdue when open past it.
    pub sla_due: i64,
    /// When it was resolved or closed (ms); none while open.
    pub resolved_at: Option<i64>,
    /// Time of the first note on it (ms); none before one.
    pub first_response_at: Option<i64>,
    /// Whether the schedule escalated it.
    pub escalated: bool,
}

/// The figures of one group of tickets.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SlaFigures {
    /// Tickets in the group.
    pub tickets: u64,
    /// Tickets resolved (or closed).
    pub resolved: u64,
    /// Resolved no later than their due time.
    pub met: u64,
    /// `met / resolved`; none before anything is resolved.
    pub met_rate: Option<f64>,
    /// Not resolved and past due at `now`.
    pub overdue: u64,
    /// Tickets the schedule escalated.
    pub escalated: u64,
    /// With a first response.
    pub responded: u64,
    /// Median and 90th percentile of created → first response, in seconds.
    pub first_response_p50_seconds: Option<f64>,
    /// 90th percentile (nearest rank) of created → first response, in seconds; none before any
    /// response.
    pub first_response_p90_seconds: Option<f64>,
}

/// Figures overall, per queue and per assignee (current assignee; unassigned tickets count only
/// overall and in their queue).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SlaReport {
    /// Every ticket.
    pub overall: SlaFigures,
    /// Queue id → figures of its tickets.
    pub queues: BTreeMap<String, SlaFigures>,
    /// Agent id → figures of the tickets assigned to the agent now.
    pub agents: BTreeMap<String, SlaFigures>,
}

/// The report of `rows` as of `now` (ms).
pub fn report(rows: &[SlaRow], now: i64) -> SlaReport {
    let mut overall = Vec::new();
    let mut queues: BTreeMap<&str, Vec<&SlaRow>> = BTreeMap::new();
    let mut agents: BTreeMap<&str, Vec<&SlaRow>> = BTreeMap::new();
    for r in rows {
        overall.push(r);
        queues.entry(&r.queue).or_default().push(r);
        if let Some(a) = &r.assignee {
            agents.entry(a).or_default().push(r);
        }
    }
    let figures = |group: &[&SlaRow]| -> SlaFigures {
        let resolved: Vec<_> = group
            .iter()
            .filter_map(|r| r.resolved_at.map(|t| (t, r)))
            .collect();
        let met = resolved.iter().filter(|(t, r)| *t <= r.sla_due).count() as u64;
        let mut waits: Vec<f64> = group
            .iter()
            .filter_map(|r| {
                r.first_response_at
                    .map(|t| (t - r.created_at).max(0) as f64 / 1000.0)
            })
            .collect();
        waits.sort_by(f64::total_cmp);
        SlaFigures {
            tickets: group.len() as u64,
            resolved: resolved.len() as u64,
            met,
            met_rate: (!resolved.is_empty()).then(|| met as f64 / resolved.len() as f64),
            overdue: group
                .iter()
                .filter(|r| r.resolved_at.is_none() && r.sla_due < now)
                .count() as u64,
            escalated: group.iter().filter(|r| r.escalated).count() as u64,
            responded: waits.len() as u64,
            first_response_p50_seconds: quantile(&waits, 0.5),
            first_response_p90_seconds: quantile(&waits, 0.9),
        }
    };
    SlaReport {
        overall: figures(&overall),
        queues: queues
            .iter()
            .map(|(k, v)| (k.to_string(), figures(v)))
            .collect(),
        agents: agents
            .iter()
            .map(|(k, v)| (k.to_string(), figures(v)))
            .collect(),
    }
}

/// The nearest-rank quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        queue: &str,
        assignee: Option<&str>,
        due: i64,
        resolved: Option<i64>,
        first: Option<i64>,
    ) -> SlaRow {
        SlaRow {
            queue: queue.into(),
            assignee: assignee.map(str::to_string),
            created_at: 0,
            sla_due: due,
            resolved_at: resolved,
            first_response_at: first,
            escalated: resolved.is_none(),
        }
    }

    #[test]
    fn met_overdue_and_first_response_per_queue_and_agent() {
        let rows = [
            row("orders", Some("a1"), 100, Some(90), Some(10_000)),
            row("orders", Some("a1"), 100, Some(150), Some(30_000)),
            row("orders", None, 100, None, None),
            row("vip", Some("a2"), 1_000, None, Some(2_000)),
        ];
        let r = report(&rows, 500);
        assert_eq!(
            (
                r.overall.tickets,
                r.overall.resolved,
                r.overall.met,
                r.overall.overdue
            ),
            (4, 2, 1, 1),
            "the vip ticket is not due yet"
        );
        assert_eq!(r.overall.met_rate, Some(0.5));
        assert_eq!(r.overall.escalated, 2);
        assert_eq!(r.overall.first_response_p50_seconds, Some(10.0));
        assert_eq!(r.overall.first_response_p90_seconds, Some(30.0));
        assert_eq!(r.queues["orders"].tickets, 3);
        assert_eq!(r.queues["vip"].met_rate, None);
        assert_eq!(r.agents["a1"].met, 1);
        assert_eq!(r.agents.len(), 2, "unassigned tickets have no agent row");
        assert_eq!(report(&[], 0), SlaReport::default());
    }
}
