//! Raw TOML handling: overrides, the unknown-key check and conversion to validated settings.

use std::net::SocketAddr;
use std::time::Duration;

use toml::Value;

use super::schema::{self, Kind};
use super::{units, Config, Overrides, Resolver};
use crate::admin::AdminSettings;
use crate::forward::{NodeAddr, UpstreamSettings};
use crate::listener::{ClientAuth, ListenSettings, TlsFiles};
use crate::pipeline::inspect::InspectSettings;
use crate::telemetry::{LogFormat, LogSettings};

/// Applies `SLUICE_<PATH>` environment variables for every key of the schema.
pub fn apply_env(root: &mut Value, env: &[(String, String)], errors: &mut Vec<String>) {
    for (path, kind) in schema::KEYS {
        let name = schema::env_name(path);
        let Some((_, raw)) = env.iter().find(|(k, _)| *k == name) else { continue };
        match env_value(*kind, raw) {
            Ok(v) => set(root, path, v),
            Err(e) => errors.push(format!("{name}: {e}")),
        }
    }
}

fn env_value(kind: Kind, raw: &str) -> Result<Value, String> {
    Ok(match kind {
        Kind::Str | Kind::Size | Kind::Duration => Value::String(raw.to_string()),
        Kind::Int => Value::Integer(raw.trim().parse().map_err(|_| format!("`{raw}` is not an integer"))?),
        Kind::Bool => Value::Boolean(raw.trim().parse().map_err(|_| format!("`{raw}` is not true or false"))?),
        Kind::StrList => Value::Array(
            raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| Value::String(s.into())).collect(),
        ),
        Kind::Table => return Err("cannot be set from the environment".into()),
    })
}

pub fn apply_overrides(root: &mut Value, o: &Overrides) {
    if let Some(a) = &o.listen_address {
        set(root, "listen.address", Value::String(a.clone()));
    }
    if !o.upstream_nodes.is_empty() {
        let nodes = o.upstream_nodes.iter().map(|n| Value::String(n.clone())).collect();
        set(root, "upstream.nodes", Value::Array(nodes));
    }
    if let Some(a) = &o.admin_address {
        set(root, "admin.address", Value::String(a.clone()));
    }
    if let Some(l) = &o.log_level {
        set(root, "log.level", Value::String(l.clone()));
    }
}

fn set(root: &mut Value, path: &str, v: Value) {
    let mut cur = root;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let Value::Table(t) = cur else { return };
        if parts.peek().is_none() {
            t.insert(part.to_string(), v);
            return;
        }
        cur = t.entry(part.to_string()).or_insert_with(|| Value::Table(toml::Table::new()));
    }
}

/// Reports every key the schema does not know.
pub fn check_keys(v: &Value, prefix: &str, errors: &mut Vec<String>) {
    let Value::Table(t) = v else { return };
    for (k, child) in t {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match schema::kind_of(&path) {
            Some(_) => {}
            None if schema::is_table(&path) => {
                if child.is_table() {
                    check_keys(child, &path, errors);
                } else {
                    errors.push(format!("`{path}` must be a table"));
                }
            }
            None => errors.push(format!("unknown key `{path}`")),
        }
    }
}

/// Typed access to the raw tree, recording a message for each wrongly typed value.
pub struct Reader<'a> {
    root: &'a Value,
    pub errors: &'a mut Vec<String>,
}

