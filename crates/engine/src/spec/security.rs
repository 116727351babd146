//! `--security-opt`, capabilities and `--sysctl`, as dockerd reads them:
//! moby's `daemon/daemon_unix.go` `parseSecurityOpt`, `oci/caps`
//! `TweakCapabilities`, the profile format of `moby/profiles/seccomp`
//! (`setupSeccomp`), and runc's namespace rules for sysctls
//! (`libcontainer/configs/validate`).
//!
//! berth applies neither AppArmor nor SELinux: asking for less of them
//! (`apparmor=unconfined`, `label=disable`) is what berth gives anyway;
//! asking for a profile or a label is refused, not dropped.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::SpecError;
use crate::EngineError;

/// Which seccomp filter a container gets.
#[derive(Debug, Clone, PartialEq)]
pub enum Seccomp {
    /// Docker's default profile (also `seccomp=builtin`).
    Default,
    /// None (`seccomp=unconfined`).
    Unconfined,
    /// A profile in Docker's format (the docker CLI sends the file's text).
    Profile(String),
}

/// The security options of a container.
#[derive(Debug, Clone, PartialEq)]
pub struct SecurityOpts {
    /// `no-new-privileges[=true]`.
    pub no_new_privileges: bool,
    /// `writable-cgroups[=true]`: `/sys/fs/cgroup` mounted read-write.
    pub writable_cgroups: bool,
    /// The filter.
    pub seccomp: Seccomp,
}

/// moby's `parseSecurityOpt`, with its error texts.
pub fn parse_opts(opts: &[String]) -> Result<SecurityOpts, EngineError> {
    let mut out = SecurityOpts {
        no_new_privileges: false,
        writable_cgroups: false,
        seccomp: Seccomp::Default,
    };
    let boolean = |v: &str, opt: &str| -> Result<bool, EngineError> {
        match v {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
            _ => Err(SpecError::Invalid(format!("invalid --security-opt 2: {opt:?}")).into()),
        }
    };
    for opt in opts {
        match opt.as_str() {
            "no-new-privileges" => {
                out.no_new_privileges = true;
                continue;
            }
            "writable-cgroups" => {
                out.writable_cgroups = true;
                continue;
            }
            // SELinux off: what berth gives anyway.
            "disable" => continue,
            _ => {}
        }
        let cut = if opt.contains('=') {
            opt.split_once('=')
        } else {
            opt.split_once(':')
        };
        let Some((k, v)) = cut else {
            return Err(SpecError::Invalid(format!("invalid --security-opt 1: {opt:?}")).into());
        };
        match k {
            "label" if v == "disable" => {}
            "label" => {
                return Err(SpecError::Invalid(format!(
                    "SecurityOpt {opt:?}: berth applies no SELinux labels (only label=disable is accepted)"
                )).into())
            }
            "apparmor" if v == "unconfined" => {}
            "apparmor" => {
                return Err(SpecError::Invalid(format!(
                    "SecurityOpt {opt:?}: berth applies no AppArmor profiles (only apparmor=unconfined is accepted)"
                )).into())
            }
            "seccomp" => {
                out.seccomp = match v {
                    "unconfined" => Seccomp::Unconfined,
                    "builtin" | "" => Seccomp::Default,
                    text => Seccomp::Profile(text.to_string()),
                }
            }
            "no-new-privileges" => out.no_new_privileges = boolean(v, opt)?,
            "writable-cgroups" => out.writable_cgroups = boolean(v, opt)?,
            _ => return Err(SpecError::Invalid(format!("invalid --security-opt 2: {opt:?}")).into()),
        }
    }
    Ok(out)
}

/// `NET_ADMIN`, `net_admin` or `CAP_NET_ADMIN` as `CAP_NET_ADMIN`.
pub fn cap_name(c: &str) -> String {
    let up = c.to_ascii_uppercase();
    if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    }
}

