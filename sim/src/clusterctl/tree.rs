//! The tree `clusterctl describe cluster` prints (CAPI v1.13.5, v1beta2 conditions), from the objects
//! as JSON, so that the simulator and the conformance backend (when no `clusterctl` is on PATH) print
//! the same thing from the same objects.
//!
//! What each row counts, as upstream's `internal/util/tree/tree.go: newRowDescriptor` does:
//! - the Cluster: `status.controlPlane` plus `status.workers` (replicas as `current/desired`,
//!   AVAILABLE, READY, UP TO DATE), each column only when one of the two sets it;
//! - the control plane (the control-plane contract): `status.replicas/spec.replicas` and its
//!   `status.availableReplicas`, `readyReplicas`, `upToDateReplicas`;
//! - a MachineDeployment (and MachineSet): `status.replicas/spec.replicas` and its status counters;
//! - a Machine: `1`, and 1 or 0 for its `Available`, `Ready` and `UpToDate` conditions;
//! - a group of Machines (`N Machines...`): how many of them have each condition True;
//! - a MachinePool, the infrastructure cluster, infrastructure machines, bootstrap configs and the
//!   virtual `Workers`/`Other` rows: nothing (upstream has no case for them).
//!
//! So the Cluster row adds up the control plane's and the workers' own status counters, which the
//! Cluster controller copies from them (`setControlPlaneReplicas`, `setWorkersReplicas`); the
//! Machine and group rows count conditions. Discovery and grouping follow
//! `cmd/clusterctl/client/tree/discovery.go` and `tree.go`: Machines under their control plane,
//! MachineDeployment (through the MachineSets it controls) or MachinePool, the rest under `Other`;
//! sibling Machines whose `Available`, `Ready` and `UpToDate` conditions have the same status and
//! reason become one group row; an infrastructure machine or bootstrap config is shown under its
//! Machine only when its `Ready` is not True and differs from the Machine's (`--echo` off).
//!
//! Simplifications: no colours, no `--show-machinesets`/`--show-templates`/`--show-resourcesets`;
//! columns are separated by two spaces (upstream's table writer pads the same way).

use serde_json::Value;
use std::fmt::Write as _;

/// Whose conditions get rows of their own (`--show-conditions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowConditions {
    /// None (the default of `clusterctl describe cluster`).
    None,
    /// Every object's, all of them (`--show-conditions all`).
    All,
    /// Every object's, without those in their normal state (`--show-conditions all:nonzero`).
    NonZero,
}

/// How to describe.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// `--show-conditions`.
    pub show_conditions: ShowConditions,
    /// `--grouping` (on by default).
    pub grouping: bool,
    /// `--echo`: also show infrastructure machines and bootstrap configs that only repeat their
    /// Machine's state.
    pub echo: bool,
    /// The time ages are counted to, in Unix milliseconds.
    pub now_unix_ms: u64,
}

impl Options {
    /// `clusterctl describe cluster NAME --show-conditions all` at `now_unix_ms`.
    pub fn show_all(now_unix_ms: u64) -> Self {
        Options { show_conditions: ShowConditions::All, grouping: true, echo: false, now_unix_ms }
    }
}

/// The objects of one Cluster the tree is made of, as the API returns them.
#[derive(Debug, Clone, Default)]
pub struct ClusterObjects {
    /// The Cluster.
    pub cluster: Value,
    /// Its infrastructure cluster, if found.
    pub infrastructure: Option<Value>,
    /// Its control plane, if found.
    pub control_plane: Option<Value>,
    /// The Cluster's MachineDeployments (by the cluster-name label).
    pub machine_deployments: Vec<Value>,
    /// The Cluster's MachineSets (a MachineDeployment's Machines are those of the sets it controls).
    pub machine_sets: Vec<Value>,
    /// The Cluster's MachinePools.
    pub machine_pools: Vec<Value>,
    /// The Cluster's Machines.
    pub machines: Vec<Value>,
    /// Objects the Machines and MachinePools refer to (infrastructure machines, bootstrap configs),
    /// when the caller has them; without them those rows are left out.
    pub referenced: Vec<Value>,
}

