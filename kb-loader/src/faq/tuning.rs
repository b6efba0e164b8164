//! Held-out folds, the fusion weight and no-answer threshold tuned on them, and the figures.

use super::{Corpus, FOLDS, TARGET_PRECISION};
use crate::pipeline::{self, Recipe, Trained};
use serde::Serialize;
use std::collections::BTreeMap;
use tandem_core::faq::{
    Fusion, FusionWeights, IndexedEntry, Question, Retriever, Signals, centroid, confidence, embed,
    rank,
};
use tandem_core::kb::{Example, TrainingSet};

/// A question to score: its entry (none = no entry should answer it) and language.
#[derive(Clone, Debug)]
pub struct Query {
    pub text: String,
    pub lang: String,
    pub gold: Option<usize>,
}

/// The encoder and the index built on `entries`.
pub struct Index {
    pub encoder: Trained,
    pub retriever: Retriever,
}

impl Index {
    /// Trains the encoder on the entries' questions plus `extra` (text, entries) pairs (one
    /// training row per listed entry), then indexes the entries.
    pub fn build(
        entries: &[IndexedEntry],
        extra: &[(String, Vec<usize>)],
        recipe: &Recipe,
        what: &str,
    ) -> Self {
        let mut set = TrainingSet {
            name: what.to_string(),
            labels: entries.iter().map(|e| e.id.clone()).collect(),
            examples: entries
                .iter()
                .enumerate()
                .flat_map(|(label, e)| {
                    e.questions.iter().map(move |q| Example {
                        text: q.text.clone(),
                        label,
                    })
                })
                .collect(),
            ..Default::default()
        };
        for (text, targets) in extra {
            set.examples.extend(targets.iter().map(|&label| Example {
                text: text.clone(),
                label,
            }));
        }
        let encoder = pipeline::train(&set, recipe, what);
        let entries: Vec<IndexedEntry> = entries
            .iter()
            .map(|e| {
                let vectors: Vec<Vec<f32>> = e
                    .questions
                    .iter()
                    .map(|q| embed(&encoder.scores(&q.text).0))
                    .collect();
                let sentences: Vec<_> = e
                    .questions
                    .iter()
                    .filter_map(|q| encoder.sentence_embedding(&q.text))
                    .collect();
                IndexedEntry {
                    vector: centroid(&vectors),
                    sentence: centroid(&sentences),
                    ..e.clone()
                }
            })
            .collect();
        let retriever = Retriever::new(entries, &Fusion::default(), &encoder.features);
        Self { encoder, retriever }
    }

    /// Signals of every entry for each query (no date filter: evaluation is timeless).
    pub fn signals(&self, queries: &[Query]) -> Vec<Vec<Signals>> {
        queries
            .iter()
            .map(|q| {
                let (logits, probabilities) = self.encoder.scores(&q.text);
                let sentence = self.encoder.sentence_embedding(&q.text);
                let terms = self.encoder.features.term_frequencies(&q.text);
                let question = Question {
                    logits: &logits,
                    probabilities: &probabilities,
                    sentence: sentence.as_deref(),
                    terms: &terms,
                };
                self.retriever.signals(&question, None)
            })
            .collect()
    }
}

/// Splits the corpus into `k` folds of (training entries, held-out queries).
pub fn folds(corpus: &Corpus, k: usize) -> Vec<(Vec<IndexedEntry>, Vec<Query>)> {
    (0..k)
        .map(|f| {
            let mut held = Vec::new();
            let entries = corpus
                .entries
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let mut kept = Vec::new();
                    let mut position: BTreeMap<&str, usize> = BTreeMap::new();
                    for q in &e.questions {
                        // Position within the language: 0 is the canonical question.
                        let p = position.entry(q.lang.as_str()).or_default();
                        if *p > 0 && (*p - 1) % k == f {
                            held.push(Query {
                                text: q.text.clone(),
                                lang: q.lang.clone(),
                                gold: Some(i),
                            });
                        } else {
                            kept.push(q.clone());
                        }
                        *p += 1;
                    }
                    IndexedEntry {
                        questions: kept,
                        ..e.clone()
                    }
                })
                .collect();
            held.extend(corpus.no_answer.iter().skip(f).step_by(k).map(|q| Query {
                text: q.text.clone(),
                lang: q.lang.clone(),
                gold: None,
            }));
            (entries, held)
        })
        .collect()
}

/// Queries with their signals, pooled over folds or from one test set.
#[derive(Default)]
pub struct Scored {
    pub queries: Vec<Query>,
    pub signals: Vec<Vec<Signals>>,
    /// Entry index → id (the same in every fold: folds drop questions, never entries).
    pub entry_ids: Vec<String>,
}

