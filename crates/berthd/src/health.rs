//! Healthchecks: a running container whose config has a `Healthcheck`
//! (`CMD`/`CMD-SHELL`, interval, timeout, start period, retries, as Docker's)
//! gets a task that runs the check as an exec (the sealed `berth-runtime
//! exec`, as `/exec` does), keeps the last five results, and turns the
//! status to `healthy` or, after `retries` failures in a row, `unhealthy`;
//! failures within the start period do not count. The state is in memory
//! and shows in `inspect` (`State.Health`), `ps` (`(healthy)`) and events
//! (`health_status: healthy`).

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::AsyncReadExt;

use crate::phases::Phase;
use crate::Daemon;

/// Docker's defaults.
const INTERVAL: Duration = Duration::from_secs(30);
const TIMEOUT: Duration = Duration::from_secs(30);
const RETRIES: u64 = 3;
/// Output kept per result, as Docker's.
const MAX_OUTPUT: usize = 4096;

fn duration(v: &Value, default: Duration) -> Duration {
    match v.as_u64() {
        Some(0) | None => default,
        Some(ns) => Duration::from_nanos(ns),
    }
}

/// The command of a `Test`, or None for none/`NONE`.
fn command(test: &Value) -> Option<Vec<String>> {
    let t: Vec<String> = test
        .as_array()?
        .iter()
        .filter_map(|x| x.as_str().map(String::from))
        .collect();
    match t.first().map(String::as_str) {
        Some("CMD") => Some(t[1..].to_vec()),
        Some("CMD-SHELL") => Some(vec!["/bin/sh".into(), "-c".into(), t[1..].join(" ")]),
        _ => None,
    }
}

/// Starts the checks of a just-started container, if it has any.
pub fn watch(d: &Arc<Daemon>, c: &engine::containers::ContainerRecord) {
    let hc = c.config["Healthcheck"].clone();
    let Some(cmd) = command(&hc["Test"]) else {
        return;
    };
    let d = d.clone();
    let id = c.id.clone();
    d.health.lock().unwrap_or_else(|p| p.into_inner()).insert(
        id.clone(),
        json!({"Status": "starting", "FailingStreak": 0, "Log": []}),
    );
    tokio::spawn(async move {
        let interval = duration(&hc["Interval"], INTERVAL);
        let timeout = duration(&hc["Timeout"], TIMEOUT);
        let start_period = duration(&hc["StartPeriod"], Duration::ZERO);
        let retries = hc["Retries"].as_u64().filter(|r| *r > 0).unwrap_or(RETRIES);
        let began = tokio::time::Instant::now();
        let mut phase = d.phases.subscribe(&id);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
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
                json!({"Start": start, "End": end, "ExitCode": code, "Output": output}),
                code == 0,
                began.elapsed() >= start_period,
                retries,
            ) else {
                return;
            };
            if now != before {
                crate::api::containers::event(&d, &id, &format!("health_status: {now}"), vec![])
                    .await;
            }
        }
    });
}

/// Records one result; the status before and after, or None when the
/// container's health is gone (removed).
fn record(
    d: &Daemon,
    id: &str,
    result: Value,
    ok: bool,
    counts: bool,
    retries: u64,
) -> Option<(String, String)> {
    let mut map = d.health.lock().unwrap_or_else(|p| p.into_inner());
    let h = map.get_mut(id)?;
    let before = h["Status"].as_str().unwrap_or("").to_string();
    if let Some(log) = h["Log"].as_array_mut() {
        log.push(result);
        if log.len() > 5 {
            log.remove(0);
        }
    }
    if ok {
        h["FailingStreak"] = json!(0);
        h["Status"] = json!("healthy");
    } else if counts {
        let streak = h["FailingStreak"].as_u64().unwrap_or(0) + 1;
        h["FailingStreak"] = json!(streak);
        if streak >= retries {
            h["Status"] = json!("unhealthy");
        }
    }
    let now = h["Status"].as_str().unwrap_or("").to_string();
    Some((before, now))
}

/// Runs one check; (exit code, output). A check over its time is killed and
/// counts as a failure (-1), as Docker's.
async fn run_check(d: &Daemon, id: &str, cmd: &[String], timeout: Duration) -> (i64, String) {
    let e = d.engine.clone();
    let (i, cfg) = (id.to_string(), json!({"Cmd": cmd}));
    let process = match tokio::task::spawn_blocking(move || e.exec_process(&i, &cfg)).await {
        Ok(Ok((_, p))) => p,
        Ok(Err(err)) => return (-1, err.to_string()),
        Err(err) => return (-1, err.to_string()),
    };
    let dir = d.settings.exec_root.join("execs");
    let _ = engine::perms::private_dir(&dir);
    let file = dir.join(format!("health-{id}.json"));
    if engine::perms::write_private(&file, process.to_string()).is_err() {
        return (-1, "cannot write the check's process".into());
    }
    let child = crate::api::exec::runtime_exec(d, &file)
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
    let _ = std::fs::remove_file(&file);
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
pub fn annotate_inspect(d: &Daemon, v: &mut Value) {
    let id = v["Id"].as_str().unwrap_or("").to_string();
    if let Some(h) = d.health.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
        v["State"]["Health"] = h.clone();
    }
}

/// Adds ` (healthy)` and the like to the `Status` of running containers.
pub fn annotate_list(d: &Daemon, list: &mut [Value]) {
    let map = d.health.lock().unwrap_or_else(|p| p.into_inner());
    for c in list.iter_mut() {
        let id = c["Id"].as_str().unwrap_or("");
        if c["State"] == "running" {
            if let Some(s) = map.get(id).and_then(|h| h["Status"].as_str()) {
                let status = format!(
                    "{} ({})",
                    c["Status"].as_str().unwrap_or(""),
                    if s == "starting" {
                        "health: starting"
                    } else {
                        s
                    }
                );
                c["Status"] = json!(status);
            }
        }
    }
}
