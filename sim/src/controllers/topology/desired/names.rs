//! Names of generated objects: the simple generator (a prefix cut to fit and five random
//! characters) and the ClusterClass naming templates (`{{ .cluster.name }}-{{ .random }}`).
//! Source: `internal/topology/names/names.go` (`SimpleNameGenerator`, `TemplateGenerator`).

use crate::controllers::topology::gotmpl;
use crate::controllers::topology::patches;
use crate::runtime::Ctx;
use serde_json::{json, Value};

/// Kubernetes' name length limit and the length of a random suffix.
const MAX_NAME: usize = 63;
const RANDOM: usize = 5;

/// `names.SimpleNameGenerator(prefix)`: the prefix (cut to fit) and five random characters.
pub fn simple_name(ctx: &mut Ctx<'_>, prefix: &str) -> String {
    let max = MAX_NAME - RANDOM;
    let base: String = prefix.chars().take(max).collect();
    format!("{base}{}", ctx.suffix())
}

/// A name from a ClusterClass naming template (`{{ .cluster.name }}-{{ .random }}` by default).
pub fn templated_name(ctx: &mut Ctx<'_>, template: &str, cluster: &str, extra: Value) -> Result<String, String> {
    let mut data = json!({"cluster": {"name": cluster}, "random": ctx.suffix()});
    patches::merge_into(&mut data, &extra);
    let name = gotmpl::render(template, &data).map_err(|e| format!("failed to generate name: rendering template: {e}"))?;
    if name.chars().count() > MAX_NAME {
        let base: String = name.chars().take(MAX_NAME - RANDOM).collect();
        return Ok(format!("{base}{}", ctx.suffix()));
    }
    Ok(name)
}
