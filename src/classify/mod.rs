//! Classification, pure and sans-io: a request becomes the API it calls, the cluster privilege
//! it needs, and every index target it touches with the index privilege each needs — or a
//! refusal. Unknown endpoints and targets that cannot be determined are refused, never
//! forwarded.
//!
//! Two steps: `classify` reads the method, path, query string and headers; when the route's
//! body can carry targets, `inspect_body` (JSON, buffered) or the NDJSON item parsers in
//! `ndjson` (streamed) add the body's targets.

pub mod body;
pub mod datemath;
pub mod expr;
pub mod mustache;
pub mod ndjson;
pub mod path;
pub mod query_lang;
pub mod routes;
mod routes_gen;

use std::borrow::Cow;

use serde::Serialize;

pub use expr::{Arity, IndexName};
use routes::{BodyKind, ContKind, Found, RouteDef, ROUTER};

use crate::privilege::{ClusterPriv, IndexPriv};

/// What Sluice needs to know about a request before deciding on it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Head<'a> {
    pub method: &'a str,
    /// Path and query, exactly as received.
    pub target: &'a str,
    pub content_type: Option<&'a str>,
    pub content_encoding: Option<&'a str>,
    /// Whether the request carries a body (a non-zero length, or chunked).
    pub has_body: bool,
}

/// A target and the privileges it needs (all of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    #[serde(flatten)]
    pub index: IndexName,
    pub privileges: &'static [IndexPriv],
    /// Where the target was found: `path:{index}`, `query:index`, `body:source.index`, `item:3`.
    pub source: std::borrow::Cow<'static, str>,
}

/// An opaque id presented by the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Continuation {
    pub kind: ContKind,
    pub id: String,
}

/// How much of the body still has to be looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyPlan {
    /// Nothing: the body (if any) streams untouched.
    None,
    /// Buffer the body (bounded) and call `inspect_body`.
    Buffer(BodyKind),
    /// NDJSON: items are checked line by line as the body streams.
    Stream(BodyKind),
}

#[derive(Debug, Clone, Serialize)]
pub struct Classification {
    pub api: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterPriv>,
    pub targets: Vec<Target>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub uses: Vec<Continuation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creates: Option<ContKind>,
    #[serde(skip)]
    pub body: BodyPlan,
    #[serde(skip)]
    pub route: &'static RouteDef,
    /// The default index of NDJSON items (path `{index}` or `?index=`).
    #[serde(skip)]
    pub default_index: Option<String>,
}

impl Classification {
    /// An NDJSON body (bulk, msearch) that is buffered whole, so that every item is decided
    /// before anything is forwarded (`reject` mode): classification itself streams them.
    pub fn whole_ndjson(&self) -> bool {
        matches!(self.body, BodyPlan::Buffer(k) if is_ndjson(k))
    }

    /// An empty classification to collect targets into (per-item checks).
    pub fn scratch() -> Self {
        Self {
            api: "",
            cluster: None,
            targets: Vec::new(),
            uses: Vec::new(),
            creates: None,
            body: BodyPlan::None,
            route: &routes_gen::ROUTES[0],
            default_index: None,
        }
    }
}

/// Why a request is refused before anything reaches the cluster.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    pub status: u16,
    pub kind: &'static str,
    pub reason: String,
}

impl Refusal {
    pub fn bad(reason: impl Into<String>) -> Self {
        Self { status: 400, kind: "illegal_argument_exception", reason: reason.into() }
    }
    pub fn parse(reason: impl Into<String>) -> Self {
        Self { status: 400, kind: "parse_exception", reason: reason.into() }
    }
}

const SCROLLABLE: &[&str] = &["search", "search_template", "msearch", "msearch_template"];

/// Elasticsearch's own-API-key APIs: answered with Sluice API keys for the caller (who needs
/// `manage_own_api_key`), never forwarded — the cluster would act on the service account.
pub const OWN_API_KEY_APIS: &[&str] = &[
    "security.create_api_key",
    "security.get_api_key",
    "security.invalidate_api_key",
    "security.update_api_key",
    "security.bulk_update_api_keys",
    "security.clone_api_key",
    "security.query_api_keys",
];

/// APIs Sluice answers itself for the caller (who am I, which privileges do I hold) instead of
/// forwarding them: the cluster would describe Sluice's service account.
pub const ANSWERED_BY_SLUICE: &[&str] =
    &["security.authenticate", "security.authinfo", "security.get_account_details", "security.has_privileges", "security.get_user_privileges"];

