//! Version upgrades of a managed topology: the upgrade plan, the tracker of what is provisioning,
//! upgrading, pending, deferred, and the decisions "which version does the control plane / each
//! MachineDeployment / MachinePool get now" (control plane first, workers afterwards, a bounded number
//! at a time), plus the `ClusterUpgrading` message of `TopologyReconciled`.
//! Sources: `exp/topology/desiredstate/upgrade_plan.go`, `exp/topology/desiredstate/desired_state.go`
//! (`computeControlPlaneVersion`, `computeMachineDeploymentVersion`, `computeMachinePoolVersion`,
//! `isMachineDeploymentDeferred`), `exp/topology/scope/upgradetracker.go`,
//! `internal/contract/controlplane.go` (`IsProvisioning`, `IsUpgrading`),
//! `core/reconcilers/topology/cluster/status.go`.
//!
//! Simplifications: no RuntimeSDK lifecycle hooks and no upgrade-plan extension; plans supplied by
//! ClusterClass `kubernetesVersions` are trusted (the webhook checks them), so only the parts of
//! `DefaultAndValidateUpgradePlans` that compute the workers' plan are modelled.

use crate::controllers::common::keys;
use crate::object::Object;
use crate::object::Ptr;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// Annotation on a MachineDeployment/MachinePool topology: do not upgrade it.
pub const DEFER_UPGRADE: &str = "topology.cluster.x-k8s.io/defer-upgrade";
/// Annotation on a MachineDeployment/MachinePool topology: hold it and every later one.
pub const HOLD_UPGRADE_SEQUENCE: &str = "topology.cluster.x-k8s.io/hold-upgrade-sequence";
/// Cluster annotation: how many MachineDeployments (and MachinePools) may upgrade at once.
pub const UPGRADE_CONCURRENCY: &str = "topology.cluster.x-k8s.io/upgrade-concurrency";
/// Cluster annotation recording the current upgrade step.
pub const UPGRADE_STEP: &str = "topology.internal.cluster.x-k8s.io/upgrade-step";

/// `semver.ParseTolerant`.
pub fn parse(v: &str) -> Option<semver::Version> {
    crate::controllers::common::parse_version(v)
}

/// `version.Compare(a, b, WithBuildTags())`: -1/0/1, or 2 when only build metadata differs.
pub fn compare(a: &semver::Version, b: &semver::Version) -> i8 {
    match a.cmp_precedence(b) {
        Ordering::Less => -1,
        Ordering::Greater => 1,
        Ordering::Equal if a.build != b.build => 2,
        Ordering::Equal => 0,
    }
}

/// `v<semver>` as CAPI prints a parsed version.
pub fn v_string(v: &semver::Version) -> String {
    format!("v{v}")
}

/// Control plane progress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CpTracker {
    /// Its version differs from the topology version.
    pub pending_upgrade: bool,
    /// It waits for workers to catch up before the next step.
    pub waiting_for_workers: bool,
    /// The versions it still has to go through.
    pub plan: Vec<String>,
    /// Being created (no version reported yet).
    pub provisioning: bool,
    /// Still rolling out a previous version.
    pub upgrading: bool,
    /// Picking up a new version in this reconcile.
    pub starting: bool,
}

impl CpTracker {
    /// `IsControlPlaneStable`.
    pub fn stable(&self) -> bool {
        !(self.provisioning || self.upgrading || self.starting || self.pending_upgrade)
    }
    /// `IsControlPlaneStableOrWaitingForWorkersUpgrade`.
    pub fn stable_or_waiting(&self) -> bool {
        !(self.provisioning || self.upgrading || self.starting || (self.pending_upgrade && !self.waiting_for_workers))
    }
}

