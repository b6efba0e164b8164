//! A small manifest builder for unit tests (after Spin's `spin-factors-test`): `spin.toml`
//! text for a few components with stores, variables and allowed hosts, parsed as if read from
//! `/app/spin.toml`, and a factor configured on it.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use crate::factors::{AppContext, Factor};
use crate::limits::Limits;
use crate::manifest::Manifest;

/// An application: variables and components (each served on `/<id>/...` unless it says).
#[derive(Default)]
pub struct TestManifest {
    variables: Vec<(String, String)>,
    components: Vec<TestComponent>,
}

/// One `[component.<id>]` with its HTTP route.
pub struct TestComponent {
    id: String,
    source: Option<String>,
    route: Option<String>,
    key_value_stores: Vec<String>,
    sqlite_databases: Vec<String>,
    variables: Vec<(String, String)>,
    environment: Vec<(String, String)>,
    files: Vec<String>,
    allowed_hosts: Vec<String>,
}

impl TestManifest {
    /// No variables, no components.
    pub fn new() -> Self {
        Self::default()
    }

    /// Application variable `name` with a default (`None`: required).
    pub fn variable(mut self, name: &str, default: Option<&str>) -> Self {
        let decl = match default {
            Some(d) => format!("{{ default = {d:?} }}"),
            None => "{ required = true }".to_string(),
        };
        self.variables.push((name.to_string(), decl));
        self
    }

    /// A required application variable.
    pub fn required_variable(self, name: &str) -> Self {
        self.variable(name, None)
    }

    /// A required, secret application variable.
    pub fn secret_variable(mut self, name: &str) -> Self {
        let decl = "{ required = true, secret = true }".to_string();
        self.variables.push((name.to_string(), decl));
        self
    }

    /// Adds a component.
    pub fn component(mut self, component: TestComponent) -> Self {
        self.components.push(component);
        self
    }

    /// The `spin.toml` text.
    pub fn toml(&self) -> String {
        let mut out = String::from("spin_manifest_version = 2\n[application]\nname = \"test\"\n");
        if !self.variables.is_empty() {
            out.push_str("[variables]\n");
            for (name, decl) in &self.variables {
                let _ = writeln!(out, "{name} = {decl}");
            }
        }
        for c in &self.components {
            let route = c.route.clone().unwrap_or_else(|| format!("/{}/...", c.id));
            let _ = writeln!(
                out,
                "[[trigger.http]]\nroute = {route:?}\ncomponent = {:?}",
                c.id
            );
        }
        for c in &self.components {
            c.write(&mut out);
        }
        out
    }

    /// The manifest, parsed as `/app/spin.toml`; panics when it does not parse.
    pub fn parse(&self) -> Manifest {
        self.try_parse()
            .unwrap_or_else(|e| panic!("{e:#}\n{}", self.toml()))
    }

