//! Every field of Docker's container create body (API 1.47: `Config`, and
//! `HostConfig` with its `Resources`) and what berth does with it: a
//! decision in code for each, so that none is dropped by accident. A field
//! is applied with Docker's effect (and checked as dockerd checks it), or
//! used by the client, or kept as Docker keeps it, or belongs to the
//! network code, or is refused with a 400 that names it and says why.
//!
//! The unit tests hold this table against the typed models of the body
//! (`models::container::{Config, HostConfig}`: every field they write),
//! moby's swagger for API 1.47 and the bodies the docker CLI 28 sends
//! (`testdata/`), so no field of the body is missing here.
//! Keys that are no field of Docker's are ignored, as Go's decoder does.

use serde_json::Value;

use super::SpecError;
use crate::EngineError;

/// What berth does with one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// Applied with Docker's effect, checked as dockerd checks it (the
    /// checks may refuse some values: see the applying code).
    Applied,
    /// For the client (`--cidfile`, attach flags): kept and shown, no
    /// effect in the daemon (none in dockerd either).
    Client,
    /// Kept for inspect and `commit`, as dockerd keeps it, with no effect
    /// on the run (none in dockerd either).
    Kept,
    /// The network code's (`crate::network`): ports, DNS, hosts, links.
    Network,
    /// Refused with a 400 whenever set (not zero, empty or null): the
    /// field's name and why.
    Refused(&'static str),
    /// Refused likewise, in dockerd's own words (which name the setting).
    RefusedAs(&'static str),
}

use Handling::{Applied, Client, Kept, Network, Refused, RefusedAs};

/// The body's top level besides `Config`'s fields.
pub const BODY: &[(&str, Handling)] = &[("HostConfig", Applied), ("NetworkingConfig", Network)];

/// `Config` (the top level of the create body).
pub const CONFIG: &[(&str, Handling)] = &[
    ("Hostname", Applied),
    ("Domainname", Applied),
    ("User", Applied),
    ("AttachStdin", Client),
    ("AttachStdout", Client),
    ("AttachStderr", Client),
    ("ExposedPorts", Network),
    ("Tty", Applied),
    ("OpenStdin", Applied),
    ("StdinOnce", Applied),
    ("Env", Applied),
    ("Cmd", Applied),
    ("Healthcheck", Applied),
    // Windows only; dockerd ignores it on Linux too.
    ("ArgsEscaped", Kept),
    ("Image", Applied),
    ("Volumes", Applied),
    ("WorkingDir", Applied),
    ("Entrypoint", Applied),
    ("NetworkDisabled", Network),
    ("MacAddress", Network),
    // Build-time triggers and shell: kept for commit, as dockerd keeps them.
    ("OnBuild", Kept),
    ("Labels", Applied),
    ("StopSignal", Applied),
    ("StopTimeout", Applied),
    ("Shell", Kept),
];

/// `HostConfig`, its `Resources` included.
pub const HOST_CONFIG: &[(&str, Handling)] = &[
    ("Binds", Applied),
    ("ContainerIDFile", Client),
    ("LogConfig", Applied),
    ("NetworkMode", Network),
    ("PortBindings", Network),
    ("RestartPolicy", Applied),
    ("AutoRemove", Applied),
    ("VolumeDriver", Applied),
    ("VolumesFrom", Applied),
    ("Mounts", Applied),
    ("ConsoleSize", Applied),
    ("Annotations", Applied),
    ("CapAdd", Applied),
    ("CapDrop", Applied),
    ("CgroupnsMode", Applied),
    ("Dns", Network),
    ("DnsOptions", Network),
    ("DnsSearch", Network),
    ("ExtraHosts", Network),
    ("GroupAdd", Applied),
    ("IpcMode", Applied),
    ("Cgroup", Refused("joining another container's cgroup is not supported by berth (the docker CLI never sends it)")),
    ("Links", Network),
    ("OomScoreAdj", Applied),
    ("PidMode", Applied),
    ("Privileged", Applied),
    ("PublishAllPorts", Network),
    ("ReadonlyRootfs", Applied),
    ("SecurityOpt", Applied),
    ("StorageOpt", Refused("--storage-opt is supported only for overlay over xfs with 'pquota' mount option (berth supports no storage options)")),
    ("Tmpfs", Applied),
    ("UTSMode", Applied),
    ("UsernsMode", Applied),
    ("ShmSize", Applied),
    ("Sysctls", Applied),
    ("Runtime", Applied),
    ("Isolation", Applied),
    ("MaskedPaths", Applied),
    ("ReadonlyPaths", Applied),
    ("Init", Applied),
    // Resources.
    ("CpuShares", Applied),
    ("Memory", Applied),
    ("CgroupParent", Applied),
    ("BlkioWeight", Applied),
    ("BlkioWeightDevice", Applied),
    ("BlkioDeviceReadBps", Applied),
    ("BlkioDeviceWriteBps", Applied),
    ("BlkioDeviceReadIOps", Applied),
    ("BlkioDeviceWriteIOps", Applied),
    ("CpuPeriod", Applied),
    ("CpuQuota", Applied),
    ("CpuRealtimePeriod", Applied),
    ("CpuRealtimeRuntime", Applied),
    ("CpusetCpus", Applied),
    ("CpusetMems", Applied),
    ("Devices", Applied),
    ("DeviceCgroupRules", Applied),
    // Refused with dockerd's own error for a host without such a driver
    // (see `check`).
    ("DeviceRequests", Refused("no device drivers (GPUs) on berth")),
    ("KernelMemory", Refused("kernel memory limits are not supported: Linux 5.4 deprecated them and cgroup v2 has none (Docker's API 1.42 and later ignore the field)")),
    ("KernelMemoryTCP", Refused("kernel TCP memory limits are not supported: cgroup v2 has none and Linux 6.12 deprecated them")),
    ("MemoryReservation", Applied),
    ("MemorySwap", Applied),
    ("MemorySwappiness", Applied),
    ("NanoCpus", Applied),
    ("OomKillDisable", Applied),
    ("PidsLimit", Applied),
    ("Ulimits", Applied),
    ("CpuCount", Refused("CPU count is a Windows setting (use --cpus on Linux)")),
    ("CpuPercent", Refused("CPU percent is a Windows setting (use --cpus on Linux)")),
    // runconfig's words (moby `runconfig/hostconfig_unix.go` validateQoS).
    ("IOMaximumIOps", RefusedAs("invalid option: QoS maximum IOPs configuration is not supported on linux")),
    ("IOMaximumBandwidth", RefusedAs("invalid option: QoS maximum bandwidth configuration is not supported on linux")),
];

/// Set: not null, false, zero, empty.
fn is_set(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// The handling of a `HostConfig` field (`None`: no field of Docker's).
pub fn host_config(name: &str) -> Option<Handling> {
    HOST_CONFIG
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, h)| *h)
}

