//! Running rootless: the runtime inside a user namespace it did not make
//! (rootless berthd, or podman's rootless pause namespace).
//!
//! There, as runc and crun do it: device nodes are bind mounted from the
//! host instead of made, flags the kernel locks on a bind cannot be
//! cleared, `sysfs` cannot be mounted for a network namespace the user
//! namespace does not own (the host's is bound instead), and cgroups are
//! used only where the hierarchy was delegated to the user
//! ([`crate::cgroups::Cgroup::none`] otherwise).

use std::sync::OnceLock;

/// Whether this process runs in a user namespace other than the initial one
/// (whose `uid_map` is the identity `0 0 4294967295`), decided once.
pub fn in_user_namespace() -> bool {
    static IN: OnceLock<bool> = OnceLock::new();
    *IN.get_or_init(|| {
        std::fs::read_to_string("/proc/self/uid_map")
            .map(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
            .unwrap_or(false)
    })
}

/// Whether the runtime runs without root's powers over the host: in a user
/// namespace of its own making or not, or as a user other than root.
pub fn rootless() -> bool {
    in_user_namespace() || !nix::unistd::geteuid().is_root()
}
