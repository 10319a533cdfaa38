//! The upgrade plan: the versions the control plane steps through on its way to the topology version
//! (one minor at a time, or through the ClusterClass's `kubernetesVersions`), and the workers' plan.
//! Source: `exp/topology/desiredstate/upgrade_plan.go` (`ComputeUpgradePlan`,
//! `GetUpgradePlanOneMinor`, `GetUpgradePlanFromClusterClassVersions`).

use std::cmp::Ordering;

use super::tracker::Tracker;
use super::version::{compare, parse, v_string};

/// The default plan: at most one minor at a time (`GetUpgradePlanOneMinor`).
pub fn plan_one_minor(desired: &str, cp: &str) -> Result<Vec<String>, String> {
    let d = parse(desired).ok_or_else(|| format!("failed to parse desired version {desired}"))?;
    let c = parse(cp).ok_or_else(|| format!("failed to parse current ControlPlane version {cp}"))?;
    if d == c {
        return Ok(Vec::new());
    }
    if d.minor > c.minor.saturating_add(1) {
        return Err(format!("cannot compute an upgrade plan from {cp} to {desired}"));
    }
    Ok(vec![desired.to_string()])
}

/// The plan through a ClusterClass's `kubernetesVersions`: the latest patch of every minor up to the
/// desired version (`GetUpgradePlanFromClusterClassVersions`).
pub fn plan_from_versions(versions: &[String], desired: &str, cp: &str) -> Result<Vec<String>, String> {
    let d = parse(desired).ok_or_else(|| format!("failed to parse desired version {desired}"))?;
    let c = parse(cp).ok_or_else(|| format!("failed to parse current ControlPlane version {cp}"))?;
    if d == c {
        return Ok(Vec::new());
    }
    let mut plan: Vec<(String, semver::Version)> = Vec::new();
    for v in versions {
        let sv = parse(v).ok_or_else(|| format!("failed to parse version {v}"))?;
        if sv.cmp_precedence(&c) != Ordering::Greater {
            continue;
        }
        if compare(&sv, &d) == 1 {
            break;
        }
        let done = sv.to_string() == d.to_string();
        plan.push((v.clone(), sv));
        if done {
            break;
        }
    }
    if plan.is_empty() {
        return Ok(Vec::new());
    }
    let mut simplified: Vec<String> = Vec::new();
    let mut current_minor = c.minor;
    if current_minor == d.minor {
        simplified.push(plan[0].0.clone());
    }
    for (v, sv) in &plan {
        if sv.minor > current_minor {
            simplified.push(v.clone());
        }
        if sv.minor == current_minor && !simplified.is_empty() {
            let last = simplified.len() - 1;
            simplified[last] = v.clone();
        }
        current_minor = sv.minor;
    }
    Ok(simplified)
}

fn lower_than_min(v: &semver::Version, min: &semver::Version, cp: &semver::Version) -> bool {
    match compare(v, min) {
        -1 => true,
        2 => v.to_string() != cp.to_string(),
        _ => false,
    }
}

/// `ComputeUpgradePlan`: fill the tracker's plans from the topology version, the control plane's spec
/// version and the workers' versions. `class_versions` is the ClusterClass's `kubernetesVersions`.
pub fn compute_plan(
    t: &mut Tracker,
    desired: &str,
    cp_version: Option<&str>,
    md_versions: &[String],
    mp_versions: &[String],
    class_versions: &[String],
) -> Result<(), String> {
    let Some(cp_version) = cp_version else {
        t.plan_computed = true;
        return Ok(());
    };
    let d = parse(desired).ok_or_else(|| format!("failed to parse Cluster version {desired}"))?;
    let c = parse(cp_version).ok_or_else(|| format!("failed to parse ControlPlane version {cp_version}"))?;
    let mut min: Option<semver::Version> = None;
    for v in md_versions.iter().chain(mp_versions).filter(|v| !v.is_empty()) {
        let sv = parse(v).ok_or_else(|| format!("failed to parse version {v}"))?;
        if min.as_ref().is_none_or(|m| lower_than_min(&sv, m, &c)) {
            min = Some(sv);
        }
    }
    t.min_workers_version = min.as_ref().map(v_string).unwrap_or_default();
    if c.to_string() == d.to_string() && min.as_ref().is_none_or(|m| m.to_string() == d.to_string()) {
        t.plan_computed = true;
        return Ok(());
    }
    let cp_plan = if class_versions.is_empty() {
        plan_one_minor(desired, cp_version)?
    } else {
        plan_from_versions(class_versions, desired, cp_version)?
    };
    // Workers: an intermediate step every third minor (version skew), then the desired version.
    let mut workers: Vec<String> = Vec::new();
    if let Some(m) = &min {
        if compare(m, &d) != 0 {
            let mut minors: std::collections::BTreeMap<u64, String> = std::collections::BTreeMap::new();
            minors.insert(c.minor, cp_version.to_string());
            for v in &cp_plan {
                if let Some(sv) = parse(v) {
                    minors.insert(sv.minor, v.clone());
                }
            }
            for i in 0..d.minor.saturating_sub(m.minor) {
                if i > 0 && i % 3 == 0 {
                    let v = minors.get(&m.minor.saturating_add(i)).ok_or_else(|| {
                        format!("invalid upgrade plan; unable to identify version for minor {}", m.minor.saturating_add(i))
                    })?;
                    workers.push(v.clone());
                }
            }
            if workers.last().is_none_or(|l| l != desired) {
                workers.push(desired.to_string());
            }
        }
    }
    t.cp.plan = cp_plan;
    if !md_versions.is_empty() {
        t.mds.plan = workers.clone();
    }
    if !mp_versions.is_empty() {
        t.mps.plan = workers;
    }
    t.plan_computed = true;
    Ok(())
}
