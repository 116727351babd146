//! `berth network create | ls | inspect | rm | prune | connect |
//! disconnect`, with docker's flags and output (`cli/command/network/`,
//! `cli/command/formatter/network.go`).

use anyhow::Result;
use clap::Args;
use hyper::Method;
use models::network::{
    ConnectRequest, CreateRequest, CreateResponse, DisconnectRequest, EndpointIpamConfig,
    EndpointSettings, Ipam, IpamConfig, Network, PruneReport,
};
use serde_json::{json, Value};

use super::volume::map_of;
use super::{filters_json, out, outln, parse_format, print_rows, Errors};
use crate::client::{self, Client, Query};

/// docker's default `network ls` table.
const NETWORK_FORMAT: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

/// `berth network create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Driver to manage the Network
    #[arg(short = 'd', long, value_name = "string", default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long, value_name = "strings")]
    pub subnet: Option<String>,
    /// IPv4 Gateway for the master subnet
    #[arg(long, value_name = "strings")]
    pub gateway: Option<String>,
    /// Allocate container ip from a sub-range
    #[arg(long = "ip-range", value_name = "strings")]
    pub ip_range: Option<String>,
    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,
    /// Set metadata on a network
    #[arg(long = "label", value_name = "list")]
    pub label: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt", value_name = "map")]
    pub opt: Vec<String>,
    /// The network's name
    #[arg(value_name = "NETWORK")]
    pub name: String,
}

/// `berth network ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only display network IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Do not truncate the output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Provide filter values (e.g. "driver=bridge")
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template ('table', 'table TEMPLATE',
    /// 'json', or a Go template)
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
}

/// `berth network rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Do not error if the network does not exist
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Networks to remove
    #[arg(required = true, value_name = "NETWORK")]
    pub networks: Vec<String>,
}

/// `berth network prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. "label=<label>")
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
}

/// `berth network connect`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Add network-scoped alias for the container
    #[arg(long = "alias", value_name = "strings")]
    pub alias: Vec<String>,
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long = "ip", value_name = "string")]
    pub ip: Option<String>,
    /// The network
    #[arg(value_name = "NETWORK")]
    pub network: String,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// `berth network disconnect`.
#[derive(Debug, Args)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short = 'f', long)]
    pub force: bool,
    /// The network
    #[arg(value_name = "NETWORK")]
    pub network: String,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// `berth network create`: prints the new network's id.
pub async fn create(client: &Client, a: &CreateArgs) -> Result<u8> {
    let mut pools = Vec::new();
    if a.subnet.is_some() || a.gateway.is_some() || a.ip_range.is_some() {
        pools.push(IpamConfig {
            subnet: a.subnet.clone().unwrap_or_default(),
            gateway: a.gateway.clone().unwrap_or_default(),
            ip_range: a.ip_range.clone().unwrap_or_default(),
            ..Default::default()
        });
    }
    let body = CreateRequest {
        name: a.name.clone(),
        driver: a.driver.clone(),
        internal: a.internal,
        ipam: Some(Ipam {
            driver: "default".into(),
            options: None,
            config: Some(pools),
        }),
        options: Some(map_of(&a.opt)),
        labels: Some(map_of(&a.label)),
        ..Default::default()
    };
    let (_, resp) = client
        .request_json(Method::POST, "/networks/create", &body)
        .await?;
    let v: CreateResponse = models::de::from_slice(&resp)?;
    outln(&v.id)?;
    Ok(0)
}

/// `berth network ls`: sorted by name, as docker sorts them.
pub async fn ls(client: &Client, a: &LsArgs) -> Result<u8> {
    let format_text = match (&a.format, a.quiet) {
        (Some(f), _) if !f.is_empty() && f != "table" => f.as_str(),
        (_, true) => "{{.ID}}",
        _ => NETWORK_FORMAT,
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
    let mut list: Vec<Network> = client.get(&format!("/networks{q}")).await?;
    list.sort_by(|x, y| x.name.cmp(&y.name));
    let rows: Vec<Value> = list
        .iter()
        .map(|n| {
            let id = if a.no_trunc {
                &n.id
            } else {
                &n.id[..n.id.len().min(12)]
            };
            let labels: Vec<String> = n
                .labels
                .iter()
                .flatten()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            json!({
                "ID": id, "Name": n.name, "Driver": n.driver, "Scope": n.scope,
                "IPv6": n.enable_ipv6.to_string(),
                "Internal": n.internal.to_string(),
                "Labels": labels.join(","), "CreatedAt": n.created,
            })
        })
        .collect();
    let headers = json!({
        "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
        "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED",
    });
    print_rows(&format, &headers, &rows)?;
    Ok(0)
}

/// `berth network rm`: each name as it goes, failures together at the end.
pub async fn rm(client: &Client, a: &RmArgs) -> Result<u8> {
    let mut errs = Errors::default();
    for n in &a.networks {
        match client
            .request(Method::DELETE, &format!("/networks/{}", client::path(n)))
            .await
        {
            Ok(_) => outln(n)?,
            Err(e)
                if a.force
                    && e.downcast_ref::<client::ApiError>()
                        .is_some_and(|x| x.status == hyper::StatusCode::NOT_FOUND) => {}
            Err(e) => errs.push(e),
        }
    }
    errs.finish()
}

/// `berth network prune`: asks first unless `-f`, as docker does.
pub async fn prune(client: &Client, a: &PruneArgs) -> Result<u8> {
    if !a.force
        && !super::confirm(
            "WARNING! This will remove all custom networks not used by at least one container.",
        )?
    {
        return Ok(0);
    }
    let q = if a.filter.is_empty() {
        Query::new()
    } else {
        Query::new().add("filters", &filters_json(&a.filter)?)
    };
    let (_, body) = client
        .request(Method::POST, &format!("/networks/prune{q}"))
        .await?;
    let report: PruneReport = models::de::from_slice(&body)?;
    let deleted = report.networks_deleted.unwrap_or_default();
    if !deleted.is_empty() {
        let mut text = "Deleted Networks:\n".to_string();
        for n in &deleted {
            text.push_str(n);
            text.push('\n');
        }
        out(&text)?;
    }
    Ok(0)
}

/// `berth network connect`.
pub async fn connect(client: &Client, a: &ConnectArgs) -> Result<u8> {
    let ep = EndpointSettings {
        ipam_config: a.ip.as_ref().map(|ip| EndpointIpamConfig {
            ipv4_address: ip.clone(),
            ..Default::default()
        }),
        aliases: (!a.alias.is_empty()).then(|| a.alias.clone()),
        ..Default::default()
    };
    let path = format!("/networks/{}/connect", client::path(&a.network));
    let body = ConnectRequest {
        container: a.container.clone(),
        endpoint_config: Some(ep),
    };
    client.request_json(Method::POST, &path, &body).await?;
    Ok(0)
}

/// `berth network disconnect`.
pub async fn disconnect(client: &Client, a: &DisconnectArgs) -> Result<u8> {
    let path = format!("/networks/{}/disconnect", client::path(&a.network));
    let body = DisconnectRequest {
        container: a.container.clone(),
        force: a.force,
    };
    client.request_json(Method::POST, &path, &body).await?;
    Ok(0)
}
