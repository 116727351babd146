//! Healthchecks: a running container whose config has a `Healthcheck`
//! (`CMD`/`CMD-SHELL`, interval, timeout, start period and interval,
//! retries, as Docker's)
//! gets a task that runs the check as an exec (the sealed `berth-runtime
//! exec`, as `/exec` does), keeps the last five results, and turns the
//! status to `healthy` or, after `retries` failures in a row, `unhealthy`;
//! failures within the start period do not count. The state is in memory
//! and shows in `inspect` (`State.Health`), `ps` (`(healthy)`) and events
//! (`health_status: healthy`).

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use models::container::{Health, HealthcheckResult, Inspect, Summary};
use models::exec::ExecConfig;
use tokio::io::AsyncReadExt;

use super::phases::Phase;
use super::Daemon;

/// Docker's defaults.
const INTERVAL: Duration = Duration::from_secs(30);
const TIMEOUT: Duration = Duration::from_secs(30);
const RETRIES: u64 = 3;
const START_INTERVAL: Duration = Duration::from_secs(5);
/// Output kept per result, as Docker's.
const MAX_OUTPUT: usize = 4096;

fn duration(ns: i64, default: Duration) -> Duration {
    match u64::try_from(ns) {
        Ok(0) | Err(_) => default,
        Ok(ns) => Duration::from_nanos(ns),
    }
}

/// The command of a `Test`, or None for none/`NONE`.
fn command(t: &[String]) -> Option<Vec<String>> {
    match t.first().map(String::as_str) {
        Some("CMD") => Some(t[1..].to_vec()),
        Some("CMD-SHELL") => Some(vec!["/bin/sh".into(), "-c".into(), t[1..].join(" ")]),
        _ => None,
    }
}

/// Starts the checks of a just-started container, if it has any.
pub fn watch(d: &Arc<Daemon>, c: &engine::container::ContainerRecord) {
    let hc = c.config.config.healthcheck.clone().unwrap_or_default();
    let Some(cmd) = command(&hc.test) else {
        return;
    };
    let d = d.clone();
    let id = c.id.clone();
    d.health.lock().unwrap_or_else(|p| p.into_inner()).insert(
        id.clone(),
        Health {
            status: "starting".into(),
            failing_streak: 0,
            log: Some(Vec::new()),
        },
    );
    tokio::spawn(async move {
        let interval = duration(hc.interval, INTERVAL);
        let timeout = duration(hc.timeout, TIMEOUT);
        let start_period = duration(hc.start_period, Duration::ZERO);
        let retries = u64::try_from(hc.retries)
            .ok()
            .filter(|r| *r > 0)
            .unwrap_or(RETRIES);
        // `--health-start-interval`: while starting within the start
        // period the checks come this often (moby `daemon/health.go`).
        let start_interval = duration(hc.start_interval, START_INTERVAL);
        let began = tokio::time::Instant::now();
        let mut phase = d.phases.subscribe(&id);
        loop {
            let starting = began.elapsed() < start_period
                && d.health
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&id)
                    .is_some_and(|h| h.status == "starting");
            let wait = if starting { start_interval } else { interval };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = phase.changed() => {}
            }
            if matches!(*phase.borrow(), Phase::Exited(_) | Phase::Removed(_)) {
                return;
            }
            let start = crate::now_rfc3339();
            let (code, output) = run_check(&d, &id, &cmd, timeout).await;
            let end = crate::now_rfc3339();
            let Some((before, now)) = record(
                &d,
                &id,
                HealthcheckResult {
                    start,
                    end,
                    exit_code: code,
                    output,
                },
                code == 0,
                began.elapsed() >= start_period,
                retries,
            ) else {
                return;
            };
            if now != before {
                super::containers::event(&d, &id, &format!("health_status: {now}"), vec![]).await;
            }
        }
    });
}

