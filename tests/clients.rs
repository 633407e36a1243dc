//! Official clients end to end, through Sluice in front of the fake node, as the clients
//! themselves report what happened: elasticsearch-py with request compression on (product
//! check, search, a denied search, a per-item bulk (gzip), an mget with a denied doc), then
//! elasticsearch-py's and opensearch-py's own credential options (API key, basic auth) with
//! scrolls and points in time bound to the caller that opened them, and elasticsearch-js
//! (Kibana's transport) with sealed point-in-time ids.
//!
//! The clients are installed by `tools/clients-venv.sh` into `target/clients-venv` (`.ci/run`
//! does, and sets `SLUICE_REQUIRE_CLIENTS=1` so a missing client fails there); without them these
//! tests say so and pass. `SLUICE_CLIENTS_PYTHON` points at another interpreter.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use support::{FakeNode, SluiceBuilder};

fn python() -> Option<std::path::PathBuf> {
    let p = std::env::var_os("SLUICE_CLIENTS_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/clients-venv/bin/python"));
    if p.exists() {
        return Some(p);
    }
    assert!(std::env::var_os("SLUICE_REQUIRE_CLIENTS").is_none(), "no client interpreter at {} (run tools/clients-venv.sh)", p.display());
    eprintln!("skipped: no elasticsearch-py at {} (run tools/clients-venv.sh)", p.display());
    None
}

/// The JavaScript client's folder, when installed (see `python`).
fn node_client() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/clients-node");
    if dir.join("node_modules/@elastic/elasticsearch").exists() {
        return Some(dir);
    }
    assert!(std::env::var_os("SLUICE_REQUIRE_CLIENTS").is_none(), "no elasticsearch-js in {} (run tools/clients-venv.sh)", dir.display());
    eprintln!("skipped: no elasticsearch-js in {} (run tools/clients-venv.sh)", dir.display());
    None
}

/// A grant to `user` on `logs-*` with `monitor` and `privileges`, live until 2100.
fn logs_grant(id: &str, user: &str, privileges: &[&str]) -> Value {
    json!({"id": id, "subject": {"user": user}, "cluster": ["monitor"],
           "indices": [{"names": ["logs-*"], "privileges": privileges}], "expires_at": "2100-01-01T00:00:00Z"})
}

/// Runs a client script with `args` and returns the JSON object it prints.
async fn drive(py: std::path::PathBuf, script: &str, args: Vec<String>) -> Value {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients").join(script);
    // The client runs on the blocking pool while this runtime keeps serving it.
    let out = tokio::task::spawn_blocking(move || std::process::Command::new(py).arg(script).args(args).output()).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "client failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("client printed no JSON ({e}): {stdout}"))
}

#[tokio::test]
async fn elasticsearch_py_with_compression_sees_per_item_decisions_and_denials() {
    let Some(py) = python() else { return };
    let node = FakeNode::start().await;
    let table = json!({"version": 1, "grants": [logs_grant("w", "anonymous", &["read", "write", "view_index_metadata"])]});
    let sluice = SluiceBuilder::new(&[node.url()]).grants(table).start().await;
    let seen = drive(py, "es_py.py", vec![sluice.url()]).await;
    assert_eq!(seen["info"], "fake", "the product check passed and the root document came through");
    assert_eq!(seen["secret"], 403);
    assert_eq!(seen["bulk_denied"], json!([1, 4, 7]));
    assert_eq!(seen["bulk_ok"], 7);
    assert_eq!(seen["mget_errors"], json!([null, "security_exception"]));
    assert_eq!((seen["sql_rows"].as_u64(), seen["sql_next_rows"].as_u64()), (Some(1000), Some(1000)), "{seen}");
    assert_eq!((seen["msearch_pit_renewed"].as_bool(), seen["search_over_renewed_pit"].as_u64()), (Some(true), Some(1)), "{seen}");
    // The node saw the bulk decompressed, with the allowed items only.
    let bulk = node.received().into_iter().find(|r| r.target.ends_with("/_bulk")).unwrap();
    let text = String::from_utf8(bulk.body).unwrap();
    assert_eq!(text.lines().count(), 14, "{text}");
    assert!(!text.contains("secret"));
}

