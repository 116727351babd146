//! `berth cp`: files between a container and the host, as docker's
//! `cli/command/container/cp.go` and moby's `pkg/archive/copy.go` do it.
//!
//! The daemon sends and takes tar streams (`GET`/`PUT
//! /containers/{id}/archive`); this side decides, from the stat of both
//! ends, which directory the tar goes into and what its top entry is called
//! (`cp c:/a /tmp/b` makes `/tmp/b`, whether `a` is a file or a directory).
//!
//! A tar from a container is hostile: its entries are checked before
//! anything is written, so no `..`, absolute name, or symlink (in the
//! archive or already on the host under the destination) puts a byte
//! outside the destination directory.

use std::fs;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use clap::Args;
use http_body_util::BodyExt;
use hyper::Method;

use super::Status;
use crate::client::{self, Client, Query};

/// `berth cp`.
#[derive(Debug, Args)]
#[command(
    override_usage = "berth cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n       berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH"
)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Suppress progress output during copy. Progress output is
    /// automatically suppressed if no terminal is attached
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Where from: `CONTAINER:SRC_PATH`, a host path, or `-` (a tar on stdin)
    #[arg(value_name = "SRC")]
    pub src: String,
    /// Where to: `CONTAINER:DEST_PATH`, a host path, or `-` (a tar on stdout)
    #[arg(value_name = "DEST")]
    pub dest: String,
}

/// Go's `os.ModeDir` and `os.ModeSymlink` in the stat's `mode`.
const MODE_DIR: u64 = 1 << 31;
const MODE_SYMLINK: u64 = 1 << 27;
/// The other type bits of Go's `os.FileMode` (devices, pipes, sockets...).
const MODE_OTHER: u64 = (1 << 26) | (1 << 25) | (1 << 24) | (1 << 21) | (1 << 19);

/// What `X-Docker-Container-Path-Stat` says of a path in a container.
#[derive(Debug, Default, serde::Deserialize)]
struct PathStat {
    #[serde(default)]
    mode: u64,
    #[serde(default, rename = "linkTarget")]
    link_target: String,
}

/// docker's `splitCpArg`: `name:path` names a container, unless the whole
/// argument is an absolute (or `./`-relative) host path.
fn split(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') || arg.starts_with("./") || arg.starts_with("../") {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((c, p)) => (Some(c), p),
        None => (None, arg),
    }
}

/// `berth cp`.
pub async fn cp(client: &Client, a: &CpArgs) -> Result<u8> {
    if a.src.is_empty() {
        return Err(Status::exit(1, "source can not be empty"));
    }
    if a.dest.is_empty() {
        return Err(Status::exit(1, "destination can not be empty"));
    }
    let quiet = a.quiet || !std::io::stderr().is_terminal();
    match (split(&a.src), split(&a.dest)) {
        ((Some(_), _), (Some(_), _)) => Err(Status::exit(
            1,
            "copying between containers is not supported",
        )),
        ((None, _), (None, _)) => Err(Status::exit(
            1,
            "must specify at least one container source",
        )),
        ((Some(c), src), (None, dst)) => {
            let copied = from_container(client, a, c, src, dst).await?;
            if !quiet && dst != "-" {
                super::errln(&format!(
                    "Successfully copied {} to {dst}",
                    crate::units::human_size_precision(copied as f64, 3)
                ));
            }
            Ok(0)
        }
        ((None, src), (Some(c), dst)) => {
            let copied = to_container(client, a, src, c, dst).await?;
            if !quiet && src != "-" {
                super::errln(&format!(
                    "Successfully copied {} to {}",
                    crate::units::human_size_precision(copied as f64, 3),
                    a.dest
                ));
            }
            Ok(0)
        }
    }
}

/// `HEAD /containers/{id}/archive?path=`: the path's stat, or the daemon's
/// error (a 404 for a missing path).
async fn stat(client: &Client, container: &str, path: &str) -> Result<PathStat> {
    let url = format!(
        "/containers/{}/archive{}",
        client::path(container),
        Query::new().add("path", path)
    );
    let resp = client
        .send(Method::HEAD, &url, client::full(""), "text/plain")
        .await?;
    header_stat(resp.headers())
}

