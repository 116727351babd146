//! The build context: its root, its Dockerfile and `.dockerignore`, the stages to run.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::*;
use crate::archive::{extract_into, reopen, Owner};
use crate::{Engine, EngineError};

/// Every path below `dir` (relative, `/`-separated), not following
/// symlinks: walked by descriptors, iteratively (a deep tree is refused at
/// `store::walk::MAX_DEPTH` levels, not a stack overflow), at most a
/// million entries.
pub(super) fn list_tree(dir: &Path) -> Result<Vec<String>, EngineError> {
    /// Why the listing stopped.
    enum Stop {
        Budget,
        Walk(store::walk::WalkError),
    }
    impl From<store::walk::WalkError> for Stop {
        fn from(e: store::walk::WalkError) -> Stop {
            Stop::Walk(e)
        }
    }
    let top = open_root(dir)?;
    let mut out = Vec::new();
    let mut budget = 1_000_000usize;
    let r = store::walk::walk::<Stop>(&top, |n| {
        if budget == 0 {
            return Err(Stop::Budget);
        }
        budget -= 1;
        out.push(n.rel.to_string_lossy().into_owned());
        Ok(store::walk::Descend::Yes)
    });
    match r {
        Ok(()) | Err(Stop::Budget) => {}
        Err(Stop::Walk(e)) => return Err(e.into()),
    }
    out.sort();
    Ok(out)
}

/// Lexically cleans a source path of the context: `..` cannot climb
/// above the root.
pub(super) fn clean_rel(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

/// An O_PATH descriptor of a directory.
pub(super) fn open_root(p: &Path) -> Result<OwnedFd, EngineError> {
    nix::fcntl::open(
        p,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| BuildError::failed(format!("open {}", p.display()), e))
    .map_err(EngineError::from)
}

/// An image's layers mounted (writable, on a scratch upper) at `dir/root`.
/// A Dockerfile read from a context and parsed, its meta ARGs resolved,
/// and the index of the last stage to build.
pub(super) struct Plan {
    pub(super) df: build::Dockerfile,
    pub(super) meta: BTreeMap<String, String>,
    pub(super) last: usize,
}

pub(super) fn plan(ctx_root: &OwnedFd, o: &BuildOptions) -> Result<Plan, EngineError> {
    let dockerfile = if o.dockerfile.is_empty() {
        "Dockerfile"
    } else {
        o.dockerfile.as_str()
    };
    let text = {
        let fd = runtime::rootfs::resolve::open_in_root(
            ctx_root,
            &Path::new("/").join(clean_rel(dockerfile)),
            runtime::rootfs::resolve::Create::No,
        )
        .map_err(|_| {
            BuildError::Invalid(format!("Cannot locate specified Dockerfile: {dockerfile}"))
        })?;
        let f = std::fs::File::from(reopen(&fd, OFlag::O_RDONLY)?);
        let mut s = String::new();
        f.take(MAX_DOCKERFILE + 1)
            .read_to_string(&mut s)
            .map_err(|e| BuildError::Invalid(format!("{dockerfile}: {e}")))?;
        if s.len() as u64 > MAX_DOCKERFILE {
            return Err(BuildError::Invalid(format!("{dockerfile}: larger than 4 MiB")).into());
        }
        s
    };
    let df = build::parse(&text, dockerfile).map_err(|e| BuildError::Invalid(e.to_string()))?;
    let escape = df.directives.escape;
    // Meta ARGs: their defaults, or what --build-arg says.
    let mut meta: BTreeMap<String, String> = BTreeMap::new();
    for a in &df.meta_args {
        let v = match o.build_args.get(&a.name) {
            Some(Some(v)) => Some(v.clone()),
            _ => match &a.default {
                Some(d) => Some(expand(d, escape, &meta)?),
                None => None,
            },
        };
        if let Some(v) = v {
            meta.insert(a.name.clone(), v);
        }
    }
    let last = match &o.target {
        Some(t) => df
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(t.to_ascii_lowercase().as_str()))
            .ok_or_else(|| {
                BuildError::Invalid(format!("failed to reach build target {t} in Dockerfile"))
            })?,
        None => df.stages.len() - 1,
    };
    Ok(Plan { df, meta, last })
}

impl Engine {
    /// A fresh directory for a build's context, removed when dropped.
    pub fn build_context_dir(&self) -> Result<tempfile::TempDir, EngineError> {
        let base = self.data_root.join("build");
        crate::perms::private_dir(&base).map_err(BuildError::sys)?;
        tempfile::Builder::new()
            .prefix("context-")
            .tempdir_in(&base)
            .map_err(BuildError::sys)
            .map_err(EngineError::from)
    }
}

/// Docker's `removeDockerfile`: when the context's `.dockerignore` matches
/// itself or the Dockerfile, both leave the context once the Dockerfile
/// is read, so `COPY .` does not copy them (docker-py sends a Dockerfile
/// from outside the context this way, with a `.dockerignore` naming it).
pub(super) fn remove_ignored_dockerfile(
    ctx_root: &OwnedFd,
    o: &BuildOptions,
) -> Result<(), EngineError> {
    let Ok(fd) = runtime::rootfs::resolve::open_in_root(
        ctx_root,
        Path::new("/.dockerignore"),
        runtime::rootfs::resolve::Create::No,
    ) else {
        return Ok(());
    };
    let mut text = String::new();
    std::fs::File::from(reopen(&fd, OFlag::O_RDONLY)?)
        .take(MAX_DOCKERFILE)
        .read_to_string(&mut text)
        .map_err(|e| BuildError::Invalid(format!(".dockerignore: {e}")))?;
    let patterns = build::ignore::Patterns::parse(&text)
        .map_err(|e| BuildError::Invalid(format!("error reading .dockerignore: {e}")))?;
    let dockerfile = if o.dockerfile.is_empty() {
        "Dockerfile".to_string()
    } else {
        clean_rel(&o.dockerfile)
    };
    for name in [".dockerignore".to_string(), dockerfile] {
        if name.is_empty() || !patterns.excluded(&name) {
            continue;
        }
        // The parent is resolved inside the context (a symlinked
        // directory in it cannot point the unlink elsewhere).
        let rel = Path::new(&name);
        let parent = Path::new("/").join(rel.parent().unwrap_or(Path::new("")));
        let Some(base) = rel.file_name() else {
            continue;
        };
        let Ok(dir) = runtime::rootfs::resolve::open_in_root(
            ctx_root,
            &parent,
            runtime::rootfs::resolve::Create::No,
        ) else {
            continue;
        };
        match nix::unistd::unlinkat(&dir, base, nix::unistd::UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(nix::errno::Errno::ENOENT) | Err(nix::errno::Errno::EISDIR) => {}
            Err(e) => {
                return Err(
                    BuildError::failed(format!("removing {name} from the context"), e).into(),
                )
            }
        }
    }
    Ok(())
}

/// The build's context directory, extracted from the request body:
/// `.dockerignore` is the client's business (the docker CLI applies it);
/// what arrives is extracted with the same checks as `docker cp` input.
pub fn extract_context(tar: impl Read, dir: &Path) -> Result<(), EngineError> {
    let fd = nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(BuildError::sys)?;
    let r = store::layer::decompressed(tar)
        .map_err(|e| BuildError::Invalid(format!("build context: {e}")))?;
    extract_into(&fd, r, Owner::FromTar, None)
}
