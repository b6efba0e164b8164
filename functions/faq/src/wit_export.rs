//! The `tandem:service/faq` export and its conversions.

use crate::bindings::exports::tandem::service::faq as wit;
use crate::{Component, LangArg, ask};
use tandem_contract::types as wit_types;
use tandem_core::faq::runner::{Mode, Suggestion};

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
        let a =
            ask(&request.question, lang, request.top_k, mode).map_err(wit_types::Error::from)?;
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
