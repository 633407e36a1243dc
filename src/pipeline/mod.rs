//! The one ordered request path. Each request goes through these phases, in this order:
//! limits on the request head, authenticate, classify, decide, inspect bodies that carry
//! targets while they stream, forward (streaming both ways), audit. Each phase lives in its
//! own module; this file only calls them in order.
//!
//! Invariants: the path and query reach the node byte for byte as received, except a narrowed
//! read whose index expression is replaced; only bodies that must be inspected are held, and
//! only up to their limits (JSON bodies, `reject`-mode NDJSON); a request over the body limit
//! is answered 413 (before forwarding when its Content-Length says so, while streaming
//! otherwise). Multi-target decisions live in `multi`, audit and metrics bookkeeping in `record`.

pub mod audit_body;
mod answer;
pub mod capture;
pub mod ids;
pub mod msearch_ids;
pub mod headers;
pub mod inspect;
pub mod items;
mod local;
mod own_keys;
mod multi;
mod record;
pub mod rewrite;
pub mod sealing;

pub use record::Observe;
use multi::DocsOutcome;
use record::{outcome_of, record_for, Ctx};
pub mod respond;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use http::{header, Request, Response, Version};

use http_body_util::BodyExt;

use crate::authn::{AuthnError, Authenticator, Credentials, Principal};
use crate::telemetry::metrics::Outcome;
use crate::body::{ClientBody, Limited, ReqBody, ResBody};
use crate::classify::{self, BodyPlan, Classification};
use crate::clock::SharedClock;
use crate::forward::Pool;
use crate::listener::{ConnInfo, Handler};
use inspect::{InspectSettings, Verdict};
use respond::Failure;

/// Limits the pipeline enforces on each request.
#[derive(Clone, Debug)]
pub struct PipelineSettings {
    pub max_header_size: usize,
    pub max_body_size: u64,
    pub inspect: InspectSettings,
    /// Bulk and msearch items decided one by one while streaming (`per_item`), or the whole
    /// request refused when any item is denied (`reject`, which buffers the body).
    pub per_item: bool,
}

/// Who may call, and who Sluice is towards the cluster.
pub struct Security {
    pub authn: Arc<Authenticator>,
    /// A fixed principal for requests without credentials, when configured.
    pub anonymous: Option<Arc<Principal>>,
    /// The Authorization header Sluice sends to the nodes.
    pub service: Option<http::HeaderValue>,
    pub run_as: bool,
    pub authz: Arc<crate::authz::Authorizer>,
    /// Where API keys created through `_security/api_key` are persisted.
    pub store: Arc<crate::store::Store>,
}

#[derive(Clone)]
pub struct Pipeline {
    shared: Arc<Shared>,
}

struct Shared {
    pool: Arc<Pool>,
    settings: PipelineSettings,
    clock: SharedClock,
    security: Security,
    /// Identity headers callers may not pass on (the trusted proxy's headers).
    identity_headers: Vec<header::HeaderName>,
    observe: Observe,
}

impl Pipeline {
    pub fn new(pool: Arc<Pool>, settings: PipelineSettings, clock: SharedClock, security: Security, observe: Observe) -> Self {
        let mut identity_headers = Vec::new();
        if let Some(p) = &security.authn.settings.proxy {
            identity_headers.extend(header::HeaderName::from_bytes(p.user_header.as_bytes()).ok());
            if let Some(g) = &p.groups_header {
                identity_headers.extend(header::HeaderName::from_bytes(g.as_bytes()).ok());
            }
        }
        Self { shared: Arc::new(Shared { pool, settings, clock, security, identity_headers, observe }) }
    }
}

