//! The FAQ index: corpus from a KB (or a CSV, for benchmarks), encoder training, held-out
//! tuning of the fusion weight and the no-answer threshold, metrics, and `models/faq.*`.
//!
//! Held-out data are paraphrases: fold `f` of `k` holds out every entry's paraphrases at
//! positions `f, f+k, …` in each language (the canonical question always stays in training),
//! plus every `k`-th no-answer example. What the build reports is measured on those folds.

use crate::pipeline::{self, Recipe, Trained};
use anyhow::{Context, ensure};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use tandem_core::faq::{
    FAQ_MANIFEST_FORMAT, FaqManifest, Fusion, FusionWeights, IndexedEntry, LangText, Question,
    Retriever, Signals, centroid, confidence, embed, rank,
};
use tandem_core::foundation::text::{detect_language, normalize};
use tandem_core::kb::{Example, KnowledgeBase, Localized, TrainingSet};
use tandem_core::model::{onnx_export, tract};

/// Folds for held-out figures and tuning.
pub const FOLDS: usize = 5;
/// Share of answered questions that must be right at the calibrated threshold.
pub const TARGET_PRECISION: f64 = 0.95;

/// What the index is built from.
pub struct Corpus {
    pub name: String,
    pub entries: Vec<IndexedEntry>,
    /// Questions that have no entry (calibration and no-answer figures).
    pub no_answer: Vec<LangText>,
    pub templates: BTreeMap<String, Localized>,
    pub entities: BTreeMap<String, String>,
    /// Extra encoder training texts with the entries they point to: the examples of each
    /// entry's linked intent. They teach the encoder the intent's vocabulary (a customer asking
    /// about returns in words no paraphrase uses still lands among the return entries); the
    /// entries' own questions then tell those entries apart.
    pub intent_examples: Vec<(String, Vec<usize>)>,
}

/// Enabled entries of the KB (disabled ones are left out of the index entirely; expired ones
/// stay in and are filtered by date at serving time).
pub fn corpus_from_kb(kb: &KnowledgeBase) -> Corpus {
    let entries = kb
        .faq
        .iter()
        .filter(|e| e.enabled)
        .map(|e| {
            let mut questions = Vec::new();
            for (lang, q) in &e.question {
                questions.push(lang_text(lang, q));
                for p in e.paraphrases.get(lang).into_iter().flatten() {
                    questions.push(lang_text(lang, p));
                }
            }
            // Paraphrases in a language with no canonical question still retrieve the entry.
            for (lang, ps) in &e.paraphrases {
                if !e.question.contains_key(lang) {
                    questions.extend(ps.iter().map(|p| lang_text(lang, p)));
                }
            }
            IndexedEntry {
                id: e.id.clone(),
                intent: e.intent.clone(),
                tags: e.tags.clone(),
                valid_from: e.valid_from.clone(),
                valid_to: e.valid_to.clone(),
                answer: e.answer.clone(),
                questions,
                vector: Vec::new(),
                sentence: Vec::new(),
            }
        })
        .collect::<Vec<IndexedEntry>>();
    // An intent example that is also an FAQ question would leak held-out paraphrases into
    // training: such texts are left out.
    let questions: std::collections::HashSet<String> = entries
        .iter()
        .flat_map(|e| e.questions.iter().map(|q| normalize(&q.text)))
        .collect();
    let intent_examples = kb
        .intents
        .iter()
        .filter_map(|intent| {
            let targets: Vec<usize> = entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.intent.as_deref() == Some(intent.id.as_str()))
                .map(|(i, _)| i)
                .collect();
            (!targets.is_empty()).then(|| {
                intent
                    .examples
                    .values()
                    .flatten()
                    .filter(|t| !questions.contains(&normalize(t)))
                    .map(move |t| (t.clone(), targets.clone()))
                    .collect::<Vec<_>>()
            })
        })
        .flatten()
        .collect();
    let no_answer = kb
        .faq_no_answer
        .iter()
        .flat_map(|(lang, qs)| qs.iter().map(move |q| lang_text(lang, q)))
        .collect();
    Corpus {
        name: kb.meta.name.clone(),
        entries,
        no_answer,
        templates: kb
            .intents
            .iter()
            .filter(|i| !i.templates.is_empty())
            .map(|i| (i.id.clone(), i.templates.clone()))
            .collect(),
        entities: kb.meta.entities.clone(),
        intent_examples,
    }
}

