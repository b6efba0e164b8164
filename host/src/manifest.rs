//! Reading and validating a Spin manifest (`spin_manifest_version = 2`).
//!
//! The host accepts the subset of the manifest it can honour and refuses everything else
//! with an error that names the manifest file and line: a manifest that silently loses a
//! setting (an AI model, a private route, a `self` outbound host) would behave differently
//! here than under Spin, which is worse than not starting.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Component as PathPart, Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use toml::Spanned;

use crate::factors::outbound_http::allowed_hosts::HostEntry;
use crate::factors::variables::expressions::Template;
use crate::routing::RoutePattern;

use crate::factors::variables::expressions::{AppVariable, check_variable_name};

/// A validated manifest with every path resolved against the manifest's directory.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The manifest file itself.
    pub path: PathBuf,
    /// The directory holding the manifest; relative paths in it are relative to this.
    pub dir: PathBuf,
    /// The `[application]` table.
    pub application: Application,
    /// Application variables (`[variables]`), by name.
    pub variables: BTreeMap<String, AppVariable>,
    /// HTTP triggers in manifest order.
    pub http_triggers: Vec<HttpTrigger>,
    /// Components by id.
    pub components: BTreeMap<String, ComponentConfig>,
    /// Component ids in the order their tables appear in the manifest (the order `spin build`
    /// and `tandem build` run build commands in, so a component built from others comes last).
    pub component_order: Vec<String>,
}

/// The `[application]` table.
#[derive(Debug, Clone, Default)]
pub struct Application {
    /// Application name.
    pub name: String,
    /// Application version, if given.
    pub version: Option<String>,
    /// Free-text description.
    pub description: Option<String>,
    /// Authors as written.
    pub authors: Vec<String>,
}

/// One `[[trigger.http]]` entry.
#[derive(Debug, Clone)]
pub struct HttpTrigger {
    /// The parsed route.
    pub route: RoutePattern,
    /// Id of the component serving it.
    pub component: String,
}

/// A `files` entry: what to copy from the app directory and where the guest sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileMount {
    /// A path or glob pattern relative to the manifest directory, mounted at the same path.
    Pattern(String),
    /// A file or directory mounted at `destination` (absolute guest path).
    Placement {
        /// Path relative to the manifest directory.
        source: PathBuf,
        /// Absolute path in the guest.
        destination: String,
    },
}

/// A `[component.X.build]` table.
#[derive(Debug, Clone)]
pub struct BuildConfig {
    /// Shell command run with `sh -c`.
    pub command: String,
    /// Working directory (absolute), default the manifest directory.
    pub workdir: PathBuf,
    /// Watch patterns (kept for completeness; `tandem up` does not watch).
    pub watch: Vec<String>,
}

/// A `[component.X]` table.
#[derive(Debug, Clone)]
pub struct ComponentConfig {
    /// The component id (the `X` of `[component.X]`).
    pub id: String,
    /// Absolute path of the `.wasm` file.
    pub source: PathBuf,
    /// Free-text description.
    pub description: Option<String>,
    /// Component variables: name → template over application variables.
    pub variables: BTreeMap<String, Template>,
    /// Environment variables given to the guest.
    pub environment: BTreeMap<String, String>,
    /// Files made readable to the guest.
    pub files: Vec<FileMount>,
    /// Glob patterns (relative to the manifest) excluded from `files`.
    pub exclude_files: Vec<String>,
    /// Key-value store labels the component may open.
    pub key_value_stores: Vec<String>,
    /// SQLite database labels the component may open.
    pub sqlite_databases: Vec<String>,
    /// `allowed_outbound_hosts` entries, checked but with their templates unresolved
    /// (see [`crate::factors::outbound_http`]); empty: no outbound network.
    pub allowed_outbound_hosts: Vec<HostEntry>,
    /// Optional build step.
    pub build: Option<BuildConfig>,
}

