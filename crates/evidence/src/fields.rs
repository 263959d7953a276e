//! The fields of a record, by name.
//!
//! A record holds a dozen or two fields, almost all named by a reader's string literal, and
//! every record is built, matched against the rules and dropped. So the names are kept without a
//! copy when they are `&'static` ([`FieldName`]), and a record's fields sit in one vector sorted
//! by name while they are few ([`Fields`]). Past [`Fields::SMALL`] fields (a CSV row with
//! thousands of columns) they move to a B-tree, so that no input makes an insert cost more than a
//! logarithm of the fields already there.
//!
//! Either way the fields iterate, print and serialize in the order of their names, as a
//! `BTreeMap<String, Value>` would.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::btree_map;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Deref, Index};

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A field's name: a literal of the program, or a name read from an input (a column, a header,
/// an event's data item), handed over as a `String` (a name is never copied behind the caller's
/// back). Compared and ordered as its text.
#[derive(Clone)]
pub enum FieldName {
    Static(&'static str),
    Owned(Box<str>),
}

impl FieldName {
    pub fn as_str(&self) -> &str {
        match self {
            FieldName::Static(s) => s,
            FieldName::Owned(s) => s,
        }
    }
}

impl Deref for FieldName {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for FieldName {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for FieldName {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for FieldName {}

impl PartialOrd for FieldName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for FieldName {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Debug for FieldName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for FieldName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&'static str> for FieldName {
    fn from(s: &'static str) -> Self {
        FieldName::Static(s)
    }
}

/// A literal met through a table of them (`for (name, …) in TABLE`).
impl From<&&'static str> for FieldName {
    fn from(s: &&'static str) -> Self {
        FieldName::Static(s)
    }
}

impl From<String> for FieldName {
    fn from(s: String) -> Self {
        FieldName::Owned(s.into_boxed_str())
    }
}

impl Serialize for FieldName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What a record's reader extracted, by field name, in the order of the names.
#[derive(Clone, Default)]
pub struct Fields(Repr);

#[derive(Clone)]
enum Repr {
    /// Sorted by name, names unique, at most [`Fields::SMALL`] of them.
    Small(Vec<(FieldName, Value)>),
    Large(BTreeMap<FieldName, Value>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Small(Vec::new())
    }
}

impl Fields {
    /// Most fields kept in the sorted vector; one more and they move to a B-tree.
    pub const SMALL: usize = 32;

    /// Fields the vector makes room for at the first insert.
    const FIRST_ROOM: usize = 16;