    /// The manifest, parsed as `/app/spin.toml`.
    pub fn try_parse(&self) -> Result<Manifest> {
        crate::manifest::parse(&self.toml(), Path::new("/app/spin.toml"))
    }
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

fn table(items: &[(String, String)]) -> String {
    let pairs: Vec<String> = items.iter().map(|(k, v)| format!("{k} = {v:?}")).collect();
    format!("{{ {} }}", pairs.join(", "))
}

impl TestComponent {
    /// Component `id`, source `<id>.wasm`, route `/<id>/...`, nothing granted.
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            source: None,
            route: None,
            key_value_stores: Vec::new(),
            sqlite_databases: Vec::new(),
            variables: Vec::new(),
            environment: Vec::new(),
            files: Vec::new(),
            allowed_hosts: Vec::new(),
        }
    }

    /// Its `.wasm` file (default `<id>.wasm`).
    pub fn source(mut self, path: &str) -> Self {
        self.source = Some(path.to_string());
        self
    }

    /// Serves `route` instead of `/<id>/...`.
    pub fn route(mut self, route: &str) -> Self {
        self.route = Some(route.to_string());
        self
    }

    /// Grants key-value store `label`.
    pub fn key_value_store(mut self, label: &str) -> Self {
        self.key_value_stores.push(label.to_string());
        self
    }

    /// Grants SQLite database `label`.
    pub fn sqlite_database(mut self, label: &str) -> Self {
        self.sqlite_databases.push(label.to_string());
        self
    }

    /// Component variable `name` = `template`.
    pub fn variable(mut self, name: &str, template: &str) -> Self {
        self.variables
            .push((name.to_string(), template.to_string()));
        self
    }

    /// Environment variable `name` = `value`.
    pub fn environment(mut self, name: &str, value: &str) -> Self {
        self.environment.push((name.to_string(), value.to_string()));
        self
    }

    /// A `files` pattern.
    pub fn file(mut self, pattern: &str) -> Self {
        self.files.push(pattern.to_string());
        self
    }

    /// An `allowed_outbound_hosts` entry.
    pub fn allowed_host(mut self, entry: &str) -> Self {
        self.allowed_hosts.push(entry.to_string());
        self
    }

    fn write(&self, out: &mut String) {
        let source = self
            .source
            .clone()
            .unwrap_or_else(|| format!("{}.wasm", self.id));
        let _ = writeln!(out, "[component.{}]\nsource = {source:?}", self.id);
        let lists = [
            ("key_value_stores", &self.key_value_stores),
            ("sqlite_databases", &self.sqlite_databases),
            ("files", &self.files),
            ("allowed_outbound_hosts", &self.allowed_hosts),
        ];
        for (key, items) in lists {
            if !items.is_empty() {
                let _ = writeln!(out, "{key} = {}", list(items));
            }
        }
        for (key, items) in [
            ("variables", &self.variables),
            ("environment", &self.environment),
        ] {
            if !items.is_empty() {
                let _ = writeln!(out, "{key} = {}", table(items));
            }
        }
    }
}

/// The default limits of `tandem up`.
pub fn limits() -> Limits {
    Limits {
        timeout: Duration::from_secs(30),
        max_memory: 256 << 20,
        max_body: 1 << 20,
    }
}

/// Configures factor `F` on `manifest` with `data_dir`, the variables' defaults and `config`.
pub fn configure<F: Factor>(
    manifest: &Manifest,
    data_dir: &Path,
    config: &F::RuntimeConfig,
) -> Result<F::AppState> {
    configure_in::<F>(manifest, data_dir, &|_| None, config)
}

/// [`configure`] with environment `env` (`SPIN_VARIABLE_*`), in a data dir nothing uses.
pub fn configure_with_env<F: Factor>(
    manifest: &Manifest,
    env: &dyn Fn(&str) -> Option<String>,
    config: &F::RuntimeConfig,
) -> Result<F::AppState> {
    configure_in::<F>(manifest, Path::new("/nonexistent"), env, config)
}

fn configure_in<F: Factor>(
    manifest: &Manifest,
    data_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    config: &F::RuntimeConfig,
) -> Result<F::AppState> {
    let app_variables = crate::factors::variables::resolve_app_variables(&manifest.variables, env)?;
    let ctx = AppContext {
        manifest,
        data_dir,
        app_variables: &app_variables,
        limits: &limits(),
    };
    F::configure_app(&ctx, config)
}

#[test]
fn builds_a_manifest_the_parser_accepts() {
    let manifest = TestManifest::new()
        .variable("host", Some("example.com"))
        .secret_variable("token")
        .component(
            TestComponent::new("api")
                .key_value_store("default")
                .sqlite_database("default")
                .variable("auth", "Bearer {{ token }}")
                .allowed_host("https://{{ host }}"),
        )
        .component(TestComponent::new("web").route("/..."))
        .parse();
    assert_eq!(manifest.component_order, ["api", "web"]);
    assert_eq!(manifest.components["api"].key_value_stores, ["default"]);
    assert_eq!(manifest.components["api"].allowed_outbound_hosts.len(), 1);
    assert!(manifest.variables["token"].secret);
    assert_eq!(manifest.http_triggers.len(), 2);
    // A bad entry is the parser's to refuse.
    let bad = TestManifest::new().component(TestComponent::new("x").allowed_host("example.com"));
    assert!(bad.try_parse().is_err());
}
