//! The `sluice` binary: check-config, precedence of flags/environment/file, exit codes, and a
//! real process serving and draining on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use support::client::{empty, req, Sender};
use support::FakeNode;

const BIN: &str = env!("CARGO_BIN_EXE_sluice");

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn check_config_accepts_the_shipped_example() {
    let out = Command::new(BIN).args(["check-config", "--config", "config/sluice.toml"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration is valid"));
}

#[test]
fn check_config_prints_every_error_at_once_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        &dir,
        "bad.toml",
        r#"
[listen]
address = "not-an-address"
max_body_size = "12 parsecs"
idle_timeout = "876001h"
bogus = 1
[listen.tls]
cert = "missing.pem"
key = "missing-key.pem"
[upstream]
nodes = ["ftp://x", "http://ok:9200"]
response_timeout = "soon"
[inspect]
max_line = "1048577GiB"
[authn.jwt]
hs256_secret_env = "SLUICE_TEST_UNSET_SECRET"
leeway = "11m"
[admin]
address = "127.0.0.1:9221"
[authz]
continuation_secret_file = "short.txt"
[mystery]
x = 1
"#,
    );
    write(&dir, "short.txt", "too short");
    let out = Command::new(BIN).args(["check-config", "--config"]).arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "unknown key `listen.bogus`",
        "unknown key `mystery`",
        "`listen.address`",
        "`listen.max_body_size`",
        "missing.pem",
        "missing-key.pem",
        "ftp://x",
        "`upstream.response_timeout`",
        "`listen.idle_timeout`: `876001h` is too long",
        "`inspect.max_line`: size `1048577GiB` is too large",
        "`authn.jwt.leeway` is clock skew and must be small",
        "`authz.continuation_secret_*`: the secret must be at least 32 bytes",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
    }
}

