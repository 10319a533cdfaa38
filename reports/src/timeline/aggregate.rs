//! The fleet view of a timeline: counts over time (Machines per phase, Nodes not Ready, clusters
//! without etcd quorum) and their picture, a stacked area per phase and a step area per count, on
//! the same time axis as the rows. Counting is a pure sweep over span starts and ends.

use super::{num, phase_colour, phase_index, xml, PHASE_COLOURS};
use capi_scenarios::report::{Span, Timeline};
use capi_scenarios::DurationMs;
use std::fmt::Write as _;

/// Counts over time: `(t, counts)` points, each holding from `t` to the next point.
pub type Counts = Vec<(u64, Vec<u32>)>;

/// Height of the stacked area of Machines per phase.
pub const AREA_H: f64 = 120.0;
/// Height of each count strip (Nodes not Ready, clusters without quorum).
pub const STRIP_H: f64 = 32.0;
/// Space for a panel's caption.
pub const CAPTION_H: f64 = 18.0;

/// Counts over time: each point `(t, counts)` holds from `t` to the next point (the last to the
/// end). `slot` puts a span's phase into one of `slots` counters (`None`: not counted). A span with
/// no end lasts to the end; a span that ends where it starts counts for nothing. The first point is
/// at 0.
pub fn counts_over_time<'a>(spans: impl IntoIterator<Item = &'a Span>, slots: usize, slot: impl Fn(&str) -> Option<usize>) -> Counts {
    let mut edges: Vec<(u64, usize, i64)> = Vec::new();
    for s in spans {
        let Some(i) = slot(&s.phase).filter(|i| *i < slots) else { continue };
        edges.push((s.start_ms, i, 1));
        if let Some(e) = s.end_ms {
            edges.push((e.max(s.start_ms), i, -1));
        }
    }
    edges.sort_unstable();
    let mut out: Counts = vec![(0, vec![0; slots])];
    let mut now = vec![0i64; slots];
    let mut k = 0;
    while k < edges.len() {
        let t = edges[k].0;
        while k < edges.len() && edges[k].0 == t {
            now[edges[k].1] += edges[k].2;
            k += 1;
        }
        let counts: Vec<u32> = now.iter().map(|c| u32::try_from((*c).max(0)).unwrap_or(u32::MAX)).collect();
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 = counts,
            Some(last) if last.1 == counts => {}
            _ => out.push((t, counts)),
        }
    }
    out
}

/// Machines per phase over time, one counter per entry of [`PHASE_COLOURS`].
pub fn machines_per_phase(t: &Timeline) -> Counts {
    counts_over_time(t.rows.iter().flat_map(|r| &r.spans), PHASE_COLOURS.len(), |p| Some(phase_index(p)))
}

/// Nodes whose `Ready` is not `True`, over time.
pub fn nodes_not_ready(t: &Timeline) -> Counts {
    counts_over_time(t.nodes.iter().flat_map(|n| &n.ready), 1, |p| (p != "True").then_some(0))
}

/// Clusters without etcd quorum, over time.
pub fn clusters_without_quorum(t: &Timeline) -> Counts {
    counts_over_time(t.etcd.iter().flat_map(|e| &e.spans), 1, |p| super::quorum_lost(p).then_some(0))
}

/// The height the fleet panels take.
pub fn height(t: &Timeline) -> f64 {
    let mut h = CAPTION_H + AREA_H + 8.0;
    if !t.nodes.is_empty() {
        h += CAPTION_H + STRIP_H + 8.0;
    }
    if !t.etcd.is_empty() {
        h += CAPTION_H + STRIP_H + 8.0;
    }
    h
}

