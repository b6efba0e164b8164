//! Outbound HTTP: a component may send `wasi:http` requests only to the hosts its
//! `allowed_outbound_hosts` lists.
//!
//! [`allowed_hosts`]: the entries, parsed and matched with Spin's rules (checked in the manifest
//! at parse time, resolved over the application variables here at load); [`policy`]: what one
//! component may reach; [`hooks`]: the instance's `wasi:http` state and the hooks that send or
//! refuse its requests.

pub mod allowed_hosts;
pub mod hooks;
pub mod policy;

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result};

pub use self::allowed_hosts::{AllowedHosts, HostEntry};
pub use self::hooks::{OutboundHttpState, add_to_linker};
pub use self::policy::OutboundPolicy;
use crate::factors::{AppContext, Factor};

/// The outbound HTTP factor.
pub struct OutboundHttpFactor;

/// The policy of every component, by id.
pub type AppState = BTreeMap<String, Arc<OutboundPolicy>>;

impl Factor for OutboundHttpFactor {
    type RuntimeConfig = ();
    type AppState = AppState;
    type InstanceState = OutboundHttpState;

    fn configure_app(ctx: &AppContext<'_>, _config: &()) -> Result<AppState> {
        let mut policies = BTreeMap::new();
        for (id, comp) in &ctx.manifest.components {
            let hosts = AllowedHosts::resolve(&comp.allowed_outbound_hosts, ctx.app_variables)
                .with_context(|| format!("component `{id}`"))?;
            policies.insert(id.clone(), Arc::new(OutboundPolicy::new(id.clone(), hosts)));
        }
        Ok(policies)
    }

    fn prepare(app: &AppState, component_id: &str) -> Result<OutboundHttpState> {
        let policy = app.get(component_id).cloned().unwrap_or_else(|| {
            Arc::new(OutboundPolicy::new(component_id, AllowedHosts::default()))
        });
        Ok(OutboundHttpState::new(policy))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_manifest::{TestComponent, TestManifest, configure, configure_with_env};
    use std::path::Path;

    fn manifest() -> crate::manifest::Manifest {
        TestManifest::new()
            .variable("hook_host", Some("hooks.example.com"))
            .component(TestComponent::new("webhooks").allowed_host("https://{{ hook_host }}"))
            .component(TestComponent::new("intent"))
            .parse()
    }

    #[test]
    fn each_component_gets_its_resolved_allow_list() {
        let app = configure::<OutboundHttpFactor>(&manifest(), Path::new("/unused"), &()).unwrap();
        let uri = "https://hooks.example.com/x".parse().unwrap();
        assert!(app["webhooks"].check(&uri).is_ok());
        let refused = app["intent"].check(&uri).unwrap_err();
        assert!(
            refused.contains("`intent`") && refused.contains("is empty"),
            "{refused}"
        );
        // An instance of either gets its state; an unknown component is offline.
        assert!(OutboundHttpFactor::prepare(&app, "webhooks").is_ok());
        assert!(OutboundHttpFactor::prepare(&app, "nope").is_ok());
    }

    #[test]
    fn an_environment_value_that_makes_an_entry_invalid_refuses_the_load() {
        let env = |k: &str| {
            (k == "SPIN_VARIABLE_HOOK_HOST").then(|| "a.example.com,b.example.com".to_string())
        };
        let err = configure_with_env::<OutboundHttpFactor>(&manifest(), &env, &())
            .err()
            .unwrap();
        let msg = format!("{err:#}");
        assert!(
            msg.starts_with("component `webhooks`: /app/spin.toml:"),
            "{msg}"
        );
        assert!(msg.contains("one entry allows one host"), "{msg}");
    }
}
