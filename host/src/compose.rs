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

/// Composes `input` with `plugs` (their exports satisfy imports of the same name) into
/// `output`, and fails when an import of a `tandem:service` interface is left unsatisfied.
///
/// Plugs are wired by name throughout the graph, not just into `input`: a plug's own imports
/// are satisfied by the other plugs, and every import of one name gets the same instance. So
/// `--input assist --plug intent --plug ticket.unplugged --plug handoff.unplugged ...` gives one
/// intent instance serving assist, ticket and handoff (each plug is instantiated once).
pub fn compose(input: &Path, plugs: &[PathBuf], output: &Path) -> Result<()> {
    let dir = std::env::current_dir()?;
    let mut config = wasm_compose::config::Config {
        dir,
        // Any import not found among the plugs stays an import (WASI, Spin), resolved by the host.
        disallow_imports: false,
        ..Default::default()
    };
    // wasm-compose wires `definitions` into the input's imports only (their own imports would
    // stay imports of the result); named `dependencies` are resolved for every instance of the
    // graph. Each plug is registered under the names it exports that something here imports.
    let read =
        |path: &Path| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    let mut wanted: Vec<String> = component_imports(&read(input)?)?;
    let mut exported: Vec<(PathBuf, Vec<String>)> = Vec::new();
    for plug in plugs {
        let bytes = read(plug)?;
        wanted.extend(component_imports(&bytes)?);
        exported.push((plug.clone(), component_instance_exports(&bytes)?));
    }
    for (plug, names) in exported {
        let mut used = false;
        for name in names.into_iter().filter(|n| wanted.contains(n)) {
            used = true;
            let dependency = wasm_compose::config::Dependency { path: plug.clone() };
            if let Some(other) = config.dependencies.insert(name.clone(), dependency) {
                bail!(
                    "both {} and {} export `{name}`; plug only one of them",
                    other.path.display(),
                    plug.display()
                );
            }
        }
        if !used {
            bail!(
                "{} exports nothing that {} or the other plugs import",
                plug.display(),
                input.display()
            );
        }
    }
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

/// Names of the top-level instance exports of a component (`tandem:service/intent@0.1.0`, ...).
pub fn component_instance_exports(wasm: &[u8]) -> Result<Vec<String>> {
    use wasmparser::{ComponentExternalKind, Parser, Payload};
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.context("parsing the component")? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentExportSection(reader) if depth == 0 => {
                for export in reader {
                    let export = export?;
                    if export.kind == ComponentExternalKind::Instance {
                        names.push(export.name.name.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    Ok(names)
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
