//! Engine-level tests of the MachineDeployment and MachineSet controllers: a Cluster, a
//! KubeadmConfigTemplate, a DockerMachineTemplate and a MachineDeployment. The Cluster has no control
//! plane, so its Machines never get a Node and never become Available: the tests assert what the
//! MachineDeployment and MachineSet controllers do given that (CAPI's rollout stalls after the first
//! surge Machine).

use crate::controllers::common::keys;
use crate::controllers::conditions::{self, Status};
use crate::engine::{Sim, SimConfig};
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::mutants::{Mutant, Mutants};
use crate::object::{ObjKey, Object};
use crate::store::api::Patch;
use crate::store::Subresource;
use crate::testing::{apply_yaml, get, list, run_for};
use serde_json::{json, Value};
use std::sync::Arc;

/// The fixture every test starts from.
pub(crate) const FIXTURE: &str = r#"
apiVersion: cluster.x-k8s.io/v1beta2
kind: Cluster
metadata: {name: c1, namespace: default}
spec:
  clusterNetwork:
    pods: {cidrBlocks: [192.168.0.0/16]}
  infrastructureRef: {apiGroup: infrastructure.cluster.x-k8s.io, kind: DockerCluster, name: c1}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: DockerCluster
metadata: {name: c1, namespace: default}
spec: {}
---
apiVersion: bootstrap.cluster.x-k8s.io/v1beta2
kind: KubeadmConfigTemplate
metadata: {name: workers, namespace: default}
spec:
  template:
    spec:
      joinConfiguration:
        nodeRegistration:
          kubeletExtraArgs: [{name: eviction-hard, value: "nodefs.available<0%"}]
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: DockerMachineTemplate
metadata: {name: workers, namespace: default}
spec:
  template:
    spec:
      extraMounts:
      - {containerPath: /var/run/docker.sock, hostPath: /var/run/docker.sock}
---
apiVersion: cluster.x-k8s.io/v1beta2
kind: MachineDeployment
metadata: {name: md-0, namespace: default}
spec:
  clusterName: c1
  replicas: 3
  template:
    spec:
      clusterName: c1
      version: v1.34.0
      bootstrap:
        configRef: {apiGroup: bootstrap.cluster.x-k8s.io, kind: KubeadmConfigTemplate, name: workers}
      infrastructureRef: {apiGroup: infrastructure.cluster.x-k8s.io, kind: DockerMachineTemplate, name: workers}
"#;

pub(crate) fn start(mutants: Mutants, strategy: Option<&str>) -> Sim {
    let mut sim = Sim::new(SimConfig { seed: 7, mutants, ..Default::default() });
    sim.add_management("mgmt", FeatureGates { cluster_topology: true, ..Default::default() });
    let fixture = match strategy {
        Some(s) => FIXTURE.replace("  replicas: 3\n", &format!("  replicas: 3\n  rollout:\n    strategy: {{type: {s}}}\n")),
        None => FIXTURE.to_string(),
    };
    apply_yaml(&mut sim, &fixture);
    run_for(&mut sim, 20_000);
    sim
}

pub(crate) fn mss(sim: &Sim) -> Vec<Arc<Object>> {
    let mut v = list(sim, Kind::MachineSet);
    v.sort_by(|a, b| crate::controllers::common::older_first(a, b));
    v
}

pub(crate) fn machines_of(sim: &Sim, ms: &str) -> Vec<Arc<Object>> {
    list(sim, Kind::Machine).into_iter().filter(|m| m.label(keys::SET_NAME) == Some(ms)).collect()
}

pub(crate) fn patch(sim: &mut Sim, kind: Kind, name: &str, p: Value) {
    sim.patch(0, &ObjKey::new(kind, "default", name), &Patch::Merge(p), Subresource::Main).unwrap();
}

fn md(sim: &Sim) -> Arc<Object> {
    get(sim, Kind::MachineDeployment, "default", "md-0").unwrap()
}

fn cond_status(o: &Object, t: &str) -> Option<Status> {
    conditions::get(o, t).map(|c| c.status)
}

