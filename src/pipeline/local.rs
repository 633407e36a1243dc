//! Requests Sluice answers itself instead of forwarding: who the caller is
//! (`_security/_authenticate`, OpenSearch's `authinfo`) and which privileges the caller holds
//! (`_security/user/_has_privileges` and `_security/user/_privileges`, from the grant table). Forwarded, the cluster would
//! describe Sluice's own service account. Any authenticated caller may ask, grants or not, as
//! in Elasticsearch; the audit record's decision is `local`.

use http::{Response, StatusCode};

use super::record::Ctx;
use super::respond::{self, Failure};
use super::Shared;
use crate::authn::{whoami, Principal};
use crate::body::ResBody;
use crate::classify::Classification;
use crate::listener::ConnInfo;
use crate::telemetry::metrics::Outcome;

/// What a local answer reads of the request besides its classification and principal.
pub(super) struct Asked<'a> {
    pub path: &'a str,
    /// The body, decompressed.
    pub body: &'a [u8],
    pub conn: &'a ConnInfo,
    pub now: i64,
}

impl Shared {
    /// The answer to a request Sluice answers itself, `None` for every other request.
    #[inline]
    pub(super) fn local(&self, c: &Classification, p: &Principal, asked: Asked<'_>, ctx: &mut Ctx) -> Option<Result<Response<ResBody>, Failure>> {
        if !c.api.starts_with("security.") {
            return None;
        }
        self.local_answer(c, p, asked, ctx)
    }

    /// Kept out of the request path's code: only `security.*` APIs come here.
    #[cold]
    #[inline(never)]
    fn local_answer(&self, c: &Classification, p: &Principal, asked: Asked<'_>, ctx: &mut Ctx) -> Option<Result<Response<ResBody>, Failure>> {
        // The APIs of `classify::ANSWERED_BY_SLUICE`.
        let doc = match c.api {
            "security.authenticate" => Ok(whoami::authenticate(p)),
            "security.authinfo" => Ok(whoami::authinfo(p, &asked.conn.peer.to_string())),
            "security.get_account_details" => Ok(whoami::account(p)),
            "security.has_privileges" => self.has_privileges(asked.path, p, asked.body, asked.now),
            "security.get_user_privileges" => Ok(crate::authz::has_privileges::user_privileges(&self.security.authz.snapshot(), p, asked.now)),
            _ => return None,
        };
        ctx.outcome = Outcome::Allowed;
        if let Some(r) = ctx.rec() {
            r.api = Some(c.api);
            r.decision = Some("local");
        }
        Some(doc.map(|d| respond::json(StatusCode::OK, d.to_string())))
    }

    fn has_privileges(&self, path: &str, p: &Principal, body: &[u8], now: i64) -> Result<serde_json::Value, Failure> {
        let bad = |reason: String| Failure::BadRequest { kind: "illegal_argument_exception", reason };
        // `/_security/user/{user}/_has_privileges`: only one's own.
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if let [_, _, user, _] = segs[..] {
            let user = crate::classify::path::decode(user, false).map_err(bad)?;
            if user != p.user {
                return Err(bad("users may only check the privileges of their own account".into()));
            }
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(Failure::BadRequest { kind: "parse_exception", reason: "request body is required".into() });
        }
        let v = crate::classify::body::parse_json(body).map_err(Failure::Refused)?;
        crate::authz::has_privileges::has_privileges(&self.security.authz.snapshot(), p, &v, now).map_err(bad)
    }
}
