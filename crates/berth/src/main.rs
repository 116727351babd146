//! `berth`: Docker's command line for berthd. It finds the daemon through
//! `-H/--host`, then `BERTH_HOST`, then the default socket (root's, or for
//! other users their rootless daemon's `$XDG_RUNTIME_DIR/berth.sock`); it only ever talks
//! to the API. Exit codes are Docker's (28.x): 125 for a bad flag, and for
//! `run` when berth or the daemon fails; 126 and 127 when `run`'s command
//! cannot be invoked or is not found; otherwise the container's code, or 1
//! when the daemon refuses (with its message on one line).

mod client;
mod commands;
mod credentials;
mod progress;
mod session;
mod stream;
mod template;
mod term;
mod units;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use commands::container::{
    AttachArgs, KillArgs, NamesArgs, PruneArgs as ContainerPruneArgs, RenameArgs, RmArgs,
    StartArgs, StopArgs,
};
use commands::cp::CpArgs;
use commands::df::DfArgs;
use commands::events::EventsArgs;
use commands::exec::ExecArgs;
use commands::filesystem::{CommitArgs, DiffArgs, ExportArgs};
use commands::image::{
    HistoryArgs, ImagesArgs, ImportArgs, LoadArgs, PruneArgs, RmiArgs, SaveArgs, TagArgs,
};
use commands::inspect::{InspectArgs, Kind};
use commands::logs::LogsArgs;
use commands::ps::PsArgs;
use commands::run::{CreateArgs, RunArgs};
use commands::stats::StatsArgs;
use commands::top::TopArgs;

/// Default daemon socket.
const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