fn header_stat(h: &hyper::HeaderMap) -> Result<PathStat> {
    let raw = h
        .get("X-Docker-Container-Path-Stat")
        .ok_or_else(|| anyhow!("the daemon sent no X-Docker-Container-Path-Stat header"))?;
    let json = base64_decode(raw.as_bytes())
        .ok_or_else(|| anyhow!("unable to decode container path stat header"))?;
    serde_json::from_slice(&json).context("unable to decode container path stat header")
}

/// Standard base64 (padding optional), as Go's `base64.StdEncoding`.
fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s: Vec<u8> = s.iter().copied().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c)? << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    Some(out)
}

/// moby's `SplitPathDirEntry`: the directory and the last entry of a path,
/// where `a/b/` ends in `b` and `a/b/.` in `.`.
fn split_dir_entry(path: &str) -> (String, String) {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return ("/".into(), ".".into());
    }
    if trimmed.ends_with("/.") || trimmed == "." {
        let dir = trimmed.trim_end_matches('.').trim_end_matches('/');
        return (
            if dir.is_empty() {
                ".".into()
            } else {
                dir.into()
            },
            ".".into(),
        );
    }
    match trimmed.rsplit_once('/') {
        Some(("", base)) => ("/".into(), base.into()),
        Some((dir, base)) => (dir.into(), base.into()),
        None => (".".into(), trimmed.into()),
    }
}

/// The path asserts a directory: it ends with `/` or `/.`.
fn asserts_dir(path: &str) -> bool {
    path.ends_with('/') || path.ends_with("/.") || path == "."
}

/// Lexically joins `rel` (a link target) to `dir`, the way Go's
/// `filepath.Join` cleans it.
fn join_clean(dir: &str, rel: &str) -> String {
    let joined = if rel.starts_with('/') {
        rel.to_string()
    } else {
        format!("{dir}/{rel}")
    };
    let abs = joined.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let s = parts.join("/");
    if abs {
        format!("/{s}")
    } else if s.is_empty() {
        ".".into()
    } else {
        s
    }
}

/// How a copy lands: the directory the tar is extracted into, and what
/// the source's top entry is renamed to there (moby's
/// `PrepareArchiveCopy`). `None` keeps the entry names.
struct Landing {
    dir: String,
    rename: Option<(String, String)>,
}

/// moby's `PrepareArchiveCopy`, given the destination's state
/// (`Some(is_dir)` when it exists): `src_base` is the name the source's top
/// entry has.
fn landing(src_base: &str, src_is_dir: bool, dst_path: &str, dst: Option<bool>) -> Result<Landing> {
    let (dst_dir, dst_base) = split_dir_entry(dst_path);
    let rebased = || Landing {
        dir: dst_dir.clone(),
        rename: Some((src_base.to_string(), dst_base.clone())),
    };
    match dst {
        Some(true) => Ok(Landing {
            dir: dst_path.to_string(),
            rename: None,
        }),
        Some(false) if src_is_dir => Err(Status::exit(1, "cannot copy directory")),
        None if !src_is_dir && asserts_dir(dst_path) => Err(Status::exit(1, "no such directory")),
        _ => Ok(rebased()),
    }
}

/// Renames `name`'s first component from `from` to `to` (moby's
/// `RebaseArchiveEntries`); other names are left.
fn rebase(name: &str, rename: &Option<(String, String)>) -> String {
    let Some((from, to)) = rename else {
        return name.to_string();
    };
    let trimmed = name
        .strip_prefix("./")
        .filter(|_| from != ".")
        .unwrap_or(name);
    if trimmed == from {
        return to.clone();
    }
    if from == "." {
        if let Some(rest) = name.strip_prefix("./") {
            return format!("{to}/{rest}");
        }
        return name.to_string();
    }
    match trimmed.strip_prefix(from.as_str()) {
        Some(rest) if rest.starts_with('/') => format!("{to}{rest}"),
        _ => name.to_string(),
    }
}

