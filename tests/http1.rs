//! Sluice's own HTTP/1.1 server side, over real sockets: pipelining, framing that a request
//! smuggler would play on, heads too large or malformed, HTTP/1.0 connections, bodies the
//! pipeline never reads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::{client, setup};

/// Only a stuck connection waits this long: every exchange below ends with the server closing.
const WAIT: Duration = Duration::from_secs(10);


fn statuses(out: &str) -> Vec<&str> {
    out.match_indices("HTTP/1.1 ").map(|(i, _)| &out[i + 9..i + 12]).collect()
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_with_their_bodies() {
    let (node, sluice) = setup("").await;
    let raw = concat!(
        "GET /fake-sized/_doc/1?size=5 HTTP/1.1\r\nHost: x\r\n\r\n",
        "PUT /fake-echo/_doc/2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst",
        "PUT /fake-echo/_doc/3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nsecond\r\n0\r\n\r\n",
        "GET /nope/_unknown_api HTTP/1.1\r\nHost: x\r\n\r\n",
        "PUT /fake-echo/_doc/4 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nthird",
    );
    let out = client::raw(sluice.addr, raw.as_bytes(), WAIT).await;
    assert_eq!(statuses(&out), ["200", "200", "200", "400", "200"], "{out}");
    let bodies: Vec<Vec<u8>> = node.received().into_iter().map(|r| r.body).collect();
    assert_eq!(bodies, [b"".to_vec(), b"first".to_vec(), b"second".to_vec(), b"third".to_vec()]);
    // Each echo answers with the body it got, in order.
    let (a, b, c) = (out.find("first").unwrap(), out.find("second").unwrap(), out.rfind("third").unwrap());
    assert!(a < b && b < c, "{out}");
}

#[tokio::test]
async fn ambiguous_framing_is_refused_before_anything_is_forwarded() {
    let (node, sluice) = setup("").await;
    for head in [
        "POST /i/_bulk HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /i/_bulk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        "POST /i/_bulk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
        "POST /i/_bulk HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
        "POST /i/_bulk HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        "POST /i/_bulk HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n  folded\r\n\r\n",
        "GET / HTTP/1.2\r\nHost: x\r\n\r\n",
    ] {
        // A request that would be forwarded rides behind each: it must never be read.
        let raw = format!("{head}GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let out = client::raw(sluice.addr, raw.as_bytes(), WAIT).await;
        assert_eq!(statuses(&out), ["400"], "{head:?}: {out}");
        assert!(out.contains("\"type\":\"illegal_argument_exception\"") && out.contains("connection: close"), "{out}");
    }
    assert_eq!(node.count(), 0);
}

#[tokio::test]
async fn heads_far_over_the_limit_get_an_elasticsearch_shaped_431() {
    let (node, sluice) = setup("[listen]\nmax_header_size = \"4KiB\"\n").await;
    // Just over the limit: read whole, answered by the pipeline, the connection kept.
    let just_over = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(5000));
    let out = client::raw(sluice.addr, format!("{just_over}GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(), WAIT).await;
    assert_eq!(statuses(&out), ["431", "200"], "{out}");
    // Far over it (still arriving): refused as it comes, in Elasticsearch's shape.
    let far_over = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}", "a".repeat(40_000));
    let out = client::raw(sluice.addr, far_over.as_bytes(), WAIT).await;
    assert_eq!(statuses(&out), ["431"], "{out}");
    assert!(out.contains("too_long_http_header_exception") && out.contains("[4096]"), "{out}");
    let many = format!("GET / HTTP/1.1\r\nHost: x\r\n{}\r\n", "X-N: 1\r\n".repeat(200));
    let out = client::raw(sluice.addr, many.as_bytes(), WAIT).await;
    assert_eq!(statuses(&out), ["431"], "{out}");
    assert_eq!(node.count(), 1);
}

#[tokio::test]
async fn a_client_still_sending_a_refused_head_reads_the_431_and_is_not_reset() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (node, sluice) = setup("[listen]\nmax_header_size = \"4KiB\"\n").await;
    // A small send buffer keeps most of the head in the client's hands when it is refused, as
    // over a real network (on loopback the kernel would otherwise take it all at once).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(16 * 1024).unwrap();
    let (mut r, mut w) = socket.connect(sluice.addr).await.unwrap().into_split();
    // A 1 MiB head: refused after its first few KiB, while the client is still writing it.
    let head = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(1 << 20));
    let writer = tokio::spawn(async move { w.write_all(head.as_bytes()).await });
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, r.read_to_end(&mut out)).await.unwrap().expect("the answer, then the end of the stream, not a reset");
    let out = String::from_utf8_lossy(&out);
    assert_eq!(statuses(&out), ["431"], "{out}");
    assert!(out.contains("too_long_http_header_exception"), "{out}");
    writer.await.unwrap().expect("the whole head was written: the refused connection was read to its end, not reset");
    assert_eq!(node.count(), 0);
}

#[tokio::test]
async fn http_1_0_clients_get_a_closed_or_kept_connection_as_they_asked() {
    let (node, sluice) = setup("").await;
    let out = client::raw(sluice.addr, b"GET / HTTP/1.0\r\n\r\n", WAIT).await;
    assert_eq!(statuses(&out), ["200"], "{out}");
    assert!(out.contains("connection: close") && out.contains("content-length: "), "{out}");
    // Keep-alive asked for: a second request on the same connection is answered.
    let two = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n";
    let out = client::raw(sluice.addr, two, WAIT).await;
    assert_eq!(statuses(&out), ["200", "200"], "{out}");
    assert!(out.contains("connection: keep-alive"), "{out}");
    // A body of unknown length is delimited by the close (no chunked coding in HTTP/1.0).
    let out = client::raw(sluice.addr, b"GET /fake-chunked/_doc/1?size=1000 HTTP/1.0\r\n\r\n", WAIT).await;
    let body = out.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert!(!out.contains("transfer-encoding") && body.as_bytes() == support::fake_node::pattern(1000), "{out}");
    assert_eq!(node.count(), 4);
}

#[tokio::test]
async fn a_body_the_pipeline_never_reads_closes_the_connection_after_the_answer() {
    let (node, sluice) = setup("").await;
    // A method the endpoint does not take, with a streamed body: refused before the body is
    // read. The bytes after the refusal are not taken for a request.
    let raw = "POST /_unknown_thing HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nGET /\r\n";
    let out = client::raw(sluice.addr, raw.as_bytes(), WAIT).await;
    assert_eq!(statuses(&out), ["405"], "{out}");
    assert!(out.contains("connection: close"), "{out}");
    assert_eq!(node.count(), 0);
}

#[tokio::test]
async fn a_client_gone_mid_body_leaves_the_proxy_serving() {
    let (node, sluice) = setup("").await;
    {
        use tokio::io::AsyncWriteExt;
        let mut tcp = tokio::net::TcpStream::connect(sluice.addr).await.unwrap();
        tcp.write_all(b"PUT /fake-echo/_doc/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part").await.unwrap();
    }
    let out = client::raw(sluice.addr, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", WAIT).await;
    assert_eq!(statuses(&out), ["200"], "{out}");
    // The broken request never reached the node whole.
    assert!(node.received().iter().all(|r| r.body.len() != 100));
}
