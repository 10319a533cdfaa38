//! Go `text/template` rendering for ClusterClass patches (`enabledIf`, `valueFrom.template`) and naming
//! templates, on the `gtmpl` crate, with the sprig functions ClusterClasses use in practice.
//! Source: `core/reconcilers/topology/cluster/patches/inline/json_patch_generator.go` (templates get
//! `sprig.HermeticTxtFuncMap()`), `internal/topology/names/names.go`.
//!
//! Simplifications: only a subset of sprig is provided (`replace`, `semverCompare`, `default`, `empty`,
//! `quote`, `squote`, `lower`, `upper`, `trim`, `trimPrefix`, `trimSuffix`, `contains`, `hasPrefix`,
//! `hasSuffix`, `toString`, `toJson`, `ternary`, `join`); JSON numbers are integers or floats (Go makes
//! every JSON number a `float64`, which only shows when a template compares a variable with an integer
//! constant).

use gtmpl::{Context, Func, FuncError, Template, Value};
use serde_json::Value as Json;
use std::collections::HashMap;

/// The sprig functions provided to templates.
fn sprig() -> Vec<(&'static str, Func)> {
    vec![
        ("replace", replace as Func),
        ("semverCompare", semver_compare as Func),
        ("default", default as Func),
        ("empty", empty as Func),
        ("quote", quote as Func),
        ("squote", squote as Func),
        ("lower", lower as Func),
        ("upper", upper as Func),
        ("trim", trim as Func),
        ("trimPrefix", trim_prefix as Func),
        ("trimSuffix", trim_suffix as Func),
        ("contains", contains as Func),
        ("hasPrefix", has_prefix as Func),
        ("hasSuffix", has_suffix as Func),
        ("toString", to_string as Func),
        ("toJson", to_json as Func),
        ("ternary", ternary as Func),
        ("join", join as Func),
    ]
}

fn parsed(text: &str) -> Result<Template, String> {
    let mut t = Template::default();
    t.add_funcs(&sprig());
    t.parse(text).map_err(|e| e.to_string())?;
    Ok(t)
}

/// Whether a template parses (the ClusterClass webhook checks this).
pub fn check(text: &str) -> Result<(), String> {
    kept(text).map(|_| ())
}

/// Templates kept parsed, per thread (gtmpl's lexer starts a thread for every parse). Only looked up
/// by text, never iterated; cleared when it reaches [`PARSED_KEPT`] distinct texts.
const PARSED_KEPT: usize = 512;

thread_local! {
    static PARSED: std::cell::RefCell<HashMap<String, std::rc::Rc<Template>>> = std::cell::RefCell::new(HashMap::new()); // determinism-ok: looked up by text, never iterated
}

/// The parsed template, from [`PARSED`] or parsed now and kept.
fn kept(text: &str) -> Result<std::rc::Rc<Template>, String> {
    if let Some(t) = PARSED.with(|p| p.borrow().get(text).cloned()) {
        return Ok(t);
    }
    let t = std::rc::Rc::new(parsed(text)?);
    PARSED.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() >= PARSED_KEPT {
            p.clear();
        }
        p.insert(text.to_string(), t.clone());
    });
    Ok(t)
}

/// Render a template with JSON data (the variables map).
pub fn render(text: &str, data: &Json) -> Result<String, String> {
    kept(text)?.render(&Context::from(to_value(data))).map_err(|e| e.to_string())
}

/// JSON → template value (objects become maps, so missing keys print `<no value>` as in Go).
pub fn to_value(j: &Json) -> Value {
    match j {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::from(u),
            _ => Value::from(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::Array(a.iter().map(to_value).collect()),
        // gtmpl's maps are std `HashMap`s, but the patched gtmpl ranges over and prints them in sorted key
        // order, as Go does (vendor/gtmpl/PATCHED.md), and only looks them up otherwise.
        Json::Object(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), to_value(v))).collect::<HashMap<_, _>>()), // determinism-ok: see above
    }
}

