//! Containers: files, folders, standard input and zip archives (nested), flattened into units.
//!
//! Nothing is ever extracted to disk. Zip entry names are only names: `../x` and `C:\x` are shown,
//! never followed. Guards stop zip bombs: a cap on entries, on total uncompressed bytes (counted as
//! they are really read, not as the archive claims) for the run and for each input (its size times
//! the highest ratio), on the compression ratio and on nesting; an archive whose entries overlap
//! (many entries pointing at the same data) is refused before anything in it is read. Only regular
//! files are opened in folders: FIFOs, sockets and devices are skipped with a warning.
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
use std::sync::Arc;

use jiff::Timestamp;
use uctriage_evidence::Warning;

use crate::input::{read_full, Input};
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
        let file = File::open(path)?;
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

/// The bytes of an archive: on disk, or in memory (a nested zip).
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

/// Shared budget of uncompressed bytes, spent as entries are really read.
#[derive(Debug)]
pub(crate) struct Budget {
    left: AtomicU64,
}

impl Budget {
    pub(crate) fn new(bytes: u64) -> Arc<Self> {
        Arc::new(Budget { left: AtomicU64::new(bytes) })
    }

    fn spend(&self, n: u64) -> bool {
        self.left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(n)).is_ok()
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
            Source::Stdin => add_stream(io::stdin().lock(), "-", "stdin", opts, budget, &mut units, warnings),
            Source::Bytes { name, bytes } => {
                // Named like a file: the name as given is the display path; detection sees it
                // with forward slashes, as it sees the names of zip entries.
                let detect_name = name.replace('\\', "/");
                add_bytes(name, &detect_name, bytes.clone(), opts, budget, None, 0, &mut units, warnings);
            }
            Source::Path(p) => walk(p, &p.display().to_string(), true, opts, budget, &mut units, warnings),
        }
    }
    units
}

fn warn(path: &str, place: &str, message: impl Into<String>) -> Warning {
    Warning { path: path.to_owned(), place: place.to_owned(), message: message.into() }
}

