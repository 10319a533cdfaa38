//! `${VAR}` substitution as clusterctl renders templates (its simple processor over drone/envsubst):
//!
//! - `${VAR}`, and `${ VAR }` with blanks inside the braces (`convertLegacyVars`);
//! - defaults: `${VAR:=default}` and `${VAR:-default}` (also when VAR is empty), `${VAR=default}` and
//!   `${VAR-default}` (only when VAR is unset); a default may itself hold references, which are
//!   substituted in turn (`${CLUSTER_CLASS_NAMESPACE:-${NAMESPACE}}`);
//! - `$$` is a literal `$` (`$${version}` renders as `${version}`, not substituted);
//! - a bare `$VAR` is left untouched (shell snippets in cloud-init keep theirs), as are `${` not
//!   followed by a name;
//! - a variable without value or default is an error naming it and its position.
//!
//! Simplification (listed in docs/fidelity.md): envsubst's string functions (`${VAR^^}`,
//! `${VAR:offset:length}`, `${VAR/a/b}`, `${#VAR}`) are not supported; clusterctl's templates do not
//! use them, and such a reference is left as written.
//!
//! Bounds: one substitution never produces more than [`Limits::max_output_bytes`], and defaults nest at
//! most [`Limits::max_depth`] deep, so `A: "${A}${A}..."`-style amplification ends with an error
//! instead of gigabytes.
//!
//! [`mask`] replaces every reference of a text by a placeholder of the same length in characters that
//! YAML reads as plain text, so a file can be parsed (and its positions kept) before anything is
//! substituted, and each placeholder found in the parsed values maps back to its reference
//! ([`Masked::unmask`]).

use indexmap::IndexMap;
use std::borrow::Cow;

/// Variables in effect for a scenario run: the scenario's `vars:`, overridden by the command line.
pub type Vars = IndexMap<String, String>;

/// How far a substitution may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest text one substitution may produce.
    pub max_output_bytes: usize,
    /// How deep defaults may nest (`${A:-${B:-${C}}}` is 3).
    pub max_depth: usize,
}

/// The limits every substitution uses unless told otherwise: 64 MiB of output, defaults 8 deep.
pub const LIMITS: Limits = Limits { max_output_bytes: 64 << 20, max_depth: 8 };

/// What went wrong in a substitution, at a 1-based line and column of the substituted text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubstError {
    /// `${NAME}` without value or default.
    Undefined {
        /// The variable.
        name: String,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
    },
    /// The result would exceed [`Limits::max_output_bytes`], or defaults nest deeper than allowed.
    TooLarge {
        /// What was exceeded, for people.
        what: String,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
    },
}

impl SubstError {
    /// The position.
    pub fn position(&self) -> (usize, usize) {
        match self {
            SubstError::Undefined { line, column, .. } | SubstError::TooLarge { line, column, .. } => (*line, *column),
        }
    }
}

/// Kept for callers that only need the undefined case's fields.
pub type Undefined = SubstError;

/// Substitute every reference in `text` with the default [`LIMITS`].
pub fn substitute(text: &str, vars: &Vars) -> Result<String, SubstError> {
    substitute_with(text, vars, LIMITS)
}

/// Substitute every reference in `text`.
pub fn substitute_with(text: &str, vars: &Vars, limits: Limits) -> Result<String, SubstError> {
    let mut out = String::with_capacity(text.len());
    render(text, vars, limits, 0, &mut out).map_err(|(e, offset)| e.at(text, offset))?;
    Ok(out)
}

/// An error found at a byte offset, before its position is known.
enum Found {
    Undefined(String),
    TooLarge(String),
}

impl Found {
    fn at(self, text: &str, offset: usize) -> SubstError {
        let (line, column) = line_col(text, offset);
        match self {
            Found::Undefined(name) => SubstError::Undefined { name, line, column },
            Found::TooLarge(what) => SubstError::TooLarge { what, line, column },
        }
    }
}

