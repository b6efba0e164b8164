//! `kb-loader eval`: train on one data set and test on another, or k-fold cross-validate;
//! prints a table (or JSON) of accuracy, macro-F1, per-intent P/R, confused pairs, OOS recall.

use crate::pipeline::{self, Recipe, Trained};
use crate::source::{self, Source};
use crate::{RecipeArgs, input_path};
use anyhow::{Context, ensure};
use serde::Serialize;
use std::path::{Path, PathBuf};
use tandem_core::eval::{self, Report};
use tandem_core::intent::{self, OosPolicy};
use tandem_core::kb::{TrainingSet, shuffle};

#[derive(clap::Args)]
pub struct EvalArgs {
    /// Training data: a CSV or a KB folder.
    #[arg(long)]
    train: Option<PathBuf>,
    /// KB folder (alias of --train, for --folds).
    #[arg(long)]
    kb: Option<PathBuf>,
    /// Test CSV (`oos` rows measure out-of-scope recall).
    #[arg(long)]
    test: Option<PathBuf>,
    /// k-fold cross-validation of the training data instead of a test file.
    #[arg(long)]
    folds: Option<usize>,
    /// CSV to calibrate the rejection threshold on (in-scope + `oos` rows), e.g. a val split.
    #[arg(long)]
    calibrate: Option<PathBuf>,
    /// Fixed rejection threshold on the OOS score (overrides calibration).
    #[arg(long)]
    threshold: Option<f32>,
    /// Train on only N examples per intent (few-shot), drawn with each --seed.
    #[arg(long)]
    examples_per_intent: Option<usize>,
    /// Seeds of the draws / folds; several (`--seed 1,2,3`) report each run and the mean.
    #[arg(long, value_delimiter = ',', default_values_t = vec![0u64])]
    seed: Vec<u64>,
    /// Evaluate FAQ retrieval instead of intents: held-out paraphrases of a KB, or (with
    /// --test) an FAQ of --examples-per-intent utterances per intent (default 5) asked every
    /// test utterance.
    #[arg(long)]
    faq: bool,
    /// Evaluate the handoff decision (models in --models) on the KB's held-out conversations:
    /// precision/recall of `human` and which rule or score drove each decision.
    #[arg(long)]
    handoff: bool,
    /// Models folder for --handoff (as written by `kb-loader build`).
    #[arg(long, default_value = "models")]
    models: PathBuf,
    /// Agent corrections (a feedback export or a `text,category` CSV): evaluate without and with
    /// them added to the training data, side by side, and show which confusions they fix.
    /// With --test the test set is the same for both; with --folds the corrections join the folds.
    #[arg(long)]
    corrections: Option<PathBuf>,
    /// With --faq: accepted FAQ drafts (JSON Lines of `GET /v1/knowledge/drafts/export`);
    /// the FAQ is evaluated without and with them, and their questions asked of both.
    #[arg(long)]
    drafts: Option<PathBuf>,
    /// Evaluate the n-gram tier (no embedding block) beside the semantic tier
    /// (--embedding-weight) on the same split and seeds, side by side.
    #[arg(long)]
    compare_tiers: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    /// Most-confused pairs to list.
    #[arg(long, default_value_t = 10)]
    top_confused: usize,
    #[command(flatten)]
    recipe: RecipeArgs,
}

#[derive(Serialize)]
struct Run {
    seed: u64,
    train_examples: usize,
    train_seconds: f64,
    /// `f32::MIN` when nothing is rejected.
    threshold: f32,
    /// Accuracy on in-scope rows with no rejection at all.
    accuracy_no_rejection: f64,
    /// (threshold, in-scope accuracy, OOS recall) around the chosen threshold.
    tradeoff: Vec<(f32, f64, f64)>,
    report: Report,
}

#[derive(Serialize)]
struct Output {
    runs: Vec<Run>,
    mean_accuracy: f64,
    mean_macro_f1: f64,
    mean_oos_recall: Option<f64>,
}

pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    let path = input_path(&args.train, &args.kb)?;
    let src = source::load(&path)?;
    let recipe = args.recipe.recipe()?;
    if args.handoff {
        let kb = src.kb.as_ref().context("--handoff needs a KB folder")?;
        return crate::handoff::eval(kb, &args.models, args.json);
    }
    if args.faq {
        return faq(&src, args, &recipe);
    }
    let calibration = args
        .calibrate
        .as_ref()
        .map(|p| source::load(p))
        .transpose()?
        .map(|s| s.set);
    let calibration = calibration.as_ref();
    if args.compare_tiers {
        return compare_tiers(&src.set, calibration, args, &recipe);
    }
    match &args.corrections {
        None => intents(&src.set, calibration, args, &recipe),
        Some(corrections) => with_corrections(&path, &src, corrections, calibration, args, &recipe),
    }
}

/// `--faq`: retrieval on the KB's held-out paraphrases (without and with accepted drafts), or
/// on the test CSV's utterances.
fn faq(src: &Source, args: &EvalArgs, recipe: &Recipe) -> anyhow::Result<()> {
    match (&src.kb, &args.test) {
        (Some(kb), None) => match &args.drafts {
            Some(d) => {
                crate::faq_eval::drafts(kb, &crate::drafts::read_changes(d)?, recipe, args.json)
            }
            None => crate::faq_eval::kb(&crate::faq::corpus_from_kb(kb), recipe, args.json),
        },
        (_, Some(test)) => crate::faq_eval::csv(
            &src.set,
            &source::load(test)?.set,
            args.examples_per_intent.unwrap_or(5),
            recipe,
            args.json,
        ),
        (None, None) => anyhow::bail!("--faq needs a KB folder, or a training CSV with --test"),
    }
}

/// Intent classification trained on `set`, as a table or JSON.
fn intents(
    set: &TrainingSet,
    calibration: Option<&TrainingSet>,
    args: &EvalArgs,
    recipe: &Recipe,
) -> anyhow::Result<()> {
    let out = evaluate(set, calibration, args, recipe)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_table(&out);
    }
    Ok(())
}

/// `--compare-tiers`: the n-gram tier against `recipe`'s semantic tier, on the same split.
fn compare_tiers(
    set: &TrainingSet,
    calibration: Option<&TrainingSet>,
    args: &EvalArgs,
    recipe: &Recipe,
) -> anyhow::Result<()> {
    ensure!(
        recipe.embedder.is_some(),
        "--compare-tiers compares against the semantic tier: give --embedding-weight > 0"
    );
    let mut ngram = recipe.clone();
    ngram.features.embedding_weight = 0.0;
    ngram.embedder = None;
    let before = evaluate(set, calibration, args, &ngram)?;
    let after = evaluate(set, calibration, args, recipe)?;
    if args.json {
        let both = serde_json::json!({"ngram": before, "semantic": after});
        println!("{}", serde_json::to_string_pretty(&both)?);
    } else {
        print_side_by_side(("n-gram tier", &before), ("semantic tier", &after));
    }
    Ok(())
}

