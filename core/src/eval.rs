//! Classification metrics: accuracy, macro-F1, per-intent precision/recall, the most confused
//! pairs, and out-of-scope recall.
//!
//! Gold `None` is an out-of-scope row; predicted `None` is a rejection. An in-scope row that
//! was rejected counts as an error (the customer was not helped).

use serde::{Deserialize, Serialize};

/// How well one intent is classified.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntentScore {
    /// One of the evaluated labels (an intent id).
    pub intent: String,
    /// Right predictions of it / all predictions of it (0 when never predicted).
    pub precision: f64,
    /// Rows of it predicted right / its gold rows; a rejection counts as a miss.
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Gold rows of this intent.
    pub support: usize,
}

/// One kind of error: rows of `gold` predicted as `predicted`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    /// The true intent id.
    pub gold: String,
    /// The intent id predicted instead.
    pub predicted: String,
    /// How many rows.
    pub count: usize,
}

/// The metrics of one evaluation run (kb-loader's `eval`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Over in-scope rows.
    pub accuracy: f64,
    /// Mean F1 over the intents that occur in the gold rows or the predictions.
    pub macro_f1: f64,
    /// In-scope rows (gold is an intent).
    pub in_scope: usize,
    /// Share of in-scope rows rejected as out of scope.
    pub rejected: f64,
    /// Per-intent scores, in label order.
    pub per_intent: Vec<IntentScore>,
    /// Most frequent (gold → predicted) errors, largest first.
    pub confused: Vec<Confusion>,
    /// Out-of-scope rows (gold `None`).
    pub oos: usize,
    /// Share of out-of-scope rows rejected; none without out-of-scope rows.
    pub oos_recall: Option<f64>,
}

/// Scores `predicted` against `gold` (same length; indices into `labels`, `None` out of scope),
/// keeping the `top_confused` most frequent confusions.
pub fn evaluate(
    labels: &[String],
    gold: &[Option<usize>],
    predicted: &[Option<usize>],
    top_confused: usize,
) -> Report {
    assert_eq!(gold.len(), predicted.len());
    let c = labels.len();
    let Tally {
        tp,
        fp,
        support,
        pairs,
        in_scope,
        correct,
        rejected,
        oos,
        oos_hit,
    } = tally(c, gold, predicted);
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let per_intent: Vec<IntentScore> = (0..c)
        .map(|k| {
            let precision = ratio(tp[k], tp[k] + fp[k]);
            let recall = ratio(tp[k], support[k]);
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            IntentScore {
                intent: labels[k].clone(),
                precision,
                recall,
                f1,
                support: support[k],
            }
        })
        .collect();
    // Macro-F1 over the intents present in the gold data (as scikit-learn does with labels
    // taken from y_true ∪ y_pred, restricted here to intents that can be scored).
    let scored: Vec<&IntentScore> = per_intent
        .iter()
        .enumerate()
        .filter(|(k, s)| s.support > 0 || fp[*k] > 0)
        .map(|(_, s)| s)
        .collect();
    let macro_f1 = scored.iter().map(|s| s.f1).sum::<f64>() / scored.len().max(1) as f64;
    let mut confused: Vec<Confusion> = pairs
        .into_iter()
        .map(|((g, p), count)| Confusion {
            gold: labels[g].clone(),
            predicted: labels[p].clone(),
            count,
        })
        .collect();
    confused.sort_by_key(|c| std::cmp::Reverse(c.count)); // stable: ties stay in label order
    confused.truncate(top_confused);
    Report {
        accuracy: ratio(correct, in_scope),
        macro_f1,
        in_scope,
        rejected: ratio(rejected, in_scope),
        per_intent,
        confused,
        oos,
        oos_recall: (oos > 0).then(|| ratio(oos_hit, oos)),
    }
}

/// The counts every figure is made from.
#[derive(Default)]
struct Tally {
    /// Per intent: right predictions, wrong predictions of it, gold examples of it.
    tp: Vec<usize>,
    fp: Vec<usize>,
    support: Vec<usize>,
    /// (gold, predicted) → how often an in-scope example was mistaken so.
    pairs: std::collections::BTreeMap<(usize, usize), usize>,
    in_scope: usize,
    correct: usize,
    rejected: usize,
    oos: usize,
    oos_hit: usize,
}

fn tally(c: usize, gold: &[Option<usize>], predicted: &[Option<usize>]) -> Tally {
    let mut t = Tally {
        tp: vec![0; c],
        fp: vec![0; c],
        support: vec![0; c],
        ..Tally::default()
    };
    for (&g, &p) in gold.iter().zip(predicted) {
        match (g, p) {
            (None, None) => {
                t.oos += 1;
                t.oos_hit += 1;
            }
            (None, Some(p)) => {
                t.oos += 1;
                t.fp[p] += 1;
            }
            (Some(g), p) => {
                t.in_scope += 1;
                t.support[g] += 1;
                match p {
                    Some(p) if p == g => {
                        t.correct += 1;
                        t.tp[g] += 1;
                    }
                    Some(p) => {
                        t.fp[p] += 1;
                        *t.pairs.entry((g, p)).or_default() += 1;
                    }
                    None => t.rejected += 1,
                }
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_errors_rejections_and_oos() {
        let labels = vec!["a".to_string(), "b".to_string()];
        let gold = [Some(0), Some(0), Some(1), Some(1), None, None];
        let pred = [Some(0), Some(1), Some(1), None, None, Some(0)];
        let r = evaluate(&labels, &gold, &pred, 5);
        assert_eq!(r.accuracy, 0.5);
        assert_eq!(r.rejected, 0.25);
        assert_eq!(r.oos_recall, Some(0.5));
        // a: tp 1, fp 1 (the oos row), support 2 → P 0.5 R 0.5; b: tp 1, fp 1, support 2.
        assert_eq!(r.per_intent[0].precision, 0.5);
        assert_eq!(r.per_intent[1].recall, 0.5);
        assert!((r.macro_f1 - 0.5).abs() < 1e-12);
        assert_eq!(
            r.confused,
            [Confusion {
                gold: "a".into(),
                predicted: "b".into(),
                count: 1
            }]
        );
    }

    #[test]
    fn no_oos_rows_no_oos_recall() {
        let labels = vec!["a".to_string()];
        let r = evaluate(&labels, &[Some(0)], &[Some(0)], 3);
        assert_eq!((r.accuracy, r.oos_recall), (1.0, None));
    }
}
