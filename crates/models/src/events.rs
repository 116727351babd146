//! `GET /events`: one message per line (`events.Message`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::is_default;

/// One event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Message {
    /// Deprecated: the action.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// Deprecated: the actor's id.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Deprecated: the container's image.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub from: String,
    /// `container`, `image`, `network`, `volume`, `daemon`, …
    #[serde(rename = "Type")]
    pub typ: String,
    /// `create`, `start`, `die`, …
    #[serde(rename = "Action")]
    pub action: String,
    /// What it happened to.
    #[serde(rename = "Actor")]
    pub actor: Actor,
    /// `local`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// Seconds since the epoch.
    #[serde(skip_serializing_if = "is_default")]
    pub time: i64,
    /// Nanoseconds since the epoch.
    #[serde(rename = "timeNano", skip_serializing_if = "is_default")]
    pub time_nano: i64,
}

/// `events.Actor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Actor {
    /// Its id.
    #[serde(rename = "ID")]
    pub id: String,
    /// Its name, image, labels, exit code, …
    #[serde(rename = "Attributes")]
    pub attributes: Option<BTreeMap<String, String>>,
}

impl Message {
    /// An attribute of the actor, empty when it has none.
    pub fn attr(&self, key: &str) -> &str {
        self.actor
            .attributes
            .as_ref()
            .and_then(|a| a.get(key))
            .map_or("", String::as_str)
    }
}
