//! Which objects a list or watch selects: kind, namespace, `labelSelector` (equality, set-based and
//! `<`/`>`, parsed as the API server parses it by [`capi_scenarios::label_parse`], whose errors are
//! the server's 400 messages) and `fieldSelector` (`metadata.name` and `metadata.namespace`, the
//! fields every resource supports).

use super::status::Failure;
use capi_scenarios::label_parse::{self, Req};
use capi_sim::{Kind, Object};

/// One `fieldSelector` term.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FieldTerm {
    namespace_field: bool,
    value: String,
    equal: bool,
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
            let namespace_field = match field.trim() {
                "metadata.name" => false,
                "metadata.namespace" => true,
                other => return Err(Failure::bad_request(format!("field label not supported: {other}"))),
            };
            fields.push(FieldTerm { namespace_field, value: value.trim().to_string(), equal });
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
            let actual: &str = if t.namespace_field { &o.meta.namespace } else { &o.meta.name };
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
