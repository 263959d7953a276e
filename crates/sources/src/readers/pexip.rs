//! Pexip Infinity support and administrator logs: a syslog stamp and host, the node's own
//! stamp, then `Key="value"` pairs (`Level`, `Name`, `Message`, `Call-id`, `Error`, `Reason`,
//! `Detail`…). The Teams Connector errors (`Teams API request failed` with `Error="401"`), the
//! disconnect reasons of failed gateway calls and Azure's denial-of-service notice become the
//! knowledge base's PEXIP codes.
//!
//! Also home of [`message_codes`], which finds the knowledge base's message texts (Lync client
//! dialogs, Pexip errors) in a line, including the short ones free-text extraction leaves out.

use std::sync::{LazyLock, OnceLock};

use aho_corasick::AhoCorasick;

use uctriage_evidence::{time, FieldName};
use uctriage_kb::{Code, Context, Kind};

use super::{codes_in, kb, Emitter, ReadError, Reader};
use crate::input::{Head, Input};

#[derive(Debug)]
pub struct PexipLog;

/// Fewest literal characters an alias needs to be matched inside a line.
const MIN_LITERAL: usize = 12;

/// An alias as lower-case literal pieces (split at `<placeholders>`), and its code.
type Pattern = (Vec<String>, Code);

/// Lower case, curly quotes straightened, whitespace collapsed: how aliases and lines are compared.
fn fold(s: &str) -> String {
    if s.is_ascii() {
        fold_ascii(s)
    } else {
        fold_any(s)
    }
}

/// [`fold`] of ASCII text (most logs): words copied whole, then lower-cased in one pass. The
/// ASCII characters `split_whitespace` splits at are the space, tab, line feed, vertical tab, form
/// feed and carriage return.
fn fold_ascii(s: &str) -> String {
    let bytes = s.as_bytes();
    let space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r');
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    loop {
        while i < bytes.len() && space(bytes[i]) {
            i += 1;
        }
        if i == bytes.len() {
            break;
        }
        let start = i;
        while i < bytes.len() && !space(bytes[i]) {
            i += 1;
        }
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(&bytes[start..i]);
    }
    out.make_ascii_lowercase();
    // ASCII in, ASCII out.
    String::from_utf8(out).unwrap_or_default()
}

/// [`fold`] of any text: a byte at a time where it is ASCII, a character at a time elsewhere.
fn fold_any(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut gap = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = match bytes[i] {
            b if b.is_ascii() => char::from(b),
            _ => s[i..].chars().next().unwrap_or(char::REPLACEMENT_CHARACTER),
        };
        i += c.len_utf8();
        if c.is_whitespace() {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push(' ');
        }
        gap = false;
        out.push(match c {
            '\u{2018}' | '\u{2019}' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            c => c.to_ascii_lowercase(),
        });
    }
    out
}

/// The patterns of a kind, and an automaton over their first pieces: a pattern can match only
/// where its first piece is, so a line is searched only for the patterns whose first piece it
/// holds (most lines hold none).
struct Patterns {
    list: Vec<Pattern>,
    /// Built on first use from `list` and `first_of`: detection of an ASCII head needs only
    /// `spread`, and building it cost every scan of a text file a millisecond.
    firsts: OnceLock<AhoCorasick>,
    /// For each pattern, the automaton's number of its first piece.
    first_of: Vec<usize>,
    /// The first pieces as words, for ASCII text that is only lower-cased (see
    /// [`any_message_possible_in`]); `None` if a piece has an empty word (a space at an end),
    /// which this search would not treat as folding does.
    spread: Option<Vec<Spread>>,
}

impl Patterns {
    fn firsts(&self) -> &AhoCorasick {
        self.firsts.get_or_init(|| {
            // The automaton's pattern k is the first piece of the patterns whose `first_of` is k.
            let mut pieces = vec![""; self.first_of.iter().max().map_or(0, |k| k + 1)];
            for ((p, _), &k) in self.list.iter().zip(&self.first_of) {
                pieces[k] = p[0].as_str();
            }
            AhoCorasick::new(&pieces).expect("alias pieces build")
        })
    }
}

