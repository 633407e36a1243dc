//! The `[authn]`, `[admin]` credentials and `[upstream.auth]` sections: secrets from
//! environment variables or files, users files, public keys.

use std::path::PathBuf;

use super::raw::Reader;
use super::Resolver;
use crate::authn::basic::{self, BasicSettings, User};
use crate::authn::jwt::{JwksSource, JwtSettings};
use crate::authn::mtls::{CertField, MtlsSettings};
use crate::authn::proxy::{Cidr, ProxySettings};
use crate::authn::{AuthnSettings, Principal, Scheme};

/// Sluice's own credentials towards the nodes.
#[derive(Clone, Debug, Default)]
pub struct ServiceAuth {
    /// The Authorization header value Sluice sends (never the caller's).
    pub authorization: Option<String>,
    /// Add `es-security-runas-user: <user>` so the cluster's audit log names the real person.
    pub run_as: bool,
}

/// Reads a secret named by `<prefix>_env` or `<prefix>_file` (exactly one may be set).
pub(super) fn secret(r: &mut Reader, prefix: &str, env: &[(String, String)], files: &Resolver) -> Option<String> {
    let e = r.str(&format!("{prefix}_env"));
    let f = r.str(&format!("{prefix}_file"));
    match (e, f) {
        (Some(_), Some(_)) => {
            r.errors.push(format!("`{prefix}_env` and `{prefix}_file` exclude each other"));
            None
        }
        (Some(var), None) => match env.iter().find(|(k, _)| *k == var) {
            Some((_, v)) if !v.is_empty() => Some(v.clone()),
            _ => {
                r.errors.push(format!("`{prefix}_env`: environment variable {var} is not set"));
                None
            }
        },
        (None, Some(path)) => match std::fs::read_to_string(files.path(&path)) {
            Ok(v) if !v.trim().is_empty() => Some(v.trim_end_matches(['\n', '\r']).to_string()),
            Ok(_) => {
                r.errors.push(format!("`{prefix}_file`: {path} is empty"));
                None
            }
            Err(e) => {
                r.errors.push(format!("`{prefix}_file`: cannot read {path}: {e}"));
                None
            }
        },
        (None, None) => None,
    }
}

pub fn authn(r: &mut Reader, env: &[(String, String)], files: &Resolver) -> (AuthnSettings, Option<Principal>) {
    let mut s = AuthnSettings { api_keys: r.bool("authn.api_keys.enabled", true), ..Default::default() };
    let anonymous = r.str("authn.anonymous.user").map(|u| {
        let groups = r.list("authn.anonymous.groups");
        Principal::new(u, groups, Scheme::Proxy)
    });
    if r.get("authn.jwt").is_some() {
        s.jwt = jwt(r, env, files);
    }
    if r.get("authn.basic").is_some() {
        let d = basic_defaults();
        let users_file = r.file("authn.basic.users_file", files);
        let users = match &users_file {
            Some(p) => load_users(p).unwrap_or_else(|e| {
                r.errors.push(format!("`authn.basic.users_file`: {e}"));
                Vec::new()
            }),
            None => {
                r.errors.push("`authn.basic` needs `users_file`".into());
                Vec::new()
            }
        };
        s.basic = Some(BasicSettings {
            users_file,
            users,
            cache_ttl: r.duration("authn.basic.cache_ttl", d.0),
            cache_size: r.int("authn.basic.cache_size", d.1 as i64).max(1) as u64,
        });
    }
    if r.get("authn.mtls").is_some() {
        let from = r.str_or("authn.mtls.user_from", "cn");
        match CertField::parse(&from) {
            Some(user_from) => s.mtls = Some(MtlsSettings { user_from }),
            None => r.errors.push(format!("`authn.mtls.user_from`: `{from}` must be cn, san_email, san_dns or san_uri")),
        }
    }
    if r.get("authn.proxy").is_some() {
        let mut trusted_sources = Vec::new();
        for c in r.list("authn.proxy.trusted_sources") {
            match Cidr::parse(&c) {
                Ok(c) => trusted_sources.push(c),
                Err(e) => r.errors.push(format!("`authn.proxy.trusted_sources`: {e}")),
            }
        }
        let trusted_cns = r.list("authn.proxy.trusted_cns");
        if trusted_sources.is_empty() && trusted_cns.is_empty() {
            r.errors.push("`authn.proxy` needs `trusted_sources` or `trusted_cns`".into());
        }
        s.proxy = Some(ProxySettings {
            user_header: r.str_or("authn.proxy.user_header", "x-proxy-user").to_ascii_lowercase(),
            groups_header: r.str("authn.proxy.groups_header").map(|h| h.to_ascii_lowercase()),
            trusted_sources,
            trusted_cns,
        });
    }
    (s, anonymous)
}

fn basic_defaults() -> (std::time::Duration, u64) {
    (std::time::Duration::from_secs(300), 10_000)
}