impl Scored {
    /// Whether any query has a semantic signal (the index was built with sentence embeddings).
    fn has_semantic(&self) -> bool {
        self.signals.iter().flatten().any(|s| s.semantic > 0.0)
    }

    pub fn extend(&mut self, index: &Index, queries: Vec<Query>) {
        if self.entry_ids.is_empty() {
            self.entry_ids = index
                .retriever
                .entries()
                .iter()
                .map(|e| e.id.clone())
                .collect();
        }
        self.signals.extend(index.signals(&queries));
        self.queries.extend(queries);
    }

    /// (answer confidence, rank of the gold entry or none) per query at weight `w` and
    /// margin weight `m`.
    fn outcomes(&self, w: FusionWeights, m: f32) -> Vec<(f32, Option<usize>)> {
        self.queries
            .iter()
            .zip(&self.signals)
            .map(|(q, s)| {
                let hits = rank(s, w);
                let top = confidence(&hits, m);
                let rank = q
                    .gold
                    .and_then(|g| hits.iter().position(|h| h.signals.entry == g));
                (top, rank)
            })
            .collect()
    }
}

/// The fusion weights with the best hit@1 on answerable queries (ties: better MRR, then the
/// earlier grid point: smaller semantic, then classifier, then vector weights), on a 0.05 grid
/// over the vector, classifier and semantic weights (the lexical signal gets the rest); the
/// semantic weight stays 0 without sentence embeddings.
pub fn tune_weights(scored: &Scored) -> FusionWeights {
    const STEPS: usize = 20;
    let semantic_steps = if scored.has_semantic() { STEPS } else { 0 };
    let mut best = (
        f64::MIN,
        f64::MIN,
        FusionWeights {
            vector: 0.0,
            classifier: 0.0,
            semantic: 0.0,
        },
    );
    let step = |n: usize| n as f32 / STEPS as f32;
    for s in 0..=semantic_steps {
        for c in 0..=(STEPS - s) {
            for v in 0..=(STEPS - s - c) {
                let weights = FusionWeights {
                    vector: step(v),
                    classifier: step(c),
                    semantic: step(s),
                };
                let m = metrics(
                    scored,
                    &Fusion {
                        vector_weight: weights.vector,
                        classifier_weight: weights.classifier,
                        semantic_weight: weights.semantic,
                        threshold: f32::MIN,
                        ..Fusion::default()
                    },
                );
                if (m.hit_at_1, m.mrr) > (best.0, best.1) {
                    best = (m.hit_at_1, m.mrr, weights);
                }
            }
        }
    }
    best.2
}

