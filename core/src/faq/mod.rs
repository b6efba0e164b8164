//! FAQ retrieval: which knowledge-base entry answers a question, how sure we are, and when to
//! say "no answer" instead.
//!
//! Up to four signals, fused by weights `kb-loader` tunes on held-out paraphrases. The first two
//! come from one encoder: a linear model over the shared features (TF-IDF n-grams, plus the
//! sentence embedding in the semantic tier), trained with one class per entry on the entries'
//! questions and exported to ONNX.
//! - **vector**: the encoder's centred logits as a unit vector, and its cosine to the centroid
//!   of the entry's questions' vectors (negative clipped to 0);
//! - **classifier**: the square root of the encoder's probability of the entry. The root
//!   tempers a many-way softmax that puts nearly all its mass on one entry, so that the
//!   runner-up still counts in the fusion. The semantic tier's tuning picks it over the vector
//!   signal (sample KB hit@1 zh 74.67 / en 74.40 % → 77.07 / 76.80 %); the n-gram tier's picks
//!   the vector (docs/faq.md);
//! - **lexical**: [`bm25`] over the same word and character n-grams, normalised by the score
//!   the question would get against itself, so 1.0 means "every term of the question matched";
//! - **semantic** (models of the semantic tier): the cosine between the question's sentence
//!   embedding (the pretrained encoder) and the centroid of the entry's questions' embeddings.
//!
//! The fused score is in `[0, 1]`; below the calibrated threshold a customer gets no answer.

pub mod bm25;
#[cfg(feature = "onnx")]
pub mod runner;
pub mod templates;

use crate::foundation::features::{FeatureExtractor, TermFrequencies};
use crate::kb::Localized;
use serde::{Deserialize, Serialize};

pub use bm25::Bm25;
#[cfg(feature = "onnx")]
pub use runner::{FAQ_MANIFEST_FORMAT, FaqManifest};

/// One FAQ entry as served.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexedEntry {
    /// The `faq.yaml` entry id (`[a-z0-9_]{1,64}`); what answers name as `faq_id`.
    pub id: String,
    /// The intent the entry is linked to in `faq.yaml`; none when unlinked.
    #[serde(default)]
    pub intent: Option<String>,
    /// The entry's `faq.yaml` tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Inclusive `YYYY-MM-DD` bounds; outside them the entry is not served.
    #[serde(default)]
    pub valid_from: Option<String>,
    /// See `valid_from`; none: no end.
    #[serde(default)]
    pub valid_to: Option<String>,
    /// Language → Markdown answer.
    pub answer: Localized,
    /// Questions that retrieve the entry: per language the canonical one first, then paraphrases.
    pub questions: Vec<LangText>,
    /// Unit-length centroid of the encoder vectors of `questions`.
    #[serde(default)]
    pub vector: Vec<f32>,
    /// Unit-length centroid of the sentence embeddings of `questions` (semantic tier; empty in
    /// the n-gram tier).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sentence: Vec<f32>,
}

/// A text in one language.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LangText {
    /// `zh` or `en`.
    pub lang: String,
    /// The text as written in the KB.
    pub text: String,
}

impl IndexedEntry {
    /// True when the entry may be served on `today` (`YYYY-MM-DD`; none = no date check).
    pub fn valid_on(&self, today: Option<&str>) -> bool {
        let Some(today) = today else { return true };
        // ISO dates compare correctly as strings.
        self.valid_from.as_deref().is_none_or(|from| today >= from)
            && self.valid_to.as_deref().is_none_or(|to| today <= to)
    }

    /// The answer in `lang`, else in any language the entry has (zh before en by key order).
    pub fn answer_in(&self, lang: &str) -> &str {
        self.answer
            .get(lang)
            .or_else(|| self.answer.values().next())
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// How the two signals combine, and the no-answer threshold on the result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fusion {
    /// Weight of the vector signal; the lexical signal gets what the other weights leave.
    pub vector_weight: f32,
    /// Weight of the classifier signal.
    #[serde(default)]
    pub classifier_weight: f32,
    /// Answer confidences (see [`confidence`]) below this are "no answer" for customers.
    pub threshold: f32,
    /// How much the runner-up's score counts against the best one in the confidence: a
    /// question that two entries answer equally well is not a confident answer.
    #[serde(default)]
    pub margin_weight: f32,
    /// BM25 term-frequency saturation `k1` (default 1.2).
    pub bm25_k1: f32,
    /// BM25 length normalisation `b`, in `[0, 1]` (default 0.75).
    pub bm25_b: f32,
    /// Weight of the semantic signal (0 in the n-gram tier).
    #[serde(default)]
    pub semantic_weight: f32,
}

/// The weights [`rank`] fuses signals with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FusionWeights {
    /// Weight of the vector signal.
    pub vector: f32,
    /// Weight of the classifier signal.
    pub classifier: f32,
    /// Weight of the semantic signal; the lexical signal gets `1 −` the three.
    pub semantic: f32,
}

