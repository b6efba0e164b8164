//! `kb-loader build`: validate → train (held-out model for calibration, then the full model)
//! → export ONNX → re-load it with tract and compare → write `intent.onnx` + `intent.json`;
//! from a KB, then hands over to the FAQ, handoff, ticket-policy and graph builds.

use crate::embedding::ServedIntent;
use crate::pipeline::{self, Recipe, Trained};
use crate::{RecipeArgs, input_path, source};
use anyhow::{Context, ensure};
use serde_json::json;
use std::path::PathBuf;
use tandem_core::eval;
use tandem_core::intent::{self, IntentManifest, MANIFEST_FORMAT, OosPolicy};
use tandem_core::kb::TrainingSet;
use tandem_core::model::{onnx_export, tract};

#[derive(clap::Args)]
pub struct BuildArgs {
    /// KB folder (default `kb/`).
    #[arg(long)]
    kb: Option<PathBuf>,
    /// Train from a `text,category` CSV instead of a KB.
    #[arg(long)]
    csv: Option<PathBuf>,
    #[arg(long, default_value = "models")]
    out: PathBuf,
    /// Agent corrections, a `text,category` CSV added on top of the KB.
    #[arg(long)]
    corrections: Option<PathBuf>,
    #[command(flatten)]
    recipe: RecipeArgs,
}

pub fn run(args: &BuildArgs) -> anyhow::Result<()> {
    let path = input_path(&args.kb, &args.csv)?;
    let mut src = source::load(&path)?;
    let mut applied = Vec::new();
    if let Some(c) = &args.corrections {
        applied = source::apply_corrections(&mut src, c)?;
        eprintln!("applied {} corrections from {}", applied.len(), c.display());
    }
    // The model these corrections were made against, to report which confusions they fix.
    let previous = if applied.is_empty() {
        None
    } else {
        ServedIntent::load_with_encoder(&args.out, &args.recipe.encoder).ok()
    };
    for w in &src.warnings {
        eprintln!("{w}");
    }
    let set = &src.set;
    ensure!(
        set.labels.len() >= 2,
        "need at least 2 intents, found {}",
        set.labels.len()
    );
    let recipe = args.recipe.recipe()?;

    let (oos, report, held_examples) = calibrate(set, &recipe);
    let threshold = oos.threshold;

    let full = pipeline::train(set, &recipe, "full model");
    let version = format!("{}-{}", set.name, &src.hash[..12]);
    let onnx = onnx_export::export(&full.model, recipe.weights, &[("model_version", &version)]);
    let max_diff = verify(&full, &onnx, set)?;

    let manifest = manifest(&src, &full, &recipe, oos, &report, held_examples, &version);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    // Compact: the vocabulary is most of it, and pretty-printing doubles the size.
    let mut json = serde_json::to_vec(&manifest)?;
    json.push(b'\n');
    if !applied.is_empty() {
        report_corrections(&applied, previous.as_ref(), &onnx, &json, args)?;
    }
    crate::output::write_models(
        &args.out,
        &[("intent.onnx", &onnx[..]), ("intent.json", &json[..])],
    )?;
    if let Some(kb) = &src.kb {
        crate::faq::build(kb, &version, &src.hash, &recipe, &args.out)?;
        // Needs models/intent.* written above: conversations are classified with it.
        crate::handoff::build(kb, &version, &src.hash, &recipe, &args.out)?;
        write_ticket_policy(kb, &version, &src.hash, &args.out)?;
        crate::graph::build(kb, &version, &src.hash, &recipe, &args.out)?;
    }
    eprintln!(
        "built {}/intent.onnx ({} KiB) and intent.json ({} KiB): {version}, {} intents, threshold {threshold:.3}, \
         held-out accuracy {:.2} %, tract max |Δp| {max_diff:.1e}",
        args.out.display(),
        onnx.len() / 1024,
        json.len() / 1024,
        set.labels.len(),
        100.0 * report.accuracy
    );
    Ok(())
}

/// The held-out model: calibrates the out-of-scope threshold and gives honest build-time
/// figures. Returns the policy, the held-out report and how many examples were held out.
fn calibrate(set: &TrainingSet, recipe: &Recipe) -> (OosPolicy, eval::Report, usize) {
    let (train_part, mut held) = pipeline::split_holdout(set);
    held.oos = set.oos.clone();
    let probe = pipeline::train(&train_part, recipe, "held-out model");
    let scores = pipeline::score(&probe, &held, recipe.oos_score);
    let threshold = pipeline::calibrate(&scores, recipe.target_oos_recall);
    let oos = OosPolicy {
        score: recipe.oos_score,
        threshold,
    };
    let report = held_out_report(&probe, &held, &oos);
    (oos, report, held.examples.len())
}