/// `--corrections`: the evaluation without and with the corrections in the training data, and
/// which of the corrected utterances each model gets right.
fn with_corrections(
    path: &Path,
    src: &Source,
    corrections: &Path,
    calibration: Option<&TrainingSet>,
    args: &EvalArgs,
    recipe: &Recipe,
) -> anyhow::Result<()> {
    let mut corrected = source::load(path)?;
    let rows = source::apply_corrections(&mut corrected, corrections)?;
    let before = evaluate(&src.set, calibration, args, recipe)?;
    let after = evaluate(&corrected.set, calibration, args, recipe)?;
    // Models of all the training data, without and with the corrections, asked the corrected
    // utterances themselves.
    let (old, new) = (
        pipeline::train(&src.set, recipe, "model without corrections"),
        pipeline::train(&corrected.set, recipe, "model with corrections"),
    );
    let answer = |m: &Trained, labels: &[String], text: &str| {
        let (logits, probs) = m.scores(text);
        let oos = OosPolicy {
            score: recipe.oos_score,
            threshold: f32::MIN,
        };
        intent::classification(labels, &logits, &probs, &oos, 1).intent
    };
    let fixes = crate::corrections::compare(
        &rows,
        |t| answer(&old, &src.set.labels, t),
        |t| answer(&new, &corrected.set.labels, t),
    );
    if args.json {
        let both = serde_json::json!({"before": before, "after": after, "corrections": fixes});
        println!("{}", serde_json::to_string_pretty(&both)?);
        return Ok(());
    }
    print_side_by_side(("before", &before), ("after", &after));
    fixes.print("the model without them");
    Ok(())
}

/// Two evaluations of the same split in two columns.
fn print_side_by_side((name_a, a): (&str, &Output), (name_b, b): (&str, &Output)) {
    let row = |name: &str, f: &dyn Fn(&Output) -> Option<f64>| {
        let cell = |o: &Output| f(o).map_or("-".to_string(), |v| format!("{:.2} %", 100.0 * v));
        println!("{name:<28} {:>14} {:>14}", cell(a), cell(b));
    };
    println!("{:<28} {name_a:>14} {name_b:>14}", "held-out");
    row("accuracy (no rejection)", &|o| {
        Some(o.runs.iter().map(|r| r.accuracy_no_rejection).sum::<f64>() / o.runs.len() as f64)
    });
    row("accuracy", &|o| Some(o.mean_accuracy));
    row("macro-F1", &|o| Some(o.mean_macro_f1));
    row("OOS recall", &|o| o.mean_oos_recall);
    println!(
        "{:<28} {:>14} {:>14}",
        "training examples", a.runs[0].train_examples, b.runs[0].train_examples
    );
    let seconds = |o: &Output| o.runs.iter().map(|r| r.train_seconds).sum::<f64>();
    println!(
        "{:<28} {:>12.1} s {:>12.1} s",
        "training time (all runs)",
        seconds(a),
        seconds(b)
    );
}

/// Evaluates intent classification trained on `full` (subsampled per --examples-per-intent),
/// once per seed, on --test or by --folds.
fn evaluate(
    full: &TrainingSet,
    calibration: Option<&TrainingSet>,
    args: &EvalArgs,
    recipe: &Recipe,
) -> anyhow::Result<Output> {
    let mut runs = Vec::new();
    for &seed in &args.seed {
        let train = match args.examples_per_intent {
            Some(n) => full.subsample(n, seed),
            None => full.clone(),
        };
        let run = match (&args.test, args.folds) {
            (Some(test), None) => {
                let test = source::load(test)?.set;
                let test =
                    relabel(&test, &train).context("aligning test labels with training labels")?;
                one_split(&train, &test, calibration, args, recipe, seed)?
            }
            (None, Some(k)) => cross_validate(&train, k, args, recipe, seed)?,
            _ => anyhow::bail!("give either --test FILE or --folds K"),
        };
        runs.push(run);
    }
    let mean = |f: &dyn Fn(&Run) -> f64| runs.iter().map(f).sum::<f64>() / runs.len() as f64;
    Ok(Output {
        mean_accuracy: mean(&|r| r.report.accuracy),
        mean_macro_f1: mean(&|r| r.report.macro_f1),
        mean_oos_recall: runs[0]
            .report
            .oos_recall
            .map(|_| mean(&|r| r.report.oos_recall.unwrap_or(0.0))),
        runs,
    })
}

