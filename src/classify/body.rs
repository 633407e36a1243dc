//! Targets carried in JSON bodies: the route's field paths from the specifications, the query
//! DSL constructs that read other indices (terms lookup, more_like_this, indexed shapes,
//! percolate, pinned docs, lookup runtime fields, knn lookups, indices_boost), alias actions,
//! search templates, SQL / ES|QL / PPL text and continuation ids.

use serde_json::{Map, Value};

use super::routes::{BodyKind, ContKind};
use super::{add_continuation, add_targets, query_lang, Arity, Classification, Refusal};
use crate::privilege::IndexPriv;

const READ: &[IndexPriv] = &[IndexPriv::Read];

pub fn parse_json(body: &[u8]) -> Result<Value, Refusal> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(body).map_err(not_json)
}

fn not_json(e: impl std::fmt::Display) -> Refusal {
    Refusal::parse(format!("request body is not valid JSON: {e}"))
}

pub fn inspect(c: &mut Classification, kind: BodyKind, body: &[u8], now_ms: i64) -> Result<(), Refusal> {
    if c.api == "security.get_token" && parse_json(body)?.get("grant_type").and_then(Value::as_str) == Some("client_credentials") {
        // A token for the user the cluster sees, which is Sluice's service account.
        return Err(Refusal::bad("a client_credentials token through Sluice would be a token for Sluice's service account"));
    }
    // APIs with a rule of their own over the whole body (beside their route's fields).
    let rule: Option<fn(&mut Classification, &Value)> = match c.api {
        "snapshot.restore" => Some(restore),
        "reindex" => Some(reindex_script),
        _ => None,
    };
    if kind == BodyKind::Json && rule.is_none() {
        return inspect_json(c, body, now_ms);
    }
    // A restore without a body restores every index: its rule reads an empty body as `{}`.
    let v = if rule.is_some() && body.iter().all(u8::is_ascii_whitespace) { Value::Object(Map::new()) } else { parse_json(body)? };
    if !v.is_object() {
        return Err(Refusal::parse("request body must be a JSON object"));
    }
    match kind {
        BodyKind::Json => {
            field_targets(c, &v, now_ms)?;
            if c.route.dsl {
                dsl(c, &v, "", now_ms)?;
            }
        }
        BodyKind::Template => template(c, &v, now_ms)?,
        BodyKind::Aliases => aliases(c, &v, now_ms)?,
        BodyKind::Sql | BodyKind::Esql | BodyKind::Ppl => query_text(c, kind, &v, now_ms)?,
        BodyKind::Continuation => continuation(c, &v)?,
        BodyKind::None | BodyKind::Bulk | BodyKind::Msearch | BodyKind::MsearchTemplate => {}
    }
    if let Some(rule) = rule {
        rule(c, &v);
    }
    Ok(())
}

/// The targets of the route's body fields (`dest.index`, `indices`, …) in `v`.
fn field_targets(c: &mut Classification, v: &Value, now_ms: i64) -> Result<(), Refusal> {
    for f in c.route.fields {
        for (expr, at) in extract(v, f.path) {
            add_targets(c, &expr, Arity::Many, f.privs, format!("body:{at}"), now_ms)?;
        }
    }
    Ok(())
}

/// Every index, as a target with `privs`, for a reason given as its source.
fn everything(c: &mut Classification, privs: &'static [IndexPriv], source: &'static str) {
    c.targets.push(super::Target { index: super::IndexName::everything(), privileges: privs, source: source.into() });
}

/// A snapshot restore creates (or overwrites) the indices it restores: those in `indices`;
/// every index in the snapshot when `indices` names none; and, when `rename_pattern` renames
/// them, names that cannot be known before the restore, so every index counts then too.
fn restore(c: &mut Classification, v: &Value) {
    let privs = c.route.fields.first().map_or(&[][..], |f| f.privs);
    if !c.targets.iter().any(|t| t.source.starts_with("body:indices")) {
        everything(c, privs, "body:indices (none named: every index in the snapshot)");
    }
    if v.get("rename_pattern").is_some_and(|p| !p.is_null()) {
        everything(c, privs, "body:rename_pattern (renamed: any name)");
    }
}

