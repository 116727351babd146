//! `berth update [OPTIONS] CONTAINER...`: new resource limits (and restart
//! policy) for containers, with docker's flags; the daemon writes them into
//! a running container's cgroup at once.

use anyhow::Result;
use clap::Args;
use hyper::Method;
use serde_json::{json, Map, Value};

use super::run::{parse_cpus, parse_swap, restart_policy};
use super::{outln, Errors, Status};
use crate::client::{self, Client};
use crate::units;

/// `berth update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)
    #[arg(long = "blkio-weight", value_name = "uint16")]
    pub blkio_weight: Option<u16>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period", value_name = "int")]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", value_name = "int", allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// Limit the CPU real-time period in microseconds
    #[arg(long = "cpu-rt-period", value_name = "int")]
    pub cpu_rt_period: Option<i64>,
    /// Limit the CPU real-time runtime in microseconds
    #[arg(long = "cpu-rt-runtime", value_name = "int")]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares", value_name = "int")]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs
    #[arg(long, value_name = "decimal", value_parser = parse_cpus)]
    pub cpus: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus", value_name = "string")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems", value_name = "string")]
    pub cpuset_mems: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long, value_name = "bytes", value_parser = units::ram_in_bytes)]
    pub memory: Option<i64>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", value_name = "bytes", value_parser = units::ram_in_bytes)]
    pub memory_reservation: Option<i64>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", value_name = "bytes", value_parser = parse_swap, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", value_name = "int", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long, value_name = "string")]
    pub restart: Option<String>,
    /// Containers to update
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

impl UpdateArgs {
    /// The update body, as the docker CLI builds it: only the flags given.
    fn body(&self) -> Result<Value, String> {
        let mut b = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                b.insert(k.into(), v);
            }
        };
        put("BlkioWeight", self.blkio_weight.map(|x| json!(x)));
        put("CpuPeriod", self.cpu_period.map(|x| json!(x)));
        put("CpuQuota", self.cpu_quota.map(|x| json!(x)));
        put("CpuRealtimePeriod", self.cpu_rt_period.map(|x| json!(x)));
        put("CpuRealtimeRuntime", self.cpu_rt_runtime.map(|x| json!(x)));
        put("CpuShares", self.cpu_shares.map(|x| json!(x)));
        put("NanoCpus", self.cpus.map(|x| json!(x)));
        put("CpusetCpus", self.cpuset_cpus.clone().map(Value::String));
        put("CpusetMems", self.cpuset_mems.clone().map(Value::String));
        put("Memory", self.memory.map(|x| json!(x)));
        put(
            "MemoryReservation",
            self.memory_reservation.map(|x| json!(x)),
        );
        put("MemorySwap", self.memory_swap.map(|x| json!(x)));
        put("PidsLimit", self.pids_limit.map(|x| json!(x)));
        if let Some(r) = &self.restart {
            put("RestartPolicy", Some(restart_policy(r)?));
        }
        if b.is_empty() {
            return Err("you must provide one or more flags when using this command".into());
        }
        Ok(Value::Object(b))
    }
}

/// `berth update`: each container in turn; its name printed on success,
/// docker's warnings on stderr, exit 1 when any failed.
pub async fn update(client: &Client, a: &UpdateArgs) -> Result<u8> {
    let body = a.body().map_err(|e| Status::exit(1, e))?;
    let mut errs = Errors::default();
    for n in &a.containers {
        match client
            .request(
                Method::POST,
                &format!("/containers/{}/update", client::path(n)),
                Some(body.clone()),
            )
            .await
        {
            Ok((_, answer)) => {
                let v: Value = serde_json::from_slice(&answer).unwrap_or_default();
                for w in v["Warnings"].as_array().into_iter().flatten() {
                    super::errln(w.as_str().unwrap_or_default());
                }
                outln(n)?;
            }
            Err(e) => errs.push(e),
        }
    }
    errs.finish()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: UpdateArgs,
    }

    #[test]
    fn flags_make_docker_s_body() {
        let t = T::parse_from([
            "t",
            "-m",
            "300m",
            "--memory-swap",
            "-1",
            "--cpus",
            "1.5",
            "--pids-limit",
            "-1",
            "--restart",
            "on-failure:3",
            "c1",
        ]);
        assert_eq!(
            t.a.body().unwrap(),
            json!({"Memory": 300 << 20, "MemorySwap": -1, "NanoCpus": 1_500_000_000i64,
                   "PidsLimit": -1, "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}})
        );
        let t = T::parse_from(["t", "c1"]);
        assert_eq!(
            t.a.body().unwrap_err(),
            "you must provide one or more flags when using this command"
        );
    }
}
