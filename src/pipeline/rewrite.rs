//! Puts denied items back into a streaming _bulk or _msearch response at their original
//! positions (`items` / `responses`), and sets `"errors": true` on a bulk. A small JSON state
//! machine walks the bytes as they pass; nothing is buffered beyond one frame.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use serde_json::json;

use super::items::{DeniedItem, SharedLog};
use crate::body::{BodyError, ResBody};

/// Which response array carries the items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Bulk,
    Msearch,
    /// `_mget` / `_mtermvectors`: error docs in `docs`.
    Docs,
}

impl Shape {
    /// The response shape of an NDJSON multi-target API.
    pub fn of(kind: crate::classify::routes::BodyKind) -> Self {
        match kind {
            crate::classify::routes::BodyKind::Bulk => Shape::Bulk,
            _ => Shape::Msearch,
        }
    }
}

/// One denied item as Elasticsearch's security reports it in a multi-item response.
pub fn render(shape: Shape, d: &DeniedItem) -> String {
    let error = json!({"root_cause": [{"type": "security_exception", "reason": d.reason}], "type": "security_exception", "reason": d.reason});
    match shape {
        Shape::Bulk => json!({ d.op: {"_index": d.index, "_id": d.id, "status": 403, "error": error} }).to_string(),
        Shape::Msearch => json!({"error": error, "status": 403}).to_string(),
        Shape::Docs => json!({"_index": d.index, "_id": d.id, "error": error}).to_string(),
    }
}