/// A reindex script may send each document to any index (`ctx._index = …`, from a string it
/// builds or a stored script): with a script, the reindex writes to every index as far as
/// Sluice can tell.
fn reindex_script(c: &mut Classification, v: &Value) {
    if v.get("script").is_some_and(|s| !s.is_null()) {
        everything(c, &[IndexPriv::Write], "body:script (may set ctx._index: any index)");
    }
}

/// A JSON body (search and friends) read without building its whole tree: only the subtrees
/// that can name indices (route field roots at the top, DSL constructs anywhere) are kept,
/// then handled exactly as a full walk would.
fn inspect_json(c: &mut Classification, body: &[u8], now_ms: i64) -> Result<(), Refusal> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        None => return Ok(()),
        Some(b'{') => {}
        Some(_) => {
            parse_json(body)?;
            return Err(Refusal::parse("request body must be a JSON object"));
        }
    }
    let dsl_on = c.route.dsl;
    if !may_name_targets(body, c.route.fields, dsl_on) {
        return validate_json(body);
    }
    let roots: Vec<&'static str> = c.route.fields.iter().filter_map(|f| field_root(f.path)).collect();
    let mut hits = Vec::new();
    {
        let mut de = serde_json::Deserializer::from_slice(body);
        let root = At::Root("");
        let w = walker::Walker { at: &root, top: true, roots: &roots, dsl: dsl_on, hits: &mut hits };
        serde::de::DeserializeSeed::deserialize(w, &mut de).and_then(|()| de.end()).map_err(not_json)?;
    }
    let partial: Map<String, Value> = hits.iter().filter(|h| h.top).map(|h| (h.key.clone(), h.value.clone())).collect();
    if !partial.is_empty() {
        field_targets(c, &Value::Object(partial), now_ms)?;
    }
    if dsl_on {
        for h in &hits {
            if CONSTRUCTS.contains(&h.key.as_str()) {
                construct(c, &h.key, &h.value, &h.at, now_ms)?;
            }
            walk_dsl(c, &h.value, &At::Root(&h.at), now_ms)?;
        }
        // A search over a point in time reads the indices the point in time was opened on
        // (its binding says whose and by which grants), and Elasticsearch refuses one that also
        // names indices: a missing index is not `_all` here, and nothing is narrowed into the path.
        if hits.iter().any(|h| h.top && h.key == "pit" && names_point_in_time(&h.value)) {
            c.targets.retain(|t| t.source != "implicit:_all");
        }
    }
    Ok(())
}

/// Whether a search body's top-level `pit` value names a point in time (an object with a
/// string `id`): the search then reads the point in time's indices.
pub fn names_point_in_time(pit: &Value) -> bool {
    pit.get("id").is_some_and(Value::is_string)
}

/// The top-level key a route field path starts with (`source` of `source.index`).
pub(super) fn field_root(path: &'static str) -> Option<&'static str> {
    path.split(['.', '[']).next()
}

/// A body that names no index still has to be one valid JSON document in UTF-8: it is parsed
/// without building anything.
fn validate_json(body: &[u8]) -> Result<(), Refusal> {
    std::str::from_utf8(body).map_err(not_json)?;
    if valid::is_json(body) {
        return Ok(());
    }
    // serde_json says where and why (it refuses whatever `is_json` refuses).
    match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        Err(e) => Err(not_json(e)),
        Ok(_) => Err(not_json("unexpected structure")),
    }
}

mod prefilter;
mod valid;
mod walker;

use prefilter::may_name_targets;

/// Values at a spec field path (`source.index`, `docs[]._index`, `runtime_mappings.target_index`),
/// as index expressions with the concrete path they were found at. A missing key under a map
/// descends one level into every value (spec paths flatten `map<name, object>`).
pub fn extract(v: &Value, path: &str) -> Vec<(String, String)> {
    let segs: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    walk_path(v, &segs, String::new(), &mut out, true);
    out
}