/// Maps the test set's label names onto the training set's indices (unknown labels fail).
fn relabel(test: &TrainingSet, train: &TrainingSet) -> anyhow::Result<TrainingSet> {
    let mut out = test.clone();
    out.labels = train.labels.clone();
    for e in &mut out.examples {
        let name = &test.labels[e.label];
        e.label = train
            .labels
            .iter()
            .position(|l| l == name)
            .with_context(|| format!("intent \"{name}\" not in training data"))?;
    }
    Ok(out)
}

fn one_split(
    train: &TrainingSet,
    test: &TrainingSet,
    calibration: Option<&TrainingSet>,
    args: &EvalArgs,
    recipe: &Recipe,
    seed: u64,
) -> anyhow::Result<Run> {
    let model = pipeline::train(train, recipe, "training");
    let threshold = match (args.threshold, calibration) {
        (Some(t), _) => t,
        (None, Some(cal)) => pipeline::calibrate(
            &pipeline::score(&model, &relabel(cal, train)?, recipe.oos_score),
            recipe.target_oos_recall,
        ),
        // Test data with oos rows but nothing to calibrate on: a held-out split of the training
        // data (and its oos rows), exactly as `build` does.
        (None, None) if !test.oos.is_empty() => {
            let (part, mut held) = pipeline::split_holdout(train);
            held.oos = train.oos.clone();
            pipeline::calibrate(
                &pipeline::score(
                    &pipeline::train(&part, recipe, "held-out model"),
                    &held,
                    recipe.oos_score,
                ),
                recipe.target_oos_recall,
            )
        }
        (None, None) => f32::MIN,
    };
    Ok(measure(
        &model,
        test,
        &OosPolicy {
            score: recipe.oos_score,
            threshold,
        },
        args,
        seed,
        train.examples.len(),
    ))
}

fn measure(
    model: &Trained,
    test: &TrainingSet,
    oos: &OosPolicy,
    args: &EvalArgs,
    seed: u64,
    n_train: usize,
) -> Run {
    let mut gold = Vec::new();
    let mut pred = Vec::new();
    let mut plain_correct = 0usize;
    let texts: Vec<&str> = test.examples.iter().map(|e| e.text.as_str()).collect();
    model.prefetch(&texts);
    model.prefetch(&test.oos);
    let rows = test
        .examples
        .iter()
        .map(|e| (e.text.as_str(), Some(e.label)));
    for (text, g) in rows.chain(test.oos.iter().map(|t| (t.as_str(), None))) {
        let (logits, probs) = model.scores(text);
        let c = intent::classification(&test.labels, &logits, &probs, oos, 1);
        let p = test.labels.iter().position(|l| *l == c.intent);
        plain_correct += usize::from(g.is_some() && p == g);
        gold.push(g);
        pred.push(if c.out_of_scope { None } else { p });
    }
    let scores = pipeline::score(model, test, oos.score);
    Run {
        seed,
        train_examples: n_train,
        train_seconds: model.seconds,
        threshold: oos.threshold,
        accuracy_no_rejection: plain_correct as f64 / test.examples.len().max(1) as f64,
        tradeoff: if test.oos.is_empty() {
            vec![]
        } else {
            pipeline::tradeoff(&scores, oos.threshold)
        },
        report: eval::evaluate(&test.labels, &gold, &pred, args.top_confused),
    }
}

