//! `POST /containers/{id}/update`: new resource limits and restart policy
//! for a container, kept in its record and, while it runs, written into its
//! cgroup at once. The rules are dockerd's: a field left at zero keeps its
//! value (moby `daemon/container/container_unix.go` `UpdateContainer`), the
//! checks and their texts those of `daemon/daemon_unix.go`
//! (`verifyPlatformContainerResources`) and `daemon/update.go`.

use models::container::HostConfig;
use serde_json::Value;

use crate::containers::State;
use crate::{Engine, EngineError, ErrorKind};

/// Docker's smallest memory limit (6 MiB).
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::new(ErrorKind::InvalidArgument, msg)
}

impl Engine {
    /// Applies an update body (moby's `UpdateConfig`: the resources and
    /// `RestartPolicy`, read as Go reads them) to container `name`;
    /// returns Docker's warnings.
    pub fn container_update(&self, name: &str, body: Value) -> Result<Vec<String>, EngineError> {
        if !body.is_object() {
            return Err(invalid("invalid JSON: an object expected"));
        }
        let upd: HostConfig = models::de::from_value(body)
            .map_err(|e| invalid(format!("invalid update body: {e}")))?;
        let c = self.find_container(name)?;
        let mut warnings = Vec::new();
        check(&upd)?;
        let old = &c.config.host_config;
        // Nano CPUs set CFS's period and quota: one or the other, never
        // both, counting what the container has already.
        for (conflict, msg) in [
            (upd.nano_cpus > 0 && old.cpu_period > 0, "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set"),
            (upd.nano_cpus > 0 && old.cpu_quota > 0, "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set"),
            (upd.cpu_period > 0 && old.nano_cpus > 0, "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set"),
            (upd.cpu_quota > 0 && old.nano_cpus > 0, "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set"),
        ] {
            if conflict {
                return Err(invalid(msg));
            }
        }
        // As dockerd: a new memory limit above the swap limit the container
        // has (0 when it had no limit) needs a swap limit along with it.
        if upd.memory != 0 && upd.memory > old.memory_swap && upd.memory_swap == 0 {
            return Err(invalid("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"));
        }
        let mut host = old.clone();
        // A zero keeps what the container had.
        if upd.blkio_weight != 0 {
            host.blkio_weight = upd.blkio_weight;
        }
        for (new, field) in [
            (upd.cpu_shares, &mut host.cpu_shares),
            (upd.nano_cpus, &mut host.nano_cpus),
            (upd.cpu_period, &mut host.cpu_period),
            (upd.cpu_quota, &mut host.cpu_quota),
            (upd.memory, &mut host.memory),
            (upd.memory_swap, &mut host.memory_swap),
            (upd.memory_reservation, &mut host.memory_reservation),
            (upd.cpu_realtime_period, &mut host.cpu_realtime_period),
            (upd.cpu_realtime_runtime, &mut host.cpu_realtime_runtime),
        ] {
            if new != 0 {
                *field = new;
            }
        }
        if !upd.cpuset_cpus.is_empty() {
            host.cpuset_cpus = upd.cpuset_cpus.clone();
        }
        if !upd.cpuset_mems.is_empty() {
            host.cpuset_mems = upd.cpuset_mems.clone();
        }
        // A pointer in Go: any value given is taken.
        if upd.pids_limit.is_some() {
            host.pids_limit = upd.pids_limit;
        }
        if !upd.restart_policy.name.is_empty() {
            if host.auto_remove && upd.restart_policy.name != "no" {
                return Err(invalid(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container",
                ));
            }
            host.restart_policy = upd.restart_policy.clone();
            crate::containers::restart_policy_ok(&host)?;
        }
        if host.memory > 0 && host.memory_swap > 0 && host.memory_swap < host.memory {
            return Err(invalid(
                "Minimum memoryswap limit should be larger than memory limit, see usage",
            ));
        }
        if upd.blkio_weight > 0 && !crate::spec::blkio_weight_supported() {
            warnings.push("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.".into());
            host.blkio_weight = old.blkio_weight;
        }
        // Live first: a limit the kernel refuses is not recorded.
        if matches!(self.state(&c), State::Running(..)) {
            let resources = serde_json::from_value(crate::spec::resources(&host))
                .map_err(|e| EngineError::new(ErrorKind::System, format!("resources: {e}")))?;
            self.runtime().update(&c.id, &resources).map_err(|e| {
                EngineError::new(
                    ErrorKind::System,
                    format!("Cannot update container {}: {e}", c.id),
                )
            })?;
        }
        self.mark(&c.id, |r| r.config.host_config = host)?;
        Ok(warnings)
    }
}

/// The single-value checks of dockerd's `verifyPlatformContainerResources`.
fn check(u: &HostConfig) -> Result<(), EngineError> {
    if u.memory != 0 && u.memory < MIN_MEMORY {
        return Err(invalid("Minimum memory limit allowed is 6MB"));
    }
    if u.memory > 0 && u.memory_swap > 0 && u.memory_swap < u.memory {
        return Err(invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ));
    }
    if u.memory_reservation < 0 || u.memory < 0 {
        return Err(invalid("Invalid memory limit: must be positive"));
    }
    if u.cpu_period != 0 && !(1000..=1_000_000).contains(&u.cpu_period) {
        return Err(invalid(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ));
    }
    if u.cpu_quota > 0 && u.cpu_quota < 1000 {
        return Err(invalid(
            "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        ));
    }
    if u.nano_cpus > 0 && (u.cpu_period > 0 || u.cpu_quota > 0) {
        return Err(invalid(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
    if u.nano_cpus < 0 || u.nano_cpus > ncpu * 1_000_000_000 {
        return Err(invalid(format!(
            "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        )));
    }
    if u.cpu_shares < 0 {
        return Err(invalid("invalid CPU shares: must be positive"));
    }
    if u.blkio_weight > 0 && !(10..=1000).contains(&u.blkio_weight) {
        return Err(invalid("Range of blkio weight is from 10 to 1000"));
    }
    for (s, what) in [(&u.cpuset_cpus, "cpus"), (&u.cpuset_mems, "mems")] {
        if !s.is_empty() && !cpuset_ok(s) {
            return Err(invalid(format!("Invalid value {s} for cpuset {what}")));
        }
    }
    Ok(())
}

/// `0-3,5`: numbers and ranges, as the kernel's cpuset lists.
fn cpuset_ok(s: &str) -> bool {
    s.split(',').all(|part| {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        matches!((a.parse::<u32>(), b.parse::<u32>()), (Ok(a), Ok(b)) if a <= b)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dockerd_checks() {
        for (body, want) in [
            (json!({"Memory": 1024}), "Minimum memory limit allowed is 6MB"),
            (json!({"Memory": 64 << 20, "MemorySwap": 32 << 20}), "Minimum memoryswap limit should be larger than memory limit, see usage"),
            (json!({"CpuPeriod": 10}), "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
            (json!({"CpuQuota": 10}), "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
            (json!({"BlkioWeight": 5}), "Range of blkio weight is from 10 to 1000"),
            (json!({"cpusetcpus": "a-b"}), "Invalid value a-b for cpuset cpus"),
        ] {
            let u: HostConfig = models::de::from_value(body.clone()).unwrap();
            assert_eq!(check(&u).unwrap_err().message, want, "{body}");
        }
        let u: HostConfig = models::de::from_value(
            json!({"Memory": 64 << 20, "CpusetCpus": "0-1,3", "PidsLimit": null}),
        )
        .unwrap();
        assert!(check(&u).is_ok());
    }
}