impl Reader<'_> {
    pub fn get(&self, path: &str) -> Option<&Value> {
        path.split('.').try_fold(self.root, |v, p| v.get(p))
    }
    pub fn wrong(&mut self, path: &str, what: &str) {
        self.errors.push(format!("`{path}` must be {what}"));
    }
    pub fn str(&mut self, path: &str) -> Option<String> {
        match self.get(path)? {
            Value::String(s) => Some(s.clone()),
            _ => {
                self.wrong(path, "a string");
                None
            }
        }
    }
    pub fn str_or(&mut self, path: &str, default: &str) -> String {
        self.str(path).unwrap_or_else(|| default.to_string())
    }
    pub fn int(&mut self, path: &str, default: i64) -> i64 {
        match self.get(path) {
            None => default,
            Some(Value::Integer(i)) if *i >= 0 => *i,
            Some(_) => {
                self.wrong(path, "a non-negative integer");
                default
            }
        }
    }
    pub fn bool(&mut self, path: &str, default: bool) -> bool {
        match self.get(path) {
            None => default,
            Some(Value::Boolean(b)) => *b,
            Some(_) => {
                self.wrong(path, "true or false");
                default
            }
        }
    }
    pub fn list(&mut self, path: &str) -> Vec<String> {
        match self.get(path) {
            None => Vec::new(),
            Some(Value::Array(a)) if a.iter().all(Value::is_str) => {
                a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
            }
            Some(Value::String(s)) => vec![s.clone()],
            Some(_) => {
                self.wrong(path, "a list of strings");
                Vec::new()
            }
        }
    }
    pub fn size(&mut self, path: &str, default: u64) -> u64 {
        let parsed = match self.get(path) {
            None => return default,
            Some(Value::Integer(i)) if *i > 0 => Ok(*i as u64),
            Some(Value::String(s)) => units::parse_size(s),
            Some(_) => Err("must be a size such as 16KiB".to_string()),
        };
        match parsed {
            Ok(0) => {
                self.wrong(path, "greater than zero");
                default
            }
            Ok(n) => n,
            Err(e) => {
                self.errors.push(format!("`{path}`: {e}"));
                default
            }
        }
    }
    pub fn duration(&mut self, path: &str, default: Duration) -> Duration {
        let parsed = match self.get(path) {
            None => return default,
            Some(Value::Integer(i)) if *i > 0 => Ok(Duration::from_secs(*i as u64)),
            Some(Value::String(s)) => units::parse_duration(s),
            Some(_) => Err("must be a duration such as 10s".to_string()),
        };
        match parsed {
            Ok(d) if d.is_zero() => {
                self.wrong(path, "greater than zero");
                default
            }
            Ok(d) => d,
            Err(e) => {
                self.errors.push(format!("`{path}`: {e}"));
                default
            }
        }
    }
    /// A duration that may be zero (a leeway).
    pub fn duration_or_zero(&mut self, path: &str, default: Duration) -> Duration {
        match self.get(path) {
            Some(Value::Integer(0)) => Duration::ZERO,
            Some(Value::String(s)) if s.trim() == "0" || s.trim() == "0s" => Duration::ZERO,
            _ => self.duration(path, default),
        }
    }

    pub fn addr(&mut self, path: &str, default: &str) -> SocketAddr {
        let s = self.str_or(path, default);
        s.parse().unwrap_or_else(|_| {
            self.errors.push(format!("`{path}`: `{s}` is not an address like 127.0.0.1:9220"));
            SocketAddr::from(([127, 0, 0, 1], 0))
        })
    }
    pub fn file(&mut self, path: &str, files: &Resolver) -> Option<std::path::PathBuf> {
        let p = files.path(&self.str(path)?);
        if !p.is_file() {
            self.errors.push(format!("`{path}`: file {} does not exist", p.display()));
        }
        Some(p)
    }
}

fn audit(r: &mut Reader, files: &Resolver) -> Option<crate::audit::SinkSettings> {
    use crate::audit::{OnFull, Output, SinkSettings};
    if !r.bool("audit.enabled", true) {
        return None;
    }
    let output = match r.str_or("audit.output", "stdout").as_str() {
        "stdout" => Output::Stdout,
        "file" => match r.str("audit.path") {
            Some(p) => {
                let max_files = r.int("audit.max_files", 10);
                if max_files < 1 {
                    r.errors.push("`audit.max_files` must be at least 1".into());
                }
                Output::File { path: files.path(&p), max_size: r.size("audit.max_size", 100 << 20).max(1), max_files: max_files.max(1) as usize }
            }
            None => {
                r.errors.push("`audit.output = \"file\"` needs `audit.path`".into());
                Output::Stdout
            }
        },
        other => {
            r.errors.push(format!("`audit.output`: `{other}` must be stdout or file"));
            Output::Stdout
        }
    };
    let on_full = match r.str_or("audit.on_full", "block").as_str() {
        "block" => OnFull::Block,
        "drop" => OnFull::Drop,
        other => {
            r.errors.push(format!("`audit.on_full`: `{other}` must be block or drop"));
            OnFull::Block
        }
    };
    let queue = r.int("audit.queue_size", 65_536);
    if queue < 1 {
        r.errors.push("`audit.queue_size` must be at least 1".into());
    }
    Some(SinkSettings { output, queue: queue.max(1) as usize, on_full })
}

