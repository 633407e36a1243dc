//! End-to-end forwarding over real sockets: Sluice in-process in front of the fake node.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use http_body_util::BodyExt;
use support::client::{self, empty, full, req, Sender};
use support::fake_node::{pattern, refusing_addr, Options};
use support::{setup, FakeNode, SluiceBuilder};

const WAIT: Duration = Duration::from_secs(10);


#[tokio::test]
async fn content_length_bodies_are_byte_exact_both_ways_h1_and_h2() {
    let (node, sluice) = setup("").await;
    let body = pattern(300_000);
    for mut c in [Sender::h1(sluice.addr).await, Sender::h2(sluice.addr).await] {
        let got = c.fetch(req("PUT", sluice.addr, "/fake-echo/_doc/1", full(body.clone()))).await;
        assert_eq!(got.status, 200);
        assert_eq!(got.body, body, "response body must be byte-exact");
        let seen = node.last();
        assert_eq!(seen.body, body, "request body must reach the node byte-exact");
        assert_eq!(seen.headers["content-length"], "300000");
        let sized = c.fetch(req("GET", sluice.addr, "/fake-sized/_doc/1?size=123457", empty())).await;
        assert_eq!(sized.headers["content-length"], "123457");
        assert_eq!(sized.body, pattern(123_457));
    }
}

#[tokio::test]
async fn chunked_bodies_stay_chunked_and_exact() {
    let (node, sluice) = setup("").await;
    let raw = b"PUT /fake-echo/_doc/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    let out = client::raw(sluice.addr, raw, WAIT).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    let seen = node.last();
    assert_eq!(seen.body, b"hello world");
    assert!(!seen.headers.contains_key("content-length"));
    assert_eq!(seen.headers["transfer-encoding"], "chunked");
    // Response: the node streams without a length; the client sees chunked, exact bytes.
    let mut c = Sender::h1(sluice.addr).await;
    let res = c.send(req("GET", sluice.addr, "/fake-chunked/_doc/1?size=100000", empty())).await;
    assert_eq!(res.headers()["transfer-encoding"], "chunked");
    assert!(!res.headers().contains_key("content-length"));
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.as_ref(), pattern(100_000).as_slice());
}

#[tokio::test]
async fn path_and_query_reach_the_node_byte_for_byte() {
    let (node, sluice) = setup("").await;
    let mut c = Sender::h1(sluice.addr).await;
    for target in ["/%3Clogs-%7Bnow%2Fd%7D%3E/_search?q=a%20b&x=%2F", "/logs-app/_search/?pretty", "/logs-app,-logs-x/_count?q=%2B1"] {
        let got = c.fetch(req("GET", sluice.addr, target, empty())).await;
        assert_eq!(got.status, 200);
        assert_eq!(node.last().target, target);
    }
    // Forms servers disagree on are refused, not forwarded.
    for target in ["/logs-app//_search", "/a/./b/../_count", "/_secret/_search", "/no/such/api/at/all/here"] {
        let got = c.fetch(req("GET", sluice.addr, target, empty())).await;
        assert_eq!(got.status, 400, "{target}");
        assert_eq!(got.headers["x-elastic-product"], "Elasticsearch");
        assert!(got.json()["error"]["reason"].is_string());
    }
    assert_eq!(node.count(), 3);
}

