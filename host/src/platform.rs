//! What one component may use of the Spin platform, as granted by its manifest entry.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::outbound::OutboundPolicy;
use crate::spin_kv::KvBackend;
use crate::spin_variables::Value;

/// The Spin platform as one component sees it; shared (read-only) by all its instances.
pub struct ComponentPlatform {
    /// Component id, for messages.
    pub id: String,
    /// Where SQLite databases live.
    pub data_dir: PathBuf,
    /// Resolved component variables.
    pub variables: BTreeMap<String, Value>,
    /// Granted key-value stores by label.
    pub key_value_stores: BTreeMap<String, Arc<KvBackend>>,
    /// Granted SQLite databases: label → file.
    pub sqlite_databases: BTreeMap<String, PathBuf>,
    /// Where its outgoing HTTP requests may go (`allowed_outbound_hosts`, resolved).
    pub outbound: Arc<OutboundPolicy>,
}
