//! Validation shared by several webhooks, as Kubernetes and CAPI write it: label and annotation
//! keys and values (`apimachinery/pkg/util/validation`: `IsQualifiedName`, `IsValidLabelValue`,
//! `IsDNS1123Subdomain`; `metav1validation.ValidateLabels`, `apivalidation.ValidateAnnotations`),
//! the template metadata check of CAPI's `ObjectMeta.Validate` (`api/core/v1beta2/common_types.go`),
//! Machine taints (`internal/util/taints: ValidateMachineTaints`, `core/webhooks/admission/machine.go:
//! validateMachineTaintsForWorkers`), and the JSON `field.Invalid` prints for structured values.
//!
//! Simplification: Go ranges over label maps in random order; errors here follow key order.

use crate::controllers::topology::field::{go_quote, FPath, FieldError};
use crate::features::FeatureGates;
use crate::object::{Object, Ptr};
use serde_json::Value;

/// `validation.EmptyError`-style and regex messages of `apimachinery/pkg/util/validation`.
const QUALIFIED_NAME_FMT: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const QUALIFIED_NAME_PARTS: &str = "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
const LABEL_VALUE_FMT: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const DNS1123_SUBDOMAIN_FMT: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
fn qualified_name_re(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// `validation.IsDNS1123Subdomain`.
pub fn dns1123_subdomain_errors(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 253 {
        out.push("must be no more than 253 bytes".to_string());
    }
    let ok = !s.is_empty()
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if !ok {
        out.push(DNS1123_SUBDOMAIN_FMT.to_string());
    }
    out
}

/// `validation.IsQualifiedName`.
pub fn qualified_name_errors(key: &str) -> Vec<String> {
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [n] => *n,
        [prefix, n] => {
            let mut out = Vec::new();
            if prefix.is_empty() {
                out.push("prefix part must be non-empty".to_string());
            } else {
                out.extend(dns1123_subdomain_errors(prefix).into_iter().map(|m| format!("prefix part {m}")));
            }
            out.extend(name_part_errors(n));
            return out;
        }
        _ => return vec![QUALIFIED_NAME_PARTS.to_string()],
    };
    name_part_errors(name)
}

fn name_part_errors(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    if name.is_empty() {
        out.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        out.push("name part must be no more than 63 bytes".to_string());
    }
    if !qualified_name_re(name) {
        out.push(format!("name part {QUALIFIED_NAME_FMT}"));
    }
    out
}

/// `validation.IsValidLabelValue`.
pub fn label_value_errors(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    if v.len() > 63 {
        out.push("must be no more than 63 bytes".to_string());
    }
    if !v.is_empty() && !qualified_name_re(v) {
        out.push(LABEL_VALUE_FMT.to_string());
    }
    out
}

/// `metav1validation.ValidateLabels` of the map at `pointer`.
pub fn label_errors(labels: Option<&Value>, path: &FPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (k, v) in labels.and_then(Value::as_object).into_iter().flatten() {
        for m in qualified_name_errors(k) {
            errs.push(FieldError::invalid(path.clone(), k.as_str(), m));
        }
        let v = v.as_str().unwrap_or("");
        for m in label_value_errors(v) {
            errs.push(FieldError::invalid(path.clone(), v, m));
        }
    }
    errs
}

/// `apivalidation.ValidateAnnotations` (keys are checked lower-cased; the total size limit of
/// 256 KiB is checked too).
pub fn annotation_errors(annotations: Option<&Value>, path: &FPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut total = 0usize;
    for (k, v) in annotations.and_then(Value::as_object).into_iter().flatten() {
        for m in qualified_name_errors(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path.clone(), k.as_str(), m));
        }
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    if total > 256 * 1024 {
        errs.push(FieldError::too_long(path.clone(), 256 * 1024));
    }
    errs
}

/// CAPI's `ObjectMeta.Validate(parent)`: labels, then annotations, of the metadata at `pointer`.
pub fn template_metadata_errors(obj: &Object, pointer: &str, parent: &FPath) -> Vec<FieldError> {
    let mut errs = label_errors(obj.at(&format!("{pointer}/labels")), &parent.child("labels"));
    errs.extend(annotation_errors(obj.at(&format!("{pointer}/annotations")), &parent.child("annotations")));
    errs
}

/// Go's `json.Marshal` of a string: quoted, with encoding/json's HTML-safe escapes (`<`, `>`, `&`,
/// U+2028 and U+2029 as `\u` escapes).
pub fn go_json_string(s: &str) -> String {
    go_html_escape(serde_json::to_string(s).unwrap_or_default())
}

/// `json.Marshal` of a decoded value, as `field.Invalid` prints a struct, slice or map (see
/// [`go_string_map`]). Keys come sorted: Go sorts map keys but writes a struct's fields in
/// declaration order, so a struct may print its keys in another order upstream.
pub fn go_json_value(v: &Value) -> String {
    go_html_escape(serde_json::to_string(v).unwrap_or_default())
}

