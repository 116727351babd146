//! Seccomp profiles from the host (`localhost/<path>`): Docker's profile
//! format (`names` or `name`, `archMap`, `includes`/`excludes`), which is
//! what Kubernetes users write, or the OCI spec's `linux.seccomp` as is.

use serde_json::{json, Value};

use crate::error::{CriError, Result};

/// The largest profile read (Docker's default profile is about 20 KiB).
pub const MAX_PROFILE: u64 = 1 << 20;

/// Docker's name of this machine's architecture, as `arches` lists it.
fn host_arch() -> &'static str {
    store::config::host_arch()
}

/// The OCI `linux.seccomp` of a profile. Entries whose `includes` or
/// `excludes` name capabilities or architectures are kept or left as
/// Docker decides for a container with `caps`; the rest is copied.
pub fn from_profile(v: &Value, caps: &[String]) -> Result<Value> {
    let Some(default) = v["defaultAction"].as_str() else {
        return Err(CriError::invalid("seccomp profile has no defaultAction"));
    };
    let mut arches: Vec<Value> = v["architectures"].as_array().cloned().unwrap_or_default();
    for m in v["archMap"].as_array().into_iter().flatten() {
        arches.push(m["architecture"].clone());
        arches.extend(
            m["subArchitectures"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
    }
    let has_cap = |c: &Value| {
        c.as_str().is_some_and(|c| {
            let c = c.to_ascii_uppercase();
            let full = if c.starts_with("CAP_") {
                c
            } else {
                format!("CAP_{c}")
            };
            caps.contains(&full)
        })
    };
    let on_arch = |a: &Value| a.as_str() == Some(host_arch());
    let mut syscalls = Vec::new();
    for s in v["syscalls"].as_array().into_iter().flatten() {
        let inc = &s["includes"];
        if inc["caps"]
            .as_array()
            .is_some_and(|c| !c.iter().all(has_cap))
            || inc["arches"]
                .as_array()
                .is_some_and(|a| !a.iter().any(on_arch))
        {
            continue;
        }
        let exc = &s["excludes"];
        if exc["caps"]
            .as_array()
            .is_some_and(|c| c.iter().any(has_cap))
            || exc["arches"]
                .as_array()
                .is_some_and(|a| a.iter().any(on_arch))
        {
            continue;
        }
        let mut names: Vec<Value> = s["names"].as_array().cloned().unwrap_or_default();
        if let Some(n) = s["name"].as_str() {
            names.push(json!(n));
        }
        if names.is_empty() {
            continue;
        }
        let mut out = json!({"names": names, "action": s["action"]});
        for k in ["errnoRet", "args"] {
            if !s[k].is_null() {
                out[k] = s[k].clone();
            }
        }
        syscalls.push(out);
    }
    let mut out = json!({"defaultAction": default, "architectures": arches, "syscalls": syscalls});
    if !v["defaultErrnoRet"].is_null() {
        out["defaultErrnoRet"] = v["defaultErrnoRet"].clone();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_format() {
        let p = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"name": "sethostname", "action": "SCMP_ACT_ERRNO"},
                {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            ],
        });
        let out = from_profile(&p, &[]).unwrap();
        assert_eq!(out["defaultAction"], "SCMP_ACT_ALLOW");
        assert_eq!(out["syscalls"].as_array().unwrap().len(), 1);
        assert_eq!(out["syscalls"][0]["names"][0], "sethostname");
        let out = from_profile(&p, &["CAP_SYS_ADMIN".into()]).unwrap();
        assert_eq!(out["syscalls"].as_array().unwrap().len(), 2);
        assert!(from_profile(&json!({}), &[]).is_err());
    }
}
