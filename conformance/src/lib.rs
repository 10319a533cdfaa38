//! Conformance: the same scenarios against a real management cluster (KinD + CAPD) through `kube` and
//! `bollard`, the simulator served as a Kubernetes-compatible API (so kubectl and kube-rs can drive it,
//! optionally creating real containers), and the comparison of normalized outcomes.
//!
//! Safety contract: this crate only ever touches containers that carry the CAPD labels of the
//! scenario's clusters (or the harness's own label) and objects of the scenario's namespaces.

pub mod apiserver;
pub mod compare;
pub mod container_feed;
pub mod docker;
pub mod kube_backend;
