//! Containers: files, folders, standard input and zip archives (nested), flattened into units.
//!
//! Nothing is ever extracted next to the input, and zip entry names are only names: `../x` and
//! `C:\x` are shown, never followed. A zip inside a zip is copied, metered, to an anonymous
//! temporary file (removed by the system when closed) and opened from there, never held in
//! memory; so is a zip read from a stream (standard input, a FIFO), which must be seekable to be
//! opened. Guards stop zip bombs, with one budget per input shared by every archive nested in it:
//! a cap on entries, on total uncompressed bytes (declared, and counted as they are really read)
//! and on the compression ratio, counted across levels (an entry's ratio times that of every
//! archive it is nested in); plus a cap on nesting and on the run's total bytes. An archive whose
//! entries overlap (many entries pointing at the same data) is refused before anything in it is
//! read. Only regular files are opened in folders: FIFOs, sockets and devices are skipped with a
//! warning.
//!
//! Standard input and a FIFO named on the command line are streams, read once: their format is
//! detected from the first bytes, and the reader consumes the rest as it comes, as it would a
//! file. Only a zip or an `.evtx` (whose readers need to seek) is first copied to a temporary
//! file, up to [`Options::max_spool_bytes`](crate::Options::max_spool_bytes).
//!
//! An archive cut short (a download or copy that stopped) has no central directory: its entries
//! are then found by their local headers, in order, and read up to the cut; the entry the cut
//! falls in is read as far as it goes, with a warning naming the byte. Each unit carries the date
//! its bytes were written (the zip entry's date, the archive's latest when the entry has none, or
//! the file's modification time), from which readers of logs without a year take it.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use uctriage_evidence::Warning;

use crate::input::{read_full, Input, HEAD_LEN};
use crate::{Options, Source};

/// A seekable reader over a shared file, so that many threads can read one archive at once.
#[derive(Debug, Clone)]
pub(crate) struct SharedFile {
    file: Arc<File>,
    len: u64,
    pos: u64,
}

impl SharedFile {
    fn open(path: &Path) -> io::Result<Self> {
        Self::from_file(File::open(path)?)
    }

    fn from_file(file: File) -> io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(SharedFile { file: Arc::new(file), len, pos: 0 })
    }
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], off: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(f, buf, off)
}

#[cfg(windows)]
fn read_at(f: &File, buf: &mut [u8], off: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(f, buf, off)
}

impl Read for SharedFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = read_at(&self.file, buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SharedFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let next = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = next.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

/// The bytes of an archive: on disk (a file, or a temporary copy of a nested zip or of a stream),
/// or in memory (bytes handed over as a [`Source::Bytes`]).
#[derive(Debug, Clone)]
pub(crate) enum ArchiveData {
    File(SharedFile),
    Memory(io::Cursor<Arc<[u8]>>),
}

impl Read for ArchiveData {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ArchiveData::File(f) => f.read(buf),
            ArchiveData::Memory(c) => c.read(buf),
        }
    }
}

impl Seek for ArchiveData {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match self {
            ArchiveData::File(f) => f.seek(to),
            ArchiveData::Memory(c) => c.seek(to),
        }
    }
}

type Archive = zip::ZipArchive<ArchiveData>;

/// Where a unit's bytes come from.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    File(PathBuf),
    Memory(Arc<[u8]>),
    /// A temporary copy: a nested `.zip` entry that is not a zip after all, or an `.evtx` read
    /// from a stream.
    Temp(SharedFile),
    /// A stream read once, as it comes (standard input, a FIFO).
    Stream(Stream),
    ZipEntry {
        archive: Archive,
        index: usize,
        budgets: Budgets,
    },
    /// An entry of an archive without a readable central directory, found by its local header
    /// at `header_at`; `cut` when the archive ends inside its data.
    Salvaged {
        data: ArchiveData,
        header_at: u64,
        compressed: u64,
        cut: bool,
        budgets: Budgets,
    },
}

/// One thing to read.
#[derive(Debug, Clone)]
pub struct Unit {
    /// Display path (`bundle.zip!Windows/EventLog/x.evtx`).
    pub path: String,
    /// Path inside the container, forward slashes (or the file name).
    pub name: String,
    pub size: Option<u64>,
    /// When the bytes were written: the zip entry's date, or the file's modification time.
    pub modified: Option<Timestamp>,
    pub(crate) origin: Origin,
}

/// A stream handed to the one reader that reads it (its first bytes, already read for detection,
/// and the rest), and how many bytes were read from it.
#[derive(Clone)]
pub(crate) struct Stream {
    body: Arc<Mutex<Option<Box<dyn Read + Send>>>>,
    read: Arc<AtomicU64>,
}

/// Counts the bytes read through it.
struct Counted {
    inner: Box<dyn Read + Send>,
    read: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl Unit {
    /// The bytes read from a stream so far (its size is known only once it is read); `None`
    /// for anything else.
    pub(crate) fn stream_bytes(&self) -> Option<u64> {
        match &self.origin {
            Origin::Stream(s) => Some(s.read.load(Ordering::Relaxed)),
            _ => None,
        }
    }
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stream")
    }
}

/// A shared budget (of bytes, or of entries), spent as it is used.
#[derive(Debug)]
pub(crate) struct Budget {
    left: AtomicU64,
}

impl Budget {
    pub(crate) fn new(amount: u64) -> Arc<Self> {
        Arc::new(Budget { left: AtomicU64::new(amount) })
    }

    /// Spend `n`; false (and nothing spent) when less is left.
    fn spend(&self, n: u64) -> bool {
        self.left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(n)).is_ok()
    }

    /// Give `n` back (spent and not used).
    fn give_back(&self, n: u64) {
        self.left.fetch_add(n, Ordering::Relaxed);
    }

    /// Spend up to `n`; what was spent.
    fn spend_up_to(&self, n: u64) -> u64 {
        let before = self.left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| Some(l - l.min(n)));
        before.unwrap_or(0).min(n)
    }
}

