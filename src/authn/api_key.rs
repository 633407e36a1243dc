//! API keys in Elasticsearch's own format: `Authorization: ApiKey base64(id:secret)`. Keys are
//! created by the admin API, stored as SHA-256 hashes of their high-entropy secrets (never the
//! secret), dead at their expiry and when invalidated.

use std::collections::BTreeMap;
use std::sync::RwLock;

use base64::Engine;
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};

use super::{AuthnError, Principal, Scheme};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub owner: String,
    #[serde(default)]
    pub groups: Vec<String>,
    /// Hex SHA-256 of the secret.
    pub hash: String,
    pub creation: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<i64>,
    #[serde(default)]
    pub invalidated: bool,
}

impl ApiKey {
    pub fn is_live(&self, now_ms: i64) -> bool {
        !self.invalidated && self.expiration.is_none_or(|e| now_ms < e)
    }
}

/// What creating a key returns, once: shaped like Elasticsearch's create-API-key response.
#[derive(Debug, Serialize)]
pub struct Created {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<i64>,
    pub api_key: String,
    pub encoded: String,
}

#[derive(Default)]
pub struct ApiKeyStore {
    keys: RwLock<BTreeMap<String, ApiKey>>,
}

fn random_token(bytes: usize) -> Result<String, String> {
    let mut buf = vec![0u8; bytes];
    ring::rand::SystemRandom::new().fill(&mut buf).map_err(|_| "no randomness available".to_string())?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

impl ApiKeyStore {
    pub fn from_keys(keys: Vec<ApiKey>) -> Self {
        Self { keys: RwLock::new(keys.into_iter().map(|k| (k.id.clone(), k)).collect()) }
    }

    pub fn all(&self) -> Vec<ApiKey> {
        self.keys.read().map(|k| k.values().cloned().collect()).unwrap_or_default()
    }

    /// Creates a key; the secret is returned once and only its hash is kept.
    pub fn create(&self, name: &str, owner: &str, groups: Vec<String>, expiration: Option<i64>, now_ms: i64) -> Result<(Created, ApiKey), String> {
        let id = random_token(15)?;
        let secret = random_token(16)?;
        let key = ApiKey {
            id: id.clone(),
            name: name.to_string(),
            owner: owner.to_string(),
            groups,
            hash: super::cache::sha256_hex(secret.as_bytes()),
            creation: now_ms,
            expiration,
            invalidated: false,
        };
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        self.keys.write().map_err(|_| "key store unavailable".to_string())?.insert(id.clone(), key.clone());
        Ok((Created { id, name: name.to_string(), expiration, api_key: secret, encoded }, key))
    }

    /// Marks a key invalid; `Some(true)` when it was live, `Some(false)` if it already was invalid.
    pub fn invalidate(&self, id: &str) -> Option<bool> {
        let mut keys = self.keys.write().ok()?;
        let k = keys.get_mut(id)?;
        let was = !k.invalidated;
        k.invalidated = true;
        Some(was)
    }

    pub fn get(&self, id: &str) -> Option<ApiKey> {
        self.keys.read().ok()?.get(id).cloned()
    }

    pub fn verify(&self, id: &str, secret: &str, now_ms: i64) -> Result<Principal, AuthnError> {
        let bad = |d: &str| AuthnError::invalid(Scheme::ApiKey, d.to_string());
        let key = self.get(id).ok_or_else(|| bad("unknown API key"))?;
        let given = super::cache::sha256_hex(secret.as_bytes());
        if !super::ct_eq(given.as_bytes(), key.hash.as_bytes()) {
            return Err(bad("wrong API key secret"));
        }
        if key.invalidated {
            return Err(bad("API key invalidated"));
        }
        if !key.is_live(now_ms) {
            return Err(bad("API key expired"));
        }
        let mut p = Principal::new(key.owner.clone(), key.groups.clone(), Scheme::ApiKey);
        p.credential_id = Some(key.id.clone());
        p.attributes.insert("api_key_name".into(), key.name.clone());
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_verify_expire_invalidate() {
        let store = ApiKeyStore::default();
        let (created, stored) = store.create("ci", "alice", vec!["ops".into()], Some(10_000), 0).unwrap();
        assert_ne!(stored.hash, created.api_key);
        let p = store.verify(&created.id, &created.api_key, 9_999).unwrap();
        assert_eq!((p.user.as_str(), p.credential_id.as_deref()), ("alice", Some(created.id.as_str())));
        assert!(store.verify(&created.id, "wrong", 0).is_err());
        assert!(store.verify("nope", &created.api_key, 0).is_err());
        assert!(store.verify(&created.id, &created.api_key, 10_000).is_err(), "dead at its expiry");
        assert_eq!(store.invalidate(&created.id), Some(true));
        assert_eq!(store.invalidate(&created.id), Some(false));
        assert!(store.verify(&created.id, &created.api_key, 0).is_err());
        let (a, b) = super::super::decode_pair(&created.encoded).unwrap();
        assert_eq!((a, b), (created.id, created.api_key));
    }
}
