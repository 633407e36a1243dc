//! Reads continuation ids (`_scroll_id`, `id`, `pit_id`, `cursor`) from the start of a response
//! as it streams past, and binds them to the principal and grants that created them. The
//! response is forwarded unchanged; at most `WINDOW` bytes are looked at.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::authn::Principal;
use crate::authz::Authorizer;
use crate::body::{BodyError, ResBody};

/// How much of a response is looked at for continuation ids (and held to seal them).
pub(super) const WINDOW: usize = 64 * 1024;
const KEYS: &[&str] = &["\"_scroll_id\"", "\"pit_id\"", "\"id\"", "\"cursor\""];

pub struct Capture {
    inner: ResBody,
    seen: Vec<u8>,
    pending: Option<(Arc<Authorizer>, Arc<Principal>, Vec<String>)>,
}

impl Capture {
    pub fn new(inner: ResBody, authz: Arc<Authorizer>, principal: Arc<Principal>, grants: Vec<String>) -> Self {
        Self { inner, seen: Vec::new(), pending: Some((authz, principal, grants)) }
    }

    fn finish(&mut self) {
        let Some((authz, p, grants)) = self.pending.take() else { return };
        for id in ids(&self.seen) {
            authz.bindings.bind(&id, &p, grants.clone());
        }
        self.seen = Vec::new();
    }
}

/// The string values of the continuation keys in a (possibly truncated) JSON document.
pub fn ids(doc: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (start, end) in id_spans(doc) {
        if let Ok(id) = std::str::from_utf8(&doc[start..end]) {
            if !out.iter().any(|o| o == id) {
                out.push(id.to_string());
            }
        }
    }
    out
}

/// Where the values of the continuation keys sit in `doc` (byte ranges, in order, non-empty):
/// for each key its first occurrence as a key with a string value; `id` only as the first key
/// of the top-level object (point in time, async ids), never a field of a document.
pub fn id_spans(doc: &[u8]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for key in KEYS {
        for at in memchr::memmem::find_iter(doc, key.as_bytes()) {
            if *key == "\"id\"" && doc[..at].trim_ascii() != b"{" {
                break;
            }
            if let Some(span) = string_value(doc, at + key.len()) {
                out.push(span);
                break;
            }
        }
    }
    out.sort_unstable();
    out.dedup_by(|b, a| b.0 < a.1);
    out
}

/// The span of a non-empty string value after a key ending at `i` (`: "…"`).
fn string_value(doc: &[u8], mut i: usize) -> Option<(usize, usize)> {
    let skip = |i: &mut usize| {
        while doc.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i += 1;
        }
    };
    skip(&mut i);
    (doc.get(i) == Some(&b':')).then_some(())?;
    i += 1;
    skip(&mut i);
    (doc.get(i) == Some(&b'"')).then_some(())?;
    let start = i + 1;
    let len = memchr::memchr(b'"', doc.get(start..)?).filter(|n| *n > 0)?;
    Some((start, start + len))
}

impl Body for Capture {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &frame {
            Some(Ok(f)) => {
                if let (Some(d), true) = (f.data_ref(), this.pending.is_some()) {
                    let take = d.len().min(WINDOW.saturating_sub(this.seen.len()));
                    this.seen.extend_from_slice(&d[..take]);
                    if this.seen.len() >= WINDOW || this.inner.is_end_stream() {
                        this.finish();
                    }
                }
            }
            None => this.finish(),
            Some(Err(_)) => this.pending = None,
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ids() {
        assert_eq!(ids(br#"{"_scroll_id":"abc==","took":1,"hits":{"hits":[{"_id":"x"}]}}"#), vec!["abc=="]);
        assert_eq!(ids(br#"{"id" : "pit1"}"#), vec!["pit1"]);
        assert_eq!(ids(br#"{"pit_id":"p2","hits":{}}"#), vec!["p2"]);
        assert!(ids(br#"{"took":1}"#).is_empty());
        assert!(ids(br#"{"took":1,"hits":{"hits":[{"id":"doc"}]}}"#).is_empty(), "a document's id is not a continuation");
        assert!(ids(br#"{"_scroll_id":""}"#).is_empty());
        let sql = br#"{"columns":[{"name":"cursor","type":"keyword"}],"rows":[["a"]],"cursor":"c1"}"#;
        assert_eq!(ids(sql), vec!["c1"], "a value spelled like a key is passed over");
        assert_eq!(ids(br#" { "id":"async1","is_running":true}"#), vec!["async1"]);
        let doc = br#"{"pit_id" : "p2", "_scroll_id":"s1","cursor":"c"}"#;
        let spans: Vec<&[u8]> = id_spans(doc).into_iter().map(|(a, b)| &doc[a..b]).collect();
        assert_eq!(spans, [&b"p2"[..], b"s1", b"c"]);
    }
}
