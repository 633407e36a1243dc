//! The admin listener: health now; the grants API, explain and metrics are added here.
//!
//! Invariant: the admin module never imports the pipeline; both share only state handed to
//! them by `app`.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::body::ResBody;
use crate::forward::Pool;
use crate::listener::{ConnInfo, Handler};
use crate::pipeline::respond;

#[derive(Clone, Debug)]
pub struct AdminSettings {
    pub address: SocketAddr,
}

#[derive(Clone)]
pub struct Admin {
    pool: Arc<Pool>,
}

impl Admin {
    pub fn new(pool: Arc<Pool>) -> Self {
        Self { pool }
    }

    fn ready(&self) -> Response<ResBody> {
        let nodes: Vec<_> = self
            .pool
            .health()
            .into_iter()
            .map(|(node, healthy)| serde_json::json!({ "node": node, "healthy": healthy }))
            .collect();
        let ready = self.pool.any_healthy();
        let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
        respond::json(status, serde_json::json!({ "ready": ready, "nodes": nodes }).to_string())
    }
}

impl Handler for Admin {
    async fn handle(&self, req: Request<Incoming>, _conn: Arc<ConnInfo>) -> Response<ResBody> {
        match (req.method(), req.uri().path()) {
            (&Method::GET, "/live") => respond::json(StatusCode::OK, r#"{"live":true}"#.into()),
            (&Method::GET, "/ready") => self.ready(),
            _ => {
                let reason = format!("no admin endpoint for [{}] [{}]", req.method(), req.uri().path());
                respond::json(StatusCode::NOT_FOUND, respond::error_body("resource_not_found_exception", &reason, 404))
            }
        }
    }
}
