//! The key-value factor's part of the runtime config: `[key_value_store.<label>]`.
//!
//! ```toml
//! [key_value_store.default]
//! type = "redis"                      # or "spin" with an optional `path`
//! url = "redis://127.0.0.1:6379"
//! ```
//!
//! A relative `path` is relative to the directory of the runtime config file (as in Spin).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::runtime_config::entry::{At, Entry};

/// The key-value stores the runtime config defines, by label.
pub type RuntimeConfig = BTreeMap<String, KvConfig>;

/// Where one key-value store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvConfig {
    /// A SQLite file in Spin's `spin_key_value` layout; `None` = the default file in the data dir.
    Spin {
        /// Absolute path of the file, if given.
        path: Option<PathBuf>,
    },
    /// A Redis server (`redis://` or `redis+unix://`).
    Redis {
        /// The URL as written.
        url: String,
    },
}

/// Parses `[key_value_store.<label>]` (`base`: the runtime config file's directory).
pub fn parse_entry(label: &str, entry: &Entry<'_>, base: &Path, at: At<'_>) -> Result<KvConfig> {
    let what = format!("[key_value_store.{label}]");
    match entry.kind.as_str() {
        "spin" => {
            let path = entry.optional_path(&what, base, at)?;
            entry.only_keys(&what, &["path"], at)?;
            Ok(KvConfig::Spin { path })
        }
        "redis" => {
            entry.only_keys(&what, &["url"], at)?;
            let Some((url_span, url)) = entry.str("url") else {
                bail!(
                    "{}: {what} of type \"redis\" needs `url = \"redis://HOST:PORT\"`",
                    at(entry.span.clone())
                );
            };
            let Some(text) = url else {
                bail!("{}: {what}: `url` must be a string", at(url_span));
            };
            check_redis_url(text).map_err(|e| anyhow::anyhow!("{}: {what}: {e}", at(url_span)))?;
            Ok(KvConfig::Redis {
                url: text.to_string(),
            })
        }
        other => bail!(
            "{}: {what}: unknown key-value store type \"{other}\" (this host serves \"spin\" and \"redis\")",
            at(entry.kind_span.clone())
        ),
    }
}

/// A URL the Redis client accepts and this build can connect to (no TLS).
fn check_redis_url(url: &str) -> Result<()> {
    let info: redis::ConnectionInfo = redis::IntoConnectionInfo::into_connection_info(url)
        .map_err(|e| anyhow::anyhow!("`url` is not a Redis URL ({e})"))?;
    match info.addr {
        redis::ConnectionAddr::Tcp(..) | redis::ConnectionAddr::Unix(_) => Ok(()),
        _ => bail!("`url`: TLS (`rediss://`) is not supported by this host; use `redis://`"),
    }
}

/// The URL with any password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("redis://default:s3cret@cache:6379/0"),
            "redis://default:***@cache:6379/0"
        );
        assert_eq!(redact_url("redis://cache:6379"), "redis://cache:6379");
    }
}
