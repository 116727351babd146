//! The protocol between `berth-shim` and its clients (berthd's API and
//! supervisor, the engine that starts it, the CRI), in one place, so that
//! both ends name the same files and speak the same words.
//!
//! A shim is started as `berth-shim CTRDIR ID RUNTIME_ROOT` with
//! [`env::OPEN_STDIN`] and [`env::ATTACH_WAIT`] in its environment; it
//! reports how the start went as one [`Report`] on its stdout, then
//! detaches. From then on it answers on the unix socket
//! [`files::CONTROL_SOCKET`] in `CTRDIR`: one [`Command`] line per
//! connection, answered by one [`Reply`] line, after which `stdin` carries
//! the client's bytes and `attach` the container's output in [`Frame`]s.
//! When the container's init exits the shim writes [`files::EXIT`]
//! (atomically: a temporary file renamed) and removes [`files::SHIM_PID`].
//!
//! Version [`VERSION`]: a shim outlives the daemon that started it, so a
//! newer berthd may meet an older shim. Commands are only ever added; a
//! shim answers one it does not know with [`Refusal::UnknownCommand`], and
//! `version` tells a client which commands it has. A change of the words or
//! the frame layout below would be a new version.
//!
//! No dependencies and no allocation beyond a `String` per line: the shim
//! is paid for per container.

use std::fmt;

/// The protocol's version, answered to [`Command::Version`].
pub const VERSION: u32 = 1;

/// The files in a container's directory that the shim and its clients share.
pub mod files {
    /// The control socket the shim listens on.
    pub const CONTROL_SOCKET: &str = "ctl.sock";
    /// The json-file log the shim writes (rotated as `ctr.log.N[.gz]`).
    pub const LOG: &str = "ctr.log";
    /// The log's options, written by the client before the start and read
    /// by the shim (`{"driver", "max-size", "max-file", "compress", "path"}`).
    pub const LOG_OPTS: &str = "log-opts.json";
    /// `PID START BOOT_ID` of the shim while it runs.
    pub const SHIM_PID: &str = "shim.pid";
    /// The shim's temporary `shim.pid`, renamed into place.
    pub const SHIM_PID_TMP: &str = ".shim.pid.tmp";
    /// `{"ExitCode", "FinishedAt", "OOMKilled"}`, written when the init exits.
    pub const EXIT: &str = "exit.json";
    /// The shim's temporary `exit.json`, renamed into place.
    pub const EXIT_TMP: &str = ".exit.json.tmp";
    /// When the client started the container, written by it (berthd: RFC
    /// 3339; the CRI: nanoseconds).
    pub const STARTED: &str = "started";
}

/// The environment a client starts the shim with.
pub mod env {
    /// Set (to anything): the container gets a stdin pipe that the shim
    /// feeds from `stdin` connections.
    pub const OPEN_STDIN: &str = "BERTH_OPEN_STDIN";
    /// How many `attach` readers the shim waits for (at most 5 s) before it
    /// starts the container, so that they miss none of its output.
    pub const ATTACH_WAIT: &str = "BERTH_ATTACH_WAIT";
}

/// How the start went, the one line the shim prints on its stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// `started <pid>`: the container's init runs as `pid`.
    Started(i32),
    /// `error <why>`.
    Error(String),
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::Started(pid) => write!(f, "started {pid}"),
            Report::Error(why) => write!(f, "error {why}"),
        }
    }
}

impl Report {
    /// Reads the shim's report; anything else is an error with the text.
    pub fn parse(text: &str) -> Report {
        match text.strip_prefix("started ") {
            Some(pid) => match pid.trim().parse() {
                Ok(pid) => Report::Started(pid),
                Err(_) => Report::Error(text.trim().to_string()),
            },
            None => Report::Error(
                text.strip_prefix("error ")
                    .unwrap_or(text)
                    .trim()
                    .to_string(),
            ),
        }
    }
}

