//! The compiled grant table: an immutable snapshot swapped atomically on every change. Grants
//! are indexed by subject, so a decision only ever looks at the caller's own grants; each
//! grant's index patterns are compiled into glob sets (local and remote apart).

use std::collections::HashMap;
use std::sync::Arc;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::table::{Grant, GrantDoc, Subject};
use crate::authn::{Principal, Scheme};

pub struct CompiledPerm {
    pub patterns: Vec<String>,
    /// A compiled glob set when there are many patterns; a few are matched one by one.
    set: Option<GlobSet>,
    /// Every index privilege held (implications included), as a bitmask.
    pub mask: u64,
    pub restricted: bool,
}

pub struct CompiledGrant {
    pub doc: GrantDoc,
    pub not_before: i64,
    pub expires: i64,
    pub cluster_mask: u64,
    pub local: Vec<CompiledPerm>,
    /// Patterns naming remote clusters (`cluster:pattern`).
    pub remote: Vec<CompiledPerm>,
}

impl std::fmt::Debug for CompiledGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledGrant").field("id", &self.doc.id).field("expires", &self.expires).finish()
    }
}

impl CompiledGrant {
    pub fn live(&self, now_ms: i64) -> bool {
        self.not_before <= now_ms && now_ms < self.expires
    }
}

#[derive(Default)]
pub struct Snapshot {
    pub version: u64,
    /// Whether a table was ever loaded (no table, no access).
    pub loaded: bool,
    pub grants: Vec<Arc<CompiledGrant>>,
    by_user: HashMap<String, Vec<u32>>,
    by_group: HashMap<String, Vec<u32>>,
    by_key: HashMap<String, Vec<u32>>,
    by_id: HashMap<String, u32>,
}

/// A glob over index names: `*` is the only wildcard, everything else is literal.
pub fn glob(pattern: &str) -> Result<globset::Glob, String> {
    let mut escaped = String::with_capacity(pattern.len() + 4);
    for ch in pattern.chars() {
        if matches!(ch, '?' | '[' | ']' | '{' | '}' | '\\' | '!') {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    GlobBuilder::new(&escaped)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map_err(|e| format!("bad pattern [{pattern}]: {e}"))
}

/// Above this many patterns a grant's names are compiled into one glob set.
const SET_ABOVE: usize = 8;

impl CompiledPerm {
    pub fn is_match(&self, name: &str) -> bool {
        match &self.set {
            Some(s) => s.is_match(name),
            None => self.patterns.iter().any(|p| super::glob_match(p, name)),
        }
    }
}

fn compile_perm(patterns: Vec<String>, privs: &[crate::privilege::IndexPriv], restricted: bool) -> Result<CompiledPerm, String> {
    let set = if patterns.len() > SET_ABOVE {
        let mut b = GlobSetBuilder::new();
        for p in &patterns {
            b.add(glob(p)?);
        }
        Some(b.build().map_err(|e| e.to_string())?)
    } else {
        None
    };
    let mask = privs.iter().fold(0, |m, p| m | p.closure());
    Ok(CompiledPerm { patterns, set, mask, restricted })
}

pub fn compile_grant(g: &Grant) -> Result<CompiledGrant, String> {
    let mut local = Vec::new();
    let mut remote = Vec::new();
    for (names, privs, restricted) in &g.indices {
        let (r, l): (Vec<String>, Vec<String>) = names.iter().cloned().partition(|n| n.contains(':'));
        if !l.is_empty() {
            local.push(compile_perm(l, privs, *restricted)?);
        }
        if !r.is_empty() {
            remote.push(compile_perm(r, privs, *restricted)?);
        }
    }
    Ok(CompiledGrant {
        doc: g.doc.clone(),
        not_before: g.not_before_ms,
        expires: g.expires_ms,
        cluster_mask: g.cluster.iter().fold(0, |m, p| m | p.closure()),
        local,
        remote,
    })
}

impl Snapshot {
    pub fn build(version: u64, grants: Vec<Arc<CompiledGrant>>) -> Self {
        let mut s = Snapshot { version, loaded: true, ..Default::default() };
        for (i, g) in grants.iter().enumerate() {
            let map = match &g.doc.subject {
                Subject::User(_) => &mut s.by_user,
                Subject::Group(_) => &mut s.by_group,
                Subject::ApiKey(_) => &mut s.by_key,
            };
            map.entry(g.doc.subject.value().to_string()).or_default().push(i as u32);
            s.by_id.insert(g.doc.id.clone(), i as u32);
        }
        s.grants = grants;
        s
    }

    /// The grants whose subject is this principal: its user, any of its groups, its API key.
    pub fn for_principal(&self, p: &Principal) -> Vec<&Arc<CompiledGrant>> {
        if p.groups.is_empty() && p.scheme != Scheme::ApiKey {
            let Some(v) = self.by_user.get(&p.user) else { return Vec::new() };
            return v.iter().filter_map(|i| self.grants.get(*i as usize)).collect();
        }
        let mut idx: Vec<u32> = Vec::new();
        if let Some(v) = self.by_user.get(&p.user) {
            idx.extend_from_slice(v);
        }
        for g in &p.groups {
            if let Some(v) = self.by_group.get(g) {
                idx.extend_from_slice(v);
            }
        }
        if p.scheme == Scheme::ApiKey {
            if let Some(v) = p.credential_id.as_ref().and_then(|id| self.by_key.get(id)) {
                idx.extend_from_slice(v);
            }
        }
        if p.groups.len() > 1 {
            idx.sort_unstable();
            idx.dedup();
        }
        idx.into_iter().filter_map(|i| self.grants.get(i as usize)).collect()
    }

    /// The principal's grants live at `now_ms`; none before a table was ever loaded.
    pub fn live_for(&self, p: &Principal, now_ms: i64) -> Vec<&Arc<CompiledGrant>> {
        if !self.loaded {
            return Vec::new();
        }
        self.for_principal(p).into_iter().filter(|g| g.live(now_ms)).collect()
    }

    pub fn by_id(&self, id: &str) -> Option<&Arc<CompiledGrant>> {
        self.by_id.get(id).and_then(|i| self.grants.get(*i as usize))
    }

    /// When the first live grant expires.
    pub fn next_expiry(&self, now_ms: i64) -> Option<i64> {
        self.grants.iter().filter(|g| g.live(now_ms)).map(|g| g.expires).min()
    }

    /// Live grants, and the next moment (after `now`) when any grant starts or ends.
    pub fn status(&self, now_ms: i64) -> (usize, Option<i64>) {
        let live = self.grants.iter().filter(|g| g.live(now_ms)).count();
        let next = self
            .grants
            .iter()
            .filter_map(|g| next_boundary(g, now_ms))
            .min();
        (live, next)
    }
}

/// When this grant next changes state after `now`: its start if it has not started, its expiry
/// if it is live.
pub fn next_boundary(g: &CompiledGrant, now_ms: i64) -> Option<i64> {
    if g.not_before > now_ms {
        Some(g.not_before)
    } else if g.expires > now_ms {
        Some(g.expires)
    } else {
        None
    }
}
