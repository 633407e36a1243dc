//! The response deadline of one node connection, kept by the connection's own task.
//!
//! A request waiting for its response head sets the deadline (`start`) and clears it when the
//! head arrives (`clear`). The connection's task (`guard`) holds one timer, armed at the first
//! deadline it sees and moved only when it fires: a stream of requests on a kept-alive
//! connection arms no timer per request (`tokio::time::timeout` inserts and removes a timer
//! wheel entry for each, measured at ~2 % of a small request's cost). When the timer fires at
//! or after the deadline of the request still waiting, the connection is closed, and the
//! request, failed by the closing, learns why from `expired`.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// No request is waiting for a response head.
const NONE: u64 = 0;

pub struct Deadline {
    epoch: Instant,
    /// Milliseconds after `epoch` by which the response head must have arrived, or NONE.
    due: AtomicU64,
    expired: AtomicBool,
}

impl Deadline {
    pub fn new() -> Arc<Self> {
        Arc::new(Self { epoch: Instant::now(), due: AtomicU64::new(NONE), expired: AtomicBool::new(false) })
    }

    /// A request is about to be sent: its response head must arrive within `timeout`.
    pub fn start(&self, timeout: Duration) {
        let due = (Instant::now() + timeout).saturating_duration_since(self.epoch).as_millis();
        // Rounded up to whole milliseconds, never NONE.
        let due = u64::try_from(due).unwrap_or(u64::MAX - 1).saturating_add(1);
        self.due.store(due, Ordering::Release);
    }

    /// The response head arrived (or the request gave up).
    pub fn clear(&self) {
        self.due.store(NONE, Ordering::Release);
    }

    /// Whether the connection was closed because a response head was late.
    pub fn expired(&self) -> bool {
        self.expired.load(Ordering::Acquire)
    }

    fn at(&self, ms: u64) -> Instant {
        self.epoch + Duration::from_millis(ms)
    }
}

/// Runs a connection until it ends (`Some`), or closes it when a response head is late (`None`).
pub async fn guard<F: Future>(conn: F, deadline: Arc<Deadline>) -> Option<F::Output> {
    let mut conn = std::pin::pin!(conn);
    // The armed deadline (ms after the epoch) and its timer.
    let mut timer: Option<(u64, Pin<Box<Sleep>>)> = None;
    poll_fn(|cx| {
        if let Poll::Ready(r) = conn.as_mut().poll(cx) {
            return Poll::Ready(Some(r));
        }
        loop {
            let due = deadline.due.load(Ordering::Acquire);
            if due == NONE {
                return Poll::Pending;
            }
            match &mut timer {
                None => timer = Some((due, Box::pin(tokio::time::sleep_until(deadline.at(due))))),
                Some((armed, sleep)) if *armed > due => {
                    sleep.as_mut().reset(deadline.at(due));
                    *armed = due;
                }
                Some((armed, sleep)) => {
                    if sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    if *armed >= due {
                        deadline.expired.store(true, Ordering::Release);
                        return Poll::Ready(None);
                    }
                    // The deadline of an earlier, answered request passed: wait for this one's.
                    sleep.as_mut().reset(deadline.at(due));
                    *armed = due;
                }
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const T: Duration = Duration::from_secs(10);

    /// A connection: woken by each request handed to it (as hyper's is), ended by dropping
    /// the sender.
    fn conn() -> (tokio::sync::mpsc::UnboundedSender<()>, impl Future<Output = ()>) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        (tx, async move { while rx.recv().await.is_some() {} })
    }

    fn send(d: &Deadline, conn: &tokio::sync::mpsc::UnboundedSender<()>) {
        d.start(T);
        conn.send(()).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_without_a_waiting_request_lives_on_and_ends_with_its_future() {
        let d = Deadline::new();
        let (end, c) = conn();
        let task = tokio::spawn(guard(c, d.clone()));
        tokio::time::sleep(T * 100).await;
        assert!(!task.is_finished());
        drop(end);
        assert_eq!(task.await.unwrap(), Some(()));
        assert!(!d.expired());
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_response_head_closes_the_connection_at_the_deadline() {
        let d = Deadline::new();
        let (c_tx, c) = conn();
        let started = Instant::now();
        send(&d, &c_tx);
        assert_eq!(guard(c, d.clone()).await, None);
        assert!(d.expired());
        let took = started.elapsed();
        assert!(took >= T && took <= T + Duration::from_millis(2), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn answered_requests_leave_no_deadline_behind_and_a_later_request_gets_its_own() {
        let d = Deadline::new();
        let (c_tx, c) = conn();
        let task = tokio::spawn(guard(c, d.clone()));
        // Requests answered in time, one after the other, for three times the timeout.
        for _ in 0..30 {
            send(&d, &c_tx);
            tokio::time::sleep(T / 10).await;
            d.clear();
        }
        assert!(!task.is_finished() && !d.expired());
        // One left waiting: its own full timeout, counted from its start.
        let started = Instant::now();
        send(&d, &c_tx);
        assert_eq!(task.await.unwrap(), None);
        assert!(d.expired());
        let took = started.elapsed();
        assert!(took >= T && took <= T + Duration::from_millis(2), "{took:?}");
    }
}
