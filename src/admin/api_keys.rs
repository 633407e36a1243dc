//! `POST/GET /_sluice/api_keys`, `DELETE /_sluice/api_keys/{id}`: Elasticsearch-format API keys
//! a policy engine hands to requesters, living exactly as long as the access they were granted.

use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::{error, ok_json, AdminState};
use crate::body::ResBody;
use crate::authn::api_key::parse_expiration;
use crate::store::State;

/// Persists the API keys (with whatever else the state holds).
pub fn persist(state: &AdminState) -> Result<(), String> {
    let keys = state.api_keys.all();
    state.store.update(|s: &mut State| s.api_keys = keys)
}

pub fn create(state: &AdminState, admin: &str, body: &Value) -> Response<ResBody> {
    let now = state.clock.now_ms();
    let str_field = |k: &str| body.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let Some(name) = str_field("name") else {
        return error(StatusCode::BAD_REQUEST, "action_request_validation_exception", "Validation Failed: 1: api key name is required;");
    };
    let Some(owner) = str_field("owner").or_else(|| str_field("username")) else {
        return error(StatusCode::BAD_REQUEST, "action_request_validation_exception", "Validation Failed: 1: owner is required;");
    };
    let groups = match body.get("groups") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        Some(_) => return error(StatusCode::BAD_REQUEST, "action_request_validation_exception", "groups must be a list of strings"),
    };
    let expiration = match parse_expiration(body.get("expiration").unwrap_or(&Value::Null), now) {
        Ok(e) => e,
        Err(e) => return error(StatusCode::BAD_REQUEST, "action_request_validation_exception", &e),
    };
    let created = match state.api_keys.create(name, owner, groups, expiration, now) {
        Ok((c, _)) => c,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "exception", &e),
    };
    if let Err(e) = persist(state) {
        state.api_keys.invalidate(&created.id);
        tracing::error!(error = %e, "cannot persist API keys");
        return error(StatusCode::INTERNAL_SERVER_ERROR, "exception", "the API key could not be persisted");
    }
    tracing::info!(admin, id = %created.id, name, owner, "API key created");
    state.audit.admin(now, admin, "api_key.create", true, json!({"api_key": {"id": created.id, "name": name, "owner": owner, "expiration": expiration.map(crate::clock::rfc3339)}}));
    ok_json(serde_json::to_value(&created).unwrap_or_default())
}

pub fn list(state: &AdminState) -> Response<ResBody> {
    let keys: Vec<Value> = state
        .api_keys
        .all()
        .into_iter()
        .map(|k| json!({ "id": k.id, "name": k.name, "owner": k.owner, "groups": k.groups, "creation": k.creation,
                          "expiration": k.expiration, "invalidated": k.invalidated }))
        .collect();
    ok_json(json!({ "api_keys": keys }))
}

pub fn invalidate(state: &AdminState, admin: &str, id: &str) -> Response<ResBody> {
    match state.api_keys.invalidate(id) {
        None => error(StatusCode::NOT_FOUND, "resource_not_found_exception", &format!("no API key with id [{id}]")),
        Some(was_live) => {
            if let Err(e) = persist(state) {
                tracing::error!(error = %e, "cannot persist API keys");
                return error(StatusCode::INTERNAL_SERVER_ERROR, "exception", "the invalidation could not be persisted");
            }
            tracing::info!(admin, id, "API key invalidated");
            state.audit.admin(state.clock.now_ms(), admin, "api_key.invalidate", true, json!({"api_key": {"id": id, "was_live": was_live}}));
            let (now, before): (Vec<&str>, Vec<&str>) = if was_live { (vec![id], vec![]) } else { (vec![], vec![id]) };
            ok_json(json!({ "invalidated_api_keys": now, "previously_invalidated_api_keys": before, "error_count": 0 }))
        }
    }
}
