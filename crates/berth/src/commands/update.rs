//! `berth update [OPTIONS] CONTAINER...`: new resource limits (and restart
//! policy) for containers, with docker's flags; the daemon writes them into
//! a running container's cgroup at once.

use anyhow::Result;
use clap::Args;
use hyper::Method;
use models::container::{HostConfig, RestartPolicy, UpdateConfig, UpdateResponse};

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
    /// The update body, as the docker CLI builds it: the flags given, the
    /// rest zero (which keeps what the container has).
    fn body(&self) -> Result<UpdateConfig, String> {
        let h = HostConfig {
            blkio_weight: self.blkio_weight.unwrap_or(0),
            cpu_period: self.cpu_period.unwrap_or(0),
            cpu_quota: self.cpu_quota.unwrap_or(0),
            cpu_realtime_period: self.cpu_rt_period.unwrap_or(0),
            cpu_realtime_runtime: self.cpu_rt_runtime.unwrap_or(0),
            cpu_shares: self.cpu_shares.unwrap_or(0),
            nano_cpus: self.cpus.unwrap_or(0),
            cpuset_cpus: self.cpuset_cpus.clone().unwrap_or_default(),
            cpuset_mems: self.cpuset_mems.clone().unwrap_or_default(),
            memory: self.memory.unwrap_or(0),
            memory_reservation: self.memory_reservation.unwrap_or(0),
            memory_swap: self.memory_swap.unwrap_or(0),
            pids_limit: self.pids_limit,
            restart_policy: match &self.restart {
                Some(r) => restart_policy(r)?,
                None => RestartPolicy::default(),
            },
            ..Default::default()
        };
        let given = [
            self.blkio_weight.is_some(),
            self.cpu_period.is_some(),
            self.cpu_quota.is_some(),
            self.cpu_rt_period.is_some(),
            self.cpu_rt_runtime.is_some(),
            self.cpu_shares.is_some(),
            self.cpus.is_some(),
            self.cpuset_cpus.is_some(),
            self.cpuset_mems.is_some(),
            self.memory.is_some(),
            self.memory_reservation.is_some(),
            self.memory_swap.is_some(),
            self.pids_limit.is_some(),
            self.restart.is_some(),
        ];
        if !given.contains(&true) {
            return Err("you must provide one or more flags when using this command".into());
        }
        Ok(UpdateConfig(h))
    }
}

/// `berth update`: each container in turn; its name printed on success,
/// docker's warnings on stderr, exit 1 when any failed.
pub async fn update(client: &Client, a: &UpdateArgs) -> Result<u8> {
    let body = a.body().map_err(|e| Status::exit(1, e))?;
    let mut errs = Errors::default();
    for n in &a.containers {
        match client
            .request_json(
                Method::POST,
                &format!("/containers/{}/update", client::path(n)),
                &body,
            )
            .await
        {
            Ok((_, answer)) => {
                let v: UpdateResponse = models::de::from_slice(&answer).unwrap_or_default();
                for w in v.warnings.iter().flatten() {
                    super::errln(w);
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
        let b = t.a.body().unwrap().0;
        assert_eq!(
            (b.memory, b.memory_swap, b.nano_cpus, b.pids_limit),
            (300 << 20, -1, 1_500_000_000, Some(-1))
        );
        assert_eq!(
            b.restart_policy,
            RestartPolicy {
                name: "on-failure".into(),
                maximum_retry_count: 3
            }
        );
        // Written as Docker's `UpdateConfig`: the other limits zero.
        let v = serde_json::to_value(UpdateConfig(b)).unwrap();
        assert_eq!(v["Memory"], 300 << 20);
        assert_eq!(v["CpuShares"], 0);
        // A flag given as zero is still a flag.
        let t = T::parse_from(["t", "--cpu-shares", "0", "c1"]);
        assert!(t.a.body().is_ok());
        let t = T::parse_from(["t", "c1"]);
        assert_eq!(
            t.a.body().unwrap_err(),
            "you must provide one or more flags when using this command"
        );
    }
}
