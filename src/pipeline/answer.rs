//! The node's answer on its way back: put back denied items, capture new continuation ids; or
//! why forwarding failed. The common case, a request with nothing to put back or capture,
//! does not come here: `process` returns the node's response as it is.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http::{header, Response};
use http_body_util::BodyExt;

use super::inspect::Verdict;
use super::record::Ctx;
use super::respond::Failure;
use super::{capture, header_str, items, msearch_ids, rewrite, sealing, Shared};
use super::ids::IdScanner;
use crate::authn::Principal;
use crate::body::ResBody;
use crate::classify::routes::BodyKind;
use crate::classify::Classification;
use crate::forward::ForwardError;
use crate::telemetry::metrics::Outcome;

/// What the request's phases left for its response.
pub(super) struct Shaping {
    /// The body was decided item by item while it streamed.
    pub per_item: Option<BodyKind>,
    /// The per-item (or per-doc) log, for multi-target requests.
    pub items: Option<items::SharedLog>,
    /// The response carries a continuation id to bind to the principal.
    pub binds: bool,
    pub decision: Arc<crate::authz::Decision>,
    pub principal: Arc<Principal>,
    /// The request's time (sealed ids expire from it).
    pub now: i64,
}

impl Shared {
    pub(super) fn shape(
        &self,
        mut parts: http::response::Parts,
        mut body: ResBody,
        s: Shaping,
        c: &Classification,
        ctx: &mut Ctx,
    ) -> Result<Response<ResBody>, Failure> {
        let denied = s.items.as_ref().is_some_and(|i| i.lock().map(|l| !l.denied.is_empty()).unwrap_or(false));
        let shape = match s.per_item {
            Some(kind) => Some(rewrite::Shape::of(kind)),
            None => denied.then_some(rewrite::Shape::Docs),
        };
        if let (Some(shape), Some(items)) = (shape, &s.items) {
            self.record_items(items, ctx);
            if denied {
                parts.headers.remove(header::CONTENT_LENGTH);
                // Denied items cannot be put back into a body Sluice cannot read.
                body = decoded(&mut parts, body).map_err(|_| Failure::NodeFailed)?;
                ctx.outcome = Outcome::Allowed;
                body = ResBody::Boxed(rewrite::Rewrite::new(body, shape, items).boxed_unsync());
            }
        }
        let pits = s.items.as_ref().and_then(|i| i.lock().ok().map(|l| l.pits.clone())).unwrap_or_default();
        if (s.binds || !pits.is_empty()) && parts.status.is_success() {
            if self.security.authz.sealer.is_some() || parts.headers.contains_key(header::CONTENT_ENCODING) {
                // The ids change length, or the body is decompressed: no Content-Length.
                parts.headers.remove(header::CONTENT_LENGTH);
            }
            // Ids are read from plain JSON (the node was asked for it, but may compress anyway);
            // in an encoding Sluice cannot read the body passes as it is, and its ids will be
            // refused.
            body = match decoded(&mut parts, body) {
                Ok(plain) => plain,
                Err(as_is) => return Ok(Response::from_parts(parts, as_is)),
            };
        }
        if !pits.is_empty() && parts.status.is_success() {
            // An msearch over points in time: its answers' `pit_id`s get their searches' bindings.
            let authz = self.security.authz.clone();
            let grants = pits.iter().map(|(pos, used)| (*pos, authz.bound_grants(used.iter().map(String::as_str), s.now))).collect();
            let body = sealing::Seal::new(body, msearch_ids::MsearchIds::new(), authz, s.principal, sealing::Grants::ByPos(grants), s.now);
            return Ok(Response::from_parts(parts, ResBody::Boxed(body.boxed_unsync())));
        }
        if s.binds && parts.status.is_success() {
            let grants = self.binding_grants(&s.decision, c, s.now);
            let authz = self.security.authz.clone();
            if let Some(sealer) = &authz.sealer {
                let owner = crate::authz::bindings::owner(&s.principal);
                sealing::seal_headers(sealer, &mut parts.headers, &owner, &grants, s.now);
                let body = sealing::Seal::new(body, IdScanner::new(), authz, s.principal, sealing::Grants::All(grants), s.now);
                return Ok(Response::from_parts(parts, ResBody::Boxed(body.boxed_unsync())));
            }
            capture::Capture::bind_headers(&authz, &parts.headers, &s.principal, &grants);
            let body = capture::Capture::new(body, authz, s.principal, grants);
            return Ok(Response::from_parts(parts, ResBody::Boxed(body.boxed_unsync())));
        }
        Ok(Response::from_parts(parts, body))
    }
}

/// The response body decompressed (its Content-Encoding removed); given back as it is, as
/// the error, in an encoding Sluice does not read.
fn decoded(parts: &mut http::response::Parts, body: ResBody) -> Result<ResBody, ResBody> {
    let enc = header_str(&parts.headers, header::CONTENT_ENCODING);
    match items::Decoder::for_encoding(enc) {
        Ok(None) => Ok(body),
        Ok(Some(decoder)) => {
            parts.headers.remove(header::CONTENT_ENCODING);
            Ok(ResBody::Boxed(rewrite::Inflate::new(body, decoder).boxed_unsync()))
        }
        Err(_) => Err(body),
    }
}

/// Why a request could not be forwarded, as the client is told: an item check that failed
/// the body, a body over the limit, or the node.
#[cold]
pub(super) fn failure(e: ForwardError, verdict: Option<Verdict>, exceeded: Option<Arc<AtomicBool>>, limit: u64) -> Failure {
    if let Some(f) = verdict.and_then(|v| v.lock().ok().and_then(|mut v| v.take())) {
        return f;
    }
    if exceeded.is_some_and(|e| e.load(Ordering::Acquire)) {
        return Failure::BodyTooLarge { limit };
    }
    match e {
        ForwardError::NoNode => Failure::NoNode,
        ForwardError::ConnectTimeout => Failure::ConnectTimeout,
        ForwardError::ResponseTimeout(_) => Failure::ResponseTimeout,
        ForwardError::Upstream(crate::forward::UpstreamError::Body(b)) if matches!(*b, crate::body::BodyError::Stalled(_)) => Failure::of_body(&b),
        ForwardError::Upstream(err) => {
            tracing::warn!(error = %err, "node failed during request");
            Failure::NodeFailed
        }
    }
}