#[tokio::test]
async fn header_rules_both_ways() {
    let (node, sluice) = setup("").await;
    let mut c = Sender::h1(sluice.addr).await;
    let mut r = req("GET", sluice.addr, "/fake-headers/_doc/1", empty());
    let h = r.headers_mut();
    h.insert("x-opaque-id", "op-42".parse().unwrap());
    h.insert("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".parse().unwrap());
    h.insert("connection", "x-private-hop".parse().unwrap());
    h.insert("x-private-hop", "secret".parse().unwrap());
    h.insert("proxy-authorization", "Basic Zm9vOmJhcg==".parse().unwrap());
    h.insert("x-forwarded-for", "198.51.100.7".parse().unwrap());
    let got = c.fetch(r).await;
    let seen = node.last();
    assert_eq!(seen.headers["x-opaque-id"], "op-42");
    assert_eq!(seen.headers["traceparent"], "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    assert!(!seen.headers.contains_key("x-private-hop"));
    assert!(!seen.headers.contains_key("proxy-authorization"));
    assert_eq!(seen.headers["x-forwarded-for"], "198.51.100.7, 127.0.0.1");
    assert_eq!(seen.headers["x-forwarded-proto"], "http");
    assert_eq!(seen.headers["x-forwarded-host"], sluice.addr.to_string());
    assert_eq!(seen.headers["host"], sluice.addr.to_string());
    // Response side: end-to-end headers kept, hop-by-hop dropped.
    assert_eq!(got.headers["x-elastic-product"], "Elasticsearch");
    assert_eq!(got.headers["x-opaque-id"], "op-42");
    assert_eq!(got.headers["x-end-to-end"], "kept");
    assert!(got.headers.contains_key("traceparent"));
    assert!(!got.headers.contains_key("x-hop-header"));
    assert!(!got.headers.contains_key("keep-alive"));
}

#[tokio::test]
async fn node_connections_are_kept_alive_and_replaced_when_they_close() {
    let (node, sluice) = setup("").await;
    let mut c = Sender::h1(sluice.addr).await;
    // One request at a time: bodies both ways, HEAD, chunked, all on one node connection.
    for _ in 0..3 {
        assert_eq!(c.fetch(req("PUT", sluice.addr, "/fake-echo/_doc/1", full(pattern(70_000)))).await.body, pattern(70_000));
        assert_eq!(c.fetch(req("HEAD", sluice.addr, "/fake-sized/_doc/1?size=10", empty())).await.status, 200);
        assert_eq!(c.fetch(req("GET", sluice.addr, "/fake-chunked/_doc/1?size=5000", empty())).await.body, pattern(5000));
    }
    assert_eq!(node.connections(), 1, "the node connection must be reused");
    // A response the client abandons half-way: its node connection is closed, not reused.
    let res = c.send(req("GET", sluice.addr, "/fake-sized/_doc/1?size=20000000", empty())).await;
    let mut body = res.into_body();
    assert!(body.frame().await.unwrap().unwrap().is_data());
    drop((body, c));
    assert!(node.closed_at_least(1).await, "the abandoned node connection must be closed");
    let mut c = Sender::h1(sluice.addr).await;
    assert_eq!(c.fetch(req("GET", sluice.addr, "/fake-sized/_doc/1?size=10", empty())).await.status, 200);
    assert_eq!(node.connections(), 2);
    // The node closes its idle connections without a word: the next requests still succeed,
    // on a new connection, and then keep using it.
    node.close_connections();
    for _ in 0..3 {
        assert_eq!(c.fetch(req("GET", sluice.addr, "/fake-sized/_doc/1?size=10", empty())).await.status, 200);
    }
    assert_eq!(node.connections(), 3);
}

#[tokio::test]
async fn more_than_one_host_header_is_refused() {
    let (node, sluice) = setup("").await;
    let out = client::raw(sluice.addr, b"GET /_search HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n", WAIT).await;
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert!(out.contains("more than one Host header"), "{out}");
    assert_eq!(node.count(), 0);
}

#[tokio::test]
async fn head_has_headers_and_no_body() {
    let (node, sluice) = setup("").await;
    let out = client::raw(sluice.addr, b"HEAD /fake-sized/_doc/1?size=777 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", WAIT).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.to_ascii_lowercase().contains("content-length: 777"), "{out}");
    assert!(out.ends_with("\r\n\r\n"), "a HEAD response has no body: {out:?}");
    assert_eq!(node.last().method, http::Method::HEAD);
    let mut c = Sender::h1(sluice.addr).await;
    let got = c.fetch(req("HEAD", sluice.addr, "/", empty())).await;
    assert_eq!(got.status, 200);
    assert!(got.body.is_empty());
}

#[tokio::test]
async fn expect_100_continue_is_answered_before_the_body() {
    let (node, sluice) = setup("").await;
    let mut tcp = tokio::net::TcpStream::connect(sluice.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tcp.write_all(b"PUT /idx/_doc/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 13\r\nExpect: 100-continue\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(WAIT, tcp.read(&mut buf)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 100 Continue"));
    tcp.write_all(b"{\"a\":\"hello\"}").await.unwrap();
    let rest = client::read_all(&mut tcp, Duration::from_millis(500)).await;
    assert!(rest.contains("200 OK"), "{rest}");
    assert_eq!(node.last().body, b"{\"a\":\"hello\"}");
    assert!(!node.last().headers.contains_key("expect"));
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let (node, sluice) = setup("[listen]\nmax_body_size = \"64KiB\"\n").await;
    // Declared too large: refused before anything is forwarded.
    let mut c = Sender::h1(sluice.addr).await;
    let got = c.fetch(req("POST", sluice.addr, "/idx/_bulk", full(pattern(70_000)))).await;
    assert_eq!(got.status, 413);
    assert_eq!(got.json()["error"]["type"], "content_too_long_exception");
    assert_eq!(node.count(), 0);
    // Chunked: detected while streaming.
    let mut raw = b"POST /idx/_bulk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..20 {
        raw.extend_from_slice(b"1000\r\n");
        raw.extend_from_slice(&pattern(4096));
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let out = client::raw(sluice.addr, &raw, Duration::from_secs(2)).await;
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    assert!(out.contains("content_too_long_exception"), "{out}");
    // Under the limit still passes.
    let mut c = Sender::h1(sluice.addr).await;
    assert_eq!(c.fetch(req("PUT", sluice.addr, "/fake-echo/_doc/1", full(pattern(60_000)))).await.status, 200);
}

