//! The timeline picture: a snapshot of a small run, and the structure of the SVG as an XML parser
//! reads it (rows, bars, marks), for empty and very large timelines too.

use crate::dom::{parse, Element};
use crate::fixtures;
use capi_reports::timeline;
use capi_scenarios::report::{EtcdLane, NodeLane, Span, Timeline, TimelineMark, TimelineRow};

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
            node: None,
        })
        .collect();
    let small = Timeline { end_ms: 3_600_000, rows: rows[..3].to_vec(), ..Default::default() };
    let big = Timeline { end_ms: 3_600_000, rows, ..Default::default() };
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

fn span(start_ms: u64, end_ms: Option<u64>, phase: &str) -> Span {
    Span { start_ms, end_ms, phase: phase.into() }
}

/// Two clusters named so that plain string order would put `q-10` first; `q-2` has three
/// control-plane Machines with their nodes' lanes, loses two etcd members at 80s (quorum lost) and has
/// a node no Machine row claims; a worker without a node lane.
fn lanes_timeline() -> Timeline {
    let cp = |i: u64| TimelineRow {
        name: format!("q-2-cp-{i}"),
        cluster: "q-2".into(),
        role: "control-plane".into(),
        spans: vec![span(i * 20_000, Some(i * 20_000 + 15_000), "Provisioning"), span(i * 20_000 + 15_000, None, "Running")],
        node: Some(format!("q-2-cp-{i}")),
    };
    let node = |i: u64, killed: bool| NodeLane {
        cluster: "q-2".into(),
        node: format!("q-2-cp-{i}"),
        ready: if killed {
            vec![
                span(i * 20_000 + 15_000, Some(i * 20_000 + 25_000), "False"),
                span(i * 20_000 + 25_000, Some(120_000), "True"),
                span(120_000, None, "Unknown"),
            ]
        } else {
            vec![span(i * 20_000 + 15_000, Some(i * 20_000 + 25_000), "False"), span(i * 20_000 + 25_000, None, "True")]
        },
        etcd: if killed {
            vec![span(i * 20_000 + 15_000, Some(80_000), "healthy"), span(80_000, None, "unhealthy")]
        } else {
            vec![span(i * 20_000 + 15_000, None, "healthy")]
        },
    };
    Timeline {
        end_ms: 150_000,
        rows: vec![
            TimelineRow {
                name: "q-10-md-0".into(),
                cluster: "q-10".into(),
                role: "worker".into(),
                spans: vec![span(0, None, "Running")],
                node: None,
            },
            cp(0),
            cp(1),
            cp(2),
        ],
        marks: vec![TimelineMark { at_ms: 80_000, kind: "fault".into(), label: "container-kill q-2-cp-1 q-2-cp-2".into() }],
        nodes: vec![
            node(0, false),
            node(1, true),
            node(2, true),
            NodeLane { cluster: "q-2".into(), node: "q-2-stray".into(), ready: vec![span(30_000, None, "False")], etcd: Vec::new() },
        ],
        etcd: vec![EtcdLane {
            cluster: "q-2".into(),
            spans: vec![
                span(15_000, Some(35_000), "1/1"),
                span(35_000, Some(55_000), "2/2"),
                span(55_000, Some(80_000), "3/3"),
                span(80_000, None, "1/3"),
            ],
        }],
    }
}

#[test]
fn node_ready_and_etcd_lanes_show_a_quorum_loss() {
    let svg = timeline::svg(&lanes_timeline(), "quorum loss");
    insta::assert_snapshot!(svg);
    let root = parse(&svg);
    // Clusters in natural order (q-2 before q-10), the etcd row first, the unclaimed node last.
    assert_eq!(
        texts(group(&root, "rows")),
        [
            "q-2 / etcd (healthy/total members)",
            "etcd members",
            "q-2 / control-plane (3)",
            "q-2-cp-0",
            "q-2-cp-1",
            "q-2-cp-2",
            "q-2 / Nodes without a Machine (1)",
            "q-2-stray",
            "q-10 / worker (1)",
            "q-10-md-0",
        ]
    );
    let lanes: Vec<&Element> = group(&root, "lanes").all("rect").collect();
    // 4 etcd-row spans; per control-plane node its Ready spans and etcd spans; the stray node's one.
    assert_eq!(lanes.len(), 4 + (2 + 1) + (3 + 2) + (3 + 2) + 1);
    let tips: Vec<(&str, &str)> = lanes.iter().map(|r| (r.attr("fill"), r.one("title").text.as_str())).collect();
    assert_eq!(
        tips[3],
        (
            "#d50000",
            "q-2 etcd: 1/3 members healthy, quorum lost from 1m 20s to the end (2m 30s, still 1/3 members healthy, quorum lost) (1m 10s)"
        )
    );
    assert_eq!(tips[2].0, "#3949ab", "3/3 has quorum");
    assert!(
        tips.contains(&(
            "#e53935",
            "q-2-cp-1: etcd member unhealthy from 1m 20s to the end (2m 30s, still etcd member unhealthy) (1m 10s)"
        )),
        "{tips:?}"
    );
    assert!(tips.contains(&("#ff7043", "q-2-cp-2: Ready Unknown from 2m to the end (2m 30s, still Ready Unknown) (30s)")), "{tips:?}");
    // The lanes sit under the Machine's bar, inside its row.
    let bar = group(&root, "spans").all("rect").find(|r| r.one("title").text.starts_with("q-2-cp-1: Running")).expect("bar");
    let ready = lanes.iter().find(|r| r.one("title").text.starts_with("q-2-cp-1: Ready True")).expect("ready lane");
    assert!(f(ready, "y") >= f(bar, "y") + f(bar, "height"), "under the bar");
    assert!(texts(group(&root, "legend")).contains(&"no etcd quorum"));
    // Not a fleet: no aggregate view.
    assert!(root.all("g").all(|g| g.attrs.get("id").map(String::as_str) != Some("aggregate")));
    let html = timeline::html(&lanes_timeline(), "quorum loss");
    assert!(html.contains("each cluster's etcd row shows healthy/total members"));
}

