//! Okapi BM25 over the feature extractor's terms (word and character n-grams, so Chinese needs
//! no segmenter), with scores normalised per query for use as a `[0, 1]` signal.

use crate::foundation::features::TermFrequencies;

/// Okapi BM25 index over the entries' questions, one document per question.
#[derive(Clone, Debug)]
pub struct Bm25 {
    k1: f32,
    b: f32,
    avg_len: f32,
    n_docs: usize,
    /// Term index → (document, saturated term count) for every document holding it. The
    /// saturation depends on the document only, so it is computed once here, not per query.
    postings: Vec<Vec<(u32, f32)>>,
}

impl Bm25 {
    /// Indexes `docs` over a vocabulary of `dim` terms. A document's length counts its unknown
    /// terms too (there are none when the vocabulary was fitted on these documents).
    pub fn new(docs: &[TermFrequencies], dim: usize, k1: f32, b: f32) -> Self {
        let doc_len: Vec<f32> = docs.iter().map(length).collect();
        let avg_len = if docs.is_empty() {
            1.0
        } else {
            (doc_len.iter().sum::<f32>() / docs.len() as f32).max(1.0)
        };
        let mut bm25 = Self {
            k1,
            b,
            avg_len,
            n_docs: docs.len(),
            postings: vec![Vec::new(); dim],
        };
        for (d, tf) in docs.iter().enumerate() {
            for &(t, n) in &tf.known {
                let weight = bm25.saturate(n as f32, doc_len[d]);
                if let Some(p) = bm25.postings.get_mut(t as usize) {
                    p.push((d as u32, weight));
                }
            }
        }
        bm25
    }

    fn idf(&self, df: usize) -> f32 {
        let n = self.n_docs as f32;
        let df = df as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    fn saturate(&self, tf: f32, len: f32) -> f32 {
        tf * (self.k1 + 1.0) / (tf + self.k1 * (1.0 - self.b + self.b * len / self.avg_len))
    }

    /// BM25 of every document for `query`, divided by the score the query would get against a
    /// document identical to it, and capped at 1. Query terms outside the vocabulary count in
    /// that reference with the idf of a term no document has, so they lower every score.
    pub fn normalized_scores(&self, query: &TermFrequencies) -> Vec<f32> {
        let mut scores = vec![0f32; self.n_docs];
        let q_len = length(query);
        let mut reference = 0f32;
        for &(t, q_tf) in &query.known {
            let Some(postings) = self.postings.get(t as usize) else {
                continue;
            };
            let idf = self.idf(postings.len());
            reference += idf * self.saturate(q_tf as f32, q_len);
            for &(d, weight) in postings {
                scores[d as usize] += idf * weight;
            }
        }
        let unseen_idf = self.idf(0);
        for &q_tf in &query.unknown {
            reference += unseen_idf * self.saturate(q_tf as f32, q_len);
        }
        if reference > 0.0 {
            scores
                .iter_mut()
                .for_each(|s| *s = (*s / reference).min(1.0));
        }
        scores
    }
}

fn length(tf: &TermFrequencies) -> f32 {
    (tf.known.iter().map(|&(_, n)| n).sum::<u32>() + tf.unknown.iter().sum::<u32>()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tf(known: &[(u32, u32)], unknown: &[u32]) -> TermFrequencies {
        TermFrequencies {
            known: known.to_vec(),
            unknown: unknown.to_vec(),
        }
    }

    #[test]
    fn identical_document_scores_one_and_rare_terms_weigh_more() {
        let docs = [tf(&[(0, 1), (1, 1)], &[]), tf(&[(0, 1), (2, 1)], &[])];
        let bm = Bm25::new(&docs, 3, 1.2, 0.75);
        let s = bm.normalized_scores(&docs[0]);
        assert!((s[0] - 1.0).abs() < 1e-6, "{s:?}");
        assert!(
            s[1] > 0.0 && s[1] < 0.5,
            "shares only the common term: {s:?}"
        );
        let rare = bm.normalized_scores(&tf(&[(1, 1)], &[]));
        assert_eq!(rare[1], 0.0);
        assert!(rare[0] > 0.5, "a longer document saturates less: {rare:?}");
    }

    #[test]
    fn empty_query_and_unknown_terms() {
        let docs = [tf(&[(0, 2)], &[])];
        let bm = Bm25::new(&docs, 1, 1.2, 0.75);
        assert_eq!(bm.normalized_scores(&tf(&[], &[])), vec![0.0]);
        assert_eq!(bm.normalized_scores(&tf(&[], &[1, 1])), vec![0.0]);
        let half = bm.normalized_scores(&tf(&[(0, 1)], &[1]))[0];
        assert!(half > 0.0 && half < 1.0, "{half}");
    }
}
