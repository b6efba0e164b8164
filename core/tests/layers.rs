//! The core's layering rule (see `src/lib.rs`), checked on the sources: every file under `src/`
//! belongs to a layer, and its `crate::…` paths may only point to its own layer or below.
//! Modules never form an import cycle, in any layer.
//!
//! 0. `foundation/*`: text, features, pii, time, calendar, problem, vocab
//! 1. `model/*`: linear model, ONNX export, the tract runner
//! 2. `kb`: the knowledge base
//! 3. capabilities: intent, faq, ticket, handoff, feedback, webhook, gaps, eval
//! 4. composites over several capabilities: assist, drafts, graph
//!
//! The unit of the cycle check is a module: `foundation::text`, `model::tract`, `handoff` (with
//! its sub-modules), … A file's comments are ignored (doc links may point anywhere); its tests
//! are not: a test module lives in its layer too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const FOUNDATION: u8 = 0;
const MODEL: u8 = 1;
const KB: u8 = 2;
const CAPABILITY: u8 = 3;
const COMPOSITE: u8 = 4;

const LAYER_NAMES: [&str; 5] = ["foundation", "model", "kb", "capability", "composite"];

/// The layer of a top-level module of the crate; none = not placed yet.
fn layer_of(top: &str) -> Option<u8> {
    match top {
        "foundation" => Some(FOUNDATION),
        "model" => Some(MODEL),
        "kb" => Some(KB),
        "intent" | "faq" | "ticket" | "handoff" | "feedback" | "webhook" | "gaps" | "eval" => {
            Some(CAPABILITY)
        }
        "assist" | "drafts" | "graph" => Some(COMPOSITE),
        _ => None,
    }
}

/// The module a path under `src/` belongs to: `foundation::text`, `model::tract`, `handoff`.
/// Foundation and model modules are units of their own; a capability is one unit with its
/// sub-modules.
fn unit_of(segments: &[&str]) -> String {
    match segments {
        [top @ ("foundation" | "model"), sub, ..] => format!("{top}::{sub}"),
        [top, ..] => top.to_string(),
        [] => String::new(),
    }
}