/// A reader that stops with an error when the run's or the input's budget runs out (a bomb that
/// lies about sizes).
struct Metered<R> {
    inner: R,
    budgets: Budgets,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if !self.budgets.run.spend(n as u64) {
            return Err(io::Error::other("the total uncompressed size limit was reached (possible zip bomb)"));
        }
        if !self.budgets.input.spend(n as u64) {
            return Err(io::Error::other(format!(
                "this input's limit of {} uncompressed bytes was reached (possible zip bomb)",
                self.budgets.input_limit
            )));
        }
        Ok(n)
    }
}

fn is_zip(name: &str, head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04") || (head.starts_with(b"PK\x05\x06") && name.to_ascii_lowercase().ends_with(".zip"))
}

/// Walk the sources into units; problems with one source become warnings.
pub(crate) fn collect(
    sources: &[Source],
    opts: &Options,
    budget: &Arc<Budget>,
    warnings: &mut Vec<Warning>,
) -> Vec<Unit> {
    let mut units = Vec::new();
    for source in sources {
        match source {
            Source::Stdin => add_stream(Box::new(io::stdin()), "-", "stdin", opts, budget, &mut units, warnings),
            Source::Bytes { name, bytes } => {
                // Named like a file: the name as given is the display path; detection sees it
                // with forward slashes, as it sees the names of zip entries.
                let detect_name = name.replace('\\', "/");
                add_bytes(name, &detect_name, bytes.clone(), opts, budget, &mut units, warnings);
            }
            Source::Path(p) => walk(p, &p.display().to_string(), true, opts, budget, &mut units, warnings),
        }
    }
    units
}

fn warn(path: &str, place: &str, message: impl Into<String>) -> Warning {
    Warning { path: path.to_owned(), place: place.to_owned(), message: message.into() }
}

/// A stream read once (standard input, a FIFO named on the command line), handled like a file
/// called `name`. Its format is told from its first bytes; the rest is read as it comes by that
/// format's reader. A zip or an `.evtx` is first copied to a temporary file (their readers seek),
/// up to [`Options::max_spool_bytes`](crate::Options::max_spool_bytes).
fn add_stream(
    mut stream: Box<dyn Read + Send>,
    display: &str,
    name: &str,
    opts: &Options,
    budget: &Arc<Budget>,
    units: &mut Vec<Unit>,
    w: &mut Vec<Warning>,
) {
    let mut head = Vec::with_capacity(HEAD_LEN);
    if let Err(e) = (&mut stream).take(HEAD_LEN as u64).read_to_end(&mut head) {
        w.push(warn(display, "byte 0", format!("cannot read: {e}")));
        return;
    }
    let zip = is_zip(name, &head);
    if zip || head.starts_with(EVTX_MAGIC) {
        let what = if zip { "a zip archive" } else { "an .evtx file" };
        let whole = io::Cursor::new(head).chain(stream);
        let file = match spool(whole, opts.max_spool_bytes) {
            Ok(f) => f,
            Err(Spool::TooBig) => {
                w.push(warn(
                    display,
                    &format!("byte {}", opts.max_spool_bytes),
                    format!(
                        "{what} read from a stream is first copied to a temporary file, up to {} bytes; this one is \
                         larger, so it was not read (save it to a file and scan the file)",
                        opts.max_spool_bytes
                    ),
                ));
                return;
            }
            Err(Spool::Io(e)) => {
                w.push(warn(display, "", format!("cannot copy {what} read from a stream to a temporary file: {e}")));
                return;
            }
        };
        if zip {
            let budgets = Budgets::for_input(budget, file.len, opts);
            add_archive(ArchiveData::File(file), display, opts, &budgets, 0, units, w);
        } else {
            units.push(Unit {
                path: display.to_owned(),
                name: name.to_owned(),
                size: Some(file.len),
                modified: None,
                origin: Origin::Temp(file),
            });
        }
        return;
    }
    let whole: Box<dyn Read + Send> = Box::new(io::Cursor::new(head).chain(stream));
    units.push(Unit {
        path: display.to_owned(),
        name: name.to_owned(),
        size: None,
        modified: None,
        origin: Origin::Stream(Stream { body: Arc::new(Mutex::new(Some(whole))), read: Arc::default() }),
    });
}

/// The first bytes of an `.evtx` file.
const EVTX_MAGIC: &[u8] = b"ElfFile\0";

/// Why a copy to a temporary file failed.
enum Spool {
    /// Over the cap: nothing is kept.
    TooBig,
    Io(io::Error),
}

/// Copy `src` to an anonymous temporary file (the system removes it once it is closed), at most
/// `cap` bytes.
fn spool(src: impl Read, cap: u64) -> Result<SharedFile, Spool> {
    let mut file = tempfile::tempfile().map_err(Spool::Io)?;
    let copied = io::copy(&mut src.take(cap.saturating_add(1)), &mut file).map_err(Spool::Io)?;
    if copied > cap {
        return Err(Spool::TooBig);
    }
    SharedFile::from_file(file).map_err(Spool::Io)
}

/// What a file that is neither a regular file nor a folder is, for the warning that skips it.
fn special_kind(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        } else if t.is_socket() {
            return "a socket";
        } else if t.is_char_device() {
            return "a character device";
        } else if t.is_block_device() {
            return "a block device";
        }
    }
    let _ = t;
    "not a regular file"
}

#[cfg(unix)]
fn is_fifo(t: std::fs::FileType) -> bool {
    std::os::unix::fs::FileTypeExt::is_fifo(&t)
}

#[cfg(not(unix))]
fn is_fifo(_: std::fs::FileType) -> bool {
    false
}

