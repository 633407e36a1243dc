//! The audit trail, metrics and health: every request and admin action on record with its
//! fields; nothing lost with a full queue in `block` mode; rotation keeps every event.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::SocketAddr;
use std::path::Path;

use serde_json::{json, Value};
use support::client::{call, full, Got, Sender};
use support::{FakeNode, SluiceBuilder};

const TOKEN: &str = "admin-token-0123456789";

fn builder(nodes: &[String], dir: &Path, audit: &str) -> SluiceBuilder {
    SluiceBuilder::new(nodes)
        .no_anonymous()
        .no_grants()
        .dir(dir)
        .env("T_ADMIN", TOKEN)
        .toml(&format!(
            "[admin]\ntoken_env = \"T_ADMIN\"\n[grants]\nstate_file = \"state.json\"\n[authn.proxy]\nuser_header = \"x-user\"\ntrusted_sources = [\"127.0.0.1/32\"]\n[audit]\nenabled = true\noutput = \"file\"\npath = \"audit.log\"\nbody_hash = true\n{audit}"
        ))
}

fn events(dir: &Path) -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("audit.log"))
        .collect();
    // Oldest first: audit.log.N … audit.log.1, audit.log.
    files.sort_by_key(|p| std::cmp::Reverse(p.extension().and_then(|e| e.to_str()).and_then(|e| e.parse::<u32>().ok()).unwrap_or(0)));
    files
        .iter()
        .flat_map(|f| std::fs::read_to_string(f).unwrap().lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect::<Vec<Value>>())
        .collect()
}

