//! NDJSON bodies (_bulk, _msearch, _msearch/template): an incremental line scanner that works
//! on chunks as they stream (a line may span chunks, a chunk may hold many lines) with a
//! maximum line length, and the parsers that turn action and header lines into targets.

use bytes::{Bytes, BytesMut};
use serde_json::Value;

use super::routes::BodyKind;
use super::{body, Arity, Classification, IndexName, Refusal};
use crate::privilege::IndexPriv;

/// Why scanning stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("an NDJSON line is longer than the limit of [{0}] bytes")]
    LineTooLong(usize),
}

/// Splits a byte stream into lines (each with its `\n`, except possibly the last).
pub struct LineScanner {
    partial: BytesMut,
    max_line: usize,
}

impl LineScanner {
    pub fn new(max_line: usize) -> Self {
        Self { partial: BytesMut::new(), max_line }
    }

    /// Bytes held for a line not yet complete.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// Feeds a chunk; complete lines are handed to `on_line` in order. Lines that lie wholly
    /// inside the chunk are zero-copy slices of it.
    pub fn feed<E>(&mut self, chunk: Bytes, mut on_line: impl FnMut(Bytes) -> Result<(), E>) -> Result<(), Result<ScanError, E>> {
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', &chunk) {
            let line = if self.partial.is_empty() {
                chunk.slice(start..=nl)
            } else {
                self.partial.extend_from_slice(&chunk[start..=nl]);
                self.partial.split().freeze()
            };
            if line.len() > self.max_line.saturating_add(1) {
                return Err(Ok(ScanError::LineTooLong(self.max_line)));
            }
            on_line(line).map_err(Err)?;
            start = nl + 1;
        }
        if start < chunk.len() {
            if self.partial.len() + (chunk.len() - start) > self.max_line {
                return Err(Ok(ScanError::LineTooLong(self.max_line)));
            }
            self.partial.extend_from_slice(&chunk[start..]);
        }
        Ok(())
    }

    /// The last line when the body does not end with a newline.
    pub fn finish(&mut self) -> Option<Bytes> {
        (!self.partial.is_empty()).then(|| self.partial.split().freeze())
    }
}

/// Whether a line holds nothing but whitespace (such lines are skipped, as the server does).
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// A bulk operation and the privilege it needs on its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkOp {
    Index,
    Create,
    Update,
    Delete,
}

