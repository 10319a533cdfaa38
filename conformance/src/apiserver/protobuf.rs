//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), as client-go's typed
//! clients send them for built-in kinds (`kubectl create configmap|namespace|secret|serviceaccount`;
//! the workload kinds `kubectl create deployment|job|service|pdb` sends are in
//! [`super::protobuf_workload`]), decoded into the JSON the rest of the server works on.
//!
//! The wire format (apimachinery `runtime/serializer/protobuf`): the four magic bytes `k8s\0`, then
//! a `runtime.Unknown` message whose `typeMeta` names apiVersion and kind and whose `raw` holds the
//! object's own message. The messages are the generated types of the `k8s-pb` crate (decoded with
//! `prost`); only their JSON rendering is written here, for the kinds listed in [`KINDS`]. Any other
//! kind in protobuf is a 415 naming the kinds accepted, so a client can fall back to JSON. Answers
//! are always JSON: client-go asks for `application/vnd.kubernetes.protobuf, application/json`.

use super::status::Failure;
use base64::Engine as _;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The media type.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The envelope's magic prefix.
pub const MAGIC: &[u8] = b"k8s\0";

/// The kinds whose protobuf bodies are decoded (all `v1`).
pub const KINDS: &[&str] = &["ConfigMap", "Namespace", "Secret", "ServiceAccount"];

/// Whether a `Content-Type` is Kubernetes protobuf.
pub fn is_protobuf(content_type: &str) -> bool {
    content_type.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case(MEDIA_TYPE)
}

fn unsupported(what: &str) -> Failure {
    let others: Vec<String> = super::protobuf_workload::KINDS.iter().map(|(v, k)| format!("{v} {k}")).collect();
    Failure::new(
        415,
        "UnsupportedMediaType",
        format!(
            "{what}: the served simulator decodes {MEDIA_TYPE} only for v1 {}, {}; send application/json",
            KINDS.join(", "),
            others.join(", ")
        ),
    )
}

fn bad(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure::bad_request(format!("couldn't decode the {MEDIA_TYPE} request body ({what}): {e}"))
}

/// Decode an enveloped protobuf body into the object's JSON.
pub fn decode(bytes: &[u8]) -> Result<Value, Failure> {
    let Some(envelope) = bytes.strip_prefix(MAGIC) else {
        return Err(Failure::bad_request(format!("the {MEDIA_TYPE} request body does not start with the \"k8s\\0\" prefix")));
    };
    let unknown = Unknown::decode(envelope).map_err(|e| bad("runtime.Unknown", e))?;
    let tm = unknown.type_meta.unwrap_or_default();
    let (api_version, kind) = (tm.api_version.unwrap_or_default(), tm.kind.unwrap_or_default());
    if unknown.content_encoding.as_deref().is_some_and(|e| !e.is_empty()) {
        return Err(unsupported("a content-encoded object"));
    }
    let raw = unknown.raw.unwrap_or_default();
    if let Some(decoded) = super::protobuf_workload::decode(&api_version, &kind, &raw) {
        return decoded;
    }
    if api_version != "v1" || !KINDS.contains(&kind.as_str()) {
        return Err(unsupported(&format!("apiVersion {api_version:?}, kind {kind:?}")));
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), json!(api_version));
    obj.insert("kind".into(), json!(kind));
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            obj.insert(k.into(), v);
        }
    };
    match kind.as_str() {
        "ConfigMap" => {
            let m = core::ConfigMap::decode(raw.as_slice()).map_err(|e| bad("ConfigMap", e))?;
            put("metadata", Some(object_meta(m.metadata.unwrap_or_default())));
            put("immutable", m.immutable.map(Value::Bool));
            put("data", strings(m.data));
            put("binaryData", bytes_map(m.binary_data));
        }
        "Secret" => {
            let m = core::Secret::decode(raw.as_slice()).map_err(|e| bad("Secret", e))?;
            put("metadata", Some(object_meta(m.metadata.unwrap_or_default())));
            put("immutable", m.immutable.map(Value::Bool));
            put("data", bytes_map(m.data));
            put("stringData", strings(m.string_data));
            put("type", m.r#type.map(Value::String));
        }
        "Namespace" => {
            let m = core::Namespace::decode(raw.as_slice()).map_err(|e| bad("Namespace", e))?;
            put("metadata", Some(object_meta(m.metadata.unwrap_or_default())));
            let finalizers = m.spec.map(|s| s.finalizers).unwrap_or_default();
            put("spec", Some(if finalizers.is_empty() { json!({}) } else { json!({"finalizers": finalizers}) }));
        }
        _ => {
            let m = core::ServiceAccount::decode(raw.as_slice()).map_err(|e| bad("ServiceAccount", e))?;
            put("metadata", Some(object_meta(m.metadata.unwrap_or_default())));
            let secrets: Vec<Value> = m.secrets.into_iter().map(object_reference).collect();
            put("secrets", (!secrets.is_empty()).then(|| Value::Array(secrets)));
            let pulls: Vec<Value> = m.image_pull_secrets.into_iter().map(|r| json!({"name": r.name.unwrap_or_default()})).collect();
            put("imagePullSecrets", (!pulls.is_empty()).then(|| Value::Array(pulls)));
            put("automountServiceAccountToken", m.automount_service_account_token.map(Value::Bool));
        }
    }
    Ok(Value::Object(obj))
}

pub(super) fn strings(m: BTreeMap<String, String>) -> Option<Value> {
    (!m.is_empty()).then(|| Value::Object(m.into_iter().map(|(k, v)| (k, Value::String(v))).collect()))
}

