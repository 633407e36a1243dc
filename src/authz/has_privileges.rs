//! `_security/user/_has_privileges` and `_security/user/_privileges`, answered from the grant
//! table: the cluster would answer for Sluice's own service account, which is not what the
//! caller asks. Pure: a snapshot, a principal, the request body and the time in;
//! Elasticsearch's response document out.
//!
//! A privilege is held when a live grant of the caller's holds it (implications included) on
//! the whole of a name: a concrete index, or a pattern taken literally, as `decide` covers a
//! write. Restricted indices count only when named outright or when the request sets
//! `allow_restricted_indices` on a pattern that may reach them, as in Elasticsearch. Sluice
//! grants no index or cluster privileges by action name: those are false. Application privileges
//! (Kibana's features) are held as grants' `applications` entries say, each granted string a
//! `*` pattern over the names asked about.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::snapshot::{CompiledGrant, Snapshot};
use super::{decide::index_covered, glob_match, is_restricted, may_touch_restricted};
use crate::authn::Principal;
use crate::privilege::{ClusterPriv, IndexPriv};

/// The response document, or why the request is invalid (Elasticsearch's 400 reasons).
pub fn has_privileges(snap: &Snapshot, p: &Principal, body: &Value, now_ms: i64) -> Result<Value, String> {
    let body = body.as_object().ok_or("the request body must be a JSON object")?;
    if let Some(k) = body.keys().find(|k| !matches!(k.as_str(), "cluster" | "index" | "application")) {
        return Err(format!("unknown field [{k}]"));
    }
    let live = snap.live_for(p, now_ms);
    let mut all = true;
    let mut cluster = Map::new();
    for name in strings(body.get("cluster"), "cluster")? {
        let held = match ClusterPriv::parse(name) {
            Some(cp) => live.iter().any(|g| g.cluster_mask & cp.bit() != 0),
            None if is_action(name) => false,
            None => return Err(format!("unknown cluster privilege [{name}]")),
        };
        all &= held;
        cluster.insert(name.to_string(), Value::Bool(held));
    }
    let mut index = Map::new();
    for entry in list(body.get("index"), "index")? {
        let names = match entry.get("names") {
            Some(Value::String(s)) => vec![s.as_str()],
            v @ Some(Value::Array(_)) => strings(v, "index[].names")?,
            _ => return Err("[index] entries need [names]".into()),
        };
        let privileges = strings(entry.get("privileges"), "index[].privileges")?;
        let with_restricted = match entry.get("allow_restricted_indices") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("[allow_restricted_indices] must be a boolean".into()),
        };
        for name in names {
            let (remote, local) = match name.split_once(':') {
                Some((_, local)) => (true, local),
                None => (false, name),
            };
            let wildcard = name.contains('*');
            let restricted = !remote && if wildcard { with_restricted && may_touch_restricted(local) } else { is_restricted(local) };
            let slot = index.entry(name.to_string()).or_insert_with(|| Value::Object(Map::new()));
            for privilege in &privileges {
                let held = match IndexPriv::parse(privilege) {
                    Some(ip) => index_covered(&live, name, remote, ip.bit(), restricted),
                    None if is_action(privilege) => false,
                    None => return Err(format!("unknown index privilege [{privilege}]")),
                };
                all &= held;
                if let Value::Object(m) = slot {
                    m.insert((*privilege).to_string(), Value::Bool(held));
                }
            }
        }
    }
    let mut application = Map::new();
    for entry in list(body.get("application"), "application")? {
        let app = entry.get("application").and_then(Value::as_str).ok_or("[application] entries need [application]")?;
        let privileges = strings(entry.get("privileges"), "application[].privileges")?;
        let slot = application.entry(app.to_string()).or_insert_with(|| Value::Object(Map::new()));
        for resource in strings(entry.get("resources"), "application[].resources")? {
            let held: Map<String, Value> = privileges.iter().map(|p| ((*p).to_string(), Value::Bool(application_held(&live, app, resource, p)))).collect();
            all &= held.values().all(|v| v == &Value::Bool(true));
            if let Value::Object(m) = slot {
                m.insert(resource.to_string(), Value::Object(held));
            }
        }
    }
    Ok(json!({"username": p.user, "has_all_requested": all, "cluster": cluster, "index": index, "application": application}))
}

