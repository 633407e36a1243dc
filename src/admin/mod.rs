//! The admin listener: health, API keys (and the grants API, explain and metrics).
//!
//! Invariants: the admin module never imports the pipeline; both share only state handed to
//! them by `app`. Everything but `/live` and `/ready` needs the admin bearer token or a
//! verified client certificate; every change is persisted before it is acknowledged.

mod api_keys;
mod grants;
mod observe;

use std::net::SocketAddr;
use std::sync::Arc;

use http::{header, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;

use crate::authn::api_key::ApiKeyStore;
use crate::body::{ClientBody, ResBody};
use crate::clock::SharedClock;
use crate::forward::Pool;
use crate::listener::{ConnInfo, Handler};
use crate::pipeline::respond;
use crate::store::Store;

#[derive(Clone, Debug)]
pub struct AdminSettings {
    pub address: SocketAddr,
    /// Bearer token for the admin API.
    pub token: Option<String>,
    /// TLS for the admin listener; with `client_ca`, a verified client certificate authenticates.
    pub tls: Option<crate::listener::TlsFiles>,
}

/// What the admin API reads and changes.
pub struct AdminState {
    pub pool: Arc<Pool>,
    pub api_keys: Arc<ApiKeyStore>,
    pub store: Arc<Store>,
    pub authz: Arc<crate::authz::Authorizer>,
    pub clock: SharedClock,
    pub token: Option<String>,
    pub audit: Arc<crate::audit::Audit>,
    pub metrics: Arc<crate::telemetry::metrics::Metrics>,
    pub authn: Arc<crate::authn::Authenticator>,
}

#[derive(Clone)]
pub struct Admin {
    state: Arc<AdminState>,
}

/// Largest admin request body read.
const MAX_BODY: usize = 256 << 20;

impl Admin {
    pub fn new(state: AdminState) -> Self {
        Self { state: Arc::new(state) }
    }

    /// Runs a table change (validation, compilation, fsync) off the request threads.
    async fn blocking(&self, f: impl FnOnce(&AdminState) -> Response<ResBody> + Send + 'static) -> Response<ResBody> {
        let state = self.state.clone();
        match tokio::task::spawn_blocking(move || f(&state)).await {
            Ok(res) => res,
            Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "exception", "the change failed"),
        }
    }

    /// The admin identity, or `None` when the caller is not an admin.
    fn identify(&self, req: &Request<ClientBody>, conn: &ConnInfo) -> Option<String> {
        if let Some(t) = &self.state.token {
            let given = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
            if given.is_some_and(|g| crate::authn::ct_eq(g.trim().as_bytes(), t.as_bytes())) {
                return Some("admin-token".into());
            }
        }
        // A client certificate on the admin listener was verified against the admin CA.
        let leaf = conn.tls.as_ref()?.client_certs.first()?;
        let cn = crate::authn::mtls::identity(leaf, crate::authn::mtls::CertField::Cn)?;
        Some(format!("mtls:{cn}"))
    }
}

pub fn error(status: StatusCode, kind: &str, reason: &str) -> Response<ResBody> {
    respond::json(status, respond::error_body(kind, reason, status.as_u16()))
}

pub fn ok_json(v: serde_json::Value) -> Response<ResBody> {
    respond::json(StatusCode::OK, v.to_string())
}

/// Reads an admin request body as JSON (an empty body is `{}`).
async fn read_json(req: Request<ClientBody>) -> Result<serde_json::Value, Response<ResBody>> {
    let body = http_body_util::Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|_| error(StatusCode::PAYLOAD_TOO_LARGE, "content_too_long_exception", "admin request body too large or broken"))?
        .to_bytes();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::json!({}));
    }
    serde_json::from_slice(&body).map_err(|e| error(StatusCode::BAD_REQUEST, "parse_exception", &format!("request body is not valid JSON: {e}")))
}

impl Handler for Admin {
    async fn handle(&self, req: Request<ClientBody>, conn: Arc<ConnInfo>) -> Response<ResBody> {
        let path = req.uri().path().to_string();
        match (req.method(), path.as_str()) {
            (&Method::GET, "/live") => return respond::json(StatusCode::OK, r#"{"live":true}"#.into()),
            (&Method::GET, "/ready") => return observe::ready(&self.state),
            _ => {}
        }
        let Some(admin) = self.identify(&req, &conn) else {
            let mut res = error(StatusCode::UNAUTHORIZED, "security_exception", "the admin API needs the admin token or an admin client certificate");
            res.headers_mut().insert(header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer realm=\"sluice-admin\""));
            return res;
        };
        // Ids in the path arrive percent-encoded (`ops%20311`): decoded before use.
        let decoded: Result<Vec<String>, String> =
            path.trim_matches('/').split('/').map(|seg| crate::classify::path::decode(seg, false).map(std::borrow::Cow::into_owned)).collect();
        let decoded = match decoded {
            Ok(d) => d,
            Err(e) => return error(StatusCode::BAD_REQUEST, "illegal_argument_exception", &format!("invalid path: {e}")),
        };
        let segs: Vec<&str> = decoded.iter().map(String::as_str).collect();
        match (req.method().clone(), segs.as_slice()) {
            (Method::POST, ["_sluice", "api_keys"]) => match read_json(req).await {
                Ok(body) => api_keys::create(&self.state, &admin, &body),
                Err(res) => res,
            },
            (Method::GET, ["_sluice", "api_keys"]) => api_keys::list(&self.state),
            (Method::DELETE, ["_sluice", "api_keys", id]) => api_keys::invalidate(&self.state, &admin, id),
            (Method::PUT, ["_sluice", "grants"]) => match read_json(req).await {
                Ok(body) => self.blocking(move |st| grants::replace(st, &admin, &body)).await,
                Err(res) => res,
            },
            (Method::GET, ["_sluice", "grants"]) => grants::list(&self.state, req.uri().query()),
            (Method::GET, ["_sluice", "grants", "_status"]) => grants::status(&self.state),
            (Method::GET, ["_sluice", "grants", id]) => grants::get(&self.state, id),
            (Method::PUT, ["_sluice", "grants", id]) => {
                let id = id.to_string();
                match read_json(req).await {
                    Ok(body) => self.blocking(move |st| grants::upsert(st, &admin, &id, &body)).await,
                    Err(res) => res,
                }
            }
            (Method::DELETE, ["_sluice", "grants", id]) => {
                let id = id.to_string();
                self.blocking(move |st| grants::revoke(st, &admin, &id)).await
            }
            (Method::GET, ["metrics"]) => observe::metrics(&self.state),
            (Method::PUT, ["_sluice", "log_level"]) => match read_json(req).await {
                Ok(body) => observe::log_level(&self.state, &admin, &body),
                Err(res) => res,
            },
            (Method::POST, ["_sluice", "explain"]) => match read_json(req).await {
                Ok(body) => grants::explain(&self.state, &body),
                Err(res) => res,
            },
            _ => {
                let reason = format!("no admin endpoint for [{}] [{}]", req.method(), path);
                error(StatusCode::NOT_FOUND, "resource_not_found_exception", &reason)
            }
        }
    }
}
