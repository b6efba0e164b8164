//! The knowledge graph of the service (docs/graph.md): what the KB says (intents, FAQ entries,
//! queues, templates, entity types, tags, sensitive topics, handoff rules, calendars and how
//! they relate), compiled by `kb-loader` into `models/graph.json`, plus what operation adds
//! (confusions from corrections, the FAQ entries that resolved an intent, the queues its
//! tickets went to), merged per request from the stores' counts ([`live`]).
//!
//! Pure: [`compile`] builds the KB part, [`live`] merges counts, [`Graph::index`] answers the
//! three questions the API asks (a node and its neighbours, a path, a subgraph by kind).

pub mod compile;
pub mod live;
mod query;

pub use query::{GraphIndex, Neighbour, NodeView, Path, Subgraph};

use crate::kb::Localized;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `models/graph.json`'s format; bump it on any change a reader must know of.
pub const GRAPH_FORMAT: u32 = 1;

/// What a node stands for. A node's id is `<kind>:<key>` (`intent:order_status`), unique
/// across kinds because the kind is part of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// An intent of `intents.yaml` (`intent:<id>`).
    Intent,
    /// An enabled FAQ entry of `faq.yaml` (`faq:<id>`).
    Faq,
    /// A queue of `kb.yaml` (`queue:<id>`).
    Queue,
    /// An intent's reply templates (`template:<intent id>`).
    Template,
    /// An entity pattern of `kb.yaml`'s `entities` (`entity:order_id`).
    Entity,
    /// A FAQ tag: the products and product categories the shop's answers are about.
    Tag,
    /// A sensitive topic of the handoff rules (legal, fraud, ...).
    Topic,
    /// A handoff rule of `handoff.yaml` (`rule:<id>`).
    Rule,
    /// A business-hours calendar of `kb.yaml` (`calendar:<name>`).
    Calendar,
}

impl NodeKind {
    /// Every kind, in declaration order.
    pub const ALL: [NodeKind; 9] = [
        NodeKind::Intent,
        NodeKind::Faq,
        NodeKind::Queue,
        NodeKind::Template,
        NodeKind::Entity,
        NodeKind::Tag,
        NodeKind::Topic,
        NodeKind::Rule,
        NodeKind::Calendar,
    ];

    /// The serde name and id prefix (`intent`, `faq`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Intent => "intent",
            NodeKind::Faq => "faq",
            NodeKind::Queue => "queue",
            NodeKind::Template => "template",
            NodeKind::Entity => "entity",
            NodeKind::Tag => "tag",
            NodeKind::Topic => "topic",
            NodeKind::Rule => "rule",
            NodeKind::Calendar => "calendar",
        }
    }

    /// The kind of a serde name (`kind=` query values); none for anything else.
    pub fn parse(s: &str) -> Option<NodeKind> {
        NodeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The id of this kind's node `key`.
    pub fn id(self, key: &str) -> String {
        format!("{}:{key}", self.as_str())
    }
}

/// What an edge says. Edges are directed as read: `faq answers intent`, `intent routes_to
/// queue`; `similar_to` holds both ways and is stored once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// faq → intent it answers (the entry's `intent`).
    Answers,
    /// faq → tag; rule → intent or topic it fires on.
    About,
    /// intent or rule → queue.
    RoutesTo,
    /// intent → its reply template.
    UsesTemplate,
    /// template → entity its placeholder is filled from.
    Fills,
    /// intent → entity its examples mention; weight: share of examples with one.
    Mentions,
    /// queue → calendar of its people.
    StaffedBy,
    /// intent ↔ intent, faq ↔ faq: cosine of the encoder's centroids of their examples.
    SimilarTo,
    /// Live. intent → intent agents corrected it to; weight: share of its corrections.
    ConfusedWith,
    /// Live. intent → faq entry whose answer resolved a conversation of that intent; weight:
    /// share of its resolved conversations with a FAQ answer.
    ResolvedBy,
    /// Live. intent → queue its tickets went to; weight: share of its tickets.
    HandledIn,
}

impl EdgeKind {
    /// The serde name (`answers`, `routes_to`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Answers => "answers",
            EdgeKind::About => "about",
            EdgeKind::RoutesTo => "routes_to",
            EdgeKind::UsesTemplate => "uses_template",
            EdgeKind::Fills => "fills",
            EdgeKind::Mentions => "mentions",
            EdgeKind::StaffedBy => "staffed_by",
            EdgeKind::SimilarTo => "similar_to",
            EdgeKind::ConfusedWith => "confused_with",
            EdgeKind::ResolvedBy => "resolved_by",
            EdgeKind::HandledIn => "handled_in",
        }
    }
}

/// Where an edge comes from: the KB as compiled, or what happened since.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Compiled from the KB by `kb-loader` (`kb`).
    Kb,
    /// Counted from the feedback and ticket stores per request (`live`).
    Live,
}

/// A node of the graph: one thing the KB defines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// `<kind>:<key>` (`intent:order_status`), unique in the graph.
    pub id: String,
    /// What it stands for; also the prefix of `id`.
    pub kind: NodeKind,
    /// Display name per language (zh, en); the key when the KB gives none.
    pub label: Localized,
    /// Figures of operation (an intent's conversations, resolved, handed to a person),
    /// merged in by [`live`]; empty in the compiled graph.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stats: BTreeMap<String, u64>,
}

/// A directed, weighted relation between two nodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    /// Id of the node it leaves.
    pub from: String,
    /// Id of the node it reaches.
    pub to: String,
    /// The relation (`answers`, `routes_to`, ...).
    pub kind: EdgeKind,
    /// 1 for a fact of the KB; a share or a cosine in 0..=1 otherwise.
    pub weight: f64,
    /// How many events a live edge rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Whether the KB or operation says so.
    pub origin: Origin,
}

/// The graph as `models/graph.json` holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// [`GRAPH_FORMAT`] when written.
    pub format: u32,
    /// Version of the KB build that compiled it (`<kb name>-<hash prefix>`).
    pub graph_version: String,
    /// The KB's `name` (`kb.yaml`).
    pub kb_name: String,
    /// Hex SHA-256 over the KB's source files.
    pub kb_hash: String,
    /// Every node, in compile order.
    pub nodes: Vec<Node>,
    /// Every edge; live edges follow the compiled ones once [`live::merge`] ran.
    pub edges: Vec<Edge>,
}

impl Graph {
    /// Reads `models/graph.json`, refusing another format.
    pub fn from_json(bytes: &[u8]) -> anyhow::Result<Graph> {
        let graph: Graph = serde_json::from_slice(bytes)?;
        anyhow::ensure!(
            graph.format == GRAPH_FORMAT,
            "graph.json is format {}, this build reads {GRAPH_FORMAT}: rebuild the models with kb-loader",
            graph.format
        );
        Ok(graph)
    }

    /// Node and edge counts per kind, for `GET /v1/graph`.
    pub fn summary(&self) -> serde_json::Value {
        let mut nodes = BTreeMap::<&str, u64>::new();
        for n in &self.nodes {
            *nodes.entry(n.kind.as_str()).or_default() += 1;
        }
        let mut edges = BTreeMap::<&str, u64>::new();
        for e in &self.edges {
            *edges.entry(e.kind.as_str()).or_default() += 1;
        }
        serde_json::json!({
            "graph_version": self.graph_version,
            "kb_name": self.kb_name,
            "nodes": self.nodes.len(),
            "edges": self.edges.len(),
            "nodes_by_kind": nodes,
            "edges_by_kind": edges,
        })
    }
}

#[cfg(test)]
mod tests;
