//! The event trace: one line per event, hashed as it is written. The hash is the run's fingerprint
//! (same seed, same scenario → same hash); the lines are kept only when asked for (`--trace FILE`).
//!
//! Line format (columns separated by single spaces):
//! `<sim time ms, 10 digits> <event index> <actor> <what> <details...>`
//! e.g. `0000012345 #000142 capi/machine reconcile default/c1-md-0-x7b2k-9zzqp ok requeue=30000`.

use std::fmt::Write as _;
use xxhash_rust::xxh3::Xxh3;

/// How much of the trace to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceMode {
    /// Nothing (benchmarks): no hash.
    Off,
    /// Hash only.
    Hash,
    /// Hash and every line.
    Full,
}

/// The trace of one run.
pub struct Trace {
    mode: TraceMode,
    hasher: Xxh3,
    lines: Vec<String>,
    /// For kept lines that record a modification: the JSON pointers of what changed (not hashed).
    changed: Vec<(usize, Vec<String>)>,
    buf: String,
    count: u64,
}

impl Trace {
    /// A trace in a mode.
    pub fn new(mode: TraceMode) -> Self {
        Trace { mode, hasher: Xxh3::new(), lines: Vec::new(), changed: Vec::new(), buf: String::new(), count: 0 }
    }

    /// Whether lines are recorded at all (callers skip formatting when not).
    pub fn enabled(&self) -> bool {
        self.mode != TraceMode::Off
    }

    /// The mode.
    pub fn mode(&self) -> TraceMode {
        self.mode
    }

    /// Record a line.
    pub fn record(&mut self, now: u64, event: u64, actor: &str, args: std::fmt::Arguments<'_>) {
        if self.mode == TraceMode::Off {
            return;
        }
        self.buf.clear();
        let _ = write!(self.buf, "{now:010} #{event:06} {actor} ");
        let _ = self.buf.write_fmt(args);
        self.hasher.update(self.buf.as_bytes());
        self.hasher.update(b"\n");
        self.count += 1;
        if self.mode == TraceMode::Full {
            self.lines.push(self.buf.clone());
        }
    }

    /// Whether every line is kept (`--trace`): only then is detail beyond the hash worth computing.
    pub fn full(&self) -> bool {
        self.mode == TraceMode::Full
    }

    /// Attach what a modification changed (JSON pointers) to the line just recorded. Not part of the
    /// hash: the hash of a run is the same whether its lines are kept or not.
    pub fn record_changed(&mut self, paths: Vec<String>) {
        if self.mode == TraceMode::Full && !self.lines.is_empty() {
            self.changed.push((self.lines.len() - 1, paths));
        }
    }

    /// Kept line `i` as a JSON object: the columns of the text line (`t_ms`, `event`, `actor`, `what`)
    /// and, parsed from it, `seq` (the line's index), `op` (`ADDED`, `MODIFIED`, `DELETED`, `event`,
    /// `note`, `reconcile`, `container`, or the first word), `kind`, `namespace`, `name`, `rv`, and for
    /// a modification the `changed` JSON pointers; an event's `type` and `reason`.
    pub fn json_line(&self, scenario: &str, i: usize) -> String {
        let line = self.lines.get(i).map(String::as_str).unwrap_or("");
        let changed = self.changed.binary_search_by_key(&i, |(l, _)| *l).ok().map(|k| &self.changed[k].1);
        json_line(scenario, i, line, changed.map(Vec::as_slice))
    }

    /// Lines recorded.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether no line was recorded.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The hash so far, as hex.
    pub fn hash(&self) -> Option<String> {
        (self.mode != TraceMode::Off).then(|| format!("{:016x}", self.hasher.digest()))
    }

    /// The kept lines.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }
}

