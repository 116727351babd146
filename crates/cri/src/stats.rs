//! ContainerStats, ListContainerStats, PodSandboxStats and
//! ListPodSandboxStats, from the cgroups through the runtime.

use crate::api;
use crate::error::Result;
use crate::records::{ContainerRecord, Live};
use crate::Cri;

fn u64v(value: u64) -> Option<api::UInt64Value> {
    Some(api::UInt64Value { value })
}

/// Bytes used by the files under `dir` (the writable layer), not following
/// links nor crossing into other filesystems' mounts.
fn disk_usage(dir: &std::path::Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let (mut bytes, mut inodes) = (0u64, 0u64);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(md) = e.metadata() else { continue };
            inodes += 1;
            bytes += md.blocks() * 512;
            if md.is_dir() {
                stack.push(e.path());
            }
        }
    }
    (bytes, inodes)
}

impl Cri {
    fn stats_of(&self, c: &ContainerRecord) -> api::ContainerStats {
        let config = c.config();
        let now = crate::time::now_ns();
        let attributes = Some(api::ContainerAttributes {
            id: c.id.clone(),
            metadata: config.metadata.clone(),
            labels: config.labels.clone(),
            annotations: config.annotations.clone(),
        });
        let st = match self.container_live(c) {
            Live::Running(_) => runtime::Runtime::new(&self.cfg.runtime_root)
                .stats(&c.id)
                .ok(),
            _ => None,
        }
        .unwrap_or_default();
        let working = st.memory_usage.saturating_sub(st.inactive_file);
        let available = (st.memory_limit != u64::MAX && st.memory_limit > 0)
            .then(|| st.memory_limit.saturating_sub(working));
        let (bytes, inodes) = disk_usage(&self.container_dir(&c.id).join("upper"));
        api::ContainerStats {
            attributes,
            cpu: Some(api::CpuUsage {
                timestamp: now,
                usage_core_nano_seconds: u64v(st.cpu_usage_ns),
                usage_nano_cores: None,
            }),
            memory: Some(api::MemoryUsage {
                timestamp: now,
                working_set_bytes: u64v(working),
                available_bytes: available.and_then(u64v),
                usage_bytes: u64v(st.memory_usage),
                rss_bytes: None,
                page_faults: None,
                major_page_faults: None,
            }),
            writable_layer: Some(api::FilesystemUsage {
                timestamp: now,
                fs_id: Some(api::FilesystemIdentifier {
                    mountpoint: self.cfg.root.display().to_string(),
                }),
                used_bytes: u64v(bytes),
                inodes_used: u64v(inodes),
            }),
        }
    }

    /// `ContainerStats`.
    pub fn container_stats(&self, id: &str) -> Result<api::ContainerStats> {
        let c = self.container(id)?;
        Ok(self.stats_of(&c))
    }

    /// `ListContainerStats`: every container that matches the filter.
    pub fn list_container_stats(
        &self,
        filter: Option<&api::ContainerStatsFilter>,
    ) -> Result<Vec<api::ContainerStats>> {
        let mut out = Vec::new();
        for c in self.containers()? {
            if let Some(f) = filter {
                if !f.id.is_empty() && !c.id.starts_with(&f.id) {
                    continue;
                }
                if !f.pod_sandbox_id.is_empty() && !c.sandbox_id.starts_with(&f.pod_sandbox_id) {
                    continue;
                }
                if !crate::sandbox::labels_match(&c.config().labels, &f.label_selector) {
                    continue;
                }
            }
            out.push(self.stats_of(&c));
        }
        Ok(out)
    }

    /// `PodSandboxStats`: the pod's containers' and its processes' count.
    pub fn pod_sandbox_stats(&self, id: &str) -> Result<api::PodSandboxStats> {
        let s = self.sandbox(id)?;
        let config = s.config();
        let containers: Vec<api::ContainerStats> = self
            .containers()?
            .iter()
            .filter(|c| c.sandbox_id == s.id)
            .map(|c| self.stats_of(c))
            .collect();
        let now = crate::time::now_ns();
        let sum = |f: &dyn Fn(&api::ContainerStats) -> u64| containers.iter().map(f).sum::<u64>();
        let cpu = sum(&|c| {
            c.cpu
                .as_ref()
                .and_then(|x| x.usage_core_nano_seconds.as_ref())
                .map_or(0, |v| v.value)
        });
        let mem = sum(&|c| {
            c.memory
                .as_ref()
                .and_then(|x| x.working_set_bytes.as_ref())
                .map_or(0, |v| v.value)
        });
        let rt = runtime::Runtime::new(&self.cfg.runtime_root);
        let procs: u64 = std::iter::once(s.id.as_str())
            .chain(
                containers
                    .iter()
                    .filter_map(|c| c.attributes.as_ref().map(|a| a.id.as_str())),
            )
            .filter_map(|id| rt.pids(id).ok())
            .map(|p| p.len() as u64)
            .sum();
        Ok(api::PodSandboxStats {
            attributes: Some(api::PodSandboxAttributes {
                id: s.id.clone(),
                metadata: config.metadata.clone(),
                labels: config.labels.clone(),
                annotations: config.annotations.clone(),
            }),
            linux: Some(api::LinuxPodSandboxStats {
                cpu: Some(api::CpuUsage {
                    timestamp: now,
                    usage_core_nano_seconds: u64v(cpu),
                    usage_nano_cores: None,
                }),
                memory: Some(api::MemoryUsage {
                    timestamp: now,
                    working_set_bytes: u64v(mem),
                    ..Default::default()
                }),
                network: None,
                process: Some(api::ProcessUsage {
                    timestamp: now,
                    process_count: u64v(procs),
                }),
                containers,
            }),
            windows: None,
        })
    }

    /// `ListPodSandboxStats`.
    pub fn list_pod_sandbox_stats(
        &self,
        filter: Option<&api::PodSandboxStatsFilter>,
    ) -> Result<Vec<api::PodSandboxStats>> {
        let mut out = Vec::new();
        for s in self.sandboxes()? {
            if let Some(f) = filter {
                if !f.id.is_empty() && !s.id.starts_with(&f.id) {
                    continue;
                }
                if !crate::sandbox::labels_match(&s.config().labels, &f.label_selector) {
                    continue;
                }
            }
            out.push(self.pod_sandbox_stats(&s.id)?);
        }
        Ok(out)
    }
}
