//! HTTP/1.1 framing shared by both sides of the proxy (RFC 9112): how a request body is framed,
//! Content-Length values and lists, Connection tokens, and the chunked transfer coding, decoded
//! a step at a time from a read buffer. The listener reads clients' messages and the node
//! client reads the nodes' with these same rules. Pure.

use bytes::{Buf, Bytes, BytesMut};

/// Why framed bytes cannot be read.
pub type FramingError = &'static str;

/// A chunk-size line or a trailer section longer than this is refused.
pub const MAX_CHUNK_LINE: usize = 4096;
const MAX_TRAILERS: usize = 64 * 1024;

/// How a request body is framed on the wire, read from a client or written to a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Exactly this many bytes (0: no body).
    Length(u64),
    Chunked,
}

/// Why a Content-Length header cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthError {
    /// A member is not a length.
    Invalid,
    /// Members, or headers, disagree.
    Differing,
}

/// The members of a comma-separated header value, trimmed.
pub fn list(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',').map(<[u8]>::trim_ascii)
}

/// Folds a Content-Length header's value (a comma list) into `length`, what the earlier
/// headers said: every member must be a length and all must agree (RFC 9112 §6.3).
pub fn agree_length(v: &[u8], length: &mut Option<u64>) -> Result<(), LengthError> {
    for part in list(v) {
        let n = content_length(part).ok_or(LengthError::Invalid)?;
        if length.is_some_and(|m| m != n) {
            return Err(LengthError::Differing);
        }
        *length = Some(n);
    }
    Ok(())
}

/// What a message's Connection headers say about the connection after it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Persistence {
    pub close: bool,
    pub keep_alive: bool,
}

impl Persistence {
    /// Notes the tokens of one Connection header's value.
    pub fn note(&mut self, v: &[u8]) {
        for t in list(v) {
            self.close |= t.eq_ignore_ascii_case(b"close");
            self.keep_alive |= t.eq_ignore_ascii_case(b"keep-alive");
        }
    }

    /// Whether the connection may carry another message (RFC 9112 §9.3): HTTP/1.0 only when
    /// asked to, HTTP/1.1 unless told to close.
    pub fn keeps_alive(&self, version: http::Version) -> bool {
        if version == http::Version::HTTP_10 {
            self.keep_alive
        } else {
            !self.close
        }
    }
}

/// A Content-Length value: digits only, as RFC 9110 §8.6 has it.
pub fn content_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 {
        return None; // 19 digits always fit in a u64
    }
    v.iter().try_fold(0u64, |n, &d| d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0')))
}

/// The buffered part of a body with `left` bytes to go (no more than `left`), taken from `buf`.
pub fn take_length(left: &mut u64, buf: &mut BytesMut) -> Bytes {
    let n = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
    *left -= n as u64;
    buf.split_to(n).freeze()
}

/// How many bytes to ask the socket for while `left` bytes of a body are to come: at most `max`.
pub fn read_room(left: u64, max: usize) -> usize {
    usize::try_from(left).map_or(max, |l| l.min(max))
}

/// Decodes a chunked body held in a read buffer, a step at a time.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Chunked {
    state: ChunkState,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Before a chunk-size line.
    #[default]
    Size,
    /// Inside a chunk, with this many bytes to come.
    Data(u64),
    /// After a chunk's data: its CRLF.
    DataEnd,
    /// After the last chunk: trailer lines until an empty one; the bytes seen so far.
    Trailers(usize),
    Done,
}

/// One step of a chunked body.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk {
    Data(Bytes),
    /// The body ended.
    End,
    /// More bytes are needed.
    More,
}

impl Chunked {
    /// Takes what it can from the front of `buf`: data, the end, or nothing yet.
    pub fn step(&mut self, buf: &mut BytesMut) -> Result<Chunk, FramingError> {
        loop {
            match self.state {
                ChunkState::Done => return Ok(Chunk::End),
                ChunkState::Size => {
                    let Some(line) = take_line(buf, MAX_CHUNK_LINE)? else { return Ok(Chunk::More) };
                    let size = chunk_size(&line)?;
                    self.state = if size == 0 { ChunkState::Trailers(0) } else { ChunkState::Data(size) };
                }
                ChunkState::Data(mut left) => {
                    if buf.is_empty() {
                        return Ok(Chunk::More);
                    }
                    let data = take_length(&mut left, buf);
                    self.state = if left == 0 { ChunkState::DataEnd } else { ChunkState::Data(left) };
                    return Ok(Chunk::Data(data));
                }
                ChunkState::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(Chunk::More);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err("a chunk does not end with CRLF");
                    }
                    buf.advance(2);
                    self.state = ChunkState::Size;
                }
                ChunkState::Trailers(seen) => {
                    let Some(line) = take_line(buf, MAX_CHUNK_LINE)? else { return Ok(Chunk::More) };
                    let seen = seen + line.len();
                    if seen > MAX_TRAILERS {
                        return Err("trailers are too large");
                    }
                    self.state = if line.trim_ascii().is_empty() { ChunkState::Done } else { ChunkState::Trailers(seen) };
                }
            }
        }
    }
}

