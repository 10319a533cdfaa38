//! The rollout planner: how many replicas the new and the old MachineSets get, for RollingUpdate
//! (scale the new one up within maxSurge, the old ones down oldest first and unavailable first, never
//! below `replicas − maxUnavailable` available, plus the deadlock breaker), OnDelete (fill the gap,
//! acknowledge Machines the user deleted), and the proportional scaling of a paused MachineDeployment.
//! Sources: `core/reconcilers/machinedeployment/{machinedeployment_rollout_rollingupdate.go,machinedeployment_rollout_ondelete.go,machinedeployment_sync.go}`,
//! `core/reconcilers/machinedeployment/mdutil/util.go` (`NewMSNewReplicas`, `FindOneActiveOrLatest`,
//! `IsSaturated`, `GetProportion`).

use super::intstr::{scaled_value, Rollout, StrategyType};
use crate::object::Object;
use std::collections::BTreeMap;

/// The replica counters of one MachineSet the planners work with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MsState {
    /// Name (the key of scale intents).
    pub name: String,
    /// creationTimestamp (ms).
    pub created_ms: u64,
    /// `spec.replicas`.
    pub spec: i64,
    /// `status.replicas`.
    pub status_replicas: Option<i64>,
    /// `status.availableReplicas`.
    pub available: Option<i64>,
    /// `status.upToDateReplicas`.
    pub up_to_date: Option<i64>,
    /// `desired-replicas` annotation.
    pub desired_annotation: Option<i64>,
    /// `max-replicas` annotation.
    pub max_annotation: Option<i64>,
}

impl MsState {
    /// From a MachineSet (spec.replicas must be set; the MS webhook defaults it).
    pub fn of(ms: &Object) -> MsState {
        let ann = |k: &str| ms.annotation(k).and_then(|v| v.parse::<i64>().ok());
        MsState {
            name: ms.name().to_string(),
            created_ms: ms.meta.creation_ms,
            spec: ms.i64_at("/spec/replicas").unwrap_or(0),
            status_replicas: ms.i64_at("/status/replicas"),
            available: ms.i64_at("/status/availableReplicas"),
            up_to_date: ms.i64_at("/status/upToDateReplicas"),
            desired_annotation: ann(crate::controllers::common::keys::DESIRED_REPLICAS),
            max_annotation: ann(crate::controllers::common::keys::MAX_REPLICAS),
        }
    }

    /// A MachineSet by its counters (tests).
    pub fn new(name: &str, created_ms: u64, spec: i64, status: i64, available: i64) -> MsState {
        MsState {
            name: name.to_string(),
            created_ms,
            spec,
            status_replicas: Some(status),
            available: Some(available),
            up_to_date: None,
            desired_annotation: None,
            max_annotation: None,
        }
    }

    fn status(&self) -> i64 {
        self.status_replicas.unwrap_or(0)
    }

    fn avail(&self) -> i64 {
        self.available.unwrap_or(0)
    }
}

/// Oldest first, name as the tie breaker (`MachineSetsByCreationTimestamp`).
fn by_creation(a: &MsState, b: &MsState) -> std::cmp::Ordering {
    a.created_ms.cmp(&b.created_ms).then_with(|| a.name.cmp(&b.name))
}

/// `TotalMachineSetsReplicaSum`: Σ max(spec, status).
pub fn total_replica_sum<'a>(mss: impl IntoIterator<Item = &'a MsState>) -> i64 {
    mss.into_iter().map(|m| m.spec.max(m.status())).sum()
}

/// `NewMSNewReplicas`: the replicas the new MachineSet may have now, with the reason.
pub fn new_ms_new_replicas(md: &Rollout, all: &[&MsState], new_spec: i64) -> Result<(i64, String), String> {
    let replicas = md.desired();
    let current = total_replica_sum(all.iter().copied());
    match &md.strategy {
        StrategyType::RollingUpdate => {
            let surge = scaled_value(md.max_surge.as_ref(), replicas, true)?;
            let max_total = replicas + surge;
            if current >= max_total {
                return Ok((
                    new_spec,
                    format!("{current} current Machines >= {replicas} MachineDeployment spec.replicas + {surge} maxSurge"),
                ));
            }
            let up = (max_total - current).min(replicas - new_spec);
            Ok((new_spec + up, format!("{current} current Machines < {replicas} MachineDeployment spec.replicas + {surge} maxSurge")))
        }
        StrategyType::OnDelete => {
            if current >= replicas {
                return Ok((new_spec, format!("{current} current Machines >= {replicas} MachineDeployment spec.replicas")));
            }
            Ok((new_spec + replicas - current, format!("{current} current Machines < {replicas} MachineDeployment spec.replicas")))
        }
        StrategyType::Other(t) => Err(format!("failed to compute replicas: deployment strategy {t} isn't supported")),
    }
}