/// What the caller's live grants hold, shaped like Elasticsearch's get-user-privileges
/// response: cluster privileges, then each grant's index entries (`cluster:pattern` names
/// under `remote_indices`).
pub fn user_privileges(snap: &Snapshot, p: &Principal, now_ms: i64) -> Value {
    let live = snap.live_for(p, now_ms);
    let (mut cluster, mut indices, mut remote) = (Vec::new(), Vec::new(), Vec::new());
    for g in &live {
        cluster.extend(g.doc.cluster.iter().cloned());
        for e in &g.doc.indices {
            let (far, near): (Vec<&String>, Vec<&String>) = e.names.iter().partition(|n| n.contains(':'));
            let entry = |names: Vec<&str>| json!({"names": names, "privileges": e.privileges, "allow_restricted_indices": e.allow_restricted_indices});
            if !near.is_empty() {
                indices.push(entry(near.iter().map(|n| n.as_str()).collect()));
            }
            for n in far {
                if let Some((clusters, name)) = n.split_once(':') {
                    let mut r = entry(vec![name]);
                    r["clusters"] = json!([clusters]);
                    remote.push(r);
                }
            }
        }
    }
    cluster.sort();
    cluster.dedup();
    let applications: Vec<&super::table::ApplicationsDoc> = live.iter().flat_map(|g| &g.doc.applications).collect();
    json!({"cluster": cluster, "global": [], "indices": indices, "remote_indices": remote, "applications": applications, "run_as": []})
}

/// Whether a live grant's application entry covers `privilege` on `resource` of `app`: each
/// granted string is a `*` pattern over the asked one (so `*` holds every privilege or action).
fn application_held(live: &[&Arc<CompiledGrant>], app: &str, resource: &str, privilege: &str) -> bool {
    live.iter().flat_map(|g| &g.doc.applications).any(|e| {
        glob_match(&e.application, app) && e.resources.iter().any(|r| glob_match(r, resource)) && e.privileges.iter().any(|p| glob_match(p, privilege))
    })
}

/// Action names and patterns (`indices:data/read/*`, `cluster:monitor/*`): valid to ask about,
/// never granted by Sluice.
fn is_action(name: &str) -> bool {
    name.contains(':') || name.contains('/')
}

fn list<'a>(v: Option<&'a Value>, field: &str) -> Result<&'a [Value], String> {
    match v {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(format!("[{field}] must be an array")),
    }
}

