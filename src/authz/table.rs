//! The grant table as the policy engine pushes it (JSON), and its validation. An invalid table
//! is rejected whole with every error listed; nothing is applied.

use serde::{Deserialize, Serialize};

use crate::clock::parse_rfc3339;
use crate::privilege::{ClusterPriv, IndexPriv};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TableDoc {
    pub version: u64,
    #[serde(default)]
    pub grants: Vec<GrantDoc>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Subject {
    User(String),
    Group(String),
    ApiKey(String),
}

impl Subject {
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::User(_) => "user",
            Subject::Group(_) => "group",
            Subject::ApiKey(_) => "api_key",
        }
    }
    pub fn value(&self) -> &str {
        match self {
            Subject::User(v) | Subject::Group(v) | Subject::ApiKey(v) => v,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IndicesDoc {
    pub names: Vec<String>,
    pub privileges: Vec<String>,
    #[serde(default)]
    pub allow_restricted_indices: bool,
}

/// Application privileges, as in Elasticsearch role descriptors. Sluice forwards nothing by
/// them; it answers `_has_privileges` with them (Kibana asks for its feature privileges
/// there). Each string is a pattern (`*` wildcards) over the names asked about.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApplicationsDoc {
    pub application: String,
    pub privileges: Vec<String>,
    pub resources: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GrantDoc {
    pub id: String,
    pub subject: Subject,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indices: Vec<IndicesDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<ApplicationsDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    pub expires_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A validated grant: privileges parsed, times in milliseconds.
#[derive(Clone, Debug)]
pub struct Grant {
    pub doc: GrantDoc,
    pub cluster: Vec<ClusterPriv>,
    pub indices: Vec<(Vec<String>, Vec<IndexPriv>, bool)>,
    pub not_before_ms: i64,
    pub expires_ms: i64,
}

const MAX_ID: usize = 256;

/// Validates one grant; errors are prefixed with `at`.
pub fn validate_grant(doc: &GrantDoc, at: &str, errors: &mut Vec<String>) -> Option<Grant> {
    let before = errors.len();
    if doc.id.is_empty() || doc.id.len() > MAX_ID || doc.id.contains('/') {
        errors.push(format!("{at}: id must be 1..{MAX_ID} characters without '/'"));
    }
    if doc.subject.value().is_empty() {
        errors.push(format!("{at}: subject {} is empty", doc.subject.kind()));
    }
    let mut cluster = Vec::new();
    for c in &doc.cluster {
        match ClusterPriv::parse(c) {
            Some(p) => cluster.push(p),
            None => errors.push(format!("{at}: unknown cluster privilege [{c}]")),
        }
    }
    let mut indices = Vec::new();
    for (j, ix) in doc.indices.iter().enumerate() {
        if ix.names.is_empty() {
            errors.push(format!("{at}.indices[{j}]: names is empty"));
        }
        for n in &ix.names {
            if let Err(e) = check_pattern(n) {
                errors.push(format!("{at}.indices[{j}]: name [{n}] {e}"));
            }
        }
        if ix.privileges.is_empty() {
            errors.push(format!("{at}.indices[{j}]: privileges is empty"));
        }
        let mut privs = Vec::new();
        for p in &ix.privileges {
            match IndexPriv::parse(p) {
                Some(p) => privs.push(p),
                None => errors.push(format!("{at}.indices[{j}]: unknown index privilege [{p}]")),
            }
        }
        indices.push((ix.names.clone(), privs, ix.allow_restricted_indices));
    }
    for (j, app) in doc.applications.iter().enumerate() {
        for (field, values) in [("application", std::slice::from_ref(&app.application)), ("privileges", &app.privileges[..]), ("resources", &app.resources[..])] {
            if values.is_empty() || values.iter().any(String::is_empty) {
                errors.push(format!("{at}.applications[{j}]: {field} is empty"));
            }
        }
    }
    let expires_ms = parse_rfc3339(&doc.expires_at);
    if expires_ms.is_none() {
        errors.push(format!("{at}: expires_at [{}] is not an RFC 3339 time", doc.expires_at));
    }
    let not_before_ms = match &doc.not_before {
        None => Some(i64::MIN),
        Some(s) => {
            let t = parse_rfc3339(s);
            if t.is_none() {
                errors.push(format!("{at}: not_before [{s}] is not an RFC 3339 time"));
            }
            t
        }
    };
    if let (Some(nb), Some(ex)) = (not_before_ms, expires_ms) {
        if nb >= ex {
            errors.push(format!("{at}: not_before must be before expires_at"));
        }
    }
    if errors.len() > before {
        return None;
    }
    Some(Grant {
        doc: doc.clone(),
        cluster,
        indices,
        not_before_ms: not_before_ms.unwrap_or(i64::MIN),
        expires_ms: expires_ms.unwrap_or(i64::MIN),
    })
}

/// Index name patterns: names and `*` wildcards, optionally `cluster:` prefixed. Regular
/// expressions (`/…/`) are not accepted.
fn check_pattern(p: &str) -> Result<(), &'static str> {
    if p.is_empty() {
        return Err("is empty");
    }
    if p.starts_with('/') {
        return Err("is a regular expression; Sluice accepts names and * wildcards");
    }
    if p.chars().any(|c| matches!(c, '\\' | '/' | '?' | '"' | '<' | '>' | '|' | ' ' | ',' | '#')) {
        return Err("contains a character index names cannot hold");
    }
    if p.starts_with('-') {
        return Err("cannot be an exclusion");
    }
    Ok(())
}

/// Parses and validates a whole table. Every error is listed.
pub fn parse_table(json: &serde_json::Value) -> Result<(TableDoc, Vec<Grant>), Vec<String>> {
    let doc = TableDoc::deserialize(json).map_err(|e| vec![format!("invalid grant table: {e}")])?;
    let grants = validate_table(&doc)?;
    Ok((doc, grants))
}

/// The largest table version: 2^53 - 1, the largest integer every JSON client keeps exactly.
/// Versions only grow, by pushes and by one per upsert or revocation, and never past it: a
/// version that wrapped around would let a stale push roll back a revocation.
pub const MAX_VERSION: u64 = (1 << 53) - 1;

/// Validates a table document. Every error is listed.
pub fn validate_table(doc: &TableDoc) -> Result<Vec<Grant>, Vec<String>> {
    let mut errors = Vec::new();
    if doc.version > MAX_VERSION {
        errors.push(format!("version [{}] is above the largest version [{MAX_VERSION}]", doc.version));
    }
    let mut grants = Vec::with_capacity(doc.grants.len());
    let mut ids = std::collections::HashSet::with_capacity(doc.grants.len());
    for (i, g) in doc.grants.iter().enumerate() {
        let at = format!("grants[{i}] ({})", g.id);
        if !ids.insert(g.id.as_str()) {
            errors.push(format!("{at}: duplicate id"));
        }
        if let Some(v) = validate_grant(g, &at, &mut errors) {
            grants.push(v);
        }
    }
    if errors.is_empty() {
        Ok(grants)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn grant(extra: serde_json::Value) -> serde_json::Value {
        let mut g = json!({"id": "g1", "subject": {"user": "alice"}, "indices": [{"names": ["logs-*"], "privileges": ["read"]}],
                           "expires_at": "2026-11-23T12:00:00Z"});
        for (k, v) in extra.as_object().unwrap() {
            g[k] = v.clone();
        }
        g
    }

    #[test]
    fn valid_and_invalid_tables() {
        let ok = parse_table(&json!({"version": 1, "grants": [grant(json!({}))]})).unwrap();
        assert_eq!(ok.1[0].indices[0].1, vec![IndexPriv::Read]);
        let kibana = json!({"applications": [{"application": "kibana-.kibana", "privileges": ["*"], "resources": ["space:default"]}]});
        assert_eq!(parse_table(&json!({"version": 1, "grants": [grant(kibana)]})).unwrap().1[0].doc.applications[0].resources, ["space:default"]);
        let cases: &[(serde_json::Value, &str)] = &[
            (grant(json!({"expires_at": "tomorrow"})), "expires_at"),
            (grant(json!({"not_before": "2026-11-23T13:00:00Z"})), "not_before must be before"),
            (grant(json!({"cluster": ["monitr"]})), "unknown cluster privilege [monitr]"),
            (grant(json!({"indices": [{"names": ["a"], "privileges": ["raed"]}]})), "unknown index privilege"),
            (grant(json!({"indices": [{"names": ["/a.*/"], "privileges": ["read"]}]})), "regular expression"),
            (grant(json!({"indices": [{"names": [], "privileges": ["read"]}]})), "names is empty"),
            (grant(json!({"subject": {"user": ""}})), "subject user is empty"),
            (grant(json!({"id": ""})), "id must be"),
            (grant(json!({"applications": [{"application": "kibana-.kibana", "privileges": [], "resources": ["*"]}]})), "applications[0]: privileges is empty"),
            (grant(json!({"applications": [{"application": "", "privileges": ["*"], "resources": ["*"]}]})), "applications[0]: application is empty"),
            (grant(json!({"applications": [{"application": "k", "privileges": ["*"], "resources": [""]}]})), "applications[0]: resources is empty"),
            (grant(json!({"applications": [{"application": "k", "privileges": ["*"]}]})), "invalid grant table"),
        ];
        for (g, want) in cases {
            let errs = parse_table(&json!({"version": 1, "grants": [g]})).unwrap_err();
            assert!(errs.iter().any(|e| e.contains(want)), "{want}: {errs:?}");
        }
        let errs = parse_table(&json!({"version": 1, "grants": [grant(json!({})), grant(json!({"cluster": ["x"]}))]})).unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(parse_table(&json!({"version": 1, "grants": [{"id": "x"}]})).is_err());
        assert!(parse_table(&json!({"grants": []})).is_err());
        assert!(parse_table(&json!({"version": 1, "grants": [], "extra": 1})).is_err());
    }
}
