//! `run` and `create`: Docker's flags (the body they make is `run_body.rs`'s), and
//! `run`'s sequence as the docker CLI does it (create, attach before start,
//! wait for the next exit or the removal, start, copy the output, exit with
//! the container's code). Exit codes as docker's `runStartContainerErr`:
//! 125 when berth or the daemon fails, 126 when the command cannot be
//! invoked, 127 when it is not found.

use std::path::PathBuf;

use anyhow::Result;
use clap::{ArgAction, Args};
use http_body_util::BodyExt;
use hyper::Method;
use models::container::{CreateResponse, Inspect, RestartPolicy, WaitResponse};

use super::{outln, Status};
use crate::client::{self, Client, Query};
use crate::session::{self, Streams};
use crate::stream;
use crate::units;

/// The flags `run` and `create` share (Docker's `containerOptions`).
#[derive(Debug, Args)]
pub struct ContainerOptions {
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables (KEY=value, or KEY to pass ours)
    #[arg(short = 'e', long = "env", value_name = "list")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir", value_name = "string")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long, value_name = "string")]
    pub user: Option<String>,
    /// Container host name
    #[arg(short = 'h', long, value_name = "string")]
    pub hostname: Option<String>,
    /// Connect a container to a network (repeat for several)
    #[arg(long = "network", alias = "net", value_name = "network")]
    pub network: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long = "ip", value_name = "string")]
    pub ip: Option<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", alias = "net-alias", value_name = "list")]
    pub network_alias: Vec<String>,
    /// Memory limit (64m, 1g...)
    #[arg(short = 'm', long, value_name = "bytes", value_parser = units::ram_in_bytes)]
    pub memory: Option<i64>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", value_name = "bytes", value_parser = parse_swap, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    /// Number of CPUs
    #[arg(long, value_name = "decimal", value_parser = parse_cpus)]
    pub cpus: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares", value_name = "int")]
    pub cpu_shares: Option<i64>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", value_name = "int", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Add Linux capabilities
    #[arg(long = "cap-add", value_name = "list")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop", value_name = "list")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Security options
    #[arg(long = "security-opt", value_name = "list")]
    pub security_opt: Vec<String>,
    /// Restart policy to apply when a container exits (no, always,
    /// unless-stopped, on-failure[:max-retries])
    #[arg(long, value_name = "string", default_value = "no")]
    pub restart: String,
    /// Bind mount a volume: /host:/ctr or name:/ctr [:ro|rw|nocopy|z|Z|propagation],
    /// or /ctr alone for an anonymous volume
    #[arg(short = 'v', long = "volume", value_name = "list")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount to the container
    /// (type=bind|volume|tmpfs,source=…,target=…,readonly,…)
    #[arg(long = "mount", value_name = "mount")]
    pub mount: Vec<String>,
    /// Mount a tmpfs directory (/path[:size=…,mode=…])
    #[arg(long = "tmpfs", value_name = "list")]
    pub tmpfs: Vec<String>,
    /// Mount volumes from the specified container(s) (name[:ro|rw])
    #[arg(long = "volumes-from", value_name = "list")]
    pub volumes_from: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps
    /// processes
    #[arg(long)]
    pub init: bool,
    /// Log driver options (max-size, max-file)
    #[arg(long = "log-opt", value_name = "list")]
    pub log_opt: Vec<String>,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label", value_name = "list")]
    pub label: Vec<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long, value_name = "string")]
    pub entrypoint: Option<String>,
    /// Signal to stop the container
    #[arg(long = "stop-signal", value_name = "string")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(
        long = "stop-timeout",
        value_name = "int",
        allow_negative_numbers = true
    )]
    pub stop_timeout: Option<i64>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long = "attach", value_name = "list", value_parser = ["stdin", "stdout", "stderr", "STDIN", "STDOUT", "STDERR"])]
    pub attach: Vec<String>,
    /// Automatically remove the container and its associated anonymous
    /// volumes when it exits
    #[arg(long)]
    pub rm: bool,
    /// Print usage
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Resources, namespaces, devices, security, health, logging and the
    /// client-side flags (see `run_opts`).
    #[command(flatten)]
    pub host: super::run_opts::HostOptions,
    /// The image, then the command and its arguments
    #[arg(
        value_name = "IMAGE [COMMAND] [ARG...]",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub image_and_command: Vec<String>,
}

