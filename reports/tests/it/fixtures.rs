//! Reports to render: one that passed, one that failed with markup characters everywhere, one that
//! ended in an error, and a timeline with every kind of row and mark.

use capi_scenarios::outcome::ObjectSummary;
use capi_scenarios::report::{FaultRecord, RunReport, Span, StepReport, StepStatus, Timeline, TimelineMark, TimelineRow, Violation};

/// Text that breaks XML and Markdown when not escaped.
pub const NASTY: &str = r#"<Machine> & "quoted" 'single' | pipe"#;

fn step(index: usize, line: usize, kind: &str, status: StepStatus, at_ms: u64, took_ms: u64, message: &str) -> StepReport {
    StepReport { index, line, kind: kind.into(), passed: status == StepStatus::Passed, status, at_ms, took_ms, message: message.into() }
}

pub fn passing() -> RunReport {
    RunReport {
        scenario: "md-scale-out".into(),
        file: "scenarios/library/md-scale-out.yaml".into(),
        backend: "sim".into(),
        seed: 42,
        passed: true,
        trace_hash: Some("9f3c2a17b4e5d601".into()),
        sim_time_ms: 95_500,
        reconciles: 1_234,
        events: 5_678,
        steps: vec![
            step(0, 4, "apply", StepStatus::Passed, 0, 0, "applied Cluster default/capi-quickstart"),
            step(1, 9, "wait", StepStatus::Passed, 0, 95_500, "met after 1m 35s 500ms: 3/3 Machines Running"),
        ],
        objects: vec![ObjectSummary {
            management: String::new(),
            api_version: "cluster.x-k8s.io/v1beta2".into(),
            kind: "Cluster".into(),
            namespace: "default".into(),
            name: "capi-quickstart".into(),
            phase: Some("Provisioned".into()),
            conditions: Vec::new(),
            replicas: None,
            status_replicas: None,
            version: Some("v1.32.0".into()),
            deleting: false,
            metadata: None,
            spec: None,
            status: None,
            fields: Default::default(),
        }],
        containers: Vec::new(),
        violations: Vec::new(),
        faults: Vec::new(),
        error: None,
        describe: None,
        timeline: None,
        interrupted: None,
        recorded_events: Vec::new(),
        schema: 2,
        wall_time_ms: None,
    }
}

pub fn failing() -> RunReport {
    RunReport {
        scenario: format!("node dies {NASTY}"),
        file: "scenarios/library/node-dies.yaml".into(),
        backend: "sim".into(),
        seed: 7,
        passed: false,
        trace_hash: Some("00ff00ff00ff00ff".into()),
        sim_time_ms: 1_800_000,
        reconciles: 10,
        events: 20,
        steps: vec![
            step(0, 3, "apply", StepStatus::Passed, 0, 0, "applied"),
            step(1, 12, "fault", StepStatus::Passed, 1_000, 0, "killed container capi-quickstart-md-0-abcde"),
            step(
                2,
                20,
                "wait",
                StepStatus::Failed,
                1_000,
                600_000,
                &format!("timed out after 10m: Machine {NASTY} is Provisioning\nsecond line"),
            ),
            step(3, 31, "expect", StepStatus::Skipped, 601_000, 0, "skipped: an earlier step failed"),
        ],
        objects: Vec::new(),
        containers: Vec::new(),
        violations: vec![Violation {
            invariant: "bootstrap-before-running".into(),
            message: "Machine m-1 Running without a bootstrap <Secret> & data".into(),
            event_index: 456,
            at_ms: 12_000,
        }],
        faults: vec![FaultRecord {
            kind: "container-kill".into(),
            target: "capi-quickstart-md-0-abcde".into(),
            at_ms: 1_000,
            healed_at_ms: None,
            spec: None,
        }],
        error: None,
        describe: None,
        timeline: None,
        interrupted: None,
        recorded_events: Vec::new(),
        schema: 2,
        wall_time_ms: None,
    }
}

pub fn errored() -> RunReport {
    RunReport {
        scenario: "upgrade".into(),
        file: "scenarios/library/upgrade.yaml".into(),
        passed: false,
        steps: Vec::new(),
        error: Some("cannot prepare the backend: no such fixture".into()),
        seed: 3,
        ..passing()
    }
}

fn span(start_ms: u64, end_ms: Option<u64>, phase: &str) -> Span {
    Span { start_ms, end_ms, phase: phase.into() }
}

fn row(name: &str, cluster: &str, role: &str, spans: Vec<Span>) -> TimelineRow {
    TimelineRow { name: name.into(), cluster: cluster.into(), role: role.into(), spans, node: None }
}

fn mark(at_ms: u64, kind: &str, label: &str) -> TimelineMark {
    TimelineMark { at_ms, kind: kind.into(), label: label.into() }
}

/// Two clusters; workers listed before the control plane (the picture must regroup them); an open
/// span, a deleted Machine (gone before the end), a Failed phase, a name too long to show in full,
/// and one mark of every kind, two of them at the same time.
pub fn timeline() -> Timeline {
    Timeline {
        end_ms: 150_000,
        rows: vec![
            row(
                "alpha-md-0-x7b2k-9zzqp",
                "alpha",
                "worker",
                vec![
                    span(10_000, Some(20_000), "Pending"),
                    span(20_000, Some(50_000), "Provisioning"),
                    span(50_000, Some(60_000), "Provisioned"),
                    span(60_000, None, "Running"),
                ],
            ),
            row(
                "alpha-control-plane-4jkl8",
                "alpha",
                "control-plane",
                vec![
                    span(0, Some(5_000), "Pending"),
                    span(5_000, Some(30_000), "Provisioning"),
                    span(30_000, Some(90_000), "Running"),
                    span(90_000, Some(100_000), "Deleting"),
                ],
            ),
            row(
                "beta-md-0-a-machine-name-that-is-far-too-long-to-show-in-full-x7b2k",
                "beta",
                "worker",
                vec![span(40_000, Some(70_000), "Provisioning"), span(70_000, None, "Failed")],
            ),
        ],
        marks: vec![
            mark(0, "step", "#0 apply"),
            mark(60_000, "step", "#1 fault"),
            mark(60_000, "fault", "container-kill alpha-control-plane-4jkl8"),
            mark(80_000, "violation", "etcd-membership & <quorum>"),
            mark(120_000, "heal", "container-kill"),
            mark(149_000, "step", "#2 wait"),
        ],
        ..Default::default()
    }
}
