//! Training, held-out calibration of the out-of-scope threshold, and prediction — shared by
//! `build` and `eval`.

use crate::embedding::Embedder;
use std::io::Write;
use std::time::Instant;
use tandem_core::foundation::features::{FeatureExtractor, FeatureSettings, SparseVector};
use tandem_core::intent::OosScore;
use tandem_core::kb::TrainingSet;
use tandem_core::model::linear::{LinearModel, TrainConfig};
use tandem_core::model::onnx_export::WeightFormat;

/// How to train: features, optimiser, and the stored weight format.
#[derive(Clone, Debug)]
pub struct Recipe {
    pub features: FeatureSettings,
    pub train: TrainConfig,
    pub weights: WeightFormat,
    pub oos_score: OosScore,
    pub target_oos_recall: Option<f64>,
    pub quiet: bool,
    /// The encoder, when `features.embedding_weight` asks for the semantic tier.
    pub embedder: Option<&'static Embedder>,
}

/// A trained model: the extractor and the weights as shipped (dequantised when int8, so
/// every figure measured here is the figure of the exported file).
pub struct Trained {
    pub features: FeatureExtractor,
    pub model: LinearModel,
    pub seconds: f64,
    /// The encoder when the features have an embedding block, else none.
    embedder: Option<&'static Embedder>,
}

impl Trained {
    /// (logits, probabilities) of one text.
    pub fn scores(&self, text: &str) -> (Vec<f32>, Vec<f32>) {
        let logits = self.model.logits(&self.features_of(text));
        let probs = tandem_core::model::linear::softmax(&logits);
        (logits, probs)
    }

    /// The model's input for `text`: its n-grams, and its embedding in the semantic tier.
    pub fn features_of(&self, text: &str) -> SparseVector {
        features_of(&self.features, self.embedder, text)
    }

    /// The sentence embedding of `text`, when the model is of the semantic tier.
    pub fn sentence_embedding(&self, text: &str) -> Option<std::sync::Arc<[f32]>> {
        self.embedder.map(|e| e.get(text))
    }

    /// Embeds `texts` ahead of scoring them one by one (on every core).
    pub fn prefetch<S: AsRef<str> + Sync>(&self, texts: &[S]) {
        if let Some(e) = self.embedder {
            e.prefetch(texts);
        }
    }
}

/// The model's input for `text`: its n-grams, then its embedding when `embedder` is given
/// (which it is exactly when the features have an embedding block).
fn features_of(
    features: &FeatureExtractor,
    embedder: Option<&'static Embedder>,
    text: &str,
) -> SparseVector {
    let embedding = embedder.map(|e| e.get(text));
    features
        .extract_with_embedding(text, embedding.as_deref())
        .expect("a recipe with an embedding block carries the encoder, of the model's width")
}

pub fn train(set: &TrainingSet, recipe: &Recipe, what: &str) -> Trained {
    let start = Instant::now();
    let texts: Vec<&str> = set.examples.iter().map(|e| e.text.as_str()).collect();
    let features = FeatureExtractor::fit(recipe.features.clone(), &texts);
    let embedder = recipe.embedder.filter(|_| features.uses_embedding());
    if let Some(e) = embedder {
        e.prefetch(&texts);
    }
    let rows: Vec<_> = texts
        .iter()
        .map(|t| features_of(&features, embedder, t))
        .collect();
    let labels: Vec<usize> = set.examples.iter().map(|e| e.label).collect();
    let quiet = recipe.quiet;
    let mut progress = |it: usize, max: usize, loss: f64| {
        // Every 5th iteration: a progress line, not a flood.
        if !quiet && it.is_multiple_of(5) {
            eprint!(
                "\r{what}: {} examples, {} features, iteration {it:>3}/{max} loss {loss:.5}   ",
                rows.len(),
                features.model_dim()
            );
            let _ = std::io::stderr().flush();
        }
    };
    let mut model = LinearModel::train(
        &rows,
        &labels,
        features.model_dim(),
        set.labels.len(),
        &recipe.train,
        &mut progress,
    );
    if recipe.weights == WeightFormat::Int8 {
        model = model.dequantized();
    }
    let seconds = start.elapsed().as_secs_f64();
    if !quiet {
        eprintln!(
            "\r{what}: {} examples, {} features, trained in {seconds:.1} s{}",
            rows.len(),
            features.model_dim(),
            " ".repeat(30)
        );
    }
    Trained {
        features,
        model,
        seconds,
        embedder,
    }
}