/// The lowest threshold at which answered questions are right at least `target` of the time
/// (a no-answer question that gets an answer counts as wrong): the most coverage that keeps
/// wrong answers rare.
pub fn calibrate_threshold(scored: &Scored, w: FusionWeights, m: f32, target: f64) -> f32 {
    let outcomes = scored.outcomes(w, m);
    let mut candidates: Vec<f32> = outcomes.iter().map(|o| o.0).collect();
    candidates.sort_by(f32::total_cmp);
    candidates.dedup();
    for &t in &candidates {
        let answered: Vec<_> = outcomes.iter().filter(|o| o.0 >= t).collect();
        let right = answered.iter().filter(|o| o.1 == Some(0)).count();
        if !answered.is_empty() && right as f64 / answered.len() as f64 >= target {
            return t;
        }
    }
    // Nothing reaches the target: answer nothing rather than answer wrongly.
    candidates.last().map_or(1.0, |t| t.next_up())
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Metrics {
    /// Questions that have an entry.
    pub answerable: usize,
    pub hit_at_1: f64,
    pub hit_at_3: f64,
    pub mrr: f64,
    /// At the threshold: share of answered questions answered with the right entry.
    pub answered_precision: f64,
    /// At the threshold: share of answerable questions answered (rightly or not).
    pub coverage: f64,
    /// Questions with no entry.
    pub unanswerable: usize,
    /// Share of "no answer" replies that were right to say so.
    pub no_answer_precision: Option<f64>,
    /// Share of unanswerable questions that got "no answer".
    pub no_answer_recall: Option<f64>,
    /// Language → (questions, hit@1, hit@3, MRR) on answerable questions.
    pub by_lang: BTreeMap<String, LangMetrics>,
    /// Most frequent (expected entry, entry ranked first, count) among hit@1 misses.
    pub confused: Vec<(String, String, usize)>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct LangMetrics {
    pub answerable: usize,
    pub hit_at_1: f64,
    pub hit_at_3: f64,
    pub mrr: f64,
}

/// Per query, the entry that answers it at `fusion`'s threshold (none: the honest no-answer).
pub fn answers(scored: &Scored, fusion: &Fusion) -> Vec<Option<String>> {
    let w = fusion.weights();
    scored
        .signals
        .iter()
        .map(|s| {
            let hits = rank(s, w);
            (confidence(&hits, fusion.margin_weight) >= fusion.threshold)
                .then(|| {
                    hits.first()
                        .map(|h| scored.entry_ids[h.signals.entry].clone())
                })
                .flatten()
        })
        .collect()
}

pub fn metrics(scored: &Scored, fusion: &Fusion) -> Metrics {
    let (w, threshold) = (fusion.weights(), fusion.threshold);
    let outcomes = scored.outcomes(w, fusion.margin_weight);
    let mut m = Metrics::default();
    let mut confused: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for (q, s) in scored.queries.iter().zip(&scored.signals) {
        if let (Some(g), Some(top)) = (q.gold, rank(s, w).first())
            && top.signals.entry != g
        {
            *confused.entry((g, top.signals.entry)).or_default() += 1;
        }
    }
    let mut pairs: Vec<_> = confused.into_iter().collect();
    pairs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    m.confused = pairs
        .into_iter()
        .take(10)
        .map(|((g, p), n)| (scored.entry_ids[g].clone(), scored.entry_ids[p].clone(), n))
        .collect();
    let (mut answered, mut answered_right, mut no_answer, mut no_answer_right) = (0, 0, 0, 0);
    for (q, &(top, rank)) in scored.queries.iter().zip(&outcomes) {
        let is_answered = top >= threshold;
        answered += is_answered as usize;
        if q.gold.is_none() {
            m.unanswerable += 1;
            if !is_answered {
                no_answer += 1;
                no_answer_right += 1;
            }
            continue;
        }
        if !is_answered {
            no_answer += 1;
        }
        answered_right += (is_answered && rank == Some(0)) as usize;
        m.answerable += 1;
        let lang = m.by_lang.entry(q.lang.clone()).or_default();
        lang.answerable += 1;
        let (h1, h3, rr) = match rank {
            Some(r) => (
                (r == 0) as u8 as f64,
                (r < 3) as u8 as f64,
                1.0 / (r + 1) as f64,
            ),
            None => (0.0, 0.0, 0.0),
        };
        for (total, x) in [
            (&mut m.hit_at_1, h1),
            (&mut m.hit_at_3, h3),
            (&mut m.mrr, rr),
        ] {
            *total += x;
        }
        for (total, x) in [
            (&mut lang.hit_at_1, h1),
            (&mut lang.hit_at_3, h3),
            (&mut lang.mrr, rr),
        ] {
            *total += x;
        }
    }
    let n = m.answerable.max(1) as f64;
    m.hit_at_1 /= n;
    m.hit_at_3 /= n;
    m.mrr /= n;
    for l in m.by_lang.values_mut() {
        let n = l.answerable.max(1) as f64;
        l.hit_at_1 /= n;
        l.hit_at_3 /= n;
        l.mrr /= n;
    }
    m.answered_precision = answered_right as f64 / answered.max(1) as f64;
    m.coverage = (answered - (m.unanswerable - no_answer_right)) as f64 / n;
    if m.unanswerable > 0 {
        m.no_answer_precision = Some(no_answer_right as f64 / no_answer.max(1) as f64);
        m.no_answer_recall = Some(no_answer_right as f64 / m.unanswerable as f64);
    }
    m
}

/// Held-out evaluation of a corpus: tuned weight, calibrated threshold, and the figures at them.
pub struct HeldOut {
    pub fusion: Fusion,
    pub metrics: Metrics,
}

pub fn held_out(corpus: &Corpus, recipe: &Recipe) -> HeldOut {
    let mut scored = Scored::default();
    for (f, (entries, queries)) in folds(corpus, FOLDS).into_iter().enumerate() {
        let index = Index::build(
            &entries,
            &corpus.intent_examples,
            recipe,
            &format!("faq fold {}/{FOLDS}", f + 1),
        );
        scored.extend(&index, queries);
    }
    let weights = tune_weights(&scored);
    // The margin weight that answers the most questions at the target precision.
    let mut best: Option<(f64, Fusion)> = None;
    for step in 0..=4 {
        let margin_weight = step as f32 / 4.0;
        let threshold = calibrate_threshold(&scored, weights, margin_weight, TARGET_PRECISION);
        let fusion = Fusion {
            vector_weight: weights.vector,
            classifier_weight: weights.classifier,
            semantic_weight: weights.semantic,
            threshold,
            margin_weight,
            ..Fusion::default()
        };
        let coverage = metrics(&scored, &fusion).coverage;
        if best.as_ref().is_none_or(|(c, _)| coverage > *c) {
            best = Some((coverage, fusion));
        }
    }
    let fusion = best.expect("at least one margin weight").1;
    HeldOut {
        metrics: metrics(&scored, &fusion),
        fusion,
    }
}
