//! Reading outcomes to compare: a report directory (its `reports.jsonl`, as `ReportSink` writes it,
//! or else every `*.json` in it), a JSON-lines file of run reports, one run report (`--json` output),
//! or a bare [`Outcome`] JSON (named after its file).

use capi_scenarios::outcome::Outcome;
use capi_scenarios::report::RunReport;
use std::path::{Path, PathBuf};

/// A scenario's outcome and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedOutcome {
    /// Scenario name.
    pub scenario: String,
    /// The file it was read from.
    pub source: PathBuf,
    /// The outcome.
    pub outcome: Outcome,
    /// Whether the run passed (unknown for a bare outcome).
    pub passed: Option<bool>,
    /// The scenario file the run came from (unknown for a bare outcome).
    pub file: Option<PathBuf>,
}

/// Why outcomes could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is neither a run report nor an outcome.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line (1 for a whole-file JSON).
        line: usize,
        /// What was wrong.
        message: String,
    },
    /// Nothing to read.
    #[error("{0}: no reports.jsonl and no *.json outcome in it")]
    Empty(PathBuf),
}

fn read(path: &Path) -> Result<String, CompareError> {
    std::fs::read_to_string(path).map_err(|source| CompareError::Read { path: path.to_path_buf(), source })
}

fn stem_name(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    for suffix in [".outcome", ".real", ".sim"] {
        if let Some(s) = stem.strip_suffix(suffix) {
            return s.to_string();
        }
    }
    stem
}

fn from_report(r: RunReport, source: &Path) -> NamedOutcome {
    NamedOutcome {
        scenario: r.scenario.clone(),
        source: source.to_path_buf(),
        outcome: r.outcome(),
        passed: Some(r.passed),
        file: Some(PathBuf::from(&r.file)),
    }
}

fn parse_json(text: &str, path: &Path, line: usize) -> Result<NamedOutcome, CompareError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| CompareError::Parse { path: path.to_path_buf(), line, message: e.to_string() })?;
    if value.get("scenario").is_some() {
        let r: RunReport = serde_json::from_value(value).map_err(|e| CompareError::Parse {
            path: path.to_path_buf(),
            line,
            message: format!("not a run report: {e}"),
        })?;
        return Ok(from_report(r, path));
    }
    let outcome: Outcome = serde_json::from_value(value).map_err(|e| CompareError::Parse {
        path: path.to_path_buf(),
        line,
        message: format!("neither a run report nor an outcome (objects, containers): {e}"),
    })?;
    Ok(NamedOutcome { scenario: stem_name(path), source: path.to_path_buf(), outcome, passed: None, file: None })
}

/// Read every outcome under `path`.
pub fn load_outcomes(path: &Path) -> Result<Vec<NamedOutcome>, CompareError> {
    if path.is_dir() {
        let jsonl = path.join("reports.jsonl");
        if jsonl.is_file() {
            return load_outcomes(&jsonl);
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|source| CompareError::Read { path: path.to_path_buf(), source })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(CompareError::Empty(path.to_path_buf()));
        }
        let mut out = Vec::new();
        for f in files {
            out.extend(load_outcomes(&f)?);
        }
        return Ok(out);
    }
    let text = read(path)?;
    if path.extension().is_some_and(|x| x == "jsonl") {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            out.push(parse_json(line, path, i + 1)?);
        }
        return Ok(out);
    }
    Ok(vec![parse_json(&text, path, 1)?])
}
