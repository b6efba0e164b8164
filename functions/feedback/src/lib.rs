//! The feedback component: `POST /v1/feedback`, `GET /v1/feedback/stats`,
//! `GET /v1/feedback/conversations` (drill-down), `GET /v1/feedback/export`, and the
//! `tandem:service/feedback` export.
//!
//! Validation, PII masking and the metric definitions live in the core
//! (`tandem_core::feedback`, its `metrics`, `foundation::pii`); this crate only moves them in and out of
//! `spin:sqlite` (see [`store`]) and HTTP.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

mod drilldown;
mod http;
mod store;
mod wit_export;

use std::sync::OnceLock;
use tandem_adapter as adapter;
use tandem_core::feedback::metrics::{GroupBy, Stats};
use tandem_core::feedback::{self, EventInput};
use tandem_core::foundation::problem::Problem;
use tandem_core::handoff::sentiment::SentimentRunner;

tandem_adapter::snapshot_allocator!();

mod bindings {
    spin_sdk::wit_bindgen::generate!({
        runtime_path: "spin_sdk::wit_bindgen::rt",
        inline: r#"
            package tandem:feedback-component;
            world component {
                include tandem:service/feedback-service@0.1.0;
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

use adapter::sqlite::now_ms;

/// The sentiment model of the handoff capability (`models/sentiment.*`, trained by `kb-loader`
/// from `kb/handoff.yaml`), compiled in and shared through the core, so a comment is judged the
/// way a live conversation is.
const SENTIMENT_ONNX: &[u8] = include_bytes!("../../../models/sentiment.onnx");
const SENTIMENT_MANIFEST: &[u8] = include_bytes!("../../../models/sentiment.json");

static SENTIMENT: OnceLock<Option<SentimentRunner>> = OnceLock::new();

/// Parsed at pre-initialisation (`tandem preinit`), or on the first comment of an instance that
/// was not pre-initialised; routes without a comment never touch it.
fn sentiment_runner() -> Option<&'static SentimentRunner> {
    SENTIMENT
        .get_or_init(|| SentimentRunner::from_bytes(SENTIMENT_ONNX, SENTIMENT_MANIFEST).ok())
        .as_ref()
}

/// (label, probability) of a comment. A model of the semantic tier takes the comment's
/// sentence embedding from the imported encoder. A model or encoder failure (a comment with
/// more tokens than the encoder takes, say) leaves the sentiment null rather than losing the
/// customer's feedback: the event matters more than its annotation.
fn comment_sentiment(comment: Option<&str>) -> Option<(String, f64)> {
    let (comment, runner) = (comment?, sentiment_runner()?);
    let embedding = match runner.uses_embedding() {
        true => Some(sentence_embedding(comment, "comment").ok()?),
        false => None,
    };
    let analysis = runner
        .analyze_embedded(comment, embedding.as_deref())
        .ok()?;
    Some((analysis.label, f64::from(analysis.score)))
}

/// Validates, masks and stores one event: (stored event, created?).
pub(crate) async fn record(input: &EventInput) -> Result<(serde_json::Value, bool), Problem> {
    let event = feedback::validate(input, now_ms())?.masked();
    let sentiment = comment_sentiment(event.comment.as_deref());
    store::open().await?.record(&event, sentiment).await
}

/// The stats of `[from, to)`, grouped when asked: (stats, from, to, grouping).
pub(crate) async fn stats(
    from: Option<&str>,
    to: Option<&str>,
    group_by: Option<&str>,
) -> Result<(Stats, i64, i64, Option<GroupBy>), Problem> {
    let (from_ms, to_ms) = feedback::parse_range(from, to)?;
    let by = match group_by {
        None => None,
        Some(g) => Some(GroupBy::parse(g).ok_or_else(|| {
            Problem::unprocessable(format!("group_by {g:?} is not supported"))
                .with_param("group_by", "one of intent, day, channel, agent")
        })?),
    };
    let stats = store::open().await?.stats(from_ms, to_ms, by).await?;
    Ok((stats, from_ms, to_ms, by))
}

/// The corrections recorded since `since` (all without it), for `kb-loader` to learn from.
pub(crate) async fn export(since: Option<&str>) -> Result<Vec<serde_json::Value>, Problem> {
    let since_ms = match since {
        None => 0,
        Some(s) => feedback::parse_time(s).ok_or_else(|| {
            Problem::unprocessable(format!("since is not a time: {s:?}")).with_param(
                "since",
                "RFC 3339 (2026-11-26T00:00:00Z) or a date (2026-11-26)",
            )
        })?,
    };
    store::open().await?.corrections_since(since_ms).await
}

pub(crate) struct Component;

impl bindings::Guest for Component {
    fn wizer_initialize() {
        // Run the model once so tract's lazily built state is part of the snapshot too. The
        // encoder import traps until composed: the warm-up takes a zero embedding.
        if let Some(runner) = sentiment_runner() {
            let zero = [0.0; tandem_core::foundation::features::EMBEDDING_DIM];
            let _ = runner.analyze_embedded("warm up 预热", Some(&zero));
        }
        // Last: what a request allocates from here on goes above the snapshot's heap.
        freeze_snapshot_heap();
    }
}

bindings::export!(Component with_types_in bindings);
