//! The ClusterResourceSet and ClusterResourceSetBinding admission webhooks (CAPI core, served by
//! capi-controller-manager). ClusterResourceSet: `spec.strategy` defaults to `ApplyOnce`; the
//! cluster selector must not be empty; strategy and selector are immutable once set.
//! ClusterResourceSetBinding: `spec.clusterName` is immutable once set.
//! Sources: `core/webhooks/admission/clusterresourceset.go`, `clusterresourcesetbinding.go`.
//!
//! Simplification: `metav1.LabelSelectorAsSelector` is restated for keys, values and operators
//! (`webhooks/meta.rs: selector_error`).

use super::machine::invalid;
use super::meta::{go_label_selector, selector_error};
use crate::controllers::topology::field::{FPath, FieldError};
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::object::Object;
use crate::store::api::{AdmissionRequest, Operation, Webhook};
use crate::store::Store;
use serde_json::{json, Value};

/// The webhooks of this module.
pub fn webhooks() -> Vec<Box<dyn Webhook>> {
    vec![Box::new(ClusterResourceSetWebhook), Box::new(ClusterResourceSetBindingWebhook)]
}

/// The ClusterResourceSet webhook pair.
pub struct ClusterResourceSetWebhook;
/// The ClusterResourceSetBinding validating webhook.
pub struct ClusterResourceSetBindingWebhook;

/// Go's `reflect.DeepEqual` of two label selectors as JSON (an absent map equals an empty one,
/// as both decode to a nil map).
fn same_selector(a: Option<&Value>, b: Option<&Value>) -> bool {
    let norm = |v: Option<&Value>| {
        let mut out = serde_json::Map::new();
        for k in ["matchLabels", "matchExpressions"] {
            if let Some(x) = v.and_then(|v| v.get(k)).filter(|x| !x.is_null() && x.as_object().is_none_or(|m| !m.is_empty())) {
                if x.as_array().is_none_or(|a| !a.is_empty()) {
                    out.insert(k.to_string(), x.clone());
                }
            }
        }
        out
    };
    norm(a) == norm(b)
}

impl Webhook for ClusterResourceSetWebhook {
    fn kind(&self) -> Kind {
        Kind::ClusterResourceSet
    }
    fn name(&self) -> &'static str {
        "validation.clusterresourceset.addons.cluster.x-k8s.io"
    }
    fn manager(&self) -> &'static str {
        "capi"
    }
    fn default(&self, _op: Operation, o: &mut Object, _store: &Store, _gates: &FeatureGates) {
        if o.str_at("/spec/strategy").is_none_or(str::is_empty) {
            o.set("/spec/strategy", json!("ApplyOnce"));
        }
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        if req.op == Operation::Delete {
            return Ok(vec![]);
        }
        let o = req.object;
        let old = req.old.filter(|_| req.op == Operation::Update);
        let path = FPath::new(&["spec", "clusterSelector"]);
        let sel = o.at("/spec/clusterSelector");
        let mut errs = Vec::new();
        let parse_error = selector_error(sel);
        if let Some(e) = &parse_error {
            errs.push(FieldError::invalid_raw(path.clone(), go_label_selector(sel), e.clone()));
        }
        let empty = parse_error.is_none()
            && sel.is_none_or(|s| {
                s.get("matchLabels").and_then(Value::as_object).is_none_or(|x| x.is_empty())
                    && s.get("matchExpressions").and_then(Value::as_array).is_none_or(|x| x.is_empty())
            });
        if empty {
            errs.push(FieldError::invalid_raw(path.clone(), go_label_selector(sel), "selector must not be empty"));
        }
        if let Some(old) = old {
            let (was, now) = (old.str_at("/spec/strategy").unwrap_or(""), o.str_at("/spec/strategy").unwrap_or(""));
            if !was.is_empty() && was != now {
                errs.push(FieldError::invalid(FPath::new(&["spec", "strategy"]), now, "field is immutable"));
            }
            if !same_selector(old.at("/spec/clusterSelector"), sel) {
                errs.push(FieldError::invalid_raw(path, go_label_selector(sel), "field is immutable"));
            }
        }
        invalid(o, errs)
    }
}

impl Webhook for ClusterResourceSetBindingWebhook {
    fn kind(&self) -> Kind {
        Kind::ClusterResourceSetBinding
    }
    fn name(&self) -> &'static str {
        "validation.clusterresourcesetbinding.addons.cluster.x-k8s.io"
    }
    fn manager(&self) -> &'static str {
        "capi"
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        let (Operation::Update, Some(old)) = (req.op, req.old) else { return Ok(vec![]) };
        let o = req.object;
        let (was, now) = (old.str_at("/spec/clusterName").unwrap_or(""), o.str_at("/spec/clusterName").unwrap_or(""));
        let mut errs = Vec::new();
        if !was.is_empty() && was != now {
            errs.push(FieldError::invalid(FPath::new(&["spec", "clusterName"]), now, "field is immutable"));
        }
        invalid(o, errs)
    }
}
