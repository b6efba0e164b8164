//! `tandem compose`: plug components into the imports of another, in-process, at build time.
//!
//! The handoff component imports `tandem:service/intent`; composing it with the (pre-
//! initialised) intent component gives one component whose intent calls are plain in-process
//! calls, so `spin.toml` needs no component dependencies and the host no inter-component glue.
//! `wasm-compose` (the library under `wasm-tools compose`) is already in wasmtime's dependency
//! tree, so this costs no extra crates.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Interface-name prefix of Tandem's own WIT package: none of these may remain imported...
pub const SERVICE_PREFIX: &str = "tandem:service/";
/// ...except the types-only interface, which every component using the shared types imports
/// and which has no functions to provide (the host links it as it does for intent alone).
pub const TYPES_INTERFACE: &str = "tandem:service/types@";

/// Composes `input` with `plugs` (their exports satisfy its imports of the same name) into
/// `output`, and fails when an import of a `tandem:service` interface is left unsatisfied.
pub fn compose(input: &Path, plugs: &[PathBuf], output: &Path) -> Result<()> {
    let dir = std::env::current_dir()?;
    let config = wasm_compose::config::Config {
        dir,
        definitions: plugs.to_vec(),
        // Any import not found among the plugs stays an import (WASI, Spin), resolved by the host.
        disallow_imports: false,
        ..Default::default()
    };
    let bytes = wasm_compose::composer::ComponentComposer::new(input, &config)
        .compose()
        .with_context(|| format!("composing {}", input.display()))?;
    let left: Vec<String> = component_imports(&bytes)?
        .into_iter()
        .filter(|name| name.starts_with(SERVICE_PREFIX) && !name.starts_with(TYPES_INTERFACE))
        .collect();
    if !left.is_empty() {
        bail!("composition left Tandem service imports unsatisfied: {left:?}");
    }
    std::fs::write(output, bytes).with_context(|| format!("writing {}", output.display()))?;
    Ok(())
}

/// Names of the top-level imports of a component.
pub fn component_imports(wasm: &[u8]) -> Result<Vec<String>> {
    use wasmparser::{Parser, Payload};
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.context("parsing the component")? {
            // Nested modules and components have their own imports; only the outer ones count.
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    names.push(import?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(names)
}
