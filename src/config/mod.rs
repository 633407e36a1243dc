//! The only place that reads configuration files, PEM files and the environment.
//!
//! Loading goes: TOML text -> `toml::Value` -> environment overrides -> CLI overrides ->
//! unknown-key check -> per-section deserialisation -> semantic validation. Every error found
//! along the way is collected, so `sluice check-config` prints them all at once, and nothing
//! takes effect unless the whole configuration is valid.

pub mod authn;
mod raw;
pub mod schema;
pub mod tls;
pub mod units;

use std::path::{Path, PathBuf};

use crate::admin::AdminSettings;
use crate::forward::UpstreamSettings;
use crate::listener::ListenSettings;
use crate::telemetry::LogSettings;

/// A validated configuration: every domain module gets its own settings.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: ListenSettings,
    pub inspect: crate::pipeline::inspect::InspectSettings,
    pub upstream: UpstreamSettings,
    pub admin: AdminSettings,
    pub log: LogSettings,
    pub authn: crate::authn::AuthnSettings,
    /// A fixed principal for requests without credentials (only when configured).
    pub anonymous: Option<crate::authn::Principal>,
    /// Sluice's own credentials towards the nodes.
    pub service: authn::ServiceAuth,
    /// Where grants and API keys are persisted.
    pub state_file: Option<PathBuf>,
    pub authz: AuthzSettings,
    /// `None` when the audit trail is off.
    pub audit: Option<crate::audit::SinkSettings>,
    pub audit_body_hash: bool,
}

#[derive(Clone, Debug, Default)]
pub struct AuthzSettings {
    /// `enforce` (default) or `shadow`: decide and record, but forward what would be denied.
    pub mode: crate::authz::Mode,
    pub decision_cache_size: u64,
    /// `authz.multi_target`: `per_item` (default) or `reject`.
    pub per_item: bool,
    /// `authz.continuation_secret_env`/`_file`: seal continuation ids with this secret, so
    /// that every instance holding it honours them (see `authz::seal`).
    pub continuation_secret: Option<Vec<u8>>,
}

/// Overrides given on the command line; they win over the environment and the file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub listen_address: Option<String>,
    pub upstream_nodes: Vec<String>,
    pub admin_address: Option<String>,
    pub log_level: Option<String>,
}

/// Every problem found in a configuration, in the order found.
#[derive(Debug, thiserror::Error)]
#[error("{}", .errors.join("\n"))]
pub struct ConfigError {
    pub errors: Vec<String>,
}

/// Reads and validates a configuration file with environment and CLI overrides applied.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        errors: vec![format!("cannot read {}: {e}", path.display())],
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let env: Vec<(String, String)> = std::env::vars().collect();
    from_str(&text, &base, &env, overrides)
}

/// Validates configuration text. `base` resolves relative file paths; `env` is the environment.
pub fn from_str(
    text: &str,
    base: &Path,
    env: &[(String, String)],
    overrides: &Overrides,
) -> Result<Config, ConfigError> {
    let mut errors = Vec::new();
    let mut value: toml::Value = match text.parse::<toml::Table>() {
        Ok(t) => toml::Value::Table(t),
        Err(e) => return Err(ConfigError { errors: vec![format!("invalid TOML: {e}")] }),
    };
    raw::apply_env(&mut value, env, &mut errors);
    raw::apply_overrides(&mut value, overrides);
    raw::check_keys(&value, "", &mut errors);
    let config = raw::validate(&value, &Resolver { base: base.to_path_buf() }, env, &mut errors);
    match config {
        Some(c) if errors.is_empty() => Ok(c),
        _ => Err(ConfigError { errors }),
    }
}

/// Resolves file paths in the configuration relative to the configuration file's folder.
pub struct Resolver {
    base: PathBuf,
}

impl Resolver {
    pub fn path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() { p.to_path_buf() } else { self.base.join(p) }
    }
}
