//! `berth pull`: `POST /images/create?fromImage=…`, its stream of Docker's
//! JSON messages printed as the docker CLI prints them without a terminal
//! (one line per step and layer; `Downloading` progress only on a
//! terminal, overwritten in place), then the full reference.

use std::io::IsTerminal;

use anyhow::Result;
use clap::Args;
use http_body_util::BodyExt;
use hyper::Method;
use serde_json::Value;

use super::{out, outln, Status};
use crate::client::{self, Client, Query};

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
            let slash = reference.rfind('/').map_or(0, |i| i + 1);
            match reference[slash..].rfind(':') {
                Some(i) => (
                    reference[..slash + i].to_string(),
                    reference[slash + i..].to_string(),
                ),
                None => (reference.to_string(), ":latest".to_string()),
            }
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
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[slash..].rfind(':') {
        Some(i) => (
            reference[..slash + i].to_string(),
            reference[slash + i + 1..].to_string(),
        ),
        None => (reference.to_string(), "latest".to_string()),
    }
}

/// Renders one message; returns an error for `{"error"}`.
fn show(v: &Value, quiet: bool, tty: bool) -> Result<()> {
    if let Some(e) = v["errorDetail"]["message"].as_str().or(v["error"].as_str()) {
        return Err(Status::exit(1, e.to_string()));
    }
    if quiet {
        return Ok(());
    }
    let status = v["status"].as_str().unwrap_or("");
    let line = match v["id"].as_str() {
        Some(id) => format!("{id}: {status}"),
        None => status.to_string(),
    };
    let detail = &v["progressDetail"];
    match (detail["current"].as_u64(), detail["total"].as_u64()) {
        (Some(cur), Some(total)) if status == "Downloading" || status == "Extracting" => {
            if tty {
                out(&format!(
                    "\r\x1b[2K{line} {}/{}",
                    crate::units::human_size(cur as f64),
                    crate::units::human_size(total as f64)
                ))?;
            }
            Ok(())
        }
        _ => {
            if tty {
                out("\r\x1b[2K")?;
            }
            outln(line)
        }
    }
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
    // The credentials `login` stored for the image's registry, if any.
    let auth: Vec<(&str, String)> = super::login::registry_auth(&a.reference)
        .map(|h| vec![("X-Registry-Auth", h)])
        .unwrap_or_default();
    let resp = client
        .send_with(
            Method::POST,
            &format!("/images/create{q}"),
            client::full(bytes::Bytes::new()),
            "text/plain",
            &auth,
        )
        .await?;
    let tty = std::io::stdout().is_terminal();
    let mut body = resp.into_body();
    let mut pending: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        pending.extend_from_slice(data);
        while let Some(i) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            if let Ok(v) = serde_json::from_slice::<Value>(&line) {
                show(&v, a.quiet, tty)?;
            }
        }
    }
    if let Ok(v) = serde_json::from_slice::<Value>(&pending) {
        show(&v, a.quiet, tty)?;
    }
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
