//! The records of one `.evtx` chunk read straight from its Binary XML into [`WinEvent`]s.
//!
//! The evtx crate renders each record to XML text, which the `event-xml` parser then reads back;
//! for the few fields we keep, most of that work is wasted. This walker reads the same bytes
//! itself: the chunk header, the record headers, each record's token stream, the template
//! definitions it points at (parsed once per chunk, keyed by their offset in the chunk), the
//! names of the chunk's string table and the typed substitution values of each instance. It hands
//! the elements, attributes and text that the crate's XML would hold to the same
//! [`EventBuilder`] the XML path fills, so both paths make the same event from a record.
//!
//! What the XML would show is followed to the letter: a value's text as the crate writes it
//! (times with seven decimals, `{guid}` in lower case, `0x…` hex integers, upper-case hex for
//! binary, `S-1-…` SIDs, comma-separated arrays, `_` for characters XML cannot hold), optional
//! substitutions that are empty left out, elements whose dependency value is NULL left out, an
//! element holding an array of several items repeated once per item, attributes with no text
//! left out, and nested Binary XML values spliced in place.
//!
//! The walker only answers when it is sure to agree with the crate. Anything it does not handle
//! (floating-point values, processing instructions, character references or CDATA inside an
//! attribute, a second root element, a damaged record header, a record or chunk near the
//! crate's size limits, …) is an [`Unsupported`], and the reader then reads the chunk the old
//! way. Every read is bounds-checked, nesting is capped and the work a chunk may cause is
//! bounded, so hostile bytes give an `Unsupported`, never a panic.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;

use super::event_xml::{Attrs, EventBuilder};
use super::windows_event::{WinEvent, MAX_VALUE};

/// Why the walker gave a chunk back to the evtx crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Unsupported(pub(super) &'static str);

type Res<T> = Result<T, Unsupported>;

fn no<T>(why: &'static str) -> Res<T> {
    Err(Unsupported(why))
}

/// The live records of a chunk, in order: record ID and event.
#[derive(Debug, Default)]
pub(super) struct FastChunk {
    pub(super) records: Vec<(u64, WinEvent)>,
    /// The unused space after the records holds a record signature: records may be carved from
    /// it, which the evtx crate does.
    pub(super) slack: bool,
}

const CHUNK_SIZE: usize = 65536;
const CHUNK_HEADER_SIZE: usize = 512;
const RECORD_HEADER_SIZE: usize = 24;
const RECORD_MAGIC: &[u8; 4] = b"**\0\0";
/// Bytes before a template's body: offset of the next template, GUID, body size.
const TEMPLATE_HEADER_SIZE: usize = 24;
/// Bytes before a name in the string table: offset of the next name and a hash.
const NAME_LINK_SIZE: usize = 6;

/// Streams (records, templates, nested values) inside one another.
const MAX_NESTING: usize = 12;
/// Elements inside one another, across nested streams.
const MAX_DEPTH: usize = 64;
/// Bytes of template definitions one chunk may parse (a chunk holds 64 KiB in all).
const MAX_TEMPLATE_BYTES: usize = 256 * 1024;
/// Substitution values in one template instance.
const MAX_VALUES: usize = 4096;
/// Work one record may cause: nodes built or visited, and an upper bound of its XML's size.
/// Both stay far below where the evtx crate gives up on a record (2^18 nodes, 16 MiB), so that
/// the walker never reads a record the crate would refuse.
const RECORD_NODES: usize = 50_000;
const RECORD_BYTES: usize = 4 << 20;
/// The same for a whole chunk (the crate's limits are about 786 K nodes and 48 MiB).
const CHUNK_NODES: usize = 300_000;
const CHUNK_BYTES: usize = 24 << 20;

// ---------------------------------------------------------------------------------------------
// Bytes

/// A bounds-checked reader over the chunk; positions are offsets in the chunk.
struct Cur<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Res<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.data.len()).ok_or(Unsupported("truncated"))?;
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self) -> Res<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Res<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Res<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn seek(&mut self, pos: usize) -> Res<()> {
        if pos > self.data.len() {
            return no("offset past the chunk");
        }
        self.pos = pos;
        Ok(())
    }
}

fn le_u16(b: &[u8], at: usize) -> Res<u16> {
    match at.checked_add(2).and_then(|end| b.get(at..end)) {
        Some(s) => Ok(u16::from_le_bytes([s[0], s[1]])),
        None => no("truncated"),
    }
}

fn le_u32(b: &[u8], at: usize) -> Res<u32> {
    match at.checked_add(4).and_then(|end| b.get(at..end)) {
        Some(s) => Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]])),
        None => no("truncated"),
    }
}

fn le_u64(b: &[u8], at: usize) -> Res<u64> {
    match at.checked_add(8).and_then(|end| b.get(at..end)) {
        Some(s) => Ok(u64::from_le_bytes(s.try_into().unwrap_or_default())),
        None => no("truncated"),
    }
}

/// UTF-16LE bytes up to the first NUL unit.
fn until_nul(b: &[u8]) -> &[u8] {
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == 0 && b[i + 1] == 0 {
            return &b[..i];
        }
        i += 2;
    }
    &b[..b.len() & !1]
}

/// Strict UTF-16LE to a string (a lone surrogate fails), as names are read.
fn utf16_strict(b: &[u8]) -> Option<String> {
    let units = b.chunks_exact(2).map(|u| u16::from_le_bytes([u[0], u[1]]));
    char::decode_utf16(units).collect::<Result<String, _>>().ok()
}

/// A name element and attribute names can carry through XML unchanged.
fn plain_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