/// One row of the table (continuation lines of a message are rows with only `message`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    /// The tree prefix and the object's name (or a condition's type).
    pub name: String,
    /// `current/desired`.
    pub replicas: String,
    /// How many are available.
    pub available: String,
    /// How many are ready.
    pub ready: String,
    /// How many are up to date.
    pub up_to_date: String,
    /// The shown condition's status.
    pub status: String,
    /// Its reason.
    pub reason: String,
    /// How long ago it last changed.
    pub since: String,
    /// Its message (one line).
    pub message: String,
}

/// One condition, as the tree reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cond {
    type_: String,
    status: String,
    reason: String,
    message: String,
    since_ms: Option<u64>,
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn time_ms(text: &str) -> Option<u64> {
    let t = humantime::parse_rfc3339_weak(text).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as u64)
}

/// `status.v1beta2.conditions` when the object has them (a v1beta1 provider object), else
/// `status.conditions` (`conditions.UnstructuredGetAll`).
fn conditions(v: &Value) -> Vec<Cond> {
    let list = v.pointer("/status/v1beta2/conditions").or_else(|| v.pointer("/status/conditions")).and_then(Value::as_array);
    list.map(|l| {
        l.iter()
            .map(|c| Cond {
                type_: s(c, "/type").to_string(),
                status: s(c, "/status").to_string(),
                reason: s(c, "/reason").to_string(),
                message: s(c, "/message").to_string(),
                since_ms: time_ms(s(c, "/lastTransitionTime")),
            })
            .collect()
    })
    .unwrap_or_default()
}

fn cond(v: &Value, type_: &str) -> Option<Cond> {
    conditions(v).into_iter().find(|c| c.type_ == type_)
}

fn kind(v: &Value) -> &str {
    s(v, "/kind")
}

fn name(v: &Value) -> &str {
    s(v, "/metadata/name")
}

fn int(v: &Value, p: &str) -> Option<i64> {
    v.pointer(p).and_then(Value::as_i64)
}

/// The three conditions grouping compares (`UpToDate` only exists on Machines).
fn key_conditions(v: &Value) -> [Option<Cond>; 3] {
    let utd = if kind(v) == "Machine" { cond(v, "UpToDate") } else { None };
    [cond(v, "Available"), cond(v, "Ready"), utd]
}

fn same_status_and_reason(a: &Option<Cond>, b: &Option<Cond>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.status == b.status && a.reason == b.reason,
        _ => false,
    }
}

fn is_true(c: &Option<Cond>) -> bool {
    c.as_ref().is_some_and(|c| c.status == "True")
}

// A describe tree has a few dozen rows: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum What<'a> {
    Object { obj: &'a Value, meta: Option<&'static str>, control_plane: bool },
    Virtual(&'static str),
    Group { kind: String, items: Vec<String>, conds: [Option<Cond>; 3], counts: [usize; 3] },
}

struct Node<'a> {
    what: What<'a>,
    parent: Option<usize>,
    children: Vec<usize>,
    grouping: bool,
    show: ShowConditions,
}

struct Tree<'a> {
    nodes: Vec<Node<'a>>,
    opts: Options,
}

#[derive(Default, Clone, Copy)]
struct Add {
    meta: Option<&'static str>,
    grouping_object: bool,
    no_echo: bool,
    control_plane: bool,
}

impl<'a> Tree<'a> {
    fn node_conds(&self, i: usize) -> [Option<Cond>; 3] {
        match &self.nodes[i].what {
            What::Object { obj, .. } => key_conditions(obj),
            What::Virtual(_) => [None, None, None],
            What::Group { conds, .. } => conds.clone(),
        }
    }

