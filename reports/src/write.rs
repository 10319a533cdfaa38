//! Writing report files so that none is ever lost or half-written: every file is written to a temp
//! file in its own directory and renamed into place, and [`ReportSink`] keeps a run's reports on disk
//! as they arrive and rewrites the JUnit XML and Markdown summary whenever it is flushed, including
//! when it is dropped on an error path or during a panic.
//!
//! A report directory holds:
//!
//! - `reports.jsonl`: every [`RunReport`], one `serde_json` line each (what [`crate::merge`] reads);
//! - `junit.xml`: [`crate::junit::render`] of all of them;
//! - `summary.md`: [`crate::summary::markdown`] of all of them;
//! - `timelines/<scenario>-<backend>-seed<seed>.html`: [`crate::timeline::html`] for every report that
//!   carries a timeline, and the picture alone beside it, `….svg` ([`crate::timeline::svg`]).

use crate::completion::Completion;
use crate::error::{Error, Result};
use crate::{junit, summary, timeline};
use capi_scenarios::report::{RunReport, Timeline};
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// File name of the JSON-lines file of all reports.
pub const REPORTS_JSONL: &str = "reports.jsonl";
/// File name of the JUnit XML file.
pub const JUNIT_XML: &str = "junit.xml";
/// File name of the Markdown summary.
pub const SUMMARY_MD: &str = "summary.md";
/// Directory (inside the report directory) of the timeline pages.
pub const TIMELINES_DIR: &str = "timelines";

/// Write `contents` to `path` atomically: readers see the old file or the new one, never a part.
///
/// Creates the parent directories. The content goes to a uniquely named temp file in the same
/// directory (a rename is only atomic within one file system), is synced to disk, and is then renamed
/// over `path`. On any error the temp file is removed.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(|source| Error::CreateDir { path: dir.to_path_buf(), source })?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // Reports are for people and CI to read: the usual umask-governed mode, not tempfile's 0600.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let write_error = |source| Error::Write { path: path.to_path_buf(), source };
    let mut tmp = builder.tempfile_in(dir).map_err(write_error)?;
    tmp.write_all(contents).map_err(write_error)?;
    tmp.as_file().sync_all().map_err(write_error)?;
    tmp.persist(path).map_err(|e| Error::Rename { path: path.to_path_buf(), source: e.error })?;
    // Make the rename itself durable. Best effort: not every platform can open a directory.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Write every report of a batch into `dir` (layout in the module doc) and return the files written.
///
/// Every file is replaced atomically and rebuilt from `reports` alone, so this is safe to call again
/// and again with a growing list as results arrive: a reader, or a run killed between two calls,
/// always finds complete files describing the reports of the last finished call.
pub fn write_batch(dir: &Path, title: &str, reports: &[RunReport]) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let path = dir.join(REPORTS_JSONL);
    let mut jsonl = String::new();
    for r in reports {
        jsonl.push_str(&serde_json::to_string(r).map_err(|source| Error::Serialize { path: path.clone(), source })?);
        jsonl.push('\n');
    }
    write_atomic(&path, jsonl.as_bytes())?;
    written.push(path);
    for r in reports {
        written.extend(write_timeline(dir, r)?);
    }
    written.extend(write_aggregates(dir, title, reports.iter().map(|r| (r, None)), &Completion::Finished)?);
    Ok(written)
}

/// Where the timeline page of `report` goes inside a report directory.
pub fn timeline_path(dir: &Path, report: &RunReport) -> PathBuf {
    dir.join(TIMELINES_DIR).join(format!("{}-{}-seed{}.html", slug(&report.scenario), slug(&report.backend), report.seed))
}

/// Write a timeline as an HTML page at `html` and as an SVG picture beside it (the same name
/// ending in `.svg`; when `html` itself ends in `.svg`, the page goes to `.html` instead). Returns
/// both paths, the page first.
pub fn write_timeline_files(html: &Path, t: &Timeline, title: &str) -> Result<Vec<PathBuf>> {
    let (html, svg) = if html.extension().is_some_and(|e| e == "svg") {
        (html.with_extension("html"), html.to_path_buf())
    } else {
        (html.to_path_buf(), html.with_extension("svg"))
    };
    let picture = timeline::svg(t, title);
    write_atomic(&svg, picture.as_bytes())?;
    write_atomic(&html, timeline::html(t, title).as_bytes())?;
    Ok(vec![html, svg])
}

/// Write the timeline page and picture of `report`, if it has a timeline.
fn write_timeline(dir: &Path, report: &RunReport) -> Result<Vec<PathBuf>> {
    let Some(t) = &report.timeline else { return Ok(Vec::new()) };
    write_timeline_files(&timeline_path(dir, report), t, &timeline::report_title(report))
}

/// Write `junit.xml` and `summary.md`.
fn write_aggregates<'a>(
    dir: &Path,
    title: &str,
    runs: impl IntoIterator<Item = (&'a RunReport, Option<Duration>)> + Clone,
    completion: &Completion,
) -> Result<Vec<PathBuf>> {
    let junit_path = dir.join(JUNIT_XML);
    write_atomic(&junit_path, junit::render_batch(title, runs.clone(), completion).as_bytes())?;
    let reports: Vec<&RunReport> = runs.into_iter().map(|(r, _)| r).collect();
    let summary_path = dir.join(SUMMARY_MD);
    write_atomic(&summary_path, summary::markdown_batch(title, reports, completion).as_bytes())?;
    Ok(vec![junit_path, summary_path])
}

