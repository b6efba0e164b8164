//! The intent component: `POST /v1/intent` and the `tandem:service/intent` export.
//!
//! The model (`models/intent.onnx` + `models/intent.json`, written by `kb-loader build`) is
//! compiled in. `wizer-initialize` parses and optimises it at build time (`tandem preinit`), so
//! the fresh instance Spin starts for every request finds it ready in memory; without
//! pre-initialisation the first use in an instance loads it lazily.
//!
//! A model of the semantic tier (`kb-loader build`'s default) also takes the message's
//! sentence embedding, from the imported `tandem:service/encoder`: the build plugs the embed
//! component in (`scripts/build-component.sh intent`), and inside `assist` that one encoder
//! instance also serves the FAQ.

mod http;
mod wit_export;

use serde::Serialize;
use std::sync::OnceLock;
use tandem_core::foundation::problem::Problem;
use tandem_core::intent::{Classification, IntentRunner};

tandem_adapter::snapshot_allocator!();

mod bindings {
    spin_sdk::wit_bindgen::generate!({
        runtime_path: "spin_sdk::wit_bindgen::rt",
        inline: r#"
            package tandem:intent-component;
            world component {
                include tandem:service/intent-service@0.1.0;
                /// Pre-initialisation hook called once by `tandem preinit` (wasmtime-wizer).
                export wizer-initialize: func();
            }
        "#,
        path: "../../wit",
        pub_export_macro: true,
        generate_all,
        with: {
            "tandem:service/types@0.1.0": tandem_contract::types,
            "tandem:service/encoder@0.1.0": tandem_contract::encoder,
        },
    });
}

use tandem_contract::sentence_embedding;

const MODEL_ONNX: &[u8] = include_bytes!("../../../models/intent.onnx");
const MODEL_MANIFEST: &[u8] = include_bytes!("../../../models/intent.json");

/// Longest message classified (after trimming). Longer texts are a client error, not truncated.
const MAX_TEXT_BYTES: usize = 4096;
const MAX_TOP_K: u32 = 20;
const DEFAULT_TOP_K: u32 = 3;

static RUNNER: OnceLock<IntentRunner> = OnceLock::new();

fn runner() -> &'static IntentRunner {
    RUNNER.get_or_init(|| {
        IntentRunner::from_bytes(MODEL_ONNX, MODEL_MANIFEST)
            .expect("the model compiled into this component is checked by kb-loader")
    })
}

#[derive(Serialize)]
struct ModelInfo {
    version: String,
}

#[derive(Serialize)]
/// The classification with the model that made it: the HTTP response, and what the WIT export
/// converts.
struct ClassifyResponse {
    #[serde(flatten)]
    classification: Classification,
    model: ModelInfo,
}

/// Validates and classifies; shared by the HTTP route and the WIT export.
fn classify(text: &str, top_k: Option<u32>) -> Result<ClassifyResponse, Problem> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Problem::unprocessable("text is empty")
            .with_param("text", "must not be empty or whitespace"));
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(Problem::payload_too_large(format!(
            "text is {} bytes; the limit is {MAX_TEXT_BYTES}",
            text.len()
        ))
        .with_param("text", format!("at most {MAX_TEXT_BYTES} bytes")));
    }
    let top_k = top_k.unwrap_or(DEFAULT_TOP_K);
    if !(1..=MAX_TOP_K).contains(&top_k) {
        return Err(Problem::unprocessable(format!("top_k is {top_k}"))
            .with_param("top_k", format!("must be between 1 and {MAX_TOP_K}")));
    }
    let runner = runner();
    let embedding = match runner.uses_embedding() {
        true => Some(sentence_embedding(text, "text")?),
        false => None,
    };
    let classification = runner
        .classify_embedded(text, embedding.as_deref(), top_k as usize)
        .map_err(|e| Problem::internal(format!("the intent model failed: {e}")))?;
    Ok(ClassifyResponse {
        classification,
        model: ModelInfo {
            version: runner.manifest().model_version.clone(),
        },
    })
}

pub(crate) struct Component;

impl bindings::Guest for Component {
    fn wizer_initialize() {
        let runner = runner();
        // Run the plan once so tract's lazily built state is part of the snapshot too. The
        // encoder import traps until the build plugs it in: a zero embedding stands in.
        let zero = [0.0; tandem_core::foundation::features::EMBEDDING_DIM];
        let _ = runner.classify_embedded("warm up 预热", Some(&zero), 1);
        // Last: what a request allocates from here on goes above the snapshot's heap.
        freeze_snapshot_heap();
    }
}

bindings::export!(Component with_types_in bindings);
