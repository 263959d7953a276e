//! The prefilter's automaton as flat tables, so the build script can make it once and the
//! binary carry it: building the automaton at start-up was the largest part of a small scan.
//!
//! The build script (`build.rs` includes this file by path) builds an Aho-Corasick DFA with the
//! `aho-corasick` crate (leftmost-longest, ASCII case-insensitive: the automaton the extractor
//! builds at run time for other knowledge bases), walks every state it can reach and writes its
//! transitions out: a byte-class map and one row of 16-bit state numbers per state. Searching
//! the table follows the crate's own rules for a leftmost search, so it reports the same words at
//! the same places (the kb tests compare the two on many texts).
//!
//! States are numbered so that one comparison tells the ordinary ones apart: 0 is the dead state
//! (a match was seen and no longer one can follow), 1 to `max_match` are the match states, and
//! every other state comes after them.

/// Rows are 64 entries long: at most 64 byte classes.
pub(crate) const ROW_BITS: u32 = 6;

/// The bytes of one row.
pub(crate) const ROW_BYTES: usize = 2 << ROW_BITS;

/// A table built in memory (by the build script, or by a test).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Table {
    /// Each byte's class, times two: where its column starts in a row.
    pub columns: [u8; 256],
    /// Little-endian `u16` state numbers, `64` per state.
    pub transitions: Vec<u8>,
    pub start: u16,
    pub max_match: u16,
    /// For each state up to `max_match`, the word it reports (entry 0, the dead state, unused).
    pub reports: Vec<u32>,
}

impl Table {
    /// The automaton of `words`, or `None` when it does not fit the layout (more than 65,535
    /// states or 64 byte classes): the caller then keeps the automaton the crate builds.
    #[allow(dead_code)] // The crate itself only builds tables in its tests.
    pub(crate) fn build<S: AsRef<[u8]>>(words: &[S]) -> Option<Table> {
        use aho_corasick::automaton::{Automaton, StateID};
        use aho_corasick::{dfa, Anchored, MatchKind};
        use std::collections::{HashMap, HashSet};

        let dfa = dfa::Builder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(words)
            .ok()?;
        let start = dfa.start_state(Anchored::No).ok()?;
        let next = |s: StateID, b: u8| dfa.next_state(Anchored::No, s, b);
        // Every state reachable from the start, in the order first reached.
        let mut reached = vec![start];
        let mut seen: HashSet<StateID> = HashSet::from([start]);
        let mut i = 0;
        while i < reached.len() {
            let s = reached[i];
            i += 1;
            for b in 0..=255u8 {
                let n = next(s, b);
                if seen.insert(n) {
                    reached.push(n);
                }
            }
        }
        // Numbering: dead first (present or not), then the match states, then the rest.
        let mut order: Vec<Option<StateID>> = vec![reached.iter().copied().find(|&s| dfa.is_dead(s))];
        order.extend(reached.iter().copied().filter(|&s| dfa.is_match(s)).map(Some));
        let max_match = u16::try_from(order.len() - 1).ok()?;
        order.extend(reached.iter().copied().filter(|&s| !dfa.is_dead(s) && !dfa.is_match(s)).map(Some));
        if order.len() > usize::from(u16::MAX) {
            return None;
        }
        let number: HashMap<StateID, u16> =
            order.iter().enumerate().filter_map(|(i, s)| s.map(|s| (s, i as u16))).collect();
        // Bytes that lead every state to the same place share a class.
        let mut columns: Vec<Vec<u16>> = Vec::new();
        let mut offsets = [0u8; 256];
        for b in 0..=255u8 {
            let column: Vec<u16> = order.iter().map(|s| s.map_or(0, |s| number[&next(s, b)])).collect();
            let class = columns.iter().position(|c| *c == column).unwrap_or_else(|| {
                columns.push(column);
                columns.len() - 1
            });
            if class >= 1 << ROW_BITS {
                return None;
            }
            offsets[usize::from(b)] = (class * 2) as u8;
        }
        let mut transitions = vec![0u8; order.len() << ROW_BITS << 1];
        for (class, column) in columns.iter().enumerate() {
            for (state, to) in column.iter().enumerate() {
                let at = ((state << ROW_BITS) | class) << 1;
                transitions[at..at + 2].copy_from_slice(&to.to_le_bytes());
            }
        }
        let mut reports = vec![0u32];
        for s in order.iter().skip(1).take(usize::from(max_match)).flatten() {
            reports.push(dfa.match_pattern(*s, 0).as_u32());
        }
        Some(Table { columns: offsets, transitions, start: number[&start], max_match, reports })
    }

