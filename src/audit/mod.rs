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
    /// Method, path and query as received (cheap clones; rendered on the writer thread).
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
    /// The targets as classified (rendered on the writer thread).
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

    /// Writes the event straight into `out` (no intermediate tree: this runs for every request).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let success = matches!(self.outcome, Outcome::Allowed | Outcome::Narrowed | Outcome::ShadowDenied) && self.status < 400;
        let mut j = json_out::J::new(out);
        j.open(None);
        j.timestamp("@timestamp", self.at_ms);
        j.open(Some("event"));
        j.raw("kind", "\"event\"");
        j.raw("category", "[\"web\"]");
        j.raw("type", "[\"access\"]");
        j.raw("dataset", "\"sluice.audit\"");
        j.str("action", self.api.unwrap_or("unknown"));
        j.str("outcome", if success { "success" } else { "failure" });
        j.opt_str("reason", self.reason.as_deref());
        j.num("duration", self.duration_us * 1000);
        j.close();
        j.open(Some("http"));
        j.open(Some("request"));
        j.request_id("id", self.at_ms, self.seq);
        j.str("method", self.method.as_str());
        if let Some(b) = self.bytes_in {
            j.open(Some("body"));
            j.num("bytes", b);
            j.close();
        }
        j.close();
        j.open(Some("response"));
        j.num("status_code", u64::from(self.status));
        j.open(Some("body"));
        j.num("bytes", self.bytes_out);
        j.close();
        j.close();
        j.close();
        j.open(Some("url"));
        j.str("path", self.uri.path());
        j.opt_str("query", self.uri.query());
        j.close();
        if let Some(a) = &self.source {
            j.open(Some("source"));
            j.ip("ip", a.ip());
            j.num("port", u64::from(a.port()));
            j.close();
        }
        let header = |h: &Option<http::HeaderValue>| h.as_ref().and_then(|v| v.to_str().ok()).map(|s| s.chars().take(256).collect::<String>());
        let (opaque_id, traceparent) = (header(&self.opaque_id), header(&self.traceparent));
        if let Some(t) = traceparent.as_deref().and_then(|t| t.split('-').nth(1)) {
            j.open(Some("trace"));
            j.str("id", t);
            j.close();
        }
        if let Some(p) = &self.principal {
            j.open(Some("user"));
            j.str("name", &p.user);
            j.open_array("roles");
            for g in &p.groups {
                j.item_str(g);
            }
            j.close_array();
            j.close();
        }
        j.open(Some("sluice"));
        j.str("outcome", self.outcome.as_str());
        j.opt_str("decision", self.decision);
        j.opt_str("api", self.api);
        if let Some(p) = &self.principal {
            j.open(Some("authentication"));
            j.str("scheme", p.scheme.as_str());
            if p.scheme == crate::authn::Scheme::ApiKey {
                j.opt_str("api_key_id", p.credential_id.as_deref());
            }
            j.close();
        } else if let Some(f) = &self.authn_failure {
            j.open(Some("authentication"));
            j.str("failure", f);
            j.close();
        }
        if self.ignored_proxy_header {
            j.raw("ignored_proxy_header", "true");
        }
        if let Some(cp) = self.cluster_privilege {
            j.open(Some("privileges"));
            j.str("cluster", cp);
            j.close();
        }
        j.open(Some("targets"));
        j.open_array("requested");
        for t in &self.targets {
            j.open(None);
            j.str("name", &t.index.render());
            j.open_array("privileges");
            for p in t.privileges {
                j.item_str(p.as_str());
            }
            j.close_array();
            j.str("source", &t.source);
            j.close();
        }
        j.close_array();
        j.opt_str("forwarded", self.forwarded.as_deref());
        j.close();
        j.open_array("grants");
        for g in &self.grants {
            j.open(None);
            j.str("id", &g.doc.id);
            j.opt_str("reason", g.doc.reason.as_deref());
            j.str("expires_at", &g.doc.expires_at);
            j.close();
        }
        j.close_array();
        if let Some(v) = self.table_version {
            j.num("table_version", v);
        }
        j.open(Some("durations_us"));
        j.num("total", self.duration_us);
        if let Some(d) = self.decision_us {
            j.num("decision", d);
        }
        if let Some(u) = self.upstream_us {
            j.num("upstream", u);
        }
        j.close();
        j.opt_str("node", self.node.as_deref());
        j.opt_str("opaque_id", opaque_id.as_deref());
        j.opt_str("traceparent", traceparent.as_deref());
        if let Some(i) = &self.items {
            j.raw("items", &serde_json::to_string(i).unwrap_or_default());
        }
        j.opt_str("body_sha256", self.body_sha256.as_deref());
        j.close();
        j.close();
    }
}

