//! `POST /v1/faq` and its health route: customer mode for anyone, agent mode with the agent
//! token.

use crate::{LangArg, ask, runner};
use serde::{Deserialize, Serialize};
use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;
use tandem_adapter as adapter;
use tandem_core::faq::runner::{Answer, Mode, ReplyTemplate, Suggestion};

const MAX_BODY_BYTES: usize = 16 * 1024;

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
