//! Tests of the topology controllers: an engine-level run of the quick-start ClusterClass (both CAPD
//! shapes) and controller-level runs (one reconcile at a time against an API server whose content is
//! also the cache) for upgrades, removal of workers, pausing and a missing ClusterClass — independent of
//! the other controllers, which the upgrade tests stand in for by writing control plane status.

use super::clusterclass::ClusterClassReconciler;
use super::reconcile::TopologyReconciler;
use crate::controllers::common::keys;
use crate::controllers::conditions;
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::mutants::{Mutant, Mutants};
use crate::object::{ObjKey, Object};
use crate::runtime::{Ctx, ReconcileResult, Reconciler};
use crate::store::api::{ApiServer, WriteOptions};
use crate::store::{Store, Subresource};
use crate::testing;
use crate::world::timing::Timing;
use crate::world::World;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use rstest::rstest;
use serde_json::{json, Value};
use std::sync::Arc;

const DOCKER_CLASS: &str = include_str!("../../../../fixtures/providers/docker/v1.13/clusterclass-quick-start.yaml");
const DEV_CLASS: &str = include_str!("../../../../fixtures/providers/docker/v1.15/clusterclass-quick-start.yaml");

fn cluster_yaml(version: &str, mds: &[&str]) -> String {
    let workers: String = mds.iter().map(|n| format!("      - {{class: default-worker, name: {n}, replicas: 3}}\n")).collect();
    format!(
        r#"apiVersion: cluster.x-k8s.io/v1beta2
kind: Cluster
metadata:
  name: c1
  namespace: default
spec:
  clusterNetwork:
    services: {{cidrBlocks: ["10.128.0.0/12"]}}
    pods: {{cidrBlocks: ["192.168.0.0/16"]}}
    serviceDomain: cluster.local
  topology:
    classRef: {{name: quick-start}}
    controlPlane: {{replicas: 3}}
    variables:
    - {{name: imageRepository, value: ""}}
    - {{name: etcdImageTag, value: ""}}
    - {{name: coreDNSImageTag, value: ""}}
    - name: podSecurityStandard
      value: {{enabled: true, enforce: baseline, audit: restricted, warn: restricted}}
    version: {version}
    workers:
      machineDeployments:
{workers}"#
    )
}

fn by_ref(sim_get: impl Fn(Kind, &str) -> Option<Arc<Object>>, r: &Value) -> Arc<Object> {
    let kind = Kind::from_name(r["kind"].as_str().unwrap()).unwrap();
    sim_get(kind, r["name"].as_str().unwrap()).unwrap_or_else(|| panic!("missing {r}"))
}

fn assert_generated_name(name: &str, prefix: &str) {
    assert!(name.starts_with(prefix) && name.len() == prefix.len() + 5, "{name} is not {prefix}<rand5>");
}

