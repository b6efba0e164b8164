//! A typed builder for the `spin.toml` (manifest version 2) the tests serve: an application,
//! its variables, and components each with their HTTP routes, stores, allowed hosts, files,
//! environment and variables. Strings are written as TOML basic strings, escaped.
//!
//! ```no_run
//! use tandem_tests::manifest::{Component, Manifest, Var};
//! # let (dir, wasm) = (std::path::Path::new("/tmp"), std::path::Path::new("/tmp/x.wasm"));
//! let path = Manifest::new("ticket-test")
//!     .variable("agent_token", Var::required_secret())
//!     .variable("auto_assign", Var::default("true"))
//!     .component(
//!         Component::new("ticket", wasm)
//!             .route("/v1/tickets/...")
//!             .sqlite("default")
//!             .var("agent_token", "{{ agent_token }}"),
//!     )
//!     .write(dir);
//! ```

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

/// An application: `[application]`, `[variables]`, and its components in order (their routes
/// become the `[[trigger.http]]` entries, in the same order).
#[derive(Debug, Clone)]
pub struct Manifest {
    name: String,
    version: Option<String>,
    description: Option<String>,
    authors: Vec<String>,
    variables: Vec<(String, Var)>,
    components: Vec<Component>,
}

/// An application variable (`[variables]` entry).
#[derive(Debug, Clone)]
pub struct Var {
    default: Option<String>,
    required: bool,
    secret: bool,
}

/// One `[component.<id>]` and the routes it serves.
#[derive(Debug, Clone)]
pub struct Component {
    id: String,
    source: PathBuf,
    description: Option<String>,
    routes: Vec<String>,
    key_value_stores: Vec<String>,
    sqlite_databases: Vec<String>,
    allowed_outbound_hosts: Vec<String>,
    files: Vec<String>,
    environment: Vec<(String, String)>,
    variables: Vec<(String, String)>,
}

impl Var {
    /// `{ required = true }`.
    pub fn required() -> Self {
        Self {
            default: None,
            required: true,
            secret: false,
        }
    }

    /// `{ required = true, secret = true }`.
    pub fn required_secret() -> Self {
        Self {
            secret: true,
            ..Self::required()
        }
    }

    /// `{ default = "value" }`.
    pub fn default(value: &str) -> Self {
        Self {
            default: Some(value.to_string()),
            required: false,
            secret: false,
        }
    }

    /// The same variable, marked `secret`.
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
}

impl Manifest {
    /// An application named `name`, with no variables or components yet.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            version: None,
            description: None,
            authors: Vec::new(),
            variables: Vec::new(),
            components: Vec::new(),
        }
    }

    /// `[application] version`.
    pub fn version(mut self, version: &str) -> Self {
        self.version = Some(version.to_string());
        self
    }

    /// `[application] description`.
    pub fn description(mut self, description: &str) -> Self {
        self.description = Some(description.to_string());
        self
    }

    /// `[application] authors`, one more.
    pub fn author(mut self, author: &str) -> Self {
        self.authors.push(author.to_string());
        self
    }

    /// Application variable `name`.
    pub fn variable(mut self, name: &str, var: Var) -> Self {
        self.variables.push((name.to_string(), var));
        self
    }

    /// A component (and its routes).
    pub fn component(mut self, component: Component) -> Self {
        self.components.push(component);
        self
    }

    /// The `spin.toml` text.
    pub fn render(&self) -> String {
        self.to_string()
    }

    /// Writes the manifest as `dir/spin.toml` and returns that path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let path = dir.join("spin.toml");
        std::fs::write(&path, self.render())
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }
}

impl Component {
    /// `[component.<id>]` with `source` (an absolute path, as the tests' artifacts are).
    pub fn new(id: &str, source: &Path) -> Self {
        Self {
            id: id.to_string(),
            source: source.to_path_buf(),
            description: None,
            routes: Vec::new(),
            key_value_stores: Vec::new(),
            sqlite_databases: Vec::new(),
            allowed_outbound_hosts: Vec::new(),
            files: Vec::new(),
            environment: Vec::new(),
            variables: Vec::new(),
        }
    }

    /// A `[[trigger.http]]` route served by this component.
    pub fn route(mut self, route: &str) -> Self {
        self.routes.push(route.to_string());
        self
    }

    /// `description`.
    pub fn description(mut self, description: &str) -> Self {
        self.description = Some(description.to_string());
        self
    }

    /// A `key_value_stores` label.
    pub fn kv(mut self, label: &str) -> Self {
        self.key_value_stores.push(label.to_string());
        self
    }

    /// A `sqlite_databases` label.
    pub fn sqlite(mut self, label: &str) -> Self {
        self.sqlite_databases.push(label.to_string());
        self
    }

