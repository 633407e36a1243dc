//! Elasticsearch's own-API-key APIs, answered with Sluice API keys for the caller. Forwarded,
//! `POST /_security/api_key` would mint a cluster key for Sluice's service account — one that
//! does not authenticate through Sluice and carries the service account's power if used on the
//! cluster directly. Here the caller gets a Sluice key in Elasticsearch's response shape, owned
//! by the caller (its groups too), so it holds exactly the caller's live grants and no more.
//!
//! As in Elasticsearch, the caller needs `manage_own_api_key` (or a privilege implying it).
//! Create, get and invalidate are answered; update, clone, bulk update and query are refused
//! (a Sluice key has no role descriptors to change). Keys are persisted like the admin API's.

use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::record::Ctx;
use super::respond::{self, Failure};
use super::Shared;
use crate::authn::api_key::{parse_expiration, ApiKey};
use crate::authn::Principal;
use crate::body::ResBody;
use crate::classify::Classification;
use crate::privilege::ClusterPriv;
use crate::telemetry::metrics::Outcome;

/// What the own-key APIs read of the request.
pub(super) struct Request<'a> {
    pub query: Option<&'a str>,
    pub body: crate::body::ReqBody,
    /// The body as inspected (empty when the route does not inspect it).
    pub plain: bytes::Bytes,
    pub encoding: Option<&'a str>,
    pub now: i64,
}

fn bad(reason: impl Into<String>) -> Failure {
    Failure::BadRequest { kind: "action_request_validation_exception", reason: reason.into() }
}

impl Shared {
    /// Answers one of `classify::OWN_API_KEY_APIS` for `p`.
    async fn own_keys(&self, c: &Classification, p: &Principal, query: Option<&str>, body: &[u8], now: i64, ctx: &mut Ctx) -> Result<Response<ResBody>, Failure> {
        if let Some(r) = ctx.rec() {
            r.api = Some(c.api);
            r.decision = Some("local");
        }
        let authz = &self.security.authz;
        let snap = authz.snapshot();
        let bit = ClusterPriv::ManageOwnApiKey.bit();
        let held = snap.live_for(p, now).iter().any(|g| g.cluster_mask & bit != 0);
        if !held && authz.mode == crate::authz::Mode::Enforce {
            let reason = format!("action [{}] is unauthorized for user [{}], this action is granted by the cluster privileges [manage_own_api_key]", c.api, p.user);
            return Err(Failure::Forbidden { reason });
        }
        // An empty body reads as `{}`.
        let doc = crate::classify::body::parse_json(body).map_err(Failure::Refused)?;
        let answer = match c.api {
            "security.create_api_key" => self.create_own_key(p, &doc, now).await?,
            "security.get_api_key" => self.get_own_keys(p, query),
            "security.invalidate_api_key" => self.invalidate_own_keys(p, &doc, now).await?,
            other => {
                return Err(Failure::BadRequest {
                    kind: "illegal_argument_exception",
                    reason: format!("[{other}] is not supported through Sluice: its API keys are created, listed and invalidated, and hold their owner's grants"),
                })
            }
        };
        ctx.outcome = Outcome::Allowed;
        Ok(respond::json(StatusCode::OK, answer.to_string()))
    }

    async fn create_own_key(&self, p: &Principal, doc: &Value, now: i64) -> Result<Value, Failure> {
        let obj = doc.as_object().ok_or_else(|| bad("the request body must be a JSON object"))?;
        if let Some(k) = obj.keys().find(|k| !matches!(k.as_str(), "name" | "expiration" | "role_descriptors" | "metadata")) {
            return Err(bad(format!("unknown field [{k}]")));
        }
        let name = obj.get("name").and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or_else(|| bad("Validation Failed: 1: api key name is required;"))?;
        if obj.get("role_descriptors").is_some_and(|r| r.as_object().is_none_or(|m| !m.is_empty())) {
            return Err(bad("role_descriptors are not supported by Sluice: a key holds its owner's grants, which a policy engine narrows"));
        }
        let expiration = parse_expiration(obj.get("expiration").unwrap_or(&Value::Null), now).map_err(bad)?;
        let keys = &self.security.authn.api_keys;
        let (created, _) = keys.create(name, &p.user, p.groups.clone(), expiration, now).map_err(|reason| Failure::Internal { reason })?;
        if let Err(e) = self.persist_keys().await {
            keys.invalidate(&created.id);
            tracing::error!(error = %e, "cannot persist API keys");
            return Err(Failure::Internal { reason: "the API key could not be persisted".into() });
        }
        let detail = json!({"api_key": {"id": created.id, "name": name, "owner": p.user, "expiration": expiration.map(crate::clock::rfc3339)}, "via": "_security/api_key"});
        self.observe.audit.admin(now, &p.user, "api_key.create", true, detail);
        Ok(serde_json::to_value(&created).unwrap_or_default())
    }