/// The rollout planner: scale intents per MachineSet name, with the notes explaining them.
#[derive(Clone, Debug)]
pub struct Planner {
    /// The MachineDeployment.
    pub md: Rollout,
    /// The current (new) MachineSet.
    pub new: MsState,
    /// The old MachineSets (the planner sorts them oldest first when it scales them down).
    pub old: Vec<MsState>,
    /// `spec.replicas` each MachineSet should get.
    pub intents: BTreeMap<String, i64>,
    /// Why.
    pub notes: BTreeMap<String, Vec<String>>,
    /// Mutant `MdIgnoreMaxUnavailable`: scale old MachineSets to zero at once.
    pub ignore_max_unavailable: bool,
}

impl Planner {
    /// A planner.
    pub fn new(md: Rollout, new: MsState, old: Vec<MsState>) -> Planner {
        Planner { md, new, old, intents: BTreeMap::new(), notes: BTreeMap::new(), ignore_max_unavailable: false }
    }

    fn note(&mut self, ms: &str, msg: String) {
        let v = self.notes.entry(ms.to_string()).or_default();
        if !v.contains(&msg) {
            v.push(msg);
        }
    }

    /// The replicas a MachineSet will have after the plan.
    pub fn target(&self, ms: &MsState) -> i64 {
        self.intents.get(&ms.name).copied().unwrap_or(ms.spec)
    }

    /// `planRollingUpdate`: scale the new MachineSet up, the old ones down, then break deadlocks.
    pub fn rolling_update(&mut self) -> Result<(), String> {
        self.reconcile_new()?;
        self.reconcile_old_rolling();
        self.deadlock_breaker();
        Ok(())
    }

    /// `planOnDelete`: scale the new MachineSet up to fill the gap, old ones only to acknowledge deleted
    /// Machines or a scale-down of the MachineDeployment.
    pub fn on_delete(&mut self) -> Result<(), String> {
        self.reconcile_new()?;
        self.reconcile_old_on_delete();
        Ok(())
    }

    /// `reconcileNewMachineSet`.
    fn reconcile_new(&mut self) -> Result<(), String> {
        let replicas = self.md.desired();
        let new_spec = self.new.spec;
        if new_spec == replicas {
            return Ok(());
        }
        let name = self.new.name.clone();
        if new_spec > replicas {
            self.note(&name, "scale down to align MachineSet spec.replicas to MachineDeployment spec.replicas".into());
            self.intents.insert(name, replicas);
            return Ok(());
        }
        let all: Vec<&MsState> = self.old.iter().chain(std::iter::once(&self.new)).collect();
        let (count, why) = new_ms_new_replicas(&self.md, &all, new_spec)?;
        if count != new_spec {
            self.note(&name, why);
            self.intents.insert(name, count);
        }
        Ok(())
    }

    /// `reconcileOldMachineSetsRollingUpdate`.
    fn reconcile_old_rolling(&mut self) {
        if self.old.iter().map(|m| m.spec).sum::<i64>() == 0 {
            return;
        }
        if self.ignore_max_unavailable {
            // Mutant: every old replica goes at once, whatever availability that leaves.
            self.old.sort_by(by_creation);
            for i in 0..self.old.len() {
                let name = self.old[i].name.clone();
                if self.target(&self.old[i]) > 0 {
                    self.note(&name, "scale down ignoring maxUnavailable".into());
                    self.intents.insert(name, 0);
                }
            }
            return;
        }
        let min_available = (self.md.desired() - self.md.max_unavailable()).max(0);
        let all: Vec<&MsState> = self.old.iter().chain(std::iter::once(&self.new)).collect();
        let total_spec: i64 = all.iter().map(|m| m.spec).sum();
        let total_available: i64 = all.iter().map(|m| m.avail()).sum();
        // Scale-downs of existing replicas already asked for (earlier reconciles or this one).
        let pending: i64 = all
            .iter()
            .map(|m| {
                let intent = self.intents.get(&m.name).map_or(m.spec, |v| m.spec.min(*v));
                if intent < m.status() {
                    m.status() - intent
                } else {
                    0
                }
            })
            .sum();
        // Unavailable Machines of the new MachineSet slow the rollout down.
        let new_unavailable = (self.new.spec - self.new.avail()).max(0);
        let total_scale_down = (total_spec - pending - min_available - new_unavailable).max(0);
        if total_scale_down <= 0 {
            return;
        }
        self.old.sort_by(by_creation);
        let (rest, available) = self.scale_down_old(total_scale_down, total_available, min_available, true);
        self.scale_down_old(rest, available, min_available, false);
    }