#[test]
fn creates_one_machineset_with_three_machines_and_their_objects() {
    let sim = start(Mutants::new(), None);
    let md = md(&sim);
    assert!(md.has_finalizer(super::FINALIZER));
    assert!(md.owner_of_kind("Cluster").is_some_and(|r| !r.controller && r.name == "c1"));
    assert_eq!(md.label(keys::CLUSTER_NAME), Some("c1"));
    assert_eq!(md.annotation(keys::REVISION), Some("1"));
    for k in [Kind::KubeadmConfigTemplate, Kind::DockerMachineTemplate] {
        let t = get(&sim, k, "default", "workers").unwrap();
        assert!(t.owner_of_kind("Cluster").is_some(), "{k} gets an owner reference to the Cluster");
    }
    let sets = mss(&sim);
    assert_eq!(sets.len(), 1);
    let ms = &sets[0];
    let (hash, rand) = ms.label(keys::MACHINE_TEMPLATE_HASH).unwrap().split_once('-').unwrap();
    assert!(hash.parse::<u32>().is_ok());
    assert_eq!(ms.name(), format!("md-0-{rand}"));
    assert_eq!(rand.len(), 5);
    assert!(ms.controller_ref().is_some_and(|r| r.kind == "MachineDeployment" && r.name == "md-0"));
    assert_eq!(ms.label(keys::DEPLOYMENT_NAME), Some("md-0"));
    assert_eq!(ms.annotation(keys::REVISION), Some("1"));
    assert_eq!(ms.annotation(keys::DESIRED_REPLICAS), Some("3"));
    assert_eq!(ms.annotation(keys::MAX_REPLICAS), Some("4"));
    assert_eq!(ms.annotation(keys::DISABLE_MACHINE_CREATE), Some("false"));
    assert_eq!(ms.i64_at("/spec/replicas"), Some(3));
    assert!(ms.has_finalizer(crate::controllers::machineset::FINALIZER));
    let hash_label = ms.label(keys::MACHINE_TEMPLATE_HASH).unwrap();
    assert_eq!(ms.at("/spec/selector/matchLabels").and_then(|m| m.get(keys::MACHINE_TEMPLATE_HASH)), Some(&json!(hash_label)));
    assert_eq!(ms.at("/spec/template/metadata/labels").and_then(|m| m.get(keys::MACHINE_TEMPLATE_HASH)), Some(&json!(hash_label)));

    let machines = machines_of(&sim, ms.name());
    assert_eq!(machines.len(), 3);
    for m in &machines {
        assert!(m.name().starts_with(&format!("{}-", ms.name())) && m.name().len() == ms.name().len() + 6);
        assert!(m.controller_ref().is_some_and(|r| r.kind == "MachineSet" && r.name == ms.name()));
        assert_eq!(m.label(keys::DEPLOYMENT_NAME), Some("md-0"));
        assert_eq!(m.label(keys::CLUSTER_NAME), Some("c1"));
        assert_eq!(m.label(keys::MACHINE_TEMPLATE_HASH), Some(hash_label));
        assert_eq!(m.str_at("/spec/version"), Some("v1.34.0"));
        assert_eq!(m.str_at("/spec/clusterName"), Some("c1"));
        assert_eq!(m.str_at("/spec/bootstrap/configRef/kind"), Some("KubeadmConfig"));
        assert_eq!(m.str_at("/spec/bootstrap/configRef/name"), Some(m.name()));
        assert_eq!(m.str_at("/spec/infrastructureRef/kind"), Some("DockerMachine"));
        assert_eq!(m.str_at("/spec/infrastructureRef/name"), Some(m.name()));
        let cfg = get(&sim, Kind::KubeadmConfig, "default", m.name()).expect("a KubeadmConfig named like the Machine");
        assert!(cfg.at("/spec/joinConfiguration").is_some());
        assert_eq!(cfg.annotation(keys::CLONED_FROM_NAME), Some("workers"));
        let dm = get(&sim, Kind::DockerMachine, "default", m.name()).expect("a DockerMachine named like the Machine");
        assert!(dm.at("/spec/extraMounts").is_some());
        assert_eq!(dm.annotation(keys::CLONED_FROM_GROUPKIND), Some("DockerMachineTemplate.infrastructure.cluster.x-k8s.io"));
        assert_eq!(dm.label(keys::CLUSTER_NAME), Some("c1"));
    }
    // Status: three replicas, none available (no control plane, no Node).
    let ms = get(&sim, Kind::MachineSet, "default", ms.name()).unwrap();
    assert_eq!(ms.i64_at("/status/replicas"), Some(3));
    assert_eq!(ms.i64_at("/status/availableReplicas"), Some(0));
    let md = self::md(&sim);
    assert_eq!(md.i64_at("/status/replicas"), Some(3));
    assert_eq!(md.str_at("/status/phase"), Some("Running"));
    assert_eq!(cond_status(&md, "Available"), Some(Status::False));
    assert_eq!(
        conditions::get(&md, "Available").unwrap().message,
        "0 available replicas, at least 3 required (spec.strategy.rollout.maxUnavailable is 0, spec.replicas is 3)"
    );
    assert_eq!(cond_status(&md, "ScalingUp"), Some(Status::False));
    assert_eq!(cond_status(&md, "Paused"), Some(Status::False));
    assert_eq!(md.i64_at("/status/observedGeneration"), Some(md.meta.generation));
}

