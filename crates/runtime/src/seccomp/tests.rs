//! Filters compiled here are installed in forked children and checked with
//! real syscalls. The children do only raw syscalls and `_exit` (the test
//! harness is multi-threaded), and report a result as their exit code.

use super::*;
use oci_spec::runtime::Capability;

/// Runs `f` in a child with `program` installed (after no_new_privs) and
/// returns the child's exit code: what `f` returned.
fn in_child(program: Option<&Program>, f: fn() -> i32) -> i32 {
    // SAFETY: the child only makes raw syscalls (prctl, the probe in `f`) and
    // leaves with _exit; `install` does not allocate.
    match unsafe { libc::fork() } {
        0 => {
            // SAFETY: integer arguments only.
            unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
            if let Some(p) = program {
                if install(p).is_err() {
                    // SAFETY: ends the child.
                    unsafe { libc::_exit(200) };
                }
            }
            let code = f();
            // SAFETY: ends the child.
            unsafe { libc::_exit(code) }
        }
        pid => {
            let mut status = 0;
            // SAFETY: waits for our own child; `status` outlives the call.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            assert!(libc::WIFEXITED(status), "child died: {status:#x}");
            libc::WEXITSTATUS(status)
        }
    }
}

/// The errno of the last call, or 0 on success.
fn errno_of(ret: libc::c_long) -> i32 {
    if ret < 0 {
        // SAFETY: reads this thread's errno.
        unsafe { *libc::__errno_location() }
    } else {
        0
    }
}

fn mkdir_probe() -> i32 {
    // SAFETY: a static C string.
    let r = unsafe { libc::mkdir(c"/nonexistent-dir-for-seccomp-test/x".as_ptr(), 0o755) };
    errno_of(r.into())
}

fn getcwd_probe() -> i32 {
    let mut buf = [0u8; 64];
    // SAFETY: the buffer is ours and its length is given.
    let r = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
    errno_of(r)
}

fn profile(v: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(v).unwrap()
}

#[test]
fn errno_rules_and_defaults() {
    // (profile, probe, expected errno): ENOENT means mkdir ran (the path is missing).
    type Case = (serde_json::Value, fn() -> i32, i32);
    let cases: Vec<Case> = vec![
        (
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}),
            mkdir_probe,
            libc::EPERM,
        ),
        (
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}),
            getcwd_probe,
            38,
        ),
        (
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["no_such_syscall", "getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5}]}),
            getcwd_probe,
            5,
        ),
        (
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"}),
            mkdir_probe,
            libc::ENOENT,
        ),
    ];
    for (p, probe, want) in cases {
        let prog = compile(&profile(p.clone())).unwrap();
        assert_eq!(in_child(Some(&prog), probe), want, "{p}");
    }
    assert_eq!(in_child(None, mkdir_probe), libc::ENOENT);
}

fn personality_probe() -> i32 {
    // SAFETY: personality(0xffffffff) only queries.
    let q = unsafe { libc::personality(0xffff_ffff) };
    if q < 0 {
        return 1;
    }
    // READ_IMPLIES_EXEC (0x0400000) is not on Docker's list.
    // SAFETY: an integer argument; the process ends right after.
    let r = unsafe { libc::personality(0x0040_0000) };
    if errno_of(r.into()) == libc::EPERM {
        0
    } else {
        2
    }
}

fn unshare_probe() -> i32 {
    // SAFETY: an integer argument; the child ends right after.
    errno_of(unsafe { libc::unshare(libc::CLONE_NEWNS) }.into())
}

fn clone3_probe() -> i32 {
    // SAFETY: a null argument of size 0 is refused before any memory is read;
    // seccomp answers first anyway.
    errno_of(unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize) })
}

fn fork_probe() -> i32 {
    // SAFETY: the grandchild exits at once.
    match unsafe { libc::fork() } {
        // SAFETY: the grandchild ends at once.
        0 => unsafe { libc::_exit(0) },
        -1 => 1,
        pid => {
            let mut st = 0;
            // SAFETY: our child; `st` outlives the call.
            unsafe { libc::waitpid(pid, &mut st, 0) };
            0
        }
    }
}

fn clone_newns_probe() -> i32 {
    // clone(CLONE_NEWNS|SIGCHLD) with a null stack behaves like fork.
    // SAFETY: fork semantics; a child exits at once.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_NEWNS | libc::SIGCHLD) as libc::c_ulong,
            0,
            0,
            0,
            0,
        )
    };
    if r == 0 {
        // SAFETY: the clone child ends at once.
        unsafe { libc::_exit(0) };
    }
    errno_of(r)
}

fn vsock_probe() -> i32 {
    // SAFETY: creates a socket or fails; the process ends right after.
    errno_of(unsafe { libc::socket(libc::AF_VSOCK, libc::SOCK_STREAM, 0) }.into())
}

#[test]
fn docker_default_profile_behaves_like_dockers() {
    let default_caps = [
        Capability::Chown,
        Capability::Kill,
        Capability::Setuid,
        Capability::Setgid,
        Capability::NetBindService,
    ];
    let prog = compile(&docker_default(&default_caps)).unwrap();
    assert_eq!(
        in_child(Some(&prog), unshare_probe),
        libc::EPERM,
        "unshare needs CAP_SYS_ADMIN"
    );
    assert_eq!(
        in_child(Some(&prog), clone3_probe),
        libc::ENOSYS,
        "clone3 answers ENOSYS"
    );
    assert_eq!(in_child(Some(&prog), fork_probe), 0, "plain fork works");
    assert_eq!(
        in_child(Some(&prog), clone_newns_probe),
        libc::EPERM,
        "clone with namespace flags is denied"
    );
    assert_eq!(
        in_child(Some(&prog), personality_probe),
        0,
        "query allowed, other personalities denied"
    );
    assert_eq!(
        in_child(Some(&prog), vsock_probe),
        libc::EPERM,
        "AF_VSOCK denied"
    );
    assert_eq!(
        in_child(Some(&prog), mkdir_probe),
        libc::ENOENT,
        "mkdir allowed"
    );
    // With CAP_SYS_ADMIN, unshare passes the filter (it is root here).
    let admin = compile(&docker_default(&[Capability::SysAdmin])).unwrap();
    assert_eq!(in_child(Some(&admin), unshare_probe), 0);
}

#[test]
fn invalid_profiles_are_errors() {
    let notify = profile(serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY"}));
    assert!(matches!(compile(&notify), Err(SeccompError::Invalid(_))));
    let bad_index = profile(
        serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
    );
    assert!(matches!(compile(&bad_index), Err(SeccompError::Invalid(_))));
    let bad: Result<LinuxSeccomp, _> =
        serde_json::from_value(serde_json::json!({"defaultAction": "SCMP_ACT_BOGUS"}));
    assert!(bad.is_err());
}
