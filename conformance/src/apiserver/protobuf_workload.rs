//! Protobuf bodies of the workload kinds `kubectl create` makes (`deployment`, `job`, `service`,
//! `poddisruptionbudget`), decoded into their JSON (see [`super::protobuf`] for the envelope).
//!
//! Only the fields listed here are rendered. So that nothing a client sent is lost without a word,
//! the fields rendered are taken out of the decoded message and the rest is encoded again: if it still
//! holds a value other than a zero one (Go's generated marshallers write empty strings, zero numbers
//! and empty structs of non-pointer fields), the request is refused with 415 naming the kind, and the
//! client can send JSON instead.

use super::protobuf::{object_meta, strings};
use super::status::Failure;
use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::batch::v1 as batch;
use k8s_pb::api::core::v1 as core;
use k8s_pb::api::policy::v1 as policy;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{json, Map, Value};
use std::mem::take;

/// The kinds this module decodes: (apiVersion, kind).
pub const KINDS: &[(&str, &str)] =
    &[("apps/v1", "Deployment"), ("batch/v1", "Job"), ("v1", "Service"), ("policy/v1", "PodDisruptionBudget")];

/// Decode `raw` as `kind`, or `None` when this module does not know the kind.
pub fn decode(api_version: &str, kind: &str, raw: &[u8]) -> Option<Result<Value, Failure>> {
    let bad = |e: prost::DecodeError| Failure::bad_request(format!("couldn't decode the protobuf request body ({kind}): {e}"));
    let out = match (api_version, kind) {
        ("apps/v1", "Deployment") => apps::Deployment::decode(raw).map_err(bad).and_then(deployment),
        ("batch/v1", "Job") => batch::Job::decode(raw).map_err(bad).and_then(job),
        ("v1", "Service") => core::Service::decode(raw).map_err(bad).and_then(service),
        ("policy/v1", "PodDisruptionBudget") => policy::PodDisruptionBudget::decode(raw).map_err(bad).and_then(pdb),
        _ => return None,
    };
    Some(out.map(|mut v| {
        v["apiVersion"] = json!(api_version);
        v["kind"] = json!(kind);
        v
    }))
}

/// Whether an encoded message holds only zero values (absent, `0`, `""`, or empty messages).
fn all_zero(mut b: &[u8]) -> bool {
    fn varint(b: &mut &[u8]) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = b.split_first()?;
            *b = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    while !b.is_empty() {
        let Some(key) = varint(&mut b) else { return false };
        let zero = match key & 7 {
            0 => varint(&mut b) == Some(0),
            1 | 5 => {
                let n = if key & 7 == 1 { 8 } else { 4 };
                if b.len() < n {
                    return false;
                }
                let (field, rest) = b.split_at(n);
                b = rest;
                field.iter().all(|&x| x == 0)
            }
            2 => {
                let Some(n) = varint(&mut b).and_then(|n| usize::try_from(n).ok()).filter(|&n| n <= b.len()) else { return false };
                let (field, rest) = b.split_at(n);
                b = rest;
                field.is_empty() || all_zero(field)
            }
            _ => false,
        };
        if !zero {
            return false;
        }
    }
    true
}

/// Refuse what was sent but is not rendered.
fn rest<M: Message>(kind: &str, what: &str, m: &M) -> Result<(), Failure> {
    if all_zero(&m.encode_to_vec()) {
        return Ok(());
    }
    Err(Failure::new(
        415,
        "UnsupportedMediaType",
        format!("{kind}: the served simulator does not decode every field of {what} sent as protobuf; send application/json"),
    ))
}

/// Insert `v` under `k` unless it is empty.
fn put(o: &mut Map<String, Value>, k: &str, v: Value) {
    let empty = match &v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    };
    if !empty {
        o.insert(k.into(), v);
    }
}

