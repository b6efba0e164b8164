//! The handoff decision with its models: the policy and the escalation-score model
//! (`models/handoff.{onnx,json}`) plus the sentiment model (`models/sentiment.{onnx,json}`),
//! all written by `kb-loader build`. The logic itself is in [`crate::handoff`].

use crate::foundation::features::SparseVector;
use crate::handoff::sentiment::SentimentRunner;
use crate::handoff::{self, Decision, Policy, SCORE_FEATURES, Signals, Turn};
use crate::model::linear::TrainConfig;
use crate::model::tract::{load_plan, run_model};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tract_onnx::prelude::TypedRunnableModel;

/// Version of the `models/handoff.json` layout; another is refused at load.
pub const HANDOFF_FORMAT: u32 = 1;

/// `models/handoff.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HandoffManifest {
    /// [`HANDOFF_FORMAT`] when written.
    pub format: u32,
    /// `<kb name>-<first 12 hex digits of kb_hash>`, as every model of one build.
    pub model_version: String,
    /// Hex SHA-256 over the KB's source files.
    pub kb_hash: String,
    /// The decision's phrases, rules, threshold, routing and calendars, from the KB at build.
    pub policy: Policy,
    /// Score-model inputs, in order (must equal [`SCORE_FEATURES`] of this build).
    pub score_features: Vec<String>,
    /// How the score model was trained.
    pub train: TrainConfig,
    /// Held-out figures measured by `kb-loader build`.
    #[serde(default)]
    pub metrics: serde_json::Value,
}

/// The score model's input as the sparse vector the exported linear graph takes.
pub fn score_input(s: &Signals) -> SparseVector {
    let values = handoff::score_features(s);
    SparseVector {
        indices: (0..values.len() as i64).collect(),
        values,
    }
}

/// The decision with its models loaded: policy, score model and sentiment model.
pub struct HandoffEngine {
    manifest: HandoffManifest,
    score: Arc<TypedRunnableModel>,
    sentiment: SentimentRunner,
}

impl HandoffEngine {
    /// Loads `handoff.{onnx,json}` and `sentiment.{onnx,json}`; fails on another manifest
    /// format, or a score model trained on other inputs than [`SCORE_FEATURES`].
    pub fn from_bytes(
        handoff_onnx: &[u8],
        handoff_json: &[u8],
        sentiment_onnx: &[u8],
        sentiment_json: &[u8],
    ) -> anyhow::Result<Self> {
        let manifest: HandoffManifest =
            serde_json::from_slice(handoff_json).context("parsing the handoff manifest")?;
        anyhow::ensure!(
            manifest.format == HANDOFF_FORMAT,
            "handoff manifest format {} unsupported (expected {HANDOFF_FORMAT})",
            manifest.format
        );
        anyhow::ensure!(
            manifest.score_features == SCORE_FEATURES,
            "the score model was trained on other signals ({:?}); rebuild models/ with kb-loader",
            manifest.score_features
        );
        Ok(Self {
            score: load_plan(handoff_onnx)?,
            sentiment: SentimentRunner::from_bytes(sentiment_onnx, sentiment_json)?,
            manifest,
        })
    }

    /// The handoff manifest as loaded.
    pub fn manifest(&self) -> &HandoffManifest {
        &self.manifest
    }

    /// The sentiment model the frustration signals come from.
    pub fn sentiment(&self) -> &SentimentRunner {
        &self.sentiment
    }

    /// The manifest's policy.
    pub fn policy(&self) -> &Policy {
        &self.manifest.policy
    }

    /// Signals of a conversation whose customer turns already carry their intents.
    /// `embed(text)` gives a text's sentence embedding; it is asked for only when the sentiment
    /// model is of the semantic tier, and only for customer turns that carry no `negative`.
    pub fn signals(
        &self,
        tier: Option<&str>,
        turns: &[Turn],
        embed: &mut dyn FnMut(&str) -> anyhow::Result<Vec<f32>>,
    ) -> anyhow::Result<Signals> {
        let mut failure = None;
        let mut negative = |text: &str| -> anyhow::Result<f32> {
            let embedding = match self.sentiment.uses_embedding() {
                true => Some(embed(text)?),
                false => None,
            };
            Ok(self
                .sentiment
                .analyze_embedded(text, embedding.as_deref())?
                .negative)
        };
        let s = handoff::signals(&self.manifest.policy, tier, turns, &mut |text| {
            negative(text).unwrap_or_else(|e| {
                failure.get_or_insert(e);
                0.0
            })
        });
        match failure {
            Some(e) => Err(e),
            None => Ok(s),
        }
    }

    /// Probability of `human` from the score model.
    pub fn score(&self, s: &Signals) -> anyhow::Result<f32> {
        let (_, probs) = run_model(&self.score, &score_input(s))?;
        probs
            .get(1)
            .copied()
            .context("the score model has no `human` output")
    }

    /// Signals, score and decision for the latest turn; `tier` is the customer's tier
    /// (`customer.tier`), `embed` as in [`Self::signals`].
    pub fn decide(
        &self,
        tier: Option<&str>,
        turns: &[Turn],
        availability: handoff::Availability,
        embed: &mut dyn FnMut(&str) -> anyhow::Result<Vec<f32>>,
    ) -> anyhow::Result<(Signals, Decision)> {
        let s = self.signals(tier, turns, embed)?;
        let score = self.score(&s)?;
        let d = handoff::decide(&self.manifest.policy, &s, score, availability);
        Ok((s, d))
    }
}
