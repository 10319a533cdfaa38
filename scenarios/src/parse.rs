//! Loading a scenario file: variables, schema (with `file:line:col` errors), step lines, and the
//! manifests each `apply` refers to (files, inline text, clusterctl flavors).

use crate::duration::DurationMs;
use crate::error::{Location, Result, ScenarioError};
use crate::lines::{step_lines, StepLines};
use crate::manifest::{self, ManifestObject};
use crate::model::{ApplyStep, ManagementSpec, Scenario, Step, StepEntry};
use crate::predicate::Predicate;
use crate::vars::{self, Vars};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The variable `repeat:` sets in each copy; left untouched by scenario-level substitution.
pub const INDEX_VAR: &str = "INDEX";

/// The provider templates version `flavor:` uses when the step does not say.
pub const DEFAULT_PROVIDER_VERSION: &str = "v1.13";

/// How to load a scenario.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Variables from the command line; they override the scenario's `vars:`.
    pub vars: Vars,
    /// Where `fixtures/` is; found by walking up from the scenario file when `None`.
    pub fixtures_dir: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawScenario {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    #[serde(rename = "vars")]
    _vars: Option<serde_yaml::Value>,
    #[serde(default)]
    management: Option<Vec<ManagementSpec>>,
    #[serde(default)]
    timing: Option<String>,
    #[serde(default)]
    converge_within: Option<DurationMs>,
    #[serde(default)]
    converged: Option<crate::Predicate>,
    #[serde(default)]
    fault_profile: Option<String>,
    steps: Vec<Step>,
}

/// Load and check a scenario file.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Scenario> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { path: path.to_path_buf(), source })?;
    load_text(&text, path, opts)
}

/// Load a scenario from text (as if read from `path`).
pub fn load_text(text: &str, path: &Path, opts: &LoadOptions) -> Result<Scenario> {
    // Pass 1: the variables, before anything is substituted.
    let first: serde_yaml::Value = serde_yaml::from_str(&vars::mask(text)).map_err(|e| yaml_error(path, &e, 0))?;
    if !first.is_mapping() {
        return Err(ScenarioError::invalid(
            Location::new(path, 1, 1),
            "a scenario is a map with `name`, `description`, `seed`, `vars` and `steps`",
        ));
    }
    let mut vars = Vars::new();
    if let Some(v) = first.get("vars") {
        let map =
            v.as_mapping().ok_or_else(|| ScenarioError::invalid(line_of_key(text, path, "vars"), "`vars` must be a map of NAME: value"))?;
        for (k, v) in map {
            let key =
                k.as_str().ok_or_else(|| ScenarioError::invalid(line_of_key(text, path, "vars"), "variable names must be strings"))?;
            let value = scalar_text(v).ok_or_else(|| {
                ScenarioError::invalid(line_of_key(text, path, key), format!("variable `{key}` must be a string, number or boolean"))
            })?;
            vars.insert(key.to_string(), value);
        }
    }
    for (k, v) in &opts.vars {
        vars.insert(k.clone(), v.clone());
    }

    // Pass 2: substitute, then the schema.
    let mut subst_vars = vars.clone();
    subst_vars.insert(INDEX_VAR.to_string(), format!("${{{INDEX_VAR}}}"));
    let substituted = vars::substitute(text, &subst_vars)
        .map_err(|u| ScenarioError::UndefinedVariable { location: Location::new(path, u.line, u.column), name: u.name })?;
    let raw: RawScenario = serde_yaml::from_str(&substituted).map_err(|e| yaml_error(path, &e, 0))?;
    let lines = step_lines(&substituted);

    let fixtures = opts.fixtures_dir.clone().or_else(|| find_fixtures(path));
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let ctx = ResolveCtx { scenario: path, base: &base, fixtures: fixtures.as_deref(), vars: &vars };

    let mut steps = Vec::with_capacity(raw.steps.len());
    for (i, mut step) in raw.steps.into_iter().enumerate() {
        let at = lines.get(i).copied().unwrap_or(StepLines { line: 1, column: 1, manifest_line: None });
        let here = Location::new(path, at.line, at.column);
        check_step(&step, &here)?;
        resolve_step(&mut step, &ctx, &at)?;
        steps.push(StepEntry { line: at.line, step });
    }

    let name = raw.name.unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
    let management = match raw.management {
        Some(m) if m.is_empty() => {
            return Err(ScenarioError::invalid(line_of_key(text, path, "management"), "`management` needs at least one entry"))
        }
        Some(m) => m,
        None => vec![ManagementSpec { name: "mgmt".into(), init_vars: None }],
    };
    Ok(Scenario {
        name,
        description: raw.description.unwrap_or_default(),
        seed: raw.seed.unwrap_or(1),
        vars,
        management,
        timing: raw.timing,
        converge_within: raw.converge_within,
        converged: raw.converged,
        fault_profile: raw.fault_profile,
        steps,
        path: path.to_path_buf(),
    })
}

