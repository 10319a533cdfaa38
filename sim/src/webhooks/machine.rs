//! Machine and MachineHealthCheck admission webhooks (CAPI core, served by capi-controller-manager).
//! Source: `core/webhooks/admission/{machine.go,machinehealthcheck.go}`.

use crate::controllers::common::{keys, parse_version, with_v};
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::object::Object;
use crate::object::Ptr;
use crate::store::api::{AdmissionRequest, Operation, Webhook};
use crate::store::error::qualified_kind;
use crate::store::Store;
use serde_json::{json, Value};

/// The webhooks of this module.
pub fn webhooks() -> Vec<Box<dyn Webhook>> {
    vec![Box::new(MachineWebhook), Box::new(MachineHealthCheckWebhook), Box::new(MachinePoolWebhook)]
}

/// The MachinePool webhook (defaulting; `core/webhooks/admission/machinepool.go`).
pub struct MachinePoolWebhook;

impl Webhook for MachinePoolWebhook {
    fn kind(&self) -> Kind {
        Kind::MachinePool
    }
    fn name(&self) -> &'static str {
        "validation.machinepool.cluster.x-k8s.io"
    }
    fn manager(&self) -> &'static str {
        "capi"
    }
    fn default(&self, _op: Operation, m: &mut Object, _store: &Store, _gates: &FeatureGates) {
        if let Some(c) = m.str_at("/spec/clusterName").map(str::to_string) {
            m.meta.labels.insert(keys::CLUSTER_NAME.into(), c);
        }
        if m.at("/spec/replicas").is_none() {
            m.set("/spec/replicas", json!(1));
        }
        if m.at("/spec/template/spec/deletion/nodeDeletionTimeoutSeconds").is_none() {
            m.set("/spec/template/spec/deletion/nodeDeletionTimeoutSeconds", json!(10));
        }
        if let Some(v) = m.str_at("/spec/template/spec/version").map(str::to_string) {
            m.set("/spec/template/spec/version", json!(with_v(&v)));
        }
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        let m = req.object;
        let mut errs = Vec::new();
        if let (Operation::Update, Some(old)) = (req.op, req.old) {
            if old.str_at("/spec/clusterName") != m.str_at("/spec/clusterName") {
                errs.push("spec.clusterName: Forbidden: field is immutable".into());
            }
        }
        invalid(m, errs)
    }
}

fn invalid(obj: &Object, errors: Vec<String>) -> Result<Vec<String>, String> {
    if errors.is_empty() {
        return Ok(vec![]);
    }
    let detail = if errors.len() == 1 { errors[0].clone() } else { format!("[{}]", errors.join(", ")) };
    Err(format!("{} \"{}\" is invalid: {detail}", qualified_kind(obj.kind), obj.name()))
}

/// The Machine webhook.
pub struct MachineWebhook;

impl Webhook for MachineWebhook {
    fn kind(&self) -> Kind {
        Kind::Machine
    }
    fn name(&self) -> &'static str {
        "validation.machine.cluster.x-k8s.io"
    }
    fn manager(&self) -> &'static str {
        "capi"
    }
    fn default(&self, _op: Operation, m: &mut Object, _store: &Store, _gates: &FeatureGates) {
        if let Some(c) = m.str_at("/spec/clusterName").map(str::to_string) {
            m.meta.labels.insert(keys::CLUSTER_NAME.into(), c);
        }
        if let Some(v) = m.str_at("/spec/version").map(str::to_string) {
            m.set("/spec/version", json!(with_v(&v)));
        }
        if m.at("/spec/deletion/nodeDeletionTimeoutSeconds").is_none() {
            m.set("/spec/deletion/nodeDeletionTimeoutSeconds", json!(10));
        }
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        let m = req.object;
        let mut errs = Vec::new();
        if m.at("/spec/bootstrap/configRef").is_none() && m.at("/spec/bootstrap/dataSecretName").is_none() {
            errs.push("spec.bootstrap.dataSecretName: Required value: expected either spec.bootstrap.dataSecretName or spec.bootstrap.configRef to be populated".into());
        }
        if let (Operation::Update, Some(old)) = (req.op, req.old) {
            if old.str_at("/spec/clusterName") != m.str_at("/spec/clusterName") {
                errs.push("spec.clusterName: Forbidden: field is immutable".into());
            }
        }
        if let Some(v) = m.str_at("/spec/version") {
            if !v.starts_with('v') {
                errs.push(format!("spec.version: Invalid value: \"{v}\": must start with v"));
            } else if parse_version(v).is_none() {
                errs.push(format!("spec.version: Invalid value: \"{v}\": must be a valid semantic version"));
            }
        }
        invalid(m, errs)
    }
}

/// The MachineHealthCheck webhook.
pub struct MachineHealthCheckWebhook;

impl Webhook for MachineHealthCheckWebhook {
    fn kind(&self) -> Kind {
        Kind::MachineHealthCheck
    }
    fn name(&self) -> &'static str {
        "validation.machinehealthcheck.cluster.x-k8s.io"
    }
    fn manager(&self) -> &'static str {
        "capi"
    }
    fn default(&self, _op: Operation, m: &mut Object, _store: &Store, _gates: &FeatureGates) {
        if let Some(c) = m.str_at("/spec/clusterName").map(str::to_string) {
            m.meta.labels.insert(keys::CLUSTER_NAME.into(), c);
        }
        if m.at("/spec/checks/nodeStartupTimeoutSeconds").is_none() {
            m.set("/spec/checks/nodeStartupTimeoutSeconds", json!(600));
        }
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        let m = req.object;
        let mut errs = Vec::new();
        let sel = m.at("/spec/selector");
        let empty = sel.is_none_or(|s| {
            s.get("matchLabels").and_then(Value::as_object).is_none_or(|x| x.is_empty())
                && s.get("matchExpressions").and_then(Value::as_array).is_none_or(|x| x.is_empty())
        });
        if empty {
            errs.push("spec.selector: Required value: selector must not be empty".into());
        }
        if let Some(c) = sel.and_then(|s| s.ptr("/matchLabels/cluster.x-k8s.io~1cluster-name")).and_then(Value::as_str) {
            if Some(c) != m.str_at("/spec/clusterName") {
                errs.push(
                    "spec.selector: Invalid value: cannot specify a cluster selector other than the one specified by ClusterName".into(),
                );
            }
        }
        if let (Operation::Update, Some(old)) = (req.op, req.old) {
            if old.str_at("/spec/clusterName") != m.str_at("/spec/clusterName") {
                errs.push("spec.clusterName: Forbidden: field is immutable".into());
            }
        }
        if let Some(t) = m.i64_at("/spec/checks/nodeStartupTimeoutSeconds") {
            if t != 0 && t < 30 {
                errs.push(format!("spec.checks.nodeStartupTimeoutSeconds: Invalid value: {t}: must be at least 30s"));
            }
        }
        if let Some(v) = m.at("/spec/remediation/triggerIf/unhealthyLessThanOrEqualTo") {
            let ok = match v {
                Value::Number(n) => n.as_u64().is_some(),
                Value::String(s) => s.strip_suffix('%').unwrap_or(s).trim().parse::<u64>().is_ok(),
                _ => false,
            };
            if !ok {
                errs.push(format!(
                    "spec.remediation.triggerIf.unhealthyLessThanOrEqualTo: Invalid value: {v}: must be either an int or a percentage"
                ));
            }
        }
        invalid(m, errs)
    }
}