/// dockerd's error for device requests no driver takes (`--gpus`):
/// `could not select device driver "" with capabilities: [[gpu]]`.
fn device_request_error(req: &Value) -> String {
    let driver = req["Driver"].as_str().unwrap_or("");
    let caps: Vec<String> = req["Capabilities"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|set| {
            let names: Vec<&str> = set
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            format!("[{}]", names.join(" "))
        })
        .collect();
    format!(
        "could not select device driver {driver:?} with capabilities: [{}]",
        caps.join(" ")
    )
}

/// Refuses a body that sets a refused field.
pub(crate) fn check(body: &Value) -> Result<(), EngineError> {
    let Some(hc) = body["HostConfig"].as_object() else {
        return Ok(());
    };
    for (key, value) in hc {
        let message = match host_config(key) {
            _ if !is_set(value) => continue,
            Some(Refused(_)) if key == "DeviceRequests" => device_request_error(&value[0]),
            Some(Refused(why)) => format!("{key}: {why}"),
            Some(RefusedAs(words)) => words.to_string(),
            _ => continue,
        };
        return Err(SpecError::Invalid(message.to_string()).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Create bodies the docker CLI 28 sent for `docker run` (captured with
    /// a fake daemon): a plain one, and one with nearly every flag.
    const CLI_BODIES: &[&str] = &[
        include_str!("testdata/cli28-run-plain.json"),
        include_str!("testdata/cli28-run-flags.json"),
    ];

    #[test]
    fn every_field_the_docker_cli_sends_is_decided() {
        for text in CLI_BODIES {
            let body: Value = serde_json::from_str(text).unwrap();
            for key in body.as_object().unwrap().keys() {
                assert!(
                    CONFIG.iter().chain(BODY).any(|(n, _)| n == key),
                    "Config field {key} has no handling"
                );
            }
            for key in body["HostConfig"].as_object().unwrap().keys() {
                assert!(
                    host_config(key).is_some(),
                    "HostConfig field {key} has no handling"
                );
            }
        }
    }

    /// Every property of moby's swagger (API 1.47) for `ContainerConfig`,
    /// `HostConfig` and `Resources` has its handling, and the tables name
    /// nothing else.
    #[test]
    fn every_field_of_the_api_is_decided() {
        let text = include_str!("testdata/swagger-1.47-fields.txt");
        let mut section = "";
        let (mut host, mut config) = (Vec::new(), Vec::new());
        for line in text.lines() {
            match line.strip_prefix("# ") {
                Some(s) => section = s,
                None if section == "ContainerConfig" => config.push(line),
                None if section == "HostConfig" || section == "Resources" => host.push(line),
                None => {}
            }
        }
        assert_eq!(host.len(), 70);
        for f in &host {
            assert!(
                host_config(f).is_some(),
                "HostConfig field {f} has no handling"
            );
        }
        for f in &config {
            assert!(
                CONFIG.iter().any(|(n, _)| n == f),
                "Config field {f} has no handling"
            );
        }
        // KernelMemory left the swagger with API 1.42; berth still decides it.
        for (n, _) in HOST_CONFIG {
            assert!(
                host.contains(n) || *n == "KernelMemory",
                "{n} is no field of API 1.47"
            );
        }
        for (n, _) in CONFIG {
            assert!(config.contains(n), "{n} is no field of API 1.47");
        }
    }

    /// The typed models (`models::container`) hold every field the daemon
    /// reads: each field they write, with every optional one set, has its
    /// handling here. A field added to the model fails this until decided.
    #[test]
    fn every_field_of_the_typed_models_is_decided() {
        use models::container::{Config, HealthConfig, HostConfig};
        let hc = HostConfig {
            kernel_memory: 1,
            kernel_memory_tcp: 1,
            runtime: "runc".into(),
            init: Some(true),
            annotations: [("a".to_string(), "b".to_string())].into(),
            storage_opt: [("size".to_string(), "1G".to_string())].into(),
            tmpfs: [("/t".to_string(), String::new())].into(),
            sysctls: [("net.x".to_string(), "1".to_string())].into(),
            mounts: vec![Default::default()],
            ..Default::default()
        };
        let v = serde_json::to_value(&hc).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert!(keys.len() >= 70, "{keys:?}");
        for key in keys {
            assert!(
                host_config(key).is_some(),
                "HostConfig field {key} has no handling"
            );
        }
        let c = Config {
            exposed_ports: [("80/tcp".to_string(), Default::default())].into(),
            healthcheck: Some(HealthConfig::default()),
            args_escaped: true,
            network_disabled: true,
            mac_address: "02:42:ac:11:00:02".into(),
            stop_signal: "SIGTERM".into(),
            stop_timeout: Some(1),
            shell: vec!["sh".into()],
            ..Default::default()
        };
        let v = serde_json::to_value(&c).unwrap();
        for key in v.as_object().unwrap().keys() {
            assert!(
                CONFIG.iter().any(|(n, _)| n == key),
                "Config field {key} has no handling"
            );
        }
    }

    #[test]
    fn the_tables_name_each_field_once() {
        for table in [CONFIG, HOST_CONFIG] {
            let mut names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
            names.sort_unstable();
            let n = names.len();
            names.dedup();
            assert_eq!(n, names.len());
        }
    }

    #[test]
    fn refused_fields_refused_only_when_set() {
        for text in CLI_BODIES.iter().take(1) {
            let body: Value = serde_json::from_str(text).unwrap();
            check(&body).unwrap();
        }
        let e = check(&json!({"HostConfig": {"KernelMemory": 1048576}})).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("KernelMemory: kernel memory limits are not supported"));
        let e = check(&json!({"HostConfig": {"DeviceRequests": [{"Driver": "", "Count": -1, "Capabilities": [["gpu"]]}]}})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "could not select device driver \"\" with capabilities: [[gpu]]"
        );
        let e = check(&json!({"HostConfig": {"IOMaximumIOps": 5}})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid option: QoS maximum IOPs configuration is not supported on linux"
        );
        check(&json!({"HostConfig": {"KernelMemory": 0, "CpuCount": 0, "DeviceRequests": null}}))
            .unwrap();
    }
}
