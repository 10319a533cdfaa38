//! Rust types for every Cluster API kind the simulator serves, restated from upstream's Go API types
//! (field names, JSON names, types and kubebuilder validation markers, read as facts), as `serde` +
//! `schemars` types; and, from them, the structural OpenAPI v3 schema of each kind ([`schema`]) that
//! the served API publishes and lists as CustomResourceDefinitions.
//!
//! One module per API group, one file per upstream Go file:
//! - [`core`] — `cluster.x-k8s.io/v1beta2` (`api/core/v1beta2/*_types.go`, cluster-api main);
//! - [`bootstrap`] — CABPK, `bootstrap.cluster.x-k8s.io/v1beta2` (`api/bootstrap/kubeadm/v1beta2`);
//! - [`controlplane`] — KCP, `controlplane.cluster.x-k8s.io/v1beta2` (`api/controlplane/kubeadm/v1beta2`);
//! - [`addons`] — `addons.cluster.x-k8s.io/v1beta2` (`api/addons/v1beta2`);
//! - [`capd_docker`] — CAPD's `Docker*` kinds of v1.13.5 (`test/infrastructure/docker/api/v1beta2` of
//!   release-1.13), `infrastructure.cluster.x-k8s.io/v1beta2`;
//! - [`capd_dev`] — CAPD's `Dev*` kinds of main (`test/infrastructure/docker/api/v1beta2`);
//! - [`meta`] — the Kubernetes types they embed (`metav1`, `corev1`, `intstr`).
//!
//! Conventions: a field Go marks required (`+required`, or neither `omitempty` nor `+optional`) is a
//! plain Rust field; an optional one is an `Option` (lists and maps: empty when absent), skipped
//! when serialized empty. Go string types with `+kubebuilder:validation:Enum` are Rust enums; the
//! other markers (lengths, bounds, patterns, list types) are `schemars(extend(...))` attributes.
//! Left out on purpose: descriptions, `+kubebuilder:default`, CEL rules (`XValidation`), and the
//! `items:` markers on lists of strings. Controllers still read objects as JSON; they move to
//! these types later.

pub mod addons;
pub mod bootstrap;
pub mod capd_dev;
pub mod capd_docker;
pub mod check;
pub mod controlplane;
pub mod core;
pub mod meta;
pub mod schema;
