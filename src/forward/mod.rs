//! The only module that talks to the cluster.
//!
//! Invariants: connections to nodes are pooled HTTP/1.1 keep-alive connections, each driven
//! by the request using it (`conn`, over the codec in `h1`); nodes are chosen round-robin among
//! the healthy ones; a node that refuses a connection is skipped for a back-off that doubles up
//! to a maximum; a request is retried on another node only when no byte of it reached a node
//! (the connection could not be made, or its first write failed); once its body started
//! streaming it is never retried.

mod conn;
mod h1;
mod node;
mod pool;

use std::path::PathBuf;
use std::time::Duration;

pub use node::{NodeAddr, Scheme};
pub use pool::{Pool, PooledBody};

/// Settings for the node pool.
#[derive(Clone, Debug)]
pub struct UpstreamSettings {
    pub nodes: Vec<NodeAddr>,
    pub ca: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    pub backoff: Duration,
    pub backoff_max: Duration,
    pub max_idle_per_node: usize,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self {
            nodes: Vec::new(),
            ca: None,
            client_cert: None,
            client_key: None,
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(120),
            backoff: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            max_idle_per_node: 512,
        }
    }
}

/// Why a request could not be forwarded.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("no node accepted a connection")]
    NoNode,
    #[error("timed out connecting to the nodes")]
    ConnectTimeout,
    #[error("the node did not answer within {0:?}")]
    ResponseTimeout(Duration),
    #[error("the node failed while the request was in flight: {0}")]
    Upstream(UpstreamError),
}

/// What went wrong on a node connection.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The node's bytes are not HTTP/1.1 Sluice passes on.
    #[error("{0}")]
    Protocol(&'static str),
    /// The request body failed while it was being sent.
    #[error("request body: {0}")]
    Body(Box<crate::body::BodyError>),
}
