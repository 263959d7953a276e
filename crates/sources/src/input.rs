//! One input to read: its display path, its first bytes (for detection) and the rest as a stream.
//!
//! Text is decoded here for every reader: a byte-order mark is honoured and dropped (UTF-8 and
//! UTF-16), UTF-16 without one is recognized by its zero bytes, and a line that is not UTF-8 in a
//! UTF-8 file (a file that mixes encodings: a line appended by another program) is read as
//! UTF-16 or Windows-1252 instead of being turned into replacement characters. Line ends may be
//! LF, CRLF, CR CR LF or a bare CR. What was guessed is said: see [`Notes`].

use std::borrow::Cow;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;

/// Bytes read up front for format detection.
pub const HEAD_LEN: usize = 64 * 1024;

/// Longest line kept by [`Lines`]; the rest of a longer line is skipped (and reported).
pub const MAX_LINE: usize = 1024 * 1024;

/// Most notes kept for one input.
const MAX_NOTES: usize = 8;

/// What decoding an input had to guess (its encoding, its line ends), as `(place, message)`
/// pairs: they become the input's warnings once its reader is done, so a reader need not pass
/// them on itself. Each kind is noted once per input.
#[derive(Debug, Clone, Default)]
pub struct Notes(Arc<Mutex<Vec<(String, String)>>>);

impl Notes {
    /// Note something at `place`, once per `message` start (the text up to the first colon).
    pub fn push(&self, place: impl Into<String>, message: impl Into<String>) {
        let message = message.into();
        let Ok(mut v) = self.0.lock() else { return };
        let kind = message.split(':').next().unwrap_or("");
        if v.len() < MAX_NOTES && !v.iter().any(|(_, m)| m.split(':').next() == Some(kind)) {
            v.push((place.into(), message));
        }
    }

    /// Every note so far, emptying the list.
    pub fn take(&self) -> Vec<(String, String)> {
        self.0.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default()
    }
}

/// Read as much of `buf` as the stream holds (short only at its end); the count read.
pub(crate) fn read_full<R: Read + ?Sized>(src: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

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
    /// When the input was last written, when known: its zip entry's date, or the file's
    /// modification time. Readers of logs whose times have no year take the year from it.
    pub modified: Option<Timestamp>,
    /// What decoding guessed; see [`Notes`].
    pub notes: Notes,
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
        Ok(Input { path, name, head, body, file: None, size, modified: None, notes: Notes::default() })
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
            modified: None,
            notes: Notes::default(),
        }
    }

    /// The whole input as a stream (head first).
    pub fn into_read(self) -> Box<dyn Read + Send> {
        Box::new(io::Cursor::new(self.head).chain(self.body))
    }

    /// The whole input in memory; an error if it is larger than `cap`.
    pub fn into_bytes(self, cap: u64) -> io::Result<Vec<u8>> {
        // The size a container states, within the cap: the bytes arrive without the copies of a
        // growing buffer (a wrong size only costs the reserve, or the growth after it).
        let stated = self.size.map_or(0, |s| s.min(cap).saturating_add(1));
        let mut v = Vec::with_capacity(usize::try_from(stated).unwrap_or(0));
        let path = self.path.clone();
        self.into_read().take(cap + 1).read_to_end(&mut v)?;
        if v.len() as u64 > cap {
            return Err(io::Error::other(format!("{path}: larger than the {cap}-byte limit for this format")));
        }
        Ok(v)
    }

    /// The input as UTF-8 bytes: a byte-order mark (UTF-8 or UTF-16) is honoured and dropped, and
    /// UTF-16 without one is recognized by its zero bytes and decoded (and noted). Other bytes
    /// pass through unchanged: parsers of CSV, JSON and XML stop at a byte-order mark, so every
    /// reader of structured text reads through this.
    pub fn into_text(self) -> Box<dyn Read + Send> {
        let utf16 = utf16_without_bom(&self.head);
        if let Some(e) = utf16 {
            self.notes.push(
                "byte 0",
                format!("{} text without a byte-order mark: recognized by its zero bytes and read as such", e.name()),
            );
        }
        Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new()
                .bom_sniffing(true)
                .utf8_passthru(true)
                .strip_bom(true)
                .encoding(utf16)
                .build(self.into_read()),
        )
    }

    /// The input as decoded text lines (see [`Input::into_text`] and [`Lines`]).
    pub fn into_lines(self) -> Lines {
        let notes = self.notes.clone();
        Lines {
            inner: BufReader::with_capacity(256 * 1024, self.into_text()),
            line: 0,
            raw: Vec::new(),
            pending_cr: false,
            notes,
            pieces: false,
            rest: false,
        }
    }
}

