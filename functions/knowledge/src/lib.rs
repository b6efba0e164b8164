//! The knowledge component (docs/graph.md), every route behind the agent token but health:
//! the graph (`GET /v1/graph`, `/v1/graph/nodes/{id}`, `/v1/graph/path`, `/v1/graph/subgraph`)
//! and the knowledge gaps (`GET /v1/knowledge/gaps`).
//!
//! The KB part of the graph (`models/graph.json`, written by `kb-loader build`) is compiled in
//! and parsed at pre-initialisation; each request adds what the feedback and ticket tables say
//! now (`tandem_stores::graph`) and asks the core's [`GraphIndex`].

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;
use std::sync::OnceLock;
use tandem_adapter as adapter;
use tandem_adapter::query::Query;
use tandem_adapter::sqlite::Spin;
use tandem_core::feedback::format_time;
use tandem_core::gaps;
use tandem_core::graph::{Graph, GraphIndex, NodeKind, live};
use tandem_core::problem::Problem;

tandem_adapter::snapshot_allocator!();

mod bindings {
    spin_sdk::wit_bindgen::generate!({
        runtime_path: "spin_sdk::wit_bindgen::rt",
        inline: r#"
            package tandem:knowledge-component;
            world component {
                /// Pre-initialisation hook called once by `tandem preinit` (wasmtime-wizer).
                export wizer-initialize: func();
            }
        "#,
        pub_export_macro: true,
    });
}

const GRAPH_JSON: &[u8] = include_bytes!("../../../models/graph.json");

/// A node id (`kind:key`; keys are KB ids of at most 64 characters) is never longer.
const MAX_NODE_ID_BYTES: usize = 80;
const DEFAULT_NEIGHBOURS: usize = 50;
const MAX_NEIGHBOURS: usize = 1000;
const DEFAULT_SUBGRAPH_NODES: usize = 500;
const MAX_SUBGRAPH_NODES: usize = 5000;
const DEFAULT_HOPS: usize = 6;
const MAX_HOPS: usize = 12;
const DEFAULT_GAPS: usize = 20;
const MAX_GAPS: usize = 200;

static COMPILED: OnceLock<Result<Graph, String>> = OnceLock::new();

fn compiled() -> Result<&'static Graph, Problem> {
    COMPILED
        .get_or_init(|| Graph::from_json(GRAPH_JSON).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Problem::internal(format!("models/graph.json: {e}")))
}

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

/// A `limit`-like parameter: absent → `default`, else an integer in 1..=`max`.
fn bounded(q: &Query, name: &str, default: usize, max: usize) -> Result<usize, Problem> {
    let Some(v) = q.get(name) else {
        return Ok(default);
    };
    match v.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(
            Problem::unprocessable(format!("{name} {v:?} is out of range"))
                .with_param(name, format!("an integer from 1 to {max}")),
        ),
    }
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
    let id = adapter::query::percent_decode(raw).ok_or_else(|| {
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

/// The unanswered questions of `[from, to)` (the most recent [`gaps::MAX_QUESTIONS`]),
/// clustered; the `limit` highest-scoring clusters of at least `min_questions`.
async fn knowledge_gaps(q: &Query) -> Result<serde_json::Value, Problem> {
    let (from, to) = tandem_core::feedback::parse_range(q.get("from"), q.get("to"))?;
    let limit = bounded(q, "limit", DEFAULT_GAPS, MAX_GAPS)?;
    let min_questions = bounded(q, "min_questions", 1, gaps::MAX_QUESTIONS)?;
    let conn = Spin::open_default("knowledge").await?;
    let store = tandem_stores::knowledge::Store::open(&conn).await?;
    let (questions, total) = store.questions(from, to, gaps::MAX_QUESTIONS).await?;
    let all = gaps::clusters(&questions, gaps::GAP_SIMILARITY);
    let kept: Vec<serde_json::Value> = all
        .iter()
        .filter(|c| c.questions >= min_questions)
        .take(limit)
        .map(|c| {
            let mut v = serde_json::to_value(c).expect("serialises");
            v["first_seen"] = format_time(c.first_seen_ms).into();
            v["last_seen"] = format_time(c.last_seen_ms).into();
            v
        })
        .collect();
    Ok(serde_json::json!({
        "questions": total,
        "clustered": questions.len(),
        "threshold": gaps::GAP_SIMILARITY,
        "clusters_found": all.len(),
        "clusters": kept,
    }))
}

async fn route(path: &str, q: &Query) -> Result<serde_json::Value, Problem> {
    if path == "/v1/knowledge/gaps" {
        return knowledge_gaps(q).await;
    }
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
        let limit = bounded(q, "limit", DEFAULT_SUBGRAPH_NODES, MAX_SUBGRAPH_NODES)?;
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
        let hops = bounded(q, "max_hops", DEFAULT_HOPS, MAX_HOPS)?;
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
        let limit = bounded(q, "limit", DEFAULT_NEIGHBOURS, MAX_NEIGHBOURS)?;
        let index = current().await?;
        let view = index
            .neighbours(&id, only, limit)
            .ok_or_else(|| unknown(&id))?;
        return Ok(serde_json::to_value(view).expect("serialises"));
    }
    Err(adapter::not_found(path))
}

/// The query parameters each route takes.
fn parameters(path: &str) -> &'static [&'static str] {
    match path {
        "/v1/graph/subgraph" => &["kinds", "limit"],
        "/v1/graph/path" => &["from", "to", "max_hops"],
        "/v1/knowledge/gaps" => &["from", "to", "limit", "min_questions"],
        p if p.starts_with("/v1/graph/nodes/") => &["kind", "limit"],
        _ => &[],
    }
}

#[http_service]
async fn handle(req: Request) -> adapter::HttpResponse {
    let path = adapter::path(&req).trim_end_matches('/').to_string();
    if adapter::is_health_path(&path) {
        let version = compiled().ok().map(|g| g.graph_version.as_str());
        return adapter::health_route(&req, "knowledge", version);
    }
    if let Err(p) = adapter::require_method(&req, &[Method::GET]) {
        return adapter::problem(&p);
    }
    if let Err(response) = adapter::authorize_agent(&req).await {
        return response;
    }
    let result = match adapter::query::parse_query(&req, parameters(&path)) {
        Ok(q) => route(&path, &q).await,
        Err(p) => Err(p),
    };
    adapter::render(200, result)
}

struct Component;

impl bindings::Guest for Component {
    fn wizer_initialize() {
        // Parse the graph once, into the snapshot.
        let _ = compiled();
        // Last: what a request allocates from here on goes above the snapshot's heap.
        freeze_snapshot_heap();
    }
}

bindings::export!(Component with_types_in bindings);
