//! `GetContainerEvents`: container lifecycle changes as they happen, for
//! the kubelet's evented PLEG. Changes made through this server are sent
//! as they are made; exits that happen on their own are found by a watcher
//! that looks at the running containers once a second while someone
//! listens.

use crate::api;

/// How many events wait for a slow listener before it loses some.
const BACKLOG: usize = 256;

/// The event bus.
#[derive(Debug)]
pub struct Events {
    tx: tokio::sync::broadcast::Sender<(String, api::ContainerEventType)>,
}

impl Default for Events {
    fn default() -> Events {
        Events {
            tx: tokio::sync::broadcast::channel(BACKLOG).0,
        }
    }
}

impl Events {
    /// A container changed.
    pub fn container(&self, id: &str, what: api::ContainerEventType) {
        // No one follows the events now: they are state, read again on demand.
        let _ = self.tx.send((id.to_string(), what));
    }

    /// A sandbox changed (not an event of the CRI's v1 list; kept for the
    /// watcher).
    pub fn sandbox_changed(&self, _id: &str) {}

    /// A new listener.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<(String, api::ContainerEventType)> {
        self.tx.subscribe()
    }

    /// Whether anyone listens.
    pub fn listened(&self) -> bool {
        self.tx.receiver_count() > 0
    }
}
