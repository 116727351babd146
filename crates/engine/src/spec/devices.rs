//! `--device` and `--device-cgroup-rule` as the spec's `linux.devices` and
//! `linux.resources.devices`, the way moby's `oci/devices_linux.go`
//! (`DevicesFromPath`) and `oci/oci.go` make them: a device node, or every
//! node under a directory, with the node's numbers, mode and owner, and an
//! allow rule with the permissions asked for.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use serde_json::{json, Value};

use super::SpecError;
use crate::EngineError;
use models::container::DeviceMapping;

/// Bound on the nodes one `--device` directory may add (a `/dev` holds a
/// few hundred): a directory of millions is refused, not walked for ever.
const MAX_DEVICES: usize = 4096;

/// A device node's spec entry and its cgroup rule.
fn node(host: &Path, in_container: &str, access: &str) -> Result<(Value, Value), &'static str> {
    let md = std::fs::symlink_metadata(host).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) => "no such file or directory",
        Some(libc::EACCES) => "permission denied",
        _ => "cannot stat",
    })?;
    let ft = md.file_type();
    let typ = if ft.is_char_device() {
        "c"
    } else if ft.is_block_device() {
        "b"
    } else {
        return Err("not a device node");
    };
    let rdev = md.rdev();
    let (major, minor) = (libc::major(rdev), libc::minor(rdev));
    Ok((
        json!({"path": in_container, "type": typ, "major": major, "minor": minor,
               "fileMode": md.mode() & 0o7777, "uid": md.uid(), "gid": md.gid()}),
        json!({"allow": true, "type": typ, "major": major, "minor": minor, "access": access}),
    ))
}

/// Checks `r`, `w`, `m` (each at most once); empty means all three.
fn permissions(m: &DeviceMapping) -> Result<String, EngineError> {
    let p = if m.cgroup_permissions.is_empty() {
        "rwm"
    } else {
        m.cgroup_permissions.as_str()
    };
    let mut seen = String::new();
    for c in p.chars() {
        if !"rwm".contains(c) || seen.contains(c) {
            return Err(SpecError::Invalid(format!(
                "Devices: invalid cgroup permissions {p:?} for {}: any of r, w and m",
                m.path_on_host
            ))
            .into());
        }
        seen.push(c);
    }
    Ok(p.to_string())
}

/// The nodes and rules of one `--device`.
pub(crate) fn from_mapping(m: &DeviceMapping) -> Result<(Vec<Value>, Vec<Value>), EngineError> {
    let access = permissions(m)?;
    let host = Path::new(&m.path_on_host);
    let in_container = if m.path_in_container.is_empty() {
        m.path_on_host.as_str()
    } else {
        m.path_in_container.as_str()
    };
    if !in_container.starts_with('/') || in_container.split('/').any(|c| c == "..") {
        return Err(SpecError::Invalid(format!(
            "Devices: {in_container:?} is not an absolute path in the container"
        ))
        .into());
    }
    // A symlink (`/dev/disk/by-id/…`) stands for its target.
    let resolved = std::fs::canonicalize(host).unwrap_or_else(|_| host.to_path_buf());
    let why = match node(&resolved, in_container, &access) {
        Ok((d, r)) => return Ok((vec![d], vec![r])),
        Err(why) => why,
    };
    let (mut devs, mut rules) = (Vec::new(), Vec::new());
    if why == "not a device node" && resolved.is_dir() {
        let mut stack = vec![resolved.clone()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let p = e.path();
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(p);
                    continue;
                }
                let rel = p.strip_prefix(&resolved).unwrap_or(&p);
                let dest = format!("{}/{}", in_container.trim_end_matches('/'), rel.display());
                if let Ok((d, r)) = node(&p, &dest, &access) {
                    if devs.len() == MAX_DEVICES {
                        return Err(SpecError::Invalid(format!(
                            "Devices: {} holds more than {MAX_DEVICES} device nodes",
                            m.path_on_host
                        ))
                        .into());
                    }
                    devs.push(d);
                    rules.push(r);
                }
            }
        }
    }
    if devs.is_empty() {
        return Err(SpecError::Invalid(format!(
            "error gathering device information while adding custom device {:?}: {why}",
            m.path_on_host
        ))
        .into());
    }
    devs.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    Ok((devs, rules))
}

/// One `--device-cgroup-rule` (`c 10:229 rwm`, `a *:* r`) as an allow rule
/// (moby's `^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$`).
pub(crate) fn cgroup_rule(rule: &str) -> Result<Value, EngineError> {
    let invalid = || SpecError::Invalid(format!("invalid device cgroup rule format: '{rule}'"));
    let parts: Vec<&str> = rule.split(' ').collect();
    let [typ, nums, access] = parts.as_slice() else {
        return Err(invalid().into());
    };
    if !["a", "b", "c"].contains(typ) {
        return Err(invalid().into());
    }
    let (maj, min) = nums.split_once(':').ok_or_else(invalid)?;
    let num = |s: &str| -> Result<Value, EngineError> {
        if s == "*" {
            return Ok(Value::Null);
        }
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid().into());
        }
        s.parse::<i64>()
            .map(|n| json!(n))
            .map_err(|_| invalid().into())
    };
    let (major, minor) = (num(maj)?, num(min)?);
    if access.is_empty() || access.len() > 3 || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(invalid().into());
    }
    let mut r = json!({"allow": true, "type": typ, "access": access});
    if !major.is_null() {
        r["major"] = major;
    }
    if !minor.is_null() {
        r["minor"] = minor;
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(host: &str, ctr: &str, perms: &str) -> DeviceMapping {
        DeviceMapping {
            path_on_host: host.into(),
            path_in_container: ctr.into(),
            cgroup_permissions: perms.into(),
        }
    }

    #[test]
    fn a_node_and_its_rule() {
        let (devs, rules) = from_mapping(&mapping("/dev/null", "/dev/nothing", "rw")).unwrap();
        assert_eq!(devs[0]["path"], "/dev/nothing");
        assert_eq!(
            (devs[0]["major"].as_u64(), devs[0]["minor"].as_u64()),
            (Some(1), Some(3))
        );
        assert_eq!(
            rules[0],
            json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"})
        );
    }

    #[test]
    fn refusals_in_dockers_words() {
        let e = from_mapping(&mapping("/dev/nosuchdevice", "", "")).unwrap_err();
        assert_eq!(e.to_string(), "error gathering device information while adding custom device \"/dev/nosuchdevice\": no such file or directory");
        let e = from_mapping(&mapping("/etc/hostname", "", "")).unwrap_err();
        assert!(
            e.to_string().ends_with("not a device node"),
            "{}",
            e.to_string()
        );
        assert!(from_mapping(&mapping("/dev/null", "", "rx")).is_err());
        assert!(from_mapping(&mapping("/dev/null", "rel", "")).is_err());
    }

    #[test]
    fn cgroup_rules() {
        assert_eq!(
            cgroup_rule("c 10:229 rwm").unwrap(),
            json!({"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"})
        );
        assert_eq!(
            cgroup_rule("a *:* r").unwrap(),
            json!({"allow": true, "type": "a", "access": "r"})
        );
        for r in [
            "",
            "c 1:1  rwm",
            "x 1:1 r",
            "c 1 r",
            "c 1:1 rwx",
            "c -1:1 r",
        ] {
            assert_eq!(
                cgroup_rule(r).unwrap_err().to_string(),
                format!("invalid device cgroup rule format: '{r}'")
            );
        }
    }
}
