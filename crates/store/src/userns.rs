//! The store inside a user namespace (rootless berth), where overlayfs keeps
//! its bookkeeping in the `user.overlay.*` xattrs (the `userxattr` mount
//! option, Linux 5.11+) because `trusted.*` needs `CAP_SYS_ADMIN` in the
//! initial namespace, and where device nodes cannot be made.
//!
//! Which flavour applies is decided once per process from
//! `/proc/self/uid_map`: layers unpacked by a rootless daemon are read back
//! by the same daemon, in the same namespace, so the flavour of a data root
//! never changes under it (a rootless data root is the user's own,
//! `~/.local/share/berth`).

use std::sync::OnceLock;

/// The opaque-directory xattr of overlayfs mounted by root.
pub const TRUSTED_OPAQUE: &str = "trusted.overlay.opaque";
/// The opaque-directory xattr of overlayfs mounted with `userxattr`.
pub const USER_OPAQUE: &str = "user.overlay.opaque";

/// Whether this process runs in a user namespace other than the initial one
/// (the initial one maps every id to itself: `0 0 4294967295`).
pub fn in_user_namespace() -> bool {
    static IN: OnceLock<bool> = OnceLock::new();
    *IN.get_or_init(|| {
        std::fs::read_to_string("/proc/self/uid_map")
            .map(|m| !is_initial_map(&m))
            .unwrap_or(false)
    })
}

/// Whether a `uid_map`'s text is the initial namespace's identity map.
pub fn is_initial_map(map: &str) -> bool {
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

/// The xattr that marks an opaque directory in this process's overlays.
pub fn opaque_xattr() -> &'static str {
    if in_user_namespace() {
        USER_OPAQUE
    } else {
        TRUSTED_OPAQUE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_map() {
        for (map, initial) in [
            ("         0          0 4294967295\n", true),
            ("0 1001 1\n1 100000 65536\n", false),
            ("0 0 65536\n", false),
            ("", false),
        ] {
            assert_eq!(is_initial_map(map), initial, "{map:?}");
        }
    }
}
