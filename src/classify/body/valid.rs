//! Whether bytes are one JSON document, read without building anything: the check a body that
//! names no index still has to pass. It accepts exactly what
//! `serde_json::from_slice::<serde::de::IgnoredAny>` accepts (the property tests below hold it
//! to that), in one pass with no per-value calls: on the 2 KB search body of the benches it does
//! the work in about a third of the instructions. Strings are not checked for UTF-8 here (the
//! caller does, for the whole body at once), and nesting is unbounded, as in serde_json's
//! `IgnoredAny` (the stack is one byte per open container).

/// Bytes a string holds as they are: not `"`, not `\`, not a control character.
const PLAIN: [bool; 256] = {
    let mut t = [true; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = false;
        b += 1;
    }
    t[b'"' as usize] = false;
    t[b'\\' as usize] = false;
    t
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Flags the bytes of `w` (little-endian) that end or escape a string or may not be in one:
/// the lowest flag is exact (the ones above it may not be), which is all `string` reads.
fn special(w: u64) -> u64 {
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
    zero(w ^ (ONES * u64::from(b'"'))) | zero(w ^ (ONES * u64::from(b'\\'))) | control
}

#[inline(always)]
fn ws(b: &[u8], mut i: usize) -> usize {
    // Most tokens follow no whitespace, or one space (`": "`, `", "`): a comparison or two say so.
    match b.get(i) {
        Some(&c) if c > b' ' => return i,
        Some(b' ') if b.get(i + 1).is_some_and(|&c| c > b' ') => return i + 1,
        _ => {}
    }
    while let Some(b' ' | b'\n' | b'\t' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

fn digits(b: &[u8], mut i: usize) -> usize {
    while let Some(b'0'..=b'9') = b.get(i) {
        i += 1;
    }
    i
}

/// The end of the string whose opening quote is before `i`.
#[inline(always)]
fn string(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        match b.get(i..i + 8) {
            Some(chunk) => {
                let m = special(u64::from_le_bytes(<[u8; 8]>::try_from(chunk).ok()?));
                if m == 0 {
                    i += 8;
                    continue;
                }
                i += (m.trailing_zeros() / 8) as usize;
            }
            None => {
                while b.get(i).is_some_and(|&c| PLAIN[usize::from(c)]) {
                    i += 1;
                }
            }
        }
        match b.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => match b.get(i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' => {
                    let hex = b.get(i + 2..i + 6)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    i += 6;
                }
                _ => return None,
            },
            _ => return None, // a control character
        }
    }
}

/// The end of the number starting at `i` (serde_json's grammar: no leading zeros, a digit on
/// each side of the point, an optionally signed exponent with digits).
fn number(b: &[u8], mut i: usize) -> Option<usize> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i)? {
        // A digit after a leading zero is refused by whatever reads past the number.
        b'0' => i += 1,
        b'1'..=b'9' => i = digits(b, i + 1),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let end = digits(b, i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let end = digits(b, i);
        if end == i {
            return None;
        }
        i = end;
    }
    Some(i)
}

/// `"key"` then `:`, from `i` (whitespace allowed around both); the index after the colon.
#[inline(always)]
fn key(b: &[u8], i: usize) -> Option<usize> {
    let i = ws(b, i);
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let i = ws(b, string(b, i + 1)?);
    (b.get(i) == Some(&b':')).then_some(i + 1)
}

/// Whether `b` is exactly one JSON value, surrounded by nothing but whitespace.
pub fn is_json(b: &[u8]) -> bool {
    check(b).is_some()
}

fn check(b: &[u8]) -> Option<()> {
    // Open containers, innermost last: b'{' or b'['.
    let mut open: Vec<u8> = Vec::new();
    let mut i = 0;
    loop {
        // A value starts here.
        i = ws(b, i);
        i = match *b.get(i)? {
            b'"' => string(b, i + 1)?,
            b'-' | b'0'..=b'9' => number(b, i)?,
            b't' => literal(b, i, b"true")?,
            b'f' => literal(b, i, b"false")?,
            b'n' => literal(b, i, b"null")?,
            c @ (b'{' | b'[') => {
                let close = if c == b'{' { b'}' } else { b']' };
                let j = ws(b, i + 1);
                if b.get(j) == Some(&close) {
                    j + 1
                } else {
                    open.push(c);
                    i = if c == b'{' { key(b, j)? } else { j };
                    continue;
                }
            }
            _ => return None,
        };
        // After a value: a comma and the next member, or the ends of containers.
        loop {
            i = ws(b, i);
            let Some(&top) = open.last() else {
                return (i == b.len()).then_some(());
            };
            match (*b.get(i)?, top) {
                (b',', b'{') => {
                    i = key(b, i + 1)?;
                    break;
                }
                (b',', _) => {
                    i += 1;
                    break;
                }
                (b'}', b'{') | (b']', b'[') => {
                    open.pop();
                    i += 1;
                }
                _ => return None,
            }
        }
    }
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    (b.get(i..i + word.len())? == word).then_some(i + word.len())
}

