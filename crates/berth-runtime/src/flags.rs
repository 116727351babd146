//! Command-line flags, as runc's: the same global flags and command flags, so
//! that engines which drive runc (podman's conmon, containerd's shim) can drive
//! berth-runtime unchanged. Flags that make no difference here are accepted and
//! ignored, and say so.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// berth's OCI runtime: runs containers from OCI bundles.
#[derive(Debug, Parser)]
#[command(name = "berth-runtime", version, about)]
pub struct Cli {
    /// Directory for the containers' state (`/run/berth-runtime`; rootless,
    /// `$XDG_RUNTIME_DIR/berth-runtime`, as runc's default does).
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    /// Also write errors to this file.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Format of the log file.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Verbose output (accepted; errors are always reported).
    #[arg(long, global = true)]
    pub debug: bool,
    /// Cgroup paths in systemd's "slice:prefix:name" form (accepted; berth maps
    /// them to plain cgroupfs paths).
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Rootless mode (accepted: berth-runtime finds out itself whether it
    /// runs in a user namespace, see `runtime::userns`).
    #[arg(long, global = true, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The state directory: `--root`, else runc's rule: rootless (not root,
    /// or root of a user namespace with `$USER` not `root`, as under
    /// podman) with `$XDG_RUNTIME_DIR` set, `$XDG_RUNTIME_DIR/berth-runtime`.
    pub fn root(&self) -> PathBuf {
        if let Some(r) = &self.root {
            return r.clone();
        }
        let xdg = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty());
        let honor = !nix::unistd::geteuid().is_root()
            || (runtime::userns::in_user_namespace()
                && std::env::var("USER").map_or(true, |u| u != "root"));
        match xdg {
            Some(dir) if honor => PathBuf::from(dir).join("berth-runtime"),
            _ => PathBuf::from(runtime::container::DEFAULT_ROOT),
        }
    }
}

/// Log file formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// `time=… level=error msg=…`.
    Text,
    /// One JSON object a line, as conmon reads it.
    Json,
}

/// Flags shared by `create` and `run`.
#[derive(Debug, clap::Args)]
pub struct CreateFlags {
    /// The bundle directory.
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket to send the pty master to, for a container with a terminal.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// File to write the init's pid to.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Pass descriptors 3 to 3+N-1 to the process.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: i32,
    /// Accepted for runc compatibility; berth always uses pivot_root.
    #[arg(long)]
    pub no_pivot: bool,
    /// Accepted for runc compatibility; no session keyring is made.
    #[arg(long)]
    pub no_new_keyring: bool,
    /// The container id.
    pub id: String,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set up a container and leave it waiting for `start`.
    Create(CreateFlags),
    /// Start the process of a created container.
    Start {
        /// The container id.
        id: String,
    },
    /// Create and start a container, and wait for it unless detached.
    Run {
        /// create's flags.
        #[command(flatten)]
        create: CreateFlags,
        /// Return once started.
        #[arg(short, long)]
        detach: bool,
        /// Keep the container's state after it exits.
        #[arg(long)]
        keep: bool,
    },
    /// Print a container's state as JSON.
    State {
        /// The container id.
        id: String,
    },
    /// Send a signal to a container's init (default SIGTERM).
    Kill {
        /// Signal every process in the container.
        #[arg(short, long)]
        all: bool,
        /// The container id.
        id: String,
        /// Signal, by name or number.
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container's state and cgroup.
    Delete {
        /// Kill it first if it runs.
        #[arg(short, long)]
        force: bool,
        /// The container id.
        id: String,
    },
    /// Run another process in a running container.
    Exec(ExecFlags),
    /// Freeze every process of a container.
    Pause {
        /// The container id.
        id: String,
    },
    /// Thaw a paused container.
    Resume {
        /// The container id.
        id: String,
    },
    /// List the processes of a container.
    Ps {
        /// `table` (ps output) or `json` (pids).
        #[arg(short, long, default_value = "table")]
        format: String,
        /// The container id.
        id: String,
        /// Arguments for ps (default -ef).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// List containers.
    List {
        /// Only ids.
        #[arg(short, long)]
        quiet: bool,
        /// `table` or `json`.
        #[arg(short, long, default_value = "table")]
        format: String,
    },
    /// Print a container's resource usage, as runc's `events --stats`.
    Events {
        /// Print one set of statistics and exit (the only mode for now).
        #[arg(long)]
        stats: bool,
        /// The container id.
        id: String,
    },
    /// Print what this runtime supports, as JSON (runtime-spec features).
    Features,
    /// Write a default config.json in the current directory.
    Spec {
        /// The bundle directory to write into.
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
    },
}

/// Flags of `exec`.
#[derive(Debug, clap::Args)]
pub struct ExecFlags {
    /// A process.json to run instead of the arguments.
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Allocate a pty.
    #[arg(short, long)]
    pub tty: bool,
    /// Unix socket to send the pty master to.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Return once started.
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the process's pid to.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Working directory.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Environment variables (KEY=VALUE), added to the container's.
    #[arg(short, long)]
    pub env: Vec<String>,
    /// UID[:GID].
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional gids.
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Capabilities to add.
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Set no_new_privs.
    #[arg(long)]
    pub no_new_privs: bool,
    /// Pass descriptors 3 to 3+N-1.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: i32,
    /// Accepted for runc compatibility (no SELinux here).
    #[arg(long)]
    pub process_label: Option<String>,
    /// Accepted for runc compatibility (no AppArmor here).
    #[arg(long)]
    pub apparmor: Option<String>,
    /// The container id.
    pub id: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}
