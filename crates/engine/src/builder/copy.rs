//! `COPY` and `ADD`: written into an overlay of the previous step, committed without a container.

use std::io::{Read, Seek};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use sha2::Digest;
use store::config::History;
use store::meta::ImageRecord;

use super::*;
use crate::archive::{extract_into, reopen, Owner};
use crate::{Engine, EngineError};

pub(super) struct Mounted {
    pub(super) dir: tempfile::TempDir,
}

impl Mounted {
    pub(super) fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub(super) fn upper(&self) -> PathBuf {
        self.dir.path().join("upper")
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        crate::error::ignore(
            format_args!("unmount build step root {}", self.root().display()),
            store::mount::unmount(&self.root()),
        );
    }
}

/// Parses `--chown` (`user[:group]`, names looked up in the root's
/// `/etc/passwd` and `/etc/group`, read inside the root, regular files
/// only, bounded: [`crate::rootfile`]).
pub(super) fn chown_ids(root: &OwnedFd, spec: &str) -> Result<(u32, u32), EngineError> {
    let read = |path: &str| -> Result<String, EngineError> {
        crate::rootfile::read(root, path)
            .map(Option::unwrap_or_default)
            .map_err(|e| BuildError::Invalid(format!("--chown={spec}: {e}")))
            .map_err(EngineError::from)
    };
    let lookup = |file: &str, name: &str| -> Result<Option<(u32, u32)>, EngineError> {
        Ok(read(file)?.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 3 && f[0] == name).then(|| {
                (
                    f[2].parse().unwrap_or(0),
                    f.get(3).and_then(|g| g.parse().ok()).unwrap_or(0),
                )
            })
        }))
    };
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, primary) = match user.parse::<u32>() {
        Ok(n) => (n, n),
        Err(_) => lookup("/etc/passwd", user)?.ok_or_else(|| {
            BuildError::Invalid(format!(
                "unable to find user {user}: no matching entries in passwd file"
            ))
        })?,
    };
    let gid = match group {
        None => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => lookup("/etc/group", g)?
                .map(|(gid, _)| gid)
                .ok_or_else(|| {
                    BuildError::Invalid(format!(
                        "unable to find group {g}: no matching entries in group file"
                    ))
                })?,
        },
    };
    Ok((uid, gid))
}

/// Most bytes `ADD <url>` takes.
const MAX_ADD_URL: u64 = 1 << 30;

/// A file `ADD <url>` fetched: its body (in an unlinked temporary file),
/// size and name.
pub(super) struct Fetched {
    pub(super) file: std::fs::File,
    pub(super) size: u64,
    pub(super) name: String,
}

/// `ADD <url>`: a GET on the registry's transport (http or https, redirects
/// followed, bounded), streamed into a temporary file under `dir`; named
/// by the last segment of the URL's path as written, as Docker names it
/// (not the one a redirect led to).
pub(super) fn fetch_url(url: &str, dir: &Path) -> Result<Fetched, EngineError> {
    crate::perms::private_dir(dir).map_err(BuildError::sys)?;
    let mut file = tempfile::tempfile_in(dir).map_err(BuildError::sys)?;
    registry::fetch::fetch_blocking(url, MAX_ADD_URL, &mut file)
        .map_err(|e| BuildError::Invalid(format!("ADD {url}: {e}")))?;
    let size = file.stream_position().map_err(BuildError::sys)?;
    file.rewind().map_err(BuildError::sys)?;
    let path = url.split(['?', '#']).next().unwrap_or("");
    let path = path.split_once("://").map_or(path, |(_, rest)| rest);
    let name = path
        .split_once('/')
        .map_or("", |(_, p)| p)
        .rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or("index.html")
        .to_string();
    Ok(Fetched { file, size, name })
}

/// Is this file a tar archive (plain, gzip or zstd) that `ADD` unpacks?
/// Reads its first block, then rewinds it.
pub(super) fn is_archive(f: &mut std::fs::File) -> bool {
    let yes = (|| {
        let mut r = store::layer::decompressed(&mut *f).ok()?;
        let mut block = [0u8; 512];
        r.read_exact(&mut block).ok()?;
        Some(&block[257..262] == b"ustar")
    })()
    .unwrap_or(false);
    f.rewind().is_ok() && yes
}

