//! Intent classification at serving time: the ONNX model run by tract, plus its manifest
//! (labels, feature vocabulary, out-of-scope threshold).
//!
//! ```ignore
//! let runner = IntentRunner::from_bytes(include_bytes!("intent.onnx"), include_bytes!("intent.json"))?;
//! let c = runner.classify("我的订单到哪了", 3)?;
//! ```

use crate::foundation::features::{FeatureExtractor, FeatureSettings, Vocabulary};
use crate::model::linear::TrainConfig;
use crate::model::onnx_export::WeightFormat;
use crate::model::tract::{Plan, load_plan, run_model};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the manifest layout below.
pub const MANIFEST_FORMAT: u32 = 1;

/// `models/intent.json`: everything besides the weights needed to serve the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntentManifest {
    /// [`MANIFEST_FORMAT`] when written; another value is refused at load.
    pub format: u32,
    /// `<kb-name>-<first 12 hex of kb hash>`.
    pub model_version: String,
    /// The KB's `name` (`kb.yaml`); for a CSV-built model, the file's stem.
    pub kb_name: String,
    /// sha256 over the KB source files (see kb-loader).
    pub kb_hash: String,
    /// Class index → intent id.
    pub labels: Vec<String>,
    /// Intent id → language → display name (empty for CSV-built models).
    #[serde(default)]
    pub display_names: BTreeMap<String, BTreeMap<String, String>>,
    /// How out-of-scope messages are rejected: the score and its calibrated threshold.
    pub oos: OosPolicy,
    /// `int8` or `f32`: how `intent.onnx` stores the weight matrix.
    pub weights: WeightFormat,
    /// How the model was trained (C, iterations, …).
    pub train: TrainConfig,
    /// Free-form figures measured at build time (held-out accuracy, …).
    #[serde(default)]
    pub metrics: serde_json::Value,
    /// How texts become features (the tier: `embedding_weight`).
    pub features: FeatureSettings,
    /// Terms in feature order, with their idf; emptied at load (moved into the extractor).
    pub vocab: Vocabulary,
}

/// Out-of-scope rejection: a message whose score is below `threshold` is answered as "not
/// understood" rather than guessed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OosPolicy {
    /// What the threshold is compared with (`--oos-score` at build).
    pub score: OosScore,
    /// Calibrated by kb-loader on held-out examples (and out-of-scope ones when there are);
    /// in the unit of `score`.
    pub threshold: f32,
}

/// What the out-of-scope threshold applies to; higher always means "more in scope".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OosScore {
    /// Top softmax probability.
    #[default]
    MaxProb,
    /// Top logit: unlike probabilities it is not diluted by near-duplicate intents.
    MaxLogit,
    /// log Σ exp(logits) (the negative free energy of Liu et al. 2020).
    Energy,
    /// Top probability minus the runner-up's.
    Margin,
}

impl OosScore {
    /// This score of one message, from the model's logits and probabilities (label order).
    pub fn of(self, logits: &[f32], probs: &[f32]) -> f32 {
        let top2 = |v: &[f32]| {
            v.iter()
                .fold((f32::NEG_INFINITY, f32::NEG_INFINITY), |(a, b), &x| {
                    if x > a { (x, a) } else { (a, b.max(x)) }
                })
        };
        match self {
            OosScore::MaxProb => top2(probs).0,
            OosScore::MaxLogit => top2(logits).0,
            OosScore::Energy => {
                let m = top2(logits).0;
                m + logits.iter().map(|z| (z - m).exp()).sum::<f32>().ln()
            }
            OosScore::Margin => {
                let (a, b) = top2(probs);
                a - if b.is_finite() { b } else { 0.0 }
            }
        }
    }
}

/// One intent of a [`Classification`]'s ranking.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    /// An intent id (one of the manifest's `labels`).
    pub intent: String,
    /// The model's probability of it, in `[0, 1]`.
    pub confidence: f32,
}

/// The answer for one text: the body of `POST /v1/intent`'s answer, besides `model`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// The best intent, even when `out_of_scope` (callers may still show it as a guess).
    pub intent: String,
    /// The model's probability of `intent`, in `[0, 1]`.
    pub confidence: f32,
    /// The policy's score is under its threshold: the caller should fall back (FAQ, a person).
    pub out_of_scope: bool,
    /// Top-k intents by probability, best first.
    pub ranking: Vec<Ranked>,
}

/// The intent model from `models/intent.{onnx,json}`, loaded once, run per text.
pub struct IntentRunner {
    manifest: IntentManifest,
    features: FeatureExtractor,
    plan: Plan,
}

impl IntentRunner {
    /// Parses the manifest JSON and the ONNX model (the bytes need not outlive the runner).
    pub fn from_bytes(onnx: &[u8], manifest_json: &[u8]) -> anyhow::Result<Self> {
        let mut manifest: IntentManifest =
            serde_json::from_slice(manifest_json).context("parsing the intent manifest")?;
        anyhow::ensure!(
            manifest.format == MANIFEST_FORMAT,
            "intent manifest format {} unsupported (expected {MANIFEST_FORMAT})",
            manifest.format
        );
        let vocab = std::mem::take(&mut manifest.vocab);
        let features = FeatureExtractor::new(manifest.features.clone(), vocab)?;
        let plan = load_plan(onnx)?;
        Ok(Self {
            manifest,
            features,
            plan,
        })
    }

    /// The manifest, without its vocabulary (moved into the feature extractor).
    pub fn manifest(&self) -> &IntentManifest {
        &self.manifest
    }

    /// The extractor rebuilt from the manifest's settings and vocabulary.
    pub fn features(&self) -> &FeatureExtractor {
        &self.features
    }

