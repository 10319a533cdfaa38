//! The bench's Markdown report (`bench.md`, also printed): a row per size, a row per phase of each
//! size (create, upgrade, delete: reconciles, simulated and wall time, µs per reconcile), the speed
//! against real time, the spread of repeated runs and the cost ratio between the smallest and the
//! largest size.

use super::phases::phases;
use serde_json::Value;

/// How a simulated-to-wall ratio compares with real time: `300× faster than real`, or, for a fleet the
/// simulator runs slower than CAPD would, `7.9× slower than real`.
pub fn versus_real(ratio: f64) -> String {
    if ratio >= 1.0 {
        format!("{ratio:.0}× faster than real")
    } else if ratio > 0.0 {
        format!("{:.1}× slower than real", 1.0 / ratio)
    } else {
        "no simulated time".to_string()
    }
}

/// `12.5 ms`, `3.2 s`, `4 min 05 s`, `2.1 h`.
pub fn human_duration(s: f64) -> String {
    let s = s.max(0.0);
    if s < 1.0 {
        format!("{:.1} ms", s * 1000.0)
    } else if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        format!("{:.0} min {:02.0} s", (s / 60.0).floor(), (s % 60.0).floor())
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

fn ratio(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.0}")
    }
}

/// The markdown report.
pub fn markdown(results: &[Value], machine: &Value) -> String {
    let mut md = String::from("# Fleet benchmark\n\n");
    md.push_str(&format!(
        "fleet-lifecycle scenario (quick-start clusters, 3 control-plane + 3 workers each: create → Available → upgrade → delete), seed {}, managers as {} ships them ({}), {} cores, {}{}.\n\n",
        results.first().and_then(|r| r["seed"].as_u64()).unwrap_or(1),
        capi_sim::controllers::flags::RELEASE,
        match results.first().and_then(|r| r["concurrency"].as_u64()) {
            Some(c) => format!("{c} workers per controller, set with --concurrency"),
            None => format!(
                "the release's --*-concurrency defaults: 50-100 workers per core, KCP and CABPK controller; --kube-api-qps {} / --kube-api-burst {}",
                capi_sim::controllers::flags::KUBE_API_QPS,
                capi_sim::controllers::flags::KUBE_API_BURST
            ),
        },
        machine["cores"],
        machine["os"].as_str().unwrap_or(""),
        match (machine["cpu"].as_str(), machine["last_level_cache"].as_str()) {
            (Some(cpu), Some(cache)) => format!(", {cpu} ({cache})"),
            (Some(cpu), None) => format!(", {cpu}"),
            _ => String::new(),
        }
    ));
    md.push_str("| clusters | passed | wall | simulated | sim s / wall s | reconciles | reconciles/s | µs/reconcile | events/s | peak RSS | bytes/cluster |\n");
    md.push_str("|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in results {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} MiB | {:.0} KiB |\n",
            r["clusters"],
            match (r["passed"].as_bool(), r["stopped"].as_bool()) {
                (Some(true), _) => "yes",
                (_, Some(true)) => "stopped",
                _ => "NO",
            },
            human_duration(r["wall_s"].as_f64().unwrap_or(0.0)),
            human_duration(r["sim_s"].as_f64().unwrap_or(0.0)),
            ratio(r["sim_s_per_wall_s"].as_f64().unwrap_or(0.0)),
            r["reconciles"],
            r["reconciles_per_s"].as_f64().unwrap_or(0.0),
            r["wall_us_per_reconcile"].as_f64().unwrap_or(0.0),
            r["events_per_s"].as_f64().unwrap_or(0.0),
            r["peak_rss_bytes"].as_f64().unwrap_or(0.0) / 1048576.0,
            r["bytes_per_cluster"].as_f64().unwrap_or(0.0) / 1024.0,
        ));
    }
    md.push_str(
        "\nPer phase (from the end of one wait to the end of the next: the steps that change the fleet and the wait for it to settle).\n\n",
    );
    md.push_str(
        "| clusters | phase | reconciles | simulated | wall | sim s / wall s | µs/reconcile |\n|---:|:---|---:|---:|---:|---:|---:|\n",
    );
    for r in results {
        for p in phases(r) {
            md.push_str(&format!(
                "| {} | {}{} | {} | {} | {} | {} | {:.0} |\n",
                r["clusters"],
                p.name,
                if p.unfinished { " (unfinished)" } else { "" },
                p.reconciles,
                human_duration(p.sim_s),
                human_duration(p.wall_s),
                ratio(p.sim_s / p.wall_s.max(1e-9)),
                p.us_per_reconcile()
            ));
        }
    }
    md.push('\n');
    for r in results {
        let sim = r["sim_s"].as_f64().unwrap_or(0.0);
        let wall = r["wall_s"].as_f64().unwrap_or(0.0).max(1e-9);
        md.push_str(&format!(
            "- {} clusters: {} of CAPD time (timing profile `{}`, the real CAPD/KinD durations) simulated in {}: **{}**.\n",
            r["clusters"],
            human_duration(sim),
            r["timing_profile"].as_str().unwrap_or("?"),
            human_duration(wall),
            versus_real(sim / wall)
        ));
        if let Some(f) = r["failure"].as_str() {
            md.push_str(&format!("  - failed: {f}\n"));
        }
        if let (Some(n), Some(walls)) = (r["repeats"].as_u64(), r["wall_s_runs"].as_array()) {
            let walls: Vec<f64> = walls.iter().filter_map(Value::as_f64).collect();
            if let (Some(lo), Some(hi)) = (walls.first(), walls.last()) {
                md.push_str(&format!(
                    "  - the median of {n} runs; their wall times ran from {} to {} ({:+.0}% / {:+.0}% of the median)\n",
                    human_duration(*lo),
                    human_duration(*hi),
                    (lo / wall - 1.0) * 100.0,
                    (hi / wall - 1.0) * 100.0
                ));
            }
        }
    }
    if let [first, .., last] = results {
        let finished = |r: &Value| r["stopped"].as_bool() != Some(true);
        let (a, b, what) = if finished(first) && finished(last) {
            (first["wall_us_per_reconcile"].as_f64().unwrap_or(0.0), last["wall_us_per_reconcile"].as_f64().unwrap_or(0.0), "")
        } else {
            // A stopped run has no whole-run figure: compare the first phase, which both reached.
            let us = |r: &Value| phases(r).first().map_or(0.0, |p| p.us_per_reconcile());
            (us(first), us(last), " in the first phase")
        };
        if a > 0.0 && b > 0.0 {
            md.push_str(&format!(
                "- Cost per reconcile from {} to {} clusters{what}: {:.2}× (the target is at most 2×).\n",
                first["clusters"],
                last["clusters"],
                b / a
            ));
        }
    }
    md
}