fn jwt(r: &mut Reader, env: &[(String, String)], files: &Resolver) -> Option<JwtSettings> {
    let d = JwtSettings::default();
    let hmac = secret(r, "authn.jwt.hs256_secret", env, files);
    if hmac.as_ref().is_some_and(|h| h.len() < 32) {
        r.errors.push("`authn.jwt` HMAC secret must be at least 32 bytes".into());
    }
    let mut public_keys = Vec::new();
    if let Some(p) = r.file("authn.jwt.public_key_file", files) {
        match std::fs::read(&p) {
            Ok(pem) => match crate::authn::jwt::pem_key(&pem) {
                Ok(_) => public_keys.push(pem),
                Err(e) => r.errors.push(format!("`authn.jwt.public_key_file`: {e}")),
            },
            Err(e) => r.errors.push(format!("`authn.jwt.public_key_file`: {e}")),
        }
    }
    let jwks_file = r.file("authn.jwt.jwks_file", files);
    let jwks_url = r.str("authn.jwt.jwks_url");
    let jwks = match (jwks_file, jwks_url) {
        (Some(_), Some(_)) => {
            r.errors.push("`authn.jwt.jwks_file` and `authn.jwt.jwks_url` exclude each other".into());
            None
        }
        (Some(f), None) => Some(JwksSource::File(f)),
        (None, Some(url)) => {
            if !url.starts_with("https://") {
                r.errors.push("`authn.jwt.jwks_url` must be an https:// URL".into());
            }
            Some(JwksSource::Url { url, ca: r.file("authn.jwt.jwks_ca", files) })
        }
        (None, None) => None,
    };
    if hmac.is_none() && public_keys.is_empty() && jwks.is_none() {
        r.errors.push("`authn.jwt` needs a key: hs256_secret_env, hs256_secret_file, public_key_file, jwks_file or jwks_url".into());
    }
    let leeway = r.duration_or_zero("authn.jwt.leeway", d.leeway);
    if leeway > MAX_LEEWAY {
        r.errors.push(format!("`authn.jwt.leeway` is clock skew and must be small: at most {}s", MAX_LEEWAY.as_secs()));
    }
    Some(JwtSettings {
        hmac_secret: hmac.map(String::into_bytes),
        public_keys,
        jwks,
        issuer: r.str("authn.jwt.issuer"),
        audience: r.str("authn.jwt.audience"),
        user_claim: r.str_or("authn.jwt.user_claim", &d.user_claim),
        groups_claim: r.str_or("authn.jwt.groups_claim", &d.groups_claim),
        leeway,
        jwks_refresh: r.duration("authn.jwt.jwks_refresh", d.jwks_refresh),
        jwks_min_interval: r.duration("authn.jwt.jwks_min_interval", d.jwks_min_interval),
        cache_ttl: r.duration("authn.jwt.cache_ttl", d.cache_ttl),
        cache_size: d.cache_size,
    })
}

/// The most clock skew a token's `exp` and `nbf` are given: more would outlive short tokens.
const MAX_LEEWAY: std::time::Duration = std::time::Duration::from_secs(600);

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    #[serde(default)]
    users: Vec<UserEntry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    name: String,
    hash: String,
    #[serde(default)]
    groups: Vec<String>,
}

/// Reads a users file: `[[users]]` tables with `name`, `hash` (argon2id or bcrypt) and `groups`.
pub fn load_users(path: &PathBuf) -> Result<Vec<User>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let f: UsersFile = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for u in f.users {
        if !basic::is_supported_hash(&u.hash) {
            return Err(format!("user [{}]: the hash must be argon2id or bcrypt (sluice hash-password makes one)", u.name));
        }
        out.push(User { name: u.name, hash: u.hash, groups: u.groups });
    }
    Ok(out)
}

pub fn admin_token(r: &mut Reader, env: &[(String, String)], files: &Resolver) -> Option<String> {
    // An unset admin token variable leaves the admin API closed (only /live and /ready answer),
    // so the shipped configuration starts without one.
    if let Some(var) = r.str("admin.token_env") {
        if r.str("admin.token_file").is_none() && !env.iter().any(|(k, v)| *k == var && !v.is_empty()) {
            tracing::warn!(variable = %var, "admin token variable is not set: the admin API answers only /live and /ready");
            return None;
        }
    }
    let t = secret(r, "admin.token", env, files);
    if t.as_ref().is_some_and(|t| t.len() < 16) {
        r.errors.push("the admin token must be at least 16 characters".into());
    }
    t
}

pub fn service_auth(r: &mut Reader, env: &[(String, String)], files: &Resolver) -> ServiceAuth {
    let user = r.str("upstream.auth.user");
    let password = secret(r, "upstream.auth.password", env, files);
    let api_key = secret(r, "upstream.auth.api_key", env, files);
    let bearer = secret(r, "upstream.auth.bearer", env, files);
    let run_as = r.bool("upstream.auth.run_as", false);
    let authorization = match (user, password, api_key, bearer) {
        (Some(u), Some(p), None, None) => {
            use base64::Engine;
            Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))))
        }
        (None, None, Some(k), None) => Some(format!("ApiKey {k}")),
        (None, None, None, Some(b)) => Some(format!("Bearer {b}")),
        (None, None, None, None) => None,
        (Some(_), None, None, None) => {
            r.errors.push("`upstream.auth.user` needs `password_env` or `password_file`".into());
            None
        }
        _ => {
            r.errors.push("`upstream.auth`: use exactly one of user+password, api_key or bearer".into());
            None
        }
    };
    if authorization.as_ref().is_some_and(|a| http::HeaderValue::from_str(a).is_err()) {
        r.errors.push("`upstream.auth`: the credentials contain characters not allowed in a header".into());
    }
    ServiceAuth { authorization, run_as }
}
