//! `cargo xtask scenario render --flavor NAME [--var K=V ...]`: a flavor's cluster template rendered
//! as `clusterctl generate cluster` renders it (the same variables, `${VAR}` and `${VAR:=default}`,
//! the ClusterClass the Cluster names added from the provider's templates), printed as YAML documents
//! to apply with `kubectl apply -f -` to `cargo xtask sim serve`, as the quick-start applies them
//! to KinD. As clusterctl does, every variable without a value or default is reported at once:
//! `value for variables [A, B] is not set`.

use anyhow::{bail, Context, Result};
use capi_scenarios::parse::{generate_cluster, DEFAULT_PROVIDER_VERSION};
use capi_scenarios::vars::Vars;
use capi_scenarios::{Location, ScenarioError};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `scenario render` flags.
#[derive(Args)]
pub struct RenderArgs {
    /// The flavor (`fixtures/providers/docker/VERSION/cluster-template-FLAVOR.yaml`; empty: the
    /// default `cluster-template.yaml`).
    #[arg(long, default_value = "")]
    pub flavor: String,
    /// Set a variable (repeatable): CLUSTER_NAME, NAMESPACE, KUBERNETES_VERSION,
    /// CONTROL_PLANE_MACHINE_COUNT, WORKER_MACHINE_COUNT, and the flavor's own.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// The provider release whose templates are used.
    #[arg(long, default_value = DEFAULT_PROVIDER_VERSION)]
    pub provider_version: String,
    /// Where `fixtures/` is (default: found by walking up from the current directory).
    #[arg(long)]
    pub fixtures: Option<PathBuf>,
}

fn find_fixtures() -> Option<PathBuf> {
    let here = std::env::current_dir().ok()?;
    here.ancestors().map(|d| d.join("fixtures")).find(|f| f.join("providers").is_dir()).or_else(|| {
        let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("fixtures");
        built.join("providers").is_dir().then_some(built)
    })
}

/// Render the flavor: the YAML text, or clusterctl's error listing every variable left unset.
pub fn render(fixtures: &Path, provider_version: &str, flavor: &str, vars: &Vars) -> Result<String> {
    let here = Location::new("scenario render", 1, 1);
    let mut filled = vars.clone();
    let mut missing: Vec<String> = Vec::new();
    // The renderer stops at the first unset variable: give each a stand-in value and go on, to list
    // them all as clusterctl does (a template has a bounded number of distinct names).
    loop {
        match generate_cluster(Some(fixtures), provider_version, flavor, &filled, &here) {
            Err(ScenarioError::UndefinedVariable { name, .. }) if !missing.contains(&name) && missing.len() < 1000 => {
                filled.insert(name.clone(), "unset".into());
                missing.push(name);
            }
            Err(e) if missing.is_empty() => return Err(e.into()),
            _ if !missing.is_empty() => {
                missing.sort();
                bail!(
                    "value for variables [{}] is not set. Please set the value using os environment variables or the clusterctl config file (here: --var NAME=VALUE)",
                    missing.join(", ")
                );
            }
            Ok(objects) => {
                // clusterctl puts the ClusterClass it adds before the template's objects
                // (`repository.MergeTemplates(clusterClassesTemplate, template)`), so an apply of the
                // output creates the class before the Cluster that names it.
                let from_class = |o: &&capi_scenarios::manifest::ManifestObject| {
                    o.origin.file.file_name().is_some_and(|f| f.to_string_lossy().starts_with("clusterclass-"))
                };
                let (class, rest): (Vec<_>, Vec<_>) = objects.iter().partition(from_class);
                let docs: Vec<String> = class
                    .into_iter()
                    .chain(rest)
                    .map(|o| serde_yaml::to_string(&o.value).context("rendering YAML"))
                    .collect::<Result<_>>()?;
                return Ok(docs.join("---\n"));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Run `scenario render`.
pub fn run(args: &RenderArgs) -> Result<ExitCode> {
    let vars = crate::scenario::parse_vars(&args.vars)?;
    let fixtures = match &args.fixtures {
        Some(f) => f.clone(),
        None => find_fixtures().context("cannot find the `fixtures/` directory (looked upwards from here); pass --fixtures DIR")?,
    };
    let text = render(&fixtures, &args.provider_version, &args.flavor, &vars)?;
    outln!("{}", text.trim_end());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("fixtures")
    }

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_development_flavor_renders_with_its_cluster_class() {
        let v = vars(&[("CLUSTER_NAME", "dev1"), ("KUBERNETES_VERSION", "v1.34.3"), ("WORKER_MACHINE_COUNT", "2")]);
        let text = render(&fixtures(), DEFAULT_PROVIDER_VERSION, "development", &v).unwrap();
        let docs: Vec<serde_json::Value> = text.split("---\n").map(|d| serde_yaml::from_str(d).unwrap()).collect();
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert!(kinds.contains(&"Cluster") && kinds.contains(&"ClusterClass"), "{kinds:?}");
        let at = |k: &str| kinds.iter().position(|x| *x == k).unwrap();
        assert!(at("ClusterClass") < at("Cluster"), "the class comes first, as clusterctl prints it: {kinds:?}");
        let cluster = docs.iter().find(|d| d["kind"] == "Cluster").unwrap();
        assert_eq!(cluster["metadata"]["name"], "dev1");
        assert_eq!(cluster["metadata"]["namespace"], "default", "NAMESPACE defaults as clusterctl's --target-namespace does");
        assert_eq!(cluster["spec"]["topology"]["version"], "v1.34.3");
        assert_eq!(cluster["spec"]["topology"]["workers"]["machineDeployments"][0]["replicas"], 2);
        // `${SERVICE_DOMAIN:="cluster.local"}` takes its default.
        assert_eq!(cluster["spec"]["clusterNetwork"]["serviceDomain"], "cluster.local");
    }

    #[test]
    fn every_missing_variable_is_named_at_once() {
        let err = render(&fixtures(), DEFAULT_PROVIDER_VERSION, "development", &Vars::new()).unwrap_err().to_string();
        assert!(err.starts_with("value for variables [CLUSTER_NAME, KUBERNETES_VERSION] is not set."), "{err}");
    }

    #[test]
    fn an_unknown_flavor_is_an_error() {
        let err = render(&fixtures(), DEFAULT_PROVIDER_VERSION, "nope", &vars(&[("CLUSTER_NAME", "a")])).unwrap_err().to_string();
        assert!(err.contains("unknown flavor `nope`"), "{err}");
    }
}
