//! Request heads from clients, read as RFC 9112 has them. Pure and table-tested.
//!
//! Invariants: a head is parsed once, from the bytes that arrived, and its header values and
//! target are slices of those bytes (no copies); a body's framing is decided here and nowhere
//! else: Transfer-Encoding exactly `chunked`, or one Content-Length that every value agrees on,
//! or no body. Anything ambiguous — both framings, differing or malformed lengths, another
//! transfer coding, Transfer-Encoding in HTTP/1.0 — is refused: which framing the node would
//! read is exactly what a request smuggler plays on.

use std::mem::MaybeUninit;

use bytes::BytesMut;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Uri, Version};

pub use crate::framing::Framing;
use crate::framing::{agree_length, LengthError, Persistence};

/// Heads with more headers than this are refused with 431.
pub const MAX_HEADERS: usize = 128;

/// A parsed request head.
#[derive(Debug)]
pub struct RequestHead {
    pub parts: http::request::Parts,
    pub framing: Framing,
    /// Whether the client lets the connection carry another request after this one.
    pub keep_alive: bool,
    /// `Expect: 100-continue` on a request with a body.
    pub expect_continue: bool,
}

/// Why a head is refused. Every refusal closes the connection: the stream cannot be trusted
/// to be where the client thinks it is.
#[derive(Debug, PartialEq, Eq)]
pub enum HeadError {
    /// Larger than the limit, or too many headers (431).
    TooLarge,
    /// Not a request Sluice will read (400), and why.
    Bad(&'static str),
}

/// Parses the head at the start of `buf` and takes its bytes out of it. `Ok(None)`: the head
/// has not fully arrived. `max` bounds the bytes a head may take.
pub fn parse(buf: &mut BytesMut, max: usize) -> Result<Option<RequestHead>, HeadError> {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_request_with_uninit_headers(&mut req, buf, &mut slots) {
        Ok(httparse::Status::Complete(n)) if n > max => return Err(HeadError::TooLarge),
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > max => return Err(HeadError::TooLarge),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
        Err(httparse::Error::Version) => return Err(HeadError::Bad("the request is not HTTP/1.0 or HTTP/1.1")),
        Err(_) => return Err(HeadError::Bad("the request head is malformed")),
    };
    let version = if req.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
    let method = Method::from_bytes(req.method.unwrap_or_default().as_bytes()).map_err(|_| HeadError::Bad("the request method is invalid"))?;
    let base = buf.as_ptr() as usize;
    let at = |s: &[u8]| (s.as_ptr() as usize - base, s.len());
    let target = at(req.path.unwrap_or_default().as_bytes());
    let mut said = Said::default();
    let mut names = Vec::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| HeadError::Bad("a request header name is invalid"))?;
        said.note(&name, h.value)?;
        names.push((name, at(h.value)));
    }
    let framing = said.framing(version)?;
    let keep_alive = said.connection.keeps_alive(version);
    let expect_continue = said.expect_continue && version == Version::HTTP_11 && framing != Framing::Length(0);
    // Only now are the head's bytes taken: the slices above were read from them in place.
    let head = buf.split_to(len).freeze();
    let slice = |(start, len): (usize, usize)| head.slice(start..start + len);
    let uri = Uri::from_maybe_shared(slice(target)).map_err(|_| HeadError::Bad("the request target is invalid"))?;
    // Room for the headers the pipeline adds (X-Forwarded-For, -Host, -Proto, run-as; the
    // credentials replace the caller's) without a rehash. A map of up to six entries stays
    // under the allocator's small-block size, where an allocation is a few instructions.
    let mut headers = http::HeaderMap::with_capacity(names.len() + 4);
    for (name, value) in names {
        let value = HeaderValue::from_maybe_shared(slice(value)).map_err(|_| HeadError::Bad("a request header value is invalid"))?;
        headers.append(name, value);
    }
    let (mut parts, ()) = Request::new(()).into_parts();
    parts.method = method;
    parts.uri = uri;
    parts.version = version;
    parts.headers = headers;
    Ok(Some(RequestHead { parts, framing, keep_alive, expect_continue }))
}

/// What a request's framing and connection headers say, noted as the head is read.
#[derive(Default)]
struct Said {
    length: Option<u64>,
    /// Transfer-Encoding headers seen, and whether all of them together say exactly `chunked`.
    transfer_encodings: usize,
    chunked_only: bool,
    connection: Persistence,
    expect_continue: bool,
}

impl Said {
    fn note(&mut self, name: &HeaderName, v: &[u8]) -> Result<(), HeadError> {
        if name == header::CONTENT_LENGTH {
            agree_length(v, &mut self.length).map_err(|e| match e {
                LengthError::Invalid => HeadError::Bad("the request's Content-Length is invalid"),
                LengthError::Differing => HeadError::Bad("the request has differing Content-Lengths"),
            })?;
        } else if name == header::TRANSFER_ENCODING {
            self.transfer_encodings += 1;
            self.chunked_only = self.transfer_encodings == 1 && v.trim_ascii().eq_ignore_ascii_case(b"chunked");
        } else if name == header::CONNECTION {
            self.connection.note(v);
        } else if name == header::EXPECT {
            self.expect_continue |= v.trim_ascii().eq_ignore_ascii_case(b"100-continue");
        }
        Ok(())
    }

