//! Per-item authorization of _bulk and _msearch bodies while they stream: each item is decided
//! as its lines arrive; allowed items are forwarded at once (an msearch wildcard narrowed in
//! its header), denied ones are left out and logged with their position so the response can
//! put them back. Memory is bounded by the longest line, never by the body.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::inspect::{InspectSettings, Verdict};
use super::respond::Failure;
use crate::body::{BodyError, ReqBody};
use crate::classify::ndjson::{self, LineScanner};
use crate::classify::routes::BodyKind;
use crate::classify::{Classification, Refusal, Target};
use crate::privilege::IndexPriv;

/// One denied item, put back into the response at its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeniedItem {
    pub pos: usize,
    /// The bulk operation (`index`, `create`, …) or `search`.
    pub op: &'static str,
    pub index: String,
    pub id: Option<String>,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct ItemLog {
    pub total: usize,
    pub denied: Vec<DeniedItem>,
    /// The allowed msearch searches over a point in time: position, and the ids they used
    /// (as the client sent them), so the `pit_id`s of their answers get the same binding.
    pub pits: Vec<(usize, Vec<String>)>,
}

pub type SharedLog = Arc<Mutex<ItemLog>>;

/// Decides one item: `Ok(None)` allowed as is, `Ok(Some(expr))` allowed narrowed to `expr`
/// (msearch headers), `Err(reason)` denied.
pub type ItemCheck = Arc<dyn Fn(&Classification) -> Result<Option<String>, String> + Send + Sync>;

/// The body line of an allowed msearch search as the node must see it, when its continuation
/// ids are sealed (`None`: unchanged).
pub type Unseal = Arc<dyn Fn(&Classification, &[u8]) -> Option<Vec<u8>> + Send + Sync>;