fn render(text: &str, vars: &Vars, limits: Limits, depth: usize, out: &mut String) -> Result<(), (Found, usize)> {
    let mut i = 0;
    let bytes = text.as_bytes();
    while let Some(rel) = text[i..].find('$') {
        let at = i + rel;
        out.push_str(&text[i..at]);
        if bytes.get(at + 1) == Some(&b'$') {
            out.push('$');
            i = at + 2;
        } else if let Some((r, len)) = (bytes.get(at + 1) == Some(&b'{')).then(|| parse_reference(&text[at + 2..])).flatten() {
            match (vars.get(r.name), r.default) {
                (Some(v), Some((_, true))) if v.is_empty() => default(r, vars, limits, depth, out).map_err(|(e, _)| (e, at))?,
                (Some(v), _) => out.push_str(v),
                (None, Some(_)) => default(r, vars, limits, depth, out).map_err(|(e, _)| (e, at))?,
                (None, None) => return Err((Found::Undefined(r.name.to_string()), at)),
            }
            i = at + 2 + len;
        } else {
            out.push('$');
            i = at + 1;
        }
        if out.len() > limits.max_output_bytes {
            return Err((Found::TooLarge(format!("the substituted text exceeds {} MiB", limits.max_output_bytes >> 20)), at));
        }
    }
    out.push_str(&text[i..]);
    if out.len() > limits.max_output_bytes {
        return Err((Found::TooLarge(format!("the substituted text exceeds {} MiB", limits.max_output_bytes >> 20)), text.len()));
    }
    Ok(())
}

fn default(r: Reference<'_>, vars: &Vars, limits: Limits, depth: usize, out: &mut String) -> Result<(), (Found, usize)> {
    let Some((text, _)) = r.default else { return Ok(()) };
    if depth + 1 > limits.max_depth {
        return Err((Found::TooLarge(format!("defaults nest more than {} deep", limits.max_depth)), 0));
    }
    render(text, vars, limits, depth + 1, out)
}

/// `$$` → `$` outside references (what [`render`] does to text that holds none).
fn render_escapes_only(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(i) = rest.find("$$") {
        out.push_str(&rest[..i]);
        out.push('$');
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
}

/// The variables a text refers to, in order of first use, each with whether it has a default
/// (references inside defaults included).
pub fn references(text: &str) -> Vec<(String, bool)> {
    let mut found: Vec<(String, bool)> = Vec::new();
    for_each_reference(text, &mut |r, _, _| {
        if !found.iter().any(|(n, _)| n == r.name) {
            found.push((r.name.to_string(), r.default.is_some()));
        }
        if let Some((d, _)) = r.default {
            for (n, has) in references(d) {
                if !found.iter().any(|(m, _)| *m == n) {
                    found.push((n, has));
                }
            }
        }
    });
    found
}

/// Call `f` with every top-level reference, its byte offset and its length in bytes (`$$` skipped).
fn for_each_reference<'t>(text: &'t str, f: &mut dyn FnMut(Reference<'t>, usize, usize)) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(rel) = text[i..].find('$') {
        let at = i + rel;
        if bytes.get(at + 1) == Some(&b'$') {
            i = at + 2;
        } else if let Some((r, len)) = (bytes.get(at + 1) == Some(&b'{')).then(|| parse_reference(&text[at + 2..])).flatten() {
            f(r, at, len + 2);
            i = at + 2 + len;
        } else {
            i = at + 1;
        }
    }
}

#[derive(Clone, Copy)]
struct Reference<'a> {
    name: &'a str,
    /// The default text, and whether an empty value also takes the default (`:-`, `:=`).
    default: Option<(&'a str, bool)>,
}

/// Parse what follows `${`; returns the reference and the number of bytes consumed including `}`.
fn parse_reference(s: &str) -> Option<(Reference<'_>, usize)> {
    let bytes = s.as_bytes();
    let blank = |b: u8| b == b' ' || b == b'\t';
    let mut i = 0;
    while i < bytes.len() && blank(bytes[i]) {
        i += 1;
    }
    let start = i;
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
        i += 1;
    }
    if i == start || bytes[start].is_ascii_digit() {
        return None;
    }
    let name = &s[start..i];
    let mut j = i;
    while j < bytes.len() && blank(bytes[j]) {
        j += 1;
    }
    if bytes.get(j) == Some(&b'}') {
        return Some((Reference { name, default: None }, j + 1));
    }
    // Blanks are only allowed around a bare name (`${ NAME }`).
    let rest = &s[i..];
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
    Some((Reference { name, default: Some((default, empty_counts)) }, default_start + close + 1))
}

/// The closing `}` of a default, allowing balanced nested braces (a nested reference, a JSON object).
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

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.chars().count(), |nl| before[nl + 1..].chars().count()) + 1;
    (line, column)
}

/// First character of a placeholder (Unicode private use: YAML reads it as plain text).
const MARK: char = '\u{E000}';
/// Fill of a placeholder after its index digits.
const FILL: char = '\u{E001}';
/// Index digits: `DIGIT0 + d` for d in 0..256, three of them (so 16 million references per file).
const DIGIT0: u32 = 0xE100;
/// The shortest reference (`${A}`) is four characters: the mark and three digits fit.
const DIGITS: usize = 3;

