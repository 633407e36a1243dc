//! A bounded, expiring cache of verified credentials, keyed by a keyed hash (SipHash-2-4 with
//! a 128-bit output and a per-process random 128-bit key, a pseudo-random function) of the
//! credential bytes: the cache never holds a password or token, and its keys are useless
//! outside this process. (HMAC-SHA256 did the same job at five times the cost per request.)

use std::hash::Hasher;
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use ring::rand::SecureRandom;
use siphasher::sip128::{Hasher128, SipHasher24};

use super::Principal;

pub struct CredentialCache {
    key: [u8; 16],
    entries: Cache<u128, (Arc<Principal>, i64)>,
}

impl CredentialCache {
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        let mut key = [0u8; 16];
        if ring::rand::SystemRandom::new().fill(&mut key).is_err() {
            key = rand_fallback();
        }
        Self { key, entries: Cache::builder().max_capacity(capacity).time_to_live(ttl).build() }
    }

    /// The keyed hash of the parts, each length-prefixed so that no two lists collide by
    /// moving bytes from one part to the next.
    pub fn id(&self, parts: &[&[u8]]) -> u128 {
        let mut h = SipHasher24::new_with_key(&self.key);
        for p in parts {
            h.write(&(p.len() as u64).to_le_bytes());
            h.write(p);
        }
        h.finish128().as_u128()
    }

    /// A cached principal still valid at `now_ms` (entries carry their own end of life).
    pub fn get(&self, id: &u128, now_ms: i64) -> Option<Arc<Principal>> {
        let (p, until) = self.entries.get(id)?;
        if now_ms < until {
            Some(p)
        } else {
            self.entries.invalidate(id);
            None
        }
    }

    pub fn put(&self, id: u128, p: Arc<Principal>, until_ms: i64) {
        self.entries.insert(id, (p, until_ms));
    }

    pub fn clear(&self) {
        self.entries.invalidate_all();
    }
}

/// A key when the system has no randomness: the clock in nanoseconds (its low 64 bits; the
/// rest of the 128-bit count is zero) and the process id.
fn rand_fallback() -> [u8; 16] {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&(t as u64).to_le_bytes());
    k[8..].copy_from_slice(&u64::from(std::process::id()).to_le_bytes());
    k
}

/// Hex SHA-256 of some bytes.
pub fn sha256_hex(b: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = ring::digest::digest(&ring::digest::SHA256, b);
    d.as_ref().iter().flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]).map(char::from).collect()
}
