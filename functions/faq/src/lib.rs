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

use serde::{Deserialize, Serialize};
use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;
use std::sync::OnceLock;
use tandem_adapter as adapter;
use tandem_core::faq::runner::{Answer, AskRequest, FaqRunner, Mode, ReplyTemplate, Suggestion};
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
    });
}

use bindings::exports::tandem::service::faq as wit;
use bindings::tandem::service::encoder as wit_encoder;
use bindings::tandem::service::types as wit_types;

tandem_adapter::sentence_embedding_import!(wit_encoder, wit_types);

const MODEL_ONNX: &[u8] = include_bytes!("../../../models/faq.onnx");
const MODEL_MANIFEST: &[u8] = include_bytes!("../../../models/faq.json");

const MAX_BODY_BYTES: usize = 16 * 1024;
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
enum LangArg {
    Zh,
    En,
    Auto,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum ModeArg {
    Customer,
    Agent,
}

/// `POST /v1/faq` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AskBody {
    question: String,
    #[serde(default)]
    lang: Option<LangArg>,
    #[serde(default)]
    top_k: Option<u32>,
    #[serde(default)]
    mode: Option<ModeArg>,
}

#[derive(Serialize)]
struct ModelInfo {
    version: String,
}

/// Customer mode: one answer, or an explicit no-answer with the reason.
#[derive(Serialize)]
#[serde(untagged)]
enum CustomerReply {
    Answer {
        answer: String,
        faq_id: String,
        score: f32,
        matched_question: String,
        lang: String,
        model: ModelInfo,
    },
    NoAnswer {
        no_answer: bool,
        reason: &'static str,
        lang: String,
        model: ModelInfo,
    },
}

/// Agent mode: the best answer (if it clears the threshold), ranked suggestions, templates.
#[derive(Serialize)]
struct AgentReply {
    best: Option<Suggestion>,
    no_answer_reason: Option<&'static str>,
    suggestions: Vec<Suggestion>,
    templates: Vec<ReplyTemplate>,
    lang: String,
    model: ModelInfo,
}

/// Today in UTC, for the entries' validity dates.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    tandem_core::foundation::time::iso_date(secs)
}

/// Validates and answers; shared by the HTTP route and the WIT export.
fn ask(question: &str, lang: LangArg, top_k: Option<u32>, mode: Mode) -> Result<Answer, Problem> {
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

async fn handle_ask(req: Request) -> adapter::HttpResponse {
    if let Err(p) = adapter::require_method(&req, &[Method::POST]) {
        return adapter::problem(&p);
    }
    // Whether the token is needed depends on the body, and reading the body consumes the
    // request: keep the header aside.
    let authorization = req.headers().get("authorization").cloned();
    let body = match adapter::read_json::<AskBody>(req, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(p) => return adapter::problem(&p),
    };
    let lang = body.lang.unwrap_or(LangArg::Auto);
    match body.mode.unwrap_or(ModeArg::Customer) {
        ModeArg::Customer => {
            let result = ask(&body.question, lang, body.top_k, Mode::Customer).map(customer_reply);
            adapter::render(200, result)
        }
        ModeArg::Agent => {
            if let Err(denied) = adapter::authorize_agent_header(authorization.as_ref()).await {
                return denied;
            }
            let result = ask(&body.question, lang, body.top_k, Mode::Agent).map(|a| AgentReply {
                best: a.best,
                no_answer_reason: a.no_answer_reason,
                suggestions: a.suggestions,
                templates: a.templates,
                lang: a.lang,
                model: ModelInfo {
                    version: a.model_version,
                },
            });
            adapter::render(200, result)
        }
    }
}

fn customer_reply(a: Answer) -> CustomerReply {
    let model = ModelInfo {
        version: a.model_version,
    };
    match a.best {
        Some(best) => CustomerReply::Answer {
            answer: best.answer,
            faq_id: best.faq_id,
            score: best.score,
            matched_question: best.matched_question,
            lang: a.lang,
            model,
        },
        None => CustomerReply::NoAnswer {
            no_answer: true,
            reason: a
                .no_answer_reason
                .unwrap_or(tandem_core::faq::runner::BELOW_THRESHOLD),
            lang: a.lang,
            model,
        },
    }
}

#[http_service]
async fn handle(req: Request) -> adapter::HttpResponse {
    match adapter::path(&req) {
        "/v1/faq" => handle_ask(req).await,
        "/v1/faq/health" => {
            adapter::health_route(&req, "faq", Some(&runner().manifest().model_version))
        }
        other => adapter::problem(&adapter::not_found(other)),
    }
}

struct Component;

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

// A composed caller is inside the trust boundary the composition draws: no token here.
impl wit::Guest for Component {
    fn ask(request: wit::AskRequest) -> Result<wit::Answer, wit_types::Error> {
        let lang = match request.lang {
            wit_types::Lang::Zh => LangArg::Zh,
            wit_types::Lang::En => LangArg::En,
            wit_types::Lang::Auto => LangArg::Auto,
        };
        let mode = match request.mode {
            wit::Mode::Customer => Mode::Customer,
            wit::Mode::Agent => Mode::Agent,
        };
        let a = ask(&request.question, lang, request.top_k, mode).map_err(to_wit_error)?;
        let suggestion = |s: Suggestion| wit::Suggestion {
            faq_id: s.faq_id,
            score: s.score,
            matched_question: s.matched_question,
            answer: s.answer,
        };
        Ok(wit::Answer {
            best: a.best.map(suggestion),
            no_answer_reason: a.no_answer_reason.map(str::to_string),
            suggestions: a.suggestions.into_iter().map(suggestion).collect(),
            templates: a
                .templates
                .into_iter()
                .map(|t| wit::ReplyTemplate {
                    intent: t.intent,
                    text: t.text,
                    missing: t.missing,
                })
                .collect(),
            lang: if a.lang == "zh" {
                wit_types::Lang::Zh
            } else {
                wit_types::Lang::En
            },
            model: wit_types::ModelInfo {
                version: a.model_version,
            },
        })
    }
}

tandem_adapter::wit_error_mapping!(wit_types);

bindings::export!(Component with_types_in bindings);
