//! API keys in Elasticsearch's own format: `Authorization: ApiKey base64(id:secret)`. Keys are
//! created by the admin API, stored as SHA-256 hashes of their high-entropy secrets (never the
//! secret), dead at their expiry and when invalidated.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use base64::Engine;
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};

use super::{AuthnError, Principal, Scheme};

/// Elasticsearch's duration form for `expiration` ("1d", "12h", "30m", "45s", "2w", "500ms").
pub fn parse_expiration(v: &serde_json::Value, now_ms: i64) -> Result<Option<i64>, String> {
    match v {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) => {
            let s = s.trim();
            let split = s.find(|c: char| !c.is_ascii_digit()).ok_or("expiration needs a unit (d, h, m, s)")?;
            let n: i64 = s[..split].parse().map_err(|_| format!("bad expiration [{s}]"))?;
            let unit_ms = match &s[split..] {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                "w" => 7 * 86_400_000,
                other => return Err(format!("unknown expiration unit [{other}]")),
            };
            let ms = n.checked_mul(unit_ms).filter(|ms| *ms > 0).ok_or_else(|| format!("bad expiration [{s}]"))?;
            Ok(Some(now_ms.saturating_add(ms)))
        }
        _ => Err("expiration must be a duration such as \"1d\"".into()),
    }
}

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
    keys: RwLock<BTreeMap<String, Entry>>,
}

/// A key and what a request authenticated by it is: built once, shared by every request.
struct Entry {
    key: ApiKey,
    principal: Arc<Principal>,
    /// The stored hex hash as bytes, compared with the digest of the presented secret.
    digest: Option<[u8; 32]>,
}

impl Entry {
    fn new(key: ApiKey) -> Self {
        let mut p = Principal::new(key.owner.clone(), key.groups.clone(), Scheme::ApiKey);
        p.credential_id = Some(key.id.clone());
        p.attributes.insert("api_key_name".into(), key.name.clone());
        let digest = unhex32(&key.hash);
        Self { key, principal: Arc::new(p), digest }
    }
}

fn unhex32(hex: &str) -> Option<[u8; 32]> {
    let b = hex.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let nibble = |c: u8| char::from(c).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = nibble(b[2 * i])? << 4 | nibble(b[2 * i + 1])?;
    }
    Some(out)
}

fn random_token(bytes: usize) -> Result<String, String> {
    let mut buf = vec![0u8; bytes];
    ring::rand::SystemRandom::new().fill(&mut buf).map_err(|_| "no randomness available".to_string())?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

impl ApiKeyStore {
    pub fn from_keys(keys: Vec<ApiKey>) -> Self {
        Self { keys: RwLock::new(keys.into_iter().map(|k| (k.id.clone(), Entry::new(k))).collect()) }
    }

    pub fn all(&self) -> Vec<ApiKey> {
        self.keys.read().map(|k| k.values().map(|e| e.key.clone()).collect()).unwrap_or_default()
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
        self.keys.write().map_err(|_| "key store unavailable".to_string())?.insert(id.clone(), Entry::new(key.clone()));
        Ok((Created { id, name: name.to_string(), expiration, api_key: secret, encoded }, key))
    }

    /// Marks a key invalid; `Some(true)` when it was live, `Some(false)` if it already was invalid.
    pub fn invalidate(&self, id: &str) -> Option<bool> {
        let mut keys = self.keys.write().ok()?;
        let k = &mut keys.get_mut(id)?.key;
        let was = !k.invalidated;
        k.invalidated = true;
        Some(was)
    }

    pub fn get(&self, id: &str) -> Option<ApiKey> {
        self.keys.read().ok()?.get(id).map(|e| e.key.clone())
    }

    /// Checks a presented key: one SHA-256 of the secret compared in constant time with the
    /// stored digest, under a read lock; no copy of the key is made.
    pub fn verify(&self, id: &str, secret: &str, now_ms: i64) -> Result<Arc<Principal>, AuthnError> {
        let bad = |d: &str| AuthnError::invalid(Scheme::ApiKey, d.to_string());
        let given = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
        let keys = self.keys.read().map_err(|_| bad("API key store unavailable"))?;
        let e = keys.get(id).ok_or_else(|| bad("unknown API key"))?;
        if !e.digest.is_some_and(|d| super::ct_eq(given.as_ref(), &d)) {
            return Err(bad("wrong API key secret"));
        }
        if e.key.invalidated {
            return Err(bad("API key invalidated"));
        }
        if !e.key.is_live(now_ms) {
            return Err(bad("API key expired"));
        }
        Ok(e.principal.clone())
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

    #[test]
    fn stored_hash_is_read_back_as_the_digest() {
        let hex = super::super::cache::sha256_hex(b"s3cret");
        assert_eq!(hex, "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0");
        let d = unhex32(&hex).unwrap();
        assert_eq!(d.as_slice(), ring::digest::digest(&ring::digest::SHA256, b"s3cret").as_ref());
        for bad in ["", "zz", &hex[..62], &format!("{}g", &hex[..63])] {
            assert_eq!(unhex32(bad), None, "{bad}");
        }
        // A key whose stored hash is unreadable matches no secret.
        let mut key = ApiKey { id: "k".into(), name: "n".into(), owner: "o".into(), groups: vec![], hash: "nothex".into(), creation: 0, expiration: None, invalidated: false };
        let store = ApiKeyStore::from_keys(vec![key.clone()]);
        assert!(store.verify("k", "s3cret", 0).is_err());
        key.hash = hex;
        let store = ApiKeyStore::from_keys(vec![key]);
        assert_eq!(store.verify("k", "s3cret", 0).unwrap().user, "o");
    }
}
