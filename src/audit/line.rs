//! Rendering a request's audit line: the JSON is written as fixed fragments (punctuation and
//! keys together) and values, straight into the queue, without serde, `fmt` or a tree. Every
//! object starts with a member that is always there, so optional members carry their comma.

use super::Record;
use crate::telemetry::metrics::Outcome;

struct W<'a>(&'a mut Vec<u8>);

impl W<'_> {
    fn lit(&mut self, s: &'static str) {
        self.0.extend_from_slice(s.as_bytes());
    }
    /// A JSON string; most values need no escaping and are copied as they are.
    fn str(&mut self, s: &str) {
        if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
            self.0.push(b'"');
            self.0.extend_from_slice(s.as_bytes());
            self.0.push(b'"');
        } else {
            let _ = serde_json::to_writer(&mut *self.0, s);
        }
    }
    fn opt_str(&mut self, key: &'static str, v: Option<&str>) {
        if let Some(v) = v {
            self.lit(key);
            self.str(v);
        }
    }
    /// `v` in base 10 or 16 (lower-case), most significant digit first.
    fn digits(&mut self, mut v: u64, radix: u64) {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b"0123456789abcdef"[(v % radix) as usize];
            v /= radix;
            if v == 0 {
                break;
            }
        }
        self.0.extend_from_slice(&buf[i..]);
    }
    fn num(&mut self, v: u64) {
        self.digits(v, 10);
    }
    fn hex(&mut self, v: u64) {
        self.digits(v, 16);
    }
    fn opt_num(&mut self, key: &'static str, v: Option<u64>) {
        if let Some(v) = v {
            self.lit(key);
            self.num(v);
        }
    }
    /// RFC 3339 in UTC to the second, quoted, formatted once per second per thread.
    fn timestamp(&mut self, at_ms: i64) {
        thread_local! {
            static LAST: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
        }
        let secs = at_ms.div_euclid(1000);
        LAST.with_borrow_mut(|(at, text)| {
            if *at != secs {
                *text = crate::clock::rfc3339(at_ms);
                *at = secs;
            }
            self.0.push(b'"');
            self.0.extend_from_slice(text.as_bytes());
            self.0.push(b'"');
        });
    }
    fn ip(&mut self, ip: std::net::IpAddr) {
        match ip {
            std::net::IpAddr::V4(v4) => {
                self.0.push(b'"');
                for (i, o) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        self.0.push(b'.');
                    }
                    self.num(u64::from(o));
                }
                self.0.push(b'"');
            }
            std::net::IpAddr::V6(v6) => self.str(&v6.to_string()),
        }
    }
    fn comma_after_first(&mut self, i: usize) {
        if i > 0 {
            self.0.push(b',');
        }
    }
}

