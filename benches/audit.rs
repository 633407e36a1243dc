//! Microbenchmark: rendering one audit line for a typical allowed search (done on the request's
//! thread when its response ends, before the line is queued for the writer).
//!
//!   cargo bench --bench audit
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sluice::audit::Record;
use sluice::authn::{Principal, Scheme};
use sluice::authz::{snapshot, table};
use sluice::classify::{self, Head};

fn record() -> Record {
    let head = Head { method: "POST", target: "/logs-2024.11/_search", content_type: Some("application/json"), content_encoding: None, has_body: false };
    let c = classify::classify(&head, 1_700_000_000_000).unwrap();
    let doc: table::GrantDoc = serde_json::from_value(serde_json::json!({
        "id": "bench-basic", "subject": {"user": "bench"}, "indices": [{"names": ["logs-*"], "privileges": ["read"]}],
        "expires_at": "2100-01-01T00:00:00Z", "reason": "benchmark"})).unwrap();
    let mut errors = Vec::new();
    let grant = table::validate_grant(&doc, "grants[0]", &mut errors).unwrap();
    let mut r = Record::new(76_989, 1_700_000_000_123, http::Method::POST, "/logs-2024.11/_search".parse().unwrap());
    r.source = Some("127.0.0.1:36814".parse().unwrap());
    r.principal = Some(Arc::new(Principal::new("bench", vec!["bench".into()], Scheme::Basic)));
    r.api = Some(c.api);
    r.targets = c.targets;
    r.decision = Some("allow");
    r.grants = vec![Arc::new(snapshot::compile_grant(&grant).unwrap())];
    r.table_version = Some(1);
    r.status = 200;
    r.bytes_in = Some(2025);
    r.bytes_out = 2191;
    r.duration_us = 977;
    r.decision_us = Some(0);
    r.upstream_us = Some(973);
    r.node = Some(Arc::from("http://127.0.0.1:19200"));
    r.outcome = sluice::telemetry::metrics::Outcome::Allowed;
    r
}

fn render(c: &mut Criterion) {
    let r = record();
    let mut out = Vec::with_capacity(2048);
    r.write_json(&mut out);
    let mut g = c.benchmark_group("audit");
    g.throughput(Throughput::Bytes(out.len() as u64));
    g.bench_function("render one allowed-search line", |b| {
        b.iter(|| {
            out.clear();
            black_box(&r).write_json(&mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