/// Stratified k folds (each intent's examples shuffled with `seed`, dealt round-robin);
/// predictions of all folds pooled into one report.
fn cross_validate(
    set: &TrainingSet,
    k: usize,
    args: &EvalArgs,
    recipe: &Recipe,
    seed: u64,
) -> anyhow::Result<Run> {
    ensure!(k >= 2, "--folds needs at least 2");
    if let Some(e) = recipe.embedder {
        e.prefetch(
            &set.examples
                .iter()
                .map(|e| e.text.as_str())
                .collect::<Vec<_>>(),
        );
    }
    let mut fold_of = vec![0usize; set.examples.len()];
    for label in 0..set.labels.len() {
        let mut idx: Vec<usize> = (0..set.examples.len())
            .filter(|&i| set.examples[i].label == label)
            .collect();
        shuffle(&mut idx, seed ^ label as u64);
        for (pos, i) in idx.into_iter().enumerate() {
            fold_of[i] = pos % k;
        }
    }
    let (mut gold, mut pred) = (Vec::new(), Vec::new());
    let (mut seconds, mut plain_correct) = (0.0, 0usize);
    for fold in 0..k {
        let pick = |want: bool| TrainingSet {
            examples: set
                .examples
                .iter()
                .zip(&fold_of)
                .filter(|(_, f)| (**f == fold) == want)
                .map(|(e, _)| e.clone())
                .collect(),
            oos: vec![],
            ..set.clone()
        };
        let (train, test) = (pick(false), pick(true));
        let model = pipeline::train(&train, recipe, &format!("fold {}/{k}", fold + 1));
        seconds += model.seconds;
        let oos = OosPolicy {
            score: recipe.oos_score,
            threshold: args.threshold.unwrap_or(f32::MIN),
        };
        for e in &test.examples {
            let (logits, probs) = model.scores(&e.text);
            let c = intent::classification(&set.labels, &logits, &probs, &oos, 1);
            let p = set.labels.iter().position(|l| *l == c.intent);
            plain_correct += usize::from(p == Some(e.label));
            gold.push(Some(e.label));
            pred.push(if c.out_of_scope { None } else { p });
        }
    }
    Ok(Run {
        seed,
        train_examples: set.examples.len(),
        train_seconds: seconds,
        threshold: args.threshold.unwrap_or(f32::MIN),
        accuracy_no_rejection: plain_correct as f64 / gold.len().max(1) as f64,
        tradeoff: vec![],
        report: eval::evaluate(&set.labels, &gold, &pred, args.top_confused),
    })
}

fn print_table(out: &Output) {
    for run in &out.runs {
        let r = &run.report;
        println!(
            "== seed {}: trained on {} examples in {:.1} s ==",
            run.seed, run.train_examples, run.train_seconds
        );
        println!("{:<34} {:>9}", "intent", "P      R      F1   n");
        for s in &r.per_intent {
            println!(
                "{:<34} {:.3}  {:.3}  {:.3}  {}",
                s.intent, s.precision, s.recall, s.f1, s.support
            );
        }
        if !r.confused.is_empty() {
            println!("most confused (gold → predicted):");
            for c in &r.confused {
                println!("  {:>4}  {} → {}", c.count, c.gold, c.predicted);
            }
        }
        println!(
            "accuracy (no rejection)   {:.2} %",
            100.0 * run.accuracy_no_rejection
        );
        if run.threshold > f32::MIN {
            println!(
                "accuracy                  {:.2} %  (threshold {:.3}, {:.2} % of in-scope rejected)",
                100.0 * r.accuracy,
                run.threshold,
                100.0 * r.rejected
            );
        }
        println!("macro-F1                  {:.2} %", 100.0 * r.macro_f1);
        if let Some(rec) = r.oos_recall {
            println!(
                "OOS recall                {:.2} %  ({} oos rows)",
                100.0 * rec,
                r.oos
            );
            println!("trade-off: threshold  in-scope acc  OOS recall");
            for (t, a, o) in &run.tradeoff {
                println!(
                    "           {t:>8.3}   {:.2} %      {:.2} %",
                    100.0 * a,
                    100.0 * o
                );
            }
        }
    }
    if out.runs.len() > 1 {
        println!(
            "== mean of {} runs: accuracy {:.2} %, macro-F1 {:.2} %{}",
            out.runs.len(),
            100.0 * out.mean_accuracy,
            100.0 * out.mean_macro_f1,
            out.mean_oos_recall
                .map(|r| format!(", OOS recall {:.2} %", 100.0 * r))
                .unwrap_or_default()
        );
    }
}
