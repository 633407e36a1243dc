//! Accepts client connections and serves HTTP/1.1 and HTTP/2 on them.
//!
//! Invariants: at most `max_connections` connections are served at once (one more is answered
//! with a 503 and closed); a client must send its request head within `header_read_timeout`
//! (TLS handshake included); a connection with no request in flight and no I/O for
//! `idle_timeout` is closed; on shutdown no new connection is accepted and open ones are asked
//! to finish their in-flight requests.

mod conn;
mod h1;
mod h2;
mod io;

pub use h1::H1Body;
pub use h2::H2Body;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use http::{Request, Response};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::body::{ClientBody, ResBody};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Optional,
    Required,
}

#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
    pub client_auth: ClientAuth,
}

#[derive(Clone, Debug)]
pub struct ListenSettings {
    pub address: SocketAddr,
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_header_size: usize,
    pub max_body_size: u64,
    pub shutdown_timeout: Duration,
    pub http2: bool,
    pub tls: Option<TlsFiles>,
}

impl Default for ListenSettings {
    fn default() -> Self {
        Self {
            address: SocketAddr::from(([127, 0, 0, 1], 9220)),
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(90),
            max_header_size: 16 * 1024,
            max_body_size: 100 * 1024 * 1024,
            shutdown_timeout: Duration::from_secs(30),
            http2: true,
            tls: None,
        }
    }
}

/// What is known about the connection a request arrived on.
#[derive(Clone, Debug)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub tls: Option<TlsInfo>,
    /// The peer's IP as a header value, computed once per connection (X-Forwarded-For).
    pub peer_ip: http::HeaderValue,
}

impl ConnInfo {
    pub fn new(peer: SocketAddr, local: SocketAddr, tls: Option<TlsInfo>) -> Self {
        let peer_ip = http::HeaderValue::from_str(&peer.ip().to_string())
            .unwrap_or_else(|_| http::HeaderValue::from_static("unknown"));
        Self { peer, local, tls, peer_ip }
    }
}

#[derive(Clone, Debug)]
pub struct TlsInfo {
    pub sni: Option<String>,
    pub alpn: Option<Vec<u8>>,
    /// The client certificate chain (DER), leaf first, when the client presented one.
    pub client_certs: Vec<Vec<u8>>,
}

/// Serves one request. The pipeline implements it for clients, the admin module for operators.
pub trait Handler: Clone + Send + Sync + 'static {
    fn handle(&self, req: Request<ClientBody>, conn: Arc<ConnInfo>) -> impl Future<Output = Response<ResBody>> + Send;
}

/// A listening socket with everything needed to serve it.
pub struct Server<H> {
    pub listener: TcpListener,
    pub settings: ListenSettings,
    pub tls: Option<Arc<ArcSwap<rustls::ServerConfig>>>,
    pub handler: H,
    /// Connections open now (a metrics gauge).
    pub open: Arc<std::sync::atomic::AtomicI64>,
}

impl<H: Handler> Server<H> {
    /// Accepts until `shutdown` turns true, then waits up to `shutdown_timeout` for open
    /// connections to finish.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let max = self.settings.max_connections;
        let slots = Arc::new(Semaphore::new(max));
        let settings = Arc::new(self.settings);
        loop {
            let accepted = tokio::select! {
                a = self.listener.accept() => a,
                _ = shutdown.wait_for(|s| *s) => break,
            };
            let (tcp, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                tokio::spawn(conn::refuse(tcp, self.tls.is_some()));
                continue;
            };
            let job = conn::Job {
                tcp,
                peer,
                settings: settings.clone(),
                tls: self.tls.as_ref().map(|t| t.load_full()),
                handler: self.handler.clone(),
                shutdown: shutdown.clone(),
            };
            let open = self.open.clone();
            open.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::spawn(async move {
                job.serve().await;
                open.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                drop(permit);
            });
        }
        let drained = tokio::time::timeout(settings.shutdown_timeout, slots.acquire_many(max as u32)).await;
        if drained.is_err() {
            tracing::warn!("shutdown deadline passed with connections still open");
        }
    }
}
