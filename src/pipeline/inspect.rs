//! Phase 5: bodies that carry targets. JSON bodies are buffered (bounded), decompressed when
//! the client compressed them (bounded: a decompression bomb gets 413) and inspected; the node
//! then receives exactly the bytes the client sent. NDJSON bodies are checked line by line as
//! they stream, in bounded memory; the first chunk is checked before the node is contacted.

use std::io::Read;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

use super::respond::Failure;
use crate::body::{BodyError, ReqBody};
use crate::classify::ndjson::{self, LineScanner};
use crate::classify::routes::BodyKind;
use crate::classify::{Classification, Refusal};

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
    let mut out = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| match e {
            BodyError::TooLarge(limit) => Failure::BodyTooLarge { limit },
            _ => Failure::ClientBody,
        })?;
        if let Some(d) = frame.data_ref() {
            if out.len() as u64 + d.len() as u64 > limit {
                return Err(Failure::InspectTooLarge { limit });
            }
            out.extend_from_slice(d);
        }
    }
    Ok(out.freeze())
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
        Some("gzip" | "x-gzip") => flate2::read::MultiGzDecoder::new(&bytes[..]).take(limit + 1).read_to_end(&mut out),
        Some("deflate") => flate2::read::ZlibDecoder::new(&bytes[..]).take(limit + 1).read_to_end(&mut out),
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

/// Per-line state of an NDJSON body.
enum Expect {
    /// A bulk action line, or an msearch header line.
    Head,
    /// A bulk source line (after index/create/update), or an msearch body line.
    Payload,
}

/// An NDJSON body checked line by line as it streams.
pub struct NdjsonBody {
    inner: ReqBody,
    scanner: LineScanner,
    kind: BodyKind,
    default_index: Option<String>,
    now_ms: i64,
    expect: Expect,
    item: usize,
    verdict: Verdict,
    done: bool,
    ended: bool,
}

impl NdjsonBody {
    pub fn new(inner: ReqBody, c: &Classification, kind: BodyKind, settings: &InspectSettings, now_ms: i64, verdict: Verdict) -> Self {
        Self {
            inner,
            scanner: LineScanner::new(settings.max_line),
            kind,
            default_index: c.default_index.clone(),
            now_ms,
            expect: Expect::Head,
            item: 0,
            verdict,
            done: false,
            ended: false,
        }
    }

    fn check_line(&mut self, line: &[u8]) -> Result<(), Refusal> {
        if ndjson::is_blank(line) {
            return Ok(());
        }
        let line = trim_newline(line);
        match (&self.expect, self.kind) {
            (Expect::Head, BodyKind::Bulk) => {
                let action = ndjson::bulk_action(line, self.default_index.as_deref(), self.now_ms)?;
                if action.op.has_source() {
                    self.expect = Expect::Payload;
                } else {
                    self.item += 1;
                }
            }
            (Expect::Head, _) => {
                ndjson::msearch_header(line, self.default_index.as_deref(), self.now_ms)?;
                self.expect = Expect::Payload;
            }
            (Expect::Payload, BodyKind::Bulk) => {
                self.expect = Expect::Head;
                self.item += 1;
            }
            (Expect::Payload, kind) => {
                let mut scratch = Classification::scratch();
                ndjson::msearch_body(&mut scratch, line, kind, self.item, self.now_ms)?;
                self.expect = Expect::Head;
                self.item += 1;
            }
        }
        Ok(())
    }

    fn fail(&mut self, f: Failure) -> BodyError {
        let reason = f.describe().1;
        if let Ok(mut v) = self.verdict.lock() {
            *v = Some(f);
        }
        self.done = true;
        BodyError::Other(reason)
    }

    /// Checks a chunk's complete lines; the chunk is forwarded only when all of them pass.
    fn check_chunk(&mut self, chunk: &Bytes) -> Result<(), Failure> {
        let mut lines = Vec::new();
        self.scanner
            .feed(chunk.clone(), |l| {
                lines.push(l);
                Ok::<_, ()>(())
            })
            .map_err(|e| match e {
                Ok(ndjson::ScanError::LineTooLong(max)) => Failure::LineTooLong { limit: max },
                Err(()) => Failure::ClientBody,
            })?;
        for l in lines {
            self.check_line(&l).map_err(Failure::Refused)?;
        }
        Ok(())
    }

    fn check_end(&mut self) -> Result<(), Failure> {
        if self.ended {
            return Ok(());
        }
        self.ended = true;
        if let Some(last) = self.scanner.finish() {
            self.check_line(&last).map_err(Failure::Refused)?;
        }
        if matches!(self.expect, Expect::Payload) {
            let what = if self.kind == BodyKind::Bulk { "bulk item has no source line" } else { "msearch header has no body line" };
            return Err(Failure::Refused(Refusal::parse(format!("the last {what}"))));
        }
        Ok(())
    }
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

impl Body for NdjsonBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            None => match this.check_end() {
                Ok(()) => {
                    this.done = true;
                    Poll::Ready(None)
                }
                Err(f) => Poll::Ready(Some(Err(this.fail(f)))),
            },
            Some(Err(e)) => {
                let f = match &e {
                    BodyError::TooLarge(limit) => Failure::BodyTooLarge { limit: *limit },
                    _ => Failure::ClientBody,
                };
                Poll::Ready(Some(Err(this.fail(f))))
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(chunk) => {
                    // The last chunk completes the node's request: check the end before it goes.
                    let checked = this.check_chunk(&chunk).and_then(|()| {
                        if this.inner.is_end_stream() { this.check_end() } else { Ok(()) }
                    });
                    match checked {
                        Ok(()) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
                        Err(f) => Poll::Ready(Some(Err(this.fail(f)))),
                    }
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
        }
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

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