fn walk_path(v: &Value, segs: &[&str], at: String, out: &mut Vec<(String, String)>, may_descend: bool) {
    let Some((seg, rest)) = segs.split_first() else {
        leaf(v, at, out);
        return;
    };
    let key = seg.trim_end_matches("[]");
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_path(item, segs, format!("{at}[{i}]"), out, may_descend);
            }
        }
        Value::Object(m) => match m.get(key) {
            Some(child) => walk_path(child, rest, join(&at, key), out, true),
            None if may_descend => {
                for (k, child) in m {
                    if child.is_object() {
                        walk_path(child, segs, join(&at, k), out, false);
                    }
                }
            }
            None => {}
        },
        _ => {}
    }
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() { key.to_string() } else { format!("{at}.{key}") }
}

/// A field's value as names: a string (an expression), strings in an array, or map keys.
fn leaf(v: &Value, at: String, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => out.push((s.clone(), at)),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => out.push((s.clone(), format!("{at}[{i}]"))),
                    Value::Object(m) => out.extend(m.keys().map(|k| (k.clone(), format!("{at}[{i}]")))),
                    _ => {}
                }
            }
        }
        Value::Object(m) => out.extend(m.keys().map(|k| (k.clone(), at.clone()))),
        _ => {}
    }
}

/// Walks a query DSL tree (a whole search body) for constructs that read other indices.
pub fn dsl(c: &mut Classification, v: &Value, at: &str, now_ms: i64) -> Result<(), Refusal> {
    walk_dsl(c, v, &At::Root(at), now_ms)
}

/// Where a value sits in a body, rendered only when a target is found there.
enum At<'a> {
    Root(&'a str),
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    fn render(&self) -> String {
        match self {
            At::Root(r) => r.to_string(),
            At::Key(p, k) => join(&p.render(), k),
            At::Index(p, i) => format!("{}[{i}]", p.render()),
        }
    }
}

/// Keys whose values `construct` looks into; other subtrees are only walked.
const CONSTRUCTS: &[&str] = &["terms", "more_like_this", "geo_shape", "shape", "percolate", "pinned", "runtime_mappings", "lookup", "indices_boost", "pit"];