/// A first piece as its words (folding left one space between each), and a searcher for its
/// longest word, from which the others are checked on either side. `None` for a piece that is
/// not ASCII, which ASCII text cannot hold.
struct Spread {
    words: Vec<String>,
    key: usize,
    finder: memchr::memmem::Finder<'static>,
}

impl Spread {
    fn new(piece: &str) -> Option<Spread> {
        if !piece.is_ascii() {
            return None;
        }
        let words: Vec<String> = piece.split(' ').map(str::to_owned).collect();
        let key = (0..words.len()).max_by_key(|i| words[*i].len())?;
        let finder = memchr::memmem::Finder::new(words[key].as_bytes()).into_owned();
        Some(Spread { words, key, finder })
    }

    /// Whether `fold` of the ASCII text whose lower-cased form is `lower` holds the piece: its
    /// longest word, with the words before and after it each across a run of whitespace (the
    /// one space folding makes of it). A word inside the piece is a whole word of the text; the
    /// first may be the end of one and the last the start of one.
    fn in_ascii(&self, lower: &[u8]) -> bool {
        let space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r');
        let last = self.words.len() - 1;
        self.finder.find_iter(lower).any(|at| {
            let mut start = at;
            for w in self.words[..self.key].iter().rev() {
                if start == 0 || !space(lower[start - 1]) {
                    return false;
                }
                while start > 0 && space(lower[start - 1]) {
                    start -= 1;
                }
                if !lower[..start].ends_with(w.as_bytes()) {
                    return false;
                }
                start -= w.len();
            }
            let mut end = at + self.words[self.key].len();
            for w in &self.words[self.key + 1..=last] {
                if end == lower.len() || !space(lower[end]) {
                    return false;
                }
                while end < lower.len() && space(lower[end]) {
                    end += 1;
                }
                if !lower[end..].starts_with(w.as_bytes()) {
                    return false;
                }
                end += w.len();
            }
            true
        })
    }
}

fn patterns(kind: Kind) -> &'static Patterns {
    static LYNC: OnceLock<Patterns> = OnceLock::new();
    static PEXIP: OnceLock<Patterns> = OnceLock::new();
    let cell = match kind {
        Kind::Lync => &LYNC,
        _ => &PEXIP,
    };
    cell.get_or_init(|| {
        let list = pattern_list(kind);
        let mut firsts: Vec<&str> = Vec::new();
        let mut first_of = Vec::with_capacity(list.len());
        for (pieces, _) in &list {
            let first = pieces[0].as_str();
            first_of.push(firsts.iter().position(|f| *f == first).unwrap_or_else(|| {
                firsts.push(first);
                firsts.len() - 1
            }));
        }
        let whole_words = firsts.iter().all(|f| f.split(' ').all(|w| !w.is_empty()));
        let spread = whole_words.then(|| firsts.iter().filter_map(|f| Spread::new(f)).collect());
        Patterns { list, firsts: OnceLock::new(), first_of, spread }
    })
}

fn pattern_list(kind: Kind) -> Vec<Pattern> {
    let mut v: Vec<Pattern> = Vec::new();
    for e in kb().entries().iter().filter(|e| e.code.kind() == kind) {
        for a in &e.aliases {
            let folded = fold(a);
            let mut pieces = Vec::new();
            for (i, chunk) in folded.split('<').enumerate() {
                let lit = if i == 0 { chunk } else { chunk.split_once('>').map_or(chunk, |(_, r)| r) };
                let lit = lit.trim().trim_end_matches(['.', ':']);
                if !lit.is_empty() {
                    pieces.push(lit.to_owned());
                }
            }
            if pieces.iter().map(String::len).sum::<usize>() >= MIN_LITERAL {
                v.push((pieces, e.code.clone()));
            }
        }
    }
    // Longer aliases first, so the most specific entry is found first.
    v.sort_by_key(|(p, _)| std::cmp::Reverse(p.iter().map(String::len).sum::<usize>()));
    v
}

