//! Knowledge gaps (docs/graph.md, "Gaps"): the customer questions the bot could not answer,
//! clustered by meaning (the encoder's sentence embeddings, so a Chinese and an English
//! question about the same thing meet) and ranked by how often they come and how often the
//! conversation then went to a person.
//!
//! Clustering is average-linkage agglomerative over the embeddings' cosines. Measured against
//! single-pass centroid clustering with `kb-loader eval-gaps` (docs/kb-loader.md, "Gap
//! clustering"), it scored a higher F1 of purity and inverse purity on both data sets.

use serde::Serialize;
use std::collections::BTreeMap;

/// Two clusters whose mean pairwise cosine reaches this merge. Chosen with `kb-loader
/// eval-gaps` (docs/kb-loader.md, "Gap clustering"): within a point of the best F1 of purity
/// and inverse purity on both the sample KB's FAQ paraphrases and BANKING77.
pub const GAP_SIMILARITY: f32 = 0.50;
/// The most questions clustered per request (the most recent in range): the similarity
/// matrix is n² floats.
pub const MAX_QUESTIONS: usize = 500;
/// Examples shown per cluster.
pub const EXAMPLES_PER_CLUSTER: usize = 3;

/// One unanswered question, as the knowledge store keeps it (text already PII-masked).
#[derive(Clone, Debug, PartialEq)]
pub struct Question {
    /// `<conversation id>:<turn>`, unique in the knowledge store.
    pub id: String,
    /// The customer's question, PII-masked.
    pub text: String,
    /// The reply language of its turn, `zh` or `en`.
    pub lang: String,
    /// The classifier's guess when it was in scope.
    pub intent: Option<String>,
    /// Unit length.
    pub embedding: Vec<f32>,
    /// The conversation went to a person (then or later).
    pub handed_off: bool,
    /// When it was asked, ms since the Unix epoch.
    pub created_at_ms: i64,
}

/// One of a cluster's questions, shown as an example.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Example {
    /// The question, PII-masked.
    pub text: String,
    /// `zh` or `en`.
    pub lang: String,
    /// Cosine to the cluster's centroid: the first example is the most typical.
    pub similarity: f64,
}

/// How many of a cluster's questions the classifier put under one in-scope intent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IntentCount {
    /// An in-scope intent the classifier guessed.
    pub intent: String,
    /// Questions of the cluster with this guess.
    pub count: usize,
}

/// Questions that mean the same thing, as `GET /v1/knowledge/gaps` lists them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cluster {
    /// The id of the cluster's earliest question: stable while that question is in range.
    pub id: String,
    /// How many questions it holds.
    pub questions: usize,
    /// How many of them were in a conversation that went to a person.
    pub handed_off: usize,
    /// `questions + handed_off`: each question counts, and counts again when a person had
    /// to take the conversation.
    pub score: usize,
    /// Language (`zh`, `en`) → questions in it.
    pub languages: BTreeMap<String, usize>,
    /// The classifier's guesses, most frequent first (at most three).
    pub intents: Vec<IntentCount>,
    /// Its earliest question's time, ms since the Unix epoch (served as `first_seen`).
    #[serde(skip)]
    pub first_seen_ms: i64,
    /// Its latest question's time, ms since the Unix epoch (served as `last_seen`).
    #[serde(skip)]
    pub last_seen_ms: i64,
    /// Up to [`EXAMPLES_PER_CLUSTER`] distinct questions, the most typical first.
    pub examples: Vec<Example>,
    /// Its questions' ids (what attaches drafts to it).
    #[serde(skip)]
    pub members: Vec<String>,
}

/// The clusters of `questions`, highest score first (then most recent).
pub fn clusters(questions: &[Question], threshold: f32) -> Vec<Cluster> {
    let vectors: Vec<&[f32]> = questions.iter().map(|q| q.embedding.as_slice()).collect();
    let labels = cluster_labels(&vectors, threshold);
    let count = labels.iter().max().map_or(0, |m| m + 1);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (i, &l) in labels.iter().enumerate() {
        members[l].push(i);
    }
    let mut out: Vec<Cluster> = members
        .into_iter()
        .filter(|m| !m.is_empty())
        .map(|m| summarise(questions, &m))
        .collect();
    out.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then(b.last_seen_ms.cmp(&a.last_seen_ms))
            .then_with(|| a.id.cmp(&b.id))
    });
    out
}

