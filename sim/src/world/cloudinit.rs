//! The cloud-init `runcmd` of a node, as the node runs it: CAPD executes every command of the
//! bootstrap data in order, each to completion (`docker exec`, `sh -c`), and the first that fails
//! fails the bootstrap (`test/infrastructure/docker/internal/docker/machine.go: ExecBootstrap`,
//! `failed to run cloud config: stdout: ... stderr: ...`). CABPK writes the user's
//! `preKubeadmCommands`, then `kubeadm init|join ... && echo success > <sentinel>`, then
//! `postKubeadmCommands` (`bootstrap/kubeadm/pkg/cloudinit/controlplane_init.go`, `node.go`), and the
//! user's `files` into `write_files`.
//!
//! What a command does is read from its text, for the shapes Cluster API's own flavors use:
//! - `kubeadm init` / `kubeadm join`: the kubeadm step the world models (duration, etcd, Node);
//! - `sleep N` (`s`, `m`, `h` suffixes): takes that long;
//! - `false`, `exit N` (N ≠ 0), or a `&&`/`;` chain holding one: fails with that exit status;
//! - a script from `write_files` that polls a ConfigMap of the management cluster and waits for a
//!   value (the `wait-signal.sh` of `test/e2e/data/infrastructure-docker/main/cluster-template-kcp-remediation`:
//!   `curl $SERVER/api/v1/namespaces/$NAMESPACE/configmaps/<name> | jq -r .data.<key>?` until it
//!   equals `"<value>"`, then a PATCH with `--data '<json>'` to acknowledge): blocks, polling every
//!   second, until the ConfigMap holds the value, then applies the acknowledgement;
//! - anything else succeeds at once.
//!
//! Simplifications: commands are not interpreted beyond these shapes (an unknown command succeeds
//! instantly and has no effect); `files` with `contentFrom` are written without their content; a
//! failing `postKubeadmCommands` command fails the bootstrap after kubeadm's effects took place.

use super::docker::Bootstrap;
use super::{World, WorldEvent};
use serde_json::Value;

/// How often a waiting script checks its ConfigMap (the e2e script's `sleep 1s`).
pub const SIGNAL_POLL_MS: u64 = 1_000;

/// A ConfigMap a script waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signal {
    /// Namespace (in the management cluster).
    pub namespace: String,
    /// ConfigMap name.
    pub name: String,
    /// `data` key.
    pub key: String,
    /// The value that lets the script go on.
    pub value: String,
    /// The strategic-merge patch the script sends once it saw the value (as JSON), if any.
    pub ack: Option<String>,
}

/// One `runcmd` entry as the node runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// `kubeadm init|join ... && echo success > /run/cluster-api/bootstrap-success.complete`.
    Kubeadm,
    /// Takes this long (ms).
    Sleep(u64),
    /// Exits with this status.
    Fail(i32),
    /// Blocks until a ConfigMap of the management cluster holds a value.
    WaitSignal(Signal),
    /// Succeeds at once.
    Run(String),
}

/// A duration as `sleep` reads it (`5`, `5s`, `2m`, `1h`, `0.5`).
fn sleep_ms(arg: &str) -> Option<u64> {
    let (num, unit) = match arg.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&arg[..i], &arg[i..]),
        None => (arg, "s"),
    };
    let n: f64 = num.parse().ok()?;
    let factor = match unit {
        "s" => 1_000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    Some((n * factor) as u64)
}

/// Split a command line into words as a shell would for simple quoting (`'..'`, `".."`).
pub fn words(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in cmd.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The exit status of a simple command that fails by itself (`false`, `exit N`).
fn failing(part: &str) -> Option<i32> {
    let w = words(part);
    match w.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["false"] | ["/bin/false"] | ["/usr/bin/false"] => Some(1),
        ["exit", n] => n.parse::<i32>().ok().filter(|n| *n != 0),
        _ => None,
    }
}

/// What a `runcmd` entry does; `files` are the `write_files` (path, content).
pub fn classify(cmd: &str, files: &[(String, String)]) -> Step {
    let trimmed = cmd.trim();
    if trimmed.contains("kubeadm init") || trimmed.contains("kubeadm join") {
        return Step::Kubeadm;
    }
    // A chain fails at its first failing command (`a && false`, `a; exit 3`).
    for part in trimmed.split("&&").flat_map(|p| p.split(';')) {
        if let Some(code) = failing(part) {
            return Step::Fail(code);
        }
    }
    let w = words(trimmed);
    if w.len() == 2 && w[0] == "sleep" {
        if let Some(ms) = sleep_ms(&w[1]) {
            return Step::Sleep(ms);
        }
    }
    // A script written by `files`: `./x.sh a b`, `/x.sh`, `bash /x.sh`, `sh x.sh`.
    let mut args: &[String] = &w;
    if args.first().is_some_and(|a| matches!(a.as_str(), "bash" | "sh" | "/bin/bash" | "/bin/sh")) {
        args = &args[1..];
    }
    if let Some(script) = args.first() {
        let path = script.trim_start_matches("./");
        let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
        if let Some((_, content)) = files.iter().find(|(p, _)| *p == path) {
            if let Some(sig) = signal_of(content, &args[1..]) {
                return Step::WaitSignal(sig);
            }
        }
    }
    Step::Run(trimmed.to_string())
}

