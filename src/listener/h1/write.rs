//! Responses to HTTP/1.1 clients: the head Sluice writes and how the body is framed on the
//! wire, then the body itself, streamed.
//!
//! Invariants: the framing is Sluice's own (a Transfer-Encoding or Connection header in the
//! response is not passed through); a body is sent exactly as long as its Content-Length says,
//! and one that comes out longer or shorter ends the connection rather than the message; HEAD
//! responses and 1xx/204/304 carry no body; a response without a Date gets one (RFC 9110 §6.6.1).

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use std::future::poll_fn;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{ready, Poll};

use http::header;
use http::{Method, StatusCode, Version};
use http_body::Body;
use http_body_util::BodyExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::body::ResBody;
use crate::framing::{content_length, Persistence};

/// How the response body goes on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body at all (HEAD, 1xx, 204, 304).
    None,
    Length(u64),
    Chunked,
    /// Until the connection closes (an HTTP/1.0 client and a body of unknown length).
    Close,
}

/// What the response head is written for.
#[derive(Clone, Copy, Debug)]
pub struct Exchange<'a> {
    pub method: &'a Method,
    pub version: Version,
    /// Whether the connection may carry another request after this response.
    pub keep_alive: bool,
}

/// Writes the response head into `out`; the body's framing, and whether the connection stays
/// open after it.
fn encode_head(parts: &http::response::Parts, hint: Option<u64>, ex: Exchange<'_>, out: &mut Vec<u8>) -> (Framing, bool) {
    let status = parts.status;
    out.reserve(128 + parts.headers.len() * 48);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    let bodiless = ex.method == Method::HEAD || status.is_informational() || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let mut connection = Persistence::default();
    let mut length = None;
    let mut dated = false;
    for (name, value) in &parts.headers {
        if name == header::CONNECTION {
            connection.note(value.as_bytes());
            continue;
        }
        if name == header::TRANSFER_ENCODING {
            continue;
        }
        if name == header::CONTENT_LENGTH {
            match (length, content_length(value.as_bytes())) {
                (None, Some(n)) => length = Some(n),
                _ => continue, // one valid length only
            }
        }
        dated |= name == header::DATE;
        push_header(out, name.as_str().as_bytes(), value.as_bytes());
    }
    // A response that says close closes the connection, whatever the request allowed.
    let mut keep_alive = ex.keep_alive && !connection.close;
    if !dated {
        DATE.with_borrow_mut(|d| push_header(out, b"date", d.now()));
    }
    let framing = if bodiless {
        Framing::None
    } else if let Some(n) = length {
        Framing::Length(n)
    } else if let Some(n) = hint {
        push_header(out, b"content-length", n.to_string().as_bytes());
        Framing::Length(n)
    } else if ex.version == Version::HTTP_11 {
        push_header(out, b"transfer-encoding", b"chunked");
        Framing::Chunked
    } else {
        keep_alive = false;
        Framing::Close
    };
    if !keep_alive {
        push_header(out, b"connection", b"close");
    } else if ex.version == Version::HTTP_10 {
        push_header(out, b"connection", b"keep-alive");
    }
    out.extend_from_slice(b"\r\n");
    (framing, keep_alive)
}

fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The Date header's value, formatted once a second per thread.
struct Date {
    second: u64,
    text: Vec<u8>,
}

impl Date {
    fn now(&mut self) -> &[u8] {
        let now = SystemTime::now();
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second || self.text.is_empty() {
            self.second = second;
            self.text = httpdate::fmt_http_date(now).into_bytes();
        }
        &self.text
    }
}

thread_local! {
    static DATE: RefCell<Date> = const { RefCell::new(Date { second: 0, text: Vec::new() }) };
}

/// Why a response could not be written whole: the connection must end.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("writing to the client failed: {0}")]
    Io(std::io::Error),
    /// The body failed, or did not match its Content-Length.
    #[error("{0}")]
    Body(String),
}

/// Writes a response whole: its head, then its body, framed. Whether the connection may carry
/// another request after it.
pub async fn respond<W: AsyncWrite + Unpin>(w: &mut W, res: http::Response<ResBody>, ex: Exchange<'_>) -> Result<bool, WriteError> {
    let (parts, body) = res.into_parts();
    let mut head = Vec::new();
    let (framing, keep_alive) = encode_head(&parts, body.size_hint().exact(), ex, &mut head);
    send(w, head, framing, body).await?;
    Ok(keep_alive)
}

