//! The response body as it leaves Sluice: counts bytes, and when the body ends or is dropped
//! (client gone, HEAD), completes the request's audit record and queues it. Exactly once.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::Observe;
use crate::audit::Record;
use crate::body::{BodyError, ResBody};

pub struct Metered {
    inner: ResBody,
    rec: Option<Box<Record>>,
    started: Instant,
    observe: Observe,
    bytes: u64,
}

impl Metered {
    pub fn new(inner: ResBody, rec: Option<Box<Record>>, started: Instant, observe: Observe) -> Self {
        Self { inner, rec, started, observe, bytes: 0 }
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        let m = &self.observe.metrics;
        m.bytes_out.fetch_add(self.bytes, Ordering::Relaxed);
        if let Some(mut r) = self.rec.take() {
            if let Some(n) = r.bytes_in {
                m.bytes_in.fetch_add(n, Ordering::Relaxed);
            }
            r.bytes_out = self.bytes;
            r.duration_us = self.started.elapsed().as_micros() as u64;
            self.observe.audit.record(&r);
        }
    }
}

impl Body for Metered {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let Some(Ok(f)) = &frame {
            if let Some(d) = f.data_ref() {
                this.bytes += d.len() as u64;
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
