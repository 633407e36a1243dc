//! Grants starting and ending on time, on record: the audit trail says when a grant became
//! live and when it ended, without anyone acting — what an auditor asks of just-in-time access
//! ("when did alice's access end?"). `crossed` is pure; `watch` is the task that writes them.

use std::sync::Arc;

use serde_json::json;
use tokio::sync::watch;

use super::snapshot::{CompiledGrant, Snapshot};
use super::Authorizer;
use crate::audit::Audit;
use crate::clock::SharedClock;

/// A grant crossing one of its boundaries.
#[derive(Debug, Clone)]
pub struct Crossing<'a> {
    pub at_ms: i64,
    /// `grant.start` or `grant.end`.
    pub action: &'static str,
    pub grant: &'a CompiledGrant,
}

/// The boundaries grants of `snap` crossed in `(from_ms, to_ms]`, in time order. A grant that
/// starts at or before `from_ms` is not reported as starting (it was live, or not yet in the
/// table, when the previous look was taken).
pub fn crossed(snap: &Snapshot, from_ms: i64, to_ms: i64) -> Vec<Crossing<'_>> {
    let within = |t: i64| from_ms < t && t <= to_ms;
    let mut out: Vec<Crossing> = Vec::new();
    for g in &snap.grants {
        if g.not_before != i64::MIN && within(g.not_before) {
            out.push(Crossing { at_ms: g.not_before, action: "grant.start", grant: g });
        }
        if within(g.expires) {
            out.push(Crossing { at_ms: g.expires, action: "grant.end", grant: g });
        }
    }
    out.sort_by(|a, b| (a.at_ms, a.action == "grant.start", &a.grant.doc.id).cmp(&(b.at_ms, b.action == "grant.start", &b.grant.doc.id)));
    out
}

/// Looks at most this long apart (real time), so that a pushed table's boundaries are seen.
const MAX_WAIT_MS: i64 = 60_000;

/// Writes an audit event for every boundary crossed after `since_ms`, until shutdown; then one
/// last look, so that what was crossed before the end is on record.
pub async fn watch(authz: Arc<Authorizer>, audit: Arc<Audit>, clock: SharedClock, since_ms: i64, mut shutdown: watch::Receiver<bool>) {
    let mut last = since_ms;
    loop {
        let snap = authz.snapshot();
        let now = clock.now_ms();
        record(&audit, &snap, last, now);
        last = now;
        let wait = snap.status(now).1.map_or(MAX_WAIT_MS, |next| (next - now).clamp(1, MAX_WAIT_MS));
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => {
                record(&audit, &authz.snapshot(), last, clock.now_ms());
                return;
            }
            _ = tokio::time::sleep(std::time::Duration::from_millis(wait.unsigned_abs())) => {}
        }
    }
}

fn record(audit: &Audit, snap: &Snapshot, from_ms: i64, to_ms: i64) {
    for c in crossed(snap, from_ms, to_ms) {
        let d = &c.grant.doc;
        let detail = json!({"grant": {"id": d.id, "subject": {d.subject.kind(): d.subject.value()}, "reason": d.reason,
                                       "not_before": d.not_before, "expires_at": d.expires_at}, "version": snap.version});
        audit.admin(c.at_ms, "sluice", c.action, true, detail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::snapshot::compile_grant;
    use crate::authz::table::parse_table;

    #[test]
    fn reports_each_boundary_once_in_time_order() {
        let g = |id: &str, nb: Option<&str>, ex: &str| {
            let mut v = json!({"id": id, "subject": {"user": "u"}, "indices": [{"names": ["a"], "privileges": ["read"]}], "expires_at": ex});
            if let Some(nb) = nb {
                v["not_before"] = json!(nb);
            }
            v
        };
        let (_, grants) = parse_table(&json!({"version": 1, "grants": [
            g("late", Some("2026-11-23T11:00:00Z"), "2026-11-23T13:00:00Z"),
            g("soon", None, "2026-11-23T10:30:00Z"),
            g("same", Some("2026-11-23T10:30:00Z"), "2026-11-23T12:00:00Z")]}))
        .unwrap();
        let snap = Snapshot::build(1, grants.iter().map(|g| Arc::new(compile_grant(g).unwrap())).collect());
        let t = |s: &str| crate::clock::parse_rfc3339(s).unwrap();
        let got: Vec<(String, &str)> = crossed(&snap, t("2026-11-23T10:00:00Z"), t("2026-11-23T12:00:00Z")).into_iter().map(|c| (c.grant.doc.id.clone(), c.action)).collect();
        // At 10:30 one ends and one starts: the end first. `late` ends after the window.
        assert_eq!(got, [("soon".into(), "grant.end"), ("same".into(), "grant.start"), ("late".into(), "grant.start"), ("same".into(), "grant.end")]);
        // Windows are half-open: nothing twice across consecutive looks.
        let (a, b) = (crossed(&snap, t("2026-11-23T10:00:00Z"), t("2026-11-23T10:30:00Z")), crossed(&snap, t("2026-11-23T10:30:00Z"), t("2026-11-23T12:00:00Z")));
        assert_eq!(a.len() + b.len(), 4);
        assert!(crossed(&snap, t("2026-11-23T13:00:00Z"), t("2026-11-24T00:00:00Z")).is_empty());
    }
}