impl ContainerOptions {
    /// Whether a foreground run attaches `stream`: those `-a` names, or by
    /// default stdout and stderr, and stdin with `-i`.
    pub fn attaches(&self, stream: &str) -> bool {
        if self.attach.is_empty() {
            return stream != "stdin" || self.interactive;
        }
        self.attach.iter().any(|a| a.eq_ignore_ascii_case(stream))
    }
}

/// `berth run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", default_value_t = true, action = ArgAction::Set, value_name = "bool")]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,
    /// The container's options.
    #[command(flatten)]
    pub opts: ContainerOptions,
}

/// `berth create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The container's options.
    #[command(flatten)]
    pub opts: ContainerOptions,
}

pub(crate) fn parse_cpus(s: &str) -> Result<i64, String> {
    let n: f64 = s
        .parse()
        .map_err(|_| format!("failed to parse {s} as a rational number"))?;
    if !(0.0..=1e9).contains(&n) {
        return Err(format!("value is out of range: {s}"));
    }
    #[allow(clippy::cast_possible_truncation)]
    Ok((n * 1e9).round() as i64)
}

pub(crate) fn parse_swap(s: &str) -> Result<i64, String> {
    if s == "-1" {
        Ok(-1)
    } else {
        units::ram_in_bytes(s)
    }
}

/// Docker's `opts.ParseRestartPolicy`, and the daemon's checks of it.
pub(crate) fn restart_policy(p: &str) -> Result<RestartPolicy, String> {
    let (name, count) = match p.split_once(':') {
        Some(("", _)) => {
            return Err("invalid restart policy format: no policy provided before colon".into())
        }
        Some((n, c)) => (
            n,
            c.parse::<i64>().map_err(|_| {
                "invalid restart policy format: maximum retry count must be an integer".to_string()
            })?,
        ),
        None => (p, 0),
    };
    match name {
        "" | "no" | "always" | "unless-stopped" if count != 0 => Err(
            "invalid restart policy: maximum retry count can only be used with 'on-failure'".into(),
        ),
        "" | "no" | "always" | "unless-stopped" | "on-failure" => {
            Ok(RestartPolicy {
                name: if name.is_empty() { "no" } else { name }.into(),
                maximum_retry_count: count,
            })
        }
        _ => Err(format!("invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'")),
    }
}

/// `KEY=value` stays; a bare `KEY` takes our value, or is left out when we
/// have none (as docker's `ValidateEnv` does, minus sending it bare).
pub fn env_entry(e: &str) -> Option<String> {
    if e.contains('=') {
        return Some(e.to_string());
    }
    std::env::var(e).ok().map(|v| format!("{e}={v}"))
}

pub fn read_env_file(path: &PathBuf) -> Result<Vec<String>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("open {}: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(env_entry)
        .collect())
}

async fn create(
    client: &Client,
    o: &ContainerOptions,
    attach: bool,
    usage: &str,
) -> Result<String> {
    let body = super::run_body::create_body(o, attach).map_err(|e| {
        Status::exit(
            125,
            format!("berth: {e}\n\nRun 'berth {usage} --help' for more information"),
        )
    })?;
    // --cidfile: refused before anything is made when the file exists.
    if let Some(f) = &o.host.cidfile {
        if f.exists() {
            return Err(Status::exit(125, format!("berth: container ID file found, make sure the other container isn't running or delete {}", f.display())));
        }
    }
    let image = o.image_and_command[0].as_str();
    let platform = o.host.platform.as_deref().unwrap_or("");
    if o.host.pull == "always" {
        pull_image(client, image, platform, o.host.quiet).await?;
    }
    let q = Query::new()
        .opt("name", o.name.as_deref().unwrap_or(""))
        .opt("platform", platform);
    let path = format!("/containers/create{q}");
    let resp = match client.request_json(Method::POST, &path, &body).await {
        // --pull missing (the default): a missing image is pulled, then made.
        Err(e)
            if o.host.pull == "missing"
                && e.downcast_ref::<crate::client::ApiError>()
                    .is_some_and(|a| a.status == hyper::StatusCode::NOT_FOUND) =>
        {
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!(
                    "Unable to find image '{}' locally\n",
                    normalize_short(image)
                )
                .as_bytes(),
            );
            pull_image(client, image, platform, o.host.quiet).await?;
            client.request_json(Method::POST, &path, &body).await?.1
        }
        r => r?.1,
    };
    let v: CreateResponse = models::de::from_slice(&resp)?;
    if let Some(f) = &o.host.cidfile {
        std::fs::write(f, &v.id).map_err(|e| {
            Status::exit(
                125,
                format!("berth: failed to write the container ID to the file: {e}"),
            )
        })?;
    }
    for w in &v.warnings {
        let _ =
            std::io::Write::write_all(&mut std::io::stderr(), format!("WARNING: {w}\n").as_bytes());
    }
    Ok(v.id)
}

