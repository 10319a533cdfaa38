//! Whether a batch of runs got to its end. A report that does not say "finished" must never read as
//! green: a killed process leaves its aggregates saying the batch is unfinished (they are written
//! that way from the start and only turned to finished at the normal end), and a stopped one says why.

use serde::{Deserialize, Serialize};

/// How far a batch of runs got.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Completion {
    /// The batch ended normally: every run it was meant to make is reported.
    #[default]
    Finished,
    /// The batch is still running, or its process was killed before it could say so.
    Unfinished {
        /// How many runs the batch meant to make, when known.
        expected: Option<usize>,
    },
    /// The batch was stopped early (a signal, a wall-time limit).
    Interrupted {
        /// Why.
        reason: String,
        /// How many runs the batch meant to make, when known.
        expected: Option<usize>,
    },
}

impl Completion {
    /// Whether the batch ended normally.
    pub fn is_finished(&self) -> bool {
        matches!(self, Completion::Finished)
    }

    /// One sentence for people: `None` when finished, else what happened and how far it got.
    pub fn sentence(&self, reported: usize) -> Option<String> {
        let of = |expected: &Option<usize>| match expected {
            Some(n) => format!("{reported} of {n}"),
            None => reported.to_string(),
        };
        match self {
            Completion::Finished => None,
            Completion::Unfinished { expected } => Some(format!(
                "The run did not finish (still running, or killed): {} {} reported so far.",
                of(expected),
                if expected.unwrap_or(reported) == 1 { "scenario" } else { "scenarios" }
            )),
            Completion::Interrupted { reason, expected } => Some(format!(
                "The run was interrupted ({reason}) after {} {}.",
                of(expected),
                if expected.unwrap_or(reported) == 1 { "scenario" } else { "scenarios" }
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences() {
        assert_eq!(Completion::Finished.sentence(3), None);
        assert_eq!(
            Completion::Unfinished { expected: Some(20) }.sentence(9).as_deref(),
            Some("The run did not finish (still running, or killed): 9 of 20 scenarios reported so far.")
        );
        assert_eq!(
            Completion::Interrupted { reason: "SIGTERM".into(), expected: None }.sentence(1).as_deref(),
            Some("The run was interrupted (SIGTERM) after 1 scenario.")
        );
    }
}
