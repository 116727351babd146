//! `version`, `info` and `system check`.

use std::fmt::Write as _;

use anyhow::Result;
use models::system::{CheckReport, Info, Version};
use serde_json::Value;

use super::{out, outln, Status};
use crate::client::{self, Client};
use crate::template::Template;

/// Renders `value` through a `--format` template (docker's `version` and
/// `info` formats), or `None` without one.
fn formatted(format: Option<&str>, value: &Value) -> Result<Option<String>> {
    let Some(f) = format.filter(|f| !f.is_empty()) else {
        return Ok(None);
    };
    let f = if f == "json" { "{{json .}}" } else { f };
    let t =
        Template::parse(f).map_err(|e| Status::exit(1, format!("template parsing error: {e}")))?;
    let text = t
        .render(value)
        .map_err(|e| Status::exit(1, format!("template: {e}")))?;
    Ok(Some(text))
}

/// `berth version`: the client's part first, so that it shows even when
/// the daemon cannot be reached. A `--format` sees `.Client` and
/// `.Server` (the daemon's `/version`), as docker's does.
pub async fn version(client: &Client, format: Option<&str>) -> Result<u8> {
    if format.is_some() {
        let client_info = serde_json::json!({
            "Version": env!("CARGO_PKG_VERSION"),
            "ApiVersion": client::API_VERSION,
            "Os": std::env::consts::OS,
            "Arch": std::env::consts::ARCH,
        });
        let server: Version = client.get("/version").await?;
        // The template's data: serialized here, for the template only.
        let all = serde_json::json!({"Client": client_info, "Server": server});
        if let Some(text) = formatted(format, &all)? {
            outln(text)?;
        }
        return Ok(0);
    }
    outln(format!(
        "Client:\n Version:\t{}\n API version:\t{}",
        env!("CARGO_PKG_VERSION"),
        client::API_VERSION
    ))?;
    let v: Version = client.get("/version").await?;
    let mut text = String::new();
    let platform = match v.platform.name.as_str() {
        "" => "berth",
        n => n,
    };
    writeln!(text, "\nServer: {platform}")?;
    writeln!(text, " Version:\t{}", v.version)?;
    writeln!(
        text,
        " API version:\t{} (minimum version {})",
        v.api_version, v.min_api_version
    )?;
    writeln!(text, " OS/Arch:\t{}/{}", v.os, v.arch)?;
    writeln!(text, " Kernel:\t{}", v.kernel_version)?;
    out(&text)?;
    Ok(0)
}

/// `berth info`; a `--format` sees the daemon's `/info`.
pub async fn info(client: &Client, format: Option<&str>) -> Result<u8> {
    let i: Info = client.get("/info").await?;
    if format.is_some_and(|f| !f.is_empty()) {
        // The template's data: serialized here, for the template only.
        let v = serde_json::to_value(&i)?;
        if let Some(text) = formatted(format, &v)? {
            outln(text)?;
        }
        return Ok(0);
    }
    let mut text = String::new();
    writeln!(text, "Containers: {}", i.containers)?;
    writeln!(
        text,
        " Running: {}\n Paused: {}\n Stopped: {}",
        i.containers_running, i.containers_paused, i.containers_stopped
    )?;
    writeln!(text, "Images: {}", i.images)?;
    for (label, v) in [
        ("Server Version", &i.server_version),
        ("Storage Driver", &i.driver),
        ("Cgroup Driver", &i.cgroup_driver),
        ("Cgroup Version", &i.cgroup_version),
        ("Kernel Version", &i.kernel_version),
        ("Operating System", &i.operating_system),
        ("Architecture", &i.architecture),
        ("Berth Root Dir", &i.docker_root_dir),
        ("Name", &i.name),
        ("ID", &i.id),
    ] {
        writeln!(text, "{label}: {v}")?;
    }
    writeln!(text, "CPUs: {}\nTotal Memory: {}", i.ncpu, i.mem_total)?;
    out(&text)?;
    Ok(0)
}

/// `berth system check`: exit 1 and a line a problem when any blob or
/// image is damaged.
pub async fn check(client: &Client) -> Result<u8> {
    let (_, body) = client
        .request(hyper::Method::POST, "/berth/system/check")
        .await?;
    let problems = models::de::from_slice::<CheckReport>(&body)?.problems;
    for p in &problems {
        outln(p)?;
    }
    if !problems.is_empty() {
        return Ok(1);
    }
    outln("ok")?;
    Ok(0)
}
