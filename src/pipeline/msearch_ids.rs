//! Continuation ids in an `_msearch` response: each search's answer in `responses` is read
//! for its own top-level ids (a point in time's `pit_id`) as `ids::IdScanner` reads a lone
//! search's, and each id comes with the position of its search.

use super::ids::{At, IdScanner, Piece, Scanner};

const RESPONSES: &[u8] = b"responses";

#[derive(Debug)]
pub struct MsearchIds {
    depth: u32,
    in_str: bool,
    esc: bool,
    done: bool,
    at: At,
    key: Vec<u8>,
    /// Inside the `responses` array (at depth 2).
    in_responses: bool,
    /// The answer being read, and its position.
    current: Option<(usize, IdScanner)>,
    next: usize,
}

impl Default for MsearchIds {
    fn default() -> Self {
        Self::new()
    }
}

impl Scanner for MsearchIds {
    /// Reads one chunk, handing back its bytes as pieces, each id with its search's position.
    fn feed_at(&mut self, chunk: &[u8], emit: &mut dyn FnMut(Option<usize>, Piece<'_>)) {
        let mut from = 0;
        let mut i = 0;
        while i < chunk.len() && !self.done {
            if let Some((pos, scanner)) = &mut self.current {
                let pos = *pos;
                let n = scanner.scan(&chunk[i..], &mut |p| emit(Some(pos), p));
                i += n;
                from = i;
                if scanner.done() {
                    self.current = None;
                }
                continue;
            }
            let b = chunk[i];
            if self.in_str {
                self.string_byte(b);
                i += 1;
                continue;
            }
            match b {
                b'"' => {
                    self.in_str = true;
                    if self.depth == 1 {
                        self.at = if self.at == At::Key { At::InKey } else { At::Other };
                        self.key.clear();
                    }
                }
                b'{' if self.depth == 2 && self.in_responses => {
                    // One search's answer: its own scanner reads it, from its opening brace.
                    if i > from {
                        emit(None, Piece::Pass(&chunk[from..i]));
                    }
                    from = i;
                    self.current = Some((self.next, IdScanner::new()));
                    self.next += 1;
                    continue;
                }
                b'{' | b'[' => {
                    self.depth = self.depth.saturating_add(1);
                    match self.depth {
                        1 => self.at = At::Key,
                        2 => self.in_responses = b == b'[' && self.at == At::Value(true),
                        _ => {}
                    }
                }
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    match self.depth {
                        0 => self.done = true,
                        1 => {
                            self.in_responses = false;
                            self.at = At::Other;
                        }
                        _ => {}
                    }
                }
                b',' if self.depth == 1 => self.at = At::Key,
                b':' if self.depth == 1 => {
                    if let At::Colon(r) = self.at {
                        self.at = At::Value(r);
                    }
                }
                b' ' | b'\t' | b'\r' | b'\n' => {}
                _ if self.depth == 0 => self.done = true, // not a JSON object
                _ if self.depth == 1 => self.at = At::Other,
                _ => {}
            }
            i += 1;
        }
        if self.current.is_none() && from < chunk.len() {
            emit(None, Piece::Pass(&chunk[from..]));
        }
    }

    fn finish_at(&mut self, emit: &mut dyn FnMut(Option<usize>, Piece<'_>)) {
        if let Some((pos, mut scanner)) = self.current.take() {
            scanner.finish(&mut |p| emit(Some(pos), p));
        }
        self.done = true;
    }

    fn done(&self) -> bool {
        self.done
    }
}

impl MsearchIds {
    pub fn new() -> Self {
        Self { depth: 0, in_str: false, esc: false, done: false, at: At::Other, key: Vec::new(), in_responses: false, current: None, next: 0 }
    }