fn walk_dsl(c: &mut Classification, v: &Value, at: &At<'_>, now_ms: i64) -> Result<(), Refusal> {
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if matches!(item, Value::Array(_) | Value::Object(_)) {
                    walk_dsl(c, item, &At::Index(at, i), now_ms)?;
                }
            }
        }
        Value::Object(m) => {
            for (k, child) in m {
                if !matches!(child, Value::Array(_) | Value::Object(_)) {
                    continue;
                }
                let here = At::Key(at, k);
                if CONSTRUCTS.contains(&k.as_str()) {
                    construct(c, k, child, &here.render(), now_ms)?;
                }
                walk_dsl(c, child, &here, now_ms)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn construct(c: &mut Classification, key: &str, v: &Value, at: &str, now_ms: i64) -> Result<(), Refusal> {
    let mut found: Vec<(String, String)> = Vec::new();
    let str_at = |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
    match (key, v) {
        // terms lookup: {"terms": {"field": {"index": "...", "id": "...", "path": "..."}}}
        ("terms", Value::Object(m)) => {
            for (field, spec) in m {
                if let Some(i) = spec.as_object().and_then(|s| str_at(s, "index")) {
                    found.push((i, format!("{at}.{field}.index")));
                }
            }
        }
        ("more_like_this", Value::Object(m)) => {
            for side in ["like", "unlike"] {
                let items: Vec<&Value> = match m.get(side) {
                    Some(Value::Array(a)) => a.iter().collect(),
                    Some(o @ Value::Object(_)) => vec![o],
                    _ => vec![],
                };
                for item in items {
                    if let Some(i) = item.as_object().and_then(|o| str_at(o, "_index")) {
                        found.push((i, format!("{at}.{side}._index")));
                    }
                }
            }
        }
        ("geo_shape" | "shape", Value::Object(m)) => {
            for (field, spec) in m {
                if let Some(shape) = spec.get("indexed_shape").and_then(Value::as_object) {
                    // Elasticsearch reads indexed shapes from `shapes` unless told otherwise.
                    let i = str_at(shape, "index").unwrap_or_else(|| "shapes".to_string());
                    found.push((i, format!("{at}.{field}.indexed_shape.index")));
                }
            }
        }
        ("percolate", Value::Object(m)) => {
            if let Some(i) = str_at(m, "index") {
                found.push((i, format!("{at}.index")));
            }
        }
        ("pinned", Value::Object(m)) => {
            if let Some(Value::Array(docs)) = m.get("docs") {
                for d in docs.iter().filter_map(Value::as_object) {
                    if let Some(i) = str_at(d, "_index").or_else(|| str_at(d, "index")) {
                        found.push((i, format!("{at}.docs._index")));
                    }
                }
            }
        }
        ("runtime_mappings", Value::Object(m)) => {
            for (field, spec) in m {
                if let Some(i) = spec.as_object().and_then(|s| str_at(s, "target_index")) {
                    found.push((i, format!("{at}.{field}.target_index")));
                }
            }
        }
        ("lookup", Value::Object(m)) => {
            if let Some(i) = str_at(m, "index") {
                found.push((i, format!("{at}.index")));
            }
        }
        ("indices_boost", _) => leaf(v, at.to_string(), &mut found),
        ("pit", Value::Object(m)) => {
            if let Some(id) = str_at(m, "id") {
                add_continuation(c, ContKind::Pit, &id);
            }
        }
        _ => {}
    }
    for (expr, where_) in found {
        add_targets(c, &expr, Arity::Many, READ, format!("body:{where_}"), now_ms)?;
    }
    Ok(())
}

/// Search templates: an inline `source` object is walked like a search body; a `source` string
/// (mustache) is refused when it mentions a construct that reads other indices; a stored
/// template (`id`) cannot be inspected and is refused.
fn template(c: &mut Classification, v: &Value, now_ms: i64) -> Result<(), Refusal> {
    if v.get("id").is_some() {
        return Err(Refusal::bad("stored search templates cannot be inspected by Sluice; send the template source inline"));
    }
    // What the template renders to is what the cluster searches with: render it as the
    // cluster would (or refuse), then read it as a search body.
    let source = match v.get("source") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::String(s)) => s.clone(),
        Some(o @ Value::Object(_)) => o.to_string(),
        Some(_) => return Err(Refusal::parse("[source] must be a string or an object")),
    };
    let empty = Value::Object(Map::new());
    let params = v.get("params").filter(|p| !p.is_null()).unwrap_or(&empty);
    let rendered = if source.contains("{{") {
        super::mustache::render(&source, params).map_err(|why| Refusal::bad(format!("Sluice cannot render this search template to find its indices: {why}")))?
    } else {
        source
    };
    let body: Value = serde_json::from_str(&rendered).map_err(|e| Refusal::parse(format!("the rendered search template is not valid JSON: {e}")))?;
    if !body.is_object() {
        return Err(Refusal::parse("the rendered search template must be a JSON object"));
    }
    dsl(c, &body, "source", now_ms)
}

/// `POST /_aliases`: every action's indices and aliases; `remove_index` deletes indices.
fn aliases(c: &mut Classification, v: &Value, now_ms: i64) -> Result<(), Refusal> {
    let Some(actions) = v.get("actions").and_then(Value::as_array) else {
        return Err(Refusal::parse("[actions] is required"));
    };
    for (i, action) in actions.iter().enumerate() {
        let Some((op, spec)) = action.as_object().and_then(|m| m.iter().next()) else {
            return Err(Refusal::parse(format!("action [{i}] must be an object with one operation")));
        };
        let privs: &'static [IndexPriv] = match op.as_str() {
            "add" | "remove" => &[IndexPriv::Manage],
            "remove_index" => &[IndexPriv::DeleteIndex],
            other => return Err(Refusal::parse(format!("unknown alias action [{other}]"))),
        };
        for field in ["index", "indices", "alias", "aliases"] {
            for (expr, at) in extract(spec, field) {
                add_targets(c, &expr, Arity::Many, privs, format!("body:actions[{i}].{op}.{at}"), now_ms)?;
            }
        }
        if let Some(filter) = spec.get("filter") {
            dsl(c, filter, &format!("actions[{i}].{op}.filter"), now_ms)?;
        }
    }
    Ok(())
}

