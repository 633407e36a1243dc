//! Phase 5: bodies that carry targets. JSON bodies are buffered (bounded), decompressed when
//! the client compressed them (bounded: a decompression bomb gets 413) and inspected; the node
//! then receives exactly the bytes the client sent. NDJSON bodies are checked line by line as
//! they stream, in bounded memory (see `items`).

use std::io::Read;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

use super::respond::Failure;
use crate::body::{BodyError, ReqBody};
use crate::classify::Refusal;

/// Limits for body inspection.
#[derive(Clone, Debug)]
pub struct InspectSettings {
    /// Largest JSON body buffered for inspection (413 above).
    pub max_buffered: u64,
    /// Longest NDJSON line (400 above).
    pub max_line: usize,
    /// Largest decompressed size of a compressed body (413 above).
    pub max_decompressed: u64,
}

impl Default for InspectSettings {
    fn default() -> Self {
        Self { max_buffered: 16 << 20, max_line: 16 << 20, max_decompressed: 100 << 20 }
    }
}

/// Reads a whole body, refusing it past `limit` bytes.
pub async fn buffer(mut body: ReqBody, limit: u64) -> Result<Bytes, Failure> {
    // A small body usually arrives in one frame: it is kept as it is, copied only when a second
    // frame follows.
    let mut first: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    let mut len = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Failure::of_body(&e))?;
        let Ok(d) = frame.into_data() else { continue };
        len += d.len() as u64;
        if len > limit {
            return Err(Failure::InspectTooLarge { limit });
        }
        match (&first, &mut joined) {
            (None, _) => first = Some(d),
            (Some(f), None) => {
                let mut j = BytesMut::with_capacity(f.len() + d.len());
                j.extend_from_slice(f);
                j.extend_from_slice(&d);
                joined = Some(j);
            }
            (Some(_), Some(j)) => j.extend_from_slice(&d),
        }
    }
    Ok(match (joined, first) {
        (Some(j), _) => j.freeze(),
        (None, Some(f)) => f,
        (None, None) => Bytes::new(),
    })
}

/// Refuses an NDJSON body with a line longer than `max_line`.
pub fn check_lines(body: &[u8], max_line: usize) -> Result<(), Failure> {
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', body).chain(std::iter::once(body.len())) {
        if end - start > max_line {
            return Err(Failure::LineTooLong { limit: max_line });
        }
        start = end + 1;
    }
    Ok(())
}

/// The body as the server will read it: decompressed when it was sent compressed.
pub fn decoded(bytes: &Bytes, encoding: Option<&str>, limit: u64) -> Result<Bytes, Failure> {
    let enc = encoding.map(|e| e.trim().to_ascii_lowercase());
    let mut out = Vec::new();
    let read = match enc.as_deref() {
        None | Some("identity") => return Ok(bytes.clone()),
        Some("gzip" | "x-gzip") => flate2::read::MultiGzDecoder::new(&bytes[..]).take(limit.saturating_add(1)).read_to_end(&mut out),
        Some("deflate") => flate2::read::ZlibDecoder::new(&bytes[..]).take(limit.saturating_add(1)).read_to_end(&mut out),
        Some(other) => {
            return Err(Failure::Refused(Refusal::bad(format!("Sluice cannot decode a body with Content-Encoding [{other}]"))));
        }
    };
    read.map_err(|_| Failure::Refused(Refusal::parse("the compressed request body could not be decoded")))?;
    if out.len() as u64 > limit {
        return Err(Failure::DecompressedTooLarge { limit });
    }
    Ok(Bytes::from(out))
}

/// Where a streaming check leaves its verdict for the pipeline to answer with.
pub type Verdict = Arc<Mutex<Option<Failure>>>;

/// A body whose first frame was already read (and checked) before the node was contacted.
pub struct Prepend<B> {
    first: Option<Frame<Bytes>>,
    rest: B,
}

impl<B> Prepend<B> {
    pub fn new(first: Option<Frame<Bytes>>, rest: B) -> Self {
        Self { first, rest }
    }
}

impl<B: Body<Data = Bytes, Error = BodyError> + Unpin> Body for Prepend<B> {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        if let Some(f) = self.first.take() {
            return Poll::Ready(Some(Ok(f)));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let extra = self.first.as_ref().and_then(Frame::data_ref).map_or(0, |d| d.len() as u64);
        let rest = self.rest.size_hint();
        let mut h = SizeHint::new();
        if let Some(u) = rest.upper() {
            h.set_upper(u.saturating_add(extra));
        }
        h.set_lower(rest.lower().saturating_add(extra));
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Frame;
    use http_body_util::BodyExt;

    fn frames(parts: &[&'static str]) -> ReqBody {
        let frames: Vec<Result<Frame<Bytes>, BodyError>> = parts.iter().map(|p| Ok(Frame::data(Bytes::from_static(p.as_bytes())))).collect();
        ReqBody::Boxed(http_body_util::StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync())
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn decoding_is_exact_at_any_limit_and_refuses_beyond_it() {
        use std::io::Write;
        let plain = br#"{"query":{"terms":{"user":{"index":"secret","id":"1","path":"u"}}}}"#;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(plain).unwrap();
        let gz = Bytes::from(e.finish().unwrap());
        // The largest limits must not wrap around to nothing (and inspect an empty body).
        for limit in [plain.len() as u64, 1 << 20, u64::MAX - 1, u64::MAX] {
            assert_eq!(decoded(&gz, Some("gzip"), limit).unwrap(), Bytes::from_static(plain), "limit {limit}");
        }
        assert!(matches!(decoded(&gz, Some("gzip"), plain.len() as u64 - 1), Err(Failure::DecompressedTooLarge { .. })));
    }

    #[test]
    fn buffers_one_or_many_frames_within_the_limit() {
        assert_eq!(run(buffer(frames(&[]), 10)).unwrap(), Bytes::new());
        assert_eq!(run(buffer(frames(&["{\"a\":1}"]), 10)).unwrap(), Bytes::from_static(b"{\"a\":1}"));
        assert_eq!(run(buffer(frames(&["{\"a\"", ":1", "}"]), 10)).unwrap(), Bytes::from_static(b"{\"a\":1}"));
        assert!(matches!(run(buffer(frames(&["{\"a\"", ":12345", "}"]), 10)), Err(Failure::InspectTooLarge { limit: 10 })));
        assert!(matches!(run(buffer(frames(&["{\"a\":123456789}"]), 10)), Err(Failure::InspectTooLarge { limit: 10 })));
    }
}
