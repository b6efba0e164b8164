//! `spin:variables/variables@3.0.0`: component variables resolved from manifest templates over
//! application variables.
//!
//! Application variable `foo` takes its value from the environment variable `SPIN_VARIABLE_FOO`
//! when set (Spin's environment provider), else from its `default`. Everything is resolved
//! once at startup, so a missing required variable stops the host before it serves anything.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{Result, bail};
use wasmtime::component::Accessor;

use crate::bindings::variables::{self, Error};
use crate::manifest::{AppVariable, Manifest, check_variable_name};
use crate::state::{HostState, Spin};

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variable(String),
}

/// A component variable's value as written in the manifest: literals and `{{ app_var }}`
/// references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Part>);

impl Template {
    /// Parses `"literal {{ name }} literal"`.
    pub fn parse(text: &str) -> Result<Self> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_string()));
            }
            let Some(len) = rest[start + 2..].find("}}") else {
                bail!("unterminated `{{{{` in template `{text}`");
            };
            let name = rest[start + 2..start + 2 + len].trim();
            check_variable_name(name)?;
            parts.push(Part::Variable(name.to_string()));
            rest = &rest[start + 2 + len + 2..];
        }
        if rest.contains("}}") {
            bail!("unmatched `}}}}` in template `{text}`");
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(Self(parts))
    }

    /// Names of the application variables the template refers to.
    pub fn references(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            Part::Variable(v) => Some(v.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Renders the template; `lookup` supplies application variable values.
    pub(crate) fn render(&self, lookup: impl Fn(&str) -> Option<String>) -> Result<String> {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Literal(l) => out.push_str(l),
                Part::Variable(v) => match lookup(v) {
                    Some(value) => out.push_str(&value),
                    None => bail!("application variable `{v}` has no value"),
                },
            }
        }
        Ok(out)
    }
}

/// A resolved value that is never printed by `Debug`/`Display` when it is secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Value {
    value: String,
    secret: bool,
}

impl Value {
    /// The plain value (to hand to the guest, never to a log).
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// Whether the value comes from a secret variable (and must not be printed).
    pub fn is_secret(&self) -> bool {
        self.secret
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.secret {
            f.write_str("<secret>")
        } else {
            fmt::Debug::fmt(&self.value, f)
        }
    }
}

/// Resolves the application variables: provider (`env`) first, then the default.
///
/// `env` maps an environment variable name to its value; production passes `std::env::var`.
pub fn resolve_app_variables(
    vars: &BTreeMap<String, AppVariable>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    let mut missing = Vec::new();
    for (name, var) in vars {
        let from_env = env(&format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()));
        match from_env.or_else(|| var.default.clone()) {
            Some(value) => {
                out.insert(
                    name.clone(),
                    Value {
                        value,
                        secret: var.secret,
                    },
                );
            }
            None => missing.push(format!(
                "`{name}` (set SPIN_VARIABLE_{})",
                name.to_ascii_uppercase()
            )),
        }
    }
    if !missing.is_empty() {
        bail!(
            "required application variable(s) without a value: {}",
            missing.join(", ")
        );
    }
    Ok(out)
}

