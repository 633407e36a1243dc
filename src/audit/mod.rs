//! The audit trail: one JSON line per request and per admin action, with ECS field names where
//! they exist (`@timestamp`, `event.*`, `user.*`, `source.*`, `http.*`, `url.*`, `trace.id`)
//! and Sluice's own under `sluice.*`. Never a credential, never a body (an optional SHA-256 of
//! buffered request bodies).
//!
//! The request path fills a `Record`; when the response ends the line is rendered (`line`) on
//! the request's thread and queued, and one writer thread writes the queue in batches (`sink`).

mod line;
pub mod sink;

use serde::Serialize;
use serde_json::{json, Value};

use crate::authn::Principal;
use crate::clock::rfc3339;
use crate::telemetry::metrics::Outcome;
pub use sink::{OnFull, Output, Sink, SinkSettings};

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
    /// A per-process sequence number; the request id is `<at_ms hex>-<seq hex>`.
    pub seq: u64,
    pub at_ms: i64,
    /// Method, path and query as received (cheap clones; rendered when the response ends).
    pub method: http::Method,
    pub uri: http::Uri,
    pub source: Option<std::net::SocketAddr>,
    pub opaque_id: Option<http::HeaderValue>,
    pub traceparent: Option<http::HeaderValue>,
    pub principal: Option<std::sync::Arc<Principal>>,
    pub authn_failure: Option<String>,
    pub ignored_proxy_header: bool,
    pub api: Option<&'static str>,
    pub cluster_privilege: Option<&'static str>,
    /// The targets as classified (rendered when the response ends).
    pub targets: Vec<crate::classify::Target>,
    pub forwarded: Option<String>,
    pub decision: Option<&'static str>,
    pub reason: Option<String>,
    /// The grants that allowed the request (id, reason and expiry are rendered from them).
    pub grants: Vec<std::sync::Arc<crate::authz::snapshot::CompiledGrant>>,
    pub items: Option<ItemsRecord>,
    pub table_version: Option<u64>,
    pub status: u16,
    pub bytes_in: Option<u64>,
    pub bytes_out: u64,
    pub duration_us: u64,
    pub decision_us: Option<u64>,
    pub upstream_us: Option<u64>,
    pub node: Option<std::sync::Arc<str>>,
    pub outcome: Outcome,
    pub body_sha256: Option<String>,
}

impl Record {
    pub fn new(seq: u64, at_ms: i64, method: http::Method, uri: http::Uri) -> Self {
        Self {
            seq,
            at_ms,
            method,
            uri,
            source: None,
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
        let mut out = Vec::with_capacity(1024);
        self.write_json(&mut out);
        out
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
    pub fn record(&self, r: &Record) {
        if let Some(s) = &self.sink {
            s.record(r);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_json_with_every_value_escaped_as_needed() {
        let uri: http::Uri = "/logs-%22x/_search?q=a%5C".parse().unwrap();
        let mut r = Record::new(0x2a, 1_795_000_000_123, http::Method::GET, uri);
        r.source = Some("[::1]:9".parse().unwrap());
        let mut p = Principal::new("al\"ice\\\n\u{1}é", vec!["ops".into(), "q\"a".into()], crate::authn::Scheme::Basic);
        p.credential_id = None;
        r.principal = Some(std::sync::Arc::new(p));
        r.reason = Some("tab\there".into());
        r.status = 200;
        r.bytes_out = u64::MAX;
        r.duration_us = 0;
        let second = {
            let mut s = r.clone();
            s.source = Some("10.0.255.1:65535".parse().unwrap());
            s.at_ms += 1000;
            s
        };
        for (rec, ip) in [(&r, "::1"), (&second, "10.0.255.1")] {
            let line = rec.to_json();
            let v: Value = serde_json::from_slice(&line).unwrap();
            assert_eq!(v["@timestamp"], rfc3339(rec.at_ms));
            assert_eq!(v["http"]["request"]["id"], format!("{:x}-{:x}", rec.at_ms, rec.seq));
            assert_eq!(v["source"]["ip"], ip);
            assert_eq!(v["user"]["name"], "al\"ice\\\n\u{1}é");
            assert_eq!(v["user"]["roles"], json!(["ops", "q\"a"]));
            assert_eq!(v["event"]["reason"], "tab\there");
            assert_eq!(v["http"]["response"]["body"]["bytes"], u64::MAX);
            assert_eq!(v["event"]["duration"], 0);
            assert_eq!(v["url"]["path"], "/logs-%22x/_search");
        }
    }
}