fn yaml_error(path: &Path, e: &serde_yaml::Error, offset: usize) -> ScenarioError {
    let msg = e.to_string();
    let msg = match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    ScenarioError::invalid(Location::from_yaml_error(path, e, offset), msg)
}

/// Scalars as text; `None` for maps, lists and null.
fn scalar_text(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Variable values given as YAML/JSON values: scalars as text, lists and maps as flow YAML (JSON).
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Best-effort location of a top-level or nested key (for errors serde cannot place).
fn line_of_key(text: &str, path: &Path, key: &str) -> Location {
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with(&format!("{key}:")) {
            return Location::new(path, i + 1, line.len() - t.len() + 1);
        }
    }
    Location::new(path, 1, 1)
}

/// Static checks serde cannot express.
fn check_step(step: &Step, here: &Location) -> Result<()> {
    let bad = |msg: &str| Err(ScenarioError::invalid(here.clone(), msg.to_string()));
    match step {
        Step::Wait(w) if w.until.has_write_expectation() => {
            bad("`wait: { for: ... }` cannot use `denied`/`warned`; use them under `expect`")
        }
        Step::Fault(f) if f.when.as_ref().is_some_and(Predicate::has_write_expectation) => {
            bad("`fault: { when: ... }` cannot use `denied`/`warned`")
        }
        Step::Expect(e) => {
            for p in &e.0 {
                match p {
                    Predicate::Denied(w) | Predicate::Warned(w) => {
                        let n = w.apply.is_some() as u8 + w.patch.is_some() as u8 + w.delete.is_some() as u8;
                        if n != 1 {
                            return bad("`denied`/`warned` need exactly one of `apply`, `patch` or `delete`");
                        }
                    }
                    other if other.has_write_expectation() => {
                        return bad("`denied`/`warned` must be directly under `expect`, not inside `all`/`any`/`not`")
                    }
                    _ => {}
                }
            }
            Ok(())
        }
        Step::Scale(s) if s.machine_deployment.is_some() && s.machine_pool.is_some() => {
            bad("`scale` takes `machine-deployment` or `machine-pool`, not both")
        }
        _ => Ok(()),
    }
}

struct ResolveCtx<'a> {
    scenario: &'a Path,
    base: &'a Path,
    fixtures: Option<&'a Path>,
    vars: &'a Vars,
}