impl Engine {
    /// An image's layers mounted on a scratch upper under the data root.
    pub(super) fn mount_for_step(&self, chain: &[String]) -> Result<Mounted, EngineError> {
        let base = self.data_root.join("build");
        crate::perms::private_dir(&base).map_err(BuildError::sys)?;
        let dir = tempfile::Builder::new()
            .prefix("step-")
            .tempdir_in(&base)
            .map_err(BuildError::sys)?;
        let m = Mounted { dir };
        self.store()
            .mount_layers_rw(chain, m.dir.path(), &m.root())?;
        Ok(m)
    }

    /// `COPY`/`ADD`: the sources, from the context or another stage or
    /// image, written into an overlay of the current image at the
    /// destination (resolved inside the image), committed.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn copy_step(
        &self,
        st: &mut StageState,
        spec: &build::CopySpec,
        escape: char,
        context: &Path,
        ctx_root: &OwnedFd,
        stages: &[build::Stage],
        done: &[ImageRecord],
        o: &BuildOptions,
        out: &mut dyn FnMut(&str),
    ) -> Result<(), EngineError> {
        let what = if spec.add { "ADD" } else { "COPY" };
        let vars = st.vars();
        let flags = CopyFlags::parse(spec, escape, &vars, what)?;
        // Where the sources are read from: the context, or a stage's or
        // an image's root (`--from`), mounted for the step.
        let from_mount;
        let from_fd;
        let (src_root, src_dir): (&OwnedFd, PathBuf) = match &flags.from {
            None => (ctx_root, context.to_path_buf()),
            Some(f) => {
                let image = self.copy_from_image(f, stages, done)?;
                from_mount = self.mount_for_step(&store::config::chain_ids(&image.diff_ids))?;
                from_fd = open_root(&from_mount.root())?;
                (&from_fd, from_mount.root())
            }
        };
        let sources = copy_sources(spec, escape, &vars, &src_dir, what)?;
        let dest_raw = expand(&spec.dest, escape, &vars)?;
        let dest_clean = copy_destination(&st.config.config.working_dir, &dest_raw);
        let n_sources = sources.len() + spec.heredocs.len();
        let mut dest_is_dir =
            dest_raw.ends_with('/') || dest_raw.ends_with("/.") || dest_raw == "." || n_sources > 1;

        // URLs are fetched once; heredocs expanded once.
        // Into the data root's build directory (root's only), not /tmp.
        let spool = self.data_root.join("build");
        let mut fetched: Vec<Option<Fetched>> = Vec::new();
        for (src, is_url) in &sources {
            fetched.push(if *is_url {
                Some(fetch_url(src, &spool)?)
            } else {
                None
            });
        }
        let heredocs: Vec<(String, String)> = spec
            .heredocs
            .iter()
            .map(|h| {
                let body = if h.expand {
                    expand(&h.content, escape, &vars).unwrap_or_else(|_| h.content.clone())
                } else {
                    h.content.clone()
                };
                (h.name.clone(), body)
            })
            .collect();
        let input = Sources {
            sources: &sources,
            fetched: &fetched,
            heredocs: &heredocs,
            src_root,
            unpack_archives: spec.add && flags.from.is_none(),
            what,
        };
        let (kind, hash, archives) = content_hash(&input)?;
        let created_by = format!("/bin/sh -c #(nop) {what} {kind}:{hash} in {dest_raw} ");
        // The parent image decides what the destination is (an existing
        // directory or not), so the key needs nothing of the mount.
        let key = hex(format!(
            "{}\n{created_by}\n{:?} {:?}",
            st.parent_key(),
            flags.chown,
            flags.chmod
        )
        .as_bytes());
        if let Some(img) = self.cached(&key, o) {
            out(" ---> Using cache\n");
            out(&format!(" ---> {}\n", short(&img.id)));
            st.config = self.store().config(&img)?;
            st.image = Some(img);
            return Ok(());
        }
        let target = self.mount_for_step(&st.chain())?;
        let root_fd = open_root(&target.root())?;
        // One directory source: its contents go into the destination,
        // made as a directory when it is missing (`COPY . /src`).
        if let (false, [(src, false)], true) = (dest_is_dir, &sources[..], spec.heredocs.is_empty())
        {
            dest_is_dir = is_dir_in(src_root, &Path::new("/").join(src));
        }
        // An existing directory at the destination takes the sources.
        dest_is_dir = dest_is_dir || is_dir_in(&root_fd, Path::new(&dest_clean));
        let dest = CopyDest::new(&dest_clean, dest_is_dir);
        write_copy(&root_fd, &input, &dest, &flags, archives, &dest_raw, what)?;
        drop(root_fd);
        self.commit_copy(st, target, &key, created_by, out)
    }

    /// `COPY --from`'s image: an earlier stage's (by name or index) or an
    /// image's.
    fn copy_from_image(
        &self,
        f: &str,
        stages: &[build::Stage],
        done: &[ImageRecord],
    ) -> Result<ImageRecord, EngineError> {
        match stages
            .iter()
            .take(done.len())
            .position(|s| s.name.as_deref() == Some(f.to_ascii_lowercase().as_str()))
            .or_else(|| f.parse::<usize>().ok().filter(|i| *i < done.len()))
        {
            Some(i) => Ok(done[i].clone()),
            None => store::images::find(self.store().meta(), f)
                .map_err(|_| {
                    BuildError::Invalid(format!(
                        "invalid from flag value {f}: no stage or image of that name here"
                    ))
                })
                .map_err(EngineError::from),
        }
    }

    /// The step's image: the stage's config with the step's history over
    /// the overlay's upper, committed and remembered in the cache.
    fn commit_copy(
        &self,
        st: &mut StageState,
        target: Mounted,
        key: &str,
        created_by: String,
        out: &mut dyn FnMut(&str),
    ) -> Result<(), EngineError> {
        let _w = self.writing();
        let mut config = st.config.clone();
        let now = crate::time::now();
        config.created = Some(now.clone());
        step_container_config(
            &mut config,
            st.image.as_ref().map(|i| i.id.as_str()),
            &created_by,
        );
        config.history.push(History {
            created: now,
            created_by,
            ..Default::default()
        });
        let upper = target.upper();
        crate::error::ignore(
            format_args!("unmount build step root {}", target.root().display()),
            store::mount::unmount(&target.root()),
        );
        let parent = st.image.as_ref().map(|i| i.id.clone());
        let img = self.store().commit_step(
            &st.chain(),
            Some(&upper),
            config.clone(),
            parent.as_deref(),
        )?;
        drop(target);
        self.remember(key, &img)?;
        st.config = config;
        st.image = Some(img.clone());
        out(&format!(" ---> {}\n", short(&img.id)));
        Ok(())
    }
}

