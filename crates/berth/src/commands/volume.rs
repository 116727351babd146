//! `berth volume create | ls | inspect | rm | prune`, with docker's flags
//! and output (`cli/command/volume/`, `cli/command/formatter/volume.go`).

use std::collections::BTreeMap;

use anyhow::Result;
use clap::Args;
use hyper::Method;
use models::volume::{CreateOptions, ListResponse, PruneReport, Volume};
use serde_json::{json, Value};

use super::{filters_json, outln, parse_format, print_rows, Errors, Status};
use crate::client::{self, Client, Query};

/// docker's default `volume ls` table.
const VOLUME_FORMAT: &str = "table {{.Driver}}\t{{.Name}}";

/// `berth volume create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Specify volume driver name
    #[arg(short = 'd', long, value_name = "string", default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume
    #[arg(long = "label", value_name = "list")]
    pub label: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt", value_name = "map")]
    pub opt: Vec<String>,
    /// Specify volume name
    #[arg(long = "name", value_name = "string", hide = true)]
    pub name_flag: Option<String>,
    /// The volume's name (a random one when none)
    #[arg(value_name = "VOLUME")]
    pub name: Option<String>,
}

/// `berth volume ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only display volume names
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Provide filter values (e.g. "dangling=true")
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template ('table', 'table TEMPLATE',
    /// 'json', or a Go template)
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
}

/// `berth volume rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of one or more volumes
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Volumes to remove
    #[arg(required = true, value_name = "VOLUME")]
    pub volumes: Vec<String>,
}

/// `berth volume prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. "label=<label>")
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
}

/// `key=value` flags as a map (a bare key has an empty value).
pub fn map_of(list: &[String]) -> BTreeMap<String, String> {
    list.iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// `berth volume create`: prints the volume's name.
pub async fn create(client: &Client, a: &CreateArgs) -> Result<u8> {
    let name = match (&a.name_flag, &a.name) {
        (Some(f), Some(n)) if f != n => {
            return Err(Status::exit(
                1,
                "conflicting options: cannot specify a volume-name through both --name and as a positional arg",
            ))
        }
        (Some(n), _) | (None, Some(n)) => n.clone(),
        (None, None) => String::new(),
    };
    let body = CreateOptions {
        name,
        driver: a.driver.clone(),
        driver_opts: map_of(&a.opt),
        labels: map_of(&a.label),
    };
    let (_, resp) = client
        .request_json(Method::POST, "/volumes/create", &body)
        .await?;
    let v: Volume = models::de::from_slice(&resp)?;
    outln(&v.name)?;
    Ok(0)
}

/// A volume as docker's `volumeContext` shows it.
fn row(v: &Volume) -> Value {
    let labels: Vec<String> = v
        .labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    json!({
        "Name": v.name, "Driver": v.driver, "Scope": v.scope,
        "Mountpoint": v.mountpoint, "Labels": labels.join(","),
        "Links": "N/A", "Size": "N/A",
    })
}

/// `berth volume ls`: sorted by name, as docker sorts them.
pub async fn ls(client: &Client, a: &LsArgs) -> Result<u8> {
    let format_text = match (&a.format, a.quiet) {
        (Some(f), _) if !f.is_empty() && f != "table" => f.as_str(),
        (_, true) => "{{.Name}}",
        _ => VOLUME_FORMAT,
    };
    let format = parse_format(format_text)?;
    let q = Query::new().opt(
        "filters",
        &if a.filter.is_empty() {
            String::new()
        } else {
            filters_json(&a.filter)?
        },
    );
    let list: ListResponse = client.get(&format!("/volumes{q}")).await?;
    let mut vols = list.volumes.unwrap_or_default();
    vols.sort_by(|x, y| x.name.cmp(&y.name));
    let rows: Vec<Value> = vols.iter().map(row).collect();
    let headers = json!({
        "Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE",
        "Mountpoint": "MOUNTPOINT", "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE",
    });
    print_rows(&format, &headers, &rows)?;
    Ok(0)
}

/// `berth volume rm`: each name as it goes, failures together at the end.
pub async fn rm(client: &Client, a: &RmArgs) -> Result<u8> {
    let q = Query::new().flag("force", a.force);
    let mut errs = Errors::default();
    for n in &a.volumes {
        match client
            .request(Method::DELETE, &format!("/volumes/{}{q}", client::path(n)))
            .await
        {
            Ok(_) => outln(n)?,
            Err(e) => errs.push(e),
        }
    }
    errs.finish()
}

/// `berth volume prune`: asks first unless `-f`, as docker 28 does.
pub async fn prune(client: &Client, a: &PruneArgs) -> Result<u8> {
    let warning = if a.all {
        "WARNING! This will remove all local volumes not used by at least one container."
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container."
    };
    if !a.force && !super::confirm(warning)? {
        return Ok(0);
    }
    let mut filters = a.filter.clone();
    if a.all {
        filters.push("all=true".into());
    }
    let q = if filters.is_empty() {
        Query::new()
    } else {
        Query::new().add("filters", &filters_json(&filters)?)
    };
    let (_, body) = client
        .request(Method::POST, &format!("/volumes/prune{q}"))
        .await?;
    let r: PruneReport = models::de::from_slice(&body)?;
    super::print_prune_report(
        r.volumes_deleted.as_deref().unwrap_or_default(),
        r.space_reclaimed,
        "Volumes",
    )
}