/// Template value → JSON (for `toJson`); map keys are sorted as Go's encoder sorts them.
fn to_json_value(v: &Value) -> Json {
    match v {
        Value::NoValue | Value::Nil | Value::Function(_) => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::String(s) => Json::String(s.clone()),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                n.as_f64().and_then(serde_json::Number::from_f64).map(Json::Number).unwrap_or(Json::Null)
            }
        }
        Value::Array(a) => Json::Array(a.iter().map(to_json_value).collect()),
        Value::Object(m) | Value::Map(m) => {
            let sorted: std::collections::BTreeMap<&String, &Value> = m.iter().collect();
            Json::Object(sorted.into_iter().map(|(k, v)| (k.clone(), to_json_value(v))).collect())
        }
    }
}

/// Text of a value as sprig's `toString` / `fmt.Sprint` gives it.
fn text(v: &Value) -> String {
    match v {
        Value::NoValue | Value::Nil => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn arg<'a>(args: &'a [Value], i: usize, name: &str, n: usize) -> Result<&'a Value, FuncError> {
    if args.len() != n {
        return Err(FuncError::ExactlyXArgs(name.to_string(), n));
    }
    Ok(&args[i])
}

fn replace(args: &[Value]) -> Result<Value, FuncError> {
    let old = text(arg(args, 0, "replace", 3)?);
    let new = text(&args[1]);
    Ok(Value::String(text(&args[2]).replace(&old, &new)))
}

fn semver_compare(args: &[Value]) -> Result<Value, FuncError> {
    let constraint = text(arg(args, 0, "semverCompare", 2)?);
    let version = text(&args[1]);
    semver_matches(&constraint, &version).map(Value::Bool).map_err(FuncError::Generic)
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::NoValue | Value::Nil => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) | Value::Map(m) => m.is_empty(),
        Value::Number(n) => n.as_f64().is_some_and(|f| f == 0.0),
        Value::Function(_) => false,
    }
}

fn default(args: &[Value]) -> Result<Value, FuncError> {
    match args.len() {
        1 => Ok(args[0].clone()),
        2 => Ok(if is_empty(&args[1]) { args[0].clone() } else { args[1].clone() }),
        _ => Err(FuncError::AtLeastXArgs("default".into(), 1)),
    }
}

fn empty(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::Bool(is_empty(arg(args, 0, "empty", 1)?)))
}

fn quote(args: &[Value]) -> Result<Value, FuncError> {
    let parts: Vec<String> =
        args.iter().filter(|a| !matches!(a, Value::Nil | Value::NoValue)).map(|a| super::field::go_quote(&text(a))).collect();
    Ok(Value::String(parts.join(" ")))
}

fn squote(args: &[Value]) -> Result<Value, FuncError> {
    let parts: Vec<String> = args.iter().filter(|a| !matches!(a, Value::Nil | Value::NoValue)).map(|a| format!("'{}'", text(a))).collect();
    Ok(Value::String(parts.join(" ")))
}

fn lower(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(text(arg(args, 0, "lower", 1)?).to_lowercase()))
}

fn upper(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(text(arg(args, 0, "upper", 1)?).to_uppercase()))
}

fn trim(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(text(arg(args, 0, "trim", 1)?).trim().to_string()))
}

fn trim_prefix(args: &[Value]) -> Result<Value, FuncError> {
    let p = text(arg(args, 0, "trimPrefix", 2)?);
    let s = text(&args[1]);
    Ok(Value::String(s.strip_prefix(p.as_str()).unwrap_or(&s).to_string()))
}

fn trim_suffix(args: &[Value]) -> Result<Value, FuncError> {
    let p = text(arg(args, 0, "trimSuffix", 2)?);
    let s = text(&args[1]);
    Ok(Value::String(s.strip_suffix(p.as_str()).unwrap_or(&s).to_string()))
}

fn contains(args: &[Value]) -> Result<Value, FuncError> {
    let sub = text(arg(args, 0, "contains", 2)?);
    Ok(Value::Bool(text(&args[1]).contains(&sub)))
}

fn has_prefix(args: &[Value]) -> Result<Value, FuncError> {
    let p = text(arg(args, 0, "hasPrefix", 2)?);
    Ok(Value::Bool(text(&args[1]).starts_with(&p)))
}

