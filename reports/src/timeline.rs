//! A run's [`Timeline`] as a picture: a standalone SVG, and an HTML page embedding it.
//!
//! Machines are rows, grouped by cluster (in natural order: `cluster-2` before `cluster-10`) and
//! role (control plane first, then workers); within a group rows keep their order of first
//! appearance. Each phase is a bar in a fixed colour (see [`PHASE_COLOURS`]) over simulated time; a
//! span still open at the end runs to the end of the run, and a Machine that is gone before the end
//! gets a hatched "gone" bar for the rest. When the run recorded workload clusters, a Machine's row
//! also carries two thin lanes under its bar: its Node's `Ready` and its etcd member (see
//! [`LANE_COLOURS`]); each cluster gets an "etcd" row of healthy/total members, red while quorum is
//! lost; nodes no Machine row claims get rows of their own. Marks are vertical lines across all rows:
//! steps thin grey, faults orange (their heals dashed orange), violations red. Their labels sit in
//! lanes above the rows, violations placed first, then faults, then steps; a label that finds no free
//! lane is left out, but every bar and mark has a `<title>` tooltip with its full text. Names longer
//! than [`NAME_CHARS_MAX`] are cut with `…`.
//!
//! Fleets (from [`FLEET_FROM`] clusters) get an aggregate view above the rows ([`aggregate`]):
//! Machines per phase over time as a stacked area, and the number of Nodes not Ready and of clusters
//! without etcd quorum; above [`ROWS_CLUSTERS_MAX`] clusters the per-Machine rows are left out.
//!
//! The height grows with the number of rows (16 px each, 24 with lanes), the width is fixed. The
//! output depends on the timeline and title alone (no clock, no randomness, fixed number
//! formatting), so it can be snapshot-tested.

pub mod aggregate;
mod rows;

use crate::xml;
use capi_scenarios::report::{EtcdLane, NodeLane, RunReport, Span, Timeline, TimelineMark};
use capi_scenarios::DurationMs;
use std::cmp::Ordering;
use std::fmt::Write as _;

/// Phase colours, in legend order: (legend label, fill). Phases are matched case-insensitively, and
/// any phase not listed is drawn as `Failed / other`. "Gone" (after a Machine was deleted, to the end
/// of the run) is hatched in the `Deleted` colour.
pub const PHASE_COLOURS: [(&str, &str); 7] = [
    ("Pending", "#b0bec5"),
    ("Provisioning", "#90caf9"),
    ("Provisioned", "#1e88e5"),
    ("Running", "#43a047"),
    ("Deleting", "#8e24aa"),
    ("Deleted", "#616161"),
    ("Failed / other", "#d81b60"),
];

/// Colours of the lanes under a Machine's bar and of the etcd rows: (legend label, fill).
pub const LANE_COLOURS: [(&str, &str); 7] = [
    ("Node Ready", "#7cb342"),
    ("Node not Ready", "#fdd835"),
    ("Node Unknown", "#ff7043"),
    ("etcd member", "#3949ab"),
    ("etcd unhealthy", "#e53935"),
    ("etcd lost", "#212121"),
    ("no etcd quorum", "#d50000"),
];

/// Longest Machine name shown in full.
pub const NAME_CHARS_MAX: usize = 40;
/// From this many clusters on, the picture opens with the aggregate view of the fleet.
pub const FLEET_FROM: usize = 5;
/// Above this many clusters, the per-Machine rows are left out (the aggregate counts them all).
pub const ROWS_CLUSTERS_MAX: usize = 30;

const WIDTH: f64 = 1200.0;
const MARGIN: f64 = 12.0;
const CHAR_W: f64 = 7.2; // 12 px monospace
const SMALL_CHAR_W: f64 = 6.6; // 11 px monospace
const TITLE_H: f64 = 30.0;
const LANE_H: f64 = 14.0;
const LANES_MAX: usize = 8;
const LABEL_CHARS_MAX: usize = 32;
const AXIS_H: f64 = 20.0;
const GROUP_H: f64 = 20.0;
const ROW_H: f64 = 16.0;
/// A row with a Node lane and an etcd lane under its bar.
const LANES_ROW_H: f64 = 24.0;
const BAR_H: f64 = 10.0;
const STRIP_H: f64 = 4.0;
const LEGEND_ROW_H: f64 = 20.0;
/// The hatch pattern of "gone"; `tl-` keeps the id apart from others when the SVG is inlined in HTML.
const GONE_FILL: &str = "url(#tl-gone)";