/// MachineDeployment (or MachinePool) progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerTracker {
    /// Topology names whose creation waits for the control plane.
    pub pending_create: BTreeSet<String>,
    /// Object names waiting to upgrade.
    pub pending_upgrade: BTreeSet<String>,
    /// The versions workers still have to go through.
    pub plan: Vec<String>,
    /// Object names held by defer/hold annotations.
    pub deferred: BTreeSet<String>,
    /// Object names upgrading now.
    pub upgrading: BTreeSet<String>,
    /// How many may upgrade at once.
    pub max_concurrency: usize,
}

impl WorkerTracker {
    fn new(max: usize) -> Self {
        WorkerTracker {
            pending_create: BTreeSet::new(),
            pending_upgrade: BTreeSet::new(),
            plan: Vec::new(),
            deferred: BTreeSet::new(),
            upgrading: BTreeSet::new(),
            max_concurrency: max.max(1),
        }
    }
    /// `UpgradeConcurrencyReached`.
    pub fn concurrency_reached(&self) -> bool {
        self.upgrading.len() >= self.max_concurrency
    }
    /// Names for the condition: upgrading; pending (not upgrading nor deferred); deferred (not upgrading).
    pub fn dedup(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let upgrading: Vec<String> = self.upgrading.iter().cloned().collect();
        let deferred: Vec<String> = self.deferred.iter().filter(|n| !self.upgrading.contains(*n)).cloned().collect();
        let pending: Vec<String> =
            self.pending_upgrade.iter().filter(|n| !self.upgrading.contains(*n) && !self.deferred.contains(*n)).cloned().collect();
        (upgrading, pending, deferred)
    }
}

/// Everything the upgrade decisions of one reconcile found out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracker {
    /// Control plane.
    pub cp: CpTracker,
    /// MachineDeployments.
    pub mds: WorkerTracker,
    /// MachinePools.
    pub mps: WorkerTracker,
    /// The oldest worker version.
    pub min_workers_version: String,
    /// The plan was computed.
    pub plan_computed: bool,
}

impl Tracker {
    /// A tracker with the Cluster's upgrade concurrency (annotation, default 1).
    pub fn new(cluster: &Object) -> Tracker {
        let max = cluster.annotation(UPGRADE_CONCURRENCY).and_then(|c| c.parse::<usize>().ok()).unwrap_or(1);
        Tracker {
            cp: CpTracker::default(),
            mds: WorkerTracker::new(max),
            mps: WorkerTracker::new(max),
            min_workers_version: String::new(),
            plan_computed: false,
        }
    }
}