fn summarise(questions: &[Question], members: &[usize]) -> Cluster {
    let vectors: Vec<&[f32]> = members
        .iter()
        .map(|&i| questions[i].embedding.as_slice())
        .collect();
    let mut sum = vec![0.0; vectors[0].len()];
    for v in &vectors {
        add(&mut sum, v);
    }
    let centroid = unit(&sum);
    let mut by_similarity: Vec<(usize, f32)> = members
        .iter()
        .map(|&i| (i, dot(&centroid, &questions[i].embedding)))
        .collect();
    by_similarity.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut examples: Vec<Example> = Vec::new();
    for (i, similarity) in by_similarity {
        let q = &questions[i];
        if examples.len() < EXAMPLES_PER_CLUSTER && !examples.iter().any(|e| e.text == q.text) {
            examples.push(Example {
                text: q.text.clone(),
                lang: q.lang.clone(),
                similarity: (f64::from(similarity) * 1000.0).round() / 1000.0,
            });
        }
    }
    let mut languages = BTreeMap::new();
    let mut intents = BTreeMap::<&str, usize>::new();
    for &i in members {
        *languages.entry(questions[i].lang.clone()).or_default() += 1;
        if let Some(intent) = &questions[i].intent {
            *intents.entry(intent).or_default() += 1;
        }
    }
    let mut intents: Vec<IntentCount> = intents
        .into_iter()
        .map(|(intent, count)| IntentCount {
            intent: intent.to_string(),
            count,
        })
        .collect();
    intents.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.intent.cmp(&b.intent)));
    intents.truncate(3);
    let earliest = members
        .iter()
        .min_by_key(|&&i| (questions[i].created_at_ms, &questions[i].id))
        .copied()
        .unwrap_or(members[0]);
    let handed_off = members.iter().filter(|&&i| questions[i].handed_off).count();
    Cluster {
        id: questions[earliest].id.clone(),
        questions: members.len(),
        handed_off,
        score: members.len() + handed_off,
        languages,
        intents,
        first_seen_ms: members
            .iter()
            .map(|&i| questions[i].created_at_ms)
            .min()
            .unwrap_or(0),
        last_seen_ms: members
            .iter()
            .map(|&i| questions[i].created_at_ms)
            .max()
            .unwrap_or(0),
        examples,
        members: members.iter().map(|&i| questions[i].id.clone()).collect(),
    }
}

/// Purity, inverse purity and their harmonic mean (F1) of `found` labels against `truth`:
/// purity is the share of questions in their cluster's majority class (high when clusters do
/// not mix topics), inverse purity the share in their class's majority cluster (high when a
/// topic is not split).
pub fn purity(found: &[usize], truth: &[usize]) -> (f64, f64, f64) {
    fn majority_share(a: &[usize], b: &[usize]) -> f64 {
        let mut counts = BTreeMap::<(usize, usize), usize>::new();
        for (&x, &y) in a.iter().zip(b) {
            *counts.entry((x, y)).or_default() += 1;
        }
        let mut best = BTreeMap::<usize, usize>::new();
        for ((x, _), n) in counts {
            let b = best.entry(x).or_default();
            *b = (*b).max(n);
        }
        best.values().sum::<usize>() as f64 / a.len().max(1) as f64
    }
    let p = majority_share(found, truth);
    let ip = majority_share(truth, found);
    let f1 = if p + ip > 0.0 {
        2.0 * p * ip / (p + ip)
    } else {
        0.0
    };
    (p, ip, f1)
}