fn layer_of_unit(unit: &str) -> Option<u8> {
    layer_of(unit.split("::").next().unwrap_or(""))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A source file's module path segments: `src/handoff/mod.rs` → `[handoff]`,
/// `src/foundation/text.rs` → `[foundation, text]`, `src/ticket/fill/tests.rs` →
/// `[ticket, fill, tests]`.
fn module_segments(rel: &Path) -> Vec<String> {
    let mut s: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if s.last().is_some_and(|l| l == "mod") {
        s.pop();
    }
    s
}

/// The code of a file without its comments (line and block comments; good enough for the
/// sources here, which keep `//` out of string literals that matter).
fn code_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut in_string = false;
    while let Some(c) = rest.chars().next() {
        if !in_string && rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            rest = &rest[end..];
            continue;
        }
        if !in_string && rest.starts_with("/*") {
            let end = rest.find("*/").map_or(rest.len(), |i| i + 2);
            rest = &rest[end..];
            continue;
        }
        if !in_string && (rest.starts_with("'\\\"'") || rest.starts_with("'\"'")) {
            // A quote as a char literal opens no string.
            let end = rest[1..].find('\'').unwrap() + 2;
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        if c == '\\' && in_string {
            let n = rest.chars().nth(1).map_or(0, char::len_utf8);
            out.push_str(&rest[..1 + n]);
            rest = &rest[1 + n..];
            continue;
        }
        if c == '"' {
            in_string = !in_string;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The modules a file's code names through `crate::`: `crate::kb::X` → `kb`,
/// `crate::foundation::{text, vocab::Role}` → `foundation::text`, `foundation::vocab`.
fn crate_references(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        if code[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue; // `tandem_crate::`, not ours
        }
        let rest = &code[at + "crate::".len()..];
        let mut heads: Vec<Vec<String>> = Vec::new();
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c}`: the first two segments of each item.
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for item in inner.split(',') {
                let item = item.trim();
                if !item.is_empty() {
                    heads.push(
                        item.split("::")
                            .take(2)
                            .map(|s| ident_at(s).to_string())
                            .collect(),
                    );
                }
            }
        } else {
            let top = ident_at(rest).to_string();
            let after = &rest[top.len()..];
            match (top.as_str(), after.strip_prefix("::")) {
                ("foundation" | "model", Some(sub)) if sub.starts_with('{') => {
                    let inner = &sub[1..sub.find('}').unwrap_or(sub.len())];
                    for item in inner.split(',') {
                        let item = item.trim();
                        if !item.is_empty() && item != "self" {
                            heads.push(vec![top.clone(), ident_at(item).to_string()]);
                        }
                    }
                }
                ("foundation" | "model", Some(sub)) => {
                    heads.push(vec![top.clone(), ident_at(sub).to_string()]);
                }
                _ => heads.push(vec![top]),
            }
        }
        for h in heads {
            let segs: Vec<&str> = h.iter().map(String::as_str).collect();
            found.insert(unit_of(&segs));
        }
    }
    found
}

struct Source {
    rel: PathBuf,
    unit: String,
    layer: Option<u8>,
    uses: BTreeSet<String>,
}

fn sources() -> Vec<Source> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let rel = path.strip_prefix(&src).unwrap().to_path_buf();
            if rel == Path::new("lib.rs") {
                return None;
            }
            let segments = module_segments(&rel);
            let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
            let unit = unit_of(&segs);
            let code = code_of(&std::fs::read_to_string(&path).unwrap());
            let uses = crate_references(&code)
                .into_iter()
                .filter(|u| *u != unit)
                .collect();
            Some(Source {
                layer: layer_of_unit(&unit),
                rel,
                unit,
                uses,
            })
        })
        .collect()
}

fn layer_name(l: Option<u8>) -> &'static str {
    l.map_or("unplaced", |l| LAYER_NAMES[usize::from(l)])
}

#[test]
fn every_module_has_a_layer() {
    let unplaced: Vec<String> = sources()
        .iter()
        .filter(|s| s.layer.is_none())
        .map(|s| format!("core/src/{} (module `{}`)", s.rel.display(), s.unit))
        .collect();
    assert!(
        unplaced.is_empty(),
        "these files belong to no layer: {unplaced:#?}\nPut the module under foundation/ or \
         model/, or add its name to `layer_of` in core/tests/layers.rs (and to the list in \
         core/src/lib.rs)."
    );
}

#[test]
fn imports_point_down_only() {
    let mut wrong = Vec::new();
    for s in sources() {
        let Some(layer) = s.layer else { continue };
        for used in &s.uses {
            let to = layer_of_unit(used);
            if to.is_none_or(|to| to > layer) {
                wrong.push(format!(
                    "core/src/{} ({} layer) imports crate::{used} ({} layer)",
                    s.rel.display(),
                    layer_name(Some(layer)),
                    layer_name(to),
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that point up a layer:\n  {}\nA layer uses only itself and the layers below \
         (foundation < model < kb < capability < composite). Move what both sides need down \
         (a shared type into foundation/vocab.rs, a helper into foundation/), or move the \
         importing code up into the module that uses it.",
        wrong.join("\n  ")
    );
}

/// The module graph: unit → (used unit → a file that uses it).
fn graph() -> BTreeMap<String, BTreeMap<String, PathBuf>> {
    let mut g: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for s in sources() {
        let edges = g.entry(s.unit.clone()).or_default();
        for used in s.uses {
            edges.entry(used).or_insert_with(|| s.rel.clone());
        }
    }
    g
}

/// A cycle through `start`, if any: the units in order.
fn cycle_from(g: &BTreeMap<String, BTreeMap<String, PathBuf>>, start: &str) -> Option<Vec<String>> {
    // Depth-first search for a path from `start`'s successors back to `start`.
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in g.get(&node).into_iter().flat_map(|e| e.keys()) {
            if next == start {
                return Some(path.clone());
            }
            if seen.insert(next.clone()) {
                let mut p = path.clone();
                p.push(next.clone());
                stack.push((next.clone(), p));
            }
        }
    }
    None
}

#[test]
fn modules_form_no_cycle() {
    let g = graph();
    let mut cycles = BTreeSet::new();
    for start in g.keys() {
        if let Some(c) = cycle_from(&g, start) {
            // One report per cycle: rotate it to start at its smallest unit.
            let min = c.iter().enumerate().min_by_key(|(_, u)| *u).unwrap().0;
            let mut c: Vec<String> = c[min..].iter().chain(&c[..min]).cloned().collect();
            c.push(c[0].clone());
            let steps: Vec<String> = c
                .windows(2)
                .map(|w| {
                    format!(
                        "{} → {} (in core/src/{})",
                        w[0],
                        w[1],
                        g[&w[0]][&w[1]].display()
                    )
                })
                .collect();
            cycles.insert(steps.join("\n    "));
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles between modules:\n    {}\nBreak each: move the type or function both \
         need into the lower module (or foundation/), so the dependency goes one way.",
        cycles.into_iter().collect::<Vec<_>>().join("\n  and\n    ")
    );
}

/// The checks above see the crate's real imports (a parser that finds nothing passes
/// everything).
#[test]
fn the_parser_sees_known_imports() {
    let g = graph();
    for (from, to) in [
        ("intent", "model::tract"),
        ("handoff", "kb"),
        ("kb", "foundation::vocab"),
        ("model::linear", "foundation::features"),
        ("drafts", "kb"),
        ("foundation::vocab", "foundation::text"),
    ] {
        assert!(
            g.get(from).is_some_and(|e| e.contains_key(to)),
            "expected {from} → {to} in {g:#?}"
        );
    }
    let refs = crate_references(&code_of(
        "use crate::{kb, foundation::text}; // crate::assist\nlet q = '\"'; let s = \"// x\"; crate::model::{linear, tract::Plan};",
    ));
    assert_eq!(
        refs,
        BTreeSet::from(
            ["kb", "foundation::text", "model::linear", "model::tract"].map(String::from)
        )
    );
}

#[test]
fn the_cycle_search_finds_cycles() {
    let edge = |to: &str| (to.to_string(), PathBuf::from("x.rs"));
    let g = BTreeMap::from([
        ("kb".to_string(), BTreeMap::from([edge("ticket")])),
        ("ticket".to_string(), BTreeMap::from([edge("handoff")])),
        ("handoff".to_string(), BTreeMap::from([edge("kb")])),
        ("faq".to_string(), BTreeMap::from([edge("kb")])),
    ]);
    assert_eq!(
        cycle_from(&g, "kb"),
        Some(vec!["kb".into(), "ticket".into(), "handoff".into()])
    );
    assert_eq!(cycle_from(&g, "faq"), None);
}
