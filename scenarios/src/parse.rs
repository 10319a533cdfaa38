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

/// A scenario file as written (after `${VAR}` substitution); its JSON Schema is the language's.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[schemars(
    title = "capi-harness scenario",
    description = "A scenario of the capi-harness scenario language (docs/scenario-language.md), as written after `${VAR}` substitution."
)]
pub(crate) struct RawScenario {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    #[serde(rename = "vars")]
    #[schemars(with = "Option<BTreeMap<String, crate::schema::Scalar>>")]
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
    #[serde(default)]
    invariants: Vec<Predicate>,
    steps: Vec<Step>,
}

/// Load and check a scenario file.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Scenario> {
    let text = crate::limits::read_text(path, crate::limits::MAX_SCENARIO_BYTES, "scenario")?;
    load_text(&text, path, opts)
}

/// Load a scenario from text (as if read from `path`).
///
/// Variables are values, never YAML: the file is first parsed with every `${...}` masked (same
/// positions), its `vars:` are resolved in order (a definition may use the variables defined before
/// it, and the command line's), and after substitution every value must still be the one value it
/// was, so a variable cannot add keys, steps or documents, nor cut a value short.
pub fn load_text(text: &str, path: &Path, opts: &LoadOptions) -> Result<Scenario> {
    let Substituted { masked, first, vars, substituted } = substitute(text, path, opts)?;
    let raw: RawScenario = serde_yaml::from_str(&substituted).map_err(|e| yaml_error(path, &e, 0))?;
    // Positions come from the masked text, which has the original's lines and columns.
    let lines = step_lines(&masked.text);

    let fixtures = opts.fixtures_dir.clone().or_else(|| find_fixtures(path));
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let ctx = ResolveCtx { scenario: path, base: &base, fixtures: fixtures.as_deref(), vars: &vars };

    let masked_steps = first.get("steps").and_then(serde_yaml::Value::as_sequence);
    let mut steps = Vec::with_capacity(raw.steps.len());
    for (i, mut step) in raw.steps.into_iter().enumerate() {
        let at = lines.get(i).copied().unwrap_or(StepLines { line: 1, column: 1, manifest_line: None });
        let here = Location::new(path, at.line, at.column);
        check_step(&step, &here)?;
        // Inline manifests are substituted once, with the apply's own variables, from what was
        // written (not from the scenario-level substitution), so `$${X}` stays `${X}`.
        if let Some(m) = masked_steps.and_then(|s| s.get(i)) {
            restore_inline_manifests(&mut step, m, &masked);
        }
        resolve_step(&mut step, &ctx, &at)?;
        steps.push(StepEntry { line: at.line, step });
    }

    let invariant_lines = crate::lines::item_lines(&masked.text, "invariants");
    let mut invariants = Vec::with_capacity(raw.invariants.len());
    for (i, predicate) in raw.invariants.into_iter().enumerate() {
        let at = invariant_lines.get(i).copied().unwrap_or(StepLines { line: 1, column: 1, manifest_line: None });
        if predicate.has_write_expectation() {
            return Err(ScenarioError::invalid(Location::new(path, at.line, at.column), "`invariants` cannot use `denied`/`warned`"));
        }
        invariants.push(crate::model::ScenarioInvariant { line: at.line, predicate });
    }

    crate::background::check(&steps, &invariants, path)?;

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
        invariants,
        steps,
        path: path.to_path_buf(),
    })
}

/// A scenario's text after both passes of variable handling.
struct Substituted {
    masked: vars::Masked,
    first: serde_yaml::Value,
    vars: Vars,
    substituted: String,
}

/// Pass 1: the shape of the file and the variables, before anything is substituted. Pass 2:
/// substitute, and check that every value kept its place.
fn substitute(text: &str, path: &Path, opts: &LoadOptions) -> Result<Substituted> {
    let masked = vars::mask(text);
    crate::limits::check_yaml_shape(&masked.text, path, 0)?;
    let first: serde_yaml::Value = serde_yaml::from_str(&masked.text).map_err(|e| yaml_error(path, &e, 0))?;
    if !first.is_mapping() {
        return Err(ScenarioError::invalid(
            Location::new(path, 1, 1),
            "a scenario is a map with `name`, `description`, `seed`, `vars` and `steps`",
        ));
    }
    let vars = resolve_vars(text, path, &masked, &first, &opts.vars)?;
    let mut subst_vars = vars.clone();
    subst_vars.insert(INDEX_VAR.to_string(), format!("${{{INDEX_VAR}}}"));
    // References inside inline manifests stay masked here: those are substituted once, per apply,
    // with the apply's own variables (`restore_inline_manifests`).
    let in_manifests = manifest_references(&first, &masked);
    let substituted = masked.substitute_outside(text, &subst_vars, &in_manifests).map_err(|e| subst_error(path, e, 0))?;
    check_values_kept_their_place(text, path, &masked, &first, &substituted, &subst_vars)?;
    Ok(Substituted { masked, first, vars, substituted })
}

