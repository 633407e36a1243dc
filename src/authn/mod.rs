//! Authentication: credentials -> `Principal`, or a refusal. One scheme per file; no network
//! I/O here (JWKS documents are fetched by `fetch` and handed in), the clock is injected.
//!
//! Order: a trusted proxy header from a trusted source wins; otherwise the Authorization
//! header's scheme picks the verifier (Bearer -> JWT, ApiKey -> API keys, Basic -> users
//! file); otherwise a client certificate (mTLS). No credentials, or bad ones -> 401 with a
//! `WWW-Authenticate` challenge for every enabled scheme.

pub mod api_key;
pub mod basic;
pub mod cache;
pub mod jwt;
pub mod mtls;
pub mod proxy;
pub mod whoami;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::Engine;
use serde::Serialize;

/// How a principal proved who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    Jwt,
    ApiKey,
    Basic,
    Mtls,
    Proxy,
}

impl Scheme {
    pub const ALL: [Scheme; 5] = [Scheme::Jwt, Scheme::ApiKey, Scheme::Basic, Scheme::Mtls, Scheme::Proxy];
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Jwt => "jwt",
            Scheme::ApiKey => "api_key",
            Scheme::Basic => "basic",
            Scheme::Mtls => "mtls",
            Scheme::Proxy => "proxy",
        }
    }
}

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Principal {
    pub user: String,
    pub groups: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    pub scheme: Scheme,
    /// The API key id, the JWT `kid`/`jti`, or the certificate fingerprint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<String>,
}

impl Principal {
    pub fn new(user: impl Into<String>, groups: Vec<String>, scheme: Scheme) -> Self {
        Self { user: user.into(), groups, attributes: BTreeMap::new(), scheme, credential_id: None }
    }
}

/// Everything a request offers as proof of identity.
#[derive(Debug, Default, Clone, Copy)]
pub struct Credentials<'a> {
    pub authorization: Option<&'a [u8]>,
    pub proxy_user: Option<&'a str>,
    pub proxy_groups: Option<&'a str>,
    pub peer: Option<IpAddr>,
    /// The client certificate chain (DER), leaf first.
    pub client_certs: &'a [Vec<u8>],
}

/// Why authentication failed. The reason is safe to show the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthnError {
    #[error("missing authentication credentials")]
    Missing,
    #[error("unable to authenticate with the provided credentials")]
    Invalid { scheme: Scheme, detail: String },
    #[error("unable to authenticate with the provided credentials")]
    Unsupported { detail: String },
}

impl AuthnError {
    pub fn invalid(scheme: Scheme, detail: impl Into<String>) -> Self {
        AuthnError::Invalid { scheme, detail: detail.into() }
    }
    /// What went wrong, for the audit record and logs (never sent to the client).
    pub fn detail(&self) -> &str {
        match self {
            AuthnError::Missing => "no credentials",
            AuthnError::Invalid { detail, .. } | AuthnError::Unsupported { detail } => detail,
        }
    }
    pub fn scheme(&self) -> Option<Scheme> {
        match self {
            AuthnError::Invalid { scheme, .. } => Some(*scheme),
            _ => None,
        }
    }
}

/// Settings for every scheme; a scheme is enabled when its settings are present.
#[derive(Clone, Debug, Default)]
pub struct AuthnSettings {
    pub jwt: Option<jwt::JwtSettings>,
    pub api_keys: bool,
    pub basic: Option<basic::BasicSettings>,
    pub mtls: Option<mtls::MtlsSettings>,
    pub proxy: Option<proxy::ProxySettings>,
}

impl AuthnSettings {
    pub fn any_enabled(&self) -> bool {
        self.jwt.is_some() || self.api_keys || self.basic.is_some() || self.mtls.is_some() || self.proxy.is_some()
    }
}

/// Failure counters by scheme (and for missing credentials).
#[derive(Debug, Default)]
pub struct Counters {
    pub missing: AtomicU64,
    pub by_scheme: [AtomicU64; 5],
    pub untrusted_proxy_header: AtomicU64,
}

impl Counters {
    pub fn failures(&self, s: Scheme) -> u64 {
        self.by_scheme[s as usize].load(Ordering::Relaxed)
    }
}

pub struct Authenticator {
    pub settings: AuthnSettings,
    pub jwt: Option<Arc<jwt::Verifier>>,
    pub api_keys: Arc<api_key::ApiKeyStore>,
    pub basic: Option<basic::Verifier>,
    pub counters: Counters,
}

/// The outcome, with a note when a proxy header was offered by a source not trusted.
pub struct Outcome {
    pub result: Result<Arc<Principal>, AuthnError>,
    pub ignored_proxy_header: bool,
}