impl BulkOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BulkOp::Index => "index",
            BulkOp::Create => "create",
            BulkOp::Update => "update",
            BulkOp::Delete => "delete",
        }
    }
    /// index needs index; create needs create_doc (which create, index and write imply);
    /// update needs index; delete needs delete.
    pub fn privilege(self) -> IndexPriv {
        self.privileges()[0]
    }
    pub fn privileges(self) -> &'static [IndexPriv] {
        match self {
            BulkOp::Index | BulkOp::Update => &[IndexPriv::Index],
            BulkOp::Create => &[IndexPriv::CreateDoc],
            BulkOp::Delete => &[IndexPriv::Delete],
        }
    }
    /// Whether a source line follows the action line.
    pub fn has_source(self) -> bool {
        self != BulkOp::Delete
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkAction {
    pub op: BulkOp,
    pub index: IndexName,
    pub id: Option<String>,
}

/// The metadata of a bulk action, borrowed from the line where it can be.
#[derive(serde::Deserialize)]
struct Meta<'a> {
    #[serde(rename = "_index", borrow, default)]
    index: Option<IndexField<'a>>,
    #[serde(rename = "_id", borrow, default)]
    id: Option<IdField<'a>>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum IndexField<'a> {
    Str(#[serde(borrow)] std::borrow::Cow<'a, str>),
    Other(serde::de::IgnoredAny),
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum IdField<'a> {
    Str(#[serde(borrow)] std::borrow::Cow<'a, str>),
    Num(serde_json::Number),
    Other(serde::de::IgnoredAny),
}

/// Parses a bulk action line. `default` is the path index (or `?index=`).
pub fn bulk_action(line: &[u8], default: Option<&str>, now_ms: i64) -> Result<BulkAction, Refusal> {
    // Metadata is read straight from the line (no intermediate tree); unknown fields
    // (routing, version, pipeline, …) are skipped.
    let m: std::collections::BTreeMap<std::borrow::Cow<'_, str>, Meta<'_>> =
        serde_json::from_slice(line).map_err(|e| Refusal::parse(format!("malformed bulk action line: {e}")))?;
    if m.len() != 1 {
        return Err(Refusal::parse("a bulk action line must hold exactly one operation"));
    }
    let Some((op, meta)) = m.into_iter().next() else { return Err(Refusal::parse("empty bulk action line")) };
    let op = match op.as_ref() {
        "index" => BulkOp::Index,
        "create" => BulkOp::Create,
        "update" => BulkOp::Update,
        "delete" => BulkOp::Delete,
        other => return Err(Refusal::parse(format!("unknown bulk operation [{other}]"))),
    };
    let name = match &meta.index {
        Some(IndexField::Str(s)) => s.as_ref(),
        Some(IndexField::Other(_)) => return Err(Refusal::parse("[_index] must be a string")),
        None => default.ok_or_else(|| Refusal::bad("a bulk item names no index and the request has no default index"))?,
    };
    let mut names = super::expr::parse(name, Arity::One, now_ms).map_err(|e| Refusal::bad(format!("invalid bulk item index: {e}")))?;
    let index = names.pop().ok_or_else(|| Refusal::bad("a bulk item names no index"))?;
    let id = match meta.id {
        Some(IdField::Str(s)) => Some(s.into_owned()),
        Some(IdField::Num(n)) => Some(n.to_string()),
        _ => None,
    };
    Ok(BulkAction { op, index, id })
}

/// Parses an msearch header line into the names it searches (the default, or everything), and
/// whether it named none at all (no `index` and no default: everything, unless the search is
/// over a point in time, which names its own indices).
pub fn msearch_header(line: &[u8], default: Option<&str>, now_ms: i64) -> Result<(Vec<IndexName>, bool), Refusal> {
    let v: Value = if is_blank(line) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(line).map_err(|e| Refusal::parse(format!("malformed msearch header line: {e}")))?
    };
    let m = v.as_object().ok_or_else(|| Refusal::parse("an msearch header must be a JSON object"))?;
    let expr = match m.get("index").or_else(|| m.get("indices")) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => {
            let parts: Option<Vec<&str>> = a.iter().map(Value::as_str).collect();
            parts.ok_or_else(|| Refusal::parse("[index] must hold strings"))?.join(",")
        }
        Some(_) => return Err(Refusal::parse("[index] must be a string or a list of strings")),
        None => default.unwrap_or("").to_string(),
    };
    let implicit = default.is_none() && m.get("index").or_else(|| m.get("indices")).is_none();
    let names = super::expr::parse(&expr, Arity::Many, now_ms).map_err(|e| Refusal::bad(format!("invalid msearch index expression: {e}")))?;
    Ok((names, implicit))
}

/// Whole-body bulk classification (when the whole body is at hand): every item's target.
pub fn classify_bulk(c: &mut Classification, body: &[u8], now_ms: i64) -> Result<(), Refusal> {
    let default = c.default_index.clone();
    let mut lines = body.split(|b| *b == b'\n').enumerate().filter(|(_, l)| !is_blank(l));
    let mut item = 0;
    while let Some((_, line)) = lines.next() {
        let a = bulk_action(line, default.as_deref(), now_ms)?;
        if a.op.has_source() && lines.next().is_none() {
            return Err(Refusal::parse(format!("bulk item [{item}] has no source line")));
        }
        c.targets.push(super::Target { index: a.index, privileges: a.op.privileges(), source: format!("item:{item}").into() });
        item += 1;
    }
    Ok(())
}

/// Whole-body msearch classification: each header's targets, and each body's DSL lookups.
pub fn classify_msearch(c: &mut Classification, body: &[u8], kind: BodyKind, now_ms: i64) -> Result<(), Refusal> {
    let default = c.default_index.clone();
    let lines: Vec<&[u8]> = body.split(|b| *b == b'\n').collect();
    let lines: Vec<&[u8]> = lines.into_iter().rev().skip_while(|l| is_blank(l)).collect::<Vec<_>>().into_iter().rev().collect();
    if lines.len() % 2 != 0 {
        return Err(Refusal::parse("an msearch body must alternate header and body lines"));
    }
    for (item, pair) in lines.chunks(2).enumerate() {
        let (names, implicit) = msearch_header(pair[0], default.as_deref(), now_ms)?;
        let over_pit = msearch_body(c, pair[1], kind, item, now_ms)?;
        if implicit && over_pit {
            continue;
        }
        for index in names {
            c.targets.push(super::Target { index, privileges: &[IndexPriv::Read], source: format!("item:{item}").into() });
        }
    }
    Ok(())
}

/// Inspects one msearch body line (a search body, or a template for msearch/template); whether
/// it searches a point in time (a top-level `pit` with an `id`).
pub fn msearch_body(c: &mut Classification, line: &[u8], kind: BodyKind, item: usize, now_ms: i64) -> Result<bool, Refusal> {
    let v = body::parse_json(line)?;
    let over_pit = v.get("pit").is_some_and(body::names_point_in_time);
    let before = c.targets.len();
    if kind == BodyKind::MsearchTemplate {
        body::inspect(c, BodyKind::Template, line, now_ms)?;
    } else {
        body::dsl(c, &v, "", now_ms)?;
    }
    for t in &mut c.targets[before..] {
        t.source = format!("item:{item}:{}", t.source).into();
    }
    Ok(over_pit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_limit_does_not_wrap_around() {
        assert_eq!(scan(&[b"{\"a\":1}\n{\"b\"", b":2}\n"], usize::MAX).unwrap(), vec![b"{\"a\":1}\n".to_vec(), b"{\"b\":2}\n".to_vec()]);
    }

    fn scan(chunks: &[&[u8]], max: usize) -> Result<Vec<Vec<u8>>, ScanError> {
        let mut s = LineScanner::new(max);
        let mut out = Vec::new();
        for c in chunks {
            s.feed(Bytes::copy_from_slice(c), |l| {
                out.push(l.to_vec());
                Ok::<_, ()>(())
            })
            .map_err(|e| e.unwrap_or(ScanError::LineTooLong(0)))?;
        }
        if let Some(l) = s.finish() {
            out.push(l.to_vec());
        }
        Ok(out)
    }

    #[test]
    fn lines_across_chunks() {
        let want: Vec<Vec<u8>> = vec![b"{\"a\":1}\n".to_vec(), b"{\"b\":2}\n".to_vec(), b"{\"c\":3}".to_vec()];
        assert_eq!(scan(&[b"{\"a\":1}\n{\"b\":2}\n{\"c\":3}"], 100).unwrap(), want);
        assert_eq!(scan(&[b"{\"a\"", b":1}\n{\"b\":2", b"}\n{\"c\":3}"], 100).unwrap(), want);
        let bytes: Vec<&[u8]> = b"{\"a\":1}\n{\"b\":2}\n{\"c\":3}".chunks(1).collect();
        assert_eq!(scan(&bytes, 100).unwrap(), want);
        assert_eq!(scan(&[b"0123456789\n"], 5), Err(ScanError::LineTooLong(5)));
        assert_eq!(scan(&[b"0123", b"456789"], 5), Err(ScanError::LineTooLong(5)));
    }

    #[test]
    fn bulk_actions() {
        let a = bulk_action(br#"{"index":{"_index":"logs","_id":"1"}}"#, None, 0).unwrap();
        assert_eq!((a.op, a.index.name.as_str(), a.id.as_deref()), (BulkOp::Index, "logs", Some("1")));
        let a = bulk_action(br#"{"delete":{"_id":7}}"#, Some("dflt"), 0).unwrap();
        assert_eq!((a.op, a.index.name.as_str(), a.id.as_deref()), (BulkOp::Delete, "dflt", Some("7")));
        assert_eq!(BulkOp::Create.privilege(), IndexPriv::CreateDoc);
        for bad in [&br#"{"index":{}}"#[..], br#"{"upsert":{"_index":"a"}}"#, b"not json", br#"{"index":{"_index":"a*"}}"#,
            br#"{"index":{"_index":"a"},"delete":{}}"#, br#"{"index":{"_index":5}}"#, b"[]"] {
            assert!(bulk_action(bad, None, 0).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn msearch_headers() {
        let names = |l: &[u8], d| msearch_header(l, d, 0).unwrap().0.iter().map(IndexName::render).collect::<Vec<_>>();
        assert_eq!(names(b"{}", None), vec!["*"]);
        assert!(msearch_header(b"{}", None, 0).unwrap().1, "no index and no default");
        assert!(!msearch_header(b"{}", Some("logs"), 0).unwrap().1);
        assert!(!msearch_header(br#"{"index":"*"}"#, None, 0).unwrap().1);
        assert_eq!(names(b"{}", Some("logs")), vec!["logs"]);
        assert_eq!(names(br#"{"index":"a,b"}"#, Some("logs")), vec!["a", "b"]);
        assert_eq!(names(br#"{"index":["a","b*"]}"#, None), vec!["a", "b*"]);
        assert!(msearch_header(b"{oops", None, 0).is_err());
    }
}
