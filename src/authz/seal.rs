//! Sealed continuation ids: with `authz.continuation_secret_*` set, the scroll, point-in-time,
//! async and cursor ids Sluice hands out carry their own binding — the owner, the grants that
//! allowed them, the node's id and an expiry — under an HMAC-SHA256 tag. Any Sluice instance
//! holding the same secret checks them without shared state, and they survive restarts; the
//! node only ever sees its own ids. Pure apart from the key.
//!
//! A token is `sl1.` + base64url(payload JSON) + `.` + base64url(tag): URL-safe, so it travels
//! unescaped in paths, query strings and JSON.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::hmac;
use serde::{Deserialize, Serialize};

const PREFIX: &str = "sl1.";
/// How long a sealed id is honoured, like the in-memory bindings.
pub const TTL_MS: i64 = 24 * 3600 * 1000;

pub struct Sealer {
    key: hmac::Key,
}

/// What a token binds: the owner (as `bindings::owner` names it), the grants that allowed the
/// request, the node's own id, and when the binding ends (ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    #[serde(rename = "o")]
    pub owner: String,
    #[serde(rename = "g")]
    pub grants: Vec<String>,
    #[serde(rename = "i")]
    pub id: String,
    #[serde(rename = "e")]
    pub expires_ms: i64,
}

impl Sealer {
    pub fn new(secret: &[u8]) -> Self {
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, secret) }
    }

    pub fn seal(&self, owner: &str, grants: &[String], id: &str, now_ms: i64) -> String {
        let s = Sealed { owner: owner.to_string(), grants: grants.to_vec(), id: id.to_string(), expires_ms: now_ms.saturating_add(TTL_MS) };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&s).unwrap_or_default());
        let tag = URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, payload.as_bytes()));
        format!("{PREFIX}{payload}.{tag}")
    }

    /// The binding a token carries, or why it is not one Sluice sealed (or no longer honours).
    pub fn open(&self, token: &str, now_ms: i64) -> Result<Sealed, &'static str> {
        let rest = token.strip_prefix(PREFIX).ok_or("not an id handed out by Sluice")?;
        let (payload, tag) = rest.split_once('.').ok_or("a malformed id")?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| "a malformed id")?;
        hmac::verify(&self.key, payload.as_bytes(), &tag).map_err(|_| "an id Sluice did not seal")?;
        let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| "a malformed id")?;
        let s: Sealed = serde_json::from_slice(&bytes).map_err(|_| "a malformed id")?;
        if now_ms >= s.expires_ms {
            return Err("an expired id");
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_opens_and_refuses_what_it_did_not_seal() {
        let a = Sealer::new(b"0123456789abcdef0123456789abcdef");
        let t = a.seal("alice", &["g-1".into()], "FGluY2x1ZGVfY29udGV4dF91dWlkDXF1ZXJ5QW5kRmV0Y2gBFm==", 1_000);
        assert!(t.starts_with("sl1.") && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "{t}");
        let s = a.open(&t, 2_000).unwrap();
        assert_eq!((s.owner.as_str(), s.grants.as_slice(), s.expires_ms), ("alice", &["g-1".to_string()][..], 1_000 + TTL_MS));
        assert_eq!(s.id, "FGluY2x1ZGVfY29udGV4dF91dWlkDXF1ZXJ5QW5kRmV0Y2gBFm==");
        assert_eq!(a.open(&t, 1_000 + TTL_MS), Err("an expired id"));
        let b = Sealer::new(b"another secret of thirty-two bytes!");
        assert_eq!(b.open(&t, 2_000), Err("an id Sluice did not seal"));
        // Any change to the payload breaks the tag.
        let (head, tag) = t.rsplit_once('.').unwrap();
        let forged = format!("{}{}.{tag}", &head[..head.len() - 1], if head.ends_with('A') { 'B' } else { 'A' });
        assert!(a.open(&forged, 2_000).is_err());
        for bad in ["", "pit-1", "sl1.", "sl1.abc", "sl1.abc.!!", "sl1..", "sl1.e30.AAAA"] {
            assert!(a.open(bad, 2_000).is_err(), "{bad}");
        }
    }
}
