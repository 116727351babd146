//! `version`, `info` and `system check`.

use std::fmt::Write as _;

use anyhow::Result;
use serde_json::Value;

use super::{out, outln};
use crate::client::{self, Client};

/// `berth version`: the client's part first, so that it shows even when
/// the daemon cannot be reached.
pub async fn version(client: &Client) -> Result<u8> {
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

/// `berth info`.
pub async fn info(client: &Client) -> Result<u8> {
    let i: Value = client.get("/info").await?;
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
