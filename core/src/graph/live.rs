//! What operation adds to the compiled graph: counts read from the feedback and ticket stores
//! (`tandem_stores::graph`), turned into weighted edges and per-intent figures.

use super::{Edge, EdgeKind, Graph, NodeKind, Origin};
use std::collections::{BTreeMap, BTreeSet};

/// A count of events between two keys (intent → intent, intent → FAQ entry, intent → queue).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairCount {
    /// The intent key (without `intent:`).
    pub from: String,
    /// The other key (intent, FAQ entry or queue, without its kind prefix).
    pub to: String,
    /// How many events; zero counts are left out of the graph.
    pub count: u64,
}

/// One intent's conversations (feedback store, by the conversation's intent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntentOutcomes {
    /// The intent id (the conversation's corrected, else predicted intent).
    pub intent: String,
    /// Its conversations (`stats.conversations`).
    pub conversations: u64,
    /// Those resolved (`stats.resolved`).
    pub resolved: u64,
    /// Conversations a person handled (alone or after the bot).
    pub human: u64,
}

/// Everything the stores know that the KB does not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveCounts {
    /// Corrections: predicted intent → intent the agent set (only where they differ).
    pub corrections: Vec<PairCount>,
    /// Resolved outcomes with a FAQ answer: intent → FAQ entry.
    pub resolutions: Vec<PairCount>,
    /// Tickets: category (an intent) → queue.
    pub tickets: Vec<PairCount>,
    /// Per-intent conversation figures, merged into the intents' `stats`.
    pub outcomes: Vec<IntentOutcomes>,
}

/// Adds `live` to `graph`: `confused_with`, `resolved_by` and `handled_in` edges, each weighted
/// by its share of the intent's events of that kind, and the intents' `stats`. Keys the
/// compiled graph does not know (an intent since removed from the KB, category `none`) are
/// left out: an edge must end at a node.
pub fn merge(graph: &mut Graph, live: &LiveCounts) {
    let known: BTreeSet<&str> = graph.nodes.iter().map(|n| n.id.as_str()).collect();
    let mut edges = Vec::new();
    for (pairs, to_kind, kind) in [
        (&live.corrections, NodeKind::Intent, EdgeKind::ConfusedWith),
        (&live.resolutions, NodeKind::Faq, EdgeKind::ResolvedBy),
        (&live.tickets, NodeKind::Queue, EdgeKind::HandledIn),
    ] {
        let mut totals = BTreeMap::<&str, u64>::new();
        for p in pairs
            .iter()
            .filter(|p| p.from != p.to || kind != EdgeKind::ConfusedWith)
        {
            *totals.entry(p.from.as_str()).or_default() += p.count;
        }
        for p in pairs {
            let (from, to) = (NodeKind::Intent.id(&p.from), to_kind.id(&p.to));
            let total = totals.get(p.from.as_str()).copied().unwrap_or(0);
            if p.count == 0
                || total == 0
                || (kind == EdgeKind::ConfusedWith && p.from == p.to)
                || !known.contains(from.as_str())
                || !known.contains(to.as_str())
            {
                continue;
            }
            edges.push(Edge {
                from,
                to,
                kind,
                weight: p.count as f64 / total as f64,
                count: Some(p.count),
                origin: Origin::Live,
            });
        }
    }
    let mut stats = BTreeMap::<String, BTreeMap<String, u64>>::new();
    for o in &live.outcomes {
        let s = stats.entry(NodeKind::Intent.id(&o.intent)).or_default();
        s.insert("conversations".into(), o.conversations);
        s.insert("resolved".into(), o.resolved);
        s.insert("handled_by_human".into(), o.human);
    }
    for (pairs, name) in [(&live.tickets, "tickets"), (&live.corrections, "corrected")] {
        for p in pairs.iter().filter(|p| p.from != p.to || name == "tickets") {
            *stats
                .entry(NodeKind::Intent.id(&p.from))
                .or_default()
                .entry(name.into())
                .or_default() += p.count;
        }
    }
    for node in &mut graph.nodes {
        if let Some(s) = stats.remove(&node.id) {
            node.stats.extend(s);
        }
    }
    graph.edges.extend(edges);
}
