//! HTTP/1.1 towards the nodes, as bytes and nothing else: the request head Sluice writes, the
//! response head it reads, and how each body is framed (RFC 9112). Pure and table-tested;
//! `conn` does the I/O.
//!
//! Invariants: the request line carries the path and query bytes the pipeline classified,
//! unchanged; a request body is framed by the Content-Length it carries, else by its exact
//! size, else chunked — never dropped; a response whose framing is ambiguous (differing
//! Content-Lengths, a bad chunk) is an error, not a guess; a connection is reused only when
//! the node said it may be and the response ended exactly where its framing said.

use std::mem::MaybeUninit;

pub use crate::framing::{Chunk, Chunked, Framing};
use crate::framing::{agree_length, content_length, LengthError, Persistence};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};

/// Response heads larger than this are refused (Elasticsearch's own limit for heads is 8 KiB
/// by default; warnings can make answers longer).
pub const MAX_HEAD: usize = 256 * 1024;
/// Response headers beyond this count are refused.
const MAX_HEADERS: usize = 256;

/// Why bytes from a node are not HTTP/1.1 Sluice will pass on.
pub type ProtocolError = &'static str;

/// Writes the request head into `out` and says how its body is framed. `exact` is the body's
/// exact size when known (`Some(0)` for no body at all).
pub fn encode_request(method: &Method, target: &str, headers: &HeaderMap, exact: Option<u64>, out: &mut Vec<u8>) -> Framing {
    out.reserve(64 + target.len() + headers.len() * 32);
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut framing = None;
    for (name, value) in headers {
        if name == header::TRANSFER_ENCODING {
            continue; // hop-by-hop: framing is Sluice's to choose
        }
        if name == header::CONTENT_LENGTH {
            // One valid length only (the listener refuses differing ones from clients before this).
            match (framing, content_length(value.as_bytes())) {
                (None, Some(n)) => framing = Some(Framing::Length(n)),
                _ => continue,
            }
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let framing = match (framing, exact) {
        (Some(f), _) => f,
        (None, Some(0)) => Framing::Length(0),
        (None, Some(n)) => {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(n.to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
            Framing::Length(n)
        }
        (None, None) => {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
            Framing::Chunked
        }
    };
    out.extend_from_slice(b"\r\n");
    framing
}

/// How a response body ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    Length(u64),
    Chunked,
    /// Read until the node closes the connection.
    Close,
}

/// A response head read from a node.
#[derive(Debug)]
pub struct ResponseHead {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub framing: BodyFraming,
    /// Whether the connection may carry another request once the body ended.
    pub reusable: bool,
}

/// What the start of a read buffer holds.
#[derive(Debug)]
pub enum Parsed {
    /// Not a whole head yet.
    Partial,
    /// An interim (1xx) response of this many bytes, to skip.
    Interim(usize),
    /// A final response head, which took this many bytes.
    Final(ResponseHead, usize),
}

/// Parses the response head at the start of `buf`. `head` is true for a HEAD request, whose
/// response has no body whatever its headers say.
pub fn parse_response(buf: &[u8], head: bool) -> Result<Parsed, ProtocolError> {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut res, buf, &mut slots) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => return Err("the node's response head is too large"),
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(httparse::Error::TooManyHeaders) => return Err("the node's response has too many headers"),
        Err(_) => return Err("the node's response head is not HTTP/1.1"),
    };
    let code = res.code.unwrap_or(0);
    let status = StatusCode::from_u16(code).map_err(|_| "the node's response has an invalid status")?;
    if status.is_informational() {
        if code == 101 {
            return Err("the node switched protocols");
        }
        return Ok(Parsed::Interim(len));
    }
    let version = if res.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
    let mut headers = HeaderMap::with_capacity(res.headers.len());
    let mut said = Said::default();
    for h in res.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| "the node's response has an invalid header name")?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| "the node's response has an invalid header value")?;
        said.note(&name, h.value);
        headers.append(name, value);
    }
    let (framing, sure) = body_framing(status, &said, head)?;
    let reusable = sure && framing != BodyFraming::Close && said.connection.keeps_alive(version);
    Ok(Parsed::Final(ResponseHead { status, version, headers, framing, reusable }, len))
}