fn resolve_step(step: &mut Step, ctx: &ResolveCtx<'_>, at: &StepLines) -> Result<()> {
    match step {
        Step::Apply(a) => resolve_apply(a, ctx, at),
        Step::Expect(e) => {
            for p in &mut e.0 {
                if let Predicate::Denied(w) | Predicate::Warned(w) = p {
                    if let Some(a) = &mut w.apply {
                        resolve_apply(a, ctx, at)?;
                    }
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn resolve_apply(a: &mut ApplyStep, ctx: &ResolveCtx<'_>, at: &StepLines) -> Result<()> {
    let here = Location::new(ctx.scenario, at.line, at.column);
    let sources = a.file.is_some() as u8 + a.manifest.is_some() as u8 + a.flavor.is_some() as u8;
    if sources != 1 {
        return Err(ScenarioError::invalid(here, "`apply` needs exactly one of `file`, `manifest` or `flavor`"));
    }
    if a.workload.is_some() && a.management.is_some() {
        return Err(ScenarioError::invalid(here, "`apply` takes `workload` or `management`, not both"));
    }
    let mut vars = ctx.vars.clone();
    if let Some(extra) = &a.vars {
        for (k, v) in extra {
            vars.insert(k.clone(), value_text(v));
        }
    }
    let copies = a.repeat.unwrap_or(1);
    if copies == 0 {
        return Err(ScenarioError::invalid(here, "`repeat` must be at least 1"));
    }
    let mut objects: Vec<ManifestObject> = Vec::new();
    for i in 1..=copies {
        let mut v = vars.clone();
        if a.repeat.is_some() {
            v.insert(INDEX_VAR.to_string(), i.to_string());
            // Variables given to this apply may themselves use ${INDEX}.
            for (k, val) in vars.iter() {
                if val.contains("${") {
                    let s =
                        vars::substitute(val, &v).map_err(|u| ScenarioError::UndefinedVariable { location: here.clone(), name: u.name })?;
                    v.insert(k.clone(), s);
                }
            }
        }
        let mut batch = if let Some(file) = &a.file {
            let path = if file.is_absolute() { file.clone() } else { ctx.base.join(file) };
            manifest::load_file(&path, &v)?
        } else if let Some(text) = &a.manifest {
            let line = at.manifest_line.unwrap_or(at.line);
            manifest::parse_text(text, ctx.scenario, line - 1, &v)?
        } else {
            let flavor = a.flavor.as_deref().unwrap_or_default();
            let version = a.provider_version.as_deref().unwrap_or(DEFAULT_PROVIDER_VERSION);
            generate_cluster(ctx.fixtures, version, flavor, &v, &here)?
        };
        // A ClusterClass (and its templates) appended by several copies is applied once.
        batch.retain(|o| !objects.iter().any(|p| p.value == o.value));
        objects.extend(batch);
    }
    a.objects = objects;
    Ok(())
}

/// `clusterctl generate cluster $CLUSTER_NAME --flavor <flavor>`: render the provider's
/// `cluster-template-<flavor>.yaml` with clusterctl's defaults for the variables it owns, then append
/// `clusterclass-<class>.yaml` for every ClusterClass the Cluster refers to that the output lacks.
pub fn generate_cluster(fixtures: Option<&Path>, version: &str, flavor: &str, vars: &Vars, here: &Location) -> Result<Vec<ManifestObject>> {
    let fixtures = fixtures.ok_or_else(|| {
        ScenarioError::invalid(
            here.clone(),
            "cannot find the `fixtures/` directory (looked upwards from the scenario); pass --fixtures DIR",
        )
    })?;
    let dir = fixtures.join("providers").join("docker").join(version);
    if !dir.is_dir() {
        return Err(ScenarioError::invalid(
            here.clone(),
            format!("no provider templates for version `{version}` (expected the directory {})", dir.display()),
        ));
    }
    let file = if flavor.is_empty() { dir.join("cluster-template.yaml") } else { dir.join(format!("cluster-template-{flavor}.yaml")) };
    if !file.is_file() {
        return Err(ScenarioError::invalid(here.clone(), format!("unknown flavor `{flavor}`: {} does not exist", file.display())));
    }
    let mut vars = vars.clone();
    // clusterctl's own flags and their defaults.
    vars.entry("NAMESPACE".into()).or_insert_with(|| "default".into());
    vars.entry("CONTROL_PLANE_MACHINE_COUNT".into()).or_insert_with(|| "1".into());
    vars.entry("WORKER_MACHINE_COUNT".into()).or_insert_with(|| "0".into());
    if !vars.contains_key("CLUSTER_NAME") {
        return Err(ScenarioError::UndefinedVariable { location: here.clone(), name: "CLUSTER_NAME".into() });
    }
    let mut objects = manifest::load_file(&file, &vars)?;
    let classes: BTreeMap<String, String> = objects
        .iter()
        .filter(|o| o.kind() == "Cluster")
        .filter_map(|o| {
            let topo = o.value.pointer("/spec/topology")?;
            let class = topo.pointer("/classRef/name").or_else(|| topo.get("class"))?.as_str()?;
            Some((class.to_string(), o.namespace().unwrap_or("default").to_string()))
        })
        .collect();
    for class in classes.keys() {
        let present = objects.iter().any(|o| o.kind() == "ClusterClass" && o.name() == class);
        if !present {
            let cc = dir.join(format!("clusterclass-{class}.yaml"));
            if cc.is_file() {
                objects.extend(manifest::load_file(&cc, &vars)?);
            }
        }
    }
    Ok(objects)
}

/// Walk up from the scenario file to a directory holding `fixtures/`.
pub fn find_fixtures(scenario: &Path) -> Option<PathBuf> {
    let abs = std::fs::canonicalize(scenario).ok()?;
    abs.ancestors().skip(1).map(|d| d.join("fixtures")).find(|d| d.join("providers").is_dir())
}
