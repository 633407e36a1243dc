//! The decision: pure, over the caller's own grants, a classification and the time.
//!
//! A request is allowed when live grants cover its cluster privilege and every target with
//! every privilege it needs. A wildcard read broader than the grants is narrowed to the granted
//! patterns it contains, as Elasticsearch security does; writes are never narrowed. Restricted
//! indices need `allow_restricted_indices`.

use std::sync::Arc;

use serde::Serialize;

use super::snapshot::{next_boundary, CompiledGrant, CompiledPerm};
use super::{glob_match, is_restricted, may_touch_restricted, RESTRICTED};
use crate::authn::Principal;
use crate::classify::{Classification, Target};
use crate::privilege::IndexPriv;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    /// Why it was denied (shown to the caller: names only the caller's own request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Targets (rendered) that no live grant covers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub denied: Vec<String>,
    /// Ids of the grants that allowed the request.
    pub grants: Vec<String>,
    /// The narrowed path expression to forward instead of the requested one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub narrowed: Option<String>,
    /// The decision holds until this time (ms), when one of the caller's grants starts or ends.
    #[serde(skip)]
    pub valid_until: i64,
}

impl Decision {
    fn deny(reason: String, denied: Vec<String>, valid_until: i64) -> Self {
        Self { allowed: false, reason: Some(reason), denied, grants: Vec::new(), narrowed: None, valid_until }
    }
}

/// Privileges that only read: a wildcard needing only these may be narrowed.
const READS: &[IndexPriv] = &[IndexPriv::Read, IndexPriv::ViewIndexMetadata, IndexPriv::Monitor, IndexPriv::ReadCrossCluster];

/// Which grants to consult, and which one allowed what.
struct Ctx<'a> {
    live: Vec<&'a CompiledGrant>,
    used: Vec<usize>,
}

impl<'a> Ctx<'a> {
    fn perms(&self, remote: bool) -> impl Iterator<Item = (usize, &'a CompiledPerm)> + '_ {
        self.live.iter().enumerate().flat_map(move |(i, g)| (if remote { &g.remote } else { &g.local }).iter().map(move |p| (i, p)))
    }

    /// Whether `name` (a concrete name, or a pattern taken literally) is covered for `bit`;
    /// records the grant that covers it.
    fn covers(&mut self, name: &str, remote: bool, bit: u64, restricted: bool) -> bool {
        let hit = self.perms(remote).find(|(_, p)| p.mask & bit != 0 && (!restricted || p.restricted) && p.is_match(name)).map(|(i, _)| i);
        if let Some(i) = hit {
            self.used.push(i);
        }
        hit.is_some()
    }
}

/// Whether the live grants `live` hold the privilege `bit` on the whole of `name` (a concrete
/// name, or a pattern taken literally; `cluster:name` when `remote`), restricted indices
/// included when `restricted`: the coverage `decide` requires of a target it does not narrow.
pub fn index_covered(live: &[&Arc<CompiledGrant>], name: &str, remote: bool, bit: u64, restricted: bool) -> bool {
    let mut ctx = Ctx { live: live.iter().map(|g| g.as_ref()).collect(), used: Vec::new() };
    ctx.covers(name, remote, bit, restricted)
}

fn qualified(t: &Target) -> std::borrow::Cow<'_, str> {
    match &t.index.cluster {
        Some(c) => format!("{c}:{}", t.index.name).into(),
        None => t.index.name.as_str().into(),
    }
}

/// The privilege bits a target needs, one by one (any privilege at all when it names none).
fn bits(privs: &[IndexPriv]) -> smallvec_bits::Bits {
    smallvec_bits::Bits::of(privs)
}

mod smallvec_bits {
    use crate::privilege::IndexPriv;

    /// Privilege bits, inline for the usual one or two (no allocation), on the heap beyond.
    pub enum Bits {
        Inline(usize, [u64; 4]),
        Heap(Vec<u64>),
    }

    impl Bits {
        pub fn of(privs: &[IndexPriv]) -> Self {
            if privs.is_empty() {
                return Bits::Inline(1, [u64::MAX, 0, 0, 0]);
            }
            if privs.len() > 4 {
                return Bits::Heap(privs.iter().map(|p| p.bit()).collect());
            }
            let mut b = [0; 4];
            for (slot, p) in b.iter_mut().zip(privs) {
                *slot = p.bit();
            }
            Bits::Inline(privs.len(), b)
        }
        pub fn iter(&self) -> std::slice::Iter<'_, u64> {
            match self {
                Bits::Inline(n, b) => b[..*n].iter(),
                Bits::Heap(v) => v.iter(),
            }
        }
    }
}