/// encoding/json's HTML-safe escaping of already serialized JSON.
fn go_html_escape(quoted: String) -> String {
    if !quoted.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return quoted;
    }
    let mut out = String::with_capacity(quoted.len() + 8);
    for c in quoted.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// `json.Marshal` of a `map[string]string`, as `field.Invalid` prints one since apimachinery
/// v0.34 (`field/errors.go: ErrorBody` marshals every value that is not a number, bool or string):
/// keys sorted, `null` for a nil map.
pub fn go_string_map(v: Option<&Value>) -> String {
    match v.and_then(Value::as_object) {
        None => "null".to_string(),
        Some(m) => {
            let items: Vec<String> =
                m.iter().map(|(k, v)| format!("{}:{}", go_json_string(k), go_json_string(v.as_str().unwrap_or("")))).collect();
            format!("{{{}}}", items.join(","))
        }
    }
}

/// `json.Marshal` of a `metav1.LabelSelector` (what `field.Invalid` prints for one, see
/// [`go_string_map`]): `matchLabels` then `matchExpressions` (each `key`, `operator`, `values`),
/// empty ones left out (`omitempty`).
pub fn go_label_selector(sel: Option<&Value>) -> String {
    let mut parts = Vec::new();
    if let Some(labels) = sel.and_then(|s| s.get("matchLabels")).filter(|m| m.as_object().is_some_and(|m| !m.is_empty())) {
        parts.push(format!("\"matchLabels\":{}", go_string_map(Some(labels))));
    }
    if let Some(list) = sel.and_then(|s| s.get("matchExpressions")).and_then(Value::as_array).filter(|l| !l.is_empty()) {
        let str_of = |r: &Value, k: &str| go_json_string(r.get(k).and_then(Value::as_str).unwrap_or(""));
        let items: Vec<String> = list
            .iter()
            .map(|r| {
                let mut fields = vec![format!("\"key\":{}", str_of(r, "key")), format!("\"operator\":{}", str_of(r, "operator"))];
                if let Some(vs) = r.get("values").and_then(Value::as_array).filter(|vs| !vs.is_empty()) {
                    let vs: Vec<String> = vs.iter().map(|v| go_json_string(v.as_str().unwrap_or(""))).collect();
                    fields.push(format!("\"values\":[{}]", vs.join(",")));
                }
                format!("{{{}}}", fields.join(","))
            })
            .collect();
        parts.push(format!("\"matchExpressions\":[{}]", items.join(",")));
    }
    format!("{{{}}}", parts.join(","))
}

/// blang/semver's `Parse` (the checks of the numeric parts; pre-release and build identifiers are
/// taken as they come).
pub fn semver_parse(s: &str) -> Result<semver::Version, String> {
    if s.is_empty() {
        return Err("Version string empty".into());
    }
    let parts: Vec<&str> = s.splitn(3, '.').collect();
    if parts.len() != 3 {
        return Err("No Major.Minor.Patch elements found".into());
    }
    let numeric = |p: &str, what: &str| -> Result<u64, String> {
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("Invalid character(s) found in {what} number {}", go_quote(p)));
        }
        if p.len() > 1 && p.starts_with('0') {
            let cap = format!("{}{}", what[..1].to_uppercase(), &what[1..]);
            return Err(format!("{cap} number must not contain leading zeroes {}", go_quote(p)));
        }
        p.parse::<u64>().map_err(|e| e.to_string())
    };
    numeric(parts[0], "major")?;
    numeric(parts[1], "minor")?;
    let end = parts[2].find(['+', '-']).unwrap_or(parts[2].len());
    numeric(&parts[2][..end], "patch")?;
    semver::Version::parse(s).map_err(|e| e.to_string())
}

/// blang/semver's `ParseTolerant`: spaces and a `v` trimmed, leading zeroes dropped, a short
/// version padded with zeroes.
pub fn semver_parse_tolerant(s: &str) -> Result<semver::Version, String> {
    let s = s.trim();
    let s = s.strip_prefix('v').unwrap_or(s);
    let mut parts: Vec<String> = s.splitn(3, '.').map(str::to_string).collect();
    for p in parts.iter_mut() {
        if p.len() > 1 {
            let t = p.trim_start_matches('0');
            *p = if t.is_empty() || !t.starts_with(|c: char| c.is_ascii_digit()) { format!("0{t}") } else { t.to_string() };
        }
    }
    if parts.len() < 3 {
        if parts.last().is_some_and(|p| p.contains(['+', '-'])) {
            return Err("Short version cannot contain PreRelease/Build meta data".into());
        }
        while parts.len() < 3 {
            parts.push("0".into());
        }
    }
    semver_parse(&parts.join("."))
}