impl Fusion {
    /// The signal weights, for [`rank`].
    pub fn weights(&self) -> FusionWeights {
        FusionWeights {
            vector: self.vector_weight,
            classifier: self.classifier_weight,
            semantic: self.semantic_weight,
        }
    }
}

impl Default for Fusion {
    fn default() -> Self {
        Self {
            semantic_weight: 0.0,
            vector_weight: 0.5,
            classifier_weight: 0.0,
            threshold: 0.5,
            margin_weight: 0.0,
            bm25_k1: 1.2,
            bm25_b: 0.75,
        }
    }
}

/// The encoder's view of a question: a unit vector from its logits. Centring first removes the
/// part every entry shares, so the cosine measures which entries the question leans to.
pub fn embed(logits: &[f32]) -> Vec<f32> {
    let n = logits.len().max(1) as f32;
    let mean = logits.iter().sum::<f32>() / n;
    let mut v: Vec<f32> = logits.iter().map(|z| z - mean).collect();
    normalize_in_place(&mut v);
    v
}

/// Unit-length mean of unit vectors (the zero vector stays zero).
pub fn centroid<V: AsRef<[f32]>>(vectors: &[V]) -> Vec<f32> {
    let dim = vectors.first().map_or(0, |v| v.as_ref().len());
    let mut c = vec![0f32; dim];
    for v in vectors {
        for (a, b) in c.iter_mut().zip(v.as_ref()) {
            *a += b;
        }
    }
    normalize_in_place(&mut c);
    c
}

fn normalize_in_place(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Both signals of one entry for one question; [`Signals::fused`] ranks with a given weight.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Signals {
    /// Index of the entry in the retriever's entries.
    pub entry: usize,
    /// Cosine to the entry's centroid, clipped to `[0, 1]`.
    pub vector: f32,
    /// Square root of the encoder's probability of the entry, in `[0, 1]`.
    pub classifier: f32,
    /// Best normalised BM25 over the entry's questions, in `[0, 1]`.
    pub lexical: f32,
    /// Cosine of the question's sentence embedding to the entry's, clipped to `[0, 1]` (0 when
    /// either is missing).
    pub semantic: f32,
    /// Index in `entry.questions` of the question that matched best lexically.
    pub matched: usize,
}

impl Signals {
    /// The weighted sum of the four signals; the lexical one gets what the other weights leave.
    pub fn fused(&self, w: FusionWeights) -> f32 {
        w.vector * self.vector
            + w.classifier * self.classifier
            + w.semantic * self.semantic
            + (1.0 - w.vector - w.classifier - w.semantic) * self.lexical
    }
}

/// A ranked entry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    /// The entry's signals.
    pub signals: Signals,
    /// The fused score ([`Signals::fused`]) the ranking sorts by.
    pub score: f32,
}

/// A question as the signals see it.
#[derive(Clone, Copy, Debug)]
pub struct Question<'a> {
    /// The encoder's logits, one per entry in entry order.
    pub logits: &'a [f32],
    /// The encoder's probabilities, one per entry in entry order (a missing one counts as 0).
    pub probabilities: &'a [f32],
    /// The question's sentence embedding (semantic tier).
    pub sentence: Option<&'a [f32]>,
    /// The question's term counts in the encoder's vocabulary.
    pub terms: &'a TermFrequencies,
}

/// The searchable index: entries with their vectors, and BM25 over every question.
#[derive(Clone, Debug)]
pub struct Retriever {
    entries: Vec<IndexedEntry>,
    bm25: Bm25,
    /// BM25 document → (entry, question index).
    docs: Vec<(usize, usize)>,
}

impl Retriever {
    /// Indexes the entries' questions with `features` (the encoder's own vocabulary).
    pub fn new(entries: Vec<IndexedEntry>, fusion: &Fusion, features: &FeatureExtractor) -> Self {
        let mut docs = Vec::new();
        let mut tfs = Vec::new();
        for (e, entry) in entries.iter().enumerate() {
            for (q, question) in entry.questions.iter().enumerate() {
                docs.push((e, q));
                tfs.push(features.term_frequencies(&question.text));
            }
        }
        let bm25 = Bm25::new(&tfs, features.dim(), fusion.bm25_k1, fusion.bm25_b);
        Self {
            entries,
            bm25,
            docs,
        }
    }