#[tokio::test]
async fn client_credential_options_and_continuations_bound_to_their_caller() {
    let Some(py) = python() else { return };
    let node = FakeNode::start().await;
    let dir = tempfile::tempdir().unwrap();
    let hash = sluice::authn::basic::hash_password("alice-pw").unwrap();
    std::fs::write(dir.path().join("users.toml"), format!("[[users]]\nname = \"alice\"\nhash = {hash:?}\ngroups = [\"ops\"]\n")).unwrap();
    let mut table = json!({"version": 1, "grants": [logs_grant("a", "alice", &["read", "write", "view_index_metadata"]), logs_grant("b", "bob", &["read"])]});
    table["grants"][0]["cluster"] = json!(["monitor", "manage_own_api_key"]);
    let sluice = SluiceBuilder::new(&[node.url()])
        .no_anonymous()
        .dir(dir.path())
        .env("TEST_ADMIN_TOKEN", "admin-secret-0123456789")
        .toml("[admin]\ntoken_env = \"TEST_ADMIN_TOKEN\"\n[authn.basic]\nusers_file = \"users.toml\"")
        .grants(table)
        .start()
        .await;
    let created = support::client::call(sluice.admin, "POST", "/_sluice/api_keys", &[("authorization", "Bearer admin-secret-0123456789")], r#"{"name":"bob-key","owner":"bob"}"#).await;
    assert_eq!(created.status, 200, "{}", created.text());
    let key = created.json();
    let args = ["encoded", "id", "api_key"].map(|f| key[f].as_str().unwrap().to_string());
    let seen = drive(py, "credentials_py.py", [vec![sluice.url()], args.to_vec()].concat()).await;
    assert_eq!(seen["key_search"], 1, "{seen}");
    assert_eq!(seen["key_secret"], 403);
    assert_eq!(seen["pair_count"], 3);
    assert_eq!(seen["alice_search"], 1);
    assert_eq!(seen["wrong_password"], 401);
    assert_eq!(seen["key_whoami"], "bob", "the key's owner, not the service account");
    assert_eq!(seen["alice_has"], json!({"read": true, "delete_index": false}));
    assert_eq!(seen["minted_whoami"], "alice", "a key minted with create_api_key is the caller's");
    assert_eq!(seen["minted_secret"], 403);
    assert_eq!(seen["minted_listed"], json!(["py-etl"]));
    assert_eq!(seen["minted_invalidated"], true);
    assert_eq!(seen["minted_after"], 401);
    assert_eq!(seen["alice_scroll"], 200);
    assert_eq!(seen["key_scroll"], 403, "another caller's scroll id is refused");
    assert_eq!(seen["alice_pit"], 200);
    assert_eq!(seen["key_pit"], 403, "another caller's point in time is refused");
    assert_eq!(seen["os_info"], "fake");
    assert_eq!(seen["os_search"], 1);
    assert_eq!(seen["os_secret"], 403);
    assert_eq!(seen["os_bulk_ok"], 3);
    assert_eq!(seen["os_bulk_denied"], json!([1, 3, 5]));
    // Neither the callers' credentials nor their scrolls' owners reached the node as sent:
    // every request carried Sluice's own (none configured here) and no caller Authorization.
    assert!(node.received().iter().all(|r| !r.headers.contains_key("authorization")));
    let scrolls = node.received().iter().filter(|r| r.target.starts_with("/_search/scroll")).count();
    assert_eq!(scrolls, 1, "only alice's scroll continuation reached the node");
}

#[tokio::test]
async fn elasticsearch_js_through_sealed_continuations() {
    let Some(installed) = node_client() else { return };
    let node = FakeNode::start().await;
    let table = json!({"version": 1, "grants": [logs_grant("w", "bob", &["read", "write", "view_index_metadata"])]});
    let sluice = SluiceBuilder::new(&[node.url()])
        .no_anonymous()
        .env("TEST_ADMIN_TOKEN", "admin-secret-0123456789")
        .env("TEST_SEAL", "a continuation secret of more than 32 bytes")
        .toml("[admin]\ntoken_env = \"TEST_ADMIN_TOKEN\"\n[authz]\ncontinuation_secret_env = \"TEST_SEAL\"")
        .grants(table)
        .start()
        .await;
    let created = support::client::call(sluice.admin, "POST", "/_sluice/api_keys", &[("authorization", "Bearer admin-secret-0123456789")], r#"{"name":"js","owner":"bob"}"#).await;
    let key = created.json()["encoded"].as_str().unwrap().to_string();
    let seen = drive(std::path::PathBuf::from("node"), "es_js.mjs", vec![sluice.url(), key, installed.display().to_string()]).await;
    assert_eq!(seen["info"], "fake", "{seen}");
    assert_eq!(seen["search"], 1);
    assert_eq!(seen["secret"], 403);
    assert_eq!(seen["bulk_errors"], true);
    assert_eq!(seen["bulk_denied"], json!([1, 3, 5]));
    assert_eq!(seen["whoami"], "bob");
    assert_eq!(seen["pit_sealed"], true);
    assert_eq!(seen["pit_hits"], 1);
    assert_eq!(seen["pit_closed"], 200);
    // The node saw its own point-in-time id, and no index beside it.
    let pit_search = node.received().into_iter().find(|r| r.target.starts_with("/_search")).unwrap();
    let body: Value = serde_json::from_slice(&pit_search.body).unwrap();
    assert!(body["pit"]["id"].as_str().unwrap().starts_with("pit-"), "{body}");
}
