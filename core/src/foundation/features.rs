//! The one feature extractor shared by training (kb-loader, native) and serving (components,
//! wasm): sharing the code rules out training/serving skew by construction.
//!
//! Two blocks, each TF-IDF weighted (sublinear tf) and L2-normalised on its own, so that the
//! many character n-grams do not drown the few word n-grams:
//! - **word**: uni- and bigrams over tokens, where a token is a Latin-script word or a single
//!   Han character (Chinese needs no segmenter: a character is the closest thing to a word);
//! - **char**: character n-grams inside Latin words with boundary marks (`" card "`), and
//!   inside runs of Han characters.
//!
//! Mixed text (`我的 order 还没到`) simply yields features of both kinds.

use crate::foundation::text::{is_han, normalize};
use anyhow::Context;
use serde::{Deserialize, Serialize};
#[cfg(feature = "train")]
use std::collections::BTreeMap;
use std::collections::HashMap;

/// Bumped whenever extraction changes in a way that invalidates trained vocabularies.
pub const FEATURES_VERSION: u32 = 1;

const WORD_PREFIX: &str = "w:";
const CHAR_PREFIX: &str = "c:";

/// How text becomes features; stored in the model manifest next to the vocabulary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeatureSettings {
    /// [`FEATURES_VERSION`] of the extraction the vocabulary was built with; another is refused.
    pub version: u32,
    /// Longest word n-gram (1 = unigrams only).
    pub word_ngram_max: usize,
    /// Character n-gram lengths inside Latin words, boundary marks included.
    pub latin_char_ngrams: [usize; 2],
    /// Latin character n-grams may span the space between adjacent words.
    pub char_across_words: bool,
    /// Character n-gram lengths inside runs of Han characters.
    pub han_char_ngrams: [usize; 2],
    /// Terms seen in fewer training texts are left out of the vocabulary.
    pub min_df: usize,
    /// `1 + ln(tf)` instead of raw counts.
    pub sublinear_tf: bool,
    /// Scale of the L2-normalised word block in the concatenated vector.
    pub word_weight: f32,
    /// Scale of the L2-normalised character block (1.5 by default).
    pub char_weight: f32,
    /// Scale of the sentence-embedding block appended after the vocabulary (its vector has unit
    /// length, like each n-gram block); 0 means no such block: the n-gram tier alone.
    pub embedding_weight: f32,
}

/// Width of the sentence embedding a model with an embedding block takes (the encoder's).
pub const EMBEDDING_DIM: usize = 512;

/// Most characters of a text that go into its sentence embedding: the encoder component's
/// per-text limit. A message may be longer (4 KiB); its start says what it is about, and the
/// n-gram features still see all of it.
pub const EMBEDDING_MAX_CHARS: usize = 2000;

/// The part of `text` its sentence embedding is computed from, in training and in serving
/// alike: the first [`EMBEDDING_MAX_CHARS`] characters.
pub fn embedding_input(text: &str) -> &str {
    match text.char_indices().nth(EMBEDDING_MAX_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

impl Default for FeatureSettings {
    fn default() -> Self {
        Self {
            version: FEATURES_VERSION,
            word_ngram_max: 2,
            latin_char_ngrams: [2, 5],
            char_across_words: false,
            han_char_ngrams: [1, 3],
            min_df: 1,
            sublinear_tf: true,
            word_weight: 1.0,
            // Character n-grams generalise better from few examples (BANKING77, 10 per intent:
            // +0.4 points over 1.0).
            char_weight: 1.5,
            embedding_weight: 0.0,
        }
    }
}

/// Terms (with their block prefix) in index order, and their inverse document frequencies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Vocabulary {
    /// `w:` (word) or `c:` (character) prefixed terms, sorted; a term's position is its index.
    pub terms: Vec<String>,
    /// Smooth idf of each term, `ln((1 + n) / (1 + df)) + 1` over the training texts.
    pub idf: Vec<f32>,
}

/// A sparse feature vector: indices ascending, one value each.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SparseVector {
    /// Indices of the non-zero features: the model's input rows.
    pub indices: Vec<i64>,
    /// The value of each feature in `indices`, same length.
    pub values: Vec<f32>,
}

/// FxHash (rustc's hasher) for the vocabulary index. The index is built once from the knowledge
/// base and only looked up while serving, so a hostile text cannot lengthen its probe chains;
/// SipHash's protection buys nothing there and costs a third of feature extraction.
#[derive(Clone, Copy, Debug, Default)]
struct VocabHash;

