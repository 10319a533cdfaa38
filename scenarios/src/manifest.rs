//! Kubernetes manifests: multi-document YAML files (after `${VAR}` substitution) turned into JSON
//! objects that remember the file and line they came from.

use crate::error::{Location, Result, ScenarioError};
use crate::vars::{self, Vars};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::Path;

/// One object of a manifest, as the user wrote it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ManifestObject {
    /// The whole object (`apiVersion`, `kind`, `metadata`, ...).
    pub value: Value,
    /// Where its document starts.
    pub origin: Location,
}

impl ManifestObject {
    /// `kind`.
    pub fn kind(&self) -> &str {
        self.value.get("kind").and_then(Value::as_str).unwrap_or("")
    }
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
    }
    /// `metadata.namespace`, if set.
    pub fn namespace(&self) -> Option<&str> {
        self.value.pointer("/metadata/namespace").and_then(Value::as_str).filter(|s| !s.is_empty())
    }
}

#[derive(Deserialize)]
struct RawObject {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    metadata: RawMeta,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Deserialize)]
struct RawMeta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "generateName")]
    generate_name: Option<String>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// Read a manifest file (bounded: see [`crate::limits`]).
pub fn read(path: &Path) -> Result<String> {
    crate::limits::read_text(path, crate::limits::MAX_MANIFEST_BYTES, "manifest")
}

/// Read a manifest file, substitute variables, parse every document.
pub fn load_file(path: &Path, vars: &Vars) -> Result<Vec<ManifestObject>> {
    parse_text(&read(path)?, path, 0, vars)
}

/// The variable the e2e test framework replaces with a CNI manifest (see [`cni_resources`]).
pub const CNI_RESOURCES_VAR: &str = "CNI_RESOURCES";

/// The text transformation Cluster API's e2e framework applies to its templates before clusterctl
/// renders them (`test/framework/clusterctl/repository.go:
/// RegisterClusterResourceSetConfigMapTransformation`): the literal `data: ${CNI_RESOURCES}` becomes
/// a ConfigMap `data.resources` block holding the CNI manifest, each of its lines indented four
/// spaces. `None` when the text has no such line.
pub fn cni_resources(text: &str, cni_manifest: &str) -> Option<String> {
    let old = format!("data: ${{{CNI_RESOURCES_VAR}}}");
    if !text.contains(&old) {
        return None;
    }
    let mut new = String::from("data:\n  resources: |\n");
    for l in cni_manifest.split('\n') {
        new.push_str("    ");
        new.push_str(l);
        new.push('\n');
    }
    Some(text.replace(&old, &new))
}

/// Substitute variables in `text` and parse its documents. `line_offset` is added to every line number
/// (for manifests embedded in a scenario file).
///
/// Values are substituted as clusterctl does, as text (a value may be a flow list such as
/// `["10.0.0.0/16"]`), but a value may not hold a line break: that would add keys or whole objects
/// to the manifest.
pub fn parse_text(text: &str, file: &Path, line_offset: usize, vars: &Vars) -> Result<Vec<ManifestObject>> {
    for (name, _) in vars::references(text) {
        if vars.get(&name).is_some_and(|v| v.contains('\n') || v.contains('\r')) {
            let at = text.find(&format!("${{{name}")).or_else(|| text.find(&name)).unwrap_or(0);
            let (line, column) = vars::line_col(text, at);
            return Err(ScenarioError::invalid(
                Location::new(file, line + line_offset, column),
                format!("the value of `${{{name}}}` has a line break; in a manifest a variable's value must be one line (it would add keys or objects)"),
            ));
        }
    }
    let text = vars::substitute(text, vars).map_err(|e| {
        let (line, column) = e.position();
        let location = Location::new(file, line + line_offset, column);
        match e {
            vars::SubstError::Undefined { name, .. } => ScenarioError::UndefinedVariable { location, name },
            vars::SubstError::TooLarge { what, .. } => ScenarioError::invalid(location, format!("variable substitution too large: {what}")),
        }
    })?;
    crate::limits::check_yaml_shape(&text, file, line_offset)?;
    let mut out = Vec::new();
    for (index, (chunk_line, chunk)) in split_documents(&text).into_iter().enumerate() {
        let offset = line_offset + chunk_line - 1;
        let value: Value = serde_yaml::from_str(chunk).map_err(|e| {
            ScenarioError::invalid(Location::from_yaml_error(file, &e, offset), format!("invalid YAML: {}", strip_position(&e)))
        })?;
        if value.is_null() {
            continue;
        }
        let first_content = chunk.lines().position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).unwrap_or(0);
        let origin = Location::new(file, offset + first_content + 1, 1);
        if !value.is_object() {
            let what = match &value {
                Value::String(_) => "a string",
                Value::Array(_) => "a list",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "not a map",
            };
            return Err(ScenarioError::invalid(
                origin,
                format!(
                    "manifest document {} is {what}, not a Kubernetes object (a map with `apiVersion`, `kind` and `metadata`)",
                    index + 1
                ),
            ));
        }
        let raw: RawObject = serde_json::from_value(value).map_err(|e| {
            ScenarioError::invalid(
                origin.clone(),
                format!(
                    "manifest document {}: {}; every object needs `apiVersion`, `kind` and `metadata.name`",
                    index + 1,
                    crate::limits::without_values(&e.to_string())
                ),
            )
        })?;
        if raw.metadata.name.as_deref().unwrap_or("").is_empty() && raw.metadata.generate_name.as_deref().unwrap_or("").is_empty() {
            return Err(ScenarioError::invalid(
                origin,
                format!("manifest document {}: {} has no `metadata.name` (nor `metadata.generateName`)", index + 1, raw.kind),
            ));
        }
        if raw.api_version.is_empty() || raw.kind.is_empty() {
            return Err(ScenarioError::invalid(
                origin,
                format!("manifest document {}: `apiVersion` and `kind` must not be empty", index + 1),
            ));
        }
        let mut meta = raw.metadata.rest;
        if let Some(n) = raw.metadata.name {
            meta.insert("name".into(), Value::String(n));
        }
        if let Some(g) = raw.metadata.generate_name {
            meta.insert("generateName".into(), Value::String(g));
        }
        let mut obj = Map::new();
        obj.insert("apiVersion".into(), Value::String(raw.api_version));
        obj.insert("kind".into(), Value::String(raw.kind));
        obj.insert("metadata".into(), Value::Object(meta));
        obj.extend(raw.rest);
        out.push(ManifestObject { value: Value::Object(obj), origin });
    }
    Ok(out)
}