    pub fn new() -> Self {
        Fields::default()
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Small(v) => v.len(),
            Repr::Large(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        match &self.0 {
            Repr::Small(v) => small_find(v, name).ok().map(|i| &v[i].1),
            Repr::Large(m) => m.get(name),
        }
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        match &mut self.0 {
            Repr::Small(v) => small_find(v, name).ok().map(|i| &mut v[i].1),
            Repr::Large(m) => m.get_mut(name),
        }
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Set a field, giving back the value it replaces.
    pub fn insert(&mut self, name: impl Into<FieldName>, value: Value) -> Option<Value> {
        let name = name.into();
        match &mut self.0 {
            Repr::Small(v) => match small_find(v, &name) {
                Ok(i) => Some(std::mem::replace(&mut v[i].1, value)),
                Err(i) if v.len() < Self::SMALL => {
                    if v.capacity() == 0 {
                        // Room for the fields of most records at once, rather than growing by
                        // doubling from one.
                        v.reserve_exact(Self::FIRST_ROOM);
                    }
                    v.insert(i, (name, value));
                    None
                }
                Err(_) => {
                    let mut m: BTreeMap<FieldName, Value> = std::mem::take(v).into_iter().collect();
                    m.insert(name, value);
                    self.0 = Repr::Large(m);
                    None
                }
            },
            Repr::Large(m) => m.insert(name, value),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<Value> {
        match &mut self.0 {
            Repr::Small(v) => small_find(v, name).ok().map(|i| v.remove(i).1),
            Repr::Large(m) => m.remove(name),
        }
    }

    /// The fields in the order of their names. A name is handed out as the [`FieldName`] it is
    /// kept as, so that copying fields from one record to another copies no literal.
    pub fn iter(&self) -> Iter<'_> {
        Iter(match &self.0 {
            Repr::Small(v) => IterRepr::Small(v.iter()),
            Repr::Large(m) => IterRepr::Large(m.iter()),
        })
    }

    /// [`iter`](Self::iter) with the values open to change.
    pub fn iter_mut(&mut self) -> IterMut<'_> {
        IterMut(match &mut self.0 {
            Repr::Small(v) => IterMutRepr::Small(v.iter_mut()),
            Repr::Large(m) => IterMutRepr::Large(m.iter_mut()),
        })
    }

    pub fn keys(&self) -> impl Iterator<Item = &FieldName> + '_ {
        self.iter().map(|(k, _)| k)
    }
}

/// Where `name` is in a sorted vector, or where it would go.
fn small_find(v: &[(FieldName, Value)], name: &str) -> Result<usize, usize> {
    v.binary_search_by(|(k, _)| compare(k.as_bytes(), name.as_bytes()))
}

/// `a.cmp(b)` for short names, byte by byte in line: two field names mostly differ in their first
/// few bytes, where a call to the library's `memcmp` costs more than the comparing.
fn compare(a: &[u8], b: &[u8]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// The fields of a [`Fields`] in the order of their names.
#[derive(Debug)]
pub struct Iter<'a>(IterRepr<'a>);

#[derive(Debug)]
enum IterRepr<'a> {
    Small(std::slice::Iter<'a, (FieldName, Value)>),
    Large(btree_map::Iter<'a, FieldName, Value>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a FieldName, &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Small(i) => i.next().map(|(k, v)| (k, v)),
            IterRepr::Large(i) => i.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterRepr::Small(i) => i.size_hint(),
            IterRepr::Large(i) => i.size_hint(),
        }
    }
}

/// The fields of a [`Fields`] in the order of their names, their values open to change.
#[derive(Debug)]
pub struct IterMut<'a>(IterMutRepr<'a>);

#[derive(Debug)]
enum IterMutRepr<'a> {
    Small(std::slice::IterMut<'a, (FieldName, Value)>),
    Large(btree_map::IterMut<'a, FieldName, Value>),
}

impl<'a> Iterator for IterMut<'a> {
    type Item = (&'a FieldName, &'a mut Value);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterMutRepr::Small(i) => i.next().map(|(k, v)| (&*k, v)),
            IterMutRepr::Large(i) => i.next(),
        }
    }
}

impl<'a> IntoIterator for &'a Fields {
    type Item = (&'a FieldName, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut Fields {
    type Item = (&'a FieldName, &'a mut Value);
    type IntoIter = IterMut<'a>;
    fn into_iter(self) -> IterMut<'a> {
        self.iter_mut()
    }
}

impl<K: Into<FieldName>> FromIterator<(K, Value)> for Fields {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Self {
        let mut f = Fields::new();
        f.extend(iter);
        f
    }
}

impl<K: Into<FieldName>> Extend<(K, Value)> for Fields {
    fn extend<I: IntoIterator<Item = (K, Value)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

/// `fields["status"]`; panics when the field is missing, as a map's index does.
impl Index<&str> for Fields {
    type Output = Value;
    fn index(&self, name: &str) -> &Value {
        self.get(name).unwrap_or_else(|| panic!("no field {name:?}"))
    }
}

/// Equal when they hold the same fields, however each keeps them.
impl PartialEq for Fields {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

/// Read as a JSON object. A name given twice keeps its last value, as a map's insert does; the
/// names are sorted once at the end, not one insert at a time, so a huge object costs a sort.
impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Read;
        impl<'de> Visitor<'de> for Read {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of fields")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut all: Vec<(FieldName, Value)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    all.push((FieldName::from(k), v));
                }
                Ok(Fields::from_pairs(all))
            }
        }
        d.deserialize_map(Read)
    }
}

