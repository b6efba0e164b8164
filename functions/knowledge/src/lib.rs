//! The knowledge component (docs/graph.md), every route behind the agent token but health:
//! the graph (`GET /v1/graph`, `/v1/graph/nodes/{id}`, `/v1/graph/path`, `/v1/graph/subgraph`,
//! in [`graph`]) and what the service does not know yet (`GET /v1/knowledge`,
//! `/v1/knowledge/gaps`, the FAQ drafts under `/v1/knowledge/drafts`, in [`knowledge`]).
//! [`http`] routes a request to them: method, agent token, query parameters, rendering.
//!
//! The KB part of the graph (`models/graph.json`, written by `kb-loader build`) is compiled in
//! and parsed at pre-initialisation; each request adds what the stores say now.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

mod graph;
mod http;
mod knowledge;

use std::sync::OnceLock;
use tandem_core::foundation::problem::Problem;
use tandem_core::graph::Graph;

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

static COMPILED: OnceLock<Result<Graph, String>> = OnceLock::new();

/// The KB's graph as `kb-loader` compiled it.
fn compiled() -> Result<&'static Graph, Problem> {
    COMPILED
        .get_or_init(|| Graph::from_json(GRAPH_JSON).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Problem::internal(format!("models/graph.json: {e}")))
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
