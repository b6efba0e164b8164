//! The KB part of the graph: every node and edge the YAML implies, plus `similar_to` edges
//! from the encoder's centroids (computed by `kb-loader`, passed in, so this stays pure).

use super::{Edge, EdgeKind, GRAPH_FORMAT, Graph, Node, NodeKind, Origin};
use crate::faq::templates::{EntityPatterns, fill};
use crate::kb::{FaqEntry, Handoff, Intent, KnowledgeBase, Localized};
use crate::ticket::fill::truncate_chars;
use std::collections::{BTreeMap, BTreeSet};

/// Each intent and FAQ entry keeps at most this many `similar_to` neighbours of its own kind.
pub const SIMILAR_PER_NODE: usize = 3;
/// Below this centroid cosine two intents or entries are not called similar. On the sample KB
/// with the shipped encoder this keeps 188 pairs among 33 intents and 75 entries, the closest
/// gift_card_buy ~ gift_card_use at 0.924.
pub const MIN_SIMILARITY: f32 = 0.6;
/// A template node's label: the start of the template.
const TEMPLATE_LABEL_CHARS: usize = 40;

/// Node id → unit-length centroid of the sentence embeddings of its examples (intents) or
/// questions and paraphrases (FAQ entries). Empty without an encoder: no `similar_to` edges.
pub type Centroids = BTreeMap<String, Vec<f32>>;

/// Builds the graph of `kb`. Fails only on an entity pattern that does not compile, which
/// `kb-loader` has already reported.
pub fn compile(
    kb: &KnowledgeBase,
    graph_version: &str,
    kb_hash: &str,
    centroids: &Centroids,
) -> anyhow::Result<Graph> {
    let mut g = Builder::default();
    let entities = EntityPatterns::compile(&kb.meta.entities)?;
    g.meta(kb);
    for intent in &kb.intents {
        g.intent(kb, intent, &entities);
    }
    // A disabled entry is not served, so it answers nothing.
    for entry in kb.faq.iter().filter(|e| e.enabled) {
        g.faq(entry);
    }
    if let Some(handoff) = &kb.handoff {
        g.handoff(handoff);
    }
    for kind in [NodeKind::Intent, NodeKind::Faq] {
        for (a, b, cosine) in similar(centroids, kind) {
            g.edge(a, b, EdgeKind::SimilarTo, cosine);
        }
    }
    // An edge whose end the KB does not define (kb-loader rejects those) would dangle.
    let known: BTreeSet<String> = g.nodes.iter().map(|n| n.id.clone()).collect();
    g.edges
        .retain(|e| known.contains(&e.from) && known.contains(&e.to));
    Ok(Graph {
        format: GRAPH_FORMAT,
        graph_version: graph_version.to_string(),
        kb_name: kb.meta.name.clone(),
        kb_hash: kb_hash.to_string(),
        nodes: g.nodes,
        edges: g.edges,
    })
}

/// The parts of `kb.yaml`: entities, calendars, queues and who staffs them.
impl Builder {
    fn meta(&mut self, kb: &KnowledgeBase) {
        for name in kb.meta.entities.keys() {
            self.node(NodeKind::Entity, name, plain(name));
        }
        for name in kb.meta.calendars.keys() {
            self.node(NodeKind::Calendar, name, plain(name));
        }
        for q in &kb.meta.queues {
            self.node(NodeKind::Queue, &q.id, or_key(&q.name, &q.id));
            if let Some(hours) = &q.hours {
                self.edge(
                    NodeKind::Queue.id(&q.id),
                    NodeKind::Calendar.id(hours),
                    EdgeKind::StaffedBy,
                    1.0,
                );
            }
        }
    }

    /// An intent: its queue, its reply template and the entities its examples mention.
    fn intent(&mut self, kb: &KnowledgeBase, intent: &Intent, entities: &EntityPatterns) {
        let id = NodeKind::Intent.id(&intent.id);
        self.node(
            NodeKind::Intent,
            &intent.id,
            or_key(&intent.name, &intent.id),
        );
        if let Some(queue) = &intent.queue {
            self.edge(
                id.clone(),
                NodeKind::Queue.id(queue),
                EdgeKind::RoutesTo,
                1.0,
            );
        }
        if !intent.templates.is_empty() {
            self.template(kb, intent);
        }
        let examples: Vec<&String> = intent.examples.values().flatten().collect();
        let mut mentioned = BTreeMap::<&str, usize>::new();
        for example in &examples {
            let names: BTreeSet<&str> = entities.find_all(example).map(|(n, _)| n).collect();
            for name in names {
                *mentioned.entry(name).or_default() += 1;
            }
        }
        for (name, n) in mentioned {
            let share = n as f64 / examples.len() as f64;
            self.edge(
                id.clone(),
                NodeKind::Entity.id(name),
                EdgeKind::Mentions,
                share,
            );
        }
    }