/// The error of `metav1.LabelSelectorAsSelector` for a selector, if any: each `matchLabels` entry
/// (in key order) and each expression becomes a `labels.Requirement`, whose key must be a qualified
/// name and whose values must be label values; operators must be known.
pub fn selector_error(sel: Option<&Value>) -> Option<String> {
    let sel = sel?;
    let requirement = |key: &str, values: &[&str]| -> Option<String> {
        let errs = qualified_name_errors(key);
        if !errs.is_empty() {
            return Some(FieldError::invalid(FPath::new(&["key"]), key, errs.join("; ")).to_string());
        }
        for (i, v) in values.iter().enumerate() {
            let errs = label_value_errors(v);
            if !errs.is_empty() {
                return Some(FieldError::invalid(FPath::new(&["values"]).index(i), *v, errs.join("; ")).to_string());
            }
        }
        None
    };
    for (k, v) in sel.get("matchLabels").and_then(Value::as_object).into_iter().flatten() {
        if let Some(e) = requirement(k, &[v.as_str().unwrap_or("")]) {
            return Some(e);
        }
    }
    for r in sel.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let op = r.get("operator").and_then(Value::as_str).unwrap_or("");
        if !matches!(op, "In" | "NotIn" | "Exists" | "DoesNotExist") {
            return Some(format!("{} is not a valid label selector operator", go_quote(op)));
        }
        let values: Vec<&str> = r.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        if let Some(e) = requirement(r.get("key").and_then(Value::as_str).unwrap_or(""), &values) {
            return Some(e);
        }
    }
    None
}

/// `taints.ValidateMachineTaints` plus `validateMachineTaintsForWorkers` for the taints at `pointer`
/// (`control_plane`: the Machine carries the control-plane label, which exempts it from the second).
pub fn machine_taint_errors(obj: &Object, pointer: &str, path: &FPath, gates: &FeatureGates, control_plane: bool) -> Vec<FieldError> {
    let taints: &[Value] = obj.at(pointer).and_then(Value::as_array).map_or(&[], Vec::as_slice);
    let mut errs = Vec::new();
    if !gates.machine_taint_propagation && !taints.is_empty() {
        errs.push(FieldError::forbidden(
            path.clone(),
            "taints are not allowed to be set when the feature gate MachineTaintPropagation is disabled",
        ));
    }
    for (i, t) in taints.iter().enumerate() {
        let key = t.get("key").and_then(Value::as_str).unwrap_or("");
        let kp = path.index(i).child("key");
        let reserved = match key {
            "node.cluster.x-k8s.io/uninitialized" | "node.cluster.x-k8s.io/outdated-revision" => Some("taint key is not allowed"),
            k if k.starts_with("node.kubernetes.io/") && k != "node.kubernetes.io/out-of-service" => {
                Some("taint key must not have the prefix node.kubernetes.io/, except for node.kubernetes.io/out-of-service")
            }
            k if k.starts_with("node.cloudprovider.kubernetes.io/") => {
                Some("taint key must not have the prefix node.cloudprovider.kubernetes.io/")
            }
            "node-role.kubernetes.io/master" => Some("taint is deprecated since 1.24 and should not be used anymore"),
            _ => None,
        };
        if let Some(m) = reserved {
            errs.push(FieldError::invalid(kp.clone(), key, m));
        }
        for m in qualified_name_errors(key) {
            errs.push(FieldError::invalid(kp.clone(), key, m));
        }
    }
    if gates.machine_taint_propagation && !control_plane {
        for (i, t) in taints.iter().enumerate() {
            let key = t.ptr("/key").and_then(Value::as_str).unwrap_or("");
            if key == "node-role.kubernetes.io/control-plane" {
                errs.push(FieldError::invalid(path.index(i).child("key"), key, "taint is not allowed for worker Machines"));
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case("app", 0)]
    #[case("example.com/app", 0)]
    #[case("/app", 1)]
    #[case("Example.com/app", 1)]
    #[case("a/b/c", 1)]
    #[case("$invalid", 1)]
    #[case("", 2)]
    fn qualified_names(#[case] key: &str, #[case] n: usize) {
        assert_eq!(qualified_name_errors(key).len(), n, "{:?}", qualified_name_errors(key));
    }

    #[test]
    fn go_renderings() {
        assert_eq!(go_string_map(Some(&json!({"b": "2", "a": "1"}))), r#"{"a":"1","b":"2"}"#);
        assert_eq!(go_string_map(None), "null");
        assert_eq!(go_label_selector(Some(&json!({"matchLabels": {"k": "v"}}))), r#"{"matchLabels":{"k":"v"}}"#);
        assert_eq!(go_label_selector(Some(&json!({}))), "{}");
        assert_eq!(
            go_label_selector(Some(
                &json!({"matchExpressions": [{"operator": "Invalid-Operator"}, {"key": "a", "operator": "In", "values": ["x<y"]}]})
            )),
            r#"{"matchExpressions":[{"key":"","operator":"Invalid-Operator"},{"key":"a","operator":"In","values":["x\u003cy"]}]}"#
        );
    }
}
