//! One input to read: its display path, its first bytes (for detection) and the rest as a stream.

use std::borrow::Cow;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;

/// Bytes read up front for format detection.
pub const HEAD_LEN: usize = 64 * 1024;

/// Longest line kept by [`Lines`]; the rest of a longer line is skipped (and reported).
pub const MAX_LINE: usize = 1024 * 1024;

/// An input, ready for a reader.
pub struct Input {
    /// Display path: `bundle.zip!App/Logs.txt`, `-` for standard input.
    pub path: String,
    /// The path inside its container (or the file name), forward slashes.
    pub name: String,
    /// The first bytes (up to [`HEAD_LEN`]).
    pub head: Vec<u8>,
    body: Box<dyn Read + Send>,
    /// The file on disk, when the input is a plain file (readers that need to seek can reopen it).
    pub file: Option<PathBuf>,
    /// Size in bytes, when known.
    pub size: Option<u64>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input").field("path", &self.path).field("name", &self.name).field("size", &self.size).finish()
    }
}

impl Input {
    /// Build an input from a stream, reading its head.
    pub fn new(path: String, name: String, mut body: Box<dyn Read + Send>, size: Option<u64>) -> io::Result<Self> {
        let mut head = Vec::with_capacity(HEAD_LEN.min(size.unwrap_or(HEAD_LEN as u64) as usize));
        (&mut body).take(HEAD_LEN as u64).read_to_end(&mut head)?;
        Ok(Input { path, name, head, body, file: None, size })
    }

    /// An input over bytes already in memory.
    pub fn from_bytes(path: &str, name: &str, bytes: Vec<u8>) -> Self {
        let size = bytes.len() as u64;
        let split = bytes.len().min(HEAD_LEN);
        let mut head = bytes;
        let rest = head.split_off(split);
        Input {
            path: path.to_owned(),
            name: name.to_owned(),
            head,
            body: Box::new(io::Cursor::new(rest)),
            file: None,
            size: Some(size),
        }
    }

    /// The whole input as a stream (head first).
    pub fn into_read(self) -> Box<dyn Read + Send> {
        Box::new(io::Cursor::new(self.head).chain(self.body))
    }

    /// The whole input in memory; an error if it is larger than `cap`.
    pub fn into_bytes(self, cap: u64) -> io::Result<Vec<u8>> {
        let mut v = Vec::new();
        let path = self.path.clone();
        self.into_read().take(cap + 1).read_to_end(&mut v)?;
        if v.len() as u64 > cap {
            return Err(io::Error::other(format!("{path}: larger than the {cap}-byte limit for this format")));
        }
        Ok(v)
    }

    /// The input as decoded text lines (UTF-8, or UTF-16 with or without a byte-order mark).
    pub fn into_lines(self) -> Lines {
        let utf16 = utf16_without_bom(&self.head);
        let decoder = encoding_rs_io::DecodeReaderBytesBuilder::new()
            .bom_sniffing(true)
            .utf8_passthru(true)
            .encoding(utf16)
            .build(self.into_read());
        Lines { inner: BufReader::with_capacity(256 * 1024, decoder), line: 0, raw: Vec::new() }
    }
}

/// UTF-16 text without a byte-order mark, recognized by its zero bytes.
pub fn utf16_without_bom(head: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    if head.len() < 8 || head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return None;
    }
    let sample = &head[..head.len().min(512) & !1];
    let odd_zero = sample.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
    let even_zero = sample.iter().step_by(2).filter(|b| **b == 0).count();
    let half = sample.len() / 2;
    if odd_zero * 10 > half * 8 && even_zero * 10 < half {
        Some(encoding_rs::UTF_16LE)
    } else if even_zero * 10 > half * 8 && odd_zero * 10 < half {
        Some(encoding_rs::UTF_16BE)
    } else {
        None
    }
}

