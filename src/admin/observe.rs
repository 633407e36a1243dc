//! `/metrics` (Prometheus text), `/ready`, and `PUT /_sluice/log_level`.

use std::sync::atomic::Ordering;

use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::{error, ok_json, AdminState};
use crate::authn::Scheme;
use crate::body::ResBody;
use crate::telemetry::metrics::Text;

/// Ready when a grant table is loaded and at least one node is reachable.
pub fn ready(state: &AdminState) -> Response<ResBody> {
    let nodes: Vec<Value> = state.pool.health().into_iter().map(|(node, healthy)| json!({ "node": node, "healthy": healthy })).collect();
    let snap = state.authz.snapshot();
    let any_node = state.pool.any_healthy();
    let ready = any_node && snap.loaded;
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({ "ready": ready, "grant_table_loaded": snap.loaded, "grant_table_version": snap.version, "nodes": nodes });
    crate::pipeline::respond::json(status, body.to_string())
}

pub fn metrics(state: &AdminState) -> Response<ResBody> {
    let mut t = Text::default();
    state.metrics.render(&mut t);
    let c = &state.authn.counters;
    t.head("sluice_authentication_failures_total", "counter", "Failed authentications by scheme (`none`: no credentials).");
    t.line("sluice_authentication_failures_total", &[("scheme", "none")], c.missing.load(Ordering::Relaxed));
    for s in Scheme::ALL {
        t.line("sluice_authentication_failures_total", &[("scheme", s.as_str())], c.failures(s));
    }
    t.head("sluice_untrusted_proxy_headers_total", "counter", "Proxy identity headers ignored because the source is not trusted.");
    t.line("sluice_untrusted_proxy_headers_total", &[], c.untrusted_proxy_header.load(Ordering::Relaxed));
    let a = &state.authz.counters;
    t.head("sluice_decision_cache_hits_total", "counter", "Decisions answered from the cache.");
    t.line("sluice_decision_cache_hits_total", &[], a.cache_hits.load(Ordering::Relaxed));
    t.head("sluice_decision_cache_misses_total", "counter", "Decisions computed.");
    t.line("sluice_decision_cache_misses_total", &[], a.cache_misses.load(Ordering::Relaxed));
    let now = state.clock.now_ms();
    let snap = state.authz.snapshot();
    let (live, _) = snap.status(now);
    let next_expiry = snap.next_expiry(now);
    t.head("sluice_grants_live", "gauge", "Grants live now.");
    t.line("sluice_grants_live", &[], live);
    t.head("sluice_grants_total", "gauge", "Grants in the table (live, pending and expired).");
    t.line("sluice_grants_total", &[], snap.grants.len());
    t.head("sluice_grants_next_expiry_timestamp_seconds", "gauge", "When the next live grant expires (Unix time; 0 when none).");
    t.line("sluice_grants_next_expiry_timestamp_seconds", &[], next_expiry.map_or(0.0, |e| e as f64 / 1000.0));
    t.head("sluice_grant_table_version", "gauge", "Version of the grant table in force (0: none loaded).");
    t.line("sluice_grant_table_version", &[], snap.version);
    t.head("sluice_node_up", "gauge", "1 when the node is not in back-off.");
    for (node, up) in state.pool.health() {
        t.line("sluice_node_up", &[("node", &node)], u8::from(up));
    }
    if let Some(s) = &state.audit.sink {
        let c = &s.counters;
        t.head("sluice_audit_queue_depth", "gauge", "Audit events queued, not yet written.");
        t.line("sluice_audit_queue_depth", &[], c.depth.load(Ordering::Relaxed).max(0));
        t.head("sluice_audit_events_written_total", "counter", "Audit events written.");
        t.line("sluice_audit_events_written_total", &[], c.written.load(Ordering::Relaxed));
        t.head("sluice_audit_events_dropped_total", "counter", "Audit events dropped because the queue was full (on_full = drop).");
        t.line("sluice_audit_events_dropped_total", &[], c.dropped.load(Ordering::Relaxed));
        t.head("sluice_audit_write_errors_total", "counter", "Audit lines that could not be written.");
        t.line("sluice_audit_write_errors_total", &[], c.write_errors.load(Ordering::Relaxed));
    }
    let mut res = Response::new(ResBody::full(t.0));
    res.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    res
}

pub fn log_level(state: &AdminState, admin: &str, body: &Value) -> Response<ResBody> {
    let Some(level) = body.get("level").and_then(Value::as_str) else {
        return error(StatusCode::BAD_REQUEST, "illegal_argument_exception", "body must be {\"level\": \"debug\"}");
    };
    match crate::telemetry::set_level(level) {
        Ok(()) => {
            state.audit.admin(state.clock.now_ms(), admin, "log_level.set", true, json!({"level": level}));
            ok_json(json!({"acknowledged": true, "level": level}))
        }
        Err(e) => error(StatusCode::BAD_REQUEST, "illegal_argument_exception", &e),
    }
}
