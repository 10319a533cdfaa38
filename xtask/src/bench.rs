//! `cargo xtask bench`: the fleet benchmark. For each size, this binary starts itself again as
//! `xtask bench --run-one` ([`runner`]: the fleet-lifecycle scenario, N quick-start clusters created,
//! upgraded and deleted), so each size runs in its own process and its peak RSS is its own, and no
//! cargo is run at bench time. The results are written as JSON and a Markdown table (`bench.json`,
//! `bench.md`; under `target/bench/` unless `--out` says otherwise) and printed, with each phase
//! ([`phases`]) and, with `--baseline`, the change against an earlier `bench.json` ([`compare`]). A
//! size that fails or is interrupted still leaves the sizes measured before it in the reports.

mod compare;
mod phases;
mod report;
mod runner;

use anyhow::{bail, Context, Result};
use capi_reports::write::write_atomic;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// `bench` flags.
#[derive(Args)]
pub struct BenchArgs {
    /// Fleet sizes, comma-separated.
    #[arg(long, default_value = "100", value_delimiter = ',')]
    pub clusters: Vec<u64>,
    /// Seed of every run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Workers of every controller, as CAPI's and CAPD's `--*-concurrency` flags set them. Without it,
    /// each controller runs its default in the modelled release (CAPI v1.13.5: 50-100 for the
    /// core, KCP and CABPK controllers, see `capi_sim::controllers::flags`).
    #[arg(long)]
    pub concurrency: Option<u32>,
    /// Where to write bench.json and bench.md [default: target/bench, or $CARGO_TARGET_DIR/bench].
    /// The committed figures change only when asked: `--out reports/bench`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Another fleet scenario (it must honour FLEET_SIZE).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Stop a size after this much wall time (`90m`, `2h`) and report what it measured until then,
    /// marked as stopped. Without it a size runs to its end.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub time_limit: Option<Duration>,
    /// Run each size this many times and report the run of median wall time, with the spread of all
    /// (shared and virtual machines vary by 10% from run to run; counts do not vary). Every run's
    /// metrics are kept in bench.json, so a later `--baseline` comparison sees the spread.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Compare with an earlier bench.json: the change of each metric in percent, with its range over
    /// the runs on both sides, and a verdict (no change / improved / regressed) as criterion gives it.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// With --baseline: changes within this many percent are noise.
    #[arg(long, default_value_t = 5.0)]
    pub noise_threshold: f64,
    /// With --baseline: exit 1 when a metric regressed.
    #[arg(long)]
    pub fail_on_regression: bool,
    /// Run one size in this process and print its JSON line (what `bench` starts for each size).
    #[arg(long, hide = true)]
    pub run_one: bool,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where reports go without `--out`: `bench/` in the target directory (outside the source tree).
fn default_out() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) if !t.is_empty() => PathBuf::from(t).join("bench"),
        _ => workspace_root().join("target").join("bench"),
    }
}

/// The runner's counts at its last `tick` line.
#[derive(Clone, Copy, Default)]
struct Tick {
    sim_ms: u64,
    reconciles: u64,
    events: u64,
    wall_s: f64,
    peak_rss: u64,
}

/// What the runner said on stderr before it ended: enough to report a run that never printed its result.
#[derive(Default)]
struct Progress {
    timing_profile: Option<String>,
    baseline_rss: u64,
    last: Option<Tick>,
    steps: Vec<Value>,
    other: Vec<String>,
}

impl Progress {
    /// Take one stderr line; returns a message for the progress bar when there is one.
    fn take(&mut self, clusters: u64, line: String) -> Option<String> {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let num = |s: &str| s.parse::<u64>().unwrap_or(0);
        match parts.as_slice() {
            ["start", profile, baseline] => {
                self.timing_profile = Some((*profile).to_string());
                self.baseline_rss = num(baseline);
                None
            }
            ["tick", sim_ms, reconciles, events, wall, peak] => {
                let t = Tick {
                    sim_ms: num(sim_ms),
                    reconciles: num(reconciles),
                    events: num(events),
                    wall_s: wall.parse().unwrap_or(0.0),
                    peak_rss: num(peak),
                };
                self.last = Some(t);
                let sim_s = t.sim_ms / 1000;
                Some(format!(
                    "{clusters} clusters: step {}, simulated {}m{:02}s, {} reconciles",
                    self.steps.len() + 1,
                    sim_s / 60,
                    sim_s % 60,
                    t.reconciles
                ))
            }
            ["progress", step, steps, sim_ms, wall, line, kind @ ..] => {
                let t = self.last.unwrap_or_default();
                self.steps.push(
                    json!({"step": num(step).saturating_sub(1), "kind": kind.first().copied().unwrap_or("wait"), "line": num(line),
                                       "sim_end_s": num(sim_ms) as f64 / 1000.0, "wall_end_s": wall.parse::<f64>().unwrap_or(0.0),
                                       "reconciles_end": t.reconciles, "events_end": t.events}),
                );
                let sim_s = num(sim_ms) / 1000;
                Some(format!("{clusters} clusters: step {step}/{steps}, simulated {}m{:02}s", sim_s / 60, sim_s % 60))
            }
            _ => {
                self.other.push(line);
                None
            }
        }
    }