fn bytes_map(m: BTreeMap<String, Vec<u8>>) -> Option<Value> {
    let b64 = base64::engine::general_purpose::STANDARD;
    (!m.is_empty()).then(|| Value::Object(m.into_iter().map(|(k, v)| (k, Value::String(b64.encode(v)))).collect()))
}

fn object_reference(r: core::ObjectReference) -> Value {
    let mut o = Map::new();
    for (k, v) in [
        ("kind", r.kind),
        ("namespace", r.namespace),
        ("name", r.name),
        ("uid", r.uid),
        ("apiVersion", r.api_version),
        ("resourceVersion", r.resource_version),
        ("fieldPath", r.field_path),
    ] {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            o.insert(k.into(), Value::String(v));
        }
    }
    Value::Object(o)
}

/// The fields of `ObjectMeta` a client may set on a write (what the server sets itself is dropped:
/// selfLink, creationTimestamp, deletion fields, managedFields).
pub(super) fn object_meta(m: meta::ObjectMeta) -> Value {
    let mut o = Map::new();
    for (k, v) in [
        ("name", m.name),
        ("generateName", m.generate_name),
        ("namespace", m.namespace),
        ("uid", m.uid),
        ("resourceVersion", m.resource_version),
    ] {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            o.insert(k.into(), Value::String(v));
        }
    }
    if let Some(v) = strings(m.labels) {
        o.insert("labels".into(), v);
    }
    if let Some(v) = strings(m.annotations) {
        o.insert("annotations".into(), v);
    }
    if !m.owner_references.is_empty() {
        let refs = m
            .owner_references
            .into_iter()
            .map(|r| {
                let mut v = json!({"apiVersion": r.api_version.unwrap_or_default(), "kind": r.kind.unwrap_or_default(),
                    "name": r.name.unwrap_or_default(), "uid": r.uid.unwrap_or_default()});
                if let Some(c) = r.controller {
                    v["controller"] = json!(c);
                }
                if let Some(b) = r.block_owner_deletion {
                    v["blockOwnerDeletion"] = json!(b);
                }
                v
            })
            .collect();
        o.insert("ownerReferences".into(), Value::Array(refs));
    }
    if !m.finalizers.is_empty() {
        o.insert("finalizers".into(), json!(m.finalizers));
    }
    Value::Object(o)
}

/// Encode an object as client-go does (for tests and tools): `k8s\0` + `runtime.Unknown`.
pub fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let u = Unknown {
        type_meta: Some(k8s_pb::apimachinery::pkg::runtime::TypeMeta { api_version: Some(api_version.into()), kind: Some(kind.into()) }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = MAGIC.to_vec();
    out.extend(u.encode_to_vec());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configmap() -> Vec<u8> {
        let cm = core::ConfigMap {
            metadata: Some(meta::ObjectMeta {
                name: Some("x".into()),
                namespace: Some("default".into()),
                labels: [("app".to_string(), "web".to_string())].into(),
                creation_timestamp: Some(meta::Time { seconds: Some(0), nanos: Some(0) }),
                ..Default::default()
            }),
            data: [("a".to_string(), "b".to_string())].into(),
            binary_data: [("bin".to_string(), vec![0u8, 255])].into(),
            ..Default::default()
        };
        envelope("v1", "ConfigMap", cm.encode_to_vec())
    }

    #[test]
    fn a_configmap_decodes_to_its_json() {
        let v = decode(&configmap()).unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "x", "namespace": "default", "labels": {"app": "web"}},
                "data": {"a": "b"}, "binaryData": {"bin": "AP8="}})
        );
    }

    #[test]
    fn secrets_namespaces_and_service_accounts_decode() {
        let s = core::Secret {
            metadata: Some(meta::ObjectMeta { name: Some("s".into()), ..Default::default() }),
            data: [("k".to_string(), b"v".to_vec())].into(),
            r#type: Some("Opaque".into()),
            ..Default::default()
        };
        let v = decode(&envelope("v1", "Secret", s.encode_to_vec())).unwrap();
        assert_eq!((v["data"]["k"].as_str(), v["type"].as_str()), (Some("dg=="), Some("Opaque")));
        let n = core::Namespace { metadata: Some(meta::ObjectMeta { name: Some("y".into()), ..Default::default() }), ..Default::default() };
        let v = decode(&envelope("v1", "Namespace", n.encode_to_vec())).unwrap();
        assert_eq!(v, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "y"}, "spec": {}}));
        let sa = core::ServiceAccount {
            metadata: Some(meta::ObjectMeta { name: Some("sa".into()), ..Default::default() }),
            automount_service_account_token: Some(false),
            ..Default::default()
        };
        let v = decode(&envelope("v1", "ServiceAccount", sa.encode_to_vec())).unwrap();
        assert_eq!(v["automountServiceAccountToken"], json!(false));
    }

    #[rstest::rstest]
    #[case::no_magic(b"{}".to_vec(), 400)]
    #[case::garbage(b"k8s\0\xff\xff\xff".to_vec(), 400)]
    #[case::other_kind(envelope("apps/v1", "StatefulSet", vec![]), 415)]
    #[case::truncated_object({ let mut b = configmap(); b.truncate(b.len() - 3); b }, 400)]
    fn bad_bodies_are_refused(#[case] body: Vec<u8>, #[case] code: u16) {
        assert_eq!(decode(&body).unwrap_err().code, code);
    }

    #[test]
    fn media_type() {
        assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
        assert!(is_protobuf("application/vnd.kubernetes.protobuf; charset=x"));
        assert!(!is_protobuf("application/json"));
    }
}
