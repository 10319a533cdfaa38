//! Kubernetes field errors (`k8s.io/apimachinery/pkg/util/validation/field`) as CAPI's webhooks and the
//! topology controller report them: `<path>: <Type>: <value>: <detail>`, aggregated as the API server
//! does (`[a, b]`, duplicates dropped), and wrapped as `<Kind>.<group> "<name>" is invalid: ...`.

use crate::kinds::Kind;
use crate::store::error::qualified_kind;
use std::fmt;

/// A field path (`spec.topology.variables[cpu].value`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FPath(String);

impl FPath {
    /// A path from its segments (`FPath::new(&["spec", "topology"])`).
    pub fn new(segments: &[&str]) -> FPath {
        FPath(segments.join("."))
    }
    /// The root path (prints as an empty string).
    pub fn root() -> FPath {
        FPath(String::new())
    }
    /// `.child`.
    pub fn child(&self, name: &str) -> FPath {
        if self.0.is_empty() {
            FPath(name.to_string())
        } else {
            FPath(format!("{}.{name}", self.0))
        }
    }
    /// `[key]`.
    pub fn key(&self, key: &str) -> FPath {
        FPath(format!("{}[{key}]", self.0))
    }
    /// `[index]`.
    pub fn index(&self, i: usize) -> FPath {
        FPath(format!("{}[{i}]", self.0))
    }
}

impl fmt::Display for FPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The error types CAPI uses, with the text Kubernetes prints for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrType {
    /// `Required value`.
    Required,
    /// `Forbidden`.
    Forbidden,
    /// `Invalid value` (also `field.TypeInvalid`, which prints the same).
    Invalid,
    /// `Unsupported value`.
    NotSupported,
    /// `Internal error`.
    Internal,
    /// `Too long`.
    TooLong,
}

impl ErrType {
    fn text(self) -> &'static str {
        match self {
            ErrType::Required => "Required value",
            ErrType::Forbidden => "Forbidden",
            ErrType::Invalid => "Invalid value",
            ErrType::NotSupported => "Unsupported value",
            ErrType::Internal => "Internal error",
            ErrType::TooLong => "Too long",
        }
    }
}

/// The bad value of an `Invalid`/`Unsupported` error, as Go's `ErrorBody` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bad {
    /// A Go string: printed with `%q`.
    Str(String),
    /// A number, bool or pre-rendered value: printed as is.
    Raw(String),
}

/// One field error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Where.
    pub path: FPath,
    /// What kind of error.
    pub type_: ErrType,
    /// The offending value (only for Invalid / NotSupported).
    pub bad: Option<Bad>,
    /// Explanation.
    pub detail: String,
}

impl FieldError {
    /// `field.Required`.
    pub fn required(path: FPath, detail: impl Into<String>) -> Self {
        FieldError { path, type_: ErrType::Required, bad: None, detail: detail.into() }
    }
    /// `field.Forbidden`.
    pub fn forbidden(path: FPath, detail: impl Into<String>) -> Self {
        FieldError { path, type_: ErrType::Forbidden, bad: None, detail: detail.into() }
    }
    /// `field.Invalid` with a string value.
    pub fn invalid(path: FPath, value: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { path, type_: ErrType::Invalid, bad: Some(Bad::Str(value.into())), detail: detail.into() }
    }
    /// `field.Invalid` with a number/bool value.
    pub fn invalid_raw(path: FPath, value: impl fmt::Display, detail: impl Into<String>) -> Self {
        FieldError { path, type_: ErrType::Invalid, bad: Some(Bad::Raw(value.to_string())), detail: detail.into() }
    }
    /// `field.InternalError`.
    pub fn internal(path: FPath, detail: impl Into<String>) -> Self {
        FieldError { path, type_: ErrType::Internal, bad: None, detail: detail.into() }
    }
    /// `field.NotSupported`: the detail lists the supported values, each quoted.
    pub fn not_supported(path: FPath, value: impl Into<String>, supported: &[String]) -> Self {
        let list = supported.iter().map(|s| go_quote(s)).collect::<Vec<_>>().join(", ");
        FieldError {
            path,
            type_: ErrType::NotSupported,
            bad: Some(Bad::Str(value.into())),
            detail: if supported.is_empty() { String::new() } else { format!("supported values: {list}") },
        }
    }
    /// `field.TooLong`.
    pub fn too_long(path: FPath, max: usize) -> Self {
        FieldError { path, type_: ErrType::TooLong, bad: None, detail: format!("may not be more than {max} bytes") }
    }

    /// The error without its path (Go's `ErrorBody`).
    pub fn body(&self) -> String {
        let mut s = self.type_.text().to_string();
        if matches!(self.type_, ErrType::Invalid | ErrType::NotSupported) {
            match &self.bad {
                Some(Bad::Str(v)) => s = format!("{s}: {}", go_quote(v)),
                Some(Bad::Raw(v)) => s = format!("{s}: {v}"),
                None => {}
            }
        }
        if !self.detail.is_empty() {
            s = format!("{s}: {}", self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.body())
    }
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Kubernetes' error aggregate text: one error as is, several as `[a, b]`, duplicates dropped.
pub fn aggregate<T: fmt::Display>(errs: &[T]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for e in errs {
        let m = e.to_string();
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    match seen.len() {
        0 => String::new(),
        1 => seen.remove(0),
        _ => format!("[{}]", seen.join(", ")),
    }
}

/// `apierrors.NewInvalid(kind, name, errs)` message.
pub fn invalid_message(kind: Kind, name: &str, errs: &[FieldError]) -> String {
    format!("{} {} is invalid: {}", qualified_kind(kind), go_quote(name), aggregate(errs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(FieldError::invalid(FPath::new(&["spec", "topology", "version"]), "1.2", "must start with v"),
        "spec.topology.version: Invalid value: \"1.2\": must start with v")]
    #[case(FieldError::forbidden(FPath::new(&["spec", "topology"]), "cannot be removed from an existing Cluster"),
        "spec.topology: Forbidden: cannot be removed from an existing Cluster")]
    #[case(FieldError::internal(FPath::new(&["spec", "topology", "class"]), "ClusterClass default/qs not found"),
        "spec.topology.class: Internal error: ClusterClass default/qs not found")]
    #[case(FieldError::required(FPath::new(&["spec", "topology", "variables"]), "required variable \"cpu\" must be set"),
        "spec.topology.variables: Required value: required variable \"cpu\" must be set")]
    #[case(FieldError::invalid(FPath::new(&["spec"]).key("a").child("value"), "\"1\"", "must be of type integer: \"string\""),
        "spec[a].value: Invalid value: \"\\\"1\\\"\": must be of type integer: \"string\"")]
    #[case(FieldError::not_supported(FPath::new(&["t"]), "x", &["a".to_string(), "b".to_string()]),
        "t: Unsupported value: \"x\": supported values: \"a\", \"b\"")]
    fn formats_like_kubernetes(#[case] e: FieldError, #[case] want: &str) {
        assert_eq!(e.to_string(), want);
    }

    #[test]
    fn aggregate_brackets_and_dedups() {
        let a = FieldError::forbidden(FPath::new(&["a"]), "x");
        let b = FieldError::forbidden(FPath::new(&["b"]), "y");
        assert_eq!(aggregate(std::slice::from_ref(&a)), "a: Forbidden: x");
        assert_eq!(aggregate(&[a.clone(), a.clone(), b]), "[a: Forbidden: x, b: Forbidden: y]");
        assert_eq!(invalid_message(Kind::Cluster, "c1", &[a]), "Cluster.cluster.x-k8s.io \"c1\" is invalid: a: Forbidden: x");
    }
}
