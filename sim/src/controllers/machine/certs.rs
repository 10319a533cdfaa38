//! `reconcileCertificateExpiry` (`core/reconcilers/machine/machine_controller_phases.go`): a
//! control-plane Machine's `status.certificatesExpiryDate` from its own annotation or its bootstrap
//! config's, parsed as Go's `time.Parse(time.RFC3339, ...)` does (`crate::gotime`).

use super::super::common::keys;
use crate::object::Object;
use crate::runtime::{Action, Ctx, ReconcileError, ReconcileResult};
use serde_json::json;
use std::sync::Arc;

/// `machine.cluster.x-k8s.io/certificates-expiry` (`clusterv1.MachineCertificatesExpiryDateAnnotation`).
const CERTIFICATES_EXPIRY: &str = "machine.cluster.x-k8s.io/certificates-expiry";

/// `reconcileCertificateExpiry` (`machine_controller_phases.go`): a control-plane Machine's
/// `status.certificatesExpiryDate` comes from its own annotation, else from its bootstrap config's;
/// with neither it is cleared. Worker Machines are left alone.
pub(super) fn reconcile_certificate_expiry(ctx: &mut Ctx<'_>, m: &Arc<Object>, bootstrap: Option<&Object>) -> ReconcileResult {
    if m.label(keys::CONTROL_PLANE).is_none() {
        return Ok(Action::DONE);
    }
    let key = m.key();
    let m = ctx.current(&key).unwrap_or_else(|| m.clone());
    let source = if m.annotation(CERTIFICATES_EXPIRY).is_some() {
        Some(&*m)
    } else {
        bootstrap.filter(|b| b.annotation(CERTIFICATES_EXPIRY).is_some())
    };
    let want = match source {
        None => None,
        Some(o) => {
            let text = o.annotation(CERTIFICATES_EXPIRY).unwrap_or("");
            let t = crate::gotime::parse_rfc3339(text).map_err(|e| {
                ReconcileError(format!(
                    "failed to reconcile certificates expiry: failed to parse expiry date from annotation on {}/{}: {e}",
                    o.namespace(),
                    o.name()
                ))
            })?;
            Some(crate::gotime::format_rfc3339_utc(t))
        }
    };
    if m.str_at("/status/certificatesExpiryDate") != want.as_deref() {
        ctx.patch_status(&key, |o| match want {
            Some(t) => o.set("/status/certificatesExpiryDate", json!(t)),
            None => {
                o.remove("/status/certificatesExpiryDate");
            }
        })?;
    }
    Ok(Action::DONE)
}