#[derive(Default)]
struct FxHasher(u64);

impl std::hash::BuildHasher for VocabHash {
    type Hasher = FxHasher;
    fn build_hasher(&self) -> FxHasher {
        FxHasher::default()
    }
}

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut add = |w: u64| self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        for &b in chunks.remainder() {
            add(u64::from(b));
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Extracts TF-IDF features for a fixed vocabulary.
#[derive(Clone, Debug)]
pub struct FeatureExtractor {
    settings: FeatureSettings,
    vocab: Vocabulary,
    index: HashMap<String, u32, VocabHash>,
}

impl FeatureExtractor {
    /// Builds the vocabulary from training texts: terms kept when their document frequency
    /// reaches `min_df`, sorted so that the same texts always give the same indices.
    /// Training only (`train` feature): serving rebuilds the extractor with [`Self::new`].
    #[cfg(feature = "train")]
    pub fn fit<S: AsRef<str>>(settings: FeatureSettings, texts: &[S]) -> Self {
        let mut df: HashMap<String, usize> = HashMap::new();
        for text in texts {
            for term in term_counts(&settings, &normalize(text.as_ref())).into_keys() {
                *df.entry(term).or_default() += 1;
            }
        }
        let n = texts.len() as f64;
        let kept: BTreeMap<String, usize> = df
            .into_iter()
            .filter(|(_, d)| *d >= settings.min_df.max(1))
            .collect();
        let mut vocab = Vocabulary::default();
        for (term, d) in kept {
            // scikit-learn's smooth idf, so reference figures carry over.
            vocab
                .idf
                .push((((1.0 + n) / (1.0 + d as f64)).ln() + 1.0) as f32);
            vocab.terms.push(term);
        }
        Self::new(settings, vocab).expect("a fitted vocabulary is consistent")
    }

    /// Rebuilds an extractor from a manifest's settings and vocabulary.
    pub fn new(settings: FeatureSettings, vocab: Vocabulary) -> anyhow::Result<Self> {
        anyhow::ensure!(
            settings.version == FEATURES_VERSION,
            "feature settings version {} unsupported (this build extracts version {FEATURES_VERSION})",
            settings.version
        );
        anyhow::ensure!(
            vocab.terms.len() == vocab.idf.len(),
            "vocabulary terms and idf differ in length"
        );
        let index = vocab
            .terms
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        Ok(Self {
            settings,
            vocab,
            index,
        })
    }

    /// The settings it extracts with, as manifests store them.
    pub fn settings(&self) -> &FeatureSettings {
        &self.settings
    }

    /// The vocabulary it looks terms up in, as manifests store it.
    pub fn vocab(&self) -> &Vocabulary {
        &self.vocab
    }

    /// Number of features (the model's input dimension).
    pub fn dim(&self) -> usize {
        self.vocab.terms.len()
    }

    /// Whether models on these features take the text's sentence embedding too.
    pub fn uses_embedding(&self) -> bool {
        self.settings.embedding_weight > 0.0
    }

    /// Number of model inputs: the vocabulary, then the embedding block if there is one.
    pub fn model_dim(&self) -> usize {
        self.dim()
            + if self.uses_embedding() {
                EMBEDDING_DIM
            } else {
                0
            }
    }

    /// [`Self::extract`] with the embedding block appended (indices `dim()..dim() + 512`) when
    /// the settings have one. Fails, rather than answering from n-grams alone, when the model
    /// needs an embedding and none (or one of another width) is given.
    pub fn extract_with_embedding(
        &self,
        text: &str,
        embedding: Option<&[f32]>,
    ) -> anyhow::Result<SparseVector> {
        let mut x = self.extract(text);
        self.append_embedding(&mut x, embedding)?;
        Ok(x)
    }

    /// Appends the embedding block to `x` (n-gram features of this extractor) when the
    /// settings have one; see [`Self::extract_with_embedding`].
    pub fn append_embedding(
        &self,
        x: &mut SparseVector,
        embedding: Option<&[f32]>,
    ) -> anyhow::Result<()> {
        if !self.uses_embedding() {
            return Ok(());
        }
        let embedding = embedding.context("this model needs the text's sentence embedding")?;
        anyhow::ensure!(
            embedding.len() == EMBEDDING_DIM,
            "sentence embedding of width {}, expected {EMBEDDING_DIM}",
            embedding.len()
        );
        let base = self.dim() as i64;
        x.indices
            .extend((0..EMBEDDING_DIM as i64).map(|d| base + d));
        let weight = self.settings.embedding_weight;
        x.values.extend(embedding.iter().map(|v| v * weight));
        Ok(())
    }

    /// Features of one raw text (normalised here): TF-IDF per block, each block L2-normalised.
    pub fn extract(&self, text: &str) -> SparseVector {
        self.weigh(&self.known_counts(text, None))
    }

    /// [`Self::extract`] and [`Self::term_frequencies`] of one text from a single pass over it.
    pub fn extract_with_terms(&self, text: &str) -> (SparseVector, TermFrequencies) {
        let terms = self.term_frequencies(text);
        (self.weigh(&terms.known), terms)
    }

    /// TF-IDF of vocabulary counts (ascending index), each block L2-normalised and weighted.
    fn weigh(&self, counts: &[(u32, u32)]) -> SparseVector {
        let mut entries: Vec<(u32, f32)> = Vec::with_capacity(counts.len());
        for &(i, n) in counts {
            let tf = n as f32;
            let tf = if self.settings.sublinear_tf {
                1.0 + tf.ln()
            } else {
                tf
            };
            entries.push((i, tf * self.vocab.idf[i as usize]));
        }
        for (prefix, weight) in [
            (WORD_PREFIX, self.settings.word_weight),
            (CHAR_PREFIX, self.settings.char_weight),
        ] {
            let in_block = |i: u32| self.vocab.terms[i as usize].starts_with(prefix);
            // Sum in index order: the same float result on every platform.
            let norm = entries
                .iter()
                .filter(|e| in_block(e.0))
                .map(|e| e.1 * e.1)
                .sum::<f32>()
                .sqrt();
            if norm > 0.0 {
                entries
                    .iter_mut()
                    .filter(|e| in_block(e.0))
                    .for_each(|e| e.1 *= weight / norm);
            }
        }
        SparseVector {
            indices: entries.iter().map(|e| e.0 as i64).collect(),
            values: entries.iter().map(|e| e.1).collect(),
        }
    }
}

/// Raw counts of one text's terms, for lexical matching (BM25) next to the TF-IDF features.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TermFrequencies {
    /// Vocabulary terms by index, ascending, with their counts.
    pub known: Vec<(u32, u32)>,
    /// Counts of terms outside the vocabulary (sorted): a question full of words the knowledge
    /// base never uses should not look like a perfect match on the few words it shares.
    pub unknown: Vec<u32>,
}