    /// An `allowed_outbound_hosts` entry (templates allowed).
    pub fn outbound(mut self, host: &str) -> Self {
        self.allowed_outbound_hosts.push(host.to_string());
        self
    }

    /// A `files` pattern (relative to the manifest's directory).
    pub fn file(mut self, pattern: &str) -> Self {
        self.files.push(pattern.to_string());
        self
    }

    /// An `environment` variable for the guest.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.environment.push((name.to_string(), value.to_string()));
        self
    }

    /// A component variable: `name` = `template` (over application variables).
    pub fn var(mut self, name: &str, template: &str) -> Self {
        self.variables
            .push((name.to_string(), template.to_string()));
        self
    }
}

impl fmt::Display for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "spin_manifest_version = 2\n\n[application]")?;
        writeln!(f, "name = {}", string(&self.name))?;
        if let Some(v) = &self.version {
            writeln!(f, "version = {}", string(v))?;
        }
        if let Some(d) = &self.description {
            writeln!(f, "description = {}", string(d))?;
        }
        if !self.authors.is_empty() {
            writeln!(f, "authors = {}", array(&self.authors))?;
        }
        if !self.variables.is_empty() {
            writeln!(f, "\n[variables]")?;
            for (name, var) in &self.variables {
                writeln!(f, "{} = {}", key(name), var)?;
            }
        }
        for c in &self.components {
            for route in &c.routes {
                writeln!(f, "\n[[trigger.http]]")?;
                writeln!(
                    f,
                    "route = {}\ncomponent = {}",
                    string(route),
                    string(&c.id)
                )?;
            }
        }
        for c in &self.components {
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut fields = Vec::new();
        if let Some(d) = &self.default {
            fields.push(format!("default = {}", string(d)));
        }
        if self.required {
            fields.push("required = true".to_string());
        }
        if self.secret {
            fields.push("secret = true".to_string());
        }
        write!(f, "{{ {} }}", fields.join(", "))
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = key(&self.id);
        writeln!(f, "\n[component.{id}]")?;
        writeln!(f, "source = {}", string(&self.source.display().to_string()))?;
        if let Some(d) = &self.description {
            writeln!(f, "description = {}", string(d))?;
        }
        let lists = [
            ("key_value_stores", &self.key_value_stores),
            ("sqlite_databases", &self.sqlite_databases),
            ("allowed_outbound_hosts", &self.allowed_outbound_hosts),
            ("files", &self.files),
        ];
        for (name, items) in lists {
            if !items.is_empty() {
                writeln!(f, "{name} = {}", array(items))?;
            }
        }
        for (table, entries) in [
            ("environment", &self.environment),
            ("variables", &self.variables),
        ] {
            if !entries.is_empty() {
                writeln!(f, "[component.{id}.{table}]")?;
                for (name, value) in entries {
                    writeln!(f, "{} = {}", key(name), string(value))?;
                }
            }
        }
        Ok(())
    }
}

/// A TOML basic string: `"` and `\` escaped, control characters as escapes.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML key: bare when it may be (`A-Za-z0-9_-`), else quoted.
fn key(k: &str) -> String {
    let bare = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare { k.to_string() } else { string(k) }
}

/// A TOML array of strings on one line.
fn array(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|i| string(i)).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_part_with_escaping() {
        let text = Manifest::new("a \"quoted\" app")
            .version("0.1.0")
            .author("Tandem")
            .variable("token", Var::required_secret())
            .variable("hours", Var::default("open"))
            .component(
                Component::new("web", Path::new("/x/w\\eb.wasm"))
                    .route("/v1/web/...")
                    .route("/v1/other")
                    .kv("default")
                    .sqlite("default")
                    .outbound("{{ host }}")
                    .file("assets/*")
                    .env("LANG", "zh\tCN")
                    .var("token", "{{ token }}"),
            )
            .render();
        let expected = r#"spin_manifest_version = 2

[application]
name = "a \"quoted\" app"
version = "0.1.0"
authors = ["Tandem"]

[variables]
token = { required = true, secret = true }
hours = { default = "open" }

[[trigger.http]]
route = "/v1/web/..."
component = "web"

[[trigger.http]]
route = "/v1/other"
component = "web"

[component.web]
source = "/x/w\\eb.wasm"
key_value_stores = ["default"]
sqlite_databases = ["default"]
allowed_outbound_hosts = ["{{ host }}"]
files = ["assets/*"]
[component.web.environment]
LANG = "zh\tCN"
[component.web.variables]
token = "{{ token }}"
"#;
        assert_eq!(text, expected);
        assert_eq!(string("\u{7f}\u{1}"), "\"\\u007F\\u0001\"");
        assert_eq!(key("a.b"), "\"a.b\"");
    }
}
