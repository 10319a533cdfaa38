//! Atomic writes, batches written again and again, and the sink that leaves its reports behind even
//! when the run fails.

use crate::dom::parse;
use crate::fixtures;
use capi_reports::write::{self, ReportSink, JUNIT_XML, REPORTS_JSONL, SUMMARY_MD};
use capi_reports::{merge_files, Error};
use std::fs;
use std::path::Path;

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn an_atomic_write_creates_parents_replaces_content_and_leaves_no_temp_file() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a/b/report.txt");
    write::write_atomic(&path, b"first").unwrap();
    write::write_atomic(&path, b"second").unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "second");
    assert_eq!(files(tmp.path()), ["a/b/report.txt"]);
}

#[test]
fn a_failed_atomic_write_names_the_path_and_leaves_no_temp_file() {
    let tmp = tempfile::tempdir().unwrap();
    // The target is an existing non-empty directory: the temp file is written, the rename fails.
    let target = tmp.path().join("taken");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("inside"), "x").unwrap();
    let err = write::write_atomic(&target, b"content").unwrap_err();
    assert!(matches!(&err, Error::Rename { path, .. } if path == &target), "{err:?}");
    assert!(err.to_string().contains(&target.display().to_string()), "{err}");
    assert_eq!(files(tmp.path()), ["taken/inside"]);
    // A parent that is a file: the directory cannot be created.
    let file = tmp.path().join("file");
    fs::write(&file, "x").unwrap();
    let err = write::write_atomic(&file.join("sub/report.xml"), b"content").unwrap_err();
    assert!(matches!(&err, Error::CreateDir { path, .. } if path == &file.join("sub")), "{err:?}");
}

#[test]
fn a_batch_written_again_with_more_reports_replaces_every_file() {
    let tmp = tempfile::tempdir().unwrap();
    let mut with_timeline = fixtures::failing();
    with_timeline.timeline = Some(fixtures::timeline());
    let mut batch = vec![fixtures::passing()];
    write::write_batch(tmp.path(), "Batch", &batch).unwrap();
    batch.push(with_timeline);
    let written = write::write_batch(tmp.path(), "Batch", &batch).unwrap();
    let timeline = "timelines/node-dies-machine-quoted-single-pipe-sim-seed7.html";
    // The picture alone, beside the page.
    let picture = "timelines/node-dies-machine-quoted-single-pipe-sim-seed7.svg";
    assert_eq!(written, [REPORTS_JSONL, timeline, picture, JUNIT_XML, SUMMARY_MD].map(|f| tmp.path().join(f)));
    assert_eq!(files(tmp.path()), [JUNIT_XML, REPORTS_JSONL, SUMMARY_MD, timeline, picture]);
    let svg = fs::read_to_string(tmp.path().join(picture)).unwrap();
    assert_eq!(parse(&svg).name, "svg");
    assert!(fs::read_to_string(tmp.path().join(timeline)).unwrap().contains(&svg), "the page embeds the same picture");
    assert_eq!(parse(&fs::read_to_string(tmp.path().join(JUNIT_XML)).unwrap()).attr("tests"), "2");
    assert!(fs::read_to_string(tmp.path().join(SUMMARY_MD)).unwrap().contains("**1 of 2 scenarios failed**"));
    let merged = merge_files([tmp.path().join(REPORTS_JSONL)]).unwrap();
    assert_eq!(merged.reports.len(), 2);
    assert!(merged.malformed.is_empty());
    assert_eq!(merged.reports[1].timeline, Some(fixtures::timeline()));
}

