//! Sealed continuation ids on the wire (see `authz::seal`): the node's ids are sealed in the
//! response on the way out, and opened back into the node's ids in the request target and
//! body on the way in, so the node only ever sees its own ids and the client only Sluice's.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::header;
use http_body::{Body, Frame};

use super::capture::{id_spans, WINDOW};
use crate::authz::seal::Sealer;
use crate::authz::Authorizer;
use crate::body::{BodyError, ReqBody, ResBody};
use crate::classify::Classification;

/// A response whose continuation ids are replaced by sealed ones: the first `WINDOW` bytes
/// (or the whole response, when shorter) are held, sealed, then everything streams on.
pub struct Seal {
    inner: ResBody,
    held: Vec<u8>,
    /// A frame that arrived after the held bytes (trailers), sent after them.
    stash: Option<Frame<Bytes>>,
    streaming: bool,
    authz: Arc<Authorizer>,
    owner: String,
    grants: Vec<String>,
    now_ms: i64,
}

impl Seal {
    pub fn new(inner: ResBody, authz: Arc<Authorizer>, owner: String, grants: Vec<String>, now_ms: i64) -> Self {
        Self { inner, held: Vec::new(), stash: None, streaming: false, authz, owner, grants, now_ms }
    }

    fn release(&mut self) -> Frame<Bytes> {
        self.streaming = true;
        let held = std::mem::take(&mut self.held);
        let Some(sealer) = &self.authz.sealer else { return Frame::data(held.into()) };
        Frame::data(seal_ids(&held, |id| sealer.seal(&self.owner, &self.grants, id, self.now_ms)).into())
    }
}

/// `doc` with each continuation id replaced by `seal(id)`.
pub fn seal_ids(doc: &[u8], seal: impl Fn(&str) -> String) -> Vec<u8> {
    let mut out = Vec::with_capacity(doc.len() + 256);
    let mut last = 0;
    for (start, end) in id_spans(doc) {
        let Ok(id) = std::str::from_utf8(&doc[start..end]) else { continue };
        out.extend_from_slice(&doc[last..start]);
        out.extend_from_slice(seal(id).as_bytes());
        last = end;
    }
    out.extend_from_slice(&doc[last..]);
    out
}

impl Body for Seal {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if let Some(f) = this.stash.take() {
            return Poll::Ready(Some(Ok(f)));
        }
        if this.streaming {
            return Pin::new(&mut this.inner).poll_frame(cx);
        }
        loop {
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(d) => {
                        this.held.extend_from_slice(&d);
                        if this.held.len() >= WINDOW {
                            return Poll::Ready(Some(Ok(this.release())));
                        }
                    }
                    Err(other) => {
                        this.stash = Some(other);
                        return Poll::Ready(Some(Ok(this.release())));
                    }
                },
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => {
                    this.streaming = true;
                    if this.held.is_empty() {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Ok(this.release())));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.held.is_empty() && self.stash.is_none() && self.inner.is_end_stream()
    }
}

/// The request as the node must see it: each sealed id in the target (path and query) and in
/// the buffered body replaced by the node's own. Ids that do not open are left as they are
/// (the decision already refused them, or shadow mode forwards them).
#[cold]
#[inline(never)]
pub fn unseal(sealer: &Sealer, c: &Classification, parts: &mut http::request::Parts, body: ReqBody, plain: &Bytes, now_ms: i64) -> ReqBody {
    let pairs = opened(sealer, c, now_ms);
    if pairs.is_empty() {
        return body;
    }
    if let Some(pq) = parts.uri.path_and_query() {
        let mut target = pq.as_str().to_string();
        for (sealed, id) in &pairs {
            target = target.replace(sealed, &percent_encode(id));
        }
        if target != pq.as_str() {
            if let Ok(uri) = http::Uri::builder().path_and_query(target).build() {
                parts.uri = uri;
            }
        }
    }
    let Some(text) = unseal_json(&pairs, plain) else { return body };
    // The body is forwarded as plain JSON, whatever encoding the client sent it in.
    parts.headers.remove(header::CONTENT_ENCODING);
    parts.headers.insert(header::CONTENT_LENGTH, http::HeaderValue::from(text.len()));
    ReqBody::Full(Some(text.into()))
}

/// `json` with each sealed id replaced by the node's (as a JSON string's content); `None`
/// when it holds none.
fn unseal_json(pairs: &[(&str, String)], json: &[u8]) -> Option<Vec<u8>> {
    if !pairs.iter().any(|(sealed, _)| memchr::memmem::find(json, sealed.as_bytes()).is_some()) {
        return None;
    }
    let mut text = json.to_vec();
    for (sealed, id) in pairs {
        let quoted = serde_json::to_string(id).unwrap_or_default();
        let escaped = quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or_default();
        text = replace_all(&text, sealed.as_bytes(), escaped.as_bytes());
    }
    Some(text)
}

/// The ids a classification uses that open, with the node's ids they stand for.
fn opened<'a>(sealer: &Sealer, c: &'a Classification, now_ms: i64) -> Vec<(&'a str, String)> {
    c.uses.iter().filter_map(|u| sealer.open(&u.id, now_ms).ok().map(|s| (u.id.as_str(), s.id))).collect()
}

/// Unseals the body lines of allowed msearch searches (a point in time in a search body).
pub fn item_unsealer(authz: Arc<Authorizer>, now_ms: i64) -> super::items::Unseal {
    Arc::new(move |c: &Classification, line: &[u8]| {
        let sealer = authz.sealer.as_ref()?;
        unseal_json(&opened(sealer, c, now_ms), line)
    })
}

fn replace_all(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut last = 0;
    for at in memchr::memmem::find_iter(hay, from) {
        out.extend_from_slice(&hay[last..at]);
        out.extend_from_slice(to);
        last = at + from.len();
    }
    out.extend_from_slice(&hay[last..]);
    out
}

/// Every byte but RFC 3986's unreserved ones percent-encoded: safe in a path segment and a
/// query value alike.
fn percent_encode(s: &str) -> String {
    crate::classify::path::encode(s, b"-._~")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_each_id_in_place() {
        let doc = br#"{"_scroll_id":"s1==","took":1,"hits":{"hits":[{"_source":{"id":"keep"}}]}}"#;
        let out = seal_ids(doc, |id| format!("<{id}>"));
        assert_eq!(String::from_utf8_lossy(&out), r#"{"_scroll_id":"<s1==>","took":1,"hits":{"hits":[{"_source":{"id":"keep"}}]}}"#);
        let pit = br#"{"id":"p/1+","_shards":{}}"#;
        assert_eq!(String::from_utf8_lossy(&seal_ids(pit, |id| format!("<{id}>"))), r#"{"id":"<p/1+>","_shards":{}}"#);
        assert_eq!(seal_ids(b"{}", |_| String::new()), b"{}");
    }

    #[test]
    fn encodes_and_replaces() {
        assert_eq!(percent_encode("a+b/c=="), "a%2Bb%2Fc%3D%3D");
        assert_eq!(percent_encode("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(replace_all(b"x T y T", b"T", b"id"), b"x id y id");
    }
}
