//! One module per group of Docker's commands. Each parses nothing itself:
//! it gets its flags as a struct, makes its API calls and prints what the
//! docker CLI prints. Exit codes are decided here, in [`Status`] and
//! [`Errors`], and nowhere else.

pub mod build;
pub mod container;
pub mod cp;
pub mod df;
pub mod events;
pub mod exec;
pub mod filesystem;
pub mod image;
pub mod inspect;
pub mod login;
pub mod logs;
pub mod network;
pub mod ps;
pub mod pull;
pub mod push;
pub mod run;
pub mod run_body;
pub mod run_opts;
pub mod stats;
pub mod system;
pub mod top;
pub mod update;
pub mod volume;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Serialize;
use serde_json::Value;

use crate::template::Format;

/// A command's failure with the exit code Docker gives it and the text for
/// stderr (nothing when empty).
#[derive(Debug)]
pub struct Status {
    /// Exit code.
    pub code: u8,
    /// What goes to stderr.
    pub message: String,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Status {}

impl Status {
    /// Exit `code` with `message` on stderr.
    pub fn exit(code: u8, message: impl Into<String>) -> anyhow::Error {
        Status {
            code,
            message: message.into(),
        }
        .into()
    }
}

/// The exit code and stderr text of a command's error: a [`Status`] says
/// both; anything else (the daemon's refusal, an unreachable daemon, a bad
/// flag value) is 1 with the error's text, as docker does.
pub fn exit_of(e: &anyhow::Error) -> (u8, String) {
    match e.downcast_ref::<Status>() {
        Some(s) => (s.code, s.message.clone()),
        None => (1, format!("{e:#}")),
    }
}

/// The errors of a command applied to several objects (`stop a b c`): each
/// object is tried, failures are printed together at the end, exit 1.
#[derive(Debug, Default)]
pub struct Errors(Vec<String>);

impl Errors {
    /// Records one object's failure.
    pub fn push(&mut self, e: anyhow::Error) {
        self.0.push(exit_of(&e).1);
    }

    /// Records a failure given as text.
    pub fn push_text(&mut self, e: String) {
        self.0.push(e);
    }

    /// Exit 0, or 1 with every failure a line.
    pub fn finish(self) -> anyhow::Result<u8> {
        if self.0.is_empty() {
            Ok(0)
        } else {
            Err(Status::exit(1, self.0.join("\n")))
        }
    }
}

/// Writes to stdout; a closed pipe is no failure (the rest is dropped).
pub fn out(text: &str) -> anyhow::Result<()> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// A line on stdout.
pub fn outln(text: impl std::fmt::Display) -> anyhow::Result<()> {
    out(&format!("{text}\n"))
}

/// JSON indented with four spaces, as docker's `inspect` prints it.
pub fn indented(v: &impl Serialize) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    v.serialize(&mut ser).expect("JSON values serialise");
    String::from_utf8(buf).expect("JSON is UTF-8")
}

/// Parses a `--format` flag; a bad template is a usage error.
pub fn parse_format(format: &str) -> anyhow::Result<Format> {
    Format::parse(format).map_err(|e| Status::exit(1, e))
}

/// Renders rows through a `--format`, failing as docker does on a
/// template that does not execute.
pub fn print_rows(format: &Format, headers: &Value, rows: &[Value]) -> anyhow::Result<()> {
    let text = format
        .render_all(headers, rows)
        .map_err(|e| Status::exit(1, format!("template: {e}")))?;
    out(&text)
}

/// Docker's `stringid.TruncateID`: no `sha256:`, twelve characters.
pub fn short_id(id: &str) -> String {
    let id = id.split_once(':').map_or(id, |(_, rest)| rest);
    id.chars().take(12).collect()
}

/// Docker's `--filter key=value` flags as the API's `filters` JSON map.
pub fn filters_json(filters: &[String]) -> anyhow::Result<String> {
    let mut map: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for f in filters {
        let (k, v) = f.split_once('=').ok_or_else(|| {
            Status::exit(
                125,
                format!("invalid argument {f:?} for \"-f, --filter\" flag: bad format of filter (expected name=value)"),
            )
        })?;
        map.entry(k.trim()).or_default().push(v);
    }
    Ok(serde_json::to_string(&map)?)
}

/// A line on stderr.
pub fn errln(text: &str) {
    let _ = std::io::stderr()
        .lock()
        .write_all(format!("{text}\n").as_bytes());
}

/// docker's `PromptForConfirmation`: the question on stdout, then one line
/// of stdin; only `y` or `Y` is yes (an empty or closed stdin is no).
pub fn confirm(warning: &str) -> anyhow::Result<bool> {
    out(&format!(
        "{warning}\nAre you sure you want to continue? [y/N] "
    ))?;
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim().eq_ignore_ascii_case("y"))
}

/// Copies a streamed body (an image archive, a container's filesystem) to
/// `output` or to stdout. A file is written beside its name with mode 0600,
/// then renamed over it, as docker's `CopyToFile` (an `atomicwriter`) does,
/// so a failed copy leaves nothing half-written; `what` starts a file
/// error ("failed to save image"). A stdout reader that stopped early
/// (`export | tar -t | head`) is no failure.
pub async fn body_to(mut body: Incoming, output: Option<&Path>, what: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let (mut sink, tmp): (Box<dyn Write>, Option<(PathBuf, &Path)>) = match output {
        Some(path) => {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let tmp = path.with_file_name(format!(".{name}.berth-tmp"));
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .with_context(|| format!("{what}: create {}", tmp.display()))?;
            (Box::new(f), Some((tmp, path)))
        }
        None => (Box::new(std::io::stdout().lock()), None),
    };
    let result: anyhow::Result<()> = async {
        while let Some(frame) = body.frame().await {
            if let Some(data) = frame?.data_ref() {
                sink.write_all(data)?;
            }
        }
        sink.flush()?;
        Ok(())
    }
    .await;
    let result = result.or_else(|e| match e.downcast_ref::<std::io::Error>() {
        Some(io) if io.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        _ => Err(e),
    });
    drop(sink);
    match (result, tmp) {
        (Ok(()), Some((tmp, path))) => std::fs::rename(&tmp, path)
            .with_context(|| format!("{what}: rename to {}", path.display())),
        (Err(e), Some((tmp, _))) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
        (r, None) => r,
    }
}

/// docker's `ValidateOutputPath`, the part that can fail before the
/// request: the directory the file goes to must exist.
pub fn validate_output_path(path: &Path) -> anyhow::Result<()> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
            "invalid output path: stat {}: no such file or directory",
            dir.display()
        ),
        Err(e) => anyhow::bail!("invalid output path: stat {}: {e}", dir.display()),
        Ok(_) => Ok(()),
    }
}

/// Prints a prune's answer as docker does: `Deleted <title>:` with the
/// names, then the space reclaimed.
pub fn print_prune_report(deleted: &[String], reclaimed: u64, title: &str) -> anyhow::Result<u8> {
    let mut text = String::new();
    if !deleted.is_empty() {
        text.push_str(&format!("Deleted {title}:\n"));
        for n in deleted {
            text.push_str(n);
            text.push('\n');
        }
        text.push('\n');
    }
    text.push_str(&format!(
        "Total reclaimed space: {}\n",
        crate::units::human_size(reclaimed as f64)
    ));
    out(&text)?;
    Ok(0)
}

/// A pipe, both ends close-on-exec.
pub fn pipe() -> std::io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors are new and owned by nothing else.
    Ok(unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    })
}
