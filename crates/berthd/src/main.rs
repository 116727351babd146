//! `berthd`: berth's daemon. It serves the Docker Engine API on a unix socket
//! (root-owned, mode 0660) and maps each route to an engine call.

mod api;
mod ctl;
mod detach;
mod events;
mod flags;
mod health;
mod host;
mod monitor;
mod phases;
mod unwind;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::UnixListener;

/// What every request handler shares.
#[derive(Debug)]
pub struct Daemon {
    /// Resolved settings.
    pub settings: flags::Settings,
    /// This daemon's id (kept in the data root).
    pub id: String,
    /// The engine.
    pub engine: Arc<engine::Engine>,
    /// What happened, for `/events`.
    pub events: events::Events,
    /// The registry client (settings and cached tokens).
    pub registry: registry::Client,
    /// Exits and removals, for waiters and attached streams.
    pub phases: Arc<phases::Phases>,
    /// The shim binary (`berth-shim` beside berthd, or `$BERTH_SHIM`), as
    /// the path of its sealed copy when one could be made.
    pub shim: std::path::PathBuf,
    /// Keeps the sealed copy open.
    _shim_copy: Option<std::os::fd::OwnedFd>,
    /// `berth-runtime` (beside berthd, or `$BERTH_RUNTIME`), for execs; as
    /// the path of its sealed copy when one could be made.
    pub runtime: std::path::PathBuf,
    /// Keeps that copy open.
    _runtime_copy: Option<std::os::fd::OwnedFd>,
    /// Execs, by id.
    pub execs: api::exec::Execs,
    /// Health of containers with a healthcheck, by id (`State.Health`).
    pub health: std::sync::Mutex<std::collections::HashMap<String, models::container::Health>>,
}

/// The current time, RFC 3339, UTC.
pub fn now_rfc3339() -> String {
    engine::time::now()
}

fn daemon_id(data_root: &std::path::Path) -> Result<String> {
    let path = data_root.join("engine-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        return Ok(id.trim().to_string());
    }
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .context("read /dev/urandom")?;
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &id).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("write {}", path.display()))?;
    Ok(id)
}

/// A helper binary: `$VAR`, else `name` beside berthd's own binary.
fn beside(var: &str, name: &str) -> std::path::PathBuf {
    std::env::var_os(var)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::current_exe()
                .map(|p| p.with_file_name(name))
                .unwrap_or_else(|_| name.into())
        })
}

/// The path of a sealed memfd copy of `path` (and the fd that keeps it),
/// or `path` itself when no copy could be made.
fn sealed(
    path: std::path::PathBuf,
    name: &str,
) -> (std::path::PathBuf, Option<std::os::fd::OwnedFd>) {
    match runtime::sealed::copy(&path, name) {
        Ok(fd) => (
            format!(
                "/proc/{}/fd/{}",
                std::process::id(),
                std::os::fd::AsRawFd::as_raw_fd(&fd)
            )
            .into(),
            Some(fd),
        ),
        Err(_) => (path, None),
    }
}

fn main() -> std::process::ExitCode {
    let flags = flags::Flags::parse();
    // Engine calls run on blocking threads; a burst of them should neither
    // leave dozens of threads behind nor a malloc arena for each.
    // SAFETY: plain integer arguments, before any thread exists.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
    if runtime::trace::enabled() {
        store::meta::set_trace(runtime::trace::mark);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(16)
        .thread_keep_alive(std::time::Duration::from_secs(2))
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(run(flags)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("berthd: {e:#}\n").as_bytes(),
            );
            std::process::ExitCode::from(1)
        }
    }
}