/// A stream read once (standard input, a FIFO named on the command line): read up to the run's
/// byte budget, then handled like a file called `name`.
fn add_stream(
    stream: impl Read,
    display: &str,
    name: &str,
    opts: &Options,
    budget: &Arc<Budget>,
    units: &mut Vec<Unit>,
    w: &mut Vec<Warning>,
) {
    let mut buf = Vec::new();
    match stream.take(opts.max_total_bytes).read_to_end(&mut buf) {
        Ok(_) => add_bytes(display, name, buf.into(), opts, budget, None, 0, units, w),
        Err(e) => w.push(warn(display, "", format!("cannot read: {e}"))),
    }
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
                Ok(f) => add_stream(f, display, &name, opts, budget, units, w),
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

/// The budgets an archive's entries are read under: the run's, and the input's own (its size
/// times the highest compression ratio, at least [`MIN_ARCHIVE_BYTES`]), shared by the archives
/// nested in it, so that no input can make the run do more work than its size justifies.
#[derive(Debug, Clone)]
pub(crate) struct Budgets {
    run: Arc<Budget>,
    input: Arc<Budget>,
    input_limit: u64,
}

impl Budgets {
    fn for_input(run: &Arc<Budget>, archive_len: u64, opts: &Options) -> Self {
        let input_limit = archive_len.saturating_mul(opts.max_ratio).max(MIN_ARCHIVE_BYTES);
        Budgets { run: run.clone(), input: Budget::new(input_limit), input_limit }
    }

    fn meter<R: Read>(&self, inner: R) -> Metered<R> {
        Metered { inner, budgets: self.clone() }
    }
}

#[allow(clippy::too_many_arguments)]
fn add_bytes(
    display: &str,
    name: &str,
    bytes: Arc<[u8]>,
    opts: &Options,
    budget: &Arc<Budget>,
    parent: Option<&Budgets>,
    depth: usize,
    units: &mut Vec<Unit>,
    w: &mut Vec<Warning>,
) {
    if is_zip(name, &bytes[..bytes.len().min(4)]) {
        let budgets = parent.cloned().unwrap_or_else(|| Budgets::for_input(budget, bytes.len() as u64, opts));
        add_archive(ArchiveData::Memory(io::Cursor::new(bytes)), display, opts, &budgets, depth, units, w);
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
    if count > opts.max_zip_entries {
        w.push(warn(
            display,
            "",
            format!("{count} entries: only the first {} are read (zip entry limit)", opts.max_zip_entries),
        ));
    }
    // Every entry's place is checked against the others before any is read.
    let mut entries = Vec::with_capacity(count.min(opts.max_zip_entries));
    let mut ranges = Vec::with_capacity(entries.capacity());
    for index in 0..count.min(opts.max_zip_entries) {
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
    let mut declared = 0u64;
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
        if size > 1024 * 1024 && size / compressed.max(1) > opts.max_ratio {
            w.push(warn(
                &shown,
                "",
                format!(
                    "compression ratio {}:1 is over the limit (possible zip bomb): skipped",
                    size / compressed.max(1)
                ),
            ));
            continue;
        }
        declared = declared.saturating_add(size);
        if declared > budgets.input_limit {
            w.push(warn(
                display,
                "",
                format!(
                    "entries from {} on are not read: together they would pass this input's limit of {} \
                     uncompressed bytes ({} times its size, possible zip bomb)",
                    index + 1,
                    budgets.input_limit,
                    opts.max_ratio
                ),
            ));
            return;
        }
        let nested = name.to_ascii_lowercase().ends_with(".zip");
        if nested {
            let mut buf = Vec::new();
            let read = archive.by_index(index).and_then(|f| {
                budgets.meter(f).take(opts.max_entry_bytes).read_to_end(&mut buf).map_err(zip::result::ZipError::Io)
            });
            match read {
                Ok(_) => add_bytes(&shown, &name, buf.into(), opts, &budgets.run, Some(budgets), depth + 1, units, w),
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
    let entries = local_entries(&mut data, display, opts.max_zip_entries, w);
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
            if !e.cut && size > 1024 * 1024 && size / e.compressed.max(1) > opts.max_ratio {
                w.push(warn(
                    &shown,
                    "",
                    format!(
                        "compression ratio {}:1 is over the limit (possible zip bomb): skipped",
                        size / e.compressed.max(1)
                    ),
                ));
                continue;
            }
        }
        if e.name.to_ascii_lowercase().ends_with(".zip") {
            let mut buf = Vec::new();
            let read = with_local(&data, e.header_at, e.compressed, |f| {
                budgets.meter(f).take(opts.max_entry_bytes).read_to_end(&mut buf)
            });
            match read {
                Ok(Ok(_)) => {}
                Ok(Err(_)) if e.cut => {}
                Ok(Err(err)) => {
                    w.push(warn(&shown, "", format!("cannot read nested archive: {err}")));
                    continue;
                }
                Err(err) => {
                    w.push(warn(&shown, "", format!("cannot read nested archive: {err}")));
                    continue;
                }
            }
            add_bytes(&shown, &e.name, buf.into(), opts, &budgets.run, Some(budgets), depth + 1, units, w);
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
            let stream = stream_from_thread(move |tx| match archive.by_index(index) {
                Ok(f) => pump(&mut budgets.meter(f).take(cap), &tx, false),
                Err(e) => {
                    let _ = tx.send(Err(io::Error::other(e.to_string())));
                }
            });
            let mut input = Input::new(unit.path.clone(), unit.name.clone(), Box::new(stream), unit.size)?;
            input.modified = unit.modified;
            Ok(input)
        }
    }
}

type Chunks = std::sync::mpsc::SyncSender<io::Result<Vec<u8>>>;

/// A thread owns its own clone of the archive and streams the entry through a small bounded
/// channel: entries are never held whole in memory, and several can be read at once.
fn stream_from_thread(produce: impl FnOnce(Chunks) + Send + 'static) -> ChannelReader {
    let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(4);
    std::thread::spawn(move || produce(tx));
    ChannelReader { rx, chunk: Vec::new(), pos: 0 }
}

/// Send what `f` gives, in chunks, until its end or an error. `cut`: the data was cut short (a
/// salvaged entry, already warned of), so an error is its end, not a failure.
fn pump(f: &mut dyn Read, tx: &Chunks, cut: bool) {
    loop {
        let mut chunk = vec![0u8; 64 * 1024];
        match f.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => {
                chunk.truncate(n);
                if tx.send(Ok(chunk)).is_err() {
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

/// Reads the chunks a producer thread sends; an error chunk becomes a read error.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.chunk.len() {
            match self.rx.recv() {
                Ok(Ok(c)) => {
                    self.chunk = c;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