/// Walk a path. `named` is true for a path given by the user (not found in a folder): a FIFO
/// named so is a stream (`scan <(zcat logs.gz)`), read once; found in a folder, a FIFO, a socket
/// or a device is skipped with a warning (opening one would wait forever or never end).
fn walk(
    path: &Path,
    display: &str,
    named: bool,
    opts: &Options,
    budget: &Arc<Budget>,
    units: &mut Vec<Unit>,
    w: &mut Vec<Warning>,
) {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            w.push(warn(display, "", format!("cannot open: {e}")));
            return;
        }
    };
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                w.push(warn(display, "", format!("cannot list folder: {e}")));
                return;
            }
        };
        entries.sort();
        for e in entries {
            // Symbolic links to folders are not followed, so a loop cannot trap the walk.
            if std::fs::symlink_metadata(&e).is_ok_and(|m| m.file_type().is_symlink() && e.is_dir()) {
                continue;
            }
            let shown = e.display().to_string();
            walk(&e, &shown, false, opts, budget, units, w);
        }
        return;
    }
    let name = path.file_name().map_or_else(|| display.to_owned(), |n| n.to_string_lossy().into_owned());
    if !meta.is_file() {
        if named && is_fifo(meta.file_type()) {
            match File::open(path) {
                Ok(f) => add_stream(Box::new(f), display, &name, opts, budget, units, w),
                Err(e) => w.push(warn(display, "", format!("cannot open: {e}"))),
            }
        } else {
            w.push(warn(display, "", format!("{}, not a regular file: skipped", special_kind(meta.file_type()))));
        }
        return;
    }
    let mut head = [0u8; 4];
    let n = File::open(path).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
    if is_zip(&name, &head[..n]) {
        match SharedFile::open(path) {
            Ok(file) => {
                let budgets = Budgets::for_input(budget, file.len, opts);
                add_archive(ArchiveData::File(file), display, opts, &budgets, 0, units, w);
            }
            Err(e) => w.push(warn(display, "", format!("cannot open: {e}"))),
        }
        return;
    }
    units.push(Unit {
        path: display.to_owned(),
        name,
        size: Some(meta.len()),
        modified: meta.modified().ok().and_then(|t| Timestamp::try_from(t).ok()),
        origin: Origin::File(path.to_path_buf()),
    });
}

/// The least an archive may spend, however small it is (see [`Budgets`]).
const MIN_ARCHIVE_BYTES: u64 = 16 * 1024 * 1024;

/// The budgets an archive's entries are read under: the run's, and the input's own, shared by
/// every archive nested in it, so that no input can make the run do more work than its size
/// justifies: uncompressed bytes (its size times the highest compression ratio, at least
/// [`MIN_ARCHIVE_BYTES`]), both declared and really read; entries; and the compression ratio,
/// counted across levels through `expansion`.
#[derive(Debug, Clone)]
pub(crate) struct Budgets {
    run: Arc<Budget>,
    /// Uncompressed bytes really read from this input's archives, every level.
    input: Arc<Budget>,
    input_limit: u64,
    /// Uncompressed bytes this input's archives declare, every level.
    declared: Arc<Budget>,
    /// Entries of this input's archives, every level.
    entries: Arc<Budget>,
    entry_limit: usize,
    /// How many times the bytes of the archive at hand were already expanded: 1 for the input
    /// itself; for a nested archive, its parent's times the ratio of its own entry (at least 1).
    expansion: u64,
}

impl Budgets {
    fn for_input(run: &Arc<Budget>, archive_len: u64, opts: &Options) -> Self {
        let input_limit = archive_len.saturating_mul(opts.max_ratio).max(MIN_ARCHIVE_BYTES);
        Budgets {
            run: run.clone(),
            input: Budget::new(input_limit),
            input_limit,
            declared: Budget::new(input_limit),
            entries: Budget::new(opts.max_zip_entries as u64),
            entry_limit: opts.max_zip_entries,
            expansion: 1,
        }
    }

    /// The budgets of an archive nested in this one, found in an entry of `size` bytes stored in
    /// `compressed` bytes: the same budgets, its expansion multiplied by the entry's ratio.
    fn nested(&self, size: u64, compressed: u64) -> Self {
        let ratio = (size / compressed.max(1)).max(1);
        Budgets { expansion: self.expansion.saturating_mul(ratio), ..self.clone() }
    }

    /// Why an entry of `size` bytes stored in `compressed` bytes is refused for its compression
    /// ratio, counted across the levels of nesting; `None` when it is within the limit, or too
    /// small to matter (1 MiB or less).
    fn over_ratio(&self, size: u64, compressed: u64, max: u64) -> Option<String> {
        let own = size / compressed.max(1);
        let total = own.saturating_mul(self.expansion);
        (size > 1024 * 1024 && total > max).then(|| {
            if self.expansion > 1 {
                format!(
                    "compression ratio {total}:1 counting the archives it is nested in ({own}:1 in its own archive) \
                     is over the limit of {max}:1 (possible zip bomb): skipped"
                )
            } else {
                format!("compression ratio {own}:1 is over the limit of {max}:1 (possible zip bomb): skipped")
            }
        })
    }

    fn meter<R: Read>(&self, inner: R) -> Metered<R> {
        Metered { inner, budgets: self.clone() }
    }
}

fn add_bytes(
    display: &str,
    name: &str,
    bytes: Arc<[u8]>,
    opts: &Options,
    budget: &Arc<Budget>,
    units: &mut Vec<Unit>,
    w: &mut Vec<Warning>,
) {
    if is_zip(name, &bytes[..bytes.len().min(4)]) {
        let budgets = Budgets::for_input(budget, bytes.len() as u64, opts);
        add_archive(ArchiveData::Memory(io::Cursor::new(bytes)), display, opts, &budgets, 0, units, w);
    } else {
        units.push(Unit {
            path: display.to_owned(),
            name: name.to_owned(),
            size: Some(bytes.len() as u64),
            modified: None,
            origin: Origin::Memory(bytes),
        });
    }
}

/// A `.zip` entry of an archive at `depth`: copied, metered, to a temporary file (at most
/// [`Options::max_spool_bytes`](crate::Options::max_spool_bytes)) and opened from there, under
/// `budgets` (already [`Budgets::nested`]). Not opened past the depth limit; read as a plain
/// entry when it is not a zip after all. `cut`: the entry's data is cut short (a salvaged
/// archive, already warned of), so a read error ends the copy instead of failing it.
#[allow(clippy::too_many_arguments)]
fn add_nested(
    entry: &mut dyn Read,
    shown: &str,
    name: &str,
    modified: Option<Timestamp>,
    cut: bool,
    opts: &Options,
    budgets: &Budgets,
    depth: usize,
    units: &mut Vec<Unit>,
    w: &mut Vec<Warning>,
) {
    if depth + 1 > opts.max_zip_depth {
        w.push(warn(shown, "", format!("zip nested deeper than {} levels: not opened", opts.max_zip_depth)));
        return;
    }
    let cap = opts.max_spool_bytes.min(opts.max_entry_bytes);
    let mut metered = budgets.meter(entry);
    let copied = if cut { spool(UntilError(&mut metered), cap) } else { spool(&mut metered, cap) };
    let file = match copied {
        Ok(f) => f,
        Err(Spool::TooBig) => {
            w.push(warn(
                shown,
                "",
                format!("nested archive larger than {cap} bytes uncompressed: not opened (extract it and scan it)"),
            ));
            return;
        }
        Err(Spool::Io(e)) => {
            w.push(warn(shown, "", format!("cannot read nested archive: {e}")));
            return;
        }
    };
    let mut head = [0u8; 4];
    let n = read_at(&file.file, &mut head, 0).unwrap_or(0);
    if is_zip(name, &head[..n]) {
        add_archive(ArchiveData::File(file), shown, opts, budgets, depth + 1, units, w);
    } else {
        units.push(Unit {
            path: shown.to_owned(),
            name: name.to_owned(),
            size: Some(file.len),
            modified,
            origin: Origin::Temp(file),
        });
    }
}