    #[allow(dead_code)] // Used by the crate's tests; the build script writes the parts out.
    pub(crate) fn as_ref(&self) -> TableRef<'_> {
        TableRef {
            columns: &self.columns,
            rows: self.transitions.as_chunks().0,
            start: self.start,
            max_match: self.max_match,
            reports: &self.reports,
        }
    }
}

/// A table to search: the built-in one (static data) or one built in memory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableRef<'a> {
    pub columns: &'a [u8; 256],
    pub rows: &'a [[u8; ROW_BYTES]],
    pub start: u16,
    pub max_match: u16,
    pub reports: &'a [u32],
}

#[allow(dead_code)] // The build script writes tables; only the crate searches them.
impl TableRef<'_> {
    #[inline]
    fn next(&self, state: u16, byte: u8) -> u16 {
        let row = &self.rows[usize::from(state)];
        // Even and below the row's length, so the two reads need no bounds check.
        let at = usize::from(self.columns[usize::from(byte)]) & (ROW_BYTES - 2);
        u16::from_le_bytes([row[at], row[at + 1]])
    }

    /// True when any word is in `text`.
    pub(crate) fn is_match(&self, text: &[u8]) -> bool {
        let mut state = self.start;
        for &b in text {
            state = self.next(state, b);
            if state <= self.max_match {
                // Never the dead state: that one follows a match state.
                return true;
            }
        }
        false
    }

    /// Every word found, leftmost-longest and without overlaps, as `(word, end)`, in order.
    pub(crate) fn for_each(&self, text: &[u8], mut found: impl FnMut(u32, usize)) {
        let mut from = 0;
        while from < text.len() {
            // The last match state passed and where it ended (0: none yet).
            let (mut state, mut last, mut end) = (self.start, 0u16, 0usize);
            let mut i = from;
            while i < text.len() {
                state = self.next(state, text[i]);
                i += 1;
                if state <= self.max_match {
                    if state == 0 {
                        break;
                    }
                    (last, end) = (state, i);
                }
            }
            if last == 0 {
                return;
            }
            found(self.reports[usize::from(last)], end);
            from = end;
        }
    }
}

/// Whether any word is in a text, answered by a copy of a [`TableRef`] in which every match
/// state leads only to itself.
///
/// A leftmost-longest search passes through a match state exactly where a word ends, and finds a
/// match whenever any word occurs; but from a match state it may walk on to states that are not
/// match states, so [`TableRef::is_match`] tests the state after every byte. Here, once a match
/// state is reached the walk stays in it (the dead state, reached only after a match, is never
/// reached), so the bytes of a stretch are walked without a test each and the state is looked at
/// once per stretch: about half the instructions a byte.
#[derive(Debug)]
#[allow(dead_code)] // The build script writes tables; only the crate searches them.
pub(crate) struct AnyTable {
    /// Each byte's class.
    classes: [u8; 256],
    /// [`ANY_ROWS`] rows, the table's states first: a state masked to fit needs no bounds check.
    rows: Box<[Row; ANY_ROWS]>,
    start: u16,
    max_match: u16,
}

type Row = [u16; 1 << ROW_BITS];

/// Bytes walked between two looks at the state.
const STRETCH: usize = 16;

/// States an [`AnyTable`] holds (a power of two; the built-in table has about 11,500). A larger
/// table is searched as it is.
const ANY_ROWS: usize = 1 << 14;

