//! The container lifecycle as a service: create, start (and the monitor
//! that follows), stop, restart, kill, pause, rename, remove, commit,
//! prune, list and inspect with the daemon's health, waiting for a phase,
//! and the events each emits. The API layer parses requests and shapes
//! responses; the engine does the work on disk and in the kernel.

use std::sync::Arc;

use engine::container::{ContainerRecord, State};
use models::container::{CreateBody, CreateResponse, Inspect, PruneReport, Summary};

use super::phases::Phase;
use super::{blocking, Daemon, Error};

/// Emits a container event; the record gives name, image and labels.
pub async fn event(d: &Daemon, name: &str, action: &str, extra: Vec<(&'static str, String)>) {
    let (e, n) = (d.engine.clone(), name.to_string());
    if let Ok(Ok(c)) = tokio::task::spawn_blocking(move || e.find_container(&n)).await {
        d.events.container(&c, action, &extra);
    }
}

/// Creates a container named `name` (empty: a generated name) for
/// `platform` (empty: any).
pub async fn create(
    d: &Daemon,
    name: String,
    platform: String,
    body: CreateBody,
) -> Result<CreateResponse, Error> {
    let e = d.engine.clone();
    let created = super::now_rfc3339();
    let (id, warnings) = blocking(move || {
        e.check_platform(&body.config.image, &platform)?;
        e.container_create_warned(Some(&name), body, created)
    })
    .await?;
    event(d, &id, "create", vec![]).await;
    Ok(CreateResponse { id, warnings })
}

/// A user's start (it clears an earlier user stop and the restart count);
/// a monitor follows the container. False when it was running already.
pub async fn start(d: &Arc<Daemon>, name: String) -> Result<bool, Error> {
    let e = d.engine.clone();
    let c = blocking(move || e.find_container(&name)).await?;
    if let State::Running(..) = d.engine.state(&c) {
        return Ok(false);
    }
    start_and_monitor(d, c, true).await?;
    Ok(true)
}

/// Starts a container and spawns its monitor.
pub async fn start_and_monitor(
    d: &Arc<Daemon>,
    c: ContainerRecord,
    by_user: bool,
) -> Result<(), Error> {
    let id = c.id.clone();
    start_container(d, c, by_user).await?;
    tokio::spawn(super::monitor::watch(d.clone(), id));
    Ok(())
}

/// Starts a container. A user start forgets an earlier user stop; a failed
/// start of an `--rm` container removes it (Docker's CLI waits for that
/// before it reports the error).
pub async fn start_container(
    d: &Arc<Daemon>,
    c: ContainerRecord,
    by_user: bool,
) -> Result<(), Error> {
    let e = d.engine.clone();
    let shim = d.shim.clone();
    let now = super::now_rfc3339();
    let c2 = c.clone();
    let attached = d.phases.shim_waiters(&c.id);
    let started = blocking(move || {
        if by_user {
            e.mark(&c2.id, |r| {
                r.stopped_by_user = false;
                r.restart_count = 0;
            })?;
        }
        match e.container_start(&c2.id, &shim, now, attached) {
            Ok(()) => Ok(Ok(())),
            Err(err) => {
                let auto = c2.config.host_config.auto_remove;
                let removed = auto && e.container_remove(&c2.id, true, true).is_ok();
                Ok(Err((err, removed)))
            }
        }
    })
    .await?;
    match started {
        Ok(()) => {
            d.phases.publish(&c.id, Phase::Running);
            d.events.container(&c, "start", &[]);
            super::health::watch(d, &c);
            Ok(())
        }
        Err((err, removed)) => {
            if removed {
                d.phases.publish(&c.id, Phase::Removed(None));
            }
            Err(err.into())
        }
    }
}

/// A user's stop with `signal` (empty: the container's stop signal) and
/// `timeout` seconds before SIGKILL. False when it was not running.
pub async fn stop(
    d: &Daemon,
    name: String,
    signal: String,
    timeout: Option<i64>,
) -> Result<bool, Error> {
    let e = d.engine.clone();
    let (stopped, id) = blocking(move || {
        let c = e.find_container(&name)?;
        e.mark(&c.id, |r| r.stopped_by_user = true)?;
        e.end_restart_wait(&c.id);
        e.container_stop(&c.id, Some(&signal), timeout)
            .map(|s| (s, c.id))
    })
    .await?;
    if stopped {
        event(d, &id, "stop", vec![]).await;
    }
    Ok(stopped)
}

/// A user's restart: a stop as [`stop`], then a start with a new monitor.
pub async fn restart(
    d: &Arc<Daemon>,
    name: String,
    signal: String,
    timeout: Option<i64>,
) -> Result<(), Error> {
    let e = d.engine.clone();
    let c = blocking(move || {
        let c = e.find_container(&name)?;
        // Stopped by us on the user's behalf: the monitor must not restart it.
        e.mark(&c.id, |r| r.stopped_by_user = true)?;
        e.container_stop(&c.id, Some(&signal), timeout)?;
        e.container_release(&c);
        Ok(c)
    })
    .await?;
    let id = c.id.clone();
    start_and_monitor(d, c, true).await?;
    event(d, &id, "restart", vec![]).await;
    Ok(())
}

/// Sends `signal` (empty: SIGKILL); a SIGKILL counts as a user stop, as
/// Docker counts it.
pub async fn kill(d: &Daemon, name: String, signal: String) -> Result<(), Error> {
    let e = d.engine.clone();
    let (id, sig) = blocking(move || {
        let c = e.find_container(&name)?;
        let sig = if signal.is_empty() {
            "KILL".to_string()
        } else {
            signal
        };
        if matches!(sig.to_ascii_uppercase().as_str(), "KILL" | "SIGKILL" | "9") {
            e.mark(&c.id, |r| r.stopped_by_user = true)?;
        }
        e.container_kill(&c.id, &sig).map(|()| (c.id, sig))
    })
    .await?;
    let number = engine::container::signal_number(&sig).map_or(sig, |n| n.to_string());
    event(d, &id, "kill", vec![("signal", number)]).await;
    Ok(())
}

/// Pauses (or unpauses) a container.
pub async fn pause(d: &Daemon, name: String, pause: bool) -> Result<(), Error> {
    let e = d.engine.clone();
    let n = name.clone();
    blocking(move || e.container_pause(&n, pause)).await?;
    event(d, &name, if pause { "pause" } else { "unpause" }, vec![]).await;
    Ok(())
}

/// Renames a container.
pub async fn rename(d: &Daemon, name: String, new: String) -> Result<(), Error> {
    let e = d.engine.clone();
    let (old, n) = (name.clone(), new.clone());
    blocking(move || e.container_rename(&name, &n)).await?;
    let old = format!("/{}", old.trim_start_matches('/'));
    event(d, &new, "rename", vec![("oldName", old)]).await;
    Ok(())
}

/// Removes a container (`force`: even a running one; `volumes`: with its
/// anonymous volumes) and tells waiters and events.
pub async fn remove(d: &Daemon, name: String, force: bool, volumes: bool) -> Result<(), Error> {
    let e = d.engine.clone();
    let (c, code) = blocking(move || {
        let c = e.find_container(&name)?;
        let code = e.exit_code(&c);
        e.container_remove(&c.id, force, volumes)?;
        Ok((c, code.or_else(|| force.then_some(137))))
    })
    .await?;
    d.phases.publish(&c.id, Phase::Removed(code));
    d.health
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&c.id);
    d.events.container(&c, "destroy", &[]);
    Ok(())
}