#[tokio::test]
async fn oversized_headers_get_431() {
    let (_node, sluice) = setup("[listen]\nmax_header_size = \"4KiB\"\n").await;
    let mut c = Sender::h1(sluice.addr).await;
    let mut r = req("GET", sluice.addr, "/_search", empty());
    r.headers_mut().insert("x-big", "a".repeat(5000).parse().unwrap());
    let got = c.fetch(r).await;
    assert_eq!(got.status, 431);
    assert_eq!(got.json()["error"]["type"], "too_long_http_header_exception");
}

#[tokio::test]
async fn silent_node_gives_504() {
    let node = FakeNode::start_with(Options { silent: true, ..Default::default() }, None).await;
    let sluice = SluiceBuilder::new(&[node.url()]).toml("[upstream]\nresponse_timeout = \"300ms\"\n").start().await;
    let mut c = Sender::h1(sluice.addr).await;
    let got = tokio::time::timeout(WAIT, c.fetch(req("GET", sluice.addr, "/_search", empty())))
        .await
        .expect("the response timeout must answer the client");
    assert_eq!(got.status, 504);
    let v = got.json();
    assert_eq!(v["status"], 504);
    assert_eq!(v["error"]["root_cause"][0]["type"], "timeout_exception");
}

#[tokio::test]
async fn refused_node_fails_over_and_is_skipped() {
    let dead = refusing_addr().await;
    let node = FakeNode::start().await;
    let sluice = SluiceBuilder::new(&[format!("http://{dead}"), node.url()]).toml("[upstream]\nbackoff = \"1h\"\n").start().await;
    let mut c = Sender::h1(sluice.addr).await;
    for _ in 0..4 {
        let got = c.fetch(req("PUT", sluice.addr, "/fake-echo/_doc/1", full("payload"))).await;
        assert_eq!(got.status, 200);
        assert_eq!(got.body, b"payload");
    }
    assert_eq!(node.count(), 4);
    let mut a = Sender::h1(sluice.admin).await;
    let ready = a.fetch(req("GET", sluice.admin, "/ready", empty())).await.json();
    assert_eq!(ready["ready"], true);
    let health: Vec<bool> = ready["nodes"].as_array().unwrap().iter().map(|n| n["healthy"].as_bool().unwrap()).collect();
    assert_eq!(health, vec![false, true]);
}

#[tokio::test]
async fn no_node_gives_502_in_elasticsearch_shape() {
    let dead = refusing_addr().await;
    let sluice = SluiceBuilder::new(&[format!("http://{dead}")]).start().await;
    let mut c = Sender::h1(sluice.addr).await;
    let got = c.fetch(req("GET", sluice.addr, "/", empty())).await;
    assert_eq!(got.status, 502);
    let v = got.json();
    assert_eq!(v["error"]["type"], "no_node_available_exception");
    assert_eq!(v["error"]["root_cause"][0]["reason"], v["error"]["reason"]);
    assert!(!got.text().contains(&dead.to_string()), "no internal detail in the reason");
    let mut a = Sender::h1(sluice.admin).await;
    assert_eq!(a.fetch(req("GET", sluice.admin, "/ready", empty())).await.status, 503);
    assert_eq!(a.fetch(req("GET", sluice.admin, "/live", empty())).await.status, 200);
}

/// Sends `bytes` on a new connection and reads until Sluice closes it by itself, which it
/// must do well before WAIT; what was read.
async fn closed_by_sluice(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    let started = std::time::Instant::now();
    let out = client::raw(addr, bytes, WAIT).await;
    assert!(started.elapsed() < WAIT, "the connection was not closed");
    out
}

