//! The event trace: one line per event, hashed as it is written. The hash is the run's fingerprint
//! (same seed, same scenario → same hash); the lines are kept only when asked for (`--trace FILE`).
//!
//! Line format (columns separated by single spaces):
//! `<sim time ms, 10 digits> <event index> <actor> <what> <details...>`
//! e.g. `0000012345 #000142 capi/machine reconcile default/c1-md-0-x7b2k-9zzqp ok requeue=30000`.

use std::fmt::Write as _;
use xxhash_rust::xxh3::Xxh3;

/// How much of the trace to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceMode {
    /// Nothing (benchmarks): no hash.
    Off,
    /// Hash only.
    Hash,
    /// Hash and every line.
    Full,
}

/// The trace of one run.
pub struct Trace {
    mode: TraceMode,
    hasher: Xxh3,
    lines: Vec<String>,
    buf: String,
    count: u64,
}

impl Trace {
    /// A trace in a mode.
    pub fn new(mode: TraceMode) -> Self {
        Trace { mode, hasher: Xxh3::new(), lines: Vec::new(), buf: String::new(), count: 0 }
    }

    /// Whether lines are recorded at all (callers skip formatting when not).
    pub fn enabled(&self) -> bool {
        self.mode != TraceMode::Off
    }

    /// The mode.
    pub fn mode(&self) -> TraceMode {
        self.mode
    }

    /// Record a line.
    pub fn record(&mut self, now: u64, event: u64, actor: &str, args: std::fmt::Arguments<'_>) {
        if self.mode == TraceMode::Off {
            return;
        }
        self.buf.clear();
        let _ = write!(self.buf, "{now:010} #{event:06} {actor} ");
        let _ = self.buf.write_fmt(args);
        self.hasher.update(self.buf.as_bytes());
        self.hasher.update(b"\n");
        self.count += 1;
        if self.mode == TraceMode::Full {
            self.lines.push(self.buf.clone());
        }
    }

    /// Lines recorded.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether no line was recorded.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The hash so far, as hex.
    pub fn hash(&self) -> Option<String> {
        (self.mode != TraceMode::Off).then(|| format!("{:016x}", self.hasher.digest()))
    }

    /// The kept lines.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }
}
