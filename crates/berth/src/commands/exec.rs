//! `berth exec`: a new process in a running container, attached (output,
//! with `-i` our stdin, with `-t` a terminal) or detached (`-d`), exiting
//! with its code as docker does.

use anyhow::Result;
use clap::Args;
use hyper::Method;
use models::exec::{ExecConfig, ExecInspect, ExecStart};
use models::image::IdResponse;

use super::Status;
use crate::client::{self, Client};
use crate::session::{self, Streams};

/// `berth exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub env_file: Vec<std::path::PathBuf>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long, value_name = "string")]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long, value_name = "string")]
    pub workdir: Option<String>,
    /// The container, then the command and its arguments
    #[arg(
        value_name = "CONTAINER COMMAND [ARG...]",
        required = true,
        num_args = 2..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub container_and_command: Vec<String>,
}

/// The ExecConfig body of the flags.
fn body(a: &ExecArgs) -> Result<ExecConfig> {
    let mut env = Vec::new();
    for f in &a.env_file {
        env.extend(super::run::read_env_file(f).map_err(|e| Status::exit(125, e))?);
    }
    env.extend(a.env.iter().filter_map(|e| super::run::env_entry(e)));
    let attach = !a.detach;
    let console_size = a
        .tty
        .then(|| crate::term::size(crate::term::STDOUT))
        .flatten()
        .map(|(h, w)| [u32::from(h), u32::from(w)]);
    Ok(ExecConfig {
        attach_stdin: attach && a.interactive,
        attach_stdout: attach,
        attach_stderr: attach,
        tty: a.tty,
        console_size,
        privileged: a.privileged,
        env: Some(env),
        cmd: Some(a.container_and_command[1..].to_vec()),
        user: a.user.clone().unwrap_or_default(),
        working_dir: a.workdir.clone().unwrap_or_default(),
        detach_keys: a.detach_keys.clone().unwrap_or_default(),
        detach: false,
    })
}

/// `berth exec`.
pub async fn exec(client: &Client, a: &ExecArgs) -> Result<u8> {
    let container = &a.container_and_command[0];
    let streams = Streams {
        stdin: a.interactive && !a.detach,
        stdout: true,
        stderr: true,
        tty: a.tty,
    };
    if !a.detach {
        super::run::check_tty(streams.stdin, streams.tty)?;
    }
    let (_, created) = client
        .request_json(
            Method::POST,
            &format!("/containers/{}/exec", client::path(container)),
            &body(a)?,
        )
        .await?;
    let id = models::de::from_slice::<IdResponse>(&created)?.id;
    let start = format!("/exec/{id}/start");
    if a.detach {
        client
            .request_json(
                Method::POST,
                &start,
                &ExecStart {
                    detach: true,
                    tty: a.tty,
                    console_size: None,
                },
            )
            .await?;
        return Ok(0);
    }
    let io = client
        .attach(
            &start,
            Some(&ExecStart {
                detach: false,
                tty: a.tty,
                console_size: None,
            }),
        )
        .await?;
    let r = session::relay(client, io, streams, &format!("/exec/{id}/resize")).await?;
    if r == crate::stream::Copied::StdoutClosed {
        return Ok(0);
    }
    let info: ExecInspect = client.get(&format!("/exec/{id}/json")).await?;
    if info.running {
        // Detached with the keys: the process runs on.
        return Ok(0);
    }
    let code = info.exit_code.unwrap_or(126);
    Ok(u8::try_from(code.rem_euclid(256)).unwrap_or(126))
}
