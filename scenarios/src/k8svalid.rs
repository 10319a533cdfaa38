//! Kubernetes' name and label rules with the messages the API server answers them with, restated
//! from apimachinery (`k8s.io/apimachinery/pkg/util/validation/validation.go`: `IsDNS1123Label`,
//! `IsDNS1123Subdomain`, `IsQualifiedName`, `IsValidLabelValue`, `IsConfigMapKey`, `RegexError`,
//! `MaxLenError`, `EmptyError`) and the way `field.Error` prints a bad value (`%q`, Go's
//! `strconv.Quote`, `k8s.io/apimachinery/pkg/util/validation/field/errors.go: Error.ErrorBody`).
//!
//! Shared by the simulator's store (`sim::store::validate`), the served API's selector parser
//! ([`crate::label_parse`]) and anything else that must refuse what a real API server refuses. Each
//! function returns the list of messages apimachinery returns (empty: valid).

/// `DNS1123LabelMaxLength`.
pub const DNS1123_LABEL_MAX: usize = 63;
/// `DNS1123SubdomainMaxLength`.
pub const DNS1123_SUBDOMAIN_MAX: usize = 253;
/// `qualifiedNameMaxLength` (the name part of a label key).
pub const QUALIFIED_NAME_MAX: usize = 63;
/// `LabelValueMaxLength`.
pub const LABEL_VALUE_MAX: usize = 63;
/// `TotalAnnotationSizeLimitB` (apimachinery `api/validation/objectmeta.go`): 256 KiB.
pub const TOTAL_ANNOTATION_SIZE: usize = 256 << 10;
/// `core.MaxSecretSize` (ConfigMaps and Secrets): 1 MiB.
pub const MAX_SECRET_SIZE: usize = 1 << 20;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_MSG: &str =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_MSG: &str =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const CONFIG_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const CONFIG_KEY_MSG: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";

/// apimachinery `RegexError`: the message, its examples and the regular expression.
pub fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    // Go appends "'ex', " per example with " or " between them, hence the double space.
    let mut s = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            s.push_str(" or ");
        }
        s.push_str(&format!("'{e}', "));
    }
    s.push_str(&format!("regex used for validation is '{fmt}')"));
    s
}

/// apimachinery `MaxLenError`.
pub fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// apimachinery `EmptyError`.
pub fn empty_error() -> &'static str {
    "must be non-empty"
}

fn alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn is_label_shape(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && alnum_lower(b[0]) && alnum_lower(b[b.len() - 1]) && b.iter().all(|&c| alnum_lower(c) || c == b'-')
}

fn is_subdomain_shape(s: &str) -> bool {
    s.split('.').all(is_label_shape)
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_qualified_shape(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && alnum(b[0]) && alnum(b[b.len() - 1]) && b.iter().all(|&c| alnum(c) || matches!(c, b'-' | b'_' | b'.'))
}

/// `IsDNS1123Label`.
pub fn dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX {
        errs.push(max_len_error(DNS1123_LABEL_MAX));
    }
    if !is_label_shape(value) {
        if is_subdomain_shape(value) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, &["my-name", "123-abc"]));
        }
    }
    errs
}

/// `IsDNS1123Subdomain`.
pub fn dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX));
    }
    if !is_subdomain_shape(value) {
        errs.push(regex_error(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, &["example.com"]));
    }
    errs
}

/// `IsQualifiedName` (label keys, annotation keys in lower case, finalizers).
pub fn qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push(format!("prefix part {}", empty_error()));
            } else {
                errs.extend(dns1123_subdomain(prefix).into_iter().map(|m| format!("prefix part {m}")));
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push(format!("name part {}", empty_error()));
    } else if name.len() > QUALIFIED_NAME_MAX {
        errs.push(format!("name part {}", max_len_error(QUALIFIED_NAME_MAX)));
    }
    if !is_qualified_shape(name) {
        errs.push(format!("name part {}", regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])));
    }
    errs
}

/// `IsValidLabelValue`.
pub fn label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX {
        errs.push(max_len_error(LABEL_VALUE_MAX));
    }
    if !value.is_empty() && !is_qualified_shape(value) {
        errs.push(regex_error(LABEL_VALUE_MSG, LABEL_VALUE_FMT, &["MyValue", "my_value", "12345"]));
    }
    errs
}