/// Records one result; the status before and after, or None when the
/// container's health is gone (removed).
fn record(
    d: &Daemon,
    id: &str,
    result: HealthcheckResult,
    ok: bool,
    counts: bool,
    retries: u64,
) -> Option<(String, String)> {
    let mut map = d.health.lock().unwrap_or_else(|p| p.into_inner());
    let h = map.get_mut(id)?;
    let before = h.status.clone();
    let log = h.log.get_or_insert_with(Vec::new);
    log.push(result);
    if log.len() > 5 {
        log.remove(0);
    }
    if ok {
        h.failing_streak = 0;
        h.status = "healthy".into();
    } else if counts {
        h.failing_streak += 1;
        if u64::try_from(h.failing_streak).unwrap_or(0) >= retries {
            h.status = "unhealthy".into();
        }
    }
    let now = h.status.clone();
    Some((before, now))
}

/// Runs one check; (exit code, output). A check over its time is killed and
/// counts as a failure (-1), as Docker's.
async fn run_check(d: &Daemon, id: &str, cmd: &[String], timeout: Duration) -> (i64, String) {
    let e = d.engine.clone();
    let cfg = ExecConfig {
        cmd: Some(cmd.to_vec()),
        ..Default::default()
    };
    let i = id.to_string();
    let process = match tokio::task::spawn_blocking(move || e.exec_process(&i, &cfg)).await {
        Ok(Ok((_, p))) => p,
        Ok(Err(err)) => return (-1, err.to_string()),
        Err(err) => return (-1, err.to_string()),
    };
    let dir = d.settings.exec_root.join("execs");
    if let Err(e) = engine::perms::private_dir(&dir) {
        tracing::debug!("make the health check directory private: {e}");
    }
    let file = dir.join(format!("health-{id}.json"));
    let text = serde_json::to_string(&process).unwrap_or_default();
    if engine::perms::write_private(&file, text).is_err() {
        return (-1, "cannot write the check's process".into());
    }
    let child = super::exec::runtime_exec(d, &file)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let Ok(mut child) = child else {
        return (-1, "cannot start the check".into());
    };
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    let run = async {
        // Both at once (a check filling its stderr pipe must not stall on
        // us reading stdout), each kept to MAX_OUTPUT while read: a check
        // that prints without end costs the daemon nothing.
        let (mut o, e) = tokio::join!(read_capped(out.as_mut()), read_capped(err.as_mut()));
        o.extend_from_slice(&e);
        let code = child.wait().await.ok().and_then(|s| s.code()).unwrap_or(-1);
        (code as i64, o)
    };
    let r = tokio::time::timeout(timeout, run).await;
    if let Err(e) = std::fs::remove_file(&file) {
        tracing::debug!(path = ?&file, "remove the health check's file: {e}");
    }
    match r {
        Ok((code, mut o)) => {
            o.truncate(MAX_OUTPUT);
            (code, String::from_utf8_lossy(&o).into_owned())
        }
        Err(_) => (-1, format!("Health check exceeded timeout ({timeout:?})")),
    }
}

/// The first [`MAX_OUTPUT`] bytes of `r` until its end; the rest is read
/// and dropped, so that the writer never blocks on a full pipe.
async fn read_capped(r: Option<&mut (impl tokio::io::AsyncRead + Unpin)>) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(r) = r else { return kept };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

/// Adds `State.Health` to an inspect answer.
pub fn annotate_inspect(d: &Daemon, v: &mut Inspect) {
    if let Some(h) = d
        .health
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&v.id)
    {
        if let Some(state) = v.state.as_mut() {
            state.health = Some(h.clone());
        }
    }
}

/// Adds ` (healthy)` and the like to the `Status` of running containers.
pub fn annotate_list(d: &Daemon, list: &mut [Summary]) {
    let map = d.health.lock().unwrap_or_else(|p| p.into_inner());
    for c in list.iter_mut() {
        if c.state == "running" {
            if let Some(s) = map.get(&c.id).map(|h| h.status.as_str()) {
                c.status = format!(
                    "{} ({})",
                    c.status,
                    if s == "starting" {
                        "health: starting"
                    } else {
                        s
                    }
                );
            }
        }
    }
}
