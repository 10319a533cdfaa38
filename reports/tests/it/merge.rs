//! Merging sharded JSON-lines report files, with lines that are not reports reported by file:line.

use crate::fixtures;
use capi_reports::{merge_files, Error};
use std::fs;

#[test]
fn merges_shards_in_order_and_reports_malformed_lines_by_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let line = |r| serde_json::to_string(&r).unwrap();
    let shard0 = tmp.path().join("shard-0.jsonl");
    let shard1 = tmp.path().join("shard-1.jsonl");
    let full = line(fixtures::failing());
    // A line cut short (the shard was killed mid-write), a blank line, and bytes that are not UTF-8.
    let mut bytes = format!("{}\n\n{}\n", line(fixtures::passing()), &full[..40]).into_bytes();
    bytes.extend_from_slice(b"{\"scenario\": \"\xff\"}\r\n");
    fs::write(&shard0, bytes).unwrap();
    fs::write(&shard1, format!("{full}\r\nnot json at all\n{}", line(fixtures::errored()))).unwrap();
    let merged = merge_files([&shard0, &shard1]).unwrap();
    let names: Vec<(&str, u64)> = merged.reports.iter().map(|r| (r.scenario.as_str(), r.seed)).collect();
    assert_eq!(names, [("md-scale-out", 42), (fixtures::failing().scenario.as_str(), 7), ("upgrade", 3)]);
    assert_eq!(merged.reports[1].steps, fixtures::failing().steps, "a report survives the round trip");
    let problems: Vec<String> = merged.malformed.iter().map(|m| m.to_string()).collect();
    assert_eq!(problems.len(), 3, "{problems:#?}");
    let (p0, p1) = (shard0.display(), shard1.display());
    assert_eq!(
        problems,
        [
            format!("{p0}:3:40: EOF while parsing a string"),
            format!("{p0}:4:15: invalid unicode code point"),
            format!("{p1}:2:2: expected ident"),
        ]
    );
    assert!(!problems.iter().any(|p| p.contains("line 1")), "no position relative to the line alone: {problems:#?}");
}

#[test]
fn a_missing_shard_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("shard-9.jsonl");
    let err = merge_files([&missing]).unwrap_err();
    assert!(matches!(&err, Error::Read { path, .. } if path == &missing), "{err:?}");
}
