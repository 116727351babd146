//! `berth system df`: disk usage from `GET /system/df`, as docker's
//! `DiskUsageContext` prints it (`cli/command/formatter/disk_usage.go`): a
//! summary row a type, or with `-v` a table a type. Sizes are go-units'
//! decimal ones (`HumanSize`, four significant digits, except where docker
//! uses three).

use anyhow::Result;
use clap::Args;
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

fn list<'a>(du: &'a Value, key: &str) -> &'a [Value] {
    du[key].as_array().map_or(&[], Vec::as_slice)
}

fn int(v: &Value, key: &str) -> i64 {
    v[key].as_i64().unwrap_or(0)
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
fn summary_rows(du: &Value) -> Vec<Value> {
    let images = list(du, "Images");
    let layers = int(du, "LayersSize");
    // What images with containers hold uniquely cannot be reclaimed.
    let used: i64 = images
        .iter()
        .filter(|i| int(i, "Containers") != 0 && int(i, "Size") != -1 && int(i, "SharedSize") != -1)
        .map(|i| int(i, "Size") - int(i, "SharedSize"))
        .sum();
    let image_row = summary(
        "Images",
        images.len(),
        images.iter().filter(|i| int(i, "Containers") > 0).count(),
        layers,
        reclaimable(layers - used, layers),
    );

    let containers = list(du, "Containers");
    let active = |c: &Value| {
        let s = c["State"].as_str().unwrap_or_default();
        s.contains("running") || s.contains("paused") || s.contains("restarting")
    };
    let rw: i64 = containers.iter().map(|c| int(c, "SizeRw")).sum();
    let idle_rw: i64 = containers
        .iter()
        .filter(|c| !active(c))
        .map(|c| int(c, "SizeRw"))
        .sum();
    let container_row = summary(
        "Containers",
        containers.len(),
        containers.iter().filter(|c| active(c)).count(),
        rw,
        reclaimable(idle_rw, rw),
    );

    let volumes = list(du, "Volumes");
    let usage = |v: &Value, k: &str| v["UsageData"][k].as_i64().unwrap_or(-1);
    let sized = || volumes.iter().filter(|v| usage(v, "Size") != -1);
    let volume_size: i64 = sized().map(|v| usage(v, "Size")).sum();
    let unused: i64 = sized()
        .filter(|v| usage(v, "RefCount") == 0)
        .map(|v| usage(v, "Size"))
        .sum();
    let volume_row = summary(
        "Local Volumes",
        volumes.len(),
        volumes.iter().filter(|v| usage(v, "RefCount") > 0).count(),
        volume_size,
        reclaimable(unused, volume_size),
    );

    let cache = list(du, "BuildCache");
    let flag = |b: &Value, k: &str| b[k].as_bool().unwrap_or(false);
    let own = || cache.iter().filter(|b| !flag(b, "Shared"));
    let cache_row = summary(
        "Build Cache",
        cache.len(),
        cache.iter().filter(|b| flag(b, "InUse")).count(),
        own().map(|b| int(b, "Size")).sum(),
        // docker gives no percentage here.
        human_size(
            own()
                .filter(|b| !flag(b, "InUse"))
                .map(|b| int(b, "Size"))
                .sum::<i64>() as f64,
        ),
    );
    vec![image_row, container_row, volume_row, cache_row]
}

/// An image of `-v`: its first tag only, as docker's `verboseWrite`.
fn image_row(i: &Value, trunc: bool) -> Value {
    let first = i["RepoTags"][0].as_str().filter(|t| *t != "<none>:<none>");
    let (repo, tag) = match first.map(super::image::split_tag) {
        Some((repo, Some(tag))) => (repo, tag),
        _ => ("<none>", "<none>"),
    };
    let id = i["Id"].as_str().unwrap_or_default();
    let (size, shared) = (int(i, "Size"), int(i, "SharedSize"));
    let created = int(i, "Created");
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
        "Containers": count(int(i, "Containers")),
    })
}