/// What a response's framing and connection headers say, noted as the head is read (no
/// lookups afterwards).
#[derive(Default)]
struct Said<'a> {
    has_length: bool,
    /// The Content-Length (every value and list member agreeing), or why there is none.
    length: Option<u64>,
    bad_length: Option<ProtocolError>,
    /// The last Transfer-Encoding header's value.
    transfer_encoding: Option<&'a [u8]>,
    connection: Persistence,
}

impl<'a> Said<'a> {
    fn note(&mut self, name: &HeaderName, v: &'a [u8]) {
        if name == header::CONTENT_LENGTH {
            self.has_length = true;
            if let Err(e) = agree_length(v, &mut self.length) {
                self.bad_length = self.bad_length.or(Some(match e {
                    LengthError::Invalid => "the node's response has an invalid Content-Length",
                    LengthError::Differing => "the node's response has differing Content-Lengths",
                }));
            }
        } else if name == header::TRANSFER_ENCODING {
            self.transfer_encoding = Some(v);
        } else if name == header::CONNECTION {
            self.connection.note(v);
        }
    }
}

/// RFC 9112 §6.3. The flag is false when the framing, though readable, leaves the connection
/// in doubt (Transfer-Encoding beside Content-Length).
fn body_framing(status: StatusCode, said: &Said<'_>, head: bool) -> Result<(BodyFraming, bool), ProtocolError> {
    if head || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        return Ok((BodyFraming::Length(0), true));
    }
    if let Some(te) = said.transfer_encoding {
        let chunked = te.rsplit(|&b| b == b',').next().is_some_and(|c| c.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        return Ok((if chunked { BodyFraming::Chunked } else { BodyFraming::Close }, !said.has_length));
    }
    if !said.has_length {
        return Ok((BodyFraming::Close, true));
    }
    match said.bad_length {
        Some(e) => Err(e),
        None => Ok((BodyFraming::Length(said.length.unwrap_or(0)), true)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn encoded(method: Method, target: &str, headers: &[(&str, &str)], exact: Option<u64>) -> (String, Framing) {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        let mut out = Vec::new();
        let f = encode_request(&method, target, &h, exact, &mut out);
        (String::from_utf8(out).unwrap(), f)
    }

    #[test]
    fn request_framing() {
        type Case<'a> = (Method, &'a [(&'a str, &'a str)], Option<u64>, &'a str, Framing);
        let cases: &[Case] = &[
            (Method::GET, &[("host", "n")], Some(0), "GET /a HTTP/1.1\r\nhost: n\r\n\r\n", Framing::Length(0)),
            (Method::POST, &[("content-length", "0")], Some(0), "POST /a HTTP/1.1\r\ncontent-length: 0\r\n\r\n", Framing::Length(0)),
            (Method::POST, &[("content-length", "5")], None, "POST /a HTTP/1.1\r\ncontent-length: 5\r\n\r\n", Framing::Length(5)),
            (Method::POST, &[], Some(7), "POST /a HTTP/1.1\r\ncontent-length: 7\r\n\r\n", Framing::Length(7)),
            // A streamed body of unknown size is chunked, whatever the method (a GET _search
            // with a chunked body keeps its body).
            (Method::GET, &[("x-a", "1")], None, "GET /a HTTP/1.1\r\nx-a: 1\r\ntransfer-encoding: chunked\r\n\r\n", Framing::Chunked),
            (Method::POST, &[("transfer-encoding", "gzip, chunked")], None, "POST /a HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n", Framing::Chunked),
            // A length the pipeline set wins over a stale one; a bad one is not passed on.
            (Method::POST, &[("content-length", "x")], Some(3), "POST /a HTTP/1.1\r\ncontent-length: 3\r\n\r\n", Framing::Length(3)),
        ];
        for (m, h, exact, want, framing) in cases {
            assert_eq!(encoded(m.clone(), "/a", h, *exact), (want.to_string(), *framing), "{h:?}");
        }
        // The target goes out byte for byte.
        let (s, _) = encoded(Method::GET, "/%3Clogs-%7Bnow%2Fd%7D%3E/_search?q=a%20b", &[], Some(0));
        assert!(s.starts_with("GET /%3Clogs-%7Bnow%2Fd%7D%3E/_search?q=a%20b HTTP/1.1\r\n"));
    }

    fn parsed(raw: &str, head: bool) -> Result<(ResponseHead, usize), ProtocolError> {
        match parse_response(raw.as_bytes(), head)? {
            Parsed::Final(h, n) => Ok((h, n)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn response_framing_and_reuse() {
        let cases: &[(&str, bool, BodyFraming, bool)] = &[
            ("HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n", false, BodyFraming::Length(12), true),
            ("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Length: 12\r\n\r\n", false, BodyFraming::Length(12), true),
            ("HTTP/1.1 200 OK\r\ncontent-length: 12, 12\r\n\r\n", false, BodyFraming::Length(12), true),
            ("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", false, BodyFraming::Chunked, true),
            ("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, Chunked\r\n\r\n", false, BodyFraming::Chunked, true),
            ("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n", false, BodyFraming::Chunked, false),
            ("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n", false, BodyFraming::Close, false),
            ("HTTP/1.1 200 OK\r\n\r\n", false, BodyFraming::Close, false),
            ("HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: Close\r\n\r\n", false, BodyFraming::Length(5), false),
            ("HTTP/1.0 200 OK\r\ncontent-length: 5\r\n\r\n", false, BodyFraming::Length(5), false),
            ("HTTP/1.0 200 OK\r\ncontent-length: 5\r\nconnection: keep-alive\r\n\r\n", false, BodyFraming::Length(5), true),
            ("HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n", true, BodyFraming::Length(0), true),
            ("HTTP/1.1 204 No Content\r\n\r\n", false, BodyFraming::Length(0), true),
            ("HTTP/1.1 304 Not Modified\r\ntransfer-encoding: chunked\r\n\r\n", false, BodyFraming::Length(0), true),
            // Transfer-Encoding wins over any Content-Length, even one that is not a number.
            ("HTTP/1.1 200 OK\r\ncontent-length: x\r\ntransfer-encoding: chunked\r\n\r\n", false, BodyFraming::Chunked, false),
            // The last Transfer-Encoding header decides; Connection tokens from every header.
            ("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntransfer-encoding: gzip\r\n\r\n", false, BodyFraming::Close, false),
            ("HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: upgrade\r\nconnection: x, close\r\n\r\n", false, BodyFraming::Length(5), false),
            ("HTTP/1.0 200 OK\r\ncontent-length: 5\r\nconnection: x\r\nconnection: Keep-Alive\r\n\r\n", false, BodyFraming::Length(5), true),
            // A bad length is no matter for a response without a body.
            ("HTTP/1.1 204 No Content\r\ncontent-length: x\r\n\r\n", false, BodyFraming::Length(0), true),
        ];
        for (raw, head, framing, reusable) in cases {
            let (h, n) = parsed(raw, *head).unwrap();
            assert_eq!((h.framing, h.reusable, n), (*framing, *reusable, raw.len()), "{raw}");
        }
        for bad in [
            "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 1, 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 1,\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
            "HTP/1.1 200 OK\r\n\r\n",
            "HTTP/1.1 99 Odd\r\n\r\n",
        ] {
            assert!(parse_response(bad.as_bytes(), false).is_err(), "{bad}");
        }
    }

    #[test]
    fn heads_keep_their_headers_and_skip_interim_answers() {
        let raw = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nX-Elastic-Product: Elasticsearch\r\nwarning: a\r\nWarning: b\r\ncontent-length: 0\r\n\r\nrest";
        let Ok(Parsed::Interim(n)) = parse_response(raw.as_bytes(), false) else { panic!() };
        let (h, m) = parsed(&raw[n..], false).unwrap();
        assert_eq!((h.status, &raw[n + m..]), (StatusCode::CREATED, "rest"));
        assert_eq!(h.headers.get("x-elastic-product").unwrap(), "Elasticsearch");
        assert_eq!(h.headers.get_all("warning").iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(matches!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-le", false), Ok(Parsed::Partial)));
        let huge = format!("HTTP/1.1 200 OK\r\nx: {}", "a".repeat(MAX_HEAD));
        assert!(parse_response(huge.as_bytes(), false).is_err());
    }

}
