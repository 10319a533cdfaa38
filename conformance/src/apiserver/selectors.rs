//! Which objects a list or watch selects: kind, namespace, `labelSelector` (equality, set-based and
//! `<`/`>`, parsed as the API server parses it by [`capi_scenarios::label_parse`], whose errors are
//! the server's 400 messages) and `fieldSelector` (`metadata.name` and `metadata.namespace`, the
//! fields every resource supports, and the fields the API server adds per kind: an Event's
//! `involvedObject.*`, `reason`, `type`, `source`, `reportingComponent` — what `kubectl describe`
//! selects a described object's events by — a Secret's `type`, a Namespace's `status.phase`).

use super::status::Failure;
use capi_scenarios::label_parse::{self, Req};
use capi_sim::{Kind, Object};

/// Where a selectable field is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Name,
    Namespace,
    /// A JSON pointer into the body (a missing field reads as "").
    At(&'static str),
}

/// One `fieldSelector` term.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FieldTerm {
    field: Field,
    value: String,
    equal: bool,
}

/// The fields a kind's list and watch can select on besides `metadata.name` and
/// `metadata.namespace` (kube-apiserver's field label conversion functions, `pkg/apis/core/v1/conversion.go`).
fn kind_field(kind: Kind, label: &str) -> Option<Field> {
    let at = match (kind, label) {
        (Kind::Event, "involvedObject.kind") => "/involvedObject/kind",
        (Kind::Event, "involvedObject.namespace") => "/involvedObject/namespace",
        (Kind::Event, "involvedObject.name") => "/involvedObject/name",
        (Kind::Event, "involvedObject.uid") => "/involvedObject/uid",
        (Kind::Event, "involvedObject.apiVersion") => "/involvedObject/apiVersion",
        (Kind::Event, "involvedObject.resourceVersion") => "/involvedObject/resourceVersion",
        (Kind::Event, "involvedObject.fieldPath") => "/involvedObject/fieldPath",
        (Kind::Event, "reason") => "/reason",
        (Kind::Event, "reportingComponent") => "/reportingComponent",
        (Kind::Event, "source") => "/source/component",
        (Kind::Event, "type") => "/type",
        (Kind::Secret, "type") => "/type",
        (Kind::Namespace, "status.phase") => "/status/phase",
        _ => return None,
    };
    Some(Field::At(at))
}

/// A list or watch filter.
#[derive(Clone, Debug)]
pub struct Filter {
    /// Kind.
    pub kind: Kind,
    /// Namespace (`None`: all namespaces, or a cluster-scoped kind).
    pub namespace: Option<String>,
    labels: Vec<Req>,
    fields: Vec<FieldTerm>,
}

