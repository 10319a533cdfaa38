//! Merging JSON-lines report files (one `serde_json` [`RunReport`] per line, as [`crate::ReportSink`]
//! and sharded swarm runs write them) into one list.
//!
//! A line that is not a report (cut short when a shard was killed, not UTF-8, another format) is
//! skipped and reported with its `file:line`, never a panic and never the end of the merge: the other
//! reports are what the caller needs most in that situation. Blank lines are ignored. A file that
//! cannot be read at all is an [`Error`].

use crate::error::{Error, Result};
use capi_scenarios::report::RunReport;
use std::fmt;
use std::path::{Path, PathBuf};

/// The merged reports and the lines that were not reports.
#[derive(Debug, Default)]
pub struct Merged {
    /// Reports, in file order then line order.
    pub reports: Vec<RunReport>,
    /// Malformed lines.
    pub malformed: Vec<MalformedLine>,
}

/// A line that is not a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedLine {
    /// File.
    pub path: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// 1-based column where the JSON went wrong (0 when unknown).
    pub column: usize,
    /// Why it is not a report.
    pub message: String,
}

impl fmt::Display for MalformedLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:", self.path.display(), self.line)?;
        if self.column > 0 {
            write!(f, "{}:", self.column)?;
        }
        write!(f, " {}", self.message)
    }
}

/// Read and merge `paths`, in the order given.
pub fn merge_files<P: AsRef<Path>>(paths: impl IntoIterator<Item = P>) -> Result<Merged> {
    let mut merged = Merged::default();
    for p in paths {
        let p = p.as_ref();
        let bytes = std::fs::read(p).map_err(|source| Error::Read { path: p.to_path_buf(), source })?;
        merged.add(p, &bytes);
    }
    Ok(merged)
}

impl Merged {
    /// Add the lines of one file's content (`path` only names it in problems).
    pub fn add(&mut self, path: &Path, content: &[u8]) {
        for (i, line) in content.split(|&b| b == b'\n').enumerate() {
            let line_bytes = line.strip_suffix(b"\r").unwrap_or(line);
            if line_bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<RunReport>(line_bytes) {
                Ok(r) => self.reports.push(r),
                Err(e) => {
                    // serde_json places the error in the one-line document it saw; the column is
                    // kept, the "line 1" dropped.
                    let text = e.to_string();
                    let message = text.strip_suffix(&format!(" at line {} column {}", e.line(), e.column())).unwrap_or(&text).to_string();
                    self.malformed.push(MalformedLine { path: path.to_path_buf(), line: i + 1, column: e.column(), message });
                }
            }
        }
    }
}
