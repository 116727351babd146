//! `POST /containers/{id}/update`: new resource limits and restart policy
//! for a container, kept in its record and, while it runs, written into its
//! cgroup at once. The rules are dockerd's: a field left at zero keeps its
//! value (moby `daemon/container/container_unix.go` `UpdateContainer`), the
//! checks and their texts those of `daemon/daemon_unix.go`
//! (`verifyPlatformContainerResources`) and `daemon/update.go`.

use serde_json::{json, Value};

use crate::containers::State;
use crate::spec::HostConfig;
use crate::{Engine, EngineError, ErrorKind};

/// The limits an update may carry, as the API names them.
const RESOURCE_KEYS: &[&str] = &[
    "BlkioWeight",
    "CpuShares",
    "NanoCpus",
    "CpuPeriod",
    "CpuQuota",
    "CpusetCpus",
    "CpusetMems",
    "Memory",
    "MemorySwap",
    "MemoryReservation",
    "PidsLimit",
];

/// Docker's smallest memory limit (6 MiB).
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::new(ErrorKind::InvalidArgument, msg)
}

fn int(v: &Value, key: &str) -> i64 {
    v[key].as_i64().unwrap_or(0)
}

impl Engine {
    /// Applies an update body (`Memory`, `CpuShares`, …, `RestartPolicy`)
    /// to container `name`; returns Docker's warnings.
    pub fn container_update(&self, name: &str, body: Value) -> Result<Vec<String>, EngineError> {
        let mut body = body;
        crate::gojson::drop_nulls(&mut body);
        if !body.is_object() {
            return Err(invalid("invalid JSON: an object expected"));
        }
        let c = self.find_container(name)?;
        let mut warnings = Vec::new();
        let old = &c.config["HostConfig"];
        let mut host = old.clone();
        if !host.is_object() {
            host = json!({});
        }
        check(&body, &mut warnings)?;
        // Nano CPUs set CFS's period and quota: one or the other, never
        // both, counting what the container has already.
        for (new, was, msg) in [
            ("NanoCpus", "CpuPeriod", "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set"),
            ("NanoCpus", "CpuQuota", "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set"),
            ("CpuPeriod", "NanoCpus", "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set"),
            ("CpuQuota", "NanoCpus", "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set"),
        ] {
            if int(&body, new) > 0 && int(old, was) > 0 {
                return Err(invalid(msg));
            }
        }
        let memory = int(&body, "Memory");
        // As dockerd: a new memory limit above the swap limit the container
        // has (0 when it had no limit) needs a swap limit along with it.
        if memory != 0 && memory > int(old, "MemorySwap") && int(&body, "MemorySwap") == 0 {
            return Err(invalid("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"));
        }
        for key in RESOURCE_KEYS {
            let v = &body[*key];
            let set = match v {
                Value::Number(n) => n.as_i64() != Some(0),
                Value::String(s) => !s.is_empty(),
                _ => false,
            };
            // PidsLimit is a pointer in Go: any value given is taken.
            if set || (*key == "PidsLimit" && v.is_number()) {
                host[*key] = v.clone();
            }
        }
        if let Some(policy) = body
            .get("RestartPolicy")
            .filter(|p| p["Name"].as_str().is_some_and(|n| !n.is_empty()))
        {
            let name = policy["Name"].as_str().unwrap_or("");
            if host["AutoRemove"].as_bool().unwrap_or(false) && name != "no" {
                return Err(invalid(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container",
                ));
            }
            host["RestartPolicy"] = json!({
                "Name": name,
                "MaximumRetryCount": policy["MaximumRetryCount"].as_i64().unwrap_or(0),
            });
            crate::containers::restart_policy_ok(&host)?;
        }
        let hc: HostConfig = serde_json::from_value(host.clone())
            .map_err(|e| invalid(format!("invalid update body: {e}")))?;
        if hc.memory > 0 && hc.memory_swap > 0 && hc.memory_swap < hc.memory {
            return Err(invalid(
                "Minimum memoryswap limit should be larger than memory limit, see usage",
            ));
        }
        if hc.blkio_weight > 0 && !crate::spec::blkio_weight_supported() {
            warnings.push("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.".into());
            host["BlkioWeight"] = json!(0);
        }
        // Live first: a limit the kernel refuses is not recorded.
        if matches!(self.state(&c), State::Running(..)) {
            let resources = serde_json::from_value(crate::spec::resources(&hc))
                .map_err(|e| EngineError::new(ErrorKind::System, format!("resources: {e}")))?;
            self.runtime().update(&c.id, &resources).map_err(|e| {
                EngineError::new(
                    ErrorKind::System,
                    format!("Cannot update container {}: {e}", c.id),
                )
            })?;
        }
        self.mark(&c.id, |r| r.config["HostConfig"] = host)?;
        Ok(warnings)
    }
}

/// The single-value checks of dockerd's `verifyPlatformContainerResources`.
fn check(body: &Value, warnings: &mut Vec<String>) -> Result<(), EngineError> {
    let _ = warnings;
    let memory = int(body, "Memory");
    if memory != 0 && memory < MIN_MEMORY {
        return Err(invalid("Minimum memory limit allowed is 6MB"));
    }
    let swap = int(body, "MemorySwap");
    if memory > 0 && swap > 0 && swap < memory {
        return Err(invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ));
    }
    if int(body, "MemoryReservation") < 0 || memory < 0 {
        return Err(invalid("Invalid memory limit: must be positive"));
    }
    let period = int(body, "CpuPeriod");
    if period != 0 && !(1000..=1_000_000).contains(&period) {
        return Err(invalid(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ));
    }
    let quota = int(body, "CpuQuota");
    if quota > 0 && quota < 1000 {
        return Err(invalid(
            "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        ));
    }
    if int(body, "NanoCpus") > 0 && (period > 0 || quota > 0) {
        return Err(invalid(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
    if int(body, "NanoCpus") < 0 || int(body, "NanoCpus") > ncpu * 1_000_000_000 {
        return Err(invalid(format!(
            "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        )));
    }
    if int(body, "CpuShares") < 0 {
        return Err(invalid("invalid CPU shares: must be positive"));
    }
    let weight = int(body, "BlkioWeight");
    if weight > 0 && !(10..=1000).contains(&weight) {
        return Err(invalid("Range of blkio weight is from 10 to 1000"));
    }
    for key in ["CpusetCpus", "CpusetMems"] {
        if let Some(s) = body[key].as_str() {
            if !s.is_empty() && !cpuset_ok(s) {
                let what = if key == "CpusetCpus" { "cpus" } else { "mems" };
                return Err(invalid(format!("Invalid value {s} for cpuset {what}")));
            }
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
    use super::*;

    #[test]
    fn dockerd_checks() {
        let mut w = Vec::new();
        for (body, want) in [
            (json!({"Memory": 1024}), "Minimum memory limit allowed is 6MB"),
            (json!({"Memory": 64 << 20, "MemorySwap": 32 << 20}), "Minimum memoryswap limit should be larger than memory limit, see usage"),
            (json!({"CpuPeriod": 10}), "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
            (json!({"CpuQuota": 10}), "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
            (json!({"BlkioWeight": 5}), "Range of blkio weight is from 10 to 1000"),
            (json!({"CpusetCpus": "a-b"}), "Invalid value a-b for cpuset cpus"),
        ] {
            assert_eq!(check(&body, &mut w).unwrap_err().message, want, "{body}");
        }
        assert!(check(&json!({"Memory": 64 << 20, "CpusetCpus": "0-1,3"}), &mut w).is_ok());
    }
}
