//! The probe application: the test component that exercises every host feature
//! (`tandem-probe`) behind `/probe/...`, as tests/tests/host.rs, runtime_config.rs and deploy.rs
//! serve it.

use std::path::{Path, PathBuf};

use crate::component;
use crate::manifest::{Component, Manifest, Var};

/// The probe application (the component at `wasm` behind `/probe/...`, see tests/tests/host.rs):
/// its variables, stores and the one outbound host it may reach.
pub fn probe_app(wasm: &Path) -> Manifest {
    Manifest::new("tandem-probe")
        .version("0.1.0")
        .description("End-to-end test fixture for the tandem host")
        .author("Tandem")
        .variable("greeting", Var::default("hello"))
        .variable("api_token", Var::required_secret())
        // The one host /probe/outbound may reach (empty: none), as the webhooks component's is set.
        .variable("probe_outbound", Var::default(""))
        .component(
            Component::new("probe", wasm)
                .route("/probe/...")
                .description("Exercises every host feature")
                .var("greeting", "{{ greeting }}, world")
                .var("token", "{{ api_token }}")
                .kv("default")
                .sqlite("default")
                .outbound("{{ probe_outbound }}"),
        )
}

/// [`probe_app`] written into `dir` as `spin.toml`, its `source` pointing at `wasm`.
pub fn probe_manifest_for(dir: &Path, wasm: &Path) -> PathBuf {
    probe_app(wasm).write(dir)
}

/// [`probe_manifest_for`] the built probe component.
pub fn probe_manifest(dir: &Path) -> PathBuf {
    probe_manifest_for(dir, &component("tandem-probe"))
}
