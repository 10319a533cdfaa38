//! A run against a saved baseline (`cargo xtask bench --baseline FILE`), in the manner of criterion:
//! for each metric, the change of the median in percent, with the range of the change over every
//! pair of a baseline run and a run now (`--repeat N` gives several of each). The verdict is
//! "no change" when that range includes zero (the runs overlap: nothing to tell apart from the spread)
//! or does not lie wholly beyond the noise threshold (`--noise-threshold`, 5% by default: runs on a
//! shared machine differ by that much); otherwise "improved" or "regressed", by which way the metric
//! is better.
//! Counts that do not vary from run to run (reconciles, events, simulated time) are compared exactly:
//! a difference means the work itself changed. Everything here is a pure function of JSON values.

use super::phases::{self, Better, Unit};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What a comparison concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The range of the change includes zero.
    NoChange,
    /// The change is clear of zero but not wholly beyond the noise threshold.
    WithinNoise,
    /// Better by more than the noise.
    Improved,
    /// Worse by more than the noise.
    Regressed,
}

impl Verdict {
    /// As printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::NoChange => "no change",
            Verdict::WithinNoise => "no change (within noise)",
            Verdict::Improved => "improved",
            Verdict::Regressed => "regressed",
        }
    }
}

/// The change of one metric between the baseline's runs and this run's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// Median of the baseline's runs.
    pub base: f64,
    /// Median of the runs now.
    pub now: f64,
    /// Change of the median, in percent.
    pub pct: f64,
    /// Smallest change over all pairs (baseline run, run now), in percent.
    pub lo_pct: f64,
    /// Largest.
    pub hi_pct: f64,
}

/// The median: the middle value, or the mean of the two middle ones.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// The change from `base` to `now` samples; `None` without samples on either side or with a
/// non-positive baseline (no ratio to take).
pub fn change(base: &[f64], now: &[f64]) -> Option<Change> {
    let (b, n) = (median(base)?, median(now)?);
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if b <= 0.0 || min(base) <= 0.0 {
        return None;
    }
    Some(Change {
        base: b,
        now: n,
        pct: (n / b - 1.0) * 100.0,
        lo_pct: (min(now) / max(base) - 1.0) * 100.0,
        hi_pct: (max(now) / min(base) - 1.0) * 100.0,
    })
}

/// The verdict on a change, given the noise threshold in percent and which way is better: as
/// criterion's, a change only when the whole range lies beyond the threshold on one side.
pub fn verdict(c: &Change, noise_pct: f64, better: Better) -> Verdict {
    let up = if c.lo_pct <= 0.0 && c.hi_pct >= 0.0 {
        return Verdict::NoChange;
    } else if c.lo_pct > noise_pct {
        true
    } else if c.hi_pct < -noise_pct {
        false
    } else {
        return Verdict::WithinNoise;
    };
    if up == (better == Better::Lower) {
        Verdict::Regressed
    } else {
        Verdict::Improved
    }
}

/// Each metric's key and its samples, with its unit and which way is better.
pub type Samples = Vec<(String, (Vec<f64>, Unit, Better))>;

/// Every metric's samples of a result, in the order of [`phases::metrics`]: its `samples` (written
/// by `--repeat`) where it has them, else the one value of the result itself (a result of one run,
/// or a baseline from before samples were kept).
pub fn samples(r: &Value) -> Samples {
    phases::metrics(r)
        .into_iter()
        .map(|(key, v, unit, better)| {
            let kept: Vec<f64> = r["samples"][&key].as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default();
            let values = if kept.is_empty() { vec![v] } else { kept };
            (key, (values, unit, better))
        })
        .collect()
}

fn show(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Ratio => format!("{v:.0}"),
        Unit::Micros => format!("{v:.1} µs"),
        Unit::Seconds => super::report::human_duration(v),
        Unit::Bytes if v >= 1048576.0 => format!("{:.1} MiB", v / 1048576.0),
        Unit::Bytes => format!("{:.0} KiB", v / 1024.0),
    }
}

fn label(key: &str) -> String {
    let (phase, metric) = key.rsplit_once('.').unwrap_or(("", key));
    let what = match metric {
        "us_per_reconcile" => "µs/reconcile",
        "wall_s" => "wall time",
        "peak_rss_bytes" => "peak RSS",
        "bytes_per_cluster" => "bytes/cluster",
        "sim_s_per_wall_s" => "sim s / wall s",
        other => other,
    };
    if phase.is_empty() {
        what.to_string()
    } else {
        format!("{phase}: {what}")
    }
}

