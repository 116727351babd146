//! Images' orchestration as a service: pulls (one tag, or every tag of a
//! repository with one status line at the end, as dockerd prints it) and
//! the image events.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use models::image::DeleteResponse;
use models::progress::{Message, Progress};
use store::reference::Reference;

use super::{Daemon, Error};

/// Emits an image event: `ID` the image id, `name` what the user named.
pub async fn event(d: &Daemon, image: &str, action: &str, name: &str) {
    let (e, i) = (d.engine.clone(), image.to_string());
    let id = tokio::task::spawn_blocking(move || e.image_inspect(&i).ok().map(|v| v.id))
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| image.to_string());
    let attrs = std::collections::BTreeMap::from([("name".to_string(), name.to_string())]);
    d.events.emit("image", action, &id, attrs);
}

/// `untag` and `delete` events for what `rmi` or prune did.
pub fn removal_events(d: &Daemon, items: &[DeleteResponse]) {
    for item in items {
        if let Some(t) = Some(item.untagged.as_str()).filter(|t| !t.is_empty()) {
            d.events.emit(
                "image",
                "untag",
                t,
                std::collections::BTreeMap::from([("name".to_string(), t.to_string())]),
            );
        }
        if let Some(id) = Some(item.deleted.as_str()).filter(|t| !t.is_empty()) {
            d.events.emit(
                "image",
                "delete",
                id,
                std::collections::BTreeMap::from([("name".to_string(), id.to_string())]),
            );
        }
    }
}

/// One progress message as Docker's JSON message.
pub fn progress_json(p: &engine::pull::Progress) -> Message {
    Message {
        status: p.status.clone(),
        id: p.id.clone().unwrap_or_default(),
        progress_detail: p.detail.map(|(current, total)| Progress {
            current: current as i64,
            total: total as i64,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A pull under way: its progress messages, and the task to abort when
/// nobody reads them any more.
#[derive(Debug)]
pub struct Pulling {
    /// Docker's progress messages; the last is an error if it failed.
    pub messages: tokio::sync::mpsc::UnboundedReceiver<Message>,
    /// The pull; aborting it ends its downloads early and their unpacks
    /// clean up.
    pub task: tokio::task::JoinHandle<()>,
}

/// Pulls `reference` (with `all_tags`, every tag of its repository). Every
/// manifest is resolved before this returns, so that a failure there is
/// an error with its kind; later failures are the last message.
pub async fn pull(
    d: &Arc<Daemon>,
    reference: Reference,
    all_tags: bool,
    platform: registry::Platform,
    credentials: registry::Credentials,
) -> Result<Pulling, Error> {
    let references = if all_tags {
        let bare = Reference {
            tag: None,
            digest: None,
            ..reference.clone()
        };
        let tags = d
            .engine
            .pull_tags(&d.registry, &bare, credentials.clone())
            .await?;
        if tags.is_empty() {
            return Err(Error::NotFound(format!(
                "no tags found for {}",
                bare.familiar_name()
            )));
        }
        tags.into_iter()
            .map(|t| Reference {
                tag: Some(t),
                ..bare.clone()
            })
            .collect()
    } else {
        vec![reference.clone()]
    };
    let mut plans = Vec::new();
    for r in &references {
        plans.push(
            d.engine
                .pull_prepare(&d.registry, r.clone(), &platform, credentials.clone())
                .await?,
        );
    }
    let (tx, messages) = tokio::sync::mpsc::unbounded_channel::<Message>();
    let sink_tx = tx.clone();
    // With every tag, one `Status:` line at the end for the repository.
    let newer = Arc::new(AtomicBool::new(false));
    let seen = newer.clone();
    let sink: engine::pull::Sink = Arc::new(move |p| {
        if all_tags && p.id.is_none() && p.status.starts_with("Status: ") {
            if p.status.starts_with("Status: Downloaded") {
                seen.store(true, Ordering::Relaxed);
            }
            return;
        }
        // The progress reader went away (the client hung up): the pull goes on.
        let _ = sink_tx.send(progress_json(&p));
    });
    let daemon = d.clone();
    let task = tokio::spawn(async move {
        for (plan, r) in plans.into_iter().zip(references) {
            match plan.run(sink.clone()).await {
                Ok(id) => event(&daemon, &id, "pull", &r.familiar()).await,
                Err(e) => {
                    // The client hung up: nobody is left to tell.
                    let _ = tx.send(Message::error(e.to_string()));
                    return;
                }
            }
        }
        if all_tags {
            let name = reference.familiar_name();
            let status = if newer.load(Ordering::Relaxed) {
                format!("Status: Downloaded newer image for {name}")
            } else {
                format!("Status: Image is up to date for {name}")
            };
            // The client hung up: nobody is left to tell.
            let _ = tx.send(Message::status(status));
        }
    });
    Ok(Pulling { messages, task })
}
