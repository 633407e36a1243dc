//! One node: its address, idle connections and passive health.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::conn::Upstream;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

/// A node's address as written in `upstream.nodes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAddr {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
}

impl NodeAddr {
    pub fn parse(s: &str) -> Result<Self, String> {
        let uri: http::Uri = s.parse().map_err(|_| format!("`{s}` is not a URL like http://127.0.0.1:9200"))?;
        let scheme = match uri.scheme_str() {
            Some("http") => Scheme::Http,
            Some("https") => Scheme::Https,
            _ => return Err(format!("`{s}` must start with http:// or https://")),
        };
        let host = uri.host().filter(|h| !h.is_empty()).ok_or_else(|| format!("`{s}` has no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
            return Err(format!("`{s}`: a node URL cannot carry a path"));
        }
        Ok(Self { scheme, host, port: uri.port_u16().unwrap_or(9200) })
    }
}

impl std::fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.scheme == Scheme::Https { "https" } else { "http" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

pub struct Node {
    pub addr: NodeAddr,
    /// The node's URL, shared (metrics labels, audit records).
    pub name: std::sync::Arc<str>,
    /// Boxed: a connection moves from the pool to a response body and back without copying.
    #[allow(clippy::vec_box)]
    pub idle: Mutex<Vec<Box<Upstream>>>,
    /// Milliseconds since the pool's epoch before which the node is skipped.
    down_until: AtomicU64,
    failures: AtomicU32,
}

impl Node {
    pub fn new(addr: NodeAddr) -> Self {
        let name = addr.to_string().into();
        Self { addr, name, idle: Mutex::new(Vec::new()), down_until: AtomicU64::new(0), failures: AtomicU32::new(0) }
    }

    pub fn is_healthy(&self, now_ms: u64) -> bool {
        self.down_until.load(Ordering::Relaxed) <= now_ms
    }

    pub fn mark_down(&self, now_ms: u64, base: Duration, max: Duration) {
        let n = self.failures.fetch_add(1, Ordering::Relaxed).min(16);
        let backoff = base.saturating_mul(1u32 << n).min(max);
        self.down_until.store(now_ms + backoff.as_millis() as u64, Ordering::Relaxed);
    }

    pub fn mark_up(&self) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
            self.down_until.store(0, Ordering::Relaxed);
        }
    }

    pub fn take_idle(&self) -> Option<Box<Upstream>> {
        self.idle.lock().ok()?.pop()
    }

    pub fn put_idle(&self, conn: Box<Upstream>, max: usize) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < max {
                idle.push(conn);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_nodes() {
        let n = NodeAddr::parse("http://127.0.0.1:9200").ok();
        assert_eq!(n.map(|n| n.to_string()), Some("http://127.0.0.1:9200".to_string()));
        let n = NodeAddr::parse("https://es.local").ok();
        assert_eq!(n.map(|n| (n.scheme, n.port)), Some((Scheme::Https, 9200)));
        assert!(NodeAddr::parse("ftp://x:1").is_err());
        assert!(NodeAddr::parse("http://x:1/prefix").is_err());
        assert!(NodeAddr::parse("127.0.0.1:9200").is_err());
        let v6 = NodeAddr::parse("http://[::1]:9200").ok();
        assert_eq!(v6.map(|n| n.to_string()), Some("http://[::1]:9200".to_string()));
    }

    #[test]
    fn backoff_doubles_to_max() {
        let n = Node::new(NodeAddr { scheme: Scheme::Http, host: "h".into(), port: 1 });
        n.mark_down(0, Duration::from_secs(1), Duration::from_secs(3));
        assert!(!n.is_healthy(999) && n.is_healthy(1000));
        n.mark_down(0, Duration::from_secs(1), Duration::from_secs(3));
        assert!(!n.is_healthy(1999) && n.is_healthy(2000));
        n.mark_down(0, Duration::from_secs(1), Duration::from_secs(3));
        assert!(n.is_healthy(3000));
        n.mark_up();
        assert!(n.is_healthy(0));
    }
}