impl Handler for Pipeline {
    async fn handle(&self, req: Request<ClientBody>, conn: Arc<ConnInfo>) -> Response<ResBody> {
        let sh = &self.shared;
        let started = std::time::Instant::now();
        let now = sh.clock.now_ms();
        let rec = sh.observe.audit.enabled().then(|| Box::new(record_for(&req, &conn, now)));
        let mut ctx = Ctx { rec, outcome: Outcome::Failed, node: None, denied: Vec::new() };
        let res = match sh.process(req, &conn, now, &mut ctx).await {
            Ok(res) => res,
            Err(f) => {
                ctx.outcome = outcome_of(&f);
                if let Some(r) = ctx.rec() {
                    r.reason.get_or_insert_with(|| f.describe().1);
                }
                respond::error(f)
            }
        };
        sh.observe.metrics.request(ctx.outcome);
        if let Some(r) = ctx.rec.as_deref_mut() {
            r.status = res.status().as_u16();
            r.outcome = ctx.outcome;
            r.node = ctx.node.take();
        }
        let (parts, body) = res.into_parts();
        let body = audit_body::Metered::new(body, ctx.rec, started, sh.observe.clone());
        Response::from_parts(parts, ResBody::Boxed(body.boxed_unsync()))
    }
}

impl Shared {
    async fn process(&self, req: Request<ClientBody>, conn: &ConnInfo, now: i64, ctx: &mut Ctx) -> Result<Response<ResBody>, Failure> {
        let s = &self.settings;
        if headers::head_size(req.method(), req.uri(), req.headers()) > s.max_header_size {
            return Err(Failure::HeadersTooLarge { limit: s.max_header_size });
        }
        // RFC 9112 §3.2: which one the node would read is anyone's guess.
        if req.headers().get_all(header::HOST).iter().nth(1).is_some() {
            return Err(Failure::Refused(classify::Refusal::bad("the request has more than one Host header")));
        }
        let declared = declared_length(req.headers());
        if declared.is_some_and(|n| n > s.max_body_size) {
            return Err(Failure::BodyTooLarge { limit: s.max_body_size });
        }
        // Shared with the audit record rather than copied into it.
        let principal = self.authenticate(&req, conn, now, ctx).await?;
        if let Some(r) = ctx.rec() {
            r.principal = Some(principal.clone());
            r.bytes_in = declared;
        }
        let mut c = classify_head(&req, declared, now)?;
        let encoding = header_str(req.headers(), header::CONTENT_ENCODING).map(str::to_string);
        let per_item = match c.body {
            BodyPlan::Stream(kind) if s.per_item => Some(kind),
            BodyPlan::Stream(kind) => {
                // `reject` mode: the whole body is read, decompressed and every item decided
                // before anything reaches the node.
                c.body = BodyPlan::Buffer(kind);
                None
            }
            _ => None,
        };
        let (mut parts, body) = req.into_parts();
        headers::to_node(&mut parts.headers, &parts.uri, conn);
        let sec = &self.security;
        let run_as = sec.run_as.then_some(principal.user.as_str());
        headers::to_node_identity(&mut parts.headers, &self.identity_headers, sec.service.as_ref(), run_as);
        let (body, exceeded) = limit_body(body, declared, s.max_body_size);
        // Shared with the streaming item checks, which exist only for multi-target requests.
        let mut verdict: Option<Verdict> = None;
        let decide_now = |this: &Self, c: &Classification, parts: &mut http::request::Parts, ctx: &mut Ctx| {
            // Timed for the audit record only.
            let decided = ctx.rec.is_some().then(std::time::Instant::now);
            let decision = this.decide(&principal, c, parts, now, ctx);
            this.record_decision(c, decision.as_ref().ok(), decided, ctx);
            decision
        };
        let mut items: Option<items::SharedLog> = None;
        let (body, decision) = match per_item {
            Some(kind) => {
                // The request head is decided first, then each item as it streams.
                let decision = decide_now(self, &c, &mut parts, ctx)?;
                parts.headers.remove(header::CONTENT_LENGTH);
                // Denied items are put back into the response as it streams: it must come
                // uncompressed (a client asking for gzip gets identity, which HTTP allows).
                parts.headers.remove(header::ACCEPT_ENCODING);
                // A compressed body is decompressed as it streams and forwarded decompressed.
                let decoder = items::Decoder::for_encoding(encoding.as_deref()).map_err(|e| Failure::Refused(classify::Refusal::bad(e)))?;
                if decoder.is_some() {
                    parts.headers.remove(header::CONTENT_ENCODING);
                }
                let check = self.item_check(&principal, now);
                let (log, failure) = (items.insert(Default::default()), verdict.insert(Default::default()));
                let unseal = self.security.authz.sealer.is_some().then(|| sealing::item_unsealer(self.security.authz.clone(), now));
                let hooks = items::Hooks { check, log: log.clone(), verdict: failure.clone(), unseal };
                let body = items::ItemsBody::new(body, &c, kind, &s.inspect, now, hooks)
                    .decompressing(decoder, s.inspect.max_decompressed);
                match self.first_items(body, failure).await? {
                    Some(body) => (body, decision),
                    None => return Ok(self.answer_all_denied(rewrite::Shape::of(kind), log, ctx)),
                }
            }
            None => {
                let (mut body, plain) = self.inspect(&mut c, body, encoding.as_deref(), now, ctx).await?;
                let asked = local::Asked { path: parts.uri.path(), body: &plain, conn, now };
                if let Some(answer) = self.local(&c, &principal, asked, ctx) {
                    return answer;
                }
                if c.api.starts_with("security.") && classify::OWN_API_KEY_APIS.contains(&c.api) {
                    // Boxed: a rare path whose state stays out of every request's future.
                    let r = own_keys::Request { query: parts.uri.query(), body, plain, encoding: encoding.as_deref(), now };
                    return Box::pin(self.own_keys_request(&c, &principal, r, ctx)).await;
                }
                if s.per_item && matches!(c.api, "mget" | "mtermvectors") {
                    let log = items.insert(Default::default());
                    match self.per_doc(&mut c, &plain, &principal, now, log) {
                        Some(DocsOutcome::AllDenied) => return Ok(self.answer_all_denied(rewrite::Shape::Docs, log, ctx)),
                        Some(DocsOutcome::Filtered(b)) => {
                            // The filtered docs are forwarded as plain JSON, whatever the client sent.
                            parts.headers.insert(header::CONTENT_LENGTH, http::HeaderValue::from(b.len()));
                            parts.headers.remove(header::CONTENT_ENCODING);
                            parts.headers.remove(header::ACCEPT_ENCODING);
                            body = ReqBody::Full(Some(b));
                        }
                        None => {}
                    }
                }
                let decision = decide_now(self, &c, &mut parts, ctx)?;
                if let (Some(sealer), false) = (&self.security.authz.sealer, c.uses.is_empty()) {
                    body = sealing::unseal(sealer, &c, &mut parts, body, &plain, now);
                }
                (body, decision)
            }
        };
        let binds = c.creates.is_some() || !c.uses.is_empty();
        if binds {
            // The new continuation id is read from the response: it must come uncompressed.
            parts.headers.remove(header::ACCEPT_ENCODING);
        }
        let sent = std::time::Instant::now();
        let forwarded = self.pool.send(Box::new(to_node(parts, body))).await;
        let upstream = sent.elapsed();
        if let Some(r) = ctx.rec() {
            r.upstream_us = Some(upstream.as_micros() as u64);
        }
        match forwarded {
            Ok((res, node)) => {
                self.observe.metrics.upstream(&node, upstream.as_secs_f64());
                ctx.node = Some(node);
                let (mut parts, body) = res.into_parts();
                headers::strip_hop_by_hop(&mut parts.headers);
                let body = ResBody::Upstream(body);
                // Nothing to put back (every multi-target request has an item log) or capture.
                if items.is_none() && !binds {
                    return Ok(Response::from_parts(parts, body));
                }
                let shaping = answer::Shaping { per_item, items, binds, decision, principal, now };
                self.shape(parts, body, shaping, &c, ctx)
            }
            Err(e) => Err(answer::failure(e, verdict, exceeded, s.max_body_size)),
        }
    }

