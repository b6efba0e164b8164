//! The manifest's `files` / `exclude_files`: the selected files are copied into a per-component
//! staging directory under the data dir, which the guest gets as a read-only `/`.
//!
//! Copying (as Spin does for file patterns) means the guest sees exactly what the manifest
//! selects and never a path outside the application directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::manifest::{ComponentConfig, FileMount};

/// Where the files of component `id` are staged (the guest's `/`).
pub fn staging_dir(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join(".files").join(id)
}

/// Builds the staging directory for `component`; `None` if it mounts no files.
pub fn stage(
    component: &ComponentConfig,
    app_dir: &Path,
    data_dir: &Path,
) -> Result<Option<PathBuf>> {
    if component.files.is_empty() {
        return Ok(None);
    }
    let staging = staging_dir(data_dir, &component.id);
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("clearing {}", staging.display()))?;
    }
    std::fs::create_dir_all(&staging)?;
    let excluded = |rel: &str| component.exclude_files.iter().any(|p| glob_match(p, rel));

    for mount in &component.files {
        match mount {
            FileMount::Pattern(pattern) => {
                let base = literal_prefix(pattern);
                let root = app_dir.join(&base);
                if !root.exists() {
                    continue;
                }
                if !has_glob(pattern) {
                    // A plain path: a file or a whole directory, at the same path in the guest.
                    copy_tree(&root, &staging.join(pattern), pattern, &excluded)?;
                    continue;
                }
                for file in walk(&root)? {
                    let rel = file
                        .strip_prefix(app_dir)
                        .unwrap_or(&file)
                        .to_string_lossy()
                        .replace('\\', "/");
                    if glob_match(pattern, &rel) && !excluded(&rel) {
                        copy_file(&file, &staging.join(&rel))?;
                    }
                }
            }
            FileMount::Placement {
                source,
                destination,
            } => {
                let src = app_dir.join(source);
                let dst = staging.join(destination.trim_start_matches('/'));
                let rel = source.to_string_lossy().replace('\\', "/");
                copy_tree(&src, &dst, &rel, &excluded)
                    .with_context(|| format!("component `{}` files", component.id))?;
            }
        }
    }
    Ok(Some(staging))
}

fn has_glob(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

/// The directory part of a pattern before its first glob segment.
fn literal_prefix(pattern: &str) -> String {
    if !has_glob(pattern) {
        return pattern.to_string();
    }
    pattern
        .split('/')
        .take_while(|seg| !has_glob(seg))
        .collect::<Vec<_>>()
        .join("/")
}

/// Every regular file below `root` (or `root` itself if it is a file).
fn walk(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(path) = todo.pop() {
        let meta = std::fs::metadata(&path)?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                todo.push(entry?.path());
            }
        } else if meta.is_file() {
            out.push(path);
        }
    }
    Ok(out)
}

fn copy_tree(src: &Path, dst: &Path, rel: &str, excluded: &dyn Fn(&str) -> bool) -> Result<()> {
    let meta = std::fs::metadata(src).with_context(|| format!("reading {}", src.display()))?;
    if meta.is_file() {
        if !excluded(rel) {
            copy_file(src, dst)?;
        }
        return Ok(());
    }
    std::fs::create_dir_all(dst)?;
    for file in walk(src)? {
        let inner = file.strip_prefix(src).unwrap_or(&file);
        let inner_rel = format!(
            "{}/{}",
            rel.trim_end_matches('/'),
            inner.to_string_lossy().replace('\\', "/")
        );
        if !excluded(&inner_rel) {
            copy_file(&file, &dst.join(inner))?;
        }
    }
    Ok(())
}

fn copy_file(src: &Path, dst: &Path) -> Result<()> {
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::copy(src, dst)
        .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
    Ok(())
}

/// Glob match over `/`-separated paths: `**` spans any number of segments, `*` and `?`
/// stay within one segment.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.trim_start_matches("./").split('/').collect();
    let segs: Vec<&str> = path.trim_start_matches("./").split('/').collect();
    match_segments(&pat, &segs)
}

fn match_segments(pat: &[&str], segs: &[&str]) -> bool {
    match pat.split_first() {
        None => segs.is_empty(),
        Some((&"**", rest)) => (0..=segs.len()).any(|i| match_segments(rest, &segs[i..])),
        Some((p, rest)) => match segs.split_first() {
            Some((s, srest)) => {
                match_segment(p.as_bytes(), s.as_bytes()) && match_segments(rest, srest)
            }
            None => false,
        },
    }
}

fn match_segment(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| match_segment(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && match_segment(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && match_segment(rest, &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("static/**/*", "static/a/b.txt"));
        assert!(glob_match("static/**/*", "static/b.txt"));
        assert!(glob_match("*.md", "README.md"));
        assert!(!glob_match("*.md", "docs/README.md"));
        assert!(glob_match("**/*.md", "docs/README.md"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("static/*", "static/a/b"));
    }
}