/// The placeholder of reference `index`, `chars` characters long (at least `1 + DIGITS`).
fn placeholder(index: usize, chars: usize) -> String {
    let mut out = String::with_capacity(chars * 3);
    out.push(MARK);
    for k in (0..DIGITS).rev() {
        out.push(char::from_u32(DIGIT0 + ((index >> (8 * k)) & 0xff) as u32).unwrap_or(FILL));
    }
    for _ in 1 + DIGITS..chars {
        out.push(FILL);
    }
    out
}

/// A text with every reference replaced by a same-length placeholder (see the module doc).
#[derive(Debug, Clone)]
pub struct Masked {
    /// The masked text: same lines and columns as the original.
    pub text: String,
    /// Each reference's original text and byte offset in the original, by placeholder index.
    refs: Vec<(String, usize)>,
}

/// Mask every reference of `text` (see [`Masked`]).
pub fn mask(text: &str) -> Masked {
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    let mut refs = Vec::new();
    let mut last = 0;
    let mut spans = Vec::new();
    for_each_reference(text, &mut |_, at, len| spans.push((at, len)));
    for (at, len) in spans {
        let index = refs.len();
        if index >= 1 << (8 * DIGITS) {
            break;
        }
        out.push_str(&text[last..at]);
        let original = &text[at..at + len];
        out.push_str(&placeholder(index, original.chars().count()));
        refs.push((original.to_string(), at));
        last = at + len;
    }
    out.push_str(&text[last..]);
    Masked { text: out, refs }
}

