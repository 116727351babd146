//! `berth stats`: a live table of containers' resource use, computed from
//! the daemon's samples as docker's `cli/command/container/stats*.go` do
//! (CPU share from two readings, memory without the page cache, network
//! and block I/O summed over interfaces and devices).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use http_body_util::BodyExt;
use hyper::Method;
use models::container::{Inspect, Summary};
use models::stats::StatsResponse;
use serde_json::{json, Value};

use super::{parse_format, short_id, Errors, Status};
use crate::client::{self, Client, Query};
use crate::units::{bytes_size, human_size_precision};

const DEFAULT_FORMAT: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// `berth stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Format output using a custom template ('table', 'table TEMPLATE',
    /// 'json', or a Go template)
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// The containers (default: all running)
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// The column titles of the placeholders.
fn headers() -> Value {
    json!({
        "Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME",
        "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %",
        "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
    })
}

/// One row: what a sample says, in docker's words. `sample` is `None`
/// until the first one came.
fn row(container: &str, sample: Option<&StatsResponse>, no_trunc: bool) -> Value {
    let Some(v) = sample else {
        return json!({
            "Container": container, "ID": container, "Name": "--", "CPUPerc": "--",
            "MemUsage": "-- / --", "MemPerc": "--", "NetIO": "--", "BlockIO": "--", "PIDs": "--",
        });
    };
    let id = if v.id.is_empty() { container } else { &v.id };
    let cpu = {
        let (cur, pre) = (&v.cpu_stats, &v.precpu_stats);
        let cpu_delta = cur.cpu_usage.total_usage as f64 - pre.cpu_usage.total_usage as f64;
        let sys_delta = cur.system_cpu_usage as f64 - pre.system_cpu_usage as f64;
        let mut cpus = f64::from(cur.online_cpus);
        if cpus == 0.0 {
            cpus = cur
                .cpu_usage
                .percpu_usage
                .as_ref()
                .map_or(0.0, |a| a.len() as f64);
        }
        if sys_delta > 0.0 && cpu_delta > 0.0 {
            cpu_delta / sys_delta * cpus * 100.0
        } else {
            0.0
        }
    };
    let mem = &v.memory_stats;
    let usage = mem.usage as f64;
    // docker's calculateMemUsageUnixNoCache.
    let stat = |k: &str| mem.stats.as_ref().and_then(|s| s.get(k)).copied();
    let cache = stat("total_inactive_file")
        .or_else(|| stat("inactive_file"))
        .unwrap_or(0) as f64;
    let usage = if cache < usage { usage - cache } else { usage };
    let limit = mem.limit as f64;
    let mem_perc = if limit > 0.0 {
        usage / limit * 100.0
    } else {
        0.0
    };
    let (mut rx, mut tx) = (0.0, 0.0);
    for i in v.networks.iter().flat_map(|n| n.values()) {
        rx += i.rx_bytes as f64;
        tx += i.tx_bytes as f64;
    }
    let (mut read, mut write) = (0.0, 0.0);
    for e in v.blkio_stats.io_service_bytes_recursive.iter().flatten() {
        match e.op.to_ascii_lowercase().as_str() {
            "read" => read += e.value as f64,
            "write" => write += e.value as f64,
            _ => {}
        }
    }
    let pair = |a: f64, b: f64| {
        format!(
            "{} / {}",
            human_size_precision(a, 3),
            human_size_precision(b, 3)
        )
    };
    json!({
        "Container": container,
        "ID": if no_trunc { id.to_string() } else { short_id(id) },
        "Name": v.name.trim_start_matches('/'),
        "CPUPerc": format!("{cpu:.2}%"),
        "MemUsage": format!("{} / {}", bytes_size(usage), bytes_size(limit)),
        "MemPerc": format!("{mem_perc:.2}%"),
        "NetIO": pair(rx, tx),
        "BlockIO": pair(read, write),
        "PIDs": v.pids_stats.current.to_string(),
    })
}

/// The containers to watch when none are named: running ones (all with `-a`).
async fn listed(client: &Client, all: bool) -> Result<Vec<String>> {
    let list: Vec<Summary> = client
        .get(&format!(
            "/containers/json{}",
            Query::new().flag("all", all)
        ))
        .await?;
    Ok(list.iter().map(|c| short_id(&c.id)).collect())
}

/// One sample (`stream=false`: the daemon reads twice, a second apart, so
/// that the CPU share has a base).
async fn one_sample(client: &Client, container: &str) -> Result<StatsResponse> {
    client
        .get(&format!(
            "/containers/{}/stats{}",
            client::path(container),
            Query::new().add("stream", "false")
        ))
        .await
}

