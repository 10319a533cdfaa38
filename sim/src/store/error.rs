//! API errors shaped like the Kubernetes API server's `Status` answers.

use crate::kinds::Kind;
use std::fmt;

/// An error answer of the API server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP code.
    pub code: u16,
    /// `Status.reason`.
    pub reason: &'static str,
    /// `Status.message`.
    pub message: String,
    /// `Status.details.causes` of a 422 Invalid from the API server's own validation.
    pub causes: Vec<Cause>,
}

/// One `Status.details.causes` entry: a field error as apimachinery's `NewInvalid` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `reason`: the field error type (`FieldValueInvalid`, `FieldValueTooLong`...).
    pub reason: &'static str,
    /// `message`: the error without its field (`field.Error.ErrorBody`).
    pub message: String,
    /// `field`: the field path (`metadata.name`).
    pub field: String,
}

impl Cause {
    /// `field.Error.Error()`: `field: body`.
    pub fn text(&self) -> String {
        format!("{}: {}", self.field, self.message)
    }
}

/// `<plural>.<group>` as the API server names a resource in messages (`clusters.cluster.x-k8s.io`).
pub fn resource_name(kind: Kind) -> String {
    let info = kind.info();
    if info.group.is_empty() {
        info.plural.to_string()
    } else {
        format!("{}.{}", info.plural, info.group)
    }
}

/// `<Kind>.<group>` as validation messages name a kind (`Cluster.cluster.x-k8s.io`).
pub fn qualified_kind(kind: Kind) -> String {
    let info = kind.info();
    if info.group.is_empty() {
        info.name.to_string()
    } else {
        format!("{}.{}", info.name, info.group)
    }
}

impl ApiError {
    /// An error without causes.
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError { code, reason, message: message.into(), causes: Vec::new() }
    }
    /// 422 Invalid from field errors, as apimachinery's `errors.NewInvalid` words it
    /// (`staging/src/k8s.io/apimachinery/pkg/api/errors/errors.go: NewInvalid`): one error as it is,
    /// several as an aggregate `[a, b]` without repeats (`utilerrors.NewAggregate`).
    pub fn invalid_fields(kind: Kind, name: &str, causes: Vec<Cause>) -> Self {
        let mut texts: Vec<String> = Vec::new();
        for c in &causes {
            let t = c.text();
            if !texts.contains(&t) {
                texts.push(t);
            }
        }
        let agg = if texts.len() == 1 { texts.remove(0) } else { format!("[{}]", texts.join(", ")) };
        ApiError { code: 422, reason: "Invalid", message: format!("{} \"{name}\" is invalid: {agg}", qualified_kind(kind)), causes }
    }
    /// 403 Forbidden (`errors.NewForbidden`: `<resource> "<name>" is forbidden: <why>`).
    pub fn forbidden(kind: Kind, name: &str, why: impl fmt::Display) -> Self {
        ApiError::new(403, "Forbidden", format!("{} \"{name}\" is forbidden: {why}", resource_name(kind)))
    }
    /// 404.
    pub fn not_found(kind: Kind, name: &str) -> Self {
        ApiError { causes: Vec::new(), code: 404, reason: "NotFound", message: format!("{} \"{name}\" not found", resource_name(kind)) }
    }
    /// 404 for a missing namespace.
    pub fn namespace_not_found(ns: &str) -> Self {
        ApiError { causes: Vec::new(), code: 404, reason: "NotFound", message: format!("namespaces \"{ns}\" not found") }
    }
    /// 409 on create.
    pub fn already_exists(kind: Kind, name: &str) -> Self {
        ApiError {
            causes: Vec::new(),
            code: 409,
            reason: "AlreadyExists",
            message: format!("{} \"{name}\" already exists", resource_name(kind)),
        }
    }
    /// 409 on a stale resourceVersion.
    pub fn conflict(kind: Kind, name: &str) -> Self {
        ApiError {
            causes: Vec::new(),
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                resource_name(kind)
            ),
        }
    }
    /// 409 of a server-side apply that would change fields other managers own
    /// (`errors.NewApplyConflict`, from `managedfields/internal/conflict.go: NewConflictError`):
    /// one `FieldManagerConflict` cause per field.
    pub fn apply_conflict(message: &str, conflicts: &[super::managed::Conflict]) -> Self {
        let causes = conflicts
            .iter()
            .map(|c| Cause { reason: "FieldManagerConflict", message: format!("conflict with {}", c.manager), field: c.field.clone() })
            .collect();
        ApiError { code: 409, reason: "Conflict", message: message.to_string(), causes }
    }
    /// 422.
    pub fn invalid(kind: Kind, name: &str, detail: impl fmt::Display) -> Self {
        ApiError {
            causes: Vec::new(),
            code: 422,
            reason: "Invalid",
            message: format!("{} \"{name}\" is invalid: {detail}", qualified_kind(kind)),
        }
    }
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError { causes: Vec::new(), code: 400, reason: "BadRequest", message: message.into() }
    }
    /// 422 from an admission webhook's field errors.
    pub fn denied(webhook: &str, message: impl fmt::Display) -> Self {
        ApiError {
            causes: Vec::new(),
            code: 422,
            reason: "Invalid",
            message: format!("admission webhook \"{webhook}\" denied the request: {message}"),
        }
    }
    /// 500 when a webhook cannot be called.
    pub fn webhook_unreachable(webhook: &str, service: &str) -> Self {
        ApiError {
            causes: Vec::new(),
            code: 500,
            reason: "InternalError",
            message: format!(
                "Internal error occurred: failed calling webhook \"{webhook}\": failed to call webhook: Post \"https://{service}/validate\": dial tcp: connect: connection refused"
            ),
        }
    }
    /// 429.
    pub fn too_many_requests() -> Self {
        ApiError {
            causes: Vec::new(),
            code: 429,
            reason: "TooManyRequests",
            message: "the server has received too many requests and has asked us to try again later".into(),
        }
    }
    /// 415 for strategic merge patches on custom resources.
    pub fn unsupported_media_type(kind: Kind) -> Self {
        ApiError {
            causes: Vec::new(),
            code: 415,
            reason: "UnsupportedMediaType",
            message: format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml ({})", resource_name(kind)),
        }
    }
    /// Whether this is a 404.
    pub fn is_not_found(&self) -> bool {
        self.code == 404
    }
    /// Whether this is a 409 AlreadyExists.
    pub fn is_already_exists(&self) -> bool {
        self.reason == "AlreadyExists"
    }
    /// Whether this is a 409 Conflict.
    pub fn is_conflict(&self) -> bool {
        self.reason == "Conflict"
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<ApiError> for capi_scenarios::backend::BackendError {
    fn from(e: ApiError) -> Self {
        capi_scenarios::backend::BackendError::Api { code: e.code, reason: e.reason.to_string(), message: e.message }
    }
}
