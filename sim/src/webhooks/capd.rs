//! CAPD's admission webhooks (served by the `capd` manager) for both API shapes:
//! - `DockerCluster`/`DevCluster`: default `controlPlaneEndpoint.port` to 6443 and each failure
//!   domain's `controlPlane` to false (`Dev*`: only with a docker backend, which is defaulted when no
//!   backend is set); validate that failure domains are sorted by name.
//! - `DockerClusterTemplate`/`DevClusterTemplate`: the same defaults on `spec.template.spec`; creation
//!   needs the ClusterTopology gate; `spec.template.spec` is immutable.
//! - `DockerMachine`/`DevMachine`: `customImage` cannot change (`DevMachine` also defaults the docker
//!   backend).
//! - `DockerMachineTemplate`/`DevMachineTemplate`: `spec.template.spec` is immutable, except for the
//!   topology controller's dry-run requests; `spec.template.metadata` must hold valid labels and
//!   annotations.
//!
//! Sources: release-1.13 `test/infrastructure/docker/internal/webhooks/{dockercluster,dockerclustertemplate,
//! dockermachine,dockermachinetemplate}.go`, main `test/infrastructure/docker/webhooks/admission/dev*.go`.
//!
//! The template immutability exemption applies to dry-run requests carrying the topology dry-run
//! annotation (`topology.IsDryRunRequest`), as upstream.
//!
//! Simplifications: structured field values in messages are their JSON with keys sorted (Go writes
//! struct fields in declaration order), and the immutability diff is a JSON merge patch.

use crate::capd::patch::merge_diff;
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::object::Object;
use crate::store::api::{AdmissionRequest, Operation, Webhook};
use crate::store::error::qualified_kind;
use crate::store::Store;
use serde_json::{json, Value};

/// The manager serving CAPD's webhooks.
const MANAGER: &str = "capd";
/// The annotation the topology controller puts on objects it dry-runs.
pub const TOPOLOGY_DRY_RUN: &str = "topology.cluster.x-k8s.io/dry-run";

/// CAPD's webhooks.
pub fn webhooks() -> Vec<Box<dyn Webhook>> {
    vec![
        Box::new(ClusterWebhook(Kind::DockerCluster)),
        Box::new(ClusterWebhook(Kind::DevCluster)),
        Box::new(ClusterTemplateWebhook(Kind::DockerClusterTemplate)),
        Box::new(ClusterTemplateWebhook(Kind::DevClusterTemplate)),
        Box::new(MachineWebhook(Kind::DockerMachine)),
        Box::new(MachineWebhook(Kind::DevMachine)),
        Box::new(MachineTemplateWebhook(Kind::DockerMachineTemplate)),
        Box::new(MachineTemplateWebhook(Kind::DevMachineTemplate)),
    ]
}

fn validation_name(kind: Kind) -> &'static str {
    match kind {
        Kind::DockerCluster => "validation.dockercluster.infrastructure.cluster.x-k8s.io",
        Kind::DevCluster => "validation.devcluster.infrastructure.cluster.x-k8s.io",
        Kind::DockerClusterTemplate => "validation.dockerclustertemplate.infrastructure.cluster.x-k8s.io",
        Kind::DevClusterTemplate => "validation.devclustertemplate.infrastructure.cluster.x-k8s.io",
        Kind::DockerMachine => "validation.dockermachine.infrastructure.cluster.x-k8s.io",
        Kind::DevMachine => "validation.devmachine.infrastructure.cluster.x-k8s.io",
        Kind::DockerMachineTemplate => "validation.dockermachinetemplate.infrastructure.cluster.x-k8s.io",
        _ => "validation.devmachinetemplate.infrastructure.cluster.x-k8s.io",
    }
}

/// `apierrors.NewInvalid(groupKind, name, errs)` as the message after "denied the request: ".
fn invalid(kind: Kind, name: &str, errs: &[String]) -> String {
    let detail = if errs.len() == 1 { errs[0].clone() } else { format!("[{}]", errs.join(", ")) };
    format!("{} \"{name}\" is invalid: {detail}", qualified_kind(kind))
}