impl Authenticator {
    pub fn new(settings: AuthnSettings, api_keys: Arc<api_key::ApiKeyStore>) -> Self {
        let jwt = settings.jwt.clone().map(|j| Arc::new(jwt::Verifier::new(j)));
        let basic = settings.basic.clone().map(basic::Verifier::new);
        Self { settings, jwt, api_keys, basic, counters: Counters::default() }
    }

    pub fn authenticate(&self, creds: &Credentials<'_>, now_ms: i64) -> Outcome {
        let mut ignored_proxy_header = false;
        if let (Some(p), Some(user)) = (&self.settings.proxy, creds.proxy_user) {
            match p.trusted(creds.peer, creds.client_certs) {
                true => {
                    return Outcome { result: Ok(Arc::new(proxy::principal(p, user, creds.proxy_groups))), ignored_proxy_header };
                }
                false => {
                    ignored_proxy_header = true;
                    self.counters.untrusted_proxy_header.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let result = self.by_header(creds, now_ms);
        if let Err(e) = &result {
            match e.scheme() {
                Some(s) => self.counters.by_scheme[s as usize].fetch_add(1, Ordering::Relaxed),
                None => self.counters.missing.fetch_add(1, Ordering::Relaxed),
            };
        }
        Outcome { result, ignored_proxy_header }
    }

    fn by_header(&self, creds: &Credentials<'_>, now_ms: i64) -> Result<Arc<Principal>, AuthnError> {
        // An empty Authorization header carries no credentials.
        let auth = creds.authorization.filter(|a| !a.iter().all(u8::is_ascii_whitespace));
        let Some(auth) = auth else {
            if let (Some(m), Some(leaf)) = (&self.settings.mtls, creds.client_certs.first()) {
                return mtls::principal(m, leaf).map(Arc::new);
            }
            return Err(AuthnError::Missing);
        };
        let auth = std::str::from_utf8(auth).map_err(|_| AuthnError::Unsupported { detail: "Authorization is not UTF-8".into() })?;
        let (scheme, rest) = auth.trim().split_once(' ').unwrap_or((auth.trim(), ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            let v = self.jwt.as_ref().ok_or_else(|| AuthnError::invalid(Scheme::Jwt, "JWT authentication is not enabled"))?;
            v.verify(rest, now_ms)
        } else if scheme.eq_ignore_ascii_case("apikey") {
            if !self.settings.api_keys {
                return Err(AuthnError::invalid(Scheme::ApiKey, "API key authentication is not enabled"));
            }
            let (id, secret) = decode_pair(rest).map_err(|d| AuthnError::invalid(Scheme::ApiKey, d))?;
            self.api_keys.verify(&id, &secret, now_ms)
        } else if scheme.eq_ignore_ascii_case("basic") {
            let v = self.basic.as_ref().ok_or_else(|| AuthnError::invalid(Scheme::Basic, "basic authentication is not enabled"))?;
            v.verify(rest, now_ms)
        } else {
            Err(AuthnError::Unsupported { detail: format!("unsupported Authorization scheme [{}]", scheme.chars().take(20).collect::<String>()) })
        }
    }

    /// `WWW-Authenticate` challenges for every enabled scheme, as Elasticsearch words them.
    pub fn challenges(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.settings.basic.is_some() {
            out.push("Basic realm=\"security\", charset=\"UTF-8\"");
        }
        if self.settings.jwt.is_some() {
            out.push("Bearer realm=\"security\"");
        }
        if self.settings.api_keys {
            out.push("ApiKey");
        }
        if self.settings.mtls.is_some() {
            out.push("Mutual-TLS");
        }
        out
    }
}

/// Compares secrets in time that does not depend on where they differ.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Decodes `base64(a:b)` (Basic and ApiKey credentials).
pub fn decode_pair(b64: &str) -> Result<(String, String), String> {
    if b64.len() > 8192 {
        return Err("credentials are too long".into());
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| "credentials are not valid base64".to_string())?;
    let text = String::from_utf8(raw).map_err(|_| "credentials are not UTF-8".to_string())?;
    let (a, b) = text.split_once(':').ok_or_else(|| "credentials must be name:secret".to_string())?;
    if a.is_empty() {
        return Err("credentials name is empty".into());
    }
    Ok((a.to_string(), b.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs() {
        assert_eq!(decode_pair("YWxpY2U6czNjcjN0").unwrap(), ("alice".to_string(), "s3cr3t".to_string()));
        assert_eq!(decode_pair("YWxpY2U6YTpi").unwrap().1, "a:b");
        for bad in ["!!!", "YWxpY2U=", "OnNlY3JldA==", "/w=="] {
            assert!(decode_pair(bad).is_err(), "{bad}");
        }
    }
}
