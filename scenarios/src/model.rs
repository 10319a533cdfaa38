//! The scenario language: a scenario is a named, seeded list of steps over CAPI manifests, written
//! once and run by any [`crate::Backend`].

use crate::duration::DurationMs;
use crate::manifest::ManifestObject;
use crate::predicate::Predicate;
use crate::target::Target;
use crate::vars::Vars;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A loaded scenario: parsed, variables substituted, manifests read and checked.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// `name:` (defaults to the file stem).
    pub name: String,
    /// `description:`.
    pub description: String,
    /// `seed:` (default 1); the command line may override it.
    pub seed: u64,
    /// Variables in effect (scenario `vars:` overridden by the command line).
    pub vars: Vars,
    /// Management clusters, in order; the first is the default target of every step.
    pub management: Vec<ManagementSpec>,
    /// Timing profile name or path (see `fixtures/timing/`).
    pub timing: Option<String>,
    /// Bound on simulated time after the last fault for the run to converge (liveness phase).
    pub converge_within: Option<DurationMs>,
    /// What "converged" means for the liveness phase of swarm runs (`converged:`); by default the last
    /// `wait` of the scenario and every `expect` after it.
    pub converged: Option<crate::Predicate>,
    /// Random fault profile for swarm runs (see the faults module of the simulator).
    pub fault_profile: Option<String>,
    /// Predicates that must hold after every event of the whole run (`invariants:`).
    pub invariants: Vec<ScenarioInvariant>,
    /// The steps, with the line each starts on.
    pub steps: Vec<StepEntry>,
    /// The file.
    pub path: PathBuf,
}

/// A scenario-level invariant and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioInvariant {
    /// 1-based line of the item.
    pub line: usize,
    /// The predicate.
    pub predicate: Predicate,
}

impl ScenarioInvariant {
    /// How reports name it: `invariant #N (line L)`.
    pub fn label(&self, index: usize) -> String {
        format!("invariant #{} (line {})", index + 1, self.line)
    }
}

/// A step and where it is written.
#[derive(Debug, Clone)]
pub struct StepEntry {
    /// 1-based line of the step in the scenario file.
    pub line: usize,
    /// The step.
    pub step: Step,
}

/// One management cluster, as `clusterctl init` sets it up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ManagementSpec {
    /// Name used by `management:` in targets and steps.
    pub name: String,
    /// Variables given to `clusterctl init` (e.g. `CLUSTER_TOPOLOGY: "true"`, `EXP_MACHINE_POOL: "true"`);
    /// they set the controllers' feature gates. The scenario's `vars:` apply when this is omitted.
    #[serde(default)]
    pub init_vars: Option<BTreeMap<String, String>>,
}

/// A step of a scenario.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
// A scenario holds tens of steps, parsed once: boxing the large variants would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Step {
    /// Create or update objects (like `kubectl apply`).
    Apply(ApplyStep),
    /// Patch one object (merge or JSON patch).
    Patch(PatchStep),
    /// Delete objects.
    Delete(DeleteStep),
    /// Change replicas of a KubeadmControlPlane, MachineDeployment, MachineSet, MachinePool or of a
    /// topology Cluster's control plane / machine deployment.
    Scale(ScaleStep),
    /// Wait until a predicate holds, or fail at the timeout.
    Wait(WaitStep),
    /// Check predicates now (or that a write is denied); a failure stops the run.
    Expect(ExpectStep),
    /// Check predicates now without stopping the run: every failed check is reported and fails the
    /// run at its end.
    Check(ExpectStep),
    /// A predicate must not hold at any moment of a time window.
    Never(NeverStep),
    /// Let time pass.
    Sleep(DurationMs),
    /// Inject a fault.
    Fault(FaultSpec),
    /// A clusterctl verb (`describe`, `move`, `get-kubeconfig`).
    Clusterctl(ClusterctlStep),
    /// What a user does by hand on the Docker host: `docker run` a decoy container, `docker rm -f` one.
    Docker(DockerStep),
}

impl Step {
    /// Call `f` with every predicate the step evaluates.
    pub fn for_each_predicate(&self, f: &mut dyn FnMut(&Predicate)) {
        match self {
            Step::Wait(w) => f(&w.until),
            Step::Expect(e) | Step::Check(e) => e.0.iter().for_each(&mut *f),
            Step::Never(n) => f(&n.predicate),
            Step::Fault(x) => x.when.iter().for_each(&mut *f),
            _ => {}
        }
    }