/// A text trace line as a JSON object (see [`Trace::json_line`]).
pub fn json_line(scenario: &str, seq: usize, line: &str, changed: Option<&[String]>) -> String {
    use serde_json::{json, Map, Value};
    let mut parts = line.splitn(4, ' ');
    let t = parts.next().and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
    let event = parts.next().and_then(|e| e.trim_start_matches('#').parse::<u64>().ok()).unwrap_or(0);
    let actor = parts.next().unwrap_or("");
    let what = parts.next().unwrap_or("");
    let mut m = Map::new();
    m.insert("scenario".into(), json!(scenario));
    m.insert("t_ms".into(), json!(t));
    m.insert("event".into(), json!(event));
    m.insert("seq".into(), json!(seq));
    m.insert("actor".into(), json!(actor));
    m.insert("what".into(), json!(what));
    let mut words = what.split(' ');
    let first = words.next().unwrap_or("");
    match first {
        "ADDED" | "MODIFIED" | "DELETED" => {
            // `MODIFIED Machine default/m1 rv=12`
            m.insert("op".into(), json!(first));
            let kind = words.next().unwrap_or("");
            let (ns, name) = words.next().unwrap_or("").split_once('/').unwrap_or(("", ""));
            m.insert("kind".into(), json!(kind));
            m.insert("namespace".into(), json!(ns));
            m.insert("name".into(), json!(name));
            if let Some(rv) = words.next().and_then(|w| w.strip_prefix("rv=")).and_then(|r| r.parse::<u64>().ok()) {
                m.insert("rv".into(), json!(rv));
            }
            if let Some(c) = changed {
                m.insert("changed".into(), Value::Array(c.iter().map(|p| json!(p)).collect()));
            }
        }
        "note" if what.starts_with("note event ") => {
            // `note event Normal Reason Kind/name: message (outcome)`
            let mut w = what["note event ".len()..].splitn(4, ' ');
            m.insert("op".into(), json!("event"));
            m.insert("type".into(), json!(w.next().unwrap_or("")));
            m.insert("reason".into(), json!(w.next().unwrap_or("")));
            let object = w.next().unwrap_or("").trim_end_matches(':');
            let (kind, name) = object.split_once('/').unwrap_or((object, ""));
            m.insert("kind".into(), json!(kind));
            m.insert("name".into(), json!(name));
        }
        "note" | "reconcile" => {
            m.insert("op".into(), json!(first));
        }
        _ if actor == "world" || what.starts_with("container") => {
            m.insert("op".into(), json!("container"));
        }
        other => {
            m.insert("op".into(), json!(other));
        }
    }
    if let Some(rest) = what.strip_prefix("reconcile ") {
        let object = rest.split(' ').next().unwrap_or("");
        let (ns, name) = object.split_once('/').unwrap_or(("", object));
        m.insert("namespace".into(), json!(ns));
        m.insert("name".into(), json!(name));
    }
    Value::Object(m).to_string()
}

/// The JSON pointers (RFC 6901) at which two objects differ, bookkeeping (`resourceVersion`,
/// `managedFields`) left out; a list whose length changed is one path.
pub fn changed_paths(old: &serde_json::Value, new: &serde_json::Value) -> Vec<String> {
    fn walk(a: &serde_json::Value, b: &serde_json::Value, path: &mut String, out: &mut Vec<String>) {
        use serde_json::Value;
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    if k == "resourceVersion" || k == "managedFields" {
                        continue;
                    }
                    let len = path.len();
                    path.push('/');
                    path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                    match (x.get(k), y.get(k)) {
                        (Some(p), Some(q)) => walk(p, q, path, out),
                        (None, None) => {}
                        _ => out.push(path.clone()),
                    }
                    path.truncate(len);
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (p, q)) in x.iter().zip(y).enumerate() {
                    let len = path.len();
                    let _ = write!(path, "/{i}");
                    walk(p, q, path, out);
                    path.truncate(len);
                }
            }
            _ if a != b => out.push(if path.is_empty() { "/".into() } else { path.clone() }),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(old, new, &mut String::new(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changed_paths_are_json_pointers() {
        let a = json!({"metadata": {"resourceVersion": "1", "labels": {"a/b": "1"}}, "status": {"phase": "Provisioning", "conditions": [{"type": "Ready", "status": "False"}]}});
        let b = json!({"metadata": {"resourceVersion": "2", "labels": {"a/b": "2"}}, "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(changed_paths(&a, &b), ["/metadata/labels/a~1b", "/status/conditions/0/status", "/status/phase"]);
    }

    #[test]
    fn json_lines_keep_the_text_columns_and_add_structure() {
        let v: serde_json::Value = serde_json::from_str(&json_line(
            "s",
            7,
            "0000012345 #000142 apiserver MODIFIED Machine default/m1 rv=12",
            Some(&["/status/phase".to_string()]),
        ))
        .unwrap();
        assert_eq!(v["what"], "MODIFIED Machine default/m1 rv=12");
        assert_eq!(
            (v["op"].as_str(), v["kind"].as_str(), v["name"].as_str(), v["rv"].as_u64()),
            (Some("MODIFIED"), Some("Machine"), Some("m1"), Some(12))
        );
        assert_eq!(v["changed"], json!(["/status/phase"]));
        assert_eq!(v["seq"], 7);
        let e: serde_json::Value = serde_json::from_str(&json_line(
            "s",
            8,
            "0000012345 #000143 capi/machine note event Normal SuccessfulDrainNode Machine/m1: done (created m1.1)",
            None,
        ))
        .unwrap();
        assert_eq!(
            (e["op"].as_str(), e["type"].as_str(), e["reason"].as_str(), e["kind"].as_str()),
            (Some("event"), Some("Normal"), Some("SuccessfulDrainNode"), Some("Machine"))
        );
    }
}
