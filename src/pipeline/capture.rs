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

const WINDOW: usize = 64 * 1024;
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
    let text = String::from_utf8_lossy(doc);
    let mut out = Vec::new();
    for key in KEYS {
        let Some(at) = text.find(key) else { continue };
        // `id` counts only as the leading top-level field (point in time, async ids), never
        // as a field of a document further down.
        if *key == "\"id\"" && !(at < 64 && text[..at].trim_end().ends_with('{')) {
            continue;
        }
        let rest = text[at + key.len()..].trim_start();
        let Some(rest) = rest.strip_prefix(':') else { continue };
        let Some(rest) = rest.trim_start().strip_prefix('"') else { continue };
        if let Some(end) = rest.find('"') {
            let id = &rest[..end];
            if !id.is_empty() && !out.iter().any(|o| o == id) {
                out.push(id.to_string());
            }
        }
    }
    out
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
    }
}
