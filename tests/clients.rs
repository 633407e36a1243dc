//! An official client end to end: elasticsearch-py, with request compression on, through Sluice
//! in front of the fake node — product check, search, a denied search, a per-item bulk (gzip)
//! and an mget with a denied doc, as the client itself reports them.
//!
//! The client is installed by `tools/clients-venv.sh` into `target/clients-venv` (`.ci/run`
//! does, and sets `SLUICE_REQUIRE_CLIENTS=1` so a missing client fails there); without it this
//! test says so and passes. `SLUICE_CLIENTS_PYTHON` points at another interpreter.
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

#[tokio::test]
async fn elasticsearch_py_with_compression_sees_per_item_decisions_and_denials() {
    let Some(py) = python() else { return };
    let node = FakeNode::start().await;
    let table = json!({"version": 1, "grants": [
        {"id": "w", "subject": {"user": "anonymous"}, "cluster": ["monitor"],
         "indices": [{"names": ["logs-*"], "privileges": ["read", "write", "view_index_metadata"]}],
         "expires_at": "2100-01-01T00:00:00Z"}]});
    let sluice = SluiceBuilder::new(&[node.url()]).grants(table).start().await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/es_py.py");
    let url = format!("http://{}", sluice.addr);
    // The client runs on the blocking pool while this runtime keeps serving it.
    let out = tokio::task::spawn_blocking(move || std::process::Command::new(py).arg(script).arg(url).output()).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "client failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(seen["info"], "fake", "the product check passed and the root document came through");
    assert_eq!(seen["secret"], 403);
    assert_eq!(seen["bulk_denied"], json!([1, 4, 7]));
    assert_eq!(seen["bulk_ok"], 7);
    assert_eq!(seen["mget_errors"], json!([null, "security_exception"]));
    // The node saw the bulk decompressed, with the allowed items only.
    let bulk = node.received().into_iter().find(|r| r.target.ends_with("/_bulk")).unwrap();
    let text = String::from_utf8(bulk.body).unwrap();
    assert_eq!(text.lines().count(), 14, "{text}");
    assert!(!text.contains("secret"));
}
