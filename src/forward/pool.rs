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
use hyper::body::Incoming;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use super::conn::{Stream, Upstream};
use super::node::{Node, Scheme};
use super::{ForwardError, UpstreamSettings};
use crate::body::{BodyError, ReqBody};

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
    Unsent(Request<ReqBody>, ForwardError),
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
    pub async fn send(&self, req: Request<ReqBody>) -> Result<(Response<PooledBody>, Arc<str>), ForwardError> {
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

    async fn attempt(&self, node: &Arc<Node>, req: Request<ReqBody>) -> Result<Response<PooledBody>, Attempt> {
        let mut req = req;
        // A pooled connection may have been closed by the node in the meantime: hyper then
        // hands the request back unsent and we take the next one, or open a fresh connection.
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
            if !fresh && (up.is_closed() || !up.ready().await) {
                continue;
            }
            let timeout = self.settings.response_timeout;
            // Set before the request reaches the connection's task, which keeps the deadline.
            up.deadline.start(timeout);
            let sent = up.sender.try_send_request(req).await;
            up.deadline.clear();
            if up.deadline.expired() {
                return Err(Attempt::Failed(ForwardError::ResponseTimeout(timeout)));
            }
            match sent {
                Ok(res) => {
                    node.mark_up();
                    return Ok(self.wrap(node, up, res));
                }
                Err(mut e) => match e.take_message() {
                    Some(r) if !fresh => req = r,
                    Some(r) => return Err(Attempt::Unsent(r, ForwardError::Upstream(e.into_error()))),
                    None => return Err(Attempt::Failed(ForwardError::Upstream(e.into_error()))),
                },
            }
        }
    }

    fn wrap(&self, node: &Arc<Node>, up: Upstream, res: Response<Incoming>) -> Response<PooledBody> {
        let max = self.settings.max_idle_per_node;
        let (parts, body) = res.into_parts();
        if body.is_end_stream() {
            node.put_idle(up, max);
            return Response::from_parts(parts, PooledBody { inner: body, home: None });
        }
        Response::from_parts(parts, PooledBody { inner: body, home: Some((up, node.clone(), max)) })
    }

    async fn connect(&self, node: &Node) -> Result<Upstream, ForwardError> {
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
            Upstream::handshake(stream).await.map_err(|_| ForwardError::NoNode)
        };
        match tokio::time::timeout(timeout, connecting).await {
            Ok(r) => r,
            Err(_) => Err(ForwardError::ConnectTimeout),
        }
    }
}

/// A node's response body. Read to the end, its connection goes back to the pool; dropped
/// half-way, the connection closes with it.
pub struct PooledBody {
    inner: Incoming,
    home: Option<(Upstream, Arc<Node>, usize)>,
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &frame {
            None => this.release(),
            Some(Ok(_)) if this.inner.is_end_stream() => this.release(),
            _ => {}
        }
        Poll::Ready(frame.map(|r| r.map_err(BodyError::Upstream)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl PooledBody {
    fn release(&mut self) {
        if let Some((up, node, max)) = self.home.take() {
            if !up.is_closed() {
                node.put_idle(up, max);
            }
        }
    }
}
