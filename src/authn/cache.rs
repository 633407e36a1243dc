//! A bounded, expiring cache of verified credentials, keyed by a keyed hash (HMAC-SHA256 with
//! a per-process random key) of the credential bytes: the cache never holds a password or
//! token, and its keys are useless outside this process.

use std::time::Duration;

use moka::sync::Cache;
use ring::hmac;

use super::Principal;

pub struct CredentialCache {
    key: hmac::Key,
    entries: Cache<[u8; 32], (Principal, i64)>,
}

impl CredentialCache {
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        let rng = ring::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).unwrap_or_else(|_| hmac::Key::new(hmac::HMAC_SHA256, &rand_fallback()));
        Self { key, entries: Cache::builder().max_capacity(capacity).time_to_live(ttl).build() }
    }

    pub fn id(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key);
        for p in parts {
            ctx.update(&(p.len() as u64).to_le_bytes());
            ctx.update(p);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    /// A cached principal still valid at `now_ms` (entries carry their own end of life).
    pub fn get(&self, id: &[u8; 32], now_ms: i64) -> Option<Principal> {
        let (p, until) = self.entries.get(id)?;
        if now_ms < until {
            Some(p)
        } else {
            self.entries.invalidate(id);
            None
        }
    }

    pub fn put(&self, id: [u8; 32], p: Principal, until_ms: i64) {
        self.entries.insert(id, (p, until_ms));
    }

    pub fn clear(&self) {
        self.entries.invalidate_all();
    }
}

fn rand_fallback() -> [u8; 32] {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let mut k = [0u8; 32];
    k[..16].copy_from_slice(&t.to_le_bytes());
    k[16..24].copy_from_slice(&(std::process::id() as u64).to_le_bytes());
    k
}

/// Hex SHA-256 of some bytes.
pub fn sha256_hex(b: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, b);
    d.as_ref().iter().fold(String::with_capacity(64), |mut s, b| {
        use std::fmt::Write;
        let _ = write!(s, "{b:02x}");
        s
    })
}