    /// `scaleDownOldMSs`: oldest first, first only unavailable replicas (when asked), never letting the
    /// assumed-worst-case availability drop below `min_available`.
    fn scale_down_old(&mut self, mut total: i64, mut available: i64, min_available: i64, only_unavailable: bool) -> (i64, i64) {
        for i in 0..self.old.len() {
            if total <= 0 {
                break;
            }
            let ms = self.old[i].clone();
            let replicas = self.target(&ms);
            if replicas <= 0 {
                continue;
            }
            let before = available;
            let max_down = if only_unavailable { (replicas - ms.avail()).max(0) } else { replicas };
            let mut down = max_down.min(total);
            if down == 0 {
                continue;
            }
            if ms.avail() > 0 {
                let new_spec = (replicas - down).max(0);
                let mut existing = (ms.status() - new_spec).max(0);
                if existing > 0 {
                    if available - min_available < existing {
                        let can_delete = (available - min_available).max(0);
                        let revisited = (ms.status() - can_delete).min(replicas);
                        down = (replicas - revisited).max(0);
                        existing = (ms.status() - revisited).max(0);
                    }
                    // Worst case: the MachineSet controller deletes available Machines first.
                    available -= ms.avail().min(existing);
                }
            }
            if down > 0 {
                if before == available {
                    self.note(
                        &ms.name,
                        "scale down to align to existing Machines or scale down by removing unavailable replicas (and no available replicas exist on the MachineSet)".into(),
                    );
                } else {
                    self.note(&ms.name, format!("{before} available replicas > {min_available} minimum available replicas"));
                }
                self.intents.insert(ms.name.clone(), (replicas - down).max(0));
                total = (total - down).max(0);
            }
        }
        (total, available)
    }

    /// `reconcileDeadlockBreaker`: when nothing scales, the new MachineSet is fully available and old
    /// MachineSets hold unavailable Machines, scale one old MachineSet down by one.
    fn deadlock_breaker(&mut self) {
        let old_actual: i64 = self.old.iter().map(|m| m.status()).sum();
        if old_actual == 0 {
            return;
        }
        let old_available: i64 = self.old.iter().map(|m| m.avail()).sum();
        if old_actual == old_available {
            return;
        }
        let all: Vec<&MsState> = self.old.iter().chain(std::iter::once(&self.new)).collect();
        if all.iter().any(|m| m.spec != m.status() || self.intents.contains_key(&m.name)) {
            return;
        }
        if self.new.avail() != self.new.status() {
            return;
        }
        let new_name = self.new.name.clone();
        for i in 0..self.old.len() {
            let ms = self.old[i].clone();
            if ms.avail() == ms.status() || ms.spec == 0 {
                continue;
            }
            self.note(&new_name, "scaling down by 1 to unblock rollout stuck due to unavailable Machine on oldMS".into());
            self.intents.insert(ms.name.clone(), (ms.spec - 1).max(0));
            return;
        }
    }

    /// `reconcileOldMachineSetsOnDelete`.
    fn reconcile_old_on_delete(&mut self) {
        let old_count: i64 = self.old.iter().map(|m| m.spec).sum();
        if old_count == 0 {
            return;
        }
        let new_replicas = self.target(&self.new);
        let mut total = (old_count + new_replicas - self.md.desired()).max(0);
        self.old.sort_by(by_creation);
        // Acknowledge Machines that are gone (deleted by the user), whatever the MD wants.
        for i in 0..self.old.len() {
            let ms = self.old[i].clone();
            if ms.spec <= 0 {
                continue;
            }
            let down = (ms.spec - ms.status()).max(0);
            if down > 0 {
                self.note(&ms.name, "scale down to align to existing Machines".into());
                self.intents.insert(ms.name.clone(), (ms.spec - down).max(0));
                total -= down;
            }
        }
        // Then shed replicas above the MachineDeployment's.
        for i in 0..self.old.len() {
            if total <= 0 {
                break;
            }
            let ms = self.old[i].clone();
            let intent = self.target(&ms);
            if intent <= 0 {
                continue;
            }
            let down = intent.min(total);
            if down > 0 {
                self.note(&ms.name, "scale down to align MachineSet spec.replicas to MachineDeployment spec.replicas".into());
                self.intents.insert(ms.name.clone(), (ms.spec - down).max(0));
                total -= down;
            }
        }
    }
}

