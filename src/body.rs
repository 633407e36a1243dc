//! Body types shared by the pipeline and forwarding. Bodies are streams: nothing here buffers
//! a whole request or response. `Limited` counts request bytes as they pass and fails the
//! stream the moment the configured maximum is exceeded.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;

/// Why a body stream ended early.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body is larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error("client body stream failed: {0}")]
    Client(Box<dyn std::error::Error + Send + Sync>),
    /// The client sent nothing of an unfinished body for the idle timeout (HTTP/2; over
    /// HTTP/1.1 the connection is closed instead).
    #[error("the client sent none of the request body for {0:?}")]
    Stalled(std::time::Duration),
    #[error("node body stream failed: {0}")]
    Upstream(crate::forward::UpstreamError),
    #[error("{0}")]
    Other(String),
}

pub type BoxBody = UnsyncBoxBody<Bytes, BodyError>;

/// A client's request body, as the listener hands it to a handler.
pub enum ClientBody {
    Empty,
    /// The whole body, which arrived with the head.
    Full(Option<Bytes>),
    /// An HTTP/1.1 body streaming from the connection.
    H1(crate::listener::H1Body),
    /// An HTTP/2 stream's body.
    H2(crate::listener::H2Body),
}

impl Body for ClientBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match &mut *self {
            ClientBody::Empty => Poll::Ready(None),
            ClientBody::Full(b) => Poll::Ready(b.take().map(|d| Ok(Frame::data(d)))),
            ClientBody::H1(b) => Pin::new(b).poll_frame(cx),
            ClientBody::H2(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ClientBody::Empty => true,
            ClientBody::Full(b) => b.is_none(),
            ClientBody::H1(b) => b.is_end_stream(),
            ClientBody::H2(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ClientBody::Empty => SizeHint::with_exact(0),
            ClientBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |d| d.len() as u64)),
            ClientBody::H1(b) => b.size_hint(),
            ClientBody::H2(b) => b.size_hint(),
        }
    }
}

/// A client's request body with a byte limit. The flag is shared with the pipeline so it can
/// tell "the node failed" from "the client sent too much" when forwarding errors out.
pub struct Limited {
    inner: ClientBody,
    seen: u64,
    limit: u64,
    exceeded: Arc<AtomicBool>,
}

impl Limited {
    pub fn new(inner: ClientBody, limit: u64, exceeded: Arc<AtomicBool>) -> Self {
        Self { inner, seen: 0, limit, exceeded }
    }
}

impl Body for Limited {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        Poll::Ready(match frame {
            None => None,
            Some(Err(e)) => Some(Err(e)),
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    this.seen += d.len() as u64;
                    if this.seen > this.limit {
                        this.exceeded.store(true, Ordering::Release);
                        return Poll::Ready(Some(Err(BodyError::TooLarge(this.limit))));
                    }
                }
                Some(Ok(f))
            }
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What Sluice sends to a node.
pub enum ReqBody {
    Empty,
    /// A body whose Content-Length is within the limit (the listener reads exactly that).
    Client(ClientBody),
    Limited(Limited),
    Full(Option<Bytes>),
    Boxed(BoxBody),
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match &mut *self {
            ReqBody::Empty => Poll::Ready(None),
            ReqBody::Client(b) => Pin::new(b).poll_frame(cx),
            ReqBody::Limited(b) => Pin::new(b).poll_frame(cx),
            ReqBody::Full(b) => Poll::Ready(b.take().map(|d| Ok(Frame::data(d)))),
            ReqBody::Boxed(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReqBody::Empty => true,
            ReqBody::Client(b) => b.is_end_stream(),
            ReqBody::Limited(b) => b.is_end_stream(),
            ReqBody::Full(b) => b.is_none(),
            ReqBody::Boxed(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReqBody::Empty => SizeHint::with_exact(0),
            ReqBody::Client(b) => b.size_hint(),
            ReqBody::Limited(b) => b.size_hint(),
            ReqBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |d| d.len() as u64)),
            ReqBody::Boxed(b) => b.size_hint(),
        }
    }
}

/// What Sluice sends back to a client.
pub enum ResBody {
    Full(Option<Bytes>),
    Upstream(crate::forward::PooledBody),
    Boxed(BoxBody),
}

impl ResBody {
    pub fn full(b: impl Into<Bytes>) -> Self {
        ResBody::Full(Some(b.into()))
    }
    pub fn empty() -> Self {
        ResBody::Full(None)
    }
}

impl Body for ResBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match &mut *self {
            ResBody::Full(b) => Poll::Ready(b.take().map(|d| Ok(Frame::data(d)))),
            ResBody::Upstream(b) => Pin::new(b).poll_frame(cx),
            ResBody::Boxed(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResBody::Full(b) => b.is_none(),
            ResBody::Upstream(b) => b.is_end_stream(),
            ResBody::Boxed(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |d| d.len() as u64)),
            ResBody::Upstream(b) => b.size_hint(),
            ResBody::Boxed(b) => b.size_hint(),
        }
    }
}
