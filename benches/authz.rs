//! Decision latency with large grant tables: p50/p99 of uncached and cached decisions with
//! 1,000 to 1,000,000 grants over a tenth as many principals (10 grants each), and the time to
//! apply a 100,000-grant push (validate, compile, swap) while decisions run on another thread.
//!
//! The callers are the same 100 principals at every table size (the users active at a moment;
//! a 1,000-grant table has only 100 principals), so the table size is the only thing that
//! changes: decision time must not grow with other principals' grants.
//!
//! Run: `cargo bench --bench authz`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use sluice::authn::{Principal, Scheme};
use sluice::authz::table::parse_table;
use sluice::authz::{Authorizer, Mode};
use sluice::classify::{classify, Head};

const NOW: i64 = 1_795_000_000_000;

fn table(version: u64, grants: usize) -> serde_json::Value {
    let principals = (grants / 10).max(1);
    let gs: Vec<_> = (0..grants)
        .map(|i| {
            let u = i % principals;
            json!({"id": format!("g{i}"), "subject": {"user": format!("user{u}")}, "cluster": ["monitor"],
                   "indices": [{"names": [format!("logs-{u}-{}-*", i / principals)], "privileges": ["read", "view_index_metadata"]}],
                   "expires_at": "2030-01-01T00:00:00Z"})
        })
        .collect();
    json!({"version": version, "grants": gs})
}

fn percentiles(mut v: Vec<u64>) -> (u64, u64) {
    v.sort_unstable();
    (v[v.len() / 2], v[v.len() * 99 / 100])
}

fn main() {
    println!("{:>10} {:>14} {:>14} {:>14} {:>14}", "grants", "uncached p50", "uncached p99", "cached p50", "cached p99");
    for n in [1_000usize, 10_000, 100_000, 1_000_000] {
        let (doc, grants) = parse_table(&table(1, n)).unwrap();
        let uncached = Authorizer::new(Mode::Enforce, 0);
        uncached.install(doc.version, &grants).unwrap();
        let cached = Authorizer::new(Mode::Enforce, 100_000);
        cached.install(doc.version, &grants).unwrap();
        let principals = (n / 10).max(1);
        // 1,000 requests from 100 callers spread over the table, each read covered by one of
        // the caller's 10 grants.
        let callers = 100.min(principals);
        let reqs: Vec<(Principal, sluice::classify::Classification)> = (0..1000)
            .map(|i| {
                let u = (i % callers) * (principals / callers);
                let p = Principal::new(format!("user{u}"), vec!["staff".into()], Scheme::Jwt);
                let path = format!("/logs-{u}-3-2026/_search");
                let c = classify(&Head { method: "GET", target: &path, ..Default::default() }, NOW).unwrap();
                (p, c)
            })
            .collect();
        let mut un = Vec::with_capacity(100_000);
        let mut ca = Vec::with_capacity(100_000);
        // Uncached and cached decisions are timed in separate passes, so one does not evict
        // the other's working set from the CPU caches.
        for _ in 0..100 {
            for (p, c) in &reqs {
                let t = Instant::now();
                let d = uncached.authorize(p, c, "GET", NOW);
                un.push(t.elapsed().as_nanos() as u64);
                assert!(d.allowed);
            }
        }
        for round in 0..101 {
            for (p, c) in &reqs {
                let t = Instant::now();
                let d = cached.authorize(p, c, "GET", NOW);
                if round > 0 {
                    ca.push(t.elapsed().as_nanos() as u64);
                }
                assert!(d.allowed);
            }
        }
        let (u50, u99) = percentiles(un);
        let (c50, c99) = percentiles(ca);
        println!("{n:>10} {:>12}ns {:>12}ns {:>12}ns {:>12}ns", u50, u99, c50, c99);
    }

    // A 100,000-grant push applied while another thread decides.
    let authz = Arc::new(Authorizer::new(Mode::Enforce, 100_000));
    let (doc, grants) = parse_table(&table(1, 100_000)).unwrap();
    authz.install(doc.version, &grants).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let (authz, stop) = (authz.clone(), stop.clone());
        std::thread::spawn(move || {
            let p = Principal::new("user42", vec![], Scheme::Jwt);
            let c = classify(&Head { method: "GET", target: "/logs-42-1-x/_search", ..Default::default() }, NOW).unwrap();
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let _ = authz.authorize(&p, &c, "GET", NOW);
                lat.push(t.elapsed().as_nanos() as u64);
            }
            lat
        })
    };
    let body = table(2, 100_000);
    let t = Instant::now();
    let (doc, grants) = parse_table(&body).unwrap();
    let parsed = t.elapsed();
    authz.install(doc.version, &grants).unwrap();
    let applied = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    let lat = worker.join().unwrap();
    let (p50, p99) = percentiles(lat.clone());
    let max = lat.iter().max().copied().unwrap_or(0);
    println!(
        "push of 100000 grants: validated in {:.0} ms, applied (compiled + swapped) in {:.0} ms; decisions meanwhile p50 {p50} ns, p99 {p99} ns, max {:.1} µs",
        parsed.as_secs_f64() * 1e3,
        applied.as_secs_f64() * 1e3,
        max as f64 / 1e3
    );
}