fn has_suffix(args: &[Value]) -> Result<Value, FuncError> {
    let p = text(arg(args, 0, "hasSuffix", 2)?);
    Ok(Value::Bool(text(&args[1]).ends_with(&p)))
}

fn to_string(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(text(arg(args, 0, "toString", 1)?)))
}

fn to_json(args: &[Value]) -> Result<Value, FuncError> {
    let v = to_json_value(arg(args, 0, "toJson", 1)?);
    Ok(Value::String(serde_json::to_string(&v).unwrap_or_default()))
}

fn ternary(args: &[Value]) -> Result<Value, FuncError> {
    let cond = arg(args, 2, "ternary", 3)?;
    Ok(if matches!(cond, Value::Bool(true)) { args[0].clone() } else { args[1].clone() })
}

fn join(args: &[Value]) -> Result<Value, FuncError> {
    let sep = text(arg(args, 0, "join", 2)?);
    let parts: Vec<String> = match &args[1] {
        Value::Array(a) => a.iter().map(text).collect(),
        other => vec![text(other)],
    };
    Ok(Value::String(parts.join(&sep)))
}

/// A version as Masterminds/semver reads it: optional `v`, missing minor/patch are 0, a `-pre` suffix.
fn loose_version(s: &str) -> Result<semver::Version, String> {
    let t = s.trim().trim_start_matches(['v', 'V']);
    let (core, rest) = match t.find(['-', '+']) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let mut nums = core.split('.').map(|p| p.parse::<u64>());
    let mut next = || nums.next().transpose().map_err(|_| format!("invalid semantic version {s:?}"));
    let (major, minor, patch) = (next()?.ok_or(format!("invalid semantic version {s:?}"))?, next()?.unwrap_or(0), next()?.unwrap_or(0));
    semver::Version::parse(&format!("{major}.{minor}.{patch}{rest}")).map_err(|_| format!("invalid semantic version {s:?}"))
}

