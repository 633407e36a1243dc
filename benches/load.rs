//! Load bench: starts the fake node in-process and the release `sluice` binary, then reports
//! requests/s and p50/p99 latency through Sluice and direct for a small GET _search, a 2 KB
//! POST _search and a 5 MB POST _bulk; then streams a 1 GiB _bulk through Sluice and reports
//! Sluice's peak RSS (VmHWM).
//!
//!   cargo bench --bench load                      # 5 s per run
//!   BENCH_SECS=10 BENCH_GIB=1 cargo bench --bench load
//!   SLUICE_BIN=path/to/sluice cargo bench --bench load   # another build of Sluice
//!
//! For figures to publish, use ../shared/bench/run.sh (wrk, nginx and HAProxy in one run).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout, clippy::zombie_processes)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use support::client::{full, req, Sender};
use support::fake_node::{FakeNode, Options};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn start_sluice(node: &str) -> (Child, SocketAddr) {
    // SLUICE_BIN runs another build (tools/pgo-build.sh trains an instrumented one here).
    let bin = std::env::var("SLUICE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_sluice").to_string());
    let mut child = Command::new(bin)
        .args(["run", "--config", "benches/bench/sluice.toml", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .args(["--upstream", node, "--log-level", "warn,sluice::app=info"])
        .env("SLUICE_LOG_FORMAT", "json")
        .env("SLUICE_LISTEN_MAX_BODY_SIZE", "2GiB")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("sluice exited").unwrap();
        if line.contains("sluice serving") {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            let proxy = v["fields"]["proxy"].as_str().unwrap();
            let addr = proxy.trim_start_matches("Some(").trim_end_matches(')').parse().unwrap();
            std::thread::spawn(move || for _ in lines {});
            return (child, addr);
        }
    }
}

struct Workload {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    body: Bytes,
    conns: usize,
}

fn bulk_body(bytes: usize) -> Bytes {
    let mut out = String::with_capacity(bytes + 1024);
    let mut i = 0u64;
    while out.len() < bytes {
        out.push_str(&format!("{{\"index\":{{\"_index\":\"logs-2024.11\",\"_id\":\"{i}\"}}}}\n"));
        out.push_str(&format!(
            "{{\"@timestamp\":\"2024-11-01T00:00:{:02}Z\",\"message\":\"GET /api/orders/{i} 200 in {}ms\",\"service\":{{\"name\":\"checkout\"}},\"log\":{{\"level\":\"INFO\"}},\"host\":{{\"name\":\"web-{}\"}}}}\n",
            i % 60, i % 997, i % 16
        ));
        i += 1;
    }
    Bytes::from(out)
}

/// A Discover-style search of about 2 KB: many small keys and values, as dashboards send them.
fn search_body() -> Bytes {
    let hosts: Vec<serde_json::Value> = (0..14).map(|i| serde_json::json!({"term": {"host.name": format!("web-{i:03}.prod.internal")}})).collect();
    let body = serde_json::json!({
        "size": 50,
        "track_total_hits": 10000,
        "sort": [{"@timestamp": {"order": "desc", "unmapped_type": "boolean"}}],
        "_source": {"includes": ["@timestamp", "message", "log.level", "service.name", "host.name", "http.response.status_code", "url.path", "trace.id", "user.name", "event.duration"]},
        "query": {"bool": {
            "must": [{"query_string": {"query": "message:(timeout OR refused OR \"connection reset\")", "analyze_wildcard": true, "default_field": "*"}}],
            "filter": [
                {"range": {"@timestamp": {"gte": "2024-11-01T00:00:00.000Z", "lte": "2024-11-01T23:59:59.999Z", "format": "strict_date_optional_time"}}},
                {"terms": {"service.name": ["checkout", "payments", "search-api", "gateway"]}},
                {"term": {"event.dataset": "nginx.access"}}
            ],
            "must_not": [{"match_phrase": {"url.path": "/healthz"}}],
            "should": hosts
        }},
        "aggs": {
            "over_time": {"date_histogram": {"field": "@timestamp", "fixed_interval": "30m", "time_zone": "UTC", "min_doc_count": 1}},
            "by_status": {"terms": {"field": "http.response.status_code", "size": 10}},
            "by_service": {"terms": {"field": "service.name", "size": 20}, "aggs": {"p95_duration": {"percentiles": {"field": "event.duration", "percents": [50, 95, 99]}}}}
        },
        "highlight": {"pre_tags": ["<em>"], "post_tags": ["</em>"], "fields": {"*": {}}, "fragment_size": 2147483647}
    });
    Bytes::from(serde_json::to_vec(&body).unwrap())
}