#[allow(dead_code)] // The build script writes tables; only the crate searches them.
impl AnyTable {
    /// The copy of `table`; `None` when it has more than [`ANY_ROWS`] states.
    pub(crate) fn of(table: &TableRef<'_>) -> Option<AnyTable> {
        if table.rows.len() > ANY_ROWS {
            return None;
        }
        let classes = table.columns.map(|c| (c >> 1) & ((1 << ROW_BITS) - 1));
        let mut rows: Box<[Row; ANY_ROWS]> =
            vec![[0u16; 1 << ROW_BITS]; ANY_ROWS].into_boxed_slice().try_into().expect("ANY_ROWS rows");
        for (state, (row, out)) in table.rows.iter().zip(rows.iter_mut()).enumerate() {
            for (class, to) in out.iter_mut().enumerate() {
                *to = if state <= usize::from(table.max_match) {
                    state as u16
                } else {
                    u16::from_le_bytes([row[class * 2], row[class * 2 + 1]])
                };
            }
        }
        Some(AnyTable { classes, rows, start: table.start, max_match: table.max_match })
    }

    #[inline]
    fn next(&self, state: u16, byte: u8) -> u16 {
        // Every state reached is below the table's length, so the mask changes none.
        self.rows[usize::from(state) & (ANY_ROWS - 1)]
            [usize::from(self.classes[usize::from(byte)]) & ((1 << ROW_BITS) - 1)]
    }

    /// True when any word is in `text`.
    pub(crate) fn is_match(&self, text: &[u8]) -> bool {
        let mut state = self.start;
        let mut stretches = text.chunks_exact(STRETCH);
        for stretch in &mut stretches {
            for &b in stretch {
                state = self.next(state, b);
            }
            if state <= self.max_match {
                return true;
            }
        }
        for &b in stretches.remainder() {
            state = self.next(state, b);
        }
        state <= self.max_match
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::{AhoCorasickBuilder, AhoCorasickKind, MatchKind};
    use proptest::prelude::*;

    /// What the crate's own automaton reports: `(word, end)` of each match, and whether any.
    fn crate_answer(words: &[String], text: &str) -> (Vec<(u32, usize)>, bool) {
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .build(words)
            .expect("builds");
        (ac.find_iter(text).map(|m| (m.pattern().as_u32(), m.end())).collect(), ac.is_match(text))
    }

    fn table_answer(table: &Table, text: &str) -> (Vec<(u32, usize)>, bool) {
        let mut found = Vec::new();
        table.as_ref().for_each(text.as_bytes(), |w, end| found.push((w, end)));
        let any = AnyTable::of(&table.as_ref()).expect("small tables fit").is_match(text.as_bytes());
        let is_match = table.as_ref().is_match(text.as_bytes());
        assert_eq!(any, is_match, "the any-word table and the search disagree on {text:?}");
        (found, is_match)
    }

    #[test]
    fn known_cases() {
        let words: Vec<String> =
            ["http", "https", "error", "internal server error", "rr", "é"].iter().map(|w| (*w).to_owned()).collect();
        let table = Table::build(&words).expect("fits");
        for text in [
            "",
            "nothing",
            "HTTPS://x",
            "an Internal Server Errorr here",
            "internal server erro",
            "errrrr",
            "café É",
            "http http",
        ] {
            assert_eq!(table_answer(&table, text), crate_answer(&words, text), "{text:?}");
        }
    }

    proptest! {
        /// Small alphabets make words overlap, nest and repeat: the table reports what the
        /// crate reports, word for word and place for place.
        #[test]
        fn the_table_searches_as_the_crate_does(
            words in proptest::collection::vec("[abAB_é]{1,6}", 1..12),
            texts in proptest::collection::vec("[abAB_éc]{0,70}", 1..8),
        ) {
            let table = Table::build(&words).expect("small sets fit");
            for text in &texts {
                prop_assert_eq!(table_answer(&table, text), crate_answer(&words, text), "{:?} in {:?}", words, text);
            }
        }
    }
}
