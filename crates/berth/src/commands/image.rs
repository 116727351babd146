//! Images: `images`, `history`, `tag`, `rmi`, `image prune`, `save`, `load`
//! and `import`, printed as docker's `ImageContext` and `HistoryContext`
//! (`cli/command/formatter/image.go`, `cli/command/image/formatter_history.go`).

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use http_body_util::BodyExt;
use hyper::Method;
use models::image::{DeleteResponse, HistoryItem, PruneReport, Summary};
use models::progress::Message;
use serde_json::{json, Value};

use super::ps::ellipsis;
use super::{filters_json, out, outln, parse_format, print_rows, short_id, Errors, Status};
use crate::client::{self, Client, Query};
use crate::units;

/// docker's default `images` table.
const IMAGES_FORMAT: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

/// docker's default `history` table.
const HISTORY_FORMAT: &str =
    "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";

/// `berth images`.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
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
    /// Only images of this repository (and tag)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// `berth history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, value_name = "bool")]
    pub human: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Format output using a custom template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// The image
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

/// `berth tag`.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// The image to tag
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub source: String,
    /// The new name
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    pub target: String,
}

/// `berth rmi`.
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long = "no-prune")]
    pub no_prune: bool,
    /// Images to remove
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// `berth image prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
}

/// `berth save`.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long, value_name = "string")]
    pub output: Option<PathBuf>,
    /// Images to save
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// `berth load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long, value_name = "string")]
    pub input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// `berth import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change", value_name = "list")]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short = 'm', long, value_name = "string")]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable (accepted)
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,
    /// A tar file, a URL, or - for STDIN
    #[arg(value_name = "file|URL|-")]
    pub source: String,
    /// The new image's name
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// `name:tag` split at the tag's colon (one after the last `/`).
pub fn split_tag(r: &str) -> (&str, Option<&str>) {
    let slash = r.rfind('/').map_or(0, |i| i + 1);
    match r[slash..].rfind(':') {
        Some(i) => (&r[..slash + i], Some(&r[slash + i + 1..])),
        None => (r, None),
    }
}

/// One row a tag (or `<none>` when untagged), as docker's `imageFormat`.
fn image_rows(img: &Summary, trunc: bool, filter: Option<&str>) -> Vec<Value> {
    let id = img.id.as_str();
    let created = img.created;
    let tags = img.repo_tags.as_deref().unwrap_or_default();
    let digests = img.repo_digests.as_deref().unwrap_or_default();
    let base = |repo: &str, tag: &str, digest: &str| {
        json!({
            "ID": if trunc { short_id(id) } else { id.to_string() },
            "Repository": repo, "Tag": tag, "Digest": digest,
            "CreatedSince": units::ago(created),
            "CreatedAt": units::go_time_string(created),
            "Size": units::human_size_precision(img.size as f64, 3),
            "VirtualSize": units::human_size_precision(img.size as f64, 3),
            "SharedSize": units::human_size_precision(img.shared_size as f64, 3),
            "Containers": "N/A",
        })
    };
    let mut rows = Vec::new();
    let tagged: Vec<&String> = tags.iter().filter(|t| *t != "<none>:<none>").collect();
    for t in &tagged {
        let (repo, tag) = split_tag(t);
        let tag = tag.unwrap_or("<none>");
        if let Some(f) = filter {
            let (frepo, ftag) = split_tag(f);
            if frepo != repo || ftag.is_some_and(|ft| ft != tag) {
                continue;
            }
        }
        let digest = digests
            .iter()
            .find_map(|d| d.strip_prefix(&format!("{repo}@")))
            .unwrap_or("<none>");
        rows.push(base(repo, tag, digest));
    }
    if tagged.is_empty() && filter.is_none() {
        match digests.first().and_then(|d| d.split_once('@')) {
            Some((repo, digest)) => rows.push(base(repo, "<none>", digest)),
            None => rows.push(base("<none>", "<none>", "<none>")),
        }
    }
    rows
}

/// `berth images`.
pub async fn images(client: &Client, a: &ImagesArgs) -> Result<u8> {
    let default = if a.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        IMAGES_FORMAT
    };
    let format_text = match (&a.format, a.quiet) {
        (Some(f), _) if !f.is_empty() && f != "table" => f.as_str(),
        (_, true) => "{{.ID}}",
        _ => default,
    };
    let format = parse_format(format_text)?;
    let q = Query::new().flag("all", a.all).opt(
        "filters",
        &if a.filter.is_empty() {
            String::new()
        } else {
            filters_json(&a.filter)?
        },
    );
    let list: Vec<Summary> = client.get(&format!("/images/json{q}")).await?;
    let rows: Vec<Value> = list
        .iter()
        .flat_map(|i| image_rows(i, !a.no_trunc, a.reference.as_deref()))
        .collect();
    let headers = json!({
        "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
        "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
        "VirtualSize": "SIZE", "SharedSize": "SHARED SIZE", "Containers": "CONTAINERS",
    });
    print_rows(&format, &headers, &rows)?;
    Ok(0)
}

