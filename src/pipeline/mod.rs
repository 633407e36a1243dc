//! The one ordered request path. Each request goes through these phases, in this order:
//! limits on the request head, authenticate, classify, decide, inspect bodies that carry
//! targets while they stream, forward (streaming both ways), audit. Each phase lives in its
//! own module; this file only calls them in order.
//!
//! Invariants: the path and query reach the node byte for byte as received; a body is never
//! held whole; a request over the body limit is answered 413 (before forwarding when its
//! Content-Length says so, while streaming otherwise).

pub mod headers;
pub mod respond;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http::{header, Request, Response, Version};
use hyper::body::Incoming;

use crate::body::{Limited, ReqBody, ResBody};
use crate::forward::{ForwardError, Pool};
use crate::listener::{ConnInfo, Handler};
use respond::Failure;

/// Limits the pipeline enforces on each request.
#[derive(Clone, Debug)]
pub struct PipelineSettings {
    pub max_header_size: usize,
    pub max_body_size: u64,
}

#[derive(Clone)]
pub struct Pipeline {
    shared: Arc<Shared>,
}

struct Shared {
    pool: Arc<Pool>,
    settings: PipelineSettings,
}

impl Pipeline {
    pub fn new(pool: Arc<Pool>, settings: PipelineSettings) -> Self {
        Self { shared: Arc::new(Shared { pool, settings }) }
    }
}

impl Handler for Pipeline {
    async fn handle(&self, req: Request<Incoming>, conn: Arc<ConnInfo>) -> Response<ResBody> {
        match self.shared.process(req, &conn).await {
            Ok(res) => res,
            Err(f) => respond::error(f),
        }
    }
}

impl Shared {
    async fn process(&self, req: Request<Incoming>, conn: &ConnInfo) -> Result<Response<ResBody>, Failure> {
        let s = &self.settings;
        if headers::head_size(req.method(), req.uri(), req.headers()) > s.max_header_size {
            return Err(Failure::HeadersTooLarge { limit: s.max_header_size });
        }
        let declared = declared_length(req.headers());
        if declared.is_some_and(|n| n > s.max_body_size) {
            return Err(Failure::BodyTooLarge { limit: s.max_body_size });
        }
        let (mut parts, body) = req.into_parts();
        headers::to_node(&mut parts.headers, &parts.uri, conn);
        let (body, exceeded) = limit_body(body, declared, s.max_body_size);
        let upstream_req = to_node(parts, body);
        match self.pool.send(upstream_req).await {
            Ok((res, _node)) => {
                let (mut parts, body) = res.into_parts();
                headers::strip_hop_by_hop(&mut parts.headers);
                Ok(Response::from_parts(parts, ResBody::Upstream(body)))
            }
            Err(_) if exceeded.is_some_and(|e| e.load(Ordering::Acquire)) => {
                Err(Failure::BodyTooLarge { limit: s.max_body_size })
            }
            Err(e) => Err(match e {
                ForwardError::NoNode => Failure::NoNode,
                ForwardError::ConnectTimeout => Failure::ConnectTimeout,
                ForwardError::ResponseTimeout(_) => Failure::ResponseTimeout,
                ForwardError::Upstream(err) => {
                    tracing::warn!(error = %err, "node failed during request");
                    Failure::NodeFailed
                }
            }),
        }
    }
}

fn declared_length(h: &http::HeaderMap) -> Option<u64> {
    h.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Wraps the client's body with the byte limit unless its declared length already proves it
/// within the limit (hyper enforces Content-Length framing). The flag tells a body that went
/// over the limit from a node failure.
fn limit_body(body: Incoming, declared: Option<u64>, limit: u64) -> (ReqBody, Option<Arc<AtomicBool>>) {
    if http_body::Body::is_end_stream(&body) && declared.is_none() {
        return (ReqBody::Empty, None);
    }
    if declared.is_some() {
        return (ReqBody::Incoming(body), None);
    }
    let exceeded = Arc::new(AtomicBool::new(false));
    (ReqBody::Limited(Limited::new(body, limit, exceeded.clone())), Some(exceeded))
}

/// Builds the request for the node: same method, path and query bytes, end-to-end headers.
fn to_node(mut parts: http::request::Parts, body: ReqBody) -> Request<ReqBody> {
    if let Some(pq) = parts.uri.path_and_query() {
        if let Ok(uri) = http::Uri::builder().path_and_query(pq.clone()).build() {
            parts.uri = uri;
        }
    }
    parts.version = Version::HTTP_11;
    Request::from_parts(parts, body)
}