#[test]
fn scales_to_five_and_back_deleting_by_priority() {
    let mut sim = start(Mutants::new(), None);
    let ms_name = mss(&sim)[0].name().to_string();
    patch(&mut sim, Kind::MachineDeployment, "md-0", json!({"spec": {"replicas": 5}}));
    run_for(&mut sim, 10_000);
    assert_eq!(mss(&sim).len(), 1, "a scale is not a rollout");
    assert_eq!(mss(&sim)[0].i64_at("/spec/replicas"), Some(5));
    assert_eq!(mss(&sim)[0].annotation(keys::DESIRED_REPLICAS), Some("5"));
    let five = machines_of(&sim, &ms_name);
    assert_eq!(five.len(), 5);
    assert_eq!(md(&sim).str_at("/status/phase"), Some("Running"));

    patch(&mut sim, Kind::MachineDeployment, "md-0", json!({"spec": {"replicas": 3}}));
    run_for(&mut sim, 10_000);
    assert_eq!(mss(&sim)[0].i64_at("/spec/replicas"), Some(3));
    // No Machine has a Node, so all are equally unhealthy: Random order deletes the first names.
    let mut names: Vec<String> = five.iter().map(|m| m.name().to_string()).collect();
    names.sort();
    let now = machines_of(&sim, &ms_name);
    let gone_or_deleting: Vec<String> =
        names.iter().filter(|n| now.iter().find(|m| m.name() == n.as_str()).is_none_or(|m| m.deleting())).cloned().collect();
    assert_eq!(gone_or_deleting, names[..2].to_vec());
    assert_eq!(now.iter().filter(|m| !m.deleting()).count(), 3);
}

#[test]
fn template_change_creates_a_new_machineset_and_the_surge_stalls() {
    let mut sim = start(Mutants::new(), None);
    let old_name = mss(&sim)[0].name().to_string();
    patch(&mut sim, Kind::MachineDeployment, "md-0", json!({"spec": {"template": {"spec": {"version": "v1.34.1"}}}}));
    run_for(&mut sim, 20_000);
    let sets = mss(&sim);
    assert_eq!(sets.len(), 2);
    let new = sets.iter().find(|m| m.name() != old_name).unwrap().clone();
    let old = sets.iter().find(|m| m.name() == old_name).unwrap().clone();
    assert_eq!(new.annotation(keys::REVISION), Some("2"));
    assert_eq!(old.annotation(keys::REVISION), Some("1"));
    assert_eq!(md(&sim).annotation(keys::REVISION), Some("2"));
    assert_ne!(new.label(keys::MACHINE_TEMPLATE_HASH), old.label(keys::MACHINE_TEMPLATE_HASH));
    assert_eq!(new.str_at("/spec/template/spec/version"), Some("v1.34.1"));
    // maxSurge 1 / maxUnavailable 0: one new Machine, and the old ones stay until it is Available.
    assert_eq!(new.i64_at("/spec/replicas"), Some(1));
    assert_eq!(old.i64_at("/spec/replicas"), Some(3));
    assert_eq!(machines_of(&sim, new.name()).len(), 1);
    assert_eq!(machines_of(&sim, &old_name).len(), 3);
    for m in machines_of(&sim, &old_name) {
        let c = conditions::get(&m, "UpToDate").expect("UpToDate set on old Machines");
        assert_eq!((c.status, c.reason), (Status::False, "NotUpToDate"));
        assert_eq!(c.message, "* Version v1.34.0, v1.34.1 required");
    }
    let md = md(&sim);
    let rolling = conditions::get(&md, "RollingOut").unwrap();
    assert_eq!(rolling.status, Status::True);
    assert!(
        rolling.message.starts_with("Rolling out 3 not up-to-date replicas\n* Version v1.34.0, v1.34.1 required"),
        "{}",
        rolling.message
    );
    // The surge Machine never becomes Available: nothing moves any more.
    run_for(&mut sim, 120_000);
    let sets = mss(&sim);
    assert_eq!(sets.len(), 2);
    assert_eq!(get(&sim, Kind::MachineSet, "default", new.name()).unwrap().i64_at("/spec/replicas"), Some(1));
    assert_eq!(get(&sim, Kind::MachineSet, "default", &old_name).unwrap().i64_at("/spec/replicas"), Some(3));
    assert_eq!(list(&sim, Kind::Machine).iter().filter(|m| !m.deleting()).count(), 4);
}

