//! The one table of differences between the simulator and a real cluster that do not count against
//! conformance, each with the reason it is allowed. The report prints this table, so that what is
//! waved through is always visible. Add a rule here (never an ad-hoc `if` elsewhere), with a reason a
//! reviewer can check.

use super::{Difference, ObjectKey};

/// One allowed difference.
pub struct AllowedRule {
    /// Short id printed next to every difference it allows.
    pub id: &'static str,
    /// What it allows.
    pub what: &'static str,
    /// Why it is allowed.
    pub why: &'static str,
    /// Whether it allows this difference.
    pub matches: fn(&Difference) -> bool,
}

fn extra(d: &Difference) -> Option<&ObjectKey> {
    match d {
        Difference::ExtraObject { object, .. } => Some(object),
        _ => None,
    }
}

/// Secret names cert-manager and the providers' webhooks give their certificates.
fn looks_like_certificate(name: &str) -> bool {
    ["-cert", "-tls", "-ca-key-pair", "-webhook-service-cert", "-serving-cert"].iter().any(|s| name.ends_with(s))
}

/// Condition types whose reason, while the condition is not True, names the step that was pending when
/// the run ended (it depends on when the snapshot was taken, not on behaviour).
const TIMING_REASON_TYPES: &[&str] = &[
    "Available",
    "Ready",
    "MachinesReady",
    "MachinesUpToDate",
    "ControlPlaneMachinesReady",
    "WorkerMachinesReady",
    "ControlPlaneMachinesUpToDate",
    "WorkerMachinesUpToDate",
    "RemoteConnectionProbe",
    "NodeReady",
    "NodeHealthy",
    "HealthCheckSucceeded",
    "EtcdClusterHealthy",
    "ControlPlaneComponentsHealthy",
];