#[cfg(test)]
mod tests {
    use super::is_json;
    use proptest::prelude::*;

    fn serde_says(b: &[u8]) -> bool {
        serde_json::from_slice::<serde::de::IgnoredAny>(b).is_ok()
    }

    #[test]
    fn agrees_with_serde_json_on_chosen_cases() {
        let cases: &[&[u8]] = &[
            b"{}", b"[]", b" { } ", b"{\"a\":1}", b"{\"a\" : [1, 2.5, -0, -0.0e+1, 1E9, true, false, null, \"x\"]}",
            b"", b" ", b"{", b"}", b"[", b"]", b"{]", b"[}", b"{\"a\"}", b"{\"a\":}", b"{\"a\":1,}", b"[1,]", b"[,1]", b"{,}",
            b"{\"a\":1 \"b\":2}", b"[1 2]", b"{1:2}", b"{'a':1}", b"01", b"-", b"-a", b"1.", b".5", b"1e", b"1e+", b"1.e5",
            b"00", b"-01", b"1.5e-3", b"tru", b"truex", b"nul", b"True", b"\"\\u00e9\"", b"\"\\u00g9\"", b"\"\\u00\"",
            b"\"\\x\"", b"\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"", b"\"a\x01\"", b"\"a\x1f\"", b"\"a\x7f\"", b"\"\xc3\xa9\"", b"\"abc",
            b"\"abcdefghijklmnop\\\"qrstuvwxyz\"", b"\"abcdefgh\"", b"\"abcdefg\"", b"\"abcdefghi\x02\"", b"{} {}", b"{}x",
            b"[[[[[[]]]]]]", b"[[[[[[]]]]]", b"{\"a\":{\"b\":{\"c\":[{}]}}}", b"\t\r\n{}\t\r\n", b"\x0c{}", b"{}\x00",
            b"[1e999]", b"[-]", b"[--1]", b"[+1]", b"[0x1]", b"[1,2,3]", b"{\"\":\"\"}", b"\"\\",
        ];
        for c in cases {
            assert_eq!(is_json(c), serde_says(c), "{:?}", String::from_utf8_lossy(c));
        }
    }

    #[test]
    fn deep_nesting_is_not_limited_and_does_not_recurse() {
        let deep = [vec![b'['; 100_000], vec![b']'; 100_000]].concat();
        assert!(is_json(&deep) && serde_says(&deep));
        assert!(!is_json(&deep[..deep.len() - 1]));
    }

    /// Short strings over JSON's own alphabet reach every branch, valid and not.
    fn token_soup() -> impl Strategy<Value = Vec<u8>> {
        let atoms: Vec<&'static [u8]> = vec![
            b"{", b"}", b"[", b"]", b",", b":", b"\"", b"\\", b"\\u", b"00aF", b"0", b"1", b"9", b"-", b"+", b".", b"e", b"E",
            b"true", b"false", b"null", b"tr", b" ", b"\n", b"\x01", b"a", b"\"k\":", b"\"abcdefghij\"", b"\xc3\xa9",
        ];
        proptest::collection::vec(proptest::sample::select(atoms), 0..24).prop_map(|v| v.concat())
    }

    fn value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            ".{0,20}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
                proptest::collection::btree_map(".{0,8}", inner, 0..6).prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn agrees_with_serde_json_on_token_soup(b in token_soup()) {
            prop_assert_eq!(is_json(&b), serde_says(&b), "{:?}", String::from_utf8_lossy(&b));
        }

        #[test]
        fn agrees_with_serde_json_on_documents_and_their_mutations(v in value(), pretty in any::<bool>(), at in any::<usize>(), byte in any::<u8>(), cut in any::<bool>()) {
            let text = if pretty { serde_json::to_vec_pretty(&v) } else { serde_json::to_vec(&v) };
            let mut b = text.unwrap_or_default();
            prop_assert!(is_json(&b));
            if !b.is_empty() {
                let at = at % b.len();
                if cut { b.truncate(at) } else { b[at] = byte }
            }
            prop_assert_eq!(is_json(&b), serde_says(&b), "{:?}", String::from_utf8_lossy(&b));
        }
    }
}
