//! `POST /build`: Docker's classic builder. A Dockerfile (parsed by the
//! `build` crate) is run step by step over a build context already
//! extracted into a directory: every step makes an image (metadata steps
//! without a layer), `RUN` in a container of the previous step's image,
//! committed; `COPY`/`ADD` written into an overlay of the previous step and
//! committed without any container. Each step's image is remembered in the
//! build cache under a key of its parent, its resolved instruction and, for
//! `COPY`/`ADD`, the content copied (not mtimes): a cached step starts
//! nothing.

use std::collections::BTreeMap;
use std::io::{Read, Seek, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use build::{Command, Kind};
use models::container::HealthConfig;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use sha2::Digest;
use store::config::{History, ImageConfig};
use store::meta::ImageRecord;
use store::meta::Table;

use crate::archive::{append_opened, extract_into, open_source, reopen, Owner};
use crate::containers::State;
use crate::{Engine, EngineError, ErrorKind};

/// What `POST /build` asks for besides the context.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The Dockerfile's path in the context (`Dockerfile`).
    pub dockerfile: String,
    /// `-t` names.
    pub tags: Vec<String>,
    /// `--build-arg` (a name alone takes its value from nowhere: unset).
    pub build_args: BTreeMap<String, Option<String>>,
    /// `--label`s added to the final image.
    pub labels: BTreeMap<String, String>,
    /// `--target` stage.
    pub target: Option<String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// Remove intermediate containers after a successful step (`--rm`).
    pub remove: bool,
    /// `--force-rm` (a failed step's container is always removed).
    pub force_remove: bool,
    /// `--cache-from`: when given, a cached step counts only if its image
    /// is one of these images or below one (Docker's classic builder);
    /// names that do not resolve are ignored, so none left means no cache.
    pub cache_from: Vec<String>,
    /// `--network` of the `RUN` containers (`default`, `none`, `host`, a
    /// network's name or id).
    pub network_mode: String,
    /// `--add-host` entries (`host:ip`) of the `RUN` containers.
    pub extra_hosts: Vec<String>,
    /// The shim binary containers run under.
    pub shim: PathBuf,
}

