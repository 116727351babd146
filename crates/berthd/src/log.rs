//! The daemon's log: `tracing` events on stderr, one line each as
//! `berthd: LEVEL: message`, filtered by dockerd's levels (`--log-level`
//! debug, info, warn, error, fatal; `-D` is debug), as dockerd's flags.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The filter for dockerd's level name (`-D` wins, as dockerd's).
pub fn level(name: &str, debug: bool) -> Result<Level, String> {
    if debug {
        return Ok(Level::DEBUG);
    }
    match name.to_ascii_lowercase().as_str() {
        "trace" => Ok(Level::TRACE),
        "debug" => Ok(Level::DEBUG),
        "" | "info" => Ok(Level::INFO),
        "warn" | "warning" => Ok(Level::WARN),
        "error" | "fatal" | "panic" => Ok(Level::ERROR),
        _ => Err(format!("unable to parse logging level: {name}")),
    }
}

/// Starts the log at `level`.
pub fn init(level: Level) {
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .event_format(Line)
        .init();
}

/// One event as `berthd: LEVEL: message field=value…`.
struct Line;

impl<S, N> FormatEvent<S, N> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            Level::DEBUG => "debug",
            Level::TRACE => "trace",
        };
        write!(w, "berthd: {level}: ")?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerds_levels() {
        assert_eq!(level("warn", false), Ok(Level::WARN));
        assert_eq!(level("fatal", false), Ok(Level::ERROR));
        assert_eq!(level("error", true), Ok(Level::DEBUG));
        assert_eq!(
            level("loud", false),
            Err("unable to parse logging level: loud".into())
        );
    }
}
