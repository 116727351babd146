//! A container's filesystem: `diff` (what changed in it), `commit` (its
//! changes as a new image) and `export` (all of it as a tar), as docker's
//! `cli/command/container/{diff,commit,export}.go` do them.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use hyper::Method;
use models::container::Config;
use models::image::IdResponse;
use serde::Deserialize;

use super::{outln, Status};
use crate::client::{self, Client, Query};

/// `berth diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// `berth commit`.
#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long, value_name = "string")]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change", value_name = "list")]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short = 'm', long, value_name = "string")]
    pub message: Option<String>,
    /// Pause container during commit (default true)
    // A Go bool flag: `-p` alone is true, `--pause=false` turns it off.
    #[arg(
        short = 'p',
        long,
        default_value_t = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set,
        hide_default_value = true,
    )]
    pub pause: bool,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// The new image's name
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// `berth export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long, value_name = "string")]
    pub output: Option<PathBuf>,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// One entry of `GET /containers/{id}/changes`.
#[derive(Debug, Deserialize)]
struct Change {
    #[serde(rename = "Path")]
    path: String,
    #[serde(rename = "Kind")]
    kind: u8,
}

/// The letter docker prints for a change's kind (`archive.ChangeType`).
fn kind_letter(kind: u8) -> &'static str {
    match kind {
        0 => "C",
        1 => "A",
        2 => "D",
        _ => "?",
    }
}

/// `berth diff`: a line a changed path, `C`, `A` or `D` before it, in the
/// daemon's order.
pub async fn diff(client: &Client, a: &DiffArgs) -> Result<u8> {
    let changes: Option<Vec<Change>> = client
        .get(&format!(
            "/containers/{}/changes",
            client::path(&a.container)
        ))
        .await?;
    let mut text = String::new();
    for c in changes.unwrap_or_default() {
        text.push_str(&format!("{} {}\n", kind_letter(c.kind), c.path));
    }
    super::out(&text)?;
    Ok(0)
}

/// `REPOSITORY[:TAG]` as docker's client sends it: the tag split off after
/// the last `/`, `latest` when there is none; a digest is refused.
fn commit_reference(r: &str) -> Result<(String, String)> {
    if r.contains('@') {
        return Err(Status::exit(
            1,
            "refusing to create a tag with a digest reference",
        ));
    }
    let (name, tag) = super::image::split_tag(r);
    Ok((name.to_string(), tag.unwrap_or("latest").to_string()))
}

/// `berth commit`: prints the new image's ID (`sha256:…`).
pub async fn commit(client: &Client, a: &CommitArgs) -> Result<u8> {
    let mut q = Query::new().add("container", &a.container);
    if let Some(r) = a.reference.as_deref().filter(|r| !r.is_empty()) {
        let (repo, tag) = commit_reference(r)?;
        q = q.add("repo", &repo).add("tag", &tag);
    }
    q = q
        .opt("author", a.author.as_deref().unwrap_or(""))
        .opt("comment", a.message.as_deref().unwrap_or(""))
        .add("pause", if a.pause { "1" } else { "0" });
    for c in &a.change {
        q = q.add("changes", c);
    }
    // The body is the config to merge; docker's CLI sends none (`null`).
    let (_, body) = client
        .request_json(Method::POST, &format!("/commit{q}"), &None::<Config>)
        .await?;
    let v: IdResponse = models::de::from_slice(&body)?;
    outln(&v.id)?;
    Ok(0)
}

/// `berth export`: the tar to `-o` or to a stdout that is not a terminal.
pub async fn export(client: &Client, a: &ExportArgs) -> Result<u8> {
    if a.output.is_none() && std::io::stdout().is_terminal() {
        return Err(Status::exit(
            1,
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        ));
    }
    if let Some(o) = &a.output {
        super::validate_output_path(o)
            .map_err(|e| Status::exit(1, format!("failed to export container: {e:#}")))?;
    }
    let resp = client
        .send(
            Method::GET,
            &format!("/containers/{}/export", client::path(&a.container)),
            client::full(bytes::Bytes::new()),
            "application/json",
        )
        .await?;
    super::body_to(
        resp.into_body(),
        a.output.as_deref(),
        "failed to export container",
    )
    .await?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_references_as_docker_sends_them() {
        for (r, want) in [
            ("img", ("img", "latest")),
            ("img:1", ("img", "1")),
            ("me/img:v2", ("me/img", "v2")),
            ("localhost:5000/img", ("localhost:5000/img", "latest")),
        ] {
            let (repo, tag) = commit_reference(r).unwrap();
            assert_eq!((repo.as_str(), tag.as_str()), want, "{r}");
        }
        assert!(commit_reference("img@sha256:00").is_err());
        assert_eq!(
            [0, 1, 2].map(kind_letter),
            ["C", "A", "D"],
            "archive.ChangeType"
        );
    }
}
