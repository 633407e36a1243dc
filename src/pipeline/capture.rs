//! Reads continuation ids (`_scroll_id`, `id`, `pit_id`, `cursor` at the top level of the
//! JSON, or in headers, see `ids`) from a response as it streams past, and binds each to the principal and
//! grants that created it. The response is forwarded unchanged, frame by frame.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::ids::{IdScanner, Piece, ID_HEADERS};
use crate::authn::Principal;
use crate::authz::Authorizer;
use crate::body::{BodyError, ResBody};

pub struct Capture {
    inner: ResBody,
    scanner: IdScanner,
    authz: Arc<Authorizer>,
    principal: Arc<Principal>,
    grants: Vec<String>,
}

impl Capture {
    pub fn new(inner: ResBody, authz: Arc<Authorizer>, principal: Arc<Principal>, grants: Vec<String>) -> Self {
        Self { inner, scanner: IdScanner::new(), authz, principal, grants }
    }

    /// Binds the ids in the response's headers (text formats).
    pub fn bind_headers(authz: &Authorizer, headers: &http::HeaderMap, principal: &Principal, grants: &[String]) {
        for id in ID_HEADERS.iter().filter_map(|h| headers.get(*h)?.to_str().ok()) {
            authz.bindings.bind(id, principal, grants.to_vec());
        }
    }

    fn look(&mut self, data: &[u8]) {
        if self.scanner.done() {
            return;
        }
        let Self { scanner, authz, principal, grants, .. } = self;
        scanner.feed(data, &mut |p| {
            if let Piece::Id(id) = p {
                if let Ok(id) = std::str::from_utf8(id) {
                    authz.bindings.bind(id, principal, grants.clone());
                }
            }
        });
    }
}

impl Body for Capture {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let Some(d) = frame.as_ref().and_then(|f| f.as_ref().ok()).and_then(Frame::data_ref) {
            this.look(d);
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