fn int_or_string(v: Option<IntOrString>) -> Value {
    match v {
        // `intstr.Type`: 0 Int, 1 String.
        Some(IntOrString { r#type: Some(1), str_val, .. }) => json!(str_val.unwrap_or_default()),
        Some(IntOrString { int_val, .. }) => json!(int_val.unwrap_or_default()),
        None => Value::Null,
    }
}

fn selector(kind: &str, s: Option<meta::LabelSelector>) -> Result<Value, Failure> {
    let Some(mut s) = s else { return Ok(Value::Null) };
    let mut o = Map::new();
    put(&mut o, "matchLabels", strings(take(&mut s.match_labels)).unwrap_or(Value::Null));
    let exprs: Vec<Value> = take(&mut s.match_expressions)
        .into_iter()
        .map(|e| json!({"key": e.key.unwrap_or_default(), "operator": e.operator.unwrap_or_default(), "values": e.values}))
        .collect();
    put(&mut o, "matchExpressions", Value::Array(exprs));
    rest(kind, "a label selector", &s)?;
    Ok(Value::Object(o))
}

fn quantities(m: std::collections::BTreeMap<String, k8s_pb::apimachinery::pkg::api::resource::Quantity>) -> Value {
    Value::Object(m.into_iter().map(|(k, q)| (k, json!(q.string.unwrap_or_default()))).collect())
}

fn container(kind: &str, mut c: core::Container) -> Result<Value, Failure> {
    let mut o = Map::new();
    put(&mut o, "name", json!(take(&mut c.name)));
    put(&mut o, "image", json!(take(&mut c.image)));
    put(&mut o, "command", json!(take(&mut c.command)));
    put(&mut o, "args", json!(take(&mut c.args)));
    put(&mut o, "workingDir", json!(take(&mut c.working_dir)));
    let ports: Vec<Value> = take(&mut c.ports)
        .into_iter()
        .map(|p| {
            let mut po = Map::new();
            put(&mut po, "name", json!(p.name));
            put(&mut po, "containerPort", json!(p.container_port));
            put(&mut po, "protocol", json!(p.protocol));
            if let Some(h) = p.host_port.filter(|&h| h != 0) {
                po.insert("hostPort".into(), json!(h));
            }
            put(&mut po, "hostIP", json!(p.host_ip));
            Value::Object(po)
        })
        .collect();
    put(&mut o, "ports", Value::Array(ports));
    let mut env = Vec::new();
    for mut e in take(&mut c.env) {
        if e.value_from.is_some() {
            rest(kind, "an env var's valueFrom", &e)?;
        }
        env.push(json!({"name": take(&mut e.name).unwrap_or_default(), "value": take(&mut e.value).unwrap_or_default()}));
    }
    put(&mut o, "env", Value::Array(env));
    if let Some(mut r) = take(&mut c.resources) {
        let mut ro = Map::new();
        put(&mut ro, "limits", quantities(take(&mut r.limits)));
        put(&mut ro, "requests", quantities(take(&mut r.requests)));
        rest(kind, "a container's resources", &r)?;
        o.insert("resources".into(), Value::Object(ro));
    }
    put(&mut o, "imagePullPolicy", json!(take(&mut c.image_pull_policy)));
    put(&mut o, "terminationMessagePath", json!(take(&mut c.termination_message_path)));
    put(&mut o, "terminationMessagePolicy", json!(take(&mut c.termination_message_policy)));
    rest(kind, "a container", &c)?;
    Ok(Value::Object(o))
}

fn pod_template(kind: &str, t: Option<core::PodTemplateSpec>) -> Result<Value, Failure> {
    let Some(mut t) = t else { return Ok(Value::Null) };
    let mut o = Map::new();
    o.insert("metadata".into(), object_meta(take(&mut t.metadata).unwrap_or_default()));
    let mut spec = Map::new();
    if let Some(mut s) = take(&mut t.spec) {
        let containers = take(&mut s.containers).into_iter().map(|c| container(kind, c)).collect::<Result<Vec<_>, _>>()?;
        put(&mut spec, "containers", Value::Array(containers));
        put(&mut spec, "restartPolicy", json!(take(&mut s.restart_policy)));
        if let Some(g) = take(&mut s.termination_grace_period_seconds) {
            spec.insert("terminationGracePeriodSeconds".into(), json!(g));
        }
        put(&mut spec, "dnsPolicy", json!(take(&mut s.dns_policy)));
        put(&mut spec, "nodeSelector", strings(take(&mut s.node_selector)).unwrap_or(Value::Null));
        put(&mut spec, "serviceAccountName", json!(take(&mut s.service_account_name)));
        put(&mut spec, "schedulerName", json!(take(&mut s.scheduler_name)));
        rest(kind, "a Pod template's spec", &s)?;
    }
    o.insert("spec".into(), Value::Object(spec));
    rest(kind, "a Pod template", &t)?;
    Ok(Value::Object(o))
}

fn deployment(mut d: apps::Deployment) -> Result<Value, Failure> {
    const K: &str = "Deployment";
    let mut spec = Map::new();
    if let Some(mut s) = take(&mut d.spec) {
        if let Some(r) = take(&mut s.replicas) {
            spec.insert("replicas".into(), json!(r));
        }
        put(&mut spec, "selector", selector(K, take(&mut s.selector))?);
        put(&mut spec, "template", pod_template(K, take(&mut s.template))?);
        if let Some(mut st) = take(&mut s.strategy) {
            let mut so = Map::new();
            put(&mut so, "type", json!(take(&mut st.r#type)));
            if let Some(mut ru) = take(&mut st.rolling_update) {
                let mut ro = Map::new();
                put(&mut ro, "maxUnavailable", int_or_string(take(&mut ru.max_unavailable)));
                put(&mut ro, "maxSurge", int_or_string(take(&mut ru.max_surge)));
                rest(K, "a rolling update", &ru)?;
                put(&mut so, "rollingUpdate", Value::Object(ro));
            }
            rest(K, "a strategy", &st)?;
            spec.insert("strategy".into(), Value::Object(so));
        }
        rest(K, "a Deployment's spec", &s)?;
    }
    let metadata = object_meta(take(&mut d.metadata).unwrap_or_default());
    d.status = None; // A client's status is not written on create (the status strategy resets it).
    rest(K, "a Deployment", &d)?;
    Ok(json!({"metadata": metadata, "spec": spec}))
}

fn job(mut j: batch::Job) -> Result<Value, Failure> {
    const K: &str = "Job";
    let mut spec = Map::new();
    if let Some(mut s) = take(&mut j.spec) {
        for (key, v) in [
            ("parallelism", take(&mut s.parallelism)),
            ("completions", take(&mut s.completions)),
            ("backoffLimit", take(&mut s.backoff_limit)),
            ("ttlSecondsAfterFinished", take(&mut s.ttl_seconds_after_finished)),
        ] {
            if let Some(v) = v {
                spec.insert(key.into(), json!(v));
            }
        }
        put(&mut spec, "selector", selector(K, take(&mut s.selector))?);
        put(&mut spec, "template", pod_template(K, take(&mut s.template))?);
        rest(K, "a Job's spec", &s)?;
    }
    let metadata = object_meta(take(&mut j.metadata).unwrap_or_default());
    j.status = None;
    rest(K, "a Job", &j)?;
    Ok(json!({"metadata": metadata, "spec": spec}))
}

fn service(mut svc: core::Service) -> Result<Value, Failure> {
    const K: &str = "Service";
    let mut spec = Map::new();
    if let Some(mut s) = take(&mut svc.spec) {
        let ports: Vec<Value> = take(&mut s.ports)
            .into_iter()
            .map(|p| {
                let mut po = Map::new();
                put(&mut po, "name", json!(p.name));
                put(&mut po, "protocol", json!(p.protocol));
                put(&mut po, "port", json!(p.port));
                put(&mut po, "targetPort", int_or_string(p.target_port));
                if let Some(n) = p.node_port.filter(|&n| n != 0) {
                    po.insert("nodePort".into(), json!(n));
                }
                put(&mut po, "appProtocol", json!(p.app_protocol));
                Value::Object(po)
            })
            .collect();
        put(&mut spec, "ports", Value::Array(ports));
        put(&mut spec, "selector", strings(take(&mut s.selector)).unwrap_or(Value::Null));
        put(&mut spec, "clusterIP", json!(take(&mut s.cluster_ip)));
        put(&mut spec, "type", json!(take(&mut s.r#type)));
        put(&mut spec, "externalName", json!(take(&mut s.external_name)));
        put(&mut spec, "externalIPs", json!(take(&mut s.external_ips)));
        rest(K, "a Service's spec", &s)?;
    }
    let metadata = object_meta(take(&mut svc.metadata).unwrap_or_default());
    svc.status = None;
    rest(K, "a Service", &svc)?;
    Ok(json!({"metadata": metadata, "spec": spec}))
}

fn pdb(mut p: policy::PodDisruptionBudget) -> Result<Value, Failure> {
    const K: &str = "PodDisruptionBudget";
    let mut spec = Map::new();
    if let Some(mut s) = take(&mut p.spec) {
        put(&mut spec, "minAvailable", int_or_string(take(&mut s.min_available)));
        put(&mut spec, "maxUnavailable", int_or_string(take(&mut s.max_unavailable)));
        put(&mut spec, "selector", selector(K, take(&mut s.selector))?);
        put(&mut spec, "unhealthyPodEvictionPolicy", json!(take(&mut s.unhealthy_pod_eviction_policy)));
        rest(K, "a PodDisruptionBudget's spec", &s)?;
    }
    let metadata = object_meta(take(&mut p.metadata).unwrap_or_default());
    p.status = None;
    rest(K, "a PodDisruptionBudget", &p)?;
    Ok(json!({"metadata": metadata, "spec": spec}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str) -> Option<meta::ObjectMeta> {
        Some(meta::ObjectMeta { name: Some(name.into()), labels: [("app".to_string(), name.to_string())].into(), ..Default::default() })
    }

    /// What `kubectl create deployment web --image=nginx --replicas=2` sends, with Go's empty
    /// non-pointer structs and strings.
    fn kubectl_deployment() -> apps::Deployment {
        apps::Deployment {
            metadata: meta("web"),
            spec: Some(apps::DeploymentSpec {
                replicas: Some(2),
                selector: Some(meta::LabelSelector { match_labels: [("app".to_string(), "web".to_string())].into(), ..Default::default() }),
                template: Some(core::PodTemplateSpec {
                    metadata: meta("web"),
                    spec: Some(core::PodSpec {
                        containers: vec![core::Container {
                            name: Some("nginx".into()),
                            image: Some("nginx".into()),
                            working_dir: Some(String::new()),
                            resources: Some(Default::default()),
                            ..Default::default()
                        }],
                        restart_policy: Some(String::new()),
                        ..Default::default()
                    }),
                }),
                strategy: Some(Default::default()),
                min_ready_seconds: Some(0),
                ..Default::default()
            }),
            status: Some(apps::DeploymentStatus { replicas: Some(0), ..Default::default() }),
        }
    }

    #[test]
    fn kubectls_deployment_decodes_with_nothing_lost() {
        let v = decode("apps/v1", "Deployment", &kubectl_deployment().encode_to_vec()).unwrap().unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"name": "web", "labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]}},
                    "strategy": {}}})
        );
    }

    #[test]
    fn a_field_not_rendered_is_refused_not_dropped() {
        let mut d = kubectl_deployment();
        d.spec.as_mut().unwrap().template.as_mut().unwrap().spec.as_mut().unwrap().host_network = Some(true);
        let err = decode("apps/v1", "Deployment", &d.encode_to_vec()).unwrap().unwrap_err();
        assert_eq!(err.code, 415, "{}", err.message);
        assert!(err.message.contains("a Pod template's spec"), "{}", err.message);
    }

    #[test]
    fn services_jobs_and_pdbs_decode() {
        let svc = core::Service {
            metadata: meta("svc1"),
            spec: Some(core::ServiceSpec {
                ports: vec![core::ServicePort {
                    name: Some("80-80".into()),
                    protocol: Some("TCP".into()),
                    port: Some(80),
                    target_port: Some(IntOrString { r#type: Some(0), int_val: Some(80), str_val: Some(String::new()) }),
                    ..Default::default()
                }],
                selector: [("app".to_string(), "svc1".to_string())].into(),
                r#type: Some("ClusterIP".into()),
                ..Default::default()
            }),
            status: None,
        };
        let v = decode("v1", "Service", &svc.encode_to_vec()).unwrap().unwrap();
        assert_eq!(v["spec"]["ports"], json!([{"name": "80-80", "protocol": "TCP", "port": 80, "targetPort": 80}]));
        assert_eq!(v["spec"]["type"], "ClusterIP");
        let p = policy::PodDisruptionBudget {
            metadata: meta("pdb1"),
            spec: Some(policy::PodDisruptionBudgetSpec {
                min_available: Some(IntOrString { r#type: Some(1), int_val: Some(0), str_val: Some("50%".into()) }),
                ..Default::default()
            }),
            status: None,
        };
        let v = decode("policy/v1", "PodDisruptionBudget", &p.encode_to_vec()).unwrap().unwrap();
        assert_eq!(v["spec"], json!({"minAvailable": "50%"}));
        let j = batch::Job {
            metadata: meta("j1"),
            spec: Some(batch::JobSpec {
                template: Some(core::PodTemplateSpec {
                    metadata: Some(Default::default()),
                    spec: Some(core::PodSpec {
                        containers: vec![core::Container { name: Some("j1".into()), image: Some("busybox".into()), ..Default::default() }],
                        restart_policy: Some("Never".into()),
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            }),
            status: None,
        };
        let v = decode("batch/v1", "Job", &j.encode_to_vec()).unwrap().unwrap();
        assert_eq!(v["spec"]["template"]["spec"]["restartPolicy"], "Never");
    }

    #[rstest::rstest]
    #[case::empty(&[], true)]
    #[case::zero_varint(&[0x08, 0x00], true)]
    #[case::empty_string(&[0x12, 0x00], true)]
    #[case::empty_nested(&[0x12, 0x02, 0x08, 0x00], true)]
    #[case::one(&[0x08, 0x01], false)]
    #[case::text(&[0x12, 0x01, b'a'], false)]
    #[case::truncated(&[0x12, 0x05, 0x00], false)]
    fn zero_values(#[case] bytes: &[u8], #[case] want: bool) {
        assert_eq!(all_zero(bytes), want);
    }
}
