//! The SentencePiece unigram tokenizer of USE multilingual v3, id for id with the package's
//! pure-Python port (`pure_tokenizer.py`): normalise, then the best-scoring segmentation into
//! pieces by Viterbi, with `<s>` and `</s>` around it.
//!
//! Tie-breaking follows the reference exactly (a later path wins only with a strictly higher
//! score), and path scores add in `f64` as Python's floats do, so the ids match on every input.
//! Like the reference, every piece of the vocabulary can match text, the control pieces too.

use crate::normalizer::Normalizer;
use crate::pack::{Pack, PackError};
use std::collections::HashMap;

pub const UNK: u32 = 0;
pub const BOS: u32 = 1;
pub const EOS: u32 = 2;

pub struct Tokenizer {
    normalizer: Normalizer,
    ids: HashMap<Box<str>, u32>,
    scores: Vec<f32>,
    /// Longest piece, in characters: no lookup needs to reach further.
    max_chars: usize,
    unk_score: f64,
}

impl Tokenizer {
    pub fn from_pack(pack: &Pack) -> Result<Self, PackError> {
        let text = std::str::from_utf8(pack.bytes("pieces")?)
            .map_err(|_| PackError("pieces are not UTF-8".into()))?;
        let raw_ends = pack.bytes("piece_ends")?;
        let ends = pack.u32s("piece_ends", raw_ends.len() / 4)?;
        let scores = pack.f32s("scores", ends.len())?;
        let mut ids = HashMap::with_capacity(ends.len());
        let mut start = 0usize;
        let mut max_chars = 1;
        for (id, &end) in ends.iter().enumerate() {
            let piece = text
                .get(start..end as usize)
                .ok_or_else(|| PackError(format!("piece {id} has a bad end")))?;
            max_chars = max_chars.max(piece.chars().count());
            // A later duplicate wins, as in the reference's dict built in id order.
            ids.insert(piece.into(), id as u32);
            start = end as usize;
        }
        if scores.is_empty() {
            return Err(PackError("empty vocabulary".into()));
        }
        let min = scores.iter().copied().fold(f32::INFINITY, f32::min);
        Ok(Self {
            normalizer: Normalizer::from_charsmap(pack.bytes("charsmap")?),
            ids,
            scores,
            max_chars,
            unk_score: min as f64 - 10.0,
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.scores.len()
    }

    /// Token ids of `text`, `<s>` first and `</s>` last; text that normalises to nothing is
    /// `<s> <unk> </s>`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let normalized = self.normalizer.normalize(text);
        let mut ids = Vec::with_capacity(normalized.len() / 2 + 3);
        ids.push(BOS);
        if normalized.is_empty() {
            ids.push(UNK);
        } else {
            ids.extend(self.viterbi(&normalized));
        }
        ids.push(EOS);
        ids
    }

    /// The best segmentation: `best[p]` is the score of the best path to character `p`, and
    /// `(start_of[p], piece_of[p])` the last piece on it.
    fn viterbi(&self, normalized: &str) -> Vec<u32> {
        let bounds: Vec<usize> = normalized
            .char_indices()
            .map(|(at, _)| at)
            .chain([normalized.len()])
            .collect();
        let chars = bounds.len() - 1;
        let mut best = vec![-1e38f64; chars + 1];
        best[0] = 0.0;
        let mut start_of = vec![0usize; chars + 1];
        let mut piece_of = vec![UNK; chars + 1];
        for i in 0..chars {
            let base = best[i];
            let mut has_single = false;
            for j in i + 1..=(i + self.max_chars).min(chars) {
                let Some(&id) = self.ids.get(&normalized[bounds[i]..bounds[j]]) else {
                    continue;
                };
                let score = base + self.scores[id as usize] as f64;
                if score > best[j] {
                    best[j] = score;
                    start_of[j] = i;
                    piece_of[j] = id;
                }
                has_single |= j == i + 1;
            }
            if !has_single {
                let score = base + self.unk_score;
                if score > best[i + 1] {
                    best[i + 1] = score;
                    start_of[i + 1] = i;
                    piece_of[i + 1] = UNK;
                }
            }
        }
        let mut ids = Vec::new();
        let mut p = chars;
        while p > 0 {
            ids.push(piece_of[p]);
            p = start_of[p];
        }
        ids.reverse();
        ids
    }
}