/// The codes of `kind` (Lync or Pexip) whose message text appears in `text`.
pub(super) fn message_codes(text: &str, kind: Kind) -> Vec<Code> {
    let line = fold(text);
    let mut out: Vec<Code> = Vec::new();
    let all = patterns(kind);
    let mut present: Vec<bool> = Vec::new();
    for m in all.firsts().find_overlapping_iter(&line) {
        if present.is_empty() {
            present.resize(all.firsts().patterns_len(), false);
        }
        present[m.pattern().as_usize()] = true;
    }
    if present.is_empty() {
        return out;
    }
    for ((pieces, code), first) in all.list.iter().zip(&all.first_of) {
        if !present[*first] || out.contains(code) {
            continue;
        }
        if in_order(&line, pieces) {
            out.push(code.clone());
        }
    }
    out
}

/// False when no line of `text` can hold a message of `kind`: the first piece of every pattern
/// is missing from the whole text, folded once. Folding joins the words of all lines with
/// single spaces, so each line's folded form is a stretch of the whole's, and a first piece in
/// any line is in the whole too. (True says only that some line may.)
pub(super) fn any_message_possible(text: &str, kind: Kind) -> bool {
    patterns(kind).firsts().is_match(&fold(text))
}

/// [`any_message_possible`] of a head's text. Most heads are ASCII: their first pieces are found
/// in the lower-cased text the readers share, each from its longest word, instead of in a folded
/// copy of the whole head.
pub(super) fn any_message_possible_in(head: &Head<'_>, kind: Kind) -> bool {
    match &patterns(kind).spread {
        Some(spread) if head.text().is_ascii() => {
            let lower = head.lower().as_bytes();
            spread.iter().any(|s| s.in_ascii(lower))
        }
        _ => any_message_possible(head.text(), kind),
    }
}

/// Whether every piece of a message text appears in `line`, each after the one before.
fn in_order(line: &str, pieces: &[String]) -> bool {
    let mut rest = line;
    pieces.iter().all(|p| match rest.find(p.as_str()) {
        Some(at) => {
            rest = &rest[at + p.len()..];
            true
        }
        None => false,
    })
}

/// `Key="value"` pairs (escaped quotes and backslashes undone; unquoted values up to a space).
pub(super) fn pairs(s: &str) -> Vec<(String, String)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() && out.len() < 200 {
        // A key: letters, digits, `-`, `_`, `.`, right after a space or the start.
        if (i == 0 || b[i - 1] == b' ') && b[i].is_ascii_alphabetic() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'-' | b'_' | b'.')) {
                i += 1;
            }
            if i < b.len() && b[i] == b'=' {
                let key = &s[start..i];
                i += 1;
                let mut val = String::new();
                if i < b.len() && b[i] == b'"' {
                    i += 1;
                    let vstart = i;
                    let mut seg = vstart;
                    while i < b.len() && b[i] != b'"' {
                        if b[i] == b'\\' && i + 1 < b.len() && matches!(b[i + 1], b'"' | b'\\') {
                            val.push_str(&s[seg..i]);
                            val.push(char::from(b[i + 1]));
                            i += 2;
                            seg = i;
                            continue;
                        }
                        i += 1;
                    }
                    val.push_str(&s[seg..i.min(b.len())]);
                    i += 1;
                } else {
                    let vstart = i;
                    while i < b.len() && b[i] != b' ' {
                        i += 1;
                    }
                    val.push_str(&s[vstart..i]);
                }
                out.push((key.to_owned(), val));
                continue;
            }
            continue;
        }
        i += 1;
    }
    out
}

/// `Participant-id` → `participant_id`.
fn snake(k: &str) -> String {
    k.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect()
}

fn field_for(key: &str) -> Option<&'static str> {
    Some(match key.to_ascii_lowercase().as_str() {
        "level" => "level",
        "name" => "logger",
        "message" => "message",
        "call-id" | "callid" | "call_id" => "call_id",
        "conference" | "conference-name" => "conference",
        "participant" | "participant-name" => "participant",
        "reason" | "disconnect-reason" | "disconnect_reason" => "disconnect_reason",
        "error" => "error",
        "detail" | "details" => "detail",
        _ => return None,
    })
}

fn pexip(name: &str) -> Option<Code> {
    let c = Code::Pexip(name.into());
    kb().get(&c).map(|e| e.code.clone())
}

