//! "Who am I" answered by Sluice: `GET /_security/_authenticate` (Elasticsearch),
//! `/_plugins/_security/authinfo` and `/_plugins/_security/api/account` (OpenSearch's security
//! plugin, also under `_opendistro`).
//! Forwarded, the cluster would describe Sluice's own service account; the caller is asking
//! about the identity Sluice authenticated. Pure: the principal in, the response document out.
//! Sluice's groups are reported where the servers report roles (what grants name).

use serde_json::{json, Value};

use super::{Principal, Scheme};

/// The realm Sluice reports for each scheme: (name, type).
fn realm(s: Scheme) -> (&'static str, &'static str) {
    match s {
        Scheme::Jwt => ("sluice_jwt", "jwt"),
        Scheme::ApiKey => ("_es_api_key", "_es_api_key"),
        Scheme::Basic => ("sluice_users", "file"),
        Scheme::Mtls => ("sluice_pki", "pki"),
        Scheme::Proxy => ("sluice_proxy", "proxy"),
    }
}

/// Elasticsearch's `_authenticate` response for `p`.
pub fn authenticate(p: &Principal) -> Value {
    let (name, kind) = realm(p.scheme);
    let mut doc = json!({
        "username": p.user,
        "roles": p.groups,
        "full_name": null,
        "email": null,
        "metadata": {"sluice_scheme": p.scheme.as_str()},
        "enabled": true,
        "authentication_realm": {"name": name, "type": kind},
        "lookup_realm": {"name": name, "type": kind},
        "authentication_type": if p.scheme == Scheme::ApiKey { "api_key" } else { "realm" },
    });
    if let (Scheme::ApiKey, Some(id)) = (p.scheme, &p.credential_id) {
        doc["api_key"] = json!({"id": id, "name": p.attributes.get("api_key_name")});
    }
    doc
}

/// OpenSearch's `authinfo` response for `p`, seen from `remote`.
pub fn authinfo(p: &Principal, remote: &str) -> Value {
    json!({
        "user": format!("User [name={}, backend_roles=[{}], requestedTenant=null]", p.user, p.groups.join(", ")),
        "user_name": p.user,
        "user_requested_tenant": null,
        "remote_address": remote,
        "backend_roles": p.groups,
        "custom_attribute_names": [],
        "roles": p.groups,
        "tenants": {},
        "principal": null,
        "peer_certificates": "0",
        "sso_logout_url": null,
    })
}

/// OpenSearch's account details (`GET /_plugins/_security/api/account`, what Dashboards'
/// account menu shows) for `p`.
pub fn account(p: &Principal) -> Value {
    json!({
        "user_name": p.user,
        "is_reserved": false,
        "is_hidden": false,
        "is_internal_user": false,
        "user_requested_tenant": null,
        "backend_roles": p.groups,
        "custom_attribute_names": [],
        "tenants": {},
        "roles": p.groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_the_caller_by_scheme() {
        let mut key = Principal::new("erin", vec!["ops".into()], Scheme::ApiKey);
        key.credential_id = Some("k1".into());
        key.attributes.insert("api_key_name".into(), "ops-311".into());
        let doc = authenticate(&key);
        assert_eq!(doc["username"], "erin");
        assert_eq!(doc["roles"], json!(["ops"]));
        assert_eq!(doc["authentication_type"], "api_key");
        assert_eq!(doc["api_key"], json!({"id": "k1", "name": "ops-311"}));
        let basic = authenticate(&Principal::new("alice", Vec::new(), Scheme::Basic));
        assert_eq!(basic["authentication_type"], "realm");
        assert_eq!(basic["authentication_realm"]["type"], "file");
        assert!(basic.get("api_key").is_none());
        for s in Scheme::ALL {
            assert_eq!(authenticate(&Principal::new("u", Vec::new(), s))["metadata"]["sluice_scheme"], s.as_str());
        }
        let info = authinfo(&Principal::new("alice", vec!["ops".into(), "dev".into()], Scheme::Jwt), "10.0.0.1:5000");
        assert_eq!(info["user_name"], "alice");
        assert_eq!(info["user"], "User [name=alice, backend_roles=[ops, dev], requestedTenant=null]");
        assert_eq!(info["backend_roles"], json!(["ops", "dev"]));
        assert_eq!(info["remote_address"], "10.0.0.1:5000");
        let acct = account(&Principal::new("alice", vec!["ops".into()], Scheme::Basic));
        assert_eq!((acct["user_name"].as_str(), acct["backend_roles"].clone()), (Some("alice"), json!(["ops"])));
    }
}
