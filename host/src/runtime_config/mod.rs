//! `tandem up --runtime-config-file FILE`: Spin's runtime config format, the store part of it.
//!
//! ```toml
//! [key_value_store.default]
//! type = "redis"                      # or "spin" with an optional `path`
//! url = "redis://127.0.0.1:6379"
//!
//! [sqlite_database.default]
//! type = "spin"                       # "libsql" is Spin's / SpinKube's, refused here
//! path = "shared/sqlite_db.db"
//! ```
//!
//! Each table belongs to a factor, which parses its entries
//! ([`crate::factors::key_value::runtime_config`], [`crate::factors::sqlite::runtime_config`]);
//! this module reads the file, hands each table to its factor and checks the labels against the
//! manifest.
//!
//! As in Spin, a relative key-value `path` is relative to the directory of the runtime config
//! file, a relative SQLite `path` to the working directory of `tandem up` (Spin resolves the two
//! differently), and a store without an entry keeps its default file in the data dir. Everything the host cannot
//! honour is refused when the file is loaded, naming the file and line: a table or `type` it
//! does not know, a libSQL database, a label no component of the manifest uses (a typo would
//! otherwise leave the real store on its default file), and a Redis it cannot reach.

pub mod entry;

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use toml::de::DeTable;

use self::entry::table_entries;
use crate::factors::{key_value, sqlite};
use crate::manifest::Manifest;

/// A loaded, validated runtime config.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// The file it was read from.
    pub path: PathBuf,
    /// `[key_value_store.<label>]` entries: the key-value factor's runtime config.
    pub key_value_stores: key_value::RuntimeConfig,
    /// `[sqlite_database.<label>]` entries: the SQLite factor's runtime config.
    pub sqlite_databases: sqlite::RuntimeConfig,
}

/// Top-level tables of Spin's runtime config that this host does not implement.
const SPIN_ONLY_TABLES: &[&str] = &[
    "variables_provider",
    "config_provider",
    "llm_compute",
    "outbound_networking",
    "client_tls",
    "otel",
];

/// Reads `path` and checks it against `manifest`.
pub fn load(path: &Path, manifest: &Manifest) -> Result<RuntimeConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read runtime config {}", path.display()))?;
    let path = std::path::absolute(path)?;
    parse(&text, &path, manifest)
}

/// Parses runtime config `text` as if read from `path` and checks it against `manifest`.
pub fn parse(text: &str, path: &Path, manifest: &Manifest) -> Result<RuntimeConfig> {
    let at = |span: Range<usize>| format!("{}:{}", path.display(), line_of(text, span.start));
    let base = path.parent().unwrap_or(Path::new("."));
    let doc = DeTable::parse(text)
        .map_err(|e| anyhow::anyhow!("{}: invalid runtime config: {e}", path.display()))?;

    let mut config = RuntimeConfig {
        path: path.to_path_buf(),
        ..RuntimeConfig::default()
    };
    for (table, value) in doc.get_ref().iter() {
        let span = table.span();
        let table = table.get_ref().as_ref();
        let entries = || table_entries(table, value.get_ref(), span.clone(), &at);
        match table {
            "key_value_store" => {
                for (label, entry) in entries()? {
                    let kv = key_value::runtime_config::parse_entry(&label, &entry, base, &at)?;
                    config.key_value_stores.insert(label, kv);
                }
            }
            "sqlite_database" => {
                for (label, entry) in entries()? {
                    let db = sqlite::runtime_config::parse_entry(&label, &entry, &at)?;
                    config.sqlite_databases.insert(label, db);
                }
            }
            other if SPIN_ONLY_TABLES.contains(&other) => bail!(
                "{}: `{other}` is a Spin runtime config setting this host does not implement \
                 (it knows `key_value_store` and `sqlite_database`)",
                at(span)
            ),
            other => bail!(
                "{}: unknown runtime config table `{other}` (this host knows \
                 `key_value_store` and `sqlite_database`)",
                at(span)
            ),
        }
    }
    check_labels_used(&config, manifest)?;
    Ok(config)
}