    /// An intent's reply template and the entities that fill it.
    fn template(&mut self, kb: &KnowledgeBase, intent: &Intent) {
        let label = intent
            .templates
            .iter()
            .map(|(lang, t)| (lang.clone(), truncate_chars(t, TEMPLATE_LABEL_CHARS)))
            .collect();
        self.node(NodeKind::Template, &intent.id, label);
        let template = NodeKind::Template.id(&intent.id);
        self.edge(
            NodeKind::Intent.id(&intent.id),
            template.clone(),
            EdgeKind::UsesTemplate,
            1.0,
        );
        // The placeholders the filler would leave open with no values known.
        let used: BTreeSet<String> = intent
            .templates
            .values()
            .flat_map(|t| fill(t, &BTreeMap::new()).missing)
            .collect();
        for name in used.iter().filter(|n| kb.meta.entities.contains_key(*n)) {
            self.edge(
                template.clone(),
                NodeKind::Entity.id(name),
                EdgeKind::Fills,
                1.0,
            );
        }
    }

    /// A served FAQ entry: the intent it answers and its tags.
    fn faq(&mut self, entry: &FaqEntry) {
        let id = NodeKind::Faq.id(&entry.id);
        self.node(NodeKind::Faq, &entry.id, or_key(&entry.question, &entry.id));
        if let Some(intent) = &entry.intent {
            self.edge(
                id.clone(),
                NodeKind::Intent.id(intent),
                EdgeKind::Answers,
                1.0,
            );
        }
        for tag in &entry.tags {
            self.node(NodeKind::Tag, tag, plain(tag));
            self.edge(id.clone(), NodeKind::Tag.id(tag), EdgeKind::About, 1.0);
        }
    }

    /// `handoff.yaml`: sensitive topics, and each rule with its queue, intent and topic.
    fn handoff(&mut self, handoff: &Handoff) {
        for topic in handoff.sensitive_topics.keys() {
            self.node(NodeKind::Topic, topic, plain(topic));
        }
        for rule in &handoff.rules {
            let id = NodeKind::Rule.id(&rule.id);
            self.node(NodeKind::Rule, &rule.id, or_key(&rule.reason, &rule.id));
            if let Some(queue) = &rule.queue {
                self.edge(
                    id.clone(),
                    NodeKind::Queue.id(queue),
                    EdgeKind::RoutesTo,
                    1.0,
                );
            }
            if let Some(intent) = &rule.when.intent {
                self.edge(
                    id.clone(),
                    NodeKind::Intent.id(intent),
                    EdgeKind::About,
                    1.0,
                );
            }
            // `any` fires on every topic: an edge to each would say nothing.
            if let Some(topic) = rule.when.sensitive_topic.as_deref().filter(|t| *t != "any") {
                self.edge(id.clone(), NodeKind::Topic.id(topic), EdgeKind::About, 1.0);
            }
        }
    }
}

/// `similar_to` pairs among `kind`'s nodes: each node's [`SIMILAR_PER_NODE`] nearest at
/// [`MIN_SIMILARITY`] or more, each pair once (smaller id first), closest first.
fn similar(centroids: &Centroids, kind: NodeKind) -> Vec<(String, String, f64)> {
    let prefix = format!("{}:", kind.as_str());
    let nodes: Vec<(&String, &Vec<f32>)> = centroids
        .iter()
        .filter(|(id, _)| id.starts_with(&prefix))
        .collect();
    let mut pairs = BTreeMap::<(String, String), f64>::new();
    for (i, (a, va)) in nodes.iter().enumerate() {
        let mut near: Vec<(usize, f32)> = nodes
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(j, (_, vb))| (j, va.iter().zip(vb.iter()).map(|(x, y)| x * y).sum()))
            .filter(|(_, c)| *c >= MIN_SIMILARITY)
            .collect();
        near.sort_by(|x, y| y.1.total_cmp(&x.1));
        for (j, cosine) in near.into_iter().take(SIMILAR_PER_NODE) {
            let b = nodes[j].0;
            let key = if *a < b {
                ((*a).clone(), b.clone())
            } else {
                (b.clone(), (*a).clone())
            };
            // Three decimals: the last digits of a cosine differ between CPUs (summation order
            // under AVX2 vs SSE), and `models/graph.json` should not.
            pairs.insert(key, (f64::from(cosine) * 1000.0).round() / 1000.0);
        }
    }
    let mut out: Vec<_> = pairs.into_iter().map(|((a, b), c)| (a, b, c)).collect();
    out.sort_by(|x, y| y.2.total_cmp(&x.2).then_with(|| x.0.cmp(&y.0)));
    out
}

fn plain(key: &str) -> Localized {
    Localized::from([
        ("en".to_string(), key.to_string()),
        ("zh".to_string(), key.to_string()),
    ])
}

fn or_key(names: &Localized, key: &str) -> Localized {
    if names.is_empty() {
        plain(key)
    } else {
        names.clone()
    }
}

#[derive(Default)]
struct Builder {
    nodes: Vec<Node>,
    seen: BTreeSet<String>,
    edges: Vec<Edge>,
}

impl Builder {
    /// Adds a node once (a tag shared by several entries is one node).
    fn node(&mut self, kind: NodeKind, key: &str, label: Localized) {
        let id = kind.id(key);
        if self.seen.insert(id.clone()) {
            self.nodes.push(Node {
                id,
                kind,
                label,
                stats: BTreeMap::new(),
            });
        }
    }

    fn edge(&mut self, from: String, to: String, kind: EdgeKind, weight: f64) {
        self.edges.push(Edge {
            from,
            to,
            kind,
            weight,
            count: None,
            origin: Origin::Kb,
        });
    }
}