    fn get_own_keys(&self, p: &Principal, query: Option<&str>) -> Value {
        let param = |name: &str| {
            query.unwrap_or("").split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == name).and_then(|(_, v)| crate::classify::path::decode(v, true).ok()).map(|v| v.into_owned())
        };
        let (id, name) = (param("id"), param("name"));
        let keys: Vec<Value> = self
            .mine(p)
            .into_iter()
            .filter(|k| id.as_deref().is_none_or(|i| i == k.id) && name.as_deref().is_none_or(|n| crate::authz::glob_match(n, &k.name)))
            .map(|k| {
                json!({"id": k.id, "name": k.name, "type": "rest", "creation": k.creation, "expiration": k.expiration, "invalidated": k.invalidated,
                       "username": k.owner, "realm": "_sluice", "metadata": {}})
            })
            .collect();
        json!({ "api_keys": keys })
    }

    async fn invalidate_own_keys(&self, p: &Principal, doc: &Value, now: i64) -> Result<Value, Failure> {
        let mine = self.mine(p);
        let ids: Vec<String> = match (doc.get("ids").or_else(|| doc.get("id")), doc.get("name")) {
            (Some(Value::String(id)), _) => vec![id.clone()],
            (Some(Value::Array(a)), _) => a.iter().map(|v| v.as_str().map(str::to_string).ok_or_else(|| bad("[ids] must hold strings"))).collect::<Result<_, _>>()?,
            (Some(_), _) => return Err(bad("[ids] must be a list of strings")),
            (None, Some(Value::String(n))) => mine.iter().filter(|k| crate::authz::glob_match(n, &k.name)).map(|k| k.id.clone()).collect(),
            (None, _) if doc.get("owner") == Some(&Value::Bool(true)) => mine.iter().map(|k| k.id.clone()).collect(),
            _ => return Err(bad("Validation Failed: 1: One of [api key id(s), api key name, owner] must be specified;")),
        };
        let (mut now_off, mut before, mut errors) = (Vec::new(), Vec::new(), Vec::new());
        let keys = &self.security.authn.api_keys;
        for id in ids {
            // Another owner's key is reported as not found, as Elasticsearch does for own keys.
            match mine.iter().any(|k| k.id == id).then(|| keys.invalidate(&id)).flatten() {
                Some(true) => now_off.push(id),
                Some(false) => before.push(id),
                None => errors.push(json!({"type": "resource_not_found_exception", "reason": format!("api key [{id}] not found")})),
            }
        }
        if !now_off.is_empty() {
            self.persist_keys().await.map_err(|e| {
                tracing::error!(error = %e, "cannot persist API keys");
                Failure::Internal { reason: "the invalidation could not be persisted".into() }
            })?;
            self.observe.audit.admin(now, &p.user, "api_key.invalidate", true, json!({"api_key": {"ids": now_off}, "via": "_security/api_key"}));
        }
        let mut out = json!({"invalidated_api_keys": now_off, "previously_invalidated_api_keys": before, "error_count": errors.len()});
        if !errors.is_empty() {
            out["error_details"] = Value::Array(errors);
        }
        Ok(out)
    }

    /// The request as `process` has it: a body the route does not inspect is read here.
    pub(super) async fn own_keys_request(&self, c: &Classification, p: &Principal, r: Request<'_>, ctx: &mut Ctx) -> Result<Response<ResBody>, Failure> {
        let plain = match c.body {
            crate::classify::BodyPlan::None => self.whole_body(r.body, r.encoding).await?,
            _ => r.plain,
        };
        self.own_keys(c, p, r.query, &plain, r.now, ctx).await
    }

    /// A small body read whole and decoded (bounded like an inspected body).
    async fn whole_body(&self, body: crate::body::ReqBody, encoding: Option<&str>) -> Result<bytes::Bytes, Failure> {
        let s = &self.settings.inspect;
        let raw = super::inspect::buffer(body, s.max_buffered.min(self.settings.max_body_size)).await?;
        super::inspect::decoded(&raw, encoding, s.max_decompressed)
    }

    /// The caller's own keys (by owner name).
    fn mine(&self, p: &Principal) -> Vec<ApiKey> {
        self.security.authn.api_keys.all().into_iter().filter(|k| k.owner == p.user).collect()
    }

    /// Writes the keys to the state file, off the runtime's threads.
    async fn persist_keys(&self) -> Result<(), String> {
        let keys = self.security.authn.api_keys.all();
        let store = self.security.store.clone();
        tokio::task::spawn_blocking(move || store.update(|s| s.api_keys = keys)).await.map_err(|e| e.to_string())?
    }
}
