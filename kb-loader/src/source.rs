//! Reading training data from disk: a KB folder or a `text,category` CSV, plus the hash that
//! names the model version.

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use std::path::Path;
use tandem_core::kb::{self, Severity, SourceFile, TrainingSet};

/// Training data with the hash of the bytes it came from.
pub struct Source {
    pub set: TrainingSet,
    /// The parsed KB (none for a CSV): FAQ, handoff policy and examples beyond intents.
    pub kb: Option<kb::KnowledgeBase>,
    /// Hex sha256 over every source file (name, length, bytes), in name order.
    pub hash: String,
    pub warnings: Vec<String>,
}

const KB_FILES: [&str; 5] = [
    "kb.yaml",
    "intents.yaml",
    "faq.yaml",
    "handoff.yaml",
    tandem_core::kb::ACCEPTED_DRAFTS_FILE,
];

/// Loads `path`: a folder is a KB, a file a CSV. Validation errors fail with all of them listed.
pub fn load(path: &Path) -> anyhow::Result<Source> {
    let mut hasher = Sha256::new();
    let mut files = Vec::new();
    let csv = path.is_file();
    let paths: Vec<_> = if csv {
        vec![path.to_path_buf()]
    } else {
        KB_FILES
            .iter()
            .map(|f| path.join(f))
            .filter(|p| p.exists())
            .collect()
    };
    for p in &paths {
        let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        hash_file(&mut hasher, p, &bytes);
        let text =
            String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8", p.display()))?;
        files.push(SourceFile {
            path: p.display().to_string(),
            text,
        });
    }
    let mut warnings = Vec::new();
    let mut parsed = None;
    let set = if csv {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("csv")
            .to_string();
        TrainingSet::from_csv(&name, &files[0]).map_err(|d| anyhow::anyhow!("{d}"))?
    } else {
        let loaded = kb::load(&files);
        for d in &loaded.diagnostics {
            if d.severity == Severity::Warning {
                warnings.push(d.to_string());
            }
        }
        let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
        match loaded.kb {
            Some(kb) => {
                let set = TrainingSet::from_kb(&kb);
                parsed = Some(kb);
                set
            }
            None => bail!(
                "the KB has {} error(s):\n{}",
                errors.len(),
                errors.join("\n")
            ),
        }
    };
    Ok(Source {
        set,
        kb: parsed,
        hash: hex(&hasher.finalize()),
        warnings,
    })
}

/// Appends agent corrections: a `text,category` CSV, or the JSON Lines that
/// `GET /v1/feedback/export` writes (`{"text": ..., "intent": ...}` per line; other members are
/// provenance and ignored; lines with only an `faq` correction are not intent training data and
/// are skipped). A corrected text takes its new label, replacing any example with the same
/// normalised text; `oos` joins the out-of-scope set. Prints what changed per intent.
/// Merges a corrections file into `src`; returns its rows as (text, intent or `oos`).
pub fn apply_corrections(src: &mut Source, path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = Sha256::new();
    hasher.update(src.hash.as_bytes());
    hash_file(&mut hasher, path, &bytes);
    src.hash = hex(&hasher.finalize());
    let file = SourceFile {
        path: path.display().to_string(),
        text: String::from_utf8(bytes)
            .with_context(|| format!("{} is not UTF-8", path.display()))?,
    };
    let (rows, skipped) = if is_jsonl(path, &file.text) {
        parse_jsonl(&file)?
    } else {
        (kb::parse_csv(&file).map_err(|d| anyhow::anyhow!("{d}"))?, 0)
    };
    let n = rows.len();
    let mut applied = Vec::with_capacity(n);
    // intent → (added, relabelled: the text was an example of another intent, unchanged: it
    // already was an example of this one).
    let mut report: std::collections::BTreeMap<String, [usize; 3]> = Default::default();
    for (line, text, category) in rows {
        applied.push((text.clone(), category.clone()));
        let norm = tandem_core::foundation::text::normalize(&text);
        let label = if category == "oos" {
            None
        } else {
            match src.set.labels.iter().position(|l| *l == category) {
                Some(label) => Some(label),
                None => bail!("{}:{line}: unknown intent \"{category}\"", path.display()),
            }
        };
        let before: Vec<usize> = src
            .set
            .examples
            .iter()
            .filter(|e| tandem_core::foundation::text::normalize(&e.text) == norm)
            .map(|e| e.label)
            .collect();
        let entry = report.entry(category.clone()).or_default();
        if label.is_some() && !before.is_empty() && before.iter().all(|&l| Some(l) == label) {
            entry[2] += 1;
            continue;
        }
        entry[if before.is_empty() { 0 } else { 1 }] += 1;
        src.set
            .examples
            .retain(|e| tandem_core::foundation::text::normalize(&e.text) != norm);
        match label {
            None => src.set.oos.push(text),
            Some(label) => src.set.examples.push(kb::Example { text, label }),
        }
    }
    eprintln!(
        "corrections from {}: {n} lines{}",
        path.display(),
        if skipped > 0 {
            format!(", {skipped} FAQ-only lines skipped")
        } else {
            String::new()
        }
    );
    for (intent, [added, relabelled, unchanged]) in &report {
        eprintln!(
            "  {intent}: +{added} new examples, {relabelled} relabelled from another intent, \
             {unchanged} already there"
        );
    }
    Ok(applied)
}

fn is_jsonl(path: &Path, text: &str) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("jsonl" | "ndjson")
    ) || text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('{')
}

/// One correction of the feedback export.
#[derive(serde::Deserialize)]
struct CorrectionLine {
    text: String,
    #[serde(default)]
    intent: Option<String>,
    #[serde(default)]
    faq: Option<String>,
}

/// `(line, text, intent)` rows of a corrections file.
type Rows = Vec<(usize, String, String)>;

/// The rows of a JSON Lines export, and how many FAQ-only lines it skipped.
fn parse_jsonl(file: &SourceFile) -> anyhow::Result<(Rows, usize)> {
    let mut rows = Vec::new();
    let mut skipped = 0;
    for (i, line) in file.text.trim_start_matches('\u{feff}').lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let c: CorrectionLine = serde_json::from_str(line)
            .map_err(|e| anyhow::anyhow!("{}:{}: {e}", file.path, i + 1))?;
        match c.intent {
            Some(intent) if !c.text.trim().is_empty() => {
                rows.push((i + 1, c.text.trim().to_string(), intent))
            }
            Some(_) => bail!("{}:{}: empty text", file.path, i + 1),
            None if c.faq.is_some() => skipped += 1,
            None => bail!("{}:{}: neither intent nor faq", file.path, i + 1),
        }
    }
    Ok((rows, skipped))
}

fn hash_file(hasher: &mut Sha256, path: &Path, bytes: &[u8]) {
    // The file name (not the folder) so that the same KB hashes the same wherever it lives.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    hasher.update(name.as_bytes());
    hasher.update([0]);
    hasher.update((bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
