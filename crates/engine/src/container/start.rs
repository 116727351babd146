//! Starting a container through its shim, and letting go of what a run held.

use shim_proto::files;
use std::path::{Path, PathBuf};
use std::process::Command;

use models::container::{CreateBody, HostConfig};

use super::*;
use crate::spec;
use crate::{Engine, EngineError};

impl Engine {
    /// `POST /containers/{id}/start`: mounts the root filesystem, writes the
    /// bundle and hands the container to a new shim.
    /// With `OpenStdin`, the shim gives the container a stdin pipe and feeds
    /// it from its control socket (`ctl.sock`), which `attach` uses. The
    /// shim starts the container once `attached` readers have joined it
    /// (or a few seconds passed), so that they miss none of its output.
    pub fn container_start(
        &self,
        name: &str,
        shim: &Path,
        now: String,
        attached: usize,
    ) -> Result<(), EngineError> {
        let _t = runtime::trace::span("engine start");
        let c = self.find_container(name)?;
        let lock = self.lifecycle(&c.id);
        let _held = lock.lock().unwrap_or_else(|p| p.into_inner());
        match self.state(&c) {
            State::Running(..) => return Ok(()),
            State::Exited(..) => {
                self.cleanup_run(&c);
                // What the last run's release has not let go yet.
                self.network_detach(&c.id);
            }
            State::Created => {}
        }
        let dir = self.container_dir(&c.id);
        let rootfs = dir.join("rootfs");
        if !is_mounted(&rootfs) {
            let _t = runtime::trace::span("overlay mount");
            self.store().mount_layers_rw(&c.layers, &dir, &rootfs)?;
        }
        // The create body holds the image's config merged in; the image
        // itself may be gone (rmi -f), and then it is not needed.
        let image_config = match self.store().meta().image(&c.image)? {
            Some(image) => self.store().config(&image)?,
            None => store::config::new_config(&c.created),
        };
        let req = c.config.clone();
        // `_held`: descriptors the runtime mounts (subpaths), kept open
        // until the start is through.
        let (mounts, _held) = match self.prepare_mounts(&c, &rootfs) {
            Ok(m) => m,
            Err(e) => {
                crate::error::ignore(
                    format_args!("unmount {} after a failed start", rootfs.display()),
                    store::mount::unmount(&rootfs),
                );
                return Err(e);
            }
        };
        runtime::trace::mark("mounts prepared");
        let plan = match self.network_attach(&c) {
            Ok(p) => p,
            Err(e) => {
                crate::error::ignore(
                    format_args!("unmount {} after a failed start", rootfs.display()),
                    store::mount::unmount(&rootfs),
                );
                return Err(e);
            }
        };
        runtime::trace::mark("network attached");
        let started = self.start_attached(
            &c,
            shim,
            &now,
            attached,
            &image_config,
            &req,
            &mounts,
            &plan,
        );
        if started.is_err() {
            self.network_detach(&c.id);
            crate::error::ignore(
                format_args!("unmount {} after a failed start", rootfs.display()),
                store::mount::unmount(&rootfs),
            );
        }
        started
    }