// ----- Proportional scaling of a paused MachineDeployment (`machinedeployment_sync.go` `scale`) -----

/// `FindOneActiveOrLatest`: the only MachineSet with replicas, else the newest (new first); `None`
/// when several have replicas.
pub fn find_one_active_or_latest<'a>(new: Option<&'a MsState>, old: &'a [MsState]) -> Option<&'a MsState> {
    if new.is_none() && old.is_empty() {
        return None;
    }
    let mut olds: Vec<&MsState> = old.iter().collect();
    olds.sort_by(|a, b| by_creation(b, a));
    let active: Vec<&MsState> = olds.iter().copied().chain(new).filter(|m| m.spec > 0).collect();
    match active.len() {
        0 => new.or_else(|| olds.first().copied()),
        1 => Some(active[0]),
        _ => None,
    }
}

/// `IsSaturated`: the new MachineSet has all replicas, its desired-replicas annotation agrees, and all
/// of them are available.
pub fn is_saturated(md: &Rollout, ms: Option<&MsState>) -> bool {
    let Some(ms) = ms else { return false };
    let replicas = md.desired();
    ms.desired_annotation == Some(replicas) && ms.spec == replicas && ms.avail() == replicas
}

/// `GetProportion` / `getMachineSetFraction`.
fn proportion(ms: &MsState, md: &Rollout, md_status_replicas: i64, to_add: i64, added: i64) -> i64 {
    if ms.spec == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = if md.desired() == 0 {
        -ms.spec
    } else {
        let deployment_replicas = md.desired() + md.max_surge();
        let annotated = ms.max_annotation.unwrap_or(md_status_replicas);
        if annotated == 0 {
            // CAPI would divide by zero here; no proportional share is the safe reading.
            0
        } else {
            let size = (ms.spec * deployment_replicas) as f64 / annotated as f64;
            size.round() as i64 - ms.spec
        }
    };
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// `scale`: the replicas each MachineSet gets when a paused MachineDeployment is scaled (or a rollout
/// is interrupted by a scale): the single active MachineSet takes everything, a saturated new one
/// zeroes the old ones, otherwise replicas are shared proportionally.
pub fn scale_paused(md: &Rollout, md_status_replicas: i64, new: Option<&MsState>, old: &[MsState]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    let replicas = md.desired();
    if let Some(ms) = find_one_active_or_latest(new, old) {
        if ms.spec != replicas {
            out.insert(ms.name.clone(), replicas);
        }
        return out;
    }
    if is_saturated(md, new) {
        for o in old.iter().filter(|m| m.spec > 0) {
            out.insert(o.name.clone(), 0);
        }
        return out;
    }
    if !md.is_rolling() {
        return out;
    }
    let mut all: Vec<&MsState> = old.iter().chain(new).filter(|m| m.spec > 0).collect();
    let total: i64 = all.iter().map(|m| m.spec).sum();
    let allowed = if replicas > 0 { replicas + md.max_surge() } else { 0 };
    let to_add = allowed - total;
    if to_add > 0 {
        // Larger first; newer first on ties.
        all.sort_by(|a, b| b.spec.cmp(&a.spec).then_with(|| by_creation(b, a)));
    } else if to_add < 0 {
        // Larger first; older first on ties.
        all.sort_by(|a, b| b.spec.cmp(&a.spec).then_with(|| by_creation(a, b)));
    }
    let mut added = 0;
    let mut sizes: Vec<i64> = Vec::new();
    for ms in &all {
        if to_add != 0 {
            let p = proportion(ms, md, md_status_replicas, to_add, added);
            sizes.push(ms.spec + p);
            added += p;
        } else {
            sizes.push(ms.spec);
        }
    }
    for (i, ms) in all.iter().enumerate() {
        let mut size = sizes[i];
        if i == 0 && to_add != 0 {
            size = (size + to_add - added).max(0);
        }
        if size != ms.spec {
            out.insert(ms.name.clone(), size);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::{json, Value};

    /// One step of a simulated world for the planner: Machines appear at once; a new Machine becomes
    /// available when `available` says so; a deleted one is gone at once.
    fn apply(p: &Planner) -> (MsState, Vec<MsState>) {
        let up = |m: &MsState| {
            let mut m = m.clone();
            m.spec = p.target(&m);
            m
        };
        (up(&p.new), p.old.iter().map(up).collect())
    }

    #[test]
    fn rolling_update_3_replicas_surge_1_unavailable_0() {
        // The documented sequence: new 0→1; once it is available, old 3→2; once that Machine is gone,
        // new 1→2; ... three cycles, never fewer than 3 available Machines.
        let md = Rollout::rolling(3, json!(1), json!(0));
        let mut new = MsState::new("new", 100, 0, 0, 0);
        let mut old = vec![MsState::new("old", 0, 3, 3, 3)];
        let mut seen = Vec::new();
        for _ in 0..12 {
            let mut p = Planner::new(md.clone(), new.clone(), old.clone());
            p.rolling_update().unwrap();
            let (n, o) = apply(&p);
            seen.push((n.spec, o[0].spec));
            // The world: the MachineSet controller converges status to spec; new Machines become
            // available; availability never drops below 3 on the way.
            new = MsState::new("new", 100, n.spec, n.spec, n.spec);
            old = vec![MsState::new("old", 0, o[0].spec, o[0].spec, o[0].spec)];
            assert!(new.avail() + old[0].avail() >= 3, "{seen:?}");
            assert!(new.spec + old[0].spec <= 4, "{seen:?}");
        }
        assert_eq!(&seen[..6], &[(1, 3), (1, 2), (2, 2), (2, 1), (3, 1), (3, 0)]);
        assert_eq!(*seen.last().unwrap(), (3, 0));
    }

    #[test]
    fn rollout_stalls_while_the_surge_machine_is_not_available() {
        let md = Rollout::rolling(3, json!(1), json!(0));
        let new = MsState::new("new", 100, 1, 1, 0);
        let old = vec![MsState::new("old", 0, 3, 3, 3)];
        let mut p = Planner::new(md, new, old);
        p.rolling_update().unwrap();
        assert!(p.intents.is_empty(), "{:?}", p.intents);
    }

    #[test]
    fn old_machines_go_only_when_the_old_object_is_gone() {
        // old spec already 2 but still 3 Machines (one deleting): the new MS must not grow.
        let md = Rollout::rolling(3, json!(1), json!(0));
        let new = MsState::new("new", 100, 1, 1, 1);
        let old = vec![MsState::new("old", 0, 2, 3, 2)];
        let mut p = Planner::new(md, new, old);
        p.rolling_update().unwrap();
        assert_eq!(p.intents.get("new"), None);
        assert_eq!(p.intents.get("old"), None);
    }

    #[rstest]
    // maxUnavailable 1, surge 0: old goes first (3→2), then new +1.
    #[case(json!(0), json!(1), (0, 2))]
    // percent: 3 replicas, surge 50% → 2 (rounded up), unavailable 50% → 1 (rounded down).
    #[case(json!("50%"), json!("50%"), (2, 2))]
    // both 0% → unavailable 1.
    #[case(json!("0%"), json!("0%"), (0, 2))]
    fn first_step_of_a_rollout(#[case] surge: Value, #[case] unavailable: Value, #[case] want: (i64, i64)) {
        let md = Rollout::rolling(3, surge, unavailable);
        let mut p = Planner::new(md, MsState::new("new", 100, 0, 0, 0), vec![MsState::new("old", 0, 3, 3, 3)]);
        p.rolling_update().unwrap();
        let (n, o) = apply(&p);
        assert_eq!((n.spec, o[0].spec), want);
    }

    #[test]
    fn old_machine_sets_scale_down_oldest_first_and_unavailable_first() {
        let md = Rollout::rolling(4, json!(0), json!(2));
        let new = MsState::new("new", 300, 0, 0, 0);
        // "a" is older with all replicas available; "b" has 2 unavailable replicas.
        let old = vec![MsState::new("b", 200, 2, 2, 0), MsState::new("a", 100, 2, 2, 2)];
        let mut p = Planner::new(md, new, old);
        p.rolling_update().unwrap();
        // Unavailable replicas first (b → 0), then nothing more: minAvailable 2 is what a holds.
        assert_eq!(p.intents.get("b"), Some(&0));
        assert_eq!(p.intents.get("a"), None);
        assert_eq!(p.old[0].name, "a", "sorted oldest first");
    }

    #[test]
    fn mutant_scales_every_old_replica_down_at_once() {
        let md = Rollout::rolling(3, json!(1), json!(0));
        let mut p = Planner::new(md, MsState::new("new", 100, 0, 0, 0), vec![MsState::new("old", 0, 3, 3, 3)]);
        p.ignore_max_unavailable = true;
        p.rolling_update().unwrap();
        assert_eq!(p.intents.get("old"), Some(&0));
        assert_eq!(p.intents.get("new"), Some(&1));
    }

    #[test]
    fn deadlock_breaker_removes_one_unavailable_old_machine() {
        let md = Rollout::rolling(3, json!(1), json!(0));
        // old has one unavailable Machine; new is full of available ones; nothing scales.
        let new = MsState::new("new", 100, 1, 1, 1);
        let old = vec![MsState::new("old", 0, 3, 3, 2)];
        let mut p = Planner::new(md, new, old);
        p.rolling_update().unwrap();
        assert_eq!(p.intents.get("old"), Some(&2));
    }

    #[rstest]
    // A user deleted one old Machine: old acknowledges (3→2), new fills the gap (0→1).
    #[case(MsState::new("old", 0, 3, 2, 2), 3, (1, 2))]
    // Nothing deleted: nothing moves.
    #[case(MsState::new("old", 0, 3, 3, 3), 3, (0, 3))]
    // The MD scaled down to 2: old sheds one.
    #[case(MsState::new("old", 0, 3, 3, 3), 2, (0, 2))]
    fn on_delete(#[case] old: MsState, #[case] replicas: i64, #[case] want: (i64, i64)) {
        let md = Rollout { replicas: Some(replicas), strategy: StrategyType::OnDelete, max_surge: None, max_unavailable: None };
        let (mut new, mut old) = (MsState::new("new", 100, 0, 0, 0), vec![old]);
        // Two reconciles: the first acknowledges what is gone, the second fills the gap.
        for _ in 0..2 {
            let mut p = Planner::new(md.clone(), new.clone(), old.clone());
            p.on_delete().unwrap();
            let (n, o) = apply(&p);
            new = MsState::new("new", 100, n.spec, n.spec, n.spec);
            let status = o[0].status().min(o[0].spec);
            old = vec![MsState::new("old", 0, o[0].spec, status, status)];
        }
        assert_eq!((new.spec, old[0].spec), want);
    }

    #[test]
    fn on_delete_never_creates_before_the_deleted_machine_is_acknowledged() {
        let md = Rollout { replicas: Some(3), strategy: StrategyType::OnDelete, max_surge: None, max_unavailable: None };
        let mut p = Planner::new(md, MsState::new("new", 100, 0, 0, 0), vec![MsState::new("old", 0, 3, 2, 2)]);
        p.on_delete().unwrap();
        assert_eq!(p.intents.get("new"), None);
        assert_eq!(p.intents.get("old"), Some(&2));
    }

    #[rstest]
    // Single active MachineSet takes the whole new size.
    #[case(5, vec![("a", 0, 3, 3)], None, vec![("a", 5)])]
    // Two active: grow proportionally (3+1 → 6 with surge 1 = 7 allowed: +3 shared by size).
    #[case(6, vec![("a", 0, 3, 4), ("b", 10, 1, 4)], None, vec![("a", 5), ("b", 2)])]
    fn paused_scaling(
        #[case] replicas: i64,
        #[case] mss: Vec<(&str, u64, i64, i64)>,
        #[case] new: Option<(&str, u64, i64)>,
        #[case] want: Vec<(&str, i64)>,
    ) {
        let md = Rollout::rolling(replicas, json!(1), json!(0));
        let old: Vec<MsState> = mss
            .iter()
            .map(|(n, c, spec, max)| {
                let mut m = MsState::new(n, *c, *spec, *spec, *spec);
                m.max_annotation = Some(*max);
                m
            })
            .collect();
        let new = new.map(|(n, c, s)| MsState::new(n, c, s, s, s));
        let got = scale_paused(&md, 4, new.as_ref(), &old);
        let want: BTreeMap<String, i64> = want.into_iter().map(|(n, v)| (n.to_string(), v)).collect();
        assert_eq!(got, want);
    }
}
