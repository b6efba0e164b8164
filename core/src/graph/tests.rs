//! The sample KB's graph, checked against the YAML read independently (serde_yaml values, not
//! the KB types), and the queries and live merge on small graphs.

use super::compile::{Centroids, compile};
use super::live::{IntentOutcomes, LiveCounts, PairCount, merge};
use super::*;
use crate::kb::{KnowledgeBase, SourceFile, load};
use serde_yaml::Value;
use std::collections::BTreeSet;

const FILES: [(&str, &str); 4] = [
    ("kb/kb.yaml", include_str!("../../../kb/kb.yaml")),
    ("kb/intents.yaml", include_str!("../../../kb/intents.yaml")),
    ("kb/faq.yaml", include_str!("../../../kb/faq.yaml")),
    ("kb/handoff.yaml", include_str!("../../../kb/handoff.yaml")),
];

fn sample_kb() -> KnowledgeBase {
    let files: Vec<SourceFile> = FILES
        .iter()
        .map(|(path, text)| SourceFile {
            path: path.to_string(),
            text: text.to_string(),
        })
        .collect();
    load(&files).kb.expect("the sample KB loads")
}

fn yaml(name: &str) -> Value {
    let text = FILES.iter().find(|f| f.0.ends_with(name)).unwrap().1;
    serde_yaml::from_str(text).unwrap()
}

fn seq<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_sequence()
        .unwrap_or_else(|| panic!("{key} is a list"))
}

fn has_edge(g: &Graph, from: &str, kind: EdgeKind, to: &str) -> bool {
    g.edges
        .iter()
        .any(|e| e.from == from && e.kind == kind && e.to == to)
}

fn edge_set(g: &Graph, kind: EdgeKind) -> BTreeSet<(String, String)> {
    g.edges
        .iter()
        .filter(|e| e.kind == kind)
        .map(|e| (e.from.clone(), e.to.clone()))
        .collect()
}

#[test]
fn the_sample_kb_graph_has_what_the_yaml_implies() {
    let g = compile(&sample_kb(), "v", "h", &Centroids::new()).unwrap();
    let ids: BTreeSet<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids.len(), g.nodes.len(), "node ids are unique");

    let (meta, intents, faq, handoff) = (
        yaml("kb.yaml"),
        yaml("intents.yaml"),
        yaml("faq.yaml"),
        yaml("handoff.yaml"),
    );
    let mut expected = BTreeSet::new();
    for q in seq(&meta, "queues") {
        let id = format!("queue:{}", q["id"].as_str().unwrap());
        if let Some(hours) = q["hours"].as_str() {
            expected.insert((id.clone(), format!("calendar:{hours}")));
        }
        assert!(ids.contains(id.as_str()), "{id}");
    }
    assert_eq!(edge_set(&g, EdgeKind::StaffedBy), expected);

    let mut routes = BTreeSet::new();
    for i in seq(&intents, "intents") {
        let id = format!("intent:{}", i["id"].as_str().unwrap());
        assert!(ids.contains(id.as_str()), "{id}");
        if let Some(q) = i["queue"].as_str() {
            routes.insert((id.clone(), format!("queue:{q}")));
        }
        if i["templates"].is_mapping() {
            let t = format!("template:{}", i["id"].as_str().unwrap());
            assert!(
                has_edge(&g, &id, EdgeKind::UsesTemplate, &t),
                "{id} uses {t}"
            );
            if i["templates"]["en"]
                .as_str()
                .unwrap()
                .contains("{order_id}")
            {
                assert!(has_edge(&g, &t, EdgeKind::Fills, "entity:order_id"), "{t}");
            }
        }
    }
    let (mut answers, mut about, mut tags) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for f in seq(&faq, "faq")
        .iter()
        .filter(|f| f["enabled"].as_bool() != Some(false))
    {
        let id = format!("faq:{}", f["id"].as_str().unwrap());
        assert!(ids.contains(id.as_str()), "{id}");
        if let Some(i) = f["intent"].as_str() {
            answers.insert((id.clone(), format!("intent:{i}")));
        }
        for t in f["tags"].as_sequence().into_iter().flatten() {
            tags.insert(format!("tag:{}", t.as_str().unwrap()));
            about.insert((id.clone(), format!("tag:{}", t.as_str().unwrap())));
        }
    }
    for r in seq(&handoff, "rules") {
        let id = format!("rule:{}", r["id"].as_str().unwrap());
        if let Some(q) = r["queue"].as_str() {
            routes.insert((id.clone(), format!("queue:{q}")));
        }
        if let Some(t) = r["when"]["sensitive_topic"]
            .as_str()
            .filter(|t| *t != "any")
        {
            about.insert((id.clone(), format!("topic:{t}")));
        }
        if let Some(i) = r["when"]["intent"].as_str() {
            about.insert((id.clone(), format!("intent:{i}")));
        }
    }
    assert!(!routes.is_empty() && !answers.is_empty() && !tags.is_empty());
    assert_eq!(edge_set(&g, EdgeKind::RoutesTo), routes);
    assert_eq!(edge_set(&g, EdgeKind::Answers), answers);
    assert_eq!(edge_set(&g, EdgeKind::About), about);
    let tag_nodes: BTreeSet<String> = g
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Tag)
        .map(|n| n.id.clone())
        .collect();
    assert_eq!(tag_nodes, tags);
    // order_status's examples carry order numbers; the share is theirs, counted here.
    let examples: Vec<&str> = seq(&intents, "intents")
        .iter()
        .find(|i| i["id"].as_str() == Some("order_status"))
        .map(|i| {
            ["zh", "en"]
                .iter()
                .flat_map(|l| i["examples"][*l].as_sequence().unwrap())
                .map(|e| e.as_str().unwrap())
                .collect()
        })
        .unwrap();
    let with_number = examples
        .iter()
        .filter(|e| e.contains("TD2026") || e.contains("202611261234567"))
        .count();
    let mention = g
        .edges
        .iter()
        .find(|e| e.from == "intent:order_status" && e.kind == EdgeKind::Mentions)
        .expect("order_status mentions order_id");
    assert_eq!(mention.weight, with_number as f64 / examples.len() as f64);
    assert!(
        g.edges
            .iter()
            .all(|e| ids.contains(e.from.as_str()) && ids.contains(e.to.as_str()))
    );
}