/// `cp CONTAINER:SRC DEST`: returns the size of the tar received.
async fn from_container(
    client: &Client,
    a: &CpArgs,
    container: &str,
    src: &str,
    dst: &str,
) -> Result<u64> {
    let mut src = src.to_string();
    // The name the copy's top entry gets before it lands: a symlink
    // followed with -L is copied under the link's name (docker's
    // `GetRebaseName`).
    let mut link_name = None;
    if a.follow_link {
        if let Ok(st) = stat(client, container, &src).await {
            if st.mode & MODE_SYMLINK != 0 && !st.link_target.is_empty() {
                let (parent, base) = split_dir_entry(&src);
                let mut target = join_clean(&parent, &st.link_target);
                if asserts_dir(&src) && !asserts_dir(&target) {
                    target.push('/');
                }
                link_name = Some(base);
                src = target;
            }
        }
    }
    if dst != "-" {
        super::validate_output_path(Path::new(dst)).map_err(|e| Status::exit(1, e.to_string()))?;
    }
    let url = format!(
        "/containers/{}/archive{}",
        client::path(container),
        Query::new().add("path", &src)
    );
    let resp = client
        .send(Method::GET, &url, client::full(""), "text/plain")
        .await?;
    let st = header_stat(resp.headers())?;
    let body = resp.into_body();
    if dst == "-" {
        super::body_to(body, None, "copy").await?;
        return Ok(0);
    }
    let (_, archive_base) = split_dir_entry(&src);
    let named = link_name.unwrap_or_else(|| archive_base.clone());
    let land = landing(&named, st.mode & MODE_DIR != 0, dst, local_dest(dst)?)?;
    let to = land.rename.map_or(named, |(_, to)| to);
    let land = Landing {
        rename: (to != archive_base).then_some((archive_base, to)),
        dir: land.dir,
    };
    // The tar is read on a thread of its own: extraction blocks.
    let (tx, rx) = std::sync::mpsc::sync_channel::<bytes::Bytes>(16);
    let dir = PathBuf::from(&land.dir);
    let rename = land.rename.clone();
    let worker = std::thread::spawn(move || extract(ChannelReader::new(rx), &dir, &rename));
    let mut body = body;
    let mut copied = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.context("copy from the daemon")?;
        if let Some(data) = frame.data_ref() {
            copied += data.len() as u64;
            if tx.send(data.clone()).is_err() {
                // The extractor stopped: its error says why.
                break;
            }
        }
    }
    drop(tx);
    let result = worker.join().map_err(|_| anyhow!("extraction panicked"))?;
    result.map_err(|e| Status::exit(1, format!("{e:#}")))?;
    Ok(copied)
}

/// The destination on the host: `Some(is_dir)` when it exists (symlinks
/// followed: the host is the user's own), `None` when only its parent does.
fn local_dest(dst: &str) -> Result<Option<bool>> {
    match fs::metadata(dst) {
        Ok(m) => Ok(Some(m.is_dir())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if asserts_dir(dst) {
                return Err(Status::exit(
                    1,
                    format!("destination directory {dst:?} does not exist"),
                ));
            }
            let (parent, _) = split_dir_entry(dst);
            match fs::metadata(&parent) {
                Ok(m) if m.is_dir() => Ok(None),
                Ok(_) => Err(Status::exit(1, format!("{parent}: not a directory"))),
                Err(e) => Err(Status::exit(1, format!("stat {parent}: {e}"))),
            }
        }
        Err(e) => Err(Status::exit(1, format!("stat {dst}: {e}"))),
    }
}

/// A `Read` over chunks sent from the async side.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<bytes::Bytes>,
    cur: bytes::Bytes,
}

