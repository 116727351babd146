//! `commit`: a container's changes as a new image.

use super::*;
use crate::{Engine, EngineError};

/// In a container's directory while a commit holds it paused.
pub(super) const COMMIT_PAUSED: &str = "commit-paused";

/// What `commit` takes besides the container.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions<'a> {
    /// `repo[:tag]` for the new image.
    pub reference: Option<&'a str>,
    /// `--author`.
    pub author: &'a str,
    /// `--message`, the history comment.
    pub comment: &'a str,
    /// Dockerfile-style `--change` lines.
    pub changes: &'a [String],
    /// Freeze a running container meanwhile.
    pub pause: bool,
    /// The image's creation time.
    pub created: String,
}

impl Engine {
    /// `POST /commit?container=&repo=&tag=&author=&comment=&changes=&pause=`:
    /// the writable layer becomes a new image whose config is the
    /// container's, with `changes` applied. A running container is frozen
    /// meanwhile unless `pause` is false.
    pub fn container_commit(
        &self,
        name: &str,
        o: &CommitOptions<'_>,
    ) -> Result<String, EngineError> {
        let c = self.find_container(name)?;
        let image = self.store().meta().image(&c.image)?.ok_or_else(|| {
            ContainerError::Conflict(format!(
                "the image of container {} was removed; it cannot be committed",
                c.id
            ))
        })?;
        let reference = match o.reference {
            Some(r) => Some(
                store::reference::Reference::parse(r)
                    .map_err(|e| ContainerError::Invalid(e.to_string()))?
                    .with_default_tag(),
            ),
            None => None,
        };
        // The container's config becomes the image's (moby's commit
        // `merge`); a missing Cmd or Entrypoint stays missing.
        let cfg = &c.config.config;
        let mut run = store::config::RunConfig {
            cmd: cfg.cmd.clone(),
            entrypoint: cfg.entrypoint.clone(),
            env: cfg.env().to_vec(),
            user: cfg.user.clone(),
            working_dir: cfg.working_dir.clone(),
            stop_signal: cfg.stop_signal.clone(),
            labels: cfg.labels(),
            exposed_ports: cfg.exposed_ports.clone(),
            volumes: cfg.volumes.clone().unwrap_or_default(),
            healthcheck: cfg.healthcheck.clone(),
            ..Default::default()
        };
        store::config::apply_changes(&mut run, o.changes)
            .map_err(|e| ContainerError::Invalid(e.to_string()))?;
        // Frozen while its layer is read, as Docker does; a pause that
        // fails ends the commit rather than walking a live layer the
        // caller asked to have frozen (the walk is by descriptors either
        // way: `--pause=false` stays safe, only not consistent). The mark
        // says so, so that a daemon killed before the resume lets it go at
        // its next start.
        let mark = self.container_dir(&c.id).join(COMMIT_PAUSED);
        let running = match self.state(&c) {
            State::Running(pid, false) => Some(pid),
            _ => None,
        };
        // A rootless daemon without cgroups has no freezer: the layer is
        // read unfrozen, as dockerd, whose commit ignores a failed pause,
        // does on such hosts.
        let mut frozen = o.pause && running.is_some() && !crate::rootless::without_cgroups();
        if frozen {
            std::fs::write(&mark, "")
                .map_err(|e| ContainerError::failed("error pausing container", e))?;
            match self.runtime().pause(&c.id) {
                Ok(()) => {}
                // It exited meanwhile (docker-py commits right after the
                // start of a `touch`; the pause found it stopped, or its
                // cgroup gone): nothing runs to freeze, its layer holds
                // still; dockerd commits it too.
                Err(_) if running.is_some_and(init_gone) => frozen = false,
                Err(e) => {
                    crate::error::ignore(
                        format_args!("remove the commit mark of {}", c.id),
                        std::fs::remove_file(&mark),
                    );
                    return Err(ContainerError::failed("error pausing container", e).into());
                }
            }
        }
        let _w = self.writing();
        let history = store::config::History {
            created: o.created.clone(),
            // As moby's commit: the container's command, joined.
            created_by: cfg.cmd.clone().unwrap_or_default().join(" "),
            comment: o.comment.to_string(),
            author: o.author.to_string(),
            empty_layer: false,
        };
        let r = self.store().commit(
            &image,
            &self.container_dir(&c.id).join("upper"),
            history,
            reference.as_ref(),
            |config| {
                let shell = std::mem::take(&mut config.config.shell);
                let on_build = std::mem::take(&mut config.config.on_build);
                config.config = run;
                config.config.shell = shell;
                config.config.on_build = on_build;
                if !o.author.is_empty() {
                    config.author = Some(o.author.to_string());
                }
            },
        );
        if frozen {
            if let Err(e) = self.runtime().resume(&c.id) {
                tracing::warn!("resuming container {} after a commit: {e}", c.id);
            }
        }
        crate::error::ignore(
            format_args!("remove the commit mark of {}", c.id),
            std::fs::remove_file(&mark),
        );
        Ok(r?.id)
    }

    /// At daemon start: containers a commit paused when the daemon was
    /// killed before it resumed them run again (a pause by a user, which
    /// leaves no mark, stays).
    pub fn resume_interrupted_commits(&self) -> Result<usize, EngineError> {
        let mut resumed = 0;
        for c in self.container_records()? {
            let mark = self.container_dir(&c.id).join(COMMIT_PAUSED);
            if !mark.exists() {
                continue;
            }
            if matches!(self.state(&c), State::Running(_, true))
                && self.runtime().resume(&c.id).is_ok()
            {
                resumed += 1;
            }
            crate::error::ignore(
                format_args!("remove the commit mark {}", mark.display()),
                std::fs::remove_file(&mark),
            );
        }
        Ok(resumed)
    }
}
