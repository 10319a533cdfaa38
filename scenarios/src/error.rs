//! Errors about user input (scenario files, manifests, variables), each carrying `file:line:col`.

use std::fmt;
use std::path::{Path, PathBuf};

/// A position in a user-supplied file, 1-based like editors and compilers print it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Location {
    /// The file as the user named it (or as it was resolved relative to the scenario).
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl Location {
    /// A location at `line:column` of `file`.
    pub fn new(file: impl Into<PathBuf>, line: usize, column: usize) -> Self {
        Location { file: file.into(), line, column }
    }

    /// The location serde_yaml reports for an error, or the start of the file when it has none.
    pub fn from_yaml_error(file: &Path, err: &serde_yaml::Error, line_offset: usize) -> Self {
        match err.location() {
            Some(loc) => Location::new(file, loc.line() + line_offset, loc.column()),
            None => Location::new(file, 1 + line_offset, 1),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Everything that can be wrong with a scenario or the manifests it applies.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// A file could not be read.
    #[error("{}: cannot read file: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not what the schema expects (serde_yaml's message, with its position).
    #[error("{location}: {message}")]
    Invalid {
        /// Where.
        location: Location,
        /// What was expected.
        message: String,
    },
    /// `${NAME}` with no value and no default.
    #[error("{location}: variable `{name}` is not defined and has no default (set it under `vars:` or with --var {name}=VALUE)")]
    UndefinedVariable {
        /// Where the reference is.
        location: Location,
        /// The variable.
        name: String,
    },
}

impl ScenarioError {
    /// An [`ScenarioError::Invalid`] at a location.
    pub fn invalid(location: Location, message: impl Into<String>) -> Self {
        ScenarioError::Invalid { location, message: message.into() }
    }

    /// Where the error is, when it has a position.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ScenarioError::Read { .. } => None,
            ScenarioError::Invalid { location, .. } | ScenarioError::UndefinedVariable { location, .. } => Some(location),
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = ScenarioError> = std::result::Result<T, E>;
