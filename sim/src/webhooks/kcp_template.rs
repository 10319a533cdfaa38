//! The KubeadmControlPlaneTemplate validating webhook
//! (`validation.kubeadmcontrolplanetemplate.controlplane.cluster.x-k8s.io`, served by the
//! `kubeadm-control-plane` manager). Create: the `ClusterTopology` gate (a bare `spec: Forbidden`),
//! then the rollout and certificate fields, machine naming, machine template taints and metadata,
//! the cluster configuration, the KubeadmConfigSpec (KCP's rules) and the template metadata.
//! Update: `spec.template.spec` is immutable, except that a rollout strategy defaulted by an older
//! CAPI (`RollingUpdate` with maxSurge 1) may be dropped.
//! Source: `controlplane/kubeadm/webhooks/admission/kubeadmcontrolplanetemplate.go`.
//!
//! Simplifications: the immutability diff is printed as a JSON merge patch (CAPI prints
//! `compare.Diff`'s text), and the invalid value as `"object"`; the older-CAPI defaults of the
//! KubeadmConfigSpec (`ApplyPreviousKubeadmConfigDefaults`) are not applied before comparing.

use super::cabpk;
use super::kcp::{invalid, machine_template_errors, naming_errors, validate_cluster_configuration, validate_rollout};
use super::meta::template_metadata_errors;
use crate::capd::patch::merge_diff;
use crate::controllers::topology::field::{FPath, FieldError};
use crate::kinds::Kind;
use crate::object::Object;
use crate::store::api::{AdmissionRequest, Operation, Webhook};
use serde_json::{json, Value};

/// The webhooks of this module.
pub fn webhooks() -> Vec<Box<dyn Webhook>> {
    vec![Box::new(KcpTemplateWebhook)]
}

/// The KubeadmControlPlaneTemplate validating webhook.
pub struct KcpTemplateWebhook;

const BASE: &str = "/spec/template/spec";

impl Webhook for KcpTemplateWebhook {
    fn kind(&self) -> Kind {
        Kind::KubeadmControlPlaneTemplate
    }
    fn name(&self) -> &'static str {
        "validation.kubeadmcontrolplanetemplate.controlplane.cluster.x-k8s.io"
    }
    fn manager(&self) -> &'static str {
        "kubeadm-control-plane"
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        let o: &Object = req.object;
        let errs = match (req.op, req.old) {
            (Operation::Create, _) => {
                if !req.gates.cluster_topology {
                    return Err(FieldError::forbidden(
                        FPath::new(&["spec"]),
                        "can be set only if the ClusterTopology feature flag is enabled",
                    )
                    .to_string());
                }
                let mut e = validate_rollout(o, BASE, None);
                e.extend(naming_errors(o, BASE));
                e.extend(machine_template_errors(o, BASE, req.gates));
                e.extend(validate_cluster_configuration(None, o, BASE));
                let kcs = o.at(&format!("{BASE}/kubeadmConfigSpec")).cloned().unwrap_or(Value::Null);
                e.extend(cabpk::validate_spec(&kcs, true, &FPath::new(&["spec", "template", "spec", "kubeadmConfigSpec"]), req.gates));
                e.extend(template_metadata_errors(o, "/spec/template/metadata", &FPath::new(&["spec", "template", "metadata"])));
                e
            }
            (Operation::Update, Some(old)) => {
                let a = old.at(BASE).cloned().unwrap_or(Value::Null);
                let mut b = o.at(BASE).cloned().unwrap_or(Value::Null);
                // A strategy defaulted before v1.11 may be unset.
                let old_strategy = a.pointer("/rollout/strategy");
                let defaulted = old_strategy.and_then(|s| s.get("type")).and_then(Value::as_str) == Some("RollingUpdate")
                    && old_strategy.and_then(|s| s.pointer("/rollingUpdate/maxSurge")) == Some(&json!(1));
                let new_empty = b.pointer("/rollout/strategy").is_none_or(|s| s.is_null() || s.as_object().is_some_and(|m| m.is_empty()));
                if defaulted && new_empty {
                    if let (Some(s), Some(m)) = (old_strategy.cloned(), b.as_object_mut()) {
                        let rollout = m.entry("rollout").or_insert_with(|| json!({}));
                        if let Some(r) = rollout.as_object_mut() {
                            r.insert("strategy".into(), s);
                        }
                    }
                }
                match merge_diff(&a, &b) {
                    None => Vec::new(),
                    Some(diff) => vec![FieldError::invalid_raw(
                        FPath::new(&["spec", "template", "spec"]),
                        "\"object\"",
                        format!("KubeadmControlPlaneTemplate spec.template.spec field is immutable. Please create new resource instead. Diff: {diff}"),
                    )],
                }
            }
            _ => Vec::new(),
        };
        if errs.is_empty() {
            Ok(Vec::new())
        } else {
            // CAPI qualifies the kind with the core group here too.
            Err(invalid(o.name(), &errs).replacen("KubeadmControlPlane.", "KubeadmControlPlaneTemplate.", 1))
        }
    }
}
