//! `kb-loader eval --faq`: hit@1, hit@3, MRR and the no-answer figures of the FAQ index, on
//! held-out paraphrases of a KB, or on a test CSV against an FAQ built from a training CSV.

use crate::faq::{self, Corpus, Index, Metrics, Query, Scored};
use crate::pipeline::Recipe;
use serde::Serialize;
use tandem_core::faq::Fusion;
use tandem_core::foundation::text::detect_language;
use tandem_core::kb::TrainingSet;

#[derive(Serialize)]
struct Output {
    entries: usize,
    fusion: Fusion,
    /// Cross-validated on held-out paraphrases of the corpus (what tuned `fusion`).
    held_out: Metrics,
    /// On the test set, when one was given.
    test: Option<Metrics>,
}

/// Evaluates a KB's FAQ on its own held-out paraphrases.
pub fn kb(corpus: &Corpus, recipe: &Recipe, json: bool) -> anyhow::Result<()> {
    faq::warn_similar_entries(corpus, recipe);
    let closest = faq::similar_entries(corpus, recipe, -1.0);
    if !json && !closest.is_empty() {
        println!("entries closest in meaning (centroid cosine of their questions' embeddings):");
        for (a, b, cosine) in closest.iter().take(5) {
            println!("  {cosine:.3}  {a} ~ {b}");
        }
    }
    let held = faq::held_out(corpus, recipe);
    report(
        &Output {
            entries: corpus.entries.len(),
            fusion: held.fusion,
            held_out: held.metrics,
            test: None,
        },
        json,
    )
}

