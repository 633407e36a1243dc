//! An HTTP/2 stream's request body, with the idle timeout applied per stream: a client that
//! stops sending a body it has not finished is answered (408) once `idle` passes without a
//! frame, and its stream alone is given up — the connection's other streams go on. (Over
//! HTTP/1.1 the connection's watchdog closes the connection instead: it carries one request.)

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use crate::body::BodyError;

pub struct H2Body {
    inner: Incoming,
    idle: Duration,
    /// Set the first time the body keeps the request waiting, and moved on after each frame.
    stall: Option<Pin<Box<Sleep>>>,
    /// A frame arrived since the timer was last set.
    fresh: bool,
}

impl H2Body {
    pub fn new(inner: Incoming, idle: Duration) -> Self {
        Self { inner, idle, stall: None, fresh: false }
    }
}

impl Body for H2Body {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.fresh = true;
            return Poll::Ready(frame.map(|f| f.map_err(|e| BodyError::Client(Box::new(e)))));
        }
        let stall = match &mut this.stall {
            Some(s) => {
                if this.fresh {
                    s.as_mut().reset(Instant::now() + this.idle);
                }
                s
            }
            None => this.stall.insert(Box::pin(tokio::time::sleep(this.idle))),
        };
        this.fresh = false;
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyError::Stalled(this.idle)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