/// The table.
pub static ALLOWED: &[AllowedRule] = &[
    AllowedRule {
        id: "kube-root-ca",
        what: "an extra ConfigMap `kube-root-ca.crt` in the real outcome",
        why: "kube-controller-manager puts it into every namespace of a real cluster; the simulator does not model it",
        matches: |d| extra(d).is_some_and(|o| o.kind == "ConfigMap" && o.name == "kube-root-ca.crt"),
    },
    AllowedRule {
        id: "certificate-secrets",
        what: "extra Secrets named like certificates (`*-cert`, `*-tls`, `*-serving-cert`, ...) in the real outcome",
        why: "cert-manager and the providers' webhooks create certificate Secrets the simulator does not model",
        matches: |d| extra(d).is_some_and(|o| o.kind == "Secret" && looks_like_certificate(&o.name)),
    },
    AllowedRule {
        id: "service-account-tokens",
        what: "extra Secrets of type service-account token (`*-token-{rand}`) in the real outcome",
        why: "older clusters create token Secrets for ServiceAccounts; no CAPI behaviour depends on them",
        matches: |d| extra(d).is_some_and(|o| o.kind == "Secret" && o.name.contains("-token-")),
    },
    AllowedRule {
        id: "event-counts",
        what: "the same event recorded another number of times",
        why: "how often a repeated event is recorded (client-go counts repeats) follows how many reconciles saw the same state, which is timing",
        matches: |d| matches!(d, Difference::EventCount { .. }),
    },
    AllowedRule {
        id: "foreign-events",
        what: "extra Events on the real cluster from components the simulator does not model (kubelet, scheduler, controller-manager, ...)",
        why: "a real management cluster's own components record events about the scenario's Pods and Nodes; the simulator models Cluster API's controllers",
        matches: |d| match d {
            Difference::ExtraEvent { event, .. } => !["Cluster ", "Machine", "KubeadmC", "Docker", "Dev", "ClusterResourceSet", "ClusterClass"].iter().any(|p| event.starts_with(p)),
            _ => false,
        },
    },
    AllowedRule {
        id: "machine-lifecycle-events",
        what: "a Machine's node, drain or volume-detach event (`SuccessfulSetNodeRef`, `SuccessfulDrainNode`, `NodeVolumesDetached`) on one side only",
        why: "whether a Machine that a rollout or a deletion removes got its Node first depends on when the removal lands against its provisioning, which is timing; the events follow from that one fact",
        matches: |d| match d {
            Difference::ExtraEvent { event, .. } | Difference::MissingEvent { event, .. } => {
                event.starts_with("Machine ")
                    && [" Normal SuccessfulSetNodeRef: ", " Normal SuccessfulDrainNode: ", " Normal NodeVolumesDetached: "].iter().any(|r| event.contains(r))
            }
            _ => false,
        },
    },
    AllowedRule {
        id: "pending-phase-event",
        what: "a Cluster's `Pending` phase event on one side only",
        why: "a Cluster is Pending only if its first reconcile ran before its infrastructure and control plane objects existed, which depends on whether the client created the manifests in one instant or one request at a time",
        matches: |d| match d {
            Difference::ExtraEvent { event, .. } | Difference::MissingEvent { event, .. } => {
                event.starts_with("Cluster ") && event.contains(" Normal Pending: Cluster ") && event.ends_with(" is Pending")
            }
            _ => false,
        },
    },
    AllowedRule {
        id: "pending-message",
        what: "a condition's reason or message that differs while its status (not True) is the same on both sides",
        why: "while a summary condition is not True its reason and message name the sub-step pending when the outcome was taken, which depends on timing",
        matches: |d| match d {
            Difference::Field { path, pending: true, .. } => {
                TIMING_REASON_TYPES.iter().any(|t| path.ends_with(&format!("[type={t}].message")) || path.ends_with(&format!("[type={t}].reason")))
            }
            _ => false,
        },
    },
    AllowedRule {
        id: "pending-reason",
        what: "a condition with the same status (False or Unknown) on both sides but another reason",
        why: "while a summary condition is not True its reason names the sub-step pending when the outcome was taken, which depends on timing",
        matches: |d| match d {
            Difference::Condition { type_, sim: Some(s), real: Some(r), .. } => {
                s.0 == r.0 && s.0 != "True" && TIMING_REASON_TYPES.contains(&type_.as_str())
            }
            _ => false,
        },
    },
    AllowedRule {
        id: "served-version",
        what: "the same kind served at another version of the same API group",
        why: "a provider release may serve (and convert) the same objects at an older or newer version than the simulator's v1beta2",
        matches: |d| match d {
            Difference::ApiVersion { sim, real, .. } => sim.split('/').next() == real.split('/').next(),
            _ => false,
        },
    },
    AllowedRule {
        id: "image-reference",
        what: "a container image reported as an image id (`sha256:...`) instead of its tag",
        why: "Docker reports the id when the tag has been moved to another image since the container was created",
        matches: |d| match d {
            Difference::ContainerImage { sim, real, .. } => sim.starts_with("sha256:") || real.starts_with("sha256:"),
            _ => false,
        },
    },
    AllowedRule {
        id: "failure-domain",
        what: "a Machine's `spec.failureDomain` or an infrastructure machine's `status.failureDomain` set on both sides to another domain",
        why: "CAPI places a Machine in the least used failure domain and breaks ties between equally used ones in Go map order (random), the simulator in name order; which domains tie during a rollout depends on the order Machines were replaced",
        matches: |d| match d {
            Difference::Field { path, sim: Some(s), real: Some(r), .. } => {
                (path == "spec.failureDomain" || path == "status.failureDomain") && s.is_string() && r.is_string()
            }
            _ => false,
        },
    },
    AllowedRule {
        id: "failure-domain-label",
        what: "container labels that differ only in `io.x-k8s.cluster.failureDomain`",
        why: "CAPI breaks ties between equally used failure domains in Go map order (random), the simulator in name order",
        matches: |d| match d {
            Difference::ContainerLabels { sim, real, .. } => {
                let strip = |m: &std::collections::BTreeMap<String, String>| {
                    m.iter().filter(|(k, _)| k.as_str() != "io.x-k8s.cluster.failureDomain").map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>()
                };
                strip(sim) == strip(real)
            }
            _ => false,
        },
    },
];

/// The first rule that allows a difference.
pub fn allowed_by(d: &Difference) -> Option<&'static AllowedRule> {
    ALLOWED.iter().find(|r| (r.matches)(d))
}