/// Decides `c` for `principal` with its grants `mine` at `now_ms`.
pub fn decide(mine: &[&Arc<CompiledGrant>], principal: &Principal, c: &Classification, method: &str, now_ms: i64) -> Decision {
    let valid_until = mine.iter().filter_map(|g| next_boundary(g, now_ms)).min().unwrap_or(i64::MAX);
    let mut ctx = Ctx { live: mine.iter().filter(|g| g.live(now_ms)).map(|g| g.as_ref()).collect(), used: Vec::new() };
    let user = &principal.user;
    if let Some(cp) = c.cluster {
        match ctx.live.iter().position(|g| g.cluster_mask & cp.bit() != 0) {
            Some(i) => ctx.used.push(i),
            None => {
                let reason = format!("action [{}] is unauthorized for user [{user}], this action is granted by the cluster privileges [{}]", c.api, cp.as_str());
                return Decision::deny(reason, Vec::new(), valid_until);
            }
        }
    }
    let read_method = matches!(method, "GET" | "HEAD" | "POST");
    let mut denied = Vec::new();
    // Rendered only when something is narrowed.
    let mut narrowed_parts: Vec<Part<'_>> = Vec::new();
    let mut narrowing = false;
    let mut path_exclusions: Vec<String> = Vec::new();
    let mut need_privs: Vec<&'static str> = Vec::new();
    for t in &c.targets {
        // (msearch items carry their header's indices as `path:{index}` whatever the route.)
        let path_target = t.source == "path:{index}" || t.source == "implicit:_all" || c.route.is_list_source(&t.source);
        if t.index.exclude {
            if path_target {
                path_exclusions.push(t.index.render());
            }
            continue;
        }
        let name = qualified(t);
        let remote = t.index.cluster.is_some();
        let wildcard = t.index.wildcard || t.index.cluster.as_deref().is_some_and(|c| c.contains('*'));
        let restricted = if wildcard { false } else { !remote && is_restricted(&t.index.name) };
        let needs = bits(t.privileges);
        let full = needs.iter().all(|b| ctx.covers(&name, remote, *b, restricted));
        // A wildcard that may reach restricted indices needs a grant allowing them.
        let touches_restricted = wildcard && !remote && may_touch_restricted(&t.index.name);
        let full_restricted = !touches_restricted || needs.iter().all(|b| ctx.covers(&name, remote, *b, true));
        let narrowable = wildcard && path_target && read_method && !t.privileges.is_empty() && t.privileges.iter().all(|p| READS.contains(p));
        if full && full_restricted {
            if path_target {
                narrowed_parts.push(Part::Kept(t));
            }
            continue;
        }
        if narrowable {
            narrowing = true;
            let parts = if full { vec![t.index.render()] } else { narrow(&mut ctx, t, &needs, remote) };
            for part in parts {
                // A pattern that may reach restricted indices without a grant allowing them
                // is forwarded with those indices excluded.
                if may_touch_restricted(&part) && !needs.iter().all(|b| ctx.covers(&part, remote, *b, true)) {
                    for r in RESTRICTED {
                        let ex = format!("-{r}");
                        if !path_exclusions.contains(&ex) {
                            path_exclusions.push(ex);
                        }
                    }
                }
                narrowed_parts.push(Part::Pattern(part));
            }
            continue;
        }
        denied.push(t.index.render());
        for p in t.privileges {
            if !need_privs.contains(&p.as_str()) {
                need_privs.push(p.as_str());
            }
        }
    }
    if !denied.is_empty() {
        let reason = format!(
            "action [{}] is unauthorized for user [{user}] on indices [{}], this action is granted by the index privileges [{}]",
            c.api,
            denied.join(","),
            if need_privs.is_empty() { "any".to_string() } else { need_privs.join(",") }
        );
        return Decision::deny(reason, denied, valid_until);
    }
    if !c.uses.is_empty() && c.targets.is_empty() && ctx.live.is_empty() {
        let reason = format!("action [{}] is unauthorized for user [{user}]: no live grant", c.api);
        return Decision::deny(reason, Vec::new(), valid_until);
    }
    if c.cluster.is_none() && c.targets.is_empty() && c.uses.is_empty() {
        // Neither a cluster privilege nor a target: still needs some live grant.
        match ctx.live.first() {
            Some(_) => ctx.used.push(0),
            None => return Decision::deny(format!("action [{}] is unauthorized for user [{user}]: no live grant", c.api), Vec::new(), valid_until),
        }
    }
    let narrowed = narrowing.then(|| {
        let positives: Vec<String> = dedup(narrowed_parts.into_iter().map(Part::render).collect());
        if positives.is_empty() {
            // Elasticsearch's answer for a wildcard matching no index: an empty result.
            "*,-*".to_string()
        } else {
            let mut all = positives;
            all.extend(path_exclusions);
            all.join(",")
        }
    });
    let mut used: Vec<usize> = ctx.used;
    used.sort_unstable();
    used.dedup();
    let grants = used.into_iter().filter_map(|i| ctx.live.get(i)).map(|g| g.doc.id.clone()).collect();
    Decision { allowed: true, reason: None, denied: Vec::new(), grants, narrowed, valid_until }
}

/// A positive part of a narrowed expression: a requested name kept as is, or a granted pattern.
enum Part<'a> {
    Kept(&'a Target),
    Pattern(String),
}

