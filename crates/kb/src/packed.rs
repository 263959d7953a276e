//! The knowledge entries in a compact form: the build script parses and checks the data files
//! (`build.rs` includes this file by path) and writes their entries this way; the built-in
//! knowledge base reads them back at start-up instead of parsing TOML.
//!
//! Two parts: one string holding every text of every entry, one after the other, and a stream of
//! numbers (LEB128) giving each text's length in bytes, each list's length, and each layer's
//! place in [`Layer::ALL`]. An entry is, in order: code, name (a list of zero or one), aliases,
//! family, layer, title, meaning, causes, first checks, fixes, seen in, references, related codes,
//! file. Codes are written in their canonical form.

use crate::code::Code;
use crate::entry::{Entry, Layer};

/// The two parts of packed entries.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Packed {
    pub text: String,
    pub numbers: Vec<u8>,
}

impl Packed {
    fn number(&mut self, mut n: usize) {
        loop {
            let low = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.numbers.push(low);
                return;
            }
            self.numbers.push(low | 0x80);
        }
    }

    fn text(&mut self, s: &str) {
        self.number(s.len());
        self.text.push_str(s);
    }

    fn list<S: AsRef<str>>(&mut self, items: &[S]) {
        self.number(items.len());
        for s in items {
            self.text(s.as_ref());
        }
    }
}

/// Pack entries (the build script's half).
#[allow(dead_code)] // The crate calls it only in its tests.
pub(crate) fn pack(entries: &[Entry]) -> Packed {
    let mut p = Packed::default();
    p.number(entries.len());
    for e in entries {
        p.text(&e.code.to_string());
        p.list(e.name.as_slice());
        p.list(&e.aliases);
        p.text(&e.family);
        p.number(Layer::ALL.iter().position(|l| *l == e.layer).expect("every layer is in Layer::ALL"));
        p.text(&e.title);
        p.text(&e.meaning);
        p.list(&e.causes);
        p.list(&e.first_checks);
        p.list(&e.fixes);
        p.list(&e.seen_in);
        p.list(&e.references);
        p.list(&e.related.iter().map(ToString::to_string).collect::<Vec<_>>());
        p.text(&e.file);
    }
    p
}

/// Reads packed entries back, or `None` when the parts do not hold entries of this form.
struct Reader<'a> {
    text: &'a str,
    numbers: &'a [u8],
}

impl<'a> Reader<'a> {
    fn number(&mut self) -> Option<usize> {
        let mut n = 0usize;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.numbers.split_first()?;
            self.numbers = rest;
            n |= usize::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    fn text(&mut self) -> Option<&'a str> {
        let len = self.number()?;
        let s = self.text.get(..len)?;
        self.text = &self.text[len..];
        Some(s)
    }

    fn list(&mut self) -> Option<Vec<String>> {
        let len = self.number()?;
        // Never reserve more than the numbers left could describe.
        let mut out = Vec::with_capacity(len.min(self.numbers.len()));
        for _ in 0..len {
            out.push(self.text()?.to_owned());
        }
        Some(out)
    }

    fn code(&mut self) -> Option<Code> {
        self.text()?.parse().ok()
    }
}

/// Unpack entries (the run-time half).
#[allow(dead_code)] // The build script only packs.
pub(crate) fn unpack(text: &str, numbers: &[u8]) -> Option<Vec<Entry>> {
    let mut r = Reader { text, numbers };
    let count = r.number()?;
    let mut out = Vec::with_capacity(count.min(numbers.len()));
    for _ in 0..count {
        let code = r.code()?;
        let mut name = r.list()?;
        if name.len() > 1 {
            return None;
        }
        let aliases = r.list()?;
        let family = r.text()?.to_owned();
        let layer = *Layer::ALL.get(r.number()?)?;
        let title = r.text()?.to_owned();
        let meaning = r.text()?.to_owned();
        let causes = r.list()?;
        let first_checks = r.list()?;
        let fixes = r.list()?;
        let seen_in = r.list()?;
        let references = r.list()?;
        let related = r.list()?.iter().map(|c| c.parse().ok()).collect::<Option<Vec<Code>>>()?;
        let file = r.text()?.to_owned();
        out.push(Entry {
            code,
            name: name.pop(),
            aliases,
            family,
            layer,
            title,
            meaning,
            causes,
            first_checks,
            fixes,
            seen_in,
            references,
            related,
            file,
        });
    }
    (r.text.is_empty() && r.numbers.is_empty()).then_some(out)
}