    /// Phase 4: whether live grants cover the request; narrows a broad read in place.
    fn decide(&self, p: &Principal, c: &Classification, parts: &mut http::request::Parts, now: i64, ctx: &mut Ctx) -> Result<Arc<crate::authz::Decision>, Failure> {
        let authz = &self.security.authz;
        let d = authz.authorize(p, c, parts.method.as_str(), now);
        let shadow = authz.mode == crate::authz::Mode::Shadow;
        if !d.allowed {
            let reason = d.reason.clone().unwrap_or_default();
            if shadow {
                tracing::info!(user = %p.user, api = c.api, %reason, "shadow mode: would deny");
                ctx.outcome = Outcome::ShadowDenied;
                if let Some(r) = ctx.rec() {
                    r.decision = Some("shadow_deny");
                    r.reason = Some(reason);
                }
                return Ok(d);
            }
            if ctx.rec.is_some() {
                ctx.denied = d.denied.clone();
            }
            return Err(Failure::Forbidden { reason });
        }
        ctx.outcome = if d.narrowed.is_some() && !shadow { Outcome::Narrowed } else { Outcome::Allowed };
        if let (Some(expr), false) = (&d.narrowed, shadow) {
            let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let rewritten = crate::authz::narrow::rewrite(parts.method.as_str(), target, c.route, c.api, expr, now)
                .and_then(|t| http::Uri::builder().path_and_query(t).build().ok());
            match rewritten {
                Some(uri) => {
                    if let Some(r) = ctx.rec() {
                        r.forwarded = Some(expr.clone());
                    }
                    parts.uri = uri;
                }
                None => {
                    let reason = format!("action [{}] is unauthorized for user [{}]: the index expression is broader than the user's grants", c.api, p.user);
                    return Err(Failure::Forbidden { reason });
                }
            }
        }
        Ok(d)
    }

