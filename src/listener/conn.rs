//! Serving one accepted connection: TLS handshake, HTTP/1.1 or HTTP/2, its watchdog, drain.

use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::h1::{self, Start};
use super::io::{Activity, Order, TrackedIo, Verdict};
use super::{ConnInfo, Handler, ListenSettings, TlsInfo};
use crate::body::ClientBody;
use crate::pipeline::respond;

pub struct Job<H> {
    pub tcp: TcpStream,
    pub peer: SocketAddr,
    pub settings: Arc<ListenSettings>,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub handler: H,
    pub shutdown: watch::Receiver<bool>,
}

impl<H: Handler> Job<H> {
    pub async fn serve(self) {
        let local = self.tcp.local_addr().unwrap_or(self.peer);
        let Some(tls) = self.tls.clone() else {
            let info = ConnInfo::new(self.peer, local, None);
            let tcp = self.tcp;
            return serve_http(tcp, info, &self.settings, self.handler, self.shutdown).await;
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let handshake = tokio::time::timeout(self.settings.header_read_timeout, acceptor.accept(self.tcp));
        let stream = match handshake.await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::debug!(peer = %self.peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(peer = %self.peer, "TLS handshake timed out");
                return;
            }
        };
        let (_, session) = stream.get_ref();
        let tls_info = TlsInfo {
            sni: session.server_name().map(str::to_string),
            alpn: session.alpn_protocol().map(<[u8]>::to_vec),
            client_certs: session.peer_certificates().unwrap_or_default().iter().map(|c| c.to_vec()).collect(),
        };
        let info = ConnInfo::new(self.peer, local, Some(tls_info));
        serve_http(stream, info, &self.settings, self.handler, self.shutdown).await;
    }
}

async fn serve_http<T, H>(io: T, info: ConnInfo, settings: &ListenSettings, handler: H, shutdown: watch::Receiver<bool>)
where
    T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static,
    H: Handler,
{
    let activity = Activity::new();
    let alpn_h2 = info.tls.as_ref().is_some_and(|t| t.alpn.as_deref() == Some(b"h2"));
    let info = Arc::new(info);
    let io = TrackedIo { inner: io, activity: activity.clone() };
    let watchdog = Watchdog(tokio::spawn(keep_watch(activity.clone(), settings.header_read_timeout, settings.idle_timeout, shutdown)));
    if alpn_h2 && settings.http2 {
        serve_h2(io, info, settings, handler, &activity).await;
    } else {
        // Heads up to twice the limit are read, so the pipeline can answer a head just over it
        // with the limit named; far larger heads are refused as they arrive.
        let limits = (settings.max_header_size, settings.max_header_size.saturating_mul(2).saturating_add(8192));
        if let Start::H2(io) = h1::serve(io, info.clone(), limits, settings.http2, handler.clone(), activity.clone()).await {
            serve_h2(io, info, settings, handler, &activity).await;
        }
    }
    drop(watchdog);
}

/// Serves HTTP/2 (hyper's server) until the client, the watchdog or an error ends it.
async fn serve_h2<T, H>(io: T, info: Arc<ConnInfo>, settings: &ListenSettings, handler: H, activity: &Arc<Activity>)
where
    T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static,
    H: Handler,
{
    let idle = settings.idle_timeout;
    let svc = {
        let activity = activity.clone();
        service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let (handler, info, activity) = (handler.clone(), info.clone(), activity.clone());
            async move {
                activity.request_started(true);
                let res = handler.handle(req.map(|b| ClientBody::H2(super::H2Body::new(b, idle))), info).await;
                activity.request_finished();
                Ok::<_, Infallible>(res)
            }
        })
    };
    let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(settings.max_header_size).unwrap_or(u32::MAX))
        .max_concurrent_streams(256)
        .serve_connection(TokioIo::new(io), svc);
    let mut conn = std::pin::pin!(conn);
    let mut closing = false;
    let res = poll_fn(|cx| {
        match activity.order(cx) {
            Order::Serve => {}
            Order::Graceful if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            Order::Graceful => {}
            Order::Abort => return Poll::Ready(Ok(())),
        }
        conn.as_mut().poll(cx)
    })
    .await;
    if let Err(e) = res {
        tracing::debug!(error = %e, "client connection ended with an error");
    }
}

/// The watchdog task of one connection; it ends with the connection.
struct Watchdog(tokio::task::JoinHandle<()>);

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Watches one connection from its own task, so that the connection's task pays no timer per
/// wake: closes it when a request head is too slow (at once) or when it is idle or the server
/// shuts down (gracefully, letting a request in flight finish).
async fn keep_watch(activity: Arc<Activity>, head_timeout: Duration, idle: Duration, mut shutdown: watch::Receiver<bool>) {
    // Bytes that moved are seen when the watchdog looks: looking at least this often keeps the
    // idle limit within a quarter of exact (the header limit is exact).
    let period = (head_timeout.min(idle) / 4).max(Duration::from_millis(1));
    loop {
        let now = Instant::now();
        let deadline = match activity.check(now, head_timeout, idle) {
            Verdict::Wait(at) => at.min(now + period),
            Verdict::HeadTooSlow => {
                tracing::debug!("request head not received in time: closing the connection");
                return activity.tell(Order::Abort);
            }
            Verdict::BodyTooSlow => {
                tracing::debug!("request body stalled past the idle timeout: closing the connection");
                return activity.tell(Order::Abort);
            }
            Verdict::Idle => return activity.tell(Order::Graceful),
        };
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return activity.tell(Order::Graceful),
            _ = tokio::time::sleep_until(deadline.into()) => {}
        }
    }
}

/// Answers a connection over the cap with a 503 and closes it.
pub async fn refuse(tcp: TcpStream, tls: bool) {
    if tls {
        return; // no handshake is spent on a connection that will not be served
    }
    let svc = service_fn(|_req| async {
        let mut res = respond::error(respond::Failure::TooManyConnections);
        res.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
        Ok::<_, Infallible>(res)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        .serve_connection(TokioIo::new(tcp), svc);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), conn).await;
}
