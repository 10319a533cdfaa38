//! Kubernetes label selectors (`matchLabels` + `matchExpressions`), shared by both backends and the
//! simulator's store.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A label selector as Kubernetes defines it (`metav1.LabelSelector`). An empty selector matches
/// every object; callers for which "empty selects nothing" (ClusterResourceSet) check
/// [`LabelSelector::is_empty`] themselves, as CAPI does.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// `key: value` pairs that must all be present.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<Requirement>,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Requirement {
    /// Label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: Operator,
    /// Values for `In` / `NotIn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// Set-based selector operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Operator {
    /// Label value is one of `values`.
    In,
    /// Label is absent or its value is none of `values`.
    NotIn,
    /// Label present.
    Exists,
    /// Label absent.
    DoesNotExist,
}

impl LabelSelector {
    /// A selector of exact `key=value` pairs.
    pub fn labels<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        LabelSelector { match_labels: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect(), match_expressions: Vec::new() }
    }

    /// True when the selector has no requirement at all.
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Add an exact `key=value` requirement.
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.match_labels.insert(key.into(), value.into());
        self
    }

    /// Add a requirement.
    pub fn with_requirement(mut self, key: impl Into<String>, operator: Operator, values: Vec<String>) -> Self {
        self.match_expressions.push(Requirement { key: key.into(), operator, values });
        self
    }

    /// Whether an object whose labels are read by `get` matches.
    pub fn matches<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.match_labels.iter().all(|(k, v)| get(k) == Some(v.as_str()))
            && self.match_expressions.iter().all(|r| match r.operator {
                Operator::In => get(&r.key).is_some_and(|v| r.values.iter().any(|x| x == v)),
                Operator::NotIn => get(&r.key).is_none_or(|v| !r.values.iter().any(|x| x == v)),
                Operator::Exists => get(&r.key).is_some(),
                Operator::DoesNotExist => get(&r.key).is_none(),
            })
    }

    /// Whether a label map matches.
    pub fn matches_map(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches(|k| labels.get(k).map(String::as_str))
    }

    /// Parse the query-string form (`a=b,c!=d,e in (x,y),f notin (z),g,!h`) used by `labelSelector=`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut sel = LabelSelector::default();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            if let Some(key) = part.strip_prefix('!') {
                sel.match_expressions.push(Requirement { key: key.trim().to_string(), operator: Operator::DoesNotExist, values: vec![] });
            } else if let Some((k, v)) = part.split_once("!=") {
                sel.match_expressions.push(Requirement {
                    key: k.trim().to_string(),
                    operator: Operator::NotIn,
                    values: vec![v.trim().to_string()],
                });
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                sel.match_labels.insert(k.trim().to_string(), v.trim().to_string());
            } else if let Some((k, rest)) = split_keyword(part, " notin ") {
                sel.match_expressions.push(Requirement { key: k, operator: Operator::NotIn, values: parse_set(&rest)? });
            } else if let Some((k, rest)) = split_keyword(part, " in ") {
                sel.match_expressions.push(Requirement { key: k, operator: Operator::In, values: parse_set(&rest)? });
            } else {
                sel.match_expressions.push(Requirement { key: part.to_string(), operator: Operator::Exists, values: vec![] });
            }
        }
        Ok(sel)
    }
}

fn split_keyword(part: &str, kw: &str) -> Option<(String, String)> {
    part.find(kw).map(|i| (part[..i].trim().to_string(), part[i + kw.len()..].trim().to_string()))
}

fn parse_set(text: &str) -> Result<Vec<String>, String> {
    let inner = text
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| format!("expected a parenthesised set of values, got `{text}`"))?;
    Ok(inner.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect())
}

fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| {
            if !std::mem::take(&mut first) {
                f.write_str(",")
            } else {
                Ok(())
            }
        };
        for (k, v) in &self.match_labels {
            sep(f)?;
            write!(f, "{k}={v}")?;
        }
        for r in &self.match_expressions {
            sep(f)?;
            match r.operator {
                Operator::In => write!(f, "{} in ({})", r.key, r.values.join(","))?,
                Operator::NotIn => write!(f, "{} notin ({})", r.key, r.values.join(","))?,
                Operator::Exists => write!(f, "{}", r.key)?,
                Operator::DoesNotExist => write!(f, "!{}", r.key)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches_query_form() {
        let sel = LabelSelector::parse("a=b,c!=d,e in (x, y),!f,g").unwrap();
        let mut labels = BTreeMap::new();
        labels.insert("a".to_string(), "b".to_string());
        labels.insert("e".to_string(), "y".to_string());
        labels.insert("g".to_string(), String::new());
        assert!(sel.matches_map(&labels));
        labels.insert("f".to_string(), "1".to_string());
        assert!(!sel.matches_map(&labels));
        assert_eq!(sel.to_string(), "a=b,c notin (d),e in (x,y),!f,g");
    }
}
