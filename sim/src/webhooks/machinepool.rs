//! The MachinePool admission webhooks (CAPI core, served by capi-controller-manager).
//! Defaulting (`default.machinepool.cluster.x-k8s.io`): the cluster-name label, `spec.replicas`
//! (kept if set, else from the autoscaler min/max annotations, else 1; unparsable annotations deny
//! the request), the template's `nodeDeletionTimeoutSeconds` 10 and a `v` on its version.
//! Validation (`validation.machinepool.cluster.x-k8s.io`): the `MachinePool` feature gate, the
//! bootstrap, clusterName immutable and equal to the template's, the version, taints (not
//! implemented for MachinePools upstream, so always refused) and the template metadata.
//! Source: `core/webhooks/admission/machinepool.go`.

use super::machine::{cluster_name_immutable, default_cluster_label, default_version_prefix, invalid, ref_is_defined, version_errors};
use super::machinedeployment::default_replicas;
use super::meta::template_metadata_errors;
use crate::controllers::topology::field::{FPath, FieldError};
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::object::Object;
use crate::store::api::{AdmissionRequest, Operation, Webhook};
use crate::store::Store;
use serde_json::{json, Value};

/// The webhooks of this module.
pub fn webhooks() -> Vec<Box<dyn Webhook>> {
    vec![Box::new(MachinePoolWebhook)]
}

/// The MachinePool webhook pair.
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
    fn check_default(&self, op: Operation, o: &Object, store: &Store, _gates: &FeatureGates) -> Result<(), String> {
        let old = if op == Operation::Update { store.get(&o.key()).cloned() } else { None };
        default_replicas(o, old.as_deref()).map(|_| ())
    }
    fn default(&self, op: Operation, m: &mut Object, store: &Store, _gates: &FeatureGates) {
        default_cluster_label(m);
        let old = if op == Operation::Update { store.get(&m.key()).cloned() } else { None };
        if let Ok(r) = default_replicas(m, old.as_deref()) {
            m.set("/spec/replicas", json!(r));
        }
        if m.at("/spec/template/spec/deletion/nodeDeletionTimeoutSeconds").is_none_or(Value::is_null) {
            m.set("/spec/template/spec/deletion/nodeDeletionTimeoutSeconds", json!(10));
        }
        default_version_prefix(m, "/spec/template/spec/version");
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        if req.op == Operation::Delete {
            return Ok(vec![]);
        }
        let spec = FPath::new(&["spec"]);
        // The gate's denial is a bare field error, not wrapped in NewInvalid.
        if !req.gates.machine_pool {
            return Err(FieldError::forbidden(spec, "can be set only if the MachinePool feature flag is enabled").to_string());
        }
        let m = req.object;
        let mut errs = Vec::new();
        if !ref_is_defined(m, "/spec/template/spec/bootstrap/configRef")
            && m.at("/spec/template/spec/bootstrap/dataSecretName").is_none_or(Value::is_null)
        {
            errs.push(FieldError::required(
                FPath::new(&["spec", "template", "spec", "bootstrap"]),
                "expected either spec.template.spec.bootstrap.dataSecretName or spec.template.spec.bootstrap.configRef to be populated",
            ));
        }
        errs.extend(cluster_name_immutable(req.old.filter(|_| req.op == Operation::Update), m));
        let cluster = m.str_at("/spec/clusterName").unwrap_or("");
        if cluster != m.str_at("/spec/template/spec/clusterName").unwrap_or("") {
            errs.push(FieldError::invalid(
                spec.child("clusterName"),
                cluster,
                "spec.clusterName and spec.template.spec.clusterName must be set to the same value",
            ));
        }
        errs.extend(version_errors(m, "/spec/template/spec/version", FPath::new(&["spec", "template", "spec", "version"])));
        if m.at("/spec/template/spec/taints").and_then(Value::as_array).is_some_and(|t| !t.is_empty()) {
            errs.push(FieldError::forbidden(spec.child("taints"), "taints feature for MachinePools is not yet implemented"));
            if !req.gates.machine_taint_propagation {
                errs.push(FieldError::forbidden(
                    spec.child("taints"),
                    "taints are not allowed to be set when the feature gate MachineTaintPropagation is disabled",
                ));
            }
        }
        errs.extend(template_metadata_errors(m, "/spec/template/metadata", &FPath::new(&["spec", "template", "metadata"])));
        invalid(m, errs)
    }
}
