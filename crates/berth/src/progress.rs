//! Docker's JSON progress messages (pull, push) drawn as the docker CLI
//! draws them (`pkg/jsonmessage`): on a terminal, one line per layer,
//! rewritten in place with a bar (`[=====>    ]  1.2MB/3.4MB`); otherwise
//! one plain line per step, byte counts left out, so logs stay readable.

use anyhow::Result;
use models::progress::Message;

use crate::commands::{out, Status};

/// Width of the bar between the brackets, as Docker's.
const BAR: u64 = 50;

/// Draws a stream of messages.
#[derive(Debug)]
pub struct Renderer {
    tty: bool,
    quiet: bool,
    /// Layer ids in the order their lines were printed (terminal only).
    lines: Vec<String>,
}

/// `[=====>    ]  1.2MB/3.4MB`.
fn bar(current: u64, total: u64) -> String {
    let size = |n: u64| crate::units::human_size(n as f64);
    if total == 0 {
        return size(current);
    }
    let filled = (current.min(total) * BAR / total) as usize;
    let mut b = "=".repeat(filled.saturating_sub(1));
    if filled > 0 {
        b.push(if filled as u64 == BAR { '=' } else { '>' });
    }
    let rest = " ".repeat(BAR as usize - b.len());
    format!("[{b}{rest}]  {}/{}", size(current), size(total))
}

impl Renderer {
    /// A renderer for a terminal (`tty`) or not; `quiet` shows nothing.
    pub fn new(tty: bool, quiet: bool) -> Renderer {
        Renderer {
            tty,
            quiet,
            lines: Vec::new(),
        }
    }

    /// Draws one message; an `{"error"}` message is returned as the error
    /// (exit status 1).
    pub fn show(&mut self, v: &Message) -> Result<()> {
        let detail = v.error_detail.as_ref().map_or("", |d| d.message.as_str());
        if let Some(e) = [detail, v.error.as_str()]
            .into_iter()
            .find(|e| !e.is_empty())
        {
            return Err(Status::exit(1, e.to_string()));
        }
        if self.quiet {
            return Ok(());
        }
        let status = v.status.as_str();
        if status.is_empty() {
            // `aux` and other status-less messages are for programs.
            return Ok(());
        }
        // Go leaves out a zero `current` (`omitempty`): a total alone is a
        // bar at its start.
        let n = |x: i64| u64::try_from(x).unwrap_or(0);
        let progress = match v
            .progress_detail
            .as_ref()
            .map(|d| (n(d.current), n(d.total)))
        {
            Some((c, t)) if t > 0 => Some(bar(c, t)),
            Some((c, _)) if c > 0 => Some(crate::units::human_size(c as f64)),
            _ => None,
        };
        let id = Some(v.id.as_str()).filter(|i| !i.is_empty());
        if !self.tty {
            if progress.is_some() {
                return Ok(());
            }
            return crate::commands::outln(match id {
                Some(id) => format!("{id}: {status}"),
                None => status.to_string(),
            });
        }
        let text = match (id, &progress) {
            (Some(id), Some(p)) => format!("{id}: {status} {p}"),
            (Some(id), None) => format!("{id}: {status}"),
            (None, _) => status.to_string(),
        };
        let Some(id) = id else {
            return out(&format!("{text}\n"));
        };
        match self.lines.iter().position(|l| l == id) {
            Some(i) => {
                // Up to the layer's line, rewrite it, back down.
                let up = self.lines.len() - i;
                out(&format!("\x1b[{up}A\r\x1b[2K{text}\r\x1b[{up}B"))
            }
            None => {
                self.lines.push(id.to_string());
                out(&format!("\x1b[2K{text}\n"))
            }
        }
    }
}

/// Reads a body of JSON lines and draws each.
pub async fn render(body: hyper::body::Incoming, r: &mut Renderer) -> Result<()> {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut pending: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        pending.extend_from_slice(data);
        while let Some(i) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            if let Ok(v) = models::de::from_slice::<Message>(&line) {
                r.show(&v)?;
            }
        }
    }
    if let Ok(v) = models::de::from_slice::<Message>(&pending) {
        r.show(&v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars() {
        assert!(bar(0, 100).starts_with(&format!("[{}]", " ".repeat(50))));
        assert!(bar(50, 100).starts_with(&format!("[{}>{}]", "=".repeat(24), " ".repeat(25))));
        assert!(bar(100, 100).starts_with(&format!("[{}]", "=".repeat(50))));
        assert!(bar(200, 100).starts_with(&format!("[{}]", "=".repeat(50))));
    }
}