/// A container of `-v`: `ps`'s row without the virtual size.
fn container_row(c: &Value, trunc: bool) -> Value {
    let mut c = c.clone();
    c["SizeRootFs"] = json!(0);
    super::ps::row(&c, trunc)
}

fn volume_row(v: &Value) -> Value {
    let u = &v["UsageData"];
    json!({
        "Name": v["Name"].as_str().unwrap_or_default(),
        "Links": if u.is_object() { u["RefCount"].as_i64().unwrap_or(0).to_string() } else { "N/A".into() },
        "Size": match u["Size"].as_i64() {
            Some(s) if s != -1 => human_size(s as f64),
            _ => "N/A".into(),
        },
    })
}

/// `HumanDuration(now - t) + " ago"` of an RFC 3339 time.
fn since(t: &Value) -> String {
    t.as_str()
        .and_then(units::parse_rfc3339)
        .map(|s| {
            #[allow(clippy::cast_possible_truncation)]
            units::ago(s as i64)
        })
        .unwrap_or_default()
}

fn build_cache_row(b: &Value, trunc: bool) -> Value {
    let id = b["ID"].as_str().unwrap_or_default();
    let mut id = if trunc { short_id(id) } else { id.to_string() };
    let flag = |k: &str| b[k].as_bool().unwrap_or(false);
    if flag("InUse") {
        id.push('*');
    }
    json!({
        "ID": id, "CacheType": b["Type"].as_str().unwrap_or_default(),
        "Size": human_size_precision(int(b, "Size") as f64, 3),
        "CreatedSince": since(&b["CreatedAt"]), "LastUsedSince": since(&b["LastUsedAt"]),
        "UsageCount": int(b, "UsageCount").to_string(),
        "Shared": flag("Shared").to_string(), "InUse": flag("InUse").to_string(),
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
    let du: Value = client.get("/system/df").await?;
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
fn verbose(du: &Value, format: &str) -> Result<u8> {
    let trunc = format.starts_with("table");
    let images: Vec<Value> = list(du, "Images")
        .iter()
        .map(|i| image_row(i, trunc))
        .collect();
    let containers: Vec<Value> = list(du, "Containers")
        .iter()
        .map(|c| container_row(c, trunc))
        .collect();
    let volumes: Vec<Value> = list(du, "Volumes").iter().map(volume_row).collect();
    let cache = build_cache_sorted(list(du, "BuildCache"));
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
    let builder: i64 = list(du, "BuildCache")
        .iter()
        .filter(|b| !b["Shared"].as_bool().unwrap_or(false))
        .map(|b| int(b, "Size"))
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
fn build_cache_sorted(cache: &[Value]) -> Vec<Value> {
    let mut sorted = cache.to_vec();
    let last_used = |b: &Value| b["LastUsedAt"].as_str().and_then(units::parse_rfc3339);
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
        let du = json!({
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
        });
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
        let i = json!({"Id": "sha256:0123456789abcdef", "RepoTags": ["me/a:1", "b:2"],
            "Size": 1_982_357, "SharedSize": 0, "Containers": 2, "Created": 0});
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
            &json!({"Id": "sha256:ff", "RepoTags": ["<none>:<none>"]}),
            false,
        );
        assert_eq!(
            (&none["Repository"], &none["ID"]),
            (&json!("<none>"), &json!("sha256:ff"))
        );
        let c = json!({"Id": "0123456789abcdef", "Names": ["/x"], "Command": "a<b",
            "SizeRw": 100_000, "SizeRootFs": 2_000_000, "Created": 0});
        assert_eq!(container_row(&c, true)["Size"], "100kB");
        assert_eq!(
            go_html_escape(r#"{"a":"x<>&"}"#),
            r#"{"a":"x\u003c\u003e\u0026"}"#
        );
    }
}
