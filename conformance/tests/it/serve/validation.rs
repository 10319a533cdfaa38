//! The served API refuses what a real API server refuses, with its `Status`: names that are not
//! DNS-1123, bad labels, wrong structural types, deleting an immortal namespace, selectors the
//! server cannot parse, workload paths that name no Cluster (404, not 503), custom resources'
//! schemas and `fieldValidation`. The store's
//! validation (`capi_sim::store::validate`) answers; these tests check what reaches the wire.

use super::errors::{http, Api, SEC};
use super::serve;
use rstest::rstest;
use serde_json::Value;

const CMS: &str = "/api/v1/namespaces/default/configmaps";
const CLUSTERS: &str = "/apis/cluster.x-k8s.io/v1beta2/namespaces/default/clusters";
const JSON: (&str, &str) = ("Content-Type", "application/json");

/// One request and the `Status` it must get: code, reason, and the message's start.
#[rstest]
#[case::traversal_name(
    "POST",
    CMS,
    r#"{"metadata":{"name":"../../etc"}}"#,
    422,
    "Invalid",
    "ConfigMap \"../../etc\" is invalid: metadata.name: Invalid value: \"../../etc\": a lowercase RFC 1123 subdomain must consist of"
)]
#[case::slash_name(
    "POST",
    CMS,
    r#"{"metadata":{"name":"a/b"}}"#,
    422,
    "Invalid",
    "ConfigMap \"a/b\" is invalid: metadata.name: Invalid value: \"a/b\""
)]
#[case::upper_cluster(
    "POST",
    CLUSTERS,
    r#"{"metadata":{"name":"UPPER"},"spec":{"paused":true}}"#,
    422,
    "Invalid",
    "Cluster.cluster.x-k8s.io \"UPPER\" is invalid: metadata.name: Invalid value: \"UPPER\""
)]
#[case::namespace_label(
    "POST",
    "/api/v1/namespaces",
    r#"{"metadata":{"name":"a.b"}}"#,
    422,
    "Invalid",
    "Namespace \"a.b\" is invalid: metadata.name: Invalid value: \"a.b\": must not contain dots"
)]
#[case::bad_label(
    "POST",
    CMS,
    r#"{"metadata":{"name":"c1","labels":{"k":"bad value"}}}"#,
    422,
    "Invalid",
    "ConfigMap \"c1\" is invalid: metadata.labels: Invalid value: \"bad value\": a valid label must be"
)]
#[case::data_not_a_map("POST", CMS, r#"{"metadata":{"name":"c1"},"data":"notamap"}"#, 400, "BadRequest",
    "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal string into Go struct field ConfigMap.data of type map[string]string")]
#[case::secret_data_not_a_map(
    "POST",
    "/api/v1/namespaces/default/secrets",
    r#"{"metadata":{"name":"s1"},"data":"notamap"}"#,
    400,
    "BadRequest",
    "Secret in version \"v1\" cannot be handled as a Secret: json: cannot unmarshal string"
)]
#[case::spec_not_an_object(
    "POST",
    CLUSTERS,
    r#"{"metadata":{"name":"c1"},"spec":"notamap"}"#,
    422,
    "Invalid",
    "Cluster.cluster.x-k8s.io \"c1\" is invalid: spec: Invalid value: \"string\": spec in body must be of type object: \"string\""
)]
#[case::delete_default(
    "DELETE",
    "/api/v1/namespaces/default",
    "",
    403,
    "Forbidden",
    "namespaces \"default\" is forbidden: this namespace may not be deleted"
)]
#[case::delete_kube_system(
    "DELETE",
    "/api/v1/namespaces/kube-system",
    "",
    403,
    "Forbidden",
    "namespaces \"kube-system\" is forbidden: this namespace may not be deleted"
)]
#[case::delete_kube_public(
    "DELETE",
    "/api/v1/namespaces/kube-public",
    "",
    403,
    "Forbidden",
    "namespaces \"kube-public\" is forbidden: this namespace may not be deleted"
)]
#[case::label_selector(
    "GET",
    "/api/v1/namespaces/default/configmaps?labelSelector=!!!",
    "",
    400,
    "BadRequest",
    "unable to parse requirement: found '!', expected: identifier"
)]
#[case::watch_label_selector(
    "GET",
    "/api/v1/configmaps?watch=true&labelSelector=a%20in%20b",
    "",
    400,
    "BadRequest",
    "unable to parse requirement: found 'b' expected: '('"
)]
#[case::field_selector(
    "GET",
    "/api/v1/namespaces/default/configmaps?fieldSelector=spec.x%3D1",
    "",
    400,
    "BadRequest",
    "field label not supported: spec.x"
)]
#[case::workload_no_cluster(
    "GET",
    "/workloads/default/nope/api/v1/namespaces/default/configmaps",
    "",
    404,
    "NotFound",
    "clusters.cluster.x-k8s.io \"nope\" not found"
)]
#[case::workload_bad_path(
    "GET",
    "/workloads/default/nope/bogus/../../x",
    "",
    404,
    "NotFound",
    "the server could not find the requested resource"
)]
#[case::workload_short("GET", "/workloads/x", "", 404, "NotFound", "the server could not find the requested resource")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_as_the_api_server_refuses(
    #[case] method: &str,
    #[case] path: &str,
    #[case] body: &str,
    #[case] code: u16,
    #[case] reason: &str,
    #[case] message: &str,
) {
    let s = serve(|o| o.speed = 0.0).await;
    let r = http(Api::of(&s), method, path, &[JSON], body, SEC).await;
    let status = r.json();
    assert_eq!((r.code, status["kind"].as_str(), status["reason"].as_str()), (code, Some("Status"), Some(reason)), "{}", r.body);
    assert_eq!(status["code"], Value::from(code));
    let got = status["message"].as_str().unwrap_or("");
    assert!(got.starts_with(message), "{method} {path}: {got}");
}