/// One entry per intent of a labelled CSV, from its first `per_intent` utterances in file
/// order: the first is the canonical question, the rest paraphrases (the BANKING77 protocol).
pub fn corpus_from_csv(set: &TrainingSet, per_intent: usize) -> Corpus {
    let mut entries: Vec<IndexedEntry> = set
        .labels
        .iter()
        .map(|l| IndexedEntry {
            id: l.clone(),
            intent: Some(l.clone()),
            tags: Vec::new(),
            valid_from: None,
            valid_to: None,
            answer: [("en".to_string(), format!("(answer for {l})"))].into(),
            questions: Vec::new(),
            vector: Vec::new(),
            sentence: Vec::new(),
        })
        .collect();
    for e in &set.examples {
        let qs = &mut entries[e.label].questions;
        if qs.len() < per_intent {
            qs.push(lang_text(detect_language(&e.text), &e.text));
        }
    }
    Corpus {
        name: set.name.clone(),
        entries,
        no_answer: set
            .oos
            .iter()
            .map(|t| lang_text(detect_language(t), t))
            .collect(),
        templates: BTreeMap::new(),
        entities: BTreeMap::new(),
        intent_examples: Vec::new(),
    }
}

fn lang_text(lang: &str, text: &str) -> LangText {
    LangText {
        lang: lang.to_string(),
        text: text.to_string(),
    }
}

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

/// Centroid cosine at or above which two entries' questions mean nearly the same to the encoder.
/// Centroids of paraphrase sets sit closer together than single questions do: on the sample KB
/// the closest pair (gift_card_buy ~ gift_card_use, 0.924) is also among its most confused, the
/// next ones are 0.892 and below.
pub const INDISTINGUISHABLE: f32 = 0.90;

/// Pairs of entries whose questions' sentence embeddings have centroids at least `min_cosine`
/// apart, closest first: the encoder cannot tell them apart, so their paraphrases need words
/// that say what differs (or the entries need merging). Empty without an encoder.
pub fn similar_entries(
    corpus: &Corpus,
    recipe: &Recipe,
    min_cosine: f32,
) -> Vec<(String, String, f32)> {
    let Some(embedder) = recipe.embedder else {
        return Vec::new();
    };
    let texts: Vec<&str> = corpus
        .entries
        .iter()
        .flat_map(|e| e.questions.iter().map(|q| q.text.as_str()))
        .collect();
    embedder.prefetch(&texts);
    let centroids: Vec<Vec<f32>> = corpus
        .entries
        .iter()
        .map(|e| {
            let vectors: Vec<_> = e.questions.iter().map(|q| embedder.get(&q.text)).collect();
            centroid(&vectors)
        })
        .collect();
    let mut pairs = Vec::new();
    for (i, a) in centroids.iter().enumerate() {
        for (j, b) in centroids.iter().enumerate().skip(i + 1) {
            let cosine: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            if cosine >= min_cosine {
                let id = |k: usize| corpus.entries[k].id.clone();
                pairs.push((id(i), id(j), cosine));
            }
        }
    }
    pairs.sort_by(|a, b| b.2.total_cmp(&a.2));
    pairs
}

/// Prints [`similar_entries`] as warnings.
pub fn warn_similar_entries(corpus: &Corpus, recipe: &Recipe) {
    for (a, b, cosine) in similar_entries(corpus, recipe, INDISTINGUISHABLE) {
        eprintln!(
            "warning: FAQ entries {a} and {b} read alike to the encoder (centroid cosine \
             {cosine:.3}): give their paraphrases the words that tell them apart, or merge them"
        );
    }
}
