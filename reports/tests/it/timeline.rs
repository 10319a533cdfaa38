//! The timeline picture: a snapshot of a small run, and the structure of the SVG as an XML parser
//! reads it (rows, bars, marks), for empty and very large timelines too.

use crate::dom::{parse, Element};
use crate::fixtures;
use capi_reports::timeline;
use capi_scenarios::report::{Span, Timeline, TimelineRow};

fn group<'a>(svg: &'a Element, id: &str) -> &'a Element {
    svg.all("g").find(|g| g.attrs.get("id").map(String::as_str) == Some(id)).unwrap_or_else(|| panic!("no <g id={id}>"))
}

fn texts(el: &Element) -> Vec<&str> {
    el.all("text").map(|t| t.text.as_str()).collect()
}

fn f(el: &Element, attr: &str) -> f64 {
    el.attr(attr).parse().unwrap_or_else(|e| panic!("{attr}={:?}: {e}", el.attr(attr)))
}

#[test]
fn draws_rows_grouped_by_cluster_and_role_with_phase_bars_and_marks() {
    let t = fixtures::timeline();
    let svg = timeline::svg(&t, "node dies & <co>");
    assert_eq!(svg, timeline::svg(&t, "node dies & <co>"), "deterministic");
    insta::assert_snapshot!(svg);

    let root = parse(&svg);
    assert_eq!(root.name, "svg");
    assert_eq!(root.attr("xmlns"), "http://www.w3.org/2000/svg");
    assert_eq!(root.one("title").text, "node dies & <co>");

    // Control plane before workers, clusters by name; the long name cut, in full in its tooltip.
    let rows = group(&root, "rows");
    assert_eq!(
        texts(rows),
        [
            "alpha / control-plane (1)",
            "alpha-control-plane-4jkl8",
            "alpha / worker (1)",
            "alpha-md-0-x7b2k-9zzqp",
            "beta / worker (1)",
            "beta-md-0-a-machine-name-that-is-far-to…",
        ]
    );
    let long = rows.all("text").nth(5).unwrap();
    assert_eq!(long.one("title").text, "beta-md-0-a-machine-name-that-is-far-too-long-to-show-in-full-x7b2k (beta / worker)");

    // One bar per span plus a faint one for the deleted control-plane Machine after it is gone.
    let bars: Vec<&Element> = group(&root, "spans").all("rect").collect();
    assert_eq!(bars.len(), 4 + 4 + 2 + 1);
    let fills: Vec<&str> = bars.iter().map(|b| b.attr("fill")).collect();
    assert_eq!(
        fills,
        [
            "#b0bec5",
            "#90caf9",
            "#43a047",
            "#8e24aa",
            "url(#tl-gone)", // alpha control plane: ..., Deleting, gone
            "#b0bec5",
            "#90caf9",
            "#1e88e5",
            "#43a047", // alpha worker
            "#90caf9",
            "#d81b60", // beta: Provisioning, Failed
        ]
    );
    let gone = bars[4];
    let hatch = root.one("defs").one("pattern");
    assert_eq!(hatch.attr("id"), "tl-gone");
    assert_eq!(gone.one("title").text, "alpha-control-plane-4jkl8: gone from 1m 40s");
    // Open spans run to the end of the plot; bars share one time scale.
    let right = |b: &Element| f(b, "x") + f(b, "width");
    let running = bars[8];
    assert_eq!(running.one("title").text, "alpha-md-0-x7b2k-9zzqp: Running from 1m to the end (2m 30s, still Running) (1m 30s)");
    assert!((right(running) - 1188.0).abs() < 0.2, "{}", right(running));
    assert!((right(gone) - 1188.0).abs() < 0.2);
    assert!((f(bars[2], "x") + f(bars[2], "width") - f(bars[3], "x")).abs() < 0.2, "Running ends where Deleting starts");

    // Marks: one line each, coloured by kind, labelled, with a tooltip.
    let marks: Vec<&Element> = group(&root, "marks").all("g").collect();
    let kinds: Vec<(&str, &str)> = marks.iter().map(|m| (m.one("line").attr("stroke"), m.one("title").text.as_str())).collect();
    assert_eq!(
        kinds,
        [
            ("#9e9e9e", "step at 0s: #0 apply"),
            ("#9e9e9e", "step at 1m: #1 fault"),
            ("#ef6c00", "fault at 1m: container-kill alpha-control-plane-4jkl8"),
            ("#d50000", "violation at 1m 20s: etcd-membership & <quorum>"),
            ("#ef6c00", "heal at 2m: container-kill"),
            ("#9e9e9e", "step at 2m 29s: #2 wait"),
        ]
    );
    assert_eq!(marks[4].one("line").attr("stroke-dasharray"), "4 3", "heals are dashed");
    // The step and the fault at the same time both get a label, in different lanes.
    let label_y = |m: &Element| f(m.one("text"), "y");
    assert_ne!(label_y(marks[1]), label_y(marks[2]));
    assert_eq!(marks[3].one("text").text, "etcd-membership & <quorum>");
    // The last mark is near the right edge: its label is drawn to its left.
    assert_eq!(marks[5].one("text").attr("text-anchor"), "end");
    let step_x = f(marks[0].one("line"), "x1");
    let last_x = f(marks[5].one("line"), "x1");
    assert!(step_x < last_x && last_x < 1188.0);

    // The axis ticks every 15s from 0 to the end, and the legend names every phase and mark kind.
    let axis = texts(group(&root, "axis"));
    assert_eq!(axis, ["0", "15s", "30s", "45s", "1m", "1m15s", "1m30s", "1m45s", "2m", "2m15s", "2m30s"]);
    let legend = texts(group(&root, "legend"));
    assert_eq!(
        legend,
        [
            "Pending",
            "Provisioning",
            "Provisioned",
            "Running",
            "Deleting",
            "Deleted",
            "gone",
            "Failed / other",
            "step",
            "fault",
            "heal",
            "violation"
        ]
    );
}

