//! Authorization end to end: the grants API (push, upsert, revoke, versions), time (expiry to
//! the second, not_before, an injected clock), subjects (user, group, API key), persistence,
//! narrowing, restricted indices, continuation binding, explain and shadow mode.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use serde_json::{json, Value};
use sluice::clock::{parse_rfc3339, ManualClock};
use support::client::{call, Got};
use support::{FakeNode, SluiceBuilder};

const TOKEN: &str = "admin-token-0123456789";
const T0: &str = "2026-11-23T10:00:00Z";

fn t0() -> i64 {
    parse_rfc3339(T0).unwrap()
}

struct Env {
    node: FakeNode,
    sluice: support::Sluice,
    clock: Arc<ManualClock>,
    dir: tempfile::TempDir,
}

impl Env {
    async fn start(extra: &str) -> Self {
        let node = FakeNode::start().await;
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::at_ms(t0());
        let sluice = Self::builder(&node, &dir, &clock, extra).start().await;
        Self { node, sluice, clock, dir }
    }

    fn builder(node: &FakeNode, dir: &tempfile::TempDir, clock: &Arc<ManualClock>, extra: &str) -> SluiceBuilder {
        SluiceBuilder::new(&[node.url()])
            .no_anonymous()
            .no_grants()
            .clock(clock.clone())
            .dir(dir.path())
            .env("T_ADMIN", TOKEN)
            .toml(&format!(
                "[admin]\ntoken_env = \"T_ADMIN\"\n[grants]\nstate_file = \"state.json\"\n[authn.proxy]\nuser_header = \"x-user\"\ngroups_header = \"x-groups\"\ntrusted_sources = [\"127.0.0.1/32\"]\n{extra}"
            ))
    }

    async fn restart(self) -> Self {
        let Env { node, sluice, clock, dir } = self;
        sluice.stop().await;
        let sluice = Self::builder(&node, &dir, &clock, "").start().await;
        Env { node, sluice, clock, dir }
    }

    async fn admin(&self, method: &str, path: &str, body: &Value) -> Got {
        let text = if body.is_null() { String::new() } else { body.to_string() };
        call(self.sluice.admin, method, path, &[("authorization", &format!("Bearer {TOKEN}"))], &text).await
    }

    async fn as_user(&self, user: &str, groups: &str, method: &str, path: &str, body: &str) -> Got {
        let mut h = vec![("x-user", user)];
        if !groups.is_empty() {
            h.push(("x-groups", groups));
        }
        call(self.sluice.addr, method, path, &h, body).await
    }

    async fn push(&self, version: u64, grants: Value) -> Got {
        self.admin("PUT", "/_sluice/grants", &json!({"version": version, "grants": grants})).await
    }
}

fn grant(id: &str, subject: Value, names: &[&str], privs: &[&str], expires: &str) -> Value {
    json!({"id": id, "subject": subject, "indices": [{"names": names, "privileges": privs}], "expires_at": expires, "reason": format!("ticket {id}")})
}

fn assert_403(got: &Got, mentions: &str) {
    assert_eq!(got.status, 403, "{}", got.text());
    let v = got.json();
    assert_eq!(v["error"]["type"], "security_exception");
    let reason = v["error"]["reason"].as_str().unwrap();
    assert!(reason.contains(mentions), "{reason}");
}

#[tokio::test]
async fn no_table_denies_then_push_upsert_revoke_and_versions() {
    let env = Env::start("").await;
    assert_403(&env.as_user("alice", "", "GET", "/logs-app-1/_search", "").await, "no grant table");
    let status = env.admin("GET", "/_sluice/grants/_status", &Value::Null).await.json();
    assert_eq!(status["loaded"], false);

    let g1 = grant("g-1842", json!({"user": "alice"}), &["logs-app-*"], &["read", "view_index_metadata"], "2026-11-23T12:00:00Z");
    let got = env.push(42, json!([g1])).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.json()["version"], 42);
    assert_eq!(env.as_user("alice", "", "GET", "/logs-app-1/_search", "").await.status, 200);
    // Privileges are checked per action: read does not cover a write; other users have nothing.
    assert_403(&env.as_user("alice", "", "PUT", "/logs-app-1/_doc/1", "{}").await, "on indices [logs-app-1]");
    assert_403(&env.as_user("bob", "", "GET", "/logs-app-1/_search", "").await, "user [bob]");
    assert_403(&env.as_user("alice", "", "GET", "/_cluster/health", "").await, "cluster privileges");
    // Stale or equal versions are refused and change nothing.
    for v in [41, 42] {
        let got = env.push(v, json!([])).await;
        assert_eq!(got.status, 409, "{}", got.text());
        assert_eq!(got.json()["error"]["type"], "version_conflict_engine_exception");
    }
    assert_eq!(env.as_user("alice", "", "GET", "/logs-app-1/_search", "").await.status, 200);
    // Upsert: a new grant for bob, version 43; an update of alice's, version 44.
    let g2 = grant("g-2", json!({"user": "bob"}), &["metrics-*"], &["write"], "2026-11-23T12:00:00Z");
    let got = env.admin("PUT", "/_sluice/grants/g-2", &g2).await.json();
    assert_eq!((got["version"].as_u64(), got["result"].as_str()), (Some(43), Some("created")));
    assert_eq!(env.as_user("bob", "", "PUT", "/metrics-1/_doc/1", "{}").await.status, 200);
    let mut g1w = grant("g-1842", json!({"user": "alice"}), &["logs-app-*"], &["all"], "2026-11-23T12:00:00Z");
    g1w["cluster"] = json!(["monitor"]);
    let got = env.admin("PUT", "/_sluice/grants/g-1842", &g1w).await.json();
    assert_eq!((got["version"].as_u64(), got["result"].as_str()), (Some(44), Some("updated")));
    assert_eq!(env.as_user("alice", "", "PUT", "/logs-app-1/_doc/1", "{}").await.status, 200);
    assert_eq!(env.as_user("alice", "", "GET", "/_cluster/health", "").await.status, 200);
    // Revoke.
    let got = env.admin("DELETE", "/_sluice/grants/g-2", &Value::Null).await.json();
    assert_eq!((got["version"].as_u64(), got["result"].as_str()), (Some(45), Some("deleted")));
    assert_403(&env.as_user("bob", "", "PUT", "/metrics-1/_doc/1", "{}").await, "user [bob]");
    assert_eq!(env.admin("DELETE", "/_sluice/grants/g-2", &Value::Null).await.status, 404);
    // Listing, filtered by subject; status.
    let list = env.admin("GET", "/_sluice/grants?user=alice", &Value::Null).await.json();
    assert_eq!(list["version"], 45);
    assert_eq!(list["grants"].as_array().unwrap().len(), 1);
    assert_eq!(env.admin("GET", "/_sluice/grants?user=bob", &Value::Null).await.json()["grants"], json!([]));
    let status = env.admin("GET", "/_sluice/grants/_status", &Value::Null).await.json();
    assert_eq!((status["version"].as_u64(), status["live"].as_u64()), (Some(45), Some(1)));
    assert_eq!(status["next_expiry"], "2026-11-23T12:00:00Z");
    // An invalid table is rejected whole, every error listed.
    let bad = json!([grant("a", json!({"user": "x"}), &["x"], &["raed"], "2026-11-23T12:00:00Z"),
                     grant("b", json!({"user": "y"}), &["y"], &["read"], "noon")]);
    let got = env.push(99, bad).await;
    assert_eq!(got.status, 400);
    assert_eq!(got.json()["errors"].as_array().unwrap().len(), 2, "{}", got.text());
    assert_eq!(env.admin("GET", "/_sluice/grants/_status", &Value::Null).await.json()["version"], 45);
    // The admin API needs the token.
    assert_eq!(call(env.sluice.admin, "PUT", "/_sluice/grants", &[], "{}").await.status, 401);
}