    /// The rest of a start, once the network is there: the spec, the
    /// files, the shim.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start_attached(
        &self,
        c: &ContainerRecord,
        shim: &Path,
        now: &str,
        attached: usize,
        image_config: &store::config::ImageConfig,
        req: &CreateBody,
        mounts: &[crate::mounts::MountPoint],
        plan: &crate::network::NetPlan,
    ) -> Result<(), EngineError> {
        let dir = self.container_dir(&c.id);
        let rootfs = dir.join("rootfs");
        let req = with_plan(req, plan);
        let ns = self.start_namespaces(&dir, &req)?;
        let spec = spec::build(
            &c.id,
            image_config,
            &req,
            &rootfs,
            &dir.join("etc"),
            mounts,
            &plan.netns,
            &ns,
        )?;
        init_realtime(&spec, &req.host_config)?;
        runtime::trace::mark("spec built");
        write_bundle(c, &dir, &spec, &req, plan)?;
        runtime::trace::mark("bundle written");
        self.run_shim(c, shim, &dir, attached)?;
        let tmp = dir.join(".started.tmp");
        crate::perms::write_private(&tmp, now)
            .and_then(|()| std::fs::rename(&tmp, dir.join(files::STARTED)))
            .map_err(ContainerError::sys)
            .map_err(EngineError::from)
    }

    /// The namespaces the container joins or makes (`container:<x>`
    /// modes resolved to running peers), its `/dev/shm` shared when asked.
    fn start_namespaces(
        &self,
        dir: &Path,
        req: &CreateBody,
    ) -> Result<spec::namespaces::Namespaces, EngineError> {
        let mut ns = spec::namespaces::resolve(&req.host_config, |name| {
            let other = self.find_container(name)?;
            let pid = match self.state(&other) {
                State::Running(pid, _) => pid,
                _ => 0,
            };
            let shm = std::fs::read_to_string(self.container_dir(&other.id).join(SHM_SOURCE))
                .ok()
                .map(PathBuf::from);
            Ok(spec::namespaces::Peer { pid, shm })
        })?;
        self.share_shm(dir, &req.host_config, &mut ns)?;
        Ok(ns)
    }

    /// Starts the shim on the bundle in `dir` and waits for its report
    /// (`attached`: how many attach streams it waits for before the
    /// start). A container that did not start has its rootfs unmounted.
    fn run_shim(
        &self,
        c: &ContainerRecord,
        shim: &Path,
        dir: &Path,
        attached: usize,
    ) -> Result<(), EngineError> {
        let rootfs = dir.join("rootfs");
        let out = {
            let mut cmd = Command::new(shim);
            std::os::unix::process::CommandExt::arg0(&mut cmd, "berth-shim");
            // A TTY container's input goes into its pty (the shim keeps the
            // master); others get a stdin pipe when it was opened (`-i`).
            let tty = c.config.config.tty;
            if c.config.config.open_stdin && !tty {
                cmd.env(shim_proto::env::OPEN_STDIN, "1");
            }
            if attached > 0 {
                cmd.env(shim_proto::env::ATTACH_WAIT, attached.to_string());
            }
            cmd.stdin(std::process::Stdio::null());
            cmd
        }
        .arg(dir)
        .arg(&c.id)
        .arg(self.exec_root.join("runtime"))
        .output()
        .map_err(|e| ContainerError::failed(format!("start shim {}", shim.display()), e))?;
        runtime::trace::mark("shim reported");
        let msg = String::from_utf8_lossy(&out.stdout);
        let report = shim_proto::Report::parse(&msg);
        let failed = match report {
            shim_proto::Report::Started(_) if out.status.success() => None,
            shim_proto::Report::Started(_) => Some(msg.trim().to_string()),
            shim_proto::Report::Error(why) => Some(why),
        };
        if let Some(why) = failed {
            crate::error::ignore(
                format_args!("unmount {} after a failed start", rootfs.display()),
                store::mount::unmount(&rootfs),
            );
            // Docker's wording for a command that cannot run.
            let not_runnable =
                why.contains("executable file not found") || why.contains("no such file");
            return Err(ContainerError::CreateTask { why, not_runnable }.into());
        }
        Ok(())
    }

    /// A `shareable` container's `/dev/shm` is a tmpfs mounted under its
    /// directory on the host, as Docker's `ShmPath`: a mount cannot be
    /// bound from another container's mount namespace, a host directory
    /// can. `SHM_SOURCE` names the host directory on its `/dev/shm` for
    /// the containers that join its IPC namespace.
    pub(super) fn share_shm(
        &self,
        dir: &Path,
        hc: &spec::HostConfig,
        ns: &mut spec::namespaces::Namespaces,
    ) -> Result<(), EngineError> {
        crate::error::ignore(
            format_args!("remove the stale shm source in {}", dir.display()),
            std::fs::remove_file(dir.join(SHM_SOURCE)),
        );
        if hc.ipc_mode == "shareable" {
            let shm = dir.join("shm");
            if !is_mounted(&shm) {
                std::fs::create_dir_all(&shm).map_err(ContainerError::sys)?;
                let size = if hc.shm_size > 0 {
                    hc.shm_size
                } else {
                    spec::resources::DEFAULT_SHM_SIZE
                };
                spec::namespaces::mount_shm(&shm, size).map_err(|e| {
                    ContainerError::failed(format!("mount shm on {}", shm.display()), e)
                })?;
            }
            ns.shm_source = Some(shm);
        }
        if let Some(src) = &ns.shm_source {
            std::fs::write(dir.join(SHM_SOURCE), src.as_os_str().as_encoded_bytes())
                .map_err(ContainerError::sys)?;
        }
        Ok(())
    }

    /// Forgets the shim of a previous run (before a restart); its exit.json
    /// stays until the new shim records the next exit.
    pub(super) fn cleanup_run(&self, c: &ContainerRecord) {
        let dir = self.container_dir(&c.id);
        crate::error::ignore(
            format_args!("remove the stale shim pid of {}", c.id),
            std::fs::remove_file(dir.join(files::SHIM_PID)),
        );
        // A shim that died without cleaning up (killed, or a machine crash)
        // left the runtime's state of the old run behind.
        crate::error::ignore(
            format_args!("delete the runtime state of the last run of {}", c.id),
            self.runtime().delete(&c.id, true),
        );
    }

    /// Unmounts an exited container's root filesystem.
    pub fn container_release(&self, c: &ContainerRecord) {
        let _t = runtime::trace::span("engine release");
        // Not under a start that began meanwhile (a restart).
        let lock = self.lifecycle(&c.id);
        let _held = lock.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(self.state(c), State::Running(..)) {
            return;
        }
        let dir = self.container_dir(&c.id);
        crate::error::ignore(
            format_args!("unmount the rootfs of {}", c.id),
            store::mount::unmount(&dir.join("rootfs")),
        );
        runtime::trace::mark("rootfs unmounted");
        crate::error::ignore(
            format_args!("remove the shm source of {}", c.id),
            std::fs::remove_file(dir.join(SHM_SOURCE)),
        );
        if is_mounted(&dir.join("shm")) {
            crate::error::ignore(
                format_args!("unmount the shm of {}", c.id),
                store::mount::unmount(&dir.join("shm")),
            );
        }
        self.network_detach(&c.id);
        self.release_volumes(c);
    }

    /// What the restart policy says once the container exited with `code`:
    /// start it again (true) or leave it. `at_boot` is the daemon's start,
    /// where `always` brings back even a container a user stopped.
    pub fn should_restart(&self, c: &ContainerRecord, code: i32, at_boot: bool) -> bool {
        let policy = &c.config.host_config.restart_policy;
        let max = u64::try_from(policy.maximum_retry_count).unwrap_or(0);
        match policy.name.as_str() {
            "always" => at_boot || !c.stopped_by_user,
            "unless-stopped" => !c.stopped_by_user,
            "on-failure" => {
                !c.stopped_by_user && code != 0 && (max == 0 || u64::from(c.restart_count) < max)
            }
            _ => false,
        }
    }
}