    /// The result of a run that ended without printing one: its counts as of the last tick.
    fn partial(&self, args: &BenchArgs, clusters: u64, why: String) -> Option<Value> {
        let t = self.last?;
        let wall = t.wall_s.max(1e-9);
        Some(json!({
            "scenario": "fleet-lifecycle",
            "clusters": clusters,
            "seed": args.seed,
            "concurrency": args.concurrency,
            "release": capi_sim::controllers::flags::RELEASE,
            "timing_profile": self.timing_profile.clone().unwrap_or_else(|| "?".into()),
            "passed": false,
            "stopped": true,
            "failure": why,
            "wall_s": t.wall_s,
            "sim_s": t.sim_ms as f64 / 1000.0,
            "reconciles": t.reconciles,
            "events": t.events,
            "reconciles_per_s": t.reconciles as f64 / wall,
            "events_per_s": t.events as f64 / wall,
            "sim_s_per_wall_s": t.sim_ms as f64 / 1000.0 / wall,
            "wall_us_per_reconcile": wall * 1e6 / t.reconciles.max(1) as f64,
            "peak_rss_bytes": t.peak_rss,
            "baseline_rss_bytes": self.baseline_rss,
            "bytes_per_cluster": t.peak_rss.saturating_sub(self.baseline_rss) / clusters.max(1),
            "steps": self.steps,
        }))
    }
}

/// mimalloc's option: heap collects every N calls of its allocation slow path (10,000 by default).
const MIMALLOC_GENERIC_COLLECT: &str = "MIMALLOC_GENERIC_COLLECT";
/// The fleet size from which the bench makes mimalloc's heap collects rare.
const RARE_COLLECTS_FROM: u64 = 3_000;

/// Run one size, following its progress lines; stop it at the time limit.
fn run_size(runner: &Path, args: &BenchArgs, clusters: u64, bar: &ProgressBar) -> Result<Value> {
    let mut cmd = Command::new(runner);
    cmd.args(["bench", "--run-one", "--quiet", "--clusters", &clusters.to_string(), "--seed", &args.seed.to_string()]);
    if let Some(c) = args.concurrency {
        cmd.args(["--concurrency", &c.to_string()]);
    }
    if let Some(s) = &args.scenario {
        cmd.arg("--scenario").arg(s);
    }
    // mimalloc "collects" its heap every 10,000 calls of its allocation slow path, and a collect visits
    // every page of the heap: O(heap) work every few milliseconds. In the 10,000-cluster run (a 9 GiB
    // heap) perf found 16% of the time in `mi_theap_page_collect`; at 1,000 clusters, under 1%. The
    // option's maximum makes collects 100 times rarer, which costs small fleets a little (300 clusters:
    // 76 → 79 µs per reconcile, freed pages are reused later), so only large fleets get it. mimalloc
    // reads it from the environment when the process loads, so it is set here rather than by the runner.
    if clusters >= RARE_COLLECTS_FROM && std::env::var_os(MIMALLOC_GENERIC_COLLECT).is_none() {
        cmd.env(MIMALLOC_GENERIC_COLLECT, "1000000");
    }
    let started = Instant::now();
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().context("cannot start the benchmark runner")?;
    let stderr = child.stderr.take().context("stderr")?;
    let stdout = child.stdout.take().context("stdout")?;
    // Both pipes are read on their own threads so that the time limit is checked while the runner is quiet.
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || BufReader::new(stderr).lines().map_while(Result::ok).try_for_each(|l| tx.send(l)));
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stdout), &mut text);
        text
    });
    let mut progress = Progress::default();
    let mut stopped = None;
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(line) => {
                if let Some(msg) = progress.take(clusters, line) {
                    bar.set_message(msg);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Some(limit) = args.time_limit.filter(|l| stopped.is_none() && started.elapsed() >= *l) {
            stopped = Some(format!("stopped at the time limit ({}) before the scenario ended", humantime::format_duration(limit)));
            let _ = child.kill();
        }
    }
    let status = child.wait().context("benchmark runner")?;
    let text = out_reader.join().unwrap_or_default();
    let mut v = match text.lines().rev().find_map(|l| serde_json::from_str::<Value>(l).ok()) {
        Some(v) => v,
        None => {
            let why =
                stopped.unwrap_or_else(|| format!("the runner ended ({status}) before the scenario did: {}", progress.other.join("; ")));
            match progress.partial(args, clusters, why.clone()) {
                Some(v) => v,
                None => bail!("the {clusters}-cluster run printed no result: {why}"),
            }
        }
    };
    v["phases"] = phases::phases(&v).iter().map(phases::Phase::to_json).collect();
    Ok(v)
}