/// A 422 from the store's validation carries the field errors as `details.causes`, as
/// `errors.NewInvalid` attaches them, and nothing was stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_answers_name_their_fields() {
    let s = serve(|o| o.speed = 0.0).await;
    let a = Api::of(&s);
    let r = http(a, "POST", CMS, &[JSON], r#"{"metadata":{"name":"UP","labels":{"k":"-v"}}}"#, SEC).await;
    let st = r.json();
    assert_eq!(r.code, 422, "{}", r.body);
    assert_eq!(st["details"]["kind"], "ConfigMap");
    assert_eq!(st["details"]["name"], "UP");
    let causes = st["details"]["causes"].as_array().expect("causes");
    let fields: Vec<&str> = causes.iter().filter_map(|c| c["field"].as_str()).collect();
    assert_eq!(fields, ["metadata.name", "metadata.labels"]);
    assert!(causes.iter().all(|c| c["reason"] == "FieldValueInvalid"));
    assert_eq!(http(a, "GET", &format!("{CMS}/UP"), &[], "", SEC).await.code, 404);
    // A valid object still goes through, and a patch that breaks it is refused.
    assert_eq!(http(a, "POST", CMS, &[JSON], r#"{"metadata":{"name":"ok"},"data":{"k":"v"}}"#, SEC).await.code, 201);
    let r = http(a, "PATCH", &format!("{CMS}/ok"), &[("Content-Type", "application/merge-patch+json")], r#"{"data":"notamap"}"#, SEC).await;
    assert_eq!(r.code, 400, "{}", r.body);
}

const CRSS: &str = "/apis/addons.cluster.x-k8s.io/v1beta2/namespaces/default/clusterresourcesets";
const CRS_WITH_UNKNOWN: &str = r#"{"apiVersion":"addons.cluster.x-k8s.io/v1beta2","kind":"ClusterResourceSet","metadata":{"name":"crs"},
"spec":{"clusterSelector":{"matchLabels":{"cni":"calico"}},"resources":[{"name":"cni","kind":"ConfigMap"}],"colour":"blue"}}"#;

/// `?fieldValidation=`: absent or `Warn` stores the object pruned and answers a `Warning` header per
/// unknown field, `Ignore` stores it pruned silently, `Strict` answers 400 and stores nothing, and
/// anything else is a 422 about the request's options (`apimachinery meta/v1/validation:
/// ValidateFieldValidation`; `apiserver/pkg/endpoints/handlers/rest.go: fieldValidation`).
#[rstest]
#[case::absent("", 201, Some(r#"299 - "unknown field \"spec.colour\"""#))]
#[case::warn("?fieldValidation=Warn", 201, Some(r#"299 - "unknown field \"spec.colour\"""#))]
#[case::ignore("?fieldValidation=Ignore", 201, None)]
#[case::strict("?fieldValidation=Strict", 400, None)]
#[case::bogus("?fieldValidation=Loose", 422, None)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_follow_field_validation(#[case] query: &str, #[case] code: u16, #[case] warning: Option<&str>) {
    let s = serve(|o| o.speed = 0.0).await;
    let a = Api::of(&s);
    let r = http(a, "POST", &format!("{CRSS}{query}"), &[JSON], CRS_WITH_UNKNOWN, SEC).await;
    assert_eq!(r.code, code, "{}", r.body);
    assert_eq!(r.header("warning"), warning);
    let got = http(a, "GET", &format!("{CRSS}/crs"), &[], "", SEC).await;
    if code == 201 {
        let stored = got.json();
        assert_eq!(stored["spec"]["resources"][0]["name"], "cni");
        assert!(stored["spec"].get("colour").is_none(), "{}", got.body);
    } else {
        let msg = r.json()["message"].as_str().unwrap_or("").to_string();
        let want = if query.contains("Strict") {
            "ClusterResourceSet in version \"v1beta2\" cannot be handled as a ClusterResourceSet: strict decoding error: unknown field \"spec.colour\""
        } else {
            "CreateOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"Loose\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\""
        };
        assert_eq!(msg, want);
        assert_eq!(got.code, 404);
    }
}

/// A schema error reaches the wire as a 422 with its causes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_errors_name_their_fields() {
    let s = serve(|o| o.speed = 0.0).await;
    let body = CRS_WITH_UNKNOWN.replace(r#""kind":"ConfigMap""#, r#""kind":"Pod""#);
    let r = http(Api::of(&s), "POST", CRSS, &[JSON], &body, SEC).await;
    assert_eq!(r.code, 422, "{}", r.body);
    let st = r.json();
    assert_eq!(
        st["message"],
        "ClusterResourceSet.addons.cluster.x-k8s.io \"crs\" is invalid: spec.resources[0].kind: Unsupported value: \"Pod\": supported values: \"Secret\", \"ConfigMap\""
    );
    assert_eq!(st["details"]["causes"][0]["field"], "spec.resources[0].kind");
    assert_eq!(st["details"]["causes"][0]["reason"], "FieldValueNotSupported");
}