/// `intent.json`: what the served model needs besides its ONNX graph, and its build figures.
fn manifest(
    src: &source::Source,
    full: &Trained,
    recipe: &Recipe,
    oos: OosPolicy,
    report: &eval::Report,
    held_examples: usize,
    version: &str,
) -> IntentManifest {
    let set = &src.set;
    IntentManifest {
        format: MANIFEST_FORMAT,
        model_version: version.to_string(),
        kb_name: set.name.clone(),
        kb_hash: src.hash.clone(),
        labels: set.labels.clone(),
        display_names: set.display_names.clone(),
        oos,
        weights: recipe.weights,
        train: recipe.train.clone(),
        metrics: json!({
            "examples": set.examples.len(),
            "oos_examples": set.oos.len(),
            "features": full.features.dim(),
            "held_out": {
                "examples": held_examples,
                "accuracy": report.accuracy,
                "macro_f1": report.macro_f1,
                "rejected": report.rejected,
                "oos_recall": report.oos_recall,
            },
        }),
        features: full.features.settings().clone(),
        vocab: full.features.vocab().clone(),
    }
}

/// Which confusions the applied corrections fix, against the model they were made on.
fn report_corrections(
    applied: &[(String, String)],
    previous: Option<&ServedIntent>,
    onnx: &[u8],
    json: &[u8],
    args: &BuildArgs,
) -> anyhow::Result<()> {
    match &previous {
        Some(old) => {
            let new = ServedIntent::new(
                intent::IntentRunner::from_bytes(onnx, json)?,
                &args.recipe.encoder,
            )?;
            crate::corrections::compare(applied, |t| answer(old, t), |t| answer(&new, t))
                .print("the previous model");
        }
        None => eprintln!(
            "no previous model in {}: cannot say which confusions the corrections fixed",
            args.out.display()
        ),
    }
    Ok(())
}

fn held_out_report(
    probe: &Trained,
    held: &tandem_core::kb::TrainingSet,
    oos: &OosPolicy,
) -> eval::Report {
    let mut gold = Vec::new();
    let mut pred = Vec::new();
    let texts = held
        .examples
        .iter()
        .map(|e| (e.text.as_str(), Some(e.label)));
    for (text, g) in texts.chain(held.oos.iter().map(|t| (t.as_str(), None))) {
        let (logits, probs) = probe.scores(text);
        let c = intent::classification(&held.labels, &logits, &probs, oos, 1);
        gold.push(g);
        pred.push(
            (!c.out_of_scope).then(|| held.labels.iter().position(|l| *l == c.intent).unwrap()),
        );
    }
    eval::evaluate(&held.labels, &gold, &pred, 5)
}

/// Runs the exported graph with tract on a sample of the training texts (every intent's
/// first example, then every 50th) and checks it agrees with the in-memory model.
fn verify(full: &Trained, onnx: &[u8], set: &tandem_core::kb::TrainingSet) -> anyhow::Result<f32> {
    let plan = tract::load_plan(onnx).context("re-loading the exported ONNX with tract")?;
    let mut sample: Vec<&str> = Vec::new();
    for label in 0..set.labels.len() {
        sample.extend(
            set.examples
                .iter()
                .find(|e| e.label == label)
                .map(|e| e.text.as_str()),
        );
    }
    sample.extend(set.examples.iter().step_by(50).map(|e| e.text.as_str()));
    sample.extend(set.oos.iter().take(10).map(String::as_str));
    sample.push("");
    let mut max_diff = 0f32;
    for text in sample {
        let x = full.features_of(text);
        let (_, got) = tract::run_model(&plan, &x)?;
        let want = full.model.predict_proba(&x);
        ensure!(
            got.len() == want.len(),
            "ONNX model has {} outputs, expected {}",
            got.len(),
            want.len()
        );
        for (a, b) in got.iter().zip(&want) {
            max_diff = max_diff.max((a - b).abs());
        }
    }
    ensure!(
        max_diff < 1e-4,
        "exported ONNX disagrees with the trained model (max |Δp| = {max_diff})"
    );
    Ok(max_diff)
}

/// `ticket.json`: the routing, priority and SLA settings the ticket component compiles in. A KB
/// without queues has nowhere to route tickets, so it gets none (and no ticket component).
fn write_ticket_policy(
    kb: &tandem_core::kb::KnowledgeBase,
    version: &str,
    hash: &str,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    if kb.meta.queues.is_empty() {
        eprintln!("no queues in kb.yaml: ticket.json not written");
        return Ok(());
    }
    let policy = tandem_core::ticket::TicketPolicy::from_kb(kb, version, hash)
        .map_err(|e| anyhow::anyhow!("ticket policy: {e}"))?;
    let mut json = serde_json::to_vec_pretty(&policy)?;
    json.push(b'\n');
    crate::output::write_models(out, &[("ticket.json", &json[..])])?;
    eprintln!(
        "built {}/ticket.json: {} queues, {} intents, {} sensitive topics",
        out.display(),
        policy.queues.len(),
        policy.intents.len(),
        policy.topics.len()
    );
    Ok(())
}

/// What the intent service would answer for `text`: its intent, or `none` when out of scope.
pub fn answer(runner: &ServedIntent, text: &str) -> String {
    match runner.classify(text, 1) {
        Ok(c) if !c.out_of_scope => c.intent,
        _ => "none".into(),
    }
}
