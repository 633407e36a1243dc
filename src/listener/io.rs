//! An I/O wrapper that records when bytes last moved, for the idle timeout.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const NONE: u64 = u64::MAX;

/// Shared between the I/O wrapper, the service and the connection's watchdog. It replaces
/// hyper's own header-read timer, which arms a timer (and wakes the time driver) per request:
/// here one watchdog timer per connection enforces both the header and the idle deadline.
pub struct Activity {
    start: Instant,
    /// When bytes last moved either way.
    last_ms: AtomicU64,
    /// When the current request head started arriving (NONE while a request is in flight,
    /// and for HTTP/2, whose streams are not heads on the connection).
    head_since_ms: AtomicU64,
    in_flight: AtomicUsize,
    h2: AtomicBool,
}

impl Activity {
    /// A new connection: the clock for its first request head starts now.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            head_since_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            h2: AtomicBool::new(false),
        })
    }
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }
    fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }
    fn read(&self) {
        let now = self.now_ms();
        self.last_ms.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Relaxed) == 0
            && !self.h2.load(Ordering::Relaxed)
            && self.head_since_ms.load(Ordering::Relaxed) == NONE
        {
            self.head_since_ms.store(now, Ordering::Relaxed);
        }
    }
    fn wrote(&self) {
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
    }
    /// A request head was parsed and handed to the service.
    pub fn request_started(&self, h2: bool) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_since_ms.store(NONE, Ordering::Relaxed);
        if h2 {
            self.h2.store(true, Ordering::Relaxed);
        }
    }
    pub fn request_finished(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
    /// What the watchdog should do now, and when to look again.
    pub fn check(&self, header_timeout: Duration, idle: Duration) -> Verdict {
        let now = Instant::now();
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return Verdict::Wait(now + idle);
        }
        let head = self.head_since_ms.load(Ordering::Relaxed);
        if head != NONE {
            let deadline = self.at(head) + header_timeout;
            return if deadline <= now { Verdict::HeadTooSlow } else { Verdict::Wait(deadline) };
        }
        let deadline = self.at(self.last_ms.load(Ordering::Relaxed)) + idle;
        if deadline <= now { Verdict::Idle } else { Verdict::Wait(deadline) }
    }
}

/// The watchdog's reading of a connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Wait(Instant),
    /// A request head has been arriving for longer than the header timeout.
    HeadTooSlow,
    /// No request and no I/O for the idle timeout.
    Idle,
}

pub struct TrackedIo<T> {
    pub inner: T,
    pub activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for TrackedIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TrackedIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(_))) {
            self.activity.wrote();
        }
        r
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(_))) {
            self.activity.wrote();
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let a = Activity::new();
        let (head, idle) = (Duration::ZERO, Duration::from_secs(3600));
        // A fresh connection is waiting for its first head: with a zero header timeout, too slow.
        assert_eq!(a.check(head, idle), Verdict::HeadTooSlow);
        a.request_started(false);
        assert!(matches!(a.check(head, idle), Verdict::Wait(_)));
        a.request_finished();
        // No head arriving and not idle for long: wait.
        assert!(matches!(a.check(head, idle), Verdict::Wait(_)));
        assert_eq!(a.check(head, Duration::ZERO), Verdict::Idle);
        // Bytes of a new head start the header clock again.
        a.read();
        assert_eq!(a.check(head, idle), Verdict::HeadTooSlow);
        // HTTP/2 connections have no heads between streams.
        a.request_started(true);
        a.request_finished();
        a.read();
        assert!(matches!(a.check(head, idle), Verdict::Wait(_)));
    }
}
