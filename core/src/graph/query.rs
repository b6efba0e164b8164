//! The questions `GET /v1/graph/...` asks of a graph: a node with its neighbours, the shortest
//! path between two nodes, the subgraph of some node kinds.

use super::{Edge, EdgeKind, Graph, Node, NodeKind, Origin};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};

/// A graph with its nodes indexed by id and its edges by node.
pub struct GraphIndex {
    graph: Graph,
    by_id: HashMap<String, usize>,
    /// Per node: indices of the edges that touch it, heaviest first.
    touching: Vec<Vec<usize>>,
}

/// One neighbour of a node and the edge that makes it one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Neighbour<'a> {
    /// `out` when the edge leaves the node asked about, `in` when it arrives.
    pub direction: &'static str,
    /// The kind of the edge.
    pub edge: EdgeKind,
    /// The edge's weight: 1 for a KB fact, a share or cosine in `[0, 1]` otherwise.
    pub weight: f64,
    /// For live edges: how many events it rests on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Whether the edge comes from the KB or from operation.
    pub origin: Origin,
    /// The node at the other end.
    pub node: &'a Node,
}

/// A node with its neighbours (`GET /v1/graph/nodes/{id}`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeView<'a> {
    /// The node asked about.
    pub node: &'a Node,
    /// How many neighbours there are before `kind` and `limit` applied.
    pub degree: usize,
    /// Its neighbours, heaviest edge first, filtered by kind and cut to the limit.
    pub neighbours: Vec<Neighbour<'a>>,
}

/// A shortest path between two nodes (`GET /v1/graph/path`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Path<'a> {
    /// From the first node asked about to the second.
    pub nodes: Vec<&'a Node>,
    /// `edges[i]` joins `nodes[i]` and `nodes[i + 1]`, in whichever direction it points.
    pub edges: Vec<&'a Edge>,
}

/// Nodes of some kinds and the edges among them (`GET /v1/graph/subgraph`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Subgraph<'a> {
    /// The chosen nodes, most connected first (then by id).
    pub nodes: Vec<&'a Node>,
    /// The edges with both ends among `nodes`.
    pub edges: Vec<&'a Edge>,
    /// Whether nodes of the kinds asked for were left out to keep to the limit (the least
    /// connected go first).
    pub truncated: bool,
}

impl GraphIndex {
    /// Indexes `graph`, dropping any edge that does not join two of its nodes (a loop, or an
    /// end it lacks), so every edge the queries meet has both ends.
    pub fn new(mut graph: Graph) -> GraphIndex {
        let by_id: HashMap<String, usize> = graph
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.clone(), i))
            .collect();
        graph
            .edges
            .retain(|e| e.from != e.to && by_id.contains_key(&e.from) && by_id.contains_key(&e.to));
        let mut touching = vec![Vec::new(); graph.nodes.len()];
        for (e, edge) in graph.edges.iter().enumerate() {
            for end in [&edge.from, &edge.to] {
                touching[by_id[end]].push(e);
            }
        }
        for list in &mut touching {
            list.sort_by(|&a, &b| {
                let (a, b) = (&graph.edges[a], &graph.edges[b]);
                b.weight
                    .total_cmp(&a.weight)
                    .then_with(|| a.kind.cmp(&b.kind))
            });
        }
        GraphIndex {
            graph,
            by_id,
            touching,
        }
    }

    /// The indexed graph (loops and dangling edges dropped).
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The node with id `id`, if any.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.by_id.get(id).map(|&i| &self.graph.nodes[i])
    }

    /// Node `id` and its neighbours (of kind `kind` when given), heaviest edge first, at most
    /// `limit` of them.
    pub fn neighbours(
        &self,
        id: &str,
        kind: Option<NodeKind>,
        limit: usize,
    ) -> Option<NodeView<'_>> {
        let &i = self.by_id.get(id)?;
        let all: Vec<Neighbour<'_>> = self.touching[i]
            .iter()
            .map(|&e| {
                let edge = &self.graph.edges[e];
                let (direction, other) = match edge.from == id {
                    true => ("out", &edge.to),
                    false => ("in", &edge.from),
                };
                Neighbour {
                    direction,
                    edge: edge.kind,
                    weight: edge.weight,
                    count: edge.count,
                    origin: edge.origin,
                    node: &self.graph.nodes[self.by_id[other]],
                }
            })
            .collect();
        let degree = all.len();
        let neighbours = all
            .into_iter()
            .filter(|n| kind.is_none_or(|k| n.node.kind == k))
            .take(limit)
            .collect();
        Some(NodeView {
            node: &self.graph.nodes[i],
            degree,
            neighbours,
        })
    }

    /// A shortest path from `from` to `to` over edges in either direction, at most `max_hops`
    /// long; among equally short ones, the one that takes the heavier edge first. `None` when
    /// none is that short.
    pub fn path(&self, from: &str, to: &str, max_hops: usize) -> Option<Path<'_>> {
        let (&start, &goal) = (self.by_id.get(from)?, self.by_id.get(to)?);
        // came_from[n] = (previous node, edge) on the first (so shortest) way to reach n.
        let mut came_from: Vec<Option<(usize, usize)>> = vec![None; self.graph.nodes.len()];
        let mut hops = vec![usize::MAX; self.graph.nodes.len()];
        hops[start] = 0;
        let mut queue = VecDeque::from([start]);
        while let Some(n) = queue.pop_front() {
            if n == goal || hops[n] == max_hops {
                continue;
            }
            for &e in &self.touching[n] {
                let edge = &self.graph.edges[e];
                let other = match self.by_id[&edge.from] == n {
                    true => self.by_id[&edge.to],
                    false => self.by_id[&edge.from],
                };
                if hops[other] == usize::MAX {
                    hops[other] = hops[n] + 1;
                    came_from[other] = Some((n, e));
                    queue.push_back(other);
                }
            }
        }
        if hops[goal] == usize::MAX {
            return None;
        }
        let (mut nodes, mut edges) = (vec![&self.graph.nodes[goal]], Vec::new());
        let mut at = goal;
        while let Some((prev, e)) = came_from[at] {
            edges.push(&self.graph.edges[e]);
            nodes.push(&self.graph.nodes[prev]);
            at = prev;
        }
        nodes.reverse();
        edges.reverse();
        Some(Path { nodes, edges })
    }

    /// The nodes of `kinds` (every kind when empty), the most connected first, at most
    /// `limit`, and the edges among them.
    pub fn subgraph(&self, kinds: &[NodeKind], limit: usize) -> Subgraph<'_> {
        let mut chosen: Vec<usize> = (0..self.graph.nodes.len())
            .filter(|&i| kinds.is_empty() || kinds.contains(&self.graph.nodes[i].kind))
            .collect();
        chosen.sort_by(|&a, &b| {
            let (na, nb) = (&self.graph.nodes[a], &self.graph.nodes[b]);
            self.touching[b]
                .len()
                .cmp(&self.touching[a].len())
                .then_with(|| na.id.cmp(&nb.id))
        });
        let truncated = chosen.len() > limit;
        chosen.truncate(limit);
        let mut inside = vec![false; self.graph.nodes.len()];
        for &i in &chosen {
            inside[i] = true;
        }
        let edges = self
            .graph
            .edges
            .iter()
            .filter(|e| inside[self.by_id[&e.from]] && inside[self.by_id[&e.to]])
            .collect();
        Subgraph {
            nodes: chosen.iter().map(|&i| &self.graph.nodes[i]).collect(),
            edges,
            truncated,
        }
    }
}