impl Filter {
    /// A filter from the request's path and selectors.
    pub fn new(
        kind: Kind,
        namespace: Option<String>,
        label_selector: Option<&str>,
        field_selector: Option<&str>,
    ) -> Result<Filter, Failure> {
        let labels = label_parse::parse(label_selector.unwrap_or("")).map_err(Failure::bad_request)?;
        let mut fields = Vec::new();
        for term in field_selector.unwrap_or("").split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, value, equal) = if let Some((f, v)) = term.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                (f, v, true)
            } else {
                return Err(Failure::bad_request(format!("invalid selector: '{term}'; can't understand '{term}'")));
            };
            let field = match field.trim() {
                "metadata.name" => Field::Name,
                "metadata.namespace" => Field::Namespace,
                other => kind_field(kind, other).ok_or_else(|| Failure::bad_request(format!("field label not supported: {other}")))?,
            };
            fields.push(FieldTerm { field, value: value.trim().to_string(), equal });
        }
        Ok(Filter { kind, namespace, labels, fields })
    }

    /// Whether an object is selected.
    pub fn matches(&self, o: &Object) -> bool {
        if o.kind != self.kind {
            return false;
        }
        if let Some(ns) = &self.namespace {
            if &*o.meta.namespace != ns.as_str() {
                return false;
            }
        }
        if !self.labels.iter().all(|r| r.matches(o.label(&r.key))) {
            return false;
        }
        self.fields.iter().all(|t| {
            let actual: &str = match t.field {
                Field::Name => &o.meta.name,
                Field::Namespace => &o.meta.namespace,
                Field::At(p) => o.at(p).and_then(serde_json::Value::as_str).unwrap_or(""),
            };
            (actual == t.value) == t.equal
        })
    }

    /// Whether the selection can only hold the objects of the kind in the namespace (no selectors).
    pub fn kind_and_namespace_only(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        let mut o = Object::new(Kind::Cluster, "ns1", "c1");
        o.meta.labels.insert("env".into(), "prod".into());
        let f = |l: Option<&str>, fs: Option<&str>| Filter::new(Kind::Cluster, None, l, fs).unwrap().matches(&o);
        assert!(f(Some("env=prod"), Some("metadata.name=c1")));
        assert!(!f(Some("env!=prod"), None));
        assert!(f(Some("env in (dev,prod)"), Some("metadata.namespace==ns1")));
        assert!(!f(None, Some("metadata.name!=c1")));
        assert!(f(Some("!team"), None));
        assert!(Filter::new(Kind::Cluster, None, None, Some("spec.x=1")).is_err());
        assert!(!Filter::new(Kind::Machine, None, None, None).unwrap().matches(&o));
    }

    /// `kubectl describe` lists a described object's events by these four fields.
    #[rstest::rstest]
    #[case("involvedObject.name=m1,involvedObject.namespace=default,involvedObject.kind=Machine,involvedObject.uid=uid-1", true)]
    #[case("involvedObject.name=m1,involvedObject.kind=Cluster", false)]
    #[case("involvedObject.uid=uid-2", false)]
    #[case("involvedObject.name!=m2,type=Normal,reason=Created,source=machine-controller", true)]
    #[case("metadata.namespace=default,involvedObject.apiVersion=cluster.x-k8s.io/v1beta2", true)]
    fn events_select_by_involved_object(#[case] fields: &str, #[case] selected: bool) {
        let mut e = Object::new(Kind::Event, "default", "m1.1");
        e.set(
            "/involvedObject",
            serde_json::json!({"kind": "Machine", "namespace": "default", "name": "m1", "uid": "uid-1", "apiVersion": "cluster.x-k8s.io/v1beta2"}),
        );
        e.set("/type", serde_json::json!("Normal"));
        e.set("/reason", serde_json::json!("Created"));
        e.set("/source", serde_json::json!({"component": "machine-controller"}));
        assert_eq!(Filter::new(Kind::Event, None, None, Some(fields)).unwrap().matches(&e), selected, "{fields}");
        assert!(Filter::new(Kind::ConfigMap, None, None, Some("involvedObject.name=m1")).is_err(), "only events have these fields");
    }

    /// A selector the API server cannot parse is a 400 with the parser's message
    /// (apimachinery labels/selector.go `Parse`, `fields/selector.go` `ParseSelector`).
    #[rstest::rstest]
    #[case(Some("!!!"), None, "unable to parse requirement: found '!', expected: identifier")]
    #[case(Some("a in b"), None, "unable to parse requirement: found 'b' expected: '('")]
    #[case(Some("env=prod,"), None, "found '', expected: identifier after ','")]
    #[case(None, Some("metadata.name"), "invalid selector: 'metadata.name'; can't understand 'metadata.name'")]
    #[case(None, Some("spec.x=1"), "field label not supported: spec.x")]
    fn unparsable_selectors_are_bad_requests(#[case] labels: Option<&str>, #[case] fields: Option<&str>, #[case] want: &str) {
        let f = Filter::new(Kind::Cluster, None, labels, fields).unwrap_err();
        assert_eq!((f.code, f.reason.as_str(), f.message.as_str()), (400, "BadRequest", want));
    }
}
