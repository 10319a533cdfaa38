//! Report writers that never lose a report: what a batch of scenario runs ([`RunReport`]s) leaves for
//! people and CI.
//!
//! - [`write`](mod@write): atomic file writes, and [`ReportSink`], which puts each report on disk as it arrives
//!   and rewrites the aggregate files on every flush, including on error paths and panics;
//! - [`junit`]: JUnit XML, one test case per run, and one per failing seed of a swarm;
//! - [`summary`]: a Markdown summary with the replay command of every failed run;
//! - [`timeline`]: a run's Machine phases, steps, faults and violations as SVG or an HTML page;
//! - [`merge`]: JSON-lines report files (sharded runs) back into one list, reporting bad lines.
//!
//! Every renderer (JUnit, summary, timeline) is a pure function of its input (no clock, no randomness,
//! no host name), so its output can be snapshot-tested and identical batches give identical bytes.

pub mod completion;
pub mod error;
pub mod junit;
pub mod merge;
pub mod summary;
pub mod timeline;
pub mod write;
mod xml;

pub use capi_scenarios::report::RunReport;
pub use completion::Completion;
pub use error::{Error, Result};
pub use junit::{Swarm, SwarmSeed};
pub use merge::{merge_files, MalformedLine, Merged};
pub use summary::replay_command;
pub use write::{write_atomic, write_batch, ReportSink};
