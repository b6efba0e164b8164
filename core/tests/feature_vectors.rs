//! Checks the shared feature extractor against `feature_vectors.json`: the same file is
//! checked from wasm, so native training and wasm serving provably extract the same features.
//! Regenerate (after a deliberate change, with FEATURES_VERSION bumped):
//! `UPDATE_FEATURE_VECTORS=1 cargo test -p tandem-core --test feature_vectors`.

use serde::{Deserialize, Serialize};
use tandem_core::foundation::features::{FeatureExtractor, FeatureSettings, Vocabulary};

#[derive(Serialize, Deserialize)]
struct Vectors {
    settings: FeatureSettings,
    vocab: Vocabulary,
    cases: Vec<Case>,
}

#[derive(Serialize, Deserialize)]
struct Case {
    text: String,
    indices: Vec<i64>,
    values: Vec<f32>,
}

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/feature_vectors.json");

fn fixture() -> (FeatureSettings, Vocabulary, Vec<&'static str>) {
    let terms = [
        "c: or",
        "c: ord",
        "c: wh",
        "c:der ",
        "c:ord",
        "c:order",
        "c:的",
        "c:订",
        "c:订单",
        "c:单",
        "c:到",
        "c:还没到",
        "w:is",
        "w:is my",
        "w:my",
        "w:order",
        "w:order 还",
        "w:where",
        "w:where is",
        "w:我",
        "w:我 的",
        "w:的 order",
        "w:订 单",
    ];
    let mut terms: Vec<String> = terms.iter().map(|t| t.to_string()).collect();
    terms.sort();
    let idf = (0..terms.len())
        .map(|i| 1.0 + (i % 4) as f32 * 0.5)
        .collect();
    let texts = vec![
        "Where is my ORDER?",
        "我的订单到哪了",
        "我的 order 还没到",
        "我的order还没到",
        "ＯＲＤＥＲ　１２３",
        "訂單",
        "",
        "nothing known here",
    ];
    (FeatureSettings::default(), Vocabulary { terms, idf }, texts)
}

#[test]
fn extractor_matches_the_test_vectors() {
    let (settings, vocab, texts) = fixture();
    if std::env::var_os("UPDATE_FEATURE_VECTORS").is_some() {
        let fx = FeatureExtractor::new(settings.clone(), vocab.clone()).unwrap();
        let cases = texts
            .iter()
            .map(|t| {
                let v = fx.extract(t);
                Case {
                    text: t.to_string(),
                    indices: v.indices,
                    values: v.values,
                }
            })
            .collect();
        let json = serde_json::to_string_pretty(&Vectors {
            settings,
            vocab,
            cases,
        })
        .unwrap();
        std::fs::write(PATH, json + "\n").unwrap();
    }
    let file: Vectors = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    let fx = FeatureExtractor::new(file.settings, file.vocab).unwrap();
    assert!(file.cases.len() >= 6);
    for case in &file.cases {
        let got = fx.extract(&case.text);
        assert_eq!(got.indices, case.indices, "indices of {:?}", case.text);
        for (a, b) in got.values.iter().zip(&case.values) {
            assert!(
                (a - b).abs() < 1e-6,
                "values of {:?}: {:?} vs {:?}",
                case.text,
                got.values,
                case.values
            );
        }
    }
}
