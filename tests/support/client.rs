//! Clients for tests: HTTP/1.1 and HTTP/2 (cleartext or TLS) over hyper's connection API, and
//! a raw TCP client for exact wire tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub type ReqBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

pub fn full(b: impl Into<Bytes>) -> ReqBody {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

pub fn empty() -> ReqBody {
    full(Bytes::new())
}

pub enum Sender {
    H1(hyper::client::conn::http1::SendRequest<ReqBody>),
    H2(hyper::client::conn::http2::SendRequest<ReqBody>),
}

/// A response read to the end.
pub struct Got {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Got {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
}

impl Sender {
    pub async fn h1(addr: SocketAddr) -> Self {
        let tcp = TcpStream::connect(addr).await.unwrap();
        Self::h1_over(tcp).await
    }

    pub async fn h2(addr: SocketAddr) -> Self {
        let tcp = TcpStream::connect(addr).await.unwrap();
        Self::h2_over(tcp).await
    }

    pub async fn tls(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> Self {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let stream = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.unwrap();
        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
        if h2 { Self::h2_over(stream).await } else { Self::h1_over(stream).await }
    }

    async fn h1_over<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static>(io: T) -> Self {
        let (s, c) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await.unwrap();
        tokio::spawn(c);
        Sender::H1(s)
    }

    async fn h2_over<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static>(io: T) -> Self {
        let (s, c) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io)).await.unwrap();
        tokio::spawn(c);
        Sender::H2(s)
    }

    pub async fn send(&mut self, req: Request<ReqBody>) -> Response<hyper::body::Incoming> {
        match self {
            Sender::H1(s) => {
                s.ready().await.unwrap();
                s.send_request(req).await.unwrap()
            }
            Sender::H2(s) => {
                s.ready().await.unwrap();
                s.send_request(req).await.unwrap()
            }
        }
    }

    pub async fn fetch(&mut self, req: Request<ReqBody>) -> Got {
        let res = self.send(req).await;
        let (parts, body) = res.into_parts();
        let body = body.collect().await.unwrap().to_bytes().to_vec();
        Got { status: parts.status.as_u16(), headers: parts.headers, body }
    }
}

/// A request builder with a Host header for HTTP/1.1 and an authority for HTTP/2.
/// Sends one request on a fresh HTTP/1.1 connection and reads the whole answer. A body is sent
/// as JSON (NDJSON for `_bulk`).
pub async fn call(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Got {
    let mut b = Request::builder().method(method).uri(format!("http://{addr}{path}")).header("host", addr.to_string());
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    if !body.is_empty() {
        b = b.header("content-type", if path.contains("_bulk") { "application/x-ndjson" } else { "application/json" });
    }
    Sender::h1(addr).await.fetch(b.body(full(body.to_string())).unwrap()).await
}

pub fn req(method: &str, addr: SocketAddr, target: &str, body: ReqBody) -> Request<ReqBody> {
    Request::builder()
        .method(method)
        .uri(format!("http://{addr}{target}"))
        .header("host", addr.to_string())
        .body(body)
        .unwrap()
}

/// Sends raw bytes and reads until the server closes or `wait` passes without data.
pub async fn raw(addr: SocketAddr, bytes: &[u8], wait: Duration) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(bytes).await.unwrap();
    read_all(&mut tcp, wait).await
}

pub async fn read_all(tcp: &mut TcpStream, wait: Duration) -> String {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        match tokio::time::timeout(wait, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).to_string()
}
