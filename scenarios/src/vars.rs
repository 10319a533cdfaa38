//! `${VAR}` substitution in manifests, with the default forms clusterctl accepts
//! (`${VAR:=default}`, `${VAR:-default}`, `${VAR=default}`, `${VAR-default}`).
//!
//! clusterctl renders templates with drone/envsubst and refuses to render when a variable that has no
//! default is unset; we do the same and name the variable and its position. Only the braced form is
//! substituted: a bare `$VAR` (common in shell snippets inside cloud-init) is left untouched.

use indexmap::IndexMap;

/// Variables in effect for a scenario run: the scenario's `vars:`, overridden by the command line.
pub type Vars = IndexMap<String, String>;

/// A `${NAME}` without value or default, found at a 1-based line and column of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undefined {
    /// The variable.
    pub name: String,
    /// 1-based line within the substituted text.
    pub line: usize,
    /// 1-based column within the substituted text.
    pub column: usize,
}

/// Substitute every `${...}` in `text`. Returns the first undefined variable as an error.
pub fn substitute(text: &str, vars: &Vars) -> Result<String, Undefined> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut consumed = 0usize;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match parse_reference(after) {
            Some((reference, len)) => {
                let value = match (vars.get(reference.name), reference.default) {
                    (Some(v), Some((default, empty_counts))) if empty_counts && v.is_empty() => default.to_string(),
                    (Some(v), _) => v.clone(),
                    (None, Some((default, _))) => default.to_string(),
                    (None, None) => {
                        let (line, column) = line_col(text, consumed + start);
                        return Err(Undefined { name: reference.name.to_string(), line, column });
                    }
                };
                out.push_str(&value);
                consumed += start + 2 + len;
                rest = &after[len..];
            }
            None => {
                out.push_str("${");
                consumed += start + 2;
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The text with every `${...}` reference replaced by underscores of the same length, so that YAML
/// can be parsed before substitution (a reference inside a flow map is not valid YAML yet) while
/// keeping positions.
pub fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match parse_reference(after) {
            Some((_, len)) => {
                out.extend(std::iter::repeat_n('_', 2 + after[..len].chars().count()));
                rest = &after[len..];
            }
            None => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The variables a text refers to, in order of first use, each with whether it has a default.
pub fn references(text: &str) -> Vec<(String, bool)> {
    let mut found: Vec<(String, bool)> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        if let Some((r, len)) = parse_reference(after) {
            if !found.iter().any(|(n, _)| n == r.name) {
                found.push((r.name.to_string(), r.default.is_some()));
            }
            rest = &after[len..];
        } else {
            rest = after;
        }
    }
    found
}

struct Reference<'a> {
    name: &'a str,
    /// The default text, and whether an empty value also takes the default (`:-`, `:=`).
    default: Option<(&'a str, bool)>,
}

/// Parse what follows `${`; returns the reference and the number of bytes consumed including `}`.
fn parse_reference(s: &str) -> Option<(Reference<'_>, usize)> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
        i += 1;
    }
    if i == 0 || bytes[0].is_ascii_digit() {
        return None;
    }
    let name = &s[..i];
    let rest = &s[i..];
    if let Some(stripped) = rest.strip_prefix('}') {
        let _ = stripped;
        return Some((Reference { name, default: None }, i + 1));
    }
    let (op_len, empty_counts) = if rest.starts_with(":=") || rest.starts_with(":-") {
        (2, true)
    } else if rest.starts_with('=') || rest.starts_with('-') {
        (1, false)
    } else {
        return None;
    };
    let default_start = i + op_len;
    let close = find_closing_brace(&s[default_start..])?;
    let default = &s[default_start..default_start + close];
    Some((Reference { name, default: Some((unquote_default(default), empty_counts)) }, default_start + close + 1))
}

/// clusterctl templates write string defaults quoted (`${SERVICE_DOMAIN:="cluster.local"}`) inside
/// YAML that is itself unquoted, so the quotes end up in the YAML. Keep them: YAML then reads a string.
fn unquote_default(d: &str) -> &str {
    d
}

/// The closing `}` of a default, allowing balanced nested braces (e.g. a JSON object default).
fn find_closing_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            '\n' => return None,
            _ => {}
        }
    }
    None
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.chars().count(), |nl| before[nl + 1..].chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn substitutes_values_and_defaults_like_clusterctl() {
        let v = vars(&[("A", "x"), ("EMPTY", "")]);
        assert_eq!(substitute("${A}-${B:=d}", &v).unwrap(), "x-d");
        assert_eq!(substitute("${EMPTY:-d} ${EMPTY-d}", &v).unwrap(), "d ");
        assert_eq!(substitute("cidr: ${POD_CIDR:=[\"192.168.0.0/16\"]}", &v).unwrap(), "cidr: [\"192.168.0.0/16\"]");
        assert_eq!(substitute("echo $HOME ${ not a var", &v).unwrap(), "echo $HOME ${ not a var");
    }

    #[test]
    fn undefined_variable_reports_line_and_column() {
        let err = substitute("a: 1\nb: x${MISSING}\n", &Vars::new()).unwrap_err();
        assert_eq!(err, Undefined { name: "MISSING".into(), line: 2, column: 5 });
    }

    #[test]
    fn lists_references_once() {
        assert_eq!(references("${A} ${B:=1} ${A}"), vec![("A".into(), false), ("B".into(), true)]);
    }
}
