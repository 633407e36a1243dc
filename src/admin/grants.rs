//! The grants API: `PUT/GET /_sluice/grants`, `PUT/DELETE /_sluice/grants/{id}`,
//! `GET /_sluice/grants/_status`, and `POST /_sluice/explain`.
//!
//! Every change is validated whole, persisted (write, fsync, rename), then swapped in, under one
//! lock; a push whose version is not greater than the current one is refused with 409.

use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::{error, ok_json, AdminState};
use crate::authz::table::{parse_table, validate_grant, validate_table, Grant, GrantDoc, TableDoc};
use crate::body::ResBody;
use crate::clock::rfc3339;

fn invalid(errors: Vec<String>) -> Response<ResBody> {
    let reason = format!("invalid grant table: {}", errors.join("; "));
    let mut body: Value = serde_json::from_str(&crate::pipeline::respond::error_body("action_request_validation_exception", &reason, 400)).unwrap_or_default();
    body["errors"] = json!(errors);
    crate::pipeline::respond::json(StatusCode::BAD_REQUEST, body.to_string())
}

/// Persists then installs a table; answers with what a caller needs to know.
fn commit(state: &AdminState, admin: &str, doc: TableDoc, grants: Option<Vec<Grant>>, what: &str, extra: Value) -> Response<ResBody> {
    let grants = match grants.map_or_else(|| validate_table(&doc), Ok) {
        Ok(g) => g,
        Err(e) => return invalid(e),
    };
    let before = state.authz.snapshot().version;
    let json = serde_json::to_value(&doc).unwrap_or_default();
    let now = state.clock.now_ms();
    let detail = |ok: bool| json!({"action": what, "version_before": before, "version_after": if ok { doc.version } else { before }, "grants": doc.grants.len(), "change": extra});
    if let Err(e) = state.store.update(|s| s.grants = Some(json)) {
        tracing::error!(error = %e, "cannot persist the grant table");
        state.audit.admin(now, admin, &format!("grants.{what}"), false, detail(false));
        return error(StatusCode::INTERNAL_SERVER_ERROR, "exception", "the grant table could not be persisted; nothing was applied");
    }
    if let Err(e) = state.authz.install(doc.version, &grants) {
        state.audit.admin(now, admin, &format!("grants.{what}"), false, detail(false));
        return error(StatusCode::BAD_REQUEST, "action_request_validation_exception", &e);
    }
    state.audit.admin(now, admin, &format!("grants.{what}"), true, detail(true));
    tracing::info!(admin, action = what, version_before = before, version_after = doc.version, grants = doc.grants.len(), "grant table changed");
    let mut out = json!({"acknowledged": true, "version": doc.version, "previous_version": before, "grants": doc.grants.len()});
    if let (Some(o), Some(e)) = (out.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    ok_json(out)
}

pub fn replace(state: &AdminState, admin: &str, body: &Value) -> Response<ResBody> {
    let _turn = state.authz.changes();
    let (doc, grants) = match parse_table(body) {
        Ok(v) => v,
        Err(e) => return invalid(e),
    };
    let current = state.authz.snapshot();
    if current.loaded && doc.version <= current.version {
        let d = json!({"action": "replace", "version_before": current.version, "version_after": current.version, "refused_version": doc.version});
        state.audit.admin(state.clock.now_ms(), admin, "grants.replace", false, d);
        let reason = format!("grant table version [{}] is not greater than the current version [{}]", doc.version, current.version);
        return error(StatusCode::CONFLICT, "version_conflict_engine_exception", &reason);
    }
    commit(state, admin, doc, Some(grants), "replace", json!({}))
}

pub fn upsert(state: &AdminState, admin: &str, id: &str, body: &Value) -> Response<ResBody> {
    let _turn = state.authz.changes();
    let mut body = body.clone();
    match body.get("id").and_then(Value::as_str) {
        Some(given) if given != id => return error(StatusCode::BAD_REQUEST, "illegal_argument_exception", "the grant id in the body differs from the path"),
        _ => body["id"] = json!(id),
    }
    let grant: GrantDoc = match serde_json::from_value(body) {
        Ok(g) => g,
        Err(e) => return invalid(vec![format!("invalid grant: {e}")]),
    };
    let mut errors = Vec::new();
    if validate_grant(&grant, &format!("grant ({id})"), &mut errors).is_none() {
        return invalid(errors);
    }
    let mut doc = state.authz.table();
    let result = match doc.grants.iter_mut().find(|g| g.id == id) {
        Some(g) => {
            *g = grant;
            "updated"
        }
        None => {
            doc.grants.push(grant);
            "created"
        }
    };
    let Some(next) = next_version(doc.version) else { return version_exhausted(doc.version) };
    doc.version = next;
    commit(state, admin, doc, None, "upsert", json!({"result": result, "_id": id}))
}

pub fn revoke(state: &AdminState, admin: &str, id: &str) -> Response<ResBody> {
    let _turn = state.authz.changes();
    let mut doc = state.authz.table();
    let before = doc.grants.len();
    doc.grants.retain(|g| g.id != id);
    if doc.grants.len() == before {
        return error(StatusCode::NOT_FOUND, "resource_not_found_exception", &format!("no grant with id [{id}]"));
    }
    // A revocation always applies: at the largest version, which no push can exceed, it keeps it.
    doc.version = next_version(doc.version).unwrap_or(doc.version);
    commit(state, admin, doc, None, "revoke", json!({"result": "deleted", "_id": id}))
}

/// The version after a one-grant change, unless the table is at the largest version.
fn next_version(v: u64) -> Option<u64> {
    (v < crate::authz::table::MAX_VERSION).then_some(v + 1)
}

fn version_exhausted(v: u64) -> Response<ResBody> {
    let reason = format!("grant table version [{v}] is the largest version: grants can only be revoked");
    error(StatusCode::CONFLICT, "version_conflict_engine_exception", &reason)
}

/// Lists grants, optionally only those of one subject (`?user=`, `?group=`, `?api_key=`).
pub fn list(state: &AdminState, query: Option<&str>) -> Response<ResBody> {
    let doc = state.authz.table();
    let filter: Vec<(String, String)> = query
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| crate::classify::path::decode(v, true).ok().map(|v| (k.to_string(), v.into_owned())))
        .collect();
    let grants: Vec<&GrantDoc> = doc
        .grants
        .iter()
        .filter(|g| filter.iter().all(|(k, v)| k != g.subject.kind() || g.subject.value() == v))
        .filter(|g| filter.iter().all(|(k, _)| !matches!(k.as_str(), "user" | "group" | "api_key") || k == g.subject.kind()))
        .collect();
    ok_json(json!({"version": doc.version, "grants": grants}))
}

