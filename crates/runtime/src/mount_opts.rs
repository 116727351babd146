//! Mount options as the runtime spec writes them (`ro`, `nosuid`, `rbind`,
//! `rprivate`, `mode=755`, ...) split into what `mount(2)` takes: flags to set,
//! flags to clear, propagation changes, and the filesystem's data string.

use nix::mount::MsFlags;

/// The parsed options of one mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for the mount (and the read-only/nosuid/... remount of a bind).
    pub flags: MsFlags,
    /// Flags that `rw`, `suid`, ... asked to clear.
    pub clear: MsFlags,
    /// Propagation changes, applied one after the other once mounted.
    pub propagation: Vec<MsFlags>,
    /// Filesystem-specific options joined with commas (`mode=755,size=65536k`).
    pub data: String,
    /// `rro`: read-only recursively, every mount below the target too
    /// (`mount_setattr(2)` with `AT_RECURSIVE`, as runc does; Linux 5.12).
    pub recursive_ro: bool,
}

/// Known flag options: name, whether it clears, the flag.
const FLAGS: &[(&str, bool, MsFlags)] = &[
    ("async", true, MsFlags::MS_SYNCHRONOUS),
    ("atime", true, MsFlags::MS_NOATIME),
    ("bind", false, MsFlags::MS_BIND),
    ("defaults", false, MsFlags::empty()),
    ("dev", true, MsFlags::MS_NODEV),
    ("diratime", true, MsFlags::MS_NODIRATIME),
    ("dirsync", false, MsFlags::MS_DIRSYNC),
    ("exec", true, MsFlags::MS_NOEXEC),
    ("mand", false, MsFlags::MS_MANDLOCK),
    ("noatime", false, MsFlags::MS_NOATIME),
    ("nodev", false, MsFlags::MS_NODEV),
    ("nodiratime", false, MsFlags::MS_NODIRATIME),
    ("noexec", false, MsFlags::MS_NOEXEC),
    ("nomand", true, MsFlags::MS_MANDLOCK),
    ("norelatime", true, MsFlags::MS_RELATIME),
    ("nostrictatime", true, MsFlags::MS_STRICTATIME),
    ("nosuid", false, MsFlags::MS_NOSUID),
    ("rbind", false, MsFlags::MS_BIND.union(MsFlags::MS_REC)),
    ("relatime", false, MsFlags::MS_RELATIME),
    ("remount", false, MsFlags::MS_REMOUNT),
    ("ro", false, MsFlags::MS_RDONLY),
    ("rw", true, MsFlags::MS_RDONLY),
    ("silent", false, MsFlags::MS_SILENT),
    ("strictatime", false, MsFlags::MS_STRICTATIME),
    ("suid", true, MsFlags::MS_NOSUID),
    ("sync", false, MsFlags::MS_SYNCHRONOUS),
];

/// Propagation options.
const PROPAGATION: &[(&str, MsFlags)] = &[
    ("private", MsFlags::MS_PRIVATE),
    ("rprivate", MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    ("shared", MsFlags::MS_SHARED),
    ("rshared", MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ("slave", MsFlags::MS_SLAVE),
    ("rslave", MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    ("unbindable", MsFlags::MS_UNBINDABLE),
    ("runbindable", MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
];

/// Options that tools put in specs for other runtimes' features and that mean
/// nothing to `mount(2)`: accepted and ignored, as runc does.
const IGNORED: &[&str] = &["tmpcopyup", "notmpcopyup", "copy-symlink", "z", "Z", "U"];

/// Parses a spec mount's option list.
pub fn parse<S: AsRef<str>>(options: &[S]) -> MountOptions {
    let mut out = MountOptions {
        flags: MsFlags::empty(),
        clear: MsFlags::empty(),
        propagation: Vec::new(),
        data: String::new(),
        recursive_ro: false,
    };
    let mut data = Vec::new();
    for opt in options {
        let opt = opt.as_ref();
        if let Some((_, clear, flag)) = FLAGS.iter().find(|(n, _, _)| *n == opt) {
            if *clear {
                out.flags.remove(*flag);
                out.clear.insert(*flag);
            } else {
                out.flags.insert(*flag);
                out.clear.remove(*flag);
            }
        } else if opt == "rro" {
            out.recursive_ro = true;
            out.flags.insert(MsFlags::MS_RDONLY);
        } else if let Some((_, flag)) = PROPAGATION.iter().find(|(n, _)| *n == opt) {
            out.propagation.push(*flag);
        } else if !IGNORED.contains(&opt) {
            data.push(opt);
        }
    }
    out.data = data.join(",");
    out
}

/// Parses a propagation name (`rootfsPropagation`).
pub fn propagation(name: &str) -> Option<MsFlags> {
    PROPAGATION
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&[&str], MsFlags, &[MsFlags], &str)] = &[
            (
                &["nosuid", "noexec", "nodev"],
                MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV,
                &[],
                "",
            ),
            (
                &["rbind", "ro", "rprivate"],
                MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY,
                &[MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)],
                "",
            ),
            (&["ro", "rw"], MsFlags::empty(), &[], ""),
            (
                &["nosuid", "strictatime", "mode=755", "size=65536k"],
                MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
                &[],
                "mode=755,size=65536k",
            ),
            (
                &["newinstance", "ptmxmode=0666", "gid=5", "tmpcopyup"],
                MsFlags::empty(),
                &[],
                "newinstance,ptmxmode=0666,gid=5",
            ),
        ];
        for (opts, flags, prop, data) in cases {
            let got = parse(opts);
            assert_eq!(got.flags, *flags, "{opts:?}");
            assert_eq!(got.propagation, *prop, "{opts:?}");
            assert_eq!(got.data, *data, "{opts:?}");
        }
        assert!(parse(&["rw"]).clear.contains(MsFlags::MS_RDONLY));
    }
}