impl Reader for PexipLog {
    fn format(&self) -> &'static str {
        "pexip-log"
    }

    fn detect(&self, name: &str, head: &Head<'_>) -> u8 {
        static MESSAGE_KEY: LazyLock<AhoCorasick> =
            LazyLock::new(|| AhoCorasick::new(["Message=\""]).expect("fixed words"));
        let text = head.text();
        // Of the first 2,000 lines, only the ones with a `Message=` key are looked at, and no
        // more than five count.
        let scope = &text[..super::lines_end(text, 2000)];
        let hits = super::count_lines_holding(scope, scope, &MESSAGE_KEY, 5, |line| {
            line.contains("Level=\"") && line.contains("Name=\"") && line.contains("Message=\"")
        });
        let by_name = name.contains("pexip") || name.contains("support") || name.contains("administrator");
        if hits > 0 {
            return (85 + hits.min(5) as u8 + u8::from(by_name) * 5).min(98);
        }
        let dos = text.contains("Outgoing denial-of-service")
            && (text.contains("Azure Security Center") || text.contains("Defender") || by_name);
        if dos {
            60
        } else {
            0
        }
    }

    fn read(&self, input: Input, out: &mut Emitter<'_>) -> Result<(), ReadError> {
        let mut lines = input.into_lines();
        let mut line = String::new();
        while let Some(info) = lines.next_line(&mut line).map_err(|e| ReadError::new("", format!("read error: {e}")))? {
            let n = info.number;
            if info.truncated {
                out.warn(format!("line {n}"), "line longer than 1 MiB: the rest of it was skipped");
            }
            let start = ["Level=\"", "Name=\"", "Message=\""].iter().filter_map(|k| line.find(k)).min();
            let Some(start) = start else {
                // Not a key-value line (a traceback, a pasted notice): keep it only for its codes.
                let mut codes = message_codes(&line, Kind::Pexip);
                for c in codes_in(&line) {
                    if !codes.contains(&c) {
                        codes.push(c);
                    }
                }
                if !codes.is_empty() {
                    let mut e = out.evidence(format!("line {n}"));
                    e.kind = "pexip-log".into();
                    e.source = "Pexip log".into();
                    e.time = super::generic::leading_time(&line);
                    e.field("message", line.trim());
                    e.add_codes(codes);
                    e.set_excerpt(&line);
                    out.emit(e);
                }
                continue;
            };
            let prefix = &line[..start];
            let kv = pairs(&line[start..]);
            let mut words = prefix.split_whitespace();
            let first = words.next().unwrap_or("");
            let host = words.next().filter(|h| time::parse(h).is_none());
            let stamp = time::parse(first).or_else(|| {
                let w: Vec<&str> = prefix.split_whitespace().collect();
                w.windows(2).find_map(|p| time::parse(&format!("{} {}", p[0], p[1])))
            });
            let mut e = out.evidence(format!("line {n}"));
            e.kind = "pexip-log".into();
            e.time = stamp;
            if let Some(h) = host {
                e.field("node", h);
            }
            let get = |f: &str| kv.iter().find(|(k, _)| field_for(k) == Some(f)).map(|(_, v)| v.as_str());
            for (k, v) in &kv {
                // The reader's own names are literals: only a name made from the key is a copy.
                let f: FieldName = field_for(k).map_or_else(|| snake(k).into(), FieldName::from);
                if !e.fields.contains_key(&f) {
                    e.field(f, v.as_str());
                }
            }
            let logger = get("logger").unwrap_or("");
            e.source = if logger.starts_with("support.") {
                "Pexip support log"
            } else if logger.starts_with("administrator.") {
                "Pexip administrator log"
            } else {
                "Pexip log"
            }
            .into();
            let level = get("level").unwrap_or("").to_ascii_uppercase();
            let message = get("message").unwrap_or("");
            let error = get("error").unwrap_or("").trim();
            let mut codes: Vec<Code> = Vec::new();
            let teams_api = fold(message).contains("teams api request failed");
            if teams_api {
                let which = match error {
                    "401" | "" => pexip("teams-api-401"),
                    "500" => pexip("teams-api-500"),
                    _ => None,
                };
                codes.extend(which);
            }
            if error.len() == 3 && error.bytes().all(|b| b.is_ascii_digit()) {
                codes.extend(kb().normalize(error, Context::Http).filter(|c| c.kind() == Kind::Http));
            }
            for c in message_codes(&line, Kind::Pexip) {
                let api = matches!(&c, Code::Pexip(t) if t.starts_with("teams-api-"));
                if !api && !codes.contains(&c) {
                    codes.push(c);
                }
            }
            if let Some(d) = get("detail") {
                for c in codes_in(d) {
                    if c.kind() != Kind::Pexip && !codes.contains(&c) {
                        codes.push(c);
                    }
                }
            }
            let keep = !codes.is_empty()
                || matches!(level.as_str(), "ERROR" | "WARNING" | "WARN" | "CRITICAL" | "FATAL")
                || logger.contains("teams")
                || message.to_ascii_lowercase().contains("disconnect")
                || message.to_ascii_lowercase().contains("failed");
            if !keep {
                continue;
            }
            e.add_codes(codes);
            e.set_excerpt(&line);
            out.emit(e);
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// A piece found from its longest word in lower-cased text is a piece found in the folded
        /// text, on texts made of the piece's own words, spaces and near misses.
        #[test]
        fn spread_pieces_are_found_as_in_folded_text(
            parts in proptest::collection::vec((0usize..4, 0usize..6), 0..14),
            piece in 0usize..4,
        ) {
            let pieces = ["web space with name", "teams api request failed error=\"401\"", "invalidbotdata", "the certificate '"];
            let decoys = ["xweb", "namex", "'", "api"];
            let gaps = [" ", "  ", "\n", "\r\n", "\t", ""];
            // Mostly the piece's own words in turn, so that whole and broken pieces both come up.
            let own: Vec<&str> = pieces[piece].split(' ').collect();
            let mut next = 0;
            let mut text = String::new();
            for (kind, g) in &parts {
                if *kind == 0 {
                    text.push_str(decoys[*g % decoys.len()]);
                } else {
                    text.push_str(own[next % own.len()]);
                    next += 1;
                }
                text.push_str(gaps[*g]);
            }
            let text = text.to_uppercase();
            let s = Spread::new(pieces[piece]).unwrap();
            let folded = fold(&text);
            proptest::prop_assert_eq!(s.in_ascii(text.to_ascii_lowercase().as_bytes()), folded.contains(pieces[piece]), "{:?}", text);
        }
    }

    /// Detection as it was before it counted only the lines with a `Message=` key, kept to check
    /// the new one against.
    pub(crate) fn detect_before(name: &str, head: &[u8]) -> u8 {
        let text = crate::input::head_text(head);
        let mut hits = 0;
        for line in text.lines().take(2000) {
            if line.contains("Level=\"") && line.contains("Name=\"") && line.contains("Message=\"") {
                hits += 1;
            }
        }
        let by_name = name.contains("pexip") || name.contains("support") || name.contains("administrator");
        if hits > 0 {
            return (85 + hits.min(5) as u8 + u8::from(by_name) * 5).min(98);
        }
        let dos = text.contains("Outgoing denial-of-service")
            && (text.contains("Azure Security Center") || text.contains("Defender") || by_name);
        if dos {
            60
        } else {
            0
        }
    }

    /// Words split at whitespace, joined by one space, mapped a character at a time.
    fn fold_by_words(s: &str) -> String {
        let words: Vec<String> = s
            .split_whitespace()
            .map(|w| {
                w.chars()
                    .map(|c| match c {
                        '\u{2018}' | '\u{2019}' => '\'',
                        '\u{201C}' | '\u{201D}' => '"',
                        c => c.to_ascii_lowercase(),
                    })
                    .collect()
            })
            .collect();
        words.join(" ")
    }

    #[test]
    fn fold_is_the_fold_by_words() {
        for s in [
            "",
            " ",
            "A",
            "  Two  WORDS\r\n",
            "\x0bv\x0ct\tx\n",
            "Don\u{2019}t \u{201C}Quote\u{201D} ME",
            "a\u{a0}B\u{2003}\u{c9}t\u{e9}",
        ] {
            assert_eq!(fold(s), fold_by_words(s), "{s:?}");
            assert_eq!(fold_any(s), fold_by_words(s), "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn fold_is_the_fold_by_words_on_ascii(s in "[\\x00-\\x7f]{0,80}") {
            proptest::prop_assert_eq!(fold_ascii(&s), fold_by_words(&s));
        }

        #[test]
        fn fold_is_the_fold_by_words_on_any_text(s in "[\\x00-\\x7f\u{a0}\u{85}\u{2018}\u{201d}\u{c9}\u{2003}\u{1f600}]{0,80}") {
            proptest::prop_assert_eq!(fold(&s), fold_by_words(&s));
            proptest::prop_assert_eq!(fold_any(&s), fold_by_words(&s));
        }
    }

    #[test]
    fn key_values() {
        let p = pairs(r#"Level="ERROR" Name="support.teams" Message="say \"hi\"" Error=401 Detail="a\\b""#);
        let got: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            got,
            [
                ("Level", "ERROR"),
                ("Name", "support.teams"),
                ("Message", "say \"hi\""),
                ("Error", "401"),
                ("Detail", "a\\b")
            ]
        );
        assert_eq!(pairs(r#"Message="unterminated"#)[0].1, "unterminated");
    }

    /// Every pattern tried on every line, as before the first pieces were looked up at once.
    fn message_codes_slowly(text: &str, kind: Kind) -> Vec<Code> {
        let line = fold(text);
        let mut out: Vec<Code> = Vec::new();
        for (pieces, code) in &patterns(kind).list {
            if in_order(&line, pieces) && !out.contains(code) {
                out.push(code.clone());
            }
        }
        out
    }

    /// The aliases themselves, glued to each other and to the lines of every fixture: the codes
    /// found are those of trying every pattern.
    #[test]
    fn first_pieces_lose_no_message() {
        let mut lines: Vec<String> = Vec::new();
        for e in kb().entries().iter().filter(|e| matches!(e.code.kind(), Kind::Lync | Kind::Pexip)) {
            lines.extend(e.aliases.iter().cloned());
        }
        let n = lines.len();
        for i in 0..n {
            lines.push(format!("x {} and {} <7>", lines[i], lines[(i * 7 + 3) % n].to_uppercase()));
        }
        lines.extend(crate::readers::fixture_lines());
        let mut found = 0;
        for line in &lines {
            for kind in [Kind::Lync, Kind::Pexip] {
                let fast = message_codes(line, kind);
                assert_eq!(fast, message_codes_slowly(line, kind), "{line}");
                found += fast.len();
            }
        }
        assert!(found > n, "{found}");
    }

    /// The whole-text check never says "none" of a text that has a line with a message: texts
    /// of several lines (aliases and fixture lines, glued with line ends of each kind and
    /// runs of blanks) are checked against every line's codes.
    #[test]
    fn a_text_with_a_message_is_never_ruled_out() {
        let mut lines: Vec<String> = kb()
            .entries()
            .iter()
            .filter(|e| matches!(e.code.kind(), Kind::Lync | Kind::Pexip))
            .flat_map(|e| e.aliases.iter().cloned())
            .collect();
        lines.extend(crate::readers::fixture_lines());
        let ends = ["\n", "\r\n", " \t\n  ", "\n\n"];
        let mut ruled_out = 0;
        for (i, chunk) in lines.chunks(3).enumerate() {
            let text = chunk.join(ends[i % ends.len()]);
            for kind in [Kind::Lync, Kind::Pexip] {
                let any_line = text.lines().any(|l| !message_codes(l, kind).is_empty());
                let possible = any_message_possible(&text, kind);
                assert!(possible || !any_line, "{kind:?}: {text}");
                ruled_out += usize::from(!possible);
            }
        }
        // And it does rule out texts that hold none.
        assert!(!any_message_possible("2025-07-15 INFO all fine\nnothing to see\n", Kind::Pexip));
        assert!(ruled_out > 0);
    }

    #[test]
    fn known_messages() {
        let codes = message_codes("Web space with name tc-eu already exists for subscription 1234", Kind::Pexip);
        assert_eq!(codes.first().map(ToString::to_string).as_deref(), Some("PEXIP web-space-exists"));
        let codes = message_codes("Lync couldn\u{2019}t find a Lync Server for fabrikam.com.", Kind::Lync);
        assert_eq!(codes.first().map(ToString::to_string).as_deref(), Some("LYNC no-lync-server-for-domain"));
        assert!(message_codes("all fine", Kind::Pexip).is_empty());
    }
}