impl FeatureExtractor {
    /// Term counts of one raw text (normalised here), split into vocabulary and unknown terms.
    pub fn term_frequencies(&self, text: &str) -> TermFrequencies {
        let mut unknown = HashMap::new();
        let known = self.known_counts(text, Some(&mut unknown));
        let mut unknown: Vec<u32> = unknown.into_values().collect();
        unknown.sort_unstable();
        TermFrequencies { known, unknown }
    }

    /// Counts of the vocabulary terms of a raw text, by ascending index; terms outside the
    /// vocabulary are counted in `unknown` when given. Known terms are counted by index, so
    /// each term is looked up once and only an unknown term that is counted allocates.
    fn known_counts(
        &self,
        text: &str,
        mut unknown: Option<&mut HashMap<String, u32>>,
    ) -> Vec<(u32, u32)> {
        let mut hits: Vec<u32> = Vec::new();
        for_each_term(&self.settings, &normalize(text), &mut |term| match (
            self.index.get(term),
            unknown.as_deref_mut(),
        ) {
            (Some(&i), _) => hits.push(i),
            (None, Some(unknown)) => count_term(unknown, term),
            (None, None) => {}
        });
        hits.sort_unstable();
        hits.chunk_by(|a, b| a == b)
            .map(|run| (run[0], run.len() as u32))
            .collect()
    }
}

/// A token: a Latin-script word or a single Han character, with the run of Han characters it
/// belongs to marked so that character n-grams stay inside runs.
enum Token<'a> {
    Word(&'a str),
    Han(&'a str),
}

fn is_word_char(c: char) -> bool {
    (c.is_alphanumeric() && !is_han(c)) || c == '\''
}

fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut word_start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if is_word_char(c) {
            word_start.get_or_insert(i);
            continue;
        }
        if let Some(s) = word_start.take() {
            push_word(&mut out, &text[s..i]);
        }
        if is_han(c) {
            out.push(Token::Han(&text[i..i + c.len_utf8()]));
        }
    }
    if let Some(s) = word_start {
        push_word(&mut out, &text[s..]);
    }
    out
}

