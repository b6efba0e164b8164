//! FAQ answering at serving time: the encoder on tract, the index from the manifest, and the
//! customer/agent answer shapes.

use super::templates::{EntityPatterns, fill};
use super::{Fusion, Hit, IndexedEntry, Question, Retriever, confidence, rank};
use crate::foundation::features::{FeatureExtractor, FeatureSettings, TermFrequencies, Vocabulary};
use crate::foundation::text::detect_language;
use crate::kb::Localized;
use crate::model::linear::TrainConfig;
use crate::model::tract::{load_plan, run_model};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use tract_onnx::prelude::TypedRunnableModel;

/// Version of the manifest layout below.
pub const FAQ_MANIFEST_FORMAT: u32 = 2;

/// `models/faq.json`: the index and everything besides the encoder weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaqManifest {
    /// [`FAQ_MANIFEST_FORMAT`] when written; another value is refused at load.
    pub format: u32,
    /// `<kb-name>-<first 12 hex of kb hash>`, shared with the intent model of the same build.
    pub model_version: String,
    /// The KB's `name` (`kb.yaml`).
    pub kb_name: String,
    /// Hex SHA-256 over the KB's source files (kb-loader).
    pub kb_hash: String,
    /// Enabled entries only; the encoder's output `i` belongs to `entries[i]`.
    pub entries: Vec<IndexedEntry>,
    /// Signal weights, BM25 parameters and the no-answer threshold, tuned by kb-loader on
    /// held-out paraphrases.
    pub fusion: Fusion,
    /// Intent id → language → reply template with `{entity}` placeholders (agent mode).
    #[serde(default)]
    pub templates: BTreeMap<String, Localized>,
    /// Entity name → regular expression, from the KB (`order_id`, …).
    #[serde(default)]
    pub entities: BTreeMap<String, String>,
    /// `int8` or `f32` (as in the intent manifest).
    pub weights: crate::model::onnx_export::WeightFormat,
    /// How the encoder was trained (C, iterations, …).
    pub train: TrainConfig,
    /// Figures measured at build time on held-out paraphrases.
    #[serde(default)]
    pub metrics: serde_json::Value,
    /// How questions become the encoder's features (the tier: `embedding_weight`).
    pub features: FeatureSettings,
    /// The encoder's terms in feature order, with their idf; emptied at load (moved into the
    /// extractor).
    pub vocab: Vocabulary,
}

/// Customers get one answer or none; agents get ranked suggestions and reply templates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `best` only, or no answer under the threshold.
    Customer,
    /// `best`, plus the `top_k` suggestions and the top one's reply template.
    Agent,
}

/// One question for [`FaqRunner::ask`].
#[derive(Clone, Debug)]
pub struct AskRequest<'a> {
    /// The question as the customer wrote it (normalised inside).
    pub question: &'a str,
    /// `zh` or `en`; none = the question's language.
    pub lang: Option<&'a str>,
    /// How many suggestions agent mode returns (at least 1); unused in customer mode.
    pub top_k: usize,
    /// Who asks, hence what the answer holds.
    pub mode: Mode,
    /// The question's sentence embedding, which a model of the semantic tier requires.
    pub sentence: Option<&'a [f32]>,
}

/// One ranked entry: the customer's answer, or one of an agent's suggestions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Suggestion {
    /// The entry's `faq.yaml` id.
    pub faq_id: String,
    /// The fused score the ranking sorts by, in `[0, 1]`.
    pub score: f32,
    /// The entry's question that matched best lexically, as written in the KB.
    pub matched_question: String,
    /// The entry's Markdown answer in the answer language, else in a language it has.
    pub answer: String,
    /// The entry's linked intent, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
}

/// An intent's reply template for agents, filled from the entities found in the question.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplyTemplate {
    /// The intent the template belongs to (the top suggestion's).
    pub intent: String,
    /// The template in the answer language (else one it has), known `{placeholders}` filled.
    pub text: String,
    /// Placeholders the question gave no value for, in order of first appearance.
    pub missing: Vec<String>,
}

/// What [`FaqRunner::ask`] returns; the FAQ component shapes it into its HTTP and WIT answers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Answer {
    /// The top entry when its confidence reaches the threshold; none: no answer.
    pub best: Option<Suggestion>,
    /// [`BELOW_THRESHOLD`] or [`EMPTY_KNOWLEDGE_BASE`] when `best` is none.
    pub no_answer_reason: Option<&'static str>,
    /// Agent mode: the `top_k` best entries, best first; empty in customer mode.
    pub suggestions: Vec<Suggestion>,
    /// Agent mode: the top suggestion's intent's reply template, when it has one.
    pub templates: Vec<ReplyTemplate>,
    /// The answer language: the request's `lang`, else the question's (`zh` or `en`).
    pub lang: String,
    /// The manifest's `model_version`.
    pub model_version: String,
}

/// Why a customer gets no answer: the best entry's confidence is under the threshold.
pub const BELOW_THRESHOLD: &str = "below-threshold";
/// Why a customer gets no answer: no entry is valid today, so nothing ranks.
pub const EMPTY_KNOWLEDGE_BASE: &str = "empty-knowledge-base";

/// The FAQ encoder and index from `models/faq.{onnx,json}`, loaded once, asked per question.
pub struct FaqRunner {
    manifest: FaqManifest,
    features: FeatureExtractor,
    plan: Arc<TypedRunnableModel>,
    retriever: Retriever,
    entities: EntityPatterns,
}