/// UTF-16 text without a byte-order mark, recognized by its zero bytes.
pub fn utf16_without_bom(head: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    if head.len() < 8 || head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return None;
    }
    let sample = &head[..head.len().min(512) & !1];
    utf16_by_zeros(sample)
}

/// Which UTF-16 the zero bytes of `sample` (of even length) say, if any: most odd bytes zero and
/// few even ones is little-endian ASCII-range text, the reverse big-endian.
fn utf16_by_zeros(sample: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let odd_zero = sample.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
    let even_zero = sample.iter().step_by(2).filter(|b| **b == 0).count();
    let half = sample.len() / 2;
    if half == 0 {
        None
    } else if odd_zero * 10 > half * 8 && even_zero * 10 < half {
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
        // Checked whole first: the common case, and faster than the lossy walk.
        None => std::str::from_utf8(head).map_or_else(|_| String::from_utf8_lossy(head), Cow::Borrowed),
    }
}

/// An input's first bytes as the readers' detection sees them. Every reader scores the same
/// head in turn, so what they need of it (the decoded text, its lower-case form, whether it is
/// text at all) is worked out once, when first asked, instead of once per reader.
#[derive(Debug)]
pub struct Head<'a> {
    bytes: &'a [u8],
    text: std::cell::OnceCell<Cow<'a, str>>,
    lower: std::cell::OnceCell<String>,
    textual: std::cell::OnceCell<bool>,
}

impl<'a> Head<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Head {
            bytes,
            text: std::cell::OnceCell::new(),
            lower: std::cell::OnceCell::new(),
            textual: std::cell::OnceCell::new(),
        }
    }

    /// The bytes as read.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// [`head_text`] of the bytes.
    pub fn text(&self) -> &str {
        self.text.get_or_init(|| head_text(self.bytes))
    }

    /// The text with its ASCII letters lower-cased.
    pub fn lower(&self) -> &str {
        self.lower.get_or_init(|| self.text().to_ascii_lowercase())
    }

    /// [`looks_textual`] of the bytes.
    pub fn textual(&self) -> bool {
        *self.textual.get_or_init(|| looks_textual(self.bytes))
    }
}

thread_local! {
    /// The last head [`looks_textual`] judged, and its answer: every reader's detection asks
    /// about the same head in turn.
    static LAST_JUDGED: std::cell::RefCell<(Vec<u8>, bool)> = const { std::cell::RefCell::new((Vec::new(), false)) };
}

/// True when the head looks like text rather than binary data. Lines of UTF-16 in a file of
/// another encoding (see [`Lines`]) count as text.
pub fn looks_textual(head: &[u8]) -> bool {
    if let Some(known) =
        LAST_JUDGED.with(|l| l.try_borrow().ok().filter(|l| !head.is_empty() && l.0 == head).map(|l| l.1))
    {
        return known;
    }
    let answer = judge_textual(head);
    LAST_JUDGED.with(|l| {
        if let Ok(mut l) = l.try_borrow_mut() {
            l.0.clear();
            l.0.extend_from_slice(head);
            l.1 = answer;
        }
    });
    answer
}

