//! JWT bearer tokens: HS256/384/512 with a shared secret; RS/PS/ES/EdDSA with public keys from
//! PEM or a JWKS (file or https URL, refreshed in the background and on an unknown `kid`,
//! rate-limited). `exp` is required; `nbf`, `iss`, `aud` are checked when present/configured,
//! with a small leeway, against the injected clock. `alg: none` and HS/RS key confusion are
//! refused: HMAC algorithms only ever meet the configured secret.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokio::sync::Notify;

use super::cache::CredentialCache;
use super::{AuthnError, Principal, Scheme};

/// Where a JWKS document comes from.
#[derive(Clone, Debug)]
pub enum JwksSource {
    File(PathBuf),
    Url { url: String, ca: Option<PathBuf> },
}

#[derive(Clone, Debug)]
pub struct JwtSettings {
    /// The HMAC secret for HS256/384/512 (read from an environment variable or a file).
    pub hmac_secret: Option<Vec<u8>>,
    /// PEM public keys (RSA, EC or Ed25519).
    pub public_keys: Vec<Vec<u8>>,
    pub jwks: Option<JwksSource>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub user_claim: String,
    pub groups_claim: String,
    pub leeway: Duration,
    pub jwks_refresh: Duration,
    pub jwks_min_interval: Duration,
    pub cache_ttl: Duration,
    pub cache_size: u64,
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            hmac_secret: None,
            public_keys: Vec::new(),
            jwks: None,
            issuer: None,
            audience: None,
            user_claim: "sub".into(),
            groups_claim: "groups".into(),
            leeway: Duration::from_secs(30),
            jwks_refresh: Duration::from_secs(300),
            jwks_min_interval: Duration::from_secs(10),
            cache_ttl: Duration::from_secs(300),
            cache_size: 10_000,
        }
    }
}

#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, DecodingKey>,
    unnamed: Vec<DecodingKey>,
}

pub struct Verifier {
    pub settings: JwtSettings,
    hmac: Option<DecodingKey>,
    static_keys: Vec<DecodingKey>,
    jwks: ArcSwap<KeySet>,
    cache: CredentialCache,
    /// Woken when a token names a key id we do not know (the fetcher refreshes, rate-limited).
    pub refresh_wanted: Arc<Notify>,
    last_wanted_ms: AtomicI64,
    /// Rate limiting runs on the monotonic clock, not the injected one.
    started: std::time::Instant,
    /// Bumped each time a JWKS document is installed.
    generation: tokio::sync::watch::Sender<u64>,
}

/// The detail of the error for a token naming a key id not (yet) in the key set.
pub const UNKNOWN_KID: &str = "unknown key id";

const MAX_TOKEN: usize = 16 * 1024;

impl Verifier {
    pub fn new(settings: JwtSettings) -> Self {
        let hmac = settings.hmac_secret.as_deref().map(DecodingKey::from_secret);
        let static_keys = settings.public_keys.iter().filter_map(|pem| pem_key(pem).ok()).collect();
        let cache = CredentialCache::new(settings.cache_size, settings.cache_ttl);
        Self {
            settings,
            hmac,
            static_keys,
            jwks: ArcSwap::new(Arc::new(KeySet::default())),
            cache,
            refresh_wanted: Arc::new(Notify::new()),
            last_wanted_ms: AtomicI64::new(i64::MIN),
            started: std::time::Instant::now(),
            generation: tokio::sync::watch::channel(0).0,
        }
    }

    /// Installs a new JWKS document; returns how many keys it held. Cached verifications are
    /// dropped, so a key removed from the set stops working at once.
    pub fn set_jwks(&self, json: &[u8]) -> Result<usize, String> {
        let set: JwkSet = serde_json::from_slice(json).map_err(|e| format!("invalid JWKS: {e}"))?;
        let mut keys = KeySet::default();
        for jwk in &set.keys {
            let Ok(key) = DecodingKey::from_jwk(jwk) else { continue };
            match &jwk.common.key_id {
                Some(kid) => {
                    keys.by_kid.insert(kid.clone(), key);
                }
                None => keys.unnamed.push(key),
            }
        }
        let n = keys.by_kid.len() + keys.unnamed.len();
        self.jwks.store(Arc::new(keys));
        self.cache.clear();
        self.generation.send_modify(|g| *g += 1);
        Ok(n)
    }

