//! The table of every configuration key Sluice knows. Unknown-key detection, environment
//! overrides (`SLUICE_<SECTION>_<KEY>`) and the reference in the README all come from it.

/// How a leaf value is written in TOML and read from the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Bool,
    StrList,
    /// An integer number of bytes or a string with a unit: "16KiB", "100MiB", "1GB".
    Size,
    /// An integer number of seconds or a string with a unit: "500ms", "10s", "2m", "1h".
    Duration,
    /// A table whose keys are not checked by this schema (checked by its own validator).
    Table,
}

/// Every known key: dotted path and kind. Tables that only group keys are implied.
pub const KEYS: &[(&str, Kind)] = &[
    ("listen.address", Kind::Str),
    ("listen.max_connections", Kind::Int),
    ("listen.header_read_timeout", Kind::Duration),
    ("listen.idle_timeout", Kind::Duration),
    ("listen.max_header_size", Kind::Size),
    ("listen.max_body_size", Kind::Size),
    ("listen.shutdown_timeout", Kind::Duration),
    ("listen.http2", Kind::Bool),
    ("listen.tls.cert", Kind::Str),
    ("listen.tls.key", Kind::Str),
    ("listen.tls.client_ca", Kind::Str),
    ("listen.tls.client_auth", Kind::Str),
    ("upstream.nodes", Kind::StrList),
    ("upstream.ca", Kind::Str),
    ("upstream.client_cert", Kind::Str),
    ("upstream.client_key", Kind::Str),
    ("upstream.connect_timeout", Kind::Duration),
    ("upstream.response_timeout", Kind::Duration),
    ("upstream.backoff", Kind::Duration),
    ("upstream.backoff_max", Kind::Duration),
    ("upstream.max_idle_per_node", Kind::Int),
    ("inspect.max_buffered_body", Kind::Size),
    ("inspect.max_line", Kind::Size),
    ("inspect.max_decompressed", Kind::Size),
    ("authn.anonymous.user", Kind::Str),
    ("authn.anonymous.groups", Kind::StrList),
    ("authn.jwt.hs256_secret_env", Kind::Str),
    ("authn.jwt.hs256_secret_file", Kind::Str),
    ("authn.jwt.public_key_file", Kind::Str),
    ("authn.jwt.jwks_file", Kind::Str),
    ("authn.jwt.jwks_url", Kind::Str),
    ("authn.jwt.jwks_ca", Kind::Str),
    ("authn.jwt.jwks_refresh", Kind::Duration),
    ("authn.jwt.jwks_min_interval", Kind::Duration),
    ("authn.jwt.issuer", Kind::Str),
    ("authn.jwt.audience", Kind::Str),
    ("authn.jwt.user_claim", Kind::Str),
    ("authn.jwt.groups_claim", Kind::Str),
    ("authn.jwt.leeway", Kind::Duration),
    ("authn.jwt.cache_ttl", Kind::Duration),
    ("authn.api_keys.enabled", Kind::Bool),
    ("authn.basic.users_file", Kind::Str),
    ("authn.basic.cache_ttl", Kind::Duration),
    ("authn.basic.cache_size", Kind::Int),
    ("authn.mtls.user_from", Kind::Str),
    ("authn.proxy.user_header", Kind::Str),
    ("authn.proxy.groups_header", Kind::Str),
    ("authn.proxy.trusted_sources", Kind::StrList),
    ("authn.proxy.trusted_cns", Kind::StrList),
    ("upstream.auth.user", Kind::Str),
    ("upstream.auth.password_env", Kind::Str),
    ("upstream.auth.password_file", Kind::Str),
    ("upstream.auth.api_key_env", Kind::Str),
    ("upstream.auth.api_key_file", Kind::Str),
    ("upstream.auth.bearer_env", Kind::Str),
    ("upstream.auth.bearer_file", Kind::Str),
    ("upstream.auth.run_as", Kind::Bool),
    ("grants.state_file", Kind::Str),
    ("authz.mode", Kind::Str),
    ("audit.enabled", Kind::Bool),
    ("audit.output", Kind::Str),
    ("audit.path", Kind::Str),
    ("audit.max_size", Kind::Size),
    ("audit.max_files", Kind::Int),
    ("audit.queue_size", Kind::Int),
    ("audit.on_full", Kind::Str),
    ("audit.body_hash", Kind::Bool),
    ("authz.decision_cache_size", Kind::Int),
    ("authz.multi_target", Kind::Str),
    ("authz.continuation_secret_env", Kind::Str),
    ("authz.continuation_secret_file", Kind::Str),
    ("admin.address", Kind::Str),
    ("admin.token_env", Kind::Str),
    ("admin.token_file", Kind::Str),
    ("admin.tls.cert", Kind::Str),
    ("admin.tls.key", Kind::Str),
    ("admin.tls.client_ca", Kind::Str),
    ("log.level", Kind::Str),
    ("log.format", Kind::Str),
];

/// Whether `path` names a table that groups known keys (e.g. `listen.tls`).
pub fn is_table(path: &str) -> bool {
    KEYS.iter().any(|(k, kind)| {
        (*kind == Kind::Table && *k == path)
            || (k.len() > path.len() && k.starts_with(path) && k.as_bytes()[path.len()] == b'.')
    })
}

pub fn kind_of(path: &str) -> Option<Kind> {
    KEYS.iter().find(|(k, _)| *k == path).map(|(_, kind)| *kind)
}

/// The environment variable that overrides a key: `listen.tls.cert` -> `SLUICE_LISTEN_TLS_CERT`.
pub fn env_name(path: &str) -> String {
    format!("SLUICE_{}", path.replace('.', "_").to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_leaves() {
        assert!(is_table("listen"));
        assert!(is_table("listen.tls"));
        assert!(!is_table("listen.tls.cert"));
        assert!(!is_table("lis"));
        assert_eq!(kind_of("upstream.nodes"), Some(Kind::StrList));
        assert_eq!(env_name("listen.tls.client_ca"), "SLUICE_LISTEN_TLS_CLIENT_CA");
    }
}