/// Of several runs of one size, the one to report: the run of median wall time (the lower of the two
/// middle ones for an even count), carrying every run's wall time and peak RSS (`wall_s_runs`,
/// `peak_rss_runs`, ascending) so the report can show the spread, and every run's value of each
/// compared metric (`samples`, in run order) for a later `--baseline`. A run that failed or was
/// stopped is reported instead, since a median would hide it.
fn median_run(mut runs: Vec<Value>) -> Option<Value> {
    let mut samples: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in &runs {
        for (key, v, _, _) in phases::metrics(r) {
            samples.entry(key).or_default().push(v);
        }
    }
    if let Some(i) = runs.iter().position(|r| r["passed"].as_bool() != Some(true)) {
        let mut failed = runs.swap_remove(i);
        failed["samples"] = json!(phases::metrics(&failed).into_iter().map(|(k, v, _, _)| (k, vec![v])).collect::<BTreeMap<_, _>>());
        return Some(failed);
    }
    let n = runs.len();
    let num = |r: &Value, k: &str| r[k].as_f64().unwrap_or(0.0);
    let mut walls: Vec<f64> = runs.iter().map(|r| num(r, "wall_s")).collect();
    let mut rss: Vec<f64> = runs.iter().map(|r| num(r, "peak_rss_bytes")).collect();
    walls.sort_by(f64::total_cmp);
    rss.sort_by(f64::total_cmp);
    runs.sort_by(|a, b| num(a, "wall_s").total_cmp(&num(b, "wall_s")));
    let mut chosen = runs.into_iter().nth(n.checked_sub(1)? / 2)?;
    chosen["samples"] = json!(samples);
    if n > 1 {
        chosen["repeats"] = json!(n);
        chosen["wall_s_runs"] = json!(walls);
        chosen["peak_rss_runs"] = json!(rss);
    }
    Some(chosen)
}

/// Write `bench.json` and `bench.md` (with the comparison, when there is one) into `out`.
fn write_reports(out: &Path, results: &[Value], machine: &Value, comparison: Option<&compare::Comparison>) -> Result<String> {
    let mut json = json!({ "machine": machine, "results": results });
    let mut md = report::markdown(results, machine);
    if let Some(c) = comparison {
        json["regressed"] = json!(c.regressed);
        md.push('\n');
        md.push_str(&c.markdown);
    }
    write_atomic(&out.join("bench.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
    write_atomic(&out.join("bench.md"), md.as_bytes())?;
    Ok(md)
}

/// A baseline `bench.json`, read before any size runs so that a wrong path fails at once.
fn read_baseline(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the baseline {}", path.display()))?;
    let v: Value = serde_json::from_str(&text).with_context(|| format!("{}: not a bench.json", path.display()))?;
    if !v["results"].is_array() {
        bail!("{}: not a bench.json (no \"results\" list)", path.display());
    }
    Ok(v)
}

/// What the numbers were measured on: cores, OS, and (Linux) the CPU model and its last-level cache,
/// since two machines of the same core count have differed here by a third in cost per reconcile.
fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split_once(':')).map(|(_, m)| m.trim().to_string()));
    let cache = (0..8)
        .filter_map(|i| {
            let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{i}");
            let level = std::fs::read_to_string(format!("{dir}/level")).ok()?;
            let size = std::fs::read_to_string(format!("{dir}/size")).ok()?;
            Some((level.trim().parse::<u32>().ok()?, size.trim().to_string()))
        })
        .max_by_key(|(level, _)| *level)
        .map(|(level, size)| format!("L{level} {size}"));
    json!({
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "os": format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        "cpu": cpu,
        "last_level_cache": cache,
    })
}