/// moby's `TweakCapabilities`: `basics` (Docker's defaults), then `ALL` in
/// `add` (all but `drop`), or `ALL` in `drop` (only `add`), or the defaults
/// minus `drop` plus `add`. Unknown names are refused; `all` is what this
/// host lets the daemon hand on.
pub fn tweak_caps(
    basics: &[&str],
    all: &[String],
    add: &[String],
    drop: &[String],
) -> Result<Vec<String>, EngineError> {
    let known: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    let norm = |list: &[String]| -> Result<Vec<String>, EngineError> {
        list.iter()
            .map(|c| {
                if c.eq_ignore_ascii_case("ALL") {
                    return Ok("ALL".to_string());
                }
                let n = cap_name(c);
                if known.contains(&n) {
                    Ok(n)
                } else {
                    Err(SpecError::Invalid(format!("unknown capability: {n:?}")).into())
                }
            })
            .collect()
    };
    let (add, drop) = (norm(add)?, norm(drop)?);
    let mut out: Vec<String> = if add.iter().any(|c| c == "ALL") {
        all.iter().filter(|c| !drop.contains(c)).cloned().collect()
    } else if drop.iter().any(|c| c == "ALL") {
        add.clone()
    } else {
        basics
            .iter()
            .map(|c| c.to_string())
            .filter(|c| !drop.contains(c))
            .chain(add.iter().cloned())
            .collect()
    };
    let mut seen = Vec::new();
    out.retain(|c| {
        let first = !seen.contains(c);
        seen.push(c.clone());
        first
    });
    Ok(out)
}

/// The kernel's version, `(major, minor)`, for `minKernel` in profiles.
fn kernel_version() -> (u32, u32) {
    let rel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut it = rel.split(|c: char| !c.is_ascii_digit());
    let n = |s: Option<&str>| s.and_then(|s| s.parse().ok()).unwrap_or(0);
    (n(it.next()), n(it.next()))
}

fn min_kernel_ok(want: &str) -> Result<bool, EngineError> {
    let mut it = want.split('.');
    let p = |s: Option<&str>| s.and_then(|s| s.trim().parse::<u32>().ok());
    let (Some(maj), Some(min)) = (p(it.next()), p(it.next())) else {
        return Err(SpecError::Invalid(format!("invalid kernel version: {want}")).into());
    };
    Ok(kernel_version() >= (maj, min))
}

/// Docker's seccomp profile (`archMap`, `syscalls` with `names`,
/// `includes`/`excludes` by capability, architecture and kernel) as the
/// OCI spec's `linux.seccomp`, for this host's architecture and the
/// container's bounding set; `None` for a profile with no default action
/// and no syscalls (seccomp off, as moby reads it).
pub(crate) fn profile_to_oci(
    text: &str,
    bounding: &[String],
) -> Result<Option<Value>, EngineError> {
    let p: Value = serde_json::from_str(text)
        .map_err(|e| SpecError::Invalid(format!("Decoding seccomp profile failed: {e}")))?;
    let arr = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let strs = |v: &Value| -> Vec<String> {
        arr(v)
            .iter()
            .filter_map(|s| s.as_str().map(String::from))
            .collect()
    };
    let default_action = p["defaultAction"].as_str().unwrap_or("");
    if default_action.is_empty() && arr(&p["syscalls"]).is_empty() {
        return Ok(None);
    }
    if !arr(&p["architectures"]).is_empty() && !arr(&p["archMap"]).is_empty() {
        return Err(SpecError::Invalid("both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'".into()).into());
    }
    // moby's names: the profile says `amd64`, libseccomp `SCMP_ARCH_X86_64`.
    let (native, scmp) = match std::env::consts::ARCH {
        "x86_64" => ("amd64", "SCMP_ARCH_X86_64"),
        "aarch64" => ("arm64", "SCMP_ARCH_AARCH64"),
        "x86" => ("x86", "SCMP_ARCH_X86"),
        "riscv64" => ("riscv64", "SCMP_ARCH_RISCV64"),
        "s390x" => ("s390x", "SCMP_ARCH_S390X"),
        "powerpc64" => ("ppc64le", "SCMP_ARCH_PPC64LE"),
        other => (other, ""),
    };
    let mut out = serde_json::Map::new();
    for key in [
        "defaultAction",
        "defaultErrnoRet",
        "flags",
        "listenerPath",
        "listenerMetadata",
        "architectures",
    ] {
        if !p[key].is_null() {
            out.insert(key.into(), p[key].clone());
        }
    }
    for a in arr(&p["archMap"]) {
        if a["architecture"] == scmp {
            let mut list = vec![a["architecture"].clone()];
            list.extend(arr(&a["subArchitectures"]));
            out.insert("architectures".into(), Value::Array(list));
            break;
        }
    }
    let mut syscalls = Vec::new();
    'calls: for call in arr(&p["syscalls"]) {
        let mut names = strs(&call["names"]);
        if let Some(n) = call["name"].as_str().filter(|n| !n.is_empty()) {
            if !names.is_empty() {
                return Err(SpecError::Invalid("both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'".into()).into());
            }
            names = vec![n.to_string()];
        }
        let ex = &call["excludes"];
        if strs(&ex["arches"]).iter().any(|a| a == native)
            || strs(&ex["caps"]).iter().any(|c| bounding.contains(c))
        {
            continue;
        }
        if let Some(k) = ex["minKernel"].as_str() {
            if min_kernel_ok(k)? {
                continue;
            }
        }
        let inc = &call["includes"];
        let arches = strs(&inc["arches"]);
        if !arches.is_empty() && !arches.iter().any(|a| a == native) {
            continue;
        }
        for c in strs(&inc["caps"]) {
            if !bounding.contains(&c) {
                continue 'calls;
            }
        }
        if let Some(k) = inc["minKernel"].as_str() {
            if !min_kernel_ok(k)? {
                continue;
            }
        }
        let mut s = json!({"names": names, "action": call["action"]});
        for key in ["errnoRet", "args"] {
            if !call[key].is_null() {
                s[key] = call[key].clone();
            }
        }
        syscalls.push(s);
    }
    out.insert("syscalls".into(), Value::Array(syscalls));
    Ok(Some(Value::Object(out)))
}

