//! Why a key-value operation failed.

/// Why a key-value operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    /// The backing service cannot be reached now (Redis down, timed out, loading): try later.
    Unavailable(String),
    /// Anything else.
    Other(String),
}

impl KvError {
    /// The text behind either kind, for the guest's `error::other` and the host's log line.
    pub fn message(&self) -> &str {
        match self {
            Self::Unavailable(m) | Self::Other(m) => m,
        }
    }
}
