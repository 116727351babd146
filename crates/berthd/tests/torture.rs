//! A short run of the torture harness (`tests/torture/torture.py`, issue
//! 16): two iterations of a random workload through the docker CLI, each
//! ended by a `kill -9` of berthd with operations in flight, then the
//! checks (system check, every acknowledged object intact, running
//! containers still running with their logs going on, nothing half-made)
//! and, at the end, the leak checks. The long run (100 iterations, a
//! release berthd) is run by hand: see docs/TESTING.md.

use std::process::Command;

#[test]
fn torture_short_run() {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/torture/torture.py");
    let out = Command::new("python3")
        .arg(script)
        .args(["--berthd", env!("CARGO_BIN_EXE_berthd")])
        .args(["--iterations", "2", "--seed", "16", "--workers", "2"])
        .args(["--max-delay", "1.5"])
        .output()
        .expect("python3 is installed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(", 0 problems,"), "{text}");
}
