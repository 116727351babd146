//! One task per running container: it notices the exit (the shim's
//! `exit.json`), unmounts the root filesystem, removes an `--rm` container,
//! and applies the restart policy with Docker's back-off (100 ms doubling,
//! at most a minute, back to 100 ms after ten seconds of running).
//! At start the daemon adopts what its predecessor left: running containers
//! get a monitor again, exited ones are unmounted, removed or restarted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::container::State;

use super::phases::Phase;
use super::Daemon;

/// How often a monitor looks for the exit where it cannot wait for it.
const POLL: Duration = Duration::from_millis(10);

/// Waits until process `pid` has exited: a pidfd becomes readable then, so
/// no polling (Linux 5.3+); false if no pidfd could be had.
async fn pid_exit(pid: i32) -> bool {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return false;
    }
    // SAFETY: the fd was just returned to us and is owned by nothing else.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) };
    // SAFETY: the AsyncFd owns the OwnedFd, which stays open and the same
    // until the AsyncFd is dropped.
    let Ok(afd) = (unsafe { tokio::io::unix::AsyncFd::register(fd) }) else {
        return false;
    };
    // An error readable is readable: the caller reads the exit either way.
    let _ = afd.readable().await;
    true
}

/// Follows container `id` until it exits for good.
pub async fn watch(d: Arc<Daemon>, id: String) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let started = Instant::now();
        let code = loop {
            let (e, i) = (d.engine.clone(), id.clone());
            let st = tokio::task::spawn_blocking(move || e.find_container(&i).map(|c| e.state(&c)))
                .await;
            match st {
                Ok(Ok(State::Exited(code, _))) => {
                    runtime::trace::mark("monitor saw exit");
                    // A container its policy restarts shows as restarting
                    // before anyone hears of the exit: a client that waited
                    // for it and then removes it without force is refused.
                    let (e, i) = (d.engine.clone(), id.clone());
                    // The task only marks the restart wait; a panic in it is the engine's own log.
                    let _ = tokio::task::spawn_blocking(move || {
                        if let Ok(c) = e.find_container(&i) {
                            if e.should_restart(&c, code, false) {
                                e.begin_restart_wait(&i);
                            }
                        }
                    })
                    .await;
                    // The event first: a client that waited for the exit and
                    // then reads the events finds the die there.
                    super::containers::event(&d, &id, "die", vec![("exitCode", code.to_string())])
                        .await;
                    d.phases.publish(&id, Phase::Exited(code));
                    runtime::trace::mark("exit published");
                    break code;
                }
                Ok(Ok(State::Running(..))) => {
                    // The shim exits right after it records the exit.
                    let shim = d.engine.shim_pid(&id);
                    if !matches!(shim, Some(p) if pid_exit(p).await) {
                        tokio::time::sleep(POLL).await;
                    }
                }
                // Removed, never started, or the engine failed: nothing to do.
                _ => return,
            }
        };
        if started.elapsed() >= Duration::from_secs(10) {
            backoff = Duration::from_millis(100);
        }
        if !after_exit(&d, &id, code, false, backoff).await {
            return;
        }
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}

/// What follows an exit: release, remove, or restart after `delay`.
/// True when the container was started again.
async fn after_exit(d: &Arc<Daemon>, id: &str, code: i32, at_boot: bool, delay: Duration) -> bool {
    let e = d.engine.clone();
    let i = id.to_string();
    let Ok(Ok(c)) = tokio::task::spawn_blocking(move || e.find_container(&i)).await else {
        return false;
    };
    let e = d.engine.clone();
    if !e.should_restart(&c, code, at_boot) {
        // Marked at the exit, but its record says otherwise now.
        e.end_restart_wait(&c.id);
        let auto = c.config.host_config.auto_remove;
        let c2 = c.clone();
        // The task logs nothing of its own: a failed release is retried at the next adopt.
        let _ = tokio::task::spawn_blocking(move || e.container_release(&c2)).await;
        if auto {
            // Attached clients read the last output before the files go.
            d.phases.drained(&c.id, Duration::from_secs(5)).await;
            runtime::trace::mark("attached streams drained");
            let e = d.engine.clone();
            let removed = tokio::task::spawn_blocking(move || {
                e.container_remove(&c.id, true, true).map(|_| c)
            })
            .await;
            if let Ok(Ok(c)) = removed {
                d.phases.publish(&c.id, Phase::Removed(Some(code)));
                runtime::trace::mark("removal published");
                d.events.container(&c, "destroy", &[]);
            }
        }
        return false;
    }
    e.begin_restart_wait(&c.id);
    tokio::time::sleep(if at_boot { Duration::ZERO } else { delay }).await;
    // A stop or removal during the back-off cancels the restart.
    if !e.end_restart_wait(&c.id) {
        return false;
    }
    let e2 = e.clone();
    let i = c.id.clone();
    let Ok(Ok(c)) = tokio::task::spawn_blocking(move || {
        e2.mark(&i, |r| r.restart_count += 1)?;
        e2.find_container(&i)
    })
    .await
    else {
        return false;
    };
    let c2 = c.clone();
    let e3 = e.clone();
    // The task logs nothing of its own: a failed release is retried at the next adopt.
    let _ = tokio::task::spawn_blocking(move || e3.container_release(&c2)).await;
    let id = c.id.clone();
    match super::containers::start_container(d, c, false).await {
        Ok(()) => true,
        Err(err) => {
            tracing::warn!("restart of container {id} by its policy failed: {err}");
            false
        }
    }
}

/// At daemon start: monitors for running containers, and for exited ones
/// what their exit asks (restart policies apply as at a reboot).
pub async fn adopt(d: Arc<Daemon>) {
    let e = d.engine.clone();
    // The task logs its own outcomes (above); a panic in it is tokio's to report.
    let _ = tokio::task::spawn_blocking(move || {
        match e.remove_orphans() {
            Ok(0) => {}
            Ok(n) => tracing::info!("removed {n} orphaned container directories"),
            Err(err) => tracing::warn!("removing orphaned container directories: {err}"),
        }
        match e.resume_interrupted_commits() {
            Ok(0) => {}
            Ok(n) => tracing::info!("resumed {n} containers paused by an interrupted commit"),
            Err(err) => tracing::warn!("resuming containers paused by a commit: {err}"),
        }
    })
    .await;
    let e = d.engine.clone();
    let all = match tokio::task::spawn_blocking(move || e.container_records()).await {
        Ok(Ok(all)) => all,
        Ok(Err(err)) => {
            tracing::error!("reading the container records: {err}");
            return;
        }
        Err(err) => {
            tracing::error!("reading the container records: {err}");
            return;
        }
    };
    for c in all {
        match d.engine.state(&c) {
            State::Running(..) => {
                super::health::watch(&d, &c);
                tokio::spawn(watch(d.clone(), c.id.clone()));
            }
            State::Exited(code, _) if !c.started.is_empty() => {
                let d = d.clone();
                tokio::spawn(async move {
                    if after_exit(&d, &c.id, code, true, Duration::ZERO).await {
                        watch(d, c.id).await;
                    }
                });
            }
            _ => {}
        }
    }
}
