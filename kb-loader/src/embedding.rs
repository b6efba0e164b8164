//! Sentence embeddings for training and evaluation: the encoder from `models/encoder.bin`,
//! loaded once, with every text's embedding kept for the run (k-fold and multi-seed
//! evaluations ask for the same texts many times).

use anyhow::Context;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use tandem_core::foundation::features::EMBEDDING_DIM;
use tandem_encoder::{Encoder, Pack};

const _: () = assert!(tandem_encoder::DIM == EMBEDDING_DIM, "one embedding width");

pub struct Embedder {
    encoder: Encoder,
    cache: Mutex<HashMap<String, Arc<[f32]>>>,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder").finish_non_exhaustive()
    }
}

static EMBEDDER: OnceLock<Embedder> = OnceLock::new();

/// The process's embedder, loading `path` the first time.
pub fn load(path: &Path) -> anyhow::Result<&'static Embedder> {
    if let Some(e) = EMBEDDER.get() {
        return Ok(e);
    }
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "reading the encoder {} (./dev builds it; or `kb-loader import-encoder`)",
            path.display()
        )
    })?;
    let encoder = Encoder::load(Pack::from_vec(bytes)?)?;
    Ok(EMBEDDER.get_or_init(|| Embedder {
        encoder,
        cache: Mutex::new(HashMap::new()),
    }))
}

impl Embedder {
    /// The embedding of `text`.
    pub fn get(&self, text: &str) -> Arc<[f32]> {
        if let Some(e) = self.cache.lock().unwrap().get(text) {
            return e.clone();
        }
        let e = self.embed(text);
        self.cache
            .lock()
            .unwrap()
            .insert(text.to_string(), e.clone());
        e
    }

    fn embed(&self, text: &str) -> Arc<[f32]> {
        let input = tandem_core::foundation::features::embedding_input(text);
        Arc::from(self.encoder.embed(input).as_slice())
    }

    /// Embeds the texts not seen yet, on every core.
    pub fn prefetch<S: AsRef<str> + Sync>(&self, texts: &[S]) {
        let missing: Vec<&str> = {
            let cache = self.cache.lock().unwrap();
            let mut seen = std::collections::HashSet::new();
            texts
                .iter()
                .map(AsRef::as_ref)
                .filter(|t| !cache.contains_key(*t) && seen.insert(*t))
                .collect()
        };
        if missing.is_empty() {
            return;
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = missing.len().div_ceil(threads);
        let done: Vec<Vec<(String, Arc<[f32]>)>> = std::thread::scope(|s| {
            let handles: Vec<_> = missing
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|t| (t.to_string(), self.embed(t)))
                            .collect()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        self.cache
            .lock()
            .unwrap()
            .extend(done.into_iter().flatten());
    }
}

/// An exported intent model as the components serve it, natively: the runner, and the encoder
/// beside it in the same models folder when the model is of the semantic tier.
pub struct ServedIntent {
    pub runner: tandem_core::intent::IntentRunner,
    embedder: Option<&'static Embedder>,
}

impl ServedIntent {
    /// `intent.onnx` + `intent.json` from `models`, and `models/encoder.bin` if they need it.
    pub fn load(models: &Path) -> anyhow::Result<Self> {
        Self::load_with_encoder(models, &models.join("encoder.bin"))
    }

    /// [`Self::load`] with the encoder at `encoder` (a models folder of an operator's own,
    /// say, without a copy of the encoder).
    pub fn load_with_encoder(models: &Path, encoder: &Path) -> anyhow::Result<Self> {
        let read = |f: &str| {
            std::fs::read(models.join(f))
                .with_context(|| format!("reading {}", models.join(f).display()))
        };
        let runner = tandem_core::intent::IntentRunner::from_bytes(
            &read("intent.onnx")?,
            &read("intent.json")?,
        )?;
        Self::new(runner, encoder)
    }

    /// Wraps a runner, loading the encoder at `encoder` if the model needs it.
    pub fn new(runner: tandem_core::intent::IntentRunner, encoder: &Path) -> anyhow::Result<Self> {
        let embedder = if runner.uses_embedding() {
            Some(load(encoder)?)
        } else {
            None
        };
        Ok(Self { runner, embedder })
    }

    pub fn classify(
        &self,
        text: &str,
        top_k: usize,
    ) -> anyhow::Result<tandem_core::intent::Classification> {
        let embedding = self.embedder.map(|e| e.get(text));
        self.runner
            .classify_embedded(text, embedding.as_deref(), top_k)
    }
}
