//! Forwarding a narrowed read: the path's index expression is replaced by what the caller may
//! see. A path without an index (`GET /_search`) gets one where the API takes it; the result
//! is classified again and must be the same API, or the request is not rewritten (and denied).

use crate::classify::routes::RouteDef;
use crate::classify::{self, path, Head};

/// Percent-encodes an index expression for a path segment.
fn encode(expr: &str) -> String {
    path::encode(expr, b"-_.*,:+")
}

/// The request target with the index expression replaced by `expr`, or `None` when the API
/// has no place for one.
pub fn rewrite(method: &str, target: &str, route: &RouteDef, api: &str, expr: &str, now_ms: i64) -> Option<String> {
    let route_path = route.path;
    let split = path::split(target).ok()?;
    let query = target.split_once('?').map(|(_, q)| q);
    let template: Vec<&str> = route_path.trim_start_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let enc = encode(expr);
    let mut candidates = Vec::new();
    let param = route.list_param().map(|p| format!("{{{p}}}"));
    match param.and_then(|p| template.iter().position(|s| *s == p)) {
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
            ("GET", "/logs-*/_search?q=x", "logs-app-*", Some("/logs-app-*/_search?q=x")),
            ("GET", "/_search", "a,b", Some("/a,b/_search")),
            ("GET", "/_cat/indices?v", "logs-*", Some("/_cat/indices/logs-*?v")),
            ("GET", "/_count", "*,-*", Some("/*,-*/_count")),
            // Index lists under another name than {index}.
            ("GET", "/_resolve/index/*?expand_wildcards=all", "logs-*", Some("/_resolve/index/logs-*?expand_wildcards=all")),
            ("GET", "/_data_stream/*/_stats", "logs-*", Some("/_data_stream/logs-*/_stats")),
            ("GET", "/_data_stream", "logs-*", Some("/_data_stream/logs-*")),
        ];
        for (m, t, expr, want) in cases {
            let head = Head { method: m, target: t, content_type: None, content_encoding: None, has_body: false };
            let c = classify::classify(&head, 0).unwrap();
            assert_eq!(rewrite(m, t, c.route, c.api, expr, 0).as_deref(), want, "{t}");
        }
    }
}
