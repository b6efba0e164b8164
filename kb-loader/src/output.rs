//! Writing the model files.

use anyhow::Context;
use std::path::Path;

/// Writes `bytes` to `path` unless the file already holds exactly them; says which it did.
///
/// The components embed the models (`include_bytes!`) and cargo rebuilds whatever depends on a
/// file with a newer mtime, so rewriting identical bytes made every model-carrying component
/// relink (minutes each, fat LTO) after a `kb-loader build` of an unchanged KB, e.g. the second
/// `./dev up`. A changed file is written beside the old one and renamed over it, so a build
/// killed half-way never leaves a truncated model for the next component build to embed.
pub fn write_model(path: &Path, bytes: &[u8]) -> anyhow::Result<Written> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(Written::Unchanged);
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", path.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(Written::Changed)
}

/// What [`write_model`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The file held other bytes (or did not exist) and now holds the new ones.
    Changed,
    /// The file already held these bytes and was left alone, mtime included.
    Unchanged,
}

/// Writes each `(file name, bytes)` into `dir` with [`write_model`] and prints one line naming
/// the files left unchanged, so a no-op build says so.
pub fn write_models(dir: &Path, files: &[(&str, &[u8])]) -> anyhow::Result<()> {
    let mut unchanged = Vec::new();
    for (name, bytes) in files {
        if write_model(&dir.join(name), bytes)? == Written::Unchanged {
            unchanged.push(*name);
        }
    }
    if !unchanged.is_empty() {
        eprintln!(
            "same bytes as before, left untouched (so nothing that embeds them rebuilds): {}",
            unchanged.join(", ")
        );
    }
    Ok(())
}
