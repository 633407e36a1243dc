//! Explain: a principal and a request in, the classification, the decision and the grants
//! that allowed it (or why none did) out. Used by `POST /_sluice/explain` and `sluice explain`.

use std::sync::Arc;

use serde_json::{json, Value};

use super::decide::decide;
use super::snapshot::Snapshot;
use crate::authn::{Principal, Scheme};
use crate::classify::{self, BodyPlan, Head};

/// The principal an explain request describes: `{"user": …, "groups": […], "api_key": …}`.
pub fn principal(v: &Value) -> Result<Principal, String> {
    let user = v.get("user").and_then(Value::as_str).filter(|u| !u.is_empty()).ok_or("principal.user is required")?;
    let groups = v.get("groups").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default();
    let mut p = Principal::new(user, groups, Scheme::Basic);
    if let Some(k) = v.get("api_key").and_then(Value::as_str) {
        p.scheme = Scheme::ApiKey;
        p.credential_id = Some(k.to_string());
    }
    Ok(p)
}

/// Explains one request against a snapshot at `now_ms`.
pub fn explain(snap: &Snapshot, p: &Principal, method: &str, target: &str, body: Option<&[u8]>, now_ms: i64) -> Value {
    let head = Head { method, target, content_type: Some("application/json"), content_encoding: None, has_body: body.is_some_and(|b| !b.is_empty()) };
    let mut c = match classify::classify(&head, now_ms) {
        Ok(c) => c,
        Err(r) => return json!({"classification": null, "decision": {"allowed": false, "status": r.status, "reason": r.reason}}),
    };
    if let (Some(b), BodyPlan::Buffer(_) | BodyPlan::Stream(_)) = (body, c.body) {
        if let Err(r) = classify::inspect_body(&mut c, b, now_ms) {
            return json!({"classification": c, "decision": {"allowed": false, "status": r.status, "reason": r.reason}});
        }
    }
    if classify::ANSWERED_BY_SLUICE.contains(&c.api) {
        let reason = "answered by Sluice for the caller, whatever the grants; never forwarded";
        return json!({"classification": c, "decision": {"allowed": true, "status": 200, "reason": reason, "answered_by": "sluice"}});
    }
    if classify::OWN_API_KEY_APIS.contains(&c.api) {
        // Answered with Sluice's own keys: what counts is `manage_own_api_key`, nothing else.
        c.cluster = Some(crate::privilege::ClusterPriv::ManageOwnApiKey);
        c.targets.clear();
    }
    if !snap.loaded {
        return json!({"classification": c, "decision": {"allowed": false, "status": 403, "reason": "no grant table is loaded"}});
    }
    let mine: Vec<&Arc<_>> = snap.for_principal(p);
    let d = decide(&mine, p, &c, method, now_ms);
    let considered: Vec<Value> = mine
        .iter()
        .map(|g| {
            let state = if g.live(now_ms) { "live" } else if g.not_before > now_ms { "not_yet_valid" } else { "expired" };
            json!({"id": g.doc.id, "state": state, "reason": g.doc.reason, "expires_at": g.doc.expires_at, "used": d.grants.contains(&g.doc.id)})
        })
        .collect();
    let status = if d.allowed { 200 } else { 403 };
    json!({
        "principal": p,
        "classification": c,
        "decision": {"allowed": d.allowed, "status": status, "reason": d.reason, "denied_targets": d.denied,
                     "narrowed_to": d.narrowed, "grants": d.grants},
        "grants_considered": considered,
        "table_version": snap.version,
    })
}
