//! Tests of the report writers: JUnit structure and escaping, summaries, timeline snapshots, atomic
//! writes and the report sink, and merging with malformed lines. One test binary for the crate.

mod dom;
mod fixtures;
mod junit;
mod merge;
mod summary;
mod timeline;
mod write;