    fn framing(&self, version: Version) -> Result<Framing, HeadError> {
        if self.transfer_encodings == 0 {
            return Ok(Framing::Length(self.length.unwrap_or(0)));
        }
        if version == Version::HTTP_10 {
            return Err(HeadError::Bad("Transfer-Encoding is not HTTP/1.0"));
        }
        if self.length.is_some() {
            return Err(HeadError::Bad("the request has both Transfer-Encoding and Content-Length"));
        }
        if !self.chunked_only {
            return Err(HeadError::Bad("the request's Transfer-Encoding is not chunked"));
        }
        Ok(Framing::Chunked)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn head(raw: &str) -> Result<Option<RequestHead>, HeadError> {
        parse(&mut BytesMut::from(raw.as_bytes()), 1024)
    }

    #[test]
    fn framing_keep_alive_and_expectations() {
        type Case<'a> = (&'a str, Framing, bool, bool);
        let cases: &[Case] = &[
            ("GET / HTTP/1.1\r\nhost: a\r\n\r\n", Framing::Length(0), true, false),
            ("POST /i/_bulk HTTP/1.1\r\ncontent-length: 12\r\n\r\n", Framing::Length(12), true, false),
            ("POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5, 5\r\n\r\n", Framing::Length(5), true, false),
            ("POST / HTTP/1.1\r\ntransfer-encoding: Chunked\r\n\r\n", Framing::Chunked, true, false),
            ("POST / HTTP/1.1\r\ncontent-length: 3\r\nexpect: 100-Continue\r\n\r\n", Framing::Length(3), true, true),
            // Nothing to continue with when there is no body, nor in HTTP/1.0.
            ("GET / HTTP/1.1\r\nexpect: 100-continue\r\n\r\n", Framing::Length(0), true, false),
            ("POST / HTTP/1.0\r\ncontent-length: 3\r\nexpect: 100-continue\r\n\r\n", Framing::Length(3), false, false),
            ("GET / HTTP/1.1\r\nconnection: x, Close\r\n\r\n", Framing::Length(0), false, false),
            ("GET / HTTP/1.0\r\n\r\n", Framing::Length(0), false, false),
            ("GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n", Framing::Length(0), true, false),
            // Empty lines before the request line are skipped (RFC 9112 §2.2).
            ("\r\nGET / HTTP/1.1\r\n\r\n", Framing::Length(0), true, false),
        ];
        for (raw, framing, keep_alive, expect) in cases {
            let h = head(raw).unwrap().unwrap();
            assert_eq!((h.framing, h.keep_alive, h.expect_continue), (*framing, *keep_alive, *expect), "{raw}");
        }
    }

    #[test]
    fn ambiguous_framing_is_refused() {
        for raw in [
            "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n",
            "POST / HTTP/1.1\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\n",
            "POST / HTTP/1.1\r\ncontent-length: 3, 4\r\n\r\n",
            "POST / HTTP/1.1\r\ncontent-length: +3\r\n\r\n",
            "POST / HTTP/1.1\r\ncontent-length: 0x3\r\n\r\n",
            "POST / HTTP/1.1\r\ncontent-length: \r\n\r\n",
            "POST / HTTP/1.1\r\ncontent-length: 99999999999999999999\r\n\r\n",
            "POST / HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n",
            "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\ntransfer-encoding: identity\r\n\r\n",
            "POST / HTTP/1.1\r\ntransfer-encoding: chunked, identity\r\n\r\n",
            "POST / HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n",
            "GET / HTTP/2.0\r\n\r\n",
            "GET  / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nbad name: x\r\n\r\n",
            "GET / HTTP/1.1\r\nx: a\r\n folded\r\n\r\n",
            "GET / HTTP/1.1\r\nx: a\x01b\r\n\r\n",
            "G\x01T / HTTP/1.1\r\n\r\n",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        ] {
            assert!(matches!(head(raw), Err(HeadError::Bad(_))), "{raw:?}");
        }
    }

    #[test]
    fn heads_are_taken_whole_and_the_rest_stays() {
        let mut buf = BytesMut::from(&b"POST /a%2Fb/_search?q=x HTTP/1.1\r\nX-Opaque-Id: 7\r\nwarning: a\r\nWarning: b\r\ncontent-length: 2\r\n\r\n{}GET"[..]);
        let h = parse(&mut buf, 1024).unwrap().unwrap();
        assert_eq!(&buf[..], b"{}GET");
        assert_eq!((h.parts.method, h.parts.uri.to_string()), (Method::POST, "/a%2Fb/_search?q=x".to_string()));
        assert_eq!(h.parts.headers.get("x-opaque-id").unwrap(), "7");
        assert_eq!(h.parts.headers.get_all("warning").iter().collect::<Vec<_>>(), ["a", "b"]);
        // Absolute-form targets keep their authority for the pipeline to read.
        let h = head("GET http://n:9200/_cat HTTP/1.1\r\n\r\n").unwrap().unwrap();
        assert_eq!(h.parts.uri.path(), "/_cat");
    }

    #[test]
    fn partial_and_oversized_heads() {
        assert!(head("GET / HTTP/1.1\r\nhost: a\r\n").unwrap().is_none());
        assert!(head("").unwrap().is_none());
        let long = format!("GET / HTTP/1.1\r\nx: {}", "a".repeat(1100));
        assert_eq!(head(&long).unwrap_err(), HeadError::TooLarge);
        let complete = format!("GET / HTTP/1.1\r\nx: {}\r\n\r\n", "a".repeat(1100));
        assert_eq!(head(&complete).unwrap_err(), HeadError::TooLarge);
        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "x: y\r\n".repeat(MAX_HEADERS + 1));
        assert_eq!(parse(&mut BytesMut::from(many.as_bytes()), 1 << 20).unwrap_err(), HeadError::TooLarge);
    }
}