/// A minimal JSON writer for audit lines: objects, arrays, escaped strings, numbers.
mod json_out {
    pub struct J<'a> {
        out: &'a mut Vec<u8>,
        /// Per open object/array: whether nothing was written in it yet.
        first: Vec<bool>,
    }

    impl<'a> J<'a> {
        pub fn new(out: &'a mut Vec<u8>) -> Self {
            Self { out, first: Vec::with_capacity(8) }
        }
        fn comma(&mut self) {
            if let Some(f) = self.first.last_mut() {
                if !*f {
                    self.out.push(b',');
                }
                *f = false;
            }
        }
        fn string(&mut self, s: &str) {
            // Most values need no escaping: copied as they are.
            if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
                self.out.push(b'"');
                self.out.extend_from_slice(s.as_bytes());
                self.out.push(b'"');
            } else {
                let _ = serde_json::to_writer(&mut *self.out, s);
            }
        }
        /// Keys are fixed ASCII names: written without escaping.
        fn key(&mut self, k: &'static str) {
            self.comma();
            self.out.push(b'"');
            self.out.extend_from_slice(k.as_bytes());
            self.out.extend_from_slice(b"\":");
        }
        fn digits(&mut self, mut v: u64) {
            let mut buf = [0u8; 20];
            let mut i = buf.len();
            loop {
                i -= 1;
                buf[i] = b'0' + (v % 10) as u8;
                v /= 10;
                if v == 0 {
                    break;
                }
            }
            self.out.extend_from_slice(&buf[i..]);
        }
        fn hex(&mut self, mut v: u64) {
            let mut buf = [0u8; 16];
            let mut i = buf.len();
            loop {
                i -= 1;
                buf[i] = b"0123456789abcdef"[(v & 15) as usize];
                v >>= 4;
                if v == 0 {
                    break;
                }
            }
            self.out.extend_from_slice(&buf[i..]);
        }
        /// RFC 3339 in UTC to the second, formatted once per second.
        pub fn timestamp(&mut self, k: &'static str, at_ms: i64) {
            thread_local! {
                static LAST: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
            }
            self.key(k);
            let secs = at_ms.div_euclid(1000);
            LAST.with_borrow_mut(|(at, text)| {
                if *at != secs {
                    *text = crate::clock::rfc3339(at_ms);
                    *at = secs;
                }
                self.out.push(b'"');
                self.out.extend_from_slice(text.as_bytes());
                self.out.push(b'"');
            });
        }
        /// `<at_ms hex>-<seq hex>`.
        pub fn request_id(&mut self, k: &'static str, at_ms: i64, seq: u64) {
            self.key(k);
            self.out.push(b'"');
            self.hex(at_ms as u64);
            self.out.push(b'-');
            self.hex(seq);
            self.out.push(b'"');
        }
        pub fn ip(&mut self, k: &'static str, ip: std::net::IpAddr) {
            self.key(k);
            match ip {
                std::net::IpAddr::V4(v4) => {
                    self.out.push(b'"');
                    for (i, o) in v4.octets().into_iter().enumerate() {
                        if i > 0 {
                            self.out.push(b'.');
                        }
                        self.digits(u64::from(o));
                    }
                    self.out.push(b'"');
                }
                std::net::IpAddr::V6(v6) => self.string(&v6.to_string()),
            }
        }
        pub fn open(&mut self, key: Option<&'static str>) {
            match key {
                Some(k) => self.key(k),
                None => self.comma(),
            }
            self.out.push(b'{');
            self.first.push(true);
        }
        pub fn close(&mut self) {
            self.out.push(b'}');
            self.first.pop();
        }
        pub fn open_array(&mut self, key: &'static str) {
            self.key(key);
            self.out.push(b'[');
            self.first.push(true);
        }
        pub fn close_array(&mut self) {
            self.out.push(b']');
            self.first.pop();
        }
        pub fn str(&mut self, k: &'static str, v: &str) {
            self.key(k);
            self.string(v);
        }
        pub fn opt_str(&mut self, k: &'static str, v: Option<&str>) {
            if let Some(v) = v {
                self.str(k, v);
            }
        }
        pub fn num(&mut self, k: &'static str, v: u64) {
            self.key(k);
            self.digits(v);
        }
        /// A value already serialised as JSON.
        pub fn raw(&mut self, k: &'static str, json: &str) {
            self.key(k);
            self.out.extend_from_slice(json.as_bytes());
        }
        pub fn item_str(&mut self, v: &str) {
            self.comma();
            self.string(v);
        }
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
    pub fn record(&self, r: Box<Record>) {
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
