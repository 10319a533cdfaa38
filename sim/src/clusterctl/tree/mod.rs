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
//!
//! This file holds the options, the objects and rows, and `rows`/`render` (discovery, then printing);
//! `discovery.rs` where objects go, `object_tree.rs` the tree with grouping, `print.rs` the rows,
//! `read.rs` fields and conditions from JSON, `text.rs` durations and wrapped messages.

use serde_json::Value;
use std::fmt::Write as _;

mod discovery;
mod object_tree;
mod print;
mod read;
mod text;

use discovery::{add_machine, by_name, controlled_by, find_ref};
use object_tree::{Add, Node, Tree, What};
use print::add_rows;
use read::name;
pub use text::{format_paragraph, human_duration};

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

#[cfg(test)]
mod tests;
