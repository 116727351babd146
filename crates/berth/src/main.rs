//! `berth`: Docker's command line for berthd. It finds the daemon through
//! `-H/--host`, then `BERTH_HOST`, then the default socket; it only ever talks
//! to the API. Exit codes are Docker's: 1 when the daemon refuses (with its
//! message) or cannot be reached, 125 when `run` itself fails, otherwise what
//! the command reports.

mod client;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use serde_json::Value;

/// Default daemon socket.
const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

/// berth: run containers with the berth daemon.
#[derive(Debug, Parser)]
#[command(name = "berth", version, about)]
struct Cli {
    /// Daemon socket to connect to.
    #[arg(short = 'H', long = "host", global = true)]
    host: Option<String>,
    /// The command.
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the berth version information.
    Version,
    /// Display system-wide information.
    Info,
    /// Manage berth.
    System {
        /// The subcommand.
        #[command(subcommand)]
        command: SystemCommand,
    },
}

#[derive(Debug, Subcommand)]
enum SystemCommand {
    /// Verify every stored blob against its digest and every image's parts.
    Check,
}

fn host(cli: &Cli) -> String {
    cli.host
        .clone()
        .or_else(|| std::env::var("BERTH_HOST").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| DEFAULT_HOST.into())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(run(&cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{e:#}");
            // The daemon's refusals and an unreachable daemon alike: 1, as docker.
            let _api_status = e.downcast_ref::<client::ApiError>().map(|a| a.status);
            ExitCode::from(1)
        }
    }
}

async fn run(cli: &Cli) -> Result<u8> {
    let client = client::Client::new(&host(cli))?;
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Version => {
            writeln!(
                out,
                "Client:\n Version:\t{}\n API version:\t{}",
                env!("CARGO_PKG_VERSION"),
                client::API_VERSION
            )?;
            let v: Value = client.get("/version").await?;
            writeln!(
                out,
                "\nServer: {}",
                v["Platform"]["Name"].as_str().unwrap_or("berth")
            )?;
            writeln!(out, " Version:\t{}", v["Version"].as_str().unwrap_or(""))?;
            writeln!(
                out,
                " API version:\t{} (minimum version {})",
                v["ApiVersion"].as_str().unwrap_or(""),
                v["MinAPIVersion"].as_str().unwrap_or("")
            )?;
            writeln!(
                out,
                " OS/Arch:\t{}/{}",
                v["Os"].as_str().unwrap_or(""),
                v["Arch"].as_str().unwrap_or("")
            )?;
            writeln!(
                out,
                " Kernel:\t{}",
                v["KernelVersion"].as_str().unwrap_or("")
            )?;
        }
        Command::Info => {
            let i: Value = client.get("/info").await?;
            writeln!(out, "Containers: {}", i["Containers"])?;
            writeln!(
                out,
                " Running: {}\n Paused: {}\n Stopped: {}",
                i["ContainersRunning"], i["ContainersPaused"], i["ContainersStopped"]
            )?;
            writeln!(out, "Images: {}", i["Images"])?;
            for (label, key) in [
                ("Server Version", "ServerVersion"),
                ("Storage Driver", "Driver"),
                ("Cgroup Driver", "CgroupDriver"),
                ("Cgroup Version", "CgroupVersion"),
                ("Kernel Version", "KernelVersion"),
                ("Operating System", "OperatingSystem"),
                ("Architecture", "Architecture"),
                ("Berth Root Dir", "DockerRootDir"),
                ("Name", "Name"),
                ("ID", "ID"),
            ] {
                writeln!(
                    out,
                    "{label}: {}",
                    i[key]
                        .as_str()
                        .map(String::from)
                        .unwrap_or_else(|| i[key].to_string())
                )?;
            }
            writeln!(out, "CPUs: {}\nTotal Memory: {}", i["NCPU"], i["MemTotal"])?;
        }
        Command::System {
            command: SystemCommand::Check,
        } => {
            let (_, body) = client
                .request(hyper::Method::POST, "/berth/system/check", None)
                .await?;
            let v: Value = serde_json::from_slice(&body)?;
            let problems = v["Problems"].as_array().cloned().unwrap_or_default();
            for p in &problems {
                writeln!(out, "{}", p.as_str().unwrap_or_default())?;
            }
            if !problems.is_empty() {
                return Ok(1);
            }
            writeln!(out, "ok")?;
        }
    }
    Ok(0)
}
