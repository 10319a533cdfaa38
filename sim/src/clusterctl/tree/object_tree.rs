//! The object tree a describe builds before printing: nodes for objects, virtual rows and groups, the
//! grouping of sibling Machines whose `Available`, `Ready` and `UpToDate` agree, echo rows left out,
//! and the children's print order.
//! Source: `cmd/clusterctl/client/tree/tree.go` (`ObjectTree.Add`, grouping, echo, `GetObjectsByParent`).

use serde_json::Value;

use super::read::{is_true, key_conditions, kind, name, same_status_and_reason, Cond};
use super::{Options, ShowConditions};

// A describe tree has a few dozen rows: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub(super) enum What<'a> {
    Object { obj: &'a Value, meta: Option<&'static str>, control_plane: bool },
    Virtual(&'static str),
    Group { kind: String, items: Vec<String>, conds: [Option<Cond>; 3], counts: [usize; 3] },
}

pub(super) struct Node<'a> {
    pub(super) what: What<'a>,
    pub(super) parent: Option<usize>,
    pub(super) children: Vec<usize>,
    pub(super) grouping: bool,
    pub(super) show: ShowConditions,
}

pub(super) struct Tree<'a> {
    pub(super) nodes: Vec<Node<'a>>,
    pub(super) opts: Options,
}

#[derive(Default, Clone, Copy)]
pub(super) struct Add {
    pub(super) meta: Option<&'static str>,
    pub(super) grouping_object: bool,
    pub(super) no_echo: bool,
    pub(super) control_plane: bool,
}

impl<'a> Tree<'a> {
    pub(super) fn node_conds(&self, i: usize) -> [Option<Cond>; 3] {
        match &self.nodes[i].what {
            What::Object { obj, .. } => key_conditions(obj),
            What::Virtual(_) => [None, None, None],
            What::Group { conds, .. } => conds.clone(),
        }
    }

    /// `ObjectTree.Add`: the new node's index when it is shown on its own (not merged into a group,
    /// not dropped as an echo).
    pub(super) fn add(&mut self, parent: usize, what: What<'a>, how: Add) -> Option<usize> {
        let (conds, obj_kind, obj_name) = match &what {
            What::Object { obj, .. } => (key_conditions(obj), kind(obj).to_string(), name(obj).to_string()),
            _ => ([None, None, None], String::new(), String::new()),
        };
        if how.no_echo && !self.opts.echo {
            let parent_ready = self.node_conds(parent)[1].clone();
            if is_true(&conds[1]) || same_status_and_reason(&parent_ready, &conds[1]) {
                return None;
            }
        }
        if self.nodes[parent].grouping && !obj_kind.is_empty() {
            let siblings = self.nodes[parent].children.clone();
            for s in siblings {
                let sc = self.node_conds(s);
                if !(0..3).all(|k| same_status_and_reason(&conds[k], &sc[k])) {
                    continue;
                }
                match &mut self.nodes[s].what {
                    What::Group { kind: gk, items, conds: gconds, counts } if *gk == format!("{obj_kind}Group") => {
                        items.push(obj_name);
                        items.sort();
                        if let (Some(g), Some(o)) = (&mut gconds[1], &conds[1]) {
                            g.since_ms = min_time(g.since_ms, o.since_ms);
                        }
                        for (k, c) in conds.iter().enumerate() {
                            counts[k] += usize::from(is_true(c));
                        }
                        return None;
                    }
                    What::Object { obj, .. } if kind(obj) == obj_kind => {
                        let mut items = vec![obj_name.clone(), name(obj).to_string()];
                        items.sort();
                        let mut gconds = conds.clone();
                        for c in gconds.iter_mut().flatten() {
                            c.message.clear();
                        }
                        if let (Some(g), Some(other)) = (&mut gconds[1], &sc[1]) {
                            g.since_ms = min_time(g.since_ms, other.since_ms);
                        }
                        let counts = [0, 1, 2].map(|k| if is_true(&conds[k]) { 2 } else { 0 });
                        let group = What::Group { kind: format!("{obj_kind}Group"), items, conds: gconds, counts };
                        self.nodes[parent].children.retain(|&c| c != s);
                        self.push(parent, group, false, ShowConditions::None);
                        return None;
                    }
                    _ => continue,
                }
            }
        }
        let grouping = how.grouping_object && self.opts.grouping;
        let what = match what {
            What::Object { obj, .. } => What::Object { obj, meta: how.meta, control_plane: how.control_plane },
            other => other,
        };
        Some(self.push(parent, what, grouping, self.opts.show_conditions))
    }

    pub(super) fn push(&mut self, parent: usize, what: What<'a>, grouping: bool, show: ShowConditions) -> usize {
        self.nodes.push(Node { what, parent: Some(parent), children: Vec::new(), grouping, show });
        let i = self.nodes.len() - 1;
        self.nodes[parent].children.push(i);
        i
    }

    pub(super) fn row_name(&self, i: usize) -> String {
        match &self.nodes[i].what {
            What::Group { kind, items, .. } => format!("{} {}s...", items.len(), kind.trim_end_matches("Group")),
            What::Virtual(n) => n.to_string(),
            What::Object { obj, meta, .. } => {
                let base = format!("{}/{}", kind(obj), name(obj));
                let named = match meta {
                    Some(m) => format!("{m} - {base}"),
                    None => base,
                };
                if obj.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()) {
                    format!("!! DELETED !! {named}")
                } else {
                    named
                }
            }
        }
    }

    /// Children in print order: by row name (every z-order here is 0).
    pub(super) fn children(&self, i: usize) -> Vec<usize> {
        let mut c = self.nodes[i].children.clone();
        c.sort_by_key(|&x| self.row_name(x));
        c
    }
}

pub(super) fn min_time(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