/// The control plane's reported versions (`status.versions[].version`, else `status.version`).
pub fn status_versions(cp: &Object) -> Vec<String> {
    let list: Vec<String> = cp
        .at("/status/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("version").and_then(Value::as_str))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect();
    if !list.is_empty() {
        return list;
    }
    cp.str_at("/status/version").filter(|v| !v.is_empty()).map(|v| vec![v.to_string()]).unwrap_or_default()
}

/// `IsProvisioning`: no version reported yet.
pub fn cp_provisioning(cp: &Object) -> bool {
    status_versions(cp).is_empty()
}

/// `IsUpgrading`: the spec version is newer than a reported version.
pub fn cp_upgrading(cp: &Object) -> Result<bool, String> {
    let spec = cp.str_at("/spec/version").unwrap_or("");
    let spec_v = parse(spec)
        .ok_or_else(|| format!("failed to check if control plane is upgrading: failed to parse control plane spec version {spec}"))?;
    for sv in status_versions(cp) {
        let v = parse(&sv)
            .ok_or_else(|| format!("failed to check if control plane is upgrading: failed to parse control plane status version {sv}"))?;
        if compare(&spec_v, &v) >= 1 {
            return Ok(true);
        }
    }
    Ok(false)
}

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

/// What the control plane's version decision needs to know about the current control plane.
#[derive(Clone, Debug)]
pub struct CurrentCp {
    /// `spec.version`.
    pub version: String,
    /// `IsProvisioning`.
    pub provisioning: bool,
    /// `IsUpgrading`.
    pub upgrading: bool,
}

/// `computeControlPlaneVersion`: the version the control plane gets now.
pub fn control_plane_version(t: &mut Tracker, topology_version: &str, current: Option<&CurrentCp>) -> Result<String, String> {
    let Some(cur) = current else { return Ok(topology_version.to_string()) };
    t.cp.pending_upgrade = cur.version != topology_version;
    if cur.provisioning {
        t.cp.provisioning = true;
        return Ok(cur.version.clone());
    }
    if cur.upgrading {
        t.cp.upgrading = true;
        return Ok(cur.version.clone());
    }
    if t.mds.plan.first() == Some(&cur.version) || t.mps.plan.first() == Some(&cur.version) {
        t.cp.waiting_for_workers = true;
        return Ok(cur.version.clone());
    }
    if !t.mds.upgrading.is_empty() || !t.mps.upgrading.is_empty() {
        return Ok(cur.version.clone());
    }
    if !t.cp.pending_upgrade {
        return Ok(cur.version.clone());
    }
    let Some(next) = t.cp.plan.first().cloned() else {
        return Err(
            "cannot compute the control plane version if the control plane is pending upgrade and the upgrade plan is not set".into()
        );
    };
    t.cp.starting = true;
    t.cp.pending_upgrade = false;
    Ok(next)
}

/// Whether a worker topology's upgrade is deferred: its own defer/hold annotation, or a hold
/// annotation on any worker topology before it in the list (`isMachineDeploymentDeferred`).
pub fn is_deferred(list: &[Value], name: &str) -> bool {
    let has = |w: &Value, k: &str| w.ptr("/metadata/annotations").and_then(|a| a.get(k)).is_some();
    if let Some(me) = list.iter().find(|w| w.get("name").and_then(Value::as_str) == Some(name)) {
        if has(me, DEFER_UPGRADE) || has(me, HOLD_UPGRADE_SEQUENCE) {
            return true;
        }
    }
    for w in list {
        if has(w, HOLD_UPGRADE_SEQUENCE) {
            return true;
        }
        if w.get("name").and_then(Value::as_str) == Some(name) {
            return false;
        }
    }
    false
}

/// `computeMachineDeploymentVersion` / `computeMachinePoolVersion`: the version a worker pool gets now.
/// `current` is `(object name, spec.template.spec.version)` of the existing object. With
/// `workers_first` (the `TopologyWorkersFirst` mutant) the wait for a stable control plane is skipped,
/// so workers move together with the control plane.
pub fn worker_version(
    t: &mut Tracker,
    pools: bool,
    topology_version: &str,
    topology_list: &[Value],
    topology_name: &str,
    current: Option<(&str, &str)>,
    workers_first: bool,
) -> Result<String, String> {
    let cp_stable = t.cp.stable();
    let cp_stable_or_waiting = t.cp.stable_or_waiting();
    let w = if pools { &mut t.mps } else { &mut t.mds };
    let Some((name, version)) = current else {
        if !cp_stable {
            w.pending_create.insert(topology_name.to_string());
        }
        return Ok(topology_version.to_string());
    };
    if version == topology_version {
        return Ok(version.to_string());
    }
    if is_deferred(topology_list, topology_name) {
        w.deferred.insert(name.to_string());
        w.pending_upgrade.insert(name.to_string());
        return Ok(version.to_string());
    }
    if w.concurrency_reached() {
        w.pending_upgrade.insert(name.to_string());
        return Ok(version.to_string());
    }
    if !cp_stable_or_waiting && !workers_first {
        w.pending_upgrade.insert(name.to_string());
        return Ok(version.to_string());
    }
    let Some(next) = w.plan.first().cloned() else {
        let what = if pools { "machine pool" } else { "machine deployment" };
        return Err(format!("cannot compute the {what} version if the {what} is pending upgrade and the upgrade plan is not set"));
    };
    if next == version {
        w.pending_upgrade.insert(name.to_string());
        return Ok(version.to_string());
    }
    w.upgrading.insert(name.to_string());
    Ok(next)
}

fn name_list(kind: &str, plural: &str, names: &[String]) -> String {
    let mut names = names.to_vec();
    names.sort();
    match names.len() {
        1 => format!("{kind} {}", names[0]),
        n if n <= 3 => format!("{plural} {}", names.join(", ")),
        n => format!("{plural} {}, ... ({} more)", names[..3].join(", "), n - 3),
    }
}

fn pending_versions(plan: &[String], version: &str) -> String {
    let rest: Vec<&String> = plan.iter().filter(|v| *v != version).collect();
    if rest.is_empty() {
        String::new()
    } else {
        format!(" ({} pending)", rest.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))
    }
}