    /// The indexed entries, in the order [`Signals::entry`] indexes.
    pub fn entries(&self) -> &[IndexedEntry] {
        &self.entries
    }

    /// The signals for every entry valid on `today`, in entry order.
    pub fn signals(&self, q: &Question<'_>, today: Option<&str>) -> Vec<Signals> {
        let Question {
            logits,
            probabilities,
            sentence,
            terms,
        } = *q;
        let embedding = embed(logits);
        let lexical = self.bm25.normalized_scores(terms);
        let mut best: Vec<(f32, usize)> = vec![(-1.0, 0); self.entries.len()];
        for (d, &(e, q)) in self.docs.iter().enumerate() {
            // Strictly greater: ties keep the earlier (canonical) question.
            if lexical[d] > best[e].0 {
                best[e] = (lexical[d], q);
            }
        }
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.valid_on(today))
            .map(|(e, entry)| Signals {
                entry: e,
                vector: dot(&embedding, &entry.vector).clamp(0.0, 1.0),
                classifier: probabilities
                    .get(e)
                    .map_or(0.0, |p| p.clamp(0.0, 1.0).sqrt()),
                lexical: best[e].0.max(0.0),
                semantic: sentence
                    .filter(|_| entry.sentence.len() == crate::foundation::features::EMBEDDING_DIM)
                    .map_or(0.0, |s| dot(s, &entry.sentence).clamp(0.0, 1.0)),
                matched: best[e].1,
            })
            .collect()
    }
}

/// Normalised BM25 at or above which a question counts as one of the entry's own.
pub const EXACT_MATCH: f32 = 0.999;

/// Confidence in the best hit of a ranking: its score minus `margin_weight` × the runner-up's
/// (0 with no hits). The no-answer threshold applies to this. A question identical to one of
/// the best entry's questions (lexical match 1) is certain: the KB asked it word for word.
pub fn confidence(hits: &[Hit], margin_weight: f32) -> f32 {
    if hits
        .first()
        .is_some_and(|h| h.signals.lexical >= EXACT_MATCH)
    {
        return 1.0;
    }
    let top = hits.first().map_or(0.0, |h| h.score);
    let second = hits.get(1).map_or(0.0, |h| h.score);
    top - margin_weight * second
}