/// The part of a name after its prefix, as an XML reader sees it. Names are short: a byte loop
/// finds the first `:` (ASCII, so a character boundary) for less than a searcher costs to start.
fn local(name: &str) -> &str {
    match name.bytes().position(|b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

// ---------------------------------------------------------------------------------------------
// The model: token streams parsed into element trees, with their values

/// A typed value, as a substitution or a literal holds it.
#[derive(Debug)]
enum Val<'a> {
    /// NULL, or an empty Binary XML value.
    Null,
    /// UTF-16LE text, up to its first NUL.
    Utf16(&'a [u8]),
    /// An ANSI string, decoded.
    Ansi(String),
    /// A fixed-layout value: its type byte and bytes (SizeT is stored as the hex type of its
    /// width).
    Fixed(u8, &'a [u8]),
    /// The items of an array, each a scalar value.
    Array(Vec<Val<'a>>),
    /// Nested Binary XML, parsed.
    BinXml(Box<Tree<'a>>),
}

impl Val<'_> {
    /// Whether an optional substitution of it is left out (and an attribute of only it).
    fn is_empty(&self) -> bool {
        match self {
            Val::Null => true,
            Val::Utf16(b) => b.is_empty(),
            Val::Ansi(s) => s.is_empty(),
            Val::Fixed(ty, b) => *ty == 0x0e && b.is_empty(),
            Val::Array(items) => items.is_empty(),
            Val::BinXml(_) => false,
        }
    }

    /// An upper bound of the XML text it renders to.
    fn size_bound(&self) -> usize {
        40 + match self {
            Val::Null | Val::BinXml(_) => 0,
            Val::Utf16(b) | Val::Fixed(_, b) => 6 * b.len(),
            Val::Ansi(s) => 6 * s.len(),
            Val::Array(items) => items.iter().map(Val::size_bound).sum(),
        }
    }
}

#[derive(Debug)]
enum Node<'a> {
    Elem(u32),
    Value(Val<'a>),
    Subst { id: u16, optional: bool },
    Entity(u32),
    CharRef(u16),
    CData(&'a [u8]),
    Instance(Box<Instance<'a>>),
}

#[derive(Debug)]
struct Attr<'a> {
    name: u32,
    value: Vec<Node<'a>>,
}

#[derive(Debug)]
struct Elem<'a> {
    name: u32,
    dependency: Option<u16>,
    attrs: Vec<Attr<'a>>,
    children: Vec<Node<'a>>,
    self_closing: bool,
}

impl Elem<'_> {
    fn nodes(&self) -> usize {
        1 + self.attrs.len() + self.attrs.iter().map(|a| a.value.len()).sum::<usize>() + self.children.len()
    }
}

/// A parsed stream: its elements and its top-level nodes (elements, instances, nested values).
#[derive(Debug, Default)]
struct Tree<'a> {
    elems: Vec<Elem<'a>>,
    roots: Vec<Node<'a>>,
    /// Nodes of all its elements (what instantiating a template costs).
    nodes: usize,
}

#[derive(Debug)]
struct Instance<'a> {
    template: Rc<Tree<'a>>,
    values: Vec<Val<'a>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A record's stream or a nested value: template instances, no substitutions.
    Record,
    /// A template definition: substitutions, dependency IDs on elements, one root.
    Template,
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// What a chunk's records share: its bytes, names and templates, and what it may still spend.
struct Ctx<'a> {
    data: &'a [u8],
    names: Vec<Box<str>>,
    name_ids: HashMap<u32, u32>,
    templates: HashMap<u32, Rc<Tree<'a>>>,
    /// Bytes of template definitions parsed so far.
    template_bytes: usize,
    nodes: usize,
    bytes: usize,
    record_nodes: usize,
    record_bytes: usize,
}

impl<'a> Ctx<'a> {
    fn spend(&mut self, nodes: usize, bytes: usize) -> Res<()> {
        self.nodes = self.nodes.saturating_add(nodes);
        self.bytes = self.bytes.saturating_add(bytes);
        self.record_nodes = self.record_nodes.saturating_add(nodes);
        self.record_bytes = self.record_bytes.saturating_add(bytes);
        if self.record_nodes > RECORD_NODES
            || self.record_bytes > RECORD_BYTES
            || self.nodes > CHUNK_NODES
            || self.bytes > CHUNK_BYTES
        {
            return no("a record or chunk too large");
        }
        Ok(())
    }

    /// The name stored at `offset` in the chunk (after its link).
    fn name_at(&mut self, offset: u32) -> Res<u32> {
        if let Some(id) = self.name_ids.get(&offset) {
            return Ok(*id);
        }
        let mut c = Cur { data: self.data, pos: (offset as usize).saturating_add(NAME_LINK_SIZE) };
        let count = c.u16()?;
        let units = c.take(usize::from(count) * 2)?;
        c.u16()?;
        let name = utf16_strict(until_nul(units)).ok_or(Unsupported("a name that is not UTF-16"))?;
        if !plain_name(&name) {
            return no("a name XML would not carry as it is");
        }
        let id = self.names.len() as u32;
        self.names.push(name.into());
        self.name_ids.insert(offset, id);
        Ok(id)
    }

    /// A name reference: an offset in the chunk, the name stored right there when it is where
    /// the reference ends.
    fn name_ref(&mut self, c: &mut Cur<'a>) -> Res<u32> {
        let offset = c.u32()?;
        if c.pos == offset as usize {
            let count = le_u16(self.data, c.pos + NAME_LINK_SIZE)?;
            c.seek(c.pos + NAME_LINK_SIZE + 2 + usize::from(count) * 2 + 2)?;
        }
        self.name_at(offset)
    }

    /// The template defined at `offset`, parsed once.
    fn template(&mut self, offset: u32, nesting: usize) -> Res<Rc<Tree<'a>>> {
        if let Some(t) = self.templates.get(&offset) {
            return Ok(Rc::clone(t));
        }
        let start = offset as usize;
        let size = le_u32(self.data, start.saturating_add(TEMPLATE_HEADER_SIZE - 4))? as usize;
        let body = start + TEMPLATE_HEADER_SIZE;
        let end =
            body.checked_add(size).filter(|e| *e <= self.data.len()).ok_or(Unsupported("template out of bounds"))?;
        // Templates at many offsets over the same bytes would each be parsed.
        self.template_bytes += size;
        if self.template_bytes > MAX_TEMPLATE_BYTES {
            return no("too many template bytes in one chunk");
        }
        let tree = self.stream(body, end, Mode::Template, nesting + 1)?;
        if !matches!(tree.roots.as_slice(), [Node::Elem(_)]) {
            return no("a template without one root element");
        }
        let tree = Rc::new(tree);
        self.templates.insert(offset, Rc::clone(&tree));
        Ok(tree)
    }

    /// Parse the token stream from `start` (up to its end-of-stream token or `end`).
    fn stream(&mut self, start: usize, end: usize, mode: Mode, nesting: usize) -> Res<Tree<'a>> {
        if nesting > MAX_NESTING {
            return no("streams nested too deeply");
        }
        let mut b = TreeBuilder { tree: Tree::default(), stack: Vec::new(), open: None, attr: None };
        let mut c = Cur { data: self.data, pos: start };
        while c.pos < end {
            let token = c.u8()?;
            match token {
                0x00 => break,
                0x0c => {
                    if mode == Mode::Template || b.open.is_some() {
                        return no("a template instance out of place");
                    }
                    let instance = self.instance(&mut c, nesting)?;
                    b.attach(Node::Instance(Box::new(instance)));
                }
                0x01 | 0x41 => {
                    if b.open.is_some() {
                        return no("an element inside an element start");
                    }
                    let dependency =
                        if mode == Mode::Template { Some(c.u16()?).filter(|d| *d != 0xffff) } else { None };
                    c.u32()?;
                    let name = self.name_ref(&mut c)?;
                    if token & 0x40 != 0 {
                        c.u32()?;
                    }
                    b.open =
                        Some(Elem { name, dependency, attrs: Vec::new(), children: Vec::new(), self_closing: false });
                }
                0x02 => {
                    if b.stack.len() >= MAX_DEPTH {
                        return no("elements nested too deeply");
                    }
                    let id = b.close_open()?;
                    b.stack.push(id);
                }
                0x03 => {
                    let id = b.close_open()?;
                    b.tree.elems[id as usize].self_closing = true;
                    b.attach(Node::Elem(id));
                }
                0x04 => {
                    let id = b.stack.pop().ok_or(Unsupported("an end tag without a start"))?;
                    b.attach(Node::Elem(id));
                }
                0x05 | 0x45 => {
                    let ty = c.data.get(c.pos).copied();
                    let value = self.value_token(&mut c, nesting)?;
                    if ty == Some(0x21) {
                        if mode == Mode::Template || b.open.is_some() {
                            return no("nested Binary XML out of place");
                        }
                        match value {
                            // An empty one is nothing at all.
                            Val::Null => {}
                            // Its elements take its place, at the top level too.
                            _ if b.stack.is_empty() => b.tree.roots.push(Node::Value(value)),
                            _ => b.content(Node::Value(value))?,
                        }
                    } else {
                        b.content(Node::Value(value))?;
                    }
                }
                0x06 | 0x46 => {
                    let name = self.name_ref(&mut c)?;
                    let open = b.open.as_mut().ok_or(Unsupported("an attribute outside an element start"))?;
                    if let Some(a) = b.attr.take() {
                        if !a.value.is_empty() {
                            open.attrs.push(a);
                        }
                    }
                    b.attr = Some(Attr { name, value: Vec::new() });
                }
                0x09 | 0x49 => {
                    let name = self.name_ref(&mut c)?;
                    b.content(Node::Entity(name))?;
                }
                0x0d | 0x0e => {
                    if mode != Mode::Template {
                        return no("a substitution outside a template");
                    }
                    let id = c.u16()?;
                    known_type(c.u8()?)?;
                    b.content(Node::Subst { id, optional: token == 0x0e })?;
                }
                0x0f => {
                    c.take(3)?;
                }
                0x07 | 0x47 => {
                    let count = c.u16()?;
                    let text = until_nul(c.take(usize::from(count) * 2)?);
                    b.content(Node::CData(text))?;
                }
                0x08 | 0x48 => {
                    let ch = c.u16()?;
                    b.content(Node::CharRef(ch))?;
                }
                0x0a | 0x0b => return no("a processing instruction"),
                _ => return no("an unknown token"),
            }
        }
        if b.open.is_some() || !b.stack.is_empty() {
            return no("an unclosed element");
        }
        let mut tree = b.tree;
        tree.nodes = tree.elems.iter().map(Elem::nodes).sum();
        Ok(tree)
    }

    /// A template instance, after its token: the template and its substitution values.
    fn instance(&mut self, c: &mut Cur<'a>, nesting: usize) -> Res<Instance<'a>> {
        c.u8()?;
        c.u32()?;
        let offset = c.u32()?;
        if c.pos == offset as usize {
            // The definition follows inline: skip it.
            c.take(TEMPLATE_HEADER_SIZE - 4)?;
            let size = c.u32()? as usize;
            c.seek(c.pos.saturating_add(size))?;
        }
        let count = c.u32()? as usize;
        if count > MAX_VALUES {
            return no("too many substitution values");
        }
        let descriptors = c.take(count * 4)?;
        for d in descriptors.chunks_exact(4) {
            known_type(d[2])?;
        }
        let mut values = Vec::with_capacity(count);
        for d in descriptors.chunks_exact(4) {
            let size = usize::from(u16::from_le_bytes([d[0], d[1]]));
            let start = c.pos;
            let end = start + size;
            if end > self.data.len() {
                return no("a value past the chunk");
            }
            values.push(self.value(d[2], start, end, nesting)?);
            c.pos = end;
        }
        let template = self.template(offset, nesting)?;
        self.spend(template.nodes, 0)?;
        Ok(Instance { template, values })
    }

    /// A substitution value of type `ty` in `data[start..end]`.
    fn value(&mut self, ty: u8, start: usize, end: usize, nesting: usize) -> Res<Val<'a>> {
        let w = &self.data[start..end];
        Ok(match ty {
            0x00 => Val::Null,
            0x01 => {
                if !w.len().is_multiple_of(2) {
                    return no("an odd-sized string");
                }
                Val::Utf16(until_nul(w))
            }
            0x02 => {
                let bytes: Vec<u8> = w.iter().copied().filter(|b| *b != 0).collect();
                Val::Ansi(ansi(&bytes))
            }
            0x0e => Val::Fixed(ty, w),
            0x10 => match w.len() {
                4 => Val::Fixed(0x14, w),
                8 => Val::Fixed(0x15, w),
                _ => return no("a SizeT of odd width"),
            },
            0x13 => Val::Fixed(ty, sid_at(w, 0)?),
            0x21 if w.is_empty() => Val::Null,
            0x21 => Val::BinXml(Box::new(self.stream(start, end, Mode::Record, nesting + 1)?)),
            0x81 => {
                let mut items = Vec::new();
                let mut at = 0;
                while at < w.len() {
                    let rest = w.get(at..).unwrap_or_default();
                    let len = (0..rest.len() / 2)
                        .find(|i| rest[2 * i] == 0 && rest[2 * i + 1] == 0)
                        .ok_or(Unsupported("a string array item without its NUL"))?;
                    items.push(Val::Utf16(&rest[..2 * len]));
                    at += 2 * len + 2;
                }
                Val::Array(items)
            }
            0x82 => {
                let mut items = Vec::new();
                if !w.is_empty() {
                    let w = w.strip_suffix(&[0]).unwrap_or(w);
                    for item in w.split(|b| *b == 0) {
                        items.push(Val::Ansi(ansi(item)));
                    }
                }
                Val::Array(items)
            }
            0x93 => {
                let mut items = Vec::new();
                let mut at = 0;
                while at < w.len() {
                    let sid = sid_at(w, at)?;
                    at += sid.len();
                    items.push(Val::Fixed(0x13, sid));
                }
                Val::Array(items)
            }
            0x83..=0x8a | 0x8d | 0x8f | 0x91 | 0x92 | 0x94 | 0x95 => {
                let item_ty = ty & 0x7f;
                let width = fixed_width(item_ty).ok_or(Unsupported("an array type"))?;
                if !w.len().is_multiple_of(width) {
                    return no("a misaligned array");
                }
                // Booleans other than 0 and 1 make the whole array one of integers.
                let item_ty = if item_ty == 0x0d && w.chunks_exact(4).any(|b| b != [0, 0, 0, 0] && b != [1, 0, 0, 0]) {
                    0x07
                } else {
                    item_ty
                };
                Val::Array(w.chunks_exact(width).map(|b| Val::Fixed(item_ty, b)).collect())
            }
            _ => match fixed_width(ty) {
                Some(width) if w.len() >= width => Val::Fixed(ty, &w[..width]),
                Some(_) => return no("a value shorter than its type"),
                None => return no("a value type the walker does not render"),
            },
        })
    }

    /// A value token's value (typed, sized by its type or a length prefix).
    fn value_token(&mut self, c: &mut Cur<'a>, nesting: usize) -> Res<Val<'a>> {
        let ty = c.u8()?;
        known_type(ty)?;
        Ok(match ty {
            0x00 => Val::Null,
            0x01 => {
                let count = c.u16()?;
                Val::Utf16(until_nul(c.take(usize::from(count) * 2)?))
            }
            0x21 => {
                let len = usize::from(c.u16()?);
                let start = c.pos;
                c.take(len)?;
                if len == 0 {
                    Val::Null
                } else {
                    Val::BinXml(Box::new(self.stream(start, start + len, Mode::Record, nesting + 1)?))
                }
            }
            0x13 => {
                let sid = sid_at(self.data, c.pos)?;
                c.take(sid.len())?;
                Val::Fixed(ty, sid)
            }
            _ => match fixed_width(ty) {
                Some(width) => Val::Fixed(ty, c.take(width)?),
                None => return no("a value token type the walker does not render"),
            },
        })
    }
}