/// A reader whose first error is its end: for data known to be cut short.
struct UntilError<R>(R);

impl<R: Read> Read for UntilError<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.0.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Ok(0),
                ok => return ok,
            }
        }
    }
}

/// What the central directory says of one entry.
struct EntryInfo {
    name: String,
    size: u64,
    compressed: u64,
    is_dir: bool,
    encrypted: bool,
    modified: Option<Timestamp>,
}

/// Entries whose bytes (local header and data) overlap, or run into the central directory: the
/// mark of a zip bomb without compression, where many entries point at the same data. Ranges are
/// `(start, end, entry index)`; the answer says which entries and where.
fn overlap(ranges: &mut [(u64, u64, usize)], dir_start: u64) -> Option<String> {
    ranges.sort_unstable();
    if let Some(&(start, _, i)) = ranges.iter().find(|r| r.1 > dir_start) {
        return Some(format!(
            "entry {} (local header at byte {start}) runs into the central directory at byte {dir_start}",
            i + 1
        ));
    }
    ranges.windows(2).find(|p| p[0].1 > p[1].0).map(|p| {
        format!(
            "entries {} and {} overlap at byte {} (their local headers and data share bytes)",
            p[0].2 + 1,
            p[1].2 + 1,
            p[1].0
        )
    })
}

fn add_archive(
    data: ArchiveData,
    display: &str,
    opts: &Options,
    budgets: &Budgets,
    depth: usize,
    units: &mut Vec<Unit>,
    w: &mut Vec<Warning>,
) {
    if depth > opts.max_zip_depth {
        w.push(warn(display, "", format!("zip nested deeper than {} levels: not opened", opts.max_zip_depth)));
        return;
    }
    let mut archive = match zip::ZipArchive::new(data.clone()) {
        Ok(a) => a,
        Err(e) => {
            salvage(data, display, &e, opts, budgets, depth, units, w);
            return;
        }
    };
    let count = archive.len();
    // The input's entry budget is shared with the archives nested in it.
    let allowed = usize::try_from(budgets.entries.spend_up_to(count as u64)).unwrap_or(count);
    if allowed < count {
        w.push(warn(
            display,
            "",
            format!(
                "{count} entries: only the first {allowed} are read (zip entry limit: {} for this input, the \
                 archives nested in it included)",
                budgets.entry_limit
            ),
        ));
    }
    // Every entry's place is checked against the others before any is read.
    let mut entries = Vec::with_capacity(allowed);
    let mut ranges = Vec::with_capacity(allowed);
    for index in 0..allowed {
        match archive.by_index_raw(index) {
            Ok(f) => {
                let start = f.header_start();
                ranges.push((start, f.data_start().unwrap_or(start).saturating_add(f.compressed_size()), index));
                entries.push(Some(EntryInfo {
                    name: f
                        .name()
                        .map_or_else(|_| String::from_utf8_lossy(f.name_raw()).into_owned(), |n| n.replace('\\', "/")),
                    size: f.size(),
                    compressed: f.compressed_size(),
                    is_dir: f.is_dir(),
                    encrypted: f.encrypted(),
                    modified: f.last_modified().and_then(zip_time),
                }));
            }
            Err(e) => {
                w.push(warn(display, &format!("entry {}", index + 1), format!("unreadable entry header: {e}")));
                entries.push(None);
            }
        }
    }
    if let Some(why) = overlap(&mut ranges, archive.central_directory_start()) {
        w.push(warn(display, "", format!("{why}: overlapping zip entries (possible zip bomb), archive not read")));
        return;
    }
    // An entry written without a date (the DOS epoch) takes the archive's latest.
    let latest = entries.iter().flatten().filter_map(|e| e.modified).max();
    for (index, entry) in entries.into_iter().enumerate() {
        let Some(EntryInfo { name, size, compressed, is_dir, encrypted, modified }) = entry else { continue };
        let modified = modified.or(latest);
        if is_dir {
            continue;
        }
        let shown = format!("{display}!{name}");
        if encrypted {
            w.push(warn(&shown, "", "encrypted entry: skipped (no password is ever asked for)"));
            continue;
        }
        if size > opts.max_entry_bytes {
            w.push(warn(&shown, "", format!("{size} bytes uncompressed: over the per-entry limit, skipped")));
            continue;
        }
        if let Some(why) = budgets.over_ratio(size, compressed, opts.max_ratio) {
            w.push(warn(&shown, "", why));
            continue;
        }
        if !budgets.declared.spend(size) {
            w.push(warn(
                display,
                "",
                format!(
                    "entries from {} on are not read: with what this input's archives declared before them, they \
                     would pass this input's limit of {} uncompressed bytes ({} times its size, possible zip bomb)",
                    index + 1,
                    budgets.input_limit,
                    opts.max_ratio
                ),
            ));
            return;
        }
        if name.to_ascii_lowercase().ends_with(".zip") {
            match archive.by_index(index) {
                Ok(mut f) => {
                    let nested = budgets.nested(size, compressed);
                    add_nested(&mut f, &shown, &name, modified, false, opts, &nested, depth, units, w);
                }
                Err(e) => w.push(warn(&shown, "", format!("cannot read nested archive: {e}"))),
            }
            continue;
        }
        units.push(Unit {
            path: shown,
            name,
            size: Some(size),
            modified,
            origin: Origin::ZipEntry { archive: archive.clone(), index, budgets: budgets.clone() },
        });
    }
}

