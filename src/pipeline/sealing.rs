//! Sealed continuation ids on the wire (see `authz::seal`): the node's ids are sealed in the
//! response on the way out, and opened back into the node's ids in the request target and
//! body on the way in, so the node only ever sees its own ids and the client only Sluice's.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::header;
use http_body::{Body, Frame};

use super::ids::{Piece, Scanner, ID_HEADERS};
use crate::authn::Principal;
use crate::authz::seal::Sealer;
use crate::authz::Authorizer;
use crate::body::{BodyError, ReqBody, ResBody};
use crate::classify::Classification;

/// The grants an id found in a response is given (with the caller as its owner).
pub enum Grants {
    /// Those of the request.
    All(Vec<String>),
    /// Per answer of an msearch: those its search's point in time was bound to. An id in any
    /// other answer is left as it is.
    ByPos(Vec<(usize, Vec<String>)>),
}

impl Grants {
    fn at(&self, pos: Option<usize>) -> Option<&[String]> {
        match self {
            Grants::All(g) => Some(g),
            Grants::ByPos(by) => by.iter().find(|(at, _)| Some(*at) == pos).map(|(_, g)| g.as_slice()),
        }
    }
}

/// A response whose continuation ids are sealed for their owner as it streams (without a
/// secret: bound to the owner, and passed as they are). Only an id cut by a frame boundary
/// is held until its end.
pub struct Seal<S> {
    inner: ResBody,
    scanner: S,
    authz: Arc<Authorizer>,
    principal: Arc<Principal>,
    /// The principal as bindings name it (computed once, not per frame).
    owner: String,
    grants: Grants,
    now_ms: i64,
    /// A frame that arrived after held bytes were let go (trailers), sent after them.
    stash: Option<Frame<Bytes>>,
    /// The node's body has ended.
    ended: bool,
}

impl<S: Scanner> Seal<S> {
    pub fn new(inner: ResBody, scanner: S, authz: Arc<Authorizer>, principal: Arc<Principal>, grants: Grants, now_ms: i64) -> Self {
        let owner = crate::authz::bindings::owner(&principal);
        Self { inner, scanner, authz, principal, owner, grants, now_ms, stash: None, ended: false }
    }

    /// The bytes to send for `data`, or with `None` what the end of the body lets go.
    fn rewrite(&mut self, data: Option<&[u8]>) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.map_or(0, <[u8]>::len) + 256);
        let Self { scanner, authz, principal, owner, grants, now_ms, .. } = self;
        let mut put = |pos: Option<usize>, p: Piece<'_>| match p {
            Piece::Pass(b) => out.extend_from_slice(b),
            Piece::Id(raw) => match (grants.at(pos), std::str::from_utf8(raw), &authz.sealer) {
                (Some(g), Ok(id), Some(sealer)) => out.extend_from_slice(sealer.seal(owner, g, id, *now_ms).as_bytes()),
                (Some(g), Ok(id), None) => {
                    authz.bindings.bind(id, principal, g.to_vec());
                    out.extend_from_slice(raw);
                }
                _ => out.extend_from_slice(raw),
            },
        };
        match data {
            Some(d) => scanner.feed_at(d, &mut put),
            None => scanner.finish_at(&mut put),
        }
        out
    }
}

/// Seals the ids in the response's headers (text formats).
pub fn seal_headers(sealer: &Sealer, headers: &mut http::HeaderMap, owner: &str, grants: &[String], now_ms: i64) {
    for name in ID_HEADERS {
        let Some(id) = headers.get(name).and_then(|v| v.to_str().ok()) else { continue };
        if let Ok(v) = http::HeaderValue::from_str(&sealer.seal(owner, grants, id, now_ms)) {
            headers.insert(name, v);
        }
    }
}

impl<S: Scanner> Body for Seal<S> {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if let Some(f) = this.stash.take() {
            return Poll::Ready(Some(Ok(f)));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        loop {
            if this.scanner.done() {
                return Pin::new(&mut this.inner).poll_frame(cx);
            }
            let (out, stash) = match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(d) => (this.rewrite(Some(&d)), None),
                    Err(other) => (this.rewrite(None), Some(other)),
                },
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => {
                    this.ended = true;
                    let out = this.rewrite(None);
                    return Poll::Ready((!out.is_empty()).then(|| Ok(Frame::data(out.into()))));
                }
            };
            if !out.is_empty() {
                this.stash = stash;
                return Poll::Ready(Some(Ok(Frame::data(out.into()))));
            }
            if let Some(f) = stash {
                return Poll::Ready(Some(Ok(f)));
            }
            // Nothing to send yet: an id goes on in the next frame.
        }
    }

    fn is_end_stream(&self) -> bool {
        self.stash.is_none() && (self.ended || self.scanner.done() && self.inner.is_end_stream())
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
    fn encodes_and_replaces() {
        assert_eq!(percent_encode("a+b/c=="), "a%2Bb%2Fc%3D%3D");
        assert_eq!(percent_encode("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(replace_all(b"x T y T", b"T", b"id"), b"x id y id");
    }
}