/// The text after `marker` up to the first character that ends a name.
fn name_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let i = text.find(marker)? + marker.len();
    let rest = &text[i..];
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|s| !s.is_empty())
}

/// A script that polls a ConfigMap for a value: its namespace (a literal, or `$VAR` with `VAR=$N`
/// bound to the script's N-th argument), name, key, awaited value and acknowledgement.
fn signal_of(content: &str, args: &[String]) -> Option<Signal> {
    let name = name_after(content, "/configmaps/")?;
    let key = name_after(content, ".data.")?;
    let value = {
        let i = content.find("== \"")? + 4;
        let rest = &content[i..];
        rest[..rest.find('"')?].to_string()
    };
    let ns_text = {
        let i = content.find("/namespaces/")? + "/namespaces/".len();
        let rest = &content[i..];
        rest[..rest.find('/')?].to_string()
    };
    let namespace = match ns_text.strip_prefix('$') {
        Some(var) => {
            let var = var.trim_matches(|c| c == '{' || c == '}');
            let binding = content.lines().map(str::trim).find_map(|l| l.strip_prefix(&format!("{var}=$")))?;
            let n: usize = binding.trim_matches('"').parse().ok()?;
            args.get(n.checked_sub(1)?)?.clone()
        }
        None => ns_text,
    };
    let ack = content.lines().find(|l| l.contains("PATCH")).and_then(|l| {
        let i = l.find("--data '")? + "--data '".len();
        let rest = &l[i..];
        Some(rest[..rest.find('\'')?].to_string())
    });
    Some(Signal { namespace, name: name.to_string(), key: key.to_string(), value, ack })
}

/// Whether a ConfigMap (as JSON, when it exists) holds the awaited value.
pub fn signalled(sig: &Signal, configmap: Option<&Value>) -> bool {
    configmap.and_then(|c| c.get("data")).and_then(|d| d.get(&sig.key)).and_then(Value::as_str) == Some(sig.value.as_str())
}

/// Where a running bootstrap is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunState {
    /// The next `runcmd` entry.
    pub cursor: usize,
    /// How long kubeadm takes (drawn when the exec started).
    pub kubeadm_ms: u64,
    /// When kubeadm started.
    pub kubeadm_started: u64,
    /// The current entry is a script waiting for its signal.
    pub waiting: bool,
}

/// A `done_at` for a bootstrap blocked on a signal: CAPD's exec waits until its own timeout.
const BLOCKED_MS: u64 = 10 * 365 * 86_400_000;

impl World {
    /// The ConfigMaps of the management cluster that waiting bootstrap scripts poll (the engine
    /// reads them into [`World::mgmt_configmaps`] before each world event).
    pub fn wanted_configmaps(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (container, run) in &self.runs {
            if let Some(Step::WaitSignal(sig)) = self.plans.get(container).and_then(|(p, _)| p.steps.get(run.cursor)) {
                out.push((sig.namespace.clone(), sig.name.clone()));
            }
        }
        out
    }

    /// When the rest of a bootstrap will be done, from entry `cursor` on, if nothing blocks.
    fn bootstrap_eta(&self, container: &str, now: u64) -> u64 {
        let (Some((plan, _)), Some(run)) = (self.plans.get(container), self.runs.get(container)) else { return now };
        let mut t = now;
        for s in plan.steps.iter().skip(run.cursor) {
            match s {
                Step::Sleep(ms) => t += ms,
                Step::Kubeadm => t += run.kubeadm_ms,
                Step::WaitSignal(_) => return now + BLOCKED_MS,
                Step::Fail(_) => return t,
                Step::Run(_) => {}
            }
        }
        t
    }

    fn set_done_at(&mut self, container: &str, done_at: u64) {
        if let Some(mut c) = self.docker.get_mut(container) {
            if matches!(c.bootstrap, Bootstrap::Running { .. }) {
                c.bootstrap = Bootstrap::Running { done_at };
            }
        }
    }

    /// A timer of a bootstrap's `runcmd` fired: go on if it is still the same exec.
    pub(super) fn bootstrap_step(&mut self, container: &str, life: u32, now: u64) {
        let live = self.docker.get(container).is_some_and(|c| c.life == life && matches!(c.bootstrap, Bootstrap::Running { .. }));
        if live {
            self.advance_bootstrap(container, life, now);
        }
    }

