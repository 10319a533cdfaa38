//! The closed set of kinds the simulated API server serves: core kinds CAPI uses, CAPI v1beta2, CABPK,
//! KCP, and CAPD in both shapes users have (`Docker*` of the v1.13 line, `Dev*` after v1.14).

use std::fmt;

/// A kind the simulator serves. Closed: an unknown kind is refused like a kind without a CRD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)]
pub enum Kind {
    Namespace,
    ConfigMap,
    Secret,
    Cluster,
    ClusterClass,
    Machine,
    MachineSet,
    MachineDeployment,
    MachineHealthCheck,
    MachinePool,
    ClusterResourceSet,
    ClusterResourceSetBinding,
    KubeadmConfig,
    KubeadmConfigTemplate,
    KubeadmControlPlane,
    KubeadmControlPlaneTemplate,
    DockerCluster,
    DockerClusterTemplate,
    DockerMachine,
    DockerMachineTemplate,
    DockerMachinePool,
    DockerMachinePoolTemplate,
    DevCluster,
    DevClusterTemplate,
    DevMachine,
    DevMachineTemplate,
    DevMachinePool,
    DevMachinePoolTemplate,
    Event,
    MachineDrainRule,
}

/// What the API server knows about a kind (what discovery serves).
#[derive(Debug)]
pub struct KindInfo {
    /// The kind.
    pub kind: Kind,
    /// Kind name.
    pub name: &'static str,
    /// API group ("" for core).
    pub group: &'static str,
    /// Served version.
    pub version: &'static str,
    /// Resource (plural) name.
    pub plural: &'static str,
    /// Singular resource name.
    pub singular: &'static str,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// `kubectl` short names.
    pub short_names: &'static [&'static str],
    /// Whether it has a `/status` subresource.
    pub status_subresource: bool,
}

macro_rules! kinds {
    ($( $k:ident, $group:expr, $version:expr, $plural:expr, $singular:expr, $ns:expr, [$($short:expr),*], $status:expr; )*) => {
        /// Every kind with its API facts, in [`Kind`] order.
        pub static KINDS: &[KindInfo] = &[
            $( KindInfo { kind: Kind::$k, name: stringify!($k), group: $group, version: $version, plural: $plural,
                singular: $singular, namespaced: $ns, short_names: &[$($short),*], status_subresource: $status }, )*
        ];
    };
}

const CAPI: &str = "cluster.x-k8s.io";
const ADDONS: &str = "addons.cluster.x-k8s.io";
const BOOTSTRAP: &str = "bootstrap.cluster.x-k8s.io";
const CONTROLPLANE: &str = "controlplane.cluster.x-k8s.io";
const INFRA: &str = "infrastructure.cluster.x-k8s.io";
const V1B2: &str = "v1beta2";

kinds! {
    Namespace, "", "v1", "namespaces", "namespace", false, ["ns"], true;
    ConfigMap, "", "v1", "configmaps", "configmap", true, ["cm"], false;
    Secret, "", "v1", "secrets", "secret", true, [], false;
    Cluster, CAPI, V1B2, "clusters", "cluster", true, ["cl"], true;
    ClusterClass, CAPI, V1B2, "clusterclasses", "clusterclass", true, ["cc"], true;
    Machine, CAPI, V1B2, "machines", "machine", true, ["ma"], true;
    MachineSet, CAPI, V1B2, "machinesets", "machineset", true, ["ms"], true;
    MachineDeployment, CAPI, V1B2, "machinedeployments", "machinedeployment", true, ["md"], true;
    MachineHealthCheck, CAPI, V1B2, "machinehealthchecks", "machinehealthcheck", true, ["mhc", "mhcs"], true;
    MachinePool, CAPI, V1B2, "machinepools", "machinepool", true, ["mp"], true;
    ClusterResourceSet, ADDONS, V1B2, "clusterresourcesets", "clusterresourceset", true, ["crs"], true;
    ClusterResourceSetBinding, ADDONS, V1B2, "clusterresourcesetbindings", "clusterresourcesetbinding", true, ["crsb"], false;
    KubeadmConfig, BOOTSTRAP, V1B2, "kubeadmconfigs", "kubeadmconfig", true, [], true;
    KubeadmConfigTemplate, BOOTSTRAP, V1B2, "kubeadmconfigtemplates", "kubeadmconfigtemplate", true, [], false;
    KubeadmControlPlane, CONTROLPLANE, V1B2, "kubeadmcontrolplanes", "kubeadmcontrolplane", true, ["kcp"], true;
    KubeadmControlPlaneTemplate, CONTROLPLANE, V1B2, "kubeadmcontrolplanetemplates", "kubeadmcontrolplanetemplate", true, [], false;
    DockerCluster, INFRA, V1B2, "dockerclusters", "dockercluster", true, [], true;
    DockerClusterTemplate, INFRA, V1B2, "dockerclustertemplates", "dockerclustertemplate", true, [], false;
    DockerMachine, INFRA, V1B2, "dockermachines", "dockermachine", true, [], true;
    DockerMachineTemplate, INFRA, V1B2, "dockermachinetemplates", "dockermachinetemplate", true, [], false;
    DockerMachinePool, INFRA, V1B2, "dockermachinepools", "dockermachinepool", true, [], true;
    DockerMachinePoolTemplate, INFRA, V1B2, "dockermachinepooltemplates", "dockermachinepooltemplate", true, [], false;
    DevCluster, INFRA, V1B2, "devclusters", "devcluster", true, [], true;
    DevClusterTemplate, INFRA, V1B2, "devclustertemplates", "devclustertemplate", true, [], false;
    DevMachine, INFRA, V1B2, "devmachines", "devmachine", true, [], true;
    DevMachineTemplate, INFRA, V1B2, "devmachinetemplates", "devmachinetemplate", true, [], false;
    DevMachinePool, INFRA, V1B2, "devmachinepools", "devmachinepool", true, [], true;
    DevMachinePoolTemplate, INFRA, V1B2, "devmachinepooltemplates", "devmachinepooltemplate", true, [], false;
    Event, "", "v1", "events", "event", true, ["ev"], false;
    MachineDrainRule, CAPI, V1B2, "machinedrainrules", "machinedrainrule", true, [], false;
}