#[rstest]
#[case::docker_kinds(false)]
#[case::dev_kinds(true)]
fn quick_start_class_generates_the_topology(#[case] dev: bool) {
    let mut sim = testing::sim(7);
    testing::apply_yaml(&mut sim, if dev { DEV_CLASS } else { DOCKER_CLASS });
    testing::run_for(&mut sim, 30_000);
    let cc = testing::get(&sim, Kind::ClusterClass, "default", "quick-start").unwrap();
    assert!(conditions::is_true(&cc, "VariablesReady"));
    assert!(conditions::is_true(&cc, "RefVersionsUpToDate"));
    assert_eq!(cc.i64_at("/status/observedGeneration"), Some(cc.meta.generation));
    let var_names: Vec<&str> =
        cc.at("/status/variables").unwrap().as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(var_names, ["coreDNSImageTag", "etcdImageTag", "imageRepository", "podSecurityStandard"]);
    let (infra_kind, machine_kind, custom_image) = if dev {
        (Kind::DevCluster, Kind::DevMachineTemplate, "/spec/template/spec/backend/docker/customImage")
    } else {
        (Kind::DockerCluster, Kind::DockerMachineTemplate, "/spec/template/spec/customImage")
    };
    let owned_templates = testing::list(&sim, machine_kind);
    assert!(owned_templates.iter().all(|t| t.owner_of_kind("ClusterClass").is_some_and(|o| o.name == "quick-start" && !o.controller)));

    testing::apply_yaml(&mut sim, &cluster_yaml("v1.34.0", &["md-0"]));
    testing::run_for(&mut sim, 30_000);
    let get = |k: Kind, n: &str| testing::get(&sim, k, "default", n);
    let cluster = get(Kind::Cluster, "c1").unwrap();
    assert_eq!(cluster.label(keys::TOPOLOGY_OWNED), Some(""));
    assert_eq!(cluster.label(keys::CLUSTER_NAME), Some("c1"));
    let tr = conditions::get(&cluster, "TopologyReconciled").unwrap();
    assert_eq!((tr.status, tr.reason), (conditions::Status::True, "ReconcileSucceeded"), "{}", tr.message);

    // Infrastructure cluster.
    let infra_ref = cluster.at("/spec/infrastructureRef").unwrap();
    assert_eq!(infra_ref["kind"], infra_kind.name());
    assert_eq!(infra_ref["apiGroup"], "infrastructure.cluster.x-k8s.io");
    let infra = by_ref(get, infra_ref);
    assert_generated_name(infra.name(), "c1-");
    assert_eq!(infra.label(keys::TOPOLOGY_OWNED), Some(""));
    assert_eq!(infra.annotation(keys::CLONED_FROM_NAME), Some("quick-start-cluster"));
    let fds = if dev { "/spec/backend/docker/failureDomains" } else { "/spec/failureDomains" };
    assert_eq!(infra.at(fds).and_then(Value::as_array).map(Vec::len), Some(8));
    assert_eq!(testing::list(&sim, infra_kind).len(), 1);

    // Control plane and its machine template.
    let cp_ref = cluster.at("/spec/controlPlaneRef").unwrap();
    assert_eq!(cp_ref["kind"], "KubeadmControlPlane");
    let kcp = by_ref(get, cp_ref);
    assert_generated_name(kcp.name(), "c1-");
    assert_eq!(kcp.str_at("/spec/version"), Some("v1.34.0"));
    assert_eq!(kcp.i64_at("/spec/replicas"), Some(3));
    assert_eq!(kcp.annotation(keys::CLONED_FROM_GROUPKIND), Some("KubeadmControlPlaneTemplate.controlplane.cluster.x-k8s.io"));
    let files = kcp.at("/spec/kubeadmConfigSpec/files").unwrap();
    assert_eq!(files[0]["path"], "/etc/kubernetes/kube-apiserver-admission-pss.yaml");
    assert!(kcp.at("/spec/kubeadmConfigSpec/clusterConfiguration/etcd").is_none(), "etcdImageTag is empty: the patch is disabled");
    assert_eq!(kcp.at("/spec/machineTemplate/metadata/labels").unwrap()[keys::TOPOLOGY_OWNED], "");
    let mt_ref = kcp.at("/spec/machineTemplate/spec/infrastructureRef").unwrap();
    assert_eq!(mt_ref["kind"], machine_kind.name());
    let cp_mt = by_ref(get, mt_ref);
    assert_generated_name(cp_mt.name(), "c1-");
    assert_eq!(cp_mt.at(custom_image), Some(&json!("kindest/node:v1.34.0")));
    assert!(cp_mt.owner_of_kind("Cluster").is_some_and(|o| o.name == "c1"));

    // MachineDeployment, its templates, and the health checks.
    let mds = testing::list(&sim, Kind::MachineDeployment);
    assert_eq!(mds.len(), 1);
    let md = &mds[0];
    assert_generated_name(md.name(), "c1-md-0-");
    assert_eq!(md.label(keys::TOPOLOGY_DEPLOYMENT_NAME), Some("md-0"));
    assert_eq!(
        md.at("/spec/selector/matchLabels"),
        Some(&json!({keys::CLUSTER_NAME: "c1", keys::TOPOLOGY_OWNED: "", keys::TOPOLOGY_DEPLOYMENT_NAME: "md-0"}))
    );
    assert_eq!(md.at("/spec/template/metadata/labels").unwrap()[keys::TOPOLOGY_DEPLOYMENT_NAME], "md-0");
    assert_eq!(md.str_at("/spec/template/spec/version"), Some("v1.34.0"));
    assert_eq!(md.i64_at("/spec/replicas"), Some(3));
    let md_infra = by_ref(get, md.at("/spec/template/spec/infrastructureRef").unwrap());
    assert_generated_name(md_infra.name(), "c1-md-0-");
    assert_eq!(md_infra.at(custom_image), Some(&json!("kindest/node:v1.34.0")));
    let md_boot = by_ref(get, md.at("/spec/template/spec/bootstrap/configRef").unwrap());
    assert_eq!(md_boot.kind, Kind::KubeadmConfigTemplate);
    assert_generated_name(md_boot.name(), "c1-md-0-");
    assert_eq!(md_boot.label(keys::TOPOLOGY_DEPLOYMENT_NAME), Some("md-0"));
    let cp_mhc = get(Kind::MachineHealthCheck, kcp.name()).expect("control plane MHC");
    assert_eq!(cp_mhc.at("/spec/selector/matchLabels"), Some(&json!({keys::TOPOLOGY_OWNED: "", keys::CONTROL_PLANE: ""})));
    assert_eq!(cp_mhc.at("/spec/checks/unhealthyNodeConditions").and_then(Value::as_array).map(Vec::len), Some(2));
    let md_mhc = get(Kind::MachineHealthCheck, md.name()).expect("MachineDeployment MHC");
    assert_eq!(md_mhc.at("/spec/selector/matchLabels"), Some(&json!({keys::TOPOLOGY_OWNED: "", keys::TOPOLOGY_DEPLOYMENT_NAME: "md-0"})));

    // Names are stable: more time changes nothing that was generated.
    testing::run_for(&mut sim, 60_000);
    let cluster2 = testing::get(&sim, Kind::Cluster, "default", "c1").unwrap();
    assert_eq!(cluster2.at("/spec/infrastructureRef"), cluster.at("/spec/infrastructureRef"));
    assert_eq!(cluster2.at("/spec/controlPlaneRef"), cluster.at("/spec/controlPlaneRef"));
    assert_eq!(testing::list(&sim, Kind::MachineDeployment).len(), 1);
    assert_eq!(testing::list(&sim, Kind::KubeadmControlPlane).len(), 1);
    assert_eq!(testing::list(&sim, machine_kind).len(), 4, "two class templates and two per-cluster copies");
}

