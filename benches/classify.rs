//! Microbenchmarks: classifying a typical _search request (head only, and with a 2 KB body), and the NDJSON line scanner on a
//! bulk body.
//!
//!   cargo bench --bench classify
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use sluice::pipeline::ids::{IdScanner, Piece};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sluice::classify::{self, ndjson, Head};

fn search(c: &mut Criterion) {
    let head = Head {
        method: "GET",
        target: "/logs-2024.11,metrics-*/_search?q=log.level:ERROR&size=10",
        content_type: None,
        content_encoding: None,
        has_body: false,
    };
    c.bench_function("classify GET /logs-*/_search", |b| b.iter(|| classify::classify(black_box(&head), 1_700_000_000_000).unwrap()));
    let date_math = Head { target: "/%3Clogs-%7Bnow%2Fd%7D%3E/_search", ..head };
    c.bench_function("classify date math _search", |b| b.iter(|| classify::classify(black_box(&date_math), 1_700_000_000_000).unwrap()));
    // The shared rig's 2 KB search (a Kibana Discover query with aggregations), and the same body
    // with a terms lookup, which names another index and must be walked.
    let body = include_bytes!("data/search_2k.json");
    let post = Head { method: "POST", target: "/logs-2024.11/_search", content_type: Some("application/json"), has_body: true, ..head };
    let lookup = String::from_utf8_lossy(body).replacen(r#""size": 50"#, r#""size": 50, "post_filter": {"terms": {"user": {"index": "users", "id": "1", "path": "p"}}}"#, 1);
    for (name, body) in [("classify POST _search, 2 KB body", &body[..]), ("classify POST _search, 2 KB body with a terms lookup", lookup.as_bytes())] {
        c.bench_function(name, |b| {
            b.iter(|| {
                let mut c = classify::classify(black_box(&post), 1_700_000_000_000).unwrap();
                classify::inspect_body(&mut c, black_box(body), 1_700_000_000_000).unwrap();
                c
            })
        });
    }
}

fn bulk_body(bytes: usize) -> Bytes {
    let mut out = String::new();
    let mut i = 0u64;
    while out.len() < bytes {
        out.push_str(&format!("{{\"index\":{{\"_index\":\"logs-2024.11\",\"_id\":\"{i}\"}}}}\n"));
        out.push_str(&format!("{{\"@timestamp\":\"2024-11-01T00:00:00Z\",\"message\":\"GET /api/orders/{i} 200\",\"service\":{{\"name\":\"checkout\"}}}}\n"));
        i += 1;
    }
    Bytes::from(out)
}

/// `body` in the 64 KiB chunks a socket hands over.
fn chunks_of(body: &Bytes) -> Vec<Bytes> {
    (0..body.len()).step_by(64 << 10).map(|i| body.slice(i..(i + (64 << 10)).min(body.len()))).collect()
}

fn scanner(c: &mut Criterion) {
    let body = bulk_body(5 << 20);
    let chunks = chunks_of(&body);
    let mut g = c.benchmark_group("ndjson");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("scan 5 MB bulk in 64 KiB chunks", |b| {
        b.iter(|| {
            let mut s = ndjson::LineScanner::new(1 << 20);
            let mut n = 0usize;
            for ch in &chunks {
                s.feed(ch.clone(), |l| {
                    n += l.len();
                    Ok::<_, ()>(())
                })
                .unwrap();
            }
            black_box(n)
        })
    });
    let action = br#"{"index":{"_index":"logs-2024.11","_id":"12345"}}"#;
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse one bulk action line", |b| b.iter(|| ndjson::bulk_action(black_box(action), None, 0).unwrap()));
    g.finish();
}

/// A scroll page as Elasticsearch sends it: the id first, then the hits.
fn scroll_page(bytes: usize) -> Bytes {
    let mut out = String::from(r#"{"_scroll_id":"FGluY2x1ZGVfY29udGV4dF91dWlkDXF1ZXJ5QW5kRmV0Y2gBFkdx==","took":3,"timed_out":false,"hits":{"total":{"value":10000,"relation":"gte"},"hits":["#);
    let mut i = 0u64;
    while out.len() < bytes {
        out.push_str(&format!(r#"{{"_index":"logs-2024.11","_id":"{i}","_score":1.0,"_source":{{"@timestamp":"2024-11-01T00:00:00Z","message":"GET /api/orders/{i} 200","service":{{"name":"checkout"}},"id":{i}}}}},"#));
        i += 1;
    }
    out.push_str(r#"{}]}}"#);
    Bytes::from(out)
}

fn continuation_ids(c: &mut Criterion) {
    let page = scroll_page(5 << 20);
    let chunks = chunks_of(&page);
    let mut g = c.benchmark_group("continuation ids");
    g.throughput(Throughput::Bytes(page.len() as u64));
    g.bench_function("scan 5 MB scroll page in 64 KiB chunks", |b| {
        b.iter(|| {
            let mut s = IdScanner::new();
            let mut n = 0usize;
            for ch in &chunks {
                s.feed(ch, &mut |p| {
                    if let Piece::Id(id) = p {
                        n += id.len();
                    }
                });
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, search, scanner, continuation_ids);
criterion_main!(benches);
