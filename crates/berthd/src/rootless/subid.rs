//! The user's subordinate id ranges, from `/etc/subuid` and `/etc/subgid`
//! (`NAME_OR_UID:START:COUNT` lines, shadow's `subuid(5)`), and the id maps
//! they give the daemon's user namespace: the user is root inside, and the
//! ranges follow from 1 on, as RootlessKit maps them for Docker rootless.

use std::fmt::Write as _;

/// Most lines read from a subid file: a file of thousands of users is
/// still far below; past it the file is not one.
const MAX_LINES: usize = 100_000;

/// One subordinate range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First host id.
    pub start: u64,
    /// How many ids.
    pub count: u64,
}

/// The ranges of the user named `name` (or numbered `id`) in a subid
/// file's text, in file order.
pub fn ranges(text: &str, name: &str, id: u32) -> Vec<Range> {
    let id = id.to_string();
    text.lines()
        .take(MAX_LINES)
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let mut f = l.split(':');
            let (owner, start, count) = (f.next()?, f.next()?, f.next()?);
            if f.next().is_some() || (owner != name && owner != id) {
                return None;
            }
            let (start, count) = (start.parse().ok()?, count.parse().ok()?);
            (count > 0).then_some(Range { start, count })
        })
        .collect()
}

/// The arguments of `newuidmap PID …` (or `newgidmap`) after the pid:
/// `0 ID 1`, then each range from 1 on.
pub fn map_args(own: u32, ranges: &[Range]) -> Vec<String> {
    let mut args = vec!["0".to_string(), own.to_string(), "1".to_string()];
    let mut inside = 1u64;
    for r in ranges {
        args.extend([inside.to_string(), r.start.to_string(), r.count.to_string()]);
        inside += r.count;
    }
    args
}

/// The ids a namespace with these ranges has beside root (for messages).
pub fn describe(ranges: &[Range]) -> String {
    let mut s = String::new();
    for (i, r) in ranges.iter().enumerate() {
        // Writing to a String cannot fail.
        let _ = write!(
            s,
            "{}{}-{}",
            if i > 0 { ", " } else { "" },
            r.start,
            r.start + r.count - 1
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_by_name_or_uid() {
        let text = "# comment\nalice:100000:65536\nbob:165536:65536\n1001:300000:1000\nbad line\nalice:x:1\nalice:500000:0\n";
        assert_eq!(
            ranges(text, "alice", 1001),
            vec![
                Range {
                    start: 100000,
                    count: 65536
                },
                Range {
                    start: 300000,
                    count: 1000
                }
            ]
        );
        assert_eq!(ranges(text, "carol", 1002), vec![]);
        assert_eq!(
            map_args(1001, &ranges(text, "alice", 1001)),
            ["0", "1001", "1", "1", "100000", "65536", "65537", "300000", "1000"]
        );
        assert_eq!(describe(&ranges(text, "bob", 7)), "165536-231071");
    }
}
