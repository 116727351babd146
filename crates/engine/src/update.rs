//! `POST /containers/{id}/update`: new resource limits and restart policy
//! for a container, kept in its record and, while it runs, written into its
//! cgroup at once. The rules are dockerd's: a field left at zero keeps its
//! value (moby `daemon/container/container_unix.go` `UpdateContainer`), the
//! checks and their texts those of `daemon/daemon_unix.go`
//! (`verifyPlatformContainerResources`) and `daemon/update.go`.

use models::container::UpdateConfig;

use crate::container::record::State;
use crate::container::ContainerError;
use crate::{Engine, EngineError};

fn invalid(msg: impl Into<String>) -> EngineError {
    ContainerError::Invalid(msg.into()).into()
}

impl Engine {
    /// Applies an update body (moby's `UpdateConfig`: the resources and
    /// `RestartPolicy`) to container `name`; returns Docker's warnings.
    pub fn container_update(
        &self,
        name: &str,
        body: &UpdateConfig,
    ) -> Result<Vec<String>, EngineError> {
        let upd = &body.0;
        let c = self.find_container(name)?;
        // dockerd checks the update's own values as it checks a create's
        // (`verifyContainerSettings`); its warnings are the answer's.
        let warnings =
            crate::spec::resources::resources(upd, crate::spec::support(), ncpu())?.warnings;
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
            crate::container::restart_policy_ok(&host)?;
        }
        if host.memory > 0 && host.memory_swap > 0 && host.memory_swap < host.memory {
            return Err(invalid(
                "Minimum memoryswap limit should be larger than memory limit, see usage",
            ));
        }
        // What this host cannot apply is dropped, as at create.
        if upd.blkio_weight > 0 && !crate::spec::support().blkio_weight {
            host.blkio_weight = old.blkio_weight;
        }
        // Live first: a limit the kernel refuses is not recorded.
        if matches!(self.state(&c), State::Running(..)) {
            let oci = crate::spec::resources::resources(&host, crate::spec::support(), ncpu())?.oci;
            let resources = serde_json::from_value(serde_json::Value::Object(oci))
                .map_err(|e| ContainerError::failed("resources", e))?;
            self.runtime().update(&c.id, &resources).map_err(|e| {
                ContainerError::failed(format!("Cannot update container {}", c.id), e)
            })?;
        }
        self.mark(&c.id, |r| r.config.host_config = host.clone())?;
        Ok(warnings)
    }
}

/// The CPUs of this host, for `--cpus`' bound.
fn ncpu() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