/// One reconcile at a time, with the API server's content as the cache.
struct Harness {
    api: ApiServer,
    world: World,
    names: ChaCha8Rng,
    mutants: Mutants,
    now: u64,
    topology: TopologyReconciler,
}

impl Harness {
    fn new(mutants: &[Mutant]) -> Self {
        let gates = FeatureGates { cluster_topology: true, ..Default::default() };
        Harness {
            api: ApiServer::new(Store::new(3), gates, crate::webhooks::all()),
            world: World::new(Timing::default(), ChaCha8Rng::seed_from_u64(1)),
            names: ChaCha8Rng::seed_from_u64(2),
            mutants: mutants.iter().copied().collect(),
            now: 0,
            topology: TopologyReconciler::default(),
        }
    }

    fn opts(&self) -> WriteOptions<'static> {
        WriteOptions::at(self.now)
    }

    fn apply(&mut self, yaml: &str) {
        for doc in serde_yaml::Deserializer::from_str(yaml) {
            let v: Value = serde::Deserialize::deserialize(doc).unwrap();
            let mut o = Object::from_json(&v).unwrap();
            if o.meta.namespace.is_empty() {
                o.meta.namespace = "default".into();
            }
            match self.api.store.get(&o.key()).cloned() {
                None => {
                    self.api.create(o, self.opts()).unwrap();
                }
                Some(cur) => {
                    o.meta.resource_version = cur.meta.resource_version;
                    self.api.update(o, Subresource::Main, None, self.opts()).unwrap();
                }
            }
        }
    }

    fn run(&mut self, r: &dyn Reconciler, key: &ObjKey) -> ReconcileResult {
        self.now += 1000;
        let cache = self.api.store.objects().clone();
        let mut ctx = Ctx::new(self.now, &cache, &mut self.api, &mut self.world, &mut self.names, &self.mutants, "mgmt");
        r.reconcile(&mut ctx, key)
    }

    fn class(&mut self) {
        self.apply(DEV_CLASS);
        let key = ObjKey::new(Kind::ClusterClass, "default", "quick-start");
        for _ in 0..3 {
            self.run(&ClusterClassReconciler, &key).unwrap();
        }
    }

    fn cluster_key() -> ObjKey {
        ObjKey::new(Kind::Cluster, "default", "c1")
    }

    fn topology(&mut self) -> ReconcileResult {
        let key = Self::cluster_key();
        let t = std::mem::take(&mut self.topology);
        let r = self.run(&t, &key);
        self.topology = t;
        r
    }

    fn get(&self, kind: Kind, name: &str) -> Option<Arc<Object>> {
        self.api.store.get(&ObjKey::new(kind, "default", name)).cloned()
    }

    fn cluster(&self) -> Arc<Object> {
        self.get(Kind::Cluster, "c1").unwrap()
    }

    fn kcp(&self) -> Arc<Object> {
        let c = self.cluster();
        self.get(Kind::KubeadmControlPlane, c.str_at("/spec/controlPlaneRef/name").unwrap()).unwrap()
    }

    fn mds(&self) -> Vec<Arc<Object>> {
        self.api.store.objects().of_kind(Kind::MachineDeployment, None).cloned().collect()
    }

    /// Stand in for KCP: report the control plane's versions.
    fn kcp_reports(&mut self, versions: &[&str]) {
        let mut k = (*self.kcp()).clone();
        k.set("/status/versions", Value::Array(versions.iter().map(|v| json!({"version": v, "replicas": 1})).collect()));
        self.api.update(k, Subresource::Status, None, self.opts()).unwrap();
    }

    fn set_version(&mut self, v: &str) -> Result<(), String> {
        let mut c = (*self.cluster()).clone();
        c.set("/spec/topology/version", json!(v));
        self.api.update(c, Subresource::Main, None, self.opts()).map(|_| ()).map_err(|e| e.message)
    }

    fn condition(&self) -> (conditions::Status, String, String) {
        let c = self.cluster();
        let tr = conditions::get(&c, "TopologyReconciled").unwrap();
        (tr.status, tr.reason.to_string(), tr.message.to_string())
    }
}