/// The index of a phase in [`PHASE_COLOURS`] (case-insensitive; anything else is the last).
pub fn phase_index(phase: &str) -> usize {
    let named = ["Pending", "Provisioning", "Provisioned", "Running", "Deleting", "Deleted"];
    named.iter().position(|p| p.eq_ignore_ascii_case(phase)).unwrap_or(6)
}

/// The fill of a phase.
pub fn phase_colour(phase: &str) -> &'static str {
    PHASE_COLOURS[phase_index(phase)].1
}

/// Whether an etcd row's `healthy/total` means quorum is lost (healthy ≤ total / 2).
pub fn quorum_lost(members: &str) -> bool {
    match members.split_once('/').map(|(h, t)| (h.trim().parse::<u64>(), t.trim().parse::<u64>())) {
        Some((Ok(healthy), Ok(total))) => total > 0 && healthy * 2 <= total,
        _ => false,
    }
}

/// The fill of a Node's `Ready` status or an etcd member's state.
fn lane_colour(state: &str) -> &'static str {
    match state {
        "True" => LANE_COLOURS[0].1,
        "False" => LANE_COLOURS[1].1,
        "healthy" => LANE_COLOURS[3].1,
        "unhealthy" => LANE_COLOURS[4].1,
        "lost" => LANE_COLOURS[5].1,
        _ => LANE_COLOURS[2].1,
    }
}

/// Names in natural order: digit runs compare as numbers, so `cluster-2` comes before `cluster-10`.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    alphanumeric_sort::compare_str(a, b).then_with(|| a.cmp(b))
}

/// How many clusters a timeline shows (Machine rows and etcd rows).
pub fn cluster_count(t: &Timeline) -> usize {
    let mut names: Vec<&str> = t.rows.iter().map(|r| r.cluster.as_str()).chain(t.etcd.iter().map(|e| e.cluster.as_str())).collect();
    names.sort_unstable();
    names.dedup();
    names.len()
}

/// How a mark kind is drawn: (stroke, width, dash pattern, label placement priority).
fn mark_style(kind: &str) -> (&'static str, &'static str, Option<&'static str>, u8) {
    match kind {
        "violation" => ("#d50000", "2", None, 0),
        "fault" => ("#ef6c00", "1.5", None, 1),
        "heal" => ("#ef6c00", "1.5", Some("4 3"), 1),
        "step" => ("#9e9e9e", "1", None, 2),
        _ => ("#9e9e9e", "1", Some("2 2"), 2),
    }
}

/// The title of a report's timeline: scenario, backend and seed.
pub fn report_title(r: &RunReport) -> String {
    format!("{} ({}, seed {})", r.scenario, r.backend, r.seed)
}