/// A file-name-safe form of `s`: ASCII letters and digits kept (lowercased), runs of anything else
/// turned into one `-`.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// Collects the reports of a run as they arrive, so that whatever happens later they are on disk.
///
/// [`push`](Self::push) appends the report to `reports.jsonl` at once (one `write` of one line, so a
/// killed process loses at most the line being written, which [`crate::merge`] then reports as
/// malformed) and writes its timeline page. [`flush`](Self::flush) rewrites `junit.xml` and
/// `summary.md` atomically from everything pushed so far; it is cheap enough to call after every
/// report and must be called on failure paths. Dropping a sink with unflushed reports flushes it (and
/// prints to stderr if that fails, since a destructor cannot return the error), so an early `?` or a
/// panic still leaves the aggregate files.
///
/// The sink keeps the pushed reports in memory for the aggregates, without their final objects,
/// containers and timeline, which the aggregates do not use; `reports.jsonl` has them in full.
#[derive(Debug)]
pub struct ReportSink {
    dir: PathBuf,
    title: String,
    jsonl_path: PathBuf,
    jsonl: File,
    runs: Vec<(RunReport, Option<Duration>)>,
    timelines: Vec<PathBuf>,
    dirty: bool,
    completion: Completion,
}

impl ReportSink {
    /// Create `dir` (and its parents) and start an empty `reports.jsonl` in it, replacing any earlier
    /// one. `title` names the JUnit suite and heads the summary.
    pub fn create(dir: impl Into<PathBuf>, title: &str) -> Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|source| Error::CreateDir { path: dir.clone(), source })?;
        let jsonl_path = dir.join(REPORTS_JSONL);
        let jsonl = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&jsonl_path)
            .map_err(|source| Error::Write { path: jsonl_path.clone(), source })?;
        // Write the aggregates at once, marked unfinished: a run that dies before its first report (or
        // at any point before `finish`) leaves a JUnit file with an error rather than none, or one that
        // looks green.
        let mut sink = ReportSink {
            dir,
            title: title.to_string(),
            jsonl_path,
            jsonl,
            runs: Vec::new(),
            timelines: Vec::new(),
            dirty: true,
            completion: Completion::Unfinished { expected: None },
        };
        sink.flush()?;
        Ok(sink)
    }

    /// The report directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many reports were pushed.
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    /// No report was pushed yet.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// How many runs the batch means to make (the aggregates say "N of M" until it finishes).
    pub fn expect_runs(&mut self, n: usize) {
        if let Completion::Unfinished { expected } = &mut self.completion {
            *expected = Some(n);
            self.dirty = true;
        }
    }

    /// The batch was stopped early: flush the aggregates marked interrupted, with the reason. They
    /// stay so, even if [`finish`](Self::finish) is called afterwards.
    pub fn interrupt(&mut self, reason: &str) -> Result<Vec<PathBuf>> {
        let expected = match &self.completion {
            Completion::Unfinished { expected } | Completion::Interrupted { expected, .. } => *expected,
            Completion::Finished => None,
        };
        self.completion = Completion::Interrupted { reason: reason.to_string(), expected };
        self.flush()
    }

    /// Record one report (with the wall-clock time the run took, when measured): append it to
    /// `reports.jsonl` and write its timeline page. Does not rewrite the aggregates; call
    /// [`flush`](Self::flush) for that.
    pub fn push(&mut self, mut report: RunReport, wall_time: Option<Duration>) -> Result<()> {
        // `reports.jsonl` keeps the wall time, so reports merged from it are timed the same way.
        if let Some(w) = wall_time {
            report.wall_time_ms = Some(w.as_millis() as u64);
        }
        let mut line = serde_json::to_string(&report).map_err(|source| Error::Serialize { path: self.jsonl_path.clone(), source })?;
        line.push('\n');
        self.dirty = true;
        let appended = self.jsonl.write_all(line.as_bytes()).map_err(|source| Error::Write { path: self.jsonl_path.clone(), source });
        let timeline = write_timeline(&self.dir, &report);
        // Keep the report for the aggregates even when a file above could not be written.
        self.runs.push((
            RunReport { objects: Vec::new(), containers: Vec::new(), recorded_events: Vec::new(), timeline: None, ..report },
            wall_time,
        ));
        appended?;
        for p in timeline? {
            if !self.timelines.contains(&p) {
                self.timelines.push(p);
            }
        }
        Ok(())
    }

    /// Rewrite `junit.xml` and `summary.md` from every report pushed so far; returns their paths.
    pub fn flush(&mut self) -> Result<Vec<PathBuf>> {
        let _ = self.jsonl.sync_data();
        let written = write_aggregates(&self.dir, &self.title, self.runs.iter().map(|(r, t)| (r, *t)), &self.completion)?;
        self.dirty = false;
        Ok(written)
    }

    /// The batch ended normally (unless it was [interrupted](Self::interrupt)): flush the aggregates
    /// marked finished and close; returns every file of the report directory that the sink wrote.
    pub fn finish(mut self) -> Result<Vec<PathBuf>> {
        if !matches!(self.completion, Completion::Interrupted { .. }) {
            self.completion = Completion::Finished;
        }
        let mut written = vec![self.jsonl_path.clone()];
        written.extend(self.timelines.iter().cloned());
        written.extend(self.flush()?);
        Ok(written)
    }
}

impl Drop for ReportSink {
    fn drop(&mut self) {
        if self.dirty {
            if let Err(e) = self.flush() {
                eprintln!("capi-reports: reports in {} may be incomplete: {e}", self.dir.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_name_safe() {
        assert_eq!(slug("MD scale-out: 3 → 5 (v1.30)"), "md-scale-out-3-5-v1-30");
        assert_eq!(slug("../../etc/passwd"), "etc-passwd");
        assert_eq!(slug("→"), "_");
    }
}