    /// Whether [`Self::classify`] needs the text's sentence embedding (the semantic tier).
    pub fn uses_embedding(&self) -> bool {
        self.features.uses_embedding()
    }

    /// (logits, probabilities) of `text`, in label order, for a model of the n-gram tier.
    pub fn scores(&self, text: &str) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
        self.scores_embedded(text, None)
    }

    /// [`Self::scores`] with the text's sentence embedding, which a model of the semantic tier
    /// ([`Self::uses_embedding`]) requires.
    pub fn scores_embedded(
        &self,
        text: &str,
        embedding: Option<&[f32]>,
    ) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
        run_model(
            &self.plan,
            &self.features.extract_with_embedding(text, embedding)?,
        )
    }

    /// Classifies with a model of the n-gram tier (an error for one that needs an embedding).
    pub fn classify(&self, text: &str, top_k: usize) -> anyhow::Result<Classification> {
        self.classify_embedded(text, None, top_k)
    }

    /// Classifies with the text's sentence embedding (ignored by an n-gram-tier model).
    pub fn classify_embedded(
        &self,
        text: &str,
        embedding: Option<&[f32]>,
        top_k: usize,
    ) -> anyhow::Result<Classification> {
        let (logits, probs) = self.scores_embedded(text, embedding)?;
        Ok(classification(
            &self.manifest.labels,
            &logits,
            &probs,
            &self.manifest.oos,
            top_k,
        ))
    }
}

/// Turns model outputs into the answer: top-k ranking by probability, and rejection when the
/// policy's score is under its threshold.
pub fn classification(
    labels: &[String],
    logits: &[f32],
    probs: &[f32],
    oos: &OosPolicy,
    top_k: usize,
) -> Classification {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    // Ties broken by label index, so the ranking is deterministic.
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    let best = order[0];
    Classification {
        intent: labels[best].clone(),
        confidence: probs[best],
        out_of_scope: oos.score.of(logits, probs) < oos.threshold,
        ranking: order
            .iter()
            .take(top_k.max(1))
            .map(|&i| Ranked {
                intent: labels[i].clone(),
                confidence: probs[i],
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::linear::LinearModel;
    use crate::model::onnx_export::export;

    fn tiny() -> (FeatureExtractor, LinearModel) {
        let texts = [
            "where is my order",
            "订单到哪了",
            "i want a refund",
            "我要退款",
        ];
        let labels = [0, 0, 1, 1];
        let fx = FeatureExtractor::fit(FeatureSettings::default(), &texts);
        let rows: Vec<_> = texts.iter().map(|t| fx.extract(t)).collect();
        let m = LinearModel::train(
            &rows,
            &labels,
            fx.dim(),
            2,
            &TrainConfig::default(),
            &mut |_, _, _| {},
        );
        (fx, m)
    }

    fn manifest(fx: &FeatureExtractor) -> IntentManifest {
        IntentManifest {
            format: MANIFEST_FORMAT,
            model_version: "t-000000000000".into(),
            kb_name: "t".into(),
            kb_hash: "0".into(),
            labels: vec!["order_status".into(), "refund".into()],
            display_names: BTreeMap::new(),
            oos: OosPolicy {
                score: OosScore::MaxProb,
                threshold: 0.6,
            },
            weights: WeightFormat::Int8,
            train: TrainConfig::default(),
            metrics: serde_json::Value::Null,
            features: fx.settings().clone(),
            vocab: fx.vocab().clone(),
        }
    }

    #[test]
    fn onnx_matches_the_in_memory_model() {
        let (fx, m) = tiny();
        for format in [WeightFormat::F32, WeightFormat::Int8] {
            let plan = load_plan(&export(&m, format, &[])).unwrap();
            let reference = if format == WeightFormat::Int8 {
                m.dequantized()
            } else {
                m.clone()
            };
            for t in ["where is my order", "退款", "完全无关", ""] {
                let x = fx.extract(t);
                let (logits, got) = run_model(&plan, &x).unwrap();
                assert_eq!(logits.len(), 2);
                let want = reference.predict_proba(&x);
                for (a, b) in got.iter().zip(&want) {
                    assert!((a - b).abs() < 1e-5, "{t}: {got:?} vs {want:?}");
                }
            }
        }
    }

    #[test]
    fn oos_scores_rank_confident_above_unsure() {
        let (sure, unsure) = ([4.0f32, 0.0, 0.0], [1.0f32, 0.9, 0.0]);
        for kind in [
            OosScore::MaxProb,
            OosScore::MaxLogit,
            OosScore::Energy,
            OosScore::Margin,
        ] {
            let s = |z: &[f32]| kind.of(z, &crate::model::linear::softmax(z));
            assert!(s(&sure) > s(&unsure), "{kind:?}");
        }
        let p = crate::model::linear::softmax(&sure);
        assert!((OosScore::Energy.of(&sure, &p) - (4f32.exp() + 2.0).ln()).abs() < 1e-5);
        assert_eq!(OosScore::MaxLogit.of(&sure, &p), 4.0);
    }

    #[test]
    fn classifies_and_rejects() {
        let (fx, m) = tiny();
        let json = serde_json::to_vec(&manifest(&fx)).unwrap();
        let runner = IntentRunner::from_bytes(&export(&m, WeightFormat::Int8, &[]), &json).unwrap();
        let c = runner.classify("我的订单到哪了", 2).unwrap();
        assert_eq!(c.intent, "order_status");
        assert_eq!(c.ranking.len(), 2);
        assert!(!c.out_of_scope);
        assert!(
            runner.classify("", 1).unwrap().out_of_scope,
            "no evidence → 50/50 → rejected"
        );
    }
}
