//! The lifecycle verbs applied to named containers: `start`, `stop`,
//! `kill`, `restart`, `pause`, `unpause`, `wait`, `rename`, `rm`. Each
//! prints the names it was given as it succeeds, carries on past failures
//! and exits 1 when any failed, as docker does.

use anyhow::Result;
use clap::Args;
use hyper::Method;
use models::container::{Inspect, WaitResponse};

use super::run::Attach;
use super::{outln, Errors, Status};
use crate::client::{self, ApiError, Client, Query};
use crate::session::Streams;

/// `berth start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,
    /// Containers to start
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `berth stop` and `berth restart`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(
        short = 't',
        long = "timeout",
        visible_alias = "time",
        value_name = "int",
        allow_negative_numbers = true
    )]
    pub timeout: Option<i64>,
    /// Signal to send to the container
    #[arg(short = 's', long, value_name = "string")]
    pub signal: Option<String>,
    /// Containers to stop
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `berth kill`.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, value_name = "string")]
    pub signal: Option<String>,
    /// Containers to kill
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `berth pause`, `unpause` and `wait`: only names.
#[derive(Debug, Args)]
pub struct NamesArgs {
    /// Containers
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `berth rename`.
#[derive(Debug, Args)]
pub struct RenameArgs {
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Its new name
    #[arg(value_name = "NEW_NAME")]
    pub new_name: String,
}

/// `berth rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Containers to remove
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// POSTs `/containers/{name}/{verb}{query}` for every name, printing each
/// name that succeeds; returns the failures and the names that failed.
async fn each(client: &Client, names: &[String], verb: &str, q: &Query) -> (Errors, Vec<String>) {
    let mut errs = Errors::default();
    let mut failed = Vec::new();
    for n in names {
        match client
            .post(&format!("/containers/{}/{verb}{q}", client::path(n)))
            .await
        {
            Ok(_) => outln(n).unwrap_or(()),
            Err(e) => {
                errs.push(e);
                failed.push(n.clone());
            }
        }
    }
    (errs, failed)
}

/// `berth start`: every container, or one with its output attached.
pub async fn start(client: &Client, a: &StartArgs) -> Result<u8> {
    if a.attach {
        let [name] = &a.containers[..] else {
            return Err(Status::exit(
                1,
                "you cannot start and attach multiple containers at once",
            ));
        };
        let c: Inspect = client
            .get(&format!("/containers/{}/json", client::path(name)))
            .await?;
        let id = c.id.clone();
        let auto_remove = c.host_config.as_ref().is_some_and(|h| h.auto_remove);
        let config = c.config.unwrap_or_default();
        let streams = Streams {
            stdin: a.interactive && config.open_stdin,
            stdout: true,
            stderr: true,
            tty: config.tty,
        };
        super::run::check_tty(streams.stdin, streams.tty)?;
        let path = format!("/containers/{id}/start");
        let att = Attach {
            id: &id,
            streams,
            detach_keys: a.detach_keys.as_deref(),
            sig_proxy: true,
            condition: if auto_remove { "removed" } else { "next-exit" },
        };
        let code = super::run::attached(client, &att, Some(Box::pin(client.post(&path)))).await?;
        return Ok(code.unwrap_or(0));
    }
    let (mut errs, failed) = each(client, &a.containers, "start", &Query::new()).await;
    if !failed.is_empty() {
        // docker names the containers that failed on a last line.
        errs.push_text(format!(
            "Error: failed to start containers: {}",
            failed.join(", ")
        ));
    }
    errs.finish()
}

/// `berth stop`.
pub async fn stop(client: &Client, a: &StopArgs) -> Result<u8> {
    let q = stop_query(a);
    each(client, &a.containers, "stop", &q).await.0.finish()
}

/// `berth restart`.
pub async fn restart(client: &Client, a: &StopArgs) -> Result<u8> {
    let q = stop_query(a);
    each(client, &a.containers, "restart", &q).await.0.finish()
}

fn stop_query(a: &StopArgs) -> Query {
    Query::new()
        .opt("t", &a.timeout.map(|t| t.to_string()).unwrap_or_default())
        .opt("signal", a.signal.as_deref().unwrap_or(""))
}

/// `berth kill`.
pub async fn kill(client: &Client, a: &KillArgs) -> Result<u8> {
    let q = Query::new().opt("signal", a.signal.as_deref().unwrap_or(""));
    each(client, &a.containers, "kill", &q).await.0.finish()
}

/// `berth pause` (`pause`) and `berth unpause` (`unpause`).
pub async fn pause(client: &Client, a: &NamesArgs, verb: &str) -> Result<u8> {
    each(client, &a.containers, verb, &Query::new())
        .await
        .0
        .finish()
}

/// `berth wait`: each container's exit code, once it is not running.
pub async fn wait(client: &Client, a: &NamesArgs) -> Result<u8> {
    let mut errs = Errors::default();
    for n in &a.containers {
        let path = format!("/containers/{}/wait", client::path(n));
        match client.request(Method::POST, &path).await {
            Ok((_, body)) => {
                let code =
                    models::de::from_slice::<WaitResponse>(&body).map_or(-1, |w| w.status_code);
                outln(code)?;
            }
            Err(e) => errs.push(e),
        }
    }
    errs.finish()
}

/// `berth rename`.
pub async fn rename(client: &Client, a: &RenameArgs) -> Result<u8> {
    let new = a.new_name.trim();
    if new.is_empty() {
        return Err(Status::exit(
            1,
            "Error: neither old nor new names may be empty",
        ));
    }
    let q = Query::new().add("name", new);
    client
        .post(&format!(
            "/containers/{}/rename{q}",
            client::path(&a.container)
        ))
        .await
        .map_err(|e| {
            Status::exit(
                1,
                format!(
                    "{e:#}\nError: failed to rename container named {}",
                    a.container
                ),
            )
        })?;
    Ok(0)
}

/// `berth rm`: with `-f`, a container that does not exist is reported but
/// is no failure (docker's `rm -f`).
pub async fn rm(client: &Client, a: &RmArgs) -> Result<u8> {
    let q = Query::new().flag("force", a.force).flag("v", a.volumes);
    let mut errs = Errors::default();
    for n in &a.containers {
        match client
            .request(
                Method::DELETE,
                &format!("/containers/{}{q}", client::path(n)),
            )
            .await
        {
            Ok(_) => outln(n)?,
            Err(e)
                if a.force
                    && e.downcast_ref::<ApiError>()
                        .is_some_and(|x| x.status == hyper::StatusCode::NOT_FOUND) =>
            {
                super::errln(&format!("{e:#}"));
            }
            Err(e) => errs.push(e),
        }
    }
    errs.finish()
}

/// `berth container prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
}