/// Masterminds/semver constraint check (`< v1.25-0`, `>= 1.30, < 1.32`, `~1.2`, `^1.2.3`, `a || b`).
pub fn semver_matches(constraint: &str, version: &str) -> Result<bool, String> {
    let v = loose_version(version)?;
    for alternative in constraint.split("||") {
        let mut all = true;
        let mut any_term = false;
        for term in alternative.split(',').flat_map(split_terms) {
            any_term = true;
            if !term_matches(&term, &v)? {
                all = false;
            }
        }
        if any_term && all {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Split `>= 1.2 < 1.3` (space-separated AND) into terms, keeping `>= 1.2` together.
fn split_terms(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut pending_op = String::new();
    for tok in s.split_whitespace() {
        if tok.chars().all(|c| "<>=!~^".contains(c)) {
            pending_op.push_str(tok);
        } else {
            out.push(format!("{pending_op}{tok}"));
            pending_op.clear();
        }
    }
    out
}

fn term_matches(term: &str, v: &semver::Version) -> Result<bool, String> {
    let ops = ["!=", ">=", "=>", "<=", "=<", ">", "<", "=", "~", "^"];
    let (op, rest) = ops.iter().find_map(|op| term.strip_prefix(op).map(|r| (*op, r))).unwrap_or(("=", term));
    let rest = rest.trim();
    if rest.is_empty() || rest == "*" || rest.eq_ignore_ascii_case("x") {
        return Ok(true);
    }
    let c = loose_version(rest)?;
    let cmp = v.cmp_precedence(&c);
    use std::cmp::Ordering::*;
    // Masterminds excludes pre-release versions from range checks unless the constraint has one.
    if !v.pre.is_empty() && c.pre.is_empty() && op != "=" && op != "!=" {
        return Ok(false);
    }
    Ok(match op {
        "=" => cmp == Equal,
        "!=" => cmp != Equal,
        ">" => cmp == Greater,
        "<" => cmp == Less,
        ">=" | "=>" => cmp != Less,
        "<=" | "=<" => cmp != Greater,
        "~" => cmp != Less && (v.major, v.minor) == (c.major, c.minor),
        "^" => cmp != Less && if c.major > 0 { v.major == c.major } else { (v.major, v.minor) == (c.major, c.minor) },
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case("{{ ne .imageRepository \"\" }}", json!({"imageRepository": ""}), "false")]
    #[case("{{ ne .imageRepository \"\" }}", json!({"imageRepository": "reg.io"}), "true")]
    #[case("{{ .podSecurityStandard.enabled }}", json!({"podSecurityStandard": {"enabled": true}}), "true")]
    #[case("kindest/node:{{ .builtin.controlPlane.version | replace \"+\" \"_\" }}", json!({"builtin": {"controlPlane": {"version": "v1.34.0+k3s1"}}}), "kindest/node:v1.34.0_k3s1")]
    #[case("v1{{ if semverCompare \"< v1.25-0\" .builtin.controlPlane.version }}beta1{{ end }}", json!({"builtin": {"controlPlane": {"version": "v1.24.3"}}}), "v1beta1")]
    #[case("v1{{ if semverCompare \"< v1.25-0\" .builtin.controlPlane.version }}beta1{{ end }}", json!({"builtin": {"controlPlane": {"version": "v1.34.0"}}}), "v1")]
    #[case("{{ .x | default \"d\" }}", json!({"x": ""}), "d")]
    #[case("{{ .missing }}", json!({}), "<no value>")]
    #[case("{{ .n }}", json!({"n": 3}), "3")]
    #[case("{{ .s | upper | quote }}", json!({"s": "ab"}), "\"AB\"")]
    // Maps are visited and printed in sorted key order, as in Go (a `HashMap`'s order would differ
    // between processes, and sixteen keys would almost never come out sorted).
    #[case(
        "{{ range $k, $v := . }}{{ $k }}={{ $v }} {{ end }}",
        sixteen_keys(),
        "a=0 b=1 c=2 d=3 e=4 f=5 g=6 h=7 i=8 j=9 k=10 l=11 m=12 n=13 o=14 p=15 "
    )]
    #[case("{{ . }}", sixteen_keys(), "map[a:0 b:1 c:2 d:3 e:4 f:5 g:6 h:7 i:8 j:9 k:10 l:11 m:12 n:13 o:14 p:15]")]
    #[case("{{ printf \"%v\" . }}", sixteen_keys(), "map[a:0 b:1 c:2 d:3 e:4 f:5 g:6 h:7 i:8 j:9 k:10 l:11 m:12 n:13 o:14 p:15]")]
    #[case("{{ .l }} {{ .l | toString }}", json!({"l": ["x", {"b": 1, "a": 2}]}), "[x map[a:2 b:1]] [x map[a:2 b:1]]")]
    fn renders_like_go(#[case] tpl: &str, #[case] data: Json, #[case] want: &str) {
        assert_eq!(render(tpl, &data).unwrap(), want);
    }

    fn sixteen_keys() -> Json {
        Json::Object(('a'..='p').enumerate().map(|(i, c)| (c.to_string(), json!(i))).collect())
    }

    #[rstest]
    #[case("< v1.25-0", "v1.24.0", true)]
    #[case("< v1.25-0", "v1.25.0", false)]
    #[case(">= 1.30, < 1.32", "v1.31.2", true)]
    #[case(">= 1.30 < 1.32", "v1.32.0", false)]
    #[case("~1.33", "v1.33.9", true)]
    #[case("^1.2.3", "v1.9.0", true)]
    #[case("< 1.2 || > 1.30", "v1.31.0", true)]
    fn semver_constraints(#[case] c: &str, #[case] v: &str, #[case] want: bool) {
        assert_eq!(semver_matches(c, v).unwrap(), want);
    }

    #[test]
    fn parse_errors_are_reported() {
        assert!(check("{{ if }}").is_err());
        assert!(check("{{ .a }}").is_ok());
    }

    /// Templates are kept parsed by text: the data of each render still counts, and a template that
    /// does not parse fails every time.
    #[test]
    fn kept_templates_render_each_call_with_its_own_data() {
        assert_eq!(render("v{{ .a }}", &json!({"a": 1})).unwrap(), "v1");
        assert_eq!(render("v{{ .a }}", &json!({"a": 2})).unwrap(), "v2");
        assert!(render("{{ if }}", &json!({})).is_err());
        assert!(render("{{ if }}", &json!({})).is_err());
    }
}
