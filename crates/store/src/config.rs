//! Image configs as Docker writes them (a superset of the OCI image config:
//! `Healthcheck`, `OnBuild`, `Shell`... live in `config`), chain ids, and the
//! Dockerfile-style `--change` edits of `import` and `commit`.
//!
//! The types are the models crate's ([`models::oci`]). A config read from a
//! registry or an archive is parsed with Go's rules ([`parse`]) and its blob
//! is stored as received: the image id is the digest of those exact bytes
//! and never of a re-serialisation.

use sha2::{Digest as _, Sha256};

pub use models::oci::{History, ImageConfig, RootFs, RunConfig};

/// Reads a config's bytes as Docker reads them (Go's rules: `null` is the
/// zero value, keys match fields ignoring case, unknown keys are ignored).
pub fn parse(bytes: &[u8]) -> Result<ImageConfig, models::de::Error> {
    models::de::from_slice(bytes)
}

/// This machine's architecture in Go's spelling, as image configs use it.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// An empty config for this machine's platform.
pub fn new_config(created: &str) -> ImageConfig {
    ImageConfig {
        architecture: host_arch().into(),
        os: "linux".into(),
        created: Some(created.into()),
        ..ImageConfig::default()
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    digest_string(&Sha256::digest(bytes))
}

/// `sha256:<hex>` of a finished SHA-256.
pub fn digest_string(hash: &[u8]) -> String {
    let mut s = String::with_capacity(7 + 2 * hash.len());
    s.push_str("sha256:");
    for b in hash {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Chain ids of a layer stack (image-spec config.md): the first is its diff
/// id; each next is `sha256(previous + " " + diff_id)`.
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => sha256(format!("{prev} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// Why a `--change` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    /// Not one of the instructions `import` and `commit` accept.
    #[error("{0} is not a valid change command")]
    Unsupported(String),
    /// The instruction's argument is malformed.
    #[error("invalid {instruction}: {why}")]
    Invalid {
        /// The instruction.
        instruction: String,
        /// What is wrong.
        why: String,
    },
}

/// Splits `a b "c d"` the way Docker's shell-form word split does for
/// `EXPOSE`, `VOLUME`, `LABEL` and `ENV` (quotes group, backslash escapes).
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    let mut any = false;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (q, '\\') if q != Some('\'') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    any = true;
                }
            }
            (_, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// `["a", "b"]` (exec form) or `a b` (shell form, run by `/bin/sh -c`).
fn command(arg: &str) -> Vec<String> {
    if arg.trim_start().starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(arg.trim()) {
            return v;
        }
    }
    vec!["/bin/sh".into(), "-c".into(), arg.to_string()]
}

/// Applies Dockerfile-style changes (`CMD`, `ENTRYPOINT`, `ENV`, `EXPOSE`,
/// `LABEL`, `ONBUILD`, `USER`, `VOLUME`, `WORKDIR`, `STOPSIGNAL`), as
/// `docker import --change` and `docker commit --change` do.
pub fn apply_changes(cfg: &mut RunConfig, changes: &[String]) -> Result<(), ChangeError> {
    for change in changes {
        let change = change.trim();
        let (instr, arg) = change
            .split_once(char::is_whitespace)
            .unwrap_or((change, ""));
        let arg = arg.trim();
        let upper = instr.to_ascii_uppercase();
        let invalid = |why: &str| ChangeError::Invalid {
            instruction: upper.clone(),
            why: why.into(),
        };
        match upper.as_str() {
            "CMD" => cfg.cmd = Some(command(arg)),
            "ENTRYPOINT" => cfg.entrypoint = Some(command(arg)),
            "USER" => cfg.user = arg.into(),
            "WORKDIR" => cfg.working_dir = arg.into(),
            "STOPSIGNAL" => cfg.stop_signal = arg.into(),
            "ONBUILD" => cfg.on_build.push(arg.into()),
            "EXPOSE" => {
                for p in words(arg) {
                    let p = if p.contains('/') {
                        p
                    } else {
                        format!("{p}/tcp")
                    };
                    cfg.exposed_ports.insert(p, models::Empty {});
                }
            }
            "VOLUME" => {
                let list = if arg.starts_with('[') {
                    serde_json::from_str(arg).map_err(|_| invalid("not a JSON array"))?
                } else {
                    words(arg)
                };
                for v in list {
                    cfg.volumes.insert(v, models::Empty {});
                }
            }
            "ENV" | "LABEL" => {
                let ws = words(arg);
                let pairs: Vec<(String, String)> =
                    if ws.iter().all(|w| w.contains('=')) && !ws.is_empty() {
                        ws.iter()
                            .map(|w| {
                                let (k, v) = w.split_once('=').unwrap_or((w, ""));
                                (k.to_string(), v.to_string())
                            })
                            .collect()
                    } else if upper == "ENV" && ws.len() >= 2 {
                        // Old form: ENV key value with spaces.
                        let (k, v) = arg.split_once(char::is_whitespace).unwrap_or((arg, ""));
                        vec![(k.to_string(), v.trim().to_string())]
                    } else {
                        return Err(invalid("expected KEY=VALUE"));
                    };
                for (k, v) in pairs {
                    if k.is_empty() {
                        return Err(invalid("empty key"));
                    }
                    if upper == "ENV" {
                        cfg.env.retain(|e| e.split('=').next() != Some(k.as_str()));
                        cfg.env.push(format!("{k}={v}"));
                    } else {
                        cfg.labels.insert(k, v);
                    }
                }
            }
            _ => return Err(ChangeError::Unsupported(instr.to_string())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn chain_ids_follow_the_spec() {
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let ids = chain_ids(&[d('a'), d('b')]);
        assert_eq!(ids[0], d('a'));
        assert_eq!(ids[1], sha256(format!("{} {}", d('a'), d('b')).as_bytes()));
        assert_eq!(
            sha256(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn changes_like_docker_import() {
        let mut c = RunConfig::default();
        let changes: Vec<String> = [
            r#"CMD ["/bin/sh", "-c", "echo hi"]"#,
            "ENTRYPOINT /init --flag",
            "ENV A=1 B=\"two words\"",
            "ENV A=3",
            "ENV OLD form with spaces",
            "EXPOSE 80 53/udp",
            "LABEL org.x=\"y z\"",
            "USER 1000:1000",
            "VOLUME [\"/data\", \"/logs\"]",
            "workdir /srv",
            "STOPSIGNAL SIGINT",
        ]
        .map(String::from)
        .to_vec();
        apply_changes(&mut c, &changes).unwrap();
        assert_eq!(c.cmd.as_deref().unwrap(), ["/bin/sh", "-c", "echo hi"]);
        assert_eq!(
            c.entrypoint.as_deref().unwrap(),
            ["/bin/sh", "-c", "/init --flag"]
        );
        assert_eq!(c.env, ["B=two words", "A=3", "OLD=form with spaces"]);
        assert!(c.exposed_ports.contains_key("80/tcp") && c.exposed_ports.contains_key("53/udp"));
        assert_eq!(c.labels["org.x"], "y z");
        assert_eq!(
            (
                c.user.as_str(),
                c.working_dir.as_str(),
                c.stop_signal.as_str()
            ),
            ("1000:1000", "/srv", "SIGINT")
        );
        assert_eq!(c.volumes.keys().collect::<Vec<_>>(), ["/data", "/logs"]);
        assert_eq!(
            apply_changes(&mut c, &["RUN rm -rf /".into()]),
            Err(ChangeError::Unsupported("RUN".into()))
        );
        assert!(apply_changes(&mut c, &["LABEL novalue".into()]).is_err());
    }

    /// Go writes `null` for empty slices and maps; Docker's configs (and
    /// their `container_config`) are full of them (issue 17).
    #[test]
    fn nulls_read_as_go_reads_them() {
        let raw = r#"{"architecture":"amd64","os":"linux","created":"2026-11-30T09:12:41.873912053Z","config":{"User":"","Env":null,"Cmd":null,"Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null,"ExposedPorts":null,"Shell":null,"Healthcheck":null,"StopSignal":null},"container_config":{"Env":null},"rootfs":{"type":"layers","diff_ids":null},"history":null}"#;
        let cfg: ImageConfig = serde_json::from_str(raw).unwrap();
        assert_eq!(cfg.config, RunConfig::default());
        assert!(cfg.rootfs.diff_ids.is_empty() && cfg.history.is_empty());
        let cfg: ImageConfig = serde_json::from_str(
            r#"{"architecture":"amd64","os":"linux","config":null,"rootfs":{"type":"layers","diff_ids":[]},"history":[{"created":"x","created_by":null,"empty_layer":null}]}"#,
        )
        .unwrap();
        assert_eq!(cfg.config, RunConfig::default());
        assert_eq!(cfg.history[0].created, "x");
        assert_eq!(
            parse(raw.as_bytes()).unwrap(),
            serde_json::from_str(raw).unwrap()
        );
    }

    #[test]
    fn unknown_fields_are_read_past() {
        // What Docker knows is kept; what it does not is ignored, as Go
        // does. The stored bytes are the received ones in any case.
        let raw = r#"{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"],"Hostname":"x"},"rootfs":{"type":"layers","diff_ids":[]},"container":"abc","x-other":{"a":1}}"#;
        let cfg = parse(raw.as_bytes()).unwrap();
        assert_eq!(cfg.container, "abc");
        assert_eq!(cfg.config.cmd.as_deref().unwrap(), ["sh"]);
        let back: Value = serde_json::from_slice(&cfg.to_bytes()).unwrap();
        assert_eq!(back["container"], "abc");
        assert!(back.get("x-other").is_none());
    }
}
