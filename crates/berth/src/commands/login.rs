//! `berth login` and `logout`, and the credentials `pull` sends.
//!
//! Credentials live where the docker CLI keeps them, in the `auths` of
//! `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`), so that a
//! `docker login` serves `berth pull` and the other way round. Like the
//! docker CLI without a credential helper, the password is stored base64
//! encoded, not encrypted: the file is written with mode 0600, and the
//! other keys of the file are kept as they were. Credential helpers
//! (`credsStore`, `credHelpers`) are not run.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use base64::Engine as _;
use clap::Args;
use hyper::Method;
use serde_json::{json, Value};

use super::{outln, Status};
use crate::client::Client;

/// The key Docker Hub's credentials are stored under.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";
/// Largest config file read.
const MAX_CONFIG: u64 = 4 << 20;

/// `berth login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Username
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// The registry (Docker Hub when omitted)
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

/// `berth logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry (Docker Hub when omitted)
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

fn config_path() -> PathBuf {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".docker")
        });
    dir.join("config.json")
}

fn read_config() -> Result<Value> {
    let path = config_path();
    match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(json!({})),
        Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
        Ok(m) if m.len() > MAX_CONFIG => {
            anyhow::bail!("{} is larger than {MAX_CONFIG} bytes", path.display())
        }
        Ok(_) => {}
    }
    let text = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("parse {}", path.display()))
}

/// Writes the config through a temporary file and a rename, mode 0600.
fn write_config(config: &Value) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = config_path();
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let tmp = dir.join(format!(".config.json.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("write {}", tmp.display()))?;
    f.write_all(serde_json::to_string_pretty(config)?.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path).with_context(|| format!("write {}", path.display()))
}

/// `host[:port]` of a server as given (`https://…/`, `docker.io`…); Docker
/// Hub's key for Docker Hub.
fn server_key(server: Option<&str>) -> String {
    let s = server.unwrap_or("").trim();
    let host = s
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("");
    match host {
        "" | "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_KEY.into(),
        h => h.to_string(),
    }
}

/// The registry part of an image reference (`docker.io` when none).
fn registry_of(reference: &str) -> String {
    match reference.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            server_key(Some(first))
        }
        _ => DOCKER_HUB_KEY.into(),
    }
}

/// The `X-Registry-Auth` header for pulling `reference`: the stored
/// credentials of its registry, or none.
pub fn registry_auth(reference: &str) -> Option<String> {
    let key = registry_of(reference);
    let config = read_config().ok()?;
    let auths = config["auths"].as_object()?;
    let entry = auths
        .iter()
        .find(|(k, _)| server_key(Some(k)) == key)
        .map(|(_, v)| v)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(entry["auth"].as_str()?)
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    let body = json!({"username": user, "password": password, "serveraddress": key});
    Some(base64::engine::general_purpose::URL_SAFE.encode(body.to_string()))
}

fn prompt(what: &str) -> Result<String> {
    super::out(what)?;
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// `berth login`: checks the credentials through the daemon (`POST /auth`),
/// then stores them.
pub async fn login(client: &Client, a: &LoginArgs) -> Result<u8> {
    let key = server_key(a.server.as_deref());
    let username = match &a.username {
        Some(u) => u.clone(),
        None if std::io::stdin().is_terminal() => prompt("Username: ")?,
        None => {
            return Err(Status::exit(
                1,
                "Must provide --username with --password-stdin",
            ))
        }
    };
    let password = if a.password_stdin {
        let mut p = String::new();
        std::io::stdin().lock().read_line(&mut p)?;
        p.trim_end_matches(['\r', '\n']).to_string()
    } else if let Some(p) = &a.password {
        p.clone()
    } else if std::io::stdin().is_terminal() {
        // No echo while the password is typed (stty on the terminal that is
        // our stdin), echo back afterwards whatever happened.
        let stty = |arg: &str| {
            std::process::Command::new("stty")
                .arg(arg)
                .stdin(std::process::Stdio::inherit())
                .status()
        };
        let _ = stty("-echo");
        let p = prompt("Password: ");
        let _ = stty("echo");
        outln("")?;
        p?
    } else {
        return Err(Status::exit(
            1,
            "Error: Cannot perform an interactive login from a non TTY device",
        ));
    };
    if username.is_empty() || password.is_empty() {
        return Err(Status::exit(1, "Error: Username and password are required"));
    }
    let body = json!({"username": username, "password": password, "serveraddress": key});
    client
        .request(Method::POST, "/auth", Some(body))
        .await
        .map_err(|e| Status::exit(1, e.to_string()))?;
    let mut config = read_config()?;
    if !config.is_object() {
        config = json!({});
    }
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    config["auths"][&key] = json!({ "auth": auth });
    write_config(&config)?;
    outln("Login Succeeded")?;
    Ok(0)
}

/// `berth logout`: forgets a registry's credentials.
pub async fn logout(_client: &Client, a: &LogoutArgs) -> Result<u8> {
    let key = server_key(a.server.as_deref());
    let mut config = read_config()?;
    let removed = config["auths"]
        .as_object_mut()
        .map(|auths| {
            let keys: Vec<String> = auths
                .keys()
                .filter(|k| server_key(Some(k)) == key)
                .cloned()
                .collect();
            for k in &keys {
                auths.remove(k);
            }
            !keys.is_empty()
        })
        .unwrap_or(false);
    if removed {
        write_config(&config)?;
        outln(format!("Removing login credentials for {key}"))?;
    } else {
        outln(format!("Not logged in to {key}"))?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for (s, want) in [
            (None, DOCKER_HUB_KEY),
            (Some("docker.io"), DOCKER_HUB_KEY),
            (Some("https://index.docker.io/v1/"), DOCKER_HUB_KEY),
            (Some("127.0.0.1:5000"), "127.0.0.1:5000"),
            (Some("http://127.0.0.1:5000/"), "127.0.0.1:5000"),
        ] {
            assert_eq!(server_key(s), want, "{s:?}");
        }
        assert_eq!(registry_of("busybox"), DOCKER_HUB_KEY);
        assert_eq!(registry_of("me/app:1"), DOCKER_HUB_KEY);
        assert_eq!(registry_of("127.0.0.1:5000/bb"), "127.0.0.1:5000");
        assert_eq!(registry_of("localhost/bb"), "localhost");
    }
}