#[test]
fn the_ignore_max_unavailable_mutant_drops_every_old_replica_at_once() {
    let mut sim = start(Mutants::from([Mutant::MdIgnoreMaxUnavailable]), None);
    let old_name = mss(&sim)[0].name().to_string();
    patch(&mut sim, Kind::MachineDeployment, "md-0", json!({"spec": {"template": {"spec": {"version": "v1.34.1"}}}}));
    run_for(&mut sim, 20_000);
    let old = get(&sim, Kind::MachineSet, "default", &old_name).unwrap();
    assert_eq!(old.i64_at("/spec/replicas"), Some(0));
    assert!(machines_of(&sim, &old_name).iter().all(|m| m.deleting()), "every old Machine is being deleted");
}

#[test]
fn on_delete_waits_for_the_user_and_replaces_only_gone_machines() {
    let mut sim = start(Mutants::new(), Some("OnDelete"));
    let old_name = mss(&sim)[0].name().to_string();
    patch(&mut sim, Kind::MachineDeployment, "md-0", json!({"spec": {"template": {"spec": {"version": "v1.34.1"}}}}));
    run_for(&mut sim, 20_000);
    let sets = mss(&sim);
    assert_eq!(sets.len(), 2);
    let new_name = sets.iter().find(|m| m.name() != old_name).unwrap().name().to_string();
    let old = get(&sim, Kind::MachineSet, "default", &old_name).unwrap();
    assert_eq!(old.annotation(keys::DISABLE_MACHINE_CREATE), Some("true"));
    assert_eq!(old.i64_at("/spec/replicas"), Some(3));
    assert_eq!(get(&sim, Kind::MachineSet, "default", &new_name).unwrap().i64_at("/spec/replicas"), Some(0));
    // The user deletes one old Machine; while its object exists nothing is created.
    let victim = machines_of(&sim, &old_name)[0].name().to_string();
    sim.delete(0, &ObjKey::new(Kind::Machine, "default", &victim), capi_scenarios::model::Propagation::Background).unwrap();
    run_for(&mut sim, 5_000);
    if get(&sim, Kind::Machine, "default", &victim).is_some() {
        assert_eq!(machines_of(&sim, &new_name).len(), 0);
        assert_eq!(get(&sim, Kind::MachineSet, "default", &old_name).unwrap().i64_at("/spec/replicas"), Some(3));
        // Stand in for the Machine controller finishing the deletion.
        patch(&mut sim, Kind::Machine, &victim, json!({"metadata": {"finalizers": null}}));
    }
    run_for(&mut sim, 20_000);
    assert!(get(&sim, Kind::Machine, "default", &victim).is_none());
    assert_eq!(get(&sim, Kind::MachineSet, "default", &old_name).unwrap().i64_at("/spec/replicas"), Some(2));
    assert_eq!(get(&sim, Kind::MachineSet, "default", &new_name).unwrap().i64_at("/spec/replicas"), Some(1));
    assert_eq!(machines_of(&sim, &new_name).len(), 1);
    assert_eq!(machines_of(&sim, &old_name).iter().filter(|m| !m.deleting()).count(), 2);
    // Its KubeadmConfig and DockerMachine do not outlive it.
    run_for(&mut sim, 20_000);
    assert!(list(&sim, Kind::KubeadmConfig).iter().all(|c| c.name() != victim || c.deleting()));
}