#[test]
fn upgrade_goes_control_plane_first_then_machine_deployments_one_at_a_time() {
    let mut h = Harness::new(&[]);
    h.class();
    h.apply(&cluster_yaml("v1.34.0", &["md-0", "md-1"]));
    h.topology().unwrap();
    h.topology().unwrap();
    let kcp_name = h.kcp().name().to_string();
    let cp_template = h.kcp().str_at("/spec/machineTemplate/spec/infrastructureRef/name").unwrap().to_string();

    // A version bump is refused while the control plane is provisioning.
    let e = h.set_version("v1.35.0").unwrap_err();
    assert!(e.ends_with("version cannot be changed: control plane is currently provisioning"), "{e}");
    h.kcp_reports(&["v1.34.0"]);
    h.set_version("v1.35.0").unwrap();

    // Control plane first: KCP version, a rotated machine template, the upgrade-step annotation.
    h.topology().unwrap();
    let kcp = h.kcp();
    assert_eq!(kcp.name(), kcp_name);
    assert_eq!(kcp.str_at("/spec/version"), Some("v1.35.0"));
    let new_template = kcp.str_at("/spec/machineTemplate/spec/infrastructureRef/name").unwrap().to_string();
    assert_ne!(new_template, cp_template);
    assert!(h.get(Kind::DevMachineTemplate, &cp_template).is_none(), "the rotated-away template is deleted");
    assert_eq!(
        h.get(Kind::DevMachineTemplate, &new_template).unwrap().str_at("/spec/template/spec/backend/docker/customImage"),
        Some("kindest/node:v1.35.0")
    );
    assert_eq!(h.cluster().annotation(super::upgrade::UPGRADE_STEP), Some("v1.35.0"));
    assert!(h.mds().iter().all(|md| md.str_at("/spec/template/spec/version") == Some("v1.34.0")));
    let (status, reason, msg) = h.condition();
    assert_eq!((status, reason.as_str()), (conditions::Status::False, "ClusterUpgrading"));
    assert!(msg.starts_with("Cluster is upgrading to v1.35.0\n  * KubeadmControlPlane upgrading to version v1.35.0"), "{msg}");

    // While the control plane rolls out, workers wait.
    h.kcp_reports(&["v1.34.0", "v1.35.0"]);
    h.topology().unwrap();
    assert!(h.mds().iter().all(|md| md.str_at("/spec/template/spec/version") == Some("v1.34.0")));

    // Control plane done: one MachineDeployment at a time (concurrency 1).
    h.kcp_reports(&["v1.35.0"]);
    h.topology().unwrap();
    let versions: Vec<String> = h.mds().iter().map(|m| m.str_at("/spec/template/spec/version").unwrap().to_string()).collect();
    assert_eq!(versions.iter().filter(|v| *v == "v1.35.0").count(), 1, "{versions:?}");
    let (_, _, msg) = h.condition();
    assert!(msg.contains("upgrading to version v1.35.0") && msg.contains("pending upgrade to version v1.35.0"), "{msg}");

    // A Machine of the upgraded MachineDeployment still on the old version holds the next one.
    let upgraded = h.mds().into_iter().find(|m| m.str_at("/spec/template/spec/version") == Some("v1.35.0")).unwrap();
    let md_label = upgraded.label(keys::TOPOLOGY_DEPLOYMENT_NAME).unwrap().to_string();
    let mut machine = Object::new(Kind::Machine, "default", "m1");
    machine.meta.labels = [(keys::CLUSTER_NAME, "c1"), (keys::TOPOLOGY_OWNED, ""), (keys::TOPOLOGY_DEPLOYMENT_NAME, md_label.as_str())]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    machine.set("/spec/clusterName", json!("c1"));
    machine.set("/spec/version", json!("v1.34.0"));
    machine.set("/spec/bootstrap/dataSecretName", json!("x"));
    machine.set("/spec/infrastructureRef", json!({"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DevMachine", "name": "m1"}));
    h.api.store.create(machine, h.now).unwrap();
    h.topology().unwrap();
    let versions: Vec<String> = h.mds().iter().map(|m| m.str_at("/spec/template/spec/version").unwrap().to_string()).collect();
    assert_eq!(versions.iter().filter(|v| *v == "v1.35.0").count(), 1, "{versions:?}");

    // The Machine catches up: the second MachineDeployment goes, then everything is reconciled.
    h.api.store.delete(&ObjKey::new(Kind::Machine, "default", "m1"), capi_scenarios::model::Propagation::Background, None, h.now).unwrap();
    h.topology().unwrap();
    assert!(h.mds().iter().all(|md| md.str_at("/spec/template/spec/version") == Some("v1.35.0")));
    h.topology().unwrap();
    let (status, reason, msg) = h.condition();
    assert_eq!((status, reason.as_str()), (conditions::Status::True, "ReconcileSucceeded"), "{msg}");
    assert!(h.cluster().annotation(super::upgrade::UPGRADE_STEP).is_none());
}