/// The SID at `at` in `b`: 8 bytes, then 4 for each sub-authority.
fn sid_at(b: &[u8], at: usize) -> Res<&[u8]> {
    let count = *b.get(at + 1).ok_or(Unsupported("truncated SID"))?;
    if b.len() < at + 8 {
        return no("truncated SID");
    }
    b.get(at..at + 8 + 4 * usize::from(count)).ok_or(Unsupported("truncated SID"))
}

/// The width of the fixed-size scalar types the walker renders.
fn fixed_width(ty: u8) -> Option<usize> {
    Some(match ty {
        0x03 | 0x04 => 1,
        0x05 | 0x06 => 2,
        0x07 | 0x08 | 0x0d | 0x14 => 4,
        0x09 | 0x0a | 0x11 | 0x15 => 8,
        0x0f | 0x12 => 16,
        _ => return None,
    })
}

/// Value types the format defines; others make the record unreadable.
fn known_type(ty: u8) -> Res<()> {
    match ty {
        0x00..=0x15 | 0x20 | 0x21 | 0x23 | 0x81..=0x95 => Ok(()),
        _ => no("an unknown value type"),
    }
}

/// Windows-1252 bytes to text (every byte maps to a character).
fn ansi(b: &[u8]) -> String {
    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(b);
    text.into_owned()
}