#[test]
fn a_sink_dropped_on_an_error_path_still_leaves_every_report() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    fn run(dir: &Path) -> Result<(), Error> {
        let mut sink = ReportSink::create(dir, "Sink")?;
        sink.push(fixtures::passing(), None)?;
        sink.flush()?;
        let mut failing = fixtures::failing();
        failing.timeline = Some(fixtures::timeline());
        sink.push(failing, Some(std::time::Duration::from_millis(250)))?;
        // The run fails here, before any further flush: the drop must write the aggregates.
        Err(Error::Read { path: "elsewhere".into(), source: std::io::Error::other("boom") })
    }
    assert!(run(&dir).is_err());
    assert_eq!(
        files(&dir),
        [
            JUNIT_XML,
            REPORTS_JSONL,
            SUMMARY_MD,
            "timelines/node-dies-machine-quoted-single-pipe-sim-seed7.html",
            "timelines/node-dies-machine-quoted-single-pipe-sim-seed7.svg"
        ]
    );
    let junit = parse(&fs::read_to_string(dir.join(JUNIT_XML)).unwrap());
    // The two runs, and one error case: the batch never finished, so it cannot read as passed.
    assert_eq!((junit.attr("tests"), junit.attr("failures"), junit.attr("errors")), ("3", "1", "1"));
    assert_eq!(junit.one("testsuite").all("testcase").nth(1).unwrap().attr("time"), "0.250", "wall time kept");
    let incomplete = junit.one("testsuite").all("testcase").nth(2).unwrap();
    assert_eq!(incomplete.attr("name"), "Sink: run incomplete");
    assert_eq!(incomplete.one("error").attr("type"), "Unfinished");
    let summary = fs::read_to_string(dir.join(SUMMARY_MD)).unwrap();
    assert!(summary.contains("**INCOMPLETE. The run did not finish"), "{summary}");
    assert!(summary.contains("| **failed** |"), "{summary}");
    // reports.jsonl has the reports in full (objects too), the sink's memory need not.
    let merged = merge_files([dir.join(REPORTS_JSONL)]).unwrap();
    assert_eq!(merged.reports.len(), 2);
    assert_eq!(merged.reports[0].objects, fixtures::passing().objects);
    assert!(merged.reports[1].timeline.is_some());
    // The wall time is in reports.jsonl too, so a merge of it is timed the same way.
    assert_eq!((merged.reports[0].wall_time_ms, merged.reports[1].wall_time_ms), (None, Some(250)));
    let remerged = parse(&capi_reports::junit::render_reports("m", &merged.reports));
    assert_eq!(remerged.one("testsuite").all("testcase").nth(1).unwrap().attr("time"), "0.250");
}

#[test]
fn a_sink_leaves_valid_empty_files_before_any_report_and_lists_what_it_wrote() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = ReportSink::create(tmp.path(), "Sink").unwrap();
    assert!(sink.is_empty());
    // Before any report, and until `finish`, the files say the batch has not finished: a run killed
    // now leaves an error for CI, not an empty (green) suite.
    let junit = parse(&fs::read_to_string(tmp.path().join(JUNIT_XML)).unwrap());
    assert_eq!((junit.attr("tests"), junit.attr("errors")), ("1", "1"));
    assert!(!fs::read_to_string(tmp.path().join(SUMMARY_MD)).unwrap().contains("No scenario was run."));
    assert_eq!(fs::read_to_string(tmp.path().join(REPORTS_JSONL)).unwrap(), "");
    let mut sink = sink;
    sink.push(fixtures::errored(), None).unwrap();
    let written = sink.finish().unwrap();
    assert_eq!(written, [REPORTS_JSONL, JUNIT_XML, SUMMARY_MD].map(|f| tmp.path().join(f)));
    let junit = parse(&fs::read_to_string(tmp.path().join(JUNIT_XML)).unwrap());
    assert_eq!((junit.attr("tests"), junit.attr("errors")), ("1", "1"));
}

#[test]
fn an_interrupted_batch_says_so_and_never_reads_as_passed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut sink = ReportSink::create(tmp.path(), "Sink").unwrap();
    sink.expect_runs(20);
    for _ in 0..9 {
        sink.push(fixtures::passing(), None).unwrap();
    }
    sink.interrupt("interrupted by SIGTERM").unwrap();
    sink.finish().unwrap();
    let junit = parse(&fs::read_to_string(tmp.path().join(JUNIT_XML)).unwrap());
    assert_eq!((junit.attr("tests"), junit.attr("failures"), junit.attr("errors")), ("10", "0", "1"));
    let error = junit.one("testsuite").all("testcase").last().unwrap().one("error");
    assert_eq!(error.attr("type"), "Interrupted");
    assert_eq!(error.attr("message"), "The run was interrupted (interrupted by SIGTERM) after 9 of 20 scenarios.");
    let summary = fs::read_to_string(tmp.path().join(SUMMARY_MD)).unwrap();
    assert!(!summary.contains("passed.") && !summary.contains("All 9"), "{summary}");
    assert!(summary.contains("**INCOMPLETE. The run was interrupted (interrupted by SIGTERM) after 9 of 20 scenarios.**"), "{summary}");
}
