//! The rows of the timeline picture and their order: clusters in natural order (`cluster-2` before
//! `cluster-10`); in each, the etcd row first (healthy/total members), then the Machines by role
//! (control plane, workers, other roles), each Machine with its Node's lanes when the run recorded
//! them, then the nodes no Machine row claims. Rows keep their order of first appearance in a group.

use super::natural_cmp;
use capi_scenarios::report::{EtcdLane, NodeLane, Timeline, TimelineRow};
use std::collections::BTreeMap;

/// One row.
pub enum Line<'a> {
    /// A Machine, and its Node's lane if the run recorded one.
    Machine(&'a TimelineRow, Option<&'a NodeLane>),
    /// A node without a Machine row.
    Node(&'a NodeLane),
    /// A cluster's etcd members.
    Etcd(&'a EtcdLane),
}

impl Line<'_> {
    /// The row's label.
    pub fn name(&self) -> &str {
        match self {
            Line::Machine(r, _) => &r.name,
            Line::Node(n) => &n.node,
            Line::Etcd(_) => "etcd members",
        }
    }

    /// Whether the row carries the two lanes (Node Ready, etcd member) under its bar.
    pub fn has_lanes(&self) -> bool {
        matches!(self, Line::Machine(_, Some(_)) | Line::Node(_))
    }
}

/// A group of rows under one heading.
pub struct Group<'a> {
    /// Cluster name.
    pub cluster: &'a str,
    /// The heading after the cluster name: `control-plane (3)`, `etcd (healthy/total members)`.
    pub heading: String,
    /// Rows.
    pub lines: Vec<Line<'a>>,
}

/// The groups of a timeline, in drawing order.
pub fn groups(t: &Timeline) -> Vec<Group<'_>> {
    let lanes: BTreeMap<(&str, &str), &NodeLane> = t.nodes.iter().map(|n| ((n.cluster.as_str(), n.node.as_str()), n)).collect();
    let mut claimed: Vec<(&str, &str)> = Vec::new();
    // (cluster, rank, role) → rows; sorted by cluster naturally below.
    let mut by: BTreeMap<(&str, u8, &str), Vec<Line<'_>>> = BTreeMap::new();
    for e in &t.etcd {
        by.entry((e.cluster.as_str(), 0, "etcd")).or_default().push(Line::Etcd(e));
    }
    for r in &t.rows {
        let rank = match r.role.as_str() {
            "control-plane" => 1,
            "worker" => 2,
            _ => 3,
        };
        let lane = r.node.as_deref().and_then(|n| lanes.get(&(r.cluster.as_str(), n)).copied());
        if let Some(l) = lane {
            claimed.push((l.cluster.as_str(), l.node.as_str()));
        }
        by.entry((r.cluster.as_str(), rank, r.role.as_str())).or_default().push(Line::Machine(r, lane));
    }
    for n in &t.nodes {
        if !claimed.contains(&(n.cluster.as_str(), n.node.as_str())) {
            by.entry((n.cluster.as_str(), 4, "node")).or_default().push(Line::Node(n));
        }
    }
    let mut groups: Vec<_> = by.into_iter().collect();
    groups.sort_by(|a, b| natural_cmp(a.0 .0, b.0 .0).then(a.0 .1.cmp(&b.0 .1)).then(a.0 .2.cmp(b.0 .2)));
    groups
        .into_iter()
        .map(|((cluster, rank, role), lines)| Group {
            cluster,
            heading: match rank {
                0 => "etcd (healthy/total members)".to_string(),
                4 => format!("Nodes without a Machine ({})", lines.len()),
                _ => format!("{role} ({})", lines.len()),
            },
            lines,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(&["cluster-10", "cluster-2", "cluster-1"], &["cluster-1", "cluster-2", "cluster-10"])]
    #[case(&["fleet-100", "fleet-20", "fleet-3"], &["fleet-3", "fleet-20", "fleet-100"])]
    #[case(&["b", "a-10", "a-9", "a"], &["a", "a-9", "a-10", "b"])]
    #[case(&["md-0-x10", "md-0-x9"], &["md-0-x9", "md-0-x10"])]
    #[case(&["c01", "c1"], &["c1", "c01"])]
    fn clusters_sort_naturally(#[case] names: &[&str], #[case] expected: &[&str]) {
        let t = Timeline {
            rows: names
                .iter()
                .map(|c| TimelineRow { name: format!("{c}-m"), cluster: c.to_string(), role: "worker".into(), ..Default::default() })
                .collect(),
            ..Default::default()
        };
        let order: Vec<&str> = groups(&t).iter().map(|g| g.cluster).collect();
        assert_eq!(order, expected);
    }

    #[test]
    fn etcd_first_then_machines_with_their_lanes_then_unclaimed_nodes() {
        let lane = |node: &str| NodeLane { cluster: "c".into(), node: node.into(), ..Default::default() };
        let row = |name: &str, role: &str, node: Option<&str>| TimelineRow {
            name: name.into(),
            cluster: "c".into(),
            role: role.into(),
            node: node.map(str::to_string),
            ..Default::default()
        };
        let t = Timeline {
            rows: vec![
                row("c-md-1", "worker", Some("c-md-1")),
                row("c-cp-1", "control-plane", Some("c-cp-1")),
                row("c-md-2", "worker", None),
            ],
            nodes: vec![lane("c-cp-1"), lane("c-md-1"), lane("c-stray")],
            etcd: vec![EtcdLane { cluster: "c".into(), spans: Vec::new() }],
            ..Default::default()
        };
        let g = groups(&t);
        let headings: Vec<&str> = g.iter().map(|g| g.heading.as_str()).collect();
        assert_eq!(headings, ["etcd (healthy/total members)", "control-plane (1)", "worker (2)", "Nodes without a Machine (1)"]);
        let lanes: Vec<(&str, bool)> = g.iter().flat_map(|g| &g.lines).map(|l| (l.name(), l.has_lanes())).collect();
        assert_eq!(lanes, [("etcd members", false), ("c-cp-1", true), ("c-md-1", true), ("c-md-2", false), ("c-stray", true)]);
    }
}
