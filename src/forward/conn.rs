//! One HTTP/1.1 connection to a node, driven by whichever request is using it.
//!
//! hyper's client connection is a future that has to be polled. Spawning it as its own task
//! costs two task switches per request (request task -> connection task -> back); instead the
//! request that holds the connection polls it alongside its own work — while waiting for the
//! response head, then from the response body — and hands it back to the pool when the body
//! has been read to the end. An idle connection is polled by nobody: a node that closed it in
//! the meantime is noticed on the next checkout.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

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
    conn: Pin<Box<Connection<TokioIo<Stream>, ReqBody>>>,
    closed: bool,
}

impl Upstream {
    pub async fn handshake(stream: Stream) -> Result<Self, hyper::Error> {
        let (sender, conn) = http1::Builder::new().handshake(TokioIo::new(stream)).await?;
        Ok(Self { sender, conn: Box::pin(conn), closed: false })
    }

    /// Lets the connection make progress; false once it has closed.
    pub fn drive(&mut self, cx: &mut Context<'_>) -> bool {
        if self.closed {
            return false;
        }
        if let Poll::Ready(r) = self.conn.as_mut().poll(cx) {
            if let Err(e) = r {
                tracing::debug!(error = %e, "node connection closed");
            }
            self.closed = true;
        }
        !self.closed
    }

    pub fn is_closed(&self) -> bool {
        self.closed || self.sender.is_closed()
    }

    /// Waits until the connection can take a request; false if it closed.
    pub async fn ready(&mut self) -> bool {
        poll_fn(|cx| {
            if !self.drive(cx) {
                return Poll::Ready(false);
            }
            self.sender.poll_ready(cx).map(|r| r.is_ok())
        })
        .await
    }

    /// Runs `fut` (which depends on this connection) to completion while driving the connection.
    pub async fn drive_until<F: std::future::Future>(&mut self, fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        poll_fn(|cx| {
            if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                return Poll::Ready(v);
            }
            // If the connection closed, the request future resolves with its error.
            self.drive(cx);
            fut.as_mut().poll(cx)
        })
        .await
    }
}