    pub fn verify(&self, token: &str, now_ms: i64) -> Result<Arc<Principal>, AuthnError> {
        let bad = |d: &str| AuthnError::invalid(Scheme::Jwt, d.to_string());
        if token.is_empty() || token.len() > MAX_TOKEN {
            return Err(bad("bearer token is empty or too long"));
        }
        let id = self.cache.id(&[token.as_bytes()]);
        if let Some(p) = self.cache.get(&id, now_ms) {
            return Ok(p);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| bad("malformed token header"))?;
        let key = self.key_for(header.alg, header.kid.as_deref())?;
        let mut v = Validation::new(header.alg);
        v.validate_exp = false; // checked below against the injected clock
        v.validate_nbf = false;
        v.required_spec_claims.clear();
        v.leeway = 0;
        match &self.settings.issuer {
            Some(i) => v.set_issuer(&[i]),
            None => v.iss = None,
        }
        match &self.settings.audience {
            Some(a) => v.set_audience(&[a]),
            None => v.validate_aud = false,
        }
        let data = jsonwebtoken::decode::<Value>(token, &key, &v).map_err(|e| bad(&format!("token rejected: {e}")))?;
        let claims = data.claims;
        let now_s = now_ms.div_euclid(1000);
        let leeway = self.settings.leeway.as_secs() as i64;
        let exp = claims.get("exp").and_then(Value::as_i64).ok_or_else(|| bad("token has no exp claim"))?;
        if now_s > exp + leeway {
            return Err(bad("token expired"));
        }
        if let Some(nbf) = claims.get("nbf") {
            let nbf = nbf.as_i64().ok_or_else(|| bad("nbf must be a number"))?;
            if now_s + leeway < nbf {
                return Err(bad("token not yet valid"));
            }
        }
        let user = claim(&claims, &self.settings.user_claim)
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| bad(&format!("token has no [{}] claim", self.settings.user_claim)))?;
        let groups = match claim(&claims, &self.settings.groups_claim) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(g)) => vec![g.clone()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            Some(_) => return Err(bad("groups claim must be a string or a list of strings")),
        };
        let mut p = Principal::new(user, groups, Scheme::Jwt);
        p.credential_id = claims.get("jti").and_then(Value::as_str).map(str::to_string).or(header.kid);
        if let Some(iss) = claims.get("iss").and_then(Value::as_str) {
            p.attributes.insert("iss".into(), iss.into());
        }
        let until = (exp + leeway).saturating_mul(1000);
        let p = Arc::new(p);
        self.cache.put(id, p.clone(), until, now_ms);
        Ok(p)
    }

    fn key_for(&self, alg: Algorithm, kid: Option<&str>) -> Result<DecodingKey, AuthnError> {
        let bad = |d: &str| AuthnError::invalid(Scheme::Jwt, d.to_string());
        if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            return self.hmac.clone().ok_or_else(|| bad("HMAC-signed tokens are not accepted"));
        }
        let jwks = self.jwks.load();
        if let Some(kid) = kid {
            if let Some(k) = jwks.by_kid.get(kid) {
                return Ok(k.clone());
            }
            if self.static_keys.len() == 1 && jwks.by_kid.is_empty() && jwks.unnamed.is_empty() {
                return Ok(self.static_keys[0].clone());
            }
            self.want_refresh();
            return Err(bad(UNKNOWN_KID));
        }
        let mut candidates = self.static_keys.iter().chain(jwks.unnamed.iter());
        match (candidates.next(), candidates.next()) {
            (Some(k), None) => Ok(k.clone()),
            (None, _) => Err(bad("no public key is configured for this token")),
            (Some(_), Some(_)) => Err(bad("the token has no kid and several keys are configured")),
        }
    }

    /// How many JWKS documents were installed so far.
    pub fn generation(&self) -> u64 {
        *self.generation.borrow()
    }

    /// Waits (bounded) until a JWKS document newer than `seen` is installed; true when one was.
    /// A token with an unknown `kid` waits for the refresh it triggered, as Elasticsearch does.
    pub async fn wait_newer(&self, seen: u64, limit: Duration) -> bool {
        if self.settings.jwks.is_none() {
            return false;
        }
        let mut rx = self.generation.subscribe();
        let newer = tokio::time::timeout(limit, rx.wait_for(|g| *g > seen)).await.is_ok_and(|r| r.is_ok());
        newer
    }

    fn want_refresh(&self) {
        let now_ms = self.started.elapsed().as_millis() as i64;
        let min = self.settings.jwks_min_interval.as_millis() as i64;
        let last = self.last_wanted_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) >= min
            && self.last_wanted_ms.compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            self.refresh_wanted.notify_one();
        }
    }
}

/// A decoding key from a PEM public key of any supported type.
pub fn pem_key(pem: &[u8]) -> Result<DecodingKey, String> {
    DecodingKey::from_rsa_pem(pem)
        .or_else(|_| DecodingKey::from_ec_pem(pem))
        .or_else(|_| DecodingKey::from_ed_pem(pem))
        .map_err(|_| "not an RSA, EC or Ed25519 public key in PEM".to_string())
}
/// A claim by name, or by a dotted path into nested objects when no claim has that name
/// (Keycloak's `realm_access.roles`; a namespaced claim such as `https://example.com/groups` is
/// found by its full name first).
fn claim<'a>(claims: &'a Value, name: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    name.split('.').try_fold(claims, |v, part| v.get(part))
}