#[test]
fn invalid_toml_and_missing_file_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(&dir, "broken.toml", "[listen\naddress=");
    let out = Command::new(BIN).args(["run", "--config"]).arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid TOML"));
    let out = Command::new(BIN).args(["check-config", "--config", "/nonexistent/sluice.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn usage_error_exits_2() {
    let out = Command::new(BIN).args(["frobnicate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn flags_beat_environment_beat_file() {
    let file = "[listen]\naddress = \"127.0.0.1:1111\"\n[upstream]\nnodes = [\"http://file:9200\"]\n[admin]\naddress = \"127.0.0.1:2222\"\n";
    let env = vec![
        ("SLUICE_LISTEN_ADDRESS".to_string(), "127.0.0.1:3333".to_string()),
        ("SLUICE_UPSTREAM_NODES".to_string(), "http://env-a:9200, http://env-b:9201".to_string()),
        ("SLUICE_LISTEN_MAX_BODY_SIZE".to_string(), "1MiB".to_string()),
    ];
    let none = sluice::config::Overrides::default();
    let c = sluice::config::from_str(file, std::path::Path::new("."), &env, &none).unwrap();
    assert_eq!(c.listen.address.to_string(), "127.0.0.1:3333");
    assert_eq!(c.upstream.nodes.iter().map(|n| n.to_string()).collect::<Vec<_>>(), ["http://env-a:9200", "http://env-b:9201"]);
    assert_eq!(c.listen.max_body_size, 1 << 20);
    assert_eq!(c.admin.address.to_string(), "127.0.0.1:2222");
    let flags = sluice::config::Overrides {
        listen_address: Some("127.0.0.1:4444".into()),
        upstream_nodes: vec!["http://flag:9200".into()],
        ..Default::default()
    };
    let c = sluice::config::from_str(file, std::path::Path::new("."), &env, &flags).unwrap();
    assert_eq!(c.listen.address.to_string(), "127.0.0.1:4444");
    assert_eq!(c.upstream.nodes[0].to_string(), "http://flag:9200");
    let bad_env = vec![("SLUICE_LISTEN_MAX_CONNECTIONS".to_string(), "many".to_string())];
    let e = sluice::config::from_str(file, std::path::Path::new("."), &bad_env, &none).unwrap_err();
    assert!(e.errors.iter().any(|m| m.contains("SLUICE_LISTEN_MAX_CONNECTIONS")), "{e}");
}

#[test]
fn a_busy_port_exits_4() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = Command::new(BIN)
        .args(["run", "--config", "config/sluice.toml", "--listen", &addr, "--admin", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn the_binary_serves_and_drains_on_sigterm() {
    let node = FakeNode::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = write(&dir, "state.json", &serde_json::json!({"grants": support::proxy::allow_all(&["anonymous"])}).to_string());
    let mut child = Command::new(BIN)
        .args(["run", "--config", "config/sluice.toml", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .args(["--upstream", &node.url()])
        .env("SLUICE_LOG_FORMAT", "json")
        .env("SLUICE_AUTHN_ANONYMOUS_USER", "anonymous")
        .env("SLUICE_GRANTS_STATE_FILE", &state)
        .env("SLUICE_ADMIN_TOKEN", "admin-token-0123456789")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(child.id());
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (addr, admin) = loop {
        let line = lines.next().expect("sluice exited before serving").unwrap();
        if line.contains("sluice serving") {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            let field = |k: &str| v["fields"][k].as_str().unwrap().trim_start_matches("Some(").trim_end_matches(')').parse::<std::net::SocketAddr>().unwrap();
            break (field("proxy"), field("admin"));
        }
    };
    // The log level changes at runtime through the admin API.
    let mut a = Sender::h1(admin).await;
    let r = http::Request::put(format!("http://{admin}/_sluice/log_level"))
        .header("authorization", "Bearer admin-token-0123456789")
        .body(support::client::full(r#"{"level":"debug"}"#))
        .unwrap();
    let got = a.fetch(r).await;
    assert_eq!(got.status, 200, "{}", got.text());
    let r = http::Request::put(format!("http://{admin}/_sluice/log_level"))
        .header("authorization", "Bearer admin-token-0123456789")
        .body(support::client::full(r#"{"level":"no such=level=x"}"#))
        .unwrap();
    assert_eq!(a.fetch(r).await.status, 400);
    drop(a);
    let mut c = Sender::h1(addr).await;
    assert_eq!(c.fetch(req("GET", addr, "/", empty())).await.status, 200);
    assert_eq!(node.count(), 1);
    drop(c);
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    std::mem::forget(guard);
    assert_eq!(status.code(), Some(0));
}

/// Kills a child process when a test fails before it stopped it.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-KILL", &self.0.to_string()]).status();
    }
}

#[test]
fn explain_decides_offline_against_a_grants_file() {
    let dir = tempfile::tempdir().unwrap();
    let table = serde_json::json!({"version": 1, "grants": [{"id": "g-1", "subject": {"group": "sre"},
        "indices": [{"names": ["logs-*"], "privileges": ["read"]}], "expires_at": "2026-11-23T12:00:00Z", "reason": "OPS-311"}]});
    let grants = write(&dir, "grants.json", &table.to_string());
    let run = |at: &str, method: &str, path: &str| {
        let out = Command::new(BIN)
            .args(["explain", "--grants", grants.to_str().unwrap(), "--user", "alice", "--group", "sre", "--at", at, method, path])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), v)
    };
    let (code, v) = run("2026-11-23T11:00:00Z", "GET", "/logs-1/_search");
    assert_eq!(code, Some(0));
    assert_eq!(v["decision"]["grants"], serde_json::json!(["g-1"]));
    assert_eq!(v["grants_considered"][0]["reason"], "OPS-311");
    let (code, v) = run("2026-11-23T12:00:00Z", "GET", "/logs-1/_search");
    assert_eq!(code, Some(1));
    assert_eq!(v["grants_considered"][0]["state"], "expired");
    let (code, v) = run("2026-11-23T11:00:00Z", "DELETE", "/logs-1");
    assert_eq!(code, Some(1));
    assert!(v["decision"]["reason"].as_str().unwrap().contains("delete_index"), "{v}");
}

#[test]
fn the_readme_documents_every_configuration_key() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let missing: Vec<&str> = sluice::config::schema::KEYS.iter().map(|(k, _)| *k).filter(|k| !readme.contains(&format!("`{k}`"))).collect();
    assert!(missing.is_empty(), "README lacks {missing:?}");
}
