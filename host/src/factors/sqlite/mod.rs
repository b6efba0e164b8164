//! `spin:sqlite/sqlite@3.1.0` on real SQLite files (rusqlite).
//!
//! Database `default` lives in `<data-dir>/sqlite_db.db` (Spin's file name), any other label in
//! `<data-dir>/<label>.db`; a runtime config `[sqlite_database.<label>] type = "spin"` with a
//! `path` moves it. As in Spin, a label a component is granted must be `default` or defined in
//! the runtime config, else the load fails. Files use WAL and a busy handler ([`file`]).

pub mod file;
mod host;
pub mod runtime_config;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};

pub use self::host::{Connection, SqliteState, add_to_linker};
pub use self::runtime_config::{RuntimeConfig, SqliteConfig};
use crate::factors::{AppContext, Factor, check_labels_defined};

/// The `spin:sqlite` factor.
pub struct SqliteFactor;

/// The databases of every component: component id → label → file.
pub type AppState = BTreeMap<String, Arc<BTreeMap<String, PathBuf>>>;

impl Factor for SqliteFactor {
    type RuntimeConfig = RuntimeConfig;
    type AppState = AppState;
    type InstanceState = SqliteState;

    fn configure_app(ctx: &AppContext<'_>, config: &RuntimeConfig) -> Result<AppState> {
        check_labels_defined(
            ctx.manifest,
            ("sqlite_databases", "sqlite_database"),
            |c| &c.sqlite_databases,
            |label| config.contains_key(label),
        )?;
        for db in config.values() {
            let SqliteConfig::Spin { path: Some(path) } = db else {
                continue;
            };
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
        }
        let path = |label: &str| match config.get(label) {
            Some(SqliteConfig::Spin { path: Some(path) }) => path.clone(),
            Some(SqliteConfig::Spin { path: None }) | None => {
                file::database_path(ctx.data_dir, label)
            }
        };
        Ok(ctx
            .manifest
            .components
            .iter()
            .map(|(id, comp)| {
                let databases = comp
                    .sqlite_databases
                    .iter()
                    .map(|label| (label.clone(), path(label)))
                    .collect();
                (id.clone(), Arc::new(databases))
            })
            .collect())
    }

    fn prepare(app: &AppState, component_id: &str) -> Result<SqliteState> {
        Ok(SqliteState::new(
            app.get(component_id).cloned().unwrap_or_default(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_manifest::{TestComponent, TestManifest, configure};

    fn manifest() -> crate::manifest::Manifest {
        TestManifest::new()
            .component(TestComponent::new("api").sqlite_database("default"))
            .component(TestComponent::new("audit").sqlite_database("audit"))
            .component(TestComponent::new("web"))
            .parse()
    }

    #[test]
    fn labels_must_be_default_or_defined_in_the_runtime_config() {
        let dir = tempfile::tempdir().unwrap();
        let err = configure::<SqliteFactor>(&manifest(), dir.path(), &RuntimeConfig::new())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("/app/spin.toml: component `audit`")
                && err.contains("`sqlite_databases` label `audit` is not defined")
                && err.contains("[sqlite_database.audit]"),
            "{err}"
        );

        let path = dir.path().join("nested/audit.db");
        let config = RuntimeConfig::from([(
            "audit".to_string(),
            SqliteConfig::Spin {
                path: Some(path.clone()),
            },
        )]);
        let app = configure::<SqliteFactor>(&manifest(), dir.path(), &config).unwrap();
        // The configured file's directory exists before any request.
        assert!(dir.path().join("nested").is_dir());
        let api = SqliteFactor::prepare(&app, "api").unwrap();
        assert_eq!(
            api.databases(),
            &BTreeMap::from([("default".to_string(), dir.path().join("sqlite_db.db"))])
        );
        let audit = SqliteFactor::prepare(&app, "audit").unwrap();
        assert_eq!(audit.databases()["audit"], path);
        assert!(
            SqliteFactor::prepare(&app, "web")
                .unwrap()
                .databases()
                .is_empty()
        );
    }

    #[test]
    fn a_label_without_a_path_keeps_its_default_file() {
        let dir = tempfile::tempdir().unwrap();
        let config =
            RuntimeConfig::from([("audit".to_string(), SqliteConfig::Spin { path: None })]);
        let app = configure::<SqliteFactor>(&manifest(), dir.path(), &config).unwrap();
        let audit = SqliteFactor::prepare(&app, "audit").unwrap();
        assert_eq!(audit.databases()["audit"], dir.path().join("audit.db"));
    }
}