/// The file in a container's directory naming the host directory on its
/// `/dev/shm`, while it runs with one to share.
pub(super) const SHM_SOURCE: &str = "shm.source";

pub(super) use crate::volumes::is_mounted;

/// The create body as this start runs it: the network plan's hostname
/// (`container:<x>`'s) and links' variables (before the container's own,
/// which override them).
fn with_plan(req: &CreateBody, plan: &crate::network::NetPlan) -> CreateBody {
    let mut req = req.clone();
    if let Some(h) = &plan.hostname {
        req.config.hostname = h.clone();
    }
    if !plan.env.is_empty() {
        // Links' variables first: the container's own override them.
        let mut env = plan.env.clone();
        env.extend(req.config.env.take().unwrap_or_default());
        req.config.env = Some(env);
    }
    req
}

/// A real-time budget needs one in every ancestor (moby's
/// `initCPURtController`).
fn init_realtime(spec: &oci_spec::runtime::Spec, hc: &HostConfig) -> Result<(), EngineError> {
    if hc.cpu_realtime_runtime > 0 {
        let path = spec
            .linux()
            .as_ref()
            .and_then(|l| l.cgroups_path().clone())
            .unwrap_or_default();
        runtime::cgroups::probe::init_realtime(
            &path,
            hc.cpu_realtime_period,
            hc.cpu_realtime_runtime,
        )
        .map_err(|e| ContainerError::failed("unable to init CPU RT controller", e))?;
    }
    Ok(())
}

/// Writes what the shim and the runtime read from the container's
/// directory: the log options, the `/etc` files, the spec.
fn write_bundle(
    c: &ContainerRecord,
    dir: &Path,
    spec: &oci_spec::runtime::Spec,
    req: &CreateBody,
    plan: &crate::network::NetPlan,
) -> Result<(), EngineError> {
    let mut log = crate::logging::settings(&c.config.host_config.log_config)?;
    log.attrs = crate::logging::attrs(c)?;
    crate::perms::write_private(
        &dir.join(files::LOG_OPTS),
        serde_json::to_string(&crate::logging::shim_options(&log)).map_err(ContainerError::sys)?,
    )
    .map_err(ContainerError::sys)?;
    crate::network::write_etc_files_with(
        &dir.join("etc"),
        // With the host's UTS namespace the spec sets no name; the
        // file carries the one create recorded (the short id), as
        // Docker's does.
        spec.hostname().as_deref().unwrap_or(&req.config.hostname),
        &plan.etc,
        &plan.extra,
    )
    .map_err(ContainerError::sys)?;
    // The whole environment is in it, often secrets.
    crate::perms::write_private(
        &dir.join("config.json"),
        serde_json::to_vec(spec).map_err(ContainerError::sys)?,
    )
    .map_err(ContainerError::sys)
    .map_err(EngineError::from)
}
