//! Forwarding a narrowed read: the path's index expression is replaced by what the caller may
//! see. A path without an index (`GET /_search`) gets one where the API takes it; the result
//! is classified again and must be the same API, or the request is not rewritten (and denied).

use crate::classify::{self, path, Head};

/// Percent-encodes an index expression for a path segment.
fn encode(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    for b in expr.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.*,:+".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The request target with the index expression replaced by `expr`, or `None` when the API
/// has no place for one.
pub fn rewrite(method: &str, target: &str, route_path: &str, api: &str, expr: &str, now_ms: i64) -> Option<String> {
    let split = path::split(target).ok()?;
    let query = target.split_once('?').map(|(_, q)| q);
    let template: Vec<&str> = route_path.trim_start_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let enc = encode(expr);
    let mut candidates = Vec::new();
    match template.iter().position(|s| *s == "{index}") {
        Some(i) if i < split.segments.len() => {
            let mut segs: Vec<&str> = split.segments.clone();
            segs[i] = &enc;
            candidates.push(segs.join("/"));
        }
        Some(_) => return None,
        None => {
            let segs = split.segments.join("/");
            candidates.push(if segs.is_empty() { enc.clone() } else { format!("{enc}/{segs}") });
            candidates.push(format!("{segs}/{enc}"));
        }
    }
    for path in candidates {
        let t = match query {
            Some(q) => format!("/{path}?{q}"),
            None => format!("/{path}"),
        };
        let head = Head { method, target: &t, content_type: None, content_encoding: None, has_body: false };
        if classify::classify(&head, now_ms).is_ok_and(|c| c.api == api) {
            return Some(t);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites() {
        let cases = [
            ("GET", "/logs-*/_search?q=x", "/{index}/_search", "search", "logs-app-*", Some("/logs-app-*/_search?q=x")),
            ("GET", "/_search", "/_search", "search", "a,b", Some("/a,b/_search")),
            ("GET", "/_cat/indices?v", "/_cat/indices", "cat.indices", "logs-*", Some("/_cat/indices/logs-*?v")),
            ("GET", "/_count", "/_count", "count", "*,-*", Some("/*,-*/_count")),
        ];
        for (m, t, route, api, expr, want) in cases {
            assert_eq!(rewrite(m, t, route, api, expr, 0).as_deref(), want, "{t}");
        }
    }
}