    /// `ObjectTree.Add`: the new node's index when it is shown on its own (not merged into a group,
    /// not dropped as an echo).
    fn add(&mut self, parent: usize, what: What<'a>, how: Add) -> Option<usize> {
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

    fn push(&mut self, parent: usize, what: What<'a>, grouping: bool, show: ShowConditions) -> usize {
        self.nodes.push(Node { what, parent: Some(parent), children: Vec::new(), grouping, show });
        let i = self.nodes.len() - 1;
        self.nodes[parent].children.push(i);
        i
    }

    fn row_name(&self, i: usize) -> String {
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
    fn children(&self, i: usize) -> Vec<usize> {
        let mut c = self.nodes[i].children.clone();
        c.sort_by_key(|&x| self.row_name(x));
        c
    }
}

fn min_time(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `newRowDescriptor`.
fn describe_row(t: &Tree<'_>, i: usize) -> Row {
    let mut r = Row::default();
    let shown = |r: &mut Row, c: Option<Cond>| {
        if let Some(c) = c {
            r.status = c.status;
            r.reason = c.reason;
            r.since = human_duration(t.opts.now_unix_ms, c.since_ms);
            r.message = format_paragraph(&c.message, 100);
        }
    };
    let opt = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    match &t.nodes[i].what {
        What::Object { obj, control_plane, .. } => match kind(obj) {
            "Cluster" => {
                let f = |p: &str| [int(obj, &format!("/status/controlPlane/{p}")), int(obj, &format!("/status/workers/{p}"))];
                let sum = |v: [Option<i64>; 2]| (v[0].is_some() || v[1].is_some()).then(|| v[0].unwrap_or(0) + v[1].unwrap_or(0));
                let (desired, current) = (f("desiredReplicas"), f("replicas"));
                if desired.iter().chain(current.iter()).any(Option::is_some) {
                    r.replicas = format!("{}/{}", sum(current).unwrap_or(0), sum(desired).unwrap_or(0));
                }
                r.available = opt(sum(f("availableReplicas")));
                r.ready = opt(sum(f("readyReplicas")));
                r.up_to_date = opt(sum(f("upToDateReplicas")));
                shown(&mut r, cond(obj, "Available"));
            }
            "MachineDeployment" | "MachineSet" => {
                if let Some(d) = int(obj, "/spec/replicas") {
                    r.replicas = format!("{}/{d}", int(obj, "/status/replicas").unwrap_or(0));
                }
                r.available = opt(int(obj, "/status/availableReplicas"));
                r.ready = opt(int(obj, "/status/readyReplicas"));
                r.up_to_date = opt(int(obj, "/status/upToDateReplicas"));
                if kind(obj) == "MachineDeployment" {
                    shown(&mut r, cond(obj, "Available"));
                }
            }
            "Machine" => {
                let [a, ready, u] = key_conditions(obj);
                r.replicas = "1".into();
                r.available = usize::from(is_true(&a)).to_string();
                r.ready = usize::from(is_true(&ready)).to_string();
                r.up_to_date = usize::from(is_true(&u)).to_string();
                shown(&mut r, ready);
            }
            "MachinePool" => {}
            _ => {
                shown(&mut r, cond(obj, "Ready"));
                if *control_plane {
                    if let Some(a) = cond(obj, "Available") {
                        shown(&mut r, Some(a));
                    }
                    if let (Some(c), Some(d)) = (int(obj, "/status/replicas"), int(obj, "/spec/replicas")) {
                        r.replicas = format!("{c}/{d}");
                    }
                    r.available = opt(int(obj, "/status/availableReplicas"));
                    r.ready = opt(int(obj, "/status/readyReplicas"));
                    r.up_to_date = opt(int(obj, "/status/upToDateReplicas"));
                }
            }
        },
        What::Virtual(_) => {}
        What::Group { items, conds, counts, .. } => {
            r.available = counts[0].to_string();
            r.ready = counts[1].to_string();
            r.up_to_date = counts[2].to_string();
            shown(&mut r, conds[1].clone());
            r.message = if items.len() <= 2 { format!("See {}", items.join(", ")) } else { format!("See {}, ...", items[..2].join(", ")) };
        }
    }
    r
}

const FIRST: &str = "├─";
const LAST: &str = "└─";
const PIPE: &str = "│ ";
const INDENT: &str = "  ";

/// `getChildPrefix`.
fn child_prefix(current: &str, index: usize, count: usize) -> String {
    let next = current.replace(FIRST, PIPE).replace(LAST, INDENT);
    format!("{next}{}", if index + 1 < count { FIRST } else { LAST })
}

/// Conditions whose normal state is False.
const NEGATIVE_POLARITY: [&str; 7] = ["Paused", "Deleting", "RollingOut", "ScalingUp", "ScalingDown", "Updating", "Remediating"];

/// `conditionIsZero`: in its normal state and saying nothing.
fn condition_is_zero(c: &Cond) -> bool {
    let positive = !NEGATIVE_POLARITY.contains(&c.type_.as_str());
    match c.status.as_str() {
        "False" if positive => false,
        "Unknown" => false,
        "True" if !positive => false,
        _ => c.message.is_empty(),
    }
}

fn push_message_rows(rows: &mut Vec<Row>, mut first: Row, message: &str, continuation_prefix: &str) {
    let mut lines = message.split('\n');
    first.message = lines.next().unwrap_or("").to_string();
    rows.push(first);
    for l in lines {
        rows.push(Row { name: continuation_prefix.to_string(), message: l.to_string(), ..Default::default() });
    }
}

/// The prefix of a main row's message continuation lines (`getRootMultiLineObjectPrefix`).
fn multiline_prefix(t: &Tree<'_>, i: usize, last_in_tree: usize) -> String {
    if i == last_in_tree {
        return String::new();
    }
    let mut prefix = if t.nodes[i].children.is_empty() { String::new() } else { PIPE.to_string() };
    let mut cur = i;
    while let Some(p) = t.nodes[cur].parent {
        let siblings = t.children(p);
        let is_last = siblings.last() == Some(&cur);
        prefix = format!("{}{prefix}", if !siblings.is_empty() && !is_last { PIPE } else { INDENT });
        cur = p;
    }
    prefix
}

fn add_rows(t: &Tree<'_>, i: usize, prefix: &str, last_in_tree: usize, rows: &mut Vec<Row>) {
    let mut row = describe_row(t, i);
    let show = t.nodes[i].show;
    if show != ShowConditions::None {
        row.status.clear();
        row.reason.clear();
        row.since.clear();
        row.message.clear();
    }
    row.name = format!("{prefix}{}", t.row_name(i));
    let message = std::mem::take(&mut row.message);
    push_message_rows(rows, row, &message, &multiline_prefix(t, i, last_in_tree));
    if let (What::Object { obj, .. }, true) = (&t.nodes[i].what, show != ShowConditions::None) {
        let all = conditions(obj);
        let shown: Vec<&Cond> = all
            .iter()
            .filter(|c| show == ShowConditions::All || c.type_ == "Available" || c.type_ == "Ready" || !condition_is_zero(c))
            .collect();
        let pipe = if t.nodes[i].children.is_empty() { INDENT } else { PIPE };
        let base = format!("{prefix}{pipe}{}", " ".repeat(10));
        for (k, c) in shown.iter().enumerate() {
            let p = child_prefix(&base, k, shown.len());
            let cont = match p.strip_suffix(FIRST) {
                Some(stem) => format!("{stem}{PIPE}"),
                None => p.strip_suffix(LAST).unwrap_or(&p).to_string(),
            };
            let r = Row {
                name: format!("{p}{}", c.type_),
                status: c.status.clone(),
                reason: c.reason.clone(),
                since: human_duration(t.opts.now_unix_ms, c.since_ms),
                ..Default::default()
            };
            push_message_rows(rows, r, &format_paragraph(&c.message, 100), &cont);
        }
    }
    let children = t.children(i);
    for (k, &c) in children.iter().enumerate() {
        add_rows(t, c, &child_prefix(prefix, k, children.len()), last_in_tree, rows);
    }
}

fn by_name(list: &[Value]) -> Vec<&Value> {
    let mut v: Vec<&Value> = list.iter().collect();
    v.sort_by(|a, b| name(a).cmp(name(b)));
    v
}

/// `util.IsControlledBy`: the object's controller reference names `owner` (by kind and name, and
/// uid when both have one).
fn controlled_by(obj: &Value, owner: &Value) -> bool {
    let refs = obj.pointer("/metadata/ownerReferences").and_then(Value::as_array);
    refs.is_some_and(|refs| {
        refs.iter().any(|r| {
            r.get("controller").and_then(Value::as_bool) == Some(true)
                && s(r, "/kind") == kind(owner)
                && s(r, "/name") == name(owner)
                && (s(r, "/uid").is_empty() || s(owner, "/metadata/uid").is_empty() || s(r, "/uid") == s(owner, "/metadata/uid"))
        })
    })
}

fn find_ref<'a>(objects: &'a ClusterObjects, r: Option<&Value>) -> Option<&'a Value> {
    let r = r?;
    let (k, n) = (s(r, "/kind"), s(r, "/name"));
    if n.is_empty() {
        return None;
    }
    objects.referenced.iter().find(|o| kind(o) == k && name(o) == n)
}

/// `addMachineFunc`: a Machine, and under it (when it is shown on its own) its infrastructure
/// machine and bootstrap config unless they only echo its state.
fn add_machine<'a>(t: &mut Tree<'a>, placed: &mut Vec<&'a str>, objects: &'a ClusterObjects, parent: usize, m: &'a Value) {
    placed.push(name(m));
    let Some(i) = t.add(parent, What::Object { obj: m, meta: None, control_plane: false }, Add::default()) else { return };
    let echo = |meta| Add { meta: Some(meta), no_echo: true, ..Add::default() };
    if let Some(infra) = find_ref(objects, m.pointer("/spec/infrastructureRef")) {
        t.add(i, What::Object { obj: infra, meta: None, control_plane: false }, echo("MachineInfrastructure"));
    }
    if let Some(bs) = find_ref(objects, m.pointer("/spec/bootstrap/configRef")) {
        t.add(i, What::Object { obj: bs, meta: None, control_plane: false }, echo("BootstrapConfig"));
    }
}