fn renumber(labels: &mut [usize]) {
    let mut map = BTreeMap::new();
    for l in labels.iter_mut() {
        let next = map.len();
        *l = *map.entry(*l).or_insert(next);
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn add(sum: &mut [f32], v: &[f32]) {
    for (s, x) in sum.iter_mut().zip(v) {
        *s += x;
    }
}

fn unit(v: &[f32]) -> Vec<f32> {
    let n = dot(v, v).sqrt();
    if n > 0.0 {
        v.iter().map(|x| x / n).collect()
    } else {
        v.to_vec()
    }
}

/// Cluster labels for `vectors` (unit length) by average-linkage agglomerative clustering:
/// the two clusters of highest mean pairwise cosine merge until no pair reaches `threshold`.
/// `labels[i]` is vector `i`'s cluster, numbered from 0 in order of first appearance.
/// O(n²) memory and O(n² · merges) time: callers cap n ([`MAX_QUESTIONS`]).
pub fn cluster_labels(vectors: &[&[f32]], threshold: f32) -> Vec<usize> {
    let n = vectors.len();
    let mut sim = vec![0f32; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let s = dot(vectors[i], vectors[j]);
            sim[i * n + j] = s;
            sim[j * n + i] = s;
        }
    }
    let mut size = vec![1usize; n];
    let mut alive = vec![true; n];
    let mut label: Vec<usize> = (0..n).collect();
    // Each live cluster's most similar other one: a merge then costs O(n) (its row, and the
    // rows whose nearest it was) instead of a search of the whole matrix.
    let nearest_of = |i: usize, sim: &[f32], alive: &[bool]| {
        let mut best = (f32::MIN, usize::MAX);
        for j in (0..n).filter(|&j| j != i && alive[j]) {
            if sim[i * n + j] > best.0 {
                best = (sim[i * n + j], j);
            }
        }
        best
    };
    let mut nearest: Vec<(f32, usize)> = (0..n).map(|i| nearest_of(i, &sim, &alive)).collect();
    while let Some(i) = (0..n)
        .filter(|&i| alive[i] && nearest[i].1 != usize::MAX)
        .max_by(|&x, &y| nearest[x].0.total_cmp(&nearest[y].0).then(y.cmp(&x)))
    {
        let (s, j) = nearest[i];
        if s < threshold {
            break;
        }
        let (a, b) = (i.min(j), i.max(j));
        // Lance–Williams: the merged cluster's mean similarity to each other cluster.
        for k in 0..n {
            if alive[k] && k != a && k != b {
                let merged = (sim[a * n + k] * size[a] as f32 + sim[b * n + k] * size[b] as f32)
                    / (size[a] + size[b]) as f32;
                sim[a * n + k] = merged;
                sim[k * n + a] = merged;
            }
        }
        size[a] += size[b];
        alive[b] = false;
        for l in label.iter_mut() {
            if *l == b {
                *l = a;
            }
        }
        nearest[a] = nearest_of(a, &sim, &alive);
        for k in (0..n).filter(|&k| alive[k] && k != a) {
            if nearest[k].1 == a || nearest[k].1 == b {
                nearest[k] = nearest_of(k, &sim, &alive);
            } else if sim[k * n + a] > nearest[k].0 {
                nearest[k] = (sim[k * n + a], a);
            }
        }
    }
    renumber(&mut label);
    label
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit_of(v: &[f32]) -> Vec<f32> {
        unit(v)
    }

    fn q(id: &str, lang: &str, v: &[f32], handed_off: bool, at: i64) -> Question {
        Question {
            id: id.into(),
            text: format!("text {id}"),
            lang: lang.into(),
            intent: None,
            embedding: unit_of(v),
            handed_off,
            created_at_ms: at,
        }
    }

    #[test]
    fn near_questions_share_a_cluster_and_the_frequent_handed_off_one_ranks_first() {
        let questions = [
            q("a1", "zh", &[1.0, 0.05, 0.0], false, 1),
            q("b1", "en", &[0.0, 1.0, 0.1], true, 2),
            q("a2", "en", &[0.95, 0.0, 0.1], false, 3),
            q("b2", "zh", &[0.1, 0.97, 0.0], true, 4),
            q("c1", "en", &[0.0, 0.0, 1.0], false, 5),
            q("a3", "zh", &[1.0, 0.1, 0.05], false, 6),
        ];
        let found = clusters(&questions, GAP_SIMILARITY);
        let ids: Vec<(&str, usize, usize)> = found
            .iter()
            .map(|c| (c.id.as_str(), c.questions, c.score))
            .collect();
        // b: 2 questions, both handed off → 4; a: 3 questions → 3; c: 1.
        assert_eq!(ids, [("b1", 2, 4), ("a1", 3, 3), ("c1", 1, 1)]);
        assert_eq!(
            found[1].languages,
            BTreeMap::from([("en".into(), 1), ("zh".into(), 2)])
        );
        assert_eq!(found[1].examples.len(), EXAMPLES_PER_CLUSTER);
        assert!(found[1].examples[0].similarity >= found[1].examples[2].similarity);
        assert_eq!((found[1].first_seen_ms, found[1].last_seen_ms), (1, 6));
    }

    #[test]
    fn purity_is_one_for_a_perfect_clustering_and_falls_when_topics_mix_or_split() {
        let truth = [0, 0, 1, 1];
        assert_eq!(purity(&[5, 5, 7, 7], &truth), (1.0, 1.0, 1.0));
        let (p, ip, _) = purity(&[0, 0, 0, 0], &truth);
        assert_eq!((p, ip), (0.5, 1.0));
        let (p, ip, _) = purity(&[0, 1, 2, 3], &truth);
        assert_eq!((p, ip), (1.0, 0.5));
    }

    /// The textbook algorithm: search the whole matrix for the closest pair on every merge.
    fn naive(vectors: &[Vec<f32>], threshold: f32) -> Vec<usize> {
        let n = vectors.len();
        let mut members: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
        loop {
            let mean = |a: &[usize], b: &[usize]| {
                let sum: f32 = a
                    .iter()
                    .flat_map(|&i| b.iter().map(move |&j| (i, j)))
                    .map(|(i, j)| dot(&vectors[i], &vectors[j]))
                    .sum();
                sum / (a.len() * b.len()) as f32
            };
            let mut best = (f32::MIN, 0, 0);
            for a in 0..members.len() {
                for b in a + 1..members.len() {
                    let s = mean(&members[a], &members[b]);
                    if s > best.0 {
                        best = (s, a, b);
                    }
                }
            }
            if members.len() < 2 || best.0 < threshold {
                break;
            }
            let merged = members.remove(best.2);
            members[best.1].extend(merged);
        }
        let mut labels = vec![0; n];
        for (c, m) in members.iter().enumerate() {
            for &i in m {
                labels[i] = c;
            }
        }
        renumber(&mut labels);
        labels
    }

    #[test]
    fn the_nearest_neighbour_cache_merges_as_the_textbook_algorithm_does() {
        // Three loose topics in 8 dimensions, plus noise (a fixed LCG).
        let mut seed = 42u64;
        let mut noise = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        let vectors: Vec<Vec<f32>> = (0..60)
            .map(|i| {
                let v: Vec<f32> = (0..8)
                    .map(|d| if d == i % 3 { 1.0 } else { 0.0 } + 0.8 * noise())
                    .collect();
                unit(&v)
            })
            .collect();
        let refs: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
        for threshold in [0.3, 0.5, 0.7] {
            let fast = cluster_labels(&refs, threshold);
            assert_eq!(fast, naive(&vectors, threshold), "threshold {threshold}");
            assert!(
                fast.iter().max().unwrap() > &1,
                "more than one cluster at {threshold}"
            );
        }
    }

    #[test]
    fn labels_are_numbered_in_order_of_appearance() {
        let v: Vec<Vec<f32>> = [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]
            .iter()
            .map(|x| unit_of(x))
            .collect();
        let refs: Vec<&[f32]> = v.iter().map(Vec::as_slice).collect();
        assert_eq!(cluster_labels(&refs, 0.9), [0, 1, 0]);
        assert!(cluster_labels(&[], 0.9).is_empty());
    }
}
