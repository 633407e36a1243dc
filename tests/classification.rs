//! Classification in the request path: what cannot be classified never reaches the node; what
//! can reaches it byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Write;
use std::time::Duration;

use support::client::{self, full, req, Sender};
use support::setup;


fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

async fn post(sluice: &support::Sluice, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> client::Got {
    let mut c = Sender::h1(sluice.addr).await;
    let mut r = req("POST", sluice.addr, path, full(body));
    for (k, v) in headers {
        r.headers_mut().insert(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
    }
    c.fetch(r).await
}

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn inspected_bodies_are_forwarded_byte_for_byte() {
    let (node, sluice) = setup("").await;
    let body = br#"{"query":{"terms":{"user":{"index":"users","id":"1","path":"ids"}}}}"#.to_vec();
    let got = post(&sluice, "/logs/_search", &[JSON], body.clone()).await;
    assert_eq!(got.status, 200);
    assert_eq!(node.last().body, body);
    // Compressed: inspected after decompression, forwarded compressed as sent.
    let gz = gzip(&body);
    let got = post(&sluice, "/logs/_search", &[JSON, ("content-encoding", "gzip")], gz.clone()).await;
    assert_eq!(got.status, 200);
    assert_eq!(node.last().body, gz);
    assert_eq!(node.last().headers["content-encoding"], "gzip");
}

#[tokio::test]
async fn undeterminable_bodies_get_400_and_reach_nothing() {
    let (node, sluice) = setup("").await;
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>, &'a str);
    let cases: Vec<Case> = vec![
        ("/logs/_search", vec![JSON], b"{\"query\":".to_vec(), "parse_exception"),
        ("/logs/_search", vec![("content-type", "application/yaml")], b"query: {}".to_vec(), "illegal_argument_exception"),
        ("/logs/_search", vec![JSON, ("content-encoding", "br")], b"xx".to_vec(), "illegal_argument_exception"),
        ("/logs/_search", vec![JSON, ("content-encoding", "gzip")], b"not gzip at all".to_vec(), "parse_exception"),
        ("/logs/_search", vec![JSON, ("content-encoding", "gzip")], gzip(b"{\"query\":"), "parse_exception"),
        ("/_query", vec![JSON], br#"{"query":"FROM a | ENRICH p"}"#.to_vec(), "illegal_argument_exception"),
        ("/logs/_search/template", vec![JSON], br#"{"id":"stored"}"#.to_vec(), "illegal_argument_exception"),
        ("/_bulk", vec![("content-type", "application/x-ndjson")], b"{\"index\":{\"_index\":\"a\"}}\n{}\n{broken\n{}\n".to_vec(), "parse_exception"),
        ("/_bulk", vec![("content-type", "application/x-ndjson")], b"{\"index\":{}}\n{}\n".to_vec(), "illegal_argument_exception"),
        ("/_bulk", vec![("content-type", "application/x-ndjson")], b"{\"index\":{\"_index\":\"a\"}}\n".to_vec(), "parse_exception"),
        ("/_msearch", vec![("content-type", "application/x-ndjson")], b"{\"index\":\"a\"}\n[\n".to_vec(), "parse_exception"),
    ];
    for (path, headers, body, kind) in cases {
        let got = post(&sluice, path, &headers, body).await;
        assert_eq!(got.status, 400, "{path} {headers:?}: {}", got.text());
        assert_eq!(got.json()["error"]["type"], kind, "{path} {headers:?}: {}", got.text());
    }
    assert_eq!(node.count(), 0, "nothing may reach the node");
}

#[tokio::test]
async fn inspection_limits() {
    let (node, sluice) = setup("[inspect]\nmax_buffered_body = \"1KiB\"\nmax_line = \"512\"\nmax_decompressed = \"4KiB\"\n").await;
    let big = format!("{{\"query\":{{\"match\":{{\"a\":\"{}\"}}}}}}", "x".repeat(2000));
    let got = post(&sluice, "/logs/_search", &[JSON], big.into_bytes()).await;
    assert_eq!(got.status, 413);
    let bomb = gzip(format!("{{\"a\":\"{}\"}}", " ".repeat(100_000)).as_bytes());
    assert!(bomb.len() < 1024);
    let got = post(&sluice, "/logs/_search", &[JSON, ("content-encoding", "gzip")], bomb).await;
    assert_eq!(got.status, 413);
    assert_eq!(got.json()["error"]["type"], "content_too_long_exception");
    let long_line = format!("{{\"index\":{{\"_index\":\"a\"}}}}\n{{\"f\":\"{}\"}}\n", "y".repeat(1000));
    let got = post(&sluice, "/_bulk", &[("content-type", "application/x-ndjson")], long_line.into_bytes()).await;
    assert_eq!(got.status, 400);
    assert!(got.json()["error"]["reason"].as_str().unwrap().contains("longer than the limit"));
    assert_eq!(node.count(), 0);
}

#[tokio::test]
async fn bulk_items_spanning_chunks_stream_through_exactly() {
    let (node, sluice) = setup("").await;
    let mut body = Vec::new();
    for i in 0..200 {
        body.extend_from_slice(format!("{{\"index\":{{\"_index\":\"logs-{}\",\"_id\":\"{i}\"}}}}\n{{\"n\":{i}}}\n", i % 3).as_bytes());
    }
    // Chunks of 7 bytes: nearly every line spans chunks.
    let mut raw = b"POST /_bulk HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for chunk in body.chunks(7) {
        raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend_from_slice(chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let out = client::raw(sluice.addr, &raw, Duration::from_secs(10)).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert_eq!(node.last().body, body);
    let v: serde_json::Value = serde_json::from_str(out.split("\r\n\r\n").nth(1).unwrap_or_default().lines().find(|l| l.starts_with('{')).unwrap_or("{}")).unwrap_or_default();
    if let Some(items) = v["items"].as_array() {
        assert_eq!(items.len(), 200);
    }
}

#[tokio::test]
async fn unknown_endpoints_are_refused() {
    let (node, sluice) = setup("").await;
    let mut c = Sender::h1(sluice.addr).await;
    for (m, p) in [("GET", "/_not_an_api/x/y/z/w/v"), ("PATCH", "/logs/_search"), ("GET", "/logs/_SEARCH")] {
        let got = c.fetch(req(m, sluice.addr, p, client::empty())).await;
        assert!(got.status == 400 || got.status == 405, "{m} {p}: {}", got.status);
        assert!(got.json()["error"]["type"].is_string());
    }
    assert_eq!(node.count(), 0);
}
