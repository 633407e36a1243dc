//! Starts Sluice in-process on 127.0.0.1:0 in front of given nodes.

use std::net::SocketAddr;

use tokio::sync::watch;

pub struct SluiceBuilder {
    anonymous: bool,
    clock: sluice::clock::SharedClock,
    nodes: Vec<String>,
    extra: String,
    dir: Option<std::path::PathBuf>,
    env: Vec<(String, String)>,
    grants: Option<serde_json::Value>,
}

/// Users the tests authenticate as; the default table lets each of them do anything.
pub const TEST_USERS: &[&str] = &["anonymous", "alice", "bob", "carol", "dave", "erin", "frank", "grace", "admin"];

/// A grant table letting `users` do everything, for tests about something other than grants.
pub fn allow_all(users: &[&str]) -> serde_json::Value {
    let grants: Vec<serde_json::Value> = users
        .iter()
        .map(|u| {
            serde_json::json!({"id": format!("all-{u}"), "subject": {"user": u}, "cluster": ["all"],
                "indices": [{"names": ["*", "*:*"], "privileges": ["all"], "allow_restricted_indices": true}],
                "expires_at": "2100-01-01T00:00:00Z", "reason": "test"})
        })
        .collect();
    serde_json::json!({"version": 1, "grants": grants})
}

pub struct Sluice {
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    shutdown: watch::Sender<bool>,
    reload: watch::Sender<u64>,
    pub task: Option<tokio::task::JoinHandle<Result<(), sluice::StartError>>>,
    pub state_dir: Option<tempfile::TempDir>,
}

impl SluiceBuilder {
    pub fn new(nodes: &[String]) -> Self {
        Self { anonymous: true, clock: sluice::clock::system(), nodes: nodes.to_vec(), extra: String::new(), dir: None, env: Vec::new(), grants: Some(allow_all(TEST_USERS)) }
    }

    /// The clock Sluice reads (a `ManualClock` in tests that move time).
    pub fn clock(mut self, clock: sluice::clock::SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Extra TOML merged over the generated configuration (tables merge key by key).
    pub fn toml(mut self, extra: &str) -> Self {
        self.extra.push_str(extra);
        self.extra.push('\n');
        self
    }

    /// Require credentials (by default tests run with an anonymous principal configured).
    pub fn no_anonymous(mut self) -> Self {
        self.anonymous = false;
        self
    }

    /// The grant table Sluice starts with (written to its state file unless that exists).
    pub fn grants(mut self, table: serde_json::Value) -> Self {
        self.grants = Some(table);
        self
    }

    /// Start without a grant table (everything is denied until one is pushed).
    pub fn no_grants(mut self) -> Self {
        self.grants = None;
        self
    }

    /// The folder relative file paths are resolved against.
    pub fn dir(mut self, dir: &std::path::Path) -> Self {
        self.dir = Some(dir.to_path_buf());
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.to_string(), v.to_string()));
        self
    }

    /// The generated configuration: loopback port-0 listeners, the nodes, then `extra` merged in.
    pub fn config_text(&self) -> String {
        let nodes: Vec<String> = self.nodes.iter().map(|n| format!("{n:?}")).collect();
        let mut base = format!(
            "[listen]\naddress = \"127.0.0.1:0\"\n[admin]\naddress = \"127.0.0.1:0\"\n[upstream]\nnodes = [{}]\n",
            nodes.join(", ")
        );
        if self.anonymous {
            base.push_str("[authn.anonymous]\nuser = \"anonymous\"\n");
        }
        // Tests about the audit trail turn it on with a file; the rest keep stdout quiet.
        base.push_str("[audit]\nenabled = false\n");
        let mut base: toml::Table = base.parse().unwrap();
        let extra: toml::Table = self.extra.parse().unwrap_or_else(|e| panic!("bad test TOML: {e}"));
        merge(&mut base, extra);
        toml::to_string(&base).unwrap()
    }

    pub fn config(&self) -> sluice::Config {
        let base = self.dir.clone().unwrap_or_default();
        match sluice::config::from_str(&self.config_text(), &base, &self.env, &Default::default()) {
            Ok(c) => c,
            Err(e) => panic!("test configuration is invalid:\n{e}\n---\n{}", self.config_text()),
        }
    }

    pub async fn start(mut self) -> Sluice {
        let mut state_dir = None;
        let mut config = self.config();
        if config.state_file.is_none() {
            let d = tempfile::tempdir().unwrap();
            let path = d.path().join("state.json");
            self.extra.push_str(&format!("\n[grants]\nstate_file = {:?}\n", path));
            state_dir = Some(d);
            config = self.config();
        }
        let path = config.state_file.clone().unwrap();
        if let (Some(g), false) = (&self.grants, path.exists()) {
            std::fs::write(&path, serde_json::json!({"grants": g}).to_string()).unwrap();
        }
        let listeners = sluice::bind(&config).await.unwrap();
        let addr = listeners.proxy.local_addr().unwrap();
        let admin = listeners.admin.local_addr().unwrap();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (reload, reload_rx) = watch::channel(0);
        let control = sluice::Control { shutdown: shutdown_rx, reload: reload_rx, clock: self.clock.clone() };
        let task = tokio::spawn(sluice::run(config, listeners, control));
        Sluice { addr, admin, shutdown, reload, task: Some(task), state_dir }
    }
}

impl Sluice {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Asks Sluice to stop accepting and drain; returns when it has stopped.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }

    pub fn begin_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// What SIGHUP does: read certificate files again.
    pub fn reload(&self) {
        self.reload.send_modify(|n| *n += 1);
    }
}

impl Drop for Sluice {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

fn merge(into: &mut toml::Table, from: toml::Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}