#[test]
fn a_deleted_machine_is_replaced_only_once_it_is_gone() {
    let mut sim = start(Mutants::new(), None);
    let ms_name = mss(&sim)[0].name().to_string();
    let victim = machines_of(&sim, &ms_name)[1].name().to_string();
    sim.delete(0, &ObjKey::new(Kind::Machine, "default", &victim), capi_scenarios::model::Propagation::Background).unwrap();
    let deadline = sim.now() + 5_000;
    let mut most = 0;
    sim.run_while_not(deadline, |s| {
        if get(s, Kind::Machine, "default", &victim).is_some() {
            most = most.max(machines_of(s, &ms_name).len());
        }
        false
    });
    assert!(most <= 3, "a replacement was created while the deleted Machine still existed");
    if get(&sim, Kind::Machine, "default", &victim).is_some() {
        patch(&mut sim, Kind::Machine, &victim, json!({"metadata": {"finalizers": null}}));
    }
    run_for(&mut sim, 10_000);
    let now = machines_of(&sim, &ms_name);
    assert_eq!(now.iter().filter(|m| !m.deleting()).count(), 3);
    assert!(now.iter().all(|m| m.name() != victim));
    assert_eq!(get(&sim, Kind::MachineSet, "default", &ms_name).unwrap().i64_at("/spec/replicas"), Some(3));
}

#[test]
fn deleting_the_machinedeployment_deletes_its_machinesets() {
    let mut sim = start(Mutants::new(), None);
    let ms_name = mss(&sim)[0].name().to_string();
    sim.delete(0, &ObjKey::new(Kind::MachineDeployment, "default", "md-0"), capi_scenarios::model::Propagation::Background).unwrap();
    run_for(&mut sim, 5_000);
    let ms = get(&sim, Kind::MachineSet, "default", &ms_name);
    assert!(ms.as_ref().is_none_or(|m| m.deleting()));
    assert!(list(&sim, Kind::Machine).iter().all(|m| m.deleting()));
    // Stand in for the Machine controller: let the Machines go.
    for m in list(&sim, Kind::Machine) {
        if m.has_finalizer("machine.cluster.x-k8s.io") && m.meta.finalizers.len() == 1 {
            patch(&mut sim, Kind::Machine, m.name(), json!({"metadata": {"finalizers": null}}));
        }
    }
    run_for(&mut sim, 20_000);
    if list(&sim, Kind::Machine).is_empty() {
        assert!(get(&sim, Kind::MachineSet, "default", &ms_name).is_none());
        assert!(get(&sim, Kind::MachineDeployment, "default", "md-0").is_none());
    }
}

#[test]
fn paused_cluster_stops_everything() {
    let mut sim = start(Mutants::new(), None);
    patch(&mut sim, Kind::Cluster, "c1", json!({"spec": {"paused": true}}));
    run_for(&mut sim, 5_000);
    let md = md(&sim);
    assert_eq!(cond_status(&md, "Paused"), Some(Status::True));
    assert_eq!(cond_status(&mss(&sim)[0], "Paused"), Some(Status::True));
    patch(&mut sim, Kind::MachineDeployment, "md-0", json!({"spec": {"replicas": 4}}));
    run_for(&mut sim, 10_000);
    assert_eq!(mss(&sim)[0].i64_at("/spec/replicas"), Some(3));
    patch(&mut sim, Kind::Cluster, "c1", json!({"spec": {"paused": false}}));
    run_for(&mut sim, 10_000);
    assert_eq!(mss(&sim)[0].i64_at("/spec/replicas"), Some(4));
    assert_eq!(list(&sim, Kind::Machine).len(), 4);
}

/// What the MHC writes on a Machine it finds unhealthy.
fn mark_unhealthy(sim: &mut Sim, name: &str) {
    let key = ObjKey::new(Kind::Machine, "default", name);
    let mut m = (*get(sim, Kind::Machine, "default", name).unwrap()).clone();
    let now = sim.now();
    conditions::set(
        &mut m,
        [
            conditions::Cond::f("HealthCheckSucceeded", "NodeStartupTimeout", "Node failed to report startup in 10m0s"),
            conditions::Cond::f("OwnerRemediated", "WaitingForRemediation", "Waiting for remediation"),
        ],
        now,
    );
    let conds = m.at("/status/conditions").cloned().unwrap();
    sim.patch(0, &key, &Patch::Merge(json!({"status": {"conditions": conds}})), Subresource::Status).unwrap();
}