fn authz(r: &mut Reader, env: &[(String, String)], files: &Resolver) -> super::AuthzSettings {
    let mode = match r.str_or("authz.mode", "enforce").as_str() {
        "enforce" => crate::authz::Mode::Enforce,
        "shadow" => crate::authz::Mode::Shadow,
        other => {
            r.errors.push(format!("`authz.mode`: `{other}` must be enforce or shadow"));
            crate::authz::Mode::Enforce
        }
    };
    let cache = r.int("authz.decision_cache_size", 100_000);
    if cache < 0 {
        r.errors.push("`authz.decision_cache_size` must not be negative".into());
    }
    let per_item = match r.str_or("authz.multi_target", "per_item").as_str() {
        "per_item" => true,
        "reject" => false,
        other => {
            r.errors.push(format!("`authz.multi_target`: `{other}` must be per_item or reject"));
            true
        }
    };
    let secret = super::authn::secret(r, "authz.continuation_secret", env, files);
    if secret.as_ref().is_some_and(|s| s.len() < 32) {
        r.errors.push("`authz.continuation_secret_*`: the secret must be at least 32 bytes".into());
    }
    let continuation_secret = secret.filter(|s| s.len() >= 32).map(String::into_bytes);
    super::AuthzSettings { mode, decision_cache_size: cache.max(0) as u64, per_item, continuation_secret }
}

pub fn validate(root: &Value, files: &Resolver, env: &[(String, String)], errors: &mut Vec<String>) -> Option<Config> {
    let mut r = Reader { root, errors };
    let (authn, anonymous) = super::authn::authn(&mut r, env, files);
    let service = super::authn::service_auth(&mut r, env, files);
    let admin_token = super::authn::admin_token(&mut r, env, files);
    let state_file = r.str("grants.state_file").map(|p| files.path(&p));
    let authz = authz(&mut r, env, files);
    let audit = audit(&mut r, files);
    let audit_body_hash = r.bool("audit.body_hash", false);
    let listen = listen(&mut r, files);
    let upstream = upstream(&mut r, files);
    let admin_tls = if r.get("admin.tls").is_some() {
        match (r.file("admin.tls.cert", files), r.file("admin.tls.key", files)) {
            (Some(cert), Some(key)) => {
                let client_ca = r.file("admin.tls.client_ca", files);
                let client_auth = if client_ca.is_some() { ClientAuth::Optional } else { ClientAuth::None };
                Some(TlsFiles { cert, key, client_ca, client_auth })
            }
            _ => {
                r.errors.push("`admin.tls` needs both `cert` and `key`".into());
                None
            }
        }
    } else {
        None
    };
    if admin_token.is_none() && admin_tls.as_ref().is_none_or(|t| t.client_ca.is_none()) {
        tracing::debug!("no admin credentials configured: the admin API answers only /live and /ready");
    }
    let admin = AdminSettings { address: r.addr("admin.address", "127.0.0.1:9221"), token: admin_token, tls: admin_tls };
    let log = log(&mut r);
    let d = InspectSettings::default();
    let inspect = InspectSettings {
        max_buffered: r.size("inspect.max_buffered_body", d.max_buffered),
        max_line: usize::try_from(r.size("inspect.max_line", d.max_line as u64)).unwrap_or(usize::MAX),
        max_decompressed: r.size("inspect.max_decompressed", listen.max_body_size),
    };
    if listen.address.port() != 0 && listen.address == admin.address {
        r.errors.push("`listen.address` and `admin.address` must differ".into());
    }
    let config = Config { listen, inspect, upstream, admin, log, authn, anonymous, service, state_file, authz, audit, audit_body_hash };
    for (name, t) in [("listen.tls", &config.listen.tls), ("admin.tls", &config.admin.tls)] {
        if let Some(t) = t {
            if let Err(e) = super::tls::server_config(t) {
                r.errors.push(format!("`{name}`: {e}"));
            }
        }
    }
    if config.authn.mtls.is_some() && config.listen.tls.as_ref().is_none_or(|t| t.client_ca.is_none()) {
        r.errors.push("`authn.mtls` needs client certificates: set `listen.tls.client_ca`".into());
    }
    if let Err(e) = super::tls::client_config(&config.upstream) {
        r.errors.push(format!("`upstream` TLS: {e}"));
    }
    Some(config)
}

