//! `berth pull`: `POST /images/create?fromImage=…`, its stream of Docker's
//! JSON messages drawn as the docker CLI draws them (a line per layer with
//! a progress bar on a terminal, plain lines otherwise; see
//! [`crate::progress`]), then the full reference. The saved login for the
//! image's registry goes along as `X-Registry-Auth`.

use std::io::IsTerminal;

use anyhow::Result;
use clap::Args;
use hyper::Method;

use super::outln;
use crate::client::{Client, Query};
use crate::progress::{render, Renderer};

/// `berth pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The image: NAME[:TAG|@DIGEST]
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub reference: String,
}

/// `busybox` → `docker.io/library/busybox:latest`, as Docker's
/// `reference.ParseNormalizedNamed` + `TagNameOnly` (for printing only; the
/// daemon checks the grammar).
pub fn normalize(reference: &str) -> String {
    let (name, suffix) = match reference.split_once('@') {
        Some((n, d)) => (n.to_string(), format!("@{d}")),
        None => {
            let (name, tag) = super::image::split_tag(reference);
            (name.to_string(), format!(":{}", tag.unwrap_or("latest")))
        }
    };
    let qualified = match name.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            name
        }
        Some(_) => format!("docker.io/{name}"),
        None => format!("docker.io/library/{name}"),
    };
    format!("{qualified}{suffix}")
}

/// Splits `NAME[:TAG|@DIGEST]` into the API's `fromImage` and `tag`.
fn split(reference: &str) -> (String, String) {
    if let Some((n, d)) = reference.split_once('@') {
        return (n.to_string(), d.to_string());
    }
    let (name, tag) = super::image::split_tag(reference);
    (name.to_string(), tag.unwrap_or("latest").to_string())
}

/// `berth pull`.
pub async fn pull(client: &Client, a: &PullArgs) -> Result<u8> {
    let (from, tag) = split(&a.reference);
    let q = Query::new()
        .add("fromImage", &from)
        .add("tag", &tag)
        .opt("platform", a.platform.as_deref().unwrap_or(""));
    if !a.quiet
        && normalize(&a.reference) == normalize(&format!("{from}:latest"))
        && !a.reference.ends_with(":latest")
    {
        outln("Using default tag: latest")?;
    }
    // The saved login for the image's registry, as the docker CLI sends it.
    let auth = crate::credentials::registry_auth(&crate::credentials::server_of(&from))?;
    let resp = client
        .send_with_auth(Method::POST, &format!("/images/create{q}"), &auth)
        .await?;
    let mut r = Renderer::new(std::io::stdout().is_terminal(), a.quiet);
    render(resp.into_body(), &mut r).await?;
    outln(normalize(&a.reference))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        for (r, full, from, tag) in [
            (
                "busybox",
                "docker.io/library/busybox:latest",
                "busybox",
                "latest",
            ),
            ("me/app:1", "docker.io/me/app:1", "me/app", "1"),
            (
                "127.0.0.1:5000/bb",
                "127.0.0.1:5000/bb:latest",
                "127.0.0.1:5000/bb",
                "latest",
            ),
            (
                "localhost/bb@sha256:abc",
                "localhost/bb@sha256:abc",
                "localhost/bb",
                "sha256:abc",
            ),
        ] {
            assert_eq!(normalize(r), full);
            assert_eq!(split(r), (from.to_string(), tag.to_string()));
        }
    }
}
