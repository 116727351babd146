//! moby's `container.Config` (API 1.47): what a container runs, as the
//! create body, `inspect`'s `Config` and an image config's `config` and
//! `container_config` carry it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{is_default, Empty};

/// `container.Config`. Field order and `omitempty` are Go's, so that it is
/// written as dockerd writes it: a nil list or map is `null`, and only the
/// fields Go marks `omitempty` are left out when empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(default, rename_all = "PascalCase")]
pub struct Config {
    /// Host name (default: the id's first 12 characters).
    pub hostname: String,
    /// Domain name.
    pub domainname: String,
    /// `user[:group]`, names or numbers.
    pub user: String,
    /// Attach stdin.
    pub attach_stdin: bool,
    /// Attach stdout.
    pub attach_stdout: bool,
    /// Attach stderr.
    pub attach_stderr: bool,
    /// `"80/tcp": {}`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub exposed_ports: BTreeMap<String, Empty>,
    /// A terminal.
    pub tty: bool,
    /// Keep stdin open.
    pub open_stdin: bool,
    /// Close stdin after the first attached client leaves.
    pub stdin_once: bool,
    /// `KEY=value`.
    pub env: Option<Vec<String>>,
    /// The command (`CMD`).
    #[serde(deserialize_with = "crate::de::str_slice")]
    pub cmd: Option<Vec<String>>,
    /// `HEALTHCHECK`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    /// Windows only: the command line is already escaped.
    #[serde(skip_serializing_if = "is_default")]
    pub args_escaped: bool,
    /// The image as the user named it.
    pub image: String,
    /// `VOLUME`s: `"/data": {}`.
    pub volumes: Option<BTreeMap<String, Empty>>,
    /// Working directory.
    pub working_dir: String,
    /// `ENTRYPOINT`.
    #[serde(deserialize_with = "crate::de::str_slice")]
    pub entrypoint: Option<Vec<String>>,
    /// No network at all.
    #[serde(skip_serializing_if = "is_default")]
    pub network_disabled: bool,
    /// Deprecated since API 1.44 (the endpoint's `MacAddress` replaced it).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
    /// `ONBUILD` triggers.
    pub on_build: Option<Vec<String>>,
    /// Labels.
    pub labels: Option<BTreeMap<String, String>>,
    /// `STOPSIGNAL`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    /// Seconds to wait for a stop before SIGKILL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// `SHELL`.
    #[serde(
        deserialize_with = "crate::de::str_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub shell: Vec<String>,
}

/// `HEALTHCHECK` (moby's `dockerspec.HealthcheckConfig`); durations in
/// nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct HealthConfig {
    /// `[]` inherit, `["NONE"]` off, `["CMD", args…]`, `["CMD-SHELL", cmd]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    /// Between checks.
    #[serde(skip_serializing_if = "is_default")]
    pub interval: i64,
    /// A check that takes longer failed.
    #[serde(skip_serializing_if = "is_default")]
    pub timeout: i64,
    /// Failures during it do not count.
    #[serde(skip_serializing_if = "is_default")]
    pub start_period: i64,
    /// Between checks during the start period.
    #[serde(skip_serializing_if = "is_default")]
    pub start_interval: i64,
    /// Consecutive failures before unhealthy.
    #[serde(skip_serializing_if = "is_default")]
    pub retries: i64,
}

impl Config {
    /// The environment, empty when nil.
    pub fn env(&self) -> &[String] {
        self.env.as_deref().unwrap_or_default()
    }

    /// The labels, empty when nil.
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.labels.clone().unwrap_or_default()
    }

    /// The value of a label.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.as_ref()?.get(key).map(String::as_str)
    }

    /// Entrypoint then command: what the container runs.
    pub fn args(&self) -> Vec<String> {
        let e = self.entrypoint.iter().flatten();
        e.chain(self.cmd.iter().flatten()).cloned().collect()
    }
}

crate::go_json!(Config);