/// A field path from a JSON pointer (`/spec/backend/docker` → `spec.backend.docker`).
fn path(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

/// `field.Invalid` text.
fn invalid_value(pointer: &str, value: &Value, detail: &str) -> String {
    let shown = match value {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => super::meta::go_json_value(other),
    };
    format!("{}: Invalid value: {shown}: {detail}", path(pointer))
}

// ----- Infra clusters -----

/// Where an infra cluster spec keeps its docker backend fields (`None`: no docker backend).
fn cluster_backend(kind: Kind, spec: &str, obj: &Object) -> Option<String> {
    match kind {
        Kind::DockerCluster | Kind::DockerClusterTemplate => Some(spec.to_string()),
        _ => {
            let p = format!("{spec}/backend/docker");
            obj.at(&p).is_some_and(Value::is_object).then_some(p)
        }
    }
}

/// `defaultDockerClusterSpec` / `defaultDevClusterSpec` on the spec at `spec`.
fn default_cluster_spec(kind: Kind, spec: &str, obj: &mut Object) {
    let dev = matches!(kind, Kind::DevCluster | Kind::DevClusterTemplate);
    if dev {
        let has_backend = |b: &str| obj.at(&format!("{spec}/backend/{b}")).is_some_and(|v| !v.is_null());
        if !has_backend("docker") && !has_backend("inMemory") {
            obj.set(&format!("{spec}/backend/docker"), json!({}));
        }
    }
    let Some(backend) = cluster_backend(kind, spec, obj) else { return };
    let port = format!("{spec}/controlPlaneEndpoint/port");
    if obj.i64_at(&port).unwrap_or(0) == 0 {
        obj.set(&port, json!(6443));
    }
    let fds = format!("{backend}/failureDomains");
    if let Some(Value::Array(list)) = obj.at(&fds).cloned() {
        let list: Vec<Value> = list
            .into_iter()
            .map(|mut fd| {
                if let Some(m) = fd.as_object_mut() {
                    if m.get("controlPlane").is_none_or(Value::is_null) {
                        m.insert("controlPlane".into(), json!(false));
                    }
                }
                fd
            })
            .collect();
        obj.set(&fds, Value::Array(list));
    }
}

/// `validateDockerClusterSpec` / `validateDevClusterSpec`: failure domains sorted by name.
fn validate_cluster_spec(kind: Kind, spec: &str, obj: &Object) -> Vec<String> {
    let Some(backend) = cluster_backend(kind, spec, obj) else { return vec![] };
    let pointer = format!("{backend}/failureDomains");
    let Some(list) = obj.at(&pointer).and_then(Value::as_array) else { return vec![] };
    let names: Vec<&str> = list.iter().map(|fd| fd.get("name").and_then(Value::as_str).unwrap_or("")).collect();
    let mut sorted = names.clone();
    sorted.sort();
    if names != sorted {
        // The Go webhook validates the spec itself, so the path has no template prefix.
        let field = pointer.strip_prefix("/spec/template").map_or(pointer.clone(), |p| p.to_string());
        return vec![invalid_value(&field, &Value::Array(list.clone()), "failure domains must be sorted by name")];
    }
    vec![]
}

struct ClusterWebhook(Kind);

impl Webhook for ClusterWebhook {
    fn kind(&self) -> Kind {
        self.0
    }
    fn name(&self) -> &'static str {
        validation_name(self.0)
    }
    fn manager(&self) -> &'static str {
        MANAGER
    }
    fn default(&self, _op: Operation, obj: &mut Object, _store: &Store, _gates: &FeatureGates) {
        default_cluster_spec(self.0, "/spec", obj);
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        if req.op == Operation::Delete {
            return Ok(vec![]);
        }
        let errs = validate_cluster_spec(self.0, "/spec", req.object);
        if errs.is_empty() {
            Ok(vec![])
        } else {
            Err(invalid(self.0, req.object.name(), &errs))
        }
    }
}

struct ClusterTemplateWebhook(Kind);

impl Webhook for ClusterTemplateWebhook {
    fn kind(&self) -> Kind {
        self.0
    }
    fn name(&self) -> &'static str {
        validation_name(self.0)
    }
    fn manager(&self) -> &'static str {
        MANAGER
    }
    fn default(&self, _op: Operation, obj: &mut Object, _store: &Store, _gates: &FeatureGates) {
        default_cluster_spec(self.0, "/spec/template/spec", obj);
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        let obj = req.object;
        match req.op {
            Operation::Delete => Ok(vec![]),
            Operation::Create => {
                if !req.gates.cluster_topology {
                    return Err("spec: Forbidden: can be set only if the ClusterTopology feature flag is enabled".into());
                }
                let mut errs = validate_cluster_spec(self.0, "/spec/template/spec", obj);
                errs.extend(validate_metadata(obj, "/spec/template/metadata"));
                if errs.is_empty() {
                    Ok(vec![])
                } else {
                    Err(invalid(self.0, obj.name(), &errs))
                }
            }
            Operation::Update => {
                let Some(old) = req.old else { return Ok(vec![]) };
                let mut old = old.clone();
                default_cluster_spec(self.0, "/spec/template/spec", &mut old);
                let (a, b) = (old.at("/spec/template/spec").cloned(), obj.at("/spec/template/spec").cloned());
                match merge_diff(&a.unwrap_or(Value::Null), &b.unwrap_or(Value::Null)) {
                    None => Ok(vec![]),
                    Some(diff) => Err(invalid(self.0, obj.name(), &[immutable(self.0, &diff)])),
                }
            }
        }
    }
}

