//! The live authorization state: the current snapshot (swapped atomically), the decision cache
//! and continuation bindings. Changes are serialised by `changes()`; readers never wait.
//!
//! Invariants: a cached decision is keyed by table version, principal and classification and
//! never outlives the next moment one of the caller's grants starts or ends; without a loaded
//! table everything is denied.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arc_swap::ArcSwap;

use super::bindings::{owner, Binding, Bindings};
use super::decide::{decide, Decision};
use super::snapshot::{compile_grant, CompiledGrant, Snapshot};
use super::table::{Grant, GrantDoc, TableDoc};
use crate::authn::Principal;
use crate::classify::Classification;

/// Enforce denials, or only record them (for rolling Sluice out in front of a cluster in use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Enforce,
    Shadow,
}

struct Cached {
    key: u64,
    check: u64,
    decision: Arc<Decision>,
}

/// The decision cache: direct-mapped slots swapped atomically. Bounded, lock-free, no
/// background maintenance (so no latency spikes on the request path); a colliding entry simply
/// replaces the older one.
struct DecisionCache {
    slots: Box<[arc_swap::ArcSwapOption<Cached>]>,
    mask: u64,
}

impl DecisionCache {
    fn new(size: u64) -> Option<Self> {
        if size == 0 {
            return None;
        }
        let n = size.next_power_of_two().min(1 << 24);
        Some(Self { slots: (0..n).map(|_| arc_swap::ArcSwapOption::empty()).collect(), mask: n - 1 })
    }
    fn get(&self, key: u64, check: u64) -> Option<Arc<Decision>> {
        let slot = self.slots[(key & self.mask) as usize].load();
        slot.as_ref().filter(|c| c.key == key && c.check == check).map(|c| c.decision.clone())
    }
    fn insert(&self, key: u64, check: u64, decision: Arc<Decision>) {
        self.slots[(key & self.mask) as usize].store(Some(Arc::new(Cached { key, check, decision })));
    }
}

#[derive(Default, Debug)]
pub struct AuthzCounters {
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
}

pub struct Authorizer {
    snapshot: ArcSwap<Snapshot>,
    /// `None` when the cache size is 0.
    cache: Option<DecisionCache>,
    /// Two independent keyed hashes: the slot key and a check (128 bits against collisions).
    keys: (ahash::RandomState, ahash::RandomState),
    pub bindings: Bindings,
    /// Set when continuation ids are sealed (`authz.continuation_secret_*`): their bindings
    /// travel in the ids, and `bindings` stays empty.
    pub sealer: Option<super::seal::Sealer>,
    pub mode: Mode,
    pub counters: AuthzCounters,
    changes: Mutex<()>,
}