    /// Run a bootstrap's `runcmd` from where it is, until an entry takes time, blocks, fails, or
    /// all ran (the bootstrap succeeded).
    pub(super) fn advance_bootstrap(&mut self, container: &str, life: u32, now: u64) {
        loop {
            let (Some((plan, _)), Some(run)) = (self.plans.get(container), self.runs.get(container).cloned()) else { return };
            let Some(step) = plan.steps.get(run.cursor).cloned() else {
                self.runs.remove(container);
                if let Some(mut c) = self.docker.get_mut(container) {
                    c.bootstrap = Bootstrap::Succeeded;
                }
                self.note(format!("bootstrap of {container} completed"));
                self.notice_container(container);
                return;
            };
            let next = |w: &mut World| {
                if let Some(r) = w.runs.get_mut(container) {
                    r.cursor += 1;
                    r.waiting = false;
                }
            };
            match step {
                Step::Run(_) => next(self),
                Step::Sleep(ms) => {
                    next(self);
                    let eta = self.bootstrap_eta(container, now + ms);
                    self.set_done_at(container, eta);
                    self.timers.push((now + ms, WorldEvent::BootstrapStep { container: container.to_string(), life }));
                    return;
                }
                Step::Fail(code) => {
                    let cluster = self.docker.get(container).and_then(|c| c.cluster().map(str::to_string)).unwrap_or_default();
                    // CAPD: `errors.Wrapf(err, "failed to run cloud config: stdout: %s stderr: %s", ...)`.
                    self.bootstrap_failed(
                        container,
                        &cluster,
                        format!("failed to run cloud config: stdout:  stderr: : exit status {code}"),
                    );
                    return;
                }
                Step::WaitSignal(sig) => {
                    let key = (sig.namespace.clone(), sig.name.clone());
                    if signalled(&sig, self.mgmt_configmaps.get(&key).and_then(Option::as_ref)) {
                        next(self);
                        if let Some(ack) = sig.ack.clone() {
                            self.mgmt_patches.push((key, ack));
                        }
                        self.note(format!(
                            "bootstrap of {container}: signal {} received from ConfigMap {}/{}",
                            sig.value, sig.namespace, sig.name
                        ));
                        let eta = self.bootstrap_eta(container, now);
                        self.set_done_at(container, eta);
                        continue;
                    }
                    if !run.waiting {
                        self.note(format!("bootstrap of {container}: waiting for signal in ConfigMap {}/{}", sig.namespace, sig.name));
                        if let Some(r) = self.runs.get_mut(container) {
                            r.waiting = true;
                        }
                        self.set_done_at(container, now + BLOCKED_MS);
                    }
                    self.timers.push((now + SIGNAL_POLL_MS, WorldEvent::BootstrapStep { container: container.to_string(), life }));
                    return;
                }
                Step::Kubeadm => {
                    next(self);
                    if let Some(r) = self.runs.get_mut(container) {
                        r.kubeadm_started = now;
                    }
                    let eta = self.bootstrap_eta(container, now + run.kubeadm_ms);
                    self.set_done_at(container, eta);
                    self.timers.push((now + run.kubeadm_ms, WorldEvent::BootstrapDone { container: container.to_string(), life }));
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const WAIT_SIGNAL: &str = r#"#!/bin/bash
set -o errexit
TOKEN=$1
SERVER=$2
NAMESPACE=$3
while true;
do
  sleep 1s
  signal=$(curl -k -s --header "Authorization: Bearer $TOKEN" $SERVER/api/v1/namespaces/$NAMESPACE/configmaps/mhc-test | jq -r .data.signal?)
  if [ "$signal" == "pass" ]; then
     curl -k -s --header "Authorization: Bearer $TOKEN" -XPATCH -H "Content-Type: application/strategic-merge-patch+json" --data '{"data": {"signal": "ack-pass"}}' $SERVER/api/v1/namespaces/$NAMESPACE/configmaps/mhc-test
     exit 0
  fi
done
"#;

    #[rstest]
    #[case("kubeadm init --config /run/kubeadm/kubeadm.yaml  && echo success > /run/cluster-api/bootstrap-success.complete", Step::Kubeadm)]
    #[case("sleep 30", Step::Sleep(30_000))]
    #[case("sleep 2m", Step::Sleep(120_000))]
    #[case("false", Step::Fail(1))]
    #[case("echo hi && exit 3", Step::Fail(3))]
    #[case("exit 0", Step::Run("exit 0".into()))]
    #[case("echo hello > /tmp/x", Step::Run("echo hello > /tmp/x".into()))]
    fn commands(#[case] cmd: &str, #[case] want: Step) {
        assert_eq!(classify(cmd, &[]), want);
    }

    #[test]
    fn the_e2e_wait_signal_script_waits_for_its_configmap() {
        let files = vec![("/wait-signal.sh".to_string(), WAIT_SIGNAL.to_string())];
        let step = classify(r#"./wait-signal.sh "tok" "https://172.18.0.3:6443" "kcp-remediation-x1""#, &files);
        let Step::WaitSignal(sig) = step else { panic!("{step:?}") };
        assert_eq!(
            (sig.namespace.as_str(), sig.name.as_str(), sig.key.as_str(), sig.value.as_str()),
            ("kcp-remediation-x1", "mhc-test", "signal", "pass")
        );
        assert_eq!(sig.ack.as_deref(), Some(r#"{"data": {"signal": "ack-pass"}}"#));
        let cm = serde_json::json!({"data": {"signal": "pass"}});
        assert!(signalled(&sig, Some(&cm)));
        assert!(!signalled(&sig, Some(&serde_json::json!({"data": {"signal": "hold"}}))));
        assert!(!signalled(&sig, None));
    }
}