/// `n` clusters `fleet-1`..`fleet-n` of two Machines each: one Running from 10s, one Provisioning
/// from 20s and Running from 40s; cluster 1 loses etcd quorum from 50s to 70s.
fn fleet(n: u64) -> Timeline {
    let mut t = Timeline { end_ms: 100_000, ..Default::default() };
    for c in 1..=n {
        let cluster = format!("fleet-{c}");
        t.rows.push(TimelineRow {
            name: format!("{cluster}-a"),
            cluster: cluster.clone(),
            role: "worker".into(),
            spans: vec![span(10_000, None, "Running")],
            node: None,
        });
        t.rows.push(TimelineRow {
            name: format!("{cluster}-b"),
            cluster: cluster.clone(),
            role: "worker".into(),
            spans: vec![span(20_000, Some(40_000), "Provisioning"), span(40_000, None, "Running")],
            node: None,
        });
        let spans = if c == 1 {
            vec![span(0, Some(50_000), "3/3"), span(50_000, Some(70_000), "1/3"), span(70_000, None, "3/3")]
        } else {
            vec![span(0, None, "3/3")]
        };
        t.etcd.push(EtcdLane { cluster, spans });
    }
    t
}

#[test]
fn a_fleet_gets_the_aggregate_view_and_counts_every_machine() {
    use capi_reports::timeline::aggregate;
    let t = fleet(6);
    let counts = aggregate::machines_per_phase(&t);
    let at = |ms: u64| counts.iter().rev().find(|(s, _)| *s <= ms).map(|(_, c)| c.clone()).unwrap();
    // Pending, Provisioning, Provisioned, Running, Deleting, Deleted, other.
    assert_eq!(at(5_000), [0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(at(15_000), [0, 0, 0, 6, 0, 0, 0]);
    assert_eq!(at(30_000), [0, 6, 0, 6, 0, 0, 0]);
    assert_eq!(at(45_000), [0, 0, 0, 12, 0, 0, 0]);
    let q = aggregate::clusters_without_quorum(&t);
    assert_eq!(q.iter().map(|(t, c)| (*t, c[0])).collect::<Vec<_>>(), [(0, 0), (50_000, 1), (70_000, 0)]);

    let root = parse(&timeline::svg(&t, "fleet"));
    let agg = group(&root, "aggregate");
    assert_eq!(
        texts(agg),
        ["Machines per phase, 6 clusters (stacked; at most 12)", "clusters without etcd quorum: at most 1; 50s to 1m 10s the longest"]
    );
    let bands: Vec<&str> = agg.all("path").map(|p| p.one("title").text.as_str()).collect();
    assert_eq!(
        bands,
        ["Provisioning: at most 6 Machines at once", "Running: at most 12 Machines at once", "clusters without etcd quorum: at most 1"]
    );
    // Six clusters still get their rows, in natural order.
    let rows = texts(group(&root, "rows"));
    assert_eq!(rows[0], "fleet-1 / etcd (healthy/total members)");
    assert!(root.one("text").text.contains("12 Machines in 6 clusters"));

    // Forty clusters: the aggregate alone, with a line saying why.
    let root = parse(&timeline::svg(&fleet(40), "big fleet"));
    assert_eq!(
        texts(group(&root, "rows")),
        ["80 Machines in 40 clusters: rows are drawn for up to 30 clusters; the counts above include every one"]
    );
    assert!(texts(group(&root, "aggregate"))[0].contains("40 clusters (stacked; at most 80)"));
    assert_eq!(group(&root, "spans").children.len(), 0);
}