    /// The name of the background step this step starts (`async: true`), if it does.
    pub fn async_name(&self) -> Option<&str> {
        match self {
            Step::Clusterctl(ClusterctlStep::Move(m)) => m.async_name(),
            _ => None,
        }
    }

    /// The step's keyword, as written.
    pub fn keyword(&self) -> &'static str {
        match self {
            Step::Apply(_) => "apply",
            Step::Patch(_) => "patch",
            Step::Delete(_) => "delete",
            Step::Scale(_) => "scale",
            Step::Wait(_) => "wait",
            Step::Expect(_) => "expect",
            Step::Check(_) => "check",
            Step::Never(_) => "never",
            Step::Sleep(_) => "sleep",
            Step::Fault(_) => "fault",
            Step::Clusterctl(_) => "clusterctl",
            Step::Docker(_) => "docker",
        }
    }
}

crate::keyed_enum!(Step, "a step: apply, patch, delete, scale, wait, expect, check, never, sleep, fault, clusterctl or docker", {
    "apply" => Apply(ApplyStep),
    "patch" => Patch(PatchStep),
    "delete" => Delete(DeleteStep),
    "scale" => Scale(ScaleStep),
    "wait" => Wait(WaitStep),
    "expect" => Expect(ExpectStep),
    "check" => Check(ExpectStep),
    "never" => Never(NeverStep),
    "sleep" => Sleep(DurationMs),
    "fault" => Fault(FaultSpec),
    "clusterctl" => Clusterctl(ClusterctlStep),
    "docker" => Docker(DockerStep),
});

/// `apply: { file | manifest | flavor, vars, repeat, management, workload }`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ApplyStep {
    /// Manifest file, relative to the scenario file (absolute allowed).
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Inline multi-document YAML.
    #[serde(default)]
    pub manifest: Option<String>,
    /// `clusterctl generate cluster --flavor <flavor>` from the fixtures' provider templates.
    #[serde(default)]
    pub flavor: Option<String>,
    /// Provider templates version for `flavor` (`v1.13`: Docker* kinds, the default; `v1.15`: Dev* kinds).
    #[serde(default)]
    pub provider_version: Option<String>,
    /// Extra variables for this apply only.
    #[serde(default)]
    pub vars: Option<BTreeMap<String, Value>>,
    /// Apply N copies, with `${INDEX}` = 1..N substituted in each.
    #[serde(default)]
    pub repeat: Option<u32>,
    /// Management cluster (first when omitted).
    #[serde(default)]
    pub management: Option<String>,
    /// Apply into this workload cluster instead (as `kubectl --kubeconfig <cluster>.kubeconfig apply`).
    #[serde(default)]
    pub workload: Option<String>,
    /// Objects, resolved at load time.
    #[serde(skip)]
    pub objects: Vec<ManifestObject>,
}

/// `patch: { target, type, patch, subresource }`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PatchStep {
    /// The object (must resolve to exactly one unless `pick` says otherwise).
    pub target: Target,
    /// `merge` (RFC 7386, default) or `json` (RFC 6902).
    #[serde(default, rename = "type")]
    pub patch_type: PatchType,
    /// The patch document.
    pub patch: Value,
    /// `status` to patch the status subresource.
    #[serde(default)]
    pub subresource: Option<String>,
}

/// Patch media types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PatchType {
    /// `application/merge-patch+json`.
    #[default]
    Merge,
    /// `application/json-patch+json`.
    Json,
}

/// `delete: { target, propagation }`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DeleteStep {
    /// Objects.
    pub target: Target,
    /// `Background` (default), `Foreground` or `Orphan`.
    #[serde(default)]
    pub propagation: Propagation,
}

/// Delete propagation policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, PartialOrd, Ord, schemars::JsonSchema)]
pub enum Propagation {
    /// Owner goes at once; the garbage collector deletes dependents afterwards.
    #[default]
    Background,
    /// Dependents with `blockOwnerDeletion` go first, then the owner.
    Foreground,
    /// Dependents lose their owner reference and stay.
    Orphan,
}

/// `scale: { target, replicas, machine-deployment, machine-pool }`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ScaleStep {
    /// KubeadmControlPlane, MachineDeployment, MachineSet, MachinePool, or a topology Cluster.
    pub target: Target,
    /// Desired replicas.
    pub replicas: u32,
    /// For a Cluster: the `spec.topology.workers.machineDeployments[].name` to scale.
    #[serde(default)]
    pub machine_deployment: Option<String>,
    /// For a Cluster: the `spec.topology.workers.machinePools[].name` to scale.
    #[serde(default)]
    pub machine_pool: Option<String>,
}