fn unit(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

#[test]
fn similar_to_keeps_the_nearest_above_the_floor_once_per_pair() {
    let mut kb = sample_kb();
    kb.intents.truncate(4);
    kb.faq.clear();
    let ids: Vec<String> = kb
        .intents
        .iter()
        .map(|i| format!("intent:{}", i.id))
        .collect();
    let centroids: Centroids = [
        (ids[0].clone(), unit(&[1.0, 0.0, 0.0])),
        (ids[1].clone(), unit(&[1.0, 0.2, 0.0])),
        (ids[2].clone(), unit(&[0.9, 0.0, 0.5])),
        (ids[3].clone(), unit(&[0.0, 0.0, 1.0])),
    ]
    .into();
    let g = compile(&kb, "v", "h", &centroids).unwrap();
    let similar: Vec<&Edge> = g
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::SimilarTo)
        .collect();
    let pair = |a: &str, b: &str| {
        similar
            .iter()
            .find(|e| (e.from == a && e.to == b) || (e.from == b && e.to == a))
    };
    assert!(pair(&ids[0], &ids[1]).unwrap().weight > 0.97);
    assert!(pair(&ids[0], &ids[2]).is_some());
    // 0 and 3 are orthogonal; 2 and 3 at ~0.49: under the floor.
    assert!(pair(&ids[0], &ids[3]).is_none() && pair(&ids[2], &ids[3]).is_none());
    assert_eq!(similar.len(), 3, "{similar:?}");
}

fn small() -> Graph {
    let node = |kind: NodeKind, key: &str| Node {
        id: kind.id(key),
        kind,
        label: [("en".to_string(), key.to_string())].into(),
        stats: Default::default(),
    };
    let edge = |from: &str, to: &str, kind: EdgeKind, weight: f64| Edge {
        from: from.into(),
        to: to.into(),
        kind,
        weight,
        count: None,
        origin: Origin::Kb,
    };
    Graph {
        format: GRAPH_FORMAT,
        graph_version: "v".into(),
        kb_name: "t".into(),
        kb_hash: "h".into(),
        nodes: vec![
            node(NodeKind::Intent, "a"),
            node(NodeKind::Intent, "b"),
            node(NodeKind::Faq, "fa"),
            node(NodeKind::Queue, "q"),
            node(NodeKind::Calendar, "c"),
            node(NodeKind::Tag, "lonely"),
        ],
        edges: vec![
            edge("faq:fa", "intent:a", EdgeKind::Answers, 1.0),
            edge("intent:a", "queue:q", EdgeKind::RoutesTo, 1.0),
            edge("intent:b", "queue:q", EdgeKind::RoutesTo, 1.0),
            edge("queue:q", "calendar:c", EdgeKind::StaffedBy, 1.0),
            edge("intent:a", "intent:b", EdgeKind::SimilarTo, 0.7),
            edge("intent:a", "queue:gone", EdgeKind::RoutesTo, 1.0),
        ],
    }
}

