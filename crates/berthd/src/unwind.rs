//! No input ends the daemon: a panic while a request is handled is that
//! request's 500, and berthd goes on serving.
//!
//! The release profile unwinds (`panic = "unwind"` in the workspace's
//! `Cargo.toml`; the shim and the runtime, whose forked children must never
//! unwind into their parent's state, abort from a panic hook instead, see
//! `runtime::abort_on_panic`). Here each request's future is polled under
//! `catch_unwind`; engine calls on blocking threads already come back as a
//! `JoinError`, which the handlers answer as a 500. Shared state behind
//! `std::sync::Mutex` is taken with `unwrap_or_else(PoisonError::into_inner)`
//! throughout, so a panic while holding a lock does not turn every later
//! request into another panic.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A future that turns a panic in its poll into `Err(message)`.
pub struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> CatchUnwind<F> {
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        CatchUnwind(Box::pin(f))
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // AssertUnwindSafe: after a panic the future is never polled again
        // (it is dropped with the request), so no broken invariant of it is
        // observed; the daemon's shared state copes with poisoned locks.
        match catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(message(payload.as_ref()))),
        }
    }
}

/// The text of a panic's payload.
pub fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// Test builds only: `GET /_berth/test/panic` panics in the handler when
/// berthd runs with `BERTHD_TEST_PANIC=1`, so that the tests can show a
/// panic answered as a 500 with the daemon serving on. Release builds have
/// no such route.
#[cfg(debug_assertions)]
pub fn test_panic(path: &str) {
    if path.ends_with("/_berth/test/panic") && std::env::var_os("BERTHD_TEST_PANIC").is_some() {
        panic!("test-only panic in a request (BERTHD_TEST_PANIC)");
    }
}

/// Release builds: nothing.
#[cfg(not(debug_assertions))]
pub fn test_panic(_path: &str) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_is_an_error_not_an_unwind_out() {
        let r = CatchUnwind::new(async { panic!("boom {}", 1) }).await;
        assert_eq!(r, Err::<(), _>("boom 1".to_string()));
        let r = CatchUnwind::new(async { 7 }).await;
        assert_eq!(r, Ok(7));
    }
}
