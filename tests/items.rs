//! Multi-target requests decided item by item while the body streams: mixed bulks over
//! chunk boundaries, all-denied bulks, msearch, line limits, malformed NDJSON, compressed
//! bodies and `reject` mode.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Write;
use std::time::Duration;

use serde_json::{json, Value};
use support::client::{self, full, Sender};
use support::{FakeNode, SluiceBuilder};

fn table() -> Value {
    json!({"version": 1, "grants": [
        {"id": "w", "subject": {"user": "anonymous"}, "indices": [{"names": ["logs-*"], "privileges": ["write", "read"]}],
         "expires_at": "2100-01-01T00:00:00Z"}]})
}

async fn start(extra: &str) -> (FakeNode, support::Sluice) {
    let node = FakeNode::start().await;
    let sluice = SluiceBuilder::new(&[node.url()]).grants(table()).toml(extra).start().await;
    (node, sluice)
}

fn mixed_bulk(n: usize) -> (Vec<u8>, Vec<u8>, Vec<bool>) {
    let (mut all, mut allowed, mut ok) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let index = if i % 3 == 1 { "secret" } else { "logs-1" };
        let item = if i % 5 == 4 {
            format!("{{\"delete\":{{\"_index\":\"{index}\",\"_id\":\"{i}\"}}}}\n")
        } else {
            format!("{{\"index\":{{\"_index\":\"{index}\",\"_id\":\"{i}\"}}}}\n{{\"n\":{i},\"text\":\"{}\"}}\n", "x".repeat(i % 17))
        };
        all.extend_from_slice(item.as_bytes());
        if index != "secret" {
            allowed.extend_from_slice(item.as_bytes());
        }
        ok.push(index != "secret");
    }
    (all, allowed, ok)
}

fn chunked_request(path: &str, body: &[u8], chunk: usize, extra_headers: &str) -> Vec<u8> {
    let mut raw = format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n{extra_headers}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").into_bytes();
    for c in body.chunks(chunk) {
        raw.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        raw.extend_from_slice(c);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    raw
}

fn body_of(response: &str) -> Value {
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    // The response may be chunked: take the JSON between the first '{' and the last '}'.
    let (s, e) = (body.find('{').unwrap(), body.rfind('}').unwrap());
    let text: String = body[s..=e].split("\r\n").filter(|l| !l.chars().all(|c| c.is_ascii_hexdigit()) || l.is_empty()).collect();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test]
async fn mixed_bulk_over_chunk_boundaries_forwards_exactly_the_allowed_items_in_order() {
    let (node, sluice) = start("").await;
    let (all, allowed, ok) = mixed_bulk(300);
    for chunk in [7, 64, 4096] {
        let out = client::raw(sluice.addr, &chunked_request("/_bulk", &all, chunk, ""), Duration::from_secs(10)).await;
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert_eq!(node.last().body, allowed, "chunk size {chunk}");
        let v = body_of(&out);
        assert_eq!(v["errors"], true);
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), ok.len());
        for (i, (item, ok)) in items.iter().zip(&ok).enumerate() {
            let (op, inner) = item.as_object().unwrap().iter().next().unwrap();
            assert_eq!(inner["_id"], i.to_string(), "position {i}");
            assert_eq!(op, if i % 5 == 4 { "delete" } else { "index" });
            assert_eq!(inner["status"] == 403, !ok, "item {i}: {inner}");
        }
    }
}