impl ChannelReader {
    fn new(rx: std::sync::mpsc::Receiver<bytes::Bytes>) -> ChannelReader {
        ChannelReader {
            rx,
            cur: bytes::Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.recv() {
                Ok(b) => self.cur = b,
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

/// Extracts a tar from a container into `dir`, each top entry renamed as
/// `rename` says, with the one extractor ([`untar::extract`]): every entry
/// made relative to a descriptor of its directory, never through a
/// symlink, and a symlink whose target leaves `dir` refused, as moby's
/// `Untar` refuses a breakout. Ownership is not kept (`NoLchown`); modes
/// and files' mtimes are.
fn extract(r: impl Read, dir: &Path, rename: &Option<(String, String)>) -> Result<()> {
    let root = fs::File::open(dir).with_context(|| format!("open {}", dir.display()))?;
    let opts = untar::extract::Options {
        mtimes: true,
        confine_symlinks: true,
        others_as_files: true,
        ..Default::default()
    };
    let rebased = |name: &[u8]| {
        rename
            .as_ref()
            .map(|_| rebase(&String::from_utf8_lossy(name), rename).into_bytes())
    };
    untar::extract::extract(&root.into(), r, &opts, rebased).map_err(|e| anyhow!("{e}"))
}

/// A writer that counts what goes through it (docker reports the size of
/// the tar it sent).
struct Counting {
    inner: fs::File,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// `cp SRC CONTAINER:DEST`: returns the size of the tar sent.
async fn to_container(
    client: &Client,
    a: &CpArgs,
    src: &str,
    container: &str,
    dst: &str,
) -> Result<u64> {
    let mut dst_path = dst.to_string();
    let mut dst_stat = stat(client, container, dst).await;
    if let Ok(st) = &dst_stat {
        if st.mode & MODE_SYMLINK != 0 && !st.link_target.is_empty() {
            let (parent, _) = split_dir_entry(dst);
            dst_path = join_clean(&parent, &st.link_target);
            dst_stat = stat(client, container, &dst_path).await;
        }
    }
    let dst_state = match &dst_stat {
        Ok(st) if st.mode & (MODE_OTHER | MODE_SYMLINK) != 0 => {
            return Err(Status::exit(
                1,
                format!("destination \"{container}:{dst}\" must be a directory or a regular file"),
            ))
        }
        Ok(st) => Some(st.mode & MODE_DIR != 0),
        // Any error is taken as "not there": if the parent is missing or
        // the container is, the PUT says so (as docker's client does).
        Err(_) => None,
    };
    let query = |dir: &str| {
        Query::new()
            .add("path", dir)
            .add("noOverwriteDirNonDir", "true")
            .flag("copyUIDGID", a.archive)
    };
    if src == "-" {
        if dst_state != Some(true) {
            return Err(Status::exit(
                1,
                format!("destination \"{container}:{dst}\" must be a directory"),
            ));
        }
        let url = format!(
            "/containers/{}/archive{}",
            client::path(container),
            query(&dst_path)
        );
        client
            .send(
                Method::PUT,
                &url,
                client::reader_body(std::io::stdin()),
                "application/x-tar",
            )
            .await?;
        return Ok(0);
    }
    let meta = if a.follow_link {
        fs::metadata(src)
    } else {
        fs::symlink_metadata(src)
    }
    .map_err(|e| Status::exit(1, format!("lstat {src}: {}", io_text(&e))))?;
    let (_, src_base) = split_dir_entry(src);
    let land = landing(&src_base, meta.is_dir(), &dst_path, dst_state)?;
    let top = match &land.rename {
        Some((_, to)) => to.clone(),
        None => src_base,
    };
    let (reader, writer) = super::pipe()?;
    let (src_owned, follow) = (PathBuf::from(src), a.follow_link);
    let size = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = Counting {
        inner: fs::File::from(writer),
        count: size.clone(),
    };
    let builder = std::thread::spawn(move || -> Result<()> {
        let mut tar = tar::Builder::new(counter);
        tar.follow_symlinks(false);
        append_local(&mut tar, &src_owned, Path::new(&top), follow)?;
        tar.into_inner()?.flush()?;
        Ok(())
    });
    let url = format!(
        "/containers/{}/archive{}",
        client::path(container),
        query(&land.dir)
    );
    let sent = client
        .send(
            Method::PUT,
            &url,
            client::reader_body(fs::File::from(reader)),
            "application/x-tar",
        )
        .await;
    let built = builder.join().map_err(|_| anyhow!("archiving panicked"))?;
    sent?;
    built?;
    Ok(size.load(std::sync::atomic::Ordering::Relaxed))
}

/// Go's wording of the common errors (`no such file or directory`).
fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Appends a host path under `name`: a directory with all it holds
/// (symlinks inside stored as links), a file, or a symlink (followed only
/// at the top, with `-L`).
fn append_local(
    tar: &mut tar::Builder<Counting>,
    path: &Path,
    name: &Path,
    follow: bool,
) -> Result<()> {
    let meta = if follow {
        fs::metadata(path)
    } else {
        fs::symlink_metadata(path)
    }
    .with_context(|| format!("lstat {}", path.display()))?;
    if meta.is_dir() {
        let mut h = tar::Header::new_gnu();
        h.set_metadata(&meta);
        tar.append_data(&mut h, name, std::io::empty())?;
        let mut entries: Vec<_> = fs::read_dir(path)?.collect::<std::io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            append_local(tar, &e.path(), &name.join(e.file_name()), false)?;
        }
        Ok(())
    } else if meta.file_type().is_symlink() {
        let mut h = tar::Header::new_gnu();
        h.set_metadata(&meta);
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        tar.append_link(&mut h, name, fs::read_link(path)?)?;
        Ok(())
    } else if meta.is_file() {
        let mut f = fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
        let mut h = tar::Header::new_gnu();
        h.set_metadata(&meta);
        tar.append_data(&mut h, name, &mut f)?;
        Ok(())
    } else {
        // Devices, fifos and sockets: the entry alone, as tar stores them.
        tar.append_path_with_name(path, name)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_args() {
        assert_eq!(split("c:/a"), (Some("c"), "/a"));
        assert_eq!(split("/tmp/a:b"), (None, "/tmp/a:b"));
        assert_eq!(split("./x:y"), (None, "./x:y"));
        assert_eq!(split("file"), (None, "file"));
        assert_eq!(split("-"), (None, "-"));
    }

    #[test]
    fn dir_entries() {
        assert_eq!(split_dir_entry("/a/b"), ("/a".into(), "b".into()));
        assert_eq!(split_dir_entry("/a/b/"), ("/a".into(), "b".into()));
        assert_eq!(split_dir_entry("/a/b/."), ("/a/b".into(), ".".into()));
        assert_eq!(split_dir_entry("b"), (".".into(), "b".into()));
        assert_eq!(split_dir_entry("/b"), ("/".into(), "b".into()));
        assert_eq!(split_dir_entry("/"), ("/".into(), ".".into()));
    }

    #[test]
    fn rebasing() {
        let r = Some(("a".to_string(), "b".to_string()));
        assert_eq!(rebase("a", &r), "b");
        assert_eq!(rebase("a/x", &r), "b/x");
        assert_eq!(rebase("./a/x", &r), "b/x");
        assert_eq!(rebase("ab/x", &r), "ab/x");
        let dot = Some((".".to_string(), "d".to_string()));
        assert_eq!(rebase("./x", &dot), "d/x");
        assert_eq!(rebase("./", &dot), "d/");
    }

    #[test]
    fn landings() {
        // into an existing directory: names kept
        let l = landing("f", false, "/dst", Some(true)).unwrap();
        assert_eq!(l.dir, "/dst");
        assert!(l.rename.is_none());
        // onto a new name: extracted in the parent, renamed
        let l = landing("d", true, "/dst/new", None).unwrap();
        assert_eq!(l.dir, "/dst");
        assert_eq!(l.rename, Some(("d".into(), "new".into())));
        assert!(landing("d", true, "/dst/file", Some(false)).is_err());
        assert!(landing("f", false, "/dst/nodir/", None).is_err());
    }

    #[test]
    fn cleaning() {
        assert_eq!(join_clean("/a/b", "../c"), "/a/c");
        assert_eq!(join_clean("/a", "/x/./y"), "/x/y");
        assert_eq!(join_clean("/", "../../x"), "/x");
    }

    #[test]
    fn base64() {
        assert_eq!(base64_decode(b"eyJhIjoxfQ==").unwrap(), b"{\"a\":1}");
        assert!(base64_decode(b"!!").is_none());
    }
}
