//! `berth logs`: a container's output from its log, stdout to stdout and
//! stderr to stderr, once or followed until the container exits.

use anyhow::Result;
use clap::Args;
use hyper::Method;

use super::Status;
use crate::client::{self, Client, Query};
use crate::{stream, units};

/// `berth logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs ("all" for all)
    #[arg(short = 'n', long, value_name = "string", default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative
    /// (e.g. "42m" for 42 minutes)
    #[arg(long, value_name = "string")]
    pub since: Option<String>,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or
    /// relative (e.g. "42m" for 42 minutes)
    #[arg(long, value_name = "string")]
    pub until: Option<String>,
    /// Show extra details provided to logs (accepted)
    #[arg(long)]
    pub details: bool,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// `berth logs`.
pub async fn logs(client: &Client, a: &LogsArgs) -> Result<u8> {
    let now = units::now_f64();
    // docker's client names the flag the value came from.
    let time = |flag: &str, v: &Option<String>| -> Result<String> {
        match v {
            None => Ok(String::new()),
            Some(v) => units::timestamp(v, now)
                .map_err(|e| Status::exit(1, format!("invalid value for \"{flag}\": {e}"))),
        }
    };
    let q = Query::new()
        .add("stdout", "1")
        .add("stderr", "1")
        .flag("follow", a.follow)
        .flag("timestamps", a.timestamps)
        .opt("tail", &a.tail)
        .opt("since", &time("since", &a.since)?)
        .opt("until", &time("until", &a.until)?);
    let resp = client
        .send(
            Method::GET,
            &format!("/containers/{}/logs{q}", client::path(&a.container)),
            client::full(bytes::Bytes::new()),
            "application/json",
        )
        .await?;
    let raw = resp
        .headers()
        .get("Content-Type")
        .is_some_and(|v| v.as_bytes() == b"application/vnd.docker.raw-stream");
    stream::copy_body(resp.into_body(), raw).await?;
    Ok(0)
}
