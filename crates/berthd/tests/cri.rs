//! The CRI server (`berthd --cri-socket`), driven over gRPC by the client
//! generated from the same `api.proto` as the server: pods, containers,
//! exec, logs in the CRI's format and their reopening, stats, images.
//! critest (scripts/compat/critest.sh) is the full judge; these are the
//! main paths, fast.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cri::api;
use cri::api::image_service_client::ImageServiceClient;
use cri::api::runtime_service_client::RuntimeServiceClient;
use tonic::transport::Channel;

/// A berthd serving the CRI with busybox imported, and a CNI config dir of
/// its own whose only plugin is `loopback` (no bridge on the host).
struct Cri {
    _d: common::Daemon,
    socket: PathBuf,
    rt: tokio::runtime::Runtime,
    cgroup: String,
    _dir: tempfile::TempDir,
}

fn start() -> Cri {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let conf = dir.join("net.d");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("10-lo.conf"),
        r#"{"cniVersion": "0.4.0", "name": "lo-only", "type": "loopback"}"#,
    )
    .unwrap();
    let socket = dir.join("cri.sock");
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let cgroup = format!(
        "berth-cri-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let d = common::Daemon::with_busybox_and(&[
        "--cri-socket",
        socket.to_str().unwrap(),
        "--cni-conf-dir",
        conf.to_str().unwrap(),
        "--cri-cgroup-parent",
        &format!("/{cgroup}"),
    ]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    common::eventually("the CRI socket", || socket.exists());
    Cri {
        _d: d,
        socket,
        rt,
        cgroup,
        _dir: tmp,
    }
}

impl Drop for Cri {
    /// Pods outlive the daemon as containers do: they go first (also when
    /// a test failed half-way), then the pods' cgroup parent.
    fn drop(&mut self) {
        let mut rt = self.runtime();
        if let Ok(pods) = self.block(rt.list_pod_sandbox(api::ListPodSandboxRequest::default())) {
            for p in pods.into_inner().items {
                let _ = self.block(rt.remove_pod_sandbox(api::RemovePodSandboxRequest {
                    pod_sandbox_id: p.id,
                }));
            }
        }
        for e in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let _ = std::fs::remove_dir(e.path().join(&self.cgroup));
        }
        let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(&self.cgroup));
    }
}

impl Cri {
    fn channel(&self) -> Channel {
        let socket = self.socket.clone();
        self.rt.block_on(async move {
            tonic::transport::Endpoint::try_from("http://cri.sock")
                .unwrap()
                .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
                    let socket = socket.clone();
                    async move {
                        Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                            tokio::net::UnixStream::connect(socket).await?,
                        ))
                    }
                }))
                .await
                .unwrap()
        })
    }

    fn runtime(&self) -> RuntimeServiceClient<Channel> {
        RuntimeServiceClient::new(self.channel())
    }

    fn images(&self) -> ImageServiceClient<Channel> {
        ImageServiceClient::new(self.channel())
    }

    fn block<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(f)
    }
}

