//! The programs berthd and its shims run on the host, checked once at start
//! so that a missing one is named with its package and the way out, one line
//! each, instead of surfacing as `No such file or directory` in the middle of
//! the first network setup or `docker top`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A program berth runs by name, from `PATH`.
struct Program {
    name: &'static str,
    package: &'static str,
    /// What fails without it.
    needed_for: &'static str,
}

/// Every program run by name at run time (`Command::new` of a bare name in
/// berthd, the engine, net and the shim; hooks are the user's own paths).
const PROGRAMS: &[Program] = &[
    Program {
        name: "nft",
        package: "nftables",
        needed_for: "the default bridge's NAT and published ports, and user-defined networks",
    },
    Program {
        name: "ps",
        package: "procps",
        needed_for: "`docker top`",
    },
];

/// The search path as `execvp` uses it (with its default when unset).
fn search_path() -> Vec<PathBuf> {
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path).collect()
}

fn executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether `name` is found on `PATH`.
pub fn on_path(name: &str) -> bool {
    search_path().iter().any(|d| executable(&d.join(name)))
}

/// Checks the programs and berthd's own helpers. Returns one warning line per
/// missing program that only some requests need, or an error naming every
/// program the settings cannot do without (`nft` while a default bridge is
/// configured) with the way out.
pub fn check(bridge: bool, helpers: &[(&str, &Path)]) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    let mut fatal = Vec::new();
    for p in PROGRAMS {
        if on_path(p.name) {
            continue;
        }
        let line = format!(
            "missing program `{}` (package {}): needed for {}",
            p.name, p.package, p.needed_for
        );
        if p.name == "nft" && bridge {
            fatal.push(format!(
                "{line}; install it (apt-get install {}) or start berthd with --bridge none",
                p.package
            ));
        } else {
            warnings.push(line);
        }
    }
    for (what, path) in helpers {
        if !executable(path) {
            warnings.push(format!(
                "missing {what} at {} (build it beside berthd, or set its variable): containers cannot run",
                path.display()
            ));
        }
    }
    if fatal.is_empty() {
        Ok(warnings)
    } else {
        Err(fatal.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sh_and_not_a_made_up_name() {
        assert!(on_path("sh"));
        assert!(!on_path("berth-no-such-program"));
    }
}
