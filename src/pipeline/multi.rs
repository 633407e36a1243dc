//! The multi-target phase of the pipeline: per-item decisions for `_bulk`/`_msearch` bodies
//! as they stream, per-doc decisions for `_mget`/`_mtermvectors`, and Sluice's own answer when
//! every item is denied.

use std::sync::Arc;

use http::Response;
use http_body_util::BodyExt;

use super::inspect::{Prepend, Verdict};
use super::record::Ctx;
use super::respond::{self, Failure};
use super::{items, rewrite, Shared};
use crate::authn::Principal;
use crate::body::{ReqBody, ResBody};
use crate::classify::{self, Classification};
use crate::telemetry::metrics::Outcome;

/// What deciding `_mget` docs one by one did to the body.
pub(super) enum DocsOutcome {
    AllDenied,
    Filtered(bytes::Bytes),
}


impl Shared {
    /// Decides one item of a bulk or msearch body.
    pub(super) fn item_check(&self, p: &Principal, now: i64) -> items::ItemCheck {
        let authz = self.security.authz.clone();
        let p = p.clone();
        let metrics = self.observe.metrics.clone();
        Arc::new(move |c: &Classification| {
            let d = authz.authorize(&p, c, "POST", now);
            if let Some(priv_) = c.targets.first().and_then(|t| t.privileges.first()) {
                metrics.decided_index(*priv_, d.allowed);
            }
            match (d.allowed, authz.mode) {
                (true, crate::authz::Mode::Enforce) => Ok(d.narrowed.clone()),
                (true, crate::authz::Mode::Shadow) => Ok(None),
                (false, crate::authz::Mode::Shadow) => {
                    tracing::info!(user = %p.user, api = c.api, reason = d.reason.as_deref().unwrap_or(""), "shadow mode: would deny an item");
                    Ok(None)
                }
                (false, crate::authz::Mode::Enforce) => Err(d.reason.clone().unwrap_or_default()),
            }
        })
    }

    /// Reads a per-item body until its first forwarded bytes: `None` when it ended with every
    /// item denied (Sluice answers without contacting the cluster).
    pub(super) async fn first_items(&self, mut body: items::ItemsBody, verdict: &Verdict) -> Result<Option<ReqBody>, Failure> {
        match body.frame().await {
            Some(Ok(first)) => Ok(Some(ReqBody::Boxed(Prepend::new(Some(first), body).boxed_unsync()))),
            Some(Err(_)) => Err(verdict.lock().ok().and_then(|mut v| v.take()).unwrap_or(Failure::ClientBody)),
            None => match body.counts() {
                (total, denied) if total > 0 && total == denied => Ok(None),
                _ => Ok(Some(ReqBody::Empty)),
            },
        }
    }

    /// `_mget` / `_mtermvectors` decided doc by doc: denied docs are taken out of the body (and
    /// put back into the response as error docs); `None` when nothing is denied or the body has
    /// no `docs` list (then the request is decided whole). `plain` is the body as the server
    /// reads it (decompressed).
    pub(super) fn per_doc(&self, c: &mut Classification, plain: &[u8], p: &Principal, now: i64, items: &items::SharedLog) -> Option<DocsOutcome> {
        let mut v: serde_json::Value = serde_json::from_slice(plain).ok()?;
        let docs = v.get_mut("docs")?.as_array_mut()?;
        let default = c.targets.iter().find(|t| t.source == "path:{index}").map(|t| t.index.render());
        let check = self.item_check(p, now);
        let mut kept = Vec::with_capacity(docs.len());
        let mut denied = Vec::new();
        for (pos, doc) in docs.drain(..).enumerate() {
            let name = doc.get("_index").and_then(|i| i.as_str()).map(str::to_string).or_else(|| default.clone());
            let Some(name) = name else {
                kept.push(doc);
                continue;
            };
            let mut one = Classification::scratch();
            one.api = c.api;
            one.route = c.route;
            let index = classify::expr::parse(&name, classify::Arity::One, now).ok()?.pop()?;
            one.targets.push(classify::Target { index, privileges: &[crate::privilege::IndexPriv::Read], source: "body:docs".into() });
            match check(&one) {
                Ok(_) => kept.push(doc),
                Err(reason) => {
                    let id = doc.get("_id").map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string));
                    denied.push(items::DeniedItem { pos, op: "get", index: name, id, reason });
                }
            }
        }
        let total = kept.len() + denied.len();
        let all_denied = kept.is_empty() && !denied.is_empty();
        *docs = kept;
        if denied.is_empty() {
            return None;
        }
        if let Ok(mut l) = items.lock() {
            l.total = total;
            l.denied = denied;
        }
        // The docs were decided one by one; the request itself needs only a live grant.
        c.targets.clear();
        if all_denied {
            return Some(DocsOutcome::AllDenied);
        }
        serde_json::to_vec(&v).ok().map(|b| DocsOutcome::Filtered(bytes::Bytes::from(b)))
    }

    /// Every item was denied: Sluice answers in the API's shape, without the cluster.
    pub(super) fn answer_all_denied(&self, shape: rewrite::Shape, items: &items::SharedLog, ctx: &mut Ctx) -> Response<ResBody> {
        self.record_items(items, ctx);
        ctx.outcome = Outcome::Denied;
        let denied = items.lock().map(|l| l.denied.clone()).unwrap_or_default();
        respond::json(http::StatusCode::OK, rewrite::all_denied(shape, &denied))
    }

}