#[tokio::test]
async fn grants_live_in_not_before_to_expires_at_exactly() {
    let env = Env::start("").await;
    let mut g = grant("g", json!({"user": "alice"}), &["logs-*"], &["read"], "2026-11-23T11:00:00Z");
    g["not_before"] = json!("2026-11-23T10:30:00Z");
    env.push(1, json!([g])).await;
    let search = || env.as_user("alice", "", "GET", "/logs-1/_search", "");
    assert_eq!(search().await.status, 403);
    env.clock.set_ms(parse_rfc3339("2026-11-23T10:29:59.999Z").unwrap());
    assert_eq!(search().await.status, 403);
    env.clock.set_ms(parse_rfc3339("2026-11-23T10:30:00Z").unwrap());
    assert_eq!(search().await.status, 200);
    env.clock.set_ms(parse_rfc3339("2026-11-23T10:59:59.999Z").unwrap());
    assert_eq!(search().await.status, 200, "cached decision still valid");
    env.clock.set_ms(parse_rfc3339("2026-11-23T11:00:00Z").unwrap());
    assert_eq!(search().await.status, 403, "no request is allowed after expiry, without a push");
}

#[tokio::test]
async fn group_and_api_key_subjects() {
    let env = Env::start("").await;
    let key = env.admin("POST", "/_sluice/api_keys", &json!({"name": "jit", "owner": "svc-etl"})).await.json();
    let id = key["id"].as_str().unwrap();
    env.push(
        1,
        json!([
            grant("by-group", json!({"group": "sre"}), &["metrics-*"], &["read"], "2026-11-23T12:00:00Z"),
            grant("by-key", json!({"api_key": id}), &["etl-*"], &["index"], "2026-11-23T12:00:00Z"),
        ]),
    )
    .await;
    assert_eq!(env.as_user("carol", "dev,sre", "GET", "/metrics-1/_search", "").await.status, 200);
    assert_eq!(env.as_user("carol", "dev", "GET", "/metrics-1/_search", "").await.status, 403);
    let auth = format!("ApiKey {}", key["encoded"].as_str().unwrap());
    let got = call(env.sluice.addr, "PUT", "/etl-1/_doc/1", &[("authorization", &auth)], "{}").await;
    assert_eq!(got.status, 200, "{}", got.text());
    // The grant is the key's, not its owner's by any other credential.
    assert_eq!(env.as_user("svc-etl", "", "PUT", "/etl-1/_doc/1", "{}").await.status, 403);
}

#[tokio::test]
async fn versions_stop_at_the_largest_and_never_wrap_around() {
    const MAX: u64 = (1 << 53) - 1;
    let env = Env::start("").await;
    let g = |id: &str| grant(id, json!({"user": "alice"}), &["logs-*"], &["read"], "2026-11-23T12:00:00Z");
    let got = env.push(MAX + 1, json!([g("a")])).await;
    assert_eq!(got.status, 400, "{}", got.text());
    assert!(got.text().contains("largest version"), "{}", got.text());
    assert_eq!(env.push(MAX - 1, json!([g("a"), g("b")])).await.status, 200);
    let got = env.admin("PUT", "/_sluice/grants/c", &g("c")).await;
    assert_eq!(got.json()["version"].as_u64(), Some(MAX));
    // At the largest version nothing can be added...
    let got = env.admin("PUT", "/_sluice/grants/d", &g("d")).await;
    assert_eq!(got.status, 409, "{}", got.text());
    assert_eq!(env.push(u64::MAX, json!([g("d")])).await.status, 400);
    // ...but grants can still be revoked, and no push can roll that back.
    let got = env.admin("DELETE", "/_sluice/grants/a", &Value::Null).await;
    assert_eq!((got.status, got.json()["version"].as_u64()), (200, Some(MAX)));
    for v in [0, 1, MAX] {
        assert_eq!(env.push(v, json!([g("a")])).await.status, 409);
    }
    let listed = env.admin("GET", "/_sluice/grants", &Value::Null).await.json();
    let ids: Vec<&str> = listed["grants"].as_array().unwrap().iter().filter_map(|g| g["id"].as_str()).collect();
    assert_eq!(ids, ["b", "c"]);
}

