//! The variable syntax of the manifest and resolved values: variable names, `[variables]`
//! declarations, `{{ name }}` templates and secret-aware values.
//!
//! A leaf: it uses nothing else of the host, so the manifest parser checks templates with it
//! (as Spin's manifest crate uses `spin-expressions`) and the factors resolve them.
//!
//! Application variable `foo` takes its value from the environment variable `SPIN_VARIABLE_FOO`
//! when set (Spin's environment provider), else from its `default`.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{Result, bail};

/// One application variable: either required (no default) or with a default.
#[derive(Debug, Clone)]
pub struct AppVariable {
    /// Value used when no provider (environment) overrides it.
    pub default: Option<String>,
    /// Startup fails when no provider supplies a value.
    pub required: bool,
    /// The value must never be printed.
    pub secret: bool,
}

/// Spin's rule for variable names: lowercase ASCII letters, digits and `_`, starting with a letter.
pub fn check_variable_name(name: &str) -> Result<()> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        bail!(
            "invalid variable name `{name}`: use lowercase letters, digits and `_`, starting with a letter"
        );
    }
    Ok(())
}

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
    /// Parses `"literal {{ name }} literal"`; a bad variable name or an unbalanced `{{` / `}}`
    /// is an error, so the manifest is refused at load rather than at the first request.
    ///
    /// ```rust
    /// use tandem_host::factors::variables::Template;
    ///
    /// let t = Template::parse("https://{{ webhook_host }}:{{port}}").unwrap();
    /// assert_eq!(t.references().collect::<Vec<_>>(), ["webhook_host", "port"]);
    /// assert!(Template::parse("{{ Host }}").is_err()); // names are lowercase
    /// assert!(Template::parse("https://{{ host").is_err()); // unterminated
    /// ```
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
    /// A value, `secret` when it must never be printed.
    pub fn new(value: String, secret: bool) -> Self {
        Self { value, secret }
    }

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
///
/// ```rust
/// use std::collections::BTreeMap;
/// use tandem_host::factors::variables::expressions::{AppVariable, resolve_app_variables};
///
/// let vars = BTreeMap::from([
///     ("agent_token".to_string(), AppVariable { default: None, required: true, secret: true }),
///     ("top_k".to_string(), AppVariable { default: Some("3".into()), required: false, secret: false }),
/// ]);
/// let env = |name: &str| (name == "SPIN_VARIABLE_AGENT_TOKEN").then(|| "t0ken".to_string());
/// let values = resolve_app_variables(&vars, &env).unwrap();
/// assert_eq!(values["top_k"].expose(), "3"); // the default
/// assert_eq!(values["agent_token"].expose(), "t0ken"); // the environment
/// assert_eq!(format!("{:?}", values["agent_token"]), "<secret>"); // never logged
/// // A required variable with no value stops the load.
/// assert!(resolve_app_variables(&vars, &|_: &str| None).is_err());
/// ```
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn variable_names_follow_spin() {
        assert!(check_variable_name("api_key2").is_ok());
        for bad in ["", "Key", "2key", "api-key", "_key"] {
            assert!(check_variable_name(bad).is_err(), "{bad:?}");
        }
    }
}