/// Classifies a request from its head. `now_ms` resolves date math in index names.
pub fn classify(head: &Head<'_>, now_ms: i64) -> Result<Classification, Refusal> {
    let target = path::split(head.target).map_err(Refusal::bad)?;
    let route = match ROUTER.find(&target.segments, head.method) {
        Found::Route(r) => r,
        Found::WrongMethod(allowed) => {
            return Err(Refusal {
                status: 405,
                kind: "illegal_argument_exception",
                reason: format!(
                    "Incorrect HTTP method for uri [{}] and method [{}], allowed: {:?}",
                    head.target, head.method, allowed
                ),
            })
        }
        Found::None => {
            return Err(Refusal::bad(format!(
                "no handler found for uri [{}] and method [{}]; Sluice refuses requests it cannot classify",
                head.target, head.method
            )))
        }
    };
    let mut c = Classification {
        api: route.api,
        cluster: route.cluster,
        targets: Vec::new(),
        uses: Vec::new(),
        creates: route.creates,
        body: BodyPlan::None,
        route,
        default_index: None,
    };
    let params = path_params(route, &target.segments)?;
    for (def, value) in &params {
        if let Some(p) = route.param(def) {
            let source: std::borrow::Cow<'static, str> = if *def == "index" { "path:{index}".into() } else { format!("path:{{{def}}}").into() };
            add_targets(&mut c, value, Arity::of_kind(p.kind), p.privs, source, now_ms)?;
        }
    }
    query_targets(&mut c, &target, &params, now_ms)?;
    if route.implicit_all && c.targets.is_empty() {
        // Elasticsearch reads a missing index as `_all`.
        c.targets.push(Target { index: IndexName::everything(), privileges: route.index, source: "implicit:_all".into() });
    }
    if let Some((kind, name)) = route.uses {
        let from_path = params.iter().find(|(n, _)| *n == name).map(|(_, v)| &**v);
        let from_query = target.param(name).map_err(Refusal::bad)?;
        if let Some(id) = from_path.or(from_query) {
            if route.api == "clear_scroll" {
                // `DELETE /_search/scroll/{scroll_id}` takes a comma list (ids hold no comma).
                id.split(',').for_each(|one| add_continuation(&mut c, kind, one));
            } else {
                add_continuation(&mut c, kind, id);
            }
        }
    }
    if target.param("source").map_err(Refusal::bad)?.is_some() && route.body != BodyKind::None {
        return Err(Refusal::bad("request bodies in the [source] query parameter are not accepted by Sluice; send a body"));
    }
    if route.api == "security.change_password" && !params.iter().any(|(n, _)| *n == "username" || *n == "name") {
        // The cluster would change the password of the user it sees: Sluice's own.
        return Err(Refusal::bad("changing one's own password through Sluice would change Sluice's service account password; name the user in the path"));
    }
    c.body = plan(route.body, head)?;
    if route.api == "snapshot.restore" && c.body == BodyPlan::None {
        // No body: every index in the snapshot.
        body::inspect(&mut c, route.body, b"", now_ms)?;
    }
    Ok(c)
}

/// A path parameter's name and its decoded value (borrowed when it holds no escape).
type Param<'a> = (&'static str, Cow<'a, str>);

/// Raw path segments matched against the route template: parameter name -> decoded value.
fn path_params<'a>(route: &RouteDef, segs: &[&'a str]) -> Result<Vec<Param<'a>>, Refusal> {
    let mut out = Vec::new();
    for (tpl, raw) in routes::template_segments(route.path).zip(segs) {
        if let Some(name) = tpl.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            out.push((name, path::decode(raw, false).map_err(Refusal::bad)?));
        }
    }
    Ok(out)
}

fn query_targets(c: &mut Classification, t: &path::Target<'_>, params: &[Param<'_>], now_ms: i64) -> Result<(), Refusal> {
    let route = c.route;
    let path_index = params.iter().find(|(n, _)| *n == "index").map(|(_, v)| &**v);
    let query_index = t.param("index").map_err(Refusal::bad)?;
    match (path_index, query_index) {
        (Some(p), Some(q)) if p != q => {
            return Err(Refusal::bad("the [index] query parameter disagrees with the index in the path"));
        }
        (None, Some(q)) => {
            // Handlers read `index` from one parameter map: on a route without `{index}` the
            // query string supplies it, documented or not.
            let privs: &'static [IndexPriv] = if !route.index.is_empty() { route.index } else { &[IndexPriv::ViewIndexMetadata] };
            if !is_ndjson(route.body) {
                add_targets(c, q, Arity::Many, privs, "query:index", now_ms)?;
            }
        }
        _ => {}
    }
    if is_ndjson(route.body) {
        c.default_index = path_index.or(query_index).map(str::to_owned);
    }
    for name in route.query.iter().filter(|n| **n != "index") {
        if let Some(v) = t.param(name).map_err(Refusal::bad)? {
            add_targets(c, v, Arity::Many, route.index, format!("query:{name}"), now_ms)?;
        }
    }
    if t.param("scroll").map_err(Refusal::bad)?.is_some() && SCROLLABLE.contains(&route.api) {
        c.creates = Some(ContKind::Scroll);
    }
    Ok(())
}

