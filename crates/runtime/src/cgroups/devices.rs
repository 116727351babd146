//! cgroup v2 has no `devices.allow`: access to device nodes is decided by a
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program attached to the cgroup. This module
//! turns the spec's device rules into such a program, as runc's devicefilter
//! does, and attaches it with `bpf(2)`.
//!
//! The program sees `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
//! u32 minor; }` (access in the high 16 bits of `access_type`, device type in
//! the low 16). Rules are tried from the last to the first and the first match
//! decides, which is "the last matching rule wins"; nothing matching denies.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::CgroupError;

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

// Opcodes: class | op | source.
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_AND_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const ALU32_RSH_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const ALU32_MOV_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const JMP32_JNE_K: u8 = 0x56; // BPF_JMP32 | BPF_JNE | BPF_K
const JMP32_JNE_X: u8 = 0x5e; // BPF_JMP32 | BPF_JNE | BPF_X
const ALU64_MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

/// Compiles `rules` into a device program.
pub fn program(rules: &[LinuxDeviceCgroup]) -> Vec<Insn> {
    // r2 = type, r3 = access, r4 = major, r5 = minor.
    let mut prog = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU32_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(ALU32_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        let mut checks = Vec::new();
        match rule.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => {}
            LinuxDeviceType::B => checks.push((JMP32_JNE_K, 2, DEV_BLOCK)),
            LinuxDeviceType::C | LinuxDeviceType::U => checks.push((JMP32_JNE_K, 2, DEV_CHAR)),
            // Fifos are not devices the cgroup controls.
            LinuxDeviceType::P => continue,
        }
        let access = rule.access().as_deref().unwrap_or("rwm");
        let mut acc = 0;
        for (ch, bit) in [('r', ACC_READ), ('w', ACC_WRITE), ('m', ACC_MKNOD)] {
            if access.contains(ch) {
                acc |= bit;
            }
        }
        let mut block = Vec::new();
        if acc != ACC_READ | ACC_WRITE | ACC_MKNOD {
            // The requested access must lie within the rule's: (r3 & acc) == r3.
            block.push(insn(ALU32_MOV_X, 1, 3, 0, 0));
            block.push(insn(ALU32_AND_K, 1, 0, 0, acc));
            block.push(insn(JMP32_JNE_X, 1, 3, 0, 0)); // offset patched below
        }
        if let Some(major) = rule.major().filter(|m| *m >= 0) {
            checks.push((JMP32_JNE_K, 4, major as i32));
        }
        if let Some(minor) = rule.minor().filter(|m| *m >= 0) {
            checks.push((JMP32_JNE_K, 5, minor as i32));
        }
        for (code, reg, imm) in checks {
            block.push(insn(code, reg, 0, 0, imm));
        }
        block.push(insn(ALU64_MOV_K, 0, 0, 0, i32::from(rule.allow())));
        block.push(insn(EXIT, 0, 0, 0, 0));
        // A rule that matches everything ends the program: what comes after
        // it could never run, and the verifier refuses unreachable code.
        let terminal = !block
            .iter()
            .any(|i| i.code == JMP32_JNE_K || i.code == JMP32_JNE_X);
        // Every jump goes to the end of the block: the next rule.
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == JMP32_JNE_K || ins.code == JMP32_JNE_X {
                ins.off = (len - i - 1) as i16;
            }
        }
        prog.extend(block);
        if terminal {
            return prog;
        }
    }
    prog.push(insn(ALU64_MOV_K, 0, 0, 0, 0));
    prog.push(insn(EXIT, 0, 0, 0, 0));
    prog
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The part of `union bpf_attr` that BPF_PROG_LOAD reads, zero-padded to the
/// size the kernel accepts.
#[repr(C)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    pad: [u8; 80],
}

/// The part of `union bpf_attr` that BPF_PROG_ATTACH reads.
#[repr(C)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    pad: [u8; 112],
}

fn bpf_err(what: &str, dir: &Path) -> CgroupError {
    CgroupError::Io {
        path: dir.to_path_buf(),
        source: std::io::Error::other(format!("{what}: {}", std::io::Error::last_os_error())),
    }
}

/// Loads the program for `rules` and attaches it to the cgroup at `dir`.
pub fn attach(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    let prog = program(rules);
    let license = c"Apache-2.0";
    let mut log = vec![0u8; 4096];
    let load = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        kern_version: 0,
        prog_flags: 0,
        pad: [0; 80],
    };
    // SAFETY: `load` is a zero-padded bpf_attr prefix whose pointers (the
    // instructions, the license) stay alive for the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &load as *const ProgLoad,
            std::mem::size_of::<ProgLoad>(),
        )
    };
    if fd < 0 {
        let why = std::io::Error::last_os_error();
        let text = String::from_utf8_lossy(&log);
        let first = text
            .trim_end_matches('\0')
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        return Err(CgroupError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::other(format!("load device filter: {why}: {first}")),
        });
    }
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    let prog_fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let cg = std::fs::File::open(dir).map_err(|e| CgroupError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let att = ProgAttach {
        target_fd: cg.as_raw_fd() as u32,
        attach_bpf_fd: prog_fd.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        pad: [0; 112],
    };
    // SAFETY: `att` is a zero-padded bpf_attr prefix naming two open fds.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &att as *const ProgAttach,
            std::mem::size_of::<ProgAttach>(),
        )
    };
    if r != 0 {
        return Err(bpf_err("attach device filter", dir));
    }
    // The attachment keeps the program alive; our descriptor may go.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_rule_is_tried_first_and_jumps_land_on_the_next_rule() {
        let rules: Vec<LinuxDeviceCgroup> = serde_json::from_value(serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"},
        ]))
        .unwrap();
        let p = program(&rules);
        // 6 loads, then the c 1:3 rw block (3 access + type + major + minor +
        // mov + exit = 8), then deny-all (mov + exit), which ends it.
        assert_eq!(p.len(), 6 + 8 + 2);
        let block = &p[6..14];
        assert_eq!(block[2].code, JMP32_JNE_X);
        assert_eq!(block[2].off, 5, "to the end of the block");
        assert_eq!(block[3], insn(JMP32_JNE_K, 2, 0, 4, DEV_CHAR));
        assert_eq!(block[6], insn(ALU64_MOV_K, 0, 0, 0, 1));
        assert_eq!(p[14], insn(ALU64_MOV_K, 0, 0, 0, 0));
        assert_eq!(p[15], insn(EXIT, 0, 0, 0, 0));
    }
}
