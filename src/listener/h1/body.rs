//! A client's HTTP/1.1 request body, read from the connection as the pipeline pulls it.
//!
//! Invariants: the body reads exactly what its framing says and not a byte more (what follows
//! is the next request); the connection's reader is handed back the moment the body ends, and
//! a body dropped before its end keeps it, which closes the connection; a client that closes
//! early or breaks the chunked coding fails the stream, never ends it quietly.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::task::AtomicWaker;
use http_body::{Body, Frame, SizeHint};
use tokio::io::AsyncRead;

use super::super::io::Activity;
use super::head::Framing;
use crate::body::BodyError;
use crate::framing::{read_room, take_length, Chunk, Chunked};

/// Bytes asked of the socket per read while a body streams.
const READ_SIZE: usize = 64 * 1024;

/// The reading side of a client connection: the socket and what was read but not yet used.
pub struct Reader {
    pub io: Box<dyn AsyncRead + Send + Sync + Unpin>,
    pub buf: BytesMut,
}

impl Reader {
    /// Reads more bytes into the buffer; `Ok(0)` at the end of the stream.
    pub fn poll_fill(&mut self, cx: &mut Context<'_>, size: usize) -> Poll<std::io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < size / 4 {
            self.buf.reserve(size);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.buf)
    }
}

/// Where a body hands the reader back, and how it asks for `100 Continue`.
#[derive(Default)]
pub struct Home {
    back: Mutex<Option<Reader>>,
    continue_wanted: AtomicBool,
    /// The connection's task, woken when the body wants `100 Continue` written.
    waker: AtomicWaker,
}

impl Home {
    /// The reader, if the body ended and handed it back.
    pub fn take(&self) -> Option<Reader> {
        self.back.lock().ok()?.take()
    }

    /// Whether the body asked for `100 Continue`; `cx` is woken when it does.
    pub fn wants_continue(&self, cx: &Context<'_>) -> bool {
        self.waker.register(cx.waker());
        self.continue_wanted.load(Ordering::Acquire)
    }
}

enum Left {
    Length(u64),
    Chunked(Chunked),
}

pub struct H1Body {
    reader: Option<Reader>,
    left: Left,
    home: Arc<Home>,
    /// `Expect: 100-continue` not yet acted on.
    expecting: bool,
    /// Told when the body waits on the client (the watchdog times out a stalled body).
    activity: Option<Arc<Activity>>,
}

impl H1Body {
    pub fn new(reader: Reader, framing: Framing, expect_continue: bool, home: Arc<Home>, activity: Option<Arc<Activity>>) -> Self {
        let left = match framing {
            Framing::Length(n) => Left::Length(n),
            Framing::Chunked => Left::Chunked(Chunked::default()),
        };
        Self { reader: Some(reader), left, home, expecting: expect_continue, activity }
    }

    fn finish(&mut self) {
        if let (Some(r), Ok(mut back)) = (self.reader.take(), self.home.back.lock()) {
            *back = Some(r);
        }
    }
}

/// Reads more of the body, telling the watchdog while the client keeps it waiting. Ready(Ok)
/// when bytes came; the client closing before the body's end is an error.
fn fill(r: &mut Reader, cx: &mut Context<'_>, size: usize, activity: Option<&Activity>) -> Poll<Result<(), BodyError>> {
    let read = r.poll_fill(cx, size);
    if let Some(a) = activity {
        a.body_waiting(read.is_pending());
    }
    read.map(|n| match n {
        Ok(0) => Err(broken("the client closed the connection before the body ended")),
        Ok(_) => Ok(()),
        Err(e) => Err(BodyError::Client(e.into())),
    })
}

fn broken(reason: &'static str) -> BodyError {
    BodyError::Client(reason.into())
}

impl Body for H1Body {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if this.expecting {
            this.expecting = false;
            this.home.continue_wanted.store(true, Ordering::Release);
            this.home.waker.wake();
        }
        loop {
            let Some(r) = this.reader.as_mut() else { return Poll::Ready(None) };
            match &mut this.left {
                Left::Length(0) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Left::Length(left) if !r.buf.is_empty() => {
                    let data = take_length(left, &mut r.buf);
                    if *left == 0 {
                        this.finish();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Left::Length(left) => {
                    if let Err(e) = ready!(fill(r, cx, read_room(*left, READ_SIZE), this.activity.as_deref())) {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                Left::Chunked(dec) => match dec.step(&mut r.buf) {
                    Ok(Chunk::Data(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                    Ok(Chunk::End) => {
                        this.finish();
                        return Poll::Ready(None);
                    }
                    Ok(Chunk::More) => {
                        if let Err(e) = ready!(fill(r, cx, READ_SIZE, this.activity.as_deref())) {
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                    Err(reason) => return Poll::Ready(Some(Err(broken(reason)))),
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.left, Left::Length(0)) || self.reader.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match self.left {
            Left::Length(n) => SizeHint::with_exact(n),
            Left::Chunked(_) => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use http_body_util::BodyExt;

    fn reader(rest: &'static [u8], buffered: &[u8]) -> Reader {
        Reader { io: Box::new(rest), buf: BytesMut::from(buffered) }
    }

    async fn read(framing: Framing, buffered: &[u8], rest: &'static [u8]) -> (Result<Vec<u8>, String>, Option<Vec<u8>>) {
        let home = Arc::new(Home::default());
        let body = H1Body::new(reader(rest, buffered), framing, false, home.clone(), None);
        let got = body.collect().await.map(|c| c.to_bytes().to_vec()).map_err(|e| e.to_string());
        (got, home.take().map(|r| r.buf.to_vec()))
    }

    #[tokio::test]
    async fn reads_exactly_its_framing_and_hands_back_the_rest() {
        // Length: part buffered, part on the socket; the next request stays in the buffer.
        let (got, back) = read(Framing::Length(5), b"he", b"lloGET /").await;
        assert_eq!((got.unwrap(), back.unwrap()), (b"hello".to_vec(), b"GET /".to_vec()));
        let (got, back) = read(Framing::Length(5), b"helloGET /", b"").await;
        assert_eq!((got.unwrap(), back.unwrap()), (b"hello".to_vec(), b"GET /".to_vec()));
        let (got, back) = read(Framing::Chunked, b"3\r\nab", b"c\r\n0\r\n\r\nGET /").await;
        assert_eq!((got.unwrap(), back.unwrap()), (b"abc".to_vec(), b"GET /".to_vec()));
    }

    #[tokio::test]
    async fn an_early_end_or_a_broken_coding_fails_and_keeps_the_reader() {
        for (framing, buffered, rest) in [
            (Framing::Length(5), &b"he"[..], &b"l"[..]),
            (Framing::Chunked, b"3\r\nab", b"c\r\n"),
            (Framing::Chunked, b"3\r\nabcX\r\n", b""),
            (Framing::Chunked, b"zz\r\n", b""),
        ] {
            let (got, back) = read(framing, buffered, rest).await;
            assert!(got.is_err() && back.is_none(), "{framing:?} {buffered:?}");
        }
    }

    #[tokio::test]
    async fn asks_for_100_continue_when_first_read() {
        let home = Arc::new(Home::default());
        let mut body = H1Body::new(reader(b"ab", b""), Framing::Length(2), true, home.clone(), None);
        let waker = futures_util::task::noop_waker();
        let cx = Context::from_waker(&waker);
        assert!(!home.wants_continue(&cx));
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "ab");
        assert!(home.wants_continue(&cx));
    }
}