impl Masked {
    /// `s` (a value parsed from the masked text) with its placeholders turned back into the
    /// references they stand for.
    pub fn unmask<'s>(&self, s: &'s str) -> Cow<'s, str> {
        if !s.contains(MARK) {
            return Cow::Borrowed(s);
        }
        let mut out = String::with_capacity(s.len());
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            if c != MARK {
                out.push(c);
                continue;
            }
            let mut index = 0usize;
            let mut ok = true;
            for _ in 0..DIGITS {
                match chars.next().map(u32::from) {
                    Some(d) if (DIGIT0..DIGIT0 + 256).contains(&d) => index = (index << 8) | (d - DIGIT0) as usize,
                    _ => ok = false,
                }
            }
            while chars.peek() == Some(&FILL) {
                chars.next();
            }
            match self.refs.get(index).filter(|_| ok) {
                Some((original, _)) => out.push_str(original),
                None => out.push(c),
            }
        }
        Cow::Owned(out)
    }

    /// The first reference a value parsed from the masked text holds: its text and byte offset in
    /// the original.
    pub fn first_reference(&self, s: &str) -> Option<(&str, usize)> {
        let mut chars = s.chars().skip_while(|c| *c != MARK);
        chars.next()?;
        let mut index = 0usize;
        for _ in 0..DIGITS {
            let d = u32::from(chars.next()?);
            index = (index << 8) | d.checked_sub(DIGIT0)? as usize;
        }
        self.refs.get(index).map(|(t, at)| (t.as_str(), *at))
    }

    /// The indices of the placeholders a value parsed from the masked text holds.
    pub fn reference_indices(&self, s: &str) -> Vec<usize> {
        let mut out = Vec::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == MARK {
                let mut index = 0usize;
                for _ in 0..DIGITS {
                    index = (index << 8) | chars.next().map_or(0, |d| u32::from(d).saturating_sub(DIGIT0) as usize);
                }
                out.push(index);
            }
        }
        out
    }

    /// Substitute the original `text` (the one this mask was made of), except the references whose
    /// indices `keep` holds, which stay masked (their placeholders).
    pub fn substitute_outside(&self, text: &str, vars: &Vars, keep: &std::collections::BTreeSet<usize>) -> Result<String, SubstError> {
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for (index, (original, at)) in self.refs.iter().enumerate() {
            render_escapes_only(&text[last..*at], &mut out);
            if keep.contains(&index) {
                out.push_str(&placeholder(index, original.chars().count()));
            } else {
                render(original, vars, LIMITS, 0, &mut out).map_err(|(e, _)| e.at(text, *at))?;
            }
            if out.len() > LIMITS.max_output_bytes {
                return Err(Found::TooLarge(format!("the substituted text exceeds {} MiB", LIMITS.max_output_bytes >> 20)).at(text, *at));
            }
            last = at + original.len();
        }
        render_escapes_only(&text[last..], &mut out);
        Ok(out)
    }

    /// The references, with their byte offsets in the original text.
    pub fn references(&self) -> impl Iterator<Item = (&str, usize)> {
        self.refs.iter().map(|(t, at)| (t.as_str(), *at))
    }

    /// Whether a parsed value holds a placeholder.
    pub fn holds_reference(s: &str) -> bool {
        s.contains(MARK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[rstest]
    #[case::value("${A}-${B:=d}", "x-d")]
    #[case::empty_takes_colon_defaults("${EMPTY:-d} ${EMPTY-d}|${EMPTY:=e}${EMPTY=f}", "d |e")]
    #[case::flow_default("cidr: ${POD_CIDR:=[\"192.168.0.0/16\"]}", "cidr: [\"192.168.0.0/16\"]")]
    #[case::bare_dollar_and_unclosed("echo $HOME ${ not a var", "echo $HOME ${ not a var")]
    #[case::nested_default("ns: ${CLUSTER_CLASS_NAMESPACE:-${NAMESPACE}}", "ns: team-a")]
    #[case::nested_default_unused("ns: ${A:-${MISSING}}", "ns: x")]
    #[case::doubly_nested("${U1:-${U2:-${A}}}", "x")]
    #[case::blanks_inside_braces("name: ${ A }, v: ${\tA }", "name: x, v: x")]
    #[case::dollar_escape("v: $${version} and $$(uname -m) and $$HOME", "v: ${version} and $(uname -m) and $HOME")]
    #[case::escape_then_reference("$$${A}", "$x")]
    #[case::default_with_braces("j: ${J:={\"a\": {\"b\": 1}}}", "j: {\"a\": {\"b\": 1}}")]
    #[case::digit_name_is_not_a_reference("${1abc}", "${1abc}")]
    #[case::function_forms_left_as_written("${A^^} ${#A}", "${A^^} ${#A}")]
    fn substitutes_like_clusterctl(#[case] text: &str, #[case] want: &str) {
        let v = vars(&[("A", "x"), ("EMPTY", ""), ("NAMESPACE", "team-a")]);
        assert_eq!(substitute(text, &v).unwrap(), want);
    }

    #[rstest]
    #[case::plain("a: 1\nb: x${MISSING}\n", "MISSING", 2, 5)]
    #[case::in_a_used_default("a: ${A:-${MISSING}}", "MISSING", 1, 4)]
    fn undefined_variable_reports_line_and_column(#[case] text: &str, #[case] name: &str, #[case] line: usize, #[case] column: usize) {
        let err = substitute(text, &Vars::new()).unwrap_err();
        assert_eq!(err, SubstError::Undefined { name: name.into(), line, column });
    }

    #[test]
    fn amplification_is_bounded() {
        let big = "x".repeat(1 << 20);
        let v = vars(&[("A", &big)]);
        let text = "${A}".repeat(100);
        let err = substitute_with(&text, &v, Limits { max_output_bytes: 8 << 20, max_depth: 8 }).unwrap_err();
        assert!(matches!(err, SubstError::TooLarge { .. }), "{err:?}");
        let deep = format!("{}x{}", "${U:-".repeat(20), "}".repeat(20));
        assert!(matches!(substitute(&deep, &Vars::new()), Err(SubstError::TooLarge { .. })));
    }

    #[test]
    fn lists_references_once_with_nested_ones() {
        assert_eq!(
            references("${A} ${B:=1} ${A} $${C} ${D:-${E}}"),
            vec![("A".into(), false), ("B".into(), true), ("D".into(), true), ("E".into(), false)]
        );
    }

    #[test]
    fn masks_keep_positions_and_unmask_back() {
        let text = "a: ${A}\nb: { c: \"${ B }-1\" }\nd: $${E}\n";
        let m = mask(text);
        assert_eq!(m.text.lines().count(), text.lines().count());
        for (l, (x, y)) in m.text.lines().zip(text.lines()).enumerate() {
            assert_eq!(x.chars().count(), y.chars().count(), "line {l}");
        }
        let v: serde_yaml::Value = serde_yaml::from_str(&m.text).unwrap();
        let c = v["b"]["c"].as_str().unwrap();
        assert_eq!(m.unmask(c), "${ B }-1");
        assert_eq!(m.first_reference(c), Some(("${ B }", text.find("${ B }").unwrap())));
        assert_eq!(m.unmask(v["a"].as_str().unwrap()), "${A}");
        assert_eq!(v["d"].as_str(), Some("$${E}"), "escapes are not references");
    }
}