fn query_text(c: &mut Classification, kind: BodyKind, v: &Value, now_ms: i64) -> Result<(), Refusal> {
    if let Some(cursor) = v.get("cursor").and_then(Value::as_str) {
        add_continuation(c, ContKind::Sql, cursor);
    }
    field_targets(c, v, now_ms)?;
    if let Some(filter) = v.get("filter") {
        dsl(c, filter, "filter", now_ms)?;
    }
    let Some(q) = v.get("query").and_then(Value::as_str) else {
        if c.uses.is_empty() {
            return Err(Refusal::parse("[query] is required"));
        }
        return Ok(());
    };
    let found = match kind {
        BodyKind::Esql => query_lang::esql(q),
        BodyKind::Ppl => query_lang::ppl(q),
        _ => query_lang::sql(q),
    }
    .map_err(|e| Refusal::bad(format!("cannot determine the indices of the query: {e}")))?;
    for t in found {
        let privs: &'static [IndexPriv] = match t.privilege {
            IndexPriv::ViewIndexMetadata => &[IndexPriv::ViewIndexMetadata],
            _ => READ,
        };
        add_targets(c, &t.expr, Arity::Many, privs, "body:query", now_ms)?;
    }
    Ok(())
}

fn continuation(c: &mut Classification, v: &Value) -> Result<(), Refusal> {
    let Some((kind, field)) = c.route.uses else { return Ok(()) };
    match v.get(field) {
        Some(Value::String(id)) => add_continuation(c, kind, id),
        Some(Value::Array(ids)) => {
            for id in ids {
                let id = id.as_str().ok_or_else(|| Refusal::parse(format!("[{field}] must hold strings")))?;
                add_continuation(c, kind, id);
            }
        }
        Some(_) => return Err(Refusal::parse(format!("[{field}] must be a string or a list of strings"))),
        None => {}
    }
    Ok(())
}

#[cfg(test)]
mod walker_tests {
    use super::*;
    use crate::classify::{classify, Head};

    /// The full-tree walk the streaming walker replaces, kept as the reference.
    fn reference(c: &mut Classification, body: &[u8]) {
        try_reference(c, body).unwrap();
    }

    fn try_reference(c: &mut Classification, body: &[u8]) -> Result<(), Refusal> {
        let v = parse_json(body)?;
        field_targets(c, &v, 0)?;
        dsl(c, &v, "", 0)
    }

    fn search() -> Classification {
        let head = Head { method: "POST", target: "/logs/_search", content_type: Some("application/json"), content_encoding: None, has_body: true };
        classify(&head, 0).unwrap()
    }

