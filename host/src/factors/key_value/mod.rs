//! `spin:key-value/key-value@3.0.0` on a SQLite file (the default) or on Redis (runtime config).
//!
//! [`backend`]: one store per label, on a file in Spin's table layout or on Redis
//! ([`redis_store`]), opened at load and shared by every component granted it; [`host`]: the
//! interface on an instance's [`KeyValueState`]; [`runtime_config`]:
//! `[key_value_store.<label>]`. As in Spin, a label a component is granted must be `default` or
//! defined in the runtime config, else the load fails; a Redis that does not answer fails it
//! too.

pub mod backend;
pub mod error;
mod host;
pub mod redis_store;
pub mod runtime_config;

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;

pub use self::backend::{KvBackend, store_path};
pub use self::error::KvError;
pub use self::host::{KeyValueState, Store, add_to_linker};
pub use self::runtime_config::{KvConfig, RuntimeConfig};
use crate::factors::{AppContext, Factor, check_labels_defined};

/// The `spin:key-value` factor.
pub struct KeyValueFactor;

/// The stores of every component: component id → label → backend (one per label).
pub type AppState = BTreeMap<String, Arc<BTreeMap<String, Arc<KvBackend>>>>;

impl Factor for KeyValueFactor {
    type RuntimeConfig = RuntimeConfig;
    type AppState = AppState;
    type InstanceState = KeyValueState;

    fn configure_app(ctx: &AppContext<'_>, config: &RuntimeConfig) -> Result<AppState> {
        check_labels_defined(
            ctx.manifest,
            ("key_value_stores", "key_value_store"),
            |c| &c.key_value_stores,
            |label| config.contains_key(label),
        )?;
        // One backend per label, shared by every component granted it.
        let mut backends: BTreeMap<String, Arc<KvBackend>> = BTreeMap::new();
        for comp in ctx.manifest.components.values() {
            for label in &comp.key_value_stores {
                if !backends.contains_key(label) {
                    let backend = KvBackend::open(ctx.data_dir, label, config.get(label))?;
                    backends.insert(label.clone(), Arc::new(backend));
                }
            }
        }
        Ok(ctx
            .manifest
            .components
            .iter()
            .map(|(id, comp)| {
                let stores = comp
                    .key_value_stores
                    .iter()
                    .map(|label| (label.clone(), Arc::clone(&backends[label])))
                    .collect();
                (id.clone(), Arc::new(stores))
            })
            .collect())
    }

    fn prepare(app: &AppState, component_id: &str) -> Result<KeyValueState> {
        Ok(KeyValueState::new(
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
            .component(
                TestComponent::new("api")
                    .key_value_store("default")
                    .key_value_store("sessions"),
            )
            .component(TestComponent::new("admin").key_value_store("sessions"))
            .component(TestComponent::new("web"))
            .parse()
    }

    #[test]
    fn labels_must_be_default_or_defined_in_the_runtime_config() {
        let dir = tempfile::tempdir().unwrap();
        let err = configure::<KeyValueFactor>(&manifest(), dir.path(), &RuntimeConfig::new())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("component `admin`")
                && err.contains("`key_value_stores` label `sessions` is not defined")
                && err.contains("[key_value_store.sessions]"),
            "{err}"
        );
        // Nothing was opened before the check.
        assert!(!dir.path().join("sqlite_key_value.db").exists());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn instances_get_the_granted_stores_shared_between_components() {
        let dir = tempfile::tempdir().unwrap();
        let config = RuntimeConfig::from([("sessions".to_string(), KvConfig::Spin { path: None })]);
        let app = configure::<KeyValueFactor>(&manifest(), dir.path(), &config).unwrap();
        assert!(dir.path().join("sqlite_key_value.db").exists());
        assert!(dir.path().join("kv_sessions.db").exists());

        let api = KeyValueFactor::prepare(&app, "api").unwrap();
        assert_eq!(api.labels().collect::<Vec<_>>(), ["default", "sessions"]);
        let admin = KeyValueFactor::prepare(&app, "admin").unwrap();
        assert_eq!(admin.labels().collect::<Vec<_>>(), ["sessions"]);
        assert_eq!(
            KeyValueFactor::prepare(&app, "web")
                .unwrap()
                .labels()
                .count(),
            0
        );

        // `api` and `admin` share one `sessions` backend.
        let (a, b) = (&app["api"]["sessions"], &app["admin"]["sessions"]);
        assert!(Arc::ptr_eq(a, b));
        a.set("k".into(), b"v".to_vec()).await.unwrap();
        assert_eq!(b.get("k".into()).await, Ok(Some(b"v".to_vec())));
        // Stores are apart: `default` does not see `sessions`' key.
        assert_eq!(app["api"]["default"].get("k".into()).await, Ok(None));
    }

    #[test]
    fn a_redis_that_is_down_fails_the_load() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = RuntimeConfig::from([(
            "sessions".to_string(),
            KvConfig::Redis {
                url: format!("redis://:pw@127.0.0.1:{port}"),
            },
        )]);
        let dir = tempfile::tempdir().unwrap();
        let err = configure::<KeyValueFactor>(&manifest(), dir.path(), &config)
            .err()
            .unwrap();
        let msg = format!("{err:#}");
        assert!(msg.contains("key-value store `sessions`"), "{msg}");
        assert!(!msg.contains(":pw@"), "{msg}");
    }
}
