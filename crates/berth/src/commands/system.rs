//! `version`, `info` and `system check`.

use std::fmt::Write as _;

use anyhow::Result;
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
        let server: Value = client.get("/version").await?;
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
    let v: Value = client.get("/version").await?;
    let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
    let mut text = String::new();
    writeln!(
        text,
        "\nServer: {}",
        v["Platform"]["Name"].as_str().unwrap_or("berth")
    )?;
    writeln!(text, " Version:\t{}", s("Version"))?;
    writeln!(
        text,
        " API version:\t{} (minimum version {})",
        s("ApiVersion"),
        s("MinAPIVersion")
    )?;
    writeln!(text, " OS/Arch:\t{}/{}", s("Os"), s("Arch"))?;
    writeln!(text, " Kernel:\t{}", s("KernelVersion"))?;
    out(&text)?;
    Ok(0)
}

/// `berth info`; a `--format` sees the daemon's `/info`.
pub async fn info(client: &Client, format: Option<&str>) -> Result<u8> {
    let i: Value = client.get("/info").await?;
    if let Some(text) = formatted(format, &i)? {
        outln(text)?;
        return Ok(0);
    }
    let mut text = String::new();
    writeln!(text, "Containers: {}", i["Containers"])?;
    writeln!(
        text,
        " Running: {}\n Paused: {}\n Stopped: {}",
        i["ContainersRunning"], i["ContainersPaused"], i["ContainersStopped"]
    )?;
    writeln!(text, "Images: {}", i["Images"])?;
    for (label, key) in [
        ("Server Version", "ServerVersion"),
        ("Storage Driver", "Driver"),
        ("Cgroup Driver", "CgroupDriver"),
        ("Cgroup Version", "CgroupVersion"),
        ("Kernel Version", "KernelVersion"),
        ("Operating System", "OperatingSystem"),
        ("Architecture", "Architecture"),
        ("Berth Root Dir", "DockerRootDir"),
        ("Name", "Name"),
        ("ID", "ID"),
    ] {
        let v = i[key]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| i[key].to_string());
        writeln!(text, "{label}: {v}")?;
    }
    writeln!(text, "CPUs: {}\nTotal Memory: {}", i["NCPU"], i["MemTotal"])?;
    out(&text)?;
    Ok(0)
}

/// `berth system check`: exit 1 and a line a problem when any blob or
/// image is damaged.
pub async fn check(client: &Client) -> Result<u8> {
    let (_, body) = client
        .request(hyper::Method::POST, "/berth/system/check", None)
        .await?;
    let v: Value = serde_json::from_slice(&body)?;
    let problems = v["Problems"].as_array().cloned().unwrap_or_default();
    for p in &problems {
        outln(p.as_str().unwrap_or_default())?;
    }
    if !problems.is_empty() {
        return Ok(1);
    }
    outln("ok")?;
    Ok(0)
}
