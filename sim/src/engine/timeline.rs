//! Records Machine phases over simulated time for the timeline picture (one row per Machine).

use crate::kinds::Kind;
use crate::store::{Change, ChangeKind};
use capi_scenarios::report::{Span, Timeline, TimelineMark, TimelineRow};
use std::collections::BTreeMap;

/// The recorder.
#[derive(Default)]
pub struct TimelineRecorder {
    timeline: Timeline,
    rows: BTreeMap<String, usize>,
}

impl TimelineRecorder {
    /// Observe a committed change.
    pub fn observe(&mut self, change: &Change, now: u64) {
        let o = &change.object;
        if o.kind != Kind::Machine {
            return;
        }
        let key = format!("{}/{}", o.namespace(), o.name());
        let idx = match self.rows.get(&key) {
            Some(i) => *i,
            None => {
                self.timeline.rows.push(TimelineRow {
                    name: o.name().to_string(),
                    cluster: o.label("cluster.x-k8s.io/cluster-name").or_else(|| o.str_at("/spec/clusterName")).unwrap_or("").to_string(),
                    role: if o.label("cluster.x-k8s.io/control-plane").is_some() { "control-plane".into() } else { "worker".into() },
                    spans: Vec::new(),
                });
                self.rows.insert(key.clone(), self.timeline.rows.len() - 1);
                self.timeline.rows.len() - 1
            }
        };
        let row = &mut self.timeline.rows[idx];
        if change.kind == ChangeKind::Deleted {
            if let Some(last) = row.spans.last_mut() {
                last.end_ms.get_or_insert(now);
            }
            self.rows.remove(&key);
            return;
        }
        let phase = o.str_at("/status/phase").unwrap_or("Pending").to_string();
        if row.spans.last().is_none_or(|s| s.phase != phase || s.end_ms.is_some()) {
            if let Some(last) = row.spans.last_mut() {
                last.end_ms.get_or_insert(now);
            }
            row.spans.push(Span { start_ms: now, end_ms: None, phase });
        }
    }

    /// Mark a point in time.
    pub fn mark(&mut self, at_ms: u64, kind: &str, label: String) {
        self.timeline.marks.push(TimelineMark { at_ms, kind: kind.to_string(), label });
    }

    /// The timeline up to `end_ms`.
    pub fn finish(&self, end_ms: u64) -> Timeline {
        let mut t = self.timeline.clone();
        t.end_ms = end_ms;
        t
    }
}
