//! `tandem up --build`: run each component's `[component.X.build] command` before serving.

use anyhow::{Result, bail};

use crate::manifest::Manifest;

/// Runs every component's build command with `sh -c` in its `workdir`, in manifest order (as
/// `spin build` does, so a component composed from others is listed, and built, after them),
/// stopping at the first failure.
pub fn run(manifest: &Manifest) -> Result<()> {
    for id in &manifest.component_order {
        let comp = &manifest.components[id];
        let Some(build) = &comp.build else { continue };
        eprintln!("building component `{id}`: {}", build.command);
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(&build.command)
            .current_dir(&build.workdir)
            .status()?;
        if !status.success() {
            bail!("build of component `{id}` failed ({status})");
        }
    }
    Ok(())
}