/// A request on the control socket: one line per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `state` → `{"pid": N}`.
    State,
    /// `version` → `ok <VERSION>`.
    Version,
    /// `stdin` → `ok`, then the connection's bytes go to the container's
    /// stdin (its pipe, or the pty of a TTY container) until EOF, answered
    /// by `done` once all of them are written.
    Stdin,
    /// `close-stdin` → `ok`; the container's stdin pipe is closed.
    CloseStdin,
    /// `resize H W` → `ok`; the TTY's window size.
    Resize {
        /// Rows.
        height: u16,
        /// Columns.
        width: u16,
    },
    /// `reopen-log` → `ok` once the log's path is opened anew (the kubelet
    /// renamed the file to rotate it).
    ReopenLog,
    /// `attach` → `ok`, then the container's output as it comes, in
    /// [`Frame`]s, until the container has exited.
    Attach,
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::State => f.write_str("state"),
            Command::Version => f.write_str("version"),
            Command::Stdin => f.write_str("stdin"),
            Command::CloseStdin => f.write_str("close-stdin"),
            Command::Resize { height, width } => write!(f, "resize {height} {width}"),
            Command::ReopenLog => f.write_str("reopen-log"),
            Command::Attach => f.write_str("attach"),
        }
    }
}

impl Command {
    /// The command as sent: its words and a newline.
    pub fn line(&self) -> String {
        format!("{self}\n")
    }

    /// Reads a command line (the shim's side).
    pub fn parse(line: &str) -> Result<Command, Refusal> {
        let words: Vec<&str> = line.split_whitespace().collect();
        Ok(match words.as_slice() {
            ["state"] => Command::State,
            ["version"] => Command::Version,
            ["stdin"] => Command::Stdin,
            ["close-stdin"] => Command::CloseStdin,
            ["reopen-log"] => Command::ReopenLog,
            ["attach"] => Command::Attach,
            ["resize", h, w] => match (h.parse(), w.parse()) {
                (Ok(height), Ok(width)) => Command::Resize { height, width },
                _ => return Err(Refusal::BadResize),
            },
            _ => return Err(Refusal::UnknownCommand),
        })
    }
}

/// Why the shim refused a command: the words after `error `.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `stdin` to a container started without one.
    StdinNotOpen,
    /// `resize` with other than two numbers.
    BadResize,
    /// `resize` of a container without a TTY.
    NoTty,
    /// The TTY's `TIOCSWINSZ` failed.
    ResizeFailed,
    /// `reopen-log` could not open the log's path.
    CannotOpenLog,
    /// `reopen-log` of a container that logs nothing.
    NoLog,
    /// A command this shim does not know.
    UnknownCommand,
}

impl Refusal {
    /// The words, as the shim writes them.
    pub fn text(self) -> &'static str {
        match self {
            Refusal::StdinNotOpen => "stdin is not open",
            Refusal::BadResize => "resize H W",
            Refusal::NoTty => "no tty",
            Refusal::ResizeFailed => "resize failed",
            Refusal::CannotOpenLog => "cannot open the log",
            Refusal::NoLog => "the container has no log",
            Refusal::UnknownCommand => "unknown command",
        }
    }

    const ALL: [Refusal; 7] = [
        Refusal::StdinNotOpen,
        Refusal::BadResize,
        Refusal::NoTty,
        Refusal::ResizeFailed,
        Refusal::CannotOpenLog,
        Refusal::NoLog,
        Refusal::UnknownCommand,
    ];
}

/// The shim's answer line to a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `ok`, with words after it for `version`.
    Ok(String),
    /// `done`: all of a `stdin` connection's bytes are written.
    Done,
    /// `error <why>`.
    Refused(Refusal),
    /// `{"pid": N}`, the answer to `state`.
    State(i32),
    /// A line none of the above (from a shim of another version).
    Other(String),
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Ok(words) if words.is_empty() => f.write_str("ok"),
            Reply::Ok(words) => write!(f, "ok {words}"),
            Reply::Done => f.write_str("done"),
            Reply::Refused(r) => write!(f, "error {}", r.text()),
            Reply::State(pid) => write!(f, "{{\"pid\":{pid}}}"),
            Reply::Other(text) => f.write_str(text),
        }
    }
}

impl Reply {
    /// The plain `ok`.
    pub fn ok() -> Reply {
        Reply::Ok(String::new())
    }

    /// The reply as sent: its words and a newline.
    pub fn line(&self) -> String {
        format!("{self}\n")
    }