    fn string_byte(&mut self, b: u8) {
        let in_key = self.depth == 1 && self.at == At::InKey;
        if self.esc {
            self.esc = false;
            if in_key {
                self.key.push(0); // no escape in `responses`
            }
            return;
        }
        match b {
            b'\\' => self.esc = true,
            b'"' => {
                self.in_str = false;
                if in_key {
                    self.at = At::Colon(self.key == RESPONSES);
                }
            }
            _ if in_key && self.key.len() <= RESPONSES.len() => self.key.push(b),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `doc` fed in chunks of `size`: the output with each id as `<pos:id>`, the ids, and the
    /// output with the ids as they were.
    fn run(doc: &[u8], size: usize) -> (String, Vec<(usize, String)>, Vec<u8>) {
        let (mut out, mut raw) = (Vec::new(), Vec::new());
        let mut ids = Vec::new();
        let mut m = MsearchIds::new();
        let mut put = |pos: Option<usize>, p: Piece<'_>| match p {
            Piece::Pass(b) => {
                out.extend_from_slice(b);
                raw.extend_from_slice(b);
            }
            Piece::Id(id) => {
                let pos = pos.unwrap_or(usize::MAX);
                out.extend_from_slice(format!("<{pos}:{}>", String::from_utf8_lossy(id)).as_bytes());
                raw.extend_from_slice(id);
                ids.push((pos, String::from_utf8_lossy(id).into_owned()));
            }
        };
        for c in doc.chunks(size) {
            m.feed_at(c, &mut put);
        }
        m.finish_at(&mut put);
        (String::from_utf8(out).unwrap_or_default(), ids, raw)
    }

    #[test]
    fn finds_each_searchs_ids_with_its_position_whatever_the_chunking() {
        let doc = br#"{"took":3,"responses":[{"pit_id":"p0","hits":{"hits":[{"_source":{"pit_id":"doc"}}]},"status":200},{"error":{"type":"x"},"status":403},{"took":1,"pit_id":"p2=="}],"pit_id":"not a search's"}"#;
        let want = r#"{"took":3,"responses":[{"pit_id":"<0:p0>","hits":{"hits":[{"_source":{"pit_id":"doc"}}]},"status":200},{"error":{"type":"x"},"status":403},{"took":1,"pit_id":"<2:p2==>"}],"pit_id":"not a search's"}"#;
        for size in 1..doc.len() {
            let (out, ids, _) = run(doc, size);
            assert_eq!(out, want, "chunks of {size}");
            assert_eq!(ids, vec![(0, "p0".to_string()), (2, "p2==".to_string())]);
        }
    }

    proptest::proptest! {
        /// Whatever the bytes and the chunking: every byte handed back once, in order, and the
        /// same ids found.
        #[test]
        fn hands_back_every_byte_whatever_the_chunking(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "{", "}", "[", "]", ",", ":", "\"", "\\", "\"responses\"", "\"pit_id\"", "\"id\"", "\"p1\"", "1", " ",
            ]), 0..40),
            size in 1usize..9,
        ) {
            let doc = parts.concat();
            let (whole, ids, _) = run(doc.as_bytes(), doc.len().max(1));
            let (chunked, ids_chunked, raw) = run(doc.as_bytes(), size);
            proptest::prop_assert_eq!(&whole, &chunked);
            proptest::prop_assert_eq!(&ids, &ids_chunked);
            proptest::prop_assert_eq!(raw, doc.into_bytes());
        }
    }

    #[test]
    fn reads_only_the_responses_array() {
        for doc in [&br#"{"other":[{"pit_id":"no"}],"responses":{"pit_id":"no"}}"#[..], br#"{"respons\u0065s":[{"pit_id":"no"}]}"#, b"[{}]", b"oops"] {
            let (out, ids, _) = run(doc, 3);
            assert_eq!((out.as_bytes(), ids.len()), (doc, 0));
        }
        let (out, ids, _) = run(br#"{"responses":[{"pit_id":"cut"#, 4);
        assert_eq!((out.as_str(), ids.len()), (r#"{"responses":[{"pit_id":"cut"#, 0));
    }
}
