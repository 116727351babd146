//! `berth system df`: disk usage from `GET /system/df`, as docker's
//! `DiskUsageContext` prints it (`cli/command/formatter/disk_usage.go`): a
//! summary row a type, or with `-v` a table a type. Sizes are go-units'
//! decimal ones (`HumanSize`, four significant digits, except where docker
//! uses three).

use anyhow::Result;
use clap::Args;
use models::container::Summary as ContainerSummary;
use models::image::Summary as ImageSummary;
use models::system::{BuildCache, DiskUsage};
use models::volume::{UsageData, Volume};
use serde_json::{json, Value};

use super::{out, parse_format, print_rows, short_id, Status};
use crate::client::Client;
use crate::units::{self, human_size, human_size_precision};

/// docker's summary table.
const SUMMARY_FORMAT: &str =
    "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";

/// docker's `--format raw` summary.
const RAW_FORMAT: &str = "type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\nreclaimable: {{.Reclaimable}}\n";

/// The `-v` tables.
const IMAGES_FORMAT: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}";
const CONTAINERS_FORMAT: &str = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}";
const VOLUMES_FORMAT: &str = "table {{.Name}}\t{{.Links}}\t{{.Size}}";
const BUILD_CACHE_FORMAT: &str = "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}";

/// `berth system df`.
#[derive(Debug, Args)]
pub struct DfArgs {
    /// Format output using a custom template ('table', 'table TEMPLATE',
    /// 'json', or a Go template)
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Show detailed information on space usage
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

/// A list of the answer (none when `null`).
fn list<T>(l: &Option<Vec<T>>) -> &[T] {
    l.as_deref().unwrap_or_default()
}

/// A volume's usage figure (-1 when not counted).
fn usage(v: &Volume, f: fn(&UsageData) -> i64) -> i64 {
    v.usage_data.as_ref().map_or(-1, f)
}

/// `"12kB (50%)"`, or the size alone when the total is zero.
fn reclaimable(reclaimable: i64, total: i64) -> String {
    let size = human_size(reclaimable as f64);
    if total > 0 {
        format!("{size} ({}%)", reclaimable * 100 / total)
    } else {
        size
    }
}

fn summary(typ: &str, total: usize, active: usize, size: i64, reclaim: String) -> Value {
    json!({
        "Type": typ, "TotalCount": total.to_string(), "Active": active.to_string(),
        "Size": human_size(size as f64), "Reclaimable": reclaim,
    })
}

/// The four summary rows, each computed as docker's `diskUsage*Context`.
fn summary_rows(du: &DiskUsage) -> Vec<Value> {
    let images = list(&du.images);
    let layers = du.layers_size;
    // What images with containers hold uniquely cannot be reclaimed.
    let used: i64 = images
        .iter()
        .filter(|i| i.containers != 0 && i.size != -1 && i.shared_size != -1)
        .map(|i| i.size - i.shared_size)
        .sum();
    let image_row = summary(
        "Images",
        images.len(),
        images.iter().filter(|i| i.containers > 0).count(),
        layers,
        reclaimable(layers - used, layers),
    );

    let containers = list(&du.containers);
    let active = |c: &&ContainerSummary| {
        let s = &c.state;
        s.contains("running") || s.contains("paused") || s.contains("restarting")
    };
    let rw: i64 = containers.iter().map(|c| c.size_rw).sum();
    let idle_rw: i64 = containers
        .iter()
        .filter(|c| !active(c))
        .map(|c| c.size_rw)
        .sum();
    let container_row = summary(
        "Containers",
        containers.len(),
        containers.iter().filter(active).count(),
        rw,
        reclaimable(idle_rw, rw),
    );

    let volumes = list(&du.volumes);
    let size = |v: &Volume| usage(v, |u| u.size);
    let refs = |v: &Volume| usage(v, |u| u.ref_count);
    let sized = || volumes.iter().filter(|v| size(v) != -1);
    let volume_size: i64 = sized().map(size).sum();
    let unused: i64 = sized().filter(|v| refs(v) == 0).map(size).sum();
    let volume_row = summary(
        "Local Volumes",
        volumes.len(),
        volumes.iter().filter(|v| refs(v) > 0).count(),
        volume_size,
        reclaimable(unused, volume_size),
    );

    let cache = list(&du.build_cache);
    let own = || cache.iter().filter(|b| !b.shared);
    let cache_row = summary(
        "Build Cache",
        cache.len(),
        cache.iter().filter(|b| b.in_use).count(),
        own().map(|b| b.size).sum(),
        // docker gives no percentage here.
        human_size(own().filter(|b| !b.in_use).map(|b| b.size).sum::<i64>() as f64),
    );
    vec![image_row, container_row, volume_row, cache_row]
}

/// An image of `-v`: its first tag only, as docker's `verboseWrite`.
fn image_row(i: &ImageSummary, trunc: bool) -> Value {
    let first = list(&i.repo_tags)
        .first()
        .map(String::as_str)
        .filter(|t| *t != "<none>:<none>");
    let (repo, tag) = match first.map(super::image::split_tag) {
        Some((repo, Some(tag))) => (repo, tag),
        _ => ("<none>", "<none>"),
    };
    let id = i.id.as_str();
    let (size, shared) = (i.size, i.shared_size);
    let created = i.created;
    let count = |n: i64| if n == -1 { "N/A".into() } else { n.to_string() };
    json!({
        "ID": if trunc { short_id(id) } else { id.to_string() },
        "Repository": repo, "Tag": tag, "Digest": "",
        "CreatedSince": units::ago(created),
        "CreatedAt": units::go_time_string(created),
        "Size": human_size_precision(size as f64, 3),
        "VirtualSize": human_size(size as f64),
        "SharedSize": if shared == -1 { "N/A".into() } else { human_size(shared as f64) },
        "UniqueSize": if size == -1 || shared == -1 { "N/A".into() } else { human_size((size - shared) as f64) },
        "Containers": count(i.containers),
    })
}

/// A container of `-v`: `ps`'s row without the virtual size.
fn container_row(c: &ContainerSummary, trunc: bool) -> Value {
    let c = ContainerSummary {
        size_root_fs: 0,
        ..c.clone()
    };
    super::ps::row(&c, trunc)
}

fn volume_row(v: &Volume) -> Value {
    let u = v.usage_data.as_ref();
    json!({
        "Name": v.name,
        "Links": u.map_or_else(|| "N/A".into(), |u| u.ref_count.to_string()),
        "Size": match u.map(|u| u.size) {
            Some(s) if s != -1 => human_size(s as f64),
            _ => "N/A".into(),
        },
    })
}

/// `HumanDuration(now - t) + " ago"` of an RFC 3339 time.
fn since(t: &str) -> String {
    units::parse_rfc3339(t)
        .map(|s| {
            #[allow(clippy::cast_possible_truncation)]
            units::ago(s as i64)
        })
        .unwrap_or_default()
}

fn build_cache_row(b: &BuildCache, trunc: bool) -> Value {
    let mut id = if trunc { short_id(&b.id) } else { b.id.clone() };
    if b.in_use {
        id.push('*');
    }
    json!({
        "ID": id, "CacheType": b.typ,
        "Size": human_size_precision(b.size as f64, 3),
        "CreatedSince": since(&b.created_at),
        "LastUsedSince": since(b.last_used_at.as_deref().unwrap_or("")),
        "UsageCount": b.usage_count.to_string(),
        "Shared": b.shared.to_string(), "InUse": b.in_use.to_string(),
    })
}

/// Go's `json.Marshal` escapes `<`, `>` and `&` in strings; in JSON text
/// they can only be in strings.
fn go_html_escape(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// `berth system df`.
pub async fn df(client: &Client, a: &DfArgs) -> Result<u8> {
    let du: DiskUsage = client.get("/system/df").await?;
    let format = a
        .format
        .as_deref()
        .filter(|f| !f.is_empty())
        .unwrap_or("table");
    if a.verbose {
        return verbose(&du, format);
    }
    let format = parse_format(match format {
        "table" => SUMMARY_FORMAT,
        "raw" => RAW_FORMAT,
        f => f,
    })?;
    let headers = json!({
        "Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
        "Reclaimable": "RECLAIMABLE",
    });
    print_rows(&format, &headers, &summary_rows(&du))?;
    Ok(0)
}

/// `-v`: a table a type under its title, or one template over all four
/// lists (`json`: docker's bytes, keys in its order, no final newline).
fn verbose(du: &DiskUsage, format: &str) -> Result<u8> {
    let trunc = format.starts_with("table");
    let images: Vec<Value> = list(&du.images)
        .iter()
        .map(|i| image_row(i, trunc))
        .collect();
    let containers: Vec<Value> = list(&du.containers)
        .iter()
        .map(|c| container_row(c, trunc))
        .collect();
    let volumes: Vec<Value> = list(&du.volumes).iter().map(volume_row).collect();
    let cache = build_cache_sorted(list(&du.build_cache));
    let cache: Vec<Value> = cache.iter().map(|b| build_cache_row(b, trunc)).collect();
    if format != "table" {
        if format == "json" || format.trim() == "{{json .}}" {
            let text = format!(
                "{{\"Images\":{},\"Containers\":{},\"Volumes\":{},\"BuildCache\":{}}}",
                serde_json::to_string(&images)?,
                serde_json::to_string(&containers)?,
                serde_json::to_string(&volumes)?,
                serde_json::to_string(&cache)?
            );
            out(&go_html_escape(&text))?;
            return Ok(0);
        }
        let f = parse_format(format)?;
        let all = json!({"Images": images, "Containers": containers, "Volumes": volumes, "BuildCache": cache});
        let text = f
            .template
            .render(&all)
            .map_err(|e| Status::exit(1, format!("template: {e}")))?;
        out(&text)?;
        return Ok(0);
    }
    let image_headers = json!({
        "Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED",
        "Size": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
        "Containers": "CONTAINERS",
    });
    out("Images space usage:\n\n")?;
    print_rows(&parse_format(IMAGES_FORMAT)?, &image_headers, &images)?;
    out("\nContainers space usage:\n\n")?;
    print_rows(
        &parse_format(CONTAINERS_FORMAT)?,
        &super::ps::headers(),
        &containers,
    )?;
    out("\nLocal Volumes space usage:\n\n")?;
    let volume_headers = json!({"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"});
    print_rows(&parse_format(VOLUMES_FORMAT)?, &volume_headers, &volumes)?;
    let builder: i64 = list(&du.build_cache)
        .iter()
        .filter(|b| !b.shared)
        .map(|b| b.size)
        .sum();
    out(&format!(
        "\nBuild cache usage: {}\n\n",
        human_size(builder as f64)
    ))?;
    let cache_headers = json!({
        "ID": "CACHE ID", "CacheType": "CACHE TYPE", "Size": "SIZE", "CreatedSince": "CREATED",
        "LastUsedSince": "LAST USED", "UsageCount": "USAGE", "Shared": "SHARED",
    });
    print_rows(&parse_format(BUILD_CACHE_FORMAT)?, &cache_headers, &cache)?;
    Ok(0)
}

/// docker's `buildCacheSort`: most recently used first, never used last.
fn build_cache_sorted(cache: &[BuildCache]) -> Vec<BuildCache> {
    let mut sorted = cache.to_vec();
    let last_used = |b: &BuildCache| b.last_used_at.as_deref().and_then(units::parse_rfc3339);
    sorted.sort_by(|a, b| match (last_used(a), last_used(b)) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_as_docker_computes_it() {
        let du: DiskUsage = models::de::from_value(json!({
            "LayersSize": 2_000_000,
            "Images": [
                {"Id": "sha256:aa", "Size": 1_500_000, "SharedSize": 0, "Containers": 1},
                {"Id": "sha256:bb", "Size": 500_000, "SharedSize": 0, "Containers": 0},
            ],
            "Containers": [
                {"State": "running", "SizeRw": 100_080},
                {"State": "exited", "SizeRw": 50_000},
            ],
            "Volumes": [{"Name": "v", "UsageData": {"Size": 1000, "RefCount": 0}}],
            "BuildCache": [],
        }))
        .unwrap();
        let rows = summary_rows(&du);
        let cols = |r: &Value| {
            ["Type", "TotalCount", "Active", "Size", "Reclaimable"]
                .map(|k| r[k].as_str().unwrap().to_string())
        };
        assert_eq!(cols(&rows[0]), ["Images", "2", "1", "2MB", "500kB (25%)"]);
        assert_eq!(
            cols(&rows[1]),
            ["Containers", "2", "1", "150.1kB", "50kB (33%)"]
        );
        assert_eq!(
            cols(&rows[2]),
            ["Local Volumes", "1", "0", "1kB", "1kB (100%)"]
        );
        assert_eq!(cols(&rows[3]), ["Build Cache", "0", "0", "0B", "0B"]);
    }

    #[test]
    fn verbose_rows() {
        let i: ImageSummary = models::de::from_value(
            json!({"Id": "sha256:0123456789abcdef", "RepoTags": ["me/a:1", "b:2"],
            "Size": 1_982_357, "SharedSize": 0, "Containers": 2, "Created": 0}),
        )
        .unwrap();
        let r = image_row(&i, true);
        assert_eq!(
            [
                &r["Repository"],
                &r["Tag"],
                &r["ID"],
                &r["Size"],
                &r["UniqueSize"],
                &r["Containers"]
            ],
            ["me/a", "1", "0123456789ab", "1.98MB", "1.982MB", "2"]
        );
        let none = image_row(
            &models::de::from_value(json!({"Id": "sha256:ff", "RepoTags": ["<none>:<none>"]}))
                .unwrap(),
            false,
        );
        assert_eq!(
            (&none["Repository"], &none["ID"]),
            (&json!("<none>"), &json!("sha256:ff"))
        );
        let c: ContainerSummary = models::de::from_value(
            json!({"Id": "0123456789abcdef", "Names": ["/x"], "Command": "a<b",
            "SizeRw": 100_000, "SizeRootFs": 2_000_000, "Created": 0}),
        )
        .unwrap();
        assert_eq!(container_row(&c, true)["Size"], "100kB");
        assert_eq!(
            go_html_escape(r#"{"a":"x<>&"}"#),
            r#"{"a":"x\u003c\u003e\u0026"}"#
        );
    }
}
