//! `exec`: the create body, the start body and `inspect`.

use serde::{Deserialize, Serialize};

/// `POST /containers/{id}/exec` (`container.ExecOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(default, rename_all = "PascalCase")]
pub struct ExecConfig {
    /// `user[:group]`.
    pub user: String,
    /// All capabilities.
    pub privileged: bool,
    /// A terminal.
    pub tty: bool,
    /// A TTY's first size, `[height, width]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u32; 2]>,
    /// Attach stdin.
    pub attach_stdin: bool,
    /// Attach stderr.
    pub attach_stderr: bool,
    /// Attach stdout.
    pub attach_stdout: bool,
    /// Detached.
    pub detach: bool,
    /// Keys that detach.
    pub detach_keys: String,
    /// `KEY=value` added to the container's.
    pub env: Option<Vec<String>>,
    /// Working directory.
    pub working_dir: String,
    /// The command.
    #[serde(deserialize_with = "crate::de::str_slice")]
    pub cmd: Option<Vec<String>>,
}

/// `POST /exec/{id}/start`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(default, rename_all = "PascalCase")]
pub struct ExecStart {
    /// Run in the background.
    pub detach: bool,
    /// A terminal.
    pub tty: bool,
    /// A TTY's first size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u32; 2]>,
}

/// `GET /exec/{id}/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecInspect {
    /// Whether the client may still attach.
    #[serde(rename = "CanRemove")]
    pub can_remove: bool,
    /// The exec's id.
    #[serde(rename = "ID")]
    pub id: String,
    /// Running.
    #[serde(rename = "Running")]
    pub running: bool,
    /// The exit code once exited (null before).
    #[serde(rename = "ExitCode")]
    pub exit_code: Option<i64>,
    /// What runs.
    #[serde(rename = "ProcessConfig")]
    pub process_config: ProcessConfig,
    /// Stdin open.
    #[serde(rename = "OpenStdin")]
    pub open_stdin: bool,
    /// Stderr attached.
    #[serde(rename = "OpenStderr")]
    pub open_stderr: bool,
    /// Stdout attached.
    #[serde(rename = "OpenStdout")]
    pub open_stdout: bool,
    /// The container.
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    /// Its pid on the host.
    #[serde(rename = "Pid")]
    pub pid: i64,
    /// Detach keys.
    #[serde(rename = "DetachKeys")]
    pub detach_keys: String,
}

/// `ProcessConfig` of an exec's inspect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProcessConfig {
    /// A terminal.
    pub tty: bool,
    /// The command's first word.
    pub entrypoint: String,
    /// The rest.
    pub arguments: Vec<String>,
    /// Privileged.
    pub privileged: Option<bool>,
    /// The user.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
}

crate::go_json!(ExecConfig, ExecStart);
