//! berthd's system endpoints, judged by the real docker CLI and by raw HTTP.

mod common;

use std::process::Command;

use common::Daemon;

#[test]
fn docker_cli_negotiates_and_reads_version_and_info() {
    let d = Daemon::start();
    let (code, out, err) = d.docker(&[
        "version",
        "--format",
        "{{.Server.APIVersion}} {{.Server.Os}}",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "1.47 linux");
    let (code, out, err) = d.docker(&[
        "info",
        "--format",
        "{{.Driver}} {{.CgroupDriver}} {{.Containers}}",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "overlay2 cgroupfs 0");
}

#[test]
fn ping_headers_errors_and_socket_mode() {
    use std::os::unix::fs::PermissionsExt;
    let d = Daemon::start();
    let mode = std::fs::metadata(d.socket()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o660);
    let (head, body) = d.http("GET", "/_ping");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("api-version: 1.47"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase().contains("builder-version: 1"),
        "{head}"
    );
    assert_eq!(body, "OK");
    let (head, body) = d.http("GET", "/v1.47/no/such/route");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    assert_eq!(body, r#"{"message":"page not found"}"#);
    let (head, body) = d.http("GET", "/v1.12/version");
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert!(body.contains("too old"), "{body}");
    // A second daemon on the same socket refuses to start.
    let out = Command::new(env!("CARGO_BIN_EXE_berthd"))
        .arg("-H")
        .arg(format!("unix://{}", d.socket().display()))
        .arg("--data-root")
        .arg(d.dir.path().join("data2"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("another daemon"));
}

/// `/info` and `/version` carry what dockerd 20.10 answers (its key set,
/// recorded here, less what is Windows' or deprecated), with values taken
/// from the host: the cgroup limits it offers (the docker CLI prints a
/// warning for every one reported missing), the registry configuration
/// (loopback insecure, `--insecure-registry` entries), the OS version,
/// the daemon's descriptors; the `none` network's driver is `null`.
#[test]
fn info_and_version_fields_as_dockerd() {
    let d = Daemon::start_with(&[
        "--insecure-registry",
        "myreg:5000",
        "--insecure-registry",
        "10.9.0.0/16",
    ]);
    let (_, info) = d.curl("GET", "/v1.47/info", &[], b"");
    let info: serde_json::Value = serde_json::from_slice(&info).unwrap();
    const DOCKERD_20_10: &[&str] = &[
        "Architecture",
        "BridgeNfIp6tables",
        "BridgeNfIptables",
        "CPUSet",
        "CPUShares",
        "CgroupDriver",
        "CgroupVersion",
        "ContainerdCommit",
        "Containers",
        "ContainersPaused",
        "ContainersRunning",
        "ContainersStopped",
        "CpuCfsPeriod",
        "CpuCfsQuota",
        "Debug",
        "DefaultRuntime",
        "DockerRootDir",
        "Driver",
        "DriverStatus",
        "ExperimentalBuild",
        "GenericResources",
        "HttpProxy",
        "HttpsProxy",
        "ID",
        "IPv4Forwarding",
        "Images",
        "IndexServerAddress",
        "InitBinary",
        "InitCommit",
        "Isolation",
        "KernelVersion",
        "Labels",
        "LiveRestoreEnabled",
        "LoggingDriver",
        "MemTotal",
        "MemoryLimit",
        "NCPU",
        "NEventsListener",
        "NFd",
        "NGoroutines",
        "Name",
        "NoProxy",
        "OSType",
        "OSVersion",
        "OomKillDisable",
        "OperatingSystem",
        "PidsLimit",
        "Plugins",
        "RegistryConfig",
        "RuncCommit",
        "Runtimes",
        "SecurityOptions",
        "ServerVersion",
        "SwapLimit",
        "Swarm",
        "SystemTime",
        "Warnings",
    ];
    for k in DOCKERD_20_10 {
        assert!(info.get(k).is_some(), "/info lacks {k}: {info}");
    }
    assert_eq!(info["ExperimentalBuild"], false);
    // Docker's default runtime name, which is berth-runtime here.
    assert_eq!(info["DefaultRuntime"], "runc");
    assert_eq!(info["Runtimes"]["runc"]["path"], "berth-runtime", "{info}");
    assert_eq!(
        info["Plugins"]["Network"],
        serde_json::json!(["bridge", "host", "null"])
    );
    let rc = &info["RegistryConfig"];
    assert_eq!(
        rc["InsecureRegistryCIDRs"],
        serde_json::json!(["127.0.0.0/8", "10.9.0.0/16"])
    );
    assert_eq!(rc["IndexConfigs"]["myreg:5000"]["Secure"], false, "{rc}");
    assert_eq!(rc["IndexConfigs"]["docker.io"]["Official"], true, "{rc}");
    assert!(info["NFd"].as_i64().unwrap() > 3, "{info}");
    assert!(!info["SystemTime"].as_str().unwrap().is_empty());
    let memory_cgroup = std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes")
        .exists()
        || std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
            .is_ok_and(|c| c.contains("memory"));
    assert_eq!(info["MemoryLimit"], memory_cgroup, "{info}");
    let err = d.docker(&["info"]).2;
    if memory_cgroup {
        assert!(!err.contains("No memory limit support"), "{err}");
    }

    let (_, version) = d.curl("GET", "/v1.47/version", &[], b"");
    let v: serde_json::Value = serde_json::from_slice(&version).unwrap();
    for k in [
        "ApiVersion",
        "Arch",
        "Experimental",
        "GitCommit",
        "GoVersion",
        "KernelVersion",
        "MinAPIVersion",
        "Os",
    ] {
        assert!(
            v["Components"][0]["Details"].get(k).is_some(),
            "Engine details lack {k}: {v}"
        );
    }
    for k in [
        "Platform",
        "Components",
        "Version",
        "ApiVersion",
        "MinAPIVersion",
        "GitCommit",
        "GoVersion",
        "Os",
        "Arch",
        "KernelVersion",
    ] {
        assert!(v.get(k).is_some(), "/version lacks {k}: {v}");
    }
}