/// `berth history`.
pub async fn history(client: &Client, a: &HistoryArgs) -> Result<u8> {
    let format_text = match (&a.format, a.quiet) {
        (Some(f), _) if !f.is_empty() && f != "table" => f.as_str(),
        (_, true) => "{{.ID}}",
        _ => HISTORY_FORMAT,
    };
    let format = parse_format(format_text)?;
    let list: Vec<HistoryItem> = client
        .get(&format!("/images/{}/history", client::path(&a.image)))
        .await?;
    let rows: Vec<Value> = list
        .iter()
        .map(|h| {
            let id = h.id.as_str();
            let created = h.created;
            let by = h.created_by.replace('\t', " ");
            let size = h.size;
            json!({
                "ID": if a.no_trunc || id == "<missing>" { id.to_string() } else { short_id(id) },
                "CreatedSince": if a.human { units::ago(created) } else { units::go_time_string(created) },
                "CreatedAt": units::go_time_string(created),
                "CreatedBy": if a.no_trunc { by } else { ellipsis(&by, 45) },
                "Size": if a.human { units::human_size_precision(size as f64, 3) } else { size.to_string() },
                "Comment": h.comment,
            })
        })
        .collect();
    let headers = json!({
        "ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
        "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT",
    });
    print_rows(&format, &headers, &rows)?;
    Ok(0)
}

/// `berth tag`.
pub async fn tag(client: &Client, a: &TagArgs) -> Result<u8> {
    let (repo, tag) = split_tag(&a.target);
    let q = Query::new()
        .add("repo", repo)
        .add("tag", tag.unwrap_or("latest"));
    client
        .post(&format!("/images/{}/tag{q}", client::path(&a.source)))
        .await?;
    Ok(0)
}

/// `berth rmi`: what each removal untagged and deleted.
pub async fn rmi(client: &Client, a: &RmiArgs) -> Result<u8> {
    let q = Query::new()
        .flag("force", a.force)
        .flag("noprune", a.no_prune);
    let mut errs = Errors::default();
    for name in &a.images {
        match client
            .request(
                Method::DELETE,
                &format!("/images/{}{q}", client::path(name)),
            )
            .await
        {
            Ok((_, body)) => {
                let items: Vec<DeleteResponse> = models::de::from_slice(&body).unwrap_or_default();
                for i in items {
                    if !i.untagged.is_empty() {
                        outln(format!("Untagged: {}", i.untagged))?;
                    }
                    if !i.deleted.is_empty() {
                        outln(format!("Deleted: {}", i.deleted))?;
                    }
                }
            }
            Err(e) => errs.push(e),
        }
    }
    errs.finish()
}

/// `berth image prune`: asks first unless `-f`, as docker does.
pub async fn prune(client: &Client, a: &PruneArgs) -> Result<u8> {
    if !a.force {
        let warning = if a.all {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        };
        if !super::confirm(warning)? {
            return Ok(0);
        }
    }
    let mut filters = a.filter.clone();
    if a.all {
        filters.push("dangling=false".into());
    }
    let q = Query::new().opt(
        "filters",
        &if filters.is_empty() {
            String::new()
        } else {
            filters_json(&filters)?
        },
    );
    let (_, body) = client
        .request(Method::POST, &format!("/images/prune{q}"))
        .await?;
    let report: PruneReport = models::de::from_slice(&body)?;
    let deleted = report.images_deleted.unwrap_or_default();
    if !deleted.is_empty() {
        let mut text = String::from("Deleted Images:\n");
        for d in &deleted {
            if !d.untagged.is_empty() {
                text.push_str(&format!("untagged: {}\n", d.untagged));
            }
            if !d.deleted.is_empty() {
                text.push_str(&format!("deleted: {}\n", d.deleted));
            }
        }
        outln(text)?;
    }
    outln(format!(
        "Total reclaimed space: {}",
        units::human_size(report.space_reclaimed as f64)
    ))?;
    Ok(0)
}

/// `berth save`: the archive to a file or to a stdout that is not a
/// terminal.
pub async fn save(client: &Client, a: &SaveArgs) -> Result<u8> {
    if a.output.is_none() && std::io::stdout().is_terminal() {
        return Err(Status::exit(
            1,
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        ));
    }
    let mut q = Query::new();
    for i in &a.images {
        q = q.add("names", i);
    }
    let resp = client
        .send(
            Method::GET,
            &format!("/images/get{q}"),
            client::full(bytes::Bytes::new()),
            "application/json",
        )
        .await?;
    super::body_to(
        resp.into_body(),
        a.output.as_deref(),
        "failed to save image",
    )
    .await?;
    Ok(0)
}