    fn targets(c: &Classification) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = c.targets.iter().map(|t| (t.index.render(), t.source.to_string())).collect();
        v.sort();
        v
    }

    #[test]
    fn escaped_keys_are_read_as_the_server_reads_them() {
        let mut c = search();
        inspect_json(&mut c, br#"{"query":{"terms":{"u":{"\u0069ndex":"users","id":"1","path":"p"}}}}"#, 0).unwrap();
        assert!(targets(&c).iter().any(|(i, _)| i == "users"), "{:?}", targets(&c));
    }

    #[test]
    fn bodies_naming_no_index_must_still_be_json() {
        for bad in [&br#"{"query":{"match_all":{}}"#[..], br#"{"q":"\xff"}"#, b"{\"q\":\"\xff\"}", br#"{} x"#, br#"{"a":tru}"#, br#"{"a":1,}"#] {
            assert!(inspect_json(&mut search(), bad, 0).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        inspect_json(&mut search(), br#"{"query":{"match":{"m":"a \"quoted\" word"}},"aggs":{"t":{"terms":{"field":"f"}}}}"#, 0).unwrap();
    }

    proptest::proptest! {
        /// Random bodies over the keys that matter: the quick check never skips a body whose full
        /// walk finds a target, and the walker finds at least what the full walk finds.
        #[test]
        fn the_quick_check_never_hides_a_target(v in body(), escape in proptest::bool::ANY) {
            let mut text = serde_json::to_string(&v).unwrap();
            if escape {
                text = text.replace("\"index\"", "\"\\u0069ndex\"");
            }
            let mut fast = search();
            let mut full = fast.clone();
            let (quick, thorough) = (inspect_json(&mut fast, text.as_bytes(), 0), try_reference(&mut full, text.as_bytes()));
            // What the full walk refuses, the walker refuses too; it may refuse more (never less).
            proptest::prop_assert!(thorough.is_ok() || quick.is_err(), "{}", text);
            if quick.is_err() || thorough.is_err() {
                return Ok(());
            }
            if !may_name_targets(text.as_bytes(), &[], true) {
                proptest::prop_assert!(full.targets.len() == search().targets.len() && full.uses.is_empty(), "{}", text);
            }
            // The walker may read more than the full walk (a construct holding a bare value), never less.
            let found = targets(&fast);
            proptest::prop_assert!(targets(&full).iter().all(|t| found.contains(t)), "{} {:?}", text, found);
            proptest::prop_assert!(full.uses.iter().all(|u| fast.uses.contains(u)), "{}", text);
        }
    }

    fn body() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        const KEYS: &[&str] = &["query", "terms", "index", "_index", "id", "path", "more_like_this", "like", "pit", "lookup",
            "runtime_mappings", "target_index", "indices_boost", "geo_shape", "indexed_shape", "percolate", "pinned", "docs", "bool", "f"];
        let leaf = prop_oneof![
            proptest::sample::select(vec!["users", "logs-a", "x"]).prop_map(|s| Value::String(s.into())),
            any::<u8>().prop_map(Value::from),
            Just(Value::Null),
        ];
        leaf.prop_recursive(5, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
            ]
        })
        .prop_map(|v| match v {
            Value::Object(_) => v,
            other => serde_json::json!({ "query": other }),
        })
    }

    #[test]
    fn the_walker_finds_what_the_full_walk_finds() {
        let bodies = [
            r#"{"query":{"bool":{"filter":[{"terms":{"user":{"index":"users","id":"1","path":"p"}}},{"match":{"a":"b"}}]}},"aggs":{"s":{"terms":{"field":"status"}}}}"#,
            r#"{"indices_boost":[{"logs-a":1.5},{"logs-b":2}],"runtime_mappings":{"f":{"type":"lookup","target_index":"people"}}}"#,
            r#"{"query":{"more_like_this":{"like":[{"_index":"imdb","_id":"1"}]}},"knn":{"query_vector_builder":{"lookup":{"index":"vectors"}}}}"#,
            r#"{"query":{"nested":{"query":{"geo_shape":{"loc":{"indexed_shape":{"index":"shapes2","id":"x"}}}}}},"pit":{"id":"abc"}}"#,
            r#"{"query":{"match_all":{}},"size":10,"sort":[{"@timestamp":"desc"}],"_source":["a","b"]}"#,
            r#"{"query":{"percolate":{"field":"q","index":"docs","id":"2"}},"retriever":{"standard":{"query":{"pinned":{"docs":[{"_index":"p1","_id":"1"}],"organic":{"match_all":{}}}}}}}"#,
        ];
        for b in bodies {
            let head = Head { method: "POST", target: "/logs/_search", content_type: Some("application/json"), content_encoding: None, has_body: true };
            let mut fast = classify(&head, 0).unwrap();
            let mut full = fast.clone();
            inspect_json(&mut fast, b.as_bytes(), 0).unwrap();
            reference(&mut full, b.as_bytes());
            let key = |c: &Classification| {
                let mut v: Vec<(String, String)> = c.targets.iter().map(|t| (t.index.render(), t.source.to_string())).collect();
                v.sort();
                v
            };
            assert_eq!(key(&fast), key(&full), "{b}");
            assert_eq!(fast.uses, full.uses, "{b}");
        }
    }
}
