//! The `tandem:service/encoder` export: the same validation and vectors as `POST /v1/embed`.

use crate::bindings::exports::tandem::service::encoder as wit;
use tandem_contract::types as wit_types;
use tandem_encoder::DIM;

impl wit::Guest for crate::Component {
    fn embed(texts: Vec<String>) -> Result<Vec<Vec<f32>>, wit_types::Error> {
        let embeddings = crate::embed(&texts).map_err(wit_types::Error::from)?;
        Ok(embeddings.iter().map(|e| e.to_vec()).collect())
    }

    fn dimension() -> u32 {
        DIM as u32
    }

    fn encoded() -> u64 {
        crate::encoded()
    }
}
