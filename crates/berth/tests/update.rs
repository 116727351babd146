//! `berth update` against a real berthd: docker's flags, the limits seen
//! from inside the running container, docker's refusals and exit codes.

mod common;

use common::*;

#[test]
fn update_sets_limits_of_a_running_container() {
    let d = Daemon::with_busybox();
    d.ok(&["run", "-d", "--name", "u", "busybox", "sleep", "1000"]);
    assert_eq!(
        d.berth(&[
            "update",
            "-m",
            "128m",
            "--memory-swap",
            "256m",
            "--cpu-shares",
            "300",
            "--pids-limit",
            "40",
            "--restart",
            "unless-stopped",
            "u"
        ]),
        (0, "u\n".into(), String::new())
    );
    let inside = d.ok(&[
        "exec",
        "u",
        "sh",
        "-c",
        "cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes memory.max cpu/cpu.shares pids/pids.max pids.max 2>/dev/null; true",
    ]);
    let words: Vec<&str> = inside.split_whitespace().collect();
    for want in ["134217728", "300", "40"] {
        assert!(words.contains(&want), "{want} in {inside}");
    }
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", "u"]),
        "unless-stopped\n"
    );
    // Without a flag, and with a missing container: docker's texts, exit 1.
    let (code, _, err) = d.berth(&["update", "u"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("you must provide one or more flags when using this command"),
        "{err}"
    );
    let (code, out, err) = d.berth(&["update", "--cpu-shares", "100", "nope", "u"]);
    assert_eq!((code, out.as_str()), (1, "u\n"), "{err}");
    assert!(err.contains("No such container: nope"), "{err}");
}