/// What a build reports as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildEvent<'a> {
    /// Progress text (Docker's `{"stream": …}`): step lines, a `RUN`'s
    /// output (its stderr between `ESC[91m` and `ESC[0m`, as Docker's).
    Stream(&'a str),
    /// The final image's id, before the `Successfully built` line (Docker's
    /// `{"aux": {"ID": …}}`).
    Built(&'a str),
}

/// Largest Dockerfile read.
const MAX_DOCKERFILE: u64 = 4 << 20;

fn bad(msg: impl Into<String>) -> EngineError {
    EngineError::new(ErrorKind::InvalidArgument, msg)
}

fn sys(e: impl std::fmt::Display) -> EngineError {
    EngineError::new(ErrorKind::System, e.to_string())
}

fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

/// Where a stage stands: its image so far (none for `scratch` before the
/// first step) and the config its next step starts from.
struct StageState {
    image: Option<ImageRecord>,
    config: ImageConfig,
    /// ARGs declared in the stage, with their values.
    args: BTreeMap<String, String>,
    /// Whether CMD was set in this stage (ENTRYPOINT resets an inherited one).
    cmd_set: bool,
}

impl StageState {
    fn chain(&self) -> Vec<String> {
        self.image
            .as_ref()
            .map(|i| store::config::chain_ids(&i.diff_ids))
            .unwrap_or_default()
    }

    fn parent_key(&self) -> String {
        self.image
            .as_ref()
            .map_or_else(|| "scratch".to_string(), |i| i.id.clone())
    }

    /// Variables for expansion: the stage's ARGs, overridden by its ENV.
    fn vars(&self) -> BTreeMap<String, String> {
        let mut v = self.args.clone();
        for e in &self.config.config.env {
            if let Some((k, val)) = e.split_once('=') {
                v.insert(k.to_string(), val.to_string());
            }
        }
        v
    }

    fn shell(&self) -> Vec<String> {
        if self.config.config.shell.is_empty() {
            vec!["/bin/sh".into(), "-c".into()]
        } else {
            self.config.config.shell.clone()
        }
    }

    fn set_env(&mut self, key: &str, value: &str) {
        let env = &mut self.config.config.env;
        let entry = format!("{key}={value}");
        match env
            .iter_mut()
            .find(|e| e.split_once('=').map(|(k, _)| k) == Some(key))
        {
            Some(e) => *e = entry,
            None => env.push(entry),
        }
    }
}

/// Expands a word with `vars`.
fn expand(
    word: &str,
    escape: char,
    vars: &BTreeMap<String, String>,
) -> Result<String, EngineError> {
    build::expand(word, escape, &|k| vars.get(k).cloned()).map_err(bad)
}

/// Docker's `shell.Lex` words of `text` with `vars`.
fn expand_words(
    text: &str,
    escape: char,
    vars: &BTreeMap<String, String>,
) -> Result<Vec<String>, EngineError> {
    build::expand_words(text, escape, &|k| vars.get(k).cloned()).map_err(bad)
}

/// A command's argv: exec form as is, shell form through the shell.
fn argv(shell: &[String], c: &Command) -> Vec<String> {
    match c {
        Command::Exec(v) => v.clone(),
        Command::Shell(s) => {
            let mut v = shell.to_vec();
            v.push(s.clone());
            v
        }
    }
}

/// The sha256 hex of some bytes.
fn hex(bytes: &[u8]) -> String {
    format!("{:x}", sha2::Sha256::digest(bytes))
}

/// Every path below `dir` (relative, `/`-separated), not following
/// symlinks: walked by descriptors, iteratively (a deep tree is refused at
/// `store::walk::MAX_DEPTH` levels, not a stack overflow), at most a
/// million entries.
fn list_tree(dir: &Path) -> Result<Vec<String>, EngineError> {
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
fn clean_rel(p: &str) -> String {
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
fn open_root(p: &Path) -> Result<OwnedFd, EngineError> {
    nix::fcntl::open(
        p,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| sys(format!("open {}: {e}", p.display())))
}

/// An image's layers mounted (writable, on a scratch upper) at `dir/root`.
struct Mounted {
    dir: tempfile::TempDir,
}

impl Mounted {
    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn upper(&self) -> PathBuf {
        self.dir.path().join("upper")
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = store::mount::unmount(&self.root());
    }
}

/// Parses `--chown` (`user[:group]`, names looked up in the root's
/// `/etc/passwd` and `/etc/group`, read inside the root, regular files
/// only, bounded: [`crate::rootfile`]).
fn chown_ids(root: &OwnedFd, spec: &str) -> Result<(u32, u32), EngineError> {
    let read = |path: &str| -> Result<String, EngineError> {
        crate::rootfile::read(root, path)
            .map(Option::unwrap_or_default)
            .map_err(|e| bad(format!("--chown={spec}: {e}")))
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
            bad(format!(
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
                    bad(format!(
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
struct Fetched {
    file: std::fs::File,
    size: u64,
    name: String,
}

/// `ADD <url>`: a GET on the registry's transport (http or https, redirects
/// followed, bounded), streamed into a temporary file under `dir`; named
/// by the last segment of the URL's path as written, as Docker names it
/// (not the one a redirect led to).
fn fetch_url(url: &str, dir: &Path) -> Result<Fetched, EngineError> {
    crate::perms::private_dir(dir).map_err(sys)?;
    let mut file = tempfile::tempfile_in(dir).map_err(sys)?;
    registry::fetch::fetch_blocking(url, MAX_ADD_URL, &mut file)
        .map_err(|e| bad(format!("ADD {url}: {e}")))?;
    let size = file.stream_position().map_err(sys)?;
    file.rewind().map_err(sys)?;
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
fn is_archive(f: &mut std::fs::File) -> bool {
    let yes = (|| {
        let mut r = store::layer::decompressed(&mut *f).ok()?;
        let mut block = [0u8; 512];
        r.read_exact(&mut block).ok()?;
        Some(&block[257..262] == b"ustar")
    })()
    .unwrap_or(false);
    f.rewind().is_ok() && yes
}

/// A Dockerfile read from a context and parsed, its meta ARGs resolved,
/// and the index of the last stage to build.
struct Plan {
    df: build::Dockerfile,
    meta: BTreeMap<String, String>,
    last: usize,
}

fn plan(ctx_root: &OwnedFd, o: &BuildOptions) -> Result<Plan, EngineError> {
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
        .map_err(|_| bad(format!("Cannot locate specified Dockerfile: {dockerfile}")))?;
        let f = std::fs::File::from(reopen(&fd, OFlag::O_RDONLY)?);
        let mut s = String::new();
        f.take(MAX_DOCKERFILE + 1)
            .read_to_string(&mut s)
            .map_err(|e| bad(format!("{dockerfile}: {e}")))?;
        if s.len() as u64 > MAX_DOCKERFILE {
            return Err(bad(format!("{dockerfile}: larger than 4 MiB")));
        }
        s
    };
    let df = build::parse(&text, dockerfile).map_err(|e| bad(e.to_string()))?;
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
            .ok_or_else(|| bad(format!("failed to reach build target {t} in Dockerfile")))?,
        None => df.stages.len() - 1,
    };
    Ok(Plan { df, meta, last })
}

/// What a COPY/ADD copies, ready to be written as a tar.
struct Sources<'a> {
    /// Paths in the source root (or URLs), in order.
    sources: &'a [(String, bool)],
    /// The bodies of the URLs among them.
    fetched: &'a [Option<Fetched>],
    /// Here-documents: (name, body).
    heredocs: &'a [(String, String)],
    src_root: &'a OwnedFd,
    /// ADD from the context: local archives are unpacked, not copied.
    unpack_archives: bool,
    what: &'a str,
}

impl Sources<'_> {
    /// Appends every source; a file takes `single` as its name when given
    /// (one source onto a file path), a directory's contents go in as they
    /// are. Returns each source's kind and the archives ADD unpacks.
    fn append<W: Write>(
        &self,
        tar: &mut tar::Builder<W>,
        single: Option<&str>,
    ) -> Result<(Vec<&'static str>, Vec<std::fs::File>), EngineError> {
        let mut kinds = Vec::new();
        let mut archives = Vec::new();
        for ((src, _), fetched) in self.sources.iter().zip(self.fetched) {
            if let Some(f) = fetched {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o600);
                h.set_size(f.size);
                h.set_mtime(0);
                let mut body = &f.file;
                body.rewind().map_err(sys)?;
                tar.append_data(&mut h, single.unwrap_or(&f.name), body.take(f.size))
                    .map_err(sys)?;
                kinds.push("file");
                continue;
            }
            // Resolved inside the source root, symlinks followed only
            // within it (Docker's FollowSymlinkInScope): the context is
            // the client's, the files around it the daemon host's.
            let Some((fd, st)) = open_source(self.src_root, &Path::new("/").join(src))? else {
                return Err(bad(format!(
                    "{} failed: file not found in build context or excluded by .dockerignore: stat {src}: file does not exist",
                    self.what
                )));
            };
            let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
            if self.unpack_archives && st.st_mode & libc::S_IFMT == libc::S_IFREG {
                let mut f = std::fs::File::from(reopen(&fd, OFlag::O_RDONLY)?);
                if is_archive(&mut f) {
                    archives.push(f);
                    kinds.push("file");
                    continue;
                }
            }
            let top = if is_dir {
                PathBuf::from(".")
            } else {
                PathBuf::from(single.map(String::from).unwrap_or_else(|| {
                    Path::new(src)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                }))
            };
            kinds.push(if is_dir { "dir" } else { "file" });
            append_opened(tar, &fd, &st, &top, src)?;
        }
        for (name, body) in self.heredocs {
            let mut hd = tar::Header::new_gnu();
            hd.set_entry_type(tar::EntryType::Regular);
            hd.set_mode(0o644);
            hd.set_size(body.len() as u64);
            hd.set_mtime(0);
            tar.append_data(&mut hd, single.unwrap_or(name), body.as_bytes())
                .map_err(sys)?;
            kinds.push("file");
        }
        Ok((kinds, archives))
    }
}

/// Hashes a tar stream as it is written, with each header's mtime and
/// checksum left out: the cache follows content, not mtimes.
#[derive(Default)]
struct TarHash {
    h: sha2::Sha256,
    header: Vec<u8>,
    /// Data bytes (padded to 512) of the current entry still to come.
    remaining: u64,
}

/// A tar header's size field: octal text, or GNU's base-256.
fn tar_size(field: &[u8]) -> u64 {
    if field[0] & 0x80 != 0 {
        field[1..].iter().fold(0u64, |n, &b| {
            n.saturating_mul(256).saturating_add(u64::from(b))
        })
    } else {
        let text: String = field
            .iter()
            .take_while(|&&b| b != 0)
            .map(|&b| b as char)
            .collect();
        u64::from_str_radix(text.trim(), 8).unwrap_or(0)
    }
}

impl Write for TarHash {
    fn write(&mut self, mut buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len();
        while !buf.is_empty() {
            if self.remaining > 0 {
                let k = (self.remaining.min(buf.len() as u64)) as usize;
                self.h.update(&buf[..k]);
                self.remaining -= k as u64;
                buf = &buf[k..];
                continue;
            }
            let k = (512 - self.header.len()).min(buf.len());
            self.header.extend_from_slice(&buf[..k]);
            buf = &buf[k..];
            if self.header.len() == 512 {
                let mut block = std::mem::take(&mut self.header);
                if block.iter().any(|&b| b != 0) {
                    let size = tar_size(&block[124..136]);
                    block[136..156].fill(0);
                    self.remaining = size.div_ceil(512) * 512;
                }
                self.h.update(&block);
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Engine {
    /// The images a build starts from (its stages' `FROM`s that are
    /// neither `scratch` nor an earlier stage), so that the daemon can
    /// pull them first (missing ones, or all with `--pull`).
    pub fn build_bases(
        &self,
        context: &Path,
        o: &BuildOptions,
    ) -> Result<Vec<String>, EngineError> {
        let ctx_root = open_root(context)?;
        let Plan { df, meta, last } = plan(&ctx_root, o)?;
        // Held for the whole build: its intermediate images are untagged
        // until the end, and a prune meanwhile must not collect their
        // layers from under the next step.
        let _w = self.writing();
        let mut out: Vec<String> = Vec::new();
        for (i, stage) in df.stages[..=last].iter().enumerate() {
            let base = expand(&stage.base, df.directives.escape, &meta)?;
            let lower = base.to_ascii_lowercase();
            let is_stage = df.stages[..i]
                .iter()
                .any(|s| s.name.as_deref() == Some(lower.as_str()));
            if base != "scratch" && !is_stage && !out.contains(&base) {
                out.push(base);
            }
        }
        Ok(out)
    }
}

impl Engine {
    /// Builds the Dockerfile of the context at `context`; `events` gets the
    /// progress as Docker's classic builder writes it. Returns the final
    /// image's id. A `RUN` that exits non-zero fails the build with its
    /// code in the error (`EngineError::code`).
    pub fn build(
        &self,
        context: &Path,
        o: &BuildOptions,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<String, EngineError> {
        let ctx_root = open_root(context)?;
        let Plan { df, meta, last } = plan(&ctx_root, o)?;
        remove_ignored_dockerfile(&ctx_root, o)?;
        let mut stream = |s: &str| events(BuildEvent::Stream(s));
        let out: &mut dyn FnMut(&str) = &mut stream;
        // Held for the whole build: its intermediate images are untagged
        // until the end, and a prune meanwhile must not collect their
        // layers from under the next step.
        let _w = self.writing();
        let escape = df.directives.escape;
        let stages = &df.stages[..=last];
        let total: usize = stages.iter().map(|s| 1 + s.instructions.len()).sum();
        let mut step = 0;
        let mut done: Vec<ImageRecord> = Vec::new();
        let mut final_image: Option<ImageRecord> = None;
        for (si, stage) in stages.iter().enumerate() {
            step += 1;
            // dockerd writes the step and its newline as two messages.
            out(&format!("Step {step}/{total} : {}", stage.from.text));
            out("\n");
            let base = expand(&stage.base, escape, &meta)?;
            let mut st = if base == "scratch" {
                let mut config = store::config::new_config(&crate::time::now());
                config.config = Default::default();
                StageState {
                    image: None,
                    config,
                    args: BTreeMap::new(),
                    cmd_set: false,
                }
            } else {
                let image = match stages[..si]
                    .iter()
                    .position(|s| s.name.as_deref() == Some(base.to_ascii_lowercase().as_str()))
                {
                    Some(i) => done[i].clone(),
                    None => store::images::find(self.store().meta(), &base).map_err(|_| {
                        EngineError::new(
                            ErrorKind::NotFound,
                            format!("pull access denied for {base}, repository does not exist or may require 'docker login'"),
                        )
                    })?,
                };
                out(&format!(" ---> {}\n", short(&image.id)));
                StageState {
                    config: self.store().config(&image)?,
                    image: Some(image),
                    args: BTreeMap::new(),
                    cmd_set: false,
                }
            };
            // The base's ONBUILD triggers run first, then are not inherited.
            let triggers = std::mem::take(&mut st.config.config.on_build);
            if !triggers.is_empty() {
                out(&format!(
                    "# Executing {} build trigger{}\n",
                    triggers.len(),
                    if triggers.len() == 1 { "" } else { "s" }
                ));
                for t in &triggers {
                    let parsed = build::parse(&format!("FROM scratch\n{t}\n"), "ONBUILD")
                        .map_err(|e| bad(e.to_string()))?;
                    for ins in &parsed.stages[0].instructions {
                        self.step(
                            &mut st, ins, escape, context, &ctx_root, stages, &done, o, out,
                        )?;
                    }
                }
            }
            for ins in &stage.instructions {
                step += 1;
                out(&format!("Step {step}/{total} : {}", ins.source.text));
                out("\n");
                self.step(
                    &mut st, ins, escape, context, &ctx_root, stages, &done, o, out,
                )?;
            }
            // A stage without steps is its base (or an empty image).
            let image = match st.image.clone() {
                Some(i) => i,
                None => self.commit_config(&mut st, "", Some(o))?,
            };
            done.push(image.clone());
            final_image = Some(image);
        }
        let mut image = final_image.expect("at least one stage");
        if !o.labels.is_empty() {
            let mut st = StageState {
                config: self.store().config(&image)?,
                image: Some(image.clone()),
                args: BTreeMap::new(),
                cmd_set: true,
            };
            for (k, v) in &o.labels {
                st.config.config.labels.insert(k.clone(), v.clone());
            }
            let sig = format!("labels {:?}", o.labels);
            image = self.commit_config(&mut st, &sig, Some(o))?;
        }
        events(BuildEvent::Built(&image.id));
        let out = &mut |s: &str| events(BuildEvent::Stream(s));
        out(&format!("Successfully built {}\n", short(&image.id)));
        for t in &o.tags {
            let r = store::reference::Reference::parse(t)
                .map_err(|e| bad(format!("invalid tag {t:?}: {e}")))?
                .with_default_tag();
            self.store()
                .meta()
                .write(|w| w.tag(&r.to_string(), &image.id))?;
            out(&format!(
                "Successfully tagged {}\n",
                crate::images::familiar(&r.to_string())
            ));
        }
        Ok(image.id)
    }

    /// A fresh directory for a build's context, removed when dropped.
    pub fn build_context_dir(&self) -> Result<tempfile::TempDir, EngineError> {
        let base = self.data_root.join("build");
        crate::perms::private_dir(&base).map_err(sys)?;
        tempfile::Builder::new()
            .prefix("context-")
            .tempdir_in(&base)
            .map_err(sys)
    }

    /// `POST /build/prune`: forgets every cached step (the images stay
    /// until pruned); returns the keys dropped.
    pub fn build_cache_prune(&self) -> Result<Vec<String>, EngineError> {
        let keys: Vec<String> = self.store().meta().keys(Table::BuildCache)?;
        self.store().meta().write(|w| {
            for k in &keys {
                w.delete(Table::BuildCache, k)?;
            }
            Ok::<_, store::meta::MetaError>(())
        })?;
        Ok(keys)
    }

    /// A cached image for `key`, if it is still there (and, with
    /// `--cache-from`, one of those images or below one).
    fn cached(&self, key: &str, o: &BuildOptions) -> Option<ImageRecord> {
        if o.no_cache {
            return None;
        }
        let id: String = self.store().meta().get(Table::BuildCache, key).ok()??;
        // Resolved at each hit: the images may change during a build,
        // and a hit is rare enough that a walk of parents costs nothing.
        if !o.cache_from.is_empty() && !self.cache_sources(&o.cache_from).contains(&id) {
            return None;
        }
        self.store().meta().image(&id).ok()?
    }

    /// The ids of `names` (those that resolve) and of every image below
    /// them, following the parents recorded at build and commit.
    fn cache_sources(&self, names: &[String]) -> std::collections::HashSet<String> {
        let mut out = std::collections::HashSet::new();
        for name in names {
            let Ok(mut img) = store::images::find(self.store().meta(), name) else {
                continue;
            };
            // Bounded: a parent chain is as long as an image's history.
            for _ in 0..4096 {
                if !out.insert(img.id.clone()) {
                    break;
                }
                let Some(parent) = img.parent.clone() else {
                    break;
                };
                match self.store().meta().image(&parent) {
                    Ok(Some(p)) => img = p,
                    _ => break,
                }
            }
        }
        out
    }

    fn remember(&self, key: &str, image: &ImageRecord) -> Result<(), EngineError> {
        self.store()
            .meta()
            .write(|w| w.put(Table::BuildCache, key, &image.id))?;
        Ok(())
    }

    /// A metadata step's image: the stage's config over the same layers.
    fn commit_config(
        &self,
        st: &mut StageState,
        sig: &str,
        cache: Option<&BuildOptions>,
    ) -> Result<ImageRecord, EngineError> {
        let key = hex(format!("{}\n{sig}", st.parent_key()).as_bytes());
        if let (false, Some(o)) = (sig.is_empty(), cache) {
            if let Some(img) = self.cached(&key, o) {
                st.config = self.store().config(&img)?;
                st.image = Some(img.clone());
                return Ok(img);
            }
        }
        let _w = self.writing();
        let mut config = st.config.clone();
        let now = crate::time::now();
        config.created = Some(now.clone());
        if !sig.is_empty() {
            config.history.push(History {
                created: now,
                created_by: format!("/bin/sh -c #(nop)  {sig}"),
                empty_layer: true,
                ..Default::default()
            });
        }
        let parent = st.image.as_ref().map(|i| i.id.clone());
        step_container_config(
            &mut config,
            parent.as_deref(),
            &format!("/bin/sh -c #(nop)  {sig}"),
        );
        let img = self
            .store()
            .commit_step(&st.chain(), None, config.clone(), parent.as_deref())?;
        if !sig.is_empty() {
            self.remember(&key, &img)?;
        }
        st.config = config;
        st.image = Some(img.clone());
        Ok(img)
    }

    /// One instruction of a stage.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &self,
        st: &mut StageState,
        ins: &build::Instruction,
        escape: char,
        context: &Path,
        ctx_root: &OwnedFd,
        stages: &[build::Stage],
        done: &[ImageRecord],
        o: &BuildOptions,
        out: &mut dyn FnMut(&str),
    ) -> Result<(), EngineError> {
        let vars = st.vars();
        let text = &ins.source.text;
        let cfg = &mut st.config.config;
        match &ins.kind {
            Kind::Env(pairs) => {
                let mut shown = Vec::new();
                let mut vars = vars;
                for (k, v) in pairs {
                    let k = expand(k, escape, &vars)?;
                    let v = expand(v, escape, &vars)?;
                    vars.insert(k.clone(), v.clone());
                    shown.push(format!("{k}={v}"));
                    st.set_env(&k, &v);
                }
                self.meta_step(st, &format!("ENV {}", shown.join(" ")), o, out)
            }
            Kind::Arg(decls) => {
                let mut shown = Vec::new();
                for a in decls {
                    let value = match o.build_args.get(&a.name) {
                        Some(Some(v)) => Some(v.clone()),
                        _ => match &a.default {
                            Some(d) => Some(expand(d, escape, &st.vars())?),
                            None => None,
                        },
                    };
                    shown.push(match &a.default {
                        Some(d) => format!("{}={d}", a.name),
                        None => a.name.clone(),
                    });
                    if let Some(v) = value {
                        st.args.insert(a.name.clone(), v);
                    }
                }
                self.meta_step(st, &format!("ARG {}", shown.join(" ")), o, out)
            }
            Kind::Label(pairs) => {
                let mut shown = Vec::new();
                for (k, v) in pairs {
                    let k = expand(k, escape, &vars)?;
                    let v = expand(v, escape, &vars)?;
                    shown.push(format!("{k}={v}"));
                    cfg.labels.insert(k, v);
                }
                self.meta_step(st, &format!("LABEL {}", shown.join(" ")), o, out)
            }
            Kind::Expose(ports) => {
                let mut shown = Vec::new();
                for p in ports {
                    for p in expand_words(p, escape, &vars)? {
                        let p = if p.contains('/') {
                            p
                        } else {
                            format!("{p}/tcp")
                        };
                        shown.push(p.clone());
                        cfg.exposed_ports.insert(p, models::Empty {});
                    }
                }
                self.meta_step(st, &format!("EXPOSE {}", shown.join(" ")), o, out)
            }
            Kind::Volume(vols) => {
                let mut shown = Vec::new();
                for v in vols {
                    let v = expand(v, escape, &vars)?;
                    if v.is_empty() {
                        return Err(bad("VOLUME specified can not be an empty string"));
                    }
                    shown.push(v.clone());
                    cfg.volumes.insert(v, models::Empty {});
                }
                self.meta_step(st, &format!("VOLUME [{}]", shown.join(" ")), o, out)
            }
            Kind::User(u) => {
                cfg.user = expand(u, escape, &vars)?;
                let sig = format!("USER {}", cfg.user);
                self.meta_step(st, &sig, o, out)
            }
            Kind::Workdir(w) => {
                let w = expand(w, escape, &vars)?;
                let joined = if w.starts_with('/') {
                    w
                } else {
                    let base = if cfg.working_dir.is_empty() {
                        "/"
                    } else {
                        cfg.working_dir.as_str()
                    };
                    format!("{}/{w}", base.trim_end_matches('/'))
                };
                cfg.working_dir = format!("/{}", clean_rel(&joined));
                let sig = format!("WORKDIR {}", cfg.working_dir);
                self.meta_step(st, &sig, o, out)
            }
            Kind::Stopsignal(s) => {
                cfg.stop_signal = expand(s, escape, &vars)?;
                let sig = format!("STOPSIGNAL {}", cfg.stop_signal);
                self.meta_step(st, &sig, o, out)
            }
            Kind::Cmd(c) => {
                let shell = st.shell();
                st.config.config.cmd = Some(argv(&shell, c));
                st.cmd_set = true;
                let sig = format!(
                    "CMD {}",
                    serde_json::to_string(&st.config.config.cmd).unwrap_or_default()
                );
                self.meta_step(st, &sig, o, out)
            }
            Kind::Entrypoint(c) => {
                let shell = st.shell();
                let cfg = &mut st.config.config;
                cfg.entrypoint = Some(argv(&shell, c));
                if !st.cmd_set {
                    cfg.cmd = None;
                }
                let sig = format!(
                    "ENTRYPOINT {}",
                    serde_json::to_string(&cfg.entrypoint).unwrap_or_default()
                );
                self.meta_step(st, &sig, o, out)
            }
            Kind::Shell(s) => {
                cfg.shell = s.clone();
                let sig = format!("SHELL {}", serde_json::to_string(s).unwrap_or_default());
                self.meta_step(st, &sig, o, out)
            }
            Kind::Maintainer(m) => {
                st.config.author = Some(m.clone());
                self.meta_step(st, &format!("MAINTAINER {m}"), o, out)
            }
            Kind::Onbuild(inner) => {
                let t = inner.source.text.clone();
                cfg.on_build.push(t.clone());
                self.meta_step(st, &format!("ONBUILD {t}"), o, out)
            }
            Kind::Healthcheck(h) => {
                cfg.healthcheck = Some(match h {
                    None => HealthConfig {
                        test: vec!["NONE".into()],
                        ..HealthConfig::default()
                    },
                    Some(h) => {
                        let test = match &h.command {
                            Command::Exec(v) => {
                                let mut t = vec!["CMD".to_string()];
                                t.extend(v.iter().cloned());
                                t
                            }
                            Command::Shell(s) => vec!["CMD-SHELL".to_string(), s.clone()],
                        };
                        let mut v = HealthConfig {
                            test,
                            ..HealthConfig::default()
                        };
                        for (k, val) in &h.flags {
                            let field = match k.as_str() {
                                "interval" => &mut v.interval,
                                "timeout" => &mut v.timeout,
                                "start-period" => &mut v.start_period,
                                "start-interval" => &mut v.start_interval,
                                "retries" => {
                                    v.retries = val.parse::<i64>().map_err(|_| {
                                        bad(format!(
                                            "HEALTHCHECK --retries: {val:?} is not a number"
                                        ))
                                    })?;
                                    continue;
                                }
                                other => {
                                    return Err(bad(format!("HEALTHCHECK: unknown flag --{other}")))
                                }
                            };
                            *field = go_duration_ns(val).ok_or_else(|| {
                                bad(format!("HEALTHCHECK --{k}: invalid duration {val:?}"))
                            })?;
                        }
                        v
                    }
                });
                self.meta_step(st, text, o, out)
            }
            Kind::Run {
                flags,
                command,
                heredocs,
            } => {
                if let Some((f, _)) = flags.first() {
                    return Err(bad(format!(
                        "RUN --{f} is not supported by the classic builder"
                    )));
                }
                self.run_step(st, command, heredocs, escape, o, out)
            }
            Kind::Copy(spec) => {
                self.copy_step(st, spec, escape, context, ctx_root, stages, done, o, out)
            }
        }
    }

    /// A step that changes only the config.
    fn meta_step(
        &self,
        st: &mut StageState,
        sig: &str,
        o: &BuildOptions,
        out: &mut dyn FnMut(&str),
    ) -> Result<(), EngineError> {
        let before = st.image.as_ref().map(|i| i.id.clone());
        let key_parent = st.parent_key();
        let key = hex(format!("{key_parent}\n{sig}").as_bytes());
        if let Some(img) = self.cached(&key, o) {
            if before.as_deref() != Some(img.id.as_str()) {
                out(" ---> Using cache\n");
                out(&format!(" ---> {}\n", short(&img.id)));
                st.config = self.store().config(&img)?;
                st.image = Some(img);
                return Ok(());
            }
        }
        let img = self.commit_config(st, sig, None)?;
        self.remember(&key, &img)?;
        out(&format!(" ---> {}\n", short(&img.id)));
        Ok(())
    }

    /// `RUN`: a container of the current image runs the command; its
    /// changes become the step's layer.
    fn run_step(
        &self,
        st: &mut StageState,
        command: &Command,
        heredocs: &[build::Heredoc],
        escape: char,
        o: &BuildOptions,
        out: &mut dyn FnMut(&str),
    ) -> Result<(), EngineError> {
        let shell = st.shell();
        let cmd = match command {
            Command::Shell(s) if !heredocs.is_empty() => {
                let vars = st.vars();
                let trimmed = s.trim();
                // `RUN <<EOF` alone: the body is the script.
                if heredocs.len() == 1 && trimmed.starts_with("<<") && !trimmed.contains(' ') {
                    let h = &heredocs[0];
                    let body = if h.expand {
                        expand(&h.content, escape, &vars).unwrap_or_else(|_| h.content.clone())
                    } else {
                        h.content.clone()
                    };
                    let mut v = shell.clone();
                    v.push(body);
                    v
                } else {
                    // The shell reads the here-documents itself.
                    let mut script = s.clone();
                    for h in heredocs {
                        script.push('\n');
                        script.push_str(&h.content);
                        if !h.content.ends_with('\n') && !h.content.is_empty() {
                            script.push('\n');
                        }
                        script.push_str(&h.name);
                    }
                    let mut v = shell.clone();
                    v.push(script);
                    v
                }
            }
            c => argv(&shell, c),
        };
        // Build args are in the command's environment, not in the image.
        let mut env = st.config.config.env.clone();
        let mut used_args = Vec::new();
        for (k, v) in &st.args {
            if !env
                .iter()
                .any(|e| e.split_once('=').map(|(n, _)| n) == Some(k.as_str()))
            {
                env.push(format!("{k}={v}"));
                used_args.push(format!("{k}={v}"));
            }
        }
        // Docker's predefined proxy args need no ARG and stay out of the
        // history and the cache key.
        for k in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "FTP_PROXY",
            "ftp_proxy",
            "NO_PROXY",
            "no_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            if let Some(Some(v)) = o.build_args.get(k) {
                if !env
                    .iter()
                    .any(|e| e.split_once('=').map(|(n, _)| n) == Some(k))
                {
                    env.push(format!("{k}={v}"));
                }
            }
        }
        let created_by = if used_args.is_empty() {
            cmd.join(" ")
        } else {
            format!(
                "|{} {} {}",
                used_args.len(),
                used_args.join(" "),
                cmd.join(" ")
            )
        };
        let key = hex(format!(
            "{}\nRUN {}",
            st.parent_key(),
            serde_json::to_string(&(
                &cmd,
                &used_args,
                &st.config.config.user,
                &st.config.config.working_dir
            ))
            .unwrap_or_default()
        )
        .as_bytes());
        if let Some(img) = self.cached(&key, o) {
            out(" ---> Using cache\n");
            out(&format!(" ---> {}\n", short(&img.id)));
            st.config = self.store().config(&img)?;
            st.image = Some(img);
            return Ok(());
        }
        let Some(image) = st.image.clone() else {
            return Err(bad(format!(
                "The command '{}' cannot run: the stage has no files (FROM scratch)",
                cmd.join(" ")
            )));
        };
        let body = models::container::CreateBody {
            config: models::container::Config {
                image: image.id.clone(),
                cmd: Some(cmd.clone()),
                entrypoint: Some(Vec::new()),
                env: Some(env),
                user: st.config.config.user.clone(),
                working_dir: st.config.config.working_dir.clone(),
                labels: Some(Default::default()),
                ..Default::default()
            },
            host_config: models::container::HostConfig {
                network_mode: o.network_mode.clone(),
                extra_hosts: Some(o.extra_hosts.clone()).filter(|h| !h.is_empty()),
                ..Default::default()
            },
            ..Default::default()
        };
        let id = self.container_create(None, body, crate::time::now())?;
        out(&format!(" ---> Running in {}\n", &id[..12]));
        let result = self.run_and_commit(st, &id, &image, &created_by, o, out);
        // A failed step's container goes too: its output was streamed and
        // its exit code is in the error; nothing dangles.
        let remove = match &result {
            Ok(_) => o.remove || o.force_remove,
            Err(_) => true,
        };
        if remove {
            let _ = self.container_remove(&id, true, true);
            if result.is_ok() {
                out(&format!("Removing intermediate container {}\n", &id[..12]));
            }
        }
        let img = result?;
        self.remember(&key, &img)?;
        out(&format!(" ---> {}\n", short(&img.id)));
        Ok(())
    }

    fn run_and_commit(
        &self,
        st: &mut StageState,
        id: &str,
        image: &ImageRecord,
        created_by: &str,
        o: &BuildOptions,
        out: &mut dyn FnMut(&str),
    ) -> Result<ImageRecord, EngineError> {
        self.container_start(id, &o.shim, crate::time::now(), 0)?;
        let c = self.find_container(id)?;
        let mut offset = 0;
        let code = loop {
            let state = self.state(&c);
            let (lines, next) = self.container_log(&c, offset);
            offset = next;
            for l in &lines {
                run_output(l, out);
            }
            if let State::Exited(code, _) = state {
                let (lines, _) = self.container_log(&c, offset);
                for l in &lines {
                    run_output(l, out);
                }
                break code;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.container_release(&c);
        if code != 0 {
            return Err(EngineError::new(
                ErrorKind::InvalidArgument,
                format!(
                    "The command '{}' returned a non-zero code: {code}",
                    created_by
                ),
            )
            .with_code(i64::from(code)));
        }
        let _w = self.writing();
        let mut config = st.config.clone();
        let now = crate::time::now();
        config.created = Some(now.clone());
        config.history.push(History {
            created: now,
            created_by: created_by.to_string(),
            ..Default::default()
        });
        step_container_config(&mut config, Some(&image.id), created_by);
        let img = self.store().commit_step(
            &c.layers,
            Some(&self.container_dir(id).join("upper")),
            config.clone(),
            Some(&image.id),
        )?;
        st.config = config;
        st.image = Some(img.clone());
        Ok(img)
    }

    /// An image's layers mounted on a scratch upper under the data root.
    fn mount_for_step(&self, chain: &[String]) -> Result<Mounted, EngineError> {
        let base = self.data_root.join("build");
        crate::perms::private_dir(&base).map_err(sys)?;
        let dir = tempfile::Builder::new()
            .prefix("step-")
            .tempdir_in(&base)
            .map_err(sys)?;
        let m = Mounted { dir };
        self.store()
            .mount_layers_rw(chain, m.dir.path(), &m.root())?;
        Ok(m)
    }

    /// `COPY`/`ADD`: the sources, from the context or another stage or
    /// image, written into an overlay of the current image at the
    /// destination (resolved inside the image), committed.
    #[allow(clippy::too_many_arguments)]
    fn copy_step(
        &self,
        st: &mut StageState,
        spec: &build::CopySpec,
        escape: char,
        _context: &Path,
        ctx_root: &OwnedFd,
        stages: &[build::Stage],
        done: &[ImageRecord],
        o: &BuildOptions,
        out: &mut dyn FnMut(&str),
    ) -> Result<(), EngineError> {
        let what = if spec.add { "ADD" } else { "COPY" };
        let vars = st.vars();
        let mut from = None;
        let mut chown = None;
        let mut chmod = None;
        for (k, v) in &spec.flags {
            let v = expand(v, escape, &vars)?;
            match k.as_str() {
                "from" if !spec.add => from = Some(v),
                "chown" => chown = Some(v),
                "chmod" => {
                    chmod = Some(
                        u32::from_str_radix(&v, 8)
                            .ok()
                            .filter(|m| *m <= 0o7777)
                            .ok_or_else(|| bad(format!("{what} --chmod={v}: not an octal mode")))?,
                    )
                }
                "link" => {}
                other => {
                    return Err(bad(format!(
                        "{what} --{other} is not supported by the classic builder"
                    )))
                }
            }
        }
        // Where the sources are read from.
        let from_mount;
        let src_root: &OwnedFd;
        let src_dir: PathBuf;
        let from_fd;
        match &from {
            None => {
                src_root = ctx_root;
                src_dir = _context.to_path_buf();
            }
            Some(f) => {
                let image = match stages
                    .iter()
                    .take(done.len())
                    .position(|s| s.name.as_deref() == Some(f.to_ascii_lowercase().as_str()))
                    .or_else(|| f.parse::<usize>().ok().filter(|i| *i < done.len()))
                {
                    Some(i) => done[i].clone(),
                    None => store::images::find(self.store().meta(), f).map_err(|_| {
                        bad(format!(
                            "invalid from flag value {f}: no stage or image of that name here"
                        ))
                    })?,
                };
                from_mount = self.mount_for_step(&store::config::chain_ids(&image.diff_ids))?;
                from_fd = open_root(&from_mount.root())?;
                src_root = &from_fd;
                src_dir = from_mount.root();
            }
        }
        // Sources: expanded, globbed, each a path in the source root.
        let mut sources: Vec<(String, bool)> = Vec::new(); // (path, is_url)
        for s in &spec.sources {
            // Each source word is expanded on its own (BuildKit's way): a
            // value with spaces stays one path.
            let w = expand(s, escape, &vars)?;
            if spec.add && (w.starts_with("http://") || w.starts_with("https://")) {
                sources.push((w, true));
                continue;
            }
            let rel = clean_rel(&w);
            if rel.contains(['*', '?', '[']) {
                let all = list_tree(&src_dir)?;
                let hits: Vec<&String> = all
                    .iter()
                    .filter(|p| build::ignore::path_match(&rel, p))
                    .collect();
                if hits.is_empty() {
                    return Err(bad(format!(
                        "{what} failed: no source files were specified"
                    )));
                }
                sources.extend(hits.into_iter().map(|p| (p.clone(), false)));
            } else {
                sources.push((rel, false));
            }
        }
        let dest_raw = expand(&spec.dest, escape, &vars)?;
        let workdir = if st.config.config.working_dir.is_empty() {
            "/".to_string()
        } else {
            st.config.config.working_dir.clone()
        };
        let dest_abs = if dest_raw.starts_with('/') {
            dest_raw.clone()
        } else {
            format!("{}/{}", workdir.trim_end_matches('/'), dest_raw)
        };
        let dest_clean = format!("/{}", clean_rel(&dest_abs));
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
            unpack_archives: spec.add && from.is_none(),
            what,
        };
        // The cache key: what is copied, hashed as a tar of the sources
        // under their own names, mtimes left out, nothing written to disk.
        let mut hasher = TarHash::default();
        let (kinds, mut archives) = {
            let mut tar = tar::Builder::new(&mut hasher);
            let r = input.append(&mut tar, None)?;
            tar.finish().map_err(sys)?;
            r
        };
        let mut hash = format!("{:x}", hasher.h.finalize());
        // The archives hashed are the very files unpacked below.
        for f in archives.iter_mut() {
            let mut h = sha2::Sha256::new();
            std::io::copy(f, &mut h).map_err(sys)?;
            f.rewind().map_err(sys)?;
            hash = hex(format!("{hash}{:x}", h.finalize()).as_bytes());
        }
        let kind = if kinds.len() == 1 { kinds[0] } else { "multi" };
        let created_by = format!("/bin/sh -c #(nop) {what} {kind}:{hash} in {dest_raw} ");
        // The parent image decides what the destination is (an existing
        // directory or not), so the key needs nothing of the mount.
        let key =
            hex(format!("{}\n{created_by}\n{:?} {:?}", st.parent_key(), chown, chmod).as_bytes());
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
            if runtime::rootfs::resolve::open_in_root(
                src_root,
                &Path::new("/").join(src),
                runtime::rootfs::resolve::Create::No,
            )
            .ok()
            .and_then(|fd| nix::sys::stat::fstat(&fd).ok())
            .is_some_and(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR)
            {
                dest_is_dir = true;
            }
        }
        if !dest_is_dir {
            // An existing directory at the destination takes the sources.
            if let Ok(fd) = runtime::rootfs::resolve::open_in_root(
                &root_fd,
                Path::new(&dest_clean),
                runtime::rootfs::resolve::Create::No,
            ) {
                if nix::sys::stat::fstat(&fd)
                    .map(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR)
                    .unwrap_or(false)
                {
                    dest_is_dir = true;
                }
            }
        }
        let (dir, single_name) = if dest_is_dir {
            (dest_clean.clone(), None)
        } else {
            let p = Path::new(&dest_clean);
            (
                p.parent()
                    .map_or("/".into(), |d| d.to_string_lossy().into_owned()),
                Some(
                    p.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                ),
            )
        };
        let mut tarf = tempfile::tempfile().map_err(sys)?;
        {
            let mut tar = tar::Builder::new(&mut tarf);
            input.append(&mut tar, single_name.as_deref())?;
            tar.finish().map_err(sys)?;
        }
        let owner = match &chown {
            Some(c) => {
                let (u, g) = chown_ids(&root_fd, c)?;
                Owner::Fixed(u, g)
            }
            None => Owner::Root,
        };
        let dest = runtime::rootfs::resolve::open_in_root(
            &root_fd,
            Path::new(&dir),
            runtime::rootfs::resolve::Create::Dir,
        )
        .map_err(|e| bad(format!("{what} failed: {dest_raw}: {e}")))?;
        let dest = reopen(&dest, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
            .map_err(|e| bad(format!("{what} failed: {dest_raw} is not a directory: {e}")))?;
        tarf.rewind().map_err(sys)?;
        extract_into(&dest, &mut tarf, owner, chmod)?;
        for f in archives {
            let r = store::layer::decompressed(f).map_err(sys)?;
            extract_into(&dest, r, Owner::FromTar, None)?;
        }
        drop(dest);
        drop(root_fd);
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
        let _ = store::mount::unmount(&target.root());
        let parent = st.image.as_ref().map(|i| i.id.clone());
        let img = self.store().commit_step(
            &st.chain(),
            Some(&upper),
            config.clone(),
            parent.as_deref(),
        )?;
        drop(target);
        self.remember(&key, &img)?;
        st.config = config;
        st.image = Some(img.clone());
        out(&format!(" ---> {}\n", short(&img.id)));
        Ok(())
    }
}

/// Records what dockerd 20.10's classic builder writes as a step's
/// `container_config`: the config the step ran with, its image the parent,
/// its command the step's own (`["/bin/sh", "-c", "#(nop) ", "CMD …"]` for a
/// metadata step or a copy, the shell command for a RUN). docker-compose
/// 1.29 reads an image's volumes from it (`ContainerConfig.Volumes`) to
/// hand a service's anonymous volumes on when it recreates a container;
/// without it the data under an image's `VOLUME` was lost.
fn step_container_config(config: &mut ImageConfig, parent: Option<&str>, created_by: &str) {
    let mut cc = models::container::Config::from(&config.config);
    let shell = created_by
        .find("/bin/sh -c ")
        .map(|i| &created_by[i + 11..]);
    cc.cmd = Some(match shell {
        Some(rest) if rest.starts_with("#(nop) ") => vec![
            "/bin/sh".into(),
            "-c".into(),
            "#(nop) ".into(),
            rest["#(nop) ".len()..].trim_start().to_string(),
        ],
        Some(rest) => vec!["/bin/sh".into(), "-c".into(), rest.to_string()],
        None => vec!["/bin/sh".into(), "-c".into(), created_by.to_string()],
    });
    cc.image = parent.unwrap_or_default().to_string();
    config.container_config = Some(cc);
}

/// Go's `time.ParseDuration` in nanoseconds (`30s`, `1m30s`, `500ms`).
fn go_duration_ns(s: &str) -> Option<i64> {
    #[allow(clippy::cast_possible_truncation)]
    build::duration::go_nanos(s).map(|n| n as i64)
}

/// A `RUN`'s output line as a `stream` message: stderr between
/// `ESC[91m` and `ESC[0m`, as Docker's classic builder colours it.
fn run_output(l: &crate::containers::LogLine, out: &mut dyn FnMut(&str)) {
    let text = String::from_utf8_lossy(&l.data);
    if l.stream == 2 {
        out(&format!("\x1b[91m{text}\x1b[0m"));
    } else {
        out(&text);
    }
}

/// Docker's `removeDockerfile`: when the context's `.dockerignore` matches
/// itself or the Dockerfile, both leave the context once the Dockerfile
/// is read, so `COPY .` does not copy them (docker-py sends a Dockerfile
/// from outside the context this way, with a `.dockerignore` naming it).
fn remove_ignored_dockerfile(ctx_root: &OwnedFd, o: &BuildOptions) -> Result<(), EngineError> {
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
        .map_err(|e| bad(format!(".dockerignore: {e}")))?;
    let patterns = build::ignore::Patterns::parse(&text)
        .map_err(|e| bad(format!("error reading .dockerignore: {e}")))?;
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
            Err(e) => return Err(sys(format!("removing {name} from the context: {e}"))),
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
    .map_err(sys)?;
    let r = store::layer::decompressed(tar).map_err(|e| bad(format!("build context: {e}")))?;
    extract_into(&fd, r, Owner::FromTar, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(go_duration_ns("30s"), Some(30_000_000_000));
        assert_eq!(go_duration_ns("1m30s"), Some(90_000_000_000));
        assert_eq!(go_duration_ns("500ms"), Some(500_000_000));
        assert_eq!(go_duration_ns("5"), None);
    }

    #[test]
    fn cleaning() {
        assert_eq!(clean_rel("../../etc/passwd"), "etc/passwd");
        assert_eq!(clean_rel("./a/./b/../c"), "a/c");
    }
}

#[cfg(test)]
mod tar_hash_tests {
    use super::*;

    fn hash_of(entries: &[(&str, &[u8], u64)]) -> String {
        let mut h = TarHash::default();
        {
            let mut tar = tar::Builder::new(&mut h);
            for (name, data, mtime) in entries {
                let mut hd = tar::Header::new_gnu();
                hd.set_entry_type(tar::EntryType::Regular);
                hd.set_mode(0o644);
                hd.set_size(data.len() as u64);
                hd.set_mtime(*mtime);
                tar.append_data(&mut hd, name, *data).unwrap();
            }
            tar.finish().unwrap();
        }
        format!("{:x}", h.h.finalize())
    }

    #[test]
    fn mtimes_do_not_count_content_does() {
        let a = hash_of(&[("a", b"one", 1), ("b", &[7u8; 1000], 2)]);
        assert_eq!(a, hash_of(&[("a", b"one", 99), ("b", &[7u8; 1000], 12345)]));
        assert_ne!(a, hash_of(&[("a", b"one", 1), ("b", &[8u8; 1000], 2)]));
        assert_ne!(a, hash_of(&[("a", b"onf", 1), ("b", &[7u8; 1000], 2)]));
        assert_ne!(a, hash_of(&[("c", b"one", 1), ("b", &[7u8; 1000], 2)]));
        let long = "d/".repeat(80) + "f";
        assert_eq!(
            hash_of(&[(long.as_str(), b"x", 1)]),
            hash_of(&[(long.as_str(), b"x", 2)])
        );
    }

    #[test]
    fn sizes_in_both_encodings() {
        assert_eq!(tar_size(b"00000001750\0"), 1000);
        let mut b = [0u8; 12];
        b[0] = 0x80;
        b[11] = 0x10;
        b[10] = 0x01;
        assert_eq!(tar_size(&b), 0x110);
    }
}