#[test]
fn workers_first_mutant_bumps_machine_deployments_with_the_control_plane() {
    let mut h = Harness::new(&[Mutant::TopologyWorkersFirst]);
    h.class();
    h.apply(&cluster_yaml("v1.34.0", &["md-0"]));
    h.topology().unwrap();
    h.topology().unwrap();
    h.kcp_reports(&["v1.34.0"]);
    h.set_version("v1.35.0").unwrap();
    h.topology().unwrap();
    assert_eq!(h.kcp().str_at("/spec/version"), Some("v1.35.0"));
    assert_eq!(h.mds()[0].str_at("/spec/template/spec/version"), Some("v1.35.0"));
}

#[test]
fn removed_machine_deployments_are_deleted_with_their_health_check() {
    let mut h = Harness::new(&[]);
    h.class();
    h.apply(&cluster_yaml("v1.34.0", &["md-0", "md-1"]));
    h.topology().unwrap();
    assert_eq!(h.mds().len(), 2);
    let names: Vec<String> = h.mds().iter().map(|m| m.name().to_string()).collect();
    h.topology().unwrap();
    // Stable names across reconciles.
    assert_eq!(h.mds().iter().map(|m| m.name().to_string()).collect::<Vec<_>>(), names);
    let mut c = (*h.cluster()).clone();
    c.set("/spec/topology/workers/machineDeployments", json!([{"class": "default-worker", "name": "md-0", "replicas": 3}]));
    h.api.update(c, Subresource::Main, None, h.opts()).unwrap();
    h.topology().unwrap();
    let remaining: Vec<String> = h.mds().iter().map(|m| m.label(keys::TOPOLOGY_DEPLOYMENT_NAME).unwrap().to_string()).collect();
    assert_eq!(remaining, ["md-0"]);
    let gone = names.iter().find(|n| n.starts_with("c1-md-1-")).unwrap();
    assert!(h.get(Kind::MachineHealthCheck, gone).is_none());
}

#[test]
fn paused_and_missing_class_conditions() {
    let mut h = Harness::new(&[]);
    h.apply(&cluster_yaml("v1.34.0", &["md-0"]));
    let err = h.topology().unwrap_err();
    assert_eq!(err.0, "failed to retrieve ClusterClass default/quick-start: clusterclasses.cluster.x-k8s.io \"quick-start\" not found");
    let (status, reason, msg) = h.condition();
    assert_eq!((status, reason.as_str(), msg.as_str()), (conditions::Status::False, "ReconcileFailed", err.0.as_str()));

    let mut c = (*h.cluster()).clone();
    c.set("/spec/paused", json!(true));
    h.api.store.update(c, Subresource::Main, None).unwrap();
    h.topology().unwrap();
    let (status, reason, msg) = h.condition();
    assert_eq!((status, reason.as_str(), msg.as_str()), (conditions::Status::False, "Paused", "Cluster spec.paused is set to true"));
    assert!(h.cluster().at("/spec/infrastructureRef").is_none());
}

