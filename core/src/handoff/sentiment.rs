//! Customer sentiment (negative / neutral / positive) at serving time: a linear model over the
//! shared TF-IDF features (`kb-loader` trains it from the KB's `sentiment_examples`), exported
//! to ONNX and run on tract. Used by handoff (frustration) and reusable for feedback comments.
//!
//! ```ignore
//! let s = SentimentRunner::from_bytes(include_bytes!("sentiment.onnx"), include_bytes!("sentiment.json"))?;
//! let a = s.analyze("不是很生气，就是问问")?; // a.label == "neutral"
//! ```
//!
//! Negation ("不是很生气", "not happy at all", "not bad") is learned from the examples: the
//! word bigrams and Han character n-grams of the shared extractor see "不是很" next to "生气"
//! and "not happy" as one feature, and the KB labels negated phrases both ways.

use crate::foundation::features::{FeatureExtractor, FeatureSettings, Vocabulary};
use crate::model::linear::TrainConfig;
use crate::model::onnx_export::WeightFormat;
use crate::model::tract::{load_plan, run_model};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tract_onnx::prelude::TypedRunnableModel;

/// Version of the `models/sentiment.json` layout; another is refused at load.
pub const SENTIMENT_FORMAT: u32 = 1;
/// The labels, in model order.
pub const LABELS: [&str; 3] = ["negative", "neutral", "positive"];

/// `models/sentiment.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SentimentManifest {
    /// [`SENTIMENT_FORMAT`] when written.
    pub format: u32,
    /// `<kb name>-<first 12 hex digits of kb_hash>`, as every model of one build.
    pub model_version: String,
    /// Hex SHA-256 over the KB's source files.
    pub kb_hash: String,
    /// Class index → label ([`LABELS`] as kb-loader writes them); `negative` is required.
    pub labels: Vec<String>,
    /// `int8` or `f32`: how `sentiment.onnx` stores the weight matrix.
    pub weights: WeightFormat,
    /// How the model was trained (C, iterations, …).
    pub train: TrainConfig,
    /// Figures measured at build time (examples, features, held-out accuracy).
    #[serde(default)]
    pub metrics: serde_json::Value,
    /// How texts become features (the tier: `embedding_weight`).
    pub features: FeatureSettings,
    /// Terms in feature order, with their idf; emptied at load (moved into the extractor).
    pub vocab: Vocabulary,
}

/// One analysis: the most likely label and its probability, plus the probability of
/// `negative` (what frustration is measured by).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    /// The most likely label: `negative`, `neutral` or `positive`.
    pub label: String,
    /// The probability of `label`, in `[0, 1]`.
    pub score: f32,
    /// The probability of `negative`, in `[0, 1]`.
    pub negative: f32,
}

/// The sentiment model from `models/sentiment.{onnx,json}`, loaded once, run per text.
pub struct SentimentRunner {
    manifest: SentimentManifest,
    features: FeatureExtractor,
    plan: Arc<TypedRunnableModel>,
    negative: usize,
}

impl SentimentRunner {
    /// Loads the model and its manifest; fails on another format or without a `negative` label.
    pub fn from_bytes(onnx: &[u8], manifest_json: &[u8]) -> anyhow::Result<Self> {
        let mut manifest: SentimentManifest =
            serde_json::from_slice(manifest_json).context("parsing the sentiment manifest")?;
        anyhow::ensure!(
            manifest.format == SENTIMENT_FORMAT,
            "sentiment manifest format {} unsupported (expected {SENTIMENT_FORMAT})",
            manifest.format
        );
        let negative = manifest
            .labels
            .iter()
            .position(|l| l == "negative")
            .context("the sentiment model has no `negative` label")?;
        let vocab = std::mem::take(&mut manifest.vocab);
        let features = FeatureExtractor::new(manifest.features.clone(), vocab)?;
        Ok(Self {
            plan: load_plan(onnx)?,
            manifest,
            features,
            negative,
        })
    }

    /// The manifest, without its vocabulary (moved into the feature extractor).
    pub fn manifest(&self) -> &SentimentManifest {
        &self.manifest
    }

    /// Whether the model needs the text's sentence embedding (a model of the semantic tier).
    pub fn uses_embedding(&self) -> bool {
        self.features.uses_embedding()
    }

    /// Probabilities in label order, for a model of the n-gram tier.
    pub fn probs(&self, text: &str) -> anyhow::Result<Vec<f32>> {
        self.probs_embedded(text, None)
    }

    /// Probabilities in label order; `embedding` is the text's sentence embedding, which a model
    /// of the semantic tier ([`Self::uses_embedding`]) requires.
    pub fn probs_embedded(
        &self,
        text: &str,
        embedding: Option<&[f32]>,
    ) -> anyhow::Result<Vec<f32>> {
        let x = self.features.extract_with_embedding(text, embedding)?;
        Ok(run_model(&self.plan, &x)?.1)
    }

    /// The analysis with a model of the n-gram tier (an error for one that needs an embedding).
    pub fn analyze(&self, text: &str) -> anyhow::Result<Sentiment> {
        self.analyze_embedded(text, None)
    }

    /// The analysis with the text's sentence embedding (ignored by an n-gram-tier model).
    pub fn analyze_embedded(
        &self,
        text: &str,
        embedding: Option<&[f32]>,
    ) -> anyhow::Result<Sentiment> {
        let p = self.probs_embedded(text, embedding)?;
        let best = (0..p.len())
            .max_by(|&a, &b| p[a].total_cmp(&p[b]).then(b.cmp(&a)))
            .context("the sentiment model has no outputs")?;
        Ok(Sentiment {
            label: self.manifest.labels[best].clone(),
            score: p[best],
            negative: p[self.negative],
        })
    }
}