/// Prints a stream of Docker's JSON messages (`{"stream"}`, `{"status"}`),
/// failing on an `{"error"}`.
fn print_messages(body: &[u8]) -> Result<()> {
    for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: Message = models::de::from_slice(line).unwrap_or_default();
        let detail = v.error_detail.map(|d| d.message).unwrap_or_default();
        if let Some(e) = [detail, v.error].into_iter().find(|e| !e.is_empty()) {
            return Err(Status::exit(1, e));
        }
        if !v.stream.is_empty() {
            out(&v.stream)?;
        } else if !v.status.is_empty() {
            outln(&v.status)?;
        }
    }
    Ok(())
}

/// `berth load`: from `-i` or from a stdin that is not a terminal.
pub async fn load(client: &Client, a: &LoadArgs) -> Result<u8> {
    let body = match &a.input {
        Some(p) => client::reader_body(
            std::fs::File::open(p).with_context(|| format!("open {}", p.display()))?,
        ),
        None => {
            if std::io::stdin().is_terminal() {
                return Err(Status::exit(
                    1,
                    "requested load from stdin, but stdin is empty",
                ));
            }
            client::reader_body(std::io::stdin())
        }
    };
    let q = Query::new().flag("quiet", a.quiet);
    let resp = client
        .send(
            Method::POST,
            &format!("/images/load{q}"),
            body,
            "application/x-tar",
        )
        .await?;
    let bytes = resp.into_body().collect().await?.to_bytes();
    print_messages(&bytes)?;
    Ok(0)
}

/// `berth import`: a tar file (or `-`, stdin) as a one-layer image; a URL
/// is passed to the daemon to fetch.
pub async fn import(client: &Client, a: &ImportArgs) -> Result<u8> {
    let mut q = Query::new();
    let body = if a.source == "-" {
        q = q.add("fromSrc", "-");
        client::reader_body(std::io::stdin())
    } else if a.source.starts_with("http://") || a.source.starts_with("https://") {
        q = q.add("fromSrc", &a.source);
        client::full(bytes::Bytes::new())
    } else {
        q = q.add("fromSrc", "-");
        let f = std::fs::File::open(&a.source).with_context(|| format!("open {}", a.source))?;
        client::reader_body(f)
    };
    q = q
        .opt("repo", a.reference.as_deref().unwrap_or(""))
        .opt("message", a.message.as_deref().unwrap_or(""))
        .opt("platform", a.platform.as_deref().unwrap_or(""));
    for c in &a.change {
        q = q.add("changes", c);
    }
    let resp = client
        .send(
            Method::POST,
            &format!("/images/create{q}"),
            body,
            "application/x-tar",
        )
        .await?;
    let bytes = resp.into_body().collect().await?.to_bytes();
    print_messages(&bytes)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_split_after_the_last_slash() {
        assert_eq!(split_tag("busybox"), ("busybox", None));
        assert_eq!(split_tag("busybox:1"), ("busybox", Some("1")));
        assert_eq!(
            split_tag("localhost:5000/a/b"),
            ("localhost:5000/a/b", None)
        );
        assert_eq!(
            split_tag("localhost:5000/a:v2"),
            ("localhost:5000/a", Some("v2"))
        );
    }

    #[test]
    fn a_row_a_tag_and_none_when_untagged() {
        let img: Summary = models::de::from_value(
            json!({"Id": "sha256:0123456789abcdef", "RepoTags": ["a:1", "b:latest"],
            "RepoDigests": [], "Created": 0, "Size": 4_100_000}),
        )
        .unwrap();
        let rows = image_rows(&img, true, None);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["Repository"], "a");
        assert_eq!(rows[0]["Tag"], "1");
        assert_eq!(rows[0]["ID"], "0123456789ab");
        assert_eq!(rows[0]["Size"], "4.1MB");
        assert_eq!(image_rows(&img, true, Some("b")).len(), 1);
        assert_eq!(image_rows(&img, true, Some("a:2")).len(), 0);
        let none: Summary = models::de::from_value(
            json!({"Id": "sha256:ff", "RepoTags": [], "Created": 0, "Size": 0}),
        )
        .unwrap();
        let rows = image_rows(&none, false, None);
        assert_eq!(
            (rows[0]["Repository"].as_str(), rows[0]["ID"].as_str()),
            (Some("<none>"), Some("sha256:ff"))
        );
    }
}