/// A container's inspect, with the health the daemon keeps.
pub async fn inspect(d: &Daemon, name: String) -> Result<Inspect, Error> {
    let e = d.engine.clone();
    let mut v = blocking(move || e.container_inspect(&name)).await?;
    super::health::annotate_inspect(d, &mut v);
    Ok(v)
}

/// The container list: the engine's filters, then the `health` filter
/// (the health states are the daemon's: a container without a healthcheck
/// is `none`, as Docker's).
pub async fn list(
    d: &Daemon,
    all: bool,
    limit: Option<usize>,
    size: bool,
    filters: engine::filters::Filters,
) -> Result<Vec<Summary>, Error> {
    let health = filters.get("health").to_vec();
    let e = d.engine.clone();
    let mut list = blocking(move || e.container_list(all, limit, size, &filters)).await?;
    if !health.is_empty() {
        let map = d.health.lock().unwrap_or_else(|p| p.into_inner());
        list.retain(|c| {
            let state = map.get(&c.id).map_or("none", |h| h.status.as_str());
            health.iter().any(|h| h == state)
        });
    }
    super::health::annotate_list(d, &mut list);
    Ok(list)
}

/// What a commit asks besides the container.
#[derive(Debug, Default)]
pub struct Commit {
    /// `repo[:tag]` to tag the image with, if any.
    pub reference: Option<String>,
    /// The image's author.
    pub author: String,
    /// The history comment.
    pub comment: String,
    /// Dockerfile instructions applied to the config.
    pub changes: Vec<String>,
    /// Pause the container while its layer is read.
    pub pause: bool,
}