    /// The grants a new continuation id is bound to: those that allowed the request, or, for a
    /// request continuing one, those its id was bound to.
    fn binding_grants(&self, d: &crate::authz::Decision, c: &Classification, now: i64) -> Vec<String> {
        if !d.grants.is_empty() {
            return d.grants.clone();
        }
        self.security.authz.bound_grants(c.uses.iter().map(|u| u.id.as_str()), now)
    }

    /// Phase 2: who is calling.
    async fn authenticate(&self, req: &Request<ClientBody>, conn: &ConnInfo, now: i64, ctx: &mut Ctx) -> Result<Arc<Principal>, Failure> {
        let sec = &self.security;
        let h = req.headers();
        let proxy = sec.authn.settings.proxy.as_ref();
        let creds = Credentials {
            authorization: h.get(header::AUTHORIZATION).map(|v| v.as_bytes()),
            proxy_user: proxy.and_then(|p| h.get(p.user_header.as_str())).and_then(|v| v.to_str().ok()),
            proxy_groups: proxy.and_then(|p| p.groups_header.as_deref()).and_then(|g| h.get(g)).and_then(|v| v.to_str().ok()),
            peer: Some(conn.peer.ip()),
            client_certs: conn.tls.as_ref().map_or(&[][..], |t| t.client_certs.as_slice()),
        };
        let jwks_seen = sec.authn.jwt.as_ref().map(|v| v.generation());
        let mut outcome = sec.authn.authenticate(&creds, now);
        if let (Err(e), Some(v), Some(seen)) = (&outcome.result, &sec.authn.jwt, jwks_seen) {
            // An unknown key id triggered a (rate-limited) JWKS refresh: wait for it, once.
            if e.detail() == crate::authn::jwt::UNKNOWN_KID && v.wait_newer(seen, std::time::Duration::from_secs(3)).await {
                outcome = sec.authn.authenticate(&creds, now);
            }
        }
        if outcome.ignored_proxy_header {
            tracing::warn!(peer = %conn.peer, "proxy identity header from an untrusted source ignored");
            if let Some(r) = ctx.rec() {
                r.ignored_proxy_header = true;
            }
        }
        match (outcome.result, &sec.anonymous) {
            (Ok(p), _) => Ok(p),
            (Err(AuthnError::Missing), Some(anonymous)) => Ok(anonymous.clone()),
            (Err(e), _) => {
                let path = req.uri().path();
                let reason = match &e {
                    AuthnError::Missing => format!("missing authentication credentials for REST request [{path}]"),
                    _ => format!("unable to authenticate with the provided credentials for REST request [{path}]"),
                };
                tracing::debug!(peer = %conn.peer, detail = e.detail(), "authentication failed");
                if let Some(r) = ctx.rec() {
                    r.authn_failure = Some(match e.scheme() {
                        Some(s) => format!("{}: {}", s.as_str(), e.detail()),
                        None => e.detail().to_string(),
                    });
                }
                Err(Failure::Unauthenticated { reason, challenges: sec.authn.challenges() })
            }
        }
    }

