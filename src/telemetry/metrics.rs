//! Metrics in Prometheus text format, from atomics updated on the request path (no locks there).
//! Gauges that describe state (grants, nodes, queue depth) are read when `/metrics` is scraped.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::privilege::{ClusterPriv, IndexPriv};

/// How a request ended, as counted in `sluice_requests_total{outcome}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    Narrowed,
    Denied,
    ShadowDenied,
    Unauthenticated,
    Refused,
    Failed,
}

impl Outcome {
    pub const ALL: [Outcome; 7] =
        [Outcome::Allowed, Outcome::Narrowed, Outcome::Denied, Outcome::ShadowDenied, Outcome::Unauthenticated, Outcome::Refused, Outcome::Failed];
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Narrowed => "narrowed",
            Outcome::Denied => "denied",
            Outcome::ShadowDenied => "shadow_denied",
            Outcome::Unauthenticated => "unauthenticated",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// Upper bounds (seconds) of the upstream duration histogram.
pub const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
pub struct Histogram {
    counts: [AtomicU64; 13],
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, secs: f64) {
        let i = BUCKETS.iter().position(|b| secs <= *b).unwrap_or(BUCKETS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
    }
}

pub struct Metrics {
    pub requests: [AtomicU64; 7],
    /// allow/deny by the privilege decided: index privileges, then cluster privileges.
    index_decisions: Vec<[AtomicU64; 2]>,
    cluster_decisions: Vec<[AtomicU64; 2]>,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub open_connections: std::sync::Arc<AtomicI64>,
    /// One histogram per node, in the order of `upstream.nodes`.
    pub upstream: Vec<(String, Histogram)>,
}

impl Metrics {
    pub fn new(nodes: &[String]) -> Self {
        Self {
            requests: Default::default(),
            index_decisions: IndexPriv::ALL.iter().map(|_| Default::default()).collect(),
            cluster_decisions: ClusterPriv::ALL.iter().map(|_| Default::default()).collect(),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            open_connections: Default::default(),
            upstream: nodes.iter().map(|n| (n.clone(), Histogram::default())).collect(),
        }
    }

    pub fn request(&self, o: Outcome) {
        self.requests[o as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn decided_index(&self, p: IndexPriv, allowed: bool) {
        if let Some(i) = IndexPriv::ALL.iter().position(|x| *x == p) {
            self.index_decisions[i][usize::from(!allowed)].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn decided_cluster(&self, p: ClusterPriv, allowed: bool) {
        if let Some(i) = ClusterPriv::ALL.iter().position(|x| *x == p) {
            self.cluster_decisions[i][usize::from(!allowed)].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn upstream(&self, node: &str, secs: f64) {
        if let Some((_, h)) = self.upstream.iter().find(|(n, _)| n == node) {
            h.observe(secs);
        }
    }
}

/// A Prometheus text exposition being written.
#[derive(Default)]
pub struct Text(pub String);

impl Text {
    pub fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }
    pub fn line(&mut self, name: &str, labels: &[(&str, &str)], v: impl std::fmt::Display) {
        let _ = write!(self.0, "{name}");
        if !labels.is_empty() {
            let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))).collect();
            let _ = write!(self.0, "{{{}}}", l.join(","));
        }
        let _ = writeln!(self.0, " {v}");
    }
}

impl Metrics {
    /// The request-path series; state gauges are added by the admin listener.
    pub fn render(&self, t: &mut Text) {
        t.head("sluice_requests_total", "counter", "Requests by outcome.");
        for o in Outcome::ALL {
            t.line("sluice_requests_total", &[("outcome", o.as_str())], self.requests[o as usize].load(Ordering::Relaxed));
        }
        t.head("sluice_decisions_total", "counter", "Authorization decisions by privilege and result.");
        for (kind, list, names) in [
            ("index", &self.index_decisions, IndexPriv::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>()),
            ("cluster", &self.cluster_decisions, ClusterPriv::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>()),
        ] {
            for (i, c) in list.iter().enumerate() {
                for (j, result) in ["allow", "deny"].iter().enumerate() {
                    let v = c[j].load(Ordering::Relaxed);
                    if v > 0 {
                        t.line("sluice_decisions_total", &[("kind", kind), ("privilege", names[i]), ("result", result)], v);
                    }
                }
            }
        }
        t.head("sluice_request_bytes_total", "counter", "Request body bytes received from clients.");
        t.line("sluice_request_bytes_total", &[], self.bytes_in.load(Ordering::Relaxed));
        t.head("sluice_response_bytes_total", "counter", "Response body bytes sent to clients.");
        t.line("sluice_response_bytes_total", &[], self.bytes_out.load(Ordering::Relaxed));
        t.head("sluice_open_connections", "gauge", "Client connections open now.");
        t.line("sluice_open_connections", &[], self.open_connections.load(Ordering::Relaxed));
        t.head("sluice_upstream_request_duration_seconds", "histogram", "Time from sending a request to a node to its response head.");
        for (node, h) in &self.upstream {
            let mut cum = 0;
            for (i, b) in BUCKETS.iter().enumerate() {
                cum += h.counts[i].load(Ordering::Relaxed);
                t.line("sluice_upstream_request_duration_seconds_bucket", &[("node", node), ("le", &b.to_string())], cum);
            }
            cum += h.counts[BUCKETS.len()].load(Ordering::Relaxed);
            t.line("sluice_upstream_request_duration_seconds_bucket", &[("node", node), ("le", "+Inf")], cum);
            t.line("sluice_upstream_request_duration_seconds_sum", &[("node", node)], h.sum_us.load(Ordering::Relaxed) as f64 / 1e6);
            t.line("sluice_upstream_request_duration_seconds_count", &[("node", node)], cum);
        }
    }
}
