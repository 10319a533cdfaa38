//! The two API shapes CAPD serves and where their fields live. `Docker*` kinds (the v1.13 line) keep
//! the docker settings at the top of `spec`; `Dev*` kinds (v1.14 and later) nest them under
//! `spec.backend.docker`. The shape also selects the machine flow: `DockerMachine` runs the v1.13
//! flow (synchronous bootstrap, providerID after bootstrap), `DevMachine` the main-branch flow
//! (asynchronous tasks, providerID before bootstrap).
//! Sources: release-1.13 `test/infrastructure/docker/api/v1beta2/docker*_types.go`,
//! main `test/infrastructure/docker/api/v1beta2/dev*_types.go`.

use crate::kinds::Kind;

/// An API shape of CAPD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Shape {
    /// `DockerCluster`, `DockerMachine`, `DockerMachinePool`, `DockerMachineTemplate` (release-1.13).
    Docker,
    /// `DevCluster`, `DevMachine`, `DevMachinePool`, `DevMachineTemplate` with `spec.backend.docker` (main).
    Dev,
}

/// The infra cluster finalizer (both shapes).
pub const CLUSTER_FINALIZER: &str = "dockercluster.infrastructure.cluster.x-k8s.io";
/// The infra machine finalizer (both shapes).
pub const MACHINE_FINALIZER: &str = "dockermachine.infrastructure.cluster.x-k8s.io";
/// The infra machine pool finalizer (both shapes).
pub const POOL_FINALIZER: &str = "dockermachinepool.infrastructure.cluster.x-k8s.io";

impl Shape {
    /// Both shapes.
    pub const ALL: [Shape; 2] = [Shape::Docker, Shape::Dev];

    /// The shape of a CAPD kind.
    pub fn of(kind: Kind) -> Option<Shape> {
        match kind {
            Kind::DockerCluster
            | Kind::DockerClusterTemplate
            | Kind::DockerMachine
            | Kind::DockerMachineTemplate
            | Kind::DockerMachinePool
            | Kind::DockerMachinePoolTemplate => Some(Shape::Docker),
            Kind::DevCluster
            | Kind::DevClusterTemplate
            | Kind::DevMachine
            | Kind::DevMachineTemplate
            | Kind::DevMachinePool
            | Kind::DevMachinePoolTemplate => Some(Shape::Dev),
            _ => None,
        }
    }

    /// The infra cluster kind.
    pub fn cluster_kind(self) -> Kind {
        match self {
            Shape::Docker => Kind::DockerCluster,
            Shape::Dev => Kind::DevCluster,
        }
    }

    /// The infra machine kind.
    pub fn machine_kind(self) -> Kind {
        match self {
            Shape::Docker => Kind::DockerMachine,
            Shape::Dev => Kind::DevMachine,
        }
    }

    /// The infra machine pool kind.
    pub fn pool_kind(self) -> Kind {
        match self {
            Shape::Docker => Kind::DockerMachinePool,
            Shape::Dev => Kind::DevMachinePool,
        }
    }

    /// The infra machine template kind.
    pub fn template_kind(self) -> Kind {
        match self {
            Shape::Docker => Kind::DockerMachineTemplate,
            Shape::Dev => Kind::DevMachineTemplate,
        }
    }

    /// Where an infra cluster keeps `failureDomains` and `loadBalancer`.
    pub fn cluster_backend(self) -> &'static str {
        match self {
            Shape::Docker => "/spec",
            Shape::Dev => "/spec/backend/docker",
        }
    }

    /// Where an infra machine keeps `customImage`, `extraMounts`, `preLoadImages`, `bootstrapTimeout`.
    pub fn machine_backend(self) -> &'static str {
        match self {
            Shape::Docker => "/spec",
            Shape::Dev => "/spec/backend/docker",
        }
    }

    /// Where an infra machine pool keeps `customImage`, `extraMounts`, `preLoadImages`.
    pub fn pool_backend(self) -> &'static str {
        match self {
            Shape::Docker => "/spec/template",
            Shape::Dev => "/spec/backend/docker",
        }
    }

    /// The container label naming the pool a container belongs to.
    pub fn pool_container_label(self) -> &'static str {
        match self {
            Shape::Docker => "docker.cluster.x-k8s.io/machine-pool",
            Shape::Dev => "dev.cluster.x-k8s.io/machine-pool",
        }
    }

    /// The annotation tracking the load-balancer weight of a control-plane machine.
    pub fn weight_annotation(self) -> &'static str {
        match self {
            Shape::Docker => "dockermachine.infrastructure.cluster.x-k8s.io/weight",
            Shape::Dev => "devmachine.infrastructure.cluster.x-k8s.io/weight",
        }
    }

    /// Whether the shape has a docker backend configured: `Docker*` always; `Dev*` when
    /// `spec.backend.docker` is set (the webhook defaults it when no backend is given).
    pub fn has_docker_backend(self, obj: &crate::object::Object, backend: &str) -> bool {
        match self {
            Shape::Docker => true,
            Shape::Dev => obj.at(backend).is_some_and(|v| v.is_object()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(Kind::DockerCluster, Some(Shape::Docker))]
    #[case(Kind::DevMachineTemplate, Some(Shape::Dev))]
    #[case(Kind::DevMachinePool, Some(Shape::Dev))]
    #[case(Kind::Machine, None)]
    fn shape_of_kind(#[case] kind: Kind, #[case] want: Option<Shape>) {
        assert_eq!(Shape::of(kind), want);
    }

    #[test]
    fn kinds_round_trip() {
        for s in Shape::ALL {
            assert_eq!(Shape::of(s.cluster_kind()), Some(s));
            assert_eq!(Shape::of(s.machine_kind()), Some(s));
            assert_eq!(Shape::of(s.pool_kind()), Some(s));
            assert_eq!(Shape::of(s.template_kind()), Some(s));
        }
        assert_ne!(Shape::Docker.pool_container_label(), Shape::Dev.pool_container_label());
    }
}
