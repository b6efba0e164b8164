//! One `[<table>.<label>]` entry of the runtime config file, with the spans its messages need.
//! A leaf: the factors' `runtime_config.rs` files parse their entries with it.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use toml::de::DeValue;

/// Formats a span of the file as `file:line` for messages.
pub type At<'a> = &'a dyn Fn(Range<usize>) -> String;

/// One `[<table>.<label>]` entry: its `type` and the other keys, with their spans.
pub struct Entry<'a> {
    /// The `type` value.
    pub kind: String,
    /// Where the `type` value is.
    pub kind_span: Range<usize>,
    /// Where the label is.
    pub span: Range<usize>,
    /// The other keys.
    pub rest: BTreeMap<String, (Range<usize>, &'a DeValue<'a>)>,
}

impl<'a> Entry<'a> {
    /// The value of `key` with its span, `None` inside when it is not a string.
    pub fn str(&self, key: &str) -> Option<(Range<usize>, Option<&'a str>)> {
        self.rest
            .get(key)
            .map(|(span, value)| (span.clone(), value.as_str()))
    }

    /// The `path` key as a path relative to `base`, if given.
    pub fn optional_path(&self, what: &str, base: &Path, at: At<'_>) -> Result<Option<PathBuf>> {
        let Some((span, value)) = self.str("path") else {
            return Ok(None);
        };
        match value {
            Some(p) if !p.is_empty() => Ok(Some(base.join(p))),
            _ => bail!("{}: {what}: `path` must be a non-empty string", at(span)),
        }
    }

    /// Refuses any key other than `type` and `allowed`.
    pub fn only_keys(&self, what: &str, allowed: &[&str], at: At<'_>) -> Result<()> {
        if let Some((key, value)) = self
            .rest
            .iter()
            .find(|(k, _)| !allowed.contains(&k.as_str()))
        {
            bail!(
                "{}: {what}: unknown key `{key}` for type \"{}\" (allowed: {})",
                at(value.0.clone()),
                self.kind,
                allowed.join(", ")
            );
        }
        Ok(())
    }
}

/// The `[<table>.<label>]` entries of top-level table `table` (at `span`), each with a `type`.
pub fn table_entries<'a>(
    table: &str,
    value: &'a DeValue<'a>,
    span: Range<usize>,
    at: At<'_>,
) -> Result<Vec<(String, Entry<'a>)>> {
    let Some(labels) = value.as_table() else {
        bail!(
            "{}: `{table}` must hold `[{table}.<label>]` tables",
            at(span)
        );
    };
    labels
        .iter()
        .map(|(label, entry)| {
            let label_span = label.span();
            let label = label.get_ref().to_string();
            let Some(fields) = entry.get_ref().as_table() else {
                bail!("{}: `{table}.{label}` must be a table", at(label_span));
            };
            let mut rest = BTreeMap::new();
            let mut kind = None;
            for (key, v) in fields.iter() {
                if key.get_ref().as_ref() == "type" {
                    kind = Some((v.get_ref().as_str(), v.span()));
                } else {
                    rest.insert(key.get_ref().to_string(), (v.span(), v.get_ref()));
                }
            }
            let (kind, kind_span) = match kind {
                Some((Some(k), s)) => (k.to_string(), s),
                Some((None, s)) => {
                    bail!("{}: [{table}.{label}]: `type` must be a string", at(s))
                }
                None => bail!("{}: [{table}.{label}] needs a `type`", at(label_span)),
            };
            let entry = Entry {
                kind,
                kind_span,
                span: label_span,
                rest,
            };
            Ok((label, entry))
        })
        .collect()
}