/// `IsConfigMapKey` (keys of ConfigMap and Secret data).
pub fn config_map_key(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX));
    }
    if value.is_empty() || !value.bytes().all(|c| alnum(c) || matches!(c, b'-' | b'_' | b'.')) {
        errs.push(regex_error(CONFIG_KEY_MSG, CONFIG_KEY_FMT, &["key.name", "KEY_NAME", "key-name"]));
    }
    // hasChDirPrefix
    if value.starts_with("..") {
        errs.push("must not start with '..'".to_string());
    } else if value == "." {
        errs.push("must not be '.'".to_string());
    }
    errs
}

/// Go's `strconv.Quote` (what `%q` prints): printable characters as they are, `\"` and `\\`,
/// the C escapes, and `\xNN` / `\uNNNN` / `\UNNNNNNNN` for the rest.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{feff}') => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    const LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

    /// apimachinery validation_test.go `TestIsDNS1123Subdomain` (good and bad tables, restated).
    #[rstest]
    #[case("a", true)]
    #[case("ab", true)]
    #[case("a-b.c-d", true)]
    #[case("0.a", true)]
    #[case("a.b.c.d.e", true)]
    #[case(&"a".repeat(253), true)]
    #[case("", false)]
    #[case("A", false)]
    #[case("UPPER", false)]
    #[case("a/b", false)]
    #[case("../../etc", false)]
    #[case("a..b", false)]
    #[case("-a", false)]
    #[case("a-", false)]
    #[case(".a", false)]
    #[case("a_b", false)]
    #[case("a b", false)]
    #[case(&"a".repeat(254), false)]
    fn dns1123_subdomains(#[case] value: &str, #[case] ok: bool) {
        let errs = dns1123_subdomain(value);
        assert_eq!(errs.is_empty(), ok, "{value}: {errs:?}");
        if !ok && value.len() <= 253 {
            assert_eq!(errs, vec![SUBDOMAIN.to_string()]);
        }
    }

    /// apimachinery validation_test.go `TestIsDNS1123Label`, with the "must not contain dots" case.
    #[rstest]
    #[case("a", vec![])]
    #[case("my-name", vec![])]
    #[case("UPPER", vec![LABEL.to_string()])]
    #[case("a.b", vec!["must not contain dots".to_string()])]
    #[case(&"a".repeat(64), vec!["must be no more than 63 characters".to_string()])]
    fn dns1123_labels(#[case] value: &str, #[case] want: Vec<String>) {
        assert_eq!(dns1123_label(value), want);
    }

    /// apimachinery validation_test.go `TestIsQualifiedName` and `TestIsValidLabelValue`.
    #[rstest]
    #[case("simple", true)]
    #[case("now-with-dashes", true)]
    #[case("1-starts-with-num", true)]
    #[case("example.com/MixedCase", true)]
    #[case("cluster.x-k8s.io/cluster-name", true)]
    #[case("nospecialchars%^=@", false)]
    #[case("/simple", false)]
    #[case("a/b/c", false)]
    #[case("Example.com/x", false)]
    #[case("_underscore", false)]
    #[case("", false)]
    fn qualified_names(#[case] value: &str, #[case] ok: bool) {
        assert_eq!(qualified_name(value).is_empty(), ok, "{value}: {:?}", qualified_name(value));
    }

    #[test]
    fn qualified_name_messages() {
        assert_eq!(qualified_name("/x"), vec!["prefix part must be non-empty".to_string()]);
        assert_eq!(qualified_name("a/b/c")[0], "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
        assert_eq!(label_value("-bad"), vec!["a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".to_string()]);
        assert!(label_value("").is_empty() && label_value("v1.34.3").is_empty());
        assert_eq!(config_map_key("..x"), vec!["must not start with '..'".to_string()]);
        assert_eq!(config_map_key("a/b").len(), 1);
    }

    #[rstest]
    #[case("abc", "\"abc\"")]
    #[case("a\"b\\c", "\"a\\\"b\\\\c\"")]
    #[case("a\nb\u{1}", "\"a\\nb\\x01\"")]
    #[case("é✓", "\"é✓\"")]
    fn go_quoting(#[case] s: &str, #[case] want: &str) {
        assert_eq!(go_quote(s), want);
    }
}
