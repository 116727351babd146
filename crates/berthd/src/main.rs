//! `berthd`: berth's daemon. It serves the Docker Engine API on a unix socket
//! (root-owned, mode 0660): `api/` parses each request and calls one of
//! the services in `daemon/`, which drive the engine.

mod api;
mod ctl;
mod daemon;
mod detach;
mod flags;
mod host;
mod log;
mod rootless;
mod unwind;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::UnixListener;

pub use daemon::{now_rfc3339, Daemon};

fn daemon_id(data_root: &std::path::Path) -> Result<String> {
    let path = data_root.join("engine-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        return Ok(id.trim().to_string());
    }
    let id = engine::ids::random_hex(16);
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
    // A rootless daemon's holder is this binary too (rootless/holder.rs).
    rootless::holder::run_if_holder();
    let flags = flags::Flags::parse();
    let fail = |e: anyhow::Error| {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("berthd: {e:#}\n").as_bytes(),
        );
        std::process::ExitCode::from(1)
    };
    let user = if rootless::wanted() {
        match rootless::UserEnv::current() {
            Ok(u) => Some(u),
            Err(e) => return fail(e),
        }
    } else {
        None
    };
    let settings = match flags.settings_for(user.as_ref()) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    // Rootless: into the user, mount and network namespaces while this
    // process is still single-threaded (joining a user namespace needs it).
    let rootless = match &user {
        Some(u) => match rootless::enter(&settings.exec_root, settings.rootless_network, u) {
            Ok(r) => Some(r),
            Err(e) => return fail(e.context("rootless")),
        },
        None => None,
    };
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
    match rt.block_on(run(settings, rootless, flags.debug)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// The daemon: checks the host, claims the roots and the socket, opens
/// the engine, adopts what runs, serves until SIGTERM or SIGINT.
async fn run(
    settings: flags::Settings,
    rootless: Option<rootless::Rootless>,
    debug: bool,
) -> Result<()> {
    log::init(log::level(&settings.log_level, debug).map_err(anyhow::Error::msg)?);
    let (shim_path, runtime_path) = check_host(&settings)?;
    // Nothing under the roots is any host user's but root's (a container's
    // root filesystem holds its setuid binaries); older roots are narrowed.
    for dir in [&settings.data_root, &settings.exec_root] {
        engine::perms::dir(dir, engine::perms::ROOT_DIR)
            .with_context(|| format!("create {}", dir.display()))?;
    }
    let id = daemon_id(&settings.data_root)?;
    let listener = claim_socket(&settings)?;
    let engine = open_engine(&settings, rootless.is_some()).await?;
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
    daemon::monitor::adopt(daemon.clone()).await;
    start_cri(&daemon)?;
    tokio::spawn(give_back_memory());
    tracing::info!(
        "API listening on {} (data root {}, exec root {})",
        daemon.settings.socket.display(),
        daemon.settings.data_root.display(),
        daemon.settings.exec_root.display()
    );
    serve(listener, &daemon).await?;
    shut_down(&daemon, rootless.as_ref());
    Ok(())
}

/// Every program run by name, checked once: one line for each missing.
/// Returns the shim's and the runtime's paths.
fn check_host(settings: &flags::Settings) -> Result<(std::path::PathBuf, std::path::PathBuf)> {
    let shim_path = beside("BERTH_SHIM", "berth-shim");
    let runtime_path = beside("BERTH_RUNTIME", "berth-runtime");
    match host::check(
        settings.bridge.is_some(),
        &[("berth-shim", &shim_path), ("berth-runtime", &runtime_path)],
    ) {
        Ok(warnings) => {
            for w in warnings {
                tracing::warn!("{w}");
            }
        }
        Err(e) => anyhow::bail!("{e}"),
    }
    Ok((shim_path, runtime_path))
}

/// The API socket, taken from a daemon that died (a live one answers, and
/// this one refuses to start), and the pid file.
fn claim_socket(settings: &flags::Settings) -> Result<UnixListener> {
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
    Ok(listener)
}

/// Opens the engine on the roots, with the network settings (rootless:
/// its cgroups, its port driver, slirp4netns' resolver), and sets the
/// networks up.
async fn open_engine(settings: &flags::Settings, rootless: bool) -> Result<engine::Engine> {
    let (data_root, exec_root) = (settings.data_root.clone(), settings.exec_root.clone());
    let bridge = settings.bridge.clone();
    let mut dns = settings.dns.clone();
    let net_options = settings.net_options.clone();
    let mut port_driver: Option<Arc<dyn engine::rootless::PortDriver>> = None;
    if rootless {
        engine::rootless::set_cgroups(rootless::cgroups::setup());
        port_driver = Some(Arc::new(rootless::ports::Builtin::new(
            tokio::runtime::Handle::current(),
        )));
        if dns.is_empty() && settings.rootless_network == rootless::stack::Stack::Slirp4netns {
            // slirp4netns' forwarder reaches the host's resolvers, a
            // loopback one (systemd-resolved's) included.
            dns.push((rootless::stack::SLIRP_DNS, 53).into());
        }
    }
    let engine = tokio::task::spawn_blocking(move || {
        let mut e = engine::Engine::open(&data_root, &exec_root)?;
        e.set_network_options(dns, net_options);
        e.set_port_driver(port_driver);
        e.network_setup(bridge)?;
        Ok::<_, engine::EngineError>(e)
    })
    .await?
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(engine)
}

/// With `--cri-socket`: the CRI server, whose failure ends the daemon.
fn start_cri(daemon: &Arc<Daemon>) -> Result<()> {
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
                tracing::error!("CRI server on {}: {e}", socket.display());
                std::process::exit(1);
            }
        });
    }
    Ok(())
}

/// Serves the API on `listener`, a task per connection, until SIGTERM or
/// SIGINT.
async fn serve(listener: UnixListener, daemon: &Arc<Daemon>) -> Result<()> {
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
    Ok(())
}

/// At exit: the socket and pid files go; containers run on with their
/// shims (rootless: the namespaces' holder goes once nothing runs in them).
fn shut_down(daemon: &Daemon, rootless: Option<&rootless::Rootless>) {
    tracing::info!("stopping: containers run on with their shims");
    let _ = std::fs::remove_file(&daemon.settings.socket);
    if let Some(c) = &daemon.settings.cri {
        let _ = std::fs::remove_file(&c.socket);
    }
    let _ = std::fs::remove_file(&daemon.settings.pidfile);
    if let Some(r) = rootless {
        // The namespaces go with the holder once nothing runs in them;
        // running containers keep them (and it) for the next daemon.
        if !rootless::holder::others_inside(r.holder.pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(r.holder.pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
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