/// Commits a container's writable layer as an image; its id.
pub async fn commit(d: &Daemon, container: String, o: Commit) -> Result<String, Error> {
    let e = d.engine.clone();
    let created = super::now_rfc3339();
    let comment = o.comment.clone();
    let name = container.clone();
    let id = blocking(move || {
        let o = engine::container::CommitOptions {
            reference: o.reference.as_deref(),
            author: &o.author,
            comment: &o.comment,
            changes: &o.changes,
            pause: o.pause,
            created,
        };
        e.container_commit(&name, &o)
    })
    .await?;
    event(d, &container, "commit", vec![("comment", comment)]).await;
    Ok(id)
}

/// Removes every stopped container created before `until` (seconds since
/// the epoch) carrying the `labels` filters, with the space their writable
/// layers took.
pub async fn prune(
    d: &Daemon,
    until: Option<f64>,
    labels: Vec<String>,
) -> Result<PruneReport, Error> {
    let e = d.engine.clone();
    let (deleted, space) = blocking(move || {
        let mut pairs = vec![("status", "exited"), ("status", "created")];
        pairs.extend(labels.iter().map(|l| ("label", l.as_str())));
        let list = engine::filters::Filters::from_pairs(&pairs);
        let mut deleted = Vec::new();
        let mut space = 0u64;
        for c in e.container_list(true, None, true, &list)? {
            if until.is_some_and(|u| c.created as f64 > u) {
                continue;
            }
            if e.container_remove(&c.id, false, false).is_ok() {
                space += u64::try_from(c.size_rw).unwrap_or(0);
                deleted.push(c.id);
            }
        }
        Ok((deleted, space))
    })
    .await?;
    for id in &deleted {
        d.phases.publish(id, Phase::Removed(None));
        d.events
            .emit("container", "destroy", id, Default::default());
    }
    d.events.emit(
        "container",
        "prune",
        "",
        std::collections::BTreeMap::from([("reclaimed".to_string(), space.to_string())]),
    );
    Ok(PruneReport {
        containers_deleted: (!deleted.is_empty()).then_some(deleted),
        space_reclaimed: space,
    })
}

/// What a waiter waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Not running (now, or at its next exit).
    NotRunning,
    /// Its next exit.
    NextExit,
    /// Its removal.
    Removed,
}

/// Subscribes to container `name`'s phases and answers a future that ends
/// with its exit code when `condition` is met (0 if it never ran). The
/// subscription comes before the state is read: nothing published after
/// it is missed.
pub async fn wait(
    d: &Daemon,
    name: String,
    condition: Condition,
) -> Result<impl std::future::Future<Output = i64> + Send + 'static, Error> {
    let e = d.engine.clone();
    let c = blocking(move || e.find_container(&name)).await?;
    let mut rx = d.phases.subscribe(&c.id);
    let e = d.engine.clone();
    let (state, exists) =
        blocking(move || Ok((e.state(&c), e.find_container(&c.id).is_ok()))).await?;
    Ok(async move {
        let mut last = match state {
            State::Exited(code, _) => Some(code),
            _ => None,
        };
        let running = matches!(state, State::Running(..));
        let mut done = match condition {
            Condition::NotRunning => !running || !exists,
            Condition::Removed | Condition::NextExit => !exists,
        };
        while !done {
            let changed = rx.changed().await;
            let phase = rx.borrow_and_update().clone();
            match phase {
                Phase::Exited(code) => {
                    last = Some(code);
                    done = condition != Condition::Removed;
                }
                Phase::Removed(code) => {
                    last = code.or(last);
                    done = true;
                }
                _ => {}
            }
            if changed.is_err() {
                break;
            }
        }
        i64::from(last.unwrap_or(0))
    })
}