    /// Phase 5: adds the targets a body carries, or refuses it. Returns the body to forward.
    async fn inspect(
        &self,
        c: &mut Classification,
        body: ReqBody,
        encoding: Option<&str>,
        now: i64,
        ctx: &mut Ctx,
    ) -> Result<(ReqBody, bytes::Bytes), Failure> {
        let s = &self.settings.inspect;
        match c.body {
            BodyPlan::None => Ok((body, bytes::Bytes::new())),
            BodyPlan::Buffer(_) => {
                let limit = if c.whole_ndjson() { self.settings.max_body_size } else { s.max_buffered.min(self.settings.max_body_size) };
                let raw = inspect::buffer(body, limit).await?;
                let plain = inspect::decoded(&raw, encoding, s.max_decompressed)?;
                if c.whole_ndjson() {
                    inspect::check_lines(&plain, s.max_line)?;
                }
                classify::inspect_body(c, &plain, now).map_err(Failure::Refused)?;
                let hash = self.observe.audit.body_hash;
                if let Some(r) = ctx.rec() {
                    r.bytes_in = Some(raw.len() as u64);
                    if hash {
                        r.body_sha256 = Some(crate::authn::cache::sha256_hex(&raw));
                    }
                }
                Ok((ReqBody::Full(Some(raw)), plain))
            }
            // Streaming bodies go through `items::ItemsBody` (per item) or were turned into
            // `Buffer` (reject mode) by `process`.
            BodyPlan::Stream(_) => Err(Failure::Refused(classify::Refusal::bad("this body cannot be inspected"))),
        }
    }
}

/// Phase 3: the action and the targets named in the path and query string.
fn classify_head(req: &Request<ClientBody>, declared: Option<u64>, now: i64) -> Result<Classification, Failure> {
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let has_body = match declared {
        Some(n) => n > 0,
        None => !http_body::Body::is_end_stream(req.body()),
    };
    let head = classify::Head {
        method: req.method().as_str(),
        target,
        content_type: header_str(req.headers(), header::CONTENT_TYPE),
        content_encoding: header_str(req.headers(), header::CONTENT_ENCODING),
        has_body,
    };
    classify::classify(&head, now).map_err(Failure::Refused)
}

fn header_str(h: &http::HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn declared_length(h: &http::HeaderMap) -> Option<u64> {
    h.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Wraps the client's body with the byte limit unless its declared length already proves it
/// within the limit (the listener, or hyper for HTTP/2, reads exactly the declared length).
/// The flag tells a body that went over the limit from a node failure.
fn limit_body(body: ClientBody, declared: Option<u64>, limit: u64) -> (ReqBody, Option<Arc<AtomicBool>>) {
    if http_body::Body::is_end_stream(&body) && declared.is_none() {
        return (ReqBody::Empty, None);
    }
    if declared.is_some() {
        return (ReqBody::Client(body), None);
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
