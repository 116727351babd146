//! The host's network namespace, for a daemon whose threads live in its
//! containers' one.
//!
//! A rootless daemon cannot return to the host's network namespace once it
//! left it (that needs `CAP_SYS_ADMIN` in the initial user namespace), but
//! a thread made before the others left stays there, and so do the threads
//! it makes: [`start`] makes that thread, before the daemon moves; [`run`]
//! hands it a job, which runs on a thread of its own in the host's
//! namespace. Sockets keep the namespace they were made in, so a socket
//! made there (a registry connection, a published port's listener) is
//! used from any thread afterwards.

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send>;

static HOST: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();

/// How long a connection from the host may take (as the registry client's).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Makes the host's thread. Call it while every thread is still in the
/// host's network namespace.
pub fn start() -> io::Result<()> {
    let (tx, rx) = channel::<Job>();
    std::thread::Builder::new()
        .name("host-net".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            for job in rx {
                // A thread per job: a slow connect holds up no one else.
                // A thread that cannot be made drops its job, whose caller sees its channel close.
                let _ = std::thread::Builder::new()
                    .name("host-net-job".into())
                    .stack_size(256 * 1024)
                    .spawn(job);
            }
        })?;
    HOST.set(Mutex::new(tx))
        .map_err(|_| io::Error::other("the host's network thread was started twice"))
}

/// Runs `f` on a thread in the host's network namespace and returns its
/// answer.
pub fn run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> io::Result<T> {
    let host = HOST
        .get()
        .ok_or_else(|| io::Error::other("no host network thread"))?;
    let (tx, rx) = channel();
    let job: Job = Box::new(move || {
        // The caller gave up waiting: the answer has no one to go to.
        let _ = tx.send(f());
    });
    host.lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(job)
        .map_err(|_| io::Error::other("the host's network thread is gone"))?;
    rx.recv()
        .map_err(|_| io::Error::other("the host's network job died"))
}

/// A TCP connection made from the host's namespace (the registry client's
/// and the builder's dialer): names resolved as the host resolves them.
pub fn dial(host: &str, port: u16) -> io::Result<TcpStream> {
    let host = host.to_string();
    run(move || {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        for addr in (host.as_str(), port).to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    })?
}