/// The rows of the tree, in print order (`tree.Discovery`, then `PrintObjectTree`).
pub fn rows(objects: &ClusterObjects, opts: &Options) -> Vec<Row> {
    let mut t = Tree {
        nodes: vec![Node {
            what: What::Object { obj: &objects.cluster, meta: None, control_plane: false },
            parent: None,
            children: Vec::new(),
            grouping: false,
            show: opts.show_conditions,
        }],
        opts: *opts,
    };
    if let Some(infra) = &objects.infrastructure {
        t.add(
            0,
            What::Object { obj: infra, meta: None, control_plane: false },
            Add { meta: Some("ClusterInfrastructure"), ..Add::default() },
        );
    }
    let cp = objects.control_plane.as_ref().and_then(|cp| {
        let how = Add { meta: Some("ControlPlane"), grouping_object: true, control_plane: true, ..Add::default() };
        t.add(0, What::Object { obj: cp, meta: None, control_plane: true }, how)
    });
    let machines = by_name(&objects.machines);
    let is_cp = |m: &Value| m.pointer("/metadata/labels/cluster.x-k8s.io~1control-plane").is_some();
    let cp_machines: Vec<&Value> = machines.iter().copied().filter(|m| is_cp(m)).collect();
    let mut placed: Vec<&str> = Vec::new();
    if let Some(cp) = cp {
        for m in &cp_machines {
            add_machine(&mut t, &mut placed, objects, cp, m);
        }
    }
    let has_workers = machines.len() != cp_machines.len() || !objects.machine_pools.is_empty();
    let workers = has_workers.then(|| t.add(0, What::Virtual("Workers"), Add::default())).flatten();
    if let Some(w) = workers {
        if machines.len() != cp_machines.len() {
            for md in by_name(&objects.machine_deployments) {
                let how = Add { grouping_object: true, ..Add::default() };
                let Some(mdi) = t.add(w, What::Object { obj: md, meta: None, control_plane: false }, how) else { continue };
                for ms in by_name(&objects.machine_sets).into_iter().filter(|ms| controlled_by(ms, md)) {
                    for m in machines.iter().copied().filter(|m| controlled_by(m, ms)) {
                        add_machine(&mut t, &mut placed, objects, mdi, m);
                    }
                }
            }
        }
        for mp in by_name(&objects.machine_pools) {
            let how = Add { grouping_object: true, ..Add::default() };
            let Some(mpi) = t.add(w, What::Object { obj: mp, meta: None, control_plane: false }, how) else { continue };
            let echo = |meta| Add { meta: Some(meta), no_echo: true, ..Add::default() };
            if let Some(bs) = find_ref(objects, mp.pointer("/spec/template/spec/bootstrap/configRef")) {
                t.add(mpi, What::Object { obj: bs, meta: None, control_plane: false }, echo("BootstrapConfig"));
            }
            if let Some(infra) = find_ref(objects, mp.pointer("/spec/template/spec/infrastructureRef")) {
                t.add(mpi, What::Object { obj: infra, meta: None, control_plane: false }, echo("MachinePoolInfrastructure"));
            }
            for m in machines.iter().copied().filter(|m| controlled_by(m, mp)) {
                add_machine(&mut t, &mut placed, objects, mpi, m);
            }
        }
        let orphans: Vec<&Value> = machines.iter().copied().filter(|m| !placed.contains(&name(m))).collect();
        if !orphans.is_empty() {
            if let Some(other) = t.add(w, What::Virtual("Other"), Add::default()) {
                for m in orphans {
                    add_machine(&mut t, &mut placed, objects, other, m);
                }
            }
        }
    }
    let mut last = 0;
    while let Some(&l) = t.children(last).last() {
        last = l;
    }
    let mut rows = Vec::new();
    add_rows(&t, 0, "", last, &mut rows);
    rows
}