/// Resolves every component's variables; result: component id → variable → value.
pub fn resolve_component_variables(
    manifest: &Manifest,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, BTreeMap<String, Value>>> {
    let app = resolve_app_variables(&manifest.variables, env)?;
    component_variables(manifest, &app)
}

/// Every component's variables over already resolved application variables.
pub fn component_variables(
    manifest: &Manifest,
    app: &BTreeMap<String, Value>,
) -> Result<BTreeMap<String, BTreeMap<String, Value>>> {
    let mut out = BTreeMap::new();
    for (id, comp) in &manifest.components {
        let mut vars = BTreeMap::new();
        for (name, template) in &comp.variables {
            // A component variable built from a secret is itself secret.
            let secret = template
                .references()
                .any(|r| app.get(r).is_some_and(|v| v.secret));
            let value = template
                .render(|r| app.get(r).map(|v| v.value.clone()))
                .map_err(|e| anyhow::anyhow!("component `{id}` variable `{name}`: {e}"))?;
            vars.insert(name.clone(), Value { value, secret });
        }
        out.insert(id.clone(), vars);
    }
    Ok(out)
}

impl variables::Host for HostState {}

impl<T> variables::HostWithStore<T> for Spin {
    async fn get(
        accessor: &Accessor<T, Self>,
        name: String,
    ) -> wasmtime::Result<Result<String, Error>> {
        if check_variable_name(&name).is_err() {
            return Ok(Err(Error::InvalidName(name)));
        }
        Ok(accessor.with(
            |mut access| match access.get().platform.variables.get(&name) {
                Some(v) => Ok(v.expose().to_string()),
                None => Err(Error::Undefined(format!("no variable for {name:?}"))),
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn app_vars() -> BTreeMap<String, AppVariable> {
        let mut vars = BTreeMap::new();
        vars.insert(
            "greeting".to_string(),
            AppVariable {
                default: Some("hello".into()),
                required: false,
                secret: false,
            },
        );
        vars.insert(
            "token".to_string(),
            AppVariable {
                default: None,
                required: true,
                secret: true,
            },
        );
        vars
    }

    #[test]
    fn template_parsing_and_rendering() {
        let t = Template::parse("{{ greeting }}, {{name}}!").unwrap();
        assert_eq!(t.references().collect::<Vec<_>>(), ["greeting", "name"]);
        let out = t
            .render(|v| Some(if v == "greeting" { "hi" } else { "Ann" }.to_string()))
            .unwrap();
        assert_eq!(out, "hi, Ann!");
        assert_eq!(
            Template::parse("plain").unwrap().render(|_| None).unwrap(),
            "plain"
        );
        assert!(Template::parse("{{ open").is_err());
        assert!(Template::parse("{{ Bad-Name }}").is_err());
    }

    #[test]
    fn env_overrides_default_and_required_must_be_set() {
        let vars = app_vars();
        let err = resolve_app_variables(&vars, &|_| None).unwrap_err();
        assert!(err.to_string().contains("SPIN_VARIABLE_TOKEN"), "{err}");

        let env = |k: &str| match k {
            "SPIN_VARIABLE_TOKEN" => Some("s3cret".to_string()),
            "SPIN_VARIABLE_GREETING" => Some("bonjour".to_string()),
            _ => None,
        };
        let resolved = resolve_app_variables(&vars, &env).unwrap();
        assert_eq!(resolved["greeting"].expose(), "bonjour");
        assert_eq!(resolved["token"].expose(), "s3cret");
        // Secrets never show up in debug output.
        assert_eq!(format!("{:?}", resolved["token"]), "<secret>");

        let only_token = |k: &str| (k == "SPIN_VARIABLE_TOKEN").then(|| "t".to_string());
        assert_eq!(
            resolve_app_variables(&vars, &only_token).unwrap()["greeting"].expose(),
            "hello"
        );
    }

    #[test]
    fn component_variables_resolve_through_templates() {
        let manifest = crate::manifest::parse(
            r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
greeting = { default = "hello" }
token = { required = true, secret = true }
[component.c]
source = "c.wasm"
variables = { message = "{{ greeting }} world", auth = "Bearer {{ token }}", plain = "x" }
"#,
            Path::new("/app/spin.toml"),
        )
        .unwrap();
        let env = |k: &str| (k == "SPIN_VARIABLE_TOKEN").then(|| "abc".to_string());
        let vars = resolve_component_variables(&manifest, &env).unwrap();
        assert_eq!(vars["c"]["message"].expose(), "hello world");
        assert_eq!(vars["c"]["auth"].expose(), "Bearer abc");
        assert_eq!(vars["c"]["plain"].expose(), "x");
        assert_eq!(format!("{:?}", vars["c"]["auth"]), "<secret>");
        assert!(resolve_component_variables(&manifest, &|_| None).is_err());
    }
}