/// Latest samples by container, filled by one task a container.
type Samples = Arc<Mutex<BTreeMap<String, Option<StatsResponse>>>>;

/// Follows a container's stream of samples until it ends; the entry goes
/// when the container does.
async fn follow(client: Client, container: String, samples: Samples) {
    let url = format!(
        "/containers/{}/stats{}",
        client::path(&container),
        Query::new().add("stream", "true")
    );
    if let Ok(resp) = client
        .send(Method::GET, &url, client::full(""), "text/plain")
        .await
    {
        let mut body = resp.into_body();
        let mut buf = Vec::new();
        while let Some(Ok(frame)) = body.frame().await {
            let Some(data) = frame.data_ref() else {
                continue;
            };
            buf.extend_from_slice(data);
            while let Some(i) = buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buf.drain(..=i).collect();
                if let Ok(v) = models::de::from_slice::<StatsResponse>(&line) {
                    samples
                        .lock()
                        .expect("samples")
                        .insert(container.clone(), Some(v));
                }
            }
        }
    }
    samples.lock().expect("samples").remove(&container);
}

/// `berth stats`.
pub async fn stats(client: &Client, a: &StatsArgs) -> Result<u8> {
    let format = parse_format(a.format.as_deref().unwrap_or(DEFAULT_FORMAT))?;
    let render = |rows: &[Value]| -> Result<String> {
        format
            .render_all(&headers(), rows)
            .map_err(|e| Status::exit(1, format!("template: {e}")))
    };
    if a.no_stream {
        let names = if a.containers.is_empty() {
            listed(client, a.all).await?
        } else {
            a.containers.clone()
        };
        // Each sample takes the daemon a second: ask for all at once.
        let asks: Vec<_> = names
            .iter()
            .map(|n| {
                let (c, n) = (client.clone(), n.clone());
                tokio::spawn(async move { one_sample(&c, &n).await })
            })
            .collect();
        let mut rows = Vec::new();
        let mut errors = Errors::default();
        for (name, ask) in names.iter().zip(asks) {
            match ask.await? {
                Ok(v) => rows.push(row(name, Some(&v), a.no_trunc)),
                Err(e) => errors.push(e),
            }
        }
        super::out(&render(&rows)?)?;
        return errors.finish();
    }
    // Named containers must exist: docker fails at once otherwise.
    for n in &a.containers {
        let _: Inspect = client
            .get(&format!("/containers/{}/json", client::path(n)))
            .await?;
    }
    let samples: Samples = Arc::default();
    let terminal = std::io::stdout().is_terminal();
    loop {
        let wanted = if a.containers.is_empty() {
            listed(client, a.all).await?
        } else {
            a.containers.clone()
        };
        {
            let mut map = samples.lock().expect("samples");
            for n in wanted {
                if !map.contains_key(&n) {
                    map.insert(n.clone(), None);
                    tokio::spawn(follow(client.clone(), n, samples.clone()));
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rows: Vec<Value> = samples
            .lock()
            .expect("samples")
            .iter()
            .map(|(n, s)| row(n, s.as_ref(), a.no_trunc))
            .collect();
        if !a.containers.is_empty() && rows.is_empty() {
            return Ok(0);
        }
        let mut text = String::new();
        if terminal {
            // Clear the screen and go home, as docker redraws its table.
            text.push_str("\x1b[2J\x1b[H");
        }
        text.push_str(&render(&rows)?);
        super::out(&text)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_from_a_sample() {
        let v: StatsResponse = models::de::from_value(json!({
            "id": "0123456789abcdef", "name": "/web",
            "cpu_stats": {"cpu_usage": {"total_usage": 300}, "system_cpu_usage": 2000, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
            "memory_stats": {"usage": 3 * 1048576 + 4096, "limit": 64 * 1048576, "stats": {"inactive_file": 4096}},
            "networks": {"eth0": {"rx_bytes": 1500, "tx_bytes": 20}},
            "blkio_stats": {"io_service_bytes_recursive": [
                {"major": 8, "minor": 0, "op": "read", "value": 2_000_000},
                {"major": 8, "minor": 0, "op": "Write", "value": 0}]},
            "pids_stats": {"current": 3},
        }))
        .unwrap();
        let r = row("web", Some(&v), false);
        assert_eq!(r["ID"], "0123456789ab");
        assert_eq!(r["Name"], "web");
        assert_eq!(r["CPUPerc"], "40.00%");
        assert_eq!(r["MemUsage"], "3MiB / 64MiB");
        assert_eq!(r["MemPerc"], "4.69%");
        assert_eq!(r["NetIO"], "1.5kB / 20B");
        assert_eq!(r["BlockIO"], "2MB / 0B");
        assert_eq!(r["PIDs"], "3");
    }
}
