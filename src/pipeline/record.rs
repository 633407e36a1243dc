//! What the pipeline records about each request: the audit record it fills phase by phase,
//! and the metrics it counts (decisions by privilege, outcomes, per-item results).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use http::header::HeaderName;
use http::Request;

use super::respond::Failure;
use super::{items, Shared};
use crate::audit::Record;
use crate::body::ClientBody;
use crate::classify::Classification;
use crate::listener::ConnInfo;
use crate::telemetry::metrics::Outcome;

const X_OPAQUE_ID: HeaderName = HeaderName::from_static("x-opaque-id");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Where requests are recorded: the audit trail and the metrics.
#[derive(Clone)]
pub struct Observe {
    pub audit: Arc<crate::audit::Audit>,
    pub metrics: Arc<crate::telemetry::metrics::Metrics>,
}

/// What the phases learn about a request, for the audit record and the metrics.
pub(super) struct Ctx {
    pub rec: Option<Box<Record>>,
    pub outcome: Outcome,
    pub node: Option<Arc<str>>,
    /// Targets a denial named (for the audit record).
    pub denied: Vec<String>,
}

impl Ctx {
    pub fn rec(&mut self) -> Option<&mut Record> {
        self.rec.as_deref_mut()
    }
}

impl Shared {
    /// What the audit record and the metrics keep of a decision.
    pub(super) fn record_decision(&self, c: &Classification, d: Option<&Arc<crate::authz::Decision>>, started: Option<std::time::Instant>, ctx: &mut Ctx) {
        let allowed = d.is_some_and(|d| d.allowed);
        let m = &self.observe.metrics;
        match (c.cluster, c.targets.first()) {
            (Some(cp), _) => m.decided_cluster(cp, allowed),
            (None, Some(t)) => {
                if let Some(p) = t.privileges.first() {
                    m.decided_index(*p, allowed);
                }
            }
            _ => {}
        }
        let denied_names = std::mem::take(&mut ctx.denied);
        let Some(r) = ctx.rec.as_deref_mut() else { return };
        r.decision_us = started.map(|s| s.elapsed().as_micros() as u64);
        r.api = Some(c.api);
        r.cluster_privilege = c.cluster.map(|p| p.as_str());
        r.targets = c.targets.clone();
        if c.whole_ndjson() {
            let names = d.map_or(&denied_names, |d| &d.denied);
            let denied: Vec<serde_json::Value> = names.iter().map(|t| serde_json::json!({"target": t})).collect();
            r.items = Some(crate::audit::ItemsRecord { total: c.targets.len(), denied: denied.len(), denied_items: denied });
        }
        let snap = self.security.authz.snapshot();
        r.table_version = Some(snap.version);
        match d {
            Some(d) if d.allowed => {
                if r.decision.is_none() {
                    r.decision = Some(if d.narrowed.is_some() { "narrow" } else { "allow" });
                }
                r.grants = d.grants.iter().filter_map(|id| snap.by_id(id)).cloned().collect();
            }
            Some(d) => {
                r.decision.get_or_insert("shadow_deny");
                r.reason = d.reason.clone();
            }
            None => r.decision = Some("deny"),
        }
    }
}

pub(super) fn outcome_of(f: &Failure) -> Outcome {
    match f {
        Failure::Unauthenticated { .. } => Outcome::Unauthenticated,
        Failure::Forbidden { .. } => Outcome::Denied,
        Failure::NoNode | Failure::ConnectTimeout | Failure::ResponseTimeout | Failure::NodeFailed | Failure::TooManyConnections | Failure::Internal { .. } => Outcome::Failed,
        _ => Outcome::Refused,
    }
}

/// The start of a request's audit record: who connected, what they asked, their correlation ids.
pub(super) fn record_for(req: &Request<ClientBody>, conn: &ConnInfo, now: i64) -> Record {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut r = Record::new(NEXT.fetch_add(1, Ordering::Relaxed), now, req.method().clone(), req.uri().clone());
    r.source = Some(conn.peer);
    let h = req.headers();
    r.opaque_id = h.get(X_OPAQUE_ID).cloned();
    r.traceparent = h.get(TRACEPARENT).cloned();
    r
}

impl Shared {
    /// Per-item outcomes for the audit record.
    pub(super) fn record_items(&self, items: &items::SharedLog, ctx: &mut Ctx) {
        let Some(r) = ctx.rec() else { return };
        let Ok(l) = items.lock() else { return };
        let denied_items = l.denied.iter().map(|d| serde_json::json!({"position": d.pos, "op": d.op, "index": d.index, "id": d.id})).collect();
        r.items = Some(crate::audit::ItemsRecord { total: l.total, denied: l.denied.len(), denied_items });
    }
}