/// A zip entry's date as a time. Zip dates carry no zone: they are read as UTC, which is within
/// a day of the truth. `None` for the DOS epoch (1980-01-01) that tools write when they have no
/// date.
fn zip_time(d: zip::DateTime) -> Option<Timestamp> {
    if d.year() <= 1980 {
        return None;
    }
    let small = |n: u8| i8::try_from(n).ok();
    let date = jiff::civil::Date::new(i16::try_from(d.year()).ok()?, small(d.month())?, small(d.day())?).ok()?;
    let time = jiff::civil::Time::new(small(d.hour())?, small(d.minute())?, small(d.second().min(59))?, 0).ok()?;
    date.to_datetime(time).to_zoned(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp())
}

/// Bytes at `at`, as many as there are up to `buf.len()`.
fn read_at_most(data: &mut ArchiveData, at: u64, buf: &mut [u8]) -> io::Result<usize> {
    data.seek(SeekFrom::Start(at))?;
    read_full(data, buf)
}

const LOCAL: &[u8; 4] = b"PK\x03\x04";
const CENTRAL: &[u8; 4] = b"PK\x01\x02";
const DESCRIPTOR: &[u8; 4] = b"PK\x07\x08";

/// The first local header, central directory header or data descriptor signature at or after
/// `from`, and which one it is.
fn next_signature(data: &mut ArchiveData, from: u64, len: u64) -> io::Result<Option<(u64, [u8; 4])>> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = from;
    while pos < len {
        let n = read_at_most(data, pos, &mut buf)?;
        if n < 4 {
            return Ok(None);
        }
        // A signature that starts in the last three bytes is found by the next window.
        for i in memchr::memmem::find_iter(&buf[..n], b"PK").filter(|i| i + 4 <= n) {
            let sig = [buf[i], buf[i + 1], buf[i + 2], buf[i + 3]];
            if [LOCAL, CENTRAL, DESCRIPTOR].contains(&&sig) {
                return Ok(Some((pos + i as u64, sig)));
            }
        }
        pos += (n - 3) as u64;
    }
    Ok(None)
}

/// The next local or central header at or after `from` (past a data descriptor); `len` if none.
fn header_after(data: &mut ArchiveData, from: u64, len: u64) -> u64 {
    let mut at = from;
    while let Ok(Some((found, sig))) = next_signature(data, at, len) {
        if sig != *DESCRIPTOR {
            return found;
        }
        at = found + 4;
    }
    len
}

