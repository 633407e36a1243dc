//! The node pool: round-robin choice, connection reuse, retries before any byte was sent.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use super::conn::{SendError, Stream, Upstream, READ_LARGE};
use super::h1::{BodyFraming, Chunk, Chunked, ResponseHead};
use super::node::{Node, Scheme};
use super::{ForwardError, UpstreamError, UpstreamSettings};
use crate::body::{BodyError, ReqBody};
use crate::framing::{read_room, take_length};

pub struct Pool {
    nodes: Vec<Arc<Node>>,
    next: AtomicUsize,
    tls: ArcSwap<rustls::ClientConfig>,
    settings: UpstreamSettings,
    epoch: Instant,
}

/// Why one attempt on one node failed. Lives only on the stack of `send`.
#[allow(clippy::large_enum_variant)]
enum Attempt {
    /// Nothing reached the node: try another one with the same request.
    Unsent(Box<Request<ReqBody>>, ForwardError),
    Failed(ForwardError),
}

impl Pool {
    pub fn new(settings: UpstreamSettings, tls: Arc<rustls::ClientConfig>) -> Self {
        let nodes = settings.nodes.iter().cloned().map(|a| Arc::new(Node::new(a))).collect();
        Self { nodes, next: AtomicUsize::new(0), tls: ArcSwap::new(tls), settings, epoch: Instant::now() }
    }