impl Kind {
    /// Every kind.
    pub fn all() -> impl Iterator<Item = Kind> {
        KINDS.iter().map(|k| k.kind)
    }

    /// API facts.
    pub fn info(self) -> &'static KindInfo {
        let info = &KINDS[self as usize];
        debug_assert_eq!(info.kind, self);
        info
    }

    /// Kind name.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// `group/version` (or `v1` for core).
    pub fn api_version(self) -> &'static str {
        match self.info().group {
            "" => "v1",
            "cluster.x-k8s.io" => "cluster.x-k8s.io/v1beta2",
            "addons.cluster.x-k8s.io" => "addons.cluster.x-k8s.io/v1beta2",
            "bootstrap.cluster.x-k8s.io" => "bootstrap.cluster.x-k8s.io/v1beta2",
            "controlplane.cluster.x-k8s.io" => "controlplane.cluster.x-k8s.io/v1beta2",
            _ => "infrastructure.cluster.x-k8s.io/v1beta2",
        }
    }

    /// A kind by name.
    pub fn from_name(name: &str) -> Option<Kind> {
        KINDS.iter().find(|k| k.name == name).map(|k| k.kind)
    }

    /// A kind by name, also accepting plural, singular and short resource names (as kubectl does).
    pub fn lookup(name: &str) -> Option<Kind> {
        let lower = name.to_ascii_lowercase();
        KINDS
            .iter()
            .find(|k| k.name == name || k.plural == lower || k.singular == lower || k.short_names.contains(&lower.as_str()))
            .map(|k| k.kind)
    }

    /// A kind by `apiVersion` and kind name; the error says what the server serves.
    pub fn resolve(api_version: &str, kind: &str) -> Result<Kind, String> {
        let k = Kind::from_name(kind)
            .ok_or_else(|| format!("no matches for kind \"{kind}\" in version \"{api_version}\": the simulator serves no such kind"))?;
        if k.api_version() != api_version {
            return Err(format!(
                "no matches for kind \"{kind}\" in version \"{api_version}\": the simulator serves {kind} as {} (Cluster API v1beta2 contract)",
                k.api_version()
            ));
        }
        Ok(k)
    }

    /// The group of a `group/version` string.
    pub fn group_of(api_version: &str) -> &str {
        api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }

    /// Infrastructure cluster kinds (CAPD's two shapes).
    pub fn is_infra_cluster(self) -> bool {
        matches!(self, Kind::DockerCluster | Kind::DevCluster)
    }

    /// Infrastructure machine kinds.
    pub fn is_infra_machine(self) -> bool {
        matches!(self, Kind::DockerMachine | Kind::DevMachine)
    }

    /// Infrastructure machine-pool kinds.
    pub fn is_infra_machine_pool(self) -> bool {
        matches!(self, Kind::DockerMachinePool | Kind::DevMachinePool)
    }

    /// The object kind a template kind stamps out (`DevMachineTemplate` → `DevMachine`).
    pub fn template_target(self) -> Option<Kind> {
        Some(match self {
            Kind::DockerClusterTemplate => Kind::DockerCluster,
            Kind::DockerMachineTemplate => Kind::DockerMachine,
            Kind::DockerMachinePoolTemplate => Kind::DockerMachinePool,
            Kind::DevClusterTemplate => Kind::DevCluster,
            Kind::DevMachineTemplate => Kind::DevMachine,
            Kind::DevMachinePoolTemplate => Kind::DevMachinePool,
            Kind::KubeadmConfigTemplate => Kind::KubeadmConfig,
            Kind::KubeadmControlPlaneTemplate => Kind::KubeadmControlPlane,
            _ => return None,
        })
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A small set of kinds (a bit set), for "which kinds does this manager watch".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KindSet(u64);

impl KindSet {
    /// Empty.
    pub const EMPTY: KindSet = KindSet(0);
    /// Add a kind.
    pub fn insert(&mut self, k: Kind) {
        self.0 |= 1 << (k as u64);
    }
    /// Whether it holds a kind.
    pub fn contains(self, k: Kind) -> bool {
        self.0 & (1 << (k as u64)) != 0
    }
    /// From kinds.
    pub fn of(kinds: &[Kind]) -> KindSet {
        let mut s = KindSet::EMPTY;
        for k in kinds {
            s.insert(*k);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_enum_order() {
        for (i, k) in KINDS.iter().enumerate() {
            assert_eq!(k.kind as usize, i, "{}", k.name);
            assert_eq!(Kind::from_name(k.name), Some(k.kind));
        }
        assert_eq!(Kind::lookup("kcp"), Some(Kind::KubeadmControlPlane));
        assert_eq!(Kind::lookup("machines"), Some(Kind::Machine));
        assert!(Kind::resolve("cluster.x-k8s.io/v1beta1", "Cluster").unwrap_err().contains("v1beta2"));
    }
}