/// Draw the fleet panels from `top`, with `x` the time scale, the plot from `x0` to `x1`, and
/// `end_ms` the end of the axis.
pub fn draw(out: &mut String, t: &Timeline, top: f64, x: &dyn Fn(u64) -> f64, label_x: f64, end_ms: u64) {
    out.push_str("<g id=\"aggregate\">\n");
    let clusters = super::cluster_count(t);
    let phases = machines_per_phase(t);
    let max = phases.iter().map(|(_, c)| c.iter().sum::<u32>()).max().unwrap_or(0);
    let _ = writeln!(
        out,
        r##"<text x="{}" y="{}" font-weight="bold" fill="#424242">{}</text>"##,
        num(label_x),
        num(top + 13.0),
        xml::text(&format!("Machines per phase, {clusters} clusters (stacked; at most {max})"))
    );
    let base = top + CAPTION_H + AREA_H;
    let scale = if max == 0 { 0.0 } else { AREA_H / f64::from(max) };
    // One stacked band per phase, bottom up in legend order.
    for (i, (name, _)) in PHASE_COLOURS.iter().enumerate() {
        let lower = |c: &[u32]| c[..i].iter().sum::<u32>();
        let upper = |c: &[u32]| c[..=i].iter().sum::<u32>();
        if phases.iter().all(|(_, c)| c[i] == 0) {
            continue;
        }
        let peak = phases.iter().map(|(_, c)| c[i]).max().unwrap_or(0);
        let d = band(&phases, x, end_ms, base, scale, upper, lower);
        let _ = writeln!(
            out,
            r#"<path d="{d}" fill="{}"><title>{}</title></path>"#,
            phase_colour(name),
            xml::text(&format!("{name}: at most {peak} Machines at once"))
        );
    }
    let _ = writeln!(out, r##"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="#757575"/>"##, num(x(0)), num(x(end_ms)), y = num(base));
    let mut y = base + 8.0;
    let strips: [(&str, Counts, &str, bool); 2] = [
        ("Nodes not Ready", nodes_not_ready(t), "#f9a825", !t.nodes.is_empty()),
        ("clusters without etcd quorum", clusters_without_quorum(t), "#d50000", !t.etcd.is_empty()),
    ];
    for (what, counts, fill, shown) in strips {
        if !shown {
            continue;
        }
        let max = counts.iter().map(|(_, c)| c[0]).max().unwrap_or(0);
        let longest = longest_nonzero(&counts, end_ms);
        let caption = match longest {
            Some((from, to)) => format!("{what}: at most {max}; {from} to {to} the longest", from = DurationMs(from), to = DurationMs(to)),
            None => format!("{what}: none"),
        };
        let _ = writeln!(out, r##"<text x="{}" y="{}" fill="#424242">{}</text>"##, num(label_x), num(y + 13.0), xml::text(&caption));
        let base = y + CAPTION_H + STRIP_H;
        let scale = if max == 0 { 0.0 } else { STRIP_H / f64::from(max) };
        if max > 0 {
            let d = band(&counts, x, end_ms, base, scale, |c| c[0], |_| 0);
            let _ = writeln!(out, r#"<path d="{d}" fill="{fill}"><title>{}</title></path>"#, xml::text(&format!("{what}: at most {max}")));
        }
        let _ = writeln!(out, r##"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="#bdbdbd"/>"##, num(x(0)), num(x(end_ms)), y = num(base));
        y = base + 8.0;
    }
    out.push_str("</g>\n");
}

/// The longest stretch during which the count was above zero.
fn longest_nonzero(counts: &[(u64, Vec<u32>)], end_ms: u64) -> Option<(u64, u64)> {
    let mut best: Option<(u64, u64)> = None;
    let mut from: Option<u64> = None;
    let ends = counts.iter().skip(1).map(|(t, _)| *t).chain(std::iter::once(end_ms));
    for ((t, c), next) in counts.iter().zip(ends) {
        if c[0] > 0 {
            from.get_or_insert(*t);
        } else {
            from = None;
        }
        if let Some(f) = from {
            if best.is_none_or(|(a, b)| next - f > b - a) {
                best = Some((f, next));
            }
        }
    }
    best
}

/// A closed path between two step functions of the counts.
fn band(
    counts: &[(u64, Vec<u32>)],
    x: &dyn Fn(u64) -> f64,
    end_ms: u64,
    base: f64,
    scale: f64,
    upper: impl Fn(&[u32]) -> u32,
    lower: impl Fn(&[u32]) -> u32,
) -> String {
    let y = |v: u32| num(base - f64::from(v) * scale);
    let ends: Vec<u64> = counts.iter().skip(1).map(|(t, _)| *t).chain(std::iter::once(end_ms)).collect();
    let mut d = String::new();
    for (k, ((t, c), next)) in counts.iter().zip(&ends).enumerate() {
        let cmd = if k == 0 { 'M' } else { 'L' };
        let _ = write!(d, "{cmd}{} {} L{} {} ", num(x(*t)), y(upper(c)), num(x(*next)), y(upper(c)));
    }
    for ((t, c), next) in counts.iter().zip(&ends).rev() {
        let _ = write!(d, "L{} {} L{} {} ", num(x(*next)), y(lower(c)), num(x(*t)), y(lower(c)));
    }
    d.push('Z');
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn s(start: u64, end: Option<u64>, phase: &str) -> Span {
        Span { start_ms: start, end_ms: end, phase: phase.into() }
    }

    #[test]
    fn counts_follow_starts_and_ends() {
        // Two Machines: one Provisioning 10-30 then Running; one Pending 20-40 then deleted.
        let spans = [s(10, Some(30), "Provisioning"), s(30, None, "Running"), s(20, Some(40), "Pending")];
        let c = counts_over_time(&spans, PHASE_COLOURS.len(), |p| Some(phase_index(p)));
        let at = |t: u64| c.iter().rev().find(|(s, _)| *s <= t).map(|(_, v)| v.clone()).unwrap();
        assert_eq!(c.first().map(|(t, _)| *t), Some(0));
        assert_eq!(at(0), [0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(at(15), [0, 1, 0, 0, 0, 0, 0]);
        assert_eq!(at(25), [1, 1, 0, 0, 0, 0, 0]);
        assert_eq!(at(30), [1, 0, 0, 1, 0, 0, 0], "a phase change at one instant moves the Machine, no double count");
        assert_eq!(at(45), [0, 0, 0, 1, 0, 0, 0]);
        let times: Vec<u64> = c.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, [0, 10, 20, 30, 40]);
    }

    #[rstest]
    #[case(vec![], vec![(0, 0)])]
    #[case(vec![s(0, Some(0), "x")], vec![(0, 0)])]
    #[case(vec![s(5, Some(10), "x"), s(10, Some(20), "x")], vec![(0, 0), (5, 1), (20, 0)])]
    #[case(vec![s(0, None, "x"), s(0, None, "x"), s(7, Some(9), "x")], vec![(0, 2), (7, 3), (9, 2)])]
    #[case(vec![s(3, Some(8), "skip"), s(4, None, "x")], vec![(0, 0), (4, 1)])]
    fn one_counter(#[case] spans: Vec<Span>, #[case] expected: Vec<(u64, u32)>) {
        let c = counts_over_time(&spans, 1, |p| (p == "x").then_some(0));
        let got: Vec<(u64, u32)> = c.into_iter().map(|(t, v)| (t, v[0])).collect();
        assert_eq!(got, expected);
    }

    #[rstest]
    #[case(vec![(0, 0)], None)]
    #[case(vec![(0, 0), (5, 1), (20, 0)], Some((5, 20)))]
    #[case(vec![(0, 1), (2, 0), (10, 2), (30, 1), (40, 0)], Some((10, 40)))]
    #[case(vec![(0, 0), (90, 1)], Some((90, 100)))]
    fn longest_stretch_above_zero(#[case] counts: Vec<(u64, u32)>, #[case] expected: Option<(u64, u64)>) {
        let c: Vec<(u64, Vec<u32>)> = counts.into_iter().map(|(t, v)| (t, vec![v])).collect();
        assert_eq!(longest_nonzero(&c, 100), expected);
    }
}
