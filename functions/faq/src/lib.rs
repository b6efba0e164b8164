//! The faq component: `POST /v1/faq` and the `tandem:service/faq` export.
//!
//! The index (`models/faq.onnx` + `models/faq.json`, written by `kb-loader build`) is compiled
//! in and pre-initialised like the intent model. Customer mode answers or says "no answer";
//! agent mode (which needs the agent token over HTTP) adds ranked suggestions and the reply
//! templates of the best entry's intent.
//!
//! An index of the semantic tier (`kb-loader build`'s default) also ranks by the question's
//! sentence embedding, from the imported `tandem:service/encoder` (plugged in by
//! `scripts/build-component.sh faq`; inside `assist`, the same instance intent uses).

mod http;
mod wit_export;

use serde::Deserialize;
use std::sync::OnceLock;
use tandem_core::faq::runner::{Answer, AskRequest, FaqRunner, Mode};
use tandem_core::foundation::problem::Problem;

tandem_adapter::snapshot_allocator!();

mod bindings {
    spin_sdk::wit_bindgen::generate!({
        runtime_path: "spin_sdk::wit_bindgen::rt",
        inline: r#"
            package tandem:faq-component;
            world component {
                include tandem:service/faq-service@0.1.0;
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

const MODEL_ONNX: &[u8] = include_bytes!("../../../models/faq.onnx");
const MODEL_MANIFEST: &[u8] = include_bytes!("../../../models/faq.json");

/// Longest question answered (after trimming); longer is a client error, not truncated.
const MAX_QUESTION_BYTES: usize = 4096;
const MAX_TOP_K: u32 = 10;
const DEFAULT_TOP_K: u32 = 3;

static RUNNER: OnceLock<FaqRunner> = OnceLock::new();

fn runner() -> &'static FaqRunner {
    RUNNER.get_or_init(|| {
        FaqRunner::from_bytes(MODEL_ONNX, MODEL_MANIFEST)
            .expect("the index compiled into this component is checked by kb-loader")
    })
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
/// The language asked for: one of the two, or the question's own.
pub(crate) enum LangArg {
    Zh,
    En,
    Auto,
}

/// Today in UTC, for the entries' validity dates.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    tandem_core::foundation::time::iso_date(secs)
}

/// Validates and answers; shared by the HTTP route and the WIT export.
pub(crate) fn ask(
    question: &str,
    lang: LangArg,
    top_k: Option<u32>,
    mode: Mode,
) -> Result<Answer, Problem> {
    let question = question.trim();
    if question.is_empty() {
        return Err(Problem::unprocessable("question is empty")
            .with_param("question", "must not be empty or whitespace"));
    }
    if question.len() > MAX_QUESTION_BYTES {
        return Err(Problem::payload_too_large(format!(
            "question is {} bytes; the limit is {MAX_QUESTION_BYTES}",
            question.len()
        ))
        .with_param("question", format!("at most {MAX_QUESTION_BYTES} bytes")));
    }
    let top_k = top_k.unwrap_or(DEFAULT_TOP_K);
    if !(1..=MAX_TOP_K).contains(&top_k) {
        return Err(Problem::unprocessable(format!("top_k is {top_k}"))
            .with_param("top_k", format!("must be between 1 and {MAX_TOP_K}")));
    }
    let lang = match lang {
        LangArg::Zh => Some("zh"),
        LangArg::En => Some("en"),
        LangArg::Auto => None,
    };
    let runner = runner();
    let sentence = match runner.uses_embedding() {
        true => Some(sentence_embedding(question, "question")?),
        false => None,
    };
    let request = AskRequest {
        question,
        lang,
        top_k: top_k as usize,
        mode,
        sentence: sentence.as_deref(),
    };
    runner
        .ask(&request, Some(&today()))
        .map_err(|e| Problem::internal(format!("the FAQ index failed: {e}")))
}

pub(crate) struct Component;

impl bindings::Guest for Component {
    fn wizer_initialize() {
        // Build the index and run the encoder once so tract's lazy state is in the snapshot.
        // The sentence-encoder import traps until the build plugs it in: a zero embedding
        // stands in.
        let zero = [0.0; tandem_core::foundation::features::EMBEDDING_DIM];
        let _ = runner().search_embedded("warm up 预热", Some(&zero), None);
        // Last: what a request allocates from here on goes above the snapshot's heap.
        freeze_snapshot_heap();
    }
}

bindings::export!(Component with_types_in bindings);