/// The whole answer when every item was denied (the cluster is not contacted).
pub fn all_denied(shape: Shape, denied: &[DeniedItem]) -> String {
    let items: Vec<String> = denied.iter().map(|d| render(shape, d)).collect();
    match shape {
        Shape::Bulk => format!(r#"{{"took":0,"errors":true,"items":[{}]}}"#, items.join(",")),
        Shape::Msearch => format!(r#"{{"took":0,"responses":[{}]}}"#, items.join(",")),
        Shape::Docs => format!(r#"{{"docs":[{}]}}"#, items.join(",")),
    }
}

pub struct Rewrite {
    inner: ResBody,
    shape: Shape,
    denied: std::vec::IntoIter<DeniedItem>,
    next: Option<DeniedItem>,
    // JSON state
    depth: i32,
    in_string: bool,
    escape: bool,
    key: Vec<u8>,
    capturing: bool,
    last_key: Vec<u8>,
    /// Inside the items array (its depth).
    array: Option<i32>,
    /// Items emitted so far (node's and denied).
    out: usize,
    /// Bytes of `false` still to drop after writing `true`.
    skip: usize,
    expect_value: bool,
    finished: bool,
    /// `"errors": false` becomes true only when an item was denied.
    any_denied: bool,
}

impl Rewrite {
    pub fn new(inner: ResBody, shape: Shape, log: &SharedLog) -> Self {
        let mut denied = log.lock().map(|l| l.denied.clone()).unwrap_or_default();
        denied.sort_by_key(|d| d.pos);
        let mut it = denied.into_iter();
        let next = it.next();
        let any_denied = next.is_some();
        Self {
            any_denied,
            inner,
            shape,
            denied: it,
            next,
            depth: 0,
            in_string: false,
            escape: false,
            key: Vec::new(),
            capturing: false,
            last_key: Vec::new(),
            array: None,
            out: 0,
            skip: 0,
            expect_value: false,
            finished: false,
        }
    }

    fn array_key(&self) -> &'static [u8] {
        match self.shape {
            Shape::Bulk => b"items",
            Shape::Msearch => b"responses",
            Shape::Docs => b"docs",
        }
    }

    /// Denied items due at the current position, each followed by a comma.
    fn due(&mut self, out: &mut BytesMut) {
        while self.next.as_ref().is_some_and(|d| d.pos <= self.out) {
            if let Some(d) = self.next.take() {
                out.extend_from_slice(render(self.shape, &d).as_bytes());
                out.extend_from_slice(b",");
            }
            self.out += 1;
            self.next = self.denied.next();
        }
    }

    /// Every denied item left, at the end of the array.
    fn rest(&mut self, out: &mut BytesMut) {
        while let Some(d) = self.next.take() {
            if self.out > 0 {
                out.extend_from_slice(b",");
            }
            out.extend_from_slice(render(self.shape, &d).as_bytes());
            self.out += 1;
            self.next = self.denied.next();
        }
    }

    fn process(&mut self, data: &[u8]) -> Bytes {
        let mut out = BytesMut::with_capacity(data.len() + 256);
        for &b in data {
            if self.skip > 0 {
                self.skip -= 1;
                continue;
            }
            if self.in_string {
                out.extend_from_slice(&[b]);
                if self.escape {
                    self.escape = false;
                } else if b == b'\\' {
                    self.escape = true;
                } else if b == b'"' {
                    self.in_string = false;
                    if self.capturing {
                        self.capturing = false;
                        self.last_key = std::mem::take(&mut self.key);
                    }
                } else if self.capturing && self.key.len() < 32 {
                    self.key.push(b);
                }
                continue;
            }
            // An element of the items array starts here.
            if let Some(d) = self.array {
                if self.depth == d && !b.is_ascii_whitespace() && b != b',' && b != b']' {
                    self.due(&mut out);
                    self.out += 1;
                }
            }
            match b {
                b'"' => {
                    self.in_string = true;
                    // A key at the top level of the response object.
                    self.capturing = self.depth == 1 && !self.expect_value;
                    if self.capturing {
                        self.key.clear();
                    }
                    out.extend_from_slice(&[b]);
                    continue;
                }
                b':' if self.depth == 1 => self.expect_value = true,
                b',' if self.depth == 1 => self.expect_value = false,
                b'f' if self.any_denied && self.depth == 1 && self.expect_value && self.shape == Shape::Bulk && self.last_key == b"errors" => {
                    out.extend_from_slice(b"true");
                    self.skip = 4;
                    self.expect_value = false;
                    continue;
                }
                b'[' | b'{' => {
                    if b == b'[' && self.depth == 1 && self.expect_value && self.last_key == self.array_key() {
                        self.array = Some(2);
                    }
                    self.depth += 1;
                }
                b']' | b'}' => {
                    if b == b']' && self.array == Some(self.depth) {
                        self.rest(&mut out);
                        self.array = None;
                    }
                    self.depth -= 1;
                    if self.depth == 1 {
                        self.expect_value = false;
                    }
                }
                _ => {}
            }
            out.extend_from_slice(&[b]);
        }
        out.freeze()
    }
}

impl Body for Rewrite {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(d) => Poll::Ready(Some(Ok(Frame::data(this.process(&d))))),
                Err(f) => Poll::Ready(Some(Ok(f))),
            },
            Some(Err(e)) => Poll::Ready(Some(Err(e))),
            None => {
                this.finished = true;
                Poll::Ready(None)
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn denied(pos: usize) -> DeniedItem {
        DeniedItem { pos, op: "index", index: "secret".into(), id: Some(format!("{pos}")), reason: "no".into() }
    }

    fn run(shape: Shape, body: &str, d: Vec<DeniedItem>, split: usize) -> serde_json::Value {
        let log = Arc::new(Mutex::new(super::super::items::ItemLog { total: 0, denied: d, ..Default::default() }));
        let mut r = Rewrite::new(ResBody::empty(), shape, &log);
        let mut out = Vec::new();
        for c in body.as_bytes().chunks(split) {
            out.extend_from_slice(&r.process(c));
        }
        serde_json::from_slice(&out).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)))
    }

    #[test]
    fn puts_denied_items_back_in_place() {
        let body = r#"{"took":3,"errors":false,"items":[{"index":{"_index":"a","_id":"x","status":201}},{"delete":{"_index":"b","_id":"]{\"","status":200}}]}"#;
        for split in [1, 3, 7, 1000] {
            let v = run(Shape::Bulk, body, vec![denied(0), denied(2), denied(4)], split);
            assert_eq!(v["errors"], true);
            let items = v["items"].as_array().unwrap();
            assert_eq!(items.len(), 5);
            for (i, want) in ["secret", "a", "secret", "b", "secret"].iter().enumerate() {
                let op = items[i].as_object().unwrap().values().next().unwrap();
                assert_eq!(op["_index"], *want, "split {split} item {i}");
            }
            assert_eq!(items[1]["index"]["_id"], "x");
            assert_eq!(items[3]["delete"]["_id"], "]{\"");
            assert_eq!(items[0]["index"]["status"], 403);
        }
        let v = run(Shape::Bulk, r#"{"took":1,"errors":false,"items":[]}"#, vec![denied(0), denied(1)], 5);
        assert_eq!(v["items"].as_array().unwrap().len(), 2);
        let v = run(Shape::Msearch, r#"{"took":1,"responses":[{"hits":{"total":1}},{"hits":{}}]}"#, vec![denied(1)], 4);
        let r = v["responses"].as_array().unwrap();
        assert_eq!((r.len(), r[1]["status"].as_u64()), (3, Some(403)));
        assert!(r[0]["hits"].is_object() && r[2]["hits"].is_object());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;
    use std::sync::{Arc, Mutex};

    proptest! {
        /// Whatever the split and wherever the denials, every item ends up at its position.
        #[test]
        fn items_land_in_place(node_items in 0usize..12, denied_mask in proptest::collection::vec(any::<bool>(), 0..24), split in 1usize..64) {
            let total = node_items + denied_mask.iter().filter(|d| **d).count();
            // Positions of denied items among `total`: take the first `denied` set bits in order.
            let mut denied = Vec::new();
            let mut left = node_items;
            let mut pos = 0;
            for d in &denied_mask {
                if *d {
                    denied.push(DeniedItem { pos, op: "index", index: "secret".into(), id: Some(format!("d{pos}")), reason: "no".into() });
                    pos += 1;
                } else if left > 0 {
                    left -= 1;
                    pos += 1;
                }
            }
            let items: Vec<String> = (0..node_items).map(|i| format!(r#"{{"index":{{"_index":"ok","_id":"n{i}","status":201,"x":"]}},["}}}}"#)).collect();
            let body = format!(r#"{{"took":1,"errors":false,"items":[{}]}}"#, items.join(","));
            let log = Arc::new(Mutex::new(super::super::items::ItemLog { total, denied: denied.clone(), ..Default::default() }));
            let mut r = Rewrite::new(ResBody::empty(), Shape::Bulk, &log);
            let mut out = Vec::new();
            for c in body.as_bytes().chunks(split) {
                out.extend_from_slice(&r.process(c));
            }
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            let got = v["items"].as_array().unwrap();
            prop_assert_eq!(got.len(), node_items + denied.len());
            for d in &denied {
                prop_assert_eq!(&got[d.pos]["index"]["_id"], &serde_json::json!(format!("d{}", d.pos)));
            }
            prop_assert_eq!(v["errors"].as_bool(), Some(!denied.is_empty()));
        }
    }
}

/// A node's compressed response, decompressed as it streams so denied items can be put back
/// into it. Sluice asks nodes for identity when it rewrites; this covers a node (or something
/// between) that compresses anyway.
pub struct Inflate {
    inner: ResBody,
    decoder: super::items::Decoder,
    done: bool,
}

impl Inflate {
    pub fn new(inner: ResBody, decoder: super::items::Decoder) -> Self {
        Self { inner, decoder, done: false }
    }
}

impl Body for Inflate {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        let broken = |_| BodyError::Other("the node's compressed response could not be decoded".into());
        while !this.done {
            if this.decoder.has_input() {
                match this.decoder.step() {
                    Ok(out) if out.is_empty() => continue,
                    Ok(out) => return Poll::Ready(Some(Ok(Frame::data(out)))),
                    Err(e) => return Poll::Ready(Some(Err(broken(e)))),
                }
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    // Trailers of the compressed stream are not carried over.
                    if let Ok(data) = frame.into_data() {
                        this.decoder.push(data);
                    }
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => {
                    this.done = true;
                    return match this.decoder.finish() {
                        Ok(out) if out.is_empty() => Poll::Ready(None),
                        Ok(out) => Poll::Ready(Some(Ok(Frame::data(out)))),
                        Err(e) => Poll::Ready(Some(Err(broken(e)))),
                    };
                }
            }
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}
