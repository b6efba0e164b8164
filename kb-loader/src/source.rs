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

const KB_FILES: [&str; 4] = ["kb.yaml", "intents.yaml", "faq.yaml", "handoff.yaml"];

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

/// Appends agent corrections (`text,category` CSV): a corrected text takes its new label,
/// replacing any example with the same text; `oos` rows join the out-of-scope set.
pub fn apply_corrections(src: &mut Source, path: &Path) -> anyhow::Result<usize> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = Sha256::new();
    hasher.update(src.hash.as_bytes());
    hash_file(&mut hasher, path, &bytes);
    src.hash = hex(&hasher.finalize());
    let file = SourceFile {
        path: path.display().to_string(),
        text: String::from_utf8(bytes)?,
    };
    let rows = kb::parse_csv(&file).map_err(|d| anyhow::anyhow!("{d}"))?;
    let n = rows.len();
    for (line, text, category) in rows {
        let norm = tandem_core::text::normalize(&text);
        src.set
            .examples
            .retain(|e| tandem_core::text::normalize(&e.text) != norm);
        if category == "oos" {
            src.set.oos.push(text);
            continue;
        }
        let Some(label) = src.set.labels.iter().position(|l| *l == category) else {
            bail!("{}:{line}: unknown intent \"{category}\"", path.display());
        };
        src.set.examples.push(kb::Example { text, label });
    }
    Ok(n)
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