/// The next line of `buf` (without its CRLF or LF), taken out of it; None until it is whole.
fn take_line(buf: &mut BytesMut, max: usize) -> Result<Option<BytesMut>, FramingError> {
    match memchr::memchr(b'\n', buf) {
        Some(i) if i <= max => {
            let mut line = buf.split_to(i + 1);
            line.truncate(i);
            if line.last() == Some(&b'\r') {
                line.truncate(i - 1);
            }
            Ok(Some(line))
        }
        Some(_) => Err("a chunk-size line of is too long"),
        None if buf.len() > max => Err("a chunk-size line of is too long"),
        None => Ok(None),
    }
}

/// A chunk-size line: hex digits, then optional extensions after `;` (ignored).
fn chunk_size(line: &[u8]) -> Result<u64, FramingError> {
    let digits = line.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err("has an invalid chunk size");
    }
    Ok(digits.iter().fold(0u64, |n, &d| n * 16 + u64::from(char::from(d).to_digit(16).unwrap_or(0))))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lengths_agree_and_connection_tokens() {
        let folded = |values: &[&str]| {
            let mut length = None;
            values.iter().try_for_each(|v| agree_length(v.as_bytes(), &mut length)).map(|()| length)
        };
        assert_eq!(folded(&["12"]), Ok(Some(12)));
        assert_eq!(folded(&["5", " 5 , 5"]), Ok(Some(5)));
        assert_eq!(folded(&["5", "6"]), Err(LengthError::Differing));
        assert_eq!(folded(&["5, 6"]), Err(LengthError::Differing));
        for bad in ["", "x", "+1", "-1", "1,", "0x1", "99999999999999999999"] {
            assert_eq!(folded(&[bad]), Err(LengthError::Invalid), "{bad:?}");
        }
        let said = |values: &[&str]| {
            let mut p = Persistence::default();
            values.iter().for_each(|v| p.note(v.as_bytes()));
            p
        };
        assert_eq!(said(&["Close"]), Persistence { close: true, keep_alive: false });
        assert_eq!(said(&["x", "y, Keep-Alive"]), Persistence { close: false, keep_alive: true });
        assert_eq!(said(&["upgrade", "closed, keep-alive-ish"]), Persistence::default());
        use http::Version;
        assert!(said(&[]).keeps_alive(Version::HTTP_11) && !said(&[]).keeps_alive(Version::HTTP_10));
        assert!(!said(&["close"]).keeps_alive(Version::HTTP_11) && said(&["keep-alive"]).keeps_alive(Version::HTTP_10));
    }

    /// Decodes `raw` fed in pieces of `step` bytes; the data, and what is left after the end.
    fn dechunk(raw: &[u8], step: usize) -> Result<(Vec<u8>, Vec<u8>), FramingError> {
        let (mut c, mut buf, mut data) = (Chunked::default(), BytesMut::new(), Vec::new());
        let mut fed = 0;
        loop {
            match c.step(&mut buf)? {
                Chunk::Data(d) => data.extend_from_slice(&d),
                Chunk::End => return Ok((data, [&buf[..], &raw[fed..]].concat())),
                Chunk::More if fed >= raw.len() => return Err("truncated"),
                Chunk::More => {
                    let end = (fed + step).min(raw.len());
                    buf.extend_from_slice(&raw[fed..end]);
                    fed = end;
                }
            }
        }
    }

    #[test]
    fn chunked_bodies_in_any_pieces() {
        let raw = b"5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nx-trailer: t\r\n\r\nNEXT";
        for step in [1, 2, 3, 7, 64] {
            assert_eq!(dechunk(raw, step).unwrap(), (b"hello 0123456789".to_vec(), b"NEXT".to_vec()), "step {step}");
        }
        assert_eq!(dechunk(b"0\n\n", 1).unwrap(), (vec![], vec![]));
        for bad in [&b"5\r\nhelloXX0\r\n\r\n"[..], b"g\r\n", b"\r\n", b"1234567890abcdef0\r\n", b"5\r\nhel"] {
            assert!(dechunk(bad, 4).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let long = [vec![b'1'; MAX_CHUNK_LINE + 2], b"\r\n".to_vec()].concat();
        assert!(dechunk(&long, 1024).is_err());
    }
}