fn pod_config(name: &str, log_dir: &Path) -> api::PodSandboxConfig {
    api::PodSandboxConfig {
        metadata: Some(api::PodSandboxMetadata {
            name: name.into(),
            uid: format!("uid-{name}"),
            namespace: "test".into(),
            attempt: 0,
        }),
        hostname: format!("host-{name}"),
        log_directory: log_dir.display().to_string(),
        dns_config: Some(api::DnsConfig {
            servers: vec!["10.10.10.10".into()],
            searches: vec!["example.test".into()],
            options: vec!["ndots:8".into()],
        }),
        labels: HashMap::from([("app".to_string(), name.to_string())]),
        linux: Some(api::LinuxPodSandboxConfig {
            sysctls: HashMap::from([("kernel.shm_rmid_forced".to_string(), "1".to_string())]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn container_config(name: &str, cmd: &[&str]) -> api::ContainerConfig {
    api::ContainerConfig {
        metadata: Some(api::ContainerMetadata {
            name: name.into(),
            attempt: 0,
        }),
        image: Some(api::ImageSpec {
            image: "busybox".into(),
            ..Default::default()
        }),
        command: cmd.iter().map(|s| s.to_string()).collect(),
        log_path: format!("{name}.log"),
        labels: HashMap::from([("c".to_string(), name.to_string())]),
        ..Default::default()
    }
}

fn exec(
    c: &Cri,
    rt: &mut RuntimeServiceClient<Channel>,
    id: &str,
    cmd: &[&str],
) -> (i32, String, String) {
    let r = c
        .block(rt.exec_sync(api::ExecSyncRequest {
            container_id: id.into(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            timeout: 10,
        }))
        .unwrap()
        .into_inner();
    (
        r.exit_code,
        String::from_utf8_lossy(&r.stdout).into_owned(),
        String::from_utf8_lossy(&r.stderr).into_owned(),
    )
}

#[test]
fn pod_and_container_lifecycle() {
    let c = start();
    let mut rt = c.runtime();
    let v = c
        .block(rt.version(api::VersionRequest::default()))
        .unwrap()
        .into_inner();
    assert_eq!(
        (v.runtime_name.as_str(), v.runtime_api_version.as_str()),
        ("berth", "v1")
    );
    let st = c
        .block(rt.status(api::StatusRequest::default()))
        .unwrap()
        .into_inner();
    let conds: Vec<(String, bool)> = st
        .status
        .unwrap()
        .conditions
        .into_iter()
        .map(|c| (c.r#type, c.status))
        .collect();
    assert_eq!(
        conds,
        [
            ("RuntimeReady".to_string(), true),
            ("NetworkReady".to_string(), true)
        ]
    );

    let logs = tempfile::tempdir().unwrap();
    let pod_cfg = pod_config("web", logs.path());
    let pod = c
        .block(rt.run_pod_sandbox(api::RunPodSandboxRequest {
            config: Some(pod_cfg.clone()),
            runtime_handler: String::new(),
        }))
        .unwrap()
        .into_inner()
        .pod_sandbox_id;
    let again = c.block(rt.run_pod_sandbox(api::RunPodSandboxRequest {
        config: Some(pod_cfg.clone()),
        runtime_handler: String::new(),
    }));
    assert!(again.is_err(), "the same pod name twice is refused");
    let status = c
        .block(rt.pod_sandbox_status(api::PodSandboxStatusRequest {
            pod_sandbox_id: pod.clone(),
            verbose: false,
        }))
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    assert_eq!(status.state, api::PodSandboxState::SandboxReady as i32);
    assert_eq!(status.metadata.unwrap().name, "web");

    // A long-running container and one that writes and exits.
    let mk = |rt: &mut RuntimeServiceClient<Channel>, cfg: api::ContainerConfig| {
        c.block(rt.create_container(api::CreateContainerRequest {
            pod_sandbox_id: pod.clone(),
            config: Some(cfg),
            sandbox_config: Some(pod_cfg.clone()),
        }))
        .unwrap()
        .into_inner()
        .container_id
    };
    let sleeper = mk(&mut rt, container_config("sleeper", &["sleep", "1000"]));
    let writer = mk(
        &mut rt,
        container_config(
            "writer",
            &["sh", "-c", "echo out; echo err >&2; printf partial; exit 3"],
        ),
    );
    let listed = c
        .block(rt.list_containers(api::ListContainersRequest {
            filter: Some(api::ContainerFilter {
                state: Some(api::ContainerStateValue {
                    state: api::ContainerState::ContainerCreated as i32,
                }),
                ..Default::default()
            }),
        }))
        .unwrap()
        .into_inner()
        .containers;
    assert_eq!(listed.len(), 2);
    for id in [&sleeper, &writer] {
        c.block(rt.start_container(api::StartContainerRequest {
            container_id: id.clone(),
        }))
        .unwrap();
    }

    // The pod's namespaces and files, seen from inside.
    assert_eq!(
        exec(&c, &mut rt, &sleeper, &["hostname"]).1.trim(),
        "host-web"
    );
    let resolv = exec(&c, &mut rt, &sleeper, &["cat", "/etc/resolv.conf"]).1;
    assert!(resolv.contains("nameserver 10.10.10.10"), "{resolv}");
    assert!(resolv.contains("search example.test"), "{resolv}");
    assert!(resolv.contains("options ndots:8"), "{resolv}");
    assert_eq!(
        exec(
            &c,
            &mut rt,
            &sleeper,
            &["cat", "/proc/sys/kernel/shm_rmid_forced"]
        )
        .1
        .trim(),
        "1",
        "the pod's sysctl is in its IPC namespace"
    );
    let (code, out, err) = exec(
        &c,
        &mut rt,
        &sleeper,
        &["sh", "-c", "echo a; echo b >&2; exit 7"],
    );
    assert_eq!((code, out.as_str(), err.as_str()), (7, "a\n", "b\n"));
    // ExecSync's timeout: the call fails, the process is gone.
    let t = c.block(rt.exec_sync(api::ExecSyncRequest {
        container_id: sleeper.clone(),
        cmd: vec!["sleep".into(), "77".into()],
        timeout: 1,
    }));
    assert_eq!(t.unwrap_err().code(), tonic::Code::DeadlineExceeded);
    // busybox-static has no pgrep: the names of the container's processes
    // (its `sleep 1000`, this `cat`'s shell and itself).
    let names = exec(
        &c,
        &mut rt,
        &sleeper,
        &["sh", "-c", "cat /proc/[0-9]*/comm"],
    )
    .1;
    assert_eq!(
        names.lines().filter(|l| *l == "sleep").count(),
        1,
        "the timed-out exec still runs: {names}"
    );

    // The writer's exit and its log in the CRI format.
    common::eventually("the writer's exit", || {
        let s = c
            .block(rt.container_status(api::ContainerStatusRequest {
                container_id: writer.clone(),
                verbose: false,
            }))
            .unwrap()
            .into_inner()
            .status
            .unwrap();
        s.state == api::ContainerState::ContainerExited as i32
    });
    let s = c
        .block(rt.container_status(api::ContainerStatusRequest {
            container_id: writer.clone(),
            verbose: false,
        }))
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    assert_eq!((s.exit_code, s.reason.as_str()), (3, "Error"));
    assert!(s.started_at > 0 && s.finished_at >= s.started_at);
    assert_eq!(
        s.log_path,
        logs.path().join("writer.log").display().to_string()
    );
    let log = std::fs::read_to_string(logs.path().join("writer.log")).unwrap();
    let records: Vec<(String, String, String)> = log
        .lines()
        .map(|l| {
            let mut f = l.splitn(4, ' ');
            let time = f.next().unwrap().to_string();
            assert!(time.ends_with('Z') && time.contains('T'), "{l}");
            (
                f.next().unwrap().to_string(),
                f.next().unwrap().to_string(),
                f.next().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want = |s: &str, t: &str, m: &str| (s.to_string(), t.to_string(), m.to_string());
    assert!(records.contains(&want("stdout", "F", "out")), "{log}");
    assert!(records.contains(&want("stderr", "F", "err")), "{log}");
    assert!(records.contains(&want("stdout", "P", "partial")), "{log}");

    // Reopening a running container's log: the kubelet renamed the file.
    let sleeper_log = logs.path().join("sleeper.log");
    std::fs::rename(&sleeper_log, logs.path().join("sleeper.log.1")).ok();
    c.block(rt.reopen_container_log(api::ReopenContainerLogRequest {
        container_id: sleeper.clone(),
    }))
    .unwrap();
    assert!(sleeper_log.exists(), "a new log file after the reopen");

    // Stats of the running one.
    let stats = c
        .block(rt.container_stats(api::ContainerStatsRequest {
            container_id: sleeper.clone(),
        }))
        .unwrap()
        .into_inner()
        .stats
        .unwrap();
    assert!(stats.cpu.unwrap().timestamp > 0);
    assert!(stats.memory.unwrap().working_set_bytes.unwrap().value > 0);

    // Stop with a timeout: sleep ignores nothing, SIGTERM ends it at once.
    let t0 = std::time::Instant::now();
    c.block(rt.stop_container(api::StopContainerRequest {
        container_id: sleeper.clone(),
        timeout: 30,
    }))
    .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(20));
    c.block(rt.stop_pod_sandbox(api::StopPodSandboxRequest {
        pod_sandbox_id: pod.clone(),
    }))
    .unwrap();
    let pods = c
        .block(rt.list_pod_sandbox(api::ListPodSandboxRequest {
            filter: Some(api::PodSandboxFilter {
                label_selector: HashMap::from([("app".to_string(), "web".to_string())]),
                ..Default::default()
            }),
        }))
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0].state, api::PodSandboxState::SandboxNotready as i32);
    c.block(rt.remove_pod_sandbox(api::RemovePodSandboxRequest {
        pod_sandbox_id: pod.clone(),
    }))
    .unwrap();
    let left = c
        .block(rt.list_containers(api::ListContainersRequest::default()))
        .unwrap()
        .into_inner()
        .containers;
    assert!(left.is_empty(), "a pod's containers go with it: {left:?}");
    // Removing again is fine (the kubelet retries).
    c.block(rt.remove_pod_sandbox(api::RemovePodSandboxRequest {
        pod_sandbox_id: pod,
    }))
    .unwrap();
}

#[test]
fn images_list_status_remove() {
    let c = start();
    let mut im = c.images();
    let list = c
        .block(im.list_images(api::ListImagesRequest::default()))
        .unwrap()
        .into_inner()
        .images;
    let bb = list
        .iter()
        .find(|i| {
            i.repo_tags
                .iter()
                .any(|t| t == "docker.io/library/busybox:latest")
        })
        .unwrap_or_else(|| panic!("busybox in {list:?}"));
    assert!(bb.id.starts_with("sha256:") && bb.size > 0);
    let st = c
        .block(im.image_status(api::ImageStatusRequest {
            image: Some(api::ImageSpec {
                image: "busybox".into(),
                ..Default::default()
            }),
            verbose: true,
        }))
        .unwrap()
        .into_inner();
    assert_eq!(st.image.unwrap().id, bb.id);
    assert!(st.info["info"].contains("imageSpec"));
    let none = c
        .block(im.image_status(api::ImageStatusRequest {
            image: Some(api::ImageSpec {
                image: "nothere:1".into(),
                ..Default::default()
            }),
            verbose: false,
        }))
        .unwrap()
        .into_inner();
    assert!(
        none.image.is_none(),
        "a missing image is no error, and no image"
    );
    let fs = c
        .block(im.image_fs_info(api::ImageFsInfoRequest::default()))
        .unwrap()
        .into_inner();
    assert!(fs.image_filesystems[0].used_bytes.unwrap().value > 0);
    c.block(im.remove_image(api::RemoveImageRequest {
        image: Some(api::ImageSpec {
            image: bb.id.clone(),
            ..Default::default()
        }),
    }))
    .unwrap();
    let list = c
        .block(im.list_images(api::ListImagesRequest::default()))
        .unwrap()
        .into_inner()
        .images;
    assert!(list.iter().all(|i| i.id != bb.id));
    // Removing what is gone succeeds, as the CRI asks.
    c.block(im.remove_image(api::RemoveImageRequest {
        image: Some(api::ImageSpec {
            image: bb.id.clone(),
            ..Default::default()
        }),
    }))
    .unwrap();
}

/// A WebSocket client of the test's own: RFC 6455 over a `TcpStream`,
/// masked frames out, whole frames in.
struct Ws {
    s: std::net::TcpStream,
}

impl Ws {
    /// Upgrades `url` offering `protocols`; returns the client and the
    /// subprotocol the server chose.
    fn connect(url: &str, protocols: &str) -> (Ws, String) {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_at(rest.find('/').unwrap());
        let mut s = std::net::TcpStream::connect(host).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: {protocols}\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut b).unwrap();
            head.push(b[0]);
        }
        let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 101"), "{head}");
        // RFC 6455's example key and its answer.
        assert!(
            head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
            "{head}"
        );
        let chosen = head
            .lines()
            .find_map(|l| l.strip_prefix("sec-websocket-protocol: "))
            .unwrap_or("")
            .trim()
            .to_string();
        (Ws { s }, chosen)
    }

    fn send(&mut self, opcode: u8, payload: &[u8]) {
        use std::io::Write;
        let mask = [0x5a, 0x13, 0xc7, 0x01];
        let mut f = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => f.push(0x80 | n as u8),
            n => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.s.write_all(&f).unwrap();
    }

    /// Data on a channel (a binary message).
    fn channel(&mut self, ch: u8, data: &[u8]) {
        let mut m = vec![ch];
        m.extend_from_slice(data);
        self.send(2, &m);
    }

    /// The next frame (opcode, payload); `None` at EOF.
    fn recv(&mut self) -> Option<(u8, Vec<u8>)> {
        use std::io::Read;
        let mut h = [0u8; 2];
        self.s.read_exact(&mut h).ok()?;
        assert_eq!(h[1] & 0x80, 0, "the server does not mask");
        let len = match h[1] & 0x7f {
            126 => {
                let mut l = [0u8; 2];
                self.s.read_exact(&mut l).unwrap();
                u16::from_be_bytes(l) as usize
            }
            127 => {
                let mut l = [0u8; 8];
                self.s.read_exact(&mut l).unwrap();
                u64::from_be_bytes(l) as usize
            }
            n => n as usize,
        };
        let mut p = vec![0u8; len];
        self.s.read_exact(&mut p).unwrap();
        Some((h[0] & 0x0f, p))
    }

    /// Channel data until the server closes, by channel; also the order of
    /// the channels' first messages.
    fn drain(&mut self, got: &mut HashMap<u8, Vec<u8>>) {
        while let Some((op, p)) = self.recv() {
            match op {
                2 => got.entry(p[0]).or_default().extend_from_slice(&p[1..]),
                8 => {
                    self.send(8, &p);
                    return;
                }
                _ => {}
            }
        }
    }

    /// Channel data until `ch` holds `want`.
    fn until(&mut self, got: &mut HashMap<u8, Vec<u8>>, ch: u8, want: &str) {
        while !String::from_utf8_lossy(got.get(&ch).map(|v| &v[..]).unwrap_or(b"")).contains(want) {
            let (op, p) = self
                .recv()
                .unwrap_or_else(|| panic!("EOF before {want:?}: {got:?}"));
            assert_eq!(op, 2, "{got:?}");
            got.entry(p[0]).or_default().extend_from_slice(&p[1..]);
        }
    }
}

/// Exec over WebSocket (`v4.channel.k8s.io`, `v5.channel.k8s.io`), with
/// the test's own client: output by channel, the exit status on the error
/// channel, a terminal with its size and a resize, v5's close of stdin;
/// port forwarding over `v4.channel.k8s.io`.
#[test]
fn websocket_exec_resize_and_port_forward() {
    let c = start();
    let mut rt = c.runtime();
    let logs = tempfile::tempdir().unwrap();
    let pod_cfg = pod_config("ws", logs.path());
    let pod = c
        .block(rt.run_pod_sandbox(api::RunPodSandboxRequest {
            config: Some(pod_cfg.clone()),
            runtime_handler: String::new(),
        }))
        .unwrap()
        .into_inner()
        .pod_sandbox_id;
    let ctr = c
        .block(rt.create_container(api::CreateContainerRequest {
            pod_sandbox_id: pod.clone(),
            config: Some(container_config(
                "server",
                &["sh", "-c", "echo pf-hello | nc -l -p 7777; sleep 1000"],
            )),
            sandbox_config: Some(pod_cfg.clone()),
        }))
        .unwrap()
        .into_inner()
        .container_id;
    c.block(rt.start_container(api::StartContainerRequest {
        container_id: ctr.clone(),
    }))
    .unwrap();
    let url = |rt: &mut RuntimeServiceClient<Channel>, cmd: &[&str], tty: bool, stdin: bool| {
        c.block(rt.exec(api::ExecRequest {
            container_id: ctr.clone(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            tty,
            stdin,
            stdout: true,
            stderr: !tty,
        }))
        .unwrap()
        .into_inner()
        .url
    };

    // No terminal: stdout and stderr apart, a non-zero exit as v4's Status.
    let u = url(
        &mut rt,
        &["sh", "-c", "echo out; echo err >&2; exit 3"],
        false,
        false,
    );
    let (mut ws, chosen) = Ws::connect(&u, "v4.channel.k8s.io, channel.k8s.io");
    assert_eq!(chosen, "v4.channel.k8s.io");
    let mut got = HashMap::new();
    ws.drain(&mut got);
    assert_eq!(String::from_utf8_lossy(&got[&1]), "out\n");
    assert_eq!(String::from_utf8_lossy(&got[&2]), "err\n");
    let status: serde_json::Value = serde_json::from_slice(&got[&3]).unwrap();
    assert_eq!(status["status"], "Failure", "{status}");
    assert_eq!(status["reason"], "NonZeroExitCode", "{status}");
    assert_eq!(status["details"]["causes"][0]["message"], "3", "{status}");

    // A terminal: its first size, a resize, input, success.
    let u = url(
        &mut rt,
        &["sh", "-c", "stty size; read x; stty size; echo got-$x"],
        true,
        true,
    );
    let (mut ws, chosen) = Ws::connect(&u, "v5.channel.k8s.io, v4.channel.k8s.io");
    assert_eq!(chosen, "v5.channel.k8s.io");
    ws.channel(4, br#"{"Width":100,"Height":30}"#);
    let mut got = HashMap::new();
    ws.until(&mut got, 1, "30 100");
    ws.channel(4, br#"{"Width":120,"Height":40}"#);
    std::thread::sleep(Duration::from_millis(300));
    ws.channel(0, b"hi\n");
    ws.drain(&mut got);
    let out = String::from_utf8_lossy(&got[&1]).into_owned();
    assert!(out.contains("40 120") && out.contains("got-hi"), "{out:?}");
    assert!(!got.contains_key(&2), "a terminal has one output: {got:?}");
    let status: serde_json::Value = serde_json::from_slice(&got[&3]).unwrap();
    assert_eq!(status["status"], "Success", "{status}");

    // v5: the client ends stdin with [255, 0]; `cat` sees EOF.
    let u = url(&mut rt, &["cat"], false, true);
    let (mut ws, _) = Ws::connect(&u, "v5.channel.k8s.io");
    ws.channel(0, b"abc");
    ws.send(2, &[255, 0]);
    let mut got = HashMap::new();
    ws.drain(&mut got);
    assert_eq!(String::from_utf8_lossy(&got[&1]), "abc");
    let status: serde_json::Value = serde_json::from_slice(&got[&3]).unwrap();
    assert_eq!(status["status"], "Success", "{status}");

    // Port forwarding: data on channel 0, error on 1, each opened with the
    // port (little-endian); what the pod's server wrote arrives.
    let u = c
        .block(rt.port_forward(api::PortForwardRequest {
            pod_sandbox_id: pod.clone(),
            port: vec![7777],
        }))
        .unwrap()
        .into_inner()
        .url;
    let (mut ws, chosen) = Ws::connect(&u, "v4.channel.k8s.io");
    assert_eq!(chosen, "v4.channel.k8s.io");
    let mut got = HashMap::new();
    ws.until(&mut got, 0, "pf-hello");
    assert_eq!(&got[&0][..2], &7777u16.to_le_bytes());
    assert_eq!(&got[&0][2..], b"pf-hello\n");
    assert_eq!(&got[&1][..], &7777u16.to_le_bytes());
    ws.send(8, &1000u16.to_be_bytes());
}