/// Ranks signals by fused score, best first; ties go to the earlier entry (deterministic).
pub fn rank(signals: &[Signals], weights: FusionWeights) -> Vec<Hit> {
    let mut hits: Vec<Hit> = signals
        .iter()
        .map(|s| Hit {
            signals: *s,
            score: s.fused(weights),
        })
        .collect();
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.signals.entry.cmp(&b.signals.entry))
    });
    hits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::foundation::features::FeatureSettings;

    fn entry(id: &str, questions: &[(&str, &str)]) -> IndexedEntry {
        IndexedEntry {
            id: id.into(),
            intent: None,
            tags: vec![],
            valid_from: None,
            valid_to: None,
            answer: [("en".to_string(), format!("answer {id}"))].into(),
            questions: questions
                .iter()
                .map(|(l, t)| LangText {
                    lang: l.to_string(),
                    text: t.to_string(),
                })
                .collect(),
            vector: vec![],
            sentence: vec![],
        }
    }

    /// A question with these encoder probabilities (no logits: the vector signal is 0).
    fn question<'a>(
        probabilities: &'a [f32],
        sentence: Option<&'a [f32]>,
        terms: &'a TermFrequencies,
    ) -> Question<'a> {
        Question {
            logits: &[],
            probabilities,
            sentence,
            terms,
        }
    }

    #[test]
    fn the_classifier_signal_is_the_root_of_the_entry_probability() {
        let fx = FeatureExtractor::fit(FeatureSettings::default(), &["refund", "parcel"]);
        let r = Retriever::new(
            vec![
                entry("refund", &[("en", "refund")]),
                entry("parcel", &[("en", "parcel")]),
            ],
            &Fusion::default(),
            &fx,
        );
        let s = r.signals(
            &question(&[0.81, 0.16], None, &fx.term_frequencies("hello")),
            None,
        );
        assert!((s[0].classifier - 0.9).abs() < 1e-6 && (s[1].classifier - 0.4).abs() < 1e-6);
        // Fewer probabilities than entries (or none) count as 0, never a panic.
        assert_eq!(
            r.signals(&question(&[1.0], None, &fx.term_frequencies("x")), None)[1].classifier,
            0.0
        );
    }

    #[test]
    fn validity_dates_are_inclusive() {
        let mut e = entry("a", &[("en", "x")]);
        e.valid_from = Some("2026-01-01".into());
        e.valid_to = Some("2026-12-31".into());
        assert!(e.valid_on(Some("2026-01-01")) && e.valid_on(Some("2026-12-31")));
        assert!(!e.valid_on(Some("2025-12-31")) && !e.valid_on(Some("2027-01-01")));
        assert!(e.valid_on(None));
    }

    #[test]
    fn lexical_match_picks_the_entry_and_its_closest_question() {
        let texts = [
            "how do i return an item",
            "退货怎么办理",
            "where is my parcel",
        ];
        let fx = FeatureExtractor::fit(FeatureSettings::default(), &texts);
        let entries = vec![
            entry("returns", &[("en", texts[0]), ("zh", texts[1])]),
            entry("tracking", &[("en", texts[2])]),
        ];
        let r = Retriever::new(entries, &Fusion::default(), &fx);
        let q = "退货怎么办理";
        let s = r.signals(&question(&[1.0, 0.0], None, &fx.term_frequencies(q)), None);
        let hits = rank(
            &s,
            FusionWeights {
                vector: 0.0,
                classifier: 0.5,
                semantic: 0.0,
            },
        );
        assert_eq!(hits[0].signals.entry, 0);
        assert_eq!(hits[0].signals.matched, 1, "the Chinese question matched");
        assert!(
            (hits[0].signals.lexical - 1.0).abs() < 1e-5,
            "identical text"
        );
        assert!((hits[0].score - 1.0).abs() < 1e-5);
        assert_eq!(hits[1].signals.lexical, 0.0);
        // Unknown words dilute the lexical match instead of being ignored.
        let noisy = r.signals(
            &question(
                &[0.0, 0.0],
                None,
                &fx.term_frequencies("退货 quantum chromodynamics"),
            ),
            None,
        );
        assert!(
            noisy[0].lexical > 0.0 && noisy[0].lexical < 0.6,
            "{noisy:?}"
        );
    }

    #[test]
    fn expired_entries_are_not_ranked() {
        let fx = FeatureExtractor::fit(FeatureSettings::default(), &["sale", "refund"]);
        let mut sale = entry("sale", &[("en", "sale")]);
        sale.valid_to = Some("2026-06-30".into());
        let r = Retriever::new(
            vec![sale, entry("refund", &[("en", "refund")])],
            &Fusion::default(),
            &fx,
        );
        let tf = fx.term_frequencies("sale");
        assert_eq!(
            r.signals(&question(&[1.0, 0.0], None, &tf), Some("2026-06-30"))
                .len(),
            2
        );
        let later = r.signals(&question(&[1.0, 0.0], None, &tf), Some("2026-07-01"));
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].entry, 1);
    }

    #[test]
    fn the_semantic_signal_ranks_by_sentence_embedding_when_weighted() {
        use crate::foundation::features::EMBEDDING_DIM;
        let fx = FeatureExtractor::fit(FeatureSettings::default(), &["refund", "parcel"]);
        let axis = |i: usize| -> Vec<f32> {
            let mut v = vec![0.0; EMBEDDING_DIM];
            v[i] = 1.0;
            v
        };
        let mut refund = entry("refund", &[("en", "refund")]);
        refund.sentence = axis(0);
        let mut parcel = entry("parcel", &[("en", "parcel")]);
        parcel.sentence = axis(1);
        let r = Retriever::new(vec![refund, parcel], &Fusion::default(), &fx);
        // No word in common with either entry, equal classifier signals: only meaning tells them
        // apart.
        let tf = fx.term_frequencies("where is my package");
        let s = r.signals(&question(&[0.5, 0.5], Some(&axis(1)), &tf), None);
        assert_eq!((s[0].semantic, s[1].semantic), (0.0, 1.0));
        let by_meaning = FusionWeights {
            vector: 0.0,
            classifier: 0.5,
            semantic: 0.5,
        };
        assert_eq!(rank(&s, by_meaning)[0].signals.entry, 1);
        let unweighted = FusionWeights {
            vector: 0.0,
            classifier: 1.0,
            semantic: 0.0,
        };
        assert_eq!(rank(&s, unweighted)[0].score, rank(&s, unweighted)[1].score);
        // Without the question's embedding the signal is 0, never a guess.
        assert!(
            r.signals(&question(&[0.5, 0.5], None, &tf), None)
                .iter()
                .all(|s| s.semantic == 0.0)
        );
    }
}