#[test]
fn neighbours_path_and_subgraph() {
    let index = GraphIndex::new(small());
    assert_eq!(index.graph().edges.len(), 5, "the dangling edge is dropped");
    let a = index.neighbours("intent:a", None, 10).unwrap();
    assert_eq!(a.degree, 3);
    assert_eq!(a.neighbours[2].node.id, "intent:b", "heaviest first: {a:?}");
    let faq_in = &index
        .neighbours("intent:a", Some(NodeKind::Faq), 10)
        .unwrap()
        .neighbours;
    assert_eq!(faq_in.len(), 1);
    assert_eq!(
        (faq_in[0].direction, faq_in[0].edge),
        ("in", EdgeKind::Answers)
    );
    assert_eq!(
        index
            .neighbours("intent:a", None, 1)
            .unwrap()
            .neighbours
            .len(),
        1
    );
    assert!(index.neighbours("intent:nope", None, 10).is_none());

    let path = index.path("faq:fa", "calendar:c", 6).unwrap();
    let ids: Vec<&str> = path.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["faq:fa", "intent:a", "queue:q", "calendar:c"]);
    assert_eq!(path.edges.len(), 3);
    assert!(
        index.path("faq:fa", "calendar:c", 2).is_none(),
        "three hops needed"
    );
    assert!(index.path("faq:fa", "tag:lonely", 6).is_none());
    assert_eq!(index.path("queue:q", "queue:q", 6).unwrap().nodes.len(), 1);

    let sub = index.subgraph(&[NodeKind::Intent, NodeKind::Queue], 10);
    assert_eq!(sub.nodes.len(), 3);
    assert_eq!(sub.edges.len(), 3, "{:?}", sub.edges);
    assert!(!sub.truncated);
    let top = index.subgraph(&[], 1);
    assert_eq!(
        (top.nodes[0].id.as_str(), top.truncated),
        ("intent:a", true)
    );
}

#[test]
fn live_counts_become_shares_and_stats() {
    let mut g = small();
    let pair = |from: &str, to: &str, count| PairCount {
        from: from.into(),
        to: to.into(),
        count,
    };
    merge(
        &mut g,
        &LiveCounts {
            corrections: vec![pair("a", "b", 3), pair("a", "a", 5), pair("a", "gone", 1)],
            resolutions: vec![pair("a", "fa", 4)],
            tickets: vec![pair("a", "q", 2), pair("none", "q", 7)],
            outcomes: vec![IntentOutcomes {
                intent: "a".into(),
                conversations: 10,
                resolved: 8,
                human: 2,
            }],
        },
    );
    let live: Vec<&Edge> = g
        .edges
        .iter()
        .filter(|e| e.origin == Origin::Live)
        .collect();
    assert_eq!(live.len(), 3, "{live:?}");
    let confused = live
        .iter()
        .find(|e| e.kind == EdgeKind::ConfusedWith)
        .unwrap();
    // 3 of the 4 real corrections (a → a is no confusion; a → gone counts in the share).
    assert_eq!(
        (confused.to.as_str(), confused.weight, confused.count),
        ("intent:b", 0.75, Some(3))
    );
    let resolved = live
        .iter()
        .find(|e| e.kind == EdgeKind::ResolvedBy)
        .unwrap();
    assert_eq!((resolved.to.as_str(), resolved.weight), ("faq:fa", 1.0));
    let a = g.nodes.iter().find(|n| n.id == "intent:a").unwrap();
    assert_eq!(a.stats["conversations"], 10);
    assert_eq!(a.stats["handled_by_human"], 2);
    assert_eq!(a.stats["tickets"], 2);
    assert_eq!(a.stats["corrected"], 4);
}

#[test]
fn a_graph_of_another_format_is_refused() {
    let mut g = small();
    g.format = 99;
    let err = Graph::from_json(&serde_json::to_vec(&g).unwrap()).unwrap_err();
    assert!(err.to_string().contains("rebuild the models"), "{err}");
}