fn immutable(kind: Kind, diff: &Value) -> String {
    invalid_value(
        "/spec/template/spec",
        &json!({}),
        &format!("{} spec.template.spec field is immutable. Please create a new resource instead. Diff: {diff}", kind.name()),
    )
}

// ----- Infra machines -----

struct MachineWebhook(Kind);

impl Webhook for MachineWebhook {
    fn kind(&self) -> Kind {
        self.0
    }
    fn name(&self) -> &'static str {
        validation_name(self.0)
    }
    fn manager(&self) -> &'static str {
        MANAGER
    }
    fn default(&self, _op: Operation, obj: &mut Object, _store: &Store, _gates: &FeatureGates) {
        if self.0 == Kind::DevMachine {
            default_dev_machine_spec("/spec", obj);
        }
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        let (Operation::Update, Some(old)) = (req.op, req.old) else { return Ok(vec![]) };
        let new = req.object;
        let pointer = match self.0 {
            Kind::DockerMachine => "/spec/customImage",
            _ => {
                if old.at("/spec/backend/docker").is_none_or(Value::is_null) || new.at("/spec/backend/docker").is_none_or(Value::is_null) {
                    return Ok(vec![]);
                }
                "/spec/backend/docker/customImage"
            }
        };
        if old.str_at(pointer).unwrap_or("") != new.str_at(pointer).unwrap_or("") {
            return Err(invalid(self.0, new.name(), &[format!("{}: Forbidden: cannot be modified", path(pointer))]));
        }
        Ok(vec![])
    }
}

/// `defaultDevMachineSpec`: a docker backend when no backend is set.
fn default_dev_machine_spec(spec: &str, obj: &mut Object) {
    let has = |b: &str| obj.at(&format!("{spec}/backend/{b}")).is_some_and(|v| !v.is_null());
    if !has("docker") && !has("inMemory") {
        obj.set(&format!("{spec}/backend/docker"), json!({}));
    }
}

struct MachineTemplateWebhook(Kind);

impl Webhook for MachineTemplateWebhook {
    fn kind(&self) -> Kind {
        self.0
    }
    fn name(&self) -> &'static str {
        validation_name(self.0)
    }
    fn manager(&self) -> &'static str {
        MANAGER
    }
    fn default(&self, _op: Operation, obj: &mut Object, _store: &Store, _gates: &FeatureGates) {
        if self.0 == Kind::DevMachineTemplate {
            default_dev_machine_spec("/spec/template/spec", obj);
        }
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        let obj = req.object;
        let mut errs = Vec::new();
        match (req.op, req.old) {
            (Operation::Delete, _) => return Ok(vec![]),
            (Operation::Update, Some(old)) if !(req.dry_run && obj.annotation(TOPOLOGY_DRY_RUN).is_some()) => {
                let (a, b) = (old.at("/spec/template/spec").cloned(), obj.at("/spec/template/spec").cloned());
                if let Some(diff) = merge_diff(&a.unwrap_or(Value::Null), &b.unwrap_or(Value::Null)) {
                    errs.push(immutable(self.0, &diff));
                }
            }
            _ => {}
        }
        errs.extend(validate_metadata(obj, "/spec/template/metadata"));
        if errs.is_empty() {
            Ok(vec![])
        } else {
            // release-1.13 names the wrong kind on create; keep its message.
            let kind =
                if req.op == Operation::Create && self.0 == Kind::DockerMachineTemplate { Kind::DockerClusterTemplate } else { self.0 };
            Err(invalid(kind, obj.name(), &errs))
        }
    }
}

// ----- Metadata -----