#[tokio::test]
async fn an_all_allowed_bulk_passes_untouched_and_an_all_denied_one_never_leaves() {
    let (node, sluice) = start("").await;
    let body = "{\"index\":{\"_index\":\"logs-1\"}}\n{\"a\":1}\n{\"create\":{\"_index\":\"logs-2\",\"_id\":\"9\"}}\n{\"a\":2}\n";
    let mut c = Sender::h1(sluice.addr).await;
    let got = c.fetch(client::req("POST", sluice.addr, "/_bulk", full(body))).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["errors"], false);
    assert_eq!(node.last().body, body.as_bytes());
    let before = node.count();
    let denied = "{\"index\":{\"_index\":\"secret\"}}\n{}\n{\"delete\":{\"_index\":\"other\",\"_id\":\"1\"}}\n";
    let got = c.fetch(client::req("POST", sluice.addr, "/_bulk", full(denied))).await;
    assert_eq!(got.status, 200);
    let v = got.json();
    assert_eq!(v["errors"], true);
    assert_eq!(v["items"][0]["index"]["status"], 403);
    assert_eq!(v["items"][1]["delete"]["_index"], "other");
    assert_eq!(v["items"][0]["index"]["error"]["type"], "security_exception");
    assert_eq!(node.count(), before);
}

#[tokio::test]
async fn msearch_items_are_decided_and_answered_in_place() {
    let (node, sluice) = start("").await;
    let body = "{\"index\":\"secret\"}\n{\"query\":{\"match_all\":{}}}\n{\"index\":\"logs-*\"}\n{}\n{}\n{\"query\":{\"terms\":{\"f\":{\"index\":\"secret\",\"id\":\"1\",\"path\":\"p\"}}}}\n";
    let mut c = Sender::h1(sluice.addr).await;
    let got = c.fetch(client::req("POST", sluice.addr, "/logs-1/_msearch", full(body))).await;
    assert_eq!(got.status, 200, "{}", got.text());
    let r = got.json()["responses"].as_array().unwrap().clone();
    assert_eq!(r.len(), 3);
    assert_eq!(r[0]["status"], 403);
    assert_eq!(r[1]["status"], 200);
    assert_eq!(r[2]["status"], 403, "a terms lookup into another index is decided too");
    assert_eq!(String::from_utf8(node.last().body).unwrap(), "{\"index\":\"logs-*\"}\n{}\n");
}

