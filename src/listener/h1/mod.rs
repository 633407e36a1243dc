//! Sluice's own HTTP/1.1 server side: a connection's requests read one after another, each
//! handed to the handler with a body that streams from the socket, each response written back
//! in order.
//!
//! Why not hyper's: per request it cost about 9,000 instructions around the handler (callgrind
//! at 5061582: a dispatcher, a body channel, buffered I/O layers), and it answers heads it
//! cannot parse with a bare status. Here a request costs a parse and a write, and every
//! refusal is Elasticsearch-shaped.
//!
//! Invariants: requests on a connection are answered in the order they came (pipelined bytes
//! wait in the buffer); a connection is reused only when both sides allow it and the request
//! body was read to its end; a refused head is answered and the connection closed; the
//! watchdog's orders are obeyed between requests (close) and during them (abort only).

mod body;
mod head;
mod write;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::{Request, Response};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

pub use body::H1Body;
use body::{Home, Reader};
use head::{Framing, HeadError, RequestHead};

use super::io::{Activity, Order};
use super::{ConnInfo, Handler};
use crate::body::{ClientBody, ResBody};
use crate::pipeline::respond::{self, Failure};

/// Bytes asked of the socket per read while waiting for a head.
const HEAD_READ: usize = 8 * 1024;
/// How long closing the connection may wait on the peer.
const SHUTDOWN_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// What an HTTP/2 client with prior knowledge sends first (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How a connection that started as bytes turned out.
pub enum Start<T> {
    /// HTTP/2 with prior knowledge: the stream, with the bytes already read put back in front.
    H2(Prefixed<T>),
    Done,
}

/// Serves HTTP/1.1 on `io` until the client or the watchdog ends it. With `sniff_h2`, a
/// connection that opens with the HTTP/2 preface is handed back to be served as HTTP/2.
/// `limits.0` is the configured header limit (named in refusals), `limits.1` the bytes a head
/// may take before it is refused.
pub async fn serve<T, H>(io: T, info: Arc<ConnInfo>, limits: (usize, usize), sniff_h2: bool, handler: H, activity: Arc<Activity>) -> Start<T>
where
    T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static,
    H: Handler,
{
    let mut io = io;
    let mut buf = BytesMut::with_capacity(HEAD_READ);
    if sniff_h2 {
        loop {
            if !H2_PREFACE.starts_with(&buf[..buf.len().min(H2_PREFACE.len())]) {
                break;
            }
            if buf.len() >= H2_PREFACE.len() {
                return Start::H2(Prefixed { pre: buf.freeze(), io });
            }
            let read = guarded(&activity, false, std::pin::pin!(poll_fn(|cx| tokio_util::io::poll_read_buf(Pin::new(&mut io), cx, &mut buf)))).await;
            match read {
                Some(Ok(n)) if n > 0 => {}
                _ => return Start::Done,
            }
        }
    }
    let (r, mut w) = tokio::io::split(io);
    let mut reader = Reader { io: Box::new(r), buf };
    let mut refused = None;
    loop {
        let head = match read_head(&mut reader, limits.1, &activity).await {
            Ok(Some(h)) => h,
            Ok(None) => break,
            Err(e) => {
                refuse(&mut w, e, limits.0).await;
                refused = Some(reader);
                break;
            }
        };
        activity.request_started(false);
        // Pinned where it is made: moving a future copies all of it.
        let served = guarded(&activity, true, std::pin::pin!(exchange(head, reader, &mut w, &info, &handler, &activity))).await;
        activity.request_finished();
        match served {
            Some(Some(r)) => reader = r,
            _ => break,
        }
    }
    // A peer that reads nothing cannot hold the task: closing (a TLS close_notify) is bounded.
    let _ = tokio::time::timeout(SHUTDOWN_WAIT, w.shutdown()).await;
    if let Some(mut reader) = refused {
        // The rest of a refused head may still be arriving: closing with it unread would send
        // a reset, and a client still writing would see that instead of the answer. Writing
        // has stopped; what still comes is read and discarded for a bounded time (as nginx's
        // lingering close does).
        linger(&mut reader).await;
    }
    Start::Done
}

/// How long, and how many bytes, a connection whose head was refused is read and discarded
/// before it is closed.
const LINGER: std::time::Duration = std::time::Duration::from_secs(2);
const LINGER_MAX: usize = 4 << 20;

async fn linger(reader: &mut Reader) {
    let mut drained = 0;
    let _ = tokio::time::timeout(LINGER, async {
        while drained < LINGER_MAX {
            reader.buf.clear();
            match poll_fn(|cx| reader.poll_fill(cx, HEAD_READ)).await {
                Ok(n) if n > 0 => drained += n,
                _ => break,
            }
        }
    })
    .await;
}

