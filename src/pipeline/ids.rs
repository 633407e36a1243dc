//! Continuation ids in a JSON response, found while it streams: the string values of the
//! top-level keys `_scroll_id`, `pit_id`, `cursor` and `id`. Only the top level counts — a
//! document in the hits may hold a field of the same name, which is data and passes untouched —
//! and the whole response is read, so an SQL `cursor` after a long page of rows is found too.
//!
//! Text formats carry theirs in the headers of `ID_HEADERS`.
//!
//! The scanner keeps no more than one id (up to `MAX_ID` bytes) across chunks; everything
//! else is handed back as it arrives. It stops looking once the top-level object has ended,
//! or at once when the response is not a JSON object.

/// The longest id held; a longer value is passed on unchanged (and so not honoured later).
pub const MAX_ID: usize = 64 * 1024;
const KEYS: [&[u8]; 4] = [b"_scroll_id", b"pit_id", b"cursor", b"id"];
const KEY_MAX: usize = 10;
/// Response headers that carry a continuation id: SQL's cursor and async ids in text
/// formats (csv, tsv, txt), whose bodies are not JSON.
pub const ID_HEADERS: [&str; 3] = ["cursor", "async-id", "x-elasticsearch-async-id"];

/// What the scanner hands back, in order: bytes to pass on as they are, and the content of
/// each id's string (without its quotes, which are passed on around it).
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Pass(&'a [u8]),
    Id(&'a [u8]),
}

/// Reads a response for continuation ids as it streams: hands back its bytes as pieces, each
/// id with the position of the answer it belongs to (for an msearch; `None` otherwise).
pub trait Scanner: Send + Unpin + 'static {
    fn feed_at(&mut self, chunk: &[u8], emit: &mut dyn FnMut(Option<usize>, Piece<'_>));
    /// The end of the response: an id cut short is handed back unchanged.
    fn finish_at(&mut self, emit: &mut dyn FnMut(Option<usize>, Piece<'_>));
    /// Nothing more to look for: the rest streams as it comes.
    fn done(&self) -> bool;
}

impl Scanner for IdScanner {
    fn feed_at(&mut self, chunk: &[u8], emit: &mut dyn FnMut(Option<usize>, Piece<'_>)) {
        self.feed(chunk, &mut |p| emit(None, p));
    }
    fn finish_at(&mut self, emit: &mut dyn FnMut(Option<usize>, Piece<'_>)) {
        self.finish(&mut |p| emit(None, p));
    }
    fn done(&self) -> bool {
        IdScanner::done(self)
    }
}

/// Where a byte at depth 1 (inside the top-level object, outside any string) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum At {
    /// The next string is a key.
    Key,
    /// Inside a key's string.
    InKey,
    /// After a key, before its colon: whether the key is one looked for.
    Colon(bool),
    /// After the colon, before the value.
    Value(bool),
    /// Inside or after a value that is not an id.
    Other,
}

#[derive(Debug)]
pub struct IdScanner {
    depth: u32,
    in_str: bool,
    esc: bool,
    started: bool,
    done: bool,
    at: At,
    key: [u8; KEY_MAX],
    /// Bytes of the key read so far; `KEY_MAX + 1` once it is longer than any id key.
    key_len: usize,
    /// The id being read (its string's content), while `collecting`.
    held: Vec<u8>,
    collecting: bool,
}

impl Default for IdScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl IdScanner {
    pub fn new() -> Self {
        Self {
            depth: 0,
            in_str: false,
            esc: false,
            started: false,
            done: false,
            at: At::Other,
            key: [0; KEY_MAX],
            key_len: 0,
            held: Vec::new(),
            collecting: false,
        }
    }

    /// Whether everything from here on passes untouched.
    pub fn done(&self) -> bool {
        self.done && !self.collecting
    }

    /// Reads one chunk, handing back its bytes as pieces (an id that started in an earlier
    /// chunk comes back whole, in the chunk where it ends).
    pub fn feed(&mut self, chunk: &[u8], emit: &mut impl FnMut(Piece<'_>)) {
        let end = self.scan(chunk, emit);
        emit_nonempty(emit, &chunk[end..]);
    }

    /// As `feed`, up to the end of the top-level value: returns how much of `chunk` was read
    /// (and handed back).
    pub fn scan(&mut self, chunk: &[u8], emit: &mut impl FnMut(Piece<'_>)) -> usize {
        let mut from = 0; // the first byte of `chunk` not yet handed back
        let mut i = 0;
        while i < chunk.len() && !self.done {
            if self.collecting {
                i = self.collect(chunk, i, &mut from, emit);
                continue;
            }
            if self.depth >= 2 {
                i = self.skip_nested(chunk, i);
                continue;
            }
            let b = chunk[i];
            if self.in_str {
                i = self.string_byte(chunk, i);
                continue;
            }
            match b {
                b'"' => {
                    self.in_str = true;
                    if self.depth == 1 {
                        match self.at {
                            At::Key => {
                                self.at = At::InKey;
                                self.key_len = 0;
                            }
                            At::Value(true) => {
                                emit_nonempty(emit, &chunk[from..=i]);
                                from = i + 1;
                                self.collecting = true;
                                self.held.clear();
                            }
                            _ => self.at = At::Other,
                        }
                    }
                }
                b'{' | b'[' => {
                    if !self.started && b == b'[' {
                        self.done = true;
                    }
                    self.started = true;
                    self.depth = self.depth.saturating_add(1);
                    self.at = if self.depth == 1 { At::Key } else if self.depth == 2 { At::Other } else { self.at };
                }
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        self.done = true;
                    }
                }
                b',' if self.depth == 1 => self.at = At::Key,
                b':' if self.depth == 1 => {
                    if let At::Colon(id) = self.at {
                        self.at = At::Value(id);
                    }
                }
                b' ' | b'\t' | b'\r' | b'\n' => {}
                _ => {
                    if !self.started {
                        self.done = true; // not a JSON object: nothing to look for
                    }
                    self.started = true;
                    if self.depth == 1 {
                        self.at = At::Other;
                    }
                }
            }
            i += 1;
        }
        if !self.collecting {
            emit_nonempty(emit, &chunk[from..i]);
        }
        i
    }

    /// The end of the response: an id cut short is handed back unchanged.
    pub fn finish(&mut self, emit: &mut impl FnMut(Piece<'_>)) {
        if self.collecting {
            self.give_up(emit);
        }
        self.done = true;
    }

    /// Reads on inside a value nested in the top-level object (most of a response: the hits),
    /// where only strings and brackets matter, up to the byte after the bracket that closes
    /// it; returns where to go on.
    fn skip_nested(&mut self, chunk: &[u8], mut i: usize) -> usize {
        let (mut depth, mut in_str, mut esc) = (self.depth, self.in_str, self.esc);
        while i < chunk.len() {
            if in_str {
                if esc {
                    esc = false;
                    i += 1;
                    continue;
                }
                i = string_end(chunk, i);
                match chunk.get(i) {
                    Some(b'"') => in_str = false,
                    Some(_) => esc = true,
                    None => break,
                }
                i += 1;
                continue;
            }
            match chunk[i] {
                b'"' => in_str = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 1 {
                        i += 1;
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        (self.depth, self.in_str, self.esc) = (depth, in_str, esc);
        i
    }

    /// One byte inside a string that is not an id; returns where to go on.
    fn string_byte(&mut self, chunk: &[u8], i: usize) -> usize {
        let in_key = self.depth == 1 && self.at == At::InKey;
        if self.esc {
            self.esc = false;
            if in_key {
                self.key_len = KEY_MAX + 1; // no id key holds an escape
            }
            return i + 1;
        }
        match chunk[i] {
            b'\\' => self.esc = true,
            b'"' => {
                self.in_str = false;
                if in_key {
                    let id = self.key_len <= KEY_MAX && KEYS.contains(&&self.key[..self.key_len]);
                    self.at = At::Colon(id);
                }
            }
            b if in_key => {
                if self.key_len < KEY_MAX {
                    self.key[self.key_len] = b;
                    self.key_len += 1;
                } else {
                    self.key_len = KEY_MAX + 1;
                }
            }
            // Anywhere else, skip to the next byte that could end the string.
            _ => return string_end(chunk, i),
        }
        i + 1
    }

    /// Reads an id's bytes from `i`; returns where to go on.
    fn collect(&mut self, chunk: &[u8], i: usize, from: &mut usize, emit: &mut impl FnMut(Piece<'_>)) -> usize {
        let end = string_end(chunk, i);
        if self.held.len() + (end - i) > MAX_ID {
            self.give_up(emit);
            *from = i;
            return i;
        }
        self.held.extend_from_slice(&chunk[i..end]);
        *from = end;
        match chunk.get(end) {
            Some(b'"') if !self.held.is_empty() => {
                emit(Piece::Id(&self.held));
                self.held.clear();
                self.collecting = false;
                self.in_str = false;
                self.at = At::Other;
                end + 1
            }
            // An empty string, or an escape (ids hold none): not an id, read on as a string.
            Some(_) => {
                self.give_up(emit);
                end
            }
            None => end,
        }
    }

    /// The value being read is not taken for an id: its bytes pass on unchanged and the rest
    /// of its string is read as any other.
    fn give_up(&mut self, emit: &mut impl FnMut(Piece<'_>)) {
        emit_nonempty(emit, &self.held);
        self.held.clear();
        self.collecting = false;
        self.at = At::Other;
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The first `"` or `\` in `chunk` from `i`, or its end: eight bytes at a time, as strings in
/// the hits are often longer than a call to `memchr` is worth and too short for its vectors.
fn string_end(chunk: &[u8], mut i: usize) -> usize {
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    while let Some(w) = chunk.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        let w = u64::from_le_bytes(w);
        let m = zero(w ^ (ONES * u64::from(b'"'))) | zero(w ^ (ONES * u64::from(b'\\')));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while chunk.get(i).is_some_and(|b| *b != b'"' && *b != b'\\') {
        i += 1;
    }
    i
}

fn emit_nonempty(emit: &mut impl FnMut(Piece<'_>), bytes: &[u8]) {
    if !bytes.is_empty() {
        emit(Piece::Pass(bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ids of a whole document, in order.
    fn ids(doc: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        let mut scanner = IdScanner::new();
        let mut take = |p: Piece<'_>| {
            if let Piece::Id(id) = p {
                out.push(String::from_utf8_lossy(id).into_owned());
            }
        };
        scanner.feed(doc, &mut take);
        scanner.finish(&mut take);
        out
    }

    /// `doc`, fed in chunks, with each id replaced by `seal(id)`.
    fn rewrite<'a>(chunks: impl IntoIterator<Item = &'a [u8]>, seal: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut scanner = IdScanner::new();
        let mut put = |p: Piece<'_>| match p {
            Piece::Pass(b) => out.extend_from_slice(b),
            Piece::Id(id) => out.extend_from_slice(&seal(id)),
        };
        for c in chunks {
            scanner.feed(c, &mut put);
        }
        scanner.finish(&mut put);
        out
    }

    fn mark(id: &[u8]) -> Vec<u8> {
        [b"<", id, b">"].concat()
    }

    #[test]
    fn finds_top_level_ids_only() {
        let cases: &[(&str, &[&str])] = &[
            (r#"{"_scroll_id":"abc==","took":1,"hits":{"hits":[{"_id":"x"}]}}"#, &["abc=="]),
            (r#"{"id" : "pit1"}"#, &["pit1"]),
            (r#" { "pit_id":"p2","hits":{}}"#, &["p2"]),
            (r#"{"took":1}"#, &[]),
            (r#"{"took":1,"hits":{"hits":[{"_source":{"id":"doc","cursor":"c","_scroll_id":"s","pit_id":"p"}}]}}"#, &[]),
            (r#"{"_scroll_id":""}"#, &[]),
            (r#"{"columns":[{"name":"cursor","type":"keyword"}],"rows":[["cursor"]],"cursor":"c1"}"#, &["c1"]),
            (r#"{"is_running":false,"columns":[],"id":"async1"}"#, &["async1"]),
            (r#"{"pit_id" : "p2", "_scroll_id":"s1","cursor":"c"}"#, &["p2", "s1", "c"]),
            (r#"{"a":"x\"cursor\":\"no","b":"\\","id":"yes"}"#, &["yes"]),
            (r#"{"cursor":{"nested":"no"},"id":1,"pit_id":"a\u0041"}"#, &[]),
            (r#"{"ids":"no","i":"no","cursorx":"no","_scroll_id2":"no"}"#, &[]),
            (r#"["id","x"]"#, &[]),
            (r#"{"a":1}{"id":"after the end"}"#, &[]),
            ("not json", &[]),
        ];
        for (doc, want) in cases {
            assert_eq!(ids(doc.as_bytes()), *want, "{doc}");
        }
    }

    #[test]
    fn rewrites_ids_in_place_whatever_the_chunking() {
        let doc = br#"{"_scroll_id":"s1==","took":1,"hits":{"hits":[{"_source":{"id":"keep","cursor":"keep"}}]},"cursor":"c/2+"}"#;
        let want = br#"{"_scroll_id":"<s1==>","took":1,"hits":{"hits":[{"_source":{"id":"keep","cursor":"keep"}}]},"cursor":"<c/2+>"}"#;
        for size in 1..doc.len() {
            assert_eq!(rewrite(doc.chunks(size), mark), want.to_vec(), "chunks of {size}");
        }
        assert_eq!(rewrite([&b"{}"[..]], mark), b"{}");
    }

    #[test]
    fn a_cut_or_overlong_value_passes_unchanged() {
        let cut = br#"{"id":"abc"#;
        for size in 1..cut.len() {
            assert_eq!(rewrite(cut.chunks(size), mark), cut.to_vec());
        }
        let long = format!(r#"{{"cursor":"{}","id":"x"}}"#, "a".repeat(MAX_ID + 1));
        for size in [1000, 70_000] {
            let out = rewrite(long.as_bytes().chunks(size), mark);
            assert_eq!(out, format!(r#"{{"cursor":"{}","id":"<x>"}}"#, "a".repeat(MAX_ID + 1)).into_bytes(), "chunks of {size}");
        }
        let escaped = br#"{"cursor":"ab\"cd","id":"x"}"#;
        assert_eq!(rewrite(escaped.chunks(3), mark), br#"{"cursor":"ab\"cd","id":"<x>"}"#.to_vec());
    }

    fn value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let key = || prop_oneof![proptest::sample::select(vec!["_scroll_id", "pit_id", "cursor", "id", "took", "hits"]).prop_map(String::from), ".{0,6}"];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::from),
            prop_oneof![".{0,12}", "[a-zA-Z0-9+/=]{0,12}"].prop_map(Value::String),
        ];
        let nested = leaf.prop_recursive(3, 24, 4, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(key(), inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        proptest::collection::btree_map(key(), nested, 0..6).prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    proptest::proptest! {
        #[test]
        fn finds_exactly_the_top_level_ids_whatever_the_chunking(v in value(), pretty in proptest::bool::ANY, size in 1usize..40) {
            let doc = if pretty { serde_json::to_vec_pretty(&v) } else { serde_json::to_vec(&v) }.unwrap_or_default();
            let want: Vec<String> = v.as_object().into_iter().flatten().filter_map(|(k, v)| {
                let s = v.as_str().filter(|s| KEYS.contains(&k.as_bytes()) && !s.is_empty())?;
                (!serde_json::to_string(s).unwrap_or_default().contains('\\')).then(|| s.to_string())
            }).collect();
            proptest::prop_assert_eq!(ids(&doc), want.clone());
            proptest::prop_assert_eq!(rewrite(doc.chunks(size), <[u8]>::to_vec), doc.clone());
            let marked: serde_json::Value = serde_json::from_slice(&rewrite(doc.chunks(size), mark)).unwrap_or_default();
            let mut expected = v.clone();
            for (k, x) in expected.as_object_mut().into_iter().flatten() {
                if let Some(s) = x.as_str().filter(|s| want.iter().any(|w| w == s) && KEYS.contains(&k.as_bytes())) {
                    *x = serde_json::Value::String(format!("<{s}>"));
                }
            }
            proptest::prop_assert_eq!(marked, expected);
        }
    }

    #[test]
    fn stops_looking_after_the_top_level_object() {
        let mut s = IdScanner::new();
        let mut n = 0;
        s.feed(br#"{"a":[1,{"b":2}]}"#, &mut |_| n += 1);
        assert!(s.done());
        let mut s = IdScanner::new();
        s.feed(br#"{"id":"ab"#, &mut |_| {});
        assert!(!s.done());
    }
}
