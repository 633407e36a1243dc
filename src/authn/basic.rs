//! Basic authentication against a users file (argon2id or bcrypt hashes). A slow hash per
//! request would cap throughput, so successful verifications are cached (bounded, with a TTL,
//! keyed by a keyed hash of the credentials) and the cache is dropped when the users change.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use ring::rand::SecureRandom;

use super::cache::CredentialCache;
use super::{AuthnError, Principal, Scheme};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub hash: String,
    pub groups: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct BasicSettings {
    pub users_file: Option<std::path::PathBuf>,
    pub users: Vec<User>,
    pub cache_ttl: Duration,
    pub cache_size: u64,
}

pub struct Verifier {
    users: ArcSwap<HashMap<String, User>>,
    cache: CredentialCache,
}

impl Verifier {
    pub fn new(s: BasicSettings) -> Self {
        let v = Self { users: ArcSwap::new(Arc::new(HashMap::new())), cache: CredentialCache::new(s.cache_size, s.cache_ttl) };
        v.replace_users(s.users);
        v
    }

    /// Installs a new set of users (the file changed) and forgets every cached verification.
    pub fn replace_users(&self, users: Vec<User>) {
        self.users.store(Arc::new(users.into_iter().map(|u| (u.name.clone(), u)).collect()));
        self.cache.clear();
    }

    /// Verifies `base64(user:password)` as sent after `Basic `. The cache is keyed by the encoded
    /// text, so a cached caller costs one keyed hash: no decoding, no slow hash.
    pub fn verify(&self, encoded: &str, now_ms: i64) -> Result<Arc<Principal>, AuthnError> {
        let id = self.cache.id(&[encoded.as_bytes()]);
        if let Some(p) = self.cache.get(&id, now_ms) {
            return Ok(p);
        }
        let (user, password) = super::decode_pair(encoded).map_err(|d| AuthnError::invalid(Scheme::Basic, d))?;
        let (user, password) = (user.as_str(), password.as_str());
        let users = self.users.load();
        let Some(u) = users.get(user) else {
            return Err(AuthnError::invalid(Scheme::Basic, format!("unknown user [{user}]")));
        };
        if !verify_hash(password, &u.hash) {
            return Err(AuthnError::invalid(Scheme::Basic, format!("wrong password for user [{user}]")));
        }
        let p = Arc::new(Principal::new(u.name.clone(), u.groups.clone(), Scheme::Basic));
        // Basic credentials have no expiry of their own: entries live for the cache's TTL.
        self.cache.put(id, p.clone(), i64::MAX, now_ms);
        Ok(p)
    }
}

/// Checks a password against an argon2 (`$argon2…`) or bcrypt (`$2a$`, `$2b$`, `$2y$`) hash.
pub fn verify_hash(password: &str, hash: &str) -> bool {
    if hash.starts_with("$argon2") {
        return PasswordHash::new(hash).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok());
    }
    if hash.starts_with("$2") {
        return bcrypt::verify(password, hash).unwrap_or(false);
    }
    false
}

/// An argon2id hash with a random salt, for `sluice hash-password`.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    ring::rand::SystemRandom::new().fill(&mut salt).map_err(|_| "no randomness available".to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon2::Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Whether a string looks like a hash this module can verify.
pub fn is_supported_hash(hash: &str) -> bool {
    (hash.starts_with("$argon2") && PasswordHash::new(hash).is_ok()) || ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_and_bcrypt() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_hash("s3cret", &h));
        assert!(!verify_hash("nope", &h));
        let b = bcrypt::hash("pw", 4).unwrap();
        assert!(verify_hash("pw", &b) && !verify_hash("px", &b));
        assert!(!verify_hash("pw", "plain"));
        assert!(is_supported_hash(&h) && is_supported_hash(&b) && !is_supported_hash("md5:x"));
    }

    #[test]
    fn cache_is_dropped_when_users_change() {
        let h = bcrypt::hash("pw", 4).unwrap();
        let v = Verifier::new(BasicSettings {
            users_file: None,
            users: vec![User { name: "bob".into(), hash: h, groups: vec!["g".into()] }],
            cache_ttl: Duration::from_secs(60),
            cache_size: 10,
        });
        let bob = "Ym9iOnB3"; // bob:pw
        assert_eq!(v.verify(bob, 0).unwrap().groups, vec!["g".to_string()]);
        assert!(v.verify(bob, 1).is_ok(), "cached");
        assert!(v.verify("Ym9iOnB4", 1).is_err(), "bob:px");
        v.replace_users(vec![]);
        assert!(v.verify(bob, 2).is_err(), "a removed user is not served from the cache");
    }
}