/// A scenario file as the JSON Schema sees it: variables substituted, as JSON (for validating files
/// against `scenarios/schema/scenario.schema.json`).
pub fn substituted_document(path: &Path, opts: &LoadOptions) -> Result<Value> {
    let text = crate::limits::read_text(path, crate::limits::MAX_SCENARIO_BYTES, "scenario")?;
    let Substituted { substituted, .. } = substitute(&text, path, opts)?;
    serde_yaml::from_str(&substituted).map_err(|e| yaml_error(path, &e, 0))
}

/// One variable's value may be at most 1 MiB.
const VAR_LIMITS: vars::Limits = vars::Limits { max_output_bytes: 1 << 20, max_depth: vars::LIMITS.max_depth };

/// The variables in effect: the scenario's `vars:` in order, each substituted with those before it
/// (and the command line's), then the command line's on top.
fn resolve_vars(text: &str, path: &Path, masked: &vars::Masked, first: &serde_yaml::Value, cli: &Vars) -> Result<Vars> {
    let mut vars = Vars::new();
    if let Some(v) = first.get("vars") {
        let map =
            v.as_mapping().ok_or_else(|| ScenarioError::invalid(line_of_key(text, path, "vars"), "`vars` must be a map of NAME: value"))?;
        for (k, v) in map {
            let key =
                k.as_str().ok_or_else(|| ScenarioError::invalid(line_of_key(text, path, "vars"), "variable names must be strings"))?;
            let key = masked.unmask(key).into_owned();
            if let Some(given) = cli.get(&key) {
                vars.insert(key, given.clone());
                continue;
            }
            let raw = scalar_text(v).ok_or_else(|| {
                ScenarioError::invalid(line_of_key(text, path, &key), format!("variable `{key}` must be a string, number or boolean"))
            })?;
            let written = masked.unmask(&raw).into_owned();
            let mut known = vars.clone();
            for (k, v) in cli {
                known.entry(k.clone()).or_insert_with(|| v.clone());
            }
            let value = vars::substitute_with(&written, &known, VAR_LIMITS).map_err(|e| match e {
                vars::SubstError::Undefined { name, .. } => ScenarioError::invalid(
                    reference_location(text, path, masked, &raw),
                    format!("variable `{key}` uses `${{{name}}}`, which is not defined before it (a definition may use the variables above it and those given with --var)"),
                ),
                other => subst_error(path, other, 0),
            })?;
            vars.insert(key, value);
        }
    }
    for (k, v) in cli {
        vars.insert(k.clone(), v.clone());
    }
    Ok(vars)
}

/// Where the first reference of a value parsed from the masked text is written.
fn reference_location(text: &str, path: &Path, masked: &vars::Masked, value: &str) -> Location {
    match masked.first_reference(value) {
        Some((_, at)) => {
            let (line, column) = vars::line_col(text, at);
            Location::new(path, line, column)
        }
        None => Location::new(path, 1, 1),
    }
}

fn subst_error(path: &Path, e: vars::SubstError, line_offset: usize) -> ScenarioError {
    let (line, column) = e.position();
    let location = Location::new(path, line + line_offset, column);
    match e {
        vars::SubstError::Undefined { name, .. } => ScenarioError::UndefinedVariable { location, name },
        vars::SubstError::TooLarge { what, .. } => ScenarioError::invalid(location, format!("variable substitution too large: {what}")),
    }
}

