//! Splitting a request target exactly as Elasticsearch reads it: the path is split on `/`
//! before anything is decoded (so `%2F` inside date math stays in its segment), a trailing
//! slash is ignored, and each parameter is percent-decoded on its own. Empty interior
//! segments and dot segments are refused: servers disagree on them, so Sluice does not guess.

use std::borrow::Cow;

/// A request target split into raw path segments and decoded query parameters.
#[derive(Debug)]
pub struct Target<'a> {
    pub segments: Vec<&'a str>,
    /// `key=value` pairs, percent-decoded (borrowed when they hold no escape).
    pub query: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

pub fn split(target: &str) -> Result<Target<'_>, String> {
    let (path, query) = match find(target, b'?') {
        Some(i) => (&target[..i], Some(&target[i + 1..])),
        None => (target, None),
    };
    if !path.starts_with('/') {
        return Err(format!("request path [{path}] must start with /"));
    }
    let mut segments: Vec<&str> = Vec::with_capacity(4);
    segments.extend(pieces(&path[1..], b'/'));
    while segments.last() == Some(&"") {
        segments.pop();
    }
    for s in &segments {
        if s.is_empty() {
            return Err(format!("request path [{path}] has an empty segment"));
        }
        let dots = if has(s, b'%') { decode(s, false)? } else { Cow::Borrowed(*s) };
        if dots == "." || dots == ".." {
            return Err(format!("request path [{path}] has a dot segment"));
        }
    }
    let mut pairs = Vec::new();
    if let Some(q) = query {
        for pair in pieces(q, b'&').filter(|p| !p.is_empty()) {
            let (k, v) = match find(pair, b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, ""),
            };
            // Every parameter must decode, even ones Sluice does not read: the server will.
            pairs.push((decode(k, true)?, decode(v, true)?));
        }
    }
    Ok(Target { segments, query: pairs })
}

/// Byte searches for ASCII separators: cheaper than `char` patterns on short strings, and
/// slicing at an ASCII byte always lands on a character boundary.
pub fn find(s: &str, b: u8) -> Option<usize> {
    s.bytes().position(|c| c == b)
}

pub fn has(s: &str, b: u8) -> bool {
    s.as_bytes().contains(&b)
}

pub fn pieces(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match find(r, sep) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Percent-encodes every byte of `s` but ASCII letters, digits and those in `keep`.
pub fn encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (and `+` as a space in query strings); the result must be UTF-8.
pub fn decode(s: &str, plus_as_space: bool) -> Result<Cow<'_, str>, String> {
    if !(has(s, b'%') || plus_as_space && has(s, b'+')) {
        return Ok(Cow::Borrowed(s));
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3).ok_or_else(|| format!("incomplete escape in [{s}]"))?;
                let hex = std::str::from_utf8(hex).map_err(|_| format!("bad escape in [{s}]"))?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad escape in [{s}]"))?);
                i += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map(Cow::Owned).map_err(|_| format!("[{s}] does not decode to UTF-8"))
}

impl Target<'_> {
    /// The value of a query parameter. Repeating a parameter with different values is refused:
    /// servers differ on which one wins.
    pub fn param(&self, name: &str) -> Result<Option<&str>, String> {
        let mut found: Option<&str> = None;
        for (k, v) in &self.query {
            if k == name {
                match found {
                    Some(prev) if prev != v => return Err(format!("query parameter [{name}] is given twice with different values")),
                    _ => found = Some(v),
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_before_decoding() {
        let t = split("/%3Clogs-%7Bnow%2Fd%7D%3E/_search?q=a%20b+c&x=%2F").unwrap();
        assert_eq!(t.segments, vec!["%3Clogs-%7Bnow%2Fd%7D%3E", "_search"]);
        assert_eq!(decode(t.segments[0], false).unwrap(), "<logs-{now/d}>");
        assert_eq!(t.param("q").unwrap(), Some("a b c"));
        assert_eq!(t.param("x").unwrap(), Some("/"));
    }

    #[test]
    fn trailing_slash_ignored_and_odd_forms_refused() {
        assert_eq!(split("/logs/_search/").unwrap().segments, vec!["logs", "_search"]);
        assert_eq!(split("/").unwrap().segments, Vec::<&str>::new());
        for bad in ["/logs//_search", "/a/./b", "/a/../_search", "/%2E%2E/x", "logs", "/a%zz", "/a%C3", "/x?y=%FF"] {
            assert!(split(bad).is_err(), "{bad}");
        }
        assert!(split("/x?a=1&a=2").unwrap().param("a").is_err());
        assert_eq!(split("/x?a=1&a=1").unwrap().param("a").unwrap(), Some("1"));
        assert_eq!(split("/x?%69ndex=q").unwrap().param("index").unwrap(), Some("q"));
    }
}
