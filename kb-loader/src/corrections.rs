//! What agent corrections changed: which of the corrected utterances the model got wrong before
//! and gets right after, grouped by the confusion they fixed (`build --corrections`), and the
//! held-out figures before and after (`eval --corrections`).

use serde::Serialize;
use std::collections::BTreeMap;

/// How a model classifies the corrected utterances, before and after the corrections.
#[derive(Debug, Default, Serialize)]
pub struct FixReport {
    /// Intent corrections considered (`oos` corrections are left out: they have no intent).
    pub corrections: usize,
    /// Utterances already classified as corrected before.
    pub right_before: usize,
    /// Utterances classified as corrected after.
    pub right_after: usize,
    /// `(predicted before → corrected)` → utterances now right.
    pub fixed: Vec<Confusion>,
    /// `(predicted after → corrected)` → utterances still wrong.
    pub still_wrong: Vec<Confusion>,
}

#[derive(Debug, Serialize)]
pub struct Confusion {
    pub predicted: String,
    pub corrected: String,
    pub count: usize,
}

fn ranked(map: BTreeMap<(String, String), usize>) -> Vec<Confusion> {
    let mut list: Vec<Confusion> = map
        .into_iter()
        .map(|((predicted, corrected), count)| Confusion {
            predicted,
            corrected,
            count,
        })
        .collect();
    list.sort_by_key(|c| std::cmp::Reverse(c.count));
    list
}

/// Compares `before` and `after` (text → predicted intent) on `rows` (text, corrected intent).
pub fn compare(
    rows: &[(String, String)],
    before: impl Fn(&str) -> String,
    after: impl Fn(&str) -> String,
) -> FixReport {
    let mut r = FixReport::default();
    let (mut fixed, mut wrong) = (BTreeMap::new(), BTreeMap::new());
    for (text, corrected) in rows.iter().filter(|(_, c)| c != "oos") {
        r.corrections += 1;
        let (b, a) = (before(text), after(text));
        r.right_before += usize::from(b == *corrected);
        r.right_after += usize::from(a == *corrected);
        if a == *corrected && b != *corrected {
            *fixed.entry((b, corrected.clone())).or_insert(0) += 1;
        } else if a != *corrected {
            *wrong.entry((a, corrected.clone())).or_insert(0) += 1;
        }
    }
    r.fixed = ranked(fixed);
    r.still_wrong = ranked(wrong);
    r
}

impl FixReport {
    pub fn print(&self, label_before: &str) {
        eprintln!(
            "corrected utterances classified as corrected: {}/{} with {label_before}, {}/{} now",
            self.right_before, self.corrections, self.right_after, self.corrections
        );
        if !self.fixed.is_empty() {
            eprintln!("confusions fixed (was → corrected):");
            for c in &self.fixed {
                eprintln!("  {:>4}  {} → {}", c.count, c.predicted, c.corrected);
            }
        }
        if !self.still_wrong.is_empty() {
            eprintln!("still wrong (predicted → corrected):");
            for c in &self.still_wrong {
                eprintln!("  {:>4}  {} → {}", c.count, c.predicted, c.corrected);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_fixed_and_remaining_confusions() {
        let rows: Vec<(String, String)> = [
            ("a", "refund"),
            ("b", "refund"),
            ("c", "shipping"),
            ("d", "oos"),
        ]
        .iter()
        .map(|(t, c)| (t.to_string(), c.to_string()))
        .collect();
        let before = |t: &str| if t == "c" { "shipping" } else { "order" }.to_string();
        let after = |t: &str| if t == "b" { "order" } else { "refund" }.to_string();
        let r = compare(&rows, before, after);
        assert_eq!((r.corrections, r.right_before, r.right_after), (3, 1, 1));
        assert_eq!(r.fixed.len(), 1);
        assert_eq!(
            (r.fixed[0].predicted.as_str(), r.fixed[0].count),
            ("order", 1)
        );
        let wrong: Vec<(&str, &str)> = r
            .still_wrong
            .iter()
            .map(|c| (c.predicted.as_str(), c.corrected.as_str()))
            .collect();
        assert_eq!(wrong, [("order", "refund"), ("refund", "shipping")]);
    }
}
