//! The audit trail: one JSON line per request and per admin action, with ECS field names where
//! they exist (`@timestamp`, `event.*`, `user.*`, `source.*`, `http.*`, `url.*`, `trace.id`)
//! and Sluice's own under `sluice.*`. Never a credential, never a body (an optional SHA-256 of
//! buffered request bodies).
//!
//! The request path fills a `Record` and queues it; rendering and writing happen on the
//! writer thread (see `sink`).

pub mod sink;

use serde::Serialize;
use serde_json::{json, Value};

use crate::authn::Principal;
use crate::clock::rfc3339;
use crate::telemetry::metrics::Outcome;
pub use sink::{OnFull, Output, Sink, SinkSettings};

#[derive(Clone, Debug, Serialize)]
pub struct TargetRecord {
    pub name: String,
    pub privileges: Vec<&'static str>,
    pub source: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct GrantRecord {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub expires_at: String,
}

/// Per-item outcomes of a multi-target request (bulk, msearch, mget).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ItemsRecord {
    pub total: usize,
    pub denied: usize,
    /// The denied items: position, action and target.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub denied_items: Vec<Value>,
}

/// Everything known about one request when it ends.
#[derive(Clone, Debug)]
pub struct Record {
    pub request_id: String,
    pub at_ms: i64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub source_ip: Option<String>,
    pub source_port: Option<u16>,
    pub opaque_id: Option<String>,
    pub traceparent: Option<String>,
    pub principal: Option<Principal>,
    pub authn_failure: Option<String>,
    pub ignored_proxy_header: bool,
    pub api: Option<&'static str>,
    pub cluster_privilege: Option<&'static str>,
    pub targets: Vec<TargetRecord>,
    pub forwarded: Option<String>,
    pub decision: Option<&'static str>,
    pub reason: Option<String>,
    pub grants: Vec<GrantRecord>,
    pub items: Option<ItemsRecord>,
    pub table_version: Option<u64>,
    pub status: u16,
    pub bytes_in: Option<u64>,
    pub bytes_out: u64,
    pub duration_us: u64,
    pub decision_us: Option<u64>,
    pub upstream_us: Option<u64>,
    pub node: Option<String>,
    pub outcome: Outcome,
    pub body_sha256: Option<String>,
}

impl Record {
    pub fn new(request_id: String, at_ms: i64, method: &str, path: &str, query: Option<&str>) -> Self {
        Self {
            request_id,
            at_ms,
            method: method.to_string(),
            path: path.to_string(),
            query: query.map(str::to_string),
            source_ip: None,
            source_port: None,
            opaque_id: None,
            traceparent: None,
            principal: None,
            authn_failure: None,
            ignored_proxy_header: false,
            api: None,
            cluster_privilege: None,
            targets: Vec::new(),
            forwarded: None,
            decision: None,
            reason: None,
            grants: Vec::new(),
            items: None,
            table_version: None,
            status: 0,
            bytes_in: None,
            bytes_out: 0,
            duration_us: 0,
            decision_us: None,
            upstream_us: None,
            node: None,
            outcome: Outcome::Failed,
            body_sha256: None,
        }
    }

    /// The event as one JSON line (ECS names where they exist).
    pub fn to_json(&self) -> Vec<u8> {
        let success = matches!(self.outcome, Outcome::Allowed | Outcome::Narrowed | Outcome::ShadowDenied) && self.status < 400;
        let trace_id = self.traceparent.as_deref().and_then(|t| t.split('-').nth(1)).map(str::to_string);
        let mut v = json!({
            "@timestamp": rfc3339(self.at_ms),
            "event": {"kind": "event", "category": ["web"], "type": ["access"], "dataset": "sluice.audit",
                      "action": self.api.unwrap_or("unknown"), "outcome": if success { "success" } else { "failure" },
                      "reason": self.reason, "duration": self.duration_us * 1000},
            "http": {"request": {"id": self.request_id, "method": self.method, "body": {"bytes": self.bytes_in}},
                     "response": {"status_code": self.status, "body": {"bytes": self.bytes_out}}},
            "url": {"path": self.path, "query": self.query},
            "source": {"ip": self.source_ip, "port": self.source_port},
            "sluice": {
                "outcome": self.outcome.as_str(),
                "decision": self.decision,
                "api": self.api,
                "privileges": {"cluster": self.cluster_privilege},
                "targets": {"requested": self.targets, "forwarded": self.forwarded},
                "grants": self.grants,
                "table_version": self.table_version,
                "durations_us": {"total": self.duration_us, "decision": self.decision_us, "upstream": self.upstream_us},
                "node": self.node,
                "opaque_id": self.opaque_id,
                "traceparent": self.traceparent,
            },
        });
        if let Some(t) = trace_id {
            v["trace"] = json!({"id": t});
        }
        if let Some(p) = &self.principal {
            v["user"] = json!({"name": p.user, "roles": p.groups});
            v["sluice"]["authentication"] = json!({"scheme": p.scheme.as_str(), "api_key_id": if p.scheme == crate::authn::Scheme::ApiKey { p.credential_id.clone() } else { None }});
        }
        if let Some(f) = &self.authn_failure {
            v["sluice"]["authentication"] = json!({"failure": f});
        }
        if self.ignored_proxy_header {
            v["sluice"]["ignored_proxy_header"] = json!(true);
        }
        if let Some(i) = &self.items {
            v["sluice"]["items"] = json!(i);
        }
        if let Some(h) = &self.body_sha256 {
            v["sluice"]["body_sha256"] = json!(h);
        }
        strip_nulls(&mut v);
        serde_json::to_vec(&v).unwrap_or_default()
    }
}

/// Removes null fields so events stay small and readable.
fn strip_nulls(v: &mut Value) {
    if let Value::Object(m) = v {
        m.retain(|_, x| !x.is_null());
        for x in m.values_mut() {
            strip_nulls(x);
        }
        m.retain(|_, x| !matches!(x, Value::Object(o) if o.is_empty()));
    }
}

/// An admin action (grant pushes, upserts, revocations, API keys), as an audit line.
pub fn admin_event(at_ms: i64, admin: &str, action: &str, outcome_ok: bool, detail: Value) -> Vec<u8> {
    let v = json!({
        "@timestamp": rfc3339(at_ms),
        "event": {"kind": "event", "category": ["configuration"], "type": ["change"], "dataset": "sluice.admin",
                  "action": action, "outcome": if outcome_ok { "success" } else { "failure" }},
        "user": {"name": admin},
        "sluice": {"admin": detail},
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

/// The audit trail, if configured.
pub struct Audit {
    pub sink: Option<Sink>,
    pub body_hash: bool,
}

impl Audit {
    pub fn off() -> Self {
        Self { sink: None, body_hash: false }
    }
    pub fn enabled(&self) -> bool {
        self.sink.is_some()
    }
    pub fn record(&self, r: Record) {
        if let Some(s) = &self.sink {
            s.record(Box::new(r));
        }
    }
    pub fn admin(&self, at_ms: i64, admin: &str, action: &str, ok: bool, detail: Value) {
        if let Some(s) = &self.sink {
            s.send(admin_event(at_ms, admin, action, ok, detail));
        }
    }
    pub fn flush(&self) {
        if let Some(s) = &self.sink {
            s.flush();
        }
    }
}
