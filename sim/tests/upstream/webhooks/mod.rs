//! Admission webhooks of CAPI, KCP, CABPK and CAPD, restated from upstream's webhook unit tests
//! (`core/webhooks/admission/*_test.go`, `controlplane/kubeadm/webhooks/admission/*_test.go`,
//! `bootstrap/kubeadm/webhooks/admission/*_test.go`, `test/infrastructure/docker/webhooks/admission/*_test.go`).
//! Upstream's tests call `ValidateCreate`/`ValidateUpdate` on undefaulted objects; [`check`] does the
//! same with the simulator's webhook for the kind. Defaulting and the `/scale` subresource go
//! through the simulated API server ([`server`]). Where upstream only asserts that an error occurs,
//! the expected text is the one upstream's code builds (`field.Error` rendered by `apierrors.NewInvalid`).

use capi_sim::features::FeatureGates;
use capi_sim::kinds::Kind;
use capi_sim::object::Object;
use capi_sim::store::api::{AdmissionRequest, ApiServer, Operation, Webhook, WriteOptions};
use capi_sim::store::Store;
use capi_sim::webhooks;
use serde_json::{json, Value};

mod capd;
mod cluster;
mod crs;
mod drainrules;
mod kubeadm;
mod workers;

const MIN: &str = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size";
const MAX: &str = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size";

fn obj(v: Value) -> Object {
    Object::from_json(&v).expect("a valid object")
}

/// The validating webhook of a kind.
fn webhook(kind: Kind) -> Box<dyn Webhook> {
    webhooks::all().into_iter().find(|w| w.kind() == kind && w.name().starts_with("validation.")).expect("a webhook")
}

/// `ValidateCreate` (no `old`) or `ValidateUpdate` of the kind's validating webhook.
fn check(new: &Object, old: Option<&Object>, gates: &FeatureGates) -> Result<Vec<String>, String> {
    let store = Store::new(1);
    let op = if old.is_some() { Operation::Update } else { Operation::Create };
    webhook(new.kind).validate(&AdmissionRequest { op, object: new, old, store: &store, gates, dry_run: false })
}

/// The default gates with `f` applied.
fn gates(f: impl FnOnce(&mut FeatureGates)) -> FeatureGates {
    let mut g = FeatureGates::default();
    f(&mut g);
    g
}

/// An API server with every webhook.
fn server(g: FeatureGates) -> ApiServer {
    ApiServer::new(Store::new(7), g, webhooks::all())
}

const OPTS: WriteOptions = WriteOptions::at(0);

/// Assert an answer: `None` = allowed; `Some(text)` = denied with a message containing `text`.
fn expect(got: Result<Vec<String>, String>, want: Option<&str>) {
    match (got, want) {
        (Ok(_), None) => {}
        (Err(e), Some(w)) => assert!(e.contains(w), "denied with\n  {e}\nexpected it to contain\n  {w}"),
        (Ok(w), Some(want)) => panic!("allowed (warnings {w:?}), expected a denial containing {want:?}"),
        (Err(e), None) => panic!("denied: {e}"),
    }
}

/// A MachineDeployment with the fields its webhook requires, `spec` merged over them.
fn md(name: &str, spec: Value) -> Object {
    let mut base = json!({"clusterName": "c", "template": {"spec": {"clusterName": "c",
        "bootstrap": {"configRef": {"apiGroup": "bootstrap.cluster.x-k8s.io", "kind": "KubeadmConfigTemplate", "name": "b"}},
        "infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DockerMachineTemplate", "name": "i"}}}});
    json_patch::merge(&mut base, &spec);
    obj(
        json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachineDeployment", "metadata": {"name": name, "namespace": "default"}, "spec": base}),
    )
}

fn with_kind(mut o: Object, kind: Kind) -> Object {
    let mut v = o.to_json();
    v["kind"] = json!(kind.name());
    o = obj(v);
    o
}
