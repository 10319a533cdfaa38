//! The MachineDrainRule validating webhook (`validation.machinedrainrule.cluster.x-k8s.io`, CAPI
//! core, served by capi-controller-manager; no defaulting half). Create and update: `spec.drain.order`
//! must not be set with the `Skip` or `WaitCompleted` behavior, and every Machine, Cluster, Pod and
//! Namespace selector must be a valid label selector (`ValidateMachineDrainRulesSelectors`, which
//! the Machine controller's drain uses too). Uniqueness of the `machines` and `pods` entries is the
//! CRD's CEL rule, answered by the API server before this webhook (`types/check.rs`).
//! Source: `core/webhooks/admission/machinedrainrules.go`.
//!
//! Simplification: `metav1.LabelSelectorAsSelector` is restated for keys, values and operators
//! (`webhooks/meta.rs: selector_error`).

use super::machine::invalid;
use super::meta::{go_label_selector, selector_error};
use crate::controllers::topology::field::{FPath, FieldError};
use crate::kinds::Kind;
use crate::object::Object;
use crate::store::api::{AdmissionRequest, Operation, Webhook};
use serde_json::Value;

/// The webhooks of this module.
pub fn webhooks() -> Vec<Box<dyn Webhook>> {
    vec![Box::new(MachineDrainRuleWebhook)]
}

/// The MachineDrainRule validating webhook.
pub struct MachineDrainRuleWebhook;

/// `ValidateMachineDrainRulesSelectors`: the selectors of each `machines` entry (`selector`,
/// `clusterSelector`), then of each `pods` entry (`selector`, `namespaceSelector`), that
/// `LabelSelectorAsSelector` refuses.
pub fn selector_errors(rule: &Object) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (list, fields) in [("machines", ["selector", "clusterSelector"]), ("pods", ["selector", "namespaceSelector"])] {
        let entries = rule.at(&format!("/spec/{list}")).and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
        for (i, entry) in entries.iter().enumerate() {
            for f in fields {
                let Some(sel) = entry.get(f).filter(|s| !s.is_null()) else { continue };
                if let Some(e) = selector_error(Some(sel)) {
                    errs.push(FieldError::invalid_raw(FPath::new(&["spec", list]).index(i).child(f), go_label_selector(Some(sel)), e));
                }
            }
        }
    }
    errs
}

impl Webhook for MachineDrainRuleWebhook {
    fn kind(&self) -> Kind {
        Kind::MachineDrainRule
    }
    fn name(&self) -> &'static str {
        "validation.machinedrainrule.cluster.x-k8s.io"
    }
    fn manager(&self) -> &'static str {
        "capi"
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        if req.op == Operation::Delete {
            return Ok(vec![]);
        }
        let o = req.object;
        let mut errs = Vec::new();
        let behavior = o.str_at("/spec/drain/behavior").unwrap_or("");
        if matches!(behavior, "Skip" | "WaitCompleted") {
            if let Some(order) = o.at("/spec/drain/order").and_then(Value::as_i64) {
                errs.push(FieldError::invalid_raw(
                    FPath::new(&["spec", "drain", "order"]),
                    order,
                    "order must not be set if drain behavior is \"Skip\" or \"WaitCompleted\"",
                ));
            }
        }
        errs.extend(selector_errors(o));
        invalid(o, errs)
    }
}
