//! Agents and the choice of agent for a new ticket.

use super::{MAX_ID_BYTES, TicketPolicy, invalid};
use crate::foundation::problem::Problem;
use serde::{Deserialize, Serialize};

/// Most tickets an agent may hold at once (`capacity` is 1 to this).
pub const MAX_CAPACITY: u32 = 100;

/// Whether an agent takes tickets now (serde: lower case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentStatus {
    /// At work and taking tickets; the only status auto-assignment picks.
    Online,
    /// At work but not taking new tickets.
    Away,
    /// Not at work.
    Offline,
}

impl AgentStatus {
    /// The serde name (`online`, `away`, `offline`).
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Online => "online",
            AgentStatus::Away => "away",
            AgentStatus::Offline => "offline",
        }
    }

    /// The status of a serde name; none for anything else.
    pub fn parse(s: &str) -> Option<AgentStatus> {
        [AgentStatus::Online, AgentStatus::Away, AgentStatus::Offline]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// `PUT /v1/agents/{id}` body: the whole agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentInput {
    /// Display name, 1–128 bytes.
    pub name: String,
    /// Queue ids (`kb.yaml`) the agent works; at least one.
    pub queues: Vec<String>,
    /// Most active tickets the agent may hold, 1–[`MAX_CAPACITY`].
    pub capacity: u32,
    /// Whether the agent takes tickets now.
    pub status: AgentStatus,
}

/// Agent ids: 1–128 characters of ASCII letters, digits, `-`, `_`, `.`, `@` (they appear in
/// URLs and in list filters, where `none` means unassigned; `health` is the health route).
pub fn is_agent_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_BYTES
        && id != "none"
        && id != "health"
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
}

impl AgentInput {
    /// Checks the path's agent id and every field against the KB's queues; a 422 naming each bad
    /// field.
    pub fn validate(&self, id: &str, policy: &TicketPolicy) -> Result<(), Problem> {
        let mut bad: Vec<(String, String)> = Vec::new();
        if !is_agent_id(id) {
            bad.push((
                "id".into(),
                "1 to 128 of A-Z a-z 0-9 - _ . @ (not \"none\" or \"health\")".into(),
            ));
        }
        if self.name.trim().is_empty() || self.name.len() > 128 {
            bad.push(("name".into(), "1 to 128 bytes".into()));
        }
        if self.queues.is_empty() {
            bad.push(("queues".into(), "at least one queue".into()));
        }
        for (i, q) in self.queues.iter().enumerate() {
            if !policy.has_queue(q) {
                bad.push((
                    format!("queues[{i}]"),
                    "a queue of the knowledge base".into(),
                ));
            }
        }
        if !(1..=MAX_CAPACITY).contains(&self.capacity) {
            bad.push(("capacity".into(), format!("1 to {MAX_CAPACITY}")));
        }
        invalid(bad)
    }
}

/// An agent as assignment sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentLoad {
    /// Agent id ([`is_agent_id`]).
    pub id: String,
    /// Queue ids the agent works.
    pub queues: Vec<String>,
    /// Most active tickets the agent may hold.
    pub capacity: u32,
    /// Only `online` agents are picked.
    pub status: AgentStatus,
    /// Assigned tickets that are new, open or pending.
    pub open_tickets: u32,
    /// When the agent last got a ticket (ms); `None` = never.
    pub last_assigned_at: Option<i64>,
}

/// The online agent of `queue` with the most spare capacity; ties go to the agent idle longest
/// (never assigned counts as idle longest), then to the smaller id. `None` when nobody online
/// in the queue has room.
pub fn pick_agent<'a>(agents: &'a [AgentLoad], queue: &str) -> Option<&'a AgentLoad> {
    agents
        .iter()
        .filter(|a| a.status == AgentStatus::Online)
        .filter(|a| a.queues.iter().any(|q| q == queue))
        .filter(|a| a.open_tickets < a.capacity)
        .min_by(|a, b| {
            let spare = |x: &AgentLoad| x.capacity - x.open_tickets;
            spare(b)
                .cmp(&spare(a))
                .then(a.last_assigned_at.cmp(&b.last_assigned_at))
                .then(a.id.cmp(&b.id))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: &str, queue: &str, capacity: u32, open: u32, last: Option<i64>) -> AgentLoad {
        AgentLoad {
            id: id.into(),
            queues: vec![queue.into()],
            capacity,
            status: AgentStatus::Online,
            open_tickets: open,
            last_assigned_at: last,
        }
    }

    #[test]
    fn most_spare_capacity_wins() {
        let agents = [
            agent("a", "orders", 2, 0, None),
            agent("b", "orders", 5, 1, Some(10)),
        ];
        assert_eq!(pick_agent(&agents, "orders").unwrap().id, "b");
    }

    #[test]
    fn ties_go_to_the_longest_idle_then_the_smaller_id() {
        let agents = [
            agent("a", "orders", 3, 1, Some(50)),
            agent("b", "orders", 3, 1, Some(20)),
        ];
        assert_eq!(pick_agent(&agents, "orders").unwrap().id, "b");
        let agents = [
            agent("c", "orders", 3, 1, Some(20)),
            agent("d", "orders", 3, 1, None),
        ];
        assert_eq!(pick_agent(&agents, "orders").unwrap().id, "d");
        let agents = [
            agent("f", "orders", 3, 1, None),
            agent("e", "orders", 3, 1, None),
        ];
        assert_eq!(pick_agent(&agents, "orders").unwrap().id, "e");
    }

    #[test]
    fn full_offline_away_and_other_queues_are_skipped() {
        let mut off = agent("off", "orders", 9, 0, None);
        off.status = AgentStatus::Offline;
        let mut away = agent("away", "orders", 9, 0, None);
        away.status = AgentStatus::Away;
        let agents = [
            off,
            away,
            agent("full", "orders", 2, 2, None),
            agent("other", "logistics", 9, 0, None),
        ];
        assert!(pick_agent(&agents, "orders").is_none());
        assert_eq!(pick_agent(&agents, "logistics").unwrap().id, "other");
    }

    #[test]
    fn agent_ids_are_url_safe() {
        assert!(is_agent_id("li.wei@shop"));
        assert!(!is_agent_id("none"));
        assert!(!is_agent_id("health"));
        assert!(!is_agent_id("a b"));
        assert!(!is_agent_id("王"));
        assert!(!is_agent_id(""));
    }
}
