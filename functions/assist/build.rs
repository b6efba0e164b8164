//! Extracts what the assist needs from the models `kb-loader` wrote (reply templates, entity
//! patterns, intent and queue names, always-human intents) into one small JSON document in
//! `OUT_DIR`, so the component does not carry the whole FAQ index to read 30 KB of it.
//! The shape is `tandem_core::assist::AssistPolicy`.

use serde_json::{Map, Value, json};
use std::path::Path;

fn read(name: &str) -> Value {
    let path = Path::new("../../models").join(name);
    println!("cargo:rerun-if-changed={}", path.display());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "reading {}: {e} (run `kb-loader build --kb kb --out models` first)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../../wit");
    let faq = read("faq.json");
    let intent = read("intent.json");
    let ticket = read("ticket.json");
    let handoff = read("handoff.json");

    let queue_names: Map<String, Value> = ticket["queues"]
        .as_array()
        .map(|qs| {
            qs.iter()
                .filter_map(|q| Some((q["id"].as_str()?.to_string(), q["name"].clone())))
                .collect()
        })
        .unwrap_or_default();
    let always_human: Vec<&str> = handoff["policy"]["intents"]
        .as_object()
        .map(|intents| {
            intents
                .iter()
                .filter(|(_, p)| p["always_human"].as_bool() == Some(true))
                .map(|(id, _)| id.as_str())
                .collect()
        })
        .unwrap_or_default();
    let policy = json!({
        "model_version": faq["model_version"],
        "templates": faq["templates"],
        "entities": faq["entities"],
        "intent_names": intent["display_names"],
        "queue_names": queue_names,
        "always_human": always_human,
    });
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("assist.json");
    std::fs::write(&out, serde_json::to_vec(&policy).expect("serialises"))
        .unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
