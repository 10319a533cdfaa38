//! Secrets never reach an artefact. The one place both backends send what they show people and
//! machines (step messages, predicate details, outcomes, JSON reports, JUnit, summaries, traces,
//! snapshots) through before it leaves the run:
//!
//! - [`object`] redacts a Kubernetes object in place: every value of a Secret's `data` and
//!   `stringData`, and the fields of any object that hold credentials (bootstrap data, tokens);
//! - [`field`] redacts one field value a predicate read from an object (`Secret` `data.value`);
//! - [`text`] redacts free text: private keys (PEM blocks), kubeconfig credentials
//!   (`client-key-data`, `token`, `password`, also base64-encoded kubeconfigs), `Authorization`
//!   headers, kubeadm bootstrap tokens and certificate keys.
//!
//! A redacted value becomes `<redacted:sha256:XXXXXXXX>`, the first 8 hex digits of its SHA-256, so
//! two different values can still be told apart (and an expected value compared with what a run
//! saw) without revealing either.

use regex::Regex;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::sync::OnceLock;

/// The stand-in for a secret value.
pub fn marker(secret: &[u8]) -> String {
    let digest = Sha256::digest(secret);
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("<redacted:sha256:{hex}>")
}

/// Whether a text already is a marker (redacting twice changes nothing).
fn is_marker(s: &str) -> bool {
    s.starts_with("<redacted:sha256:") && s.ends_with('>') && s.len() == "<redacted:sha256:>".len() + 8
}

fn redact_string(s: &str) -> String {
    if is_marker(s) {
        s.to_string()
    } else {
        marker(s.as_bytes())
    }
}

/// Kinds whose `data` / `stringData` are secret.
fn is_secret_kind(kind: &str) -> bool {
    kind == "Secret"
}

/// Object fields that carry credentials whatever the kind, as JSON pointers.
const SECRET_FIELDS: &[&str] = &["/spec/bootstrap/dataSecretValue", "/status/bootstrapData"];

/// Redact a Kubernetes object in place (see the module doc). Returns whether anything changed.
pub fn object(v: &mut Value) -> bool {
    let mut changed = false;
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
    if is_secret_kind(&kind) {
        for key in ["data", "stringData"] {
            if let Some(Value::Object(m)) = v.get_mut(key) {
                for (_, val) in m.iter_mut() {
                    let text = match &*val {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    if !is_marker(&text) {
                        *val = Value::String(marker(text.as_bytes()));
                        changed = true;
                    }
                }
            } else if let Some(other) = v.get_mut(key).filter(|x| !x.is_null()) {
                // Not a map (an invalid object): redact it whole all the same.
                let text = other.to_string();
                *other = Value::String(marker(text.as_bytes()));
                changed = true;
            }
        }
    }
    for p in SECRET_FIELDS {
        if let Some(val) = v.pointer_mut(p) {
            if let Some(s) = val.as_str().filter(|s| !is_marker(s)) {
                *val = Value::String(marker(s.as_bytes()));
                changed = true;
            }
        }
    }
    // The last-applied annotation repeats the object as the user wrote it.
    if let Some(Value::String(s)) = v.pointer_mut("/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration") {
        if is_secret_kind(&kind) && !is_marker(s) {
            *s = marker(s.as_bytes());
            changed = true;
        }
    }
    changed
}

/// A copy of `v` with [`object`] applied (borrowed when nothing is secret).
pub fn object_cow(v: &Value) -> Cow<'_, Value> {
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    if !is_secret_kind(kind) && SECRET_FIELDS.iter().all(|p| v.pointer(p).is_none()) {
        return Cow::Borrowed(v);
    }
    let mut owned = v.clone();
    object(&mut owned);
    Cow::Owned(owned)
}

