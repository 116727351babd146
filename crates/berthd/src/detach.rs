//! Detach keys: the sequence that leaves an attached container running
//! (`ctrl-p,ctrl-q` by default; `--detach-keys`, the `detachKeys` query
//! parameter). Docker's syntax: comma-separated keys, each one character
//! or `ctrl-<c>` for c in `a`–`z`, `@`, `[`, `\`, `]`, `^`, `_`.

/// Docker's default sequence.
pub const DEFAULT: &[u8] = &[0x10, 0x11];

/// The bytes a `--detach-keys` value stands for.
pub fn parse(keys: &str) -> Result<Vec<u8>, String> {
    let bad = || format!("Invalid detach keys ({keys}) provided");
    let mut out = Vec::new();
    for key in keys.split(',') {
        let lower = key.to_ascii_lowercase();
        match lower.strip_prefix("ctrl-") {
            Some(c) if c.len() == 1 => {
                let c = c.as_bytes()[0];
                out.push(match c {
                    b'a'..=b'z' => c - b'a' + 1,
                    b'@' => 0,
                    b'[' | b'\\' | b']' | b'^' | b'_' => c - b'@',
                    _ => return Err(bad()),
                });
            }
            _ if key.len() == 1 => out.push(key.as_bytes()[0]),
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

/// Watches input for the sequence. Bytes that begin it are held back until
/// it is complete (detach: they are never sent) or broken (they are sent).
#[derive(Debug)]
pub struct Watch {
    keys: Vec<u8>,
    /// How many of `keys` the input has matched so far.
    matched: usize,
}

/// What to do with a piece of input.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    /// Send these bytes on.
    Send(Vec<u8>),
    /// The sequence was typed: send these (what came before it) and detach.
    Detach(Vec<u8>),
}

impl Watch {
    pub fn new(keys: Vec<u8>) -> Watch {
        Watch { keys, matched: 0 }
    }

    pub fn feed(&mut self, data: &[u8]) -> Seen {
        let mut out = Vec::with_capacity(data.len());
        for &b in data {
            if self.keys.is_empty() {
                out.push(b);
                continue;
            }
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Seen::Detach(out);
                }
                continue;
            }
            // Broken: what was held goes out, and this byte may start anew.
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    self.matched = 0;
                    return Seen::Detach(out);
                }
            } else {
                out.push(b);
            }
        }
        Seen::Send(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_syntax() {
        assert_eq!(parse("ctrl-p,ctrl-q").unwrap(), DEFAULT);
        assert_eq!(parse("ctrl-@,ctrl-[,ctrl-_").unwrap(), vec![0, 27, 31]);
        assert_eq!(parse("a,ctrl-A").unwrap(), vec![b'a', 1]);
        assert!(parse("ctrl-1").is_err());
        assert!(parse("ab").is_err());
        assert!(parse("").is_err());
        assert_eq!(
            parse("ctrl-").unwrap_err(),
            "Invalid detach keys (ctrl-) provided"
        );
    }

    #[test]
    fn the_sequence_is_held_then_sent_or_swallowed() {
        let mut w = Watch::new(DEFAULT.to_vec());
        assert_eq!(w.feed(b"ab\x10"), Seen::Send(b"ab".to_vec()));
        // Broken by another key: the held ctrl-p goes out with it.
        assert_eq!(w.feed(b"x"), Seen::Send(b"\x10x".to_vec()));
        // Split over reads, and a ctrl-p that restarts the match.
        assert_eq!(w.feed(b"\x10"), Seen::Send(vec![]));
        assert_eq!(w.feed(b"\x10"), Seen::Send(b"\x10".to_vec()));
        assert_eq!(w.feed(b"\x11rest"), Seen::Detach(vec![]));
        assert_eq!(w.feed(b"ls\x10\x11"), Seen::Detach(b"ls".to_vec()));
        let mut none = Watch::new(vec![]);
        assert_eq!(none.feed(b"\x10\x11"), Seen::Send(b"\x10\x11".to_vec()));
    }
}
