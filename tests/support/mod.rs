//! Test support: an in-process fake Elasticsearch node, certificates, clients and a helper that
//! starts Sluice in-process on 127.0.0.1:0. Every socket is on loopback, every port is 0.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod certs;
pub mod client;
pub mod fake_node;
pub mod proxy;

pub use certs::TestPki;
pub use fake_node::{FakeNode, Received};
pub use proxy::{Sluice, SluiceBuilder};

/// A fake node and Sluice in front of it, with `extra` TOML added to the configuration.
pub async fn setup(extra: &str) -> (FakeNode, Sluice) {
    let node = FakeNode::start().await;
    let sluice = SluiceBuilder::new(&[node.url()]).toml(extra).start().await;
    (node, sluice)
}