/// One request and its response; the reader back when the connection may go on.
async fn exchange<W, H>(head: RequestHead, mut reader: Reader, w: &mut W, info: &Arc<ConnInfo>, handler: &H, activity: &Arc<Activity>) -> Option<Reader>
where
    W: AsyncWrite + Unpin,
    H: Handler,
{
    let RequestHead { parts, framing, keep_alive, expect_continue } = head;
    let (method, version) = (parts.method.clone(), parts.version);
    let mut home = None;
    let mut kept = None;
    let body = match framing {
        Framing::Length(0) => {
            kept = Some(reader);
            ClientBody::Empty
        }
        // The whole body came with the head (a search, most small requests): no streaming.
        Framing::Length(n) if n <= reader.buf.len() as u64 => {
            let whole = reader.buf.split_to(n as usize).freeze();
            kept = Some(reader);
            ClientBody::Full(Some(whole))
        }
        _ => {
            let h = home.insert(Arc::new(Home::default()));
            ClientBody::H1(H1Body::new(reader, framing, expect_continue, h.clone(), Some(activity.clone())))
        }
    };
    // Pinned where it is made: the handler's future is large, and every move of it is a copy.
    let handling = std::pin::pin!(handler.handle(Request::from_parts(parts, body), info.clone()));
    let res = respond_to(handling, w, home.as_deref()).await?;
    // A body not read to its end leaves the connection's stream mid-request, and a server
    // shutting down takes no more requests: either way the client is told the connection
    // closes after this response.
    let reader = kept.or_else(|| home.and_then(|h| h.take()));
    let keep_alive = keep_alive && reader.is_some() && !activity.closing();
    match write::respond(w, res, write::Exchange { method: &method, version, keep_alive }).await {
        Ok(keep_alive) => reader.filter(|_| keep_alive),
        Err(e) => {
            tracing::debug!(error = %e, "response not written whole: closing the connection");
            None
        }
    }
}

