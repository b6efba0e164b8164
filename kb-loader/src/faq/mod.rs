//! The FAQ index: corpus from a KB (or a CSV, for benchmarks), encoder training, held-out
//! tuning of the fusion weight and the no-answer threshold, metrics, and `models/faq.*`.
//!
//! Held-out data are paraphrases: fold `f` of `k` holds out every entry's paraphrases at
//! positions `f, f+k, …` in each language (the canonical question always stays in training),
//! plus every `k`-th no-answer example. What the build reports is measured on those folds.
//!
//! Here the build; the corpus in `corpus`, the folds, tuning and metrics in `tuning`, and the
//! near-duplicate check in `similar`.

/// Folds for held-out figures and tuning.
pub const FOLDS: usize = 5;
/// Share of answered questions that must be right at the calibrated threshold.
pub const TARGET_PRECISION: f64 = 0.95;

mod corpus;
mod similar;
mod tuning;

pub use corpus::{Corpus, corpus_from_csv, corpus_from_kb};
pub use similar::{similar_entries, warn_similar_entries};
pub use tuning::{HeldOut, Index, Metrics, Query, Scored, answers, held_out, metrics};

use crate::pipeline::Recipe;
use anyhow::{Context, ensure};
use std::path::Path;
use tandem_core::faq::{FAQ_MANIFEST_FORMAT, FaqManifest, embed};
use tandem_core::kb::KnowledgeBase;
use tandem_core::model::{onnx_export, tract};

/// `kb-loader build`'s FAQ part: writes `faq.onnx` and `faq.json` into `out`.
pub fn build(
    kb: &KnowledgeBase,
    version: &str,
    kb_hash: &str,
    recipe: &Recipe,
    out: &Path,
) -> anyhow::Result<()> {
    let corpus = corpus_from_kb(kb);
    if corpus.entries.len() < 2 {
        // A KB without an FAQ is valid (intents only); an index needs two entries to rank.
        eprintln!(
            "FAQ index not written: {} enabled entries (it needs at least 2)",
            corpus.entries.len()
        );
        return Ok(());
    }
    warn_similar_entries(&corpus, recipe);
    let held = held_out(&corpus, recipe);
    let full = Index::build(
        &corpus.entries,
        &corpus.intent_examples,
        recipe,
        "faq encoder",
    );
    let onnx = onnx_export::export(
        &full.encoder.model,
        recipe.weights,
        &[("model_version", version), ("role", "faq encoder")],
    );
    let max_diff = verify(&full, &onnx)?;
    let m = &held.metrics;
    let manifest = FaqManifest {
        format: FAQ_MANIFEST_FORMAT,
        model_version: version.to_string(),
        kb_name: corpus.name.clone(),
        kb_hash: kb_hash.to_string(),
        entries: full.retriever.entries().to_vec(),
        fusion: held.fusion.clone(),
        templates: corpus.templates,
        entities: corpus.entities,
        weights: recipe.weights,
        train: recipe.train.clone(),
        metrics: serde_json::to_value(m)?,
        features: full.encoder.features.settings().clone(),
        vocab: full.encoder.features.vocab().clone(),
    };
    let mut json = serde_json::to_vec(&manifest)?;
    json.push(b'\n');
    crate::output::write_models(out, &[("faq.onnx", &onnx[..]), ("faq.json", &json[..])])?;
    eprintln!(
        "built {}/faq.onnx ({} KiB) and faq.json ({} KiB): {} entries, vector weight {:.2}, classifier weight {:.2}, semantic weight {:.2}, margin weight {:.2}, threshold {:.3}; \
         held-out hit@1 {:.1} %, answered precision {:.1} % at coverage {:.1} %, tract max |Δ| {max_diff:.1e}",
        out.display(),
        onnx.len() / 1024,
        json.len() / 1024,
        corpus.entries.len(),
        held.fusion.vector_weight,
        held.fusion.classifier_weight,
        held.fusion.semantic_weight,
        held.fusion.margin_weight,
        held.fusion.threshold,
        100.0 * m.hit_at_1,
        100.0 * m.answered_precision,
        100.0 * m.coverage,
    );
    Ok(())
}

/// Re-loads the exported encoder with tract and checks its vectors and probabilities match the
/// in-memory ones on every indexed question.
fn verify(index: &Index, onnx: &[u8]) -> anyhow::Result<f32> {
    let plan = tract::load_plan(onnx).context("re-loading the exported FAQ encoder")?;
    let mut max_diff = 0f32;
    let questions = index.retriever.entries().iter().flat_map(|e| &e.questions);
    for q in questions.map(|q| q.text.as_str()).chain([""]) {
        let x = index.encoder.features_of(q);
        let (logits, probabilities) = tract::run_model(&plan, &x)?;
        let (want_logits, want_probabilities) = index.encoder.scores(q);
        let pairs = [
            (embed(&logits), embed(&want_logits)),
            (probabilities, want_probabilities),
        ];
        for (got, want) in &pairs {
            for (a, b) in got.iter().zip(want) {
                max_diff = max_diff.max((a - b).abs());
            }
        }
    }
    ensure!(
        max_diff < 1e-4,
        "exported FAQ encoder disagrees with the trained one (max |Δ| = {max_diff})"
    );
    Ok(max_diff)
}