impl Part<'_> {
    fn render(self) -> String {
        match self {
            Part::Kept(t) => t.index.render(),
            Part::Pattern(p) => p,
        }
    }
}

fn dedup(v: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(v.len());
    for s in v {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// The granted patterns inside wildcard `t` that carry every needed privilege.
fn narrow(ctx: &mut Ctx<'_>, t: &Target, needs: &smallvec_bits::Bits, remote: bool) -> Vec<String> {
    let wanted = qualified(t);
    let candidates: Vec<String> = ctx.perms(remote).flat_map(|(_, p)| p.patterns.iter().cloned()).filter(|pat| glob_match(&wanted, pat)).collect();
    let mut out: Vec<String> = Vec::new();
    for pat in candidates {
        if !out.contains(&pat) && needs.iter().all(|b| ctx.covers(&pat, remote, *b, false)) {
            out.push(pat);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::Scheme;
    use crate::authz::snapshot::compile_grant;
    use crate::authz::table::parse_table;
    use crate::classify::{classify, Head};
    use serde_json::json;

    fn grants(v: serde_json::Value) -> Vec<Arc<CompiledGrant>> {
        let (_, g) = parse_table(&json!({"version": 1, "grants": v})).unwrap();
        g.iter().map(|g| Arc::new(compile_grant(g).unwrap())).collect()
    }

    #[test]
    fn table() {
        let gs = grants(json!([
            {"id": "r", "subject": {"user": "u"}, "indices": [{"names": ["logs-app-*"], "privileges": ["read"]}], "expires_at": "2030-01-01T00:00:00Z"},
            {"id": "w", "subject": {"user": "u"}, "indices": [{"names": ["metrics-*"], "privileges": ["write"]}], "cluster": ["monitor"], "expires_at": "2030-01-01T00:00:00Z"},
            {"id": "x", "subject": {"user": "u"}, "indices": [{"names": ["remote:logs-*"], "privileges": ["read"]}], "expires_at": "2030-01-01T00:00:00Z"},
            {"id": "old", "subject": {"user": "u"}, "indices": [{"names": ["old-*"], "privileges": ["all"]}], "expires_at": "2020-01-01T00:00:00Z"},
            {"id": "v", "subject": {"user": "u"}, "indices": [{"names": ["ds-app-*"], "privileges": ["view_index_metadata", "monitor"]}], "expires_at": "2030-01-01T00:00:00Z"},
        ]));
        let refs: Vec<&Arc<CompiledGrant>> = gs.iter().collect();
        let p = Principal::new("u", vec![], Scheme::Basic);
        let now = crate::clock::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        // (method, path, allowed, narrowed, grants)
        type Case<'a> = (&'a str, &'a str, bool, Option<&'a str>, &'a [&'a str]);
        let cases: &[Case] = &[
            ("GET", "/logs-app-1/_search", true, None, &["r"]),
            ("GET", "/logs-*/_search", true, Some("logs-app-*"), &["r"]),
            ("GET", "/logs-app-1,-logs-app-2/_search", true, None, &["r"]),
            ("GET", "/nothing-*/_search", true, Some("*,-*"), &[]),
            ("GET", "/nothing/_search", false, None, &[]),
            ("PUT", "/logs-app-1/_doc/1", false, None, &[]),
            ("PUT", "/metrics-1/_doc/1", true, None, &["w"]),
            ("DELETE", "/metrics-1/_doc/1", true, None, &["w"]),
            ("DELETE", "/metrics-1", false, None, &[]),
            ("GET", "/metrics-1/_search", false, None, &[]),
            ("GET", "/_cluster/health", true, None, &["w"]),
            ("PUT", "/_cluster/settings", false, None, &[]),
            ("GET", "/remote:logs-1/_search", true, None, &["x"]),
            ("GET", "/other:logs-1/_search", false, None, &[]),
            ("GET", "/old-1/_search", false, None, &[]),
            // Index lists named otherwise than {index} are narrowed the same way.
            ("GET", "/_resolve/index/*", true, Some("ds-app-*"), &["v"]),
            ("GET", "/_data_stream/*", true, Some("ds-app-*"), &["v"]),
            ("GET", "/_data_stream/*/_stats", true, Some("ds-app-*"), &["v"]),
            ("GET", "/_data_stream/ds-app-1", true, None, &["v"]),
            ("GET", "/_data_stream/other-1", false, None, &[]),
            ("DELETE", "/_data_stream/*", false, None, &[]),
        ];
        for (method, path, allowed, narrowed, used) in cases {
            let head = Head { method, target: path, content_type: None, content_encoding: None, has_body: false };
            let c = classify(&head, now).unwrap();
            let d = decide(&refs, &p, &c, method, now);
            assert_eq!(d.allowed, *allowed, "{method} {path}: {d:?}");
            assert_eq!(d.narrowed.as_deref(), *narrowed, "{method} {path}");
            if d.allowed {
                assert_eq!(d.grants, used.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{method} {path}");
            }
        }
    }
}