/// A bulk action line already decided: the line, whether a source follows, op, index, verdict.
type LastAction = (Bytes, bool, &'static str, String, Result<(), String>);

/// How an items body reports: its per-item decision, its log of denials, a fatal failure.
pub struct Hooks {
    pub check: ItemCheck,
    pub log: SharedLog,
    pub verdict: Verdict,
    pub unseal: Option<Unseal>,
}

pub struct ItemsBody {
    inner: ReqBody,
    scanner: LineScanner,
    kind: BodyKind,
    template: Classification,
    now_ms: i64,
    check: ItemCheck,
    log: SharedLog,
    verdict: Verdict,
    unseal: Option<Unseal>,
    queue: VecDeque<Bytes>,
    expect_payload: bool,
    allowed: bool,
    held: Option<(Bytes, Vec<crate::classify::IndexName>, bool)>,
    item: usize,
    /// Bulk items often share an index and op: the last decision is reused.
    memo: Option<(crate::classify::IndexName, &'static str, Result<(), String>)>,
    /// The last action line and what it meant: identical lines (no `_id`, as Beats and
    /// Logstash send them) are not parsed again.
    last_action: Option<LastAction>,
    done: bool,
    ended: bool,
    /// Set when the client compressed the body: items are read (and forwarded) decompressed.
    /// (It holds the compressed input, decompressed a step at a time when the queue is empty.)
    decoder: Option<Decoder>,
    /// The client's body has ended (the decoder may still hold input).
    inner_ended: bool,
    decompressed: u64,
    max_decompressed: u64,
}

/// A streaming decompressor for gzip or deflate bodies (requests, and responses to rewrite).
/// It holds the compressed input it was given until it has decompressed all of it, a step at
/// a time: one compressed byte can stand for over a thousand decompressed ones, so a step's
/// output stays under ~1,032 × STEP (2 MiB) whatever the frames the input came in.
pub struct Decoder {
    codec: Codec,
    /// Compressed input not decompressed yet.
    pending: Bytes,
}

enum Codec {
    Gzip(flate2::write::MultiGzDecoder<Vec<u8>>),
    Deflate(flate2::write::ZlibDecoder<Vec<u8>>),
}

impl Decoder {
    /// For a Content-Encoding Sluice decodes; `Err` for one it does not.
    pub fn for_encoding(enc: Option<&str>) -> Result<Option<Self>, String> {
        let codec = match enc.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
            None | Some("identity") => return Ok(None),
            Some("gzip" | "x-gzip") => Codec::Gzip(flate2::write::MultiGzDecoder::new(Vec::new())),
            Some("deflate") => Codec::Deflate(flate2::write::ZlibDecoder::new(Vec::new())),
            Some(other) => return Err(format!("Sluice cannot decode a body with Content-Encoding [{other}]")),
        };
        Ok(Some(Self { codec, pending: Bytes::new() }))
    }

    /// Compressed bytes fed per step.
    pub const STEP: usize = 2048;

    /// Takes more compressed input, after what it still holds.
    pub fn push(&mut self, data: Bytes) {
        if self.pending.is_empty() {
            self.pending = data;
        } else {
            let mut joined = bytes::BytesMut::with_capacity(self.pending.len() + data.len());
            joined.extend_from_slice(&self.pending);
            joined.extend_from_slice(&data);
            self.pending = joined.freeze();
        }
    }

    /// Whether compressed input is left to decompress.
    pub fn has_input(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Decompresses the next at most `STEP` bytes of the input held.
    pub fn step(&mut self) -> std::io::Result<Bytes> {
        let input = self.pending.split_to(self.pending.len().min(Self::STEP));
        self.feed(&input, false)
    }

    /// The end of the stream: what is left of the input held (nothing, once every step was
    /// taken), then the decoder's own tail.
    pub fn finish(&mut self) -> std::io::Result<Bytes> {
        let input = std::mem::take(&mut self.pending);
        self.feed(&input, true)
    }

    fn feed(&mut self, data: &[u8], finish: bool) -> std::io::Result<Bytes> {
        use std::io::Write;
        let out = match &mut self.codec {
            Codec::Gzip(d) => {
                d.write_all(data)?;
                if finish {
                    d.try_finish()?;
                }
                d.get_mut()
            }
            Codec::Deflate(d) => {
                d.write_all(data)?;
                if finish {
                    d.try_finish()?;
                }
                d.get_mut()
            }
        };
        Ok(Bytes::from(std::mem::take(out)))
    }
}

impl ItemsBody {
    /// Reads a compressed body through `decoder` (at most `max` bytes once decompressed).
    pub fn decompressing(mut self, decoder: Option<Decoder>, max: u64) -> Self {
        self.decoder = decoder;
        self.max_decompressed = max;
        self
    }

    /// The next step of a compressed body, decompressed (`finish`: the end of the stream).
    fn inflate(&mut self, finish: bool) -> Result<Bytes, Failure> {
        let Some(d) = &mut self.decoder else { return Ok(Bytes::new()) };
        let out = if finish { d.finish() } else { d.step() };
        let out = out.map_err(|_| Failure::Refused(Refusal::parse("the compressed request body could not be decoded")))?;
        self.decompressed += out.len() as u64;
        if self.decompressed > self.max_decompressed {
            return Err(Failure::DecompressedTooLarge { limit: self.max_decompressed });
        }
        Ok(out)
    }

    pub fn new(inner: ReqBody, c: &Classification, kind: BodyKind, s: &InspectSettings, now_ms: i64, hooks: Hooks) -> Self {
        let Hooks { check, log, verdict, unseal } = hooks;
        let mut template = Classification::scratch();
        template.api = c.api;
        template.route = c.route;
        template.default_index = c.default_index.clone();
        Self {
            inner,
            scanner: LineScanner::new(s.max_line),
            kind,
            template,
            now_ms,
            check,
            log,
            verdict,
            unseal,
            queue: VecDeque::new(),
            expect_payload: false,
            allowed: false,
            held: None,
            item: 0,
            memo: None,
            last_action: None,
            done: false,
            ended: false,
            decoder: None,
            inner_ended: false,
            decompressed: 0,
            max_decompressed: u64::MAX,
        }
    }

    fn deny(&self, op: &'static str, index: String, id: Option<String>, reason: String) {
        if let Ok(mut l) = self.log.lock() {
            l.denied.push(DeniedItem { pos: self.item, op, index, id, reason });
        }
    }

    fn count_item(&mut self) {
        self.item += 1;
    }

    /// Publishes the item count (at the end of each chunk and of the body).
    fn publish(&self) {
        if let Ok(mut l) = self.log.lock() {
            l.total = self.item;
        }
    }

    /// Handles one complete line; pushes what is to be forwarded onto `out`.
    fn line(&mut self, line: Bytes, out: &mut Vec<Bytes>) -> Result<(), Refusal> {
        if ndjson::is_blank(&line) {
            return Ok(());
        }
        let text = trim_newline(&line);
        match (self.expect_payload, self.kind) {
            (false, BodyKind::Bulk) => {
                if let Some((prev, has_source, op, index, verdict)) = &self.last_action {
                    if prev[..] == line[..] {
                        let (has_source, verdict) = (*has_source, verdict.clone());
                        self.allowed = verdict.is_ok();
                        match verdict {
                            Ok(()) => out.push(line),
                            Err(reason) => {
                                let (op, index) = (*op, index.clone());
                                self.deny(op, index, None, reason);
                            }
                        }
                        if has_source {
                            self.expect_payload = true;
                        } else {
                            self.count_item();
                        }
                        return Ok(());
                    }
                }
                let a = ndjson::bulk_action(text, self.template.default_index.as_deref(), self.now_ms)?;
                let op = a.op.as_str();
                let verdict = match &self.memo {
                    Some((i, o, v)) if *i == a.index && *o == op => v.clone(),
                    _ => {
                        let mut c = self.template.clone();
                        c.targets.push(Target { index: a.index.clone(), privileges: a.op.privileges(), source: "body:bulk".into() });
                        let v = (self.check)(&c).map(|_| ());
                        self.memo = Some((a.index.clone(), op, v.clone()));
                        v
                    }
                };
                self.allowed = verdict.is_ok();
                self.last_action = if a.id.is_none() { Some((line.clone(), a.op.has_source(), op, a.index.render(), verdict.clone())) } else { None };
                match verdict {
                    Ok(()) => out.push(line),
                    Err(reason) => self.deny(op, a.index.render(), a.id, reason),
                }
                if a.op.has_source() {
                    self.expect_payload = true;
                } else {
                    self.count_item();
                }
            }
            (true, BodyKind::Bulk) => {
                if self.allowed {
                    out.push(line);
                }
                self.expect_payload = false;
                self.count_item();
            }
            (false, _) => {
                let (names, implicit) = ndjson::msearch_header(text, self.template.default_index.as_deref(), self.now_ms)?;
                self.held = Some((line, names, implicit));
                self.expect_payload = true;
            }
            (true, kind) => {
                let (header, names, implicit) = self.held.take().ok_or_else(|| Refusal::parse("msearch body line without a header"))?;
                let mut c = self.template.clone();
                let shown: Vec<String> = names.iter().map(|n| n.render()).collect();
                // A search over a point in time with no index of its own reads the point in
                // time's indices: nothing from the header to decide or narrow.
                let over_pit = ndjson::msearch_body(&mut c, text, kind, self.item, self.now_ms)?;
                if !(over_pit && implicit) {
                    c.targets.extend(names.into_iter().map(|index| Target { index, privileges: &[IndexPriv::Read], source: "path:{index}".into() }));
                }
                let verdict = (self.check)(&c);
                // An allowed search continuing a point in time: its answer's new id gets the same binding.
                let continues = verdict.is_ok() && !c.uses.is_empty();
                if continues {
                    if let Ok(mut l) = self.log.lock() {
                        l.pits.push((self.item, c.uses.iter().map(|u| u.id.clone()).collect()));
                    }
                }
                let line = match (&self.unseal, continues) {
                    (Some(unseal), true) => unseal(&c, &line).map_or(line, Bytes::from),
                    _ => line,
                };
                match verdict {
                    Ok(None) => {
                        out.push(header);
                        out.push(line);
                    }
                    Ok(Some(expr)) => {
                        out.push(narrow_header(trim_newline(&header), &expr)?);
                        out.push(line);
                    }
                    Err(reason) => self.deny("search", shown.join(","), None, reason),
                }
                self.expect_payload = false;
                self.count_item();
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

    /// A chunk of the client's body: scanned now, or, compressed, kept to be decompressed a
    /// step at a time.
    fn chunk(&mut self, chunk: Bytes) -> Result<(), Failure> {
        match &mut self.decoder {
            Some(d) => {
                d.push(chunk);
                Ok(())
            }
            None => self.chunk_plain(chunk),
        }
    }

    /// Decompresses and scans the next step of the compressed input held.
    fn step(&mut self) -> Result<(), Failure> {
        let out = self.inflate(false)?;
        if out.is_empty() {
            return Ok(());
        }
        self.chunk_plain(out)
    }

    fn chunk_plain(&mut self, chunk: Bytes) -> Result<(), Failure> {
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
        let mut out = Vec::with_capacity(lines.len());
        for l in lines {
            self.line(l, &mut out).map_err(Failure::Refused)?;
        }
        self.queue.extend(merge(&chunk, out));
        self.publish();
        Ok(())
    }

    fn end(&mut self) -> Result<(), Failure> {
        if self.ended {
            return Ok(());
        }
        self.ended = true;
        if self.decoder.is_some() {
            let tail = self.inflate(true)?;
            if !tail.is_empty() {
                self.chunk_plain(tail)?;
            }
        }
        if let Some(mut last) = self.scanner.finish() {
            if !last.ends_with(b"\n") {
                let mut v = last.to_vec();
                v.push(b'\n');
                last = Bytes::from(v);
            }
            let mut out = Vec::new();
            self.line(last, &mut out).map_err(Failure::Refused)?;
            self.queue.extend(out);
        }
        self.publish();
        if self.expect_payload {
            let what = if self.kind == BodyKind::Bulk { "bulk item has no source line" } else { "msearch header has no body line" };
            return Err(Failure::Refused(Refusal::parse(format!("the last {what}"))));
        }
        Ok(())
    }

    /// Items seen and forwarded so far: (total, denied).
    pub fn counts(&self) -> (usize, usize) {
        self.log.lock().map(|l| (l.total, l.denied.len())).unwrap_or_default()
    }
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// An msearch header with its `index` replaced by the narrowed expression.
fn narrow_header(header: &[u8], expr: &str) -> Result<Bytes, Refusal> {
    let mut v: serde_json::Map<String, serde_json::Value> = if ndjson::is_blank(header) {
        serde_json::Map::new()
    } else {
        serde_json::from_slice(header).map_err(|e| Refusal::parse(format!("malformed msearch header line: {e}")))?
    };
    v.remove("indices");
    v.insert("index".into(), serde_json::Value::String(expr.to_string()));
    let mut out = serde_json::to_vec(&v).map_err(|e| Refusal::parse(e.to_string()))?;
    out.push(b'\n');
    Ok(Bytes::from(out))
}

/// Joins lines that are adjacent slices of `chunk` back into single slices (no copying).
fn merge(chunk: &Bytes, lines: Vec<Bytes>) -> Vec<Bytes> {
    let base = chunk.as_ptr() as usize;
    let within = |b: &Bytes| {
        let p = b.as_ptr() as usize;
        (p >= base && p + b.len() <= base + chunk.len()).then(|| p - base)
    };
    let mut out: Vec<Bytes> = Vec::new();
    let mut run: Option<(usize, usize)> = None;
    for l in lines {
        match (within(&l), run) {
            (Some(s), Some((rs, re))) if s == re => run = Some((rs, s + l.len())),
            (Some(s), _) => {
                if let Some((rs, re)) = run {
                    out.push(chunk.slice(rs..re));
                }
                run = Some((s, s + l.len()));
            }
            (None, _) => {
                if let Some((rs, re)) = run.take() {
                    out.push(chunk.slice(rs..re));
                }
                out.push(l);
            }
        }
    }
    if let Some((rs, re)) = run {
        out.push(chunk.slice(rs..re));
    }
    out
}

impl Body for ItemsBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        loop {
            if let Some(b) = this.queue.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(b))));
            }
            if this.done {
                return Poll::Ready(None);
            }
            if this.decoder.as_ref().is_some_and(Decoder::has_input) {
                if let Err(f) = this.step() {
                    return Poll::Ready(Some(Err(this.fail(f))));
                }
                continue;
            }
            if this.inner_ended {
                match this.end() {
                    Ok(()) => this.done = true,
                    Err(f) => return Poll::Ready(Some(Err(this.fail(f)))),
                }
                continue;
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                None => this.inner_ended = true,
                Some(Err(e)) => {
                    return Poll::Ready(Some(Err(this.fail(Failure::of_body(&e)))));
                }
                Some(Ok(frame)) => {
                    if let Ok(chunk) = frame.into_data() {
                        if let Err(f) = this.chunk(chunk) {
                            return Poll::Ready(Some(Err(this.fail(f))));
                        }
                    }
                    this.inner_ended = this.inner.is_end_stream();
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.queue.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        // Denied items change the length: the node gets a chunked body.
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use http_body_util::BodyExt;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Bytes {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        Bytes::from(e.finish().unwrap())
    }

    /// The most a step can produce: deflate expands a byte to at most ~1,032.
    const STEP_MAX: usize = 1032 * Decoder::STEP + 64 * 1024;

    #[test]
    fn decompression_steps_are_bounded_whatever_the_input_frames() {
        let plain = vec![b' '; 20 << 20];
        let compressed = gzip(&plain);
        assert!(compressed.len() < 64 * 1024, "one frame of compressed input: {}", compressed.len());
        let mut d = Decoder::for_encoding(Some("gzip")).unwrap().unwrap();
        d.push(compressed);
        let (mut total, mut largest) = (0, 0);
        while d.has_input() {
            let out = d.step().unwrap();
            (total, largest) = (total + out.len(), largest.max(out.len()));
        }
        total += d.finish().unwrap().len();
        assert_eq!(total, plain.len());
        assert!(largest <= STEP_MAX, "a step produced {largest} bytes");
    }

    #[tokio::test]
    async fn a_bomb_in_one_frame_is_refused_before_it_is_decompressed_whole() {
        let line = format!("{{\"index\":{{\"_index\":\"logs-1\"}}}}\n{{\"f\":\"{}\"}}\n", " ".repeat(50 << 20));
        let bomb = gzip(line.as_bytes());
        let settings = InspectSettings { max_line: 100 << 20, ..Default::default() };
        let hooks = Hooks { check: Arc::new(|_: &Classification| Ok(None)), log: SharedLog::default(), verdict: Verdict::default(), unseal: None };
        let mut c = Classification::scratch();
        c.api = "bulk";
        let limit = 1 << 20;
        let mut body = ItemsBody::new(ReqBody::Full(Some(bomb)), &c, BodyKind::Bulk, &settings, 0, hooks).decompressing(Decoder::for_encoding(Some("gzip")).unwrap(), limit);
        assert!(body.frame().await.unwrap().is_err());
        assert!(matches!(body.verdict.lock().unwrap().take(), Some(Failure::DecompressedTooLarge { .. })));
        assert!(body.decompressed <= limit + STEP_MAX as u64, "{} bytes decompressed before the refusal", body.decompressed);
    }

    #[test]
    fn merge_joins_adjacent_slices() {
        let chunk = Bytes::from_static(b"a\nbb\nccc\n");
        let lines = vec![chunk.slice(0..2), chunk.slice(2..5), chunk.slice(5..9)];
        assert_eq!(merge(&chunk, lines), vec![chunk.clone()]);
        let lines = vec![chunk.slice(0..2), chunk.slice(5..9)];
        assert_eq!(merge(&chunk, lines), vec![chunk.slice(0..2), chunk.slice(5..9)]);
        let other = Bytes::from_static(b"x\n");
        assert_eq!(merge(&chunk, vec![other.clone(), chunk.slice(2..5)]), vec![other, chunk.slice(2..5)]);
    }
}