fn judge_textual(head: &[u8]) -> bool {
    let text = head_text(head);
    if text.is_empty() {
        return false;
    }
    if mostly_text(&text) {
        return true;
    }
    let utf16 = head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) || utf16_without_bom(head).is_some();
    if utf16 || memchr::memchr(0, head).is_none() {
        return false;
    }
    let mut decoded = String::with_capacity(head.len());
    for line in head.split(|b| *b == b'\n') {
        match utf16_line(line) {
            Some((_, t)) if memchr::memchr(0, line).is_some() => decoded.push_str(&t),
            _ => decoded.push_str(&String::from_utf8_lossy(line).replace('\0', "")),
        }
        decoded.push('\n');
    }
    mostly_text(&decoded)
}

/// Fewer than one character in twenty is a replacement character or a control other than a
/// line end, tab or form feed.
fn mostly_text(text: &str) -> bool {
    if text.is_ascii() {
        // Counted a block at a time without branches, which the compiler turns into vector
        // compares: a byte at a time, this was most of what detection cost on a small log.
        let bad: usize = text
            .as_bytes()
            .chunks(128)
            .map(|block| {
                let bad_in = block.iter().map(|&b| {
                    let control = u8::from(b < 0x20) | u8::from(b == 0x7F);
                    let line_end =
                        u8::from(b == b'\n') | u8::from(b == b'\r') | u8::from(b == b'\t') | u8::from(b == 0x0C);
                    control & (line_end ^ 1)
                });
                usize::from(bad_in.fold(0u8, u8::wrapping_add))
            })
            .sum();
        return bad * 20 < text.len();
    }
    let bad = text
        .chars()
        .filter(|c| *c == '\u{FFFD}' || (c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0c')))
        .count();
    bad * 20 < text.chars().count()
}

/// Decoded lines with their numbers. A line ends at LF, CRLF (and CR CR LF, as a CRLF written
/// through a text-mode stream gives) or a bare CR; long lines are cut or, for readers that ask,
/// handed over in pieces ([`Lines::in_pieces`]). A line that is not UTF-8 is read as UTF-16 when
/// its zero bytes say so, else as Windows-1252, and noted.
pub struct Lines {
    inner: BufReader<Box<dyn Read + Send>>,
    line: u64,
    raw: Vec<u8>,
    /// The last chunk ended on a CR: whether it ended a line depends on the next byte.
    pending_cr: bool,
    notes: Notes,
    /// Hand a long line over in pieces of [`MAX_LINE`] instead of cutting it.
    pieces: bool,
    /// The next read continues a line handed over in pieces.
    rest: bool,
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
    /// The line was longer than [`MAX_LINE`] bytes and was cut (or, in pieces, continues in the
    /// next piece).
    pub truncated: bool,
}

/// How a line ended.
enum End {
    /// At a line end (consumed).
    Line,
    /// At a bare CR.
    BareCr,
    /// At the end of the input.
    Eof,
    /// At the length limit, in pieces: the line goes on in the next piece.
    Piece,
}

impl Lines {
    /// Hand lines longer than [`MAX_LINE`] over in pieces (each with `truncated` set but the
    /// last, all with the line's number) instead of skipping the rest: for readers that look for
    /// codes anywhere, such as in a JSON document written on one line.
    #[must_use]
    pub fn in_pieces(mut self) -> Self {
        self.pieces = true;
        self
    }

    /// Read the next line into `buf` (cleared first). `None` at the end of the input.
    pub fn next_line(&mut self, buf: &mut String) -> io::Result<Option<LineInfo>> {
        buf.clear();
        self.raw.clear();
        let mut truncated = false;
        let mut any = false;
        let end = loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break End::Eof;
            }
            any = true;
            if self.pending_cr {
                self.pending_cr = false;
                match chunk[0] {
                    b'\n' => {
                        self.inner.consume(1);
                        break End::Line;
                    }
                    b'\r' => {
                        self.inner.consume(1);
                        self.pending_cr = true;
                    }
                    // A UTF-16 CR (`\r\0`) inside a line of another encoding: not a line end.
                    0 => truncated |= push(&mut self.raw, b"\r"),
                    _ => break End::BareCr,
                }
                continue;
            }
            // In pieces, a piece ends at the length limit; otherwise the rest is skipped.
            let view = if self.pieces {
                let room = MAX_LINE.saturating_sub(self.raw.len());
                if room == 0 {
                    break End::Piece;
                }
                &chunk[..chunk.len().min(room)]
            } else {
                chunk
            };
            match memchr::memchr2(b'\n', b'\r', view) {
                Some(i) if view[i] == b'\n' => {
                    truncated |= push(&mut self.raw, &view[..i]);
                    self.inner.consume(i + 1);
                    break End::Line;
                }
                Some(i) => {
                    let j = i + view[i..].iter().take_while(|b| **b == b'\r').count();
                    if j == view.len() {
                        truncated |= push(&mut self.raw, &view[..i]);
                        self.inner.consume(j);
                        self.pending_cr = true;
                        continue;
                    }
                    match view[j] {
                        b'\n' => {
                            truncated |= push(&mut self.raw, &view[..i]);
                            self.inner.consume(j + 1);
                            break End::Line;
                        }
                        0 => {
                            truncated |= push(&mut self.raw, &view[..j]);
                            self.inner.consume(j);
                        }
                        _ => {
                            truncated |= push(&mut self.raw, &view[..i]);
                            self.inner.consume(j);
                            break End::BareCr;
                        }
                    }
                }
                None => {
                    let n = view.len();
                    truncated |= push(&mut self.raw, view);
                    self.inner.consume(n);
                }
            }
        };
        self.pending_cr = false;
        if !any {
            return Ok(None);
        }
        if matches!(end, End::BareCr) {
            self.notes.push(
                format!("line {}", self.line + 1),
                "lines end with a bare CR: read as line ends (a file written with classic Mac line ends, \
                 or console output)",
            );
        }
        // The pieces of a long line all carry its number; all but the last are marked truncated.
        if !self.rest {
            self.line += 1;
        }
        self.rest = matches!(end, End::Piece);
        truncated |= self.rest;
        while matches!(self.raw.last(), Some(b'\n' | b'\r')) {
            self.raw.pop();
        }
        self.decode(buf, truncated);
        Ok(Some(LineInfo { number: self.line, truncated }))
    }

    /// The raw line as text, noting a line that is not UTF-8.
    fn decode(&mut self, buf: &mut String, truncated: bool) {
        let raw = &self.raw[..];
        // The zero byte left of the LF that ended a UTF-16 line.
        if raw == [0] {
            return;
        }
        if memchr::memchr(0, raw).is_some() {
            if let Some((enc, text)) = utf16_line(raw) {
                self.notes.push(
                    format!("line {}", self.line),
                    format!(
                        "mixed encodings: {} text from this line on, in a file that is not UTF-16; read as {}",
                        enc.name(),
                        enc.name()
                    ),
                );
                buf.push_str(&text);
                return;
            }
        }
        match std::str::from_utf8(raw) {
            Ok(s) => buf.push_str(s),
            // A line cut at the length limit may end inside a character.
            Err(e) if truncated && e.error_len().is_none() => buf.push_str(&String::from_utf8_lossy(raw)),
            Err(_) => {
                self.notes.push(
                    format!("line {}", self.line),
                    "not UTF-8: this line (and any like it) read as Windows-1252; the file mixes encodings \
                     or is written in a Windows code page",
                );
                buf.push_str(&encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0);
            }
        }
    }
}