async fn run(flags: flags::Flags) -> Result<()> {
    let settings = flags.settings()?;
    // Every program run by name, checked once: one line for each missing.
    let shim_path = beside("BERTH_SHIM", "berth-shim");
    let runtime_path = beside("BERTH_RUNTIME", "berth-runtime");
    match host::check(
        settings.bridge.is_some(),
        &[("berth-shim", &shim_path), ("berth-runtime", &runtime_path)],
    ) {
        Ok(warnings) => {
            for w in warnings {
                let _ = std::io::Write::write_all(
                    &mut std::io::stderr(),
                    format!("berthd: warning: {w}\n").as_bytes(),
                );
            }
        }
        Err(e) => anyhow::bail!("{e}"),
    }
    // Nothing under the roots is any host user's but root's (a container's
    // root filesystem holds its setuid binaries); older roots are narrowed.
    for dir in [&settings.data_root, &settings.exec_root] {
        engine::perms::dir(dir, engine::perms::ROOT_DIR)
            .with_context(|| format!("create {}", dir.display()))?;
    }
    let id = daemon_id(&settings.data_root)?;
    if let Some(parent) = settings.socket.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    }
    // A socket left by a daemon that died; a live one answers and we refuse.
    if std::os::unix::net::UnixStream::connect(&settings.socket).is_ok() {
        anyhow::bail!(
            "another daemon is listening on {}",
            settings.socket.display()
        );
    }
    let _ = std::fs::remove_file(&settings.socket);
    let listener = bind_socket(&settings.socket)
        .with_context(|| format!("listen on {}", settings.socket.display()))?;
    std::fs::write(&settings.pidfile, std::process::id().to_string())
        .with_context(|| format!("write {}", settings.pidfile.display()))?;
    let (data_root, exec_root) = (settings.data_root.clone(), settings.exec_root.clone());
    let bridge = settings.bridge.clone();
    let dns = settings.dns.clone();
    let net_options = settings.net_options.clone();
    let engine = tokio::task::spawn_blocking(move || {
        let mut e = engine::Engine::open(&data_root, &exec_root)?;
        e.dns_servers = dns;
        e.net_options = net_options;
        e.network_setup(bridge)?;
        Ok::<_, engine::EngineError>(e)
    })
    .await?
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let shim = shim_path;
    // One sealed copy of each binary whose processes enter containers: their
    // pages are shared, and none can overwrite the file (CVE-2019-5736).
    let (shim, shim_copy) = sealed(shim, "berth-shim");
    let (runtime_bin, runtime_copy) = sealed(runtime_path, "berth-runtime");
    let registry = registry::Client::new(registry::Config {
        insecure: settings.insecure_registries.clone(),
        certs_dir: settings.certs_dir.clone(),
        mirrors: settings.registry_mirrors.clone(),
    });
    let daemon = Arc::new(Daemon {
        registry,
        shim,
        _shim_copy: shim_copy,
        runtime: runtime_bin,
        _runtime_copy: runtime_copy,
        execs: Default::default(),
        health: Default::default(),
        settings,
        id,
        engine: Arc::new(engine),
        phases: Default::default(),
        events: Default::default(),
    });
    monitor::adopt(daemon.clone()).await;
    if let Some(c) = &daemon.settings.cri {
        let cri = cri::Cri::new(
            daemon.engine.clone(),
            cri::Config {
                socket: c.socket.clone(),
                root: daemon.settings.data_root.join("cri"),
                state: daemon.settings.exec_root.join("cri"),
                runtime_root: daemon.settings.exec_root.join("runtime"),
                shim: daemon.shim.clone(),
                runtime_bin: daemon.runtime.clone(),
                stream_addr: c.stream_address,
                cni_conf_dir: c.cni_conf_dir.clone(),
                cni_bin_dirs: c.cni_bin_dirs.clone(),
                cgroup_parent: c.cgroup_parent.clone(),
                registry: daemon.registry.clone(),
            },
        )
        .with_context(|| format!("start the CRI server on {}", c.socket.display()))?;
        // A CRI socket that cannot be served ends the daemon: the kubelet
        // would otherwise wait on a runtime that never answers.
        let socket = c.socket.clone();
        tokio::spawn(async move {
            if let Err(e) = cri::serve(cri, std::future::pending()).await {
                let _ = std::io::Write::write_all(
                    &mut std::io::stderr(),
                    format!("berthd: CRI server on {}: {e}\n", socket.display()).as_bytes(),
                );
                std::process::exit(1);
            }
        });
    }
    tokio::spawn(give_back_memory());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    loop {
        tokio::select! {
            conn = listener.accept() => {
                let (stream, _) = match conn {
                    Ok(c) => c,
                    Err(_) => continue,
                };
                let d = daemon.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let d = d.clone();
                        // A panic in a request is that request's 500.
                        let handled = unwind::CatchUnwind::new(async move {
                            unwind::test_panic(req.uri().path());
                            api::handle(&d, req).await
                        });
                        async move {
                            Ok::<_, std::convert::Infallible>(
                                handled.await.unwrap_or_else(|m| api::panicked(&m)),
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(header_read_timeout())
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                });
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    let _ = std::fs::remove_file(&daemon.settings.socket);
    if let Some(c) = &daemon.settings.cri {
        let _ = std::fs::remove_file(&c.socket);
    }
    let _ = std::fs::remove_file(&daemon.settings.pidfile);
    Ok(())
}

/// How long a client may take to send a request's headers (and how long a
/// kept-alive connection may sit idle before its next request): a client
/// that trickles bytes, or opens connections and sends nothing, holds no
/// connection longer. hyper's own default, which it applies only with a
/// timer, which berthd had not set.
const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// [`HEADER_READ_TIMEOUT`]; test builds take `BERTHD_TEST_HEADER_TIMEOUT_MS`
/// so that a test need not wait half a minute.
fn header_read_timeout() -> std::time::Duration {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var("BERTHD_TEST_HEADER_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return std::time::Duration::from_millis(ms);
    }
    HEADER_READ_TIMEOUT
}

/// The API socket, born with mode 0660 (root and group root): the umask is
/// narrowed around the `bind`, so that there is no instant in which another
/// user may connect, as a `chmod` after it would leave. No other thread
/// creates files yet (the engine opens after).
fn bind_socket(path: &std::path::Path) -> std::io::Result<UnixListener> {
    use nix::sys::stat::{umask, Mode};
    let old = umask(Mode::from_bits_truncate(0o117));
    let bound = UnixListener::bind(path);
    umask(old);
    let listener = bound?;
    // A pre-existing, wider mode cannot be: the path was removed above; still,
    // say it plainly if the file system ignored the umask.
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if mode & 0o007 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    }
    Ok(listener)
}

/// Every 30 s, hands the heap pages glibc keeps after large operations
/// (the buffers of pulls, builds and loads, on threads that are gone) back
/// to the kernel: an idle daemon stays small.
async fn give_back_memory() {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
    loop {
        tick.tick().await;
        #[cfg(target_env = "gnu")]
        // SAFETY: malloc_trim only releases free memory of the allocator.
        let _ = tokio::task::spawn_blocking(|| unsafe { libc::malloc_trim(0) }).await;
    }
}
