//! `berth-runtime`: berth's OCI runtime as a command, compatible with runc's.

mod commands;
mod flags;
mod supervise;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use flags::{Cli, Command, LogFormat};
use runtime::Runtime;

fn main() -> ExitCode {
    runtime::abort_on_panic();
    let cli = Cli::parse();
    // Every command that runs code in a container runs from a sealed copy.
    if matches!(
        cli.command,
        Command::Create(_) | Command::Run { .. } | Command::Exec(_)
    ) {
        if let Err(e) = runtime::sealed::ensure("berth-runtime") {
            return fail(&cli, &anyhow::Error::from(e));
        }
    }
    match dispatch(&cli) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(255)),
        Err(e) => fail(&cli, &e),
    }
}

fn dispatch(cli: &Cli) -> Result<i32> {
    let rt = Runtime::new(cli.root());
    let mut out = std::io::stdout().lock();
    match &cli.command {
        Command::Create(f) => commands::create(&rt, f)?,
        Command::Start { id } => rt.start(id)?,
        Command::Run {
            create,
            detach,
            keep,
        } => return commands::run(&rt, create, *detach, *keep),
        Command::State { id } => {
            writeln!(out, "{}", serde_json::to_string_pretty(&rt.state(id)?)?)?
        }
        Command::Kill { all, id, signal } => commands::kill(&rt, id, signal, *all)?,
        Command::Delete { force, id } => rt.delete(id, *force)?,
        Command::Exec(f) => return commands::exec(&rt, f),
        Command::Pause { id } => rt.pause(id)?,
        Command::Resume { id } => rt.resume(id)?,
        Command::Ps {
            format,
            id,
            ps_args,
        } => commands::ps(&rt, format, id, ps_args)?,
        Command::List { quiet, format } => {
            let all = rt.list()?;
            if format == "json" {
                writeln!(out, "{}", serde_json::to_string(&all)?)?;
            } else if *quiet {
                for s in all {
                    writeln!(out, "{}", s.id)?;
                }
            } else {
                writeln!(
                    out,
                    "{:<24} {:<8} {:<10} {:<40} CREATED",
                    "ID", "PID", "STATUS", "BUNDLE"
                )?;
                for s in all {
                    writeln!(
                        out,
                        "{:<24} {:<8} {:<10} {:<40} {}",
                        s.id,
                        s.pid,
                        s.status,
                        s.bundle.display(),
                        s.created
                    )?;
                }
            }
        }
        Command::Events { stats, id } => {
            if !stats {
                anyhow::bail!("only `events --stats` is supported");
            }
            let stats = rt.stats(id)?;
            let event = serde_json::json!({"type": "stats", "id": id, "data": stats});
            writeln!(out, "{event}")?;
        }
        Command::Features => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&runtime::features())?
        )?,
        Command::Spec { bundle } => {
            let path = bundle.join("config.json");
            if path.exists() {
                anyhow::bail!("{} already exists", path.display());
            }
            std::fs::write(
                &path,
                serde_json::to_string_pretty(&runtime::default_spec())?,
            )?;
        }
    }
    Ok(0)
}

/// Reports an error on stderr (one line) and in the log file when given, the
/// way conmon expects to find it; exits 1 as runc does.
fn fail(cli: &Cli, e: &anyhow::Error) -> ExitCode {
    let msg = one_line(e);
    let _ = writeln!(std::io::stderr(), "berth-runtime: {msg}");
    if let Some(log) = &cli.log {
        log_error(log, cli.log_format, &msg);
    }
    ExitCode::from(1)
}

/// The error and its causes on one line, leaving out a cause whose text the
/// message before it already contains (our errors name their source).
fn one_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !msg.contains(&text) {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&text);
        }
    }
    msg
}

fn log_error(path: &Path, format: LogFormat, msg: &str) {
    let time = runtime::now_rfc3339();
    let line = match format {
        LogFormat::Json => {
            serde_json::json!({"level": "error", "msg": msg, "time": time}).to_string()
        }
        LogFormat::Text => format!("time=\"{time}\" level=error msg={msg:?}"),
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}
