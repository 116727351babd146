//! `berth top`: the processes of a container, as `ps` shows them (docker's
//! `cli/command/container/top.go`).

use anyhow::Result;
use clap::Args;
use serde::Deserialize;

use crate::client::{self, Client, Query};

/// `berth top`.
#[derive(Debug, Args)]
#[command(override_usage = "berth top CONTAINER [ps OPTIONS]")]
pub struct TopArgs {
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Options for ps (default `-ef`)
    #[arg(
        value_name = "ps OPTIONS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub ps_args: Vec<String>,
}

/// `GET /containers/{id}/top`.
#[derive(Debug, Deserialize)]
struct Top {
    #[serde(rename = "Titles", default)]
    titles: Vec<String>,
    #[serde(rename = "Processes", default)]
    processes: Option<Vec<Vec<String>>>,
}

/// `berth top`: the daemon's table, aligned as docker aligns it.
pub async fn top(client: &Client, a: &TopArgs) -> Result<u8> {
    let top: Top = client
        .get(&format!(
            "/containers/{}/top{}",
            client::path(&a.container),
            Query::new().opt("ps_args", &a.ps_args.join(" "))
        ))
        .await?;
    let mut text = top.titles.join("\t");
    text.push('\n');
    for p in top.processes.unwrap_or_default() {
        text.push_str(&p.join("\t"));
        text.push('\n');
    }
    super::out(&crate::template::tabwrite_min(&text, 20))?;
    Ok(0)
}
