//! `spin:variables/variables@3.0.0`: component variables resolved from manifest templates over
//! application variables ([`expressions`]).
//!
//! Everything is resolved once at load ([`VariablesFactor::configure_app`]), so a missing
//! required variable stops the host before it serves anything; an instance only reads.

pub mod expressions;
mod host;

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;

pub use self::expressions::{Template, Value, resolve_app_variables};
pub use self::host::{VariablesState, add_to_linker};
use crate::factors::{AppContext, Factor};
use crate::manifest::Manifest;

/// The `spin:variables` factor.
pub struct VariablesFactor;

/// Resolved variables of every component: component id → variable → value.
pub type AppState = BTreeMap<String, Arc<BTreeMap<String, Value>>>;

impl Factor for VariablesFactor {
    type RuntimeConfig = ();
    type AppState = AppState;
    type InstanceState = VariablesState;

    fn configure_app(ctx: &AppContext<'_>, _config: &()) -> Result<AppState> {
        Ok(component_variables(ctx.manifest, ctx.app_variables)?
            .into_iter()
            .map(|(id, vars)| (id, Arc::new(vars)))
            .collect())
    }

    fn prepare(app: &AppState, component_id: &str) -> Result<VariablesState> {
        Ok(VariablesState::new(
            app.get(component_id).cloned().unwrap_or_default(),
        ))
    }
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
                .any(|r| app.get(r).is_some_and(|v| v.is_secret()));
            let value = template
                .render(|r| app.get(r).map(|v| v.expose().to_string()))
                .map_err(|e| anyhow::anyhow!("component `{id}` variable `{name}`: {e}"))?;
            vars.insert(name.clone(), Value::new(value, secret));
        }
        out.insert(id.clone(), vars);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_manifest::{TestComponent, TestManifest};
    use std::path::Path;

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

    #[test]
    fn factor_gives_each_instance_its_component_variables() {
        let manifest = TestManifest::new()
            .variable("greeting", Some("hello"))
            .component(TestComponent::new("a").variable("message", "{{ greeting }} world"))
            .component(TestComponent::new("b"))
            .parse();
        let env = |_: &str| None;
        let app = crate::test_manifest::configure::<VariablesFactor>(
            &manifest,
            Path::new("/unused"),
            &(),
        )
        .unwrap();
        let a = VariablesFactor::prepare(&app, "a").unwrap();
        assert_eq!(a.get("message").unwrap().expose(), "hello world");
        assert!(a.get("greeting").is_none());
        let b = VariablesFactor::prepare(&app, "b").unwrap();
        assert!(b.get("message").is_none());
        assert!(
            VariablesFactor::prepare(&app, "nope")
                .unwrap()
                .get("message")
                .is_none()
        );

        // A required variable without a value refuses the load.
        let manifest = TestManifest::new()
            .required_variable("token")
            .component(TestComponent::new("a").variable("auth", "Bearer {{ token }}"))
            .parse();
        let values = resolve_app_variables(&manifest.variables, &env);
        assert!(
            values
                .unwrap_err()
                .to_string()
                .contains("SPIN_VARIABLE_TOKEN")
        );
    }
}