/// `wait: { for, timeout }`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct WaitStep {
    /// The predicate.
    #[serde(rename = "for")]
    pub until: Predicate,
    /// Deadline (default 10m).
    #[serde(default)]
    pub timeout: Option<DurationMs>,
}

/// `never: { for, within }`: fails at the first moment within the window at which the predicate
/// holds, passes at the window's end.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct NeverStep {
    /// What must not happen.
    #[serde(rename = "for")]
    pub predicate: Predicate,
    /// For how long.
    pub within: DurationMs,
}

/// `expect:` one predicate or a list of them; `denied` / `warned` assert the admission answer to a write.
#[derive(Debug, Clone, Serialize)]
pub struct ExpectStep(pub Vec<Predicate>);

impl<'de> Deserialize<'de> for ExpectStep {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ExpectStep;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a predicate (e.g. `phase: {...}`) or a list of predicates")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<ExpectStep, A::Error> {
                let mut items = Vec::new();
                while let Some(p) = seq.next_element::<Predicate>()? {
                    items.push(p);
                }
                Ok(ExpectStep(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<ExpectStep, A::Error> {
                let p = Predicate::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(ExpectStep(vec![p]))
            }
        }
        d.deserialize_any(V)
    }
}

/// A write whose admission answer is asserted: `{ apply: {...} | patch: {...} | delete: {...}, message }`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct WriteExpectation {
    /// An apply.
    #[serde(default)]
    pub apply: Option<ApplyStep>,
    /// A patch.
    #[serde(default)]
    pub patch: Option<PatchStep>,
    /// A delete.
    #[serde(default)]
    pub delete: Option<DeleteStep>,
    /// Substring of the denial or warning message.
    pub message: String,
}

/// `fault: { kind, target, at, after, when, duration, ... }`: what fails, where, and when.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FaultSpec {
    /// What fails.
    pub kind: FaultKind,
    /// Where: containers, machines, clusters or a controller.
    #[serde(default)]
    pub target: FaultTarget,
    /// Inject after this much time from the step (default: at once).
    #[serde(default)]
    pub after: Option<DurationMs>,
    /// Inject when this predicate first holds (checked after every event).
    #[serde(default)]
    pub when: Option<Predicate>,
    /// Heal after this long (for faults that last: pause, partition, kubelet stop, latency...).
    #[serde(default)]
    pub duration: Option<DurationMs>,
    /// For rate-based faults: probability per operation, 0..1 (conflicts, throttling, watch drops).
    #[serde(default)]
    pub probability: Option<f64>,
    /// Extra latency or lag (API latency, stale cache).
    #[serde(default)]
    pub delay: Option<DurationMs>,
    /// Slow-down factor for `slow-disk`.
    #[serde(default)]
    pub factor: Option<f64>,
    /// For kubeadm failures: fail only once (`transient`, default) or every time (`permanent`).
    #[serde(default)]
    pub permanent: bool,
}

/// The fault catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// `docker kill` of node containers.
    ContainerKill,
    /// `docker pause` for `duration`.
    ContainerPause,
    /// The kernel OOM-kills node containers (as under host memory pressure).
    ContainerOom,
    /// `docker kill` of the cluster's load-balancer container.
    LbKill,
    /// The Docker daemon restarts: every container stops; restart policies apply.
    DockerRestart,
    /// The node image is missing on the host (container creation fails) for `duration`.
    ImageMissing,
    /// `kubeadm init` fails.
    KubeadmInitFail,
    /// `kubeadm join` fails.
    KubeadmJoinFail,
    /// The kubelet stops on target nodes for `duration` (node goes NotReady/Unknown).
    KubeletStop,
    /// The CNI crashes in the workload cluster for `duration` (nodes NotReady).
    CniCrash,
    /// An etcd member is lost (its data is gone; the member stays in the member list, unhealthy).
    EtcdMemberLoss,
    /// The management cluster cannot reach the workload cluster's API for `duration`.
    Partition,
    /// Container, kubeadm and image operations take `factor` times longer for `duration`.
    SlowDisk,
    /// A controller manager crashes mid-reconcile and restarts (cache rebuilt from a fresh list).
    ControllerCrash,
    /// Watch events to a controller manager are dropped with `probability` for `duration`.
    WatchDrop,
    /// A controller manager's informers lag by `delay` for `duration`.
    StaleCache,
    /// API writes fail with 409 Conflict with `probability` for `duration`.
    ApiConflict,
    /// API requests fail with 429 TooManyRequests with `probability` for `duration`.
    ApiThrottle,
    /// API requests take `delay` longer for `duration`.
    ApiLatency,
    /// Admission webhooks of a manager are unreachable for `duration`.
    WebhookUnavailable,
}