#[tokio::test]
async fn slow_client_is_timed_out() {
    let (_node, sluice) = setup("[listen]\nheader_read_timeout = \"300ms\"\n").await;
    // The head never completes: Sluice must close the connection by itself.
    closed_by_sluice(sluice.addr, b"GET /_search HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
}

#[tokio::test]
async fn a_client_stalling_its_body_is_timed_out() {
    let (node, sluice) = setup("[listen]\nidle_timeout = \"300ms\"\n").await;
    // Announces 100 bytes, sends 9, then nothing: the node must not be held open for it.
    closed_by_sluice(sluice.addr, b"PUT /fake-echo/_doc/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part").await;
    assert!(node.received().iter().all(|r| r.body.len() != 100));
}

/// A body that sends its first piece and then nothing, never ending.
struct Stalls(Option<bytes::Bytes>);

impl http_body::Body for Stalls {
    type Data = bytes::Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>> {
        match self.0.take() {
            Some(b) => std::task::Poll::Ready(Some(Ok(http_body::Frame::data(b)))),
            None => std::task::Poll::Pending,
        }
    }
}

#[tokio::test]
async fn an_http2_stream_stalling_its_body_gets_408_and_the_connection_goes_on() {
    let (node, sluice) = setup("[listen]\nidle_timeout = \"300ms\"\n").await;
    let mut c = Sender::h2(sluice.addr).await;
    // A body streamed to the node (a document) and one buffered for inspection (a search).
    for (method, path) in [("PUT", "/fake-echo/_doc/1"), ("POST", "/logs/_search")] {
        let mut r = req(method, sluice.addr, path, Stalls(Some(bytes::Bytes::from_static(b"{\"only\":"))).boxed());
        r.headers_mut().insert("content-type", http::HeaderValue::from_static("application/json"));
        r.headers_mut().insert("content-length", http::HeaderValue::from_static("100"));
        let started = std::time::Instant::now();
        let got = tokio::time::timeout(WAIT, c.fetch(r)).await.expect("the stalled stream was answered");
        assert_eq!(got.status, 408, "{path}: {}", got.text());
        assert_eq!(got.json()["error"]["type"], "timeout_exception", "{path}");
        assert!(started.elapsed() >= Duration::from_millis(300), "{path}: answered before the idle timeout");
    }
    // The stalled streams were given up alone: the connection still serves.
    assert_eq!(c.fetch(req("GET", sluice.addr, "/", empty())).await.status, 200);
    assert!(node.received().iter().all(|r| r.body.len() != 100));
}

#[tokio::test]
async fn idle_connection_is_closed() {
    let (_node, sluice) = setup("[listen]\nidle_timeout = \"300ms\"\n").await;
    let out = closed_by_sluice(sluice.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
}

#[tokio::test]
async fn connection_cap_answers_503() {
    let (_node, sluice) = setup("[listen]\nmax_connections = 1\n").await;
    let mut first = Sender::h1(sluice.addr).await;
    assert_eq!(first.fetch(req("GET", sluice.addr, "/", empty())).await.status, 200);
    let out = client::raw(sluice.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", WAIT).await;
    assert!(out.starts_with("HTTP/1.1 503"), "{out}");
    assert!(out.contains("rejected_execution_exception"), "{out}");
    assert_eq!(first.fetch(req("GET", sluice.addr, "/", empty())).await.status, 200);
}

#[tokio::test]
async fn graceful_shutdown_lets_in_flight_requests_finish() {
    let (node, sluice) = setup("").await;
    let addr = sluice.addr;
    let mut c = Sender::h1(addr).await;
    let in_flight = tokio::spawn(async move { c.fetch(req("GET", addr, "/_search?fake_delay_ms=400", empty())).await });
    // Wait until the node has the request, then ask Sluice to stop.
    while node.count() == 0 {
        tokio::task::yield_now().await;
    }
    sluice.begin_shutdown();
    let got = in_flight.await.unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.headers["connection"], "close", "the client is told no more requests are taken");
    sluice.stop().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "no longer accepting");
}

/// Reads from `r` into `buf` until `buf` starts with a whole HTTP head: its length with the
/// blank line ending it, or None when the stream ends first.
async fn read_head(r: &mut (impl tokio::io::AsyncRead + Unpin), buf: &mut Vec<u8>) -> Option<usize> {
    use tokio::io::AsyncReadExt;
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(end + 4);
        }
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A node that answers each request with scripted bytes, chosen by the request's last path
/// segment, and counts its connections: for answers the fake node never gives.
async fn scripted_node() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let conns = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = conns.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let Some(len) = read_head(&mut tcp, &mut buf).await else { return };
                    let head = String::from_utf8_lossy(&buf[..len]).to_string();
                    buf.drain(..len);
                    let path = head.split(' ').nth(1).unwrap_or("").to_string();
                    let ok = "x-elastic-product: Elasticsearch\r\ncontent-type: application/json\r\n";
                    let (answer, close) = match path.rsplit('/').next().unwrap_or("") {
                        "interim" => (format!("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: x\r\n\r\nHTTP/1.1 200 OK\r\n{ok}content-length: 10\r\n\r\n{{\"a\":\"ok\"}}"), false),
                        "until-close" => (format!("HTTP/1.1 200 OK\r\n{ok}\r\n{{\"read\":\"until the node closes\"}}"), true),
                        "conn-close" => (format!("HTTP/1.1 200 OK\r\n{ok}content-length: 2\r\nconnection: close\r\n\r\n{{}}"), true),
                        "chunk-ext" => (format!("HTTP/1.1 200 OK\r\n{ok}transfer-encoding: chunked\r\n\r\n3;x=y\r\n{{\"a\r\n4\r\n\":1}}\r\n0\r\nx-trailer: t\r\n\r\n"), false),
                        "not-http" => ("SSH-2.0-OpenSSH\r\n\r\n".to_string(), true),
                        "two-lengths" => (format!("HTTP/1.1 200 OK\r\n{ok}content-length: 2\r\ncontent-length: 3\r\n\r\n{{}}"), true),
                        "silent-close" => (String::new(), true),
                        // Answered before the body is read, then closed (the unread body makes it a reset).
                        "early-413" => ("HTTP/1.1 413 Request Entity Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string(), true),
                        _ => (format!("HTTP/1.1 200 OK\r\n{ok}content-length: 2\r\n\r\n{{}}"), false),
                    };
                    if tcp.write_all(answer.as_bytes()).await.is_err() || close {
                        return;
                    }
                }
            });
        }
    });
    (url, conns)
}