/// One grant, with its state now (`pending`, `live` or `expired`); 404 if unknown.
pub fn get(state: &AdminState, id: &str) -> Response<ResBody> {
    let now = state.clock.now_ms();
    let snap = state.authz.snapshot();
    let Some(g) = snap.by_id(id) else {
        return error(StatusCode::NOT_FOUND, "resource_not_found_exception", &format!("no grant [{id}]"));
    };
    let at = if g.live(now) { "live" } else if g.not_before > now { "pending" } else { "expired" };
    ok_json(json!({"version": snap.version, "state": at, "grant": g.doc}))
}

pub fn status(state: &AdminState) -> Response<ResBody> {
    let now = state.clock.now_ms();
    let snap = state.authz.snapshot();
    let (live, next) = snap.status(now);
    let pending = snap.grants.iter().filter(|g| g.not_before > now).count();
    let next_expiry = snap.next_expiry(now);
    ok_json(json!({
        "loaded": snap.loaded,
        "version": snap.version,
        "grants": snap.grants.len(),
        "live": live,
        "pending": pending,
        "expired": snap.grants.len() - live - pending,
        "next_expiry": next_expiry.map(rfc3339),
        "next_change": next.map(rfc3339),
        "now": rfc3339(now),
    }))
}

pub fn explain(state: &AdminState, body: &Value) -> Response<ResBody> {
    let p = match crate::authz::explain::principal(body.get("principal").unwrap_or(&Value::Null)) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, "illegal_argument_exception", &e),
    };
    let req = body.get("request").unwrap_or(&Value::Null);
    let method = req.get("method").and_then(Value::as_str).unwrap_or("GET").to_ascii_uppercase();
    let Some(path) = req.get("path").and_then(Value::as_str) else {
        return error(StatusCode::BAD_REQUEST, "illegal_argument_exception", "request.path is required");
    };
    let body_bytes = match req.get("body") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone().into_bytes()),
        Some(v) => Some(v.to_string().into_bytes()),
    };
    let now = state.clock.now_ms();
    ok_json(crate::authz::explain::explain(&state.authz.snapshot(), &p, &method, path, body_bytes.as_deref(), now))
}