/// Writes `head` and then the body, framed; the first body bytes go out with the head when
/// they are ready at once.
async fn send<W: AsyncWrite + Unpin>(w: &mut W, head: Vec<u8>, framing: Framing, body: ResBody) -> Result<(), WriteError> {
    // The head, until it is written (with the first data, or alone when none is ready).
    let mut head = Some(head);
    let mut body = std::pin::pin!(body);
    let mut sent = 0u64;
    if framing != Framing::None {
        loop {
            let frame = match &head {
                Some(h) => match poll_fn(|cx| Poll::Ready(body.as_mut().poll_frame(cx))).await {
                    Poll::Ready(f) => f,
                    Poll::Pending => {
                        write(w, [h]).await?;
                        w.flush().await.map_err(WriteError::Io)?;
                        head = None;
                        continue;
                    }
                },
                None => body.frame().await,
            };
            let data = match frame {
                None => break,
                Some(Err(e)) => return Err(WriteError::Body(e.to_string())),
                Some(Ok(f)) => match f.into_data() {
                    Ok(d) if !d.is_empty() => d,
                    _ => continue, // trailers are not sent on: the node's are already dropped
                },
            };
            sent += data.len() as u64;
            let prefix = head.take().unwrap_or_default();
            match framing {
                Framing::Length(n) if sent > n => return Err(WriteError::Body("the response body is longer than its Content-Length".into())),
                Framing::Chunked => write(w, [&prefix, format!("{:x}\r\n", data.len()).as_bytes(), &data, b"\r\n"]).await?,
                _ => write(w, [&prefix, &data]).await?,
            }
        }
    }
    let rest = head.unwrap_or_default();
    match framing {
        Framing::Length(n) if sent != n => return Err(WriteError::Body("the response body is shorter than its Content-Length".into())),
        Framing::Chunked => write(w, [&rest, b"0\r\n\r\n"]).await?,
        _ => write(w, [&rest]).await?,
    }
    w.flush().await.map_err(WriteError::Io)
}

