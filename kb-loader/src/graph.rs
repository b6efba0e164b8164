//! `models/graph.json`: the KB's knowledge graph (`tandem_core::graph`), with `similar_to`
//! edges from the encoder's centroids of each intent's examples and each FAQ entry's questions.

use crate::pipeline::Recipe;
use std::path::Path;
use tandem_core::faq::centroid;
use tandem_core::graph::NodeKind;
use tandem_core::graph::compile::{Centroids, compile};
use tandem_core::kb::KnowledgeBase;

pub fn build(
    kb: &KnowledgeBase,
    version: &str,
    hash: &str,
    recipe: &Recipe,
    out: &Path,
) -> anyhow::Result<()> {
    let graph = compile(kb, version, hash, &centroids(kb, recipe))?;
    let mut json = serde_json::to_vec_pretty(&graph)?;
    json.push(b'\n');
    crate::output::write_models(out, &[("graph.json", &json[..])])?;
    if !recipe.quiet {
        eprintln!(
            "built {}/graph.json: {} nodes, {} edges",
            out.display(),
            graph.nodes.len(),
            graph.edges.len()
        );
    }
    Ok(())
}

/// Node id → centroid of its texts' sentence embeddings; empty on the n-gram tier.
fn centroids(kb: &KnowledgeBase, recipe: &Recipe) -> Centroids {
    let Some(embedder) = recipe.embedder else {
        return Centroids::new();
    };
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for intent in &kb.intents {
        let texts = intent
            .examples
            .values()
            .flatten()
            .map(String::as_str)
            .collect();
        groups.push((NodeKind::Intent.id(&intent.id), texts));
    }
    for entry in kb.faq.iter().filter(|e| e.enabled) {
        let texts = entry
            .question
            .values()
            .chain(entry.paraphrases.values().flatten())
            .map(String::as_str)
            .collect();
        groups.push((NodeKind::Faq.id(&entry.id), texts));
    }
    let all: Vec<&str> = groups.iter().flat_map(|g| g.1.iter().copied()).collect();
    embedder.prefetch(&all);
    groups
        .into_iter()
        .map(|(id, texts)| {
            let vectors: Vec<_> = texts.iter().map(|t| embedder.get(t)).collect();
            (id, centroid(&vectors))
        })
        .collect()
}