fn listen(r: &mut Reader, files: &Resolver) -> ListenSettings {
    let tls = if r.get("listen.tls").is_some() {
        let cert = r.file("listen.tls.cert", files);
        let key = r.file("listen.tls.key", files);
        let client_ca = r.file("listen.tls.client_ca", files);
        let client_auth = match (r.str("listen.tls.client_auth").as_deref(), &client_ca) {
            (None | Some("required"), Some(_)) => ClientAuth::Required,
            (Some("optional"), Some(_)) => ClientAuth::Optional,
            (None | Some("none"), None) => ClientAuth::None,
            (Some(other), _) => {
                r.errors.push(format!(
                    "`listen.tls.client_auth`: `{other}` needs `client_ca` and must be required, optional or none"
                ));
                ClientAuth::None
            }
        };
        match (cert, key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key, client_ca, client_auth }),
            _ => {
                r.errors.push("`listen.tls` needs both `cert` and `key`".into());
                None
            }
        }
    } else {
        None
    };
    let d = ListenSettings::default();
    ListenSettings {
        address: r.addr("listen.address", "127.0.0.1:9220"),
        max_connections: usize::try_from(r.int("listen.max_connections", d.max_connections as i64)).unwrap_or(1).max(1),
        header_read_timeout: r.duration("listen.header_read_timeout", d.header_read_timeout),
        idle_timeout: r.duration("listen.idle_timeout", d.idle_timeout),
        max_header_size: usize::try_from(r.size("listen.max_header_size", d.max_header_size as u64)).unwrap_or(usize::MAX),
        max_body_size: r.size("listen.max_body_size", d.max_body_size),
        shutdown_timeout: r.duration("listen.shutdown_timeout", d.shutdown_timeout),
        http2: r.bool("listen.http2", d.http2),
        tls,
    }
}

fn upstream(r: &mut Reader, files: &Resolver) -> UpstreamSettings {
    let raw_nodes = r.list("upstream.nodes");
    if raw_nodes.is_empty() {
        r.errors.push("`upstream.nodes` must name at least one node, like \"http://127.0.0.1:9200\"".into());
    }
    let mut nodes = Vec::new();
    for n in &raw_nodes {
        match NodeAddr::parse(n) {
            Ok(addr) => nodes.push(addr),
            Err(e) => r.errors.push(format!("`upstream.nodes`: {e}")),
        }
    }
    let d = UpstreamSettings::default();
    let client_cert = r.file("upstream.client_cert", files);
    let client_key = r.file("upstream.client_key", files);
    if client_cert.is_some() != client_key.is_some() {
        r.errors.push("`upstream.client_cert` and `upstream.client_key` go together".into());
    }
    UpstreamSettings {
        nodes,
        ca: r.file("upstream.ca", files),
        client_cert,
        client_key,
        connect_timeout: r.duration("upstream.connect_timeout", d.connect_timeout),
        response_timeout: r.duration("upstream.response_timeout", d.response_timeout),
        backoff: r.duration("upstream.backoff", d.backoff),
        backoff_max: r.duration("upstream.backoff_max", d.backoff_max),
        max_idle_per_node: usize::try_from(r.int("upstream.max_idle_per_node", d.max_idle_per_node as i64)).unwrap_or(0),
    }
}

fn log(r: &mut Reader) -> LogSettings {
    let format = match r.str_or("log.format", "human").as_str() {
        "human" => LogFormat::Human,
        "json" => LogFormat::Json,
        other => {
            r.errors.push(format!("`log.format`: `{other}` must be human or json"));
            LogFormat::Human
        }
    };
    let level = r.str_or("log.level", "info");
    if tracing_subscriber::EnvFilter::try_new(&level).is_err() {
        r.errors.push(format!("`log.level`: `{level}` is not a level or filter"));
    }
    LogSettings { level, format }
}