    /// Reads an answer line (with or without its newline).
    pub fn parse(line: &str) -> Reply {
        let line = line.trim();
        if line == "ok" {
            return Reply::ok();
        }
        if let Some(words) = line.strip_prefix("ok ") {
            return Reply::Ok(words.to_string());
        }
        if line == "done" {
            return Reply::Done;
        }
        if let Some(why) = line.strip_prefix("error ") {
            if let Some(r) = Refusal::ALL.into_iter().find(|r| r.text() == why) {
                return Reply::Refused(r);
            }
        }
        if let Some(pid) = line
            .strip_prefix("{\"pid\":")
            .and_then(|p| p.strip_suffix('}'))
            .and_then(|p| p.trim().parse().ok())
        {
            return Reply::State(pid);
        }
        Reply::Other(line.to_string())
    }

    /// The words of an error, for a client to pass on.
    pub fn why(&self) -> String {
        match self {
            Reply::Refused(r) => r.text().to_string(),
            Reply::Other(text) => text.strip_prefix("error ").unwrap_or(text).to_string(),
            other => other.to_string(),
        }
    }
}

/// The stream a frame of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The container's stdout (or its TTY).
    Stdout = 1,
    /// Its stderr.
    Stderr = 2,
}

impl Stream {
    /// The stream's name in the json-file log.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// The head of one frame of an `attach` connection: a byte naming the
/// stream (1 stdout, 2 stderr), the data's length as a big-endian `u32`;
/// the data follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// The stream, as its byte (1 or 2; another byte from a future shim).
    pub stream: u8,
    /// How many bytes of data follow.
    pub len: u32,
}

impl Frame {
    /// The head's size in bytes.
    pub const HEAD: usize = 5;

    /// The head of a frame of `data` from `stream`.
    pub fn of(stream: Stream, data: &[u8]) -> Frame {
        Frame {
            stream: stream as u8,
            // The shim reads at most 64 KiB at a time.
            len: u32::try_from(data.len()).unwrap_or(u32::MAX),
        }
    }

    /// The head's bytes.
    pub fn encode(self) -> [u8; Frame::HEAD] {
        let mut head = [0u8; Frame::HEAD];
        head[0] = self.stream;
        head[1..].copy_from_slice(&self.len.to_be_bytes());
        head
    }

    /// Reads a head.
    pub fn decode(head: [u8; Frame::HEAD]) -> Frame {
        Frame {
            stream: head[0],
            len: u32::from_be_bytes([head[1], head[2], head[3], head[4]]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip() {
        for c in [
            Command::State,
            Command::Version,
            Command::Stdin,
            Command::CloseStdin,
            Command::Resize {
                height: 24,
                width: 80,
            },
            Command::ReopenLog,
            Command::Attach,
        ] {
            assert_eq!(Command::parse(&c.line()), Ok(c));
        }
        assert_eq!(Command::Attach.line(), "attach\n");
        assert_eq!(
            Command::Resize {
                height: 3,
                width: 4
            }
            .line(),
            "resize 3 4\n"
        );
        assert_eq!(Command::parse("resize x 4"), Err(Refusal::BadResize));
        assert_eq!(Command::parse("nope"), Err(Refusal::UnknownCommand));
    }

    #[test]
    fn replies_round_trip() {
        for r in [
            Reply::ok(),
            Reply::Ok("1".into()),
            Reply::Done,
            Reply::State(42),
            Reply::Refused(Refusal::NoTty),
            Reply::Refused(Refusal::UnknownCommand),
        ] {
            assert_eq!(Reply::parse(&r.line()), r);
        }
        assert_eq!(Reply::parse("error no tty\n").why(), "no tty");
        assert_eq!(Reply::parse("error what").why(), "what");
        assert_eq!(Reply::ok().line(), "ok\n");
    }

    #[test]
    fn reports_and_frames() {
        assert_eq!(Report::parse("started 12"), Report::Started(12));
        assert_eq!(Report::Started(12).to_string(), "started 12");
        assert_eq!(
            Report::parse("error no such image\n"),
            Report::Error("no such image".into())
        );
        assert_eq!(Report::parse("").to_string(), "error ");
        let f = Frame::of(Stream::Stderr, b"hi");
        assert_eq!(f.encode(), [2, 0, 0, 0, 2]);
        assert_eq!(Frame::decode(f.encode()), f);
    }
}