impl Record {
    /// Writes the event as one JSON line (ECS names where they exist) into `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut w = W(out);
        let success = matches!(self.outcome, Outcome::Allowed | Outcome::Narrowed | Outcome::ShadowDenied) && self.status < 400;
        w.lit(r#"{"@timestamp":"#);
        w.timestamp(self.at_ms);
        w.lit(r#","event":{"kind":"event","category":["web"],"type":["access"],"dataset":"sluice.audit","action":"#);
        w.str(self.api.unwrap_or("unknown"));
        w.lit(if success { r#","outcome":"success""# } else { r#","outcome":"failure""# });
        w.opt_str(r#","reason":"#, self.reason.as_deref());
        w.lit(r#","duration":"#);
        w.num(self.duration_us.saturating_mul(1000));
        w.lit(r#"},"http":{"request":{"id":""#);
        w.hex(self.at_ms as u64);
        w.lit("-");
        w.hex(self.seq);
        w.lit(r#"","method":"#);
        w.str(self.method.as_str());
        if let Some(b) = self.bytes_in {
            w.lit(r#","body":{"bytes":"#);
            w.num(b);
            w.lit("}");
        }
        w.lit(r#"},"response":{"status_code":"#);
        w.num(u64::from(self.status));
        w.lit(r#","body":{"bytes":"#);
        w.num(self.bytes_out);
        w.lit(r#"}}},"url":{"path":"#);
        w.str(self.uri.path());
        w.opt_str(r#","query":"#, self.uri.query());
        w.lit("}");
        if let Some(a) = &self.source {
            w.lit(r#","source":{"ip":"#);
            w.ip(a.ip());
            w.lit(r#","port":"#);
            w.num(u64::from(a.port()));
            w.lit("}");
        }
        let header = |h: &Option<http::HeaderValue>, max: usize| h.as_ref().and_then(|v| v.to_str().ok()).map(|s| s.chars().take(max).collect::<String>());
        let (opaque_id, traceparent) = (header(&self.opaque_id, 256), header(&self.traceparent, 128));
        if let Some(t) = traceparent.as_deref().and_then(|t| t.split('-').nth(1)) {
            w.lit(r#","trace":{"id":"#);
            w.str(t);
            w.lit("}");
        }
        if let Some(p) = &self.principal {
            w.lit(r#","user":{"name":"#);
            w.str(&p.user);
            w.lit(r#","roles":["#);
            for (i, g) in p.groups.iter().enumerate() {
                w.comma_after_first(i);
                w.str(g);
            }
            w.lit("]}");
        }
        w.lit(r#","sluice":{"outcome":"#);
        w.str(self.outcome.as_str());
        w.opt_str(r#","decision":"#, self.decision);
        w.opt_str(r#","api":"#, self.api);
        if let Some(p) = &self.principal {
            w.lit(r#","authentication":{"scheme":"#);
            w.str(p.scheme.as_str());
            if p.scheme == crate::authn::Scheme::ApiKey {
                w.opt_str(r#","api_key_id":"#, p.credential_id.as_deref());
            }
            w.lit("}");
        } else if let Some(f) = &self.authn_failure {
            w.lit(r#","authentication":{"failure":"#);
            w.str(f);
            w.lit("}");
        }
        if self.ignored_proxy_header {
            w.lit(r#","ignored_proxy_header":true"#);
        }
        if let Some(cp) = self.cluster_privilege {
            w.lit(r#","privileges":{"cluster":"#);
            w.str(cp);
            w.lit("}");
        }
        w.lit(r#","targets":{"requested":["#);
        for (i, t) in self.targets.iter().enumerate() {
            w.comma_after_first(i);
            w.lit(r#"{"name":"#);
            let i = &t.index;
            if i.exclude || i.cluster.is_some() || i.selector.is_some() {
                w.str(&i.render());
            } else {
                w.str(&i.name);
            }
            w.lit(r#","privileges":["#);
            for (k, p) in t.privileges.iter().enumerate() {
                w.comma_after_first(k);
                w.str(p.as_str());
            }
            w.lit(r#"],"source":"#);
            w.str(&t.source);
            w.lit("}");
        }
        w.lit("]");
        w.opt_str(r#","forwarded":"#, self.forwarded.as_deref());
        w.lit(r#"},"grants":["#);
        for (i, g) in self.grants.iter().enumerate() {
            w.comma_after_first(i);
            w.lit(r#"{"id":"#);
            w.str(&g.doc.id);
            w.opt_str(r#","reason":"#, g.doc.reason.as_deref());
            w.lit(r#","expires_at":"#);
            w.str(&g.doc.expires_at);
            w.lit("}");
        }
        w.lit("]");
        w.opt_num(r#","table_version":"#, self.table_version);
        w.lit(r#","durations_us":{"total":"#);
        w.num(self.duration_us);
        w.opt_num(r#","decision":"#, self.decision_us);
        w.opt_num(r#","upstream":"#, self.upstream_us);
        w.lit("}");
        w.opt_str(r#","node":"#, self.node.as_deref());
        w.opt_str(r#","opaque_id":"#, opaque_id.as_deref());
        w.opt_str(r#","traceparent":"#, traceparent.as_deref());
        if let Some(i) = &self.items {
            w.lit(r#","items":"#);
            let _ = serde_json::to_writer(&mut *w.0, i);
        }
        w.opt_str(r#","body_sha256":"#, self.body_sha256.as_deref());
        w.lit("}}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn every_optional_member_renders_as_valid_json_with_its_comma() {
        let mut r = Record::new(7, 1_795_000_000_999, http::Method::POST, "/a/_bulk?refresh=true".parse().unwrap());
        let mut p = crate::authn::Principal::new("k", vec![], crate::authn::Scheme::ApiKey);
        p.credential_id = Some("key-1".into());
        r.principal = Some(Arc::new(p));
        r.ignored_proxy_header = true;
        r.cluster_privilege = Some("monitor");
        r.forwarded = Some("a".into());
        r.reason = Some("why".into());
        r.decision = Some("narrow");
        r.api = Some("bulk");
        r.items = Some(crate::audit::ItemsRecord { total: 2, denied: 1, denied_items: vec![serde_json::json!({"position": 1})] });
        r.table_version = Some(3);
        r.bytes_in = Some(10);
        r.decision_us = Some(1);
        r.upstream_us = Some(2);
        r.node = Some(Arc::from("http://n"));
        r.opaque_id = Some(http::HeaderValue::from_static("op"));
        r.traceparent = Some(http::HeaderValue::from_static("00-abc-def-01"));
        r.body_sha256 = Some("00ff".into());
        let v: serde_json::Value = serde_json::from_slice(&r.to_json()).unwrap();
        assert_eq!(v["url"]["query"], "refresh=true");
        assert_eq!(v["trace"]["id"], "abc");
        assert_eq!(v["user"]["roles"], serde_json::json!([]));
        let s = &v["sluice"];
        assert_eq!((s["authentication"]["api_key_id"].as_str(), s["ignored_proxy_header"].as_bool()), (Some("key-1"), Some(true)));
        assert_eq!((s["privileges"]["cluster"].as_str(), s["targets"]["forwarded"].as_str()), (Some("monitor"), Some("a")));
        assert_eq!((s["items"]["denied"].as_u64(), s["table_version"].as_u64()), (Some(1), Some(3)));
        assert_eq!(s["durations_us"], serde_json::json!({"total": 0, "decision": 1, "upstream": 2}));
        assert_eq!((s["opaque_id"].as_str(), s["body_sha256"].as_str(), s["node"].as_str()), (Some("op"), Some("00ff"), Some("http://n")));
        assert_eq!(v["event"]["reason"], "why");
        assert_eq!(v["http"]["request"]["body"]["bytes"], 10);
    }
}