/// A field value read from an object of `kind` at a path whose first segments are `path_head`
/// (e.g. `["data", "value"]`), as it may be shown.
pub fn field<'v>(kind: &str, path_head: &[&str], value: &'v Value) -> Cow<'v, Value> {
    let secret_path = match path_head.first() {
        Some(&"data") | Some(&"stringData") => is_secret_kind(kind),
        _ => false,
    };
    if secret_path || (is_secret_kind(kind) && path_head.is_empty()) {
        let mut owned = value.clone();
        if path_head.is_empty() {
            object(&mut owned);
        } else {
            redact_all_scalars(&mut owned);
        }
        return Cow::Owned(owned);
    }
    match value {
        Value::String(s) => match text(s) {
            Cow::Borrowed(_) => Cow::Borrowed(value),
            Cow::Owned(t) => Cow::Owned(Value::String(t)),
        },
        _ => Cow::Borrowed(value),
    }
}

fn redact_all_scalars(v: &mut Value) {
    match v {
        Value::Object(m) => m.iter_mut().for_each(|(_, x)| redact_all_scalars(x)),
        Value::Array(a) => a.iter_mut().for_each(redact_all_scalars),
        Value::Null => {}
        Value::String(s) => *s = redact_string(s),
        other => *other = Value::String(marker(other.to_string().as_bytes())),
    }
}

struct Patterns {
    pem: Regex,
    keyed: Regex,
    auth_header: Regex,
    kubeadm_token: Regex,
    certificate_key: Regex,
    base64_blob: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        pem: Regex::new(r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)").expect("static regex"),
        // `key: value`, `key=value`, `"key": "value"` for credential keys (YAML, JSON, flags).
        keyed: Regex::new(
            r#"(?i)(\b(?:client-key-data|client-key|token|id-token|refresh-token|access-token|password|passwd|secret|bootstrap-token|token-secret|certificate-key)\b"?\s*[:=]\s*"?)([^\s",}\]]+)"#,
        )
        .expect("static regex"),
        auth_header: Regex::new(r"(?i)(authorization\s*:\s*(?:bearer|basic)\s+)(\S+)").expect("static regex"),
        // kubeadm bootstrap tokens: [a-z0-9]{6}.[a-z0-9]{16}.
        kubeadm_token: Regex::new(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b").expect("static regex"),
        // `kubeadm join --certificate-key <64 hex>`.
        certificate_key: Regex::new(r"(--certificate-key[ =])([0-9a-fA-F]{32,})").expect("static regex"),
        // Long base64 runs are decoded and redacted when what they hold is secret (a kubeconfig
        // with a client key or token, a private key).
        base64_blob: Regex::new(r"[A-Za-z0-9+/]{64,}={0,2}").expect("static regex"),
    })
}