/// `busybox` → `busybox:latest`, as the docker CLI names a missing image.
fn normalize_short(image: &str) -> String {
    if image.contains('@') || super::image::split_tag(image).1.is_some() {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// Pulls `image` for `run`/`create` (`--pull`), the progress kept quiet
/// (berth draws it only in `berth pull`); an error is the pull's.
async fn pull_image(client: &Client, image: &str, platform: &str, quiet: bool) -> Result<()> {
    let (from, tag) = match image.split_once('@') {
        Some((n, d)) => (n.to_string(), d.to_string()),
        None => {
            let (name, tag) = super::image::split_tag(image);
            (name.to_string(), tag.unwrap_or("latest").to_string())
        }
    };
    let q = Query::new()
        .add("fromImage", &from)
        .add("tag", &tag)
        .opt("platform", platform);
    let auth = crate::credentials::registry_auth(&crate::credentials::server_of(&from))?;
    let resp = client
        .send_with_auth(Method::POST, &format!("/images/create{q}"), &auth)
        .await?;
    let mut r = crate::progress::Renderer::new(false, true);
    crate::progress::render(resp.into_body(), &mut r).await?;
    if !quiet {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "Status: Downloaded newer image for {}\n",
                normalize_short(image)
            )
            .as_bytes(),
        );
    }
    Ok(())
}

/// `berth create`: prints the new container's id. A refusal exits 1 with
/// the daemon's line, as docker 28's `create` does.
pub async fn create_cmd(client: &Client, a: &CreateArgs) -> Result<u8> {
    let id = create(client, &a.opts, false, "create").await?;
    outln(id)?;
    Ok(0)
}

/// docker's `runStartContainerErr`: what a failed start exits with.
pub fn start_error_code(message: &str) -> u8 {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
        || message.contains("system cannot find the file specified")
    {
        127
    } else if message.contains("permission denied") || message.contains("is a directory") {
        126
    } else {
        125
    }
}

/// docker's `reportError` (28.x): `berth: <message>`, a blank line, and
/// where to read help.
fn report(e: &anyhow::Error) -> String {
    format!("berth: {e:#}\n\nRun 'berth run --help' for more information")
}

/// `berth run`.
pub async fn run(client: &Client, a: &RunArgs) -> Result<u8> {
    if a.detach && !a.opts.attach.is_empty() {
        return Err(Status::exit(
            125,
            report(&anyhow::anyhow!("Conflicting options: -a and -d")),
        ));
    }
    if !a.detach {
        check_tty(a.opts.attaches("stdin"), a.opts.tty)?;
    }
    let id = match create(client, &a.opts, !a.detach, "run").await {
        Ok(id) => id,
        Err(e) => {
            return Err(match e.downcast::<Status>() {
                Ok(s) => s.into(),
                Err(e) => Status::exit(125, report(&e)),
            })
        }
    };
    let start = |client: Client, id: String| async move {
        client
            .post(&format!("/containers/{id}/start"))
            .await
            .map_err(|e| {
                let code = start_error_code(&format!("{e:#}"));
                Status::exit(code, report(&e))
            })
    };
    if a.detach {
        start(client.clone(), id.clone()).await?;
        outln(&id)?;
        return Ok(0);
    }
    let a = Attach {
        id: &id,
        streams: Streams {
            stdin: a.opts.attaches("stdin"),
            stdout: a.opts.attaches("stdout"),
            stderr: a.opts.attaches("stderr"),
            tty: a.opts.tty,
        },
        detach_keys: a.detach_keys.as_deref(),
        sig_proxy: a.sig_proxy,
        condition: if a.opts.rm { "removed" } else { "next-exit" },
    };
    let code = attached(
        client,
        &a,
        Some(Box::pin(start(client.clone(), id.clone()))),
    )
    .await?;
    // Detached: the container runs on and `run` leaves quietly.
    Ok(code.unwrap_or(0))
}