/// Builds a tree from tokens, as an XML parser would.
struct TreeBuilder<'a> {
    tree: Tree<'a>,
    /// Open elements.
    stack: Vec<u32>,
    /// An element start not yet closed (its attributes being read).
    open: Option<Elem<'a>>,
    attr: Option<Attr<'a>>,
}

impl<'a> TreeBuilder<'a> {
    fn close_open(&mut self) -> Res<u32> {
        let mut e = self.open.take().ok_or(Unsupported("an element start closed twice"))?;
        if let Some(a) = self.attr.take() {
            if !a.value.is_empty() {
                e.attrs.push(a);
            }
        }
        let id = self.tree.elems.len() as u32;
        self.tree.elems.push(e);
        Ok(id)
    }

    /// An element or instance: a child of the open element, else a top-level node.
    fn attach(&mut self, node: Node<'a>) {
        match self.stack.last() {
            Some(&parent) => self.tree.elems[parent as usize].children.push(node),
            None => self.tree.roots.push(node),
        }
    }

    /// Content: an attribute's value while an element start is open, else the open element's.
    fn content(&mut self, node: Node<'a>) -> Res<()> {
        if self.open.is_some() {
            // Before any attribute it belongs to nothing, and is dropped.
            if let Some(a) = self.attr.as_mut() {
                a.value.push(node);
            }
            return Ok(());
        }
        let parent = *self.stack.last().ok_or(Unsupported("content outside any element"))?;
        self.tree.elems[parent as usize].children.push(node);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering values as the XML text would read

fn push_utf16(out: &mut String, b: &[u8]) {
    // Most text is printable ASCII: copy its low bytes at once.
    let plain =
        b.chunks_exact(2).all(|u| u[1] == 0 && ((0x20..0x7f).contains(&u[0]) || matches!(u[0], b'\t' | b'\n' | b'\r')));
    if plain {
        let mut bytes = std::mem::take(out).into_bytes();
        bytes.extend(b.chunks_exact(2).map(|u| u[0]));
        *out = String::from_utf8(bytes).unwrap_or_default();
        return;
    }
    let units = b.chunks_exact(2).map(|u| u16::from_le_bytes([u[0], u[1]]));
    for ch in char::decode_utf16(units) {
        out.push(match ch {
            Ok(c) if (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{fffe}' | '\u{ffff}') => '_',
            Ok(c) => c,
            Err(_) => '_',
        });
    }
}

fn push_ansi(out: &mut String, s: &str) {
    for c in s.chars() {
        out.push(if c < ' ' && !matches!(c, '\t' | '\n' | '\r') { '_' } else { c });
    }
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// `YYYY-MM-DDTHH:MM:SS.fffffffZ` from year, month, day, hour, minute, second and 100 ns ticks.
fn push_date(out: &mut String, f: [u64; 7]) {
    let mut buf = *b"0000-00-00T00:00:00.0000000Z";
    for (value, range) in f.into_iter().zip([0..4, 5..7, 8..10, 11..13, 14..16, 17..19, 20..27]) {
        let mut v = value;
        for d in buf[range].iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

/// Year, month and day of the date `days` after 1601-01-01 (proleptic Gregorian).
fn civil(days: u64) -> (u64, u64, u64) {
    // Count from 0000-03-01 so that leap days end each 400-year cycle of 146,097 days.
    let z = days + 584_694;
    let cycle = z / 146_097;
    let day_of_cycle = z % 146_097;
    let year_of_cycle = (day_of_cycle - day_of_cycle / 1_460 + day_of_cycle / 36_524 - day_of_cycle / 146_096) / 365;
    let day_of_year = day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    let m = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * m + 2) / 5 + 1;
    let month = if m < 10 { m + 3 } else { m - 9 };
    (cycle * 400 + year_of_cycle + u64::from(month <= 2), month, day)
}

fn push_filetime(out: &mut String, ft: u64) {
    const TICKS: u64 = 10_000_000;
    if ft > i64::MAX as u64 {
        return push_date(out, [0; 7]);
    }
    let (days, ticks) = (ft / (86_400 * TICKS), ft % (86_400 * TICKS));
    let (y, mo, d) = civil(days);
    let secs = ticks / TICKS;
    push_date(out, [y % 10_000, mo, d, secs / 3600, secs / 60 % 60, secs % 60, ticks % TICKS]);
}

fn push_systime(out: &mut String, b: &[u8]) {
    let f: Vec<u64> = b.chunks_exact(2).map(|u| u64::from(u16::from_le_bytes([u[0], u[1]]))).collect();
    let (year, month, day) = (f[0], f[1], f[3]);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let valid = (1601..=30827).contains(&year)
        && (1..=12).contains(&month)
        && (1..=days_in_month).contains(&day)
        && f[4] < 24
        && f[5] < 60
        && f[6] < 60
        && f[7] < 1000;
    if valid {
        push_date(out, [year % 10_000, month, day, f[4], f[5], f[6], f[7] * 10_000]);
    } else {
        push_date(out, [1601, 1, 1, 0, 0, 0, 0]);
    }
}

/// Append the text a value renders to.
fn render(v: &Val<'_>, out: &mut String) {
    match v {
        Val::Null | Val::BinXml(_) => {}
        Val::Utf16(b) => push_utf16(out, b),
        Val::Ansi(s) => push_ansi(out, s),
        Val::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                render(item, out);
            }
        }
        Val::Fixed(ty, b) => render_fixed(*ty, b, out),
    }
}

fn render_fixed(ty: u8, b: &[u8], out: &mut String) {
    let u = |n: usize| -> u64 {
        let mut x = [0u8; 8];
        x[..n].copy_from_slice(&b[..n]);
        u64::from_le_bytes(x)
    };
    let _ = match ty {
        0x03 => write!(out, "{}", b[0] as i8),
        0x04 => write!(out, "{}", b[0]),
        0x05 => write!(out, "{}", u(2) as u16 as i16),
        0x06 => write!(out, "{}", u(2) as u16),
        0x07 => write!(out, "{}", u(4) as u32 as i32),
        0x08 => write!(out, "{}", u(4) as u32),
        0x09 => write!(out, "{}", u(8) as i64),
        0x0a => write!(out, "{}", u(8)),
        0x0d => match u(4) as u32 as i32 {
            0 => write!(out, "false"),
            1 => write!(out, "true"),
            n => write!(out, "{n}"),
        },
        0x0e => {
            for byte in b {
                out.push(HEX_UPPER[usize::from(byte >> 4)] as char);
                out.push(HEX_UPPER[usize::from(byte & 15)] as char);
            }
            Ok(())
        }
        0x0f => {
            out.push('{');
            for (i, at) in [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15].into_iter().enumerate() {
                if matches!(i, 4 | 6 | 8 | 10) {
                    out.push('-');
                }
                out.push(HEX_LOWER[usize::from(b[at] >> 4)] as char);
                out.push(HEX_LOWER[usize::from(b[at] & 15)] as char);
            }
            out.push('}');
            Ok(())
        }
        0x11 => {
            push_filetime(out, u(8));
            Ok(())
        }
        0x12 => {
            push_systime(out, b);
            Ok(())
        }
        0x13 => {
            let authority = b[2..8].iter().fold(0u64, |a, x| (a << 8) | u64::from(*x));
            let _ = write!(out, "S-{}-{authority}", b[0]);
            for sub in b[8..].chunks_exact(4).take(usize::from(b[1])) {
                let _ = write!(out, "-{}", u32::from_le_bytes([sub[0], sub[1], sub[2], sub[3]]));
            }
            Ok(())
        }
        0x14 => write!(out, "0x{:x}", u(4)),
        0x15 => write!(out, "0x{:x}", u(8)),
        _ => Ok(()),
    };
}

/// The text an entity reference reads as.
fn entity_text(name: &str) -> String {
    match name {
        "lt" => "<".into(),
        "gt" => ">".into(),
        "amp" => "&".into(),
        "apos" => "'".into(),
        "quot" => "\"".into(),
        other => format!("&{other};"),
    }
}

// ---------------------------------------------------------------------------------------------
// Emitting a record's elements into the event builder

/// A tree and the values its substitutions take.
#[derive(Clone, Copy)]
struct Scope<'t, 'a> {
    tree: &'t Tree<'a>,
    values: &'t [Val<'a>],
}

/// Where the array an element repeats for stands, and the item this copy holds.
#[derive(Clone, Copy)]
enum Loc {
    Child(usize),
    Attr(usize, usize),
}

type Replace<'t, 'a> = Option<(Loc, &'t Val<'a>)>;

/// An item of an array in an element repeated for it: its node, or none for an empty string.
fn item_node<'t, 'a>(item: &'t Val<'a>) -> Option<&'t Val<'a>> {
    (!matches!(item, Val::Utf16(b) if b.is_empty()) && !matches!(item, Val::Ansi(s) if s.is_empty())).then_some(item)
}

/// The attributes of an element being emitted, rendered when the builder asks for one.
struct AttrView<'x, 't, 'a> {
    names: &'x [Box<str>],
    scope: Scope<'t, 'a>,
    elem: &'t Elem<'a>,
    replace: Replace<'t, 'a>,
}

impl<'t, 'a> AttrView<'_, 't, 'a> {
    /// The values an attribute's nodes resolve to (literal or substituted).
    fn resolved(&self, at: usize, node_at: usize, node: &'t Node<'a>) -> Option<&'t Val<'a>> {
        match node {
            Node::Value(v) => Some(v),
            Node::Subst { id, optional } => {
                if let Some((Loc::Attr(a, n), item)) = self.replace {
                    if a == at && n == node_at {
                        return item_node(item);
                    }
                }
                let v = self.scope.values.get(usize::from(*id))?;
                (!(*optional && v.is_empty())).then_some(v)
            }
            _ => None,
        }
    }
}

