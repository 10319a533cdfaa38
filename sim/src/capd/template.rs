//! The machine template controllers (`DockerMachineTemplate`, `DevMachineTemplate`): they report the
//! Docker host's capacity in `status.capacity` (what the cluster autoscaler reads to scale from zero).
//! Sources: release-1.13 `internal/controllers/dockermachinetemplate_controller.go`, main
//! `reconcilers/devmachinetemplate_reconciler.go` (`fetchSystemResourceCapacity`).
//!
//! Simplification: the simulated host has a memory budget but no CPU count, so only `memory` is
//! reported.

use super::shape::Shape;
use crate::kinds::Kind;
use crate::object::ObjKey;
use crate::runtime::{Action, Ctx, ReconcileResult, Reconciler};
use serde_json::json;

/// The machine template controller of one shape.
pub struct MachineTemplateReconciler {
    /// The shape.
    pub shape: Shape,
}

/// A memory size in MiB as a Kubernetes binary-SI quantity (`16Gi`, `1536Mi`).
pub fn memory_quantity(mb: u64) -> String {
    if mb > 0 && mb.is_multiple_of(1024) {
        format!("{}Gi", mb / 1024)
    } else {
        format!("{mb}Mi")
    }
}

impl Reconciler for MachineTemplateReconciler {
    fn name(&self) -> &'static str {
        match self.shape {
            Shape::Docker => "dockermachinetemplate",
            Shape::Dev => "devmachinetemplate",
        }
    }
    fn kind(&self) -> Kind {
        self.shape.template_kind()
    }
    fn reconcile(&self, ctx: &mut Ctx<'_>, key: &ObjKey) -> ReconcileResult {
        let Some(t) = ctx.get(key).cloned() else { return Ok(Action::DONE) };
        let memory = memory_quantity(ctx.world.docker.memory_budget_mb);
        if t.str_at("/status/capacity/memory") != Some(memory.as_str()) {
            // The kind has no status subresource: the status goes with the object.
            ctx.patch(&t.key(), |o| o.set("/status/capacity", json!({"memory": memory})))?;
        }
        Ok(Action::DONE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(memory_quantity(16384), "16Gi");
        assert_eq!(memory_quantity(1536), "1536Mi");
    }
}