/// berth: run containers with the berth daemon.
#[derive(Debug, Parser)]
#[command(name = "berth", version, about, arg_required_else_help = true)]
struct Cli {
    /// Daemon socket to connect to
    #[arg(short = 'H', long = "host", value_name = "unix:///path")]
    host: Option<String>,
    /// The command.
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The container verbs, also under `berth container`.
    #[command(flatten)]
    Verb(Verb),
    /// Remove one or more containers
    Rm(RmArgs),
    /// List containers
    Ps(PsArgs),
    /// Return low-level information on containers or images
    Inspect(InspectArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// List images
    Images(ImagesArgs),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Download an image from a registry
    Pull(commands::pull::PullArgs),
    /// Upload an image to a registry
    Push(commands::push::PushArgs),
    /// Authenticate to a registry
    Login(commands::login::LoginArgs),
    /// Log out from a registry
    Logout(commands::login::LogoutArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Get real time events from the server
    Events(EventsArgs),
    /// Build an image from a Dockerfile
    Build(commands::build::BuildArgs),
    /// Manage containers
    Container {
        /// The subcommand.
        #[command(subcommand)]
        command: ContainerCommand,
    },
    /// Manage images
    Image {
        /// The subcommand.
        #[command(subcommand)]
        command: ImageCommand,
    },
    /// Show the berth version information
    Version {
        /// Format output using a custom template ('json' or a Go template)
        #[arg(short = 'f', long, value_name = "string")]
        format: Option<String>,
    },
    /// Display system-wide information
    Info {
        /// Format output using a custom template ('json' or a Go template)
        #[arg(short = 'f', long, value_name = "string")]
        format: Option<String>,
    },
    /// Manage networks
    Network {
        /// The subcommand.
        #[command(subcommand)]
        command: NetworkCommand,
    },
    /// Manage volumes
    Volume {
        /// The subcommand.
        #[command(subcommand)]
        command: VolumeCommand,
    },
    /// Manage berth
    System {
        /// The subcommand.
        #[command(subcommand)]
        command: SystemCommand,
    },
}

/// What `berth X` and `berth container X` both do.
#[derive(Debug, Subcommand)]
enum Verb {
    /// Create and run a new container from an image
    #[command(
        disable_help_flag = true,
        override_usage = "berth run [OPTIONS] IMAGE [COMMAND] [ARG...]"
    )]
    Run(RunArgs),
    /// Create a new container
    #[command(
        disable_help_flag = true,
        override_usage = "berth create [OPTIONS] IMAGE [COMMAND] [ARG...]"
    )]
    Create(CreateArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Pause all processes within one or more containers
    Pause(NamesArgs),
    /// Unpause all processes within one or more containers
    Unpause(NamesArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(NamesArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Update configuration of one or more containers
    Update(commands::update::UpdateArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(DiffArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
}

// Parsed once per process: the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum ContainerCommand {
    /// The verbs that are top-level commands too.
    #[command(flatten)]
    Verb(Verb),
    /// Remove one or more containers
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// List containers
    #[command(visible_aliases = ["ps", "list"])]
    Ls(PsArgs),
    /// Display detailed information on one or more containers
    Inspect(InspectArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Remove all stopped containers
    Prune(ContainerPruneArgs),
}

#[derive(Debug, Subcommand)]
enum ImageCommand {
    /// List images
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    /// Display detailed information on one or more images
    Inspect(InspectArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Remove one or more images
    #[command(visible_alias = "remove")]
    Rm(RmiArgs),
    /// Remove unused images
    Prune(PruneArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Download an image from a registry
    Pull(commands::pull::PullArgs),
    /// Upload an image to a registry
    Push(commands::push::PushArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
}

#[derive(Debug, Subcommand)]
enum NetworkCommand {
    /// Create a network
    Create(commands::network::CreateArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(commands::network::LsArgs),
    /// Display detailed information on one or more networks
    Inspect(InspectArgs),
    /// Remove one or more networks
    #[command(visible_alias = "remove")]
    Rm(commands::network::RmArgs),
    /// Remove all unused networks
    Prune(commands::network::PruneArgs),
    /// Connect a container to a network
    Connect(commands::network::ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(commands::network::DisconnectArgs),
}

#[derive(Debug, Subcommand)]
enum VolumeCommand {
    /// Create a volume
    Create(commands::volume::CreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(commands::volume::LsArgs),
    /// Display detailed information on one or more volumes
    Inspect(InspectArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(commands::volume::RmArgs),
    /// Remove unused local volumes
    Prune(commands::volume::PruneArgs),
}

#[derive(Debug, Subcommand)]
enum SystemCommand {
    /// Verify every stored blob against its digest and every image's parts
    Check,
    /// Show berth disk usage
    Df(DfArgs),
    /// Get real time events from the server
    Events(EventsArgs),
}

fn host(cli: &Cli) -> String {
    cli.host
        .clone()
        .or_else(|| std::env::var("BERTH_HOST").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(default_host)
}

/// Root's daemon, or for anyone else their rootless daemon's socket
/// (`$XDG_RUNTIME_DIR/berth.sock`, where rootless berthd listens).
fn default_host() -> String {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        return DEFAULT_HOST.into();
    }
    let dir = std::env::var("XDG_RUNTIME_DIR")
        .ok()
        .filter(|d| d.starts_with('/'))
        .unwrap_or_else(|| format!("/run/user/{euid}"));
    format!("unix://{dir}/berth.sock")
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let _ = e.print();
            // docker exits 125 on a bad flag; asking for help is no error.
            return ExitCode::from(match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                _ => 125,
            });
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = rt.block_on(async {
        let client = client::Client::new(&host(&cli))
            .map_err(|e| commands::Status::exit(125, format!("{e:#}")))?;
        run(&client, &cli.command).await
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let (code, message) = commands::exit_of(&e);
            if !message.is_empty() {
                commands::errln(&message);
            }
            ExitCode::from(code)
        }
    }
}

async fn run(client: &client::Client, command: &Command) -> Result<u8> {
    use commands::{container, df, events, image, inspect, logs, ps, system};
    match command {
        Command::Verb(v) => verb(client, v).await,
        Command::Rm(a) => container::rm(client, a).await,
        Command::Ps(a) => ps::ps(client, a).await,
        Command::Inspect(a) => inspect::inspect(client, a, None).await,
        Command::Logs(a) => logs::logs(client, a).await,
        Command::Images(a) => image::images(client, a).await,
        Command::Rmi(a) => image::rmi(client, a).await,
        Command::Tag(a) => image::tag(client, a).await,
        Command::History(a) => image::history(client, a).await,
        Command::Save(a) => image::save(client, a).await,
        Command::Load(a) => image::load(client, a).await,
        Command::Pull(a) => commands::pull::pull(client, a).await,
        Command::Push(a) => commands::push::push(client, a).await,
        Command::Login(a) => commands::login::login(client, a).await,
        Command::Logout(a) => commands::login::logout(client, a).await,
        Command::Import(a) => image::import(client, a).await,
        Command::Events(a) => events::events(client, a).await,
        Command::Build(a) => commands::build::build(client, a).await,
        Command::Container { command } => match command {
            ContainerCommand::Verb(v) => verb(client, v).await,
            ContainerCommand::Rm(a) => container::rm(client, a).await,
            ContainerCommand::Ls(a) => ps::ps(client, a).await,
            ContainerCommand::Inspect(a) => {
                inspect::inspect(client, a, Some(Kind::Container)).await
            }
            ContainerCommand::Logs(a) => logs::logs(client, a).await,
            ContainerCommand::Prune(a) => container::prune(client, a).await,
        },
        Command::Image { command } => match command {
            ImageCommand::Ls(a) => image::images(client, a).await,
            ImageCommand::Inspect(a) => inspect::inspect(client, a, Some(Kind::Image)).await,
            ImageCommand::History(a) => image::history(client, a).await,
            ImageCommand::Tag(a) => image::tag(client, a).await,
            ImageCommand::Rm(a) => image::rmi(client, a).await,
            ImageCommand::Prune(a) => image::prune(client, a).await,
            ImageCommand::Save(a) => image::save(client, a).await,
            ImageCommand::Load(a) => image::load(client, a).await,
            ImageCommand::Pull(a) => commands::pull::pull(client, a).await,
            ImageCommand::Push(a) => commands::push::push(client, a).await,
            ImageCommand::Import(a) => image::import(client, a).await,
        },
        Command::Version { format } => system::version(client, format.as_deref()).await,
        Command::Info { format } => system::info(client, format.as_deref()).await,
        Command::Network { command } => match command {
            NetworkCommand::Create(a) => commands::network::create(client, a).await,
            NetworkCommand::Ls(a) => commands::network::ls(client, a).await,
            NetworkCommand::Inspect(a) => inspect::inspect(client, a, Some(Kind::Network)).await,
            NetworkCommand::Rm(a) => commands::network::rm(client, a).await,
            NetworkCommand::Prune(a) => commands::network::prune(client, a).await,
            NetworkCommand::Connect(a) => commands::network::connect(client, a).await,
            NetworkCommand::Disconnect(a) => commands::network::disconnect(client, a).await,
        },
        Command::Volume { command } => match command {
            VolumeCommand::Create(a) => commands::volume::create(client, a).await,
            VolumeCommand::Ls(a) => commands::volume::ls(client, a).await,
            VolumeCommand::Inspect(a) => inspect::inspect(client, a, Some(Kind::Volume)).await,
            VolumeCommand::Rm(a) => commands::volume::rm(client, a).await,
            VolumeCommand::Prune(a) => commands::volume::prune(client, a).await,
        },
        Command::System { command } => match command {
            SystemCommand::Check => system::check(client).await,
            SystemCommand::Df(a) => df::df(client, a).await,
            SystemCommand::Events(a) => events::events(client, a).await,
        },
    }
}

async fn verb(client: &client::Client, v: &Verb) -> Result<u8> {
    use commands::{container, filesystem, run};
    match v {
        Verb::Run(a) => run::run(client, a).await,
        Verb::Create(a) => run::create_cmd(client, a).await,
        Verb::Start(a) => container::start(client, a).await,
        Verb::Attach(a) => container::attach(client, a).await,
        Verb::Exec(a) => commands::exec::exec(client, a).await,
        Verb::Stop(a) => container::stop(client, a).await,
        Verb::Kill(a) => container::kill(client, a).await,
        Verb::Restart(a) => container::restart(client, a).await,
        Verb::Pause(a) => container::pause(client, a, "pause").await,
        Verb::Unpause(a) => container::pause(client, a, "unpause").await,
        Verb::Wait(a) => container::wait(client, a).await,
        Verb::Rename(a) => container::rename(client, a).await,
        Verb::Update(a) => commands::update::update(client, a).await,
        Verb::Diff(a) => filesystem::diff(client, a).await,
        Verb::Commit(a) => filesystem::commit(client, a).await,
        Verb::Export(a) => filesystem::export(client, a).await,
        Verb::Cp(a) => commands::cp::cp(client, a).await,
        Verb::Top(a) => commands::top::top(client, a).await,
        Verb::Stats(a) => commands::stats::stats(client, a).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
