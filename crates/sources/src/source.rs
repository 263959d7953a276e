//! What to read: a path, standard input, or bytes already in memory.

use std::path::PathBuf;
use std::sync::Arc;

/// One input given to [`read`](crate::read).
#[derive(Debug, Clone)]
pub enum Source {
    /// A file (any supported format, a zip, nested zips) or a folder, walked recursively. A FIFO
    /// given here is a stream (`scan <(zcat logs.gz)`), read once like standard input; FIFOs,
    /// sockets and devices found in a folder are skipped with a warning.
    Path(PathBuf),
    /// Standard input, read once and handled like a file: its format is told from its first
    /// bytes and the rest is read as it comes (a zip or an `.evtx` is first copied to a temporary
    /// file, up to [`Options::max_spool_bytes`](crate::Options::max_spool_bytes)).
    Stdin,
    /// Bytes in memory (an upload, the built-in sample), handled like a file called `name`: the
    /// name is the input's display path and helps detection; a zip is opened in memory, nested
    /// zips too, with the same limits as a zip on disk.
    Bytes { name: String, bytes: Arc<[u8]> },
}

impl Source {
    /// A command-line argument: `-` is standard input, anything else a path.
    pub fn from_arg(arg: &str) -> Source {
        if arg == "-" {
            Source::Stdin
        } else {
            Source::Path(PathBuf::from(arg))
        }
    }

    /// The input as reports name it: the path as given, `-` for standard input, or the name.
    pub fn display(&self) -> String {
        match self {
            Source::Path(p) => p.display().to_string(),
            Source::Stdin => "-".to_owned(),
            Source::Bytes { name, .. } => name.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_and_display() {
        assert!(matches!(Source::from_arg("-"), Source::Stdin));
        assert!(matches!(Source::from_arg("logs/a.zip"), Source::Path(p) if p == std::path::Path::new("logs/a.zip")));
        assert_eq!(Source::from_arg("./-").display(), "./-");
        assert_eq!(Source::Stdin.display(), "-");
        let b = Source::Bytes { name: "upload.zip".into(), bytes: Arc::from(&b"PK"[..]) };
        assert_eq!(b.display(), "upload.zip");
    }
}