/// After substitution, every value of the file must be the value it was with its references
/// replaced, of the same shape: a variable's value is text inside one value, never YAML structure.
fn check_values_kept_their_place(
    text: &str,
    path: &Path,
    masked: &vars::Masked,
    first: &serde_yaml::Value,
    substituted: &str,
    vars: &Vars,
) -> Result<()> {
    let explain = |reference: Option<(&str, usize)>, what: &str| {
        let (location, name) = match reference {
            Some((r, at)) => {
                let (line, column) = vars::line_col(text, at);
                (Location::new(path, line, column), r.to_string())
            }
            None => (Location::new(path, 1, 1), "a variable".to_string()),
        };
        ScenarioError::invalid(
            location,
            format!(
                "the value of `{name}` {what}: a variable's value is substituted as text inside one YAML value and cannot add keys, list items or steps (line breaks, `: `, ` #`, quotes and brackets in a value change the YAML around it)"
            ),
        )
    };
    let second: serde_yaml::Value = match serde_yaml::from_str(substituted) {
        Ok(v) => v,
        Err(e) => {
            // The masked text parsed, so a value broke it: blame the last reference at or before
            // the error's line.
            let line = e.location().map_or(usize::MAX, |l| l.line());
            let culprit = masked.references().filter(|(_, at)| vars::line_col(text, *at).0 <= line).last();
            return Err(explain(culprit, "makes the file invalid YAML"));
        }
    };
    match same_shape(first, &second, masked, vars) {
        None => Ok(()),
        Some(at) => Err(explain(at.and_then(|s| masked.first_reference(&s)), "changes the file's structure")),
    }
}

/// `None` when `b` is `a` with its references substituted; else `Some` of the first masked value
/// (holding the reference to blame) where they part, `Some(None)` when no reference is to blame.
fn same_shape(a: &serde_yaml::Value, b: &serde_yaml::Value, masked: &vars::Masked, vars: &Vars) -> Option<Option<String>> {
    use serde_yaml::Value as Y;
    let scalar_of = |v: &Y| -> Option<String> {
        match v {
            Y::String(s) => Some(s.clone()),
            Y::Number(n) => Some(n.to_string()),
            Y::Bool(x) => Some(x.to_string()),
            Y::Null => Some(String::new()),
            _ => None,
        }
    };
    if a == b {
        return None;
    }
    match (a, b) {
        (Y::Mapping(x), Y::Mapping(y)) => {
            if x.len() != y.len() {
                let blame = x.iter().flat_map(|(k, v)| [k, v]).filter_map(scalar_of).find(|s| vars::Masked::holds_reference(s));
                return Some(blame);
            }
            for ((ka, va), (kb, vb)) in x.iter().zip(y.iter()) {
                if let Some(d) = same_shape(ka, kb, masked, vars).or_else(|| same_shape(va, vb, masked, vars)) {
                    return Some(d);
                }
            }
            None
        }
        (Y::Sequence(x), Y::Sequence(y)) => {
            if x.len() != y.len() {
                return Some(x.iter().filter_map(scalar_of).find(|s| vars::Masked::holds_reference(s)));
            }
            x.iter().zip(y).find_map(|(p, q)| same_shape(p, q, masked, vars))
        }
        (Y::Tagged(x), Y::Tagged(y)) if x.tag == y.tag => same_shape(&x.value, &y.value, masked, vars),
        // A value with references or `$$` escapes: what substitution makes of it.
        (Y::String(s), other) if s.contains('$') || vars::Masked::holds_reference(s) => {
            let want = vars::substitute(&masked.unmask(s), vars).ok()?;
            let kept = match other {
                Y::String(t) => *t == want,
                Y::Mapping(_) | Y::Sequence(_) | Y::Tagged(_) => false,
                // A plain scalar the YAML resolver typed: the substituted text must read as it.
                scalar => serde_yaml::from_str::<Y>(&want).ok().as_ref() == Some(scalar),
            };
            (!kept).then(|| Some(s.clone()))
        }
        _ => Some(None),
    }
}

/// The indices of the references written inside inline manifests (`apply: { manifest: ... }`, also
/// under `denied`/`warned`).
fn manifest_references(first: &serde_yaml::Value, masked: &vars::Masked) -> std::collections::BTreeSet<usize> {
    fn walk(v: &serde_yaml::Value, masked: &vars::Masked, out: &mut std::collections::BTreeSet<usize>) {
        match v {
            serde_yaml::Value::Mapping(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        (Some("manifest"), serde_yaml::Value::String(s)) => out.extend(masked.reference_indices(s)),
                        _ => walk(x, masked, out),
                    }
                }
            }
            serde_yaml::Value::Sequence(s) => s.iter().for_each(|x| walk(x, masked, out)),
            serde_yaml::Value::Tagged(t) => walk(&t.value, masked, out),
            _ => {}
        }
    }
    let mut out = std::collections::BTreeSet::new();
    if let Some(steps) = first.get("steps") {
        walk(steps, masked, &mut out);
    }
    out
}