/// An entry found by its local header.
struct Local {
    name: String,
    header_at: u64,
    /// Compressed bytes present (up to the cut, for the entry the archive ends in).
    compressed: u64,
    /// Uncompressed size, when the header gives it.
    size: Option<u64>,
    /// The archive ends inside this entry, `compressed` bytes into its data.
    cut: bool,
    encrypted: bool,
    modified: Option<Timestamp>,
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// The sizes in a ZIP64 extra field, where the local header says 0xFFFFFFFF.
fn zip64_sizes(extra: &[u8], mut size: u64, mut compressed: u64) -> (u64, u64) {
    let mut i = 0;
    while i + 4 <= extra.len() {
        let (id, len) = (u16_at(extra, i), usize::from(u16_at(extra, i + 2)));
        let body = &extra[(i + 4).min(extra.len())..(i + 4 + len).min(extra.len())];
        if id == 1 {
            let mut at = 0;
            for v in [&mut size, &mut compressed] {
                if *v == u64::from(u32::MAX) && at + 8 <= body.len() {
                    *v = u64::from_le_bytes(body[at..at + 8].try_into().unwrap_or([0; 8]));
                    at += 8;
                }
            }
        }
        i += 4 + len;
    }
    (size, compressed)
}

/// Walk the local headers of an archive from its start: the entries of an archive whose central
/// directory is missing or unreadable. Stops at the central directory, at the end of the data,
/// or where no header is found, with a warning saying where.
fn local_entries(data: &mut ArchiveData, display: &str, max: usize, w: &mut Vec<Warning>) -> Vec<Local> {
    let mut out = Vec::new();
    let Ok(len) = data.seek(SeekFrom::End(0)) else { return out };
    let mut pos = 0u64;
    let mut header = [0u8; 30];
    while out.len() < max {
        let got = match read_at_most(data, pos, &mut header) {
            Ok(n) => n,
            Err(e) => {
                w.push(warn(display, &format!("byte {pos}"), format!("read error, the rest was not read: {e}")));
                break;
            }
        };
        if got == 0 {
            break;
        }
        if got >= 4 && (header[..4] == *CENTRAL || header[..4] == *b"PK\x05\x06" || header[..4] == *b"PK\x06\x06") {
            break;
        }
        if got < 30 || header[..4] != *LOCAL {
            let why = if got < 30 && header[..got.min(4)] == LOCAL[..got.min(4)] {
                format!("the archive ends inside an entry header, {got} bytes into it (cut short)")
            } else {
                "no entry header here: the rest of the archive was not read".to_owned()
            };
            w.push(warn(display, &format!("byte {pos}"), why));
            break;
        }
        let flags = u16_at(&header, 6);
        let (name_len, extra_len) = (usize::from(u16_at(&header, 26)), usize::from(u16_at(&header, 28)));
        let mut name_extra = vec![0u8; name_len + extra_len];
        let got = read_at_most(data, pos + 30, &mut name_extra).unwrap_or(0);
        if got < name_extra.len() {
            w.push(warn(display, &format!("byte {pos}"), "the archive ends inside an entry header (cut short)"));
            break;
        }
        let raw_name = &name_extra[..name_len];
        let name = std::str::from_utf8(raw_name)
            .map_or_else(|_| String::from_utf8_lossy(raw_name).into_owned(), |n| n.replace('\\', "/"));
        let (size, mut compressed) =
            zip64_sizes(&name_extra[name_len..], u64::from(u32_at(&header, 22)), u64::from(u32_at(&header, 18)));
        let data_at = pos + 30 + name_extra.len() as u64;
        let descriptor = flags & 8 != 0;
        let (present, cut, next) = if descriptor && compressed == 0 {
            // The sizes follow the data: it ends at the next signature.
            match next_signature(data, data_at, len) {
                Ok(Some((at, sig))) => {
                    let next = if sig == *DESCRIPTOR { header_after(data, at + 4, len) } else { at };
                    (at - data_at, false, next)
                }
                _ => (len.saturating_sub(data_at), true, len),
            }
        } else {
            let end = data_at.saturating_add(compressed);
            if end > len {
                (len.saturating_sub(data_at), true, len)
            } else {
                (compressed, false, if descriptor { header_after(data, end, len) } else { end })
            }
        };
        compressed = present;
        out.push(Local {
            name,
            header_at: pos,
            compressed,
            size: (size > 0 || !descriptor).then_some(size),
            cut,
            encrypted: flags & 1 != 0,
            modified: zip::DateTime::try_from_msdos(u16_at(&header, 12), u16_at(&header, 10)).ok().and_then(zip_time),
        });
        if cut {
            break;
        }
        pos = next;
    }
    out
}

/// An archive whose central directory cannot be read: read its entries from their local headers.
#[allow(clippy::too_many_arguments)]
fn salvage(
    mut data: ArchiveData,
    display: &str,
    why: &zip::result::ZipError,
    opts: &Options,
    budgets: &Budgets,
    depth: usize,
    units: &mut Vec<Unit>,
    w: &mut Vec<Warning>,
) {
    let mut magic = [0u8; 4];
    if read_at_most(&mut data, 0, &mut magic).unwrap_or(0) < 4 || magic != *LOCAL {
        w.push(warn(display, "", format!("not a readable zip archive: {why}")));
        return;
    }
    let len = data.seek(SeekFrom::End(0)).unwrap_or(0);
    w.push(warn(
        display,
        &format!("byte {len}"),
        format!(
            "no readable central directory ({why}): the archive was probably cut short here; its entries \
             were found by their local headers and read up to the cut"
        ),
    ));
    // The input's entry budget is shared with the archives nested in it: take what is left, give
    // back what was not found.
    let allowed = budgets.entries.spend_up_to(opts.max_zip_entries as u64);
    let entries = local_entries(&mut data, display, usize::try_from(allowed).unwrap_or(usize::MAX), w);
    budgets.entries.give_back(allowed.saturating_sub(entries.len() as u64));
    let latest = entries.iter().filter_map(|e| e.modified).max();
    for mut e in entries {
        e.modified = e.modified.or(latest);
        if e.name.ends_with('/') {
            continue;
        }
        let shown = format!("{display}!{}", e.name);
        if e.encrypted {
            w.push(warn(&shown, "", "encrypted entry: skipped (no password is ever asked for)"));
            continue;
        }
        if e.cut {
            w.push(warn(
                &shown,
                &format!("byte {}", e.header_at),
                format!(
                    "the archive ends {} bytes into this entry's data (cut short): only what comes before the \
                     cut is read",
                    e.compressed
                ),
            ));
        }
        if let Some(size) = e.size {
            if size > opts.max_entry_bytes {
                w.push(warn(&shown, "", format!("{size} bytes uncompressed: over the per-entry limit, skipped")));
                continue;
            }
            if !e.cut {
                if let Some(why) = budgets.over_ratio(size, e.compressed, opts.max_ratio) {
                    w.push(warn(&shown, "", why));
                    continue;
                }
            }
        }
        if e.name.to_ascii_lowercase().ends_with(".zip") {
            let nested = budgets.nested(e.size.unwrap_or(0), e.compressed);
            let read = with_local(&data, e.header_at, e.compressed, |f| {
                add_nested(f, &shown, &e.name, e.modified, e.cut, opts, &nested, depth, units, w);
            });
            if let Err(err) = read {
                w.push(warn(&shown, "", format!("cannot read nested archive: {err}")));
            }
            continue;
        }
        units.push(Unit {
            path: shown,
            name: e.name,
            size: e.size.filter(|_| !e.cut),
            modified: e.modified,
            origin: Origin::Salvaged {
                data: data.clone(),
                header_at: e.header_at,
                compressed: e.compressed,
                cut: e.cut,
                budgets: budgets.clone(),
            },
        });
    }
}

/// Run `f` over the decompressed data of the entry whose local header is at `at`, `compressed`
/// bytes of data long. Checksums are not checked: a salvaged entry's may be missing.
fn with_local<T>(
    data: &ArchiveData,
    at: u64,
    compressed: u64,
    f: impl FnOnce(&mut dyn Read) -> T,
) -> zip::result::ZipResult<T> {
    let mut src = data.clone();
    src.seek(SeekFrom::Start(at))?;
    let options = zip::ZipReadOptions::new().ignore_crc32(true).override_compressed_size(compressed);
    let result = match zip::read::read_zipfile_from_stream_with_options(&mut src, options)? {
        Some(mut file) => Ok(f(&mut file)),
        None => Err(zip::result::ZipError::Io(io::Error::other("no entry header at this offset"))),
    };
    result
}

/// Open a unit for reading.
pub(crate) fn open(unit: &Unit, opts: &Options) -> io::Result<Input> {
    match &unit.origin {
        Origin::File(p) => {
            let f = File::open(p)?;
            let mut input = Input::new(unit.path.clone(), unit.name.clone(), Box::new(f), unit.size)?;
            input.file = Some(p.clone());
            input.modified = unit.modified;
            Ok(input)
        }
        Origin::Memory(bytes) => {
            Input::new(unit.path.clone(), unit.name.clone(), Box::new(io::Cursor::new(bytes.clone())), unit.size)
        }
        Origin::Temp(file) => {
            let mut file = file.clone();
            file.seek(SeekFrom::Start(0))?;
            let mut input = Input::new(unit.path.clone(), unit.name.clone(), Box::new(file), unit.size)?;
            input.modified = unit.modified;
            Ok(input)
        }
        Origin::Stream(Stream { body, read }) => {
            let taken = body.lock().ok().and_then(|mut s| s.take());
            let inner = taken.ok_or_else(|| io::Error::other("this stream was already read"))?;
            Input::new(unit.path.clone(), unit.name.clone(), Box::new(Counted { inner, read: read.clone() }), None)
        }
        Origin::Salvaged { data, header_at, compressed, cut, budgets } => {
            let (data, at, compressed, cut, budgets) = (data.clone(), *header_at, *compressed, *cut, budgets.clone());
            let cap = opts.max_entry_bytes;
            let stream = stream_from_thread(move |tx| {
                let pumped = with_local(&data, at, compressed, |f| pump(&mut budgets.meter(f).take(cap), &tx, cut));
                if let Err(e) = pumped {
                    let _ = tx.send(Err(io::Error::other(e.to_string())));
                }
            });
            let mut input = Input::new(unit.path.clone(), unit.name.clone(), Box::new(stream), unit.size)?;
            input.modified = unit.modified;
            Ok(input)
        }
        Origin::ZipEntry { archive, index, budgets } => {
            let mut archive = archive.clone();
            let (index, cap, budgets) = (*index, opts.max_entry_bytes, budgets.clone());
            let body: Box<dyn Read + Send> = match EntryReader::open(&mut archive, index) {
                Some(entry) => Box::new(budgets.meter(entry).take(cap)),
                None => Box::new(stream_from_thread(move |tx| match archive.by_index(index) {
                    Ok(f) => pump(&mut budgets.meter(f).take(cap), &tx, false),
                    Err(e) => {
                        let _ = tx.send(Err(io::Error::other(e.to_string())));
                    }
                })),
            };
            let mut input = Input::new(unit.path.clone(), unit.name.clone(), body, unit.size)?;
            input.modified = unit.modified;
            Ok(input)
        }
    }
}

/// A stored or deflated entry, read in the thread that reads the entry: no thread of its own,
/// no channel, no copy from chunk to chunk. It checks what the archive reader checks: never
/// more bytes than the entry declares, and the checksum once its data ends.
struct EntryReader {
    body: EntryBody,
    crc: crc32fast::Hasher,
    expected_crc: u32,
    size: u64,
    read: u64,
}

enum EntryBody {
    Stored(io::Take<ArchiveData>),
    Deflated(Box<flate2::bufread::DeflateDecoder<io::BufReader<io::Take<ArchiveData>>>>),
}

impl EntryReader {
    /// The entry at `index` read directly, when its method is one of the two nearly every
    /// archive uses and its local header was read; `None` sends it to the archive reader on a
    /// thread of its own (Deflate64, an unreadable header), which reports its errors.
    fn open(archive: &mut Archive, index: usize) -> Option<EntryReader> {
        let (method, start, compressed, size, expected_crc) = {
            let f = archive.by_index_raw(index).ok()?;
            (f.compression(), f.data_start()?, f.compressed_size(), f.size(), f.crc32())
        };
        let mut data = archive.clone().into_inner();
        data.seek(SeekFrom::Start(start)).ok()?;
        let raw = data.take(compressed);
        let body = match method {
            zip::CompressionMethod::Stored => EntryBody::Stored(raw),
            zip::CompressionMethod::Deflated => EntryBody::Deflated(Box::new(flate2::bufread::DeflateDecoder::new(
                io::BufReader::with_capacity(CHUNK, raw),
            ))),
            _ => return None,
        };
        Some(EntryReader { body, crc: crc32fast::Hasher::new(), expected_crc, size, read: 0 })
    }
}

impl Read for EntryReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match &mut self.body {
            EntryBody::Stored(r) => r.read(buf)?,
            EntryBody::Deflated(r) => r.read(buf)?,
        };
        self.read = self.read.saturating_add(n as u64);
        if self.read > self.size {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "more data than the entry's declared size"));
        }
        if n == 0 && !buf.is_empty() && self.crc.clone().finalize() != self.expected_crc {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "the entry's checksum does not match its data"));
        }
        self.crc.update(&buf[..n]);
        Ok(n)
    }
}

