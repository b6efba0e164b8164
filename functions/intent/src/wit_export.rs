//! The `tandem:service/intent` export and its conversions.

use crate::bindings::exports::tandem::service::intent as wit;
use crate::{Component, classify};
use tandem_contract::types as wit_types;

impl wit::Guest for Component {
    fn classify(request: wit::ClassifyRequest) -> Result<wit::Classification, wit_types::Error> {
        let response = classify(&request.text, request.top_k).map_err(wit_types::Error::from)?;
        let c = response.classification;
        Ok(wit::Classification {
            intent: c.intent,
            confidence: c.confidence,
            out_of_scope: c.out_of_scope,
            ranking: c
                .ranking
                .into_iter()
                .map(|r| wit_types::ScoredLabel {
                    label: r.intent,
                    confidence: r.confidence,
                })
                .collect(),
            model: wit_types::ModelInfo {
                version: response.model.version,
            },
        })
    }
}
