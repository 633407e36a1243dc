//! Header rules at the proxy hop: hop-by-hop headers (RFC 9110 §7.6.1) are removed in both
//! directions, everything else passes untouched; X-Forwarded-* are set on requests.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::listener::ConnInfo;

const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
];

const RUNAS: HeaderName = HeaderName::from_static("es-security-runas-user");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(name) || name == header::PROXY_AUTHENTICATE
}

/// Removes hop-by-hop headers, including those the Connection header names. Most requests
/// carry none: one pass over the names (no hashing) decides whether there is work to do.
pub fn strip_hop_by_hop(h: &mut HeaderMap) {
    if !h.keys().any(is_hop_by_hop) {
        return;
    }
    let named: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for n in named {
        h.remove(n);
    }
    for n in &HOP_BY_HOP {
        h.remove(n);
    }
    h.remove(header::PROXY_AUTHENTICATE);
}

/// Removes every credential and identity header the caller sent, then adds Sluice's own
/// service credentials (and run-as, naming the real user for the cluster's audit log).
pub fn to_node_identity(h: &mut HeaderMap, identity_headers: &[HeaderName], service: Option<&HeaderValue>, run_as: Option<&str>) {
    // Inserting replaces every value the caller sent under the name; a name the caller did
    // not send costs no removal (one pass over the few names, no hashing).
    if let Some(v) = service {
        h.insert(header::AUTHORIZATION, v.clone());
    } else {
        h.remove(header::AUTHORIZATION);
    }
    if h.keys().any(|k| *k == RUNAS || identity_headers.contains(k)) {
        h.remove(RUNAS);
        for n in identity_headers {
            h.remove(n);
        }
    }
    if let Some(user) = run_as.and_then(|u| HeaderValue::from_str(u).ok()) {
        h.insert(RUNAS, user);
    }
}

/// The size of a request head as the header limit counts it.
pub fn head_size(method: &http::Method, uri: &http::Uri, h: &HeaderMap) -> usize {
    let line = method.as_str().len() + uri.path_and_query().map_or(1, |p| p.as_str().len()) + 12;
    line + h.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum::<usize>()
}

/// Prepares a client's headers for the node: hop-by-hop removed, Expect answered here,
/// Host kept (or taken from an HTTP/2 authority), X-Forwarded-For appended, -Proto and -Host set.
pub fn to_node(h: &mut HeaderMap, uri: &http::Uri, conn: &ConnInfo) {
    strip_hop_by_hop(h);
    if h.contains_key(header::EXPECT) {
        h.remove(header::EXPECT);
    }
    let host = match h.get(header::HOST) {
        Some(v) => Some(v.clone()),
        None => {
            let authority = uri.authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok());
            if let Some(a) = &authority {
                h.insert(header::HOST, a.clone());
            }
            authority
        }
    };
    if let Some(host) = host {
        h.insert(X_FORWARDED_HOST, host);
    }
    let xff = match h.get(X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(prev) => {
            let ip = conn.peer_ip.to_str().unwrap_or("unknown");
            HeaderValue::from_str(&format!("{prev}, {ip}")).unwrap_or_else(|_| conn.peer_ip.clone())
        }
        None => conn.peer_ip.clone(),
    };
    h.insert(X_FORWARDED_FOR, xff);
    let proto = if conn.tls.is_some() { "https" } else { "http" };
    h.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> ConnInfo {
        ConnInfo::new("10.1.2.3:5555".parse().unwrap(), "127.0.0.1:1".parse().unwrap(), None)
    }

    #[test]
    fn hop_by_hop_removed_end_to_end_kept() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive, x-secret-hop"),
            ("keep-alive", "timeout=5"),
            ("x-secret-hop", "1"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("proxy-authorization", "Basic x"),
            ("x-opaque-id", "abc"),
            ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            ("expect", "100-continue"),
            ("host", "es.example:9220"),
            ("x-forwarded-for", "192.0.2.1"),
        ] {
            h.append(k, HeaderValue::from_static(v));
        }
        to_node(&mut h, &"/_search".parse().unwrap_or_default(), &conn());
        for gone in ["connection", "keep-alive", "x-secret-hop", "te", "transfer-encoding", "upgrade", "proxy-authorization", "expect"] {
            assert!(!h.contains_key(gone), "{gone} should be removed");
        }
        assert_eq!(h["x-opaque-id"], "abc");
        assert!(h.contains_key("traceparent"));
        assert_eq!(h["host"], "es.example:9220");
        assert_eq!(h["x-forwarded-host"], "es.example:9220");
        assert_eq!(h["x-forwarded-for"], "192.0.2.1, 10.1.2.3");
        assert_eq!(h["x-forwarded-proto"], "http");
    }

    #[test]
    fn caller_credentials_and_identity_never_reach_the_node() {
        let proxy_user = HeaderName::from_static("x-proxy-user");
        let service = HeaderValue::from_static("Basic c2x1aWNlOnB3");
        // (service credentials, run-as user, what the caller sent)
        type Case<'a> = (Option<&'a HeaderValue>, Option<&'static str>, &'static [(&'static str, &'static str)]);
        let cases: Vec<Case<'_>> = vec![
            (None, None, &[("authorization", "Bearer caller"), ("authorization", "Basic second"), ("x-opaque-id", "o")]),
            (None, None, &[("es-security-runas-user", "elastic"), ("x-proxy-user", "root"), ("x-opaque-id", "o")]),
            (Some(&service), None, &[("authorization", "Bearer caller"), ("authorization", "Basic second"), ("x-opaque-id", "o")]),
            (Some(&service), Some("alice"), &[("es-security-runas-user", "elastic"), ("x-opaque-id", "o")]),
            (Some(&service), None, &[("x-opaque-id", "o")]),
        ];
        for (service, run_as, sent) in cases {
            let mut h = HeaderMap::new();
            for (k, v) in sent {
                h.append(*k, HeaderValue::from_static(v));
            }
            to_node_identity(&mut h, std::slice::from_ref(&proxy_user), service, run_as);
            let auth: Vec<_> = h.get_all(header::AUTHORIZATION).iter().collect();
            assert_eq!(auth, service.iter().copied().collect::<Vec<_>>(), "{sent:?}");
            let runas: Vec<_> = h.get_all(RUNAS).iter().filter_map(|v| v.to_str().ok()).collect();
            assert_eq!(runas, run_as.iter().copied().collect::<Vec<_>>(), "{sent:?}");
            assert!(!h.contains_key(&proxy_user), "{sent:?}");
            assert_eq!(h["x-opaque-id"], "o");
        }
    }

    #[test]
    fn h2_authority_becomes_host() {
        let mut h = HeaderMap::new();
        let uri: http::Uri = "https://es.example:9220/_search".parse().unwrap_or_default();
        to_node(&mut h, &uri, &conn());
        assert_eq!(h["host"], "es.example:9220");
    }
}