/// The table as `clusterctl describe cluster` prints it.
pub fn render(objects: &ClusterObjects, opts: &Options) -> String {
    let rows = rows(objects, opts);
    let header = Row {
        name: "NAME".into(),
        replicas: "REPLICAS".into(),
        available: "AVAILABLE".into(),
        ready: "READY".into(),
        up_to_date: "UP TO DATE".into(),
        status: "STATUS".into(),
        reason: "REASON".into(),
        since: "SINCE".into(),
        message: "MESSAGE".into(),
    };
    let cells = |r: &Row| {
        [
            r.name.clone(),
            r.replicas.clone(),
            r.available.clone(),
            r.ready.clone(),
            r.up_to_date.clone(),
            r.status.clone(),
            r.reason.clone(),
            r.since.clone(),
            r.message.clone(),
        ]
    };
    let all: Vec<[String; 9]> = std::iter::once(&header).chain(rows.iter()).map(cells).collect();
    let widths: Vec<usize> = (0..9).map(|c| all.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in &all {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c == 8 {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell}{}  ", " ".repeat(widths[c] - cell.chars().count()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// How long ago, as apimachinery's `duration.HumanDuration` writes it (`45s`, `3m20s`, `15m`,
/// `5h1m`, `2d3h`, ...); empty when the time is not known.
pub fn human_duration(now_ms: u64, since_ms: Option<u64>) -> String {
    let Some(since) = since_ms else { return String::new() };
    let secs = (now_ms as i64 - since as i64) / 1000;
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        return if secs % 60 == 0 { format!("{minutes}m") } else { format!("{minutes}m{}s", secs % 60) };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return if minutes % 60 == 0 { format!("{hours}h") } else { format!("{hours}h{}m", minutes % 60) };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return if hours % 24 == 0 { format!("{}d", hours / 24) } else { format!("{}d{}h", hours / 24, hours % 24) };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    let (years, days) = (hours / 24 / 365, (hours / 24) % 365);
    if hours < 24 * 365 * 8 && days != 0 {
        return format!("{years}y{days}d");
    }
    format!("{years}y")
}

/// `formatParagraph`: each line of `text` wrapped at `width` characters, keeping its leading
/// spaces (and two more under a `* ` bullet) on the lines it wraps into.
pub fn format_paragraph(text: &str, width: usize) -> String {
    let mut lines = Vec::new();
    for l in text.split('\n') {
        let lead = l.len() - l.trim_start_matches(' ').len();
        let mut indent = " ".repeat(lead);
        if l.trim().starts_with("* ") {
            indent.push_str("  ");
        }
        let mut tmp = " ".repeat(lead);
        // Go's regexp `[\s]+` split: runs of white space separate words, and a leading or trailing
        // run gives an empty first or last word.
        let parts: Vec<&str> = l.split(char::is_whitespace).collect();
        let n = parts.len();
        let words = parts.into_iter().enumerate().filter(|(i, w)| !w.is_empty() || *i == 0 || *i + 1 == n).map(|(_, w)| w);
        for w in words {
            if tmp.len() + w.len() < width {
                if !tmp.trim().is_empty() {
                    tmp.push(' ');
                }
                tmp.push_str(w);
                continue;
            }
            lines.push(std::mem::replace(&mut tmp, format!("{indent}{w}")));
        }
        lines.push(tmp);
    }
    lines.join("\n")
}

#[cfg(test)]
#[path = "tree_tests.rs"]
mod tests;