    /// Swaps the TLS configuration used for new connections (SIGHUP).
    pub fn set_tls(&self, tls: Arc<rustls::ClientConfig>) {
        self.tls.store(tls);
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Whether at least one node is not in back-off.
    pub fn any_healthy(&self) -> bool {
        let now = self.now_ms();
        self.nodes.iter().any(|n| n.is_healthy(now))
    }

    /// Each node's address and whether it is healthy.
    pub fn health(&self) -> Vec<(String, bool)> {
        let now = self.now_ms();
        self.nodes.iter().map(|n| (n.addr.to_string(), n.is_healthy(now))).collect()
    }

    /// Healthy nodes in round-robin order first, then the ones in back-off (a last resort, so
    /// that a cluster whose every node blipped recovers at once).
    fn order(&self) -> impl Iterator<Item = &Arc<Node>> {
        let n = self.nodes.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let now = self.now_ms();
        let ring = move || (0..n).map(move |i| &self.nodes[(start + i) % n]);
        let up = ring().filter(move |node| node.is_healthy(now));
        let down = ring().filter(move |node| !node.is_healthy(now));
        up.chain(down)
    }

    /// Sends a request to a node and returns its response with a streaming body.
    pub async fn send(&self, req: Box<Request<ReqBody>>) -> Result<(Response<PooledBody>, Arc<str>), ForwardError> {
        let mut req = req;
        let mut last = ForwardError::NoNode;
        for node in self.order() {
            match self.attempt(node, req).await {
                Ok(res) => return Ok((res, node.name.clone())),
                Err(Attempt::Failed(e)) => return Err(e),
                Err(Attempt::Unsent(r, e)) => {
                    req = r;
                    if !matches!(last, ForwardError::ConnectTimeout) {
                        last = e;
                    }
                }
            }
        }
        Err(last)
    }

    async fn attempt(&self, node: &Arc<Node>, req: Box<Request<ReqBody>>) -> Result<Response<PooledBody>, Attempt> {
        let mut req = req;
        // A pooled connection may have been closed by the node in the meantime: it is dropped
        // and the next one taken, or a fresh connection opened.
        loop {
            let (mut up, fresh) = match node.take_idle() {
                Some(up) => (up, false),
                // Boxed: connecting (TLS handshake included) is rare, and its large future would
                // otherwise sit in every request's future and be copied with it.
                None => match Box::pin(self.connect(node)).await {
                    Ok(up) => (up, true),
                    Err(e) => {
                        node.mark_down(self.now_ms(), self.settings.backoff, self.settings.backoff_max);
                        return Err(Attempt::Unsent(req, e));
                    }
                },
            };
            if !fresh && !up.is_usable() {
                continue;
            }
            let timeout = self.settings.response_timeout;
            match up.send(req, timeout).await {
                Ok(head) => {
                    node.mark_up();
                    return Ok(self.wrap(node, up, head));
                }
                Err(SendError::Timeout) => return Err(Attempt::Failed(ForwardError::ResponseTimeout(timeout))),
                Err(SendError::Unsent(r, _)) if !fresh => req = r,
                Err(SendError::Unsent(r, e)) => return Err(Attempt::Unsent(r, ForwardError::Upstream(e))),
                Err(SendError::Failed(e)) => return Err(Attempt::Failed(ForwardError::Upstream(e))),
            }
        }
    }

    fn wrap(&self, node: &Arc<Node>, up: Box<Upstream>, head: ResponseHead) -> Response<PooledBody> {
        let max = self.settings.max_idle_per_node;
        let reading = match head.framing {
            BodyFraming::Length(0) => Reading::Done,
            BodyFraming::Length(n) => Reading::Length(n),
            BodyFraming::Chunked => Reading::Chunked(Chunked::default()),
            BodyFraming::Close => Reading::Close,
        };
        let mut body = PooledBody { reading, conn: Some(up), home: (node.clone(), max), reusable: head.reusable };
        if body.reading == Reading::Done {
            body.release();
        }
        let mut res = Response::new(body);
        *res.status_mut() = head.status;
        *res.version_mut() = head.version;
        *res.headers_mut() = head.headers;
        res
    }

    async fn connect(&self, node: &Node) -> Result<Box<Upstream>, ForwardError> {
        let addr = &node.addr;
        let timeout = self.settings.connect_timeout;
        let connecting = async {
            let tcp = TcpStream::connect((addr.host.as_str(), addr.port)).await.map_err(|_| ForwardError::NoNode)?;
            let _ = tcp.set_nodelay(true);
            let stream = match addr.scheme {
                Scheme::Http => Stream::Tcp(tcp),
                Scheme::Https => {
                    let name = ServerName::try_from(addr.host.clone()).map_err(|_| ForwardError::NoNode)?;
                    let connector = tokio_rustls::TlsConnector::from(self.tls.load_full());
                    let tls = connector.connect(name, tcp).await.map_err(|e| {
                        tracing::warn!(node = %addr, error = %e, "TLS handshake with node failed");
                        ForwardError::NoNode
                    })?;
                    Stream::Tls(Box::new(tls))
                }
            };
            Ok(Box::new(Upstream::new(stream)))
        };
        match tokio::time::timeout(timeout, connecting).await {
            Ok(r) => r,
            Err(_) => Err(ForwardError::ConnectTimeout),
        }
    }
}

/// Where a node's response body stands.
#[derive(Debug, PartialEq, Eq)]
enum Reading {
    /// This many bytes to come.
    Length(u64),
    Chunked(Chunked),
    /// Until the node closes the connection.
    Close,
    Done,
}

/// A node's response body, read from its connection as the client takes it. Read to the end,
/// the connection goes back to the pool (when the node keeps it open and sent nothing more);
/// dropped half-way, the connection closes with it.
pub struct PooledBody {
    reading: Reading,
    conn: Option<Box<Upstream>>,
    /// The connection's node, and how many idle connections it keeps.
    home: (Arc<Node>, usize),
    reusable: bool,
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        loop {
            let Some(up) = this.conn.as_mut() else { return Poll::Ready(None) };
            let room = match &mut this.reading {
                Reading::Done => {
                    this.release();
                    return Poll::Ready(None);
                }
                Reading::Length(left) if !up.buf.is_empty() => {
                    let data = take_length(left, &mut up.buf);
                    if *left == 0 {
                        this.reading = Reading::Done;
                        this.release();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Reading::Length(left) => read_room(*left, READ_LARGE),
                Reading::Chunked(dec) => match dec.step(&mut up.buf) {
                    Ok(Chunk::Data(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                    Ok(Chunk::End) => {
                        this.reading = Reading::Done;
                        continue;
                    }
                    Ok(Chunk::More) => READ_LARGE,
                    Err(e) => return Poll::Ready(Some(Err(this.fail(UpstreamError::Protocol(e))))),
                },
                Reading::Close if !up.buf.is_empty() => return Poll::Ready(Some(Ok(Frame::data(up.buf.split().freeze())))),
                Reading::Close => READ_LARGE,
            };
            match ready!(up.poll_fill(cx, room)) {
                Ok(0) if this.reading == Reading::Close => {
                    this.conn = None;
                    this.reading = Reading::Done;
                    return Poll::Ready(None);
                }
                Ok(0) => return Poll::Ready(Some(Err(this.fail(UpstreamError::Protocol("the node closed the connection before the body ended"))))),
                Ok(_) => {}
                Err(e) => return Poll::Ready(Some(Err(this.fail(UpstreamError::Io(e))))),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.reading == Reading::Done
    }

    fn size_hint(&self) -> SizeHint {
        match self.reading {
            Reading::Done => SizeHint::with_exact(0),
            Reading::Length(n) => SizeHint::with_exact(n),
            _ => SizeHint::default(),
        }
    }
}

impl PooledBody {
    /// The body ended: the connection goes back to its node if it can carry another request.
    fn release(&mut self) {
        let Some(up) = self.conn.take() else { return };
        if self.reusable && up.buf.is_empty() {
            let (node, max) = &self.home;
            node.put_idle(up, *max);
        }
    }

    /// The body failed: its connection is closed.
    #[cold]
    fn fail(&mut self, e: UpstreamError) -> BodyError {
        self.conn = None;
        self.reading = Reading::Done;
        BodyError::Upstream(e)
    }
}