fn push_word<'a>(out: &mut Vec<Token<'a>>, word: &'a str) {
    let w = word.trim_matches('\'');
    if !w.is_empty() {
        out.push(Token::Word(w));
    }
}

impl<'a> Token<'a> {
    fn as_str(&self) -> &'a str {
        match self {
            Token::Word(w) | Token::Han(w) => w,
        }
    }
}

/// Raw term counts of normalised text, keyed by block-prefixed term.
#[cfg(any(feature = "train", test))]
fn term_counts(settings: &FeatureSettings, text: &str) -> HashMap<String, u32> {
    let mut counts: HashMap<String, u32> = HashMap::new();
    for_each_term(settings, text, &mut |term| count_term(&mut counts, term));
    counts
}

/// Adds one occurrence of `term`, allocating only for a term not seen before.
fn count_term(counts: &mut HashMap<String, u32>, term: &str) {
    match counts.get_mut(term) {
        Some(n) => *n += 1,
        None => {
            counts.insert(term.to_owned(), 1);
        }
    }
}

/// Calls `visit` with every block-prefixed term of normalised text, once per occurrence. The
/// term is built in one reused buffer: serving looks terms up without allocating for each.
fn for_each_term(settings: &FeatureSettings, text: &str, visit: &mut dyn FnMut(&str)) {
    let mut term = String::with_capacity(64);
    let toks = tokens(text);
    // Word n-grams over the token sequence; a Han pair is adjacent characters, a Latin pair
    // adjacent words, a mixed pair (`order 还`) is kept too.
    for n in 1..=settings.word_ngram_max {
        for window in toks.windows(n) {
            term.clear();
            term.push_str(WORD_PREFIX);
            for (k, tok) in window.iter().enumerate() {
                if k > 0 {
                    term.push(' ');
                }
                term.push_str(tok.as_str());
            }
            visit(&term);
        }
    }
    // Character n-grams: Latin words with boundary marks, Han runs as they are.
    let mut char_grams = |run: &mut Vec<char>, [lo, hi]: [usize; 2]| {
        for n in lo.max(1)..=hi {
            for g in run.windows(n) {
                term.clear();
                term.push_str(CHAR_PREFIX);
                term.extend(g);
                visit(&term);
            }
        }
        run.clear();
    };
    let latin = settings.latin_char_ngrams;
    // A zero lower bound switches Latin character n-grams off.
    let latin = if latin[0] == 0 { [1, 0] } else { latin };
    let han = settings.han_char_ngrams;
    let mut han_run: Vec<char> = Vec::new();
    // Latin words as " w1 " (or " w1 w2 … " across words), so n-grams see word boundaries.
    let mut latin_run: Vec<char> = Vec::new();
    for tok in &toks {
        match tok {
            Token::Han(h) => {
                char_grams(&mut latin_run, latin);
                han_run.extend(h.chars());
            }
            Token::Word(w) => {
                char_grams(&mut han_run, han);
                if latin_run.is_empty() {
                    latin_run.push(' ');
                }
                latin_run.extend(w.chars());
                latin_run.push(' ');
                if !settings.char_across_words {
                    char_grams(&mut latin_run, latin);
                }
            }
        }
    }
    char_grams(&mut latin_run, latin);
    char_grams(&mut han_run, han);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<String> {
        let mut t: Vec<String> = term_counts(&FeatureSettings::default(), &normalize(text))
            .into_keys()
            .collect();
        t.sort();
        t
    }

    #[test]
    fn embedding_input_keeps_the_first_characters_on_a_char_boundary() {
        assert_eq!(embedding_input("我的订单 where"), "我的订单 where");
        let long = "退".repeat(EMBEDDING_MAX_CHARS) + "款 refund";
        let clipped = embedding_input(&long);
        assert_eq!(clipped.chars().count(), EMBEDDING_MAX_CHARS);
        assert!(clipped.chars().all(|c| c == '退'));
        assert_eq!(embedding_input(""), "");
    }

    #[test]
    fn latin_words_and_char_ngrams() {
        let t = terms("Card, arrived?");
        assert!(t.contains(&"w:card".to_string()));
        assert!(t.contains(&"w:card arrived".to_string()));
        assert!(t.contains(&"c: ca".to_string()));
        assert!(t.contains(&"c:ard ".to_string()));
        assert!(!t.iter().any(|x| x.contains(',') || x.contains('?')));
    }

    #[test]
    fn han_needs_no_segmenter() {
        let t = terms("订单到哪了");
        for want in ["w:订", "w:订 单", "c:订", "c:订单", "c:订单到"] {
            assert!(t.contains(&want.to_string()), "{want} missing from {t:?}");
        }
        assert!(
            !t.contains(&"c:订单到哪".to_string()),
            "Han n-grams stop at 3"
        );
    }

    #[test]
    fn mixed_text_gives_both_kinds() {
        let t = terms("我的order还没到");
        assert!(t.contains(&"w:的 order".to_string()));
        assert!(t.contains(&"c: or".to_string()));
        assert!(t.contains(&"c:还没到".to_string()));
        assert!(
            !t.contains(&"c:的还".to_string()),
            "Han runs are split by Latin words"
        );
    }

    #[test]
    fn blocks_are_unit_length_and_sorted() {
        let texts = [
            "where is my card",
            "my card has not arrived",
            "卡什么时候到",
        ];
        let fx = FeatureExtractor::fit(FeatureSettings::default(), &texts);
        let v = fx.extract("Where is my CARD?");
        assert!(v.indices.windows(2).all(|w| w[0] < w[1]));
        let block_norm = |p: &str| -> f32 {
            v.indices
                .iter()
                .zip(&v.values)
                .filter(|(i, _)| fx.vocab().terms[**i as usize].starts_with(p))
                .map(|(_, x)| x * x)
                .sum()
        };
        assert!((block_norm("w:") - 1.0).abs() < 1e-5);
        let w = fx.settings().char_weight;
        assert!((block_norm("c:") - w * w).abs() < 1e-5);
        assert!(fx.extract("zzzz qqqq").indices.is_empty());
    }

    #[test]
    fn one_pass_gives_both_features_and_terms() {
        let fx = FeatureExtractor::fit(
            FeatureSettings::default(),
            &["where is my order", "我的订单到哪了", "refund 退款 please"],
        );
        for text in [
            "Where is my ORDER 订单?",
            "退款退款 refund",
            "nothing known here",
            "",
        ] {
            let (features, terms) = fx.extract_with_terms(text);
            assert_eq!(features, fx.extract(text), "{text}");
            assert_eq!(terms, fx.term_frequencies(text), "{text}");
        }
    }

    #[test]
    fn fitting_is_deterministic() {
        let texts = ["b a", "a c", "c 中文"];
        let a = FeatureExtractor::fit(FeatureSettings::default(), &texts);
        let b = FeatureExtractor::fit(FeatureSettings::default(), &texts);
        assert_eq!(a.vocab(), b.vocab());
        assert!(a.vocab().terms.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn the_embedding_block_follows_the_vocabulary_and_is_required_when_configured() {
        let texts = ["where is my card", "我的卡在哪"];
        let ngram = FeatureExtractor::fit(FeatureSettings::default(), &texts);
        assert_eq!(ngram.model_dim(), ngram.dim());
        let e = vec![0.5f32; EMBEDDING_DIM];
        assert_eq!(
            ngram.extract_with_embedding(texts[0], Some(&e)).unwrap(),
            ngram.extract(texts[0]),
            "the n-gram tier ignores an embedding"
        );
        let settings = FeatureSettings {
            embedding_weight: 2.0,
            ..Default::default()
        };
        let semantic = FeatureExtractor::fit(settings, &texts);
        assert_eq!(semantic.model_dim(), semantic.dim() + EMBEDDING_DIM);
        let x = semantic.extract_with_embedding(texts[1], Some(&e)).unwrap();
        let n = semantic.extract(texts[1]).indices.len();
        assert_eq!(x.indices[n], semantic.dim() as i64);
        assert_eq!(x.indices.len(), n + EMBEDDING_DIM);
        assert!(x.values[n..].iter().all(|&v| v == 1.0));
        assert!(semantic.extract_with_embedding(texts[1], None).is_err());
        assert!(
            semantic
                .extract_with_embedding(texts[1], Some(&e[..3]))
                .is_err()
        );
    }
}