/// Writes the parts whole, with as few (vectored) writes as the socket allows.
async fn write<W: AsyncWrite + Unpin, const N: usize>(w: &mut W, mut parts: [&[u8]; N]) -> Result<(), WriteError> {
    poll_fn(|cx| loop {
        let bufs = parts.map(IoSlice::new);
        let first = parts.iter().position(|p| !p.is_empty());
        let Some(first) = first else { return Poll::Ready(Ok(())) };
        let n = match ready!(Pin::new(&mut *w).poll_write_vectored(cx, &bufs[first..])) {
            Ok(0) => return Poll::Ready(Err(WriteError::Io(std::io::ErrorKind::WriteZero.into()))),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Poll::Ready(Err(WriteError::Io(e))),
        };
        let mut left = n;
        for p in parts.iter_mut() {
            let k = left.min(p.len());
            *p = &p[k..];
            left -= k;
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use bytes::Bytes;
    use http::header::HeaderValue;

    fn head(status: u16, headers: &[(&str, &str)], hint: Option<u64>, method: Method, version: Version, keep_alive: bool) -> (String, Framing, bool) {
        let mut res = http::Response::new(());
        *res.status_mut() = StatusCode::from_u16(status).unwrap();
        for (k, v) in headers {
            res.headers_mut().append(header::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        let (parts, ()) = res.into_parts();
        let mut out = Vec::new();
        let (f, k) = encode_head(&parts, hint, Exchange { method: &method, version, keep_alive }, &mut out);
        let text = String::from_utf8(out).unwrap();
        // The date changes; everything else is compared whole.
        let text = text.lines().filter(|l| !l.starts_with("date: ")).collect::<Vec<_>>().join("\n");
        (text, f, k)
    }

    #[test]
    fn heads_and_framing() {
        use Method as M;
        use Version as V;
        type Case<'a> = (u16, &'a [(&'a str, &'a str)], Option<u64>, M, V, bool, &'a str, Framing, bool);
        let cases: &[Case] = &[
            (200, &[("x-elastic-product", "Elasticsearch")], Some(2), M::GET, V::HTTP_11, true,
             "HTTP/1.1 200 OK\nx-elastic-product: Elasticsearch\ncontent-length: 2\n", Framing::Length(2), true),
            (200, &[("content-length", "7")], None, M::GET, V::HTTP_11, true, "HTTP/1.1 200 OK\ncontent-length: 7\n", Framing::Length(7), true),
            (200, &[], None, M::GET, V::HTTP_11, true, "HTTP/1.1 200 OK\ntransfer-encoding: chunked\n", Framing::Chunked, true),
            // A node's framing and connection headers are not passed on; "close" is honoured.
            (200, &[("transfer-encoding", "chunked"), ("connection", "close")], None, M::GET, V::HTTP_11, true,
             "HTTP/1.1 200 OK\ntransfer-encoding: chunked\nconnection: close\n", Framing::Chunked, false),
            (200, &[], None, M::GET, V::HTTP_10, true, "HTTP/1.1 200 OK\nconnection: close\n", Framing::Close, false),
            (200, &[], Some(0), M::GET, V::HTTP_10, true, "HTTP/1.1 200 OK\ncontent-length: 0\nconnection: keep-alive\n", Framing::Length(0), true),
            (200, &[("content-length", "9")], Some(0), M::HEAD, V::HTTP_11, true, "HTTP/1.1 200 OK\ncontent-length: 9\n", Framing::None, true),
            (204, &[], Some(0), M::DELETE, V::HTTP_11, false, "HTTP/1.1 204 No Content\nconnection: close\n", Framing::None, false),
            (304, &[], None, M::GET, V::HTTP_11, true, "HTTP/1.1 304 Not Modified\n", Framing::None, true),
            (599, &[], Some(0), M::GET, V::HTTP_11, true, "HTTP/1.1 599 \ncontent-length: 0\n", Framing::Length(0), true),
        ];
        for (status, headers, hint, method, version, keep, want, framing, keeps) in cases {
            let got = head(*status, headers, *hint, method.clone(), *version, *keep);
            assert_eq!(got, (want.to_string(), *framing, *keeps), "{status} {headers:?}");
        }
        // A Date is added once, unless the response has one.
        let dates = |headers: &[(&str, &str)]| {
            let mut res = http::Response::new(());
            for (k, v) in headers {
                res.headers_mut().append(header::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
            }
            let mut out = Vec::new();
            encode_head(&res.into_parts().0, Some(0), Exchange { method: &M::GET, version: V::HTTP_11, keep_alive: true }, &mut out);
            String::from_utf8(out).unwrap().lines().filter(|l| l.starts_with("date: ")).map(str::to_string).collect::<Vec<_>>()
        };
        assert_eq!(dates(&[("date", "x")]), ["date: x"]);
        let added = dates(&[]);
        assert!(added.len() == 1 && added[0].ends_with(" GMT"), "{added:?}");
    }

    async fn sent(framing: Framing, frames: Vec<&'static [u8]>) -> (Result<(), WriteError>, Vec<u8>) {
        let chunks = frames.into_iter().map(|f| Ok::<_, crate::body::BodyError>(http_body::Frame::data(Bytes::from_static(f))));
        let body = http_body_util::StreamBody::new(futures_util::stream::iter(chunks));
        let mut out = Vec::new();
        let r = send(&mut out, b"H\r\n\r\n".to_vec(), framing, ResBody::Boxed(body.boxed_unsync())).await;
        (r, out)
    }

    #[tokio::test]
    async fn bodies_are_framed_and_held_to_their_length() {
        let (r, out) = sent(Framing::Chunked, vec![b"ab", b"", b"cde"]).await;
        assert!(r.is_ok());
        assert_eq!(out, b"H\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n");
        let (r, out) = sent(Framing::Length(5), vec![b"ab", b"cde"]).await;
        assert!(r.is_ok());
        assert_eq!(out, b"H\r\n\r\nabcde");
        let (r, out) = sent(Framing::None, vec![b"ab"]).await;
        assert!(r.is_ok());
        assert_eq!(out, b"H\r\n\r\n");
        assert!(matches!(sent(Framing::Length(4), vec![b"ab", b"cde"]).await.0, Err(WriteError::Body(_))));
        assert!(matches!(sent(Framing::Length(6), vec![b"ab", b"cde"]).await.0, Err(WriteError::Body(_))));
    }
}
