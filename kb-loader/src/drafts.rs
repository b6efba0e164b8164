//! `kb-loader apply-drafts`: writes the accepted FAQ drafts of `GET /v1/knowledge/drafts/export`
//! into `kb/faq-accepted.yaml` (docs/graph.md, "Drafts"). A draft already in the file is
//! skipped, so applying the same export twice changes nothing; the KB is loaded with the new
//! file before it is written, and any error (an entry id taken meanwhile, an entry that is
//! gone) leaves the file as it was.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use tandem_core::kb::FaqChange;
use tandem_core::kb::{ACCEPTED_DRAFTS_FILE, AcceptedDrafts};

#[derive(clap::Args, Debug)]
pub struct ApplyArgs {
    /// The KB folder to change.
    #[arg(long, default_value = "kb")]
    kb: PathBuf,
    /// JSON Lines of `GET /v1/knowledge/drafts/export`.
    #[arg(long)]
    drafts: PathBuf,
}

const HEADER: &str = "# FAQ drafts accepted in the agent console, written by `kb-loader apply-drafts` from\n\
# GET /v1/knowledge/drafts/export (docs/graph.md, \"Drafts\"). The KB loader merges these changes\n\
# into faq.yaml's entries. Review them like any KB change; edit the entries here or move them\n\
# into faq.yaml (then delete them here).\n";

/// The changes of a JSON Lines export, in order; a bad line is an error naming it.
pub fn read_changes(path: &Path) -> anyhow::Result<Vec<FaqChange>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{}:{}: not a FAQ change", path.display(), i + 1))
        })
        .collect()
}

pub fn run(args: &ApplyArgs) -> anyhow::Result<()> {
    let incoming = read_changes(&args.drafts)?;
    let file = args.kb.join(ACCEPTED_DRAFTS_FILE);
    let mut accepted: AcceptedDrafts = match std::fs::read_to_string(&file) {
        Ok(text) => {
            serde_yaml::from_str(&text).with_context(|| format!("parsing {}", file.display()))?
        }
        Err(_) => AcceptedDrafts::default(),
    };
    let before = accepted.changes.len();
    for change in incoming {
        if !accepted.changes.iter().any(|c| c.draft() == change.draft()) {
            accepted.changes.push(change);
        }
    }
    let added = accepted.changes.len() - before;
    if added == 0 {
        eprintln!(
            "{}: every draft of {} is there already",
            file.display(),
            args.drafts.display()
        );
        return Ok(());
    }
    let text = format!("{HEADER}{}", serde_yaml::to_string(&accepted)?);
    // The KB as it would be: refuse to write a file that breaks it.
    let tmp = args.kb.join(format!(".{ACCEPTED_DRAFTS_FILE}.tmp"));
    std::fs::write(&tmp, &text)?;
    let check = {
        let backup = std::fs::read(&file).ok();
        std::fs::rename(&tmp, &file)?;
        let loaded = crate::source::load(&args.kb);
        if loaded.is_err() {
            match backup {
                Some(b) => std::fs::write(&file, b)?,
                None => std::fs::remove_file(&file)?,
            }
        }
        loaded
    };
    if let Err(e) = check {
        bail!(
            "the drafts do not apply, {} is unchanged: {e:#}",
            file.display()
        );
    }
    eprintln!(
        "{}: {added} draft(s) added ({} in all); rebuild the models with `kb-loader build`",
        file.display(),
        accepted.changes.len()
    );
    Ok(())
}
