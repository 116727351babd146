//! The JSON lines of `pull`, `push`, `build`, `load` and `import`
//! (`jsonmessage.JSONMessage`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::is_default;

/// One line of a progress stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Message {
    /// Build output.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stream: String,
    /// `Pulling fs layer`, `Downloading`, …
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// Bytes so far of a layer.
    #[serde(rename = "progressDetail", skip_serializing_if = "Option::is_none")]
    pub progress_detail: Option<Progress>,
    /// Deprecated: the bar as text.
    #[serde(rename = "progress", skip_serializing_if = "String::is_empty")]
    pub progress: String,
    /// The layer's short id, or the tag.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Deprecated.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub from: String,
    /// Deprecated.
    #[serde(skip_serializing_if = "is_default")]
    pub time: i64,
    /// Deprecated.
    #[serde(rename = "timeNano", skip_serializing_if = "is_default")]
    pub time_nano: i64,
    /// What failed.
    #[serde(rename = "errorDetail", skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<ErrorDetail>,
    /// Deprecated: what failed, as text.
    #[serde(rename = "error", skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// Extra data: a build's image id, a push's digest. Its shape depends on
    /// the stream (`{"ID": …}`, `{"Tag", "Digest", "Size"}`), so it stays
    /// JSON here and the caller decodes the type it expects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aux: Option<Value>,
}

/// `progressDetail`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Progress {
    /// Bytes so far.
    #[serde(skip_serializing_if = "is_default")]
    pub current: i64,
    /// Bytes in all.
    #[serde(skip_serializing_if = "is_default")]
    pub total: i64,
    /// When it started.
    #[serde(skip_serializing_if = "is_default")]
    pub start: i64,
    /// Hide the counts.
    #[serde(rename = "hidecounts", skip_serializing_if = "is_default")]
    pub hide_counts: bool,
    /// The units.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub units: String,
}

/// `errorDetail`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorDetail {
    /// A code.
    #[serde(skip_serializing_if = "is_default")]
    pub code: i64,
    /// The message.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// `aux` of a push: what was pushed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PushResult {
    /// The tag.
    #[serde(rename = "Tag")]
    pub tag: String,
    /// The manifest's digest.
    #[serde(rename = "Digest")]
    pub digest: String,
    /// The manifest's size.
    #[serde(rename = "Size")]
    pub size: i64,
}

impl Message {
    /// A `status` line.
    pub fn status(status: impl Into<String>) -> Message {
        Message {
            status: status.into(),
            ..Default::default()
        }
    }

    /// An error line, as Docker sends one (`errorDetail` and `error`).
    pub fn error(message: impl Into<String>) -> Message {
        let message = message.into();
        Message {
            error_detail: Some(ErrorDetail {
                code: 0,
                message: message.clone(),
            }),
            error: message,
            ..Default::default()
        }
    }
}