/// Split a YAML stream at `---` lines; each chunk with the 1-based line it starts on.
fn split_documents(text: &str) -> Vec<(usize, &str)> {
    let mut chunks = Vec::new();
    let mut start_byte = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let is_sep = line.starts_with("---") && line[3..].chars().next().is_none_or(|c| c.is_whitespace());
        if is_sep {
            chunks.push((start_line, &text[start_byte..offset]));
            // Content after `---` on the same line belongs to the next document.
            start_byte = offset + 3;
            start_line = i + 1;
        }
        offset += line.len();
    }
    chunks.push((start_line, &text[start_byte..]));
    chunks
}

/// serde_yaml appends " at line X column Y" to its messages; we print the position ourselves.
fn strip_position(e: &serde_yaml::Error) -> String {
    let s = e.to_string();
    match s.find(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documents_with_their_lines() {
        let text = "# header\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: b\n";
        let objs = parse_text(text, Path::new("m.yaml"), 0, &Vars::new()).unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!((objs[0].kind(), objs[0].name(), objs[0].origin.line), ("ConfigMap", "a", 3));
        assert_eq!((objs[1].kind(), objs[1].name(), objs[1].origin.line), ("Secret", "b", 8));
    }

    #[test]
    fn missing_kind_names_the_document() {
        let err = parse_text("apiVersion: v1\nmetadata: {name: a}\n", Path::new("m.yaml"), 10, &Vars::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "m.yaml:11:1: manifest document 1: missing field `kind`; every object needs `apiVersion`, `kind` and `metadata.name`"
        );
    }

    #[test]
    fn documents_that_are_not_objects_are_refused_without_echo() {
        let err = parse_text("root:x:0:0:root:/root:/bin/bash\n", Path::new("passwd"), 0, &Vars::new()).unwrap_err().to_string();
        assert!(!err.contains("/bin/bash"), "{err}");
        let err = parse_text("secret-line-here\n", Path::new("m.yaml"), 0, &Vars::new()).unwrap_err().to_string();
        assert_eq!(
            err,
            "m.yaml:1:1: manifest document 1 is a string, not a Kubernetes object (a map with `apiVersion`, `kind` and `metadata`)"
        );
        let err =
            parse_text("apiVersion: v1\nkind: [x]\nmetadata: {name: a}\n", Path::new("m.yaml"), 0, &Vars::new()).unwrap_err().to_string();
        assert!(err.contains("invalid type: sequence, expected a string"), "{err}");
    }

    #[test]
    fn values_with_line_breaks_cannot_add_objects() {
        let mut v = Vars::new();
        v.insert("NAME".into(), "a\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: injected}".into());
        let err = parse_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${NAME}}\n", Path::new("m.yaml"), 0, &v).unwrap_err();
        assert!(err.to_string().starts_with("m.yaml:3:18: the value of `${NAME}` has a line break"), "{err}");
    }

    #[test]
    fn the_e2e_cni_transformation() {
        let text = "kind: ConfigMap\ndata: ${CNI_RESOURCES}\n";
        let out = cni_resources(text, "a: 1\nb: 2").unwrap();
        assert_eq!(out, "kind: ConfigMap\ndata:\n  resources: |\n    a: 1\n    b: 2\n\n");
        assert!(cni_resources("data: {}", "x").is_none());
    }

    #[test]
    fn invalid_yaml_has_position() {
        let err = parse_text("a: [1, 2\nb: 3\n", Path::new("m.yaml"), 0, &Vars::new()).unwrap_err();
        assert!(err.to_string().starts_with("m.yaml:2:"), "{err}");
    }
}
