//! The SQLite factor's part of the runtime config: `[sqlite_database.<label>]`.
//!
//! ```toml
//! [sqlite_database.default]
//! type = "spin"                       # "libsql" is Spin's / SpinKube's, refused here
//! path = "shared/sqlite_db.db"
//! ```
//!
//! A relative `path` is relative to the working directory of `tandem up` (as in Spin).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::runtime_config::entry::{At, Entry};

/// The SQLite databases the runtime config defines, by label.
pub type RuntimeConfig = BTreeMap<String, SqliteConfig>;

/// Where one SQLite database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteConfig {
    /// A local SQLite file; `None` = the default file in the data dir.
    Spin {
        /// Absolute path of the file, if given.
        path: Option<PathBuf>,
    },
}

/// Parses `[sqlite_database.<label>]`.
pub fn parse_entry(label: &str, entry: &Entry<'_>, at: At<'_>) -> Result<SqliteConfig> {
    let what = format!("[sqlite_database.{label}]");
    match entry.kind.as_str() {
        "spin" => {
            // Spin resolves a relative SQLite path against the working directory.
            let cwd = std::env::current_dir().context("reading the working directory")?;
            let path = entry.optional_path(&what, &cwd, at)?;
            entry.only_keys(&what, &["path", "allow_attach_file"], at)?;
            if let Some((span, value)) = entry.rest.get("allow_attach_file")
                && value.as_bool().is_none()
            {
                bail!(
                    "{}: {what}: `allow_attach_file` must be true or false",
                    at(span.clone())
                );
            }
            Ok(SqliteConfig::Spin { path })
        }
        "libsql" => bail!(
            "{}: {what}: type \"libsql\" (a remote libSQL/Turso database) is served by Spin and \
             SpinKube, not by this local host; run this runtime config under `spin up` or \
             SpinKube, or use type \"spin\" with a local `path` here",
            at(entry.kind_span.clone())
        ),
        other => bail!(
            "{}: {what}: unknown SQLite database type \"{other}\" (this host serves \"spin\"; \
             Spin also knows \"libsql\")",
            at(entry.kind_span.clone())
        ),
    }
}