impl Authorizer {
    pub fn new(mode: Mode, cache_size: u64) -> Self {
        Self {
            snapshot: ArcSwap::new(Arc::new(Snapshot::default())),
            // No time-to-live: every entry carries its own `valid_until`, checked on read.
            cache: DecisionCache::new(cache_size),
            keys: Default::default(),
            bindings: Bindings::new(1_000_000, Duration::from_secs(24 * 3600)),
            sealer: None,
            mode,
            counters: AuthzCounters::default(),
            changes: Mutex::new(()),
        }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Serialises table changes (validate, persist, swap) against each other.
    pub fn changes(&self) -> MutexGuard<'_, ()> {
        self.changes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Compiles validated grants and swaps them in. Grants already compiled are reused.
    pub fn install(&self, version: u64, grants: &[Grant]) -> Result<(), String> {
        let compiled = {
            let old = self.snapshot();
            let mut compiled = Vec::with_capacity(grants.len());
            for g in grants {
                match old.by_id(&g.doc.id).filter(|c| c.doc == g.doc) {
                    Some(c) => compiled.push(c.clone()),
                    None => compiled.push(Arc::new(compile_grant(g)?)),
                }
            }
            compiled
        };
        self.swap(version, compiled);
        Ok(())
    }

    /// Installs already compiled grants.
    pub fn swap(&self, version: u64, compiled: Vec<Arc<CompiledGrant>>) {
        let old = self.snapshot.swap(Arc::new(Snapshot::build(version, compiled)));
        // The old table is freed here, by the thread that changed it, not by whichever request
        // happened to hold it last (freeing a large table takes milliseconds).
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while Arc::strong_count(&old) > 1 && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        drop(old);
    }

    /// The table as a document (what `GET /_sluice/grants` and the state file hold).
    pub fn table(&self) -> TableDoc {
        let s = self.snapshot();
        TableDoc { version: s.version, grants: s.grants.iter().map(|g| g.doc.clone()).collect::<Vec<GrantDoc>>() }
    }

    fn key(&self, p: &Principal, c: &Classification, method: &str, version: u64, seed: &impl BuildHasher) -> u64 {
        let mut h = seed.build_hasher();
        version.hash(&mut h);
        p.hash(&mut h);
        method.hash(&mut h);
        c.api.hash(&mut h);
        c.cluster.map(|c| c.bit()).hash(&mut h);
        for t in &c.targets {
            t.index.hash(&mut h);
            (t.privileges.as_ptr() as usize, t.privileges.len()).hash(&mut h);
            t.source.hash(&mut h);
        }
        c.uses.len().hash(&mut h);
        h.finish()
    }

    /// Decides a request, from the cache when it can.
    pub fn authorize(&self, p: &Principal, c: &Classification, method: &str, now_ms: i64) -> Arc<Decision> {
        let snap = self.snapshot.load();
        if !snap.loaded {
            return Arc::new(Decision {
                allowed: false,
                reason: Some("no grant table is loaded; Sluice denies every request until one is pushed".into()),
                denied: Vec::new(),
                grants: Vec::new(),
                narrowed: None,
                valid_until: i64::MAX,
            });
        }
        let cacheable = self.cache.is_some() && c.uses.is_empty();
        let (key, check) = if cacheable {
            (self.key(p, c, method, snap.version, &self.keys.0), self.key(p, c, method, snap.version, &self.keys.1))
        } else {
            (0, 0)
        };
        if let (Some(cache), true) = (&self.cache, cacheable) {
            if let Some(hit) = cache.get(key, check).filter(|d| now_ms < d.valid_until) {
                self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
                return hit;
            }
        }
        self.counters.cache_misses.fetch_add(1, Ordering::Relaxed);
        let mine = snap.for_principal(p);
        let mut d = decide(&mine, p, c, method, now_ms);
        if d.allowed && !c.uses.is_empty() {
            if let Err(reason) = self.check_continuations(&snap, p, c, now_ms) {
                d = Decision { allowed: false, reason: Some(reason), denied: Vec::new(), grants: Vec::new(), narrowed: None, valid_until: d.valid_until };
            }
            return Arc::new(d); // bindings change outside the table: never cached
        }
        let d = Arc::new(d);
        if let (Some(cache), true) = (&self.cache, cacheable) {
            cache.insert(key, check, d.clone());
        }
        d
    }

    /// Seals the continuation ids this authorizer hands out with `secret`.
    pub fn sealing(mut self, secret: Option<&[u8]>) -> Self {
        self.sealer = secret.map(super::seal::Sealer::new);
        self
    }

    /// What a continuation id is bound to: read from a sealed id, or from the in-memory
    /// bindings. `Err` completes "the … id …" in the caller's reason.
    pub fn binding(&self, id: &str, now_ms: i64) -> Result<Arc<Binding>, String> {
        match &self.sealer {
            Some(sealer) => sealer.open(id, now_ms).map(|s| Arc::new(Binding { owner: s.owner, grants: s.grants })).map_err(|why| format!("is {why}")),
            None => self.bindings.get(id).ok_or_else(|| "was not created through Sluice by this user".to_string()),
        }
    }

    /// The grants the continuation ids `ids` are bound to (those that do not open count none).
    pub fn bound_grants<'a>(&self, ids: impl IntoIterator<Item = &'a str>, now_ms: i64) -> Vec<String> {
        ids.into_iter().filter_map(|id| self.binding(id, now_ms).ok()).flat_map(|b| b.grants.clone()).collect()
    }

    /// A continuation id must be bound to this principal, by grants still live.
    fn check_continuations(&self, snap: &Snapshot, p: &Principal, c: &Classification, now_ms: i64) -> Result<(), String> {
        let me = owner(p);
        for u in &c.uses {
            let b = self.binding(&u.id, now_ms).map_err(|why| format!("action [{}] is unauthorized for user [{}]: the {:?} id {why}", c.api, p.user, u.kind))?;
            if b.owner != me {
                return Err(format!("action [{}] is unauthorized for user [{}]: the {:?} id belongs to another user", c.api, p.user, u.kind));
            }
            if !b.grants.iter().any(|g| snap.by_id(g).is_some_and(|g| g.live(now_ms))) {
                return Err(format!("action [{}] is unauthorized for user [{}]: the grant that allowed this {:?} has ended", c.api, p.user, u.kind));
            }
        }
        Ok(())
    }

}