fn strings<'a>(v: Option<&'a Value>, field: &str) -> Result<Vec<&'a str>, String> {
    list(v, field)?.iter().map(|s| s.as_str().ok_or_else(|| format!("[{field}] must hold strings"))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::Scheme;
    use crate::authz::table::parse_table;

    const NOW: i64 = 1_800_000_000_000;

    fn snap(grants: Value) -> Snapshot {
        let (_, grants) = parse_table(&json!({"version": 1, "grants": grants})).unwrap();
        let compiled = grants.iter().filter_map(|g| super::super::snapshot::compile_grant(g).ok()).map(Arc::new).collect();
        let mut s = Snapshot::build(1, compiled);
        s.loaded = true;
        s
    }

    fn alice() -> Snapshot {
        snap(json!([
            {"id": "a", "subject": {"user": "alice"}, "cluster": ["monitor"],
             "indices": [{"names": ["logs-app-*"], "privileges": ["read", "view_index_metadata"]},
                         {"names": ["metrics-*"], "privileges": ["write"]},
                         {"names": [".security*"], "privileges": ["read"], "allow_restricted_indices": true},
                         {"names": ["eu:logs-*"], "privileges": ["read"]}],
             "applications": [{"application": "kibana-.kibana", "privileges": ["login:", "ui:*:discover/*"], "resources": ["space:default"]}],
             "expires_at": "2030-01-01T00:00:00Z"},
            {"id": "old", "subject": {"user": "alice"}, "cluster": ["manage"],
             "indices": [{"names": ["*"], "privileges": ["all"]}], "expires_at": "2020-01-01T00:00:00Z"},
            {"id": "b", "subject": {"user": "bob"}, "cluster": ["all"],
             "indices": [{"names": ["*"], "privileges": ["all"]}], "expires_at": "2030-01-01T00:00:00Z"}
        ]))
    }

    fn ask(s: &Snapshot, user: &str, body: Value) -> Result<Value, String> {
        has_privileges(s, &Principal::new(user, Vec::new(), Scheme::Basic), &body, NOW)
    }

    #[test]
    fn answers_from_live_grants_with_implications() {
        let s = alice();
        let got = ask(&s, "alice", json!({
            "cluster": ["monitor", "manage", "cluster:monitor/health"],
            "index": [{"names": ["logs-app-1", "logs-app-*", "logs-*"], "privileges": ["read", "view_index_metadata", "write"]},
                      {"names": "metrics-x", "privileges": ["index", "delete", "create_doc", "read"]},
                      {"names": ["eu:logs-a", "us:logs-a"], "privileges": ["read"]}],
            "application": [{"application": "kibana-.kibana", "privileges": ["all"], "resources": ["*"]}]
        })).unwrap();
        assert_eq!(got["username"], "alice");
        assert_eq!(got["has_all_requested"], false);
        // `manage` came from an expired grant; action names are never granted.
        assert_eq!(got["cluster"], json!({"monitor": true, "manage": false, "cluster:monitor/health": false}));
        let t = json!({"read": true, "view_index_metadata": true, "write": false});
        assert_eq!(got["index"]["logs-app-1"], t);
        assert_eq!(got["index"]["logs-app-*"], t);
        assert_eq!(got["index"]["logs-*"], json!({"read": false, "view_index_metadata": false, "write": false}), "broader than the grant");
        assert_eq!(got["index"]["metrics-x"], json!({"index": true, "delete": true, "create_doc": true, "read": false}));
        assert_eq!(got["index"]["eu:logs-a"]["read"], true);
        assert_eq!(got["index"]["us:logs-a"]["read"], false);
        assert_eq!(got["application"], json!({"kibana-.kibana": {"*": {"all": false}}}));
        let kibana = ask(&s, "alice", json!({"application": [{"application": "kibana-.kibana", "resources": ["space:default", "space:ops"],
            "privileges": ["login:", "ui:8.15.0:discover/show", "ui:8.15.0:dashboard/show"]}]})).unwrap();
        assert_eq!(kibana["application"]["kibana-.kibana"]["space:default"], json!({"login:": true, "ui:8.15.0:discover/show": true, "ui:8.15.0:dashboard/show": false}));
        assert_eq!(kibana["application"]["kibana-.kibana"]["space:ops"]["login:"], false);
        assert_eq!(kibana["has_all_requested"], false);
        let login = ask(&s, "alice", json!({"application": [{"application": "kibana-.kibana", "resources": ["space:default"], "privileges": ["login:"]}]})).unwrap();
        assert_eq!(login["has_all_requested"], true);
    }

    #[test]
    fn restricted_indices_as_elasticsearch_counts_them() {
        let s = alice();
        let bob = |body: Value| ask(&s, "bob", body).unwrap();
        // Bob's `*` has no allow_restricted_indices: patterns leave restricted indices out
        // unless asked to include them; a restricted name is always checked as one.
        assert_eq!(bob(json!({"index": [{"names": ["*"], "privileges": ["read"]}]}))["has_all_requested"], true);
        assert_eq!(bob(json!({"index": [{"names": ["*"], "privileges": ["read"], "allow_restricted_indices": true}]}))["has_all_requested"], false);
        assert_eq!(bob(json!({"index": [{"names": [".security-7"], "privileges": ["read"]}]}))["has_all_requested"], false);
        let a = ask(&s, "alice", json!({"index": [{"names": [".security-7"], "privileges": ["read"]}]})).unwrap();
        assert_eq!(a["has_all_requested"], true);
    }

    #[test]
    fn nothing_held_without_grants_or_a_table() {
        let body = json!({"cluster": ["monitor"], "index": [{"names": ["a"], "privileges": ["read"]}]});
        for s in [alice(), Snapshot::default()] {
            let got = ask(&s, "carol", body.clone()).unwrap();
            assert_eq!(got["has_all_requested"], false);
            assert_eq!(got["cluster"]["monitor"], false);
            assert_eq!(got["index"]["a"]["read"], false);
        }
        assert_eq!(ask(&alice(), "carol", json!({})).unwrap()["has_all_requested"], true, "nothing asked, all held");
    }

    #[test]
    fn lists_what_live_grants_hold() {
        let s = alice();
        let got = user_privileges(&s, &Principal::new("alice", Vec::new(), Scheme::Basic), NOW);
        assert_eq!(got["cluster"], json!(["monitor"]), "not the expired grant's manage");
        assert_eq!(got["indices"][0], json!({"names": ["logs-app-*"], "privileges": ["read", "view_index_metadata"], "allow_restricted_indices": false}));
        assert_eq!(got["indices"].as_array().map(Vec::len), Some(3));
        assert_eq!(got["remote_indices"], json!([{"names": ["logs-*"], "clusters": ["eu"], "privileges": ["read"], "allow_restricted_indices": false}]));
        assert_eq!(got["applications"][0]["application"], "kibana-.kibana");
        let nobody = user_privileges(&Snapshot::default(), &Principal::new("carol", Vec::new(), Scheme::Basic), NOW);
        assert_eq!((nobody["cluster"].clone(), nobody["indices"].clone()), (json!([]), json!([])));
    }

    #[test]
    fn invalid_requests() {
        let s = alice();
        for (body, reason) in [
            (json!([]), "must be a JSON object"),
            (json!({"clusters": []}), "unknown field [clusters]"),
            (json!({"cluster": "monitor"}), "[cluster] must be an array"),
            (json!({"cluster": ["telepathy"]}), "unknown cluster privilege [telepathy]"),
            (json!({"index": [{"privileges": ["read"]}]}), "need [names]"),
            (json!({"index": [{"names": ["a"], "privileges": ["reed"]}]}), "unknown index privilege [reed]"),
            (json!({"index": [{"names": ["a"], "privileges": ["read"], "allow_restricted_indices": "yes"}]}), "must be a boolean"),
            (json!({"application": [{"privileges": []}]}), "need [application]"),
        ] {
            let e = ask(&s, "alice", body.clone()).unwrap_err();
            assert!(e.contains(reason), "{body}: {e}");
        }
    }
}
