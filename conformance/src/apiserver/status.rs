//! `Status` answers: every error the served API returns is a `meta/v1 Status` whose `code` equals the
//! HTTP status, shaped as the real API server shapes them (reason, message, details), because kubectl
//! prints `Error from server (<reason>): <message>` and kube-rs matches on `reason`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use capi_sim::store::error::{qualified_kind, resource_name};
use capi_sim::store::ApiError;
use capi_sim::Kind;
use serde_json::{json, Map, Value};

/// An error answer: HTTP code, `reason`, `message` and optional `details`.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// HTTP code (also `Status.code`).
    pub code: u16,
    /// `Status.reason`.
    pub reason: String,
    /// `Status.message`.
    pub message: String,
    /// `Status.details`.
    pub details: Option<Value>,
    /// The field errors of a 422 from the store's own validation (`details.causes`).
    pub causes: Vec<Value>,
}

impl Failure {
    /// A failure without details.
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Failure { code, reason: reason.to_string(), message: message.into(), details: None, causes: Vec::new() }
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Failure::new(400, "BadRequest", message)
    }

    /// 404 for a path the server does not serve.
    pub fn no_route() -> Self {
        Failure { details: Some(json!({})), ..Failure::new(404, "NotFound", "the server could not find the requested resource") }
    }

    /// 405 for a verb a path does not support.
    pub fn method_not_allowed(method: &str) -> Self {
        Failure::new(405, "MethodNotAllowed", format!("the server does not allow this method on the requested resource ({method})"))
    }

    /// 415 for a PATCH media type the server does not decode (strategic merge on custom resources).
    pub fn unsupported_media_type(kind: Kind) -> Self {
        ApiError::unsupported_media_type(kind).into()
    }

    /// 422 Invalid with one cause.
    pub fn invalid(kind: Kind, name: &str, field: &str, cause_reason: &str, detail: &str) -> Self {
        let info = kind.info();
        Failure {
            details: Some(json!({
                "name": name, "group": info.group, "kind": info.name,
                "causes": [{"reason": cause_reason, "message": detail, "field": field}],
            })),
            ..Failure::new(422, "Invalid", format!("{} \"{name}\" is invalid: {field}: {detail}", qualified_kind(kind)))
        }
    }

    /// 500 InternalError.
    pub fn internal(message: impl Into<String>) -> Self {
        Failure::new(500, "InternalError", format!("Internal error occurred: {}", message.into()))
    }

    /// 503 when the simulator is gone (shutting down).
    pub fn unavailable() -> Self {
        Failure::new(503, "ServiceUnavailable", "the simulator is shutting down")
    }

    /// The details real API servers attach to errors about one object of a resource.
    pub fn with_object(mut self, kind: Kind, name: &str) -> Self {
        if self.details.is_none() {
            let info = kind.info();
            let kind_field = if self.reason == "Invalid" { info.name } else { info.plural };
            let mut d = Map::new();
            if !name.is_empty() {
                d.insert("name".into(), Value::String(name.to_string()));
            }
            d.insert("group".into(), Value::String(info.group.to_string()));
            d.insert("kind".into(), Value::String(kind_field.to_string()));
            if self.reason == "Invalid" {
                let causes = if self.causes.is_empty() {
                    vec![json!({"reason": "FieldValueInvalid", "message": self.message})]
                } else {
                    self.causes.clone()
                };
                d.insert("causes".into(), Value::Array(causes));
            }
            self.details = Some(Value::Object(d));
        }
        self
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), Value::String("Status".into()));
        m.insert("apiVersion".into(), Value::String("v1".into()));
        m.insert("metadata".into(), json!({}));
        m.insert("status".into(), Value::String("Failure".into()));
        m.insert("message".into(), Value::String(self.message.clone()));
        m.insert("reason".into(), Value::String(self.reason.clone()));
        if let Some(d) = &self.details {
            m.insert("details".into(), d.clone());
        }
        m.insert("code".into(), Value::from(self.code));
        Value::Object(m)
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        let causes = e.causes.iter().map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field})).collect();
        Failure { causes, ..Failure::new(e.code, e.reason, e.message) }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = json_response(code, &self.to_status());
        if self.code == 429 {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

/// The `Status` a delete answers with when the object was removed at once.
pub fn deleted_status(kind: Kind, name: &str, uid: &str) -> Value {
    let info = kind.info();
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
        "details": {"name": name, "group": info.group, "kind": info.plural, "uid": uid},
    })
}

/// The `Status` of a watch `ERROR` event for a resourceVersion older than the retained history.
pub fn expired(requested: u64, oldest: u64) -> Value {
    Failure::new(410, "Expired", format!("too old resource version: {requested} ({oldest})")).to_status()
}

/// A JSON answer.
pub fn json_response(code: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = (code, bytes).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// `clusters.cluster.x-k8s.io`, for messages.
pub fn resource(kind: Kind) -> String {
    resource_name(kind)
}