/// A buffer of [`CHUNK`] bytes and how many of them hold data.
type Chunk = (Vec<u8>, usize);

type Chunks = std::sync::mpsc::SyncSender<io::Result<Chunk>>;

/// Bytes per chunk sent from an entry's thread.
const CHUNK: usize = 64 * 1024;
/// Chunks in flight between an entry's thread and its reader.
const CHUNKS_AHEAD: usize = 4;
/// Emptied buffers kept for the next chunks, of any entry.
const SPARE_MAX: usize = 32;

/// Buffers the readers have emptied, for the entries' threads to fill again. A fresh zeroed
/// buffer per chunk cost an allocation, the zeroing and, for fresh pages, a fault each: most
/// of the system time of a zip scan. Most entries are a few chunks long, so the buffers are
/// shared between entries; they keep their full length, so each is zeroed once.
static SPARE: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

/// A buffer of `CHUNK` bytes: a spare one, or a new one.
fn spare_buffer() -> Vec<u8> {
    SPARE.lock().ok().and_then(|mut spare| spare.pop()).unwrap_or_else(|| vec![0; CHUNK])
}

/// Keep an emptied buffer for another chunk (beyond [`SPARE_MAX`] it is dropped).
fn give_back(buffer: Vec<u8>) {
    if buffer.len() == CHUNK {
        if let Ok(mut spare) = SPARE.lock() {
            if spare.len() < SPARE_MAX {
                spare.push(buffer);
            }
        }
    }
}

/// A thread owns its own clone of the archive and streams the entry through a small bounded
/// channel: entries are never held whole in memory, and several can be read at once.
fn stream_from_thread(produce: impl FnOnce(Chunks) + Send + 'static) -> ChannelReader {
    let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Chunk>>(CHUNKS_AHEAD);
    std::thread::spawn(move || produce(tx));
    ChannelReader { rx, chunk: Vec::new(), len: 0, pos: 0 }
}

