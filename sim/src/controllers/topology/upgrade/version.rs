//! Kubernetes versions as the topology's upgrade code reads and prints them: tolerant parsing,
//! comparison with build tags, `v<semver>`.
//! Sources: `github.com/blang/semver` (`ParseTolerant`), `util/version/version.go` (`Compare`,
//! `WithBuildTags`).

use std::cmp::Ordering;

/// `semver.ParseTolerant`.
pub fn parse(v: &str) -> Option<semver::Version> {
    crate::controllers::common::parse_version(v)
}

/// `version.Compare(a, b, WithBuildTags())`: -1/0/1, or 2 when only build metadata differs.
pub fn compare(a: &semver::Version, b: &semver::Version) -> i8 {
    match a.cmp_precedence(b) {
        Ordering::Less => -1,
        Ordering::Greater => 1,
        Ordering::Equal if a.build != b.build => 2,
        Ordering::Equal => 0,
    }
}

/// `v<semver>` as CAPI prints a parsed version.
pub fn v_string(v: &semver::Version) -> String {
    format!("v{v}")
}