/// Which namespaces a container has of its own, for the sysctl rules.
#[derive(Debug, Clone, Copy)]
pub struct OwnNamespaces {
    /// Its own IPC namespace (not `--ipc host`).
    pub ipc: bool,
    /// A network namespace other than the host's.
    pub net: bool,
    /// Its own UTS namespace.
    pub uts: bool,
}

/// The IPC sysctls runc lets a container with its own IPC namespace set.
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// runc's rule: a sysctl is set only in a namespace the container owns.
pub fn check_sysctls(
    sysctls: &BTreeMap<String, String>,
    own: OwnNamespaces,
) -> Result<(), EngineError> {
    for key in sysctls.keys() {
        if key.is_empty() || key.contains('/') || key.split('.').any(|p| p.is_empty() || p == "..")
        {
            return Err(SpecError::Invalid(format!("sysctl {key:?} is not a valid name")).into());
        }
        if IPC_SYSCTLS.contains(&key.as_str()) || key.starts_with("fs.mqueue.") {
            if own.ipc {
                continue;
            }
            return Err(SpecError::Invalid(format!(
                "sysctl {key:?} is not allowed in the hosts ipc namespace"
            ))
            .into());
        }
        if key.starts_with("net.") {
            if own.net {
                continue;
            }
            return Err(SpecError::Invalid(format!(
                "sysctl {key:?} not allowed in host network namespace"
            ))
            .into());
        }
        if own.uts {
            match key.as_str() {
                "kernel.domainname" => continue,
                "kernel.hostname" => {
                    return Err(SpecError::Invalid(format!(
                    "sysctl {key:?} is not allowed as it conflicts with the OCI \"hostname\" field"
                ))
                    .into())
                }
                _ => {}
            }
        }
        return Err(SpecError::Invalid(format!(
            "sysctl {key:?} is not in a separate kernel namespace"
        ))
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> Result<SecurityOpts, EngineError> {
        parse_opts(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn security_opts_as_moby_parses_them() {
        let o = opts(&[
            "no-new-privileges",
            "seccomp=unconfined",
            "label=disable",
            "apparmor=unconfined",
        ])
        .unwrap();
        assert!(o.no_new_privileges);
        assert_eq!(o.seccomp, Seccomp::Unconfined);
        assert!(
            !opts(&["no-new-privileges=false"])
                .unwrap()
                .no_new_privileges
        );
        assert!(opts(&["writable-cgroups=true"]).unwrap().writable_cgroups);
        assert_eq!(
            opts(&["seccomp:builtin"]).unwrap().seccomp,
            Seccomp::Default
        );
        for (o, want) in [
            ("bogus", "invalid --security-opt 1: \"bogus\""),
            ("foo=bar", "invalid --security-opt 2: \"foo=bar\""),
            (
                "no-new-privileges=maybe",
                "invalid --security-opt 2: \"no-new-privileges=maybe\"",
            ),
        ] {
            assert_eq!(opts(&[o]).unwrap_err().to_string(), want);
        }
        assert!(opts(&["apparmor=docker-default"])
            .unwrap_err()
            .to_string()
            .contains("AppArmor"));
        assert!(opts(&["label=type:svirt_t"])
            .unwrap_err()
            .to_string()
            .contains("SELinux"));
    }

    #[test]
    fn capabilities_tweaked_as_docker() {
        let all: Vec<String> = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_ADMIN"]
            .map(String::from)
            .to_vec();
        let s = |l: &[&str]| l.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        let basics = &["CAP_CHOWN", "CAP_KILL"];
        assert_eq!(
            tweak_caps(basics, &all, &s(&["net_admin"]), &s(&["KILL"])).unwrap(),
            ["CAP_CHOWN", "CAP_NET_ADMIN"]
        );
        assert_eq!(
            tweak_caps(basics, &all, &s(&["NET_ADMIN"]), &s(&["ALL"])).unwrap(),
            ["CAP_NET_ADMIN"],
            "drop ALL keeps what is added"
        );
        assert_eq!(
            tweak_caps(basics, &all, &s(&["all"]), &s(&["CAP_KILL"])).unwrap(),
            ["CAP_CHOWN", "CAP_NET_ADMIN"]
        );
        assert_eq!(
            tweak_caps(basics, &all, &s(&["FOO"]), &[])
                .unwrap_err()
                .to_string(),
            "unknown capability: \"CAP_FOO\""
        );
    }

    #[test]
    fn profiles_filtered_for_this_host() {
        let text = r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
            "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"name": "mount", "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_CHOWN"]}},
                {"names": ["newer"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}}
            ]}"#;
        let oci = profile_to_oci(text, &["CAP_CHOWN".to_string()])
            .unwrap()
            .unwrap();
        assert_eq!(oci["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(oci["syscalls"].as_array().unwrap().len(), 1, "{oci}");
        if cfg!(target_arch = "x86_64") {
            assert_eq!(
                oci["architectures"],
                json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
            );
        }
        assert!(profile_to_oci("{not json", &[])
            .unwrap_err()
            .to_string()
            .starts_with("Decoding seccomp profile failed: "));
        assert_eq!(profile_to_oci("{}", &[]).unwrap(), None);
    }

    #[test]
    fn sysctls_only_in_owned_namespaces() {
        let own = OwnNamespaces {
            ipc: true,
            net: true,
            uts: true,
        };
        let m = |k: &str| BTreeMap::from([(k.to_string(), "1".to_string())]);
        for k in [
            "kernel.shmmax",
            "fs.mqueue.msg_max",
            "net.ipv4.ip_forward",
            "kernel.domainname",
        ] {
            check_sysctls(&m(k), own).unwrap();
        }
        let host = OwnNamespaces {
            ipc: false,
            net: false,
            uts: true,
        };
        for (k, want) in [
            ("kernel.shmmax", "sysctl \"kernel.shmmax\" is not allowed in the hosts ipc namespace"),
            ("net.core.somaxconn", "sysctl \"net.core.somaxconn\" not allowed in host network namespace"),
            ("kernel.hostname", "sysctl \"kernel.hostname\" is not allowed as it conflicts with the OCI \"hostname\" field"),
            ("vm.swappiness", "sysctl \"vm.swappiness\" is not in a separate kernel namespace"),
            ("net/../x", "sysctl \"net/../x\" is not a valid name"),
        ] {
            assert_eq!(check_sysctls(&m(k), host).unwrap_err().to_string(), want);
        }
    }
}