#[tokio::test]
async fn limits_and_malformed_ndjson_are_refused_before_anything_is_forwarded() {
    let (node, sluice) = start("[inspect]\nmax_line = \"256\"\n").await;
    let long = format!("{{\"index\":{{\"_index\":\"logs-1\"}}}}\n{{\"f\":\"{}\"}}\n", "y".repeat(1000));
    let malformed = "{\"index\":{\"_index\":\"logs-1\"}}\n{}\n{broken\n{}\n";
    let no_source = "{\"index\":{\"_index\":\"logs-1\"}}\n";
    let mut c = Sender::h1(sluice.addr).await;
    for (body, status, kind) in [(long.as_str(), 400, "illegal_argument_exception"), (malformed, 400, "parse_exception"), (no_source, 400, "parse_exception")] {
        let got = c.fetch(client::req("POST", sluice.addr, "/_bulk", full(body.to_string()))).await;
        assert_eq!(got.status, status, "{}", got.text());
        assert_eq!(got.json()["error"]["type"], kind);
    }
    assert_eq!(node.count(), 0);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn compressed_bulks_are_decided_after_decompression_and_bombs_refused() {
    let (node, sluice) = start("[inspect]\nmax_decompressed = \"64KiB\"\n").await;
    let (all, allowed, ok) = mixed_bulk(60);
    let out = client::raw(sluice.addr, &chunked_request("/_bulk", &gzip(&all), 100, "Content-Encoding: gzip\r\nAccept-Encoding: gzip\r\n"), Duration::from_secs(10)).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    let seen = node.last();
    assert_eq!(seen.body, allowed, "forwarded decompressed, allowed items only");
    assert!(seen.headers.get("content-encoding").is_none());
    assert!(seen.headers.get("accept-encoding").is_none(), "the response must come back uncompressed to be rewritten");
    assert_eq!(body_of(&out)["items"].as_array().unwrap().len(), ok.len());
    let before = node.count();
    let bomb = gzip(format!("{{\"index\":{{\"_index\":\"logs-1\"}}}}\n{{\"f\":\"{}\"}}\n", " ".repeat(500_000)).as_bytes());
    let out = client::raw(sluice.addr, &chunked_request("/_bulk", &bomb, 1000, "Content-Encoding: gzip\r\n"), Duration::from_secs(10)).await;
    assert!(out.starts_with("HTTP/1.1 413") || out.starts_with("HTTP/1.1 400"), "{out}");
    assert_eq!(node.count(), before);
}

#[tokio::test]
async fn reject_mode_refuses_the_whole_request_when_any_item_is_denied() {
    let (node, sluice) = start("[authz]\nmulti_target = \"reject\"\n").await;
    let (all, _, _) = mixed_bulk(10);
    let mut c = Sender::h1(sluice.addr).await;
    let got = c.fetch(client::req("POST", sluice.addr, "/_bulk", full(all))).await;
    assert_eq!(got.status, 403);
    assert!(got.json()["error"]["reason"].as_str().unwrap().contains("secret"));
    assert_eq!(node.count(), 0);
    let ok = "{\"index\":{\"_index\":\"logs-1\"}}\n{}\n";
    assert_eq!(c.fetch(client::req("POST", sluice.addr, "/_bulk", full(ok))).await.status, 200);
    assert_eq!(node.last().body, ok.as_bytes());
}

#[tokio::test]
async fn mget_docs_are_decided_one_by_one_and_answered_in_place() {
    let (node, sluice) = start("").await;
    let body = r#"{"docs":[{"_index":"logs-1","_id":"1"},{"_index":"secret","_id":"2"},{"_id":"3"}]}"#;
    let mut c = Sender::h1(sluice.addr).await;
    let r = http::Request::post(format!("http://{}/logs-2/_mget", sluice.addr)).header("content-type", "application/json").body(full(body)).unwrap();
    let got = c.fetch(r).await;
    assert_eq!(got.status, 200, "{}", got.text());
    let docs = got.json()["docs"].as_array().unwrap().clone();
    assert_eq!(docs.len(), 3);
    assert_eq!((docs[0]["_id"].as_str(), docs[2]["_id"].as_str()), (Some("1"), Some("3")));
    assert_eq!(docs[1]["_index"], "secret");
    assert_eq!(docs[1]["_id"], "2");
    assert_eq!(docs[1]["error"]["type"], "security_exception");
    let sent: Value = serde_json::from_slice(&node.last().body).unwrap();
    assert_eq!(sent, json!({"docs": [{"_index": "logs-1", "_id": "1"}, {"_id": "3"}]}));
    let before = node.count();
    let r = http::Request::post(format!("http://{}/_mget", sluice.addr))
        .header("content-type", "application/json")
        .body(full(r#"{"docs":[{"_index":"secret","_id":"9"}]}"#))
        .unwrap();
    let got = c.fetch(r).await;
    assert_eq!(got.json()["docs"][0]["error"]["type"], "security_exception");
    assert_eq!(node.count(), before, "an all-denied mget is answered by Sluice");
}

#[tokio::test]
async fn compressed_mget_docs_are_decided_one_by_one_after_decompression() {
    let (node, sluice) = start("").await;
    let mut c = Sender::h1(sluice.addr).await;
    let mget = |body: &str| {
        http::Request::post(format!("http://{}/logs-2/_mget", sluice.addr))
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .header("accept-encoding", "gzip")
            .body(full(gzip(body.as_bytes())))
            .unwrap()
    };
    // A denied doc: the rest are forwarded decompressed, the denied one answered in place.
    let got = c.fetch(mget(r#"{"docs":[{"_index":"secret","_id":"1"},{"_id":"2"}]}"#)).await;
    assert_eq!(got.status, 200, "{}", got.text());
    let docs = got.json()["docs"].as_array().unwrap().clone();
    assert_eq!(docs.len(), 2);
    assert_eq!((docs[0]["_index"].as_str(), docs[0]["error"]["type"].as_str()), (Some("secret"), Some("security_exception")));
    assert_eq!(docs[1]["_id"], "2");
    let seen = node.last();
    assert_eq!(serde_json::from_slice::<Value>(&seen.body).unwrap(), json!({"docs": [{"_id": "2"}]}));
    assert!(seen.headers.get("content-encoding").is_none(), "forwarded as the plain JSON it was decided on");
    assert_eq!(seen.headers.get("content-length").unwrap().to_str().unwrap(), seen.body.len().to_string());
    // Every doc allowed: the client's compressed bytes go through untouched.
    let both = r#"{"docs":[{"_index":"logs-1","_id":"1"},{"_id":"2"}]}"#;
    assert_eq!(c.fetch(mget(both)).await.status, 200);
    let seen = node.last();
    assert_eq!(seen.body, gzip(both.as_bytes()));
    assert_eq!(seen.headers.get("content-encoding").unwrap(), "gzip");
    // All denied: answered by Sluice, nothing reaches the node.
    let before = node.count();
    let got = c.fetch(mget(r#"{"docs":[{"_index":"secret","_id":"9"}]}"#)).await;
    assert_eq!(got.json()["docs"][0]["error"]["type"], "security_exception");
    assert_eq!(node.count(), before);
}

#[tokio::test]
async fn a_node_that_compresses_anyway_has_its_response_decompressed_and_rewritten() {
    let node = FakeNode::start_with(support::fake_node::Options { gzip_responses: true, ..Default::default() }, None).await;
    let sluice = SluiceBuilder::new(&[node.url()]).grants(table()).start().await;
    let mut c = Sender::h1(sluice.addr).await;
    let (all, _, ok) = mixed_bulk(12);
    let got = c.fetch(client::req("POST", sluice.addr, "/_bulk", full(all))).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert!(got.headers.get("content-encoding").is_none(), "rewritten, so sent as identity");
    let items = got.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), ok.len());
    for (item, ok) in items.iter().zip(&ok) {
        let (_, v) = item.as_object().unwrap().iter().next().unwrap();
        assert_eq!(v["status"] == 403, !ok, "{item}");
    }
    assert_eq!(got.json()["errors"], true);
    let r = http::Request::post(format!("http://{}/logs-2/_mget", sluice.addr))
        .header("content-type", "application/json")
        .body(full(r#"{"docs":[{"_index":"secret","_id":"1"},{"_id":"2"}]}"#))
        .unwrap();
    let got = c.fetch(r).await;
    assert_eq!(got.status, 200, "{}", got.text());
    let docs = got.json()["docs"].as_array().unwrap().clone();
    assert_eq!((docs.len(), docs[0]["error"]["type"].as_str(), docs[1]["_id"].as_str()), (2, Some("security_exception"), Some("2")));
    // Nothing denied: nothing to rewrite, the compressed response passes as it came.
    let got = c.fetch(client::req("POST", sluice.addr, "/_bulk", full("{\"index\":{\"_index\":\"logs-1\"}}\n{}\n"))).await;
    assert_eq!(got.headers.get("content-encoding").unwrap(), "gzip");
    // Continuation ids are read from compressed answers too: a point in time, and the new id
    // an msearch over it hands out, are bound and honoured.
    let pit = c.fetch(client::req("POST", sluice.addr, "/logs-1/_pit?keep_alive=1m", full(""))).await;
    assert_eq!((pit.status, pit.headers.get("content-encoding")), (200, None), "{}", pit.text());
    let pit_id = pit.json()["id"].as_str().unwrap().to_string();
    let search = format!("{{}}\n{{\"pit\":{{\"id\":\"{pit_id}\"}}}}\n");
    let got = c.fetch(client::req("POST", sluice.addr, "/_msearch", full(search))).await;
    assert_eq!((got.status, got.headers.get("content-encoding")), (200, None), "{}", got.text());
    let renewed = got.json()["responses"][0]["pit_id"].as_str().unwrap().to_string();
    assert_eq!(renewed, format!("{pit_id}+1"));
    let again = format!("{{\"pit\":{{\"id\":\"{renewed}\"}}}}");
    let got = c.fetch(client::req("POST", sluice.addr, "/_search", full(again))).await;
    assert_eq!(got.status, 200, "{}", got.text());
}
