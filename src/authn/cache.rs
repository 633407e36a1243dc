//! A bounded, expiring cache of verified credentials, keyed by a keyed hash (SipHash-2-4 with
//! a 128-bit output and a per-process random 128-bit key, a pseudo-random function) of the
//! credential bytes: the cache never holds a password or token, and its keys are useless
//! outside this process. (HMAC-SHA256 did the same job at five times the cost per request.)

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ring::rand::SecureRandom;
use siphasher::sip128::{Hasher128, SipHasher24};

use super::Principal;

/// Shards, so that threads verifying different credentials rarely share a lock.
const SHARDS: usize = 16;

type Shard = RwLock<HashMap<u128, (Arc<Principal>, i64), BuildHasherDefault<IdHasher>>>;

/// Bounded (entries spread over shards, each holding its share of the capacity, so that the
/// shards together never hold more) and expiring (each entry carries its end of life, at most
/// `ttl` after it was put, on the caller's clock).
pub struct CredentialCache {
    key: [u8; 16],
    ttl_ms: i64,
    /// Each shard's share of the capacity (below 16 entries, some shards hold none).
    caps: [usize; SHARDS],
    shards: [Shard; SHARDS],
}

impl CredentialCache {
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        let mut key = [0u8; 16];
        if ring::rand::SystemRandom::new().fill(&mut key).is_err() {
            key = rand_fallback();
        }
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX);
        let caps = std::array::from_fn(|i| capacity / SHARDS + usize::from(i < capacity % SHARDS));
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        Self { key, ttl_ms, caps, shards: std::array::from_fn(|_| RwLock::default()) }
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

    fn index(id: u128) -> usize {
        (id >> 64) as usize % SHARDS
    }

    fn shard(&self, id: u128) -> &Shard {
        &self.shards[Self::index(id)]
    }

    /// A cached principal still valid at `now_ms`.
    pub fn get(&self, id: &u128, now_ms: i64) -> Option<Arc<Principal>> {
        let shard = self.shard(*id).read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (p, until) = shard.get(id)?;
        (now_ms < *until).then(|| p.clone())
    }

    /// Caches a verification made at `now_ms`, valid until `until_ms` and for at most the TTL.
    /// A full shard first forgets its expired entries, then, if still full, an arbitrary one.
    pub fn put(&self, id: u128, p: Arc<Principal>, until_ms: i64, now_ms: i64) {
        let until = until_ms.min(now_ms.saturating_add(self.ttl_ms));
        let cap = self.caps[Self::index(id)];
        if cap == 0 {
            return;
        }
        let mut shard = self.shard(id).write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if shard.len() >= cap && !shard.contains_key(&id) {
            shard.retain(|_, (_, u)| now_ms < *u);
            if shard.len() >= cap {
                if let Some(victim) = shard.keys().next().copied() {
                    shard.remove(&victim);
                }
            }
        }
        shard.insert(id, (p, until));
    }

    pub fn clear(&self) {
        for s in &self.shards {
            s.write().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        }
    }
}

/// The cache's keys are already pseudo-random: their low 64 bits are the hash.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, i: u128) {
        self.0 = i as u64;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::Scheme;

    fn p(name: &str) -> Arc<Principal> {
        Arc::new(Principal::new(name.to_string(), vec![], Scheme::Basic))
    }

    #[test]
    fn entries_end_at_their_expiry_or_the_ttl() {
        let c = CredentialCache::new(100, Duration::from_secs(60));
        let (a, b) = (c.id(&[b"a"]), c.id(&[b"b"]));
        c.put(a, p("a"), i64::MAX, 1_000);
        c.put(b, p("b"), 5_000, 1_000);
        assert_eq!(c.get(&a, 60_999).map(|p| p.user.clone()).as_deref(), Some("a"));
        assert!(c.get(&a, 61_000).is_none(), "the TTL bounds an entry without an expiry");
        assert!(c.get(&b, 4_999).is_some());
        assert!(c.get(&b, 5_000).is_none(), "dead at its own expiry");
        c.clear();
        assert!(c.get(&a, 2_000).is_none());
    }

    #[test]
    fn bounded_by_capacity() {
        let c = CredentialCache::new(32, Duration::from_secs(60));
        for i in 0..10_000u32 {
            c.put(c.id(&[&i.to_le_bytes()]), p("x"), i64::MAX, 0);
        }
        assert_eq!(held(&c), 32);
        // The last one put is always there.
        assert!(c.get(&c.id(&[&9_999u32.to_le_bytes()]), 1).is_some());
        // Capacities that do not divide among the shards, and ones smaller than their number.
        for cap in [1, 5, 17, 100] {
            let c = CredentialCache::new(cap, Duration::from_secs(60));
            for i in 0..10_000u32 {
                c.put(c.id(&[&i.to_le_bytes()]), p("x"), i64::MAX, 0);
            }
            assert_eq!(held(&c) as u64, cap, "capacity {cap}");
        }
    }

    fn held(c: &CredentialCache) -> usize {
        c.shards.iter().map(|s| s.read().map(|m| m.len()).unwrap_or(0)).sum()
    }

    #[test]
    fn keys_separate_parts() {
        let c = CredentialCache::new(8, Duration::from_secs(1));
        assert_ne!(c.id(&[b"ab", b"c"]), c.id(&[b"a", b"bc"]));
        assert_ne!(c.id(&[b"a"]), CredentialCache::new(8, Duration::from_secs(1)).id(&[b"a"]), "keys differ per process run");
    }
}