/// Put back the inline manifests of an `apply` (and of `denied`/`warned` applies) as written,
/// references unsubstituted, from the masked parse of the step.
fn restore_inline_manifests(step: &mut Step, masked_step: &serde_yaml::Value, masked: &vars::Masked) {
    let original = |m: &serde_yaml::Value| m.get("manifest").and_then(serde_yaml::Value::as_str).map(|s| masked.unmask(s).into_owned());
    match step {
        Step::Apply(a) if a.manifest.is_some() => {
            if let Some(text) = masked_step.get("apply").and_then(original) {
                a.manifest = Some(text);
            }
        }
        Step::Expect(e) => {
            let items: Vec<&serde_yaml::Value> = match masked_step.get("expect") {
                Some(serde_yaml::Value::Sequence(v)) => v.iter().collect(),
                Some(v) => vec![v],
                None => vec![],
            };
            for (p, m) in e.0.iter_mut().zip(items) {
                let key = if matches!(p, Predicate::Denied(_)) { "denied" } else { "warned" };
                if let Predicate::Denied(w) | Predicate::Warned(w) = p {
                    if let (Some(a), Some(text)) = (w.apply.as_mut(), m.get(key).and_then(|d| d.get("apply")).and_then(original)) {
                        if a.manifest.is_some() {
                            a.manifest = Some(text);
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

fn yaml_error(path: &Path, e: &serde_yaml::Error, offset: usize) -> ScenarioError {
    let msg = e.to_string();
    let msg = match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    let msg = with_suggestion(msg);
    ScenarioError::invalid(Location::from_yaml_error(path, e, offset), msg)
}

/// serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown variant") with the closest
/// expected name added when one is close enough to be a misspelling: `; did you mean `steps`?`.
pub fn with_suggestion(msg: String) -> String {
    let Some(rest) = msg.find("unknown field `").map(|i| &msg[i + 15..]).or_else(|| msg.find("unknown variant `").map(|i| &msg[i + 17..]))
    else {
        return msg;
    };
    let Some(end) = rest.find('`') else { return msg };
    let given = &rest[..end];
    let Some(list) = rest.find("expected one of ").map(|i| &rest[i + 16..]).or_else(|| rest.find("expected ").map(|i| &rest[i + 9..]))
    else {
        return msg;
    };
    let best = list
        .split(", ")
        .map(|w| w.trim().trim_matches('`'))
        .filter(|w| !w.is_empty())
        .map(|w| (strsim::damerau_levenshtein(given, w), w))
        .min();
    match best {
        Some((d, w)) if d > 0 && d <= given.len().max(2) / 2 + 1 && d < w.len() => format!("{msg}; did you mean `{w}`?"),
        _ => msg,
    }
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
        Step::Never(n) if n.predicate.has_write_expectation() => bad("`never: { for: ... }` cannot use `denied`/`warned`"),
        Step::Check(e) if e.0.is_empty() => bad("`check` needs at least one predicate"),
        Step::Check(e) if e.0.iter().any(Predicate::has_write_expectation) => {
            bad("`check` cannot use `denied`/`warned` (they write); use `expect`")
        }
        Step::Expect(e) if e.0.is_empty() => bad("`expect` needs at least one predicate"),
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
        Step::Scale(s) if u64::from(s.replicas) > crate::limits::MAX_REPLICAS => Err(ScenarioError::invalid(
            here.clone(),
            format!("`replicas` is {}; the API server takes 0 to {} (int32)", s.replicas, crate::limits::MAX_REPLICAS),
        )),
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
    if copies > crate::limits::MAX_REPEAT {
        return Err(ScenarioError::invalid(
            here,
            format!("`repeat` is {copies}; at most {} copies are allowed", crate::limits::MAX_REPEAT),
        ));
    }
    let mut objects: Vec<ManifestObject> = Vec::new();
    for i in 1..=copies {
        let mut v = vars.clone();
        if a.repeat.is_some() {
            // `${INDEX}` is the copy's number, also inside the values given to this apply.
            let index = i.to_string();
            for (_, val) in v.iter_mut() {
                if val.contains("${INDEX}") {
                    *val = val.replace("${INDEX}", &index);
                }
            }
            v.insert(INDEX_VAR.to_string(), index);
        }
        let mut batch = if let Some(file) = &a.file {
            let path = if file.is_absolute() { file.clone() } else { ctx.base.join(file) };
            // A file that cannot be read is the step's error: say where the step is.
            let text = manifest::read(&path).map_err(|e| match e {
                ScenarioError::Read { path, source } => {
                    ScenarioError::invalid(here.clone(), format!("cannot read the manifest {}: {}", path.display(), io_reason(&source)))
                }
                ScenarioError::Invalid { location, message } if location.line == 1 && location.column == 1 && location.file == path => {
                    ScenarioError::invalid(here.clone(), format!("{}: {message}", path.display()))
                }
                other => other,
            })?;
            manifest::parse_text(&with_e2e_cni(&text, &v, ctx, &here)?, &path, 0, &v).map_err(|e| in_step(e, ctx.scenario, &here))?
        } else if let Some(text) = &a.manifest {
            let line = at.manifest_line.unwrap_or(at.line);
            manifest::parse_text(&with_e2e_cni(text, &v, ctx, &here)?, ctx.scenario, line - 1, &v)?
        } else {
            let flavor = a.flavor.as_deref().unwrap_or_default();
            let version = a.provider_version.as_deref().unwrap_or(DEFAULT_PROVIDER_VERSION);
            generate_cluster(ctx.fixtures, version, flavor, &v, &here).map_err(|e| in_step(e, ctx.scenario, &here))?
        };
        // A ClusterClass (and its templates) appended by several copies is applied once.
        batch.retain(|o| !objects.iter().any(|p| p.value == o.value));
        objects.extend(batch);
        if objects.len() > crate::limits::MAX_OBJECTS_PER_APPLY {
            return Err(ScenarioError::invalid(
                here,
                format!("this apply makes more than {} objects; split it or lower `repeat`", crate::limits::MAX_OBJECTS_PER_APPLY),
            ));
        }
    }
    a.objects = objects;
    Ok(())
}

/// An error found in a manifest or template another file holds, said from the step that applies it
/// (`scenario.yaml:12:5: in this apply: template.yaml:18:14: ...`), so both places are named.
fn in_step(e: ScenarioError, scenario: &Path, here: &Location) -> ScenarioError {
    let text = e.to_string();
    if text.starts_with(&scenario.display().to_string()) {
        return e;
    }
    ScenarioError::invalid(here.clone(), format!("in this apply: {text}"))
}

/// Why a file could not be read, in words (without the OS error number).
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            s.split(" (os error").next().unwrap_or(&s).to_string()
        }
    }
}

/// Cluster API's e2e templates carry `data: ${CNI_RESOURCES}`, which its test framework replaces with
/// the CNI manifest before rendering ([`manifest::cni_resources`]). When the variable is not set, do
/// the same with the manifest the `CNI` variable names (as in the e2e configuration; relative to the
/// scenario), or with `fixtures/cni/kindnet.yaml`.
fn with_e2e_cni<'t>(text: &'t str, vars: &Vars, ctx: &ResolveCtx<'_>, here: &Location) -> Result<std::borrow::Cow<'t, str>> {
    if vars.contains_key(manifest::CNI_RESOURCES_VAR) || !text.contains(manifest::CNI_RESOURCES_VAR) {
        return Ok(std::borrow::Cow::Borrowed(text));
    }
    let path = match vars.get("CNI") {
        Some(p) if Path::new(p).is_absolute() => PathBuf::from(p),
        Some(p) => ctx.base.join(p),
        None => match ctx.fixtures {
            Some(f) => f.join("cni").join("kindnet.yaml"),
            None => return Ok(std::borrow::Cow::Borrowed(text)),
        },
    };
    let cni = manifest::read(&path)
        .map_err(|e| ScenarioError::invalid(here.clone(), format!("the CNI manifest for `${{CNI_RESOURCES}}`: {e}")))?;
    Ok(manifest::cni_resources(text, &cni).map_or(std::borrow::Cow::Borrowed(text), std::borrow::Cow::Owned))
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
