//! Sluice: an authorizing, streaming reverse proxy for Elasticsearch and OpenSearch.
//!
//! `run` starts the proxy and admin listeners on sockets the caller bound, so tests start
//! Sluice in-process on port 0.

pub mod admin;
pub mod app;
pub mod audit;
pub mod authn;
pub mod authz;
pub mod body;
pub mod framing;
pub mod classify;
pub mod clock;
pub mod config;
pub mod fetch;
pub mod forward;
pub mod listener;
pub mod pipeline;
pub mod privilege;
pub mod store;
pub mod telemetry;

pub use app::{bind, run, Control, Listeners, StartError};
pub use config::Config;