/// Deterministic stratified split: every 5th example of each intent is held out (intents
/// with fewer than 2 examples keep them all for training).
pub fn split_holdout(set: &TrainingSet) -> (TrainingSet, TrainingSet) {
    let mut seen = vec![0usize; set.labels.len()];
    let totals = set
        .examples
        .iter()
        .fold(vec![0usize; set.labels.len()], |mut t, e| {
            t[e.label] += 1;
            t
        });
    let (mut train, mut held) = (set.clone(), set.clone());
    train.examples.clear();
    held.examples.clear();
    train.oos.clear();
    for e in &set.examples {
        seen[e.label] += 1;
        if totals[e.label] >= 2 && seen[e.label].is_multiple_of(5) {
            held.examples.push(e.clone());
        } else {
            train.examples.push(e.clone());
        }
    }
    (train, held)
}

/// Scores used for calibration: (OOS score, correct?) of in-scope rows, OOS score of oos rows.
pub struct Scores {
    pub in_scope: Vec<(f32, bool)>,
    pub oos: Vec<f32>,
}

pub fn score(trained: &Trained, set: &TrainingSet, kind: OosScore) -> Scores {
    trained.prefetch(
        &set.examples
            .iter()
            .map(|e| e.text.as_str())
            .collect::<Vec<_>>(),
    );
    trained.prefetch(&set.oos);
    let one = |text: &str| {
        let (logits, probs) = trained.scores(text);
        let best = probs
            .iter()
            .enumerate()
            .fold(0, |b, (i, &x)| if x > probs[b] { i } else { b });
        (kind.of(&logits, &probs), best)
    };
    Scores {
        in_scope: set
            .examples
            .iter()
            .map(|e| {
                let (s, best) = one(&e.text);
                (s, best == e.label)
            })
            .collect(),
        oos: set.oos.iter().map(|t| one(t).0).collect(),
    }
}

/// The rejection threshold on the OOS score (rejected when score < threshold).
/// With `target_recall` and oos rows: the lowest threshold that rejects at least that share of
/// them (so the most in-scope rows kept). Otherwise, with oos rows:
/// in-scope accuracy + OOS recall (both
/// counted with rejection). Without: the highest threshold that keeps 95 % of the correctly
/// answered held-out rows (at most 5 % of good answers lost to rejection).
pub fn calibrate(scores: &Scores, target_recall: Option<f64>) -> f32 {
    let n_in = scores.in_scope.len().max(1) as f64;
    if scores.oos.is_empty() {
        let mut good: Vec<f32> = scores
            .in_scope
            .iter()
            .filter(|s| s.1)
            .map(|s| s.0)
            .collect();
        if good.is_empty() {
            return 0.0;
        }
        good.sort_by(f32::total_cmp);
        return good[good.len() / 20];
    }
    let mut candidates: Vec<f32> = scores
        .in_scope
        .iter()
        .map(|s| s.0)
        .chain(scores.oos.iter().copied())
        .collect();
    candidates.push(f32::MIN); // reject nothing
    candidates.sort_by(f32::total_cmp);
    candidates.dedup();
    if let Some(target) = target_recall {
        let n = scores.oos.len() as f64;
        return candidates
            .iter()
            .copied()
            .find(|&t| scores.oos.iter().filter(|&&p| p < t).count() as f64 / n >= target)
            .unwrap_or(f32::MAX);
    }
    let mut best = (f64::MIN, f32::MIN);
    for &t in &candidates {
        let acc = scores.in_scope.iter().filter(|s| s.1 && s.0 >= t).count() as f64 / n_in;
        let rec = scores.oos.iter().filter(|&&p| p < t).count() as f64 / scores.oos.len() as f64;
        if acc + rec > best.0 {
            best = (acc + rec, t);
        }
    }
    best.1
}

/// (threshold, in-scope accuracy, OOS recall) at `chosen` and at the thresholds that reject
/// 50…95 % of the oos rows: the trade-off table.
pub fn tradeoff(scores: &Scores, chosen: f32) -> Vec<(f32, f64, f64)> {
    let n_in = scores.in_scope.len().max(1) as f64;
    let n_oos = scores.oos.len().max(1) as f64;
    let mut oos = scores.oos.clone();
    oos.sort_by(f32::total_cmp);
    let mut thresholds: Vec<f32> = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
        .iter()
        .filter_map(|q| oos.get((q * oos.len() as f64) as usize).copied())
        .collect();
    thresholds.push(chosen);
    thresholds.sort_by(f32::total_cmp);
    thresholds
        .iter()
        .map(|&t| {
            let acc = scores.in_scope.iter().filter(|s| s.1 && s.0 >= t).count() as f64 / n_in;
            let rec = scores.oos.iter().filter(|&&p| p < t).count() as f64 / n_oos;
            (t, acc, rec)
        })
        .collect()
}