impl Attrs for AttrView<'_, '_, '_> {
    fn get(&self, wanted: &[u8]) -> Option<String> {
        for (at, a) in self.elem.attrs.iter().enumerate() {
            if local(&self.names[a.name as usize]).as_bytes() != wanted {
                continue;
            }
            let values = || a.value.iter().enumerate().filter_map(|(i, n)| self.resolved(at, i, n));
            // An attribute with nothing but empty values is not written.
            if values().all(Val::is_empty) {
                continue;
            }
            let mut text = String::new();
            for v in values() {
                render(v, &mut text);
            }
            return Some(text);
        }
        None
    }
}

struct Emit<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    b: EventBuilder,
    /// Text given since the last element start or end.
    run: usize,
    depth: usize,
    scratch: String,
}

impl<'a> Emit<'_, 'a> {
    fn text(&mut self, s: &str) -> Res<()> {
        self.run += s.len();
        if self.run > MAX_VALUE {
            return no("a text longer than what is kept of a value");
        }
        self.ctx.spend(0, 6 * s.len())?;
        self.b.text(s);
        Ok(())
    }

    fn text_val(&mut self, v: &Val<'_>) -> Res<()> {
        // Text the event does not keep (`Keywords`, `Opcode`, …) is not rendered.
        if !self.b.keeps_text() {
            return self.ctx.spend(0, v.size_bound());
        }
        let mut s = std::mem::take(&mut self.scratch);
        s.clear();
        render(v, &mut s);
        let r = self.text(&s);
        self.scratch = s;
        r
    }

    /// The elements a top-level node stands for, in order.
    fn tops<'t>(scope: Scope<'t, 'a>, node: &'t Node<'a>, out: &mut Vec<(Scope<'t, 'a>, u32)>) -> Res<()> {
        match node {
            Node::Elem(id) => out.push((scope, *id)),
            Node::Instance(i) => {
                let Some(Node::Elem(root)) = i.template.roots.first() else { return no("a template without root") };
                out.push((Scope { tree: &i.template, values: &i.values }, *root));
            }
            Node::Value(Val::BinXml(t)) => {
                for n in &t.roots {
                    Self::tops(Scope { tree: t, values: &[] }, n, out)?;
                }
            }
            _ => return no("content at the top level"),
        }
        Ok(())
    }

    /// Check what the crate would refuse in an element's attributes.
    fn check_attrs(&mut self, scope: Scope<'_, 'a>, e: &Elem<'a>) -> Res<()> {
        let mut bytes = 0;
        for (i, a) in e.attrs.iter().enumerate() {
            if e.attrs[..i]
                .iter()
                .any(|o| o.name == a.name || self.ctx.names[o.name as usize] == self.ctx.names[a.name as usize])
            {
                return no("an attribute given twice");
            }
            bytes += self.ctx.names[a.name as usize].len() + 4;
            for n in &a.value {
                match n {
                    Node::Value(v) => bytes += v.size_bound(),
                    Node::Subst { id, .. } => match scope.values.get(usize::from(*id)) {
                        Some(Val::BinXml(_)) => return no("Binary XML inside an attribute"),
                        Some(v) => bytes += v.size_bound(),
                        None => {}
                    },
                    _ => return no("a reference or CDATA inside an attribute"),
                }
            }
        }
        let name = self.ctx.names[e.name as usize].len();
        self.ctx.spend(e.nodes(), bytes + 2 * name + 5)
    }

    /// An element that is not the record's root; `template_root` when it is an instance's root
    /// (which no array repeats).
    fn element(&mut self, scope: Scope<'_, 'a>, id: u32, template_root: bool) -> Res<()> {
        let e = scope.tree.elems.get(id as usize).ok_or(Unsupported("a bad element index"))?;
        if !template_root {
            let mut found: Replace<'_, 'a> = None;
            let mut arrays = 0;
            let mut check = |loc: Loc, n: &Node<'a>| {
                if let Node::Subst { id, .. } = n {
                    if let Some(v @ Val::Array(items)) = scope.values.get(usize::from(*id)) {
                        if items.len() > 1 {
                            arrays += 1;
                            found.get_or_insert((loc, v));
                        }
                    }
                }
            };
            for (i, n) in e.children.iter().enumerate() {
                check(Loc::Child(i), n);
            }
            for (ai, a) in e.attrs.iter().enumerate() {
                for (ni, n) in a.value.iter().enumerate() {
                    check(Loc::Attr(ai, ni), n);
                }
            }
            if arrays > 1 {
                return no("several arrays in one element");
            }
            if let Some((loc, Val::Array(items))) = found {
                self.ctx.spend(items.len() * e.nodes(), 0)?;
                for item in items {
                    self.element_as(scope, e, Some((loc, item)))?;
                }
                return Ok(());
            }
        }
        self.element_as(scope, e, None)
    }

    fn element_as<'t>(&mut self, scope: Scope<'t, 'a>, e: &'t Elem<'a>, replace: Replace<'t, 'a>) -> Res<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return no("elements nested too deeply");
        }
        self.check_attrs(scope, e)?;
        let name = &self.ctx.names[e.name as usize];
        let local_name = local(name);
        if local_name == "Event" {
            return no("an Event element inside an event");
        }
        let view = AttrView { names: &self.ctx.names, scope, elem: e, replace };
        self.b.open(local_name.as_bytes(), &view);
        self.run = 0;
        self.children(scope, e, replace)?;
        self.b.end();
        self.run = 0;
        self.depth -= 1;
        Ok(())
    }

    fn children<'t>(&mut self, scope: Scope<'t, 'a>, e: &'t Elem<'a>, replace: Replace<'t, 'a>) -> Res<()> {
        for (i, n) in e.children.iter().enumerate() {
            match n {
                Node::Elem(c) => {
                    let child = scope.tree.elems.get(*c as usize).ok_or(Unsupported("a bad element index"))?;
                    // Left out when the value it depends on is NULL.
                    let left_out = child
                        .dependency
                        .and_then(|d| scope.values.get(usize::from(d)))
                        .is_some_and(|v| matches!(v, Val::Null));
                    if !left_out {
                        self.element(scope, *c, false)?;
                    }
                }
                Node::Value(Val::BinXml(t)) => self.fragment(t)?,
                Node::Value(v) => self.text_val(v)?,
                Node::Subst { id, optional } => {
                    if let Some((Loc::Child(at), item)) = replace {
                        if at == i {
                            if let Some(v) = item_node(item) {
                                self.text_val(v)?;
                            }
                            continue;
                        }
                    }
                    match scope.values.get(usize::from(*id)) {
                        None => {}
                        Some(Val::BinXml(t)) => self.fragment(t)?,
                        Some(v) if *optional && v.is_empty() => {}
                        Some(v) => self.text_val(v)?,
                    }
                }
                Node::Entity(name) => {
                    let t = entity_text(&self.ctx.names[*name as usize]);
                    self.text(&t)?;
                }
                Node::CharRef(ch) => {
                    let t = match char::from_u32(u32::from(*ch)).filter(|c| *c != '\0') {
                        Some(c) => c.to_string(),
                        None => format!("&#{ch};"),
                    };
                    self.text(&t)?;
                }
                Node::CData(b) => {
                    let t: String = char::decode_utf16(b.chunks_exact(2).map(|u| u16::from_le_bytes([u[0], u[1]])))
                        .map(|c| c.unwrap_or('\u{fffd}'))
                        .collect();
                    self.text(&t)?;
                }
                Node::Instance(inst) => {
                    let Some(Node::Elem(root)) = inst.template.roots.first() else {
                        return no("a template without root");
                    };
                    self.element(Scope { tree: &inst.template, values: &inst.values }, *root, true)?;
                }
            }
        }
        Ok(())
    }

    /// A nested Binary XML value: its elements in its place.
    fn fragment(&mut self, t: &Tree<'a>) -> Res<()> {
        self.ctx.spend(t.roots.len(), 0)?;
        let mut tops = Vec::new();
        for n in &t.roots {
            Self::tops(Scope { tree: t, values: &[] }, n, &mut tops)?;
        }
        for (scope, id) in tops {
            // Neither its own elements nor its instances' roots are repeated for an array: its
            // elements have no values.
            self.element(scope, id, true)?;
        }
        Ok(())
    }
}