#[tokio::test]
async fn node_answers_are_read_as_http_1_1_frames_them() {
    use std::sync::atomic::Ordering;
    let (url, conns) = scripted_node().await;
    let sluice = SluiceBuilder::new(&[url]).start().await;
    let mut c = Sender::h1(sluice.addr).await;
    let addr = sluice.addr;
    macro_rules! get {
        ($last:expr) => {
            tokio::time::timeout(WAIT, c.fetch(req("GET", addr, &format!("/logs/_doc/{}", $last), empty()))).await.expect("answered in time")
        };
    }
    // Interim answers are skipped; the final one is passed on, and the connection reused.
    let got = get!("interim");
    assert_eq!((got.status, got.text()), (200, r#"{"a":"ok"}"#.to_string()));
    assert_eq!(get!("plain").text(), "{}");
    assert_eq!(conns.load(Ordering::SeqCst), 1, "a kept-alive node connection is reused");
    // Chunk extensions and trailers are read past; the body arrives exact.
    assert_eq!(get!("chunk-ext").text(), r#"{"a":1}"#);
    assert_eq!(conns.load(Ordering::SeqCst), 1);
    // A body read until the node closes, and a node saying `connection: close`: both arrive
    // whole, and the next request opens a new connection.
    assert_eq!(get!("until-close").text(), r#"{"read":"until the node closes"}"#);
    assert_eq!(get!("plain").text(), "{}");
    assert_eq!(conns.load(Ordering::SeqCst), 2);
    assert_eq!(get!("conn-close").text(), "{}");
    assert_eq!(get!("plain").text(), "{}");
    assert_eq!(conns.load(Ordering::SeqCst), 3);
    // Bytes that are not HTTP, ambiguous framing, a node that closes without a word: 502.
    for bad in ["not-http", "two-lengths", "silent-close"] {
        let got = get!(bad);
        assert_eq!(got.status, 502, "{bad}: {}", got.text());
        assert_eq!(got.json()["error"]["type"], "node_disconnected_exception", "{bad}");
    }
    assert_eq!(get!("plain").status, 200, "a failed node connection is never reused");
    // A node that refuses a body over its own limit before reading it: its answer, not a 502.
    // (A raw client: it reads the answer while its own body is still being refused.)
    let (mut rd, mut wr) = tokio::net::TcpStream::connect(addr).await.unwrap().into_split();
    let body = pattern(16 << 20);
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let head = format!("PUT /logs/_doc/early-413 HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n", body.len());
        let _ = wr.write_all(head.as_bytes()).await;
        let _ = wr.write_all(&body).await;
    });
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, read_head(&mut rd, &mut answer)).await.expect("answered in time");
    writer.abort();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let mut c = Sender::h1(addr).await;
    assert_eq!(c.fetch(req("GET", addr, "/logs/_doc/plain", empty())).await.status, 200);
}