impl Fields {
    /// Fields from pairs in any order; of two with one name, the later is kept.
    fn from_pairs(mut all: Vec<(FieldName, Value)>) -> Fields {
        if all.len() > Self::SMALL {
            return Fields(Repr::Large(all.into_iter().collect()));
        }
        // A stable sort keeps pairs of one name in the order given; the last of each run wins.
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let mut kept: Vec<(FieldName, Value)> = Vec::with_capacity(all.len());
        for pair in all {
            match kept.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => kept.push(pair),
            }
        }
        Fields(Repr::Small(kept))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// Every operation, step by step, against a `BTreeMap<String, Value>`: the contents, the
    /// order, the values replaced and removed, and the JSON, across the move to the B-tree.
    fn same_as_map(ops: &[(u8, u16, i64)]) {
        let mut f = Fields::new();
        let mut m: BTreeMap<String, Value> = BTreeMap::new();
        for &(op, name, value) in ops {
            let name = format!("f{name}");
            match op % 4 {
                0 | 1 => assert_eq!(f.insert(name.clone(), json!(value)), m.insert(name.clone(), json!(value))),
                2 => assert_eq!(f.remove(&name), m.remove(&name)),
                _ => {
                    if let (Some(a), Some(b)) = (f.get_mut(&name), m.get_mut(&name)) {
                        *a = json!(value);
                        *b = json!(value);
                    }
                }
            }
            assert_eq!(f.len(), m.len());
            assert_eq!(f.get(&name), m.get(&name));
            assert_eq!(f.contains_key(&name), m.contains_key(&name));
        }
        let pairs: Vec<(&str, &Value)> = f.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let expected: Vec<(&str, &Value)> = m.iter().map(|(k, v)| (k.as_str(), v)).collect();
        assert_eq!(pairs, expected);
        let text = serde_json::to_string(&f).unwrap();
        assert_eq!(text, serde_json::to_string(&m).unwrap());
        let back: Fields = serde_json::from_str(&text).unwrap();
        assert_eq!(back, f);
    }

    proptest! {
        #[test]
        fn fields_behave_as_a_sorted_map(ops in proptest::collection::vec((0u8..4, 0u16..48, any::<i64>()), 0..160)) {
            same_as_map(&ops);
        }
    }

    #[test]
    fn many_fields_move_to_the_tree_and_stay_in_order() {
        let ops: Vec<(u8, u16, i64)> = (0..200u16).rev().map(|i| (0, i, i64::from(i))).collect();
        same_as_map(&ops);
        let mut f = Fields::new();
        for i in 0..=Fields::SMALL {
            f.insert(format!("k{i:03}"), json!(i));
        }
        assert!(matches!(f.0, Repr::Large(_)));
        // The same few fields kept either way are equal, and print and serialize alike.
        let pairs = || (0..5).map(|i| (FieldName::from(format!("k{i}")), json!(i)));
        let (small, large) = (Fields(Repr::Small(pairs().collect())), Fields(Repr::Large(pairs().collect())));
        assert_eq!(small, large);
        assert_eq!(format!("{small:?}"), format!("{large:?}"));
        assert_eq!(serde_json::to_string(&small).unwrap(), serde_json::to_string(&large).unwrap());
    }

    #[test]
    fn json_with_a_name_twice_keeps_the_last_value() {
        for n in [7, Fields::SMALL + 5] {
            let mut text = String::from("{");
            for i in 0..n {
                text += &["\"k", &(i % 3).to_string(), "\": ", &i.to_string(), ", "].concat();
            }
            text.push_str("\"z\": 1}");
            let f: Fields = serde_json::from_str(&text).unwrap();
            let m: BTreeMap<String, Value> = serde_json::from_str(&text).unwrap();
            assert_eq!(serde_json::to_value(&f).unwrap(), serde_json::to_value(&m).unwrap());
        }
        assert!(serde_json::from_str::<Fields>("[1]").is_err());
    }

    proptest! {
        #[test]
        fn names_compare_as_the_standard_order(a in "[a-c_]{0,6}|\\PC{0,4}", b in "[a-c_]{0,6}|\\PC{0,4}") {
            prop_assert_eq!(compare(a.as_bytes(), b.as_bytes()), a.cmp(&b));
            prop_assert_eq!(compare(a.as_bytes(), a.as_bytes()), Ordering::Equal);
        }
    }

    #[test]
    fn names_compare_as_text() {
        let a = FieldName::from("status");
        let b = FieldName::from(String::from("status"));
        assert_eq!(a, b);
        assert_eq!(a.cmp(&FieldName::from("statuses")), Ordering::Less);
        assert_eq!(format!("{b:?} {b}"), "\"status\" status");
    }
}
