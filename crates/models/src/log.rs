//! berth's own `log-opts.json`: how the engine and the CRI server tell the
//! shim to write a container's log. Not a Docker body: it lives here
//! because both ends need the one type and this crate is the leaf they
//! share (the shim reads it with plain serde).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The options of one container's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogOptions {
    /// `json-file`, `local`, `none`, or `cri` (the kubelet's format at
    /// [`path`](Self::path)).
    pub driver: String,
    /// The `cri` driver's file (absolute); the others write `ctr.log` in
    /// the container's directory.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// Rotate past this many bytes (0: never).
    pub max_size: u64,
    /// Files kept, the current one included.
    pub max_file: u64,
    /// gzip the rotated files.
    pub compress: bool,
    /// json-file's `attrs` on every line.
    pub attrs: BTreeMap<String, String>,
}

impl Default for LogOptions {
    /// Docker's default: one json-file, never rotated.
    fn default() -> Self {
        LogOptions {
            driver: "json-file".into(),
            path: String::new(),
            max_size: 0,
            max_file: 1,
            compress: false,
            attrs: BTreeMap::new(),
        }
    }
}
