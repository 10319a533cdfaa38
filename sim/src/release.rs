//! The one release of Cluster API the simulator models, and the tools a real management cluster is
//! built with to compare against it. Everything that names a version for that purpose reads it
//! here: the controllers' flag defaults (`controllers::flags`), the bench report, `cargo xtask
//! conformance up` (its `clusterctl init` pins every provider to [`CAPI_VERSION`]), the hints it
//! prints for missing tools, and the conformance workflow (`.github/workflows/conformance.yml`,
//! whose pins `xtask/tests/workflow.rs` checks against these constants).
//!
//! Sources (CAPI v1.13.5): `metadata.yaml` (the v1.13 release series), clusterctl's provider list
//! (`cmd/clusterctl/client/config/providers_client.go`: `cluster-api` core, `kubeadm` bootstrap and
//! control plane, `docker` infrastructure, all released with CAPI itself), `hack/ensure-kind.sh`
//! (`MINIMUM_KIND_VERSION` v0.32.0, the kind the release's own tooling requires).

/// The Cluster API release modelled: core, CABPK, KCP and CAPD (`Docker*` kinds) of this tag.
pub const CAPI_VERSION: &str = "v1.13.5";

/// How reports name the modelled release.
pub const RELEASE: &str = "CAPI v1.13.5";

/// The `clusterctl` binary of the same release: it knows the release's contract and provider URLs.
pub const CLUSTERCTL_VERSION: &str = CAPI_VERSION;

/// The kind version the conformance gate creates its management cluster with: the minimum CAPI
/// v1.13.5's tooling requires (`hack/ensure-kind.sh`).
pub const KIND_VERSION: &str = "v0.32.0";

/// One provider `clusterctl init` installs: its flag (`--core`, `--bootstrap`, ...), clusterctl's
/// name for it and the version pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provider {
    /// The `clusterctl init` flag that installs it, without dashes (`core`, `bootstrap`,
    /// `control-plane`, `infrastructure`).
    pub flag: &'static str,
    /// clusterctl's provider name (`cluster-api`, `kubeadm`, `docker`).
    pub name: &'static str,
    /// The version pinned.
    pub version: &'static str,
}

impl Provider {
    /// `name:version`, as `clusterctl init` takes it.
    pub fn spec(&self) -> String {
        format!("{}:{}", self.name, self.version)
    }
}

/// The providers of the modelled management cluster, in `clusterctl init`'s order.
pub const PROVIDERS: [Provider; 4] = [
    Provider { flag: "core", name: "cluster-api", version: CAPI_VERSION },
    Provider { flag: "bootstrap", name: "kubeadm", version: CAPI_VERSION },
    Provider { flag: "control-plane", name: "kubeadm", version: CAPI_VERSION },
    Provider { flag: "infrastructure", name: "docker", version: CAPI_VERSION },
];

/// The `clusterctl init` arguments that install exactly the modelled providers:
/// `--core cluster-api:v1.13.5 --bootstrap kubeadm:v1.13.5 --control-plane kubeadm:v1.13.5
/// --infrastructure docker:v1.13.5`.
pub fn clusterctl_init_args() -> Vec<String> {
    PROVIDERS.iter().flat_map(|p| [format!("--{}", p.flag), p.spec()]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_args_pin_every_provider_to_the_release() {
        assert_eq!(
            clusterctl_init_args().join(" "),
            "--core cluster-api:v1.13.5 --bootstrap kubeadm:v1.13.5 --control-plane kubeadm:v1.13.5 --infrastructure docker:v1.13.5"
        );
        assert_eq!(RELEASE, format!("CAPI {CAPI_VERSION}"));
    }
}