/// `ObjectMeta.Validate` of a template's metadata (`webhooks/meta.rs`).
fn validate_metadata(obj: &Object, pointer: &str) -> Vec<String> {
    let parent = crate::controllers::topology::field::FPath::new(&[&path(pointer)]);
    super::meta::template_metadata_errors(obj, pointer, &parent).iter().map(ToString::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use rstest::rstest;

    fn obj(v: Value) -> Object {
        Object::from_json(&v).unwrap()
    }

    #[rstest]
    #[case(Kind::DockerCluster, json!({}), Some(6443), None)]
    #[case(Kind::DockerCluster, json!({"controlPlaneEndpoint": {"host": "h", "port": 7443}}), Some(7443), None)]
    #[case(Kind::DockerCluster, json!({"failureDomains": [{"name": "fd1"}]}), Some(6443), Some("/spec/failureDomains/0/controlPlane"))]
    #[case(Kind::DevCluster, json!({}), Some(6443), None)]
    #[case(Kind::DevCluster, json!({"backend": {"docker": {"failureDomains": [{"name": "fd1"}]}}}), Some(6443), Some("/spec/backend/docker/failureDomains/0/controlPlane"))]
    // An in-memory backend gets no docker defaults.
    #[case(Kind::DevCluster, json!({"backend": {"inMemory": {}}}), None, None)]
    fn cluster_defaults(#[case] kind: Kind, #[case] spec: Value, #[case] port: Option<i64>, #[case] fd_cp: Option<&str>) {
        let mut o = obj(json!({"apiVersion": kind.api_version(), "kind": kind.name(), "metadata": {"name": "c"}, "spec": spec}));
        default_cluster_spec(kind, "/spec", &mut o);
        assert_eq!(o.i64_at("/spec/controlPlaneEndpoint/port"), port);
        if let Some(p) = fd_cp {
            assert_eq!(o.at(p), Some(&json!(false)));
        }
    }

    #[rstest]
    #[case(&["fd1", "fd2", "fd3"], true)]
    #[case(&["fd2", "fd1"], false)]
    #[case(&[], true)]
    fn failure_domains_must_be_sorted(#[case] names: &[&str], #[case] ok: bool) {
        let fds: Vec<Value> = names.iter().map(|n| json!({"name": n, "controlPlane": true})).collect();
        let o = obj(
            json!({"apiVersion": Kind::DockerCluster.api_version(), "kind": "DockerCluster", "metadata": {"name": "c"}, "spec": {"failureDomains": fds}}),
        );
        let errs = validate_cluster_spec(Kind::DockerCluster, "/spec", &o);
        assert_eq!(errs.is_empty(), ok, "{errs:?}");
        if !ok {
            assert!(
                errs[0].starts_with("spec.failureDomains: Invalid value:") && errs[0].ends_with("failure domains must be sorted by name")
            );
        }
    }

    #[test]
    fn metadata_validation() {
        let o = obj(json!({"apiVersion": Kind::DevMachineTemplate.api_version(), "kind": "DevMachineTemplate", "metadata": {"name": "t"},
            "spec": {"template": {"metadata": {"labels": {"ok": "fine", "foo": "$invalid-key", "/invalid-key": "x"}, "annotations": {"a/b": "c"}}}}}));
        let errs = validate_metadata(&o, "/spec/template/metadata");
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert!(errs.iter().all(|e| e.starts_with("spec.template.metadata.labels: Invalid value:")));
    }

    /// Through the API server: defaulting, immutability with CAPD's text, and the dry-run exemption.
    #[test]
    fn admission_through_the_api() {
        let mut sim = testing::sim(1);
        testing::apply_yaml(
            &mut sim,
            r#"
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: DockerCluster
metadata: {name: c1, namespace: default}
spec: {}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: DockerMachineTemplate
metadata: {name: t1, namespace: default}
spec: {template: {spec: {customImage: "kindest/node:v1.34.3"}}}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: DevMachine
metadata: {name: m1, namespace: default}
spec: {}
"#,
        );
        let dc = testing::get(&sim, Kind::DockerCluster, "default", "c1").unwrap();
        assert_eq!(dc.i64_at("/spec/controlPlaneEndpoint/port"), Some(6443));
        let dm = testing::get(&sim, Kind::DevMachine, "default", "m1").unwrap();
        assert_eq!(dm.at("/spec/backend/docker"), Some(&json!({})));
        let change = json!({"apiVersion": Kind::DockerMachineTemplate.api_version(), "kind": "DockerMachineTemplate",
            "metadata": {"name": "t1", "namespace": "default"}, "spec": {"template": {"spec": {"customImage": "kindest/node:v1.35.0"}}}});
        let err = sim.apply(0, &change).unwrap_err();
        assert!(
            err.message
                .contains("admission webhook \"validation.dockermachinetemplate.infrastructure.cluster.x-k8s.io\" denied the request")
                && err
                    .message
                    .contains("DockerMachineTemplate spec.template.spec field is immutable. Please create a new resource instead."),
            "{}",
            err.message
        );
        let mut dry = change.clone();
        dry["metadata"]["annotations"] = json!({TOPOLOGY_DRY_RUN: ""});
        assert!(sim.apply(0, &dry).is_err(), "the annotation alone does not exempt a real write");
        let key = crate::object::ObjKey::new(Kind::DockerMachineTemplate, "default", "t1");
        let opts = crate::store::api::WriteOptions::at(0).dry();
        let patch = crate::store::api::Patch::Merge(dry.clone());
        assert!(sim.mgmt[0].api.patch(&key, &patch, crate::store::Subresource::Main, opts).is_ok());
        let img = json!({"apiVersion": Kind::DevMachine.api_version(), "kind": "DevMachine", "metadata": {"name": "m1", "namespace": "default"},
            "spec": {"backend": {"docker": {"customImage": "x"}}}});
        let err = sim.apply(0, &img).unwrap_err();
        assert!(err.message.ends_with("spec.backend.docker.customImage: Forbidden: cannot be modified"), "{}", err.message);
    }
}