/// `berth container prune`: asks first unless `-f`; a no ends quietly with
/// 0, as docker 28 does. Prints the removed IDs and the space freed.
pub async fn prune(client: &Client, a: &PruneArgs) -> Result<u8> {
    if !a.force && !super::confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(0);
    }
    let q = if a.filter.is_empty() {
        Query::new()
    } else {
        Query::new().add("filters", &super::filters_json(&a.filter)?)
    };
    let (_, body) = client
        .request(Method::POST, &format!("/containers/prune{q}"))
        .await?;
    let r: models::container::PruneReport = models::de::from_slice(&body)?;
    super::print_prune_report(
        r.containers_deleted.as_deref().unwrap_or_default(),
        r.space_reclaimed,
        "Containers",
    )
}

/// `berth attach`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set, value_name = "bool")]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// `berth attach`: the running container's streams, until it exits (its
/// code) or the detach keys (docker 28 then says "read escape sequence" and
/// exits 1).
pub async fn attach(client: &Client, a: &AttachArgs) -> Result<u8> {
    let c: Inspect = client
        .get(&format!("/containers/{}/json", client::path(&a.container)))
        .await?;
    let state = c.state.unwrap_or_default();
    if state.paused {
        return Err(Status::exit(
            1,
            "You cannot attach to a paused container, unpause it first",
        ));
    }
    if !state.running {
        return Err(Status::exit(
            1,
            "You cannot attach to a stopped container, start it first",
        ));
    }
    let id = c.id;
    let config = c.config.unwrap_or_default();
    let streams = Streams {
        stdin: !a.no_stdin && config.open_stdin,
        stdout: true,
        stderr: true,
        tty: config.tty,
    };
    super::run::check_tty(streams.stdin, streams.tty)?;
    if streams.tty {
        // A size one off first, as docker does, so that the shell redraws
        // its prompt when the real size follows.
        if let Some((h, w)) = crate::term::size(crate::term::STDOUT) {
            let q = Query::new()
                .add("h", &(h + 1).to_string())
                .add("w", &(w + 1).to_string());
            let _ = client.post(&format!("/containers/{id}/resize{q}")).await;
        }
    }
    let att = Attach {
        id: &id,
        streams,
        detach_keys: a.detach_keys.as_deref(),
        sig_proxy: a.sig_proxy,
        condition: "not-running",
    };
    match super::run::attached(client, &att, None).await? {
        Some(code) => Ok(code),
        None => Err(Status::exit(1, "read escape sequence")),
    }
}
