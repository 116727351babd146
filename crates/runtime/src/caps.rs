//! Capabilities: the spec's five sets turned into bitmasks before the fork, and
//! applied in the child with raw `prctl`/`capset` calls (no allocation there).
//!
//! Order matters and follows runc: drop the bounding set while `CAP_SETPCAP`
//! is still held; keep the permitted set across the uid change
//! (`PR_SET_KEEPCAPS`); then set effective/permitted/inheritable in one
//! `capset`; then raise the ambient set.

use std::str::FromStr;

use oci_spec::runtime::{Capabilities, LinuxCapabilities};

use crate::error::{Error, Result};

/// The five sets as bitmasks (bit N = capability N).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSets {
    /// Bounding set.
    pub bounding: u64,
    /// Effective set.
    pub effective: u64,
    /// Permitted set.
    pub permitted: u64,
    /// Inheritable set.
    pub inheritable: u64,
    /// Ambient set.
    pub ambient: u64,
}

/// Highest capability number the kernel knows (`/proc/sys/kernel/cap_last_cap`).
pub fn last_cap() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

fn mask(set: Option<&Capabilities>) -> Result<u64> {
    let mut m = 0u64;
    for cap in set.into_iter().flatten() {
        let name = format!("CAP_{cap}");
        let c = caps::Capability::from_str(&name)
            .map_err(|_| Error::InvalidSpec(format!("unknown capability {name}")))?;
        m |= c.bitmask();
    }
    Ok(m)
}

impl CapSets {
    /// From the spec's `process.capabilities`; missing sets are empty, and
    /// capabilities this kernel does not know are left out (as runc warns and does).
    pub fn from_spec(c: Option<&LinuxCapabilities>) -> Result<CapSets> {
        let Some(c) = c else {
            return Ok(CapSets::default());
        };
        let known = if last_cap() >= 63 {
            u64::MAX
        } else {
            (1u64 << (last_cap() + 1)) - 1
        };
        Ok(CapSets {
            bounding: mask(c.bounding().as_ref())? & known,
            effective: mask(c.effective().as_ref())? & known,
            permitted: mask(c.permitted().as_ref())? & known,
            inheritable: mask(c.inheritable().as_ref())? & known,
            ambient: mask(c.ambient().as_ref())? & known,
        })
    }
}

/// Drops every capability not in `sets.bounding` from the bounding set.
pub fn drop_bounding(sets: &CapSets, last: u8) -> nix::Result<()> {
    for cap in 0..=last {
        if sets.bounding & (1 << cap) == 0 {
            // SAFETY: prctl with PR_CAPBSET_DROP takes an integer capability
            // number and touches no memory of ours.
            let r =
                unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
            // EINVAL: the kernel does not know this capability; nothing to drop.
            if r != 0 && nix::errno::Errno::last() != nix::errno::Errno::EINVAL {
                return Err(nix::errno::Errno::last());
            }
        }
    }
    Ok(())
}

/// Sets `PR_SET_KEEPCAPS`.
pub fn keep_caps(keep: bool) -> nix::Result<()> {
    // SAFETY: integer arguments only.
    let r = unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, libc::c_ulong::from(keep), 0, 0, 0) };
    nix::errno::Errno::result(r).map(drop)
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_VERSION_3: u32 = 0x2008_0522;

/// Sets effective, permitted and inheritable in one `capset`, then the ambient set.
pub fn apply(sets: &CapSets) -> nix::Result<()> {
    let header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let split = |m: u64| [(m & 0xffff_ffff) as u32, (m >> 32) as u32];
    let (e, p, i) = (
        split(sets.effective),
        split(sets.permitted),
        split(sets.inheritable),
    );
    let data = [
        CapData {
            effective: e[0],
            permitted: p[0],
            inheritable: i[0],
        },
        CapData {
            effective: e[1],
            permitted: p[1],
            inheritable: i[1],
        },
    ];
    // SAFETY: version 3 of the ABI takes a header and an array of two data
    // structs, both `repr(C)` and alive for the call.
    let r = unsafe { libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) };
    nix::errno::Errno::result(r)?;
    // The kernel takes an ambient capability only if it is both permitted and
    // inheritable; specs that list others (runc's default one does) get the
    // rest, as runc only warns about them.
    let ambient = sets.ambient & sets.permitted & sets.inheritable;
    for cap in 0..64u64 {
        if ambient & (1 << cap) != 0 {
            // SAFETY: integer arguments only.
            let r = unsafe {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                    cap as libc::c_ulong,
                    0,
                    0,
                )
            };
            nix::errno::Errno::result(r)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_from_spec() {
        let c: LinuxCapabilities = serde_json::from_str(
            r#"{"bounding":["CAP_CHOWN","CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"]}"#,
        )
        .unwrap();
        let s = CapSets::from_spec(Some(&c)).unwrap();
        assert_eq!(s.bounding, (1 << 0) | (1 << 5));
        assert_eq!(s.effective, 1 << 5);
        assert_eq!(s.inheritable, 0);
        assert_eq!(CapSets::from_spec(None).unwrap(), CapSets::default());
    }
}