impl FaqRunner {
    /// Loads `faq.onnx` and `faq.json`; fails on another manifest format or a bad entity
    /// pattern.
    pub fn from_bytes(onnx: &[u8], manifest_json: &[u8]) -> anyhow::Result<Self> {
        let mut manifest: FaqManifest =
            serde_json::from_slice(manifest_json).context("parsing the FAQ manifest")?;
        anyhow::ensure!(
            manifest.format == FAQ_MANIFEST_FORMAT,
            "FAQ manifest format {} unsupported (expected {FAQ_MANIFEST_FORMAT})",
            manifest.format
        );
        let vocab = std::mem::take(&mut manifest.vocab);
        let features = FeatureExtractor::new(manifest.features.clone(), vocab)?;
        let entries = std::mem::take(&mut manifest.entries);
        let retriever = Retriever::new(entries, &manifest.fusion, &features);
        let entities = EntityPatterns::compile(&manifest.entities)?;
        let plan = load_plan(onnx).context("loading the FAQ encoder")?;
        Ok(Self {
            manifest,
            features,
            plan,
            retriever,
            entities,
        })
    }

    /// The manifest without its vocabulary and entries (moved into the extractor and index).
    pub fn manifest(&self) -> &FaqManifest {
        &self.manifest
    }

    /// The index: the served entries, in the encoder's output order, with BM25 over their
    /// questions.
    pub fn retriever(&self) -> &Retriever {
        &self.retriever
    }

    /// Whether [`Self::search_embedded`] needs the question's sentence embedding.
    pub fn uses_embedding(&self) -> bool {
        self.features.uses_embedding()
    }

    /// The encoder's logits and probabilities of each entry, and the question's term counts;
    /// `sentence` is its sentence embedding, which a model of the semantic tier requires.
    pub fn encode(
        &self,
        question: &str,
        sentence: Option<&[f32]>,
    ) -> anyhow::Result<(Vec<f32>, Vec<f32>, TermFrequencies)> {
        let (mut features, terms) = self.features.extract_with_terms(question);
        self.features.append_embedding(&mut features, sentence)?;
        let (logits, probabilities) = run_model(&self.plan, &features)?;
        Ok((logits, probabilities, terms))
    }

    /// Entries ranked for `question` among those valid on `today` (`YYYY-MM-DD`), with a model
    /// of the n-gram tier.
    pub fn search(&self, question: &str, today: Option<&str>) -> anyhow::Result<Vec<Hit>> {
        self.search_embedded(question, None, today)
    }

    /// [`Self::search`] with the question's sentence embedding.
    pub fn search_embedded(
        &self,
        question: &str,
        sentence: Option<&[f32]>,
        today: Option<&str>,
    ) -> anyhow::Result<Vec<Hit>> {
        let (logits, probabilities, terms) = self.encode(question, sentence)?;
        let q = Question {
            logits: &logits,
            probabilities: &probabilities,
            sentence,
            terms: &terms,
        };
        let signals = self.retriever.signals(&q, today);
        Ok(rank(&signals, self.manifest.fusion.weights()))
    }

    /// Answers `req` from the entries valid on `today` (`YYYY-MM-DD`; none = no date check).
    pub fn ask(&self, req: &AskRequest<'_>, today: Option<&str>) -> anyhow::Result<Answer> {
        let lang = req
            .lang
            .unwrap_or_else(|| detect_language(req.question))
            .to_string();
        let hits = self.search_embedded(req.question, req.sentence, today)?;
        let suggestion = |h: &Hit| {
            let entry = &self.retriever.entries()[h.signals.entry];
            Suggestion {
                faq_id: entry.id.clone(),
                score: h.score,
                matched_question: entry.questions[h.signals.matched].text.clone(),
                answer: entry.answer_in(&lang).to_string(),
                intent: entry.intent.clone(),
            }
        };
        let fusion = &self.manifest.fusion;
        let best = hits
            .first()
            .filter(|_| confidence(&hits, fusion.margin_weight) >= fusion.threshold)
            .map(suggestion);
        let no_answer_reason = match (&best, hits.is_empty()) {
            (Some(_), _) => None,
            (None, true) => Some(EMPTY_KNOWLEDGE_BASE),
            (None, false) => Some(BELOW_THRESHOLD),
        };
        let (suggestions, templates) = match req.mode {
            Mode::Customer => (Vec::new(), Vec::new()),
            Mode::Agent => {
                let suggestions: Vec<Suggestion> =
                    hits.iter().take(req.top_k.max(1)).map(suggestion).collect();
                let templates = suggestions
                    .first()
                    .and_then(|s| s.intent.as_deref())
                    .map(|intent| self.templates(intent, &lang, req.question))
                    .unwrap_or_default();
                (suggestions, templates)
            }
        };
        Ok(Answer {
            best,
            no_answer_reason,
            suggestions,
            templates,
            lang,
            model_version: self.manifest.model_version.clone(),
        })
    }

    /// The intent's reply template in `lang` (else any language it has), filled from the
    /// entities found in the question.
    fn templates(&self, intent: &str, lang: &str, question: &str) -> Vec<ReplyTemplate> {
        let Some(by_lang) = self.manifest.templates.get(intent) else {
            return Vec::new();
        };
        let Some(template) = by_lang.get(lang).or_else(|| by_lang.values().next()) else {
            return Vec::new();
        };
        let filled = fill(template, &self.entities.find(question));
        vec![ReplyTemplate {
            intent: intent.to_string(),
            text: filled.text,
            missing: filled.missing,
        }]
    }
}