/// The event in one record's Binary XML, `data[start..end]`.
fn record(ctx: &mut Ctx<'_>, start: usize, end: usize) -> Res<WinEvent> {
    ctx.record_nodes = 0;
    ctx.record_bytes = 0;
    ctx.spend(1, 64)?;
    let tree = ctx.stream(start, end, Mode::Record, 0)?;
    let mut tops = Vec::new();
    for n in &tree.roots {
        Emit::tops(Scope { tree: &tree, values: &[] }, n, &mut tops)?;
    }
    let mut emit = Emit { ctx, b: EventBuilder::default(), run: 0, depth: 0, scratch: String::new() };
    match tops.as_slice() {
        // No element: the crate writes an empty `<Event>`.
        [] => return Ok(WinEvent::default()),
        [(scope, id)] => {
            let e = scope.tree.elems.get(*id as usize).ok_or(Unsupported("a bad element index"))?;
            if local(&emit.ctx.names[e.name as usize]) != "Event" {
                return no("a root element other than Event");
            }
            if e.self_closing {
                return no("an empty Event element");
            }
            emit.check_attrs(*scope, e)?;
            emit.children(*scope, e, None)?;
        }
        _ => return no("several root elements"),
    }
    Ok(emit.b.finish())
}

/// Check the chunk's string table as the evtx crate reads it when it opens the chunk: a chain of
/// names from each of its 64 slots, each a link and a length-prefixed UTF-16 name.
fn check_string_table(data: &[u8]) -> Res<()> {
    let mut seen = std::collections::HashSet::new();
    for slot in 0..64 {
        let first = le_u32(data, 128 + 4 * slot)?;
        if first == 0 {
            continue;
        }
        let mut pos = first as usize;
        if pos > data.len() {
            return no("a string table offset past the chunk");
        }
        loop {
            let mut c = Cur { data, pos };
            let next = c.u32()?;
            c.u16()?;
            let count = c.u16()?;
            let units = c.take(usize::from(count) * 2)?;
            c.u16()?;
            utf16_strict(until_nul(units)).ok_or(Unsupported("a string table name that is not UTF-16"))?;
            seen.insert(pos as u32);
            if next == 0 || seen.contains(&next) {
                break;
            }
            if next as usize > data.len() {
                return no("a string table offset past the chunk");
            }
            pos = next as usize;
        }
    }
    Ok(())
}

