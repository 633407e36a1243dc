//! Index expressions as the server parses them: comma lists, `*` wildcards, `-` exclusions,
//! `_all`/empty (everything), date math `<logs-{now/d}>` (resolved against the clock), remote
//! clusters `remote:logs-*` / `*:logs-*`, selectors `logs::failures`. Anything ambiguous or
//! invalid is refused, never guessed.

use serde::Serialize;

use super::datemath;
use super::path::{find, has, pieces};

/// One name (or pattern) of an index expression.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct IndexName {
    /// The remote cluster (or cluster pattern) before `:`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The resolved name: date math applied, selector and cluster removed.
    pub name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub exclude: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub wildcard: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
}

impl IndexName {
    pub fn concrete(name: &str) -> Self {
        Self { cluster: None, name: name.to_string(), exclude: false, wildcard: name.contains('*'), selector: None }
    }

    /// Everything (`_all`, `*` or an empty expression).
    pub fn everything() -> Self {
        Self::concrete("*")
    }

    /// The name as it would be written back into an expression.
    pub fn render(&self) -> String {
        let mut s = String::new();
        if self.exclude {
            s.push('-');
        }
        if let Some(c) = &self.cluster {
            s.push_str(c);
            s.push(':');
        }
        s.push_str(&self.name);
        if let Some(sel) = &self.selector {
            s.push_str("::");
            s.push_str(sel);
        }
        s
    }
}

/// How many names a parameter may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// A multi-target expression: lists, wildcards, exclusions, `_all`.
    Many,
    /// Exactly one concrete name (a new index, one alias, one data stream).
    One,
}

impl Arity {
    pub fn of_kind(kind: &str) -> Self {
        match kind {
            "index" | "alias" | "data_stream" | "view" | "dataset" | "index_or_alias" => Arity::One,
            _ => Arity::Many,
        }
    }
}

const INVALID: &[char] = &['\\', '/', '?', '"', '<', '>', '|', ' ', ',', '#'];

/// Parses an expression into its names. `now_ms` resolves date math.
pub fn parse(expr: &str, arity: Arity, now_ms: i64) -> Result<Vec<IndexName>, String> {
    if expr.is_empty() || expr == "_all" {
        return if arity == Arity::One { Err("a single index name is required".into()) } else { Ok(vec![IndexName::everything()]) };
    }
    if arity == Arity::One && has(expr, b',') {
        return Err(format!("[{expr}]: exactly one name is allowed here"));
    }
    let mut out = Vec::with_capacity(1 + expr.bytes().filter(|b| *b == b',').count());
    for item in pieces(expr, b',') {
        let name = parse_item(item, now_ms)?;
        if arity == Arity::One && (name.wildcard || name.exclude) {
            return Err(format!("[{expr}]: wildcards and exclusions are not allowed here"));
        }
        out.push(name);
    }
    if out.iter().all(|n| n.exclude) {
        return Err(format!("[{expr}]: an expression cannot consist only of exclusions"));
    }
    Ok(out)
}

fn parse_item(item: &str, now_ms: i64) -> Result<IndexName, String> {
    if item.is_empty() {
        return Err("empty name in index expression".into());
    }
    let (exclude, body) = match item.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, item),
    };
    // Date math may contain ':' and '/' inside its braces, so resolve it before splitting.
    let (cluster, rest) = if body.starts_with('<') {
        (None, body.to_string())
    } else {
        split_cluster(body)
    };
    let (base, selector) = match has(&rest, b':').then(|| rest.rsplit_once("::")).flatten() {
        Some((b, s)) => (b.to_string(), Some(s.to_string())),
        None => (rest, None),
    };
    if let Some(s) = &selector {
        if !matches!(s.as_str(), "data" | "failures" | "*") {
            return Err(format!("[{item}]: unknown selector [::{s}]"));
        }
    }
    let name = if base.starts_with('<') { datemath::resolve(&base, now_ms)? } else { base };
    validate(&name, item)?;
    if name == "_all" {
        return Ok(IndexName { cluster, name: "*".into(), exclude, wildcard: true, selector });
    }
    Ok(IndexName { cluster, wildcard: has(&name, b'*'), name, exclude, selector })
}

