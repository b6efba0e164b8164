//! Entries the encoder cannot tell apart.

use super::Corpus;
use crate::pipeline::Recipe;
use tandem_core::faq::centroid;

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