/// `COPY`/`ADD`'s flags, expanded.
struct CopyFlags {
    /// `--from` (not `ADD`'s).
    from: Option<String>,
    /// `--chown=user[:group]`.
    chown: Option<String>,
    /// `--chmod`, octal.
    chmod: Option<u32>,
}

impl CopyFlags {
    fn parse(
        spec: &build::CopySpec,
        escape: char,
        vars: &BTreeMap<String, String>,
        what: &str,
    ) -> Result<CopyFlags, EngineError> {
        let mut flags = CopyFlags {
            from: None,
            chown: None,
            chmod: None,
        };
        for (k, v) in &spec.flags {
            let v = expand(v, escape, vars)?;
            match k.as_str() {
                "from" if !spec.add => flags.from = Some(v),
                "chown" => flags.chown = Some(v),
                "chmod" => {
                    flags.chmod = Some(
                        u32::from_str_radix(&v, 8)
                            .ok()
                            .filter(|m| *m <= 0o7777)
                            .ok_or_else(|| {
                                BuildError::Invalid(format!(
                                    "{what} --chmod={v}: not an octal mode"
                                ))
                            })?,
                    )
                }
                "link" => {}
                other => {
                    return Err(BuildError::Invalid(format!(
                        "{what} --{other} is not supported by the classic builder"
                    ))
                    .into())
                }
            }
        }
        Ok(flags)
    }
}

/// The sources: expanded, globbed, each a path in the source root, or a
/// URL (`ADD`'s); `(path, is_url)`.
fn copy_sources(
    spec: &build::CopySpec,
    escape: char,
    vars: &BTreeMap<String, String>,
    src_dir: &Path,
    what: &str,
) -> Result<Vec<(String, bool)>, EngineError> {
    let mut sources: Vec<(String, bool)> = Vec::new();
    for s in &spec.sources {
        // Each source word is expanded on its own (BuildKit's way): a
        // value with spaces stays one path.
        let w = expand(s, escape, vars)?;
        if spec.add && (w.starts_with("http://") || w.starts_with("https://")) {
            sources.push((w, true));
            continue;
        }
        let rel = clean_rel(&w);
        if rel.contains(['*', '?', '[']) {
            let all = list_tree(src_dir)?;
            let hits: Vec<&String> = all
                .iter()
                .filter(|p| build::ignore::path_match(&rel, p))
                .collect();
            if hits.is_empty() {
                return Err(BuildError::Invalid(format!(
                    "{what} failed: no source files were specified"
                ))
                .into());
            }
            sources.extend(hits.into_iter().map(|p| (p.clone(), false)));
        } else {
            sources.push((rel, false));
        }
    }
    Ok(sources)
}