/// Every label must be one a component of the manifest is granted.
fn check_labels_used(config: &RuntimeConfig, manifest: &Manifest) -> Result<()> {
    let used = |pick: fn(&crate::manifest::ComponentConfig) -> &Vec<String>| -> Vec<String> {
        let mut labels: Vec<String> = manifest
            .components
            .values()
            .flat_map(|c| pick(c).iter().cloned())
            .collect();
        labels.sort();
        labels.dedup();
        labels
    };
    let checks: [(&str, Vec<&String>, Vec<String>, &str); 2] = [
        (
            "key_value_store",
            config.key_value_stores.keys().collect(),
            used(|c| &c.key_value_stores),
            "key_value_stores",
        ),
        (
            "sqlite_database",
            config.sqlite_databases.keys().collect(),
            used(|c| &c.sqlite_databases),
            "sqlite_databases",
        ),
    ];
    for (table, labels, used, key) in checks {
        if let Some(label) = labels.into_iter().find(|l| !used.contains(l)) {
            let used = if used.is_empty() {
                "none".to_string()
            } else {
                used.iter()
                    .map(|l| format!("`{l}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            bail!(
                "{}: [{table}.{label}] is not used by any component of {} \
                 (labels granted in `{key}`: {used})",
                config.path.display(),
                manifest.path.display()
            );
        }
    }
    Ok(())
}

/// 1-based line of byte offset `pos` in `text`.
fn line_of(text: &str, pos: usize) -> usize {
    text[..pos.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factors::key_value::runtime_config::KvConfig;
    use crate::factors::sqlite::runtime_config::SqliteConfig;

    const MANIFEST: &str = r#"
spin_manifest_version = 2
[application]
name = "demo"
[[trigger.http]]
route = "/..."
component = "api"
[component.api]
source = "api.wasm"
key_value_stores = ["default"]
sqlite_databases = ["default"]
"#;

    fn manifest() -> Manifest {
        crate::manifest::parse(MANIFEST, Path::new("/app/spin.toml")).unwrap()
    }

    fn parse_str(text: &str) -> Result<RuntimeConfig> {
        parse(
            text,
            Path::new("/etc/tandem/runtime-config.toml"),
            &manifest(),
        )
    }

    fn err(text: &str) -> String {
        format!("{:#}", parse_str(text).unwrap_err())
    }

    #[test]
    fn spin_and_redis_entries_parse_with_paths_relative_to_the_file() {
        let c = parse_str(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:6379/2\"\n\
             [sqlite_database.default]\ntype = \"spin\"\npath = \"data/app.db\"\n\
             allow_attach_file = false\n",
        )
        .unwrap();
        assert_eq!(
            c.key_value_stores["default"],
            KvConfig::Redis {
                url: "redis://127.0.0.1:6379/2".into()
            }
        );
        assert_eq!(
            c.sqlite_databases["default"],
            SqliteConfig::Spin {
                path: Some(std::env::current_dir().unwrap().join("data/app.db"))
            }
        );
        let c =
            parse_str("[key_value_store.default]\ntype = \"spin\"\npath = \"kv.db\"\n").unwrap();
        assert_eq!(
            c.key_value_stores["default"],
            KvConfig::Spin {
                path: Some(PathBuf::from("/etc/tandem/kv.db"))
            }
        );
        let c = parse_str("[key_value_store.default]\ntype = \"spin\"\n").unwrap();
        assert_eq!(c.key_value_stores["default"], KvConfig::Spin { path: None });
        assert!(parse_str("").unwrap().key_value_stores.is_empty());
    }

    #[test]
    fn unknown_types_keys_and_tables_are_refused_with_their_line() {
        let e = err("\n[key_value_store.default]\ntype = \"memcached\"\n");
        assert!(
            e.contains("unknown key-value store type \"memcached\""),
            "{e}"
        );
        assert!(e.contains("runtime-config.toml:3"), "{e}");
        let e = err("[sqlite_database.default]\ntype = \"postgres\"\n");
        assert!(
            e.contains("unknown SQLite database type \"postgres\""),
            "{e}"
        );
        let e = err(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://h\"\npassword = \"x\"\n",
        );
        assert!(e.contains("unknown key `password`"), "{e}");
        let e = err("[key_value_store.default]\ntype = \"redis\"\n");
        assert!(e.contains("needs `url"), "{e}");
        let e = err("[key_value_store.default]\npath = \"x.db\"\n");
        assert!(e.contains("type"), "{e}");
        let e = err("[llm_compute]\ntype = \"spin\"\n");
        assert!(e.contains("does not implement"), "{e}");
        let e = err("[key_value_stores.default]\ntype = \"spin\"\n");
        assert!(
            e.contains("unknown runtime config table `key_value_stores`"),
            "{e}"
        );
        let e = err("[key_value_store.default]\ntype = \"redis\"\nurl = \"http://x\"\n");
        assert!(e.contains("not a Redis URL"), "{e}");
        let e = err("[key_value_store.default]\ntype = \"redis\"\nurl = \"rediss://x\"\n");
        assert!(e.contains("not a Redis URL") || e.contains("TLS"), "{e}");
    }

    #[test]
    fn libsql_is_refused_naming_spin_and_spinkube() {
        let e = err(
            "[sqlite_database.default]\ntype = \"libsql\"\nurl = \"https://db.turso.io\"\ntoken = \"t\"\n",
        );
        assert!(
            e.contains("libsql") && e.contains("SpinKube") && e.contains("spin up"),
            "{e}"
        );
    }

    #[test]
    fn labels_the_manifest_does_not_use_are_refused() {
        let e = err("[key_value_store.sessions]\ntype = \"spin\"\n");
        assert!(e.contains("[key_value_store.sessions] is not used"), "{e}");
        assert!(e.contains("`default`"), "{e}");
        let e = err("[sqlite_database.audit]\ntype = \"spin\"\n");
        assert!(e.contains("[sqlite_database.audit] is not used"), "{e}");
    }
}
