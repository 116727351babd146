//! Registry logins, kept where and as the docker CLI keeps them, so that the
//! two tools share them: `$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`, with `auths.<server>.auth` the base64 of
//! `user:password`; or, when `credHelpers.<server>` or `credsStore` names a
//! helper, `docker-credential-<helper> store|get|erase` with the server on
//! stdin (docker's credential-helper protocol,
//! <https://github.com/docker/docker-credential-helpers>). Other keys of the
//! file are kept as they are.
//!
//! And what the CLI sends the daemon from them: the `X-Registry-Auth`
//! header, base64url JSON of `{username, password, serveraddress}`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use serde_json::{json, Value};

/// Docker Hub's server as the docker CLI names it in `config.json`.
pub const DOCKER_HUB: &str = "https://index.docker.io/v1/";

/// A login.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Login {
    /// User name.
    pub username: String,
    /// Password (or, with user `<token>`, an identity token).
    pub password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The directory of `config.json`.
pub fn config_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| anyhow!("neither DOCKER_CONFIG nor HOME is set"))?;
    Ok(PathBuf::from(home).join(".docker"))
}

/// The key a registry's login is kept under: Docker Hub's URL for
/// `docker.io` and its aliases, else the host (`127.0.0.1:5000`), a URL's
/// scheme and path dropped, as the docker CLI does.
pub fn server_key(server: &str) -> String {
    let host = server
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = host.split('/').next().unwrap_or(host);
    match host {
        "" | "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.into(),
        h => h.to_string(),
    }
}

/// The registry a reference names (`127.0.0.1:5000/bb:1` → `127.0.0.1:5000`,
/// `busybox` → Docker Hub).
pub fn server_of(reference: &str) -> String {
    match reference.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            server_key(first)
        }
        _ => DOCKER_HUB.into(),
    }
}

fn read_config() -> Result<(PathBuf, Value)> {
    let path = config_dir()?.join("config.json");
    let v = match std::fs::read(&path) {
        Ok(b) if !b.iter().all(u8::is_ascii_whitespace) => serde_json::from_slice(&b)
            .with_context(|| format!("loading config file {}", path.display()))?,
        Ok(_) => json!({}),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if !v.is_object() {
        bail!("{}: not a JSON object", path.display());
    }
    Ok((path, v))
}

/// Writes the file whole and atomically, readable by its owner only (it
/// may hold passwords), as the docker CLI does.
fn write_config(path: &PathBuf, v: &Value) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(".config.json.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    let mut text = serde_json::to_vec_pretty(v)?;
    text.push(b'\n');
    f.write_all(&text)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The credential helper for `server`, if the file names one.
fn helper(config: &Value, server: &str) -> Option<String> {
    config["credHelpers"][server]
        .as_str()
        .or(config["credsStore"].as_str())
        .filter(|h| !h.is_empty())
        .map(String::from)
}

/// Runs `docker-credential-<helper> <verb>` with `input` on stdin.
fn call_helper(helper: &str, verb: &str, input: &[u8]) -> Result<(bool, String)> {
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg(verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {program}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input)?;
    }
    let out = child.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok((out.status.success(), text))
}

/// The saved login for `server` (a key from [`server_key`]), if any.
pub fn get(server: &str) -> Result<Option<Login>> {
    let (_, config) = read_config()?;
    if let Some(h) = helper(&config, server) {
        let (ok, text) = call_helper(&h, "get", server.as_bytes())?;
        if !ok {
            // The protocol's answer for none: "credentials not found in
            // native keychain".
            return Ok(None);
        }
        let v: Value = serde_json::from_str(&text)
            .with_context(|| format!("docker-credential-{h} get: invalid answer"))?;
        return Ok(Some(Login {
            username: v["Username"].as_str().unwrap_or("").into(),
            password: v["Secret"].as_str().unwrap_or("").into(),
        }));
    }
    let Some(auth) = config["auths"][server]["auth"].as_str() else {
        return Ok(None);
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .with_context(|| format!("invalid auth for {server} in config.json"))?;
    let text = String::from_utf8(raw).context("auth is not UTF-8")?;
    let (user, password) = text
        .split_once(':')
        .ok_or_else(|| anyhow!("invalid auth for {server} in config.json"))?;
    Ok(Some(Login {
        username: user.into(),
        password: password.into(),
    }))
}

/// Saves a login for `server`.
pub fn store(server: &str, login: &Login) -> Result<()> {
    let (path, mut config) = read_config()?;
    if let Some(h) = helper(&config, server) {
        let input =
            json!({"ServerURL": server, "Username": login.username, "Secret": login.password});
        let (ok, text) = call_helper(&h, "store", input.to_string().as_bytes())?;
        if !ok {
            bail!("error storing credentials - err: docker-credential-{h} store: {text}");
        }
        return Ok(());
    }
    let auth = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", login.username, login.password));
    if !config["auths"].is_object() {
        config["auths"] = json!({});
    }
    config["auths"][server] = json!({ "auth": auth });
    write_config(&path, &config)
}

/// Removes the login for `server`; false when there was none.
pub fn erase(server: &str) -> Result<bool> {
    let (path, mut config) = read_config()?;
    if let Some(h) = helper(&config, server) {
        let (ok, _) = call_helper(&h, "erase", server.as_bytes())?;
        return Ok(ok);
    }
    let removed = config["auths"]
        .as_object_mut()
        .and_then(|a| a.remove(server))
        .is_some();
    if removed {
        write_config(&path, &config)?;
    }
    Ok(removed)
}

/// The `X-Registry-Auth` value for `server`'s saved login (`{}`'s, as the
/// docker CLI sends, when there is none).
pub fn registry_auth(server: &str) -> Result<String> {
    let v = match get(server)? {
        Some(l) if l.username == "<token>" => {
            json!({"identitytoken": l.password, "serveraddress": server})
        }
        Some(l) => json!({"username": l.username, "password": l.password, "serveraddress": server}),
        None => json!({}),
    };
    Ok(base64::engine::general_purpose::URL_SAFE.encode(v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_keyed_as_docker_keys_them() {
        for (input, key) in [
            ("docker.io", DOCKER_HUB),
            ("https://index.docker.io/v1/", DOCKER_HUB),
            ("", DOCKER_HUB),
            ("127.0.0.1:5000", "127.0.0.1:5000"),
            ("https://reg.example.com/v2/", "reg.example.com"),
        ] {
            assert_eq!(server_key(input), key, "{input}");
        }
        for (reference, server) in [
            ("busybox", DOCKER_HUB),
            ("me/app:1", DOCKER_HUB),
            ("127.0.0.1:5000/bb:1", "127.0.0.1:5000"),
            ("localhost/x", "localhost"),
            ("ghcr.io/o/r", "ghcr.io"),
        ] {
            assert_eq!(server_of(reference), server, "{reference}");
        }
    }
}