/// Where a fault applies. Empty fields select everything of the scenario.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FaultTarget {
    /// Workload cluster name.
    #[serde(default)]
    pub cluster: Option<String>,
    /// Only control-plane (`true`) or worker (`false`) machines.
    #[serde(default)]
    pub control_plane: Option<bool>,
    /// Exact container / machine name.
    #[serde(default)]
    pub name: Option<String>,
    /// Container / machine name prefix.
    #[serde(default)]
    pub name_prefix: Option<String>,
    /// How many of the matching machines (from `index` in name order); all when neither is given.
    #[serde(default)]
    pub count: Option<usize>,
    /// Which one: the index (modulo how many match) in name order, of the cluster when no cluster is
    /// named, and of the machines. Swarm profiles draw it, so a recorded fault replays on the same objects.
    #[serde(default)]
    pub index: Option<usize>,
    /// Controller manager: `capi`, `kubeadm-bootstrap`, `kubeadm-control-plane`, `capd`.
    #[serde(default)]
    pub manager: Option<String>,
    /// Management cluster.
    #[serde(default)]
    pub management: Option<String>,
}

/// `clusterctl: { describe | get-kubeconfig | move }`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClusterctlStep {
    /// `clusterctl describe cluster NAME --show-conditions all`; the tree goes to the step message.
    Describe(Target),
    /// `clusterctl get kubeconfig NAME`.
    GetKubeconfig(Target),
    /// `clusterctl move --to-kubeconfig`.
    Move(MoveSpec),
}

crate::keyed_enum!(ClusterctlStep, "a clusterctl verb: describe, get-kubeconfig or move", {
    "describe" => Describe(Target),
    "get-kubeconfig" => GetKubeconfig(Target),
    "move" => Move(MoveSpec),
});

/// `move: { from, to, namespace }`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MoveSpec {
    /// Source management cluster (the first when omitted).
    #[serde(default)]
    pub from: Option<String>,
    /// Target management cluster.
    pub to: String,
    /// Namespace to move (`default`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Run the move in the background: the step returns at once, later steps run while it proceeds
    /// (e.g. to remove a `clusterctl.cluster.x-k8s.io/block-move` annotation it waits for), and a
    /// `finished: { step: NAME }` predicate waits for its result.
    #[serde(default, rename = "async")]
    pub run_async: bool,
    /// The name `finished` predicates use for a background move (`move` when omitted).
    #[serde(default)]
    pub name: Option<String>,
}

impl MoveSpec {
    /// The name of a background move (`None` when the move runs in the foreground).
    pub fn async_name(&self) -> Option<&str> {
        self.run_async.then(|| self.name.as_deref().unwrap_or(DEFAULT_ASYNC_MOVE_NAME))
    }
}

/// The name of a background `clusterctl move` that has no `name`.
pub const DEFAULT_ASYNC_MOVE_NAME: &str = "move";

/// `docker: { run: {...} | rm: {...} }`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DockerStep {
    /// `docker run -d --name NAME IMAGE`: a container the harness owns (labelled as the harness's, never
    /// with CAPD's labels), e.g. to take a name CAPD wants.
    #[serde(default)]
    pub run: Option<DockerRun>,
    /// `docker rm -f` of containers of the scenario's clusters (or of a harness container).
    #[serde(default)]
    pub rm: Option<ContainerTarget>,
}

/// A container the harness starts.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DockerRun {
    /// Name.
    pub name: String,
    /// Image (default `busybox:stable`).
    #[serde(default)]
    pub image: Option<String>,
}

/// Containers a docker step or a fault acts on.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ContainerTarget {
    /// Exact name.
    #[serde(default)]
    pub name: Option<String>,
    /// Cluster (`io.x-k8s.kind.cluster` label).
    #[serde(default)]
    pub cluster: Option<String>,
    /// Role (`control-plane`, `worker`, `external-load-balancer`).
    #[serde(default)]
    pub role: Option<String>,
    /// Name prefix.
    #[serde(default)]
    pub name_prefix: Option<String>,
    /// Which of several (`first` by default).
    #[serde(default)]
    pub pick: Option<crate::target::Pick>,
}