#[test]
fn an_empty_timeline_is_a_valid_picture_that_says_so() {
    let svg = timeline::svg(&Timeline::default(), "nothing");
    let root = parse(&svg);
    assert_eq!(texts(group(&root, "rows")), ["no Machines"]);
    assert_eq!(group(&root, "spans").children.len(), 0);
    assert_eq!(group(&root, "marks").children.len(), 0);
    // Nothing happened: the axis spans the shortest time it can.
    assert_eq!(texts(group(&root, "axis")), ["0", "1ms"]);
}

#[test]
fn hundreds_of_rows_grow_the_picture_and_keep_every_row() {
    let rows: Vec<TimelineRow> = (0..300)
        .map(|i| TimelineRow {
            name: format!("m-{i:03}"),
            cluster: format!("c{}", i % 3),
            role: if i % 10 == 0 { "control-plane".into() } else { "worker".into() },
            spans: vec![Span { start_ms: i * 1000, end_ms: None, phase: "Running".into() }],
        })
        .collect();
    let small = Timeline { end_ms: 3_600_000, rows: rows[..3].to_vec(), marks: Vec::new() };
    let big = Timeline { end_ms: 3_600_000, rows, marks: Vec::new() };
    let (small, big) = (parse(&timeline::svg(&small, "s")), parse(&timeline::svg(&big, "b")));
    let height = |svg: &Element| f(svg, "height");
    assert!(height(&big) >= 300.0 * 16.0, "{}", height(&big));
    assert!(height(&big) > height(&small) + 290.0 * 16.0);
    assert_eq!(big.attr("viewBox"), format!("0 0 1200 {}", big.attr("height")));
    let labels = texts(group(&big, "rows"));
    assert_eq!(labels.len(), 300 + 6, "every Machine and 6 groups");
    assert_eq!(labels[0], "c0 / control-plane (10)");
    assert_eq!(group(&big, "spans").children.len(), 300);
    // Every row below the previous one: nothing drawn over another row.
    let ys: Vec<f64> = group(&big, "spans").all("rect").map(|r| f(r, "y")).collect();
    let mut sorted = ys.clone();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    assert_eq!(sorted.len(), 300);
    // An hour: ticks every 10 minutes.
    assert_eq!(texts(group(&big, "axis")), ["0", "10m", "20m", "30m", "40m", "50m", "1h"]);
}

#[test]
fn the_html_page_has_the_title_an_explanation_and_the_svg() {
    let html = timeline::html(&fixtures::timeline(), "node dies & <co>");
    assert!(html.starts_with("<!DOCTYPE html>\n"));
    // The page is also well-formed XML, so a parser can check it all.
    let root = parse(&html);
    assert_eq!(root.name, "html");
    assert_eq!(root.one("head").one("title").text, "node dies & <co>");
    let body = root.one("body");
    assert_eq!(body.one("h1").text, "node dies & <co>");
    assert!(body.one("p").children.iter().any(|c| c.text == "invariant violations"));
    assert_eq!(body.one("div").one("svg").one("title").text, "node dies & <co>");
}