/// Append what fits under [`MAX_LINE`]; true when something did not fit.
fn push(raw: &mut Vec<u8>, bytes: &[u8]) -> bool {
    let room = MAX_LINE.saturating_sub(raw.len());
    raw.extend_from_slice(&bytes[..bytes.len().min(room)]);
    bytes.len() > room
}

/// A line of UTF-16 inside a stream of another encoding. Split at the LF byte, a little-endian
/// line starts with the zero byte of the previous LF and ends with `\r\0`.
fn utf16_line(raw: &[u8]) -> Option<(&'static encoding_rs::Encoding, String)> {
    let body = if raw.first() == Some(&0) && raw.len() % 2 == 1 { &raw[1..] } else { raw };
    let body = &body[..body.len() & !1];
    let enc = utf16_by_zeros(body)?;
    let text = enc.decode_without_bom_handling(body).0;
    Some((enc, text.trim_end_matches(['\r', '\n', '\0']).trim_start_matches('\0').to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size a container states only reserves room: too small, too large or beyond the cap,
    /// the bytes read and the cap's error are those of the stream.
    #[test]
    fn stated_sizes_change_nothing_read() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        for stated in [None, Some(0), Some(10), Some(200_000), Some(300_000), Some(u64::MAX)] {
            let input = |cap_data: &[u8]| {
                Input::new("p".into(), "n".into(), Box::new(io::Cursor::new(cap_data.to_vec())), stated).expect("reads")
            };
            assert!(input(&data).into_bytes(1 << 20).expect("within the cap") == data, "{stated:?}");
            let err = input(&data).into_bytes(150_000).expect_err("beyond the cap");
            assert!(err.to_string().contains("150000-byte limit"), "{stated:?}: {err}");
        }
    }

    /// [`mostly_text`]'s count of ASCII controls as it was, a byte at a time.
    fn ascii_mostly_text_before(text: &str) -> bool {
        let bad =
            text.bytes().filter(|b| (b.is_ascii_control()) && !matches!(b, b'\n' | b'\r' | b'\t' | b'\x0c')).count();
        bad * 20 < text.len()
    }

    proptest::proptest! {
        #[test]
        fn ascii_controls_counted_by_blocks_as_one_by_one(
            bytes in proptest::collection::vec(proptest::prop_oneof![0u8..0x20, 0x20u8..0x80, proptest::strategy::Just(b'\n')], 0..700),
            fill in 0usize..300,
        ) {
            let mut bytes = bytes;
            // Long runs of plain text around the controls, across block edges.
            bytes.splice(0..0, std::iter::repeat_n(b'a', fill));
            let text = std::str::from_utf8(&bytes).unwrap();
            proptest::prop_assert_eq!(mostly_text(text), ascii_mostly_text_before(text));
        }
    }

    #[test]
    fn ascii_controls_at_the_limit() {
        // One control in twenty bytes is too many, one fewer is not, wherever they sit.
        for n in [20, 127, 128, 129, 256, 2560, 65536] {
            for bad in [n / 20 - 1, n / 20, n / 20 + 1] {
                for stride in [1, 7, 20] {
                    let mut b = vec![b'x'; n];
                    for i in 0..bad {
                        b[(i * stride) % n] = [0u8, 0x7F, 0x1B, 0x0B][i % 4];
                    }
                    let text = std::str::from_utf8(&b).unwrap();
                    assert_eq!(mostly_text(text), ascii_mostly_text_before(text), "{n} {bad} {stride}");
                }
            }
        }
    }

    fn lines_noted(bytes: &[u8]) -> (Vec<String>, Vec<(String, String)>) {
        let input = Input::from_bytes("t", "t", bytes.to_vec());
        let notes = input.notes.clone();
        let mut l = input.into_lines();
        let mut out = Vec::new();
        let mut buf = String::new();
        while l.next_line(&mut buf).unwrap().is_some() {
            out.push(buf.clone());
        }
        (out, notes.take())
    }

    fn lines(bytes: &[u8]) -> Vec<String> {
        lines_noted(bytes).0
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
        let (got, notes) = lines_noted(&no_bom);
        assert_eq!(got, ["hello world", "second"]);
        assert!(notes[0].1.starts_with("UTF-16LE text without a byte-order mark"), "{notes:?}");
        // Bytes that are not UTF-8 are read as Windows-1252, and said.
        let (got, notes) = lines_noted(b"ok\nGr\xfc\xdfe \x80 bad\n");
        assert_eq!(got, ["ok", "Gr\u{fc}\u{df}e \u{20ac} bad"]);
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].0, "line 2");
        assert_eq!(lines(b""), Vec::<String>::new());
        assert_eq!(lines(b"\xEF\xBB\xBFfirst\nsecond"), ["first", "second"]);
    }

    #[test]
    fn line_ends_of_every_kind() {
        assert_eq!(lines(b"a\r\r\nb\rc\r\nd\r"), ["a", "b", "c", "d"]);
        let (_, notes) = lines_noted(b"a\rb");
        assert!(notes[0].1.contains("bare CR"), "{notes:?}");
        // A CR that is the last byte of a chunk still pairs with the LF after it.
        for n in [8 * 1024 - 1, 8 * 1024, 64 * 1024 - 1, 256 * 1024 - 1] {
            let mut big = vec![b'x'; n];
            big.extend_from_slice(b"\r\nnext\r\r\nlast");
            let got = lines(&big);
            assert_eq!((got.len(), got[1].as_str(), got[2].as_str()), (3, "next", "last"), "{n}");
        }
    }

    #[test]
    fn utf16_appended_to_a_utf8_file() {
        let mut bytes = b"2025-07-15 first line in UTF-8\n".to_vec();
        for u in "appended AADSTS50076\r\nsecond appended\r\n".encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        let (got, notes) = lines_noted(&bytes);
        assert_eq!(&got[..3], ["2025-07-15 first line in UTF-8", "appended AADSTS50076", "second appended"]);
        assert!(got[3..].iter().all(String::is_empty), "{got:?}");
        assert!(notes.iter().any(|(p, m)| p == "line 2" && m.starts_with("mixed encodings: UTF-16LE")), "{notes:?}");
    }

    #[test]
    fn long_lines_are_cut_and_reading_continues() {
        let mut big = vec![b'a'; MAX_LINE + 5000];
        big.extend_from_slice(b"\nnext\n");
        let mut l = Input::from_bytes("t", "t", big.clone()).into_lines();
        let mut buf = String::new();
        let first = l.next_line(&mut buf).unwrap().unwrap();
        assert!(first.truncated);
        assert_eq!(buf.len(), MAX_LINE);
        let second = l.next_line(&mut buf).unwrap().unwrap();
        assert_eq!((second.number, buf.as_str()), (2, "next"));
        // In pieces, nothing is skipped and the pieces keep the line's number.
        let mut l = Input::from_bytes("t", "t", big).into_lines().in_pieces();
        let mut got = Vec::new();
        while let Some(info) = l.next_line(&mut buf).unwrap() {
            got.push((info.number, info.truncated, buf.len()));
        }
        assert_eq!(got, [(1, true, MAX_LINE), (1, false, 5000), (2, false, 4)]);
    }

    #[test]
    fn text_detection() {
        assert!(looks_textual(b"2025-07-15 hello"));
        let mut mixed = b"2025-07-15 08:30:11 a line of UTF-8\n".to_vec();
        mixed.extend("then one in UTF-16LE\r\n".encode_utf16().flat_map(u16::to_le_bytes));
        assert!(looks_textual(&mixed));
        assert!(!looks_textual(&[0u8, 1, 2, 3, 200, 201, 7, 8, 0, 0, 14, 15]));
        assert_eq!(head_text(b"\xEF\xBB\xBFabc"), "abc");
    }

    /// The remembered answer is the one judging again gives, head after head and back; the
    /// ASCII count is the character count.
    #[test]
    fn text_detection_remembered_and_counted_alike() {
        let heads: [&[u8]; 6] = [
            b"plain text\n",
            b"\x01\x02\x03\x04 mostly controls",
            b"ElfFile\0\0\0\x01\x02",
            "caf\u{e9} \u{1}\u{2}".as_bytes(),
            b"\xff\xfeh\0i\0",
            b"",
        ];
        for round in 0..3 {
            for (i, h) in heads.iter().enumerate() {
                let h = if round == 1 { heads[heads.len() - 1 - i] } else { h };
                assert_eq!(looks_textual(h), judge_textual(h), "{h:?}");
                assert_eq!(looks_textual(h), judge_textual(h), "{h:?}");
            }
        }
        for text in ["a\u{1}b\tc\n", "\u{7f}\u{7f}abcdefghijklmnopqrstuvwxyz", &"\u{1}x".repeat(30)] {
            let bad = text.chars().filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0c')).count();
            assert_eq!(mostly_text(text), bad * 20 < text.chars().count(), "{text:?}");
        }
    }
}