/// Send what `f` gives, in chunks, until its end or an error. `cut`: the data was cut short (a
/// salvaged entry, already warned of), so an error is its end, not a failure.
fn pump(f: &mut dyn Read, tx: &Chunks, cut: bool) {
    loop {
        let mut chunk = spare_buffer();
        match f.read(&mut chunk) {
            Ok(0) => {
                give_back(chunk);
                return;
            }
            Ok(n) => {
                if tx.send(Ok((chunk, n))).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) if cut => return,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
}

/// Reads the chunks a producer thread sends; an error chunk becomes a read error. Each emptied
/// chunk is given back to be filled again.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<io::Result<Chunk>>,
    /// The chunk being read, its first `len` bytes data, read up to `pos`.
    chunk: Vec<u8>,
    len: usize,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.len {
            match self.rx.recv() {
                Ok(Ok((c, len))) => {
                    give_back(std::mem::replace(&mut self.chunk, c));
                    (self.len, self.pos) = (len, 0);
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.len - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for ChannelReader {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.chunk));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes that differ from chunk to chunk and from entry to entry (`seed`), so that a buffer
    /// sent twice, out of turn, or holding what an earlier entry left in it shows.
    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8 ^ (i / CHUNK) as u8 ^ seed.wrapping_mul(37)).collect()
    }

    /// An entry streamed through reused buffers arrives whole and in order, read in pieces of
    /// any size, and an error after some chunks arrives after them.
    #[test]
    fn chunks_arrive_whole_through_reused_buffers() {
        let cases = [(0, 7), (1, 1), (CHUNK, 4096), (CHUNK * 9 + 123, 1000), (CHUNK * 5, CHUNK * 3), (CHUNK + 1, 999)];
        for (seed, (len, piece)) in (1u8..).zip(cases) {
            let data = pattern(len, seed);
            let sent = data.clone();
            let mut reader = stream_from_thread(move |tx| pump(&mut io::Cursor::new(sent), &tx, false));
            let (mut got, mut buf) = (Vec::new(), vec![0u8; piece]);
            loop {
                let n = reader.read(&mut buf).expect("no error");
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got.len(), data.len());
            assert!(got == data, "{len} bytes read {piece} at a time");
        }
        let data = pattern(CHUNK * 3, 0);
        let sent = data.clone();
        let mut failing = io::Cursor::new(sent).chain(FailingRead);
        let mut reader = stream_from_thread(move |tx| pump(&mut failing, &tx, false));
        let mut got = Vec::new();
        let err = reader.read_to_end(&mut got).expect_err("the error comes through");
        assert_eq!(err.to_string(), "broken entry");
        assert!(got == data);
    }

    /// An archive in memory with one entry per `(name, data, method)`.
    fn archive_of(entries: &[(&str, &[u8], zip::CompressionMethod)]) -> Vec<u8> {
        let mut buf = io::Cursor::new(Vec::new());
        let mut z = zip::ZipWriter::new(&mut buf);
        for (name, data, method) in entries {
            z.start_file(*name, zip::write::SimpleFileOptions::default().compression_method(*method)).unwrap();
            io::Write::write_all(&mut z, data).unwrap();
        }
        z.finish().unwrap();
        buf.into_inner()
    }

    /// An entry's bytes, or the error that stopped its reading.
    type Outcome = Result<Vec<u8>, String>;

    /// Every entry read directly and through the archive reader.
    fn both_ways(bytes: Vec<u8>) -> Vec<(Outcome, Outcome)> {
        let data = ArchiveData::Memory(io::Cursor::new(Arc::from(bytes)));
        let mut archive = zip::ZipArchive::new(data).expect("an archive");
        (0..archive.len())
            .map(|i| {
                let mut direct =
                    EntryReader::open(&mut archive, i).expect("stored and deflated entries are read directly");
                let mut got = Vec::new();
                let direct = direct.read_to_end(&mut got).map(|_| got).map_err(|e| e.to_string());
                let mut got = Vec::new();
                let by_zip = archive.by_index(i).map_err(|e| e.to_string()).and_then(|mut f| {
                    f.read_to_end(&mut got).map_err(|e| e.to_string())?;
                    Ok(got)
                });
                (direct, by_zip)
            })
            .collect()
    }

    /// `with` in place of every `was` in the archive's headers (the data is chosen so that it
    /// cannot hold `was`; a stored entry's two sizes are both patched).
    fn patched(mut bytes: Vec<u8>, was: u32, with: u32) -> Vec<u8> {
        let (was, with) = (was.to_le_bytes(), with.to_le_bytes());
        let mut n = 0;
        for i in 0..bytes.len() - 3 {
            if bytes[i..i + 4] == was {
                bytes[i..i + 4].copy_from_slice(&with);
                n += 1;
            }
        }
        assert!(n >= 2, "the local header and the central directory each hold it");
        bytes
    }

    #[test]
    fn entries_read_directly_as_the_archive_reader_reads_them() {
        use zip::CompressionMethod::{Deflated, Stored};
        let big = pattern(CHUNK * 3 + 7, 5);
        let text: Vec<u8> = (0..200_000u32).flat_map(|i| format!("line {i} AADSTS50126\n").into_bytes()).collect();
        let entries: Vec<(&str, &[u8], zip::CompressionMethod)> = vec![
            ("empty.txt", b"", Stored),
            ("empty.log", b"", Deflated),
            ("one.txt", b"x", Stored),
            ("one.log", b"x", Deflated),
            ("big.bin", &big, Stored),
            ("big.log", &big, Deflated),
            ("text.log", &text, Deflated),
        ];
        for (i, (direct, by_zip)) in both_ways(archive_of(&entries)).into_iter().enumerate() {
            assert_eq!(direct.as_deref().ok(), Some(entries[i].1), "{}", entries[i].0);
            assert_eq!(by_zip.as_deref().ok(), Some(entries[i].1), "{}", entries[i].0);
        }
        // A wrong checksum, and a declared size smaller than the data: both readers fail.
        let data = vec![b'a'; 1000];
        for method in [Stored, Deflated] {
            let crc = crc32fast::hash(&data);
            let bad_crc = patched(archive_of(&[("a.txt", &data, method)]), crc, crc ^ 1);
            let small = patched(archive_of(&[("a.txt", &data, method)]), 1000, 999);
            for bytes in [bad_crc, small] {
                let (direct, by_zip) = both_ways(bytes).remove(0);
                let lens = (direct.as_ref().map(Vec::len), by_zip.as_ref().map(Vec::len));
                assert!(direct.is_err() && by_zip.is_err(), "{method:?}: {lens:?}");
            }
        }
    }

    struct FailingRead;

    impl Read for FailingRead {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("broken entry"))
        }
    }
}