async fn measure(addr: SocketAddr, w: &Workload, secs: u64) -> (f64, Duration, Duration) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..w.conns {
        let body = w.body.clone();
        let (method, path) = (w.method, w.path);
        tasks.push(tokio::spawn(async move {
            let mut c = Sender::h1(addr).await;
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let res = c.send(req(method, addr, path, full(body.clone()))).await;
                assert!(res.status().is_success(), "status {}", res.status());
                let _ = res.into_body().collect().await.unwrap();
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or_default();
    (all.len() as f64 / elapsed, pct(0.50), pct(0.99))
}

fn peak_rss_kib(child: &Child) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn stream_bulk(addr: SocketAddr, total: u64) -> (u16, f64) {
    let chunk = bulk_body(1 << 20);
    let n = total.div_ceil(chunk.len() as u64);
    let stream = futures_util::stream::iter((0..n).map(move |_| Ok::<_, std::io::Error>(Frame::data(chunk.clone()))));
    let body = StreamBody::new(stream).boxed();
    let started = Instant::now();
    let mut c = Sender::h1(addr).await;
    let res = c.send(req("POST", addr, "/logs-2024.11/_bulk", body)).await;
    let status = res.status().as_u16();
    let _ = res.into_body().collect().await;
    (status, started.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let secs = env_num("BENCH_SECS", 5);
    let gib = env_num("BENCH_GIB", 1);
    let node = Arc::new(FakeNode::start_with(Options { keep_body_bytes: Some(0), short_bulk: true, ..Options::default() }, None).await);
    let (mut sluice, proxy) = start_sluice(&node.url());
    let workloads = [
        Workload { name: "GET _search", method: "GET", path: "/logs-2024.11/_search?q=log.level:ERROR&size=10", body: Bytes::new(), conns: 64 },
        Workload { name: "POST _search 2 KB", method: "POST", path: "/logs-2024.11/_search", body: search_body(), conns: 64 },
        Workload { name: "POST _bulk 5 MB", method: "POST", path: "/logs-2024.11/_bulk", body: bulk_body(5 << 20), conns: 4 },
    ];
    println!("| workload | target | req/s | p50 | p99 |");
    println!("| --- | --- | --- | --- | --- |");
    for w in &workloads {
        for (target, addr) in [("direct", node.addr), ("sluice", proxy)] {
            let (rps, p50, p99) = measure(addr, w, secs).await;
            println!("| {} ({} conns) | {target} | {rps:.0} | {p50:.2?} | {p99:.2?} |", w.name, w.conns);
        }
    }
    let (status, took) = stream_bulk(proxy, gib << 30).await;
    let rss = peak_rss_kib(&sluice);
    println!();
    println!("{gib} GiB _bulk streamed through Sluice: status {status} in {took:.1} s; Sluice peak RSS {:.1} MiB", rss as f64 / 1024.0);
    // SIGTERM, not SIGKILL: Sluice drains and exits normally (an instrumented build writes
    // its profile at exit).
    let _ = Command::new("kill").args(["-TERM", &sluice.id().to_string()]).status();
    let _ = sluice.wait();
}
