//! Names and images CAPD derives: container names from Machine names, providerIDs, the kindest/node
//! image for a Kubernetes version, the HAProxy image, label values for pool names.
//! Sources: `test/infrastructure/docker/internal/docker/{util.go,machine.go,loadbalancer.go}`,
//! `test/infrastructure/kind/mapper.go`, `test/infrastructure/container/docker.go`
//! (`SemverToOCIImageTag`), `util/labels/format/helpers.go`.
//!
//! Simplification: kind's table of pre-built images pins `kindest/node:<v>@sha256:...` digests; the
//! simulator always uses the digest-less fallback `kindest/node:<v>` (the mode differences between
//! kind releases do not matter here).

use crate::controllers::common::parse_version;
use crate::runtime::Ctx;

/// The container label with the cluster name.
pub const CLUSTER_LABEL: &str = "io.x-k8s.kind.cluster";
/// The container label with the role.
pub const ROLE_LABEL: &str = "io.x-k8s.kind.role";
/// The container label with the failure domain of a machine.
pub const FAILURE_DOMAIN_LABEL: &str = "io.x-k8s.cluster.failureDomain";
/// The HAProxy image repository CAPD uses by default.
pub const LB_IMAGE_REPOSITORY: &str = "kindest";
/// The HAProxy image name.
pub const LB_IMAGE_NAME: &str = "haproxy";
/// The HAProxy image tag CAPD uses by default.
pub const LB_IMAGE_TAG: &str = "v20230606-42a2262b";

/// The container of a machine: the Machine name when it already starts with the cluster name,
/// else `<cluster>-<machine>`.
pub fn container_name(cluster: &str, machine: &str) -> String {
    if machine.starts_with(cluster) {
        machine.to_string()
    } else {
        format!("{cluster}-{machine}")
    }
}

/// The machine name of a container (the inverse CAPD uses when listing pool containers).
pub fn machine_from_container_name(cluster: &str, container: &str) -> String {
    let rest = container.strip_prefix(cluster).unwrap_or(container);
    rest.strip_prefix('-').unwrap_or(rest).to_string()
}

/// `docker:////<container>`.
pub fn provider_id(container: &str) -> String {
    format!("docker:////{container}")
}

/// The `<cluster>-lb` container.
pub fn lb_container_name(cluster: &str) -> String {
    format!("{cluster}-lb")
}

/// The HAProxy image from the infra cluster's `loadBalancer.imageRepository/imageTag`.
pub fn lb_image(repository: &str, tag: &str) -> String {
    let repo = if repository.is_empty() { LB_IMAGE_REPOSITORY } else { repository };
    let tag = if tag.is_empty() { LB_IMAGE_TAG } else { tag };
    format!("{repo}/{LB_IMAGE_NAME}:{tag}")
}

/// The node image: `customImage` when set, else `kindest/node:v<version>` with `+` replaced by `_`
/// (OCI tags cannot carry `+`). Errors as CAPD's `Machine.Create` does.
pub fn node_image(version: &str, custom_image: &str) -> Result<String, String> {
    if version.is_empty() {
        return Err("cannot create a DockerMachine for a nil version".into());
    }
    let v = parse_version(version)
        .ok_or_else(|| format!("failed to parse DockerMachine version: Invalid character(s) found in \"{version}\""))?;
    if !custom_image.is_empty() {
        return Ok(custom_image.to_string());
    }
    Ok(format!("kindest/node:v{}", v.to_string().replace('+', "_")))
}

/// A label value for a name (`format.MustFormatValue`): the name itself when it is a valid label
/// value, else `hash_<fnv32a, base64url>_z`.
pub fn label_value(name: &str) -> String {
    let valid = name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
        && name.chars().last().is_none_or(|c| c.is_ascii_alphanumeric());
    if valid {
        return name.to_string();
    }
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    use base64::Engine as _;
    format!("hash_{}_z", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.to_be_bytes()))
}

/// `util.RandomString(n)`: n characters from the controller's name stream.
pub fn random_string(ctx: &mut Ctx<'_>, n: usize) -> String {
    let mut s = String::new();
    while s.len() < n {
        s.push_str(&ctx.suffix());
    }
    s.truncate(n);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("c1", "c1-md-0-abcde-fghij", "c1-md-0-abcde-fghij")]
    #[case("c1", "control-plane-xyz", "c1-control-plane-xyz")]
    #[case("c1", "worker-abc123", "c1-worker-abc123")]
    // A prefix match is enough, as in CAPD (no separator check).
    #[case("c1", "c10-x", "c10-x")]
    fn container_naming(#[case] cluster: &str, #[case] machine: &str, #[case] want: &str) {
        assert_eq!(container_name(cluster, machine), want);
    }

    #[rstest]
    #[case("c1", "c1-worker-abc123", "worker-abc123")]
    #[case("c1", "other", "other")]
    fn machine_names_of_containers(#[case] cluster: &str, #[case] container: &str, #[case] want: &str) {
        assert_eq!(machine_from_container_name(cluster, container), want);
        assert_eq!(container_name(cluster, &machine_from_container_name(cluster, container)), container_name(cluster, want));
    }

    #[rstest]
    #[case("v1.34.3", "", Ok("kindest/node:v1.34.3"))]
    #[case("1.34.3", "", Ok("kindest/node:v1.34.3"))]
    #[case("v1.34.3+k3s1", "", Ok("kindest/node:v1.34.3_k3s1"))]
    #[case("v1.33.0-rc.1+build.2", "", Ok("kindest/node:v1.33.0-rc.1_build.2"))]
    #[case("v1.34.3", "kindest/node:v1.34.3_custom", Ok("kindest/node:v1.34.3_custom"))]
    #[case("", "kindest/node:v1.34.3", Err("cannot create a DockerMachine for a nil version"))]
    fn image_selection(#[case] version: &str, #[case] custom: &str, #[case] want: Result<&str, &str>) {
        assert_eq!(node_image(version, custom), want.map(str::to_string).map_err(str::to_string));
    }

    #[test]
    fn unparsable_version_is_an_error() {
        assert!(node_image("latest", "").unwrap_err().contains("failed to parse DockerMachine version"));
    }

    #[rstest]
    #[case("", "", "kindest/haproxy:v20230606-42a2262b")]
    #[case("my.registry", "", "my.registry/haproxy:v20230606-42a2262b")]
    #[case("", "v1", "kindest/haproxy:v1")]
    fn lb_images(#[case] repo: &str, #[case] tag: &str, #[case] want: &str) {
        assert_eq!(lb_image(repo, tag), want);
    }

    #[test]
    fn long_names_are_hashed_into_label_values() {
        assert_eq!(label_value("mp-0"), "mp-0");
        let long = "x".repeat(70);
        let v = label_value(&long);
        assert!(v.starts_with("hash_") && v.ends_with("_z") && v.len() <= 63, "{v}");
        assert_eq!(v, label_value(&long));
    }
}
