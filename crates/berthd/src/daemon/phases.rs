//! What happened to each container lately, broadcast to whoever waits:
//! the monitor publishes the exit, removals publish the removal. `wait`
//! and `attach` subscribe instead of polling, and an `--rm` container is
//! removed only after its attached streams have drained, so a fast
//! container's output and exit code are never lost to its removal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

/// A container's latest phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Nothing published since the daemon started.
    Unknown,
    /// Started.
    Running,
    /// Exited with a code.
    Exited(i32),
    /// Removed; its last exit code, if it ran.
    Removed(Option<i32>),
}

/// Phases and attached streams, per container id.
#[derive(Default, Debug)]
pub struct Phases {
    senders: Mutex<HashMap<String, watch::Sender<Phase>>>,
    attached: Mutex<HashMap<String, usize>>,
    /// Attached streams that wait for a shim to join (see `shim_waiters`).
    waiting: Mutex<HashMap<String, usize>>,
}

/// Counts an attached stream (or one waiting for its shim) while it lives.
pub struct Attached {
    phases: Arc<Phases>,
    id: String,
    waiting: bool,
}

impl Drop for Attached {
    fn drop(&mut self) {
        let mut a = self
            .phases
            .counts(self.waiting)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = a.get_mut(&self.id) {
            *n -= 1;
            if *n == 0 {
                a.remove(&self.id);
            }
        }
    }
}

impl Phases {
    fn sender(&self, id: &str) -> watch::Sender<Phase> {
        let mut s = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        s.entry(id.to_string())
            .or_insert_with(|| watch::channel(Phase::Unknown).0)
            .clone()
    }

    /// A receiver whose current value counts as seen: `changed()` wakes on
    /// the next publication.
    pub fn subscribe(&self, id: &str) -> watch::Receiver<Phase> {
        self.sender(id).subscribe()
    }

    /// Publishes a phase. A removal is the last word: its sender goes.
    pub fn publish(&self, id: &str, phase: Phase) {
        let removed = matches!(phase, Phase::Removed(_));
        self.sender(id).send_replace(phase);
        if removed {
            self.senders
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(id);
        }
    }

    /// Registers an attached stream.
    pub fn attach(self: &Arc<Self>, id: &str) -> Attached {
        self.count(id, false)
    }

    /// Counts a stream that waits to join the next shim of `id`: the shim
    /// holds the container's start until they are there (`BERTH_ATTACH_WAIT`),
    /// so `run` and `start -a` see the first bytes.
    pub fn wait_for_shim(self: &Arc<Self>, id: &str) -> Attached {
        self.count(id, true)
    }

    /// How many streams wait to join `id`'s next shim.
    pub fn shim_waiters(&self, id: &str) -> usize {
        let w = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        w.get(id).copied().unwrap_or(0)
    }

    fn counts(&self, waiting: bool) -> &Mutex<HashMap<String, usize>> {
        if waiting {
            &self.waiting
        } else {
            &self.attached
        }
    }

    fn count(self: &Arc<Self>, id: &str, waiting: bool) -> Attached {
        *self
            .counts(waiting)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id.to_string())
            .or_default() += 1;
        Attached {
            phases: self.clone(),
            id: id.to_string(),
            waiting,
        }
    }

    /// Waits (at most `limit`) until no stream is attached to `id`.
    pub async fn drained(&self, id: &str, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self
            .attached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(id)
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}