/// Redact secrets in free text (see the module doc). Borrowed when there is nothing to redact.
pub fn text(s: &str) -> Cow<'_, str> {
    let p = patterns();
    let mut out: Cow<'_, str> = Cow::Borrowed(s);
    let replace = |cur: Cow<'_, str>, re: &Regex, f: &dyn Fn(&regex::Captures<'_>) -> String| -> Option<String> {
        if !re.is_match(&cur) {
            return None;
        }
        Some(re.replace_all(&cur, |c: &regex::Captures<'_>| f(c)).into_owned())
    };
    if let Some(t) = replace(out.clone(), &p.pem, &|c| marker(c[0].as_bytes())) {
        out = Cow::Owned(t);
    }
    if let Some(t) = replace(out.clone(), &p.auth_header, &|c| format!("{}{}", &c[1], redact_string(&c[2]))) {
        out = Cow::Owned(t);
    }
    if let Some(t) = replace(out.clone(), &p.keyed, &|c| {
        let v = &c[2];
        if is_marker(v) || v.starts_with("<redacted") {
            c[0].to_string()
        } else {
            format!("{}{}", &c[1], marker(v.as_bytes()))
        }
    }) {
        out = Cow::Owned(t);
    }
    if let Some(t) = replace(out.clone(), &p.certificate_key, &|c| format!("{}{}", &c[1], marker(c[2].as_bytes()))) {
        out = Cow::Owned(t);
    }
    if let Some(t) = replace(out.clone(), &p.kubeadm_token, &|c| marker(c[0].as_bytes())) {
        out = Cow::Owned(t);
    }
    if let Some(t) = replace(out.clone(), &p.base64_blob, &|c| {
        let blob = &c[0];
        if secret_when_decoded(blob) {
            marker(blob.as_bytes())
        } else {
            blob.to_string()
        }
    }) {
        out = Cow::Owned(t);
    }
    if out == s {
        Cow::Borrowed(s)
    } else {
        out
    }
}

/// Whether a base64 text decodes to something [`text`] would redact.
fn secret_when_decoded(blob: &str) -> bool {
    use base64::Engine as _;
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(blob) else { return false };
    let Ok(decoded) = std::str::from_utf8(&bytes) else { return false };
    matches!(text(decoded), Cow::Owned(_))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    const KEY: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1234\nabcd\n-----END RSA PRIVATE KEY-----";

    #[test]
    fn markers_tell_values_apart_without_showing_them() {
        let (a, b) = (marker(b"one"), marker(b"two"));
        assert_ne!(a, b);
        assert_eq!(a, marker(b"one"));
        assert!(is_marker(&a), "{a}");
        assert!(!a.contains("one"));
    }

    #[test]
    fn secret_objects_lose_their_values() {
        let mut s = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"},
            "data": {"value": "c2VjcmV0", "n": 1}, "stringData": {"password": "hunter2"}, "type": "Opaque"});
        assert!(object(&mut s));
        let text = s.to_string();
        assert!(!text.contains("c2VjcmV0") && !text.contains("hunter2"), "{text}");
        assert_eq!(s["type"], "Opaque");
        assert_eq!(s["metadata"]["name"], "x");
        // Twice is the same as once.
        let again = s.clone();
        assert!(!object(&mut s));
        assert_eq!(s, again);
        // Other kinds keep their data.
        let mut cm = json!({"kind": "ConfigMap", "data": {"a": "b"}});
        assert!(!object(&mut cm));
        assert_eq!(cm["data"]["a"], "b");
    }

    #[rstest]
    #[case::pem(KEY)]
    #[case::kubeconfig_key("users:\n- name: a\n  user:\n    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo=\n")]
    #[case::kubeconfig_token("    token: abcdef0123456789abcdef\n")]
    #[case::json_token(r#"{"token":"s3cr3t-value"}"#)]
    #[case::password("password=hunter2")]
    #[case::header("Authorization: Bearer eyJhbGciOi.payload.sig")]
    #[case::kubeadm_token("kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:00")]
    #[case::certificate_key("--control-plane --certificate-key 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    fn secrets_in_text_are_redacted(#[case] input: &str) {
        let out = text(input);
        assert!(matches!(out, Cow::Owned(_)), "nothing redacted in {input:?}");
        for secret in [
            "MIIEpAIBAAKCAQEA1234",
            "LS0tLS1CRUdJTi",
            "abcdef0123456789abcdef",
            "s3cr3t-value",
            "hunter2",
            "eyJhbGciOi",
            "0123456789abcdef0123",
        ] {
            assert!(!out.contains(secret), "{secret} survived in {out}");
        }
        assert!(out.contains("<redacted:sha256:"), "{out}");
        // Redacting twice changes nothing more.
        assert_eq!(text(&out), out);
    }

    #[test]
    fn base64_kubeconfigs_are_redacted_and_plain_text_is_not() {
        use base64::Engine as _;
        let kc = "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    client-key-data: QUJDREVGR0g=\n";
        let blob = base64::engine::general_purpose::STANDARD.encode(kc);
        let input = format!("value: {blob}");
        let out = text(&input);
        assert!(!out.contains(&blob[..40]), "{out}");
        let harmless = "Machine capi-quickstart-md-0-x7b2k is Running; 3 of 3 replicas are up to date";
        assert!(matches!(text(harmless), Cow::Borrowed(_)));
        let cert =
            base64::engine::general_purpose::STANDARD.encode("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".repeat(3));
        assert!(matches!(text(&cert), Cow::Borrowed(_)), "certificates are not secret");
    }

    #[test]
    fn fields_of_secrets_are_redacted() {
        let v = json!("c2VjcmV0");
        assert_eq!(field("Secret", &["data", "value"], &v).as_str().map(is_marker), Some(true));
        assert_eq!(field("ConfigMap", &["data", "value"], &v).as_ref(), &v);
        let whole = json!({"value": "c2VjcmV0"});
        assert!(!field("Secret", &["data"], &whole).to_string().contains("c2VjcmV0"));
    }
}
