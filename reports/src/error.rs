//! The crate's error: every variant names the file it concerns, so a report that could not be written
//! or read says where.

use std::io;
use std::path::PathBuf;

/// What went wrong while writing or reading a report file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A directory could not be created.
    #[error("cannot create directory {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A file (or the temp file standing in for it) could not be created or written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file that was being written.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The finished temp file could not be renamed over the target.
    #[error("cannot move the new content into place at {}: {source}", path.display())]
    Rename {
        /// The target file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A report could not be turned into JSON.
    #[error("cannot serialize a report for {}: {source}", path.display())]
    Serialize {
        /// The file it was meant for.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