/// Whether anything upgrade-related is still in progress (`TopologyReconciled` is then False).
pub fn in_progress(t: &Tracker) -> bool {
    let busy = |w: &WorkerTracker| {
        !w.pending_upgrade.is_empty() || !w.upgrading.is_empty() || !w.deferred.is_empty() || !w.pending_create.is_empty()
    };
    t.cp.pending_upgrade || t.cp.starting || t.cp.upgrading || busy(&t.mds) || busy(&t.mps)
}

/// The reason and bullet message of `TopologyReconciled` while upgrading (`ClusterUpgrading`, or
/// `MachineDeploymentsUpgradeDeferred` / `MachinePoolsUpgradeDeferred` when only held workers remain).
pub fn upgrading_condition(t: &Tracker, topology_version: &str, cp_version: &str, cp_kind: &str) -> (String, String) {
    let mut msg = format!("Cluster is upgrading to {topology_version}");
    let mut reason = "ClusterUpgrading".to_string();
    if t.cp.starting || t.cp.upgrading {
        msg += &format!("\n  * {cp_kind} upgrading to version {cp_version}{}", pending_versions(&t.cp.plan, cp_version));
    } else if !t.cp.plan.is_empty() {
        msg += &format!("\n  * {cp_kind} pending upgrade to version {}", t.cp.plan.join(", "));
    }
    let cp_busy = t.cp.starting || t.cp.upgrading;
    for (w, kind, plural, deferred_text, deferred_reason) in [
        (
            &t.mds,
            "MachineDeployment",
            "MachineDeployments",
            "deferred using defer-upgrade or hold-upgrade-sequence annotations",
            "MachineDeploymentsUpgradeDeferred",
        ),
        (
            &t.mps,
            "MachinePool",
            "MachinePools",
            "deferred using topology.cluster.x-k8s.io/defer-upgrade or hold-upgrade-sequence annotations",
            "MachinePoolsUpgradeDeferred",
        ),
    ] {
        let (upgrading, pending, deferred) = w.dedup();
        if !upgrading.is_empty() {
            msg += &format!(
                "\n  * {} upgrading to version {cp_version}{}",
                name_list(kind, plural, &upgrading),
                pending_versions(&w.plan, cp_version)
            );
        }
        if !pending.is_empty() && !w.plan.is_empty() {
            msg += &format!("\n  * {} pending upgrade to version {}", name_list(kind, plural, &pending), w.plan.join(", "));
        }
        if !deferred.is_empty() {
            msg += &format!("\n  * {} upgrade to version {cp_version} {deferred_text}", name_list(kind, plural, &deferred));
            if !cp_busy && w.upgrading.is_empty() && pending.is_empty() && reason != "MachineDeploymentsUpgradeDeferred" {
                reason = deferred_reason.to_string();
            }
        }
        if !w.pending_create.is_empty() {
            let names: Vec<String> = w.pending_create.iter().cloned().collect();
            msg += &format!("\n  * {} creation deferred while control plane upgrade is in progress", name_list(kind, plural, &names));
        }
    }
    (reason, msg)
}