/// An HTML page with `title` as heading, a line explaining the marks, and the SVG.
pub fn html(timeline: &Timeline, title: &str) -> String {
    let t = xml::text(title);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>{t}</title>\n<style>\n\
         body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #212121; }}\n\
         .timeline {{ overflow-x: auto; }}\n.step {{ color: #757575; }}\n.fault {{ color: #ef6c00; }}\n.violation {{ color: #d50000; }}\n\
         </style>\n</head>\n<body>\n<h1>{t}</h1>\n\
         <p>Machine phases over simulated time, one row per Machine, grouped by cluster and role. \
         Vertical lines: <span class=\"step\">steps</span>, <span class=\"fault\">faults</span> (dashed when healed), \
         <span class=\"violation\">invariant violations</span>. Hover over a bar or line for details.</p>\n{}{}\
         <div class=\"timeline\">\n{}</div>\n</body>\n</html>\n",
        if timeline.nodes.is_empty() && timeline.etcd.is_empty() {
            ""
        } else {
            "<p>Under each Machine's bar: its Node's Ready (green Ready, yellow not Ready, orange Unknown) and its etcd member \
             (indigo, red while unhealthy, black once lost); each cluster's etcd row shows healthy/total members, red while quorum is lost.</p>\n"
        },
        if cluster_count(timeline) >= FLEET_FROM {
            "<p>At the top, the fleet: Machines per phase over time (stacked), Nodes not Ready and clusters without etcd quorum.</p>\n"
        } else {
            ""
        },
        svg(timeline, title)
    )
}

/// The timeline as a standalone SVG document (no XML declaration, so it can also be inlined in HTML).
pub fn svg(timeline: &Timeline, title: &str) -> String {
    let clusters = cluster_count(timeline);
    let fleet = clusters >= FLEET_FROM;
    let rows_shown = clusters <= ROWS_CLUSTERS_MAX;
    let groups = if rows_shown { rows::groups(timeline) } else { Vec::new() };
    let has_lanes = !timeline.nodes.is_empty() || !timeline.etcd.is_empty();
    let end_ms = domain_end(timeline);
    let name_chars = groups.iter().flat_map(|g| &g.lines).map(|l| l.name().chars().count().min(NAME_CHARS_MAX)).max().unwrap_or(0).max(12);
    let plot_x0 = MARGIN + name_chars as f64 * CHAR_W + 12.0;
    let plot_x1 = WIDTH - MARGIN;
    let x = |t: u64| plot_x0 + (t.min(end_ms) as f64 / end_ms as f64) * (plot_x1 - plot_x0);

    // Mark labels, placed into lanes by priority (violations, faults, steps), then by time.
    let mut marks: Vec<&TimelineMark> = timeline.marks.iter().collect();
    marks.sort_by_key(|m| m.at_ms);
    let mut order: Vec<usize> = (0..marks.len()).collect();
    order.sort_by_key(|&i| (mark_style(&marks[i].kind).3, marks[i].at_ms, i));
    let mut lanes: Vec<Vec<(f64, f64)>> = vec![Vec::new(); LANES_MAX];
    let mut placed: Vec<Option<(usize, bool)>> = vec![None; marks.len()]; // (lane, anchored at the end)
    for i in order {
        let label = cut(&marks[i].label, LABEL_CHARS_MAX);
        let w = label.chars().count() as f64 * SMALL_CHAR_W + 4.0;
        let mx = x(marks[i].at_ms);
        let at_end = mx + w > plot_x1;
        let span = if at_end { (mx - w - 2.0, mx) } else { (mx, mx + w + 2.0) };
        if let Some(lane) = lanes.iter().position(|l| l.iter().all(|&(a, b)| span.1 <= a || span.0 >= b)) {
            lanes[lane].push(span);
            placed[i] = Some((lane, at_end));
        }
    }
    let lanes_used = placed.iter().flatten().map(|(l, _)| l + 1).max().unwrap_or(0);

    let lanes_top = TITLE_H;
    let axis_top = lanes_top + lanes_used as f64 * LANE_H;
    let plot_top = axis_top + AXIS_H;
    let rows_top = if fleet { plot_top + aggregate::height(timeline) } else { plot_top };
    let rows_h: f64 = groups.iter().map(|g| GROUP_H + g.lines.iter().map(row_height).sum::<f64>()).sum();
    let plot_h = if groups.is_empty() { 28.0 } else { rows_h };
    let plot_bottom = rows_top + plot_h;
    let legend = legend_items(has_lanes);
    let legend_lines = legend_layout(&legend);
    let height = plot_bottom + 14.0 + legend_lines.len() as f64 * LEGEND_ROW_H + MARGIN;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" font-size="12">"#,
        w = num(WIDTH),
        h = num(height)
    );
    let _ = writeln!(out, "<title>{}</title>", xml::text(title));
    let _ = writeln!(
        out,
        r##"<defs><pattern id="tl-gone" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="#eeeeee"/><rect width="2" height="6" fill="{}"/></pattern></defs>"##,
        PHASE_COLOURS[5].1
    );
    let _ = writeln!(out, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let in_clusters = if fleet { format!(" in {clusters} clusters") } else { String::new() };
    let _ = writeln!(
        out,
        r#"<text x="{}" y="20" font-size="15" font-weight="bold">{}</text>"#,
        num(MARGIN),
        xml::text(&format!("{title} — {} Machines{in_clusters}, ends at {}", timeline.rows.len(), DurationMs(timeline.end_ms)))
    );

    // Row backgrounds and labels.
    out.push_str("<g id=\"rows\">\n");
    let mut y = rows_top;
    let mut row_ys: Vec<(&rows::Line, f64)> = Vec::new();
    for g in &groups {
        let cluster = if g.cluster.is_empty() { "(no cluster)" } else { g.cluster };
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" font-weight="bold" fill="#424242">{}</text>"##,
            num(MARGIN),
            num(y + 14.0),
            xml::text(&format!("{cluster} / {}", g.heading))
        );
        y += GROUP_H;
        for (i, line) in g.lines.iter().enumerate() {
            let h = row_height(line);
            if i % 2 == 0 {
                let _ = writeln!(
                    out,
                    r##"<rect x="{}" y="{}" width="{}" height="{}" fill="#f5f5f5"/>"##,
                    num(MARGIN),
                    num(y),
                    num(WIDTH - 2.0 * MARGIN),
                    num(h)
                );
            }
            let tooltip = match line {
                rows::Line::Machine(r, _) => format!("{} ({} / {})", r.name, r.cluster, r.role),
                rows::Line::Node(n) => format!("{} (a Node of {} that no Machine row claims)", n.node, n.cluster),
                rows::Line::Etcd(e) => format!("etcd members of {}: healthy/total", e.cluster),
            };
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}"><title>{}</title>{}</text>"#,
                num(MARGIN + 8.0),
                num(y + 12.0),
                xml::text(&tooltip),
                xml::text(&cut(line.name(), NAME_CHARS_MAX))
            );
            row_ys.push((line, y));
            y += h;
        }
    }
    if !rows_shown {
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" fill="#757575">{}</text>"##,
            num(MARGIN),
            num(rows_top + 18.0),
            xml::text(&format!(
                "{} Machines in {clusters} clusters: rows are drawn for up to {ROWS_CLUSTERS_MAX} clusters; the counts above include every one",
                timeline.rows.len()
            ))
        );
    } else if groups.is_empty() {
        let _ = writeln!(out, r##"<text x="{}" y="{}" fill="#757575">no Machines</text>"##, num(plot_x0 + 8.0), num(plot_top + 18.0));
    }
    out.push_str("</g>\n");

    // Grid lines at the ticks, under the bars; their labels come after the marks.
    let step = tick_step(end_ms);
    let ticks: Vec<u64> = (0..).map_while(|i: u64| i.checked_mul(step).filter(|t| *t <= end_ms)).collect();
    out.push_str("<g id=\"grid\" stroke=\"#e0e0e0\">\n");
    for &t in &ticks {
        let _ = writeln!(out, r#"<line x1="{x}" y1="{}" x2="{x}" y2="{}"/>"#, num(plot_top - 4.0), num(plot_bottom), x = num(x(t)));
    }
    let _ = writeln!(out, r##"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="#757575"/>"##, num(plot_x0), num(plot_x1), y = num(plot_top));
    out.push_str("</g>\n");

    if fleet {
        aggregate::draw(&mut out, timeline, plot_top, &x, MARGIN, end_ms);
    }

    // Phase bars.
    out.push_str("<g id=\"spans\">\n");
    for (line, y) in &row_ys {
        let rows::Line::Machine(row, _) = line else { continue };
        let bar_y = y + (ROW_H - BAR_H) / 2.0;
        for span in &row.spans {
            let end = span.end_ms.unwrap_or(end_ms).max(span.start_ms);
            bar(
                &mut out,
                x(span.start_ms),
                x(end),
                bar_y,
                BAR_H,
                phase_colour(&span.phase),
                &span_tooltip(&row.name, &span.phase, span, end_ms),
            );
        }
        if let Some(gone_at) = row.spans.last().and_then(|s| s.end_ms).filter(|&e| e < end_ms) {
            bar(&mut out, x(gone_at), x(end_ms), bar_y, BAR_H, GONE_FILL, &format!("{}: gone from {}", row.name, DurationMs(gone_at)));
        }
    }
    out.push_str("</g>\n");

    // Node Ready and etcd lanes under the bars, and the etcd rows.
    if has_lanes {
        out.push_str("<g id=\"lanes\">\n");
        for (line, y) in &row_ys {
            match line {
                rows::Line::Machine(_, Some(lane)) | rows::Line::Node(lane) => node_lanes(&mut out, lane, *y, &x, end_ms),
                rows::Line::Etcd(e) => etcd_row(&mut out, e, *y + (ROW_H - BAR_H) / 2.0, &x, end_ms),
                rows::Line::Machine(_, None) => {}
            }
        }
        out.push_str("</g>\n");
    }

    // Marks, drawn over the bars, each line with its label.
    out.push_str("<g id=\"marks\" font-size=\"11\">\n");
    for (m, place) in marks.iter().zip(&placed) {
        let (stroke, width, dash, _) = mark_style(&m.kind);
        let mx = num(x(m.at_ms));
        let top = match place {
            Some((lane, _)) => lanes_top + *lane as f64 * LANE_H + 2.0,
            None => plot_top,
        };
        let _ = write!(out, "<g><title>{}</title>", xml::text(&format!("{} at {}: {}", m.kind, DurationMs(m.at_ms), m.label)));
        let _ = write!(
            out,
            r#"<line x1="{mx}" y1="{}" x2="{mx}" y2="{}" stroke="{stroke}" stroke-width="{width}"{}/>"#,
            num(top),
            num(plot_bottom),
            dash.map_or_else(String::new, |d| format!(r#" stroke-dasharray="{d}""#))
        );
        if let Some((lane, at_end)) = place {
            let (tx, anchor) = if *at_end { (x(m.at_ms) - 3.0, "end") } else { (x(m.at_ms) + 3.0, "start") };
            let fill = if m.kind == "step" { "#616161" } else { stroke };
            let _ = write!(
                out,
                r#"<text x="{}" y="{}" text-anchor="{anchor}" fill="{fill}">{}</text>"#,
                num(tx),
                num(lanes_top + *lane as f64 * LANE_H + 11.0),
                xml::text(&cut(&m.label, LABEL_CHARS_MAX))
            );
        }
        out.push_str("</g>\n");
    }
    out.push_str("</g>\n");

    // Tick labels, over the mark lines, with a white halo so that a line never strikes through one.
    out.push_str("<g id=\"axis\" font-size=\"11\" fill=\"#616161\" stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\">\n");
    for &t in &ticks {
        let tx = x(t);
        let anchor = if t == 0 {
            "start"
        } else if tx > plot_x1 - 20.0 {
            "end"
        } else {
            "middle"
        };
        let _ = writeln!(out, r#"<text x="{}" y="{}" text-anchor="{anchor}">{}</text>"#, num(tx), num(axis_top + 13.0), tick_label(t));
    }
    out.push_str("</g>\n");

    // Legend.
    out.push_str("<g id=\"legend\">\n");
    let mut ly = plot_bottom + 14.0;
    for line in &legend_lines {
        let mut lx = MARGIN;
        for item in line {
            match item.swatch {
                Swatch::Fill(fill) => {
                    let _ = write!(out, r#"<rect x="{}" y="{}" width="12" height="12" fill="{fill}"/>"#, num(lx), num(ly + 2.0));
                }
                Swatch::Line(kind) => {
                    let (stroke, width, dash, _) = mark_style(kind);
                    let _ = write!(
                        out,
                        r#"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="{stroke}" stroke-width="{width}"{}/>"#,
                        num(ly),
                        num(ly + 16.0),
                        dash.map_or_else(String::new, |d| format!(r#" stroke-dasharray="{d}""#)),
                        x = num(lx + 6.0)
                    );
                }
            }
            let _ = writeln!(out, r#"<text x="{}" y="{}">{}</text>"#, num(lx + 16.0), num(ly + 12.0), xml::text(item.label));
            lx += item.width();
        }
        ly += LEGEND_ROW_H;
    }
    out.push_str("</g>\n</svg>\n");
    out
}

/// Draw one bar from `x0` to `x1` (at least 1 px wide, so an instant phase still shows).
fn bar(out: &mut String, x0: f64, x1: f64, y: f64, h: f64, fill: &str, tooltip: &str) {
    let _ = writeln!(
        out,
        r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{fill}"><title>{}</title></rect>"#,
        num(x0),
        num(y),
        num((x1 - x0).max(1.0)),
        num(h),
        xml::text(tooltip)
    );
}

/// `who: what from A to B (duration)`, or `... to the end (E, still what) (duration)` for an open span.
fn span_tooltip(who: &str, what: &str, span: &Span, end_ms: u64) -> String {
    let end = span.end_ms.unwrap_or(end_ms).max(span.start_ms);
    let until = match span.end_ms {
        Some(e) => DurationMs(e).to_string(),
        None => format!("the end ({}, still {what})", DurationMs(end_ms)),
    };
    format!("{who}: {what} from {} to {until} ({})", DurationMs(span.start_ms), DurationMs(end.saturating_sub(span.start_ms)))
}

/// The height of a row.
fn row_height(line: &rows::Line) -> f64 {
    if line.has_lanes() {
        LANES_ROW_H
    } else {
        ROW_H
    }
}

/// A node's two lanes in the row at `y`: its `Ready` status, then its etcd membership.
fn node_lanes(out: &mut String, lane: &NodeLane, y: f64, x: &dyn Fn(u64) -> f64, end_ms: u64) {
    for (spans, top, what) in [(&lane.ready, y + 14.0, "Ready"), (&lane.etcd, y + 19.0, "etcd member")] {
        for s in spans {
            let end = s.end_ms.unwrap_or(end_ms).max(s.start_ms);
            let tip = span_tooltip(&lane.node, &format!("{what} {}", s.phase), s, end_ms);
            bar(out, x(s.start_ms), x(end), top, STRIP_H, lane_colour(&s.phase), &tip);
        }
    }
}

/// A cluster's etcd row: healthy/total members, red while quorum is lost.
fn etcd_row(out: &mut String, e: &EtcdLane, y: f64, x: &dyn Fn(u64) -> f64, end_ms: u64) {
    for s in &e.spans {
        let end = s.end_ms.unwrap_or(end_ms).max(s.start_ms);
        let lost = quorum_lost(&s.phase);
        let what = format!("{} members healthy{}", s.phase, if lost { ", quorum lost" } else { "" });
        let fill = if lost { LANE_COLOURS[6].1 } else { LANE_COLOURS[3].1 };
        bar(out, x(s.start_ms), x(end), y, BAR_H, fill, &span_tooltip(&format!("{} etcd", e.cluster), &what, s, end_ms));
    }
}

/// The end of the time axis: the run's end, or later if some span or mark is later; at least 1 ms.
fn domain_end(t: &Timeline) -> u64 {
    let lanes = t.nodes.iter().flat_map(|n| n.ready.iter().chain(&n.etcd)).chain(t.etcd.iter().flat_map(|e| &e.spans));
    let spans = t.rows.iter().flat_map(|r| &r.spans).chain(lanes).map(|s| s.end_ms.unwrap_or(s.start_ms).max(s.start_ms));
    let marks = t.marks.iter().map(|m| m.at_ms);
    spans.chain(marks).fold(t.end_ms, u64::max).max(1)
}

/// The smallest "round" tick interval that gives at most 10 intervals over `end_ms`.
fn tick_step(end_ms: u64) -> u64 {
    const S: u64 = 1000;
    const M: u64 = 60 * S;
    const H: u64 = 60 * M;
    const STEPS: [u64; 30] = [
        1,
        2,
        5,
        10,
        20,
        50,
        100,
        200,
        500,
        S,
        2 * S,
        5 * S,
        10 * S,
        15 * S,
        30 * S,
        M,
        2 * M,
        5 * M,
        10 * M,
        15 * M,
        30 * M,
        H,
        2 * H,
        3 * H,
        6 * H,
        12 * H,
        24 * H,
        48 * H,
        72 * H,
        168 * H,
    ];
    STEPS.iter().copied().find(|s| end_ms.div_ceil(*s) <= 10).unwrap_or_else(|| (end_ms.div_ceil(10)).div_ceil(24 * H) * 24 * H)
}

/// A compact time label: `0`, `250ms`, `1.5s`, `45s`, `2m`, `2m30s`, `1h`, `1h15m`.
fn tick_label(ms: u64) -> String {
    if ms == 0 {
        return "0".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m, s, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let mut out = String::new();
    if h > 0 {
        let _ = write!(out, "{h}h");
    }
    if m > 0 {
        let _ = write!(out, "{m}m");
    }
    if s > 0 || milli > 0 {
        if milli > 0 {
            let frac = format!("{milli:03}");
            let _ = write!(out, "{s}.{}s", frac.trim_end_matches('0'));
        } else {
            let _ = write!(out, "{s}s");
        }
    }
    out
}

/// `s` cut to `max` characters, the last one an ellipsis when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

/// A coordinate: one decimal, without a trailing `.0`.
fn num(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

#[derive(Clone, Copy)]
enum Swatch {
    Fill(&'static str),
    Line(&'static str),
}

struct LegendItem {
    swatch: Swatch,
    label: &'static str,
}

impl LegendItem {
    fn width(&self) -> f64 {
        16.0 + self.label.chars().count() as f64 * CHAR_W + 18.0
    }
}

fn legend_items(lanes: bool) -> Vec<LegendItem> {
    let mut items: Vec<LegendItem> = PHASE_COLOURS.iter().map(|(label, fill)| LegendItem { swatch: Swatch::Fill(fill), label }).collect();
    items.insert(6, LegendItem { swatch: Swatch::Fill(GONE_FILL), label: "gone" });
    if lanes {
        items.extend(LANE_COLOURS.iter().map(|(label, fill)| LegendItem { swatch: Swatch::Fill(fill), label }));
    }
    items.push(LegendItem { swatch: Swatch::Line("step"), label: "step" });
    items.push(LegendItem { swatch: Swatch::Line("fault"), label: "fault" });
    items.push(LegendItem { swatch: Swatch::Line("heal"), label: "heal" });
    items.push(LegendItem { swatch: Swatch::Line("violation"), label: "violation" });
    items
}

/// Legend items wrapped into lines that fit the width.
fn legend_layout(items: &[LegendItem]) -> Vec<Vec<&LegendItem>> {
    let mut lines: Vec<Vec<&LegendItem>> = vec![Vec::new()];
    let mut used = 0.0;
    for item in items {
        if used + item.width() > WIDTH - 2.0 * MARGIN && !lines.last().is_some_and(Vec::is_empty) {
            lines.push(Vec::new());
            used = 0.0;
        }
        used += item.width();
        lines.last_mut().expect("at least one line").push(item);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_few() {
        assert_eq!(tick_step(1), 1);
        assert_eq!(tick_step(950), 100);
        assert_eq!(tick_step(90_000), 10_000);
        assert_eq!(tick_step(20 * 60_000), 2 * 60_000);
        assert_eq!(tick_step(3 * 3_600_000), 30 * 60_000);
        assert_eq!(tick_step(100 * 24 * 3_600_000), 240 * 3_600_000);
        for end in [1, 7, 999, 1001, 61_000, 7_200_001, u64::MAX / 2] {
            assert!(end.div_ceil(tick_step(end)) <= 10, "{end}");
        }
    }

    #[test]
    fn tick_labels_are_compact() {
        let labels: Vec<String> = [0, 250, 1500, 45_000, 120_000, 150_000, 3_600_000, 4_500_000].map(tick_label).to_vec();
        assert_eq!(labels, ["0", "250ms", "1.5s", "45s", "2m", "2m30s", "1h", "1h15m"]);
    }

    #[test]
    fn phases_map_to_fixed_colours() {
        assert_eq!(phase_colour("Running"), "#43a047");
        assert_eq!(phase_colour("running"), "#43a047");
        assert_eq!(phase_colour("Deleted"), "#616161");
        assert_eq!(phase_colour("Failed"), "#d81b60");
        assert_eq!(phase_colour("Unknown"), "#d81b60");
    }

    #[test]
    fn cuts_long_names_by_character() {
        assert_eq!(cut("ünïcødé", 4), "ünï…");
        assert_eq!(cut("short", 40), "short");
    }
}