/// The live records of one 64 KiB chunk, read from its Binary XML.
pub(super) fn read_chunk(data: &[u8]) -> Result<FastChunk, Unsupported> {
    if data.len() != CHUNK_SIZE || &data[..8] != b"ElfChnk\0" {
        return no("not a whole chunk");
    }
    let last_id = le_u64(data, 32)?;
    let live_end = (le_u32(data, 48)? as usize).min(data.len());
    check_string_table(data)?;
    let mut ctx = Ctx {
        data,
        names: Vec::new(),
        name_ids: HashMap::new(),
        templates: HashMap::new(),
        template_bytes: 0,
        nodes: 0,
        bytes: 0,
        record_nodes: 0,
        record_bytes: 0,
    };
    let mut out = FastChunk::default();
    let mut at = CHUNK_HEADER_SIZE;
    while at < live_end {
        if data.get(at..at + 4) != Some(RECORD_MAGIC.as_slice()) {
            return no("no record where one should start");
        }
        let size = le_u32(data, at + 4)? as usize;
        let id = le_u64(data, at + 8)?;
        let filetime = le_u64(data, at + 16)?;
        let secs = (filetime / 10_000_000) as i64 - 11_644_473_600;
        let nanos = ((filetime % 10_000_000) * 100) as i32;
        if jiff::Timestamp::new(secs, nanos).is_err() {
            return no("a record time out of range");
        }
        if size < RECORD_HEADER_SIZE + 4 {
            return no("a record smaller than its header");
        }
        let start = at + RECORD_HEADER_SIZE;
        let end = start + (size - RECORD_HEADER_SIZE - 4);
        if end > data.len() {
            return no("a record past the chunk");
        }
        out.records.push((id, record(&mut ctx, start, end)?));
        at += size;
        if id == last_id {
            break;
        }
    }
    let rest = data.get(at.min(data.len())..).unwrap_or_default();
    out.slack = memchr::memmem::find(rest, RECORD_MAGIC).is_some();
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn local_names_read_as_split_at_the_first_colon() {
        for name in ["", ":", "Event", "e:Event", "a:b:c", ":x", "x:", "é:ü", "ns\u{e9}:Data", "Data"] {
            assert_eq!(super::local(name), name.split_once(':').map_or(name, |(_, l)| l), "{name:?}");
        }
    }
}