/// The destination as an absolute, cleaned path (a relative one is under
/// the working directory).
fn copy_destination(working_dir: &str, dest_raw: &str) -> String {
    let workdir = if working_dir.is_empty() {
        "/"
    } else {
        working_dir
    };
    let dest_abs = if dest_raw.starts_with('/') {
        dest_raw.to_string()
    } else {
        format!("{}/{}", workdir.trim_end_matches('/'), dest_raw)
    };
    format!("/{}", clean_rel(&dest_abs))
}

/// The cache key's part of what is copied: a tar of the sources under
/// their own names, mtimes left out, nothing written to disk, then the
/// archives `ADD` unpacks. Returns the kind (`file`, `dir`, `multi`...),
/// the hash, and the archives rewound for the copy itself.
fn content_hash(
    input: &Sources<'_>,
) -> Result<(&'static str, String, Vec<std::fs::File>), EngineError> {
    let mut hasher = TarHash::default();
    let (kinds, mut archives) = {
        let mut tar = tar::Builder::new(&mut hasher);
        let r = input.append(&mut tar, None)?;
        tar.finish().map_err(BuildError::sys)?;
        r
    };
    let mut hash = format!("{:x}", hasher.h.finalize());
    // The archives hashed are the very files unpacked below.
    for f in archives.iter_mut() {
        let mut h = sha2::Sha256::new();
        std::io::copy(f, &mut h).map_err(BuildError::sys)?;
        f.rewind().map_err(BuildError::sys)?;
        hash = hex(format!("{hash}{:x}", h.finalize()).as_bytes());
    }
    let kind = if kinds.len() == 1 { kinds[0] } else { "multi" };
    Ok((kind, hash, archives))
}

/// Whether `path` under `root` is a directory (not following a symlink
/// out of the root).
fn is_dir_in(root: &OwnedFd, path: &Path) -> bool {
    runtime::rootfs::resolve::open_in_root(root, path, runtime::rootfs::resolve::Create::No)
        .ok()
        .and_then(|fd| nix::sys::stat::fstat(&fd).ok())
        .is_some_and(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

/// Where the copy lands: a directory, and the name of the one file copied
/// when the destination names a file.
struct CopyDest {
    dir: String,
    single_name: Option<String>,
}

impl CopyDest {
    fn new(dest_clean: &str, dest_is_dir: bool) -> CopyDest {
        if dest_is_dir {
            return CopyDest {
                dir: dest_clean.to_string(),
                single_name: None,
            };
        }
        let p = Path::new(dest_clean);
        CopyDest {
            dir: p
                .parent()
                .map_or("/".into(), |d| d.to_string_lossy().into_owned()),
            single_name: Some(
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
        }
    }
}

/// Writes the sources into the step's root: a tar of them extracted at the
/// destination (with `--chown`/`--chmod`), then `ADD`'s archives unpacked.
fn write_copy(
    root_fd: &OwnedFd,
    input: &Sources<'_>,
    dest: &CopyDest,
    flags: &CopyFlags,
    archives: Vec<std::fs::File>,
    dest_raw: &str,
    what: &str,
) -> Result<(), EngineError> {
    let mut tarf = tempfile::tempfile().map_err(BuildError::sys)?;
    {
        let mut tar = tar::Builder::new(&mut tarf);
        input.append(&mut tar, dest.single_name.as_deref())?;
        tar.finish().map_err(BuildError::sys)?;
    }
    let owner = match &flags.chown {
        Some(c) => {
            let (u, g) = chown_ids(root_fd, c)?;
            Owner::Fixed(u, g)
        }
        None => Owner::Root,
    };
    let dest_fd = runtime::rootfs::resolve::open_in_root(
        root_fd,
        Path::new(&dest.dir),
        runtime::rootfs::resolve::Create::Dir,
    )
    .map_err(|e| BuildError::Invalid(format!("{what} failed: {dest_raw}: {e}")))?;
    let dest_fd = reopen(&dest_fd, OFlag::O_RDONLY | OFlag::O_DIRECTORY).map_err(|e| {
        BuildError::Invalid(format!("{what} failed: {dest_raw} is not a directory: {e}"))
    })?;
    tarf.rewind().map_err(BuildError::sys)?;
    extract_into(&dest_fd, &mut tarf, owner, flags.chmod)?;
    for f in archives {
        let r = store::layer::decompressed(f).map_err(BuildError::sys)?;
        extract_into(&dest_fd, r, Owner::FromTar, None)?;
    }
    Ok(())
}
