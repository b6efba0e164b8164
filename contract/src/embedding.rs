//! A sentence embedding through the imported encoder, with its failures as problems.

use crate::{encoder, types};
use tandem_core::foundation::features::embedding_input;
use tandem_core::foundation::problem::Problem;

/// The sentence embedding of `text` (its first [`EMBEDDING_MAX_CHARS`] characters, as in
/// training) from the imported `tandem:service/encoder`. The encoder refuses only a text whose
/// tokens exceed its budget (NFKC can expand one character into many): that is the client's
/// 413, named after the request's `field`; anything else it says is a 500.
///
/// [`EMBEDDING_MAX_CHARS`]: tandem_core::foundation::features::EMBEDDING_MAX_CHARS
pub fn sentence_embedding(text: &str, field: &str) -> Result<Vec<f32>, Problem> {
    let input = embedding_input(text).to_string();
    match encoder::embed(&[input]) {
        Ok(mut vectors) if vectors.len() == 1 => Ok(vectors.remove(0)),
        Ok(vectors) => Err(Problem::internal(format!(
            "the encoder returned {} vectors for one text",
            vectors.len()
        ))),
        Err(types::Error::InvalidInput(params)) => {
            let reasons: Vec<String> = params.into_iter().map(|p| p.reason).collect();
            Err(Problem::payload_too_large(format!(
                "{field} is more than the sentence encoder takes: {}",
                reasons.join("; ")
            ))
            .with_param(field, "fewer tokens: shorten the text"))
        }
        Err(e) => Err(Problem::internal(format!("the encoder failed: {e:?}"))),
    }
}
