//! `GET /v1/graph`, `/v1/graph/nodes/{id}`, `/v1/graph/path`, `/v1/graph/subgraph`: the
//! compiled graph with the live counts of the feedback and ticket tables merged in
//! (`tandem_stores::graph`), asked through the core's [`GraphIndex`].

use crate::compiled;
use tandem_adapter::query::Query;
use tandem_adapter::sqlite::Spin;
use tandem_core::foundation::problem::Problem;
use tandem_core::graph::{GraphIndex, NodeKind, live};

/// A node id (`kind:key`; keys are KB ids of at most 64 characters) is never longer.
const MAX_NODE_ID_BYTES: usize = 80;
const DEFAULT_NEIGHBOURS: usize = 50;
const MAX_NEIGHBOURS: usize = 1000;
const DEFAULT_SUBGRAPH_NODES: usize = 500;
const MAX_SUBGRAPH_NODES: usize = 5000;
const DEFAULT_HOPS: usize = 6;
const MAX_HOPS: usize = 12;

/// The compiled graph with what the stores know now.
async fn current() -> Result<GraphIndex, Problem> {
    let mut graph = compiled()?.clone();
    let conn = Spin::open_default("feedback").await?;
    let counts = tandem_stores::feedback::Store::open(&conn)
        .await?
        .graph_counts()
        .await?;
    live::merge(&mut graph, &counts);
    Ok(GraphIndex::new(graph))
}

fn kind(name: &str, v: &str) -> Result<NodeKind, Problem> {
    NodeKind::parse(v).ok_or_else(|| {
        let kinds: Vec<&str> = NodeKind::ALL.iter().map(|k| k.as_str()).collect();
        Problem::unprocessable(format!("{name} {v:?} is not a node kind"))
            .with_param(name, format!("one of {}", kinds.join(", ")))
    })
}

/// A node id from the path or a parameter, checked for shape before any lookup.
fn node_id(name: &str, raw: &str) -> Result<String, Problem> {
    let id = tandem_adapter::query::percent_decode(raw).ok_or_else(|| {
        Problem::bad_request(format!("{name} is not valid percent-encoded UTF-8"))
    })?;
    let shaped = id.len() <= MAX_NODE_ID_BYTES
        && id.split_once(':').is_some_and(|(k, key)| {
            NodeKind::parse(k).is_some() && tandem_core::feedback::is_kb_id(key)
        });
    match shaped {
        true => Ok(id),
        false => Err(
            Problem::unprocessable(format!("{name} is not a node id")).with_param(
                name,
                "kind:key, as intent:order_status or faq:return_policy_7day",
            ),
        ),
    }
}

fn unknown(id: &str) -> Problem {
    Problem::not_found(format!("the graph has no node {id:?}"))
}

pub async fn route(path: &str, q: &Query) -> Result<serde_json::Value, Problem> {
    if path == "/v1/graph" {
        return Ok(current().await?.graph().summary());
    }
    if path == "/v1/graph/subgraph" {
        let kinds = match q.get("kinds") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|k| kind("kinds", k.trim()))
                .collect::<Result<_, _>>()?,
        };
        let limit = q.bounded("limit", DEFAULT_SUBGRAPH_NODES, MAX_SUBGRAPH_NODES)?;
        let index = current().await?;
        return Ok(serde_json::to_value(index.subgraph(&kinds, limit)).expect("serialises"));
    }
    if path == "/v1/graph/path" {
        let required = |name: &str| {
            q.get(name).ok_or_else(|| {
                Problem::unprocessable(format!("{name} is required")).with_param(name, "a node id")
            })
        };
        let (from, to) = (
            node_id("from", required("from")?)?,
            node_id("to", required("to")?)?,
        );
        let hops = q.bounded("max_hops", DEFAULT_HOPS, MAX_HOPS)?;
        let index = current().await?;
        for id in [&from, &to] {
            index.node(id).ok_or_else(|| unknown(id))?;
        }
        return match index.path(&from, &to, hops) {
            Some(p) => Ok(serde_json::to_value(p).expect("serialises")),
            None => Err(Problem::not_found(format!(
                "no path of at most {hops} edges joins {from} and {to}"
            ))
            .with_param("max_hops", "a longer path may exist")),
        };
    }
    if let Some(raw) = path.strip_prefix("/v1/graph/nodes/") {
        let id = node_id("id", raw)?;
        let only = q.get("kind").map(|k| kind("kind", k)).transpose()?;
        let limit = q.bounded("limit", DEFAULT_NEIGHBOURS, MAX_NEIGHBOURS)?;
        let index = current().await?;
        let view = index
            .neighbours(&id, only, limit)
            .ok_or_else(|| unknown(&id))?;
        return Ok(serde_json::to_value(view).expect("serialises"));
    }
    Err(tandem_adapter::not_found(path))
}