/// The FAQ without and with accepted drafts (`--drafts`): held-out figures side by side, then
/// each draft's question asked of the FAQ built on the whole KB, before and after.
pub fn drafts(
    before: &tandem_core::kb::KnowledgeBase,
    changes: &[tandem_core::kb::FaqChange],
    recipe: &Recipe,
    json: bool,
) -> anyhow::Result<()> {
    use tandem_core::kb::FaqChange;
    let mut after = before.clone();
    tandem_core::kb::apply_changes(&mut after, changes)
        .map_err(|e| anyhow::anyhow!("the drafts do not apply:\n{}", e.join("\n")))?;
    let questions: Vec<(String, String)> = changes
        .iter()
        .map(|c| match c {
            FaqChange::AddEntry { question, id, .. } => (question.clone(), id.clone()),
            FaqChange::AddParaphrase { text, faq, .. } => (text.clone(), faq.clone()),
        })
        .collect();
    let mut sides = Vec::new();
    for (what, kb) in [("without the drafts", before), ("with the drafts", &after)] {
        let corpus = faq::corpus_from_kb(kb);
        let held = faq::held_out(&corpus, recipe);
        let index = Index::build(&corpus.entries, &corpus.intent_examples, recipe, what);
        let mut scored = Scored::default();
        let queries = questions
            .iter()
            .map(|(q, _)| Query {
                text: q.clone(),
                lang: detect_language(q).to_string(),
                gold: None,
            })
            .collect();
        scored.extend(&index, queries);
        let answers = faq::answers(&scored, &held.fusion);
        sides.push((what, corpus.entries.len(), held, answers));
    }
    if json {
        let side =
            |(what, entries, held, answers): &(&str, usize, faq::HeldOut, Vec<Option<String>>)| {
                serde_json::json!({"what": what, "entries": entries, "fusion": held.fusion,
                               "held_out": held.metrics, "answers": answers})
            };
        let drafts: Vec<_> = questions
            .iter()
            .map(|(q, target)| serde_json::json!({"question": q, "entry": target}))
            .collect();
        let out = serde_json::json!({"before": side(&sides[0]), "after": side(&sides[1]), "drafts": drafts});
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    for (what, entries, held, _) in &sides {
        println!("-- {what}: {entries} entries");
        print_metrics("held-out paraphrases", &held.metrics);
    }
    println!("the drafts' questions (entry expected: answer without → with the drafts):");
    let mut right = [0, 0];
    for (i, (q, target)) in questions.iter().enumerate() {
        let show = |a: &Option<String>| a.clone().unwrap_or_else(|| "(no answer)".into());
        for (side, count) in right.iter_mut().enumerate() {
            *count += usize::from(sides[side].3[i].as_deref() == Some(target.as_str()));
        }
        println!(
            "  {q}  [{target}]: {} → {}",
            show(&sides[0].3[i]),
            show(&sides[1].3[i])
        );
    }
    println!(
        "answered with the expected entry: {}/{} without, {}/{} with the drafts",
        right[0],
        questions.len(),
        right[1],
        questions.len()
    );
    Ok(())
}

/// Builds an FAQ of `per_intent` utterances per intent from `train` and asks it every test
/// utterance (`oos` rows are questions with no entry).
pub fn csv(
    train: &TrainingSet,
    test: &TrainingSet,
    per_intent: usize,
    recipe: &Recipe,
    json: bool,
) -> anyhow::Result<()> {
    let corpus = faq::corpus_from_csv(train, per_intent);
    let held = faq::held_out(&corpus, recipe);
    let index = Index::build(
        &corpus.entries,
        &corpus.intent_examples,
        recipe,
        "faq encoder",
    );
    let mut queries = Vec::new();
    for e in &test.examples {
        let name = &test.labels[e.label];
        let gold = train.labels.iter().position(|l| l == name);
        anyhow::ensure!(gold.is_some(), "test intent \"{name}\" has no FAQ entry");
        queries.push(Query {
            text: e.text.clone(),
            lang: detect_language(&e.text).to_string(),
            gold,
        });
    }
    queries.extend(test.oos.iter().map(|t| Query {
        text: t.clone(),
        lang: detect_language(t).to_string(),
        gold: None,
    }));
    let mut scored = Scored::default();
    scored.extend(&index, queries);
    let test_metrics = faq::metrics(&scored, &held.fusion);
    report(
        &Output {
            entries: corpus.entries.len(),
            fusion: held.fusion,
            held_out: held.metrics,
            test: Some(test_metrics),
        },
        json,
    )
}

fn report(out: &Output, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(out)?);
        return Ok(());
    }
    println!(
        "{} entries; vector weight {:.2}, classifier weight {:.2}, semantic weight {:.2}, margin weight {:.2}, no-answer threshold {:.3} (tuned on held-out paraphrases)",
        out.entries,
        out.fusion.vector_weight,
        out.fusion.classifier_weight,
        out.fusion.semantic_weight,
        out.fusion.margin_weight,
        out.fusion.threshold
    );
    print_metrics("held-out paraphrases", &out.held_out);
    if let Some(t) = &out.test {
        print_metrics("test set", t);
    }
    Ok(())
}

fn print_metrics(what: &str, m: &Metrics) {
    let pct = |x: f64| format!("{:6.2} %", 100.0 * x);
    println!(
        "== {what}: {} answerable, {} with no entry",
        m.answerable, m.unanswerable
    );
    println!(
        "{:<10} {:>9} {:>9} {:>9} {:>9}",
        "lang", "questions", "hit@1", "hit@3", "MRR"
    );
    for (lang, l) in &m.by_lang {
        println!(
            "{lang:<10} {:>9} {:>9} {:>9} {:>9.4}",
            l.answerable,
            pct(l.hit_at_1),
            pct(l.hit_at_3),
            l.mrr
        );
    }
    println!(
        "{:<10} {:>9} {:>9} {:>9} {:>9.4}",
        "all",
        m.answerable,
        pct(m.hit_at_1),
        pct(m.hit_at_3),
        m.mrr
    );
    println!(
        "at the threshold: answered precision {}, coverage {}",
        pct(m.answered_precision),
        pct(m.coverage)
    );
    if let (Some(p), Some(r)) = (m.no_answer_precision, m.no_answer_recall) {
        println!("no-answer precision {}, recall {}", pct(p), pct(r));
    }
    if !m.confused.is_empty() {
        println!("most confused (expected → ranked first):");
        for (g, p, n) in &m.confused {
            println!("{n:>5}  {g} → {p}");
        }
    }
}