/// `cargo xtask bench`.
pub fn run(args: BenchArgs) -> Result<ExitCode> {
    if args.run_one {
        return runner::run(&args);
    }
    if args.clusters.is_empty() || args.clusters.contains(&0) {
        bail!("--clusters needs sizes of at least 1, e.g. --clusters 100,1000");
    }
    let scenario = args.scenario.clone().unwrap_or_else(runner::default_scenario);
    if !scenario.is_file() {
        bail!("the fleet scenario {} is not there (this binary was built from another tree?); pass --scenario FILE", scenario.display());
    }
    let baseline = args.baseline.as_deref().map(|p| read_baseline(p).map(|v| (p, v))).transpose()?;
    let out = args.out.clone().unwrap_or_else(default_out);
    // This very binary runs each size (`bench --run-one`): no cargo, no second build.
    let runner = std::env::current_exe().context("cannot find this executable to run the sizes")?;
    let machine = machine();
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(args.clusters.len() as u64) };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos}/{len} sizes  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut results = Vec::new();
    let mut all_passed = true;
    let mut md = String::new();
    let mut regressed = false;
    for &n in &args.clusters {
        let mut runs = Vec::new();
        for i in 1..=args.repeat {
            bar.set_message(if args.repeat > 1 {
                format!("{n} clusters, run {i}/{}: starting", args.repeat)
            } else {
                format!("{n} clusters: starting")
            });
            match run_size(&runner, &args, n, &bar) {
                Ok(v) => {
                    let passed = v["passed"].as_bool() == Some(true);
                    runs.push(v);
                    if !passed {
                        break;
                    }
                }
                Err(e) => {
                    bar.suspend(|| eprintln!("error: {e:#}"));
                    all_passed = false;
                    break;
                }
            }
        }
        if let Some(v) = median_run(runs) {
            all_passed &= v["passed"].as_bool() == Some(true);
            results.push(v);
        }
        let comparison =
            baseline.as_ref().map(|(p, b)| compare::compare(b, &p.display().to_string(), &results, &machine, args.noise_threshold));
        regressed = comparison.as_ref().is_some_and(|c| c.regressed);
        md = write_reports(&out, &results, &machine, comparison.as_ref())?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    outln!("{md}");
    outln!("written: {}, {}", out.join("bench.json").display(), out.join("bench.md").display());
    Ok(if !all_passed || (regressed && args.fail_on_regression) { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

#[cfg(test)]
mod tests {
    use super::report::{markdown, versus_real};
    use super::*;

    #[test]
    fn the_markdown_table_has_a_row_per_size_and_the_speedup_line() {
        let r = |n: u64, us: f64| {
            json!({"clusters": n, "seed": 1, "passed": true, "wall_s": 2.0, "sim_s": 600.0, "sim_s_per_wall_s": 300.0, "reconciles": 1000,
                   "reconciles_per_s": 500.0, "wall_us_per_reconcile": us, "events_per_s": 2000.0, "peak_rss_bytes": 10485760,
                   "bytes_per_cluster": 204800, "timing_profile": "large-docker-host", "failure": null})
        };
        let machine = json!({"cores": 2, "os": "linux x86_64", "cpu": "AMD EPYC", "last_level_cache": "L3 32768K"});
        let md = markdown(&[r(100, 100.0), r(1000, 150.0)], &machine);
        assert!(md.contains("2 cores, linux x86_64, AMD EPYC (L3 32768K)."), "{md}");
        assert!(md.contains("| 100 | yes | 2.0 s | 10 min 00 s | 300 | 1000 | 500 | 100 | 2000 | 10 MiB | 200 KiB |"), "{md}");
        assert!(md.contains("**300× faster than real**"), "{md}");
        assert_eq!(versus_real(0.126), "7.9× slower than real");
        assert!(md.contains("from 100 to 1000 clusters: 1.50×"), "{md}");
    }

    fn args() -> BenchArgs {
        BenchArgs {
            clusters: vec![5],
            seed: 1,
            concurrency: None,
            out: None,
            scenario: None,
            quiet: true,
            time_limit: None,
            repeat: 1,
            baseline: None,
            noise_threshold: 5.0,
            fail_on_regression: false,
            run_one: false,
        }
    }

    fn run(wall: f64, rss: u64, passed: bool) -> Value {
        json!({"clusters": 100, "seed": 1, "passed": passed, "wall_s": wall, "sim_s": 600.0, "sim_s_per_wall_s": 600.0 / wall,
               "reconciles": 1000, "reconciles_per_s": 1000.0 / wall, "wall_us_per_reconcile": wall * 1000.0, "events_per_s": 1.0,
               "peak_rss_bytes": rss, "bytes_per_cluster": 1, "timing_profile": "p", "failure": null})
    }

    #[test]
    fn repeated_runs_report_the_median_run_and_the_spread() {
        let v = median_run(vec![run(3.0, 30, true), run(1.0, 10, true), run(2.0, 50, true)]).unwrap();
        assert_eq!(v["wall_s"], 2.0);
        assert_eq!(v["peak_rss_bytes"], 50, "the median run's own RSS");
        assert_eq!(v["repeats"], 3);
        assert_eq!(v["wall_s_runs"], json!([1.0, 2.0, 3.0]));
        assert_eq!(v["peak_rss_runs"], json!([10.0, 30.0, 50.0]));
        assert_eq!(v["samples"]["us_per_reconcile"], json!([3000.0, 1000.0, 2000.0]), "every run's value, in run order");
        let md = markdown(&[v], &json!({"cores": 2, "os": "linux"}));
        assert!(md.contains("the median of 3 runs; their wall times ran from 1.0 s to 3.0 s (-50% / +50% of the median)"), "{md}");
        // An even count takes the lower middle; one run is reported as it is.
        assert_eq!(median_run(vec![run(4.0, 1, true), run(1.0, 1, true)]).unwrap()["wall_s"], 1.0);
        let one = median_run(vec![run(5.0, 1, true)]).unwrap();
        assert_eq!(one["wall_s"], 5.0);
        assert!(one.get("repeats").is_none());
        assert!(median_run(Vec::new()).is_none());
    }

    #[test]
    fn a_failed_run_among_repeats_is_reported_not_hidden_by_the_median() {
        let v = median_run(vec![run(1.0, 1, true), run(9.0, 1, false), run(2.0, 1, true)]).unwrap();
        assert_eq!(v["passed"], false);
        assert_eq!(v["wall_s"], 9.0);
    }

    #[test]
    fn a_run_that_ends_without_a_result_is_reported_from_its_last_tick() {
        let mut p = Progress::default();
        let lines = [
            "start large-docker-host 1000",
            "progress 1 4 0 0.000 16 apply",
            "tick 10000 500 2000 1.000 5000",
            "tick 20000 1500 6000 3.000 9000",
            "progress 2 4 20000 3.000 44 wait",
            "progress 3 4 20000 3.000 60 apply",
            "tick 30000 2500 9000 5.000 11000",
            "some other line",
        ];
        for l in lines {
            p.take(5, l.to_string());
        }
        assert_eq!(p.other, ["some other line"]);
        let v = p.partial(&args(), 5, "killed".into()).expect("a tick was seen");
        assert_eq!(v["stopped"], true);
        assert_eq!(v["passed"], false);
        assert_eq!(v["reconciles"], 2500);
        assert_eq!(v["timing_profile"], "large-docker-host");
        assert_eq!(v["bytes_per_cluster"], 2000);
        assert_eq!(v["wall_us_per_reconcile"], 2000.0);
        // The finished create (1,500 reconciles in 3 s) and the unfinished upgrade after it (1,000 in 2 s).
        let ph: Vec<(String, u64, f64, bool)> =
            phases::phases(&v).into_iter().map(|p| (p.name, p.reconciles, p.wall_s, p.unfinished)).collect();
        assert_eq!(ph, vec![("create".to_string(), 1500, 3.0, false), ("upgrade".to_string(), 1000, 2.0, true)]);
        let md = markdown(&[v], &json!({"cores": 2, "os": "linux"}));
        assert!(md.contains("| 5 | stopped |"), "{md}");
        assert!(md.contains("| 5 | upgrade (unfinished) | 1000 | 10.0 s | 2.0 s | 5.00 | 2000 |"), "{md}");
        assert!(md.contains("failed: killed"), "{md}");
    }

    #[test]
    fn without_a_tick_there_is_nothing_to_report() {
        let mut p = Progress::default();
        p.take(5, "start capd-default 1".into());
        assert!(p.partial(&args(), 5, "killed".into()).is_none());
    }
}
