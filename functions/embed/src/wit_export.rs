//! The `tandem:service/encoder` export: the same validation and vectors as `POST /v1/embed`.

use crate::bindings::exports::tandem::service::encoder as wit;
use crate::bindings::tandem::service::types as wit_types;
use tandem_encoder::DIM;

tandem_adapter::wit_error_mapping!(wit_types);

impl wit::Guest for crate::Component {
    fn embed(texts: Vec<String>) -> Result<Vec<Vec<f32>>, wit_types::Error> {
        let embeddings = crate::embed(&texts).map_err(to_wit_error)?;
        Ok(embeddings.iter().map(|e| e.to_vec()).collect())
    }

    fn dimension() -> u32 {
        DIM as u32
    }

    fn encoded() -> u64 {
        crate::encoded()
    }
}