/// Runs the handler; writes `100 Continue` when the request body asks for it.
async fn respond_to<W: AsyncWrite + Unpin>(mut handling: Pin<&mut impl Future<Output = Response<ResBody>>>, w: &mut W, home: Option<&Home>) -> Option<Response<ResBody>> {
    let Some(home) = home else {
        return Some(handling.await); // no body to stream: nothing to continue
    };
    const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
    let mut written = 0;
    poll_fn(|cx| {
        if let Poll::Ready(res) = handling.as_mut().poll(cx) {
            return Poll::Ready(Some(res));
        }
        // The body asks once it is read: the client sends it only after this line (a body
        // never read, as for a refused request, is never asked for).
        while written < CONTINUE.len() && home.wants_continue(cx) {
            match Pin::new(&mut *w).poll_write(cx, &CONTINUE[written..]) {
                Poll::Ready(Ok(n)) if n > 0 => written += n,
                Poll::Ready(_) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
            if written == CONTINUE.len() {
                let _ = Pin::new(&mut *w).poll_flush(cx);
            }
        }
        Poll::Pending
    })
    .await
}

/// Reads until a whole head is buffered. `Ok(None)`: the connection ended (or was told to)
/// between requests.
async fn read_head(reader: &mut Reader, max: usize, activity: &Activity) -> Result<Option<RequestHead>, HeadError> {
    loop {
        if !reader.buf.is_empty() {
            if let Some(head) = head::parse(&mut reader.buf, max)? {
                return Ok(Some(head));
            }
        }
        match guarded(activity, false, std::pin::pin!(poll_fn(|cx| reader.poll_fill(cx, HEAD_READ)))).await {
            Some(Ok(n)) if n > 0 => {}
            Some(Ok(_)) if !reader.buf.trim_ascii().is_empty() => return Err(HeadError::Bad("the connection closed inside a request head")),
            _ => return Ok(None),
        }
    }
}

/// Runs `fut` unless the watchdog orders otherwise: `Abort` always stops it, `Graceful` only
/// when `in_request` is false (between requests there is nothing to finish).
async fn guarded<F: Future>(activity: &Activity, in_request: bool, mut fut: Pin<&mut F>) -> Option<F::Output> {
    poll_fn(|cx| match activity.order(cx) {
        Order::Abort => Poll::Ready(None),
        Order::Graceful if !in_request => Poll::Ready(None),
        _ => fut.as_mut().poll(cx).map(Some),
    })
    .await
}

/// Answers a head Sluice will not read, in Elasticsearch's shape, before the connection closes.
/// `limit` is the configured header limit, named in the reason.
async fn refuse<W: AsyncWrite + Unpin>(w: &mut W, e: HeadError, limit: usize) {
    let failure = match e {
        HeadError::TooLarge => Failure::HeadersTooLarge { limit },
        HeadError::Bad(reason) => Failure::BadRequest { kind: "illegal_argument_exception", reason: reason.into() },
    };
    tracing::debug!(status = %failure.status(), "request head refused");
    let ex = write::Exchange { method: &http::Method::GET, version: http::Version::HTTP_11, keep_alive: false };
    let _ = write::respond(w, respond::error(failure), ex).await;
}

/// A stream with bytes already read from it put back in front.
pub struct Prefixed<T> {
    pre: Bytes,
    io: T,
}

impl<T: AsyncRead + Unpin> AsyncRead for Prefixed<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        if self.pre.is_empty() {
            return Pin::new(&mut self.io).poll_read(cx, buf);
        }
        let n = self.pre.len().min(buf.remaining());
        buf.put_slice(&self.pre.split_to(n));
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Prefixed<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[std::io::IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use http_body_util::BodyExt;
    use proptest::prelude::*;
    use tokio::io::AsyncReadExt;

    /// Answers each request with its method, path and body, as the pipeline would see them.
    #[derive(Clone)]
    struct Echo;

    impl Handler for Echo {
        async fn handle(&self, req: Request<ClientBody>, _conn: Arc<ConnInfo>) -> Response<ResBody> {
            let (parts, body) = req.into_parts();
            let body = body.collect().await.map(|c| c.to_bytes()).unwrap_or_else(|_| Bytes::from_static(b"<broken>"));
            let text = [format!("{} {} ", parts.method, parts.uri).as_bytes(), &body].concat();
            Response::new(ResBody::full(text))
        }
    }

    /// One request on the wire, and what the echo of it must say.
    fn request(kind: u8, n: usize, body: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let path = format!("/r{n}");
        let (wire, echo) = match kind % 3 {
            0 => (format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes(), format!("GET {path} ").into_bytes()),
            1 => {
                let head = format!("PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", body.len());
                ([head.as_bytes(), body].concat(), [format!("PUT {path} ").as_bytes(), body].concat())
            }
            _ => {
                let mut wire = format!("POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
                for piece in body.chunks(3) {
                    wire.extend_from_slice(format!("{:x};ext=1\r\n", piece.len()).as_bytes());
                    wire.extend_from_slice(piece);
                    wire.extend_from_slice(b"\r\n");
                }
                wire.extend_from_slice(b"0\r\nx-trailer: t\r\n\r\n");
                (wire, [format!("POST {path} ").as_bytes(), body].concat())
            }
        };
        (wire, echo)
    }

    /// The bodies of the responses in `out`, each framed by its Content-Length.
    fn bodies(mut out: &[u8]) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        while let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
            let len: usize = head.split("content-length: ").nth(1).and_then(|s| s.split("\r\n").next()).and_then(|s| s.parse().ok()).unwrap_or(0);
            got.push(out[end + 4..end + 4 + len].to_vec());
            out = &out[end + 4 + len..];
        }
        got
    }

    async fn exchange_all(wire: Vec<u8>, pieces: Vec<usize>) -> Vec<u8> {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let info = Arc::new(ConnInfo::new(([127, 0, 0, 1], 1).into(), ([127, 0, 0, 1], 2).into(), None));
        let serving = tokio::spawn(serve(server, info, (4096, 16384), true, Echo, Activity::new()));
        let mut at = 0usize;
        for p in pieces.into_iter().chain(std::iter::once(usize::MAX)) {
            let end = at.saturating_add(p.max(1)).min(wire.len());
            client.write_all(&wire[at..end]).await.unwrap();
            // Lets the server read what has come so far, so heads and bodies arrive cut.
            tokio::task::yield_now().await;
            at = end;
            if at == wire.len() {
                break;
            }
        }
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        assert!(matches!(serving.await.unwrap(), Start::Done));
        out
    }

    proptest! {
        /// Pipelined requests of every framing, cut into pieces anywhere, are each answered
        /// once, in order, with exactly their own body.
        #[test]
        fn pipelined_requests_in_any_pieces(reqs in proptest::collection::vec((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40)), 1..6),
                                            pieces in proptest::collection::vec(1usize..40, 0..30)) {
            let mut wire = Vec::new();
            let mut want = Vec::new();
            for (n, (kind, body)) in reqs.iter().enumerate() {
                let (w, echo) = request(*kind, n, body);
                wire.extend_from_slice(&w);
                want.push(echo);
            }
            wire.extend_from_slice(b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            want.push(b"GET /last ".to_vec());
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let out = rt.block_on(exchange_all(wire, pieces));
            prop_assert_eq!(bodies(&out), want);
        }
    }

    #[tokio::test]
    async fn prior_knowledge_http2_is_handed_back() {
        let (mut client, server) = tokio::io::duplex(1024);
        let info = Arc::new(ConnInfo::new(([127, 0, 0, 1], 1).into(), ([127, 0, 0, 1], 2).into(), None));
        let serving = tokio::spawn(serve(server, info, (4096, 16384), true, Echo, Activity::new()));
        client.write_all(&H2_PREFACE[..5]).await.unwrap();
        client.write_all(&H2_PREFACE[5..]).await.unwrap();
        client.write_all(b"frames").await.unwrap();
        let Start::H2(mut io) = serving.await.unwrap() else { panic!("not handed back") };
        let mut first = vec![0u8; H2_PREFACE.len() + 6];
        io.read_exact(&mut first).await.unwrap();
        assert_eq!(first, [H2_PREFACE, b"frames"].concat());
    }
}