/// Whether a MachineDeployment is upgrading: one of its Machines has another version, or a kubelet
/// reporting another version (`IsMachineDeploymentUpgrading`).
pub fn machines_upgrading<'a>(md_version: &str, machines: impl Iterator<Item = &'a Object>) -> Result<bool, String> {
    if md_version.is_empty() {
        return Ok(false);
    }
    for m in machines {
        let v = m.str_at("/spec/version").unwrap_or("");
        if v.is_empty() {
            return Err(format!("Machine {} has no version", m.name()));
        }
        if v != md_version {
            return Ok(true);
        }
        if m.str_at("/status/nodeInfo/kubeletVersion").is_some_and(|k| !k.is_empty() && k != md_version) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether the object carries the topology-owned label.
pub fn topology_owned(o: &Object) -> bool {
    o.label(keys::TOPOLOGY_OWNED).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use rstest::rstest;
    use serde_json::json;

    fn kcp(spec: &str, versions: &[&str]) -> Object {
        let mut o = Object::new(Kind::KubeadmControlPlane, "default", "c1-cp");
        o.set("/spec/version", json!(spec));
        if !versions.is_empty() {
            o.set("/status/versions", Value::Array(versions.iter().map(|v| json!({"version": v, "replicas": 1})).collect()));
        }
        o
    }

    #[rstest]
    #[case(kcp("v1.34.0", &[]), true, false)]
    #[case(kcp("v1.34.0", &["v1.34.0"]), false, false)]
    #[case(kcp("v1.35.0", &["v1.34.0", "v1.35.0"]), false, true)]
    #[case(kcp("v1.35.0", &["v1.35.0"]), false, false)]
    fn control_plane_state(#[case] cp: Object, #[case] provisioning: bool, #[case] upgrading: bool) {
        assert_eq!(cp_provisioning(&cp), provisioning);
        assert_eq!(cp_upgrading(&cp).unwrap(), upgrading);
    }

    #[test]
    fn deprecated_status_version_is_used_without_versions() {
        let mut cp = kcp("v1.35.0", &[]);
        cp.set("/status/version", json!("v1.34.0"));
        assert!(!cp_provisioning(&cp));
        assert!(cp_upgrading(&cp).unwrap());
    }

    #[rstest]
    #[case("v1.35.0", "v1.34.0", Ok(vec!["v1.35.0"]))]
    #[case("v1.34.0", "v1.34.0", Ok(vec![]))]
    #[case("v1.36.0", "v1.34.0", Err("cannot compute an upgrade plan from v1.34.0 to v1.36.0"))]
    fn one_minor_plans(#[case] desired: &str, #[case] cp: &str, #[case] want: Result<Vec<&str>, &str>) {
        let got = plan_one_minor(desired, cp);
        assert_eq!(got, want.map(|v| v.into_iter().map(String::from).collect()).map_err(String::from));
    }

    #[test]
    fn chained_plans_take_the_last_patch_of_each_minor() {
        let versions: Vec<String> =
            ["v1.33.0", "v1.33.4", "v1.34.0", "v1.34.2", "v1.35.0", "v1.35.1"].iter().map(|s| s.to_string()).collect();
        assert_eq!(plan_from_versions(&versions, "v1.35.1", "v1.33.0").unwrap(), vec!["v1.34.2", "v1.35.1"]);
        assert_eq!(plan_from_versions(&versions, "v1.33.4", "v1.33.0").unwrap(), vec!["v1.33.4"]);
    }

    fn cluster(concurrency: Option<&str>) -> Object {
        let mut c = Object::new(Kind::Cluster, "default", "c1");
        if let Some(v) = concurrency {
            c.meta.annotations.insert(UPGRADE_CONCURRENCY.into(), v.into());
        }
        c
    }

    fn mds(names: &[&str]) -> Vec<Value> {
        names.iter().map(|n| json!({"name": n, "class": "default-worker"})).collect()
    }

    /// One reconcile's decisions for a CP and two MDs: returns (cp version, md versions, tracker).
    fn decide(
        cp: Option<CurrentCp>,
        md_current: &[(&str, &str)],
        topology: &str,
        concurrency: Option<&str>,
        workers_first: bool,
    ) -> (String, Vec<String>, Tracker) {
        decide_with(cp, md_current, topology, concurrency, workers_first, &[], &mds(&["md-0", "md-1"]))
    }

    fn decide_with(
        cp: Option<CurrentCp>,
        md_current: &[(&str, &str)],
        topology: &str,
        concurrency: Option<&str>,
        workers_first: bool,
        upgrading: &[&str],
        list: &[Value],
    ) -> (String, Vec<String>, Tracker) {
        let mut t = Tracker::new(&cluster(concurrency));
        let versions: Vec<String> = md_current.iter().map(|(_, v)| v.to_string()).collect();
        compute_plan(&mut t, topology, cp.as_ref().map(|c| c.version.as_str()), &versions, &[], &[]).unwrap();
        for u in upgrading {
            t.mds.upgrading.insert(u.to_string());
        }
        let cpv = control_plane_version(&mut t, topology, cp.as_ref()).unwrap();
        let mut out = Vec::new();
        for (i, w) in list.iter().enumerate() {
            let name = w["name"].as_str().unwrap();
            let cur = md_current.get(i).map(|(n, v)| (*n, *v));
            out.push(worker_version(&mut t, false, topology, list, name, cur, workers_first).unwrap());
        }
        (cpv, out, t)
    }

    fn stable(v: &str) -> Option<CurrentCp> {
        Some(CurrentCp { version: v.into(), provisioning: false, upgrading: false })
    }

    #[rstest]
    // Version bump with a stable control plane: the control plane starts, workers wait.
    #[case(stable("v1.34.0"), &[("md0", "v1.34.0"), ("md1", "v1.34.0")], false, "v1.35.0", &["v1.34.0", "v1.34.0"])]
    // Mutant: workers move together with the control plane (concurrency still applies).
    #[case(stable("v1.34.0"), &[("md0", "v1.34.0"), ("md1", "v1.34.0")], true, "v1.35.0", &["v1.35.0", "v1.34.0"])]
    // Control plane still rolling out: nothing moves.
    #[case(Some(CurrentCp { version: "v1.35.0".into(), provisioning: false, upgrading: true }), &[("md0", "v1.34.0"), ("md1", "v1.34.0")], false, "v1.35.0", &["v1.34.0", "v1.34.0"])]
    // Control plane done: the first MachineDeployment upgrades, the second waits (concurrency 1).
    #[case(stable("v1.35.0"), &[("md0", "v1.34.0"), ("md1", "v1.34.0")], false, "v1.35.0", &["v1.35.0", "v1.34.0"])]
    // Provisioning control plane: the version stays, workers are created later.
    #[case(Some(CurrentCp { version: "v1.34.0".into(), provisioning: true, upgrading: false }), &[], false, "v1.34.0", &["v1.35.0", "v1.35.0"])]
    fn upgrade_ordering(
        #[case] cp: Option<CurrentCp>,
        #[case] md: &[(&str, &str)],
        #[case] workers_first: bool,
        #[case] want_cp: &str,
        #[case] want_md: &[&str],
    ) {
        let (cpv, mdv, _) = decide(cp, md, "v1.35.0", None, workers_first);
        assert_eq!(cpv, want_cp);
        assert_eq!(mdv, want_md);
    }

    #[test]
    fn concurrency_annotation_allows_parallel_workers() {
        let (_, mdv, _) = decide(stable("v1.35.0"), &[("md0", "v1.34.0"), ("md1", "v1.34.0")], "v1.35.0", Some("2"), false);
        assert_eq!(mdv, ["v1.35.0", "v1.35.0"]);
    }

    #[test]
    fn an_upgrading_machine_deployment_holds_the_next_and_the_control_plane() {
        // md0 is still rolling out v1.35.0 (Machines behind); the next bump of the topology waits.
        let (cpv, mdv, t) = decide_with(
            stable("v1.35.0"),
            &[("md0", "v1.35.0"), ("md1", "v1.34.0")],
            "v1.35.0",
            None,
            false,
            &["md0"],
            &mds(&["md-0", "md-1"]),
        );
        assert_eq!(cpv, "v1.35.0");
        assert_eq!(mdv, ["v1.35.0", "v1.34.0"]);
        assert!(t.mds.pending_upgrade.contains("md1"));
        let (reason, msg) = upgrading_condition(&t, "v1.35.0", &cpv, "KubeadmControlPlane");
        assert_eq!(reason, "ClusterUpgrading");
        assert_eq!(
            msg,
            "Cluster is upgrading to v1.35.0\n  * MachineDeployment md0 upgrading to version v1.35.0\n  * MachineDeployment md1 pending upgrade to version v1.35.0"
        );
    }

    #[rstest]
    #[case(json!([{"name": "md-0", "metadata": {"annotations": {DEFER_UPGRADE: ""}}}, {"name": "md-1"}]), "md-0", true)]
    #[case(json!([{"name": "md-0", "metadata": {"annotations": {DEFER_UPGRADE: ""}}}, {"name": "md-1"}]), "md-1", false)]
    #[case(json!([{"name": "md-0", "metadata": {"annotations": {HOLD_UPGRADE_SEQUENCE: ""}}}, {"name": "md-1"}]), "md-1", true)]
    #[case(json!([{"name": "md-0"}, {"name": "md-1", "metadata": {"annotations": {HOLD_UPGRADE_SEQUENCE: ""}}}]), "md-0", false)]
    fn defer_and_hold(#[case] list: Value, #[case] name: &str, #[case] want: bool) {
        assert_eq!(is_deferred(list.as_array().unwrap(), name), want);
    }

    #[test]
    fn deferred_workers_report_their_reason() {
        let list = json!([{"name": "md-0", "metadata": {"annotations": {DEFER_UPGRADE: ""}}}]);
        let (cpv, _, t) = decide_with(stable("v1.35.0"), &[("md0", "v1.34.0")], "v1.35.0", None, false, &[], list.as_array().unwrap());
        let (reason, msg) = upgrading_condition(&t, "v1.35.0", &cpv, "KubeadmControlPlane");
        assert_eq!(reason, "MachineDeploymentsUpgradeDeferred");
        assert!(
            msg.ends_with(
                "MachineDeployment md0 upgrade to version v1.35.0 deferred using defer-upgrade or hold-upgrade-sequence annotations"
            ),
            "{msg}"
        );
    }

    #[test]
    fn starting_message_lists_the_control_plane() {
        let (cpv, _, t) = decide(stable("v1.34.0"), &[("md0", "v1.34.0"), ("md1", "v1.34.0")], "v1.35.0", None, false);
        assert!(in_progress(&t));
        let (_, msg) = upgrading_condition(&t, "v1.35.0", &cpv, "KubeadmControlPlane");
        assert_eq!(
            msg,
            "Cluster is upgrading to v1.35.0\n  * KubeadmControlPlane upgrading to version v1.35.0\n  * MachineDeployments md0, md1 pending upgrade to version v1.35.0"
        );
    }

    #[test]
    fn workers_plan_has_a_step_every_third_minor() {
        let mut t = Tracker::new(&cluster(None));
        let versions: Vec<String> = ["v1.30.0", "v1.31.0", "v1.32.0", "v1.33.0", "v1.34.0"].iter().map(|s| s.to_string()).collect();
        compute_plan(&mut t, "v1.34.0", Some("v1.30.0"), &["v1.30.0".to_string()], &[], &versions).unwrap();
        assert_eq!(t.cp.plan, ["v1.31.0", "v1.32.0", "v1.33.0", "v1.34.0"]);
        assert_eq!(t.mds.plan, ["v1.33.0", "v1.34.0"]);
    }
}
