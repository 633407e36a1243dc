//! An I/O wrapper that notes when bytes move, and the connection state its watchdog reads.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const NONE: u64 = u64::MAX;

/// Shared between the I/O wrapper, the request body, the connection and its watchdog. Instead
/// of a timer armed (and the time driver woken) per request, one watchdog task per connection
/// enforces the header deadline, the idle deadline and the deadline of a stalled request body.
///
/// The request path pays almost nothing: moving bytes sets a flag (no clock read), and the
/// clock is read once per request, when the first bytes of its head arrive. The watchdog, which
/// wakes at most every quarter of the shorter limit, turns the flag into a time.
pub struct Activity {
    start: Instant,
    /// Bytes moved since the watchdog last looked.
    moved: AtomicBool,
    /// When the watchdog last saw bytes move (ms since `start`).
    last_ms: AtomicU64,
    /// When the current request head started arriving (NONE while a request is in flight,
    /// and for HTTP/2, whose streams are not heads on the connection).
    head_since_ms: AtomicU64,
    in_flight: AtomicUsize,
    /// The request in flight waits on its body's next bytes from the client.
    body_stalled: AtomicBool,
    h2: AtomicBool,
    /// An `Order`: set by the watchdog, read by the connection.
    order: AtomicU8,
    /// The connection's task, woken when the order changes.
    waker: AtomicWaker,
}

/// What the connection should do, as the watchdog decided.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
#[repr(u8)]
pub enum Order {
    Serve,
    /// Finish the request in flight, then close.
    Graceful,
    /// Close now.
    Abort,
}

impl Activity {
    /// A new connection: the clock for its first request head starts now.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            moved: AtomicBool::new(false),
            last_ms: AtomicU64::new(0),
            head_since_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            body_stalled: AtomicBool::new(false),
            h2: AtomicBool::new(false),
            order: AtomicU8::new(Order::Serve as u8),
            waker: AtomicWaker::new(),
        })
    }
    fn ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.start).as_millis() as u64
    }
    fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }
    fn read(&self) {
        self.moved.store(true, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Relaxed) == 0
            && !self.h2.load(Ordering::Relaxed)
            && self.head_since_ms.load(Ordering::Relaxed) == NONE
        {
            self.head_since_ms.store(self.ms(Instant::now()), Ordering::Relaxed);
        }
    }
    fn wrote(&self) {
        self.moved.store(true, Ordering::Relaxed);
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
        self.body_stalled.store(false, Ordering::Relaxed);
    }
    /// Whether the request in flight is waiting on its body's next bytes from the client.
    pub fn body_waiting(&self, waiting: bool) {
        self.body_stalled.store(waiting, Ordering::Relaxed);
    }
    /// The watchdog's look at the connection at `now`: what to do, and when to look again.
    pub fn check(&self, now: Instant, header_timeout: Duration, idle: Duration) -> Verdict {
        if self.moved.swap(false, Ordering::Relaxed) {
            self.last_ms.store(self.ms(now), Ordering::Relaxed);
        }
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            // A client that stops sending the body it announced holds a node connection too.
            if self.body_stalled.load(Ordering::Relaxed) {
                let deadline = self.at(self.last_ms.load(Ordering::Relaxed)) + idle;
                return if deadline <= now { Verdict::BodyTooSlow } else { Verdict::Wait(deadline) };
            }
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
    /// The watchdog's order to the connection; wakes it.
    pub fn tell(&self, order: Order) {
        self.order.store(order as u8, Ordering::Release);
        self.waker.wake();
    }
    /// Whether the connection was told to close (gracefully or not), without waiting on it.
    pub fn closing(&self) -> bool {
        self.order.load(Ordering::Acquire) != Order::Serve as u8
    }
    /// The connection's reading of the current order; `cx` is woken when it changes.
    pub fn order(&self, cx: &Context<'_>) -> Order {
        self.waker.register(cx.waker());
        match self.order.load(Ordering::Acquire) {
            o if o == Order::Serve as u8 => Order::Serve,
            o if o == Order::Graceful as u8 => Order::Graceful,
            _ => Order::Abort,
        }
    }
}

/// The watchdog's reading of a connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Wait(Instant),
    /// A request head has been arriving for longer than the header timeout.
    HeadTooSlow,
    /// A request body has had no new bytes for the idle timeout.
    BodyTooSlow,
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
        let now = Instant::now;
        // A fresh connection is waiting for its first head: with a zero header timeout, too slow.
        assert_eq!(a.check(now(), head, idle), Verdict::HeadTooSlow);
        a.request_started(false);
        assert!(matches!(a.check(now(), head, idle), Verdict::Wait(_)));
        a.request_finished();
        // No head arriving and not idle for long: wait.
        assert!(matches!(a.check(now(), head, idle), Verdict::Wait(_)));
        assert_eq!(a.check(now(), head, Duration::ZERO), Verdict::Idle);
        // Bytes of a new head start the header clock again.
        a.read();
        assert_eq!(a.check(now(), head, idle), Verdict::HeadTooSlow);
        // HTTP/2 connections have no heads between streams.
        a.request_started(true);
        a.request_finished();
        a.read();
        assert!(matches!(a.check(now(), head, idle), Verdict::Wait(_)));
    }

    #[test]
    fn bytes_moving_put_off_the_idle_deadline() {
        let a = Activity::new();
        let (head, idle) = (Duration::from_secs(10), Duration::from_secs(60));
        a.request_started(false);
        a.request_finished();
        let later = Instant::now() + Duration::from_secs(100);
        // Nothing moved: idle for 100 s is past the 60 s limit.
        assert_eq!(a.check(later, head, idle), Verdict::Idle);
        // A response body still streaming counts as activity, seen when the watchdog looks.
        a.wrote();
        // (Times are kept in whole milliseconds.)
        assert!(matches!(a.check(later, head, idle), Verdict::Wait(t) if t + Duration::from_millis(1) > later + idle));
        // Seen once: the flag is spent.
        assert_eq!(a.check(later + idle, head, idle), Verdict::Idle);
    }

    #[test]
    fn a_stalled_body_is_timed_out_by_the_idle_limit() {
        let a = Activity::new();
        let (head, idle) = (Duration::from_secs(10), Duration::from_secs(60));
        a.request_started(false);
        let later = Instant::now() + Duration::from_secs(100);
        // In flight and not waiting on the client (the node is working): never timed out.
        assert!(matches!(a.check(later, head, idle), Verdict::Wait(_)));
        a.body_waiting(true);
        assert_eq!(a.check(later, head, idle), Verdict::BodyTooSlow);
        // Bytes arriving put the deadline off.
        a.read();
        assert!(matches!(a.check(later, head, idle), Verdict::Wait(t) if t > later));
        a.body_waiting(false);
        assert!(matches!(a.check(later + idle * 2, head, idle), Verdict::Wait(_)));
        a.body_waiting(true);
        a.request_finished();
        assert!(matches!(a.check(later, head, Duration::from_secs(3600)), Verdict::Wait(_)));
    }

    #[test]
    fn orders_reach_the_connection() {
        let a = Activity::new();
        let waker = futures_util::task::noop_waker();
        let cx = Context::from_waker(&waker);
        assert_eq!(a.order(&cx), Order::Serve);
        assert!(!a.closing());
        a.tell(Order::Graceful);
        assert!(a.closing());
        assert_eq!(a.order(&cx), Order::Graceful);
        a.tell(Order::Abort);
        assert_eq!(a.order(&cx), Order::Abort);
    }
}