fn admin_hdr() -> [(&'static str, String); 1] {
    [("authorization", format!("Bearer {TOKEN}"))]
}

async fn admin(addr: SocketAddr, method: &str, path: &str, body: Value) -> Got {
    let h = admin_hdr();
    let text = if body.is_null() { String::new() } else { body.to_string() };
    call(addr, method, path, &[(h[0].0, h[0].1.as_str())], &text).await
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines().find(|l| l.starts_with(series) && l[series.len()..].starts_with(' ')).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

#[tokio::test]
async fn every_request_and_admin_action_is_on_record_and_counted() {
    let node = FakeNode::start().await;
    let down = support::fake_node::refusing_addr().await;
    let dir = tempfile::tempdir().unwrap();
    let sluice = builder(&[node.url()], dir.path(), "").start().await;
    // Not ready without a grant table.
    assert_eq!(call(sluice.admin, "GET", "/ready", &[], "").await.status, 503);
    let table = json!({"version": 5, "grants": [
        {"id": "g-1842", "subject": {"user": "alice"}, "cluster": ["monitor"],
         "indices": [{"names": ["logs-app-*"], "privileges": ["read", "index"]}],
         "expires_at": "2100-01-01T00:00:00Z", "reason": "ticket OPS-311"}]});
    assert_eq!(admin(sluice.admin, "PUT", "/_sluice/grants", table).await.status, 200);
    let ready = call(sluice.admin, "GET", "/ready", &[], "").await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    let up = |h: &'static str| [("x-user", "alice"), ("x-opaque-id", h), ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")];
    assert_eq!(call(sluice.addr, "POST", "/logs-app-1/_search", &up("allowed"), r#"{"query":{"match_all":{}}}"#).await.status, 200);
    assert_eq!(call(sluice.addr, "GET", "/logs-*/_search", &up("narrowed"), "").await.status, 200);
    assert_eq!(call(sluice.addr, "GET", "/secret/_search", &up("denied"), "").await.status, 403);
    let bulk = "{\"index\":{\"_index\":\"logs-app-1\"}}\n{}\n{\"index\":{\"_index\":\"secret\"}}\n{}\n";
    let got = call(sluice.addr, "POST", "/_bulk", &up("bulk"), bulk).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["items"][1]["index"]["status"], 403);
    assert_eq!(call(sluice.addr, "GET", "/logs-app-1/_search", &[("x-opaque-id", "anon")], "").await.status, 401);
    assert_eq!(call(sluice.addr, "GET", "/_security/_authenticate", &up("whoami"), "").await.status, 200);
    let key = admin(sluice.admin, "POST", "/_sluice/api_keys", json!({"name": "k", "owner": "alice"})).await.json();
    admin(sluice.admin, "DELETE", &format!("/_sluice/api_keys/{}", key["id"].as_str().unwrap()), Value::Null).await;
    let g2 = json!({"subject": {"user": "bob"}, "indices": [{"names": ["x"], "privileges": ["read"]}], "expires_at": "2100-01-01T00:00:00Z"});
    admin(sluice.admin, "PUT", "/_sluice/grants/g-2", g2).await;
    admin(sluice.admin, "DELETE", "/_sluice/grants/g-2", Value::Null).await;
    assert_eq!(admin(sluice.admin, "PUT", "/_sluice/grants", json!({"version": 1, "grants": []})).await.status, 409);

    let m = admin(sluice.admin, "GET", "/metrics", Value::Null).await.text();
    assert_eq!(metric(&m, "sluice_requests_total{outcome=\"allowed\"}"), 3.0);
    assert_eq!(metric(&m, "sluice_requests_total{outcome=\"narrowed\"}"), 1.0);
    assert_eq!(metric(&m, "sluice_requests_total{outcome=\"denied\"}"), 1.0);
    assert_eq!(metric(&m, "sluice_decisions_total{kind=\"index\",privilege=\"index\",result=\"deny\"}"), 1.0);
    assert_eq!(metric(&m, "sluice_requests_total{outcome=\"unauthenticated\"}"), 1.0);
    assert_eq!(metric(&m, "sluice_authentication_failures_total{scheme=\"none\"}"), 1.0);
    assert_eq!(metric(&m, "sluice_decisions_total{kind=\"index\",privilege=\"read\",result=\"allow\"}"), 2.0);
    assert_eq!(metric(&m, "sluice_decisions_total{kind=\"index\",privilege=\"read\",result=\"deny\"}"), 1.0);
    assert_eq!(metric(&m, "sluice_grant_table_version"), 7.0);
    assert_eq!(metric(&m, "sluice_grants_live"), 1.0);
    assert_eq!(metric(&m, "sluice_grants_next_expiry_timestamp_seconds"), 4102444800.0);
    assert!(metric(&m, "sluice_decision_cache_misses_total") >= 3.0);
    assert_eq!(metric(&m, &format!("sluice_upstream_request_duration_seconds_count{{node=\"{}\"}}", node.url())), 3.0);
    assert_eq!(metric(&m, &format!("sluice_node_up{{node=\"{}\"}}", node.url())), 1.0);
    assert!(metric(&m, "sluice_response_bytes_total") > 0.0);
    assert!(m.contains("sluice_open_connections") && m.contains("sluice_audit_queue_depth") && m.contains("sluice_audit_events_dropped_total 0"));
    assert_eq!(call(sluice.admin, "GET", "/metrics", &[], "").await.status, 401, "metrics need the admin token");
    sluice.stop().await;

    // A node down: the failure is on record too.
    let failing = builder(&[format!("http://{down}")], dir.path(), "").start().await;
    assert_eq!(call(failing.addr, "GET", "/logs-app-1/_search", &[("x-user", "alice")], "").await.status, 502);
    failing.stop().await;

    let ev = events(dir.path());
    let by_opaque = |id: &str| ev.iter().find(|e| e["sluice"]["opaque_id"] == id).unwrap_or_else(|| panic!("no event {id}: {ev:#?}")).clone();
    let allowed = by_opaque("allowed");
    assert_eq!(allowed["event"]["outcome"], "success");
    assert_eq!(allowed["event"]["action"], "search");
    assert_eq!(allowed["user"]["name"], "alice");
    assert_eq!(allowed["sluice"]["authentication"]["scheme"], "proxy");
    assert_eq!(allowed["source"]["ip"], "127.0.0.1");
    assert_eq!(allowed["http"]["request"]["method"], "POST");
    assert_eq!(allowed["url"]["path"], "/logs-app-1/_search");
    assert_eq!(allowed["http"]["response"]["status_code"], 200);
    assert_eq!(allowed["http"]["request"]["body"]["bytes"], 26);
    assert!(allowed["http"]["response"]["body"]["bytes"].as_u64().unwrap() > 0);
    assert_eq!(allowed["trace"]["id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(allowed["sluice"]["decision"], "allow");
    assert_eq!(allowed["sluice"]["grants"], json!([{"id": "g-1842", "reason": "ticket OPS-311", "expires_at": "2100-01-01T00:00:00Z"}]));
    assert_eq!(allowed["sluice"]["targets"]["requested"][0]["name"], "logs-app-1");
    assert_eq!(allowed["sluice"]["targets"]["requested"][0]["privileges"], json!(["read"]));
    assert_eq!(allowed["sluice"]["table_version"], 5);
    assert_eq!(allowed["sluice"]["body_sha256"].as_str().unwrap().len(), 64);
    for k in ["total", "decision", "upstream"] {
        assert!(allowed["sluice"]["durations_us"][k].is_u64(), "{k}: {allowed}");
    }
    assert!(allowed["http"]["request"]["id"].is_string() && allowed["@timestamp"].is_string());
    let narrowed = by_opaque("narrowed");
    assert_eq!(narrowed["sluice"]["decision"], "narrow");
    assert_eq!(narrowed["sluice"]["targets"]["requested"][0]["name"], "logs-*");
    assert_eq!(narrowed["sluice"]["targets"]["forwarded"], "logs-app-*");
    let denied = by_opaque("denied");
    assert_eq!((denied["sluice"]["decision"].as_str(), denied["event"]["outcome"].as_str()), (Some("deny"), Some("failure")));
    assert!(denied["event"]["reason"].as_str().unwrap().contains("secret"));
    assert_eq!(denied["http"]["response"]["status_code"], 403);
    let bulk = by_opaque("bulk");
    assert_eq!(bulk["sluice"]["items"]["total"], 2);
    assert_eq!(bulk["sluice"]["items"]["denied"], 1);
    assert_eq!(bulk["sluice"]["items"]["denied_items"][0], json!({"position": 1, "op": "index", "index": "secret", "id": null}));
    let whoami = by_opaque("whoami");
    assert_eq!((whoami["sluice"]["decision"].as_str(), whoami["event"]["action"].as_str()), (Some("local"), Some("security.authenticate")));
    assert_eq!(whoami["user"]["name"], "alice");
    let anon = by_opaque("anon");
    assert_eq!(anon["sluice"]["outcome"], "unauthenticated");
    assert!(anon["sluice"]["authentication"]["failure"].is_string());
    let failed = ev.iter().find(|e| e["http"]["response"]["status_code"] == 502).expect("node-down event");
    assert_eq!(failed["sluice"]["outcome"], "failed");
    // No credential and no body ever appear.
    let all = serde_json::to_string(&ev).unwrap();
    assert!(!all.contains(TOKEN) && !all.contains("match_all") && !all.contains(key["api_key"].as_str().unwrap()));
    // Admin actions, with identity and versions.
    let admins: Vec<&Value> = ev.iter().filter(|e| e["event"]["dataset"] == "sluice.admin").collect();
    let actions: Vec<&str> = admins.iter().map(|e| e["event"]["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["grants.replace", "api_key.create", "api_key.invalidate", "grants.upsert", "grants.revoke", "grants.replace"]);
    assert!(admins.iter().all(|e| e["user"]["name"] == "admin-token"));
    assert_eq!((admins[0]["sluice"]["admin"]["version_before"].as_u64(), admins[0]["sluice"]["admin"]["version_after"].as_u64()), (Some(0), Some(5)));
    assert_eq!((admins[3]["sluice"]["admin"]["version_before"].as_u64(), admins[3]["sluice"]["admin"]["version_after"].as_u64()), (Some(5), Some(6)));
    assert_eq!((admins[4]["sluice"]["admin"]["version_before"].as_u64(), admins[4]["sluice"]["admin"]["version_after"].as_u64()), (Some(6), Some(7)));
    assert_eq!(admins[5]["event"]["outcome"], "failure");
}

#[tokio::test]
async fn a_full_queue_in_block_mode_loses_nothing_and_rotation_keeps_every_event() {
    let node = FakeNode::start().await;
    let dir = tempfile::tempdir().unwrap();
    let sluice = builder(&[node.url()], dir.path(), "queue_size = 1\non_full = \"block\"\nmax_size = \"4KiB\"\nmax_files = 1000")
        .grants(support::proxy::allow_all(&["alice"]))
        .start()
        .await;
    let addr = sluice.addr;
    let mut tasks = Vec::new();
    for t in 0..8 {
        tasks.push(tokio::spawn(async move {
            let mut c = Sender::h1(addr).await;
            for i in 0..50 {
                let r = http::Request::get(format!("http://{addr}/logs/_search"))
                    .header("x-user", "alice")
                    .header("x-opaque-id", format!("r-{t}-{i}"))
                    .body(full(""))
                    .unwrap();
                assert_eq!(c.fetch(r).await.status, 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    sluice.stop().await;
    let ev = events(dir.path());
    let mut ids: Vec<String> = ev.iter().filter_map(|e| e["sluice"]["opaque_id"].as_str().map(str::to_string)).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 400, "every request is on record exactly once");
    let rotated = std::fs::read_dir(dir.path()).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("audit.log.")).count();
    assert!(rotated > 5, "rotation happened ({rotated} files)");
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with("audit.log") {
            assert!(std::fs::metadata(&p).unwrap().len() <= 4096, "{} over max_size", p.display());
        }
    }
}

#[tokio::test]
async fn grants_starting_and_ending_on_time_are_on_record() {
    let node = FakeNode::start().await;
    let dir = tempfile::tempdir().unwrap();
    let t0 = sluice::clock::parse_rfc3339("2026-11-23T10:00:00Z").unwrap();
    let clock = sluice::clock::ManualClock::at_ms(t0);
    let sluice = builder(&[node.url()], dir.path(), "").clock(clock.clone()).start().await;
    let table = json!({"version": 3, "grants": [
        {"id": "ops-311", "subject": {"user": "alice"}, "indices": [{"names": ["logs-*"], "privileges": ["read"]}],
         "not_before": "2026-11-23T11:00:00Z", "expires_at": "2026-11-23T12:00:00Z", "reason": "ticket OPS-311"},
        {"id": "short", "subject": {"group": "sre"}, "indices": [{"names": ["x"], "privileges": ["read"]}],
         "expires_at": "2026-11-23T10:30:00Z"},
        {"id": "later", "subject": {"user": "bob"}, "indices": [{"names": ["y"], "privileges": ["read"]}],
         "expires_at": "2026-11-24T00:00:00Z"}]});
    assert_eq!(admin(sluice.admin, "PUT", "/_sluice/grants", table).await.status, 200);
    // Three hours pass with no request and no push; then Sluice stops.
    clock.advance_ms(3 * 3_600_000);
    sluice.stop().await;
    let ev = events(dir.path());
    let lifecycle: Vec<(String, String, String)> = ev
        .iter()
        .filter(|e| e["event"]["action"].as_str().is_some_and(|a| a.starts_with("grant.") && !a.contains("replace")))
        .map(|e| (e["@timestamp"].as_str().unwrap().into(), e["event"]["action"].as_str().unwrap().into(), e["sluice"]["admin"]["grant"]["id"].as_str().unwrap().into()))
        .collect();
    let want = [
        ("2026-11-23T10:30:00Z", "grant.end", "short"),
        ("2026-11-23T11:00:00Z", "grant.start", "ops-311"),
        ("2026-11-23T12:00:00Z", "grant.end", "ops-311"),
    ];
    assert_eq!(lifecycle, want.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())), "{ev:#?}");
    let end = ev.iter().find(|e| e["event"]["action"] == "grant.end" && e["sluice"]["admin"]["grant"]["id"] == "ops-311").unwrap();
    assert_eq!(end["sluice"]["admin"]["grant"]["reason"], "ticket OPS-311");
    assert_eq!(end["sluice"]["admin"]["grant"]["subject"], json!({"user": "alice"}));
    assert_eq!(end["user"]["name"], "sluice", "the clock ended it, not an admin");
}
