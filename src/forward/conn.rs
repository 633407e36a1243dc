//! One HTTP/1.1 connection to a node, driven by the request that uses it.
//!
//! The connection has no task of its own: the request's task writes the request and reads the
//! response head, and the response body (`pool::PooledBody`) reads the rest as the client
//! takes it. Nothing is handed between tasks, so a request costs no wake-ups beyond the
//! sockets' own (hyper's client connection needs a task, a request channel and a body channel).
//! An idle connection is checked before reuse without a system call unless its socket became
//! readable (a node that closed it, or bytes nobody asked for: either way it is dropped).

use std::future::{poll_fn, Future};
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::{Method, Request};
use http_body::Body;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant, Sleep};
use tokio_rustls::client::TlsStream;

use super::h1::{self, Framing, Parsed, ResponseHead};
use super::UpstreamError;
use crate::body::ReqBody;

/// The byte stream under a node connection.
pub enum Stream {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }
    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Tcp(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// How much room a read asks for: a response head and a small answer fit in one read; a large
/// body streams in pieces of the larger size.
const READ_SMALL: usize = 16 * 1024;
pub const READ_LARGE: usize = 64 * 1024;

pub struct Upstream {
    io: Stream,
    /// Bytes read from the node and not used yet.
    pub(super) buf: BytesMut,
    /// The request head being written (kept to reuse its allocation).
    head: Vec<u8>,
    /// The response deadline's timer: armed by the first request and moved only when it fires,
    /// so a stream of requests on a kept-alive connection touches the timer wheel once per
    /// timeout period rather than twice per request.
    timer: Option<Pin<Box<Sleep>>>,
}

/// Why a request did not get a response head. Lives only on the stack of `Pool::attempt`.
#[allow(clippy::large_enum_variant)]
pub enum SendError {
    /// Nothing of it reached the node: it can go to another connection.
    Unsent(Box<Request<ReqBody>>, UpstreamError),
    Failed(UpstreamError),
    /// The response head did not arrive in time.
    Timeout,
}

impl Upstream {
    pub fn new(io: Stream) -> Self {
        Self { io, buf: BytesMut::new(), head: Vec::new(), timer: None }
    }

    /// Whether an idle connection can take a request: the node has neither closed it nor sent
    /// anything. No system call unless the socket became readable since the last read.
    pub fn is_usable(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        let mut probe = [0u8; 1];
        let mut probe = ReadBuf::new(&mut probe);
        self.buf.is_empty() && Pin::new(&mut self.io).poll_read(&mut cx, &mut probe).is_pending()
    }

    /// Writes the request (its body streamed) and reads the response head, within `timeout`.
    pub async fn send(&mut self, req: Box<Request<ReqBody>>, timeout: Duration) -> Result<ResponseHead, SendError> {
        let due = Instant::now() + timeout;
        let Self { io, buf, head, timer } = self;
        let mut work = std::pin::pin!(exchange(io, buf, head, req));
        poll_fn(|cx| {
            if let Poll::Ready(r) = work.as_mut().poll(cx) {
                return Poll::Ready(r);
            }
            let t = timer.get_or_insert_with(|| Box::pin(sleep_until(due)));
            if t.deadline() > due {
                t.as_mut().reset(due);
            }
            loop {
                if t.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                if t.deadline() >= due {
                    return Poll::Ready(Err(SendError::Timeout));
                }
                // An earlier request's deadline passed: wait for this one's.
                t.as_mut().reset(due);
            }
        })
        .await
    }

    /// Reads more bytes from the node into `buf`; 0 at the end of the stream.
    pub fn poll_fill(&mut self, cx: &mut Context<'_>, room: usize) -> Poll<std::io::Result<usize>> {
        fill(&mut self.io, &mut self.buf, cx, room)
    }
}

/// Reads into `buf` with room for at least `room` more bytes; 0 at the end of the stream.
fn fill(io: &mut Stream, buf: &mut BytesMut, cx: &mut Context<'_>, room: usize) -> Poll<std::io::Result<usize>> {
    buf.reserve(room);
    tokio_util::io::poll_read_buf(Pin::new(io), cx, buf)
}

async fn exchange(io: &mut Stream, buf: &mut BytesMut, head: &mut Vec<u8>, mut req: Box<Request<ReqBody>>) -> Result<ResponseHead, SendError> {
    // The request stays boxed (it is handed back whole when nothing was sent): moving it
    // through the pool's calls would copy it at each.
    head.clear();
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let body = req.body();
    let exact = if body.is_end_stream() { Some(0) } else { body.size_hint().exact() };
    let framing = h1::encode_request(req.method(), target, req.headers(), exact, head);
    // The head goes out with the whole body when it is at hand, in one write; a streamed body
    // is sent as it comes, the head with its first pieces.
    let whole = match (req.body(), framing) {
        (ReqBody::Full(Some(b)), Framing::Length(n)) if b.len() as u64 == n => Some(b.clone()),
        (b, Framing::Length(0)) if b.is_end_stream() => Some(Bytes::new()),
        // Anything else streams, and a body that disagrees with its declared length fails there.
        _ => None,
    };
    let is_head = req.method() == Method::HEAD;
    let sent = match whole {
        Some(b) => match write_all(io, &mut [IoSlice::new(head), IoSlice::new(&b)]).await {
            Ok(()) => Ok(()),
            Err((e, false)) => return Err(SendError::Unsent(req, UpstreamError::Io(e))),
            Err((e, true)) => Err(UpstreamError::Io(e)),
        },
        None => stream_body(io, head, req.body_mut(), framing).await,
    };
    let sent = match sent {
        Ok(()) => poll_fn(|cx| Pin::new(&mut *io).poll_flush(cx)).await.map_err(UpstreamError::Io),
        Err(e) => Err(e),
    };
    drop(req);
    if let Err(e) = sent {
        // The node may have answered before it read the whole request (a 413 for a body over
        // its own limit) and closed: its answer is passed on, on a connection never reused.
        if matches!(e, UpstreamError::Io(_)) {
            if let Ok(Ok(mut h)) = tokio::time::timeout(EARLY_ANSWER_WAIT, read_head(io, buf, is_head)).await {
                h.reusable = false;
                return Ok(h);
            }
        }
        return Err(SendError::Failed(e));
    }
    read_head(io, buf, is_head).await.map_err(SendError::Failed)
}

/// How long a request whose sending failed waits for an answer the node may have sent early.
const EARLY_ANSWER_WAIT: Duration = Duration::from_millis(500);

/// Reads the final response head, past interim (1xx) answers.
async fn read_head(io: &mut Stream, buf: &mut BytesMut, is_head: bool) -> Result<ResponseHead, UpstreamError> {
    loop {
        if !buf.is_empty() {
            match h1::parse_response(buf, is_head).map_err(UpstreamError::Protocol)? {
                Parsed::Partial => {}
                Parsed::Interim(n) => {
                    buf.advance(n);
                    continue;
                }
                Parsed::Final(h, n) => {
                    buf.advance(n);
                    return Ok(h);
                }
            }
        }
        match poll_fn(|cx| fill(io, buf, cx, READ_SMALL)).await {
            Ok(0) => return Err(UpstreamError::Protocol("the node closed the connection before answering")),
            Ok(_) => {}
            Err(e) => return Err(UpstreamError::Io(e)),
        }
    }
}

/// Bytes waiting to be written, in order: the head, then body pieces (with their chunk framing).
struct Outbox {
    pieces: Vec<Bytes>,
    len: usize,
}

/// Written when this much is waiting, or when the body has nothing more for now.
const OUTBOX_MAX: usize = 256 * 1024;
const OUTBOX_PIECES: usize = 64;

impl Outbox {
    fn push(&mut self, b: Bytes) {
        self.len += b.len();
        self.pieces.push(b);
    }

    fn full(&self) -> bool {
        self.len >= OUTBOX_MAX || self.pieces.len() + 3 > OUTBOX_PIECES
    }

    async fn send(&mut self, io: &mut Stream) -> Result<(), UpstreamError> {
        let mut slices: Vec<IoSlice<'_>> = self.pieces.iter().map(|b| IoSlice::new(b)).collect();
        write_all(io, &mut slices).await.map_err(|(e, _)| UpstreamError::Io(e))?;
        self.pieces.clear();
        self.len = 0;
        Ok(())
    }
}

/// What the request body has for the connection now.
enum Next {
    Frame(Option<Result<http_body::Frame<Bytes>, crate::body::BodyError>>),
    /// Nothing yet: time to write what is waiting.
    Idle,
}

/// Writes the head and a streamed request body as `framing` says, checking a declared length.
/// Pieces the body has ready are written together; nothing is written before the body's first
/// piece, so a body that fails at once (a malformed first line) leaves the node untouched.
async fn stream_body(io: &mut Stream, head: &[u8], body: &mut ReqBody, framing: Framing) -> Result<(), UpstreamError> {
    let mut out = Outbox { pieces: Vec::new(), len: 0 };
    out.push(Bytes::copy_from_slice(head));
    let mut started = false;
    let mut sent = 0u64;
    loop {
        let next = poll_fn(|cx| match Pin::new(&mut *body).poll_frame(cx) {
            Poll::Ready(f) => Poll::Ready(Next::Frame(f)),
            Poll::Pending if started && out.len > 0 => Poll::Ready(Next::Idle),
            Poll::Pending => Poll::Pending,
        })
        .await;
        let frame = match next {
            Next::Idle => {
                out.send(io).await?;
                continue;
            }
            Next::Frame(None) => break,
            Next::Frame(Some(f)) => f.map_err(|e| UpstreamError::Body(Box::new(e)))?,
        };
        // Trailers are not forwarded (the nodes do not read them).
        let Ok(data) = frame.into_data() else { continue };
        if data.is_empty() {
            continue;
        }
        started = true;
        sent += data.len() as u64;
        match framing {
            Framing::Length(n) if sent > n => return Err(UpstreamError::Protocol("the request body is longer than its Content-Length")),
            Framing::Length(_) => out.push(data),
            Framing::Chunked => {
                out.push(Bytes::from(format!("{:x}\r\n", data.len())));
                out.push(data);
                out.push(Bytes::from_static(b"\r\n"));
            }
        }
        if out.full() {
            out.send(io).await?;
        }
    }
    match framing {
        Framing::Length(n) if sent != n => return Err(UpstreamError::Protocol("the request body is shorter than its Content-Length")),
        Framing::Length(_) => {}
        Framing::Chunked => out.push(Bytes::from_static(b"0\r\n\r\n")),
    }
    out.send(io).await
}

/// Writes every byte of `slices`; on failure, the error and whether any byte was written.
async fn write_all(io: &mut Stream, mut slices: &mut [IoSlice<'_>]) -> Result<(), (std::io::Error, bool)> {
    let mut any = false;
    while slices.iter().any(|s| !s.is_empty()) {
        match poll_fn(|cx| Pin::new(&mut *io).poll_write_vectored(cx, slices)).await {
            Ok(0) => return Err((std::io::ErrorKind::WriteZero.into(), any)),
            Ok(n) => {
                any = true;
                IoSlice::advance_slices(&mut slices, n);
            }
            Err(e) => return Err((e, any)),
        }
    }
    Ok(())
}