fn split_cluster(body: &str) -> (Option<String>, String) {
    // `a::b` is a selector, `a:b` a remote cluster; ':' is never valid in an index name.
    match find(body, b':') {
        Some(i) if !body[i..].starts_with("::") => (Some(body[..i].to_string()), body[i + 1..].to_string()),
        _ => (None, body.to_string()),
    }
}

/// A character that can never be part of an index name.
fn invalid_char(c: char) -> bool {
    INVALID.contains(&c) || c.is_control() || c == ':'
}

/// A printable ASCII byte allowed in an index name: `invalid_char` for ASCII, as a byte test
/// (the fast path of `validate`).
fn plain_byte(b: u8) -> bool {
    b > b' ' && b < 0x7f && !matches!(b, b'\\' | b'/' | b'?' | b'"' | b'<' | b'>' | b'|' | b',' | b'#' | b':')
}

fn validate(name: &str, item: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("[{item}]: empty index name"));
    }
    if name == "." || name == ".." {
        return Err(format!("[{item}]: [{name}] is not a valid index name"));
    }
    if name.len() > 255 {
        return Err(format!("[{item}]: index names are at most 255 bytes"));
    }
    // Plain ASCII names (nearly all) pass byte by byte; any other is checked char by char.
    if !name.bytes().all(plain_byte) {
        if let Some(c) = name.chars().find(|c| invalid_char(*c)) {
            return Err(format!("[{item}]: index names cannot contain [{}]", c.escape_default()));
        }
    }
    if name.starts_with('_') && name != "_all" {
        return Err(format!("[{item}]: index names cannot start with '_'"));
    }
    if name.starts_with('+') || name.starts_with('-') {
        return Err(format!("[{item}]: index names cannot start with '+' or '-'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<String> {
        parse(expr, Arity::Many, 1_711_110_896_000).unwrap().iter().map(IndexName::render).collect()
    }

    #[test]
    fn expressions() {
        let table: &[(&str, &[&str])] = &[
            ("logs", &["logs"]),
            ("logs-*,metrics", &["logs-*", "metrics"]),
            ("logs-*,-logs-secret", &["logs-*", "-logs-secret"]),
            ("_all", &["*"]),
            ("", &["*"]),
            ("*", &["*"]),
            ("remote:logs-*", &["remote:logs-*"]),
            ("*:logs-*", &["*:logs-*"]),
            ("logs::failures", &["logs::failures"]),
            ("remote:logs::data", &["remote:logs::data"]),
            ("<logs-{now/d}>", &["logs-2024.03.22"]),
            ("-<logs-{now/d}>,logs-*", &["-logs-2024.03.22", "logs-*"]),
            (".kibana", &[".kibana"]),
            (".ds-logs-2024", &[".ds-logs-2024"]),
        ];
        for (expr, want) in table {
            assert_eq!(names(expr), want.to_vec(), "{expr}");
        }
    }

    #[test]
    fn ascii_fast_path_is_the_char_rule() {
        for b in 0u8..0x80 {
            assert_eq!(plain_byte(b), !invalid_char(char::from(b)), "{b:#x}");
        }
    }

    #[test]
    fn refusals() {
        for bad in ["a,,b", ",a", "a b", "a/b", "a\"b", "_secret", "..", ".", "a#b", "x::bogus", "-a", "-a,-b", "<x-{now", "a|b", "+a"] {
            assert!(parse(bad, Arity::Many, 0).is_err(), "{bad:?} should be refused");
        }
        for bad in ["a,b", "a*", "_all", ""] {
            assert!(parse(bad, Arity::One, 0).is_err(), "{bad:?} should be refused for a single name");
        }
        assert!(parse("new-index", Arity::One, 0).is_ok());
    }
}