fn is_ndjson(k: BodyKind) -> bool {
    matches!(k, BodyKind::Bulk | BodyKind::Msearch | BodyKind::MsearchTemplate)
}

fn plan(kind: BodyKind, head: &Head<'_>) -> Result<BodyPlan, Refusal> {
    if kind == BodyKind::None || !head.has_body {
        return Ok(BodyPlan::None);
    }
    if let Some(ct) = head.content_type {
        let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let ok = matches!(
            mime.as_str(),
            "application/json" | "application/x-ndjson" | "text/plain" | "application/vnd.elasticsearch+json"
                | "application/vnd.elasticsearch+x-ndjson"
        );
        if !ok {
            return Err(Refusal::bad(format!(
                "Sluice inspects this request's body and only decodes JSON and NDJSON, not [{mime}]"
            )));
        }
    }
    if let Some(enc) = head.content_encoding {
        let enc = enc.trim().to_ascii_lowercase();
        if !matches!(enc.as_str(), "identity" | "gzip" | "deflate" | "x-gzip") {
            return Err(Refusal::bad(format!("Sluice cannot decode a body with Content-Encoding [{enc}]")));
        }
    }
    Ok(if is_ndjson(kind) { BodyPlan::Stream(kind) } else { BodyPlan::Buffer(kind) })
}

/// Parses an index expression and adds each name as a target.
pub fn add_targets(
    c: &mut Classification,
    expr: &str,
    arity: Arity,
    privs: &'static [IndexPriv],
    source: impl Into<std::borrow::Cow<'static, str>>,
    now_ms: i64,
) -> Result<(), Refusal> {
    if privs.is_empty() {
        // A default for items (bulk) or a filter of a cluster-level view: checked elsewhere.
        return Ok(());
    }
    let names = expr::parse(expr, arity, now_ms).map_err(|e| Refusal::bad(format!("invalid index expression: {e}")))?;
    let source = source.into();
    for index in names {
        c.targets.push(Target { index, privileges: privs, source: source.clone() });
    }
    Ok(())
}

pub fn add_continuation(c: &mut Classification, kind: ContKind, id: &str) {
    c.uses.push(Continuation { kind, id: id.to_string() });
}

/// Adds the targets a buffered body carries. Bodies must be JSON (or NDJSON for the item APIs,
/// when a whole body is at hand, as in `sluice classify`).
pub fn inspect_body(c: &mut Classification, body: &[u8], now_ms: i64) -> Result<(), Refusal> {
    let kind = match c.body {
        BodyPlan::None => return Ok(()),
        BodyPlan::Buffer(k) | BodyPlan::Stream(k) => k,
    };
    match kind {
        BodyKind::Bulk => ndjson::classify_bulk(c, body, now_ms),
        BodyKind::Msearch | BodyKind::MsearchTemplate => ndjson::classify_msearch(c, body, kind, now_ms),
        _ => body::inspect(c, kind, body, now_ms),
    }
}

/// One `sluice classify` input line: `{"method":…,"path":…,"headers":{…},"body":…}`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineRequest {
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
}

/// Classifies one JSON line and answers with one JSON line: the API, cluster privilege and
/// targets, or the refusal and its reason.
pub fn classify_line(line: &str, now_ms: i64) -> String {
    let req: LineRequest = match serde_json::from_str(line) {
        Ok(r) => r,
        Err(e) => return serde_json::json!({ "refused": { "status": 400, "type": "parse_exception", "reason": format!("bad input line: {e}") } }).to_string(),
    };
    let header = |name: &str| req.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let head = Head {
        method: &req.method,
        target: &req.path,
        content_type: header("content-type"),
        content_encoding: header("content-encoding"),
        has_body: req.body.as_deref().is_some_and(|b| !b.is_empty()),
    };
    let result = classify(&head, now_ms).and_then(|mut c| {
        if let Some(b) = &req.body {
            if head.content_encoding.is_some_and(|e| !e.eq_ignore_ascii_case("identity")) {
                return Err(Refusal::bad("sluice classify takes bodies as plain text; leave out Content-Encoding"));
            }
            inspect_body(&mut c, b.as_bytes(), now_ms)?;
        }
        Ok(c)
    });
    match result {
        Ok(c) => serde_json::to_string(&c).unwrap_or_default(),
        Err(r) => serde_json::json!({ "refused": { "status": r.status, "type": r.kind, "reason": r.reason } }).to_string(),
    }
}