/// How a client attaches to a container (`run`, `start -a`, `attach`).
pub struct Attach<'a> {
    pub id: &'a str,
    pub streams: Streams,
    /// `--detach-keys`; the daemon's default when `None`.
    pub detach_keys: Option<&'a str>,
    /// Received SIGINT/SIGTERM go to the container (without a TTY).
    pub sig_proxy: bool,
    /// What the exit code waits for: `next-exit` (run, start), `removed`
    /// (run --rm), `not-running` (attach).
    pub condition: &'a str,
}

/// A start to make once attached and waiting.
pub type Start<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<hyper::StatusCode>> + 'a>>;

/// Attaches to a container, asks to be told of its exit (or removal),
/// calls `start`, relays the streams until they end, and returns the exit
/// code, as docker's `run`, `start -a` and `attach` do; `None` when the
/// client detached (the container runs on).
pub async fn attached(
    client: &Client,
    a: &Attach<'_>,
    start: Option<Start<'_>>,
) -> Result<Option<u8>> {
    let fail = |e: anyhow::Error| match e.downcast::<Status>() {
        Ok(s) => s.into(),
        Err(e) => Status::exit(125, report(&e)),
    };
    let id = a.id;
    let io = client
        .attach(
            &format!(
                "/containers/{id}/attach{}",
                Query::new()
                    .add("stream", "1")
                    .flag("stdin", a.streams.stdin)
                    .flag("stdout", a.streams.stdout)
                    .flag("stderr", a.streams.stderr)
                    .opt("detachKeys", a.detach_keys.unwrap_or("")),
            ),
            None::<&()>,
        )
        .await
        .map_err(fail)?;
    // The wait is in place (its headers are back) before the start.
    let wait = client
        .send(
            Method::POST,
            &format!("/containers/{id}/wait?condition={}", a.condition),
            client::full(bytes::Bytes::new()),
            "application/json",
        )
        .await
        .map_err(fail)?;
    if let Some(start) = start {
        start.await?;
    }
    let resize = format!("/containers/{id}/resize");
    let copy = session::relay(client, io, a.streams, &resize);
    tokio::pin!(copy);
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        let sig = tokio::select! {
            r = &mut copy => {
                // Nobody reads our output any more: leave, as docker's CLI
                // does when SIGPIPE ends it (the container runs on).
                if r? == stream::Copied::StdoutClosed {
                    return Ok(Some(0));
                }
                break;
            }
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        };
        if a.sig_proxy && !a.streams.tty {
            let _ = client
                .post(&format!("/containers/{id}/kill?signal={sig}"))
                .await;
        }
    }
    // The stream ends at the exit, or when the daemon saw the detach keys.
    if a.streams.stdin && running(client, id).await {
        return Ok(None);
    }
    let body = wait.into_body().collect().await?.to_bytes();
    let v: Option<WaitResponse> = models::de::from_slice(&body).ok();
    if let Some(m) = v
        .as_ref()
        .and_then(|v| v.error.as_ref())
        .map(|e| e.message.as_str())
        .filter(|m| !m.is_empty())
    {
        return Err(Status::exit(
            125,
            format!("Error waiting for container: {m}"),
        ));
    }
    let code = v.map_or(125, |v| v.status_code);
    Ok(Some(u8::try_from(code.rem_euclid(256)).unwrap_or(125)))
}

/// Whether the container still runs (false once it is gone).
async fn running(client: &Client, id: &str) -> bool {
    client
        .get::<Inspect>(&format!("/containers/{id}/json"))
        .await
        .is_ok_and(|c| c.state.is_some_and(|s| s.running))
}

/// docker's check before it puts a terminal into raw mode.
pub fn check_tty(stdin: bool, tty: bool) -> Result<()> {
    if stdin && tty && !crate::term::is_terminal(crate::term::STDIN) {
        return Err(Status::exit(1, "the input device is not a TTY"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_errors_map_to_docker_codes() {
        assert_eq!(
            start_error_code("exec: \"nope\": executable file not found in $PATH"),
            127
        );
        assert_eq!(start_error_code("open /x: no such file or directory"), 127);
        assert_eq!(start_error_code("exec /etc: permission denied"), 126);
        assert_eq!(start_error_code("cgroup: device busy"), 125);
    }
}