/// The head decoded to text for content detection (byte-order marks and UTF-16 handled).
pub fn head_text(head: &[u8]) -> Cow<'_, str> {
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8_lossy(&head[3..]);
    }
    let enc = if head.starts_with(&[0xFF, 0xFE]) {
        Some((encoding_rs::UTF_16LE, 2))
    } else if head.starts_with(&[0xFE, 0xFF]) {
        Some((encoding_rs::UTF_16BE, 2))
    } else {
        utf16_without_bom(head).map(|e| (e, 0))
    };
    match enc {
        Some((e, skip)) => Cow::Owned(e.decode_without_bom_handling(&head[skip..]).0.into_owned()),
        None => String::from_utf8_lossy(head),
    }
}

/// True when the head looks like text rather than binary data.
pub fn looks_textual(head: &[u8]) -> bool {
    let text = head_text(head);
    if text.is_empty() {
        return false;
    }
    let bad = text
        .chars()
        .filter(|c| *c == '\u{FFFD}' || (c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0c')))
        .count();
    bad * 20 < text.chars().count()
}

/// Decoded lines with their numbers. Invalid UTF-8 is replaced, `\r` dropped, long lines cut.
pub struct Lines {
    inner: BufReader<encoding_rs_io::DecodeReaderBytes<Box<dyn Read + Send>, Vec<u8>>>,
    line: u64,
    raw: Vec<u8>,
}

impl std::fmt::Debug for Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lines").field("line", &self.line).finish()
    }
}

/// One line read by [`Lines::next_line`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineInfo {
    /// 1-based line number.
    pub number: u64,
    /// The line was longer than [`MAX_LINE`] bytes and was cut.
    pub truncated: bool,
}

impl Lines {
    /// Read the next line into `buf` (cleared first). `None` at the end of the input.
    pub fn next_line(&mut self, buf: &mut String) -> io::Result<Option<LineInfo>> {
        buf.clear();
        self.raw.clear();
        let mut truncated = false;
        let mut any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            any = true;
            let (take, done) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            let room = MAX_LINE.saturating_sub(self.raw.len());
            if room < take {
                truncated = true;
            }
            self.raw.extend_from_slice(&chunk[..take.min(room)]);
            self.inner.consume(take);
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        while matches!(self.raw.last(), Some(b'\n' | b'\r')) {
            self.raw.pop();
        }
        buf.push_str(&String::from_utf8_lossy(&self.raw));
        self.line += 1;
        Ok(Some(LineInfo { number: self.line, truncated }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(bytes: &[u8]) -> Vec<String> {
        let mut l = Input::from_bytes("t", "t", bytes.to_vec()).into_lines();
        let mut out = Vec::new();
        let mut buf = String::new();
        while l.next_line(&mut buf).unwrap().is_some() {
            out.push(buf.clone());
        }
        out
    }

    #[test]
    fn decodes_utf8_utf16_and_junk() {
        assert_eq!(lines(b"a\r\nb\n\nc"), ["a", "b", "", "c"]);
        let mut le = vec![0xFF, 0xFE];
        for u in "x\r\ny".encode_utf16() {
            le.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(lines(&le), ["x", "y"]);
        let no_bom: Vec<u8> = "hello world\nsecond".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(lines(&no_bom), ["hello world", "second"]);
        assert_eq!(lines(b"ok \xff\xfe bad\n"), ["ok \u{FFFD}\u{FFFD} bad"]);
        assert_eq!(lines(b""), Vec::<String>::new());
    }

    #[test]
    fn long_lines_are_cut_and_reading_continues() {
        let mut big = vec![b'a'; MAX_LINE + 5000];
        big.extend_from_slice(b"\nnext\n");
        let mut l = Input::from_bytes("t", "t", big).into_lines();
        let mut buf = String::new();
        let first = l.next_line(&mut buf).unwrap().unwrap();
        assert!(first.truncated);
        assert_eq!(buf.len(), MAX_LINE);
        let second = l.next_line(&mut buf).unwrap().unwrap();
        assert_eq!((second.number, buf.as_str()), (2, "next"));
    }

    #[test]
    fn text_detection() {
        assert!(looks_textual(b"2025-07-15 hello"));
        assert!(!looks_textual(&[0u8, 1, 2, 3, 200, 201, 7, 8, 0, 0, 14, 15]));
        assert_eq!(head_text(b"\xEF\xBB\xBFabc"), "abc");
    }
}
