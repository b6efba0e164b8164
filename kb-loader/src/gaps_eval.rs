//! `kb-loader eval-gaps`: how well `tandem_core::gaps` clusters questions nobody answered, on
//! questions whose topic is known. From a KB: every FAQ entry's paraphrases (zh and en, the
//! canonical question left out), one topic per entry: the questions customers ask that a KB
//! without that entry could not answer. From a CSV: its `text,category` rows. Prints purity,
//! inverse purity and their F1 per threshold, the shipped one marked.

use crate::embedding;
use anyhow::ensure;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tandem_core::gaps::{GAP_SIMILARITY, cluster_labels, purity};

#[derive(clap::Args, Debug)]
pub struct GapsArgs {
    /// A KB folder: its FAQ paraphrases, one topic per entry.
    #[arg(long, conflicts_with = "csv")]
    kb: Option<PathBuf>,
    /// A `text,category` CSV (BANKING77's test set, say).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Keep at most this many questions per topic (a gap is a handful of questions, not 40).
    #[arg(long)]
    per_topic: Option<usize>,
    /// Thresholds to report (default: 0.30 to 0.70 by 0.05).
    #[arg(long, value_delimiter = ',')]
    thresholds: Vec<f32>,
    #[arg(long, default_value = "models/encoder.bin")]
    encoder: PathBuf,
}

pub fn run(args: &GapsArgs) -> anyhow::Result<()> {
    let path = crate::input_path(&args.kb, &args.csv)?;
    let src = crate::source::load(&path)?;
    // (text, topic), in file order: the order questions would arrive in.
    let mut questions: Vec<(String, String)> = match &src.kb {
        Some(kb) => kb
            .faq
            .iter()
            .filter(|e| e.enabled)
            .flat_map(|e| {
                e.paraphrases
                    .values()
                    .flatten()
                    .map(move |p| (p.clone(), e.id.clone()))
            })
            .collect(),
        None => src
            .set
            .examples
            .iter()
            .map(|x| (x.text.clone(), src.set.labels[x.label].clone()))
            .collect(),
    };
    if let Some(cap) = args.per_topic {
        let mut seen = BTreeMap::<String, usize>::new();
        questions.retain(|(_, topic)| {
            let n = seen.entry(topic.clone()).or_default();
            *n += 1;
            *n <= cap
        });
    }
    ensure!(!questions.is_empty(), "no questions in {}", path.display());
    let mut topics = BTreeMap::<&str, usize>::new();
    for (_, t) in &questions {
        let next = topics.len();
        topics.entry(t).or_insert(next);
    }
    let truth: Vec<usize> = questions.iter().map(|(_, t)| topics[t.as_str()]).collect();
    let encoder = embedding::load(&args.encoder)?;
    let texts: Vec<&str> = questions.iter().map(|(q, _)| q.as_str()).collect();
    encoder.prefetch(&texts);
    let vectors: Vec<_> = texts.iter().map(|t| encoder.get(t)).collect();
    let refs: Vec<&[f32]> = vectors.iter().map(|v| &v[..]).collect();
    let thresholds = match args.thresholds.is_empty() {
        true => (6..=14).map(|i| i as f32 * 0.05).collect(),
        false => args.thresholds.clone(),
    };
    println!(
        "{} questions, {} topics ({})",
        questions.len(),
        topics.len(),
        path.display()
    );
    println!("threshold  clusters  purity  inverse purity  F1");
    for t in thresholds {
        let found = cluster_labels(&refs, t);
        let clusters = found.iter().max().map_or(0, |m| m + 1);
        let (p, ip, f1) = purity(&found, &truth);
        let shipped = if (t - GAP_SIMILARITY).abs() < 1e-6 {
            "  ← shipped"
        } else {
            ""
        };
        println!(
            "{t:9.2}  {clusters:8}  {:5.1} %  {:13.1} %  {:5.1} %{shipped}",
            100.0 * p,
            100.0 * ip,
            100.0 * f1
        );
    }
    Ok(())
}