#[tokio::test]
async fn state_file_restart_and_corruption() {
    let env = Env::start("").await;
    env.push(7, json!([grant("g", json!({"user": "alice"}), &["logs-*"], &["read"], "2026-11-23T12:00:00Z")])).await;
    let env = env.restart().await;
    assert_eq!(env.as_user("alice", "", "GET", "/logs-1/_search", "").await.status, 200);
    assert_eq!(env.admin("GET", "/_sluice/grants/_status", &Value::Null).await.json()["version"], 7);
    assert_eq!(env.push(7, json!([])).await.status, 409, "the version survives restarts");
    // A corrupt state file stops start-up with a clear error.
    std::fs::write(env.dir.path().join("state.json"), b"{\"grants\": {\"version\": ").unwrap();
    let builder = Env::builder(&env.node, &env.dir, &env.clock, "");
    let config = builder.config();
    let listeners = sluice::bind(&config).await.unwrap();
    let (_s, srx) = tokio::sync::watch::channel(false);
    let (_r, rrx) = tokio::sync::watch::channel(0);
    let control = sluice::Control { shutdown: srx, reload: rrx, clock: env.clock.clone() };
    let err = sluice::run(config, listeners, control).await.unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
}

#[tokio::test]
async fn wildcard_reads_narrow_writes_do_not() {
    let env = Env::start("").await;
    env.push(1, json!([grant("g", json!({"user": "alice"}), &["logs-app-*", "logs-web-*"], &["read", "write"], "2026-11-23T12:00:00Z")])).await;
    let got = env.as_user("alice", "", "GET", "/logs-*/_search?q=x", "").await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(env.node.last().target, "/logs-app-*,logs-web-*/_search?q=x");
    // No index at all: the granted patterns go into the path.
    env.as_user("alice", "", "GET", "/_search", "").await;
    assert_eq!(env.node.last().target, "/logs-app-*,logs-web-*/_search");
    // Fully covered: forwarded as sent.
    env.as_user("alice", "", "GET", "/logs-app-*/_search", "").await;
    assert_eq!(env.node.last().target, "/logs-app-*/_search");
    // Narrowed to nothing: Elasticsearch's empty answer for a wildcard matching no index.
    env.as_user("alice", "", "GET", "/metrics-*/_search", "").await;
    assert_eq!(env.node.last().target, "/*,-*/_search");
    // A concrete name the caller lacks is 403; so is a broad write.
    assert_403(&env.as_user("alice", "", "GET", "/metrics-1/_search", "").await, "on indices [metrics-1]");
    let before = env.node.count();
    assert_403(&env.as_user("alice", "", "POST", "/logs-*/_delete_by_query", r#"{"query":{"match_all":{}}}"#).await, "logs-*");
    assert_403(&env.as_user("alice", "", "DELETE", "/logs-*", "").await, "logs-*");
    assert_eq!(env.node.count(), before, "denied requests never reach the node");
    // msearch items are decided one by one: a wildcard is narrowed in its header, a concrete
    // name the caller lacks comes back as an error entry in place.
    let body = "{\"index\":\"metrics-*\"}\n{}\n{\"index\":\"secret\"}\n{}\n{\"index\":\"logs-*\"}\n{}\n";
    let got = env.as_user("alice", "", "POST", "/_msearch", body).await;
    assert_eq!(got.status, 200, "{}", got.text());
    let r = got.json()["responses"].as_array().unwrap().clone();
    assert_eq!(r.len(), 3);
    assert_eq!((r[0]["status"].as_u64(), r[1]["status"].as_u64(), r[2]["status"].as_u64()), (Some(200), Some(403), Some(200)));
    assert!(r[1]["error"]["reason"].as_str().unwrap().contains("secret"));
    let sent = String::from_utf8(env.node.last().body).unwrap();
    assert_eq!(sent, "{\"index\":\"*,-*\"}\n{}\n{\"index\":\"logs-app-*,logs-web-*\"}\n{}\n");
    // Bulk items likewise: the denied one never reaches the node and comes back as a 403 item.
    let bulk = "{\"index\":{\"_index\":\"logs-app-1\"}}\n{}\n{\"index\":{\"_index\":\"secret\",\"_id\":\"7\"}}\n{}\n";
    let got = env.as_user("alice", "", "POST", "/_bulk", bulk).await.json();
    assert_eq!(got["errors"], true);
    assert_eq!(got["items"][1]["index"]["_index"], "secret");
    assert_eq!(got["items"][1]["index"]["_id"], "7");
    assert_eq!(got["items"][1]["index"]["status"], 403);
    assert_eq!(env.node.last().body, b"{\"index\":{\"_index\":\"logs-app-1\"}}\n{}\n");
    let before = env.node.count();
    let all_denied = "{\"delete\":{\"_index\":\"secret\",\"_id\":\"1\"}}\n";
    let got = env.as_user("alice", "", "POST", "/_bulk", all_denied).await.json();
    assert_eq!((got["errors"].as_bool(), got["items"][0]["delete"]["status"].as_u64()), (Some(true), Some(403)));
    assert_eq!(env.node.count(), before, "an all-denied bulk is answered by Sluice");
    let bulk = "{\"index\":{\"_index\":\"logs-app-1\"}}\n{}\n{\"delete\":{\"_index\":\"logs-web-1\",\"_id\":\"1\"}}\n";
    assert_eq!(env.as_user("alice", "", "POST", "/_bulk", bulk).await.status, 200);
}

#[tokio::test]
async fn restricted_indices_need_allow_restricted() {
    let env = Env::start("").await;
    let mut special = grant("r", json!({"user": "bob"}), &[".security*"], &["read"], "2026-11-23T12:00:00Z");
    special["indices"][0]["allow_restricted_indices"] = json!(true);
    env.push(1, json!([grant("g", json!({"user": "alice"}), &["*"], &["all"], "2026-11-23T12:00:00Z"), special])).await;
    assert_403(&env.as_user("alice", "", "GET", "/.security-7/_search", "").await, ".security-7");
    assert_eq!(env.as_user("alice", "", "GET", "/logs/_search", "").await.status, 200);
    // `*` reads everything except the restricted indices.
    env.as_user("alice", "", "GET", "/*/_search", "").await;
    assert!(env.node.last().target.starts_with("/*,-.security*,-.async-search*"), "{}", env.node.last().target);
    assert_403(&env.as_user("alice", "", "DELETE", "/*", "").await, "[*]");
    assert_eq!(env.as_user("bob", "", "GET", "/.security-7/_search", "").await.status, 200);
}

#[tokio::test]
async fn continuation_ids_are_bound_to_their_creator_and_grant() {
    let env = Env::start("").await;
    env.push(
        1,
        json!([
            grant("ga", json!({"user": "alice"}), &["logs-*"], &["read"], "2026-11-23T12:00:00Z"),
            grant("gb", json!({"user": "bob"}), &["logs-*"], &["read"], "2026-11-23T12:00:00Z"),
            grant("ga-other", json!({"user": "alice"}), &["other-*"], &["read"], "2026-11-23T12:00:00Z"),
        ]),
    )
    .await;
    let first = env.as_user("alice", "", "GET", "/logs-1/_search?scroll=1m", "").await.json();
    let id = first["_scroll_id"].as_str().unwrap().to_string();
    let body = json!({"scroll": "1m", "scroll_id": id}).to_string();
    let next = env.as_user("alice", "", "POST", "/_search/scroll", &body).await;
    assert_eq!(next.status, 200, "{}", next.text());
    // The next page's id is bound too.
    let id2 = next.json()["_scroll_id"].as_str().unwrap().to_string();
    assert_eq!(env.as_user("alice", "", "POST", "/_search/scroll", &json!({"scroll_id": id2}).to_string()).await.status, 200);
    assert_403(&env.as_user("bob", "", "POST", "/_search/scroll", &body).await, "another user");
    assert_403(&env.as_user("alice", "", "POST", "/_search/scroll", &json!({"scroll_id": "made-up"}).to_string()).await, "not created through Sluice");
    // Point in time ids likewise.
    let pit = env.as_user("alice", "", "POST", "/logs-1/_pit?keep_alive=1m", "").await.json();
    let pit_id = pit["id"].as_str().unwrap();
    let search = json!({"pit": {"id": pit_id}}).to_string();
    assert_403(&env.as_user("bob", "", "POST", "/_search", &search).await, "another user");
    // Its owner searches it with no index named, alone or in an msearch: nothing is narrowed
    // into the path or the header (Elasticsearch refuses indices beside a point in time).
    let got = env.as_user("alice", "", "POST", "/_search", &search).await;
    assert_eq!((got.status, env.node.last().target), (200, "/_search".to_string()), "{}", got.text());
    let msearch = format!("{{}}\n{search}\n");
    let got = env.as_user("alice", "", "POST", "/_msearch", &msearch).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(String::from_utf8(env.node.last().body).unwrap(), msearch);
    assert_eq!(got.json()["responses"][0]["status"], 200);
    // The node answered with a new id for the point in time: bound like the one it replaces.
    let new_pit = got.json()["responses"][0]["pit_id"].as_str().unwrap().to_string();
    assert_eq!(new_pit, format!("{pit_id}+1"));
    let again = json!({"pit": {"id": new_pit}}).to_string();
    assert_eq!(env.as_user("alice", "", "POST", "/_search", &again).await.status, 200);
    assert_403(&env.as_user("bob", "", "POST", "/_search", &again).await, "another user");
    let got = env.as_user("bob", "", "POST", "/_msearch", &msearch).await;
    assert_eq!(got.json()["responses"][0]["status"], 403, "another user's point in time, in an msearch");
    // They die with the grant that allowed them.
    env.admin("DELETE", "/_sluice/grants/ga", &Value::Null).await;
    assert_403(&env.as_user("alice", "", "POST", "/_search/scroll", &body).await, "has ended");
}

#[tokio::test]
async fn sql_cursors_are_bound_after_a_long_page_and_from_headers() {
    let env = Env::start("").await;
    env.push(
        1,
        json!([
            grant("ga", json!({"user": "alice"}), &["logs-*"], &["read"], "2026-11-23T12:00:00Z"),
            grant("gb", json!({"user": "bob"}), &["logs-*"], &["read"], "2026-11-23T12:00:00Z"),
        ]),
    )
    .await;
    let query = json!({"query": "SELECT * FROM \"logs-1\"", "fetch_size": 1000}).to_string();
    let page = env.as_user("alice", "", "POST", "/_sql", &query).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.body.len() > 64 * 1024, "the cursor comes after a long page of rows: {}", page.body.len());
    let cursor = page.json()["cursor"].as_str().unwrap().to_string();
    let next = json!({"cursor": cursor}).to_string();
    let got = env.as_user("alice", "", "POST", "/_sql", &next).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_403(&env.as_user("bob", "", "POST", "/_sql", &next).await, "another user");
    // Text formats carry the cursor in a header.
    let page = env.as_user("alice", "", "POST", "/_sql?format=txt", &query).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let next = json!({"cursor": page.headers["cursor"].to_str().unwrap()}).to_string();
    let got = env.as_user("alice", "", "POST", "/_sql?format=txt", &next).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_403(&env.as_user("bob", "", "POST", "/_sql?format=txt", &next).await, "another user");
    // OpenSearch's SQL plugin pages and closes its cursors the same way.
    let page = env.as_user("alice", "", "POST", "/_plugins/_sql", &query).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let next = json!({"cursor": page.json()["cursor"]}).to_string();
    assert_eq!(env.as_user("alice", "", "POST", "/_plugins/_sql", &next).await.status, 200);
    assert_403(&env.as_user("bob", "", "POST", "/_plugins/_sql/close", &next).await, "another user");
    assert_eq!(env.as_user("alice", "", "POST", "/_plugins/_sql/close", &next).await.status, 200);
    // Fields of a document named like continuation ids are data: the scroll's own id is bound,
    // theirs are not.
    let page = env.as_user("alice", "", "GET", "/logs-1/_search?scroll=1m&fake_lookalikes=1", "").await.json();
    assert_eq!(page["hits"]["hits"][0]["_source"]["_scroll_id"], "doc-scroll");
    let own = json!({"scroll_id": page["_scroll_id"]}).to_string();
    assert_eq!(env.as_user("alice", "", "POST", "/_search/scroll", &own).await.status, 200);
    let lookalike = json!({"scroll_id": "doc-scroll"}).to_string();
    assert_403(&env.as_user("alice", "", "POST", "/_search/scroll", &lookalike).await, "not created through Sluice");
}

#[tokio::test]
async fn explain_answers_with_classification_decision_and_grants() {
    let env = Env::start("").await;
    env.push(3, json!([grant("g-1842", json!({"user": "alice"}), &["logs-app-*"], &["read"], "2026-11-23T12:00:00Z")])).await;
    let ask = |path: &str, method: &str| json!({"principal": {"user": "alice"}, "request": {"method": method, "path": path}});
    let got = env.admin("POST", "/_sluice/explain", &ask("/logs-app-1/_search", "GET")).await.json();
    assert_eq!(got["decision"]["allowed"], true);
    assert_eq!(got["decision"]["grants"], json!(["g-1842"]));
    assert_eq!(got["classification"]["api"], "search");
    assert_eq!(got["grants_considered"][0]["reason"], "ticket g-1842");
    let got = env.admin("POST", "/_sluice/explain", &ask("/logs-app-1/_doc/1", "DELETE")).await.json();
    assert_eq!(got["decision"]["allowed"], false);
    assert!(got["decision"]["reason"].as_str().unwrap().contains("delete"), "{got}");
    let got = env.admin("POST", "/_sluice/explain", &ask("/logs-*/_search", "GET")).await.json();
    assert_eq!(got["decision"]["narrowed_to"], "logs-app-*");
    let got = env.admin("POST", "/_sluice/explain", &ask("/_security/api_key", "GET")).await.json();
    assert!(got["decision"]["reason"].as_str().unwrap().contains("manage_own_api_key"), "{got}");
    let got = env.admin("POST", "/_sluice/explain", &ask("/_security/_authenticate", "GET")).await.json();
    assert_eq!((got["decision"]["allowed"].as_bool(), got["decision"]["answered_by"].as_str()), (Some(true), Some("sluice")));
    // Never another principal's grants.
    let bob = json!({"principal": {"user": "bob"}, "request": {"method": "GET", "path": "/logs-app-1/_search"}});
    let got = env.admin("POST", "/_sluice/explain", &bob).await.json();
    assert_eq!(got["grants_considered"], json!([]));
    assert!(!got.to_string().contains("g-1842"));
}

#[tokio::test]
async fn shadow_mode_forwards_what_would_be_denied() {
    let env = Env::start("[authz]\nmode = \"shadow\"").await;
    env.push(1, json!([grant("g", json!({"user": "alice"}), &["logs-*"], &["read"], "2026-11-23T12:00:00Z")])).await;
    let got = env.as_user("bob", "", "DELETE", "/logs-1", "").await;
    assert_eq!(got.status, 200);
    assert_eq!(env.node.last().target, "/logs-1");
    // Not narrowed either: shadow mode changes nothing on the wire.
    env.as_user("alice", "", "GET", "/*/_search", "").await;
    assert_eq!(env.node.last().target, "/*/_search");
}

#[tokio::test]
async fn who_am_i_and_has_privileges_are_answered_from_sluice_not_the_cluster() {
    let env = Env::start("").await;
    // Before any table: the caller is still described, and holds nothing.
    let me = env.as_user("alice", "ops,dev", "GET", "/_security/_authenticate", "").await;
    assert_eq!(me.status, 200, "{}", me.text());
    let me = me.json();
    assert_eq!(me["username"], "alice");
    assert_eq!(me["roles"], json!(["ops", "dev"]));
    assert_eq!(me["authentication_type"], "realm");
    let ask = json!({"cluster": ["monitor"], "index": [{"names": ["logs-app-1", "logs-*"], "privileges": ["read", "write"]}]}).to_string();
    let none = env.as_user("alice", "", "POST", "/_security/user/_has_privileges", &ask).await;
    assert_eq!(none.status, 200, "{}", none.text());
    assert_eq!(none.json()["has_all_requested"], false);
    env.push(1, json!([grant("g-1", json!({"user": "alice"}), &["logs-app-*"], &["read"], "2026-11-23T11:00:00Z")])).await;
    let held = env.as_user("alice", "", "GET", "/_security/user/alice/_has_privileges", &ask).await.json();
    assert_eq!(held["username"], "alice");
    assert_eq!(held["cluster"], json!({"monitor": false}));
    assert_eq!(held["index"], json!({"logs-app-1": {"read": true, "write": false}, "logs-*": {"read": false, "write": false}}));
    let listed = env.as_user("alice", "", "GET", "/_security/user/_privileges", "").await.json();
    assert_eq!(listed["indices"], json!([{"names": ["logs-app-*"], "privileges": ["read"], "allow_restricted_indices": false}]));
    // Kibana's feature privileges come from the grants' `applications`.
    let kib = json!({"subject": {"user": "alice"}, "applications": [{"application": "kibana-.kibana", "privileges": ["login:", "ui:*"], "resources": ["space:default"]}], "expires_at": "2026-11-23T11:00:00Z"});
    assert_eq!(env.admin("PUT", "/_sluice/grants/kibana", &kib).await.status, 200);
    let app = json!({"application": [{"application": "kibana-.kibana", "resources": ["space:default"], "privileges": ["login:", "ui:8.15.0:discover/show", "api:8.15.0:fleet"]}]}).to_string();
    let app = env.as_user("alice", "", "POST", "/_security/user/_has_privileges", &app).await.json();
    assert_eq!(app["application"]["kibana-.kibana"]["space:default"], json!({"login:": true, "ui:8.15.0:discover/show": true, "api:8.15.0:fleet": false}));
    // Another user's privileges, a missing body, an unknown privilege: Elasticsearch's 400s.
    let other = env.as_user("alice", "", "POST", "/_security/user/bob/_has_privileges", &ask).await;
    assert_eq!((other.status, other.json()["error"]["type"].clone()), (400, json!("illegal_argument_exception")));
    assert_eq!(env.as_user("alice", "", "POST", "/_security/user/_has_privileges", "").await.status, 400);
    let bad = env.as_user("alice", "", "POST", "/_security/user/_has_privileges", r#"{"cluster":["telepathy"]}"#).await;
    assert!(bad.text().contains("unknown cluster privilege [telepathy]"), "{}", bad.text());
    // Grants end on time here too.
    env.clock.advance_ms(3_600_000);
    let later = env.as_user("alice", "", "POST", "/_security/user/_has_privileges", &ask).await.json();
    assert_eq!(later["index"]["logs-app-1"]["read"], false);
    // OpenSearch's security plugin asks under two prefixes.
    for path in ["/_plugins/_security/authinfo", "/_opendistro/_security/authinfo"] {
        let info = env.as_user("carol", "sre", "GET", path, "").await;
        assert_eq!(info.status, 200, "{path}: {}", info.text());
        assert_eq!(info.json()["user_name"], "carol");
        assert_eq!(info.json()["backend_roles"], json!(["sre"]));
    }
    let acct = env.as_user("carol", "sre", "GET", "/_plugins/_security/api/account", "").await.json();
    assert_eq!((acct["user_name"].as_str(), acct["roles"].clone()), (Some("carol"), json!(["sre"])));
    // An API key's holder is told which key it is.
    let key = env.admin("POST", "/_sluice/api_keys", &json!({"name": "jit", "owner": "svc-etl"})).await.json();
    let auth = format!("ApiKey {}", key["encoded"].as_str().unwrap());
    let me = call(env.sluice.addr, "GET", "/_security/_authenticate", &[("authorization", &auth)], "").await.json();
    assert_eq!(me["username"], "svc-etl");
    assert_eq!(me["api_key"], json!({"id": key["id"], "name": "jit"}));
    // None of it reached the node; unauthenticated callers still get 401.
    assert!(env.node.received().iter().all(|r| !r.target.contains("_security")), "{:?}", env.node.received().iter().map(|r| &r.target).collect::<Vec<_>>());
    assert_eq!(call(env.sluice.addr, "GET", "/_security/_authenticate", &[], "").await.status, 401);
}

#[tokio::test]
async fn sealed_continuation_ids_hold_across_instances_and_restarts() {
    const SECRET: &str = "a shared secret of at least 32 bytes, for every instance";
    let node = FakeNode::start().await;
    let clock = ManualClock::at_ms(t0());
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let start = |i: usize, secret: &str| {
        Env::builder(&node, &dirs[i], &clock, "[authz]\ncontinuation_secret_env = \"T_SEAL\"").env("T_SEAL", secret).start()
    };
    let (a, b) = (start(0, SECRET).await, start(1, SECRET).await);
    let other = start(2, "another secret, also at least 32 bytes long").await;
    let table = json!({"version": 1, "grants": [
        grant("g-a", json!({"user": "alice"}), &["logs-*"], &["read"], "2026-11-23T11:00:00Z"),
        grant("g-b", json!({"user": "bob"}), &["logs-*"], &["read"], "2026-11-23T11:00:00Z")]});
    for s in [&a, &b, &other] {
        let got = call(s.admin, "PUT", "/_sluice/grants", &[("authorization", &format!("Bearer {TOKEN}"))], &table.to_string()).await;
        assert_eq!(got.status, 200, "{}", got.text());
    }
    let as_user = |u: &'static str| [("x-user", u), ("content-type", "application/json")];
    // Alice opens a scroll through one instance: she is handed a sealed id, not the node's.
    let first = call(a.addr, "GET", "/logs-app-1/_search?scroll=1m", &as_user("alice"), "").await;
    assert_eq!(first.status, 200, "{}", first.text());
    let sealed = first.json()["_scroll_id"].as_str().unwrap().to_string();
    assert!(sealed.starts_with("sl1."), "{sealed}");
    // She continues through another instance; the node sees its own id, in the body and in the path.
    let body = json!({"scroll": "1m", "scroll_id": sealed}).to_string();
    let next = call(b.addr, "POST", "/_search/scroll", &as_user("alice"), &body).await;
    assert_eq!(next.status, 200, "{}", next.text());
    let seen = node.last();
    let sent: Value = serde_json::from_slice(&seen.body).unwrap();
    assert!(sent["scroll_id"].as_str().unwrap().starts_with("scroll-"), "{sent}");
    assert_eq!(seen.headers["content-length"], seen.body.len().to_string());
    assert!(next.json()["_scroll_id"].as_str().unwrap().starts_with("sl1."), "the next page's id is sealed too");
    let by_path = call(b.addr, "GET", &format!("/_search/scroll/{sealed}?scroll=1m"), &as_user("alice"), "").await;
    assert_eq!(by_path.status, 200, "{}", by_path.text());
    assert!(node.last().target.starts_with("/_search/scroll/scroll-"), "{}", node.last().target);
    // Not for Bob, not through an instance with another secret, not the node's raw id.
    let forwarded = node.count();
    assert_403(&call(b.addr, "POST", "/_search/scroll", &as_user("bob"), &body).await, "belongs to another user");
    assert_403(&call(other.addr, "POST", "/_search/scroll", &as_user("alice"), &body).await, "did not seal");
    let raw = json!({"scroll_id": sent["scroll_id"]}).to_string();
    assert_403(&call(b.addr, "POST", "/_search/scroll", &as_user("alice"), &raw).await, "not an id handed out by Sluice");
    assert_eq!(node.count(), forwarded, "refused continuations never reach the node");
    // A point in time opened through one instance and searched through another, after a restart.
    let pit = call(a.addr, "POST", "/logs-app-1/_pit?keep_alive=1m", &as_user("alice"), "").await.json();
    let pit_id = pit["id"].as_str().unwrap().to_string();
    assert!(pit_id.starts_with("sl1."), "{pit}");
    b.stop().await;
    let b = start(1, SECRET).await;
    let search = json!({"size": 1, "pit": {"id": pit_id, "keep_alive": "1m"}}).to_string();
    let got = call(b.addr, "POST", "/_search", &as_user("alice"), &search).await;
    assert_eq!(got.status, 200, "{}", got.text());
    let sent: Value = serde_json::from_slice(&node.last().body).unwrap();
    assert!(sent["pit"]["id"].as_str().unwrap().starts_with("pit-"), "{sent}");
    assert_eq!(node.last().target, "/_search", "a search over a point in time names no index and is not narrowed");
    let msearch = format!("{{}}\n{search}\n");
    let got = call(b.addr, "POST", "/_msearch", &[("x-user", "alice"), ("content-type", "application/x-ndjson")], &msearch).await;
    assert_eq!(got.json()["responses"][0]["status"], 200, "{}", got.text());
    let sent = String::from_utf8(node.last().body).unwrap();
    assert!(sent.starts_with("{}\n{") && sent.contains("\"pit-") && !sent.contains("sl1."), "{sent}");
    // The msearch answer's new id for the point in time is sealed too, and opens anywhere, also
    // after a search denied and put back before it (and with the answer gzipped).
    let two = format!("{{\"index\":\"secret\"}}\n{{}}\n{{}}\n{search}\n");
    let gz = [("x-user", "alice"), ("content-type", "application/x-ndjson"), ("accept-encoding", "gzip")];
    let got = call(a.addr, "POST", "/_msearch", &gz, &two).await;
    assert_eq!(got.headers.get("content-encoding"), None);
    let answers = got.json()["responses"].clone();
    assert_eq!((answers[0]["status"].as_u64(), answers[1]["status"].as_u64()), (Some(403), Some(200)), "{answers}");
    let renewed = answers[1]["pit_id"].as_str().unwrap();
    assert!(renewed.starts_with("sl1.") && renewed != pit_id, "{renewed}");
    let got = call(b.addr, "POST", "/_search", &as_user("alice"), &json!({"pit": {"id": renewed}}).to_string()).await;
    assert_eq!(got.status, 200, "{}", got.text());
    let sent: Value = serde_json::from_slice(&node.last().body).unwrap();
    assert!(sent["pit"]["id"].as_str().unwrap().ends_with("+1"), "{sent}");
    // SQL cursors are sealed where they are, after a long page of rows or in a header, and
    // fields of documents named like ids are left as they are.
    let query = json!({"query": "SELECT * FROM \"logs-1\"", "fetch_size": 1000}).to_string();
    let page = call(a.addr, "POST", "/_sql", &as_user("alice"), &query).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.headers.get("content-length").is_none_or(|n| n.to_str().unwrap() == page.body.len().to_string()));
    let v = page.json();
    assert_eq!(v["rows"].as_array().unwrap().len(), 1000);
    assert_eq!(v["rows"][999][1], "cursor");
    let cursor = v["cursor"].as_str().unwrap();
    assert!(cursor.starts_with("sl1."), "{cursor}");
    let got = call(b.addr, "POST", "/_sql", &as_user("alice"), &json!({"cursor": cursor}).to_string()).await;
    assert_eq!(got.status, 200, "{}", got.text());
    let sent: Value = serde_json::from_slice(&node.last().body).unwrap();
    assert!(sent["cursor"].as_str().unwrap().starts_with("sql-"), "{sent}");
    let page = call(a.addr, "POST", "/_sql?format=txt", &as_user("alice"), &query).await;
    let cursor = page.headers["cursor"].to_str().unwrap();
    assert!(cursor.starts_with("sl1.") && page.text().starts_with("row 000000|cursor\n"), "{cursor}");
    let got = call(b.addr, "POST", "/_sql?format=txt", &as_user("alice"), &json!({"cursor": cursor}).to_string()).await;
    assert_eq!(got.status, 200, "{}", got.text());
    let page = call(a.addr, "GET", "/logs-1/_search?scroll=1m&fake_lookalikes=1", &as_user("alice"), "").await.json();
    assert!(page["_scroll_id"].as_str().unwrap().starts_with("sl1."), "{page}");
    let source = &page["hits"]["hits"][0]["_source"];
    assert_eq!(*source, json!({"_scroll_id": "doc-scroll", "pit_id": "doc-pit", "cursor": "doc-cursor", "id": "doc-id"}));
    // The id dies with the grant that allowed it.
    clock.advance_ms(3_600_000);
    assert_403(&call(b.addr, "POST", "/_search", &as_user("alice"), &search).await, "unauthorized for user [alice]");
}

#[tokio::test]
async fn a_snapshot_restore_needs_every_index_it_may_create() {
    let env = Env::start("").await;
    let mut g = grant("g-ops", json!({"user": "ops"}), &["logs-*"], &["create_index", "manage"], "2026-11-23T12:00:00Z");
    g["cluster"] = json!(["manage"]);
    env.push(1, json!([g])).await;
    let restore = |body: &'static str| env.as_user("ops", "", "POST", "/_snapshot/repo/snap-1/_restore", body);
    let got = restore(r#"{"indices":"logs-2024.11.01"}"#).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(env.node.last().target, "/_snapshot/repo/snap-1/_restore");
    let forwarded = env.node.count();
    // Every index of the snapshot, or names a pattern makes: not covered by logs-*.
    assert_403(&restore("").await, "[*]");
    assert_403(&restore(r#"{"include_global_state":false}"#).await, "[*]");
    assert_403(&restore(r#"{"indices":"logs-1","rename_pattern":"(.+)","rename_replacement":"secret-$1"}"#).await, "[*]");
    assert_eq!(env.node.count(), forwarded, "nothing refused reached the node");
}

#[tokio::test]
async fn a_search_template_is_decided_on_what_it_renders_to() {
    let env = Env::start("").await;
    env.push(1, json!([grant("g", json!({"user": "alice"}), &["logs-*"], &["read"], "2026-11-23T12:00:00Z")])).await;
    let t = |source: &str, params: Value| json!({"source": source, "params": params}).to_string();
    let plain = t(r#"{"query":{"match":{"message":"{{q}}"}}}"#, json!({"q": "error"}));
    let got = env.as_user("alice", "", "POST", "/logs-app-1/_search/template", &plain).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(env.node.last().body, plain.as_bytes(), "forwarded as sent: the cluster renders it");
    let forwarded = env.node.count();
    // A lookup into another index, carried by a parameter or spelled across a tag.
    let lookup = json!({"terms": {"user": {"index": "secret", "id": "1", "path": "p"}}});
    assert_403(&env.as_user("alice", "", "POST", "/logs-app-1/_search/template", &t(r#"{"query":{{#toJson}}q{{/toJson}}}"#, json!({"q": lookup}))).await, "[secret]");
    let split = t(r#"{"query":{"terms":{"user":{"{{a}}dex":"secret","id":"1","path":"p"}}}}"#, json!({"a": "in"}));
    assert_403(&env.as_user("alice", "", "POST", "/logs-app-1/_search/template", &split).await, "[secret]");
    // What Sluice cannot render exactly is refused.
    let section = t(r#"{ {{#size}}"size":{{size}}{{/size}} }"#, json!({"size": 5}));
    let got = env.as_user("alice", "", "POST", "/logs-app-1/_search/template", &section).await;
    assert_eq!((got.status, got.json()["error"]["type"].as_str()), (400, Some("illegal_argument_exception")), "{}", got.text());
    assert!(got.text().contains("cannot render"), "{}", got.text());
    assert_eq!(env.node.count(), forwarded, "nothing refused reached the node");
}

#[tokio::test]
async fn one_grant_by_its_percent_encoded_id() {
    let env = Env::start("").await;
    env.push(1, json!([])).await;
    let g = json!({"subject": {"user": "alice"}, "indices": [{"names": ["logs-*"], "privileges": ["read"]}],
                   "not_before": "2026-11-23T10:30:00Z", "expires_at": "2026-11-23T11:00:00Z"});
    let put = env.admin("PUT", "/_sluice/grants/OPS%20311%2Fa", &g).await;
    assert_eq!(put.status, 400, "ids hold no '/': {}", put.text());
    let put = env.admin("PUT", "/_sluice/grants/OPS%20311", &g).await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(put.json()["_id"], "OPS 311");
    let got = env.admin("GET", "/_sluice/grants/OPS%20311", &Value::Null).await.json();
    assert_eq!((got["grant"]["id"].as_str(), got["state"].as_str(), got["version"].as_u64()), (Some("OPS 311"), Some("pending"), Some(2)));
    env.clock.advance_ms(1_800_000);
    assert_eq!(env.admin("GET", "/_sluice/grants/OPS%20311", &Value::Null).await.json()["state"], "live");
    env.clock.advance_ms(1_800_000);
    assert_eq!(env.admin("GET", "/_sluice/grants/OPS%20311", &Value::Null).await.json()["state"], "expired");
    assert_eq!(env.admin("DELETE", "/_sluice/grants/OPS%20311", &Value::Null).await.status, 200);
    let gone = env.admin("GET", "/_sluice/grants/OPS%20311", &Value::Null).await;
    assert_eq!((gone.status, gone.json()["error"]["type"].clone()), (404, json!("resource_not_found_exception")));
    assert_eq!(env.admin("GET", "/_sluice/grants/%zz", &Value::Null).await.status, 400);
}

#[tokio::test]
async fn own_api_keys_through_the_elasticsearch_api_are_sluice_keys() {
    let env = Env::start("").await;
    let alice = json!({"id": "a", "subject": {"user": "alice"}, "cluster": ["manage_own_api_key"],
                       "indices": [{"names": ["logs-*"], "privileges": ["read"]}], "expires_at": "2026-11-23T12:00:00Z"});
    env.push(1, json!([alice, grant("b", json!({"user": "bob"}), &["logs-*"], &["read"], "2026-11-23T12:00:00Z")])).await;
    let created = env.as_user("alice", "ops", "POST", "/_security/api_key", r#"{"name":"etl","expiration":"1h","role_descriptors":{}}"#).await;
    assert_eq!(created.status, 200, "{}", created.text());
    let key = created.json();
    let auth = format!("ApiKey {}", key["encoded"].as_str().unwrap());
    assert_eq!(key["name"], "etl");
    // The key is the caller's: her grants, no more.
    assert_eq!(call(env.sluice.addr, "GET", "/logs-1/_search", &[("authorization", &auth)], "").await.status, 200);
    assert_403(&call(env.sluice.addr, "GET", "/secret/_search", &[("authorization", &auth)], "").await, "alice");
    let me = call(env.sluice.addr, "GET", "/_security/_authenticate", &[("authorization", &auth)], "").await.json();
    assert_eq!((me["username"].as_str(), me["roles"].clone(), me["api_key"]["name"].as_str()), (Some("alice"), json!(["ops"]), Some("etl")));
    // Without manage_own_api_key: refused, as in Elasticsearch.
    assert_403(&env.as_user("bob", "", "POST", "/_security/api_key", r#"{"name":"x"}"#).await, "manage_own_api_key");
    // What a Sluice key cannot carry, or Sluice does not do, is refused with a reason.
    let limited = env.as_user("alice", "", "POST", "/_security/api_key", r#"{"name":"x","role_descriptors":{"r":{"indices":[]}}}"#).await;
    assert!(limited.status == 400 && limited.text().contains("role_descriptors"), "{}", limited.text());
    let update = env.as_user("alice", "", "PUT", &format!("/_security/api_key/{}", key["id"].as_str().unwrap()), r#"{"metadata":{}}"#).await;
    assert!(update.status == 400 && update.text().contains("not supported through Sluice"), "{}", update.text());
    // Listed and invalidated: one's own only.
    let other = env.admin("POST", "/_sluice/api_keys", &json!({"name": "bobs", "owner": "bob"})).await.json();
    let listed = env.as_user("alice", "", "GET", "/_security/api_key?name=e*", "").await.json();
    assert_eq!(listed["api_keys"].as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!((listed["api_keys"][0]["id"].clone(), listed["api_keys"][0]["username"].as_str()), (key["id"].clone(), Some("alice")));
    let ids = json!({"ids": [key["id"], other["id"]]}).to_string();
    let gone = env.as_user("alice", "", "DELETE", "/_security/api_key", &ids).await.json();
    assert_eq!((gone["invalidated_api_keys"].clone(), gone["error_count"].as_u64()), (json!([key["id"]]), Some(1)), "bob's key is not hers to invalidate");
    assert_eq!(call(env.sluice.addr, "GET", "/logs-1/_search", &[("authorization", &auth)], "").await.status, 401);
    let bobs = format!("ApiKey {}", other["encoded"].as_str().unwrap());
    assert_eq!(call(env.sluice.addr, "GET", "/logs-1/_search", &[("authorization", &bobs)], "").await.status, 200);
    // Nothing of it reached the cluster; a key created this way survives a restart.
    assert!(env.node.received().iter().all(|r| !r.target.contains("_security")));
    let kept = env.as_user("alice", "", "PUT", "/_security/api_key", r#"{"name":"kept"}"#).await.json();
    let env = env.restart().await;
    let kept_auth = format!("ApiKey {}", kept["encoded"].as_str().unwrap());
    assert_eq!(call(env.sluice.addr, "GET", "/logs-1/_search", &[("authorization", &kept_auth)], "").await.status, 200);
}
