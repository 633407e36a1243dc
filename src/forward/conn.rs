//! One HTTP/1.1 connection to a node, served by its own task.
//!
//! hyper's client connection is a future that has to be polled; it runs as a task of its own
//! rather than inside the request that uses it. Measured on the bench rig (2026-12-01), that is
//! cheaper, although each request then switches tasks: the request tasks of a wake-up run one
//! after the other and then the connection tasks do, so each phase's code stays in the
//! instruction cache across requests, and the node receives the requests of a wake-up
//! together. A node that closes an idle connection is noticed at once (`is_closed`).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::deadline::{guard, Deadline};
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
    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[std::io::IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
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

pub struct Upstream {
    pub sender: SendRequest<ReqBody>,
    /// When the response head of the request in flight is due; kept by the connection's task.
    pub deadline: Arc<Deadline>,
}

impl Upstream {
    /// Handshakes and hands the connection to its own task, which ends when the connection
    /// closes, when the last `SendRequest` for it is dropped, or when a response head is late.
    pub async fn handshake(stream: Stream) -> Result<Self, hyper::Error> {
        let (sender, conn) = http1::Builder::new().handshake(TokioIo::new(stream)).await?;
        let deadline = Deadline::new();
        let guarded = guard(conn, deadline.clone());
        tokio::spawn(async move {
            match guarded.await {
                Some(Err(e)) => tracing::debug!(error = %e, "node connection closed"),
                None => tracing::debug!("node connection closed: response head not received in time"),
                Some(Ok(())) => {}
            }
        });
        Ok(Self { sender, deadline })
    }

    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Waits until the connection can take a request; false if it closed.
    pub async fn ready(&mut self) -> bool {
        self.sender.ready().await.is_ok()
    }
}