/// The outcome of comparing a bench with a baseline.
pub struct Comparison {
    /// The Markdown section.
    pub markdown: String,
    /// Some metric regressed.
    pub regressed: bool,
}

/// Compare `results` with the baseline's (the `bench.json` at `name`), size by size.
pub fn compare(baseline: &Value, name: &str, results: &[Value], machine: &Value, noise_pct: f64) -> Comparison {
    let mut md = String::new();
    let mut regressed = false;
    let _ = writeln!(md, "## Against the baseline `{name}`\n");
    let _ = writeln!(
        md,
        "The change of each metric's median, with its range over every pair of a baseline run and a run now. \
         Verdicts as criterion gives them: improved or regressed only when that whole range lies beyond \
         the ±{noise_pct}% noise threshold (`--noise-threshold`); `--repeat N` on both sides gives the spread.\n"
    );
    let cpu = |m: &Value| m["cpu"].as_str().map(str::to_string);
    if cpu(&baseline["machine"]) != cpu(machine) {
        let _ = writeln!(
            md,
            "- **Different machines**: the baseline ran on {}, this on {}; their costs differ by up to a third.\n",
            cpu(&baseline["machine"]).unwrap_or_else(|| "an unnamed CPU".into()),
            cpu(machine).unwrap_or_else(|| "an unnamed CPU".into())
        );
    }
    let empty = Vec::new();
    let base_results = baseline["results"].as_array().unwrap_or(&empty);
    let _ = writeln!(md, "| clusters | metric | baseline | now | change | range | verdict |\n|---:|:---|---:|---:|---:|---:|:---|");
    let mut notes = Vec::new();
    for r in results {
        let n = &r["clusters"];
        let Some(b) = base_results.iter().find(|b| b["clusters"] == *n) else {
            notes.push(format!("- {n} clusters: not in the baseline."));
            continue;
        };
        for f in [b, r] {
            if f["stopped"].as_bool() == Some(true) || f["passed"].as_bool() == Some(false) {
                notes.push(format!("- {n} clusters: a run that did not finish is compared over what it measured (finished phases)."));
                break;
            }
        }
        let base_counts: BTreeMap<String, f64> = phases::counts(b).into_iter().collect();
        for (key, v) in phases::counts(r) {
            if let Some(bv) = base_counts.get(&key).filter(|bv| **bv != v) {
                notes.push(format!("- {n} clusters: {key} changed from {bv} to {v}: the work itself differs, not only its cost."));
            }
        }
        let base_samples = samples(b);
        for (key, (now, unit, better)) in samples(r) {
            let Some((_, (base, _, _))) = base_samples.iter().find(|(k, _)| *k == key) else { continue };
            let Some(c) = change(base, &now) else { continue };
            let v = verdict(&c, noise_pct, better);
            regressed |= v == Verdict::Regressed;
            let verdict = match v {
                Verdict::Improved | Verdict::Regressed => format!("**{}**", v.as_str()),
                _ => v.as_str().to_string(),
            };
            let _ = writeln!(
                md,
                "| {n} | {} | {} | {} | {:+.1}% | {:+.1}% … {:+.1}% | {verdict} |",
                label(&key),
                show(c.base, unit),
                show(c.now, unit),
                c.pct,
                c.lo_pct,
                c.hi_pct
            );
        }
    }
    if !notes.is_empty() {
        md.push('\n');
        for n in notes {
            let _ = writeln!(md, "{n}");
        }
    }
    Comparison { markdown: md, regressed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case(&[], None)]
    #[case(&[3.0], Some(3.0))]
    #[case(&[3.0, 1.0, 2.0], Some(2.0))]
    #[case(&[4.0, 1.0, 2.0, 3.0], Some(2.5))]
    fn medians(#[case] v: &[f64], #[case] m: Option<f64>) {
        assert_eq!(median(v), m);
    }

    #[rstest]
    // One run each: the range is the point; only the threshold separates noise from change.
    #[case(&[100.0], &[100.0], Verdict::NoChange)]
    #[case(&[100.0], &[103.0], Verdict::WithinNoise)]
    #[case(&[100.0], &[97.0], Verdict::WithinNoise)]
    #[case(&[100.0], &[110.0], Verdict::Regressed)]
    #[case(&[100.0], &[90.0], Verdict::Improved)]
    // Overlapping runs: +10% on the medians, but the range includes zero.
    #[case(&[95.0, 100.0, 105.0], &[100.0, 110.0, 120.0], Verdict::NoChange)]
    // Separated runs, all within the threshold.
    #[case(&[99.0, 100.0, 101.0], &[101.5, 102.0, 103.0], Verdict::WithinNoise)]
    // Separated runs, beyond the threshold at one end only: criterion does not call that a change.
    #[case(&[99.0, 100.0, 101.0], &[104.0, 108.0, 112.0], Verdict::WithinNoise)]
    // Separated runs, wholly beyond the threshold.
    #[case(&[99.0, 100.0, 101.0], &[107.0, 110.0, 113.0], Verdict::Regressed)]
    #[case(&[99.0, 100.0, 101.0], &[80.0, 85.0, 90.0], Verdict::Improved)]
    fn verdicts_on_costs(#[case] base: &[f64], #[case] now: &[f64], #[case] expected: Verdict) {
        let c = change(base, now).expect("comparable");
        assert_eq!(verdict(&c, 5.0, Better::Lower), expected, "{c:?}");
    }

    #[rstest]
    #[case(&[100.0], &[110.0], Verdict::Improved)]
    #[case(&[100.0], &[90.0], Verdict::Regressed)]
    #[case(&[100.0], &[101.0], Verdict::WithinNoise)]
    fn verdicts_on_rates(#[case] base: &[f64], #[case] now: &[f64], #[case] expected: Verdict) {
        assert_eq!(verdict(&change(base, now).unwrap(), 5.0, Better::Higher), expected);
    }

    #[rstest]
    #[case(&[], &[1.0])]
    #[case(&[1.0], &[])]
    #[case(&[0.0], &[1.0])]
    fn no_comparison_without_a_positive_baseline(#[case] base: &[f64], #[case] now: &[f64]) {
        assert_eq!(change(base, now), None);
    }

    #[test]
    fn the_range_spans_every_pair_of_runs() {
        let c = change(&[90.0, 100.0], &[99.0, 121.0]).unwrap();
        assert_eq!(c.base, 95.0);
        assert_eq!(c.now, 110.0);
        assert!((c.lo_pct - -1.0).abs() < 1e-9, "{c:?}");
        assert!((c.hi_pct - 34.444).abs() < 1e-3, "{c:?}");
    }

    fn result(n: u64, us: f64, reconciles: u64, samples: Option<Vec<f64>>) -> Value {
        let mut r = json!({"clusters": n, "passed": true, "wall_us_per_reconcile": us, "wall_s": us * reconciles as f64 / 1e6,
                           "peak_rss_bytes": 50.0 * 1048576.0, "bytes_per_cluster": 400.0 * 1024.0, "reconciles": reconciles, "events": 10, "sim_s": 60.0,
                           "steps": [{"kind": "apply", "reconciles_end": 0, "wall_end_s": 0.0, "sim_end_s": 0.0},
                                     {"kind": "wait", "reconciles_end": reconciles, "wall_end_s": us * reconciles as f64 / 1e6, "sim_end_s": 60.0}]});
        if let Some(s) = samples {
            r["samples"] = json!({ "us_per_reconcile": s });
        }
        r
    }

    #[test]
    fn a_comparison_names_each_metric_and_flags_regressions_and_changed_work() {
        let machine = json!({"cpu": "AMD EPYC"});
        let baseline =
            json!({"machine": machine, "results": [result(10, 40.0, 1000, Some(vec![39.0, 40.0, 41.0])), result(100, 50.0, 9000, None)]});
        let now = [result(10, 48.0, 1000, Some(vec![47.0, 48.0, 49.0])), result(100, 50.5, 9100, None), result(300, 60.0, 1, None)];
        let c = compare(&baseline, "base.json", &now, &machine, 5.0);
        assert!(c.regressed);
        let md = &c.markdown;
        assert!(md.contains("| 10 | µs/reconcile | 40.0 µs | 48.0 µs | +20.0% | +14.6% … +25.6% | **regressed** |"), "{md}");
        assert!(md.contains("| 10 | create: µs/reconcile |"), "{md}");
        assert!(md.contains("| 100 | µs/reconcile | 50.0 µs | 50.5 µs | +1.0% | +1.0% … +1.0% | no change (within noise) |"), "{md}");
        assert!(md.contains("100 clusters: reconciles changed from 9000 to 9100"), "{md}");
        assert!(md.contains("300 clusters: not in the baseline."), "{md}");
        assert!(!md.contains("Different machines"), "{md}");
        let other = compare(&baseline, "b", &now[1..2], &json!({"cpu": "Intel"}), 5.0);
        assert!(!other.regressed);
        assert!(other.markdown.contains("**Different machines**: the baseline ran on AMD EPYC, this on Intel"), "{}", other.markdown);
    }
}
