//! `berth ps`: the container list in docker's columns, through `--format`
//! like docker's `ContainerContext` (`cli/command/formatter/container.go`).

use anyhow::Result;
use clap::Args;
use models::container::Summary;
use serde_json::{json, Value};

use super::{filters_json, parse_format, print_rows, short_id};
use crate::client::{Client, Query};
use crate::units;

/// docker's default `ps` table.
const DEFAULT_FORMAT: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// `berth ps`.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", value_name = "int", default_value_t = -1, allow_negative_numbers = true)]
    pub last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template ('table', 'table TEMPLATE',
    /// 'json', or a Go template)
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
}

/// The titles of the fields in a table's header.
pub fn headers() -> Value {
    json!({
        "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS",
        "Size": "SIZE", "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS",
        "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES", "Platform": "PLATFORM",
    })
}

/// Docker's `Ellipsis`: at most `max` characters, the last one `…`.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

use crate::template::go_quote;

/// One API `ContainerSummary` as the fields docker's templates see.
pub fn row(c: &Summary, trunc: bool) -> Value {
    let id = if trunc { short_id(&c.id) } else { c.id.clone() };
    let names: Vec<&str> = c
        .names
        .iter()
        .map(|n| n.strip_prefix('/').unwrap_or(n))
        // Names with a '/' are links' aliases, which docker leaves out.
        .filter(|n| !n.contains('/'))
        .collect();
    let mut image = c.image.clone();
    if trunc && image.starts_with("sha256:") {
        image = short_id(&image);
    }
    let command = if trunc {
        ellipsis(&c.command, 20)
    } else {
        c.command.clone()
    };
    let labels: Vec<String> = c
        .labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let size = if c.size_root_fs > 0 {
        format!(
            "{} (virtual {})",
            units::human_size_precision(c.size_rw as f64, 3),
            units::human_size_precision(c.size_root_fs as f64, 3)
        )
    } else {
        units::human_size_precision(c.size_rw as f64, 3)
    };
    // docker's ContainerContext: a volume by its name, a bind by its source;
    // local volumes counted by their driver.
    let mount_names: Vec<String> = c
        .mounts
        .iter()
        .map(|m| {
            let name = if m.name.is_empty() {
                &m.source
            } else {
                &m.name
            };
            if trunc {
                ellipsis(name, 15)
            } else {
                name.clone()
            }
        })
        .collect();
    let local = c.mounts.iter().filter(|m| m.driver == "local").count();
    json!({
        "ID": id,
        "Names": names.join(","),
        "Image": image,
        "Command": go_quote(&command),
        "CreatedAt": units::go_time_string(c.created),
        "RunningFor": units::ago(c.created),
        "Ports": "",
        "State": c.state,
        "Status": c.status,
        "Size": size,
        "Labels": labels.join(","),
        "Mounts": mount_names.join(","),
        "Networks": "",
        "LocalVolumes": local.to_string(),
        "Platform": null,
    })
}

/// `berth ps`.
pub async fn ps(client: &Client, a: &PsArgs) -> Result<u8> {
    let format_text = match (&a.format, a.quiet) {
        (Some(f), _) if !f.is_empty() && f != "table" => f.clone(),
        (_, true) => "{{.ID}}".to_string(),
        _ if a.size => format!("{DEFAULT_FORMAT}\t{{{{.Size}}}}"),
        _ => DEFAULT_FORMAT.to_string(),
    };
    let format = parse_format(&format_text)?;
    let limit = if a.latest { 1 } else { a.last };
    // A template that shows sizes asks for them, as docker's does.
    let size = a.size || (!a.quiet && format.template.mentions("Size"));
    let q = Query::new()
        .flag("all", a.all)
        .opt(
            "limit",
            &if limit > 0 {
                limit.to_string()
            } else {
                String::new()
            },
        )
        .flag("size", size)
        .opt(
            "filters",
            &if a.filter.is_empty() {
                String::new()
            } else {
                filters_json(&a.filter)?
            },
        );
    let list: Vec<Summary> = client.get(&format!("/containers/json{q}")).await?;
    let rows: Vec<Value> = list.iter().map(|c| row(c, !a.no_trunc)).collect();
    print_rows(&format, &headers(), &rows)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_as_docker_shows_them() {
        let c: Summary = models::de::from_value(json!({
            "Id": "0123456789abcdef0123", "Names": ["/web", "/other/alias"], "Image": "busybox",
            "Command": "sh -c 'while true; do sleep 1; done'", "Created": 0, "State": "running",
            "Status": "Up 2 seconds", "Labels": {"b": "2", "a": "1"}, "SizeRw": 12, "SizeRootFs": 4_100_000,
        }))
        .unwrap();
        let r = row(&c, true);
        assert_eq!(r["ID"], "0123456789ab");
        assert_eq!(r["Names"], "web");
        assert_eq!(r["Command"], "\"sh -c 'while true; …\"");
        assert_eq!(r["Labels"], "a=1,b=2");
        assert_eq!(r["Size"], "12B (virtual 4.1MB)");
        assert_eq!(r["CreatedAt"], "1970-01-01 00:00:00 +0000 UTC");
        let r = row(&c, false);
        assert_eq!(r["ID"], "0123456789abcdef0123");
        assert_eq!(r["Command"], "\"sh -c 'while true; do sleep 1; done'\"");
        assert_eq!(go_quote("a\"b\\\n"), r#""a\"b\\\n""#);
    }
}
