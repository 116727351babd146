//! Removing a container, and what a crash left behind.

use store::meta::Table;

use super::*;
use crate::{Engine, EngineError};

impl Engine {
    /// At daemon start: container directories with no record (a create or
    /// a remove cut short by a crash) are unmounted and removed.
    pub fn remove_orphans(&self) -> Result<usize, EngineError> {
        let known: std::collections::HashSet<String> = self
            .container_records()?
            .into_iter()
            .map(|c| c.id)
            .collect();
        let mut removed = 0;
        for e in std::fs::read_dir(self.containers_dir())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            // What a removal had renamed away and not finished removing.
            if name.starts_with(DOOMED) {
                if store::walk::remove_tree(&e.path()).is_ok() {
                    removed += 1;
                }
                continue;
            }
            if known.contains(&name)
                || name.len() != 64
                || !name.bytes().all(|b| b.is_ascii_hexdigit())
            {
                continue;
            }
            crate::error::ignore(
                format_args!("unmount the rootfs of orphaned container {name}"),
                store::mount::unmount(&e.path().join("rootfs")),
            );
            crate::error::ignore(
                format_args!("delete the runtime state of orphaned container {name}"),
                self.runtime().delete(&name, true),
            );
            if store::walk::remove_tree(&e.path()).is_ok() {
                removed += 1;
            }
        }
        removed += self.sweep_volumes()?;
        Ok(removed)
    }

    /// `DELETE /containers/{id}?force=&v=`: `volumes` removes its anonymous
    /// volumes too (`rm -v`, `--rm`).
    pub fn container_remove(
        &self,
        name: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), EngineError> {
        let c = self.find_container(name)?;
        // A container waiting for its restart is as good as running, as
        // dockerd counts it (docker-py's test_create_with_restart_policy).
        if !force && self.is_restarting(&c.id) {
            return Err(ContainerError::Conflict(format!("cannot remove container \"/{}\": container is restarting: stop the container before removing or force remove", c.name)).into());
        }
        if let State::Running(..) = self.state(&c) {
            if !force {
                return Err(ContainerError::Conflict(format!("cannot remove container \"/{}\": container is running: stop the container before removing or force remove", c.name)).into());
            }
            crate::error::ignore(
                format_args!("kill container {} to remove it", c.id),
                self.runtime()
                    .kill(&c.id, nix::sys::signal::Signal::SIGKILL, true),
            );
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while matches!(self.state(&c), State::Running(..))
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        self.end_restart_wait(&c.id);
        let _t = runtime::trace::span("engine remove");
        self.container_release(&c);
        crate::error::ignore(
            format_args!("delete the runtime state of {}", c.id),
            self.runtime().delete(&c.id, true),
        );
        let shm = self.container_dir(&c.id).join("shm");
        if is_mounted(&shm) {
            crate::error::ignore(
                format_args!("unmount {}", shm.display()),
                store::mount::unmount(&shm),
            );
        }
        runtime::trace::mark("runtime state deleted");
        self.remove_dir_later(&c.id);
        runtime::trace::mark("container dir removed");
        self.store().meta().write(|w| {
            if let Some(r) = w.get::<ContainerRecord>(Table::Containers, &c.id)? {
                unindex_name(w, &r.name, &c.id)?;
            }
            w.delete(Table::Containers, &c.id)?;
            Ok::<_, EngineError>(())
        })?;
        runtime::trace::mark("record deleted");
        if volumes {
            self.remove_anonymous_volumes(&c);
        }
        Ok(())
    }

    /// Takes a removed container's directory out of the way with one
    /// rename (`containers/.rm-<id>`) and removes the tree on a thread: on
    /// a loaded ext4 each unlink can wait 5-20 ms for the journal, and a
    /// container's directory holds a dozen files, its upper and work dirs.
    /// The rename is what the caller waits for; a crash before the thread
    /// is through leaves the `.rm-` directory to `remove_orphans` at the
    /// next start. Without the rename (another filesystem, an error) the
    /// tree goes here and now, as before.
    fn remove_dir_later(&self, id: &str) {
        let dir = self.container_dir(id);
        let doomed = self.containers_dir().join(format!("{DOOMED}{id}"));
        if std::fs::rename(&dir, &doomed).is_err() {
            // Iteratively: a container can leave a tree deep enough to
            // overflow a recursive removal.
            if let Err(e) = store::walk::remove_tree(&dir) {
                tracing::warn!(
                    "removing the directory {} of a removed container: {e}",
                    dir.display()
                );
            }
            return;
        }
        let spawned = std::thread::Builder::new().name("rm-dir".into()).spawn({
            let doomed = doomed.clone();
            move || {
                if let Err(e) = store::walk::remove_tree(&doomed) {
                    tracing::warn!(
                        "removing the directory {} of a removed container: {e}",
                        doomed.display()
                    );
                }
            }
        });
        if spawned.is_err() {
            if let Err(e) = store::walk::remove_tree(&doomed) {
                tracing::warn!(
                    "removing the directory {} of a removed container: {e}",
                    doomed.display()
                );
            }
        }
    }
}

/// The prefix of a removed container's directory while a thread removes it
/// (`Engine::remove_dir_later`); never a container id (those are hex).
const DOOMED: &str = ".rm-";