#[test]
fn variables_are_defaulted_by_the_controller_when_the_class_was_not_ready_at_admission() {
    let mut h = Harness::new(&[]);
    h.apply(DEV_CLASS);
    // The ClusterClass is not reconciled yet: the Cluster is admitted with a warning and no defaults.
    let mut c =
        Object::from_json(&serde_json::to_value(serde_yaml::from_str::<Value>(&cluster_yaml("v1.34.0", &["md-0"])).unwrap()).unwrap())
            .unwrap();
    c.set("/spec/topology/variables", json!([{"name": "podSecurityStandard", "value": {"enabled": false}}]));
    let w = h.api.create(c, h.opts()).unwrap();
    assert!(w.warnings[0].contains("hasn't been successfully reconciled"), "{:?}", w.warnings);
    for _ in 0..3 {
        h.run(&ClusterClassReconciler, &ObjKey::new(Kind::ClusterClass, "default", "quick-start")).unwrap();
    }
    h.topology().unwrap();
    let vars = h.cluster().at("/spec/topology/variables").unwrap().clone();
    assert_eq!(
        vars[0],
        json!({"name": "podSecurityStandard", "value": {"enabled": false, "enforce": "baseline", "audit": "restricted", "warn": "restricted"}})
    );
    assert_eq!(vars.as_array().unwrap().len(), 4, "{vars}");
    // The PSS patch is disabled by the variable.
    assert!(h.kcp().at("/spec/kubeadmConfigSpec/files").is_none());
}

#[rstest]
#[case::docker_kinds(false, Kind::DockerMachinePool, "/spec/template/customImage")]
#[case::dev_kinds(true, Kind::DevMachinePool, "/spec/backend/docker/customImage")]
fn machine_pools_get_a_bootstrap_config_and_an_infrastructure_pool(#[case] dev: bool, #[case] pool_kind: Kind, #[case] image: &str) {
    let mut h = Harness::new(&[]);
    h.apply(if dev { DEV_CLASS } else { DOCKER_CLASS });
    for _ in 0..3 {
        h.run(&ClusterClassReconciler, &ObjKey::new(Kind::ClusterClass, "default", "quick-start")).unwrap();
    }
    let mut c: Value = serde_yaml::from_str(&cluster_yaml("v1.34.0", &["md-0"])).unwrap();
    c["spec"]["topology"]["workers"]["machinePools"] = json!([{"class": "default-worker", "name": "mp-0", "replicas": 2}]);
    h.api.create(Object::from_json(&c).unwrap(), h.opts()).unwrap();
    h.topology().unwrap();
    let mps: Vec<Arc<Object>> = h.api.store.objects().of_kind(Kind::MachinePool, None).cloned().collect();
    assert_eq!(mps.len(), 1);
    let mp = &mps[0];
    assert_generated_name(mp.name(), "c1-mp-0-");
    assert_eq!(mp.label(keys::TOPOLOGY_POOL_NAME), Some("mp-0"));
    assert_eq!(mp.i64_at("/spec/replicas"), Some(2));
    assert_eq!(mp.str_at("/spec/template/spec/version"), Some("v1.34.0"));
    let get = |k: Kind, n: &str| h.get(k, n);
    let infra = by_ref(get, mp.at("/spec/template/spec/infrastructureRef").unwrap());
    assert_eq!(infra.kind, pool_kind);
    assert_generated_name(infra.name(), "c1-mp-0-");
    assert_eq!(infra.label(keys::TOPOLOGY_POOL_NAME), Some("mp-0"));
    assert_eq!(infra.at(image), Some(&json!("kindest/node:v1.34.0")));
    let boot = by_ref(get, mp.at("/spec/template/spec/bootstrap/configRef").unwrap());
    assert_eq!(boot.kind, Kind::KubeadmConfig);
    assert!(boot.at("/spec/joinConfiguration").is_some());
    assert!(boot.owner_of_kind("Cluster").is_some());
    // Stable on the next reconcile.
    h.topology().unwrap();
    assert_eq!(h.api.store.objects().of_kind(Kind::MachinePool, None).count(), 1);
    assert_eq!(h.api.store.objects().of_kind(pool_kind, None).count(), 1);
}