#[test]
fn remediation_deletes_unhealthy_machines_within_max_in_flight() {
    let mut sim = start(Mutants::new(), None);
    patch(&mut sim, Kind::MachineDeployment, "md-0", json!({"spec": {"remediation": {"maxInFlight": 1}}}));
    run_for(&mut sim, 2_000);
    let ms_name = mss(&sim)[0].name().to_string();
    let mut names: Vec<String> = machines_of(&sim, &ms_name).iter().map(|m| m.name().to_string()).collect();
    names.sort();
    mark_unhealthy(&mut sim, &names[0]);
    mark_unhealthy(&mut sim, &names[1]);
    // The MachineSet reconciles each object at most once per second (CAPI's rate limit).
    run_for(&mut sim, 3_000);
    // Same age: the first name goes first; the second waits for the token.
    let first = get(&sim, Kind::Machine, "default", &names[0]);
    assert!(first.as_ref().is_none_or(|m| m.deleting()), "the first unhealthy Machine is remediated");
    if let Some(m) = first {
        assert_eq!(conditions::get(&m, "OwnerRemediated").map(|c| c.reason), Some("MachineDeleting"));
        let second = get(&sim, Kind::Machine, "default", &names[1]).unwrap();
        assert!(!second.deleting());
        let c = conditions::get(&second, "OwnerRemediated").unwrap();
        assert_eq!((c.status, c.reason), (Status::False, "RemediationDeferred"));
        assert!(c.message.contains("maxInFlight is 1"), "{}", c.message);
        let md = md(&sim);
        assert_eq!(cond_status(&md, "Remediating"), Some(Status::True));
        // Let the first one go (the Machine controller's job); the second is remediated next.
        if get(&sim, Kind::Machine, "default", &names[0]).is_some() {
            patch(&mut sim, Kind::Machine, &names[0], json!({"metadata": {"finalizers": null}}));
        }
    }
    run_for(&mut sim, 20_000);
    let second = get(&sim, Kind::Machine, "default", &names[1]);
    assert!(second.as_ref().is_none_or(|m| m.deleting()), "the second unhealthy Machine is remediated once the first is gone");
    // A deleting Machine still counts: its replacement comes once it is gone.
    assert!(machines_of(&sim, &ms_name).len() <= 3);
    if second.is_some() {
        patch(&mut sim, Kind::Machine, &names[1], json!({"metadata": {"finalizers": null}}));
    }
    run_for(&mut sim, 20_000);
    assert_eq!(machines_of(&sim, &ms_name).iter().filter(|m| !m.deleting()).count(), 3);
}

#[test]
fn old_machinesets_do_not_remediate() {
    let mut sim = start(Mutants::new(), None);
    let old_name = mss(&sim)[0].name().to_string();
    patch(&mut sim, Kind::MachineDeployment, "md-0", json!({"spec": {"template": {"spec": {"version": "v1.34.1"}}}}));
    run_for(&mut sim, 5_000);
    let victim = machines_of(&sim, &old_name)[0].name().to_string();
    mark_unhealthy(&mut sim, &victim);
    run_for(&mut sim, 2_000);
    let m = get(&sim, Kind::Machine, "default", &victim).unwrap();
    assert!(!m.deleting());
    let c = conditions::get(&m, "OwnerRemediated").unwrap();
    assert_eq!((c.status, c.reason), (Status::False, "CannotBeRemediated"));
}

#[test]
fn paused_machinedeployment_only_scales() {
    let mut sim = start(Mutants::new(), None);
    let ms_name = mss(&sim)[0].name().to_string();
    patch(
        &mut sim,
        Kind::MachineDeployment,
        "md-0",
        json!({"spec": {"paused": true, "replicas": 4, "template": {"spec": {"version": "v1.34.1"}}}}),
    );
    run_for(&mut sim, 10_000);
    let sets = mss(&sim);
    assert_eq!(sets.len(), 1, "no rollout while paused");
    assert_eq!(sets[0].i64_at("/spec/replicas"), Some(4));
    assert_eq!(sets[0].str_at("/spec/template/spec/version"), Some("v1.34.0"));
    assert_eq!(machines_of(&sim, &ms_name).len(), 4);
    patch(&mut sim, Kind::MachineDeployment, "md-0", json!({"spec": {"paused": false}}));
    run_for(&mut sim, 10_000);
    assert_eq!(mss(&sim).len(), 2, "the rollout starts once unpaused");
}