// ---------------------------------------------------------------------------------------
// Raw serde shapes. `deny_unknown_fields` everywhere: a typo must not pass silently.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    spin_manifest_version: Spanned<toml::Value>,
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, Spanned<RawVariable>>,
    #[serde(default)]
    trigger: RawTriggers,
    #[serde(default)]
    component: BTreeMap<String, Spanned<RawComponent>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApplication {
    name: String,
    version: Option<String>,
    description: Option<String>,
    #[serde(default)]
    authors: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariable {
    default: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    secret: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTriggers {
    #[serde(default)]
    http: Vec<Spanned<RawHttpTrigger>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpTrigger {
    route: Spanned<RawRoute>,
    component: Spanned<toml::Value>,
    executor: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawRoute {
    Path(String),
    Table(toml::Table),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    source: Spanned<toml::Value>,
    description: Option<String>,
    #[serde(default)]
    variables: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    files: Vec<Spanned<RawFile>>,
    #[serde(default)]
    exclude_files: Vec<String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<Spanned<String>>,
    allowed_http_hosts: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    key_value_stores: Vec<Spanned<String>>,
    #[serde(default)]
    sqlite_databases: Vec<Spanned<String>>,
    ai_models: Option<Spanned<toml::Value>>,
    targets: Option<Spanned<toml::Value>>,
    build: Option<RawBuild>,
    /// Tool-specific settings: Spin ignores them at runtime, so does this host.
    #[allow(dead_code)]
    tool: Option<toml::Value>,
    dependencies_inherit_configuration: Option<Spanned<bool>>,
    dependencies: Option<Spanned<toml::Value>>,
    profile: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawFile {
    Pattern(String),
    Placement { source: String, destination: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    command: String,
    workdir: Option<String>,
    #[serde(default)]
    watch: Vec<String>,
}

/// Reads and validates the manifest at `path`.
pub fn load(path: &Path) -> Result<Manifest> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read manifest {}", path.display()))?;
    let path = std::path::absolute(path)?;
    parse(&text, &path)
}

/// Parses manifest `text` as if it were read from `path` (used for messages and relative paths).
pub fn parse(text: &str, path: &Path) -> Result<Manifest> {
    let raw: RawManifest = toml::from_str(text)
        .map_err(|e| anyhow::anyhow!("{}: invalid manifest: {e}", path.display()))?;
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let at = |span: Range<usize>| format!("{}:{}", path.display(), line_of(text, span.start));

    if raw.spin_manifest_version.get_ref().as_integer() != Some(2) {
        bail!(
            "{}: only `spin_manifest_version = 2` is supported",
            at(raw.spin_manifest_version.span())
        );
    }

    let mut variables = BTreeMap::new();
    for (name, var) in raw.variables {
        let span = var.span();
        let var = var.into_inner();
        check_variable_name(&name).with_context(|| at(span.clone()))?;
        match (&var.default, var.required) {
            (Some(_), true) => bail!(
                "{}: variable `{name}` cannot be both `required` and have a `default`",
                at(span)
            ),
            (None, false) => bail!(
                "{}: variable `{name}` needs a `default` or `required = true`",
                at(span)
            ),
            _ => {}
        }
        variables.insert(
            name,
            AppVariable {
                default: var.default,
                required: var.required,
                secret: var.secret,
            },
        );
    }

    let mut components = BTreeMap::new();
    let mut order: Vec<(usize, String)> = Vec::new();
    for (id, comp) in raw.component {
        let comp_span = comp.span();
        order.push((comp_span.start, id.clone()));
        let comp = comp.into_inner();
        let config = component(&id, comp, &dir, &variables, &at)
            .with_context(|| format!("{}: in component `{id}`", at(comp_span)))?;
        components.insert(id, config);
    }

    let http_triggers = http_triggers(raw.trigger.http, &components, &at)?;

    Ok(Manifest {
        path: path.to_path_buf(),
        dir,
        application: Application {
            name: raw.application.name,
            version: raw.application.version,
            description: raw.application.description,
            authors: raw.application.authors,
        },
        variables,
        http_triggers,
        components,
        component_order: {
            order.sort();
            order.into_iter().map(|(_, id)| id).collect()
        },
    })
}

fn component(
    id: &str,
    comp: RawComponent,
    dir: &Path,
    app_vars: &BTreeMap<String, AppVariable>,
    at: &dyn Fn(Range<usize>) -> String,
) -> Result<ComponentConfig> {
    refuse_unsupported(&comp, at)?;
    let allowed_outbound_hosts = outbound_hosts(comp.allowed_outbound_hosts, app_vars, at)?;

    let source = match comp.source.get_ref().as_str() {
        // Like Spin: relative to the manifest; `..` and absolute paths are the author's choice.
        Some(s) => dir.join(s),
        None => bail!(
            "{}: `source` must be a path to a local .wasm file (URL sources are not supported)",
            at(comp.source.span())
        ),
    };

    let mut variables = BTreeMap::new();
    for (name, template) in comp.variables {
        let span = template.span();
        check_variable_name(&name).map_err(|e| anyhow::anyhow!("{}: {e}", at(span.clone())))?;
        let parsed = Template::parse(template.get_ref())
            .map_err(|e| anyhow::anyhow!("{}: variable `{name}`: {e}", at(span.clone())))?;
        if let Some(missing) = parsed.references().find(|r| !app_vars.contains_key(*r)) {
            bail!(
                "{}: variable `{name}` refers to `{missing}`, which is not in `[variables]`",
                at(span)
            );
        }
        variables.insert(name, parsed);
    }

    let labels = |list: Vec<Spanned<String>>, what: &str| -> Result<Vec<String>> {
        list.into_iter()
            .map(|l| {
                let span = l.span();
                let label = l.into_inner();
                check_label(&label)
                    .map_err(|e| anyhow::anyhow!("{}: {what} `{label}`: {e}", at(span)))?;
                Ok(label)
            })
            .collect()
    };

    let files = file_mounts(comp.files, at)?;

    let build = comp.build.map(|b| BuildConfig {
        command: b.command,
        workdir: b.workdir.map_or_else(|| dir.to_path_buf(), |w| dir.join(w)),
        watch: b.watch,
    });

    Ok(ComponentConfig {
        id: id.to_string(),
        source,
        description: comp.description,
        variables,
        environment: comp.environment,
        files,
        exclude_files: comp.exclude_files,
        key_value_stores: labels(comp.key_value_stores, "key-value store")?,
        sqlite_databases: labels(comp.sqlite_databases, "sqlite database")?,
        allowed_outbound_hosts,
        build,
    })
}

/// The `[[trigger.http]]` entries, each served by one of `components`, no route twice.
fn http_triggers(
    raw: Vec<Spanned<RawHttpTrigger>>,
    components: &BTreeMap<String, ComponentConfig>,
    at: &dyn Fn(Range<usize>) -> String,
) -> Result<Vec<HttpTrigger>> {
    let mut http_triggers: Vec<HttpTrigger> = Vec::new();
    for trigger in raw {
        let trigger = trigger.into_inner();
        if let Some(executor) = &trigger.executor {
            let kind = executor
                .get_ref()
                .get("type")
                .and_then(toml::Value::as_str)
                .unwrap_or("");
            if kind != "spin" {
                bail!(
                    "{}: only the default `spin` HTTP executor is supported",
                    at(executor.span())
                );
            }
        }
        let route_span = trigger.route.span();
        let route = match trigger.route.into_inner() {
            RawRoute::Path(route) => RoutePattern::parse(&route)
                .map_err(|e| anyhow::anyhow!("{}: {e}", at(route_span.clone())))?,
            RawRoute::Table(t) if t.contains_key("private") => bail!(
                "{}: private routes (`route = {{ private = true }}`) are not supported: \
                 this host serves only public HTTP routes",
                at(route_span)
            ),
            RawRoute::Table(_) => bail!("{}: `route` must be a string", at(route_span)),
        };
        let component_span = trigger.component.span();
        let Some(component) = trigger.component.get_ref().as_str().map(str::to_string) else {
            bail!(
                "{}: `component` must be the id of a `[component.<id>]` table \
                 (inline components are not supported)",
                at(component_span)
            );
        };
        if !components.contains_key(&component) {
            bail!(
                "{}: trigger refers to component `{component}`, which has no `[component.{component}]` table",
                at(component_span)
            );
        }
        if let Some(other) = http_triggers.iter().find(|t| t.route == route) {
            bail!(
                "{}: route `{}` is already served by component `{}`",
                at(route_span),
                route,
                other.component
            );
        }
        http_triggers.push(HttpTrigger { route, component });
    }
    Ok(http_triggers)
}

/// Features this host cannot honour: refused rather than run with different behaviour.
fn refuse_unsupported(comp: &RawComponent, at: &dyn Fn(Range<usize>) -> String) -> Result<()> {
    let unsupported: [(&str, Option<Range<usize>>); 6] = [
        ("ai_models", comp.ai_models.as_ref().map(Spanned::span)),
        ("targets", comp.targets.as_ref().map(Spanned::span)),
        (
            "dependencies",
            comp.dependencies.as_ref().map(Spanned::span),
        ),
        (
            "dependencies_inherit_configuration",
            comp.dependencies_inherit_configuration
                .as_ref()
                .map(Spanned::span),
        ),
        ("profile", comp.profile.as_ref().map(Spanned::span)),
        (
            "allowed_http_hosts",
            comp.allowed_http_hosts
                .as_ref()
                .filter(|h| !h.get_ref().is_empty())
                .map(Spanned::span),
        ),
    ];
    if let Some((key, Some(span))) = unsupported.into_iter().find(|(_, s)| s.is_some()) {
        bail!("{}: `{key}` is not supported by this host", at(span));
    }
    Ok(())
}

/// `allowed_outbound_hosts` with Spin's syntax and rules; templates are resolved once the
/// variables' values are known.
fn outbound_hosts(
    entries: Vec<Spanned<String>>,
    app_vars: &BTreeMap<String, AppVariable>,
    at: &dyn Fn(Range<usize>) -> String,
) -> Result<Vec<HostEntry>> {
    let mut allowed_outbound_hosts = Vec::new();
    for entry in entries {
        let span = entry.span();
        let text = entry.into_inner();
        let template = crate::factors::outbound_http::allowed_hosts::check_entry(&text, app_vars)
            .map_err(|e| {
            anyhow::anyhow!(
                "{}: `allowed_outbound_hosts` entry {text:?}: {e:#}",
                at(span.clone())
            )
        })?;
        allowed_outbound_hosts.push(HostEntry {
            text,
            template,
            at: at(span),
        });
    }
    Ok(allowed_outbound_hosts)
}

/// The `files` entries: paths inside the application directory.
fn file_mounts(
    raw: Vec<Spanned<RawFile>>,
    at: &dyn Fn(Range<usize>) -> String,
) -> Result<Vec<FileMount>> {
    let mut files = Vec::new();
    for file in raw {
        let span = file.span();
        let mount = match file.into_inner() {
            RawFile::Pattern(p) => {
                relative(&p).map_err(|e| anyhow::anyhow!("{}: {e}", at(span.clone())))?;
                FileMount::Pattern(p)
            }
            RawFile::Placement {
                source,
                destination,
            } => {
                if !destination.starts_with('/') {
                    bail!("{}: `destination` must be an absolute guest path", at(span));
                }
                FileMount::Placement {
                    source: relative(&source)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", at(span.clone())))?,
                    destination,
                }
            }
        };
        files.push(mount);
    }
    Ok(files)
}

/// 1-based line of byte offset `pos` in `text`.
pub fn line_of(text: &str, pos: usize) -> usize {
    text[..pos.min(text.len())].matches('\n').count() + 1
}

/// Store and database labels become file names, so they are kept to a safe alphabet.
fn check_label(label: &str) -> Result<()> {
    let ok = !label.is_empty()
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        bail!("labels may contain only ASCII letters, digits, `-` and `_`");
    }
    Ok(())
}

/// A path inside the application directory: relative and without `..`.
fn relative(path: &str) -> Result<PathBuf> {
    let p = PathBuf::from(path);
    if p.components()
        .any(|c| !matches!(c, PathPart::Normal(_) | PathPart::CurDir))
    {
        bail!("path `{path}` must be relative to the manifest directory and must not use `..`");
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
spin_manifest_version = 2

[application]
name = "demo"
version = "0.1.0"
authors = ["A <a@example.com>"]

[variables]
greeting = { default = "hello" }
api_key = { required = true, secret = true }

[[trigger.http]]
route = "/api/..."
component = "api"

[[trigger.http]]
route = "/health"
component = "api"

[component.api]
source = "target/api.wasm"
variables = { message = "{{ greeting }}, world", key = "{{ api_key }}" }
environment = { RUST_LOG = "info" }
files = ["static/**/*", { source = "assets", destination = "/assets" }]
key_value_stores = ["default"]
sqlite_databases = ["default", "audit"]
allowed_outbound_hosts = []

[component.api.build]
command = "cargo build --release"
workdir = "api"
"#;

    fn parse_str(text: &str) -> Result<Manifest> {
        parse(text, Path::new("/app/spin.toml"))
    }

    #[test]
    fn components_keep_manifest_order_for_builds() {
        let text = r#"
spin_manifest_version = 2
[application]
name = "order"
[[trigger.http]]
route = "/..."
component = "zeta"
[component.zeta]
source = "z.wasm"
[component.alpha]
source = "a.wasm"
[component.mid]
source = "m.wasm"
"#;
        let m = parse_str(text).unwrap();
        assert_eq!(m.component_order, ["zeta", "alpha", "mid"]);
    }

    #[test]
    fn good_manifest_parses() {
        let m = parse_str(GOOD).unwrap();
        assert_eq!(m.application.name, "demo");
        assert_eq!(m.http_triggers.len(), 2);
        let api = &m.components["api"];
        assert_eq!(api.source, Path::new("/app/target/api.wasm"));
        assert_eq!(api.sqlite_databases, ["default", "audit"]);
        assert_eq!(api.key_value_stores, ["default"]);
        assert_eq!(api.files.len(), 2);
        assert_eq!(api.build.as_ref().unwrap().workdir, Path::new("/app/api"));
        assert!(m.variables["api_key"].secret);
        assert!(m.variables["api_key"].required);
    }

    #[test]
    fn unknown_key_is_refused_with_its_line() {
        let text = GOOD.replace(
            "environment = { RUST_LOG = \"info\" }",
            "environment = { RUST_LOG = \"info\" }\nsourec = \"typo\"",
        );
        let line = line_of(&text, text.find("sourec").unwrap());
        let err = format!("{:#}", parse_str(&text).unwrap_err());
        assert!(err.contains("sourec"), "{err}");
        assert!(err.contains(&format!("line {line}")), "{err}");
    }

    #[test]
    fn outbound_hosts_are_checked_with_their_line() {
        let text = GOOD.replace(
            "allowed_outbound_hosts = []",
            "allowed_outbound_hosts = [\n  \"https://example.com\",\n  \"http://*.{{ greeting }}.test:*\",\n  \"http://127.0.0.1:8000..9000\",\n]",
        );
        let m = parse_str(&text).unwrap();
        let hosts = &m.components["api"].allowed_outbound_hosts;
        assert_eq!(hosts.len(), 3);
        assert_eq!(hosts[1].text, "http://*.{{ greeting }}.test:*");
        let line = line_of(&text, text.find("\"http://127").unwrap());
        assert_eq!(hosts[2].at, format!("/app/spin.toml:{line}"));
        // The default manifest has none.
        assert!(
            parse_str(GOOD).unwrap().components["api"]
                .allowed_outbound_hosts
                .is_empty()
        );

        for bad in [
            "example.com",
            "https://example.com/path",
            "https://example.com:http",
            "*://example.com",
            "insecure:allow-all",
            "http://self",
            "http://{{ nope }}",
            "https://a.example.com,b.example.com",
        ] {
            let text = GOOD.replace(
                "allowed_outbound_hosts = []",
                &format!("allowed_outbound_hosts = [\n  \"https://ok.test\",\n  \"{bad}\",\n]"),
            );
            let line = line_of(&text, text.find(&format!("\"{bad}\"")).unwrap());
            let err = format!("{:#}", parse_str(&text).unwrap_err());
            assert!(err.contains("allowed_outbound_hosts"), "{bad}: {err}");
            assert!(err.contains(&format!("spin.toml:{line}: ")), "{bad}: {err}");
        }

        // A template whose default makes an invalid entry is refused at load, like Spin does.
        let text = GOOD.replace(
            "allowed_outbound_hosts = []",
            "allowed_outbound_hosts = [\"https://{{ greeting }} there\"]",
        );
        let err = format!("{:#}", parse_str(&text).unwrap_err());
        assert!(err.contains("default"), "{err}");
    }

    #[test]
    fn private_routes_and_unknown_components_are_refused() {
        let private = GOOD.replace("route = \"/health\"", "route = { private = true }");
        let err = format!("{:#}", parse_str(&private).unwrap_err());
        assert!(err.contains("private"), "{err}");

        let dangling = GOOD.replace("component = \"api\"\n\n[[", "component = \"nope\"\n\n[[");
        let err = format!("{:#}", parse_str(&dangling).unwrap_err());
        assert!(err.contains("`nope`"), "{err}");
    }

    #[test]
    fn template_must_reference_known_variables() {
        let text = GOOD.replace("{{ greeting }}", "{{ greting }}");
        let err = format!("{:#}", parse_str(&text).unwrap_err());
        assert!(err.contains("greting"), "{err}");
    }

    #[test]
    fn labels_cannot_escape_the_data_dir() {
        let text = GOOD.replace("\"audit\"", "\"../etc\"");
        assert!(parse_str(&text).is_err());
    }
}
