//! TLS and mTLS in front of Sluice and towards the nodes, and certificate reload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use rustls::pki_types::ServerName;
use support::client::{empty, req, Sender};
use support::fake_node::Options;
use support::{FakeNode, SluiceBuilder, TestPki};

fn front_tls(pki: &TestPki, client_ca: bool) -> String {
    let server = pki.issue("front", "sluice.test");
    let mut s = format!("[listen.tls]\ncert = {:?}\nkey = {:?}\n", server.cert, server.key);
    if client_ca {
        s.push_str(&format!("client_ca = {:?}\n", pki.ca()));
    }
    s
}

#[tokio::test]
async fn front_tls_serves_http1_and_h2_by_alpn() {
    let pki = TestPki::new();
    let node = FakeNode::start().await;
    let sluice = SluiceBuilder::new(&[node.url()]).toml(&front_tls(&pki, false)).start().await;
    for alpn in [&b"h2"[..], &b"http/1.1"[..]] {
        let mut c = Sender::tls(sluice.addr, pki.client_config(None, &[alpn])).await;
        assert_eq!(matches!(c, Sender::H2(_)), alpn == b"h2");
        let got = c.fetch(req("GET", sluice.addr, "/", empty())).await;
        assert_eq!(got.status, 200);
        assert_eq!(got.json()["tagline"], "You Know, for Search");
        assert_eq!(node.last().headers["x-forwarded-proto"], "https");
    }
}

#[tokio::test]
async fn mtls_requires_a_client_certificate_from_the_ca() {
    let pki = TestPki::new();
    let node = FakeNode::start().await;
    let sluice = SluiceBuilder::new(&[node.url()]).toml(&front_tls(&pki, true)).start().await;
    // Without a certificate the handshake (or the first read) fails.
    let tcp = tokio::net::TcpStream::connect(sluice.addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let connector = tokio_rustls::TlsConnector::from(pki.client_config(None, &[b"http/1.1"]));
    let refused = match connector.connect(name.clone(), tcp).await {
        Err(_) => true,
        Ok(mut s) => {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
            let mut buf = [0u8; 16];
            !matches!(s.read(&mut buf).await, Ok(n) if n > 0)
        }
    };
    assert!(refused, "a client without a certificate must not be served");
    // A certificate from another CA is refused too.
    let other = TestPki::new();
    let stranger = other.issue("stranger", "mallory");
    let mut cfg = (*other.client_config(Some(&stranger), &[b"http/1.1"])).clone();
    cfg.root_store_from(&pki);
    let tcp = tokio::net::TcpStream::connect(sluice.addr).await.unwrap();
    let res = tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(name, tcp).await;
    if let Ok(mut s) = res {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let mut buf = [0u8; 16];
        assert!(!matches!(s.read(&mut buf).await, Ok(n) if n > 0), "a foreign certificate must not be served");
    }
    // With a certificate from the CA it works.
    let alice = pki.issue("alice", "alice");
    let mut c = Sender::tls(sluice.addr, pki.client_config(Some(&alice), &[b"h2"])).await;
    assert_eq!(c.fetch(req("GET", sluice.addr, "/", empty())).await.status, 200);
}

/// Lets a client configuration built for one PKI trust another PKI's server.
trait TrustOther {
    fn root_store_from(&mut self, pki: &TestPki);
}

impl TrustOther for rustls::ClientConfig {
    fn root_store_from(&mut self, pki: &TestPki) {
        let alpn = self.alpn_protocols.clone();
        let base = pki.client_config(None, &[]);
        let resolver = self.client_auth_cert_resolver.clone();
        *self = (*base).clone();
        self.client_auth_cert_resolver = resolver;
        self.alpn_protocols = alpn;
    }
}

#[tokio::test]
async fn https_node_with_ca_and_client_certificate() {
    let pki = TestPki::new();
    let node_cert = pki.issue("node", "node-1");
    let node = FakeNode::start_with(Options::default(), Some(pki.server_config(&node_cert, true))).await;
    let client = pki.issue("sluice-client", "sluice");
    let cfg = format!(
        "[upstream]\nca = {:?}\nclient_cert = {:?}\nclient_key = {:?}\n",
        pki.ca(),
        client.cert,
        client.key
    );
    let url = format!("https://localhost:{}", node.addr.port());
    let sluice = SluiceBuilder::new(std::slice::from_ref(&url)).toml(&cfg).start().await;
    let mut c = Sender::h1(sluice.addr).await;
    let got = c.fetch(req("GET", sluice.addr, "/_search", empty())).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(node.count(), 1);
    // Without the client certificate the node refuses: Sluice answers 502.
    let sluice2 = SluiceBuilder::new(&[url]).toml(&format!("[upstream]\nca = {:?}\n", pki.ca())).start().await;
    let mut c = Sender::h1(sluice2.addr).await;
    assert_eq!(c.fetch(req("GET", sluice2.addr, "/_search", empty())).await.status, 502);
}

#[tokio::test]
async fn untrusted_node_certificate_is_refused() {
    let pki = TestPki::new();
    let other = TestPki::new();
    let node_cert = other.issue("node", "node-1");
    let node = FakeNode::start_with(Options::default(), Some(other.server_config(&node_cert, false))).await;
    let url = format!("https://localhost:{}", node.addr.port());
    let sluice = SluiceBuilder::new(&[url]).toml(&format!("[upstream]\nca = {:?}\n", pki.ca())).start().await;
    let mut c = Sender::h1(sluice.addr).await;
    assert_eq!(c.fetch(req("GET", sluice.addr, "/", empty())).await.status, 502);
    assert_eq!(node.count(), 0);
}

fn peer_cn(c: &tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> Vec<u8> {
    c.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

#[tokio::test]
async fn sighup_reload_swaps_certificates_without_dropping_connections() {
    let pki = TestPki::new();
    let node = FakeNode::start().await;
    let first = pki.issue("front", "first");
    let cfg = format!("[listen.tls]\ncert = {:?}\nkey = {:?}\n", first.cert, first.key);
    let sluice = SluiceBuilder::new(&[node.url()]).toml(&cfg).start().await;
    let connect = || async {
        let tcp = tokio::net::TcpStream::connect(sluice.addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        tokio_rustls::TlsConnector::from(pki.client_config(None, &[b"http/1.1"])).connect(name, tcp).await.unwrap()
    };
    let before = peer_cn(&connect().await);
    let mut open = Sender::tls(sluice.addr, pki.client_config(None, &[b"http/1.1"])).await;
    assert_eq!(open.fetch(req("GET", sluice.addr, "/", empty())).await.status, 200);
    // Renew the certificate in place (same paths), then signal.
    let renewed = pki.issue("renewed", "second");
    std::fs::copy(&renewed.cert, &first.cert).unwrap();
    std::fs::copy(&renewed.key, &first.key).unwrap();
    sluice.reload();
    let mut after = before.clone();
    for _ in 0..200 {
        after = peer_cn(&connect().await);
        if after != before {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_ne!(before, after, "new connections must see the renewed certificate");
    assert_eq!(std::fs::read(&renewed.cert).unwrap(), std::fs::read(&first.cert).unwrap());
    // The connection opened before the reload still works.
    assert_eq!(open.fetch(req("GET", sluice.addr, "/", empty())).await.status, 200);
}
